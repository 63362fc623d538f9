import { setTimeout as sleep } from "node:timers/promises";
import argon2 from "argon2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PRINCIPAL_TTL_MS } from "../../src/accounts/authentication.js";
import { ADMIN } from "../../support/admin.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { craftToken, decodePayload } from "../helpers/jwt.js";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

describe("a client of the reference service", () => {
  it("logs in as admin, registers a user and uses both tokens unchanged", async () => {
    const login = await t.request({ method: "POST", url: "/api/token/", payload: { name: "admin", password: "12345" } });
    expect(login.statusCode).toBe(200);
    const { access, refresh } = login.json();
    const register = await t.request({ method: "POST", url: "/api/register/", payload: { name: "user1", password: "123abc#$%" } });
    expect(register.statusCode).toBe(201);
    const refreshed = await t.request({ method: "POST", url: "/api/token/refresh/", payload: { refresh } });
    expect(refreshed.statusCode).toBe(200);
    expect(typeof refreshed.json().access).toBe("string");
    for (const token of [access, refreshed.json().access]) {
      const products = await t.request({ url: "/api/product/", token });
      expect(products.statusCode).toBe(200);
    }
    const userLogin = await t.request({ method: "POST", url: "/api/token/", payload: { name: "user1", password: "123abc#$%" } });
    expect(userLogin.statusCode).toBe(200);
  });
});

describe("tokens", () => {
  it("carry the reference's claims and lifetimes", async () => {
    const { access, refresh } = await t.login(ADMIN.name, ADMIN.password);
    const a = decodePayload(access);
    const r = decodePayload(refresh);
    expect(a).toMatchObject({ token_type: "access", user_id: expect.stringMatching(/^[0-9a-f-]{36}$/), jti: expect.any(String) });
    expect(Number(a.exp) - Number(a.iat)).toBe(50 * 60);
    expect(r.token_type).toBe("refresh");
    expect(Number(r.exp) - Number(r.iat)).toBe(24 * 60 * 60);
    expect(JSON.parse(Buffer.from(access.split(".")[0]!, "base64url").toString()).alg).toBe("HS256");
  });

  it("refuses wrong names and wrong passwords with the same answer", async () => {
    const wrongPassword = await t.request({ method: "POST", url: "/api/token/", payload: { name: "admin", password: "nope" } });
    const unknownName = await t.request({ method: "POST", url: "/api/token/", payload: { name: "nobody-at-all", password: "nope" } });
    expect(wrongPassword.statusCode).toBe(401);
    expect(unknownName.statusCode).toBe(401);
    // The same answer, but for the request id each answer carries.
    expect({ ...unknownName.json(), request_id: "" }).toEqual({ ...wrongPassword.json(), request_id: "" });
    expect(wrongPassword.json().detail).toBe("No active account found with the given credentials");
    expect(wrongPassword.headers["www-authenticate"]).toBe('Bearer realm="api"');
  });

  it("hash a password made with older settings again at its next login, and not for a wrong one", async () => {
    const password = "an older hash's secret";
    const registered = await t.request({ method: "POST", url: "/api/register/", payload: { name: "older-hash", password } });
    expect(registered.statusCode).toBe(201);
    const { id } = registered.json();
    // As registration stored it before: OWASP's first setting, 19 MiB and 2 iterations.
    const older = await argon2.hash(password, { type: argon2.argon2id, memoryCost: 19 * 1024, timeCost: 2, parallelism: 1 });
    await t.database.prisma.$executeRaw`UPDATE users SET password_hash = ${older} WHERE id = ${id}::uuid`;
    const stored = () => t.database.prisma.user.findUniqueOrThrow({ where: { id }, select: { passwordHash: true, updatedAt: true } });
    const before = await stored();

    const wrong = await t.request({ method: "POST", url: "/api/token/", payload: { name: "older-hash", password: "not the secret" } });
    expect(wrong.statusCode).toBe(401);
    expect((await stored()).passwordHash).toBe(older);

    expect((await t.request({ method: "POST", url: "/api/token/", payload: { name: "older-hash", password } })).statusCode).toBe(200);
    const after = await stored();
    expect(after.passwordHash).not.toBe(older);
    expect(after.passwordHash.split("$")[3]!.split(",").sort()).toEqual(["m=9216", "p=1", "t=4"]);
    expect(await argon2.verify(after.passwordHash, password)).toBe(true);
    expect(after.updatedAt).toEqual(before.updatedAt); // not a change the user made
    expect((await t.request({ method: "POST", url: "/api/token/", payload: { name: "older-hash", password } })).statusCode).toBe(200);
    expect((await stored()).passwordHash).toBe(after.passwordHash); // hashed again once, not at every login
  });

  it("rotates refresh tokens and revokes the family when a retired one is reused", async () => {
    const first = await t.login(ADMIN.name, ADMIN.password);
    const second = (await t.request({ method: "POST", url: "/api/token/refresh/", payload: { refresh: first.refresh } })).json();
    expect(second.refresh).not.toBe(first.refresh);
    const reuse = await t.request({ method: "POST", url: "/api/token/refresh/", payload: { refresh: first.refresh } });
    expect(reuse.statusCode).toBe(401);
    expect(reuse.json().code).toBe("token-not-valid");
    // The thief's reuse also retired the legitimate successor.
    const successor = await t.request({ method: "POST", url: "/api/token/refresh/", payload: { refresh: second.refresh } });
    expect(successor.statusCode).toBe(401);
  });

  it("ends the user's access tokens within the logout bound when a retired refresh token is reused", async () => {
    const user = await t.createUser();
    const otherSession = await t.login(user.name, user.password);
    const rotated = (await t.request({ method: "POST", url: "/api/token/refresh/", payload: { refresh: user.refresh } })).json();
    for (const token of [user.access, rotated.access]) expect((await t.request({ url: "/api/product/", token })).statusCode).toBe(200);
    const reuse = await t.request({ method: "POST", url: "/api/token/refresh/", payload: { refresh: user.refresh } });
    expect(reuse.statusCode).toBe(401);
    await sleep(PRINCIPAL_TTL_MS + 100);
    for (const token of [user.access, rotated.access, otherSession.access]) {
      const response = await t.request({ url: "/api/product/", token });
      expect(response.statusCode).toBe(401);
      expect(response.json().detail).toBe("Token was issued before the last logout, password change or refresh-token reuse");
    }
    // The other login's refresh token still works, and what it gives is honoured.
    const fresh = await t.request({ method: "POST", url: "/api/token/refresh/", payload: { refresh: otherSession.refresh } });
    expect(fresh.statusCode).toBe(200);
    expect((await t.request({ url: "/api/product/", token: fresh.json().access })).statusCode).toBe(200);
  });

  it("retires a refresh token on logout", async () => {
    // Not the admin: logout also ends the user's access tokens, and later tests use the admin's.
    const { refresh } = await t.createUser();
    const revoke = await t.request({ method: "POST", url: "/api/token/revoke/", payload: { refresh } });
    expect(revoke.statusCode).toBe(204);
    const after = await t.request({ method: "POST", url: "/api/token/refresh/", payload: { refresh } });
    expect(after.statusCode).toBe(401);
    const forged = await t.request({ method: "POST", url: "/api/token/revoke/", payload: { refresh: `${refresh}x` } });
    expect(forged.statusCode).toBe(401);
  });

  describe("attacks", () => {
    const now = () => Math.floor(Date.now() / 1000);
    let userId: string;
    beforeAll(async () => {
      userId = String(decodePayload(await t.adminToken()).user_id);
    });
    const claims = (extra: Record<string, unknown> = {}) => ({
      token_type: "access",
      user_id: userId,
      jti: "j",
      iat: now(),
      exp: now() + 600,
      ...extra,
    });
    const expectRefused = async (token: string) => {
      const response = await t.request({ url: "/api/product/", token });
      expect(response.statusCode).toBe(401);
      expect(response.json().code).toBe("token-not-valid");
    };

    it("accepts a well-formed token signed with the secret (control)", async () => {
      const token = craftToken({ alg: "HS256", typ: "JWT" }, claims(), t.config.JWT_SECRET);
      expect((await t.request({ url: "/api/product/", token })).statusCode).toBe(200);
    });
    it("refuses an expired token", () => expectRefused(craftToken({ alg: "HS256" }, claims({ iat: now() - 7200, exp: now() - 3600 }), t.config.JWT_SECRET)));
    it("refuses a token it accepted (and remembers as verified) once the token expires", async () => {
      const exp = now() + 1;
      const token = craftToken({ alg: "HS256" }, claims({ exp }), t.config.JWT_SECRET);
      for (let i = 0; i < 3; i++) expect((await t.request({ url: "/api/product/", token })).statusCode).toBe(200);
      await sleep(exp * 1000 - Date.now() + 50);
      await expectRefused(token);
    });
    it("refuses a tampered token", async () => {
      const [head, , signature] = (await t.adminToken()).split(".");
      const forged = Buffer.from(JSON.stringify(claims({ user_id: "00000000-0000-0000-0000-000000000000" }))).toString("base64url");
      await expectRefused(`${head}.${forged}.${signature}`);
    });
    it("refuses alg none", () => expectRefused(craftToken({ alg: "none", typ: "JWT" }, claims())));
    it("refuses another algorithm", () => expectRefused(craftToken({ alg: "HS512", typ: "JWT" }, claims(), t.config.JWT_SECRET)));
    it("refuses a token signed with another secret", () => expectRefused(craftToken({ alg: "HS256" }, claims(), "x".repeat(40))));
    it("refuses a refresh token where an access token is expected", async () => {
      const { refresh } = await t.login(ADMIN.name, ADMIN.password);
      await expectRefused(refresh);
    });
    it("refuses an access token where a refresh token is expected", async () => {
      const response = await t.request({ method: "POST", url: "/api/token/refresh/", payload: { refresh: await t.adminToken() } });
      expect(response.statusCode).toBe(401);
    });
    it("refuses garbage and answers a missing token with 401", async () => {
      await expectRefused("not-a-jwt");
      const none = await t.request({ url: "/api/product/" });
      expect(none.statusCode).toBe(401);
      expect(none.json()).toMatchObject({ code: "unauthorized", detail: "Authentication credentials were not provided." });
      expect(none.headers["www-authenticate"]).toBe('Bearer realm="api"');
    });
    it("checks the token before looking at the body", async () => {
      const response = await t.request({ method: "POST", url: "/api/order/", payload: { nonsense: true } });
      expect(response.statusCode).toBe(401);
    });
  });

  it("stops honouring a deleted user's tokens within seconds", async () => {
    const user = await t.createUser();
    expect((await t.request({ url: "/api/product/", token: user.access })).statusCode).toBe(200);
    const deleted = await t.request({ method: "DELETE", url: `/api/user/${user.id}`, token: await t.adminToken() });
    expect(deleted.statusCode).toBe(204);
    await sleep(PRINCIPAL_TTL_MS + 100);
    expect((await t.request({ url: "/api/product/", token: user.access })).statusCode).toBe(401);
    const refresh = await t.request({ method: "POST", url: "/api/token/refresh/", payload: { refresh: user.refresh } });
    expect(refresh.statusCode).toBe(401);
  });

  it("stops honouring revoked admin rights within seconds", async () => {
    const admin = await t.adminToken();
    const user = await t.createUser();
    await t.request({ method: "PATCH", url: `/api/user/${user.id}`, token: admin, payload: { is_admin: true } });
    await sleep(PRINCIPAL_TTL_MS + 100);
    expect((await t.request({ url: "/api/user/", token: user.access })).statusCode).toBe(200);
    await t.request({ method: "PATCH", url: `/api/user/${user.id}`, token: admin, payload: { is_admin: false } });
    await sleep(PRINCIPAL_TTL_MS + 100);
    expect((await t.request({ url: "/api/user/", token: user.access })).statusCode).toBe(403);
  });
});
