/**
 * The service's errors, without HTTP: a code from ERROR_CODES, a detail for people, and, for
 * failures of particular fields, each field's path in the input (["products", 0, "quantity"]).
 * src/infra/http/problem.ts turns them into RFC 9457 problem documents; openapi.yaml's Problem.code
 * enum lists the same codes (a unit test keeps the two equal).
 */

/** Every code, with the status and title its answers carry (one place to read them all). */
export const ERROR_CODES = {
  "validation-failed": { status: 400, title: "Validation failed" },
  "malformed-json": { status: 400, title: "Malformed JSON" },
  "malformed-request": { status: 400, title: "Malformed HTTP request" },
  "bad-request": { status: 400, title: "Bad Request" },
  "name-taken": { status: 400, title: "Name already taken" },
  "insufficient-stock": { status: 400, title: "Insufficient stock" },
  "unknown-product": { status: 400, title: "Unknown product" },
  unauthorized: { status: 401, title: "Unauthorized" },
  "token-not-valid": { status: 401, title: "Token not valid" },
  "invalid-credentials": { status: 401, title: "Invalid credentials" },
  forbidden: { status: 403, title: "Forbidden" },
  "not-found": { status: 404, title: "Not Found" },
  "method-not-allowed": { status: 405, title: "Method Not Allowed" },
  "request-timeout": { status: 408, title: "Request Timeout" },
  "order-already-cancelled": { status: 409, title: "Order already cancelled" },
  "order-already-fulfilled": { status: 409, title: "Order already fulfilled" },
  "stock-out-of-range": { status: 409, title: "Stock out of range" },
  "delivery-pending": { status: 409, title: "Delivery pending" },
  "precondition-failed": { status: 412, title: "Precondition Failed" },
  "payload-too-large": { status: 413, title: "Payload Too Large" },
  "unsupported-media-type": { status: 415, title: "Unsupported Media Type" },
  "idempotency-key-reused": { status: 422, title: "Idempotency key reused" },
  "too-many-requests": { status: 429, title: "Too Many Requests" },
  "headers-too-large": { status: 431, title: "Request Header Fields Too Large" },
  "internal-error": { status: 500, title: "Internal Server Error" },
  "order-outcome-unknown": { status: 503, title: "Order outcome unknown" },
  overloaded: { status: 503, title: "Service overloaded" },
  "service-unavailable": { status: 503, title: "Service Unavailable" },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Where a field is, from the root of the input: ["products", 0, "quantity"]; [] is the input itself. */
export type FieldPath = readonly (string | number)[];

/**
 * The part of a request a field belongs to. Domain code leaves it out (its input is the body);
 * the HTTP layer sets it for failures in the query, the path parameters or the headers.
 */
export type FieldSource = "body" | "query" | "params" | "headers";

export interface FieldError {
  field: FieldPath;
  source?: FieldSource;
  message: string;
  code?: string;
  product_id?: number;
  requested?: number;
  available?: number;
}

/** How long a client should wait before retrying when a dependency is away or the service is overloaded. */
export const RETRY_AFTER_SECONDS = 5;

export interface AppErrorOptions {
  fieldErrors?: FieldError[];
  /** Seconds after which trying again may succeed (too many requests, unavailable). */
  retryAfterSeconds?: number;
  /** A credentials error about the token itself (RFC 6750's `invalid_token`), not about its absence. */
  invalidToken?: boolean;
  /** Only for a client error of a kind this table does not list (see src/infra/http/error-handler.ts). */
  status?: number;
  cause?: unknown;
}

/** Thrown anywhere to refuse a request or report a failure; never names a transport. */
export class AppError extends Error {
  readonly status: number;
  readonly fieldErrors?: FieldError[];
  readonly retryAfterSeconds?: number;
  readonly invalidToken: boolean;

  readonly code: ErrorCode;
  readonly detail: string;

  constructor(code: ErrorCode, detail: string, options: AppErrorOptions = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.detail = detail;
    this.name = "AppError";
    this.status = options.status ?? ERROR_CODES[code].status;
    this.fieldErrors = options.fieldErrors;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.invalidToken = options.invalidToken ?? false;
  }
}

// Factories: what each refusal says, written once.

/** Field-level failures found by schema validation or by the rules of the domain. */
export const invalidFields = (fieldErrors: FieldError[], detail = "The request is invalid."): AppError =>
  new AppError("validation-failed", detail, { fieldErrors });

/** Throws invalidFields(errors) when there is any. */
export function rejectIfAny(fieldErrors: FieldError[]): void {
  if (fieldErrors.length > 0) throw invalidFields(fieldErrors);
}

/** `what` is the resource as a detail names it: "Product", "User", "Order". */
export const notFound = (what: string, id: string | number): AppError => new AppError("not-found", `${what} ${id} does not exist.`);

export const nameTaken = (detail: string, message: string): AppError =>
  new AppError("name-taken", detail, { fieldErrors: [{ field: ["name"], code: "taken", message }] });

export const forbidden = (detail = "You do not have permission to perform this action."): AppError => new AppError("forbidden", detail);

export const unauthorized = (detail: string): AppError => new AppError("unauthorized", detail);

export const invalidCredentials = (): AppError => new AppError("invalid-credentials", "No active account found with the given credentials");

/** `invalidToken`: the token itself is bad (signature, expiry, type, claims, retired) rather than its user. */
export const tokenNotValid = (detail = "Given token not valid for any token type", invalidToken = true): AppError =>
  new AppError("token-not-valid", detail, { invalidToken });

export interface OrderLineRef {
  /** The line's position in the order. */
  index: number;
  productId: number;
}

export const unknownProducts = (lines: OrderLineRef[]): AppError =>
  new AppError("unknown-product", `No product with id ${lines.map((l) => l.productId).join(", ")}.`, {
    fieldErrors: lines.map((line) => ({
      field: ["products", line.index, "id"],
      code: "unknown-product",
      message: `product ${line.productId} does not exist`,
      product_id: line.productId,
    })),
  });

export const insufficientStock = (lines: (OrderLineRef & { name: string; requested: number; available: number })[]): AppError =>
  new AppError("insufficient-stock", "Not enough stock for every line; nothing was ordered.", {
    fieldErrors: lines.map((line) => ({
      field: ["products", line.index, "quantity"],
      code: "insufficient-stock",
      message: `${line.name}: ${line.requested} requested, ${line.available} available`,
      product_id: line.productId,
      requested: line.requested,
      available: line.available,
    })),
  });

export const duplicateProducts = (lines: OrderLineRef[]): AppError =>
  invalidFields(
    lines.map((line) => ({
      field: ["products", line.index, "id"],
      code: "duplicate-product",
      message: `product ${line.productId} is listed twice`,
      product_id: line.productId,
    })),
    "Each product may appear only once in an order.",
  );

/** A cancel of an order that was cancelled before (also by a concurrent request). */
export const orderAlreadyCancelled = (id: number, at: Date | null): AppError =>
  new AppError("order-already-cancelled", `Order ${id} was already cancelled${at ? ` at ${at.toISOString()}` : ""}; nothing changed.`);

/** A fulfilment of an order that was cancelled (also by a concurrent request). */
export const cancelledOrderNotFulfillable = (id: number, at: Date | null): AppError =>
  new AppError("order-already-cancelled", `Order ${id} was cancelled${at ? ` at ${at.toISOString()}` : ""} and cannot be fulfilled; nothing changed.`);

/** A fulfilment of an order fulfilled before (also by a concurrent request). */
export const orderAlreadyFulfilled = (id: number, at: Date | null): AppError =>
  new AppError("order-already-fulfilled", `Order ${id} was already fulfilled${at ? ` at ${at.toISOString()}` : ""}; nothing changed.`);

/** A cancel of an order that was fulfilled (also by a concurrent request): its goods have left. */
export const fulfilledOrderNotCancellable = (id: number, at: Date | null): AppError =>
  new AppError("order-already-fulfilled", `Order ${id} was fulfilled${at ? ` at ${at.toISOString()}` : ""} and cannot be cancelled; nothing changed.`);

/**
 * A cancel that would put a line back on a product whose stock has since been raised so far that
 * it would go above `maxStock`: nothing changed, the order is still created.
 */
export const noRoomToRestock = (orderId: number, products: { id: number; name: string; stock: number; quantity: number }[], maxStock: number): AppError =>
  new AppError(
    "stock-out-of-range",
    `Order ${orderId} cannot be cancelled: ${products
      .map((p) => `product ${p.id} (${p.name}) has ${p.stock} in stock, and putting back its ${p.quantity} would take it above the maximum of ${maxStock}`)
      .join("; ")}. Nothing was changed; the order is still created.`,
  );

export const idempotencyKeyReused = (): AppError => new AppError("idempotency-key-reused", "This Idempotency-Key was used with a different request body.");

export const tooManyRequests = (detail: string, retryAfterSeconds: number): AppError => new AppError("too-many-requests", detail, { retryAfterSeconds });

export const serviceUnavailable = (detail: string, options: { retryAfterSeconds?: number; cause?: unknown } = {}): AppError =>
  new AppError("service-unavailable", detail, { retryAfterSeconds: options.retryAfterSeconds ?? RETRY_AFTER_SECONDS, cause: options.cause });

/**
 * The service has more work than it can take on now (every database connection stayed busy for
 * the whole wait, or the event loop is saturated) while its dependencies are fine: nothing was
 * done; the same request later (Retry-After) will most likely succeed.
 */
export const overloaded = (detail: string, options: { retryAfterSeconds?: number; cause?: unknown } = {}): AppError =>
  new AppError("overloaded", detail, { retryAfterSeconds: options.retryAfterSeconds ?? RETRY_AFTER_SECONDS, cause: options.cause });

/**
 * The database did not confirm an order's COMMIT (it stopped answering, or the connection was lost
 * under it), and a look-up could not tell whether the order is there: it may be written. A 503,
 * since the database is unavailable (Retry-After says when to look), but never "try again": the
 * detail names the order to look up first, and a 503 `service-unavailable` still always means
 * nothing was written.
 */
export const orderOutcomeUnknown = (orderId: number, cause?: unknown): AppError =>
  new AppError(
    "order-outcome-unknown",
    `The database did not confirm order ${orderId} in time: it may or may not have been placed. Look it up with GET /api/order/${orderId} (404 means it was not placed) before ordering again, or send the order again with the same Idempotency-Key.`,
    { retryAfterSeconds: RETRY_AFTER_SECONDS, cause },
  );

export const internalError = (cause?: unknown): AppError =>
  new AppError("internal-error", "An unexpected error occurred. Quote the request id when reporting it.", { cause });
