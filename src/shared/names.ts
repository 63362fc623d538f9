import type { FieldError } from "../errors/app-error.js";
import { SPEC_LIMITS } from "../infra/spec-limits.js";
import { textViolations } from "./text.js";

export interface NormalizedName {
  name: string;
  /** The key that makes names unique regardless of case. */
  key: string;
}

/**
 * A display name as stored (NFC, trimmed) and its unique key (lowercased): users and products
 * alike, so "é" typed as one code point or as "e" and a combining accent is one name.
 */
export function normalizeName(raw: string): NormalizedName {
  const name = raw.normalize("NFC").trim();
  return { name, key: name.toLowerCase() };
}

/** The rules of openapi.yaml's UserName, checked again after trimming, NFC and case folding (see normalizeName). */
export function userNameViolations(name: string): FieldError[] {
  return textViolations(name, SPEC_LIMITS.userNameMaxLength);
}

/** The rules of openapi.yaml's ProductName, checked again after trimming, NFC and case folding (see normalizeName). */
export function productNameViolations(name: string): FieldError[] {
  return textViolations(name, SPEC_LIMITS.productNameMaxLength);
}
