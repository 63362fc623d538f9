import type { FieldError, FieldPath } from "../errors/app-error.js";

// Names that pass for another: UTS #39 (Unicode Security Mechanisms) checks, on the Unicode
// properties of the JavaScript engine (ICU, updated with Node) rather than a copied table.

/**
 * Characters that show nothing or reorder what follows (U+200B, U+2060, U+00AD, U+202E, ...):
 * Default_Ignorable_Code_Point and Bidi_Control. A joiner or variation selector next to an emoji
 * is how emoji are written, and stays allowed.
 */
const INVISIBLE = /[\p{Default_Ignorable_Code_Point}\p{Bidi_Control}]/gu;
const EMOJI_JOINERS = /^[\u200d\ufe0e\ufe0f]$/u;
const EMOJI = /\p{Extended_Pictographic}/u;

/** The scripts a name may be written in, tested by Script_Extensions; letters of others count as their own. */
const SCRIPTS = [
  "Latin",
  "Greek",
  "Cyrillic",
  "Armenian",
  "Hebrew",
  "Arabic",
  "Syriac",
  "Thaana",
  "Devanagari",
  "Bengali",
  "Gurmukhi",
  "Gujarati",
  "Oriya",
  "Tamil",
  "Telugu",
  "Kannada",
  "Malayalam",
  "Sinhala",
  "Thai",
  "Lao",
  "Tibetan",
  "Myanmar",
  "Georgian",
  "Hangul",
  "Ethiopic",
  "Cherokee",
  "Khmer",
  "Mongolian",
  "Hiragana",
  "Katakana",
  "Bopomofo",
  "Han",
  "Coptic",
].map((script) => [script, new RegExp(`\\p{Script_Extensions=${script}}`, "u")] as const);

/** UTS #39 §5.1: Han goes with Japanese, Korean and Bopomofo writing; so do their own scripts. */
const AUGMENTED: Record<string, string[]> = {
  Han: ["Jpan", "Kore", "Hanb"],
  Hiragana: ["Jpan"],
  Katakana: ["Jpan"],
  Hangul: ["Kore"],
  Bopomofo: ["Hanb"],
};

function scriptsOf(letter: string): Set<string> {
  const scripts = SCRIPTS.filter(([, pattern]) => pattern.test(letter)).flatMap(([script]) => [script, ...(AUGMENTED[script] ?? [])]);
  return new Set(scripts.length > 0 ? scripts : [`other:${letter}`]);
}

/** The scripts every letter shares (UTS #39's resolved script set); empty when they mix. */
function resolvedScripts(letters: string[]): Set<string> | undefined {
  let resolved: Set<string> | undefined;
  for (const letter of letters) {
    const scripts = scriptsOf(letter);
    resolved = resolved ? new Set([...resolved].filter((script) => scripts.has(script))) : scripts;
  }
  return resolved;
}

/**
 * UTS #39's "highly restrictive" level: one script, or Latin with Japanese, Korean or Chinese
 * writing. A Latin name with one Cyrillic "а" is neither.
 */
function mixesScripts(name: string): boolean {
  const letters = [...name].filter((c) => /\p{L}/u.test(c));
  const all = resolvedScripts(letters);
  if (!all || all.size > 0) return false;
  const rest = resolvedScripts(letters.filter((c) => !/\p{Script=Latin}/u.test(c)));
  return !rest || !["Jpan", "Kore", "Hanb"].some((script) => rest.has(script));
}

function hasInvisible(name: string): boolean {
  const chars = [...name];
  return chars.some((c, i) => {
    if (!c.match(INVISIBLE)) return false;
    return !(EMOJI_JOINERS.test(c) && (EMOJI.test(chars[i - 1] ?? "") || EMOJI.test(chars[i + 1] ?? "")));
  });
}

/** A letter or digit with a plain form of its own (fullwidth "ａ", the ligature "ﬁ"): NFKC. */
const hasCompatibilityForm = (name: string) => [...name].some((c) => /[\p{L}\p{Nd}]/u.test(c) && c.normalize("NFKC") !== c);

/** Why a name could pass for another, as field errors (code `confusable`); none for an ordinary name. */
export function spoofingViolations(name: string, field: FieldPath = ["name"]): FieldError[] {
  const reason = hasInvisible(name)
    ? "must not contain invisible or direction-changing characters"
    : hasCompatibilityForm(name)
      ? "must use the plain form of its letters and digits (not fullwidth or other compatibility forms)"
      : mixesScripts(name)
        ? "must not mix scripts that look alike (such as Latin and Cyrillic letters)"
        : undefined;
  return reason ? [{ field, code: "confusable", message: reason }] : [];
}
