import { forbidden, invalidFields, rejectIfAny, type FieldError } from "../errors/app-error.js";
import type { Principal } from "../accounts/index.js";
import type { QueryOf } from "../infra/http/operation-types.js";
import { parseDateTime } from "../shared/timestamps.js";
import type { OrderFilter } from "./list-statements.js";

type ListQuery = QueryOf<"listOrders">;

const BACK_OFFICE_PARAMETERS = ["user_id", "status", "created_after", "created_before", "cursor"] as const;

/** True when the query asks for the back-office list; without these the answer is the reference's. */
export const isBackOfficeList = (query: ListQuery): boolean => BACK_OFFICE_PARAMETERS.some((name) => query[name] !== undefined);

/**
 * A date-time bound as an ISO instant to the millisecond. created_at is kept to the millisecond,
 * so a bound with microseconds is rounded up: `created_at >= 12.3455` is `>= 12.346` and
 * `created_at < 12.3455` is `< 12.346`, both exactly.
 */
function readBound(name: "created_after" | "created_before", text: string | undefined, errors: FieldError[]): string | undefined {
  if (text === undefined) return undefined;
  const instant = parseDateTime(text);
  if (!instant) {
    errors.push({
      field: [name],
      source: "query",
      code: "invalid-date-time",
      message: "must be an RFC 3339 date-time with a time zone that exists, in years 1 to 9999, without a leap second",
    });
    return undefined;
  }
  return new Date(instant.ms + (instant.subMillisecond ? 1 : 0)).toISOString();
}

/**
 * The back-office filter the caller may have: an admin any (no user_id: every customer), anyone
 * else their own orders only; another customer's user_id is a 403. Statuses are made distinct.
 */
export function readOrderFilter(query: ListQuery, principal: Principal): OrderFilter {
  if (!principal.isAdmin && query.user_id !== undefined && query.user_id.toLowerCase() !== principal.id.toLowerCase()) {
    throw forbidden("Only admins may list another customer's orders.");
  }
  const errors: FieldError[] = [];
  const createdAfter = readBound("created_after", query.created_after, errors);
  const createdBefore = readBound("created_before", query.created_before, errors);
  rejectIfAny(errors);
  if (createdAfter !== undefined && createdBefore !== undefined && createdAfter >= createdBefore) {
    throw invalidFields([{ field: ["created_before"], source: "query", code: "empty-range", message: "must be later than created_after" }]);
  }
  const userId = principal.isAdmin ? query.user_id?.toLowerCase() : principal.id.toLowerCase();
  return {
    ...(userId !== undefined ? { userId } : {}),
    ...(query.status ? { statuses: [...new Set(query.status)].sort() } : {}),
    ...(createdAfter !== undefined ? { createdAfter } : {}),
    ...(createdBefore !== undefined ? { createdBefore } : {}),
  };
}
