import type { FieldError } from "../errors/app-error.js";
import { SPEC_LIMITS } from "../infra/spec-limits.js";
import { textViolations } from "./text.js";
import { spoofingViolations } from "./spoofing.js";

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
  return firstOf(textViolations(name, SPEC_LIMITS.userNameMaxLength), () => spoofingViolations(name));
}

/** The rules of openapi.yaml's ProductName, checked again after trimming, NFC and case folding (see normalizeName). */
export function productNameViolations(name: string): FieldError[] {
  return firstOf(textViolations(name, SPEC_LIMITS.productNameMaxLength), () => spoofingViolations(name));
}

/** The text rules' failures, else the spoofing checks' (a name that could pass for another). */
const firstOf = (violations: FieldError[], next: () => FieldError[]) => (violations.length > 0 ? violations : next());
