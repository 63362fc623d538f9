// Drives every operation of openapi.yaml into each of its generic error answers, so every
// documented status is produced at least once and checked against the spec (see contract.ts).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { specOperations, urlFor } from "../helpers/spec-operations.js";

let t: TestApp;
let admin: string;
let user: string;
beforeAll(async () => {
  t = await startTestApp();
  admin = await t.adminToken();
  user = (await t.createUser()).access;
});
afterAll(() => t.close());

const withBody = specOperations.filter((op) => op.bodySchema);
const secured = specOperations.filter((op) => op.access === "user" || op.access === "admin");

describe.each(secured)("$operationId without credentials", (op) => {
  it("answers 401", async () => {
    const response = await t.request({ method: op.method, url: urlFor(op), payload: op.bodyExample as object });
    expect(response.statusCode).toBe(401);
  });
});

describe.each(specOperations.filter((op) => op.access === "admin"))("$operationId as a non-admin", (op) => {
  it("answers 403 and changes nothing", async () => {
    const before = await t.database.pool.query("SELECT (SELECT count(*) FROM products) p, (SELECT count(*) FROM users) u");
    const response = await t.request({ method: op.method, url: urlFor(op), token: user, payload: op.bodyExample as object });
    expect(response.statusCode).toBe(403);
    const after = await t.database.pool.query("SELECT (SELECT count(*) FROM products) p, (SELECT count(*) FROM users) u");
    expect(after.rows).toEqual(before.rows);
  });
});

describe.each(withBody)("$operationId with a bad body", (op) => {
  const token = op.access === "public" ? undefined : () => admin;
  it("answers 415 to a body that is not JSON", async () => {
    const response = await t.request({ method: op.method, url: urlFor(op), token: token?.(), headers: { "content-type": "text/plain" }, payload: "hello" });
    expect(response.statusCode).toBe(415);
  });
  it("answers 413 to an oversized body", async () => {
    const response = await t.request({ method: op.method, url: urlFor(op), token: token?.(), payload: { padding: "x".repeat(t.config.BODY_LIMIT_BYTES) } });
    expect(response.statusCode).toBe(413);
  });
  it("answers 400 to a body of the wrong type", async () => {
    const response = await t.request({ method: op.method, url: urlFor(op), token: token?.(), payload: [] as unknown as object });
    expect(response.statusCode).toBe(400);
    expect(response.json().errors[0].path).toBe("/body");
  });
});

describe.each(specOperations.filter((op) => op.pathParams.length > 0))("$operationId with a bad id", (op) => {
  it("answers 400 to an id of the wrong form", async () => {
    const response = await t.request({ method: op.method, url: urlFor(op, { id: "not-an-id" }), token: admin, payload: op.bodyExample as object });
    expect(response.statusCode).toBe(400);
  });
  it("answers 404 to an id that does not exist", async () => {
    const response = await t.request({ method: op.method, url: urlFor(op), token: admin, payload: op.bodyExample as object });
    expect(response.statusCode).toBe(404);
  });
});

describe.each(specOperations.filter((op) => op.queryParams.some((p) => p.name === "limit")))("$operationId with a bad page", (op) => {
  it("answers 400 to a negative limit", async () => {
    const response = await t.request({ method: op.method, url: `${urlFor(op)}?limit=-1`, token: admin });
    expect(response.statusCode).toBe(400);
  });
});
