import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { FastifyError } from "fastify";
import { Prisma } from "../../generated/prisma/client.js";
import { fromDatabaseError, isDatabaseUnavailable, isRecordMissing, isTransientConflict, isUniqueViolation, uniqueViolationAs } from "../infra/db/errors.js";
import { PoolSaturated } from "../infra/db/pool-wait.js";
import {
  type AppError,
  ERROR_CODES,
  duplicateProducts,
  insufficientStock,
  invalidFields,
  nameTaken,
  notFound,
  tokenNotValid,
  tooManyRequests,
  unknownProducts,
} from "./app-error.js";
import { toAppError, validationErrors } from "../infra/http/error-handler.js";
import { fieldPointer, problemHeaders, toProblemDocument } from "../infra/http/problem.js";
import { loadSpec } from "../infra/spec.js";

const known = (code: string, meta?: Record<string, unknown>, message = `prisma ${code}`) =>
  new Prisma.PrismaClientKnownRequestError(message, { code, clientVersion: "test", meta });
const pgError = (code: string, message = `pg ${code}`) => Object.assign(new Error(message), { code });

describe("error codes", () => {
  it("are the Problem.code enum of openapi.yaml, no more, no fewer", () => {
    const spec = loadSpec() as { components: { schemas: { Problem: { properties: { code: { enum: string[] } } } } } };
    expect(new Set(spec.components.schemas.Problem.properties.code.enum)).toEqual(new Set(Object.keys(ERROR_CODES)));
  });

  it("are each listed, with their status, in docs/reference/errors.md", () => {
    const reference = readFileSync(new URL("../../docs/reference/errors.md", import.meta.url), "utf8");
    const unlisted = Object.entries(ERROR_CODES).filter(([code, { status }]) => !reference.includes(`| \`${code}\` | ${status} |`));
    expect(unlisted.map(([code]) => code)).toEqual([]);
  });

  it("each have a client or server error status and a title", () => {
    for (const [code, { status, title }] of Object.entries(ERROR_CODES)) {
      expect(status, code).toBeGreaterThanOrEqual(400);
      expect(status, code).toBeLessThan(600);
      expect(title.length, code).toBeGreaterThan(0);
    }
  });
});

describe("problem documents", () => {
  it("turn field paths into JSON pointers into the request", () => {
    const error = insufficientStock([{ index: 0, productId: 7, name: "RedBull", requested: 5, available: 2 }]);
    expect(toProblemDocument(error, "/api/order/", "req-1")).toEqual({
      type: "urn:order-service:problem:insufficient-stock",
      title: "Insufficient stock",
      status: 400,
      detail: "Not enough stock for every line; nothing was ordered.",
      instance: "/api/order/",
      code: "insufficient-stock",
      request_id: "req-1",
      errors: [
        {
          path: "/body/products/0/quantity",
          code: "insufficient-stock",
          message: "RedBull: 5 requested, 2 available",
          product_id: 7,
          requested: 5,
          available: 2,
        },
      ],
    });
  });

  it("name unknown and repeated order lines by their position", () => {
    expect(toProblemDocument(unknownProducts([{ index: 1, productId: 99 }]), "/api/order/").errors).toEqual([
      { path: "/body/products/1/id", code: "unknown-product", message: "product 99 does not exist", product_id: 99 },
    ]);
    const repeated = toProblemDocument(duplicateProducts([{ index: 2, productId: 3 }]), "/api/order/");
    expect(repeated).toMatchObject({ code: "validation-failed", title: "Validation failed", detail: "Each product may appear only once in an order." });
    expect(repeated.errors).toEqual([{ path: "/body/products/2/id", code: "duplicate-product", message: "product 3 is listed twice", product_id: 3 }]);
  });

  it("place query, path and header failures under their part of the request, escaping as RFC 6901 says", () => {
    expect(fieldPointer({ field: ["limit"], source: "query" })).toBe("/query/limit");
    expect(fieldPointer({ field: [], source: "params" })).toBe("/params");
    expect(fieldPointer({ field: ["a/b", "c~d"] })).toBe("/body/a~1b/c~0d");
  });

  it("carry Retry-After when retrying helps and a Bearer challenge on every 401", () => {
    expect(problemHeaders(tooManyRequests("slow down", 42))).toEqual({ "retry-after": "42" });
    expect(problemHeaders(tokenNotValid())).toEqual({ "www-authenticate": 'Bearer realm="api", error="invalid_token"' });
    expect(problemHeaders(tokenNotValid("User not found", false))).toEqual({ "www-authenticate": 'Bearer realm="api"' });
    expect(problemHeaders(notFound("Product", 1))).toEqual({});
  });

  it("say which resource was not found", () => {
    expect(toProblemDocument(notFound("Order", 12), "/api/order/12")).toMatchObject({ status: 404, title: "Not Found", detail: "Order 12 does not exist." });
  });
});

describe("database errors", () => {
  it("a unique violation, from Prisma or from raw SQL, becomes the error the repository names", () => {
    const taken = () => nameTaken('The name "x" is already taken.', "is already taken");
    expect(isUniqueViolation(known("P2002"))).toBe(true);
    expect(isUniqueViolation(pgError("23505"))).toBe(true);
    const mapped = uniqueViolationAs(known("P2002"), taken) as AppError;
    expect(toProblemDocument(mapped, "/api/register/")).toMatchObject({
      code: "name-taken",
      status: 400,
      errors: [{ path: "/body/name", code: "taken", message: "is already taken" }],
    });
    const other = known("P2003");
    expect(uniqueViolationAs(other, taken)).toBe(other);
  });

  it("a missing record is told apart from other failures", () => {
    expect(isRecordMissing(known("P2025"))).toBe(true);
    expect(isRecordMissing(known("P2002"))).toBe(false);
  });

  it.each([
    ["connection refused", pgError("ECONNREFUSED")],
    ["connection lost", pgError("57P01")],
    ["a connection not opened in time (pg's connectionTimeoutMillis)", new Error("timeout expired")],
    ["lock timeout", pgError("55P03")],
    ["statement timeout", pgError("57014")],
    ["wrapped by Prisma's adapter", known("P2010", { driverAdapterError: { cause: { originalCode: "08006" } } })],
    ["a transaction that could not start in time", known("P2028", undefined, "Unable to start a transaction in the given time.")],
  ])("%s is a 503 with Retry-After: 5", (_label, error) => {
    const mapped = fromDatabaseError(error);
    expect(mapped?.code).toBe("service-unavailable");
    expect(problemHeaders(mapped!)).toEqual({ "retry-after": "5" });
    // The error handler reaches the same answer from the raw error.
    expect(toAppError(error as unknown as FastifyError).code).toBe("service-unavailable");
  });

  it.each([
    ["pool saturated while the database answers", new PoolSaturated(10_000)],
    ["the same, wrapped by Prisma's adapter", known("P2010", { driverAdapterError: { cause: new PoolSaturated(10_000) } })],
    ["Prisma's own pool exhausted", known("P2024")],
  ])("%s is a 503 overloaded with Retry-After: 5, not 'the database is unavailable'", (_label, error) => {
    const mapped = fromDatabaseError(error);
    expect(mapped).toMatchObject({ code: "overloaded", status: 503, detail: expect.stringMatching(/overloaded/) });
    expect(problemHeaders(mapped!)).toEqual({ "retry-after": "5" });
    expect(isDatabaseUnavailable(error)).toBe(false);
    expect(toAppError(error as unknown as FastifyError).code).toBe("overloaded");
  });

  it("serialization failures and deadlocks are retryable, not unavailability", () => {
    for (const code of ["40001", "40P01"]) {
      expect(isTransientConflict(pgError(code))).toBe(true);
      expect(fromDatabaseError(pgError(code))).toBeUndefined();
    }
    expect(isTransientConflict(known("P2034"))).toBe(true);
    // Still failing after the retries: a failure of ours.
    expect(toAppError(pgError("40001") as unknown as FastifyError).code).toBe("internal-error");
  });
});

describe("the error handler's mapping", () => {
  const fastifyError = (fields: Partial<FastifyError> & { errors?: unknown[] }) =>
    Object.assign(new Error(fields.message ?? "x"), fields) as FastifyError & { errors?: unknown[] };

  it("keeps the service's own errors as they are", () => {
    const error = invalidFields([{ field: ["name"], message: "is bad" }]);
    expect(toAppError(error as unknown as FastifyError)).toBe(error);
  });

  it("turns schema validation into field errors with pointers", () => {
    const error = {
      validationContext: "body" as const,
      validation: [
        { instancePath: "/products/0/quantity", message: "must be >= 1", params: {}, keyword: "minimum", schemaPath: "" },
        { instancePath: "", message: "x", params: { missingProperty: "products" }, keyword: "required", schemaPath: "" },
        { instancePath: "", message: "x", params: { additionalProperty: "colour" }, keyword: "additionalProperties", schemaPath: "" },
      ],
    };
    expect(validationErrors(error).map((e) => ({ path: fieldPointer(e), message: e.message }))).toEqual([
      { path: "/body/products/0/quantity", message: "must be >= 1" },
      { path: "/body/products", message: "x" },
      { path: "/body/colour", message: "is not an accepted field" },
    ]);
    const query = validationErrors({
      validationContext: "querystring",
      validation: [{ instancePath: "/limit", message: "must be <= 100", params: {}, keyword: "maximum", schemaPath: "" }],
    });
    expect(query.map(fieldPointer)).toEqual(["/query/limit"]);
  });

  it("unwraps a security handler's failure, so a database outage there is not a credentials problem", () => {
    const wrapped = fastifyError({ statusCode: 401, errors: [pgError("ECONNREFUSED")] });
    expect(toAppError(wrapped).code).toBe("service-unavailable");
    const refused = tokenNotValid();
    expect(toAppError(fastifyError({ statusCode: 401, errors: [refused] }))).toBe(refused);
  });

  it("names Fastify's own request errors", () => {
    expect(toAppError(fastifyError({ code: "FST_ERR_CTP_BODY_TOO_LARGE", statusCode: 413 })).code).toBe("payload-too-large");
    expect(toAppError(fastifyError({ code: "FST_ERR_CTP_INVALID_MEDIA_TYPE", statusCode: 415 })).code).toBe("unsupported-media-type");
    expect(toAppError(fastifyError({ code: "FST_ERR_CTP_EMPTY_JSON_BODY", statusCode: 400 })).code).toBe("malformed-json");
  });

  it("gives any other client error an honest code and keeps its status, never validation-failed", () => {
    const mismatch = toAppError(
      fastifyError({ code: "FST_ERR_CTP_INVALID_CONTENT_LENGTH", statusCode: 400, message: "Request body size did not match Content-Length" }),
    );
    expect(toProblemDocument(mismatch, "/")).toMatchObject({
      code: "bad-request",
      status: 400,
      title: "Bad Request",
      detail: "Request body size did not match Content-Length",
    });
    const conflict = toAppError(fastifyError({ statusCode: 409, message: "conflict" }));
    expect(toProblemDocument(conflict, "/")).toMatchObject({ code: "bad-request", status: 409, title: "Conflict" });
    expect(toAppError(fastifyError({ statusCode: 404 })).code).toBe("not-found");
  });

  it("answers anything else as an internal error that blames no one", () => {
    const document = toProblemDocument(toAppError(fastifyError({ message: "boom" })), "/api/product/");
    expect(document).toMatchObject({ code: "internal-error", status: 500, detail: "An unexpected error occurred. Quote the request id when reporting it." });
  });
});
