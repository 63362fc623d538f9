import { randomUUID } from "node:crypto";
import { LRUCache } from "lru-cache";
import type { PrismaClient } from "../../generated/prisma/client.js";
import { tokenNotValid, type AppError } from "../errors/app-error.js";
import { isForeignKeyViolation } from "../infra/db/errors.js";

/** The user a token was issued to, or a login found, has been deleted since. */
const userNoLongerExists = (): AppError => tokenNotValid("User no longer exists");

export type TokenType = "access" | "refresh";

export interface TokenClaims {
  token_type: TokenType;
  user_id: string;
  jti: string;
  /** Refresh tokens only: every token rotated from one login shares it. */
  family?: string;
  iat: number;
  exp: number;
}

export interface TokenPair {
  access: string;
  refresh: string;
}

export interface TokenLifetimes {
  accessSeconds: number;
  refreshSeconds: number;
}

/**
 * Signs and checks JWTs (signature, algorithm, expiry); the claims' rules are this module's.
 * The transport layer provides it (jwtSigner, on a JWT library).
 */
export interface TokenSigner {
  sign(claims: Record<string, unknown>, expiresInSeconds: number): string;
  /** The token's claims; throws when the signature, algorithm or (unless ignored) expiry is wrong. */
  verify(token: string, options?: { ignoreExpiration?: boolean }): unknown;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The `iat` to give a token issued now, for a user whose tokens issued before `validAfter` are
 * refused. JWT times are whole seconds: right after a logout, a new token's `iat` is moved to the
 * next second so that it is not mistaken for one issued before the logout.
 */
export function issuedAt(validAfter: Date | null, now = Date.now()): number {
  const seconds = Math.floor(now / 1000);
  return validAfter && seconds * 1000 < validAfter.getTime() ? Math.ceil(validAfter.getTime() / 1000) : seconds;
}

/** True when an access token issued at `iat` (seconds) predates the user's cut-off. */
export function issuedBeforeCutoff(iat: number, validAfter: Date | null): boolean {
  return validAfter !== null && iat * 1000 < validAfter.getTime();
}

const malformedClaims = () => tokenNotValid("Token claims are malformed");

/** Issues, rotates and revokes tokens. Refresh tokens are single use and tracked in refresh_tokens. */
export class TokenService {
  /**
   * Tokens whose signature and claims checked out, by the token itself, until they expire: a
   * client's repeated requests skip the HMAC, JSON and claim checks (a hit is a map lookup and a
   * clock read). The one token cache: @fastify/jwt's own is off (src/platform/jwt.ts), its hit
   * measured ~20 times slower, as it keys by a SHA-256 of the token.
   */
  private readonly verified = new LRUCache<string, TokenClaims>({ max: 10_000 });

  private readonly signer: TokenSigner;
  private readonly db: PrismaClient;
  private readonly lifetimes: TokenLifetimes;

  constructor(signer: TokenSigner, db: PrismaClient, lifetimes: TokenLifetimes) {
    this.signer = signer;
    this.db = db;
    this.lifetimes = lifetimes;
  }

  /** Verifies signature, algorithm, expiry and type; throws a 401 problem otherwise. */
  verify(token: string, expected: TokenType, options: { ignoreExpiration?: boolean } = {}): TokenClaims {
    let claims = options.ignoreExpiration ? undefined : this.verified.get(token);
    if (claims === undefined || !(Date.now() < claims.exp * 1000)) {
      claims = this.checkedClaims(token, options);
      if (!options.ignoreExpiration) this.verified.set(token, claims);
    }
    if (claims.token_type !== expected) {
      throw tokenNotValid(`Token is not an ${expected} token`.replace("an refresh", "a refresh"));
    }
    // A refresh token's jti is its row's key.
    if (expected === "refresh" && !UUID.test(claims.jti)) throw malformedClaims();
    return claims;
  }

  /** The claims of a token whose signature checks out, if they are well formed; throws a 401 problem otherwise. */
  private checkedClaims(token: string, options: { ignoreExpiration?: boolean }): TokenClaims {
    let claims: Partial<TokenClaims>;
    try {
      claims = this.signer.verify(token, options) as Partial<TokenClaims>;
    } catch {
      throw tokenNotValid();
    }
    // Signed by us, but check the claims anyway: a leaked secret or an old format must not reach the database as garbage.
    const wellFormed =
      typeof claims.user_id === "string" &&
      UUID.test(claims.user_id) &&
      typeof claims.jti === "string" &&
      claims.jti.length > 0 &&
      Number.isFinite(claims.exp) &&
      Number.isFinite(claims.iat) &&
      (claims.family === undefined || (typeof claims.family === "string" && UUID.test(claims.family)));
    if (!wellFormed) throw malformedClaims();
    return claims as TokenClaims;
  }

  /**
   * `validAfter`: the user's cut-off (users.tokens_valid_after), which new tokens must not predate.
   * `userGone`: the answer when the user was deleted meanwhile (by default, 401 token-not-valid).
   */
  async issue(userId: string, validAfter: Date | null, options: { family?: string; userGone?: () => AppError } = {}): Promise<TokenPair> {
    const { family = randomUUID(), userGone = userNoLongerExists } = options;
    const refreshId = randomUUID();
    const iat = issuedAt(validAfter);
    try {
      await this.db.refreshToken.create({
        data: {
          id: refreshId,
          familyId: family,
          userId,
          expiresAt: new Date(Date.now() + this.lifetimes.refreshSeconds * 1000),
        },
      });
    } catch (error) {
      throw isForeignKeyViolation(error, ["refresh_tokens_user_id_fkey"]) ? userGone() : error;
    }
    return {
      access: this.signer.sign({ token_type: "access", user_id: userId, jti: randomUUID(), iat }, this.lifetimes.accessSeconds),
      refresh: this.signer.sign({ token_type: "refresh", user_id: userId, jti: refreshId, family, iat }, this.lifetimes.refreshSeconds),
    };
  }

  /**
   * Retires the refresh token and issues the next pair. Reuse of a retired one means it was
   * stolen: its family is revoked and the user's access tokens end, as on logout.
   */
  async rotate(refreshToken: string): Promise<TokenPair> {
    const claims = this.verify(refreshToken, "refresh");
    const now = new Date();
    const { count } = await this.db.refreshToken.updateMany({
      where: { id: claims.jti, usedAt: null, revokedAt: null, expiresAt: { gt: now } },
      data: { usedAt: now },
    });
    if (count === 0) {
      const row = await this.db.refreshToken.findUnique({ where: { id: claims.jti }, select: { familyId: true, usedAt: true } });
      if (row?.usedAt) await this.revokeFamily(row.familyId, claims.user_id);
      throw tokenNotValid("Refresh token has been used or revoked");
    }
    const user = await this.db.user.findUnique({ where: { id: claims.user_id }, select: { tokensValidAfter: true } });
    if (!user) throw userNoLongerExists();
    return this.issue(claims.user_id, user.tokensValidAfter, { family: claims.family ?? randomUUID() });
  }

  /**
   * Logout: retires the token's whole family and ends the user's access tokens issued until now
   * (other sessions get new ones with their refresh tokens). Expired tokens are accepted, there
   * is nothing left to do.
   */
  async revoke(refreshToken: string): Promise<void> {
    const claims = this.verify(refreshToken, "refresh", { ignoreExpiration: true });
    const row = await this.db.refreshToken.findUnique({ where: { id: claims.jti }, select: { familyId: true, revokedAt: true } });
    if (!row || row.revokedAt) return;
    await this.revokeFamily(row.familyId, claims.user_id);
  }

  /** After a password change: every refresh token retired, every access token issued until now refused. */
  async revokeAllForUser(userId: string): Promise<void> {
    const now = new Date();
    await this.db.$transaction([
      this.db.refreshToken.updateMany({ where: { userId, revokedAt: null }, data: { revokedAt: now } }),
      this.db.user.updateMany({ where: { id: userId }, data: { tokensValidAfter: now } }),
    ]);
  }

  /**
   * Retires every refresh token of one login and refuses the user's access tokens issued until
   * now. Access tokens carry no family, so all of the user's end; other sessions refresh.
   */
  private async revokeFamily(familyId: string, userId: string): Promise<void> {
    const now = new Date();
    await this.db.$transaction([
      this.db.refreshToken.updateMany({ where: { familyId, revokedAt: null }, data: { revokedAt: now } }),
      this.db.user.updateMany({ where: { id: userId }, data: { tokensValidAfter: now } }),
    ]);
  }
}
