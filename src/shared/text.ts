import type { FieldError, FieldPath } from "../errors/app-error.js";

/** Control characters, lone surrogates, line and paragraph separators: never part of a name. */
const FORBIDDEN = /[\p{Cc}\p{Cs}\p{Zl}\p{Zp}]/u;
/** A letter, digit, punctuation mark or symbol: a name of only spaces or zero-width characters is blank. */
const VISIBLE = /[\p{L}\p{N}\p{P}\p{S}]/u;

/** Code points, as PostgreSQL's varchar(n) counts them. */
export const lengthOf = (text: string) => [...text].length;

/**
 * Rules for a display name that is stored with a lowercased unique key: both must fit their
 * columns (lowercasing can lengthen text: "İ" becomes "i̇", two code points).
 */
export function textViolations(name: string, maxLength: number, field: FieldPath = ["name"]): FieldError[] {
  if (FORBIDDEN.test(name)) {
    return [{ field, code: "invalid-character", message: "must not contain control characters, line separators or lone surrogates" }];
  }
  if (!VISIBLE.test(name)) return [{ field, code: "blank", message: "must contain a letter, digit, punctuation mark or symbol" }];
  if (lengthOf(name) > maxLength || lengthOf(name.toLowerCase()) > maxLength) {
    return [{ field, code: "too-long", message: `must be at most ${maxLength} characters, also once lowercased` }];
  }
  return [];
}
