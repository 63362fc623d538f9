import type { ProblemFieldError } from "../http/problem.js";

const USER_NAME_MAX_LENGTH = 100;

export interface NormalizedName {
  name: string;
  /** The key that makes names unique regardless of case. */
  key: string;
}

export function normalizeUserName(raw: string): NormalizedName {
  const name = raw.normalize("NFC").trim();
  return { name, key: name.toLowerCase() };
}

export function userNameViolations(name: string, path = "/body/name"): ProblemFieldError[] {
  const length = [...name].length;
  if (length === 0) return [{ path, code: "blank", message: "must not be blank" }];
  if (length > USER_NAME_MAX_LENGTH) {
    return [{ path, code: "too-long", message: `must be at most ${USER_NAME_MAX_LENGTH} characters` }];
  }
  return [];
}
