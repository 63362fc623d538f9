import { STATUS_CODES } from "node:http";

/** Each kind of problem this service answers, with its HTTP status (one place to read them all). */
export const PROBLEM_KINDS = {
  "validation-failed": { status: 400, title: "Validation failed" },
  "malformed-json": { status: 400, title: "Malformed JSON" },
  "malformed-request": { status: 400, title: "Malformed HTTP request" },
  "name-taken": { status: 400, title: "Name already taken" },
  "weak-password": { status: 400, title: "Password rejected" },
  "insufficient-stock": { status: 400, title: "Insufficient stock" },
  "unknown-product": { status: 400, title: "Unknown product" },
  unauthorized: { status: 401, title: "Unauthorized" },
  "token-not-valid": { status: 401, title: "Token not valid" },
  "invalid-credentials": { status: 401, title: "Invalid credentials" },
  forbidden: { status: 403, title: "Forbidden" },
  "not-found": { status: 404, title: "Not Found" },
  "method-not-allowed": { status: 405, title: "Method Not Allowed" },
  "request-timeout": { status: 408, title: "Request Timeout" },
  "payload-too-large": { status: 413, title: "Payload Too Large" },
  "stock-out-of-range": { status: 409, title: "Stock out of range" },
  "precondition-failed": { status: 412, title: "Precondition Failed" },
  "unsupported-media-type": { status: 415, title: "Unsupported Media Type" },
  "idempotency-key-reused": { status: 422, title: "Idempotency key reused" },
  "too-many-requests": { status: 429, title: "Too Many Requests" },
  "headers-too-large": { status: 431, title: "Request Header Fields Too Large" },
  "internal-error": { status: 500, title: "Internal Server Error" },
  "service-unavailable": { status: 503, title: "Service Unavailable" },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemKind = keyof typeof PROBLEM_KINDS;

export interface ProblemFieldError {
  path: string;
  message: string;
  code?: string;
  product_id?: number;
  requested?: number;
  available?: number;
}

export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  code: string;
  request_id?: string;
  errors?: ProblemFieldError[];
}

const PROBLEM_TYPE_PREFIX = "urn:order-service:problem:";

/** Thrown anywhere to answer with an RFC 9457 problem document. */
export class Problem extends Error {
  readonly status: number;
  readonly title: string;

  readonly errors?: ProblemFieldError[];
  readonly headers: Record<string, string>;

  constructor(
    readonly kind: ProblemKind,
    readonly detail: string,
    options: { errors?: ProblemFieldError[]; headers?: Record<string, string>; status?: number; cause?: unknown } = {},
  ) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "Problem";
    this.status = options.status ?? PROBLEM_KINDS[kind].status;
    this.title = options.status ? (STATUS_CODES[options.status] ?? PROBLEM_KINDS[kind].title) : PROBLEM_KINDS[kind].title;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
  }

  toDocument(instance: string, requestId?: string): ProblemDocument {
    return {
      type: `${PROBLEM_TYPE_PREFIX}${this.kind}`,
      title: this.title,
      status: this.status,
      detail: this.detail,
      instance,
      code: this.kind,
      // Also the X-Request-Id header: what to quote when asking about this answer.
      ...(requestId ? { request_id: requestId } : {}),
      ...(this.errors ? { errors: this.errors } : {}),
    };
  }
}

/** The 400 answer for field-level failures found by schema validation or by a handler's own checks. */
export function invalidRequest(errors: ProblemFieldError[]): Problem {
  return new Problem("validation-failed", "The request is invalid.", { errors });
}

/** Throws invalidRequest(errors) when there is any. */
export function rejectIfAny(errors: ProblemFieldError[]): void {
  if (errors.length > 0) throw invalidRequest(errors);
}
