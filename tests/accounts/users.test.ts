import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createProduct, viaApp } from "../helpers/factories.js";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

const register = (payload: Record<string, unknown>) => t.request({ method: "POST", url: "/api/register/", payload });
const ruleCodes = (body: { errors: { code?: string }[] }) => body.errors.map((e) => e.code).sort();

describe("registration", () => {
  it("creates a user and never shows the password", async () => {
    const response = await register({ name: "  Alice  ", password: "a long enough secret" });
    expect(response.statusCode).toBe(201);
    const body = response.json();
    expect(body).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
      name: "Alice",
      is_admin: false,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    expect(response.headers.location).toBe(`/api/user/${body.id}`);
    expect(response.body).not.toMatch(/secret|hash|argon/i);
    const stored = await t.database.prisma.user.findUniqueOrThrow({ where: { id: body.id } });
    expect(stored.passwordHash).toMatch(/^\$argon2id\$v=19\$/);
    expect(stored.passwordHash.split("$")[3]!.split(",").sort()).toEqual(["m=9216", "p=1", "t=4"]);
  });

  it("refuses a name taken in another case", async () => {
    await register({ name: "Bob", password: "a long enough secret" });
    const response = await register({ name: "bOB", password: "another long secret" });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: "name-taken", errors: [{ path: "/body/name", code: "taken" }] });
  });

  it("refuses blank and over-long names (by the spec's schema)", async () => {
    for (const name of ["   ", "n".repeat(101)]) {
      const response = await register({ name, password: "a long enough secret" });
      expect(response.statusCode).toBe(400);
      expect(response.json().errors.map((e: { path: string }) => e.path)).toEqual(["/body/name"]);
    }
  });

  it.each([
    ["entirely numeric", "8675309123", ["entirely-numeric"]],
    ["common", "iloveyou", ["too-common"]],
    ["similar to the name", "carol-the-user", ["too-similar-to-name"]],
    ["numeric and common", "12345678", ["entirely-numeric", "too-common"]],
  ])("names each failed password rule: %s", async (_label, password, codes) => {
    const response = await register({ name: "carol-the-user", password });
    expect(response.statusCode).toBe(400);
    expect(ruleCodes(response.json())).toEqual(codes);
    expect(await t.database.prisma.user.count({ where: { nameKey: "carol-the-user" } })).toBe(0);
  });

  it("never honours is_admin in the body", async () => {
    const response = await register({ name: "mallory", password: "a long enough secret", is_admin: true });
    expect(response.statusCode).toBe(400);
    expect(response.json().errors).toEqual([{ path: "/body/is_admin", message: "is not an accepted field" }]);
    expect(await t.database.prisma.user.count({ where: { nameKey: "mallory" } })).toBe(0);
  });
});

describe("user management", () => {
  it("lists users for admins only, paginated", async () => {
    const user = await t.createUser();
    expect((await t.request({ url: "/api/user/", token: user.access })).statusCode).toBe(403);
    const page = await t.request({ url: "/api/user/?limit=1", token: await t.adminToken() });
    expect(page.statusCode).toBe(200);
    const body = page.json();
    expect(body.results).toHaveLength(1);
    expect(body.results[0].name).toBe("admin");
    expect(body.count).toBeGreaterThan(1);
    expect(body.next).toMatch(/\/api\/user\/\?limit=1&offset=1$/);
  });

  it("lets users rename themselves but not promote themselves", async () => {
    const user = await t.createUser();
    const renamed = await t.request({ method: "PATCH", url: `/api/user/${user.id}`, token: user.access, payload: { name: `${user.name}-x` } });
    expect(renamed.statusCode).toBe(200);
    expect(renamed.json().name).toBe(`${user.name}-x`);
    const again = await t.request({ method: "PUT", url: `/api/user/${user.id}`, token: user.access, payload: { name: `${user.name}-y` } });
    expect(again.statusCode).toBe(200);
    expect(again.json().name).toBe(`${user.name}-y`);
    for (const method of ["PUT", "PATCH"]) {
      const promote = await t.request({ method, url: `/api/user/${user.id}`, token: user.access, payload: { is_admin: true } });
      expect(promote.statusCode).toBe(403);
    }
    expect((await t.database.prisma.user.findUniqueOrThrow({ where: { id: user.id } })).isAdmin).toBe(false);
  });

  it("changes a password only with the current one, and retires old refresh tokens", async () => {
    const user = await t.createUser();
    const url = `/api/user/${user.id}`;
    const without = await t.request({ method: "PATCH", url, token: user.access, payload: { password: "a brand new passphrase" } });
    expect(without.statusCode).toBe(400);
    expect(without.json().errors[0].path).toBe("/body/current_password");
    const wrong = await t.request({ method: "PATCH", url, token: user.access, payload: { password: "a brand new passphrase", current_password: "wrong" } });
    expect(wrong.statusCode).toBe(400);
    const ok = await t.request({ method: "PATCH", url, token: user.access, payload: { password: "a brand new passphrase", current_password: user.password } });
    expect(ok.statusCode).toBe(200);
    expect((await t.request({ method: "POST", url: "/api/token/refresh/", payload: { refresh: user.refresh } })).statusCode).toBe(401);
    expect((await t.request({ method: "POST", url: "/api/token/", payload: { name: user.name, password: user.password } })).statusCode).toBe(401);
    await t.login(user.name, "a brand new passphrase");
  });

  it("keeps a deleted user's orders as history", async () => {
    const admin = await t.adminToken();
    const product = await createProduct(viaApp(t), admin, { name: "History Tea", price: "3.5", stock: 10 });
    const user = await t.createUser();
    const order = await t.request({ method: "POST", url: "/api/order/", token: user.access, payload: { products: [{ id: product.id, quantity: 2 }] } });
    expect(order.statusCode).toBe(201);
    expect((await t.request({ method: "DELETE", url: `/api/user/${user.id}`, token: user.access })).statusCode).toBe(204);
    const kept = await t.database.prisma.order.findUniqueOrThrow({ where: { id: order.json().id }, include: { items: true } });
    expect(kept.userId).toBeNull();
    expect(kept.items[0]!.productName).toBe("History Tea");
    expect((await t.request({ url: `/api/order/${order.json().id}`, token: admin })).json().total).toBe("7.000");
  });
});
