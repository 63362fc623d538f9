import type { ProblemFieldError } from "../http/problem.js";
import { textViolations } from "./text.js";

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

/** The rules of openapi.yaml's UserName, checked again after trimming, NFC and case folding. */
export function userNameViolations(name: string, path = "/body/name"): ProblemFieldError[] {
  return textViolations(name, USER_NAME_MAX_LENGTH, path);
}
