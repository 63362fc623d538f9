import { randomUUID } from "node:crypto";
import type { JWT } from "@fastify/jwt";
import type { PrismaClient } from "../../generated/prisma/client.js";
import { Problem } from "../http/problem.js";

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

function tokenNotValid(detail = "Given token not valid for any token type"): Problem {
  return new Problem("token-not-valid", detail, { headers: { "www-authenticate": 'Bearer realm="api", error="invalid_token"' } });
}

/** Issues, rotates and revokes tokens. Refresh tokens are single use and tracked in refresh_tokens. */
export class TokenService {
  constructor(
    private readonly jwt: JWT,
    private readonly db: PrismaClient,
    private readonly lifetimes: TokenLifetimes,
  ) {}

  /** Verifies signature, algorithm, expiry and type; throws a 401 problem otherwise. */
  verify(token: string, expected: TokenType, options: { ignoreExpiration?: boolean } = {}): TokenClaims {
    let claims: Partial<TokenClaims>;
    try {
      // Without options @fastify/jwt reuses its one verifier (and its cache); with options it builds a new one.
      claims = options.ignoreExpiration
        ? this.jwt.verify<Partial<TokenClaims>>(token, { ignoreExpiration: true })
        : this.jwt.verify<Partial<TokenClaims>>(token);
    } catch {
      throw tokenNotValid();
    }
    if (claims.token_type !== expected || typeof claims.user_id !== "string" || typeof claims.jti !== "string") {
      throw tokenNotValid(`Token is not an ${expected} token`.replace("an refresh", "a refresh"));
    }
    return claims as TokenClaims;
  }

  async issue(userId: string, family: string = randomUUID()): Promise<TokenPair> {
    const refreshId = randomUUID();
    await this.db.refreshToken.create({
      data: {
        id: refreshId,
        familyId: family,
        userId,
        expiresAt: new Date(Date.now() + this.lifetimes.refreshSeconds * 1000),
      },
    });
    return {
      access: this.jwt.sign(
        { token_type: "access", user_id: userId, jti: randomUUID() },
        { expiresIn: `${this.lifetimes.accessSeconds}s` },
      ),
      refresh: this.jwt.sign(
        { token_type: "refresh", user_id: userId, jti: refreshId, family },
        { expiresIn: `${this.lifetimes.refreshSeconds}s` },
      ),
    };
  }

  /** Retires the refresh token and issues the next pair; reuse of a retired one revokes its family. */
  async rotate(refreshToken: string): Promise<TokenPair> {
    const claims = this.verify(refreshToken, "refresh");
    const now = new Date();
    const { count } = await this.db.refreshToken.updateMany({
      where: { id: claims.jti, usedAt: null, revokedAt: null, expiresAt: { gt: now } },
      data: { usedAt: now },
    });
    if (count === 0) {
      const row = await this.db.refreshToken.findUnique({ where: { id: claims.jti }, select: { familyId: true, usedAt: true } });
      if (row?.usedAt) await this.revokeFamily(row.familyId);
      throw tokenNotValid("Refresh token has been used or revoked");
    }
    const user = await this.db.user.findUnique({ where: { id: claims.user_id }, select: { id: true } });
    if (!user) throw tokenNotValid("User no longer exists");
    return this.issue(claims.user_id, claims.family ?? randomUUID());
  }

  /** Logout: retires the token's whole family. Expired tokens are accepted, there is nothing left to do. */
  async revoke(refreshToken: string): Promise<void> {
    const claims = this.verify(refreshToken, "refresh", { ignoreExpiration: true });
    const row = await this.db.refreshToken.findUnique({ where: { id: claims.jti }, select: { familyId: true } });
    if (row) await this.revokeFamily(row.familyId);
  }

  async revokeAllForUser(userId: string): Promise<void> {
    await this.db.refreshToken.updateMany({ where: { userId, revokedAt: null }, data: { revokedAt: new Date() } });
  }

  private async revokeFamily(familyId: string): Promise<void> {
    await this.db.refreshToken.updateMany({ where: { familyId, revokedAt: null }, data: { revokedAt: new Date() } });
  }
}
