import fc from "fast-check";
import { resolveRef } from "../../support/spec-refs.js";
import { loadSpec } from "../../src/infra/spec.js";

// fast-check arbitraries built from openapi.yaml's JSON Schemas: values the schema accepts, and
// values it must refuse.
type Schema = Record<string, any>;
const spec = loadSpec() as Schema;

/** The schema behind a `$ref`, with an `allOf` merged into one. */
export function resolve(raw: Schema): Schema {
  const schema = resolveRef<Schema>(spec, raw);
  if (schema?.allOf)
    return schema.allOf.map(resolve).reduce(
      (merged: Schema, part: Schema) => ({
        ...merged,
        ...part,
        properties: { ...merged.properties, ...part.properties },
        required: [...(merged.required ?? []), ...(part.required ?? [])],
      }),
      {},
    );
  return schema;
}

/** Values valid against the schema (within its types, bounds and patterns). */
export function validValue(raw: Schema): fc.Arbitrary<unknown> {
  const schema = resolve(raw);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const branches: Schema[] | undefined = schema.anyOf ?? schema.oneOf;
  if (branches) return fc.oneof(...branches.map((branch) => validValue({ ...schema, anyOf: undefined, oneOf: undefined, ...resolve(branch) })));
  const types: string[] = Array.isArray(schema.type) ? schema.type : [schema.type ?? "object"];
  return fc.oneof(...types.map((type) => validOfType(schema, type)));
}

/**
 * A query or path parameter's text, valid against its schema: an integer is written in every
 * form JSON Schema takes for one ("1e2" and "1.0" are the integers 100 and 1) unless the schema's
 * pattern says decimal digits only.
 */
/** The texts of a query parameter as a client sends it: one, or (a `form`-style array, exploded as OpenAPI's default) one per item. */
export function validParameterTexts(raw: Schema): fc.Arbitrary<string[]> {
  const schema = resolve(raw);
  if (schema.type !== "array") return validParameterText(schema).map((text) => [text]);
  return (validOfType(schema, "array") as fc.Arbitrary<unknown[]>).map((values) => values.map(String));
}

export function validParameterText(raw: Schema): fc.Arbitrary<string> {
  const schema = resolve(raw);
  if (schema.type !== "integer") return validValue(schema).map(String);
  const integer = validOfType(schema, "integer") as fc.Arbitrary<number>;
  if (schema.pattern) return integer.map(String).filter((text) => new RegExp(schema.pattern).test(text));
  return fc.tuple(integer, fc.constantFrom("", ".0", "e0")).map(([n, form]) => `${n}${form}`);
}

/** Object-level rules the property generators above do not build in: `not: {required}` and `dependentSchemas`. */
function keepsObjectRules(schema: Schema, value: Record<string, unknown>): boolean {
  const forbidden: string[] | undefined = schema.not?.required;
  if (forbidden?.every((name) => name in value)) return false;
  for (const [name, dependent] of Object.entries<Schema>(schema.dependentSchemas ?? {})) {
    const excluded: string[] | undefined = dependent.not?.required;
    if (name in value && excluded?.every((other) => other in value)) return false;
  }
  return Object.keys(value).length >= (schema.minProperties ?? 0);
}

function validOfType(schema: Schema, type: string): fc.Arbitrary<unknown> {
  switch (type) {
    case "string": {
      if (schema.format === "uuid") return fc.uuid();
      // Instants PostgreSQL holds (years 1 to 9999), as clients write them.
      if (schema.format === "date-time")
        return fc.date({ min: new Date("0001-01-01T00:00:00Z"), max: new Date("9999-12-31T23:59:59Z"), noInvalidDate: true }).map((d) => d.toISOString());
      if (schema.format === "uri") return fc.webUrl();
      const lengthFits = (s: string) => [...s].length <= (schema.maxLength ?? 1e9) && [...s].length >= (schema.minLength ?? 0);
      // Unicode property classes (\p{…}) are beyond fc.stringMatching: draw text and keep what matches.
      if (schema.pattern?.includes("\\p{")) {
        const pattern = new RegExp(schema.pattern, "u");
        return fc
          .string({ minLength: schema.minLength ?? 1, maxLength: Math.min(schema.maxLength ?? 40, 40), unit: "grapheme" })
          .filter((s) => pattern.test(s) && lengthFits(s));
      }
      if (schema.pattern) return fc.stringMatching(new RegExp(schema.pattern)).filter(lengthFits);
      return fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 40, 40), unit: "grapheme" }).filter(lengthFits);
    }
    case "integer":
      return fc.integer({ min: schema.minimum ?? -1000, max: Math.min(schema.maximum ?? 1_000_000, 1_000_000) });
    case "number":
      // Any number within the bounds, as a client computes it (0.1 + 0.2 is 0.30000000000000004),
      // unless multipleOf asks for exact steps.
      return schema.multipleOf
        ? fc.integer({ min: 0, max: 9_999_999 }).map((n) => n / Math.round(1 / schema.multipleOf))
        : fc.double({ min: schema.minimum ?? 0, max: Math.min(schema.maximum ?? 1e6, 1e6), noNaN: true, noDefaultInfinity: true });
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array": {
      const bounds = { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 5, 5) };
      const items = validValue(schema.items ?? {});
      return schema.uniqueItems ? fc.uniqueArray(items, { ...bounds, selector: (item) => JSON.stringify(item) }) : fc.array(items, bounds);
    }
    default: {
      const properties: Record<string, Schema> = schema.properties ?? {};
      const required = new Set<string>(schema.required ?? []);
      const record = fc.record(Object.fromEntries(Object.entries(properties).map(([name, child]) => [name, validValue(child)])), {
        requiredKeys: [...required].filter((name) => name in properties),
      });
      return record.filter((value) => keepsObjectRules(schema, value));
    }
  }
}

/** Strings that have broken naive services: SQL and JSON meta-characters, NULs, huge and odd unicode. */
export const nastyString = fc.oneof(
  fc.constantFrom(
    "' OR 1=1 --",
    '"; DROP TABLE products; --',
    "%",
    "_",
    "\\",
    '{"$gt":""}',
    "\u0000",
    "\uFEFF",
    "𝕽𝖊𝖉𝕭𝖚𝖑𝖑",
    "ÅÄÖ",
    "../../etc/passwd",
    "x".repeat(5000),
  ),
  fc.string({ unit: "binary", maxLength: 60 }),
);

const nastyNumber = fc.constantFrom(-1, 0, -2147483649, 2147483648, Number.MAX_SAFE_INTEGER, 1e308, -1e308, 0.1, 1.0000001);
const anyJson = fc.oneof(nastyString, nastyNumber, fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }), fc.object({ maxDepth: 1 }));

/** Bodies the schema must refuse: a wrong type, a missing or extra field, or a bad value somewhere. */
export function invalidBody(raw: Schema): fc.Arbitrary<unknown> {
  const schema = resolve(raw);
  const properties: Record<string, Schema> = schema.properties ?? {};
  const names = Object.keys(properties);
  const valid = validValue(schema) as fc.Arbitrary<Record<string, unknown>>;
  const mutations: fc.Arbitrary<unknown>[] = [
    fc.oneof(nastyString, nastyNumber, fc.constant(null), fc.array(fc.integer())), // not an object at all
    valid.map((body) => ({ ...body, [`extra_${Object.keys(body).length}`]: 1 })), // an undeclared field
  ];
  for (const name of schema.required ?? []) {
    mutations.push(valid.map((body) => Object.fromEntries(Object.entries(body).filter(([key]) => key !== name)))); // a required field missing
  }
  for (const name of names) {
    mutations.push(fc.tuple(valid, anyJson).map(([body, value]) => ({ ...body, [name]: value }))); // any value in one field
  }
  return fc.oneof(...mutations);
}

/** JSON text with a key repeated, which parsers resolve differently; must never crash or bypass validation. */
export function duplicateKeyBody(raw: Schema): fc.Arbitrary<string> {
  const schema = resolve(raw);
  return fc.tuple(validValue(schema), fc.constantFrom(...Object.keys(schema.properties ?? { x: {} })), anyJson).map(([body, key, value]) => {
    const text = JSON.stringify(body);
    const extra = `${JSON.stringify(key)}:${JSON.stringify(value)}`;
    return text === "{}" ? `{${extra},${extra}}` : `{${extra},${text.slice(1)}`;
  });
}

/**
 * Text that broke the service before (issue: hostile input): NUL and other control characters,
 * lone surrogates, line separators, zero-width and case-folding expanders ("İ" lowercases to two
 * code points), on their own or inside otherwise valid text.
 */
const HOSTILE_CHARACTERS = [
  "\u0000",
  "\u0001",
  "\u0007",
  "\u0008",
  "\t",
  "\n",
  "\r",
  "\u001b",
  "\u001f",
  "\u007f",
  "\u0085",
  "\u009f",
  "\ud800",
  "\udbff",
  "\udc00",
  "\udfff",
  "\u2028",
  "\u2029",
];
/** Characters that must make a text field refused wherever they appear. */
export const forbiddenInText = /[\p{Cc}\p{Cs}]/u;
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...HOSTILE_CHARACTERS),
  fc.constantFrom("\u200b", "\u200b\u200c\u200d", "\ufeff", "\u2060", "\u0301", "\u202e", " \u200b "),
  fc.constantFrom(60, 99, 100, 101, 150, 200, 201).map((n) => "\u0130".repeat(n)),
  fc.tuple(fc.string({ minLength: 1, maxLength: 20 }), fc.constantFrom(...HOSTILE_CHARACTERS), fc.nat()).map(([text, bad, at]) => {
    const i = at % (text.length + 1);
    return text.slice(0, i) + bad + text.slice(i);
  }),
  fc.string({ unit: "binary", minLength: 1, maxLength: 40 }).map((s) => `${s}\u0000`),
);

/** Numbers written the ways JavaScript reads but an integer parameter must refuse. */
export const hostileIntegerText = fc.constantFrom(
  "Infinity",
  "-Infinity",
  "+Infinity",
  "1e400",
  "-1e400",
  "NaN",
  "0x5",
  "0b1",
  "0o7",
  "1.0",
  "1e2",
  "1e0",
  "+5",
  "-1",
  " 5",
  "5 ",
  "1_000",
  "99999999999999999999",
  "\u0665",
  "\uff15",
  "",
);

/** JSON number literals at the edges of what JSON.parse gives back (1e400 is Infinity). */
export const hostileJsonNumber = fc.constantFrom(
  "1e400",
  "-1e400",
  "1e-400",
  "-0",
  "1.0",
  "99999999999999999999",
  "2147483648",
  "-2147483649",
  "9007199254740993",
  "0.1e1",
  "1E2",
  "4.9e-324",
);

type Leaf = (string | number)[];

/** Paths to every string, number and boolean inside a JSON value. */
export function leafPaths(value: unknown, path: Leaf = []): Leaf[] {
  if (Array.isArray(value)) return value.flatMap((item, i) => leafPaths(item, [...path, i]));
  if (value && typeof value === "object") return Object.entries(value).flatMap(([key, item]) => leafPaths(item, [...path, key]));
  return path.length > 0 ? [path] : [];
}

const SLOT = "\u0001slot\u0001";

/**
 * A valid body with one field (at any depth) replaced by hostile text or a raw JSON number
 * literal, as JSON text. `forbiddenText`: text a field must refuse went into a string field.
 */
export function hostileBody(raw: Schema): fc.Arbitrary<{ text: string; forbiddenText: boolean }> {
  const schema = resolve(raw);
  return fc
    .tuple(
      validValue(schema),
      fc.nat(),
      fc.oneof(
        hostileString.map((s) => ({ s })),
        hostileJsonNumber.map((n) => ({ n })),
      ),
    )
    .map(([body, pick, value]) => {
      const leaves = leafPaths(body);
      if (leaves.length === 0) return { text: JSON.stringify(body), forbiddenText: false };
      const path = leaves[pick % leaves.length]!;
      const copy = structuredClone(body) as Record<string | number, any>;
      const parent = path.slice(0, -1).reduce((node: any, key) => node[key], copy);
      const wasString = typeof parent[path.at(-1)!] === "string";
      parent[path.at(-1)!] = SLOT;
      const literal = "s" in value ? JSON.stringify(value.s) : value.n;
      const forbiddenText = "s" in value && wasString && forbiddenInText.test(value.s);
      return { text: JSON.stringify(copy).replace(JSON.stringify(SLOT), literal), forbiddenText };
    });
}

/** One look-alike of `name` per class of issue 27's finding 9 (an ASCII name with an "a"). */
export const lookAlikes = (name: string): Record<string, string> => ({
  "zero-width space": `${name}\u200b`,
  "word joiner": `${name}\u2060`,
  fullwidth: [...name].map((c) => String.fromCodePoint(c.codePointAt(0)! + 0xfee0)).join(""),
  "right-to-left override": `\u202e${name}`,
  "soft hyphen": `${name}\u00ad`,
  "Cyrillic a": name.replace("a", "\u0430"),
});

/** A look-alike of a plain name: an invisible or bidi character anywhere, fullwidth letters, or one Cyrillic look-alike letter. */
export const confusableName = (base: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc
    .tuple(
      base,
      fc.nat(),
      fc.constantFrom("\u200b", "\u2060", "\u00ad", "\u202e", "\u200e", "\ufeff", "\u180e"),
      fc.constantFrom("invisible", "fullwidth", "cyrillic"),
    )
    .map(([name, at, invisible, kind]) => {
      const chars = [...name];
      const i = at % chars.length;
      if (kind === "invisible") return [...chars.slice(0, i), invisible, ...chars.slice(i)].join("");
      if (kind === "fullwidth") return chars.map((c, j) => (j === i ? String.fromCodePoint(c.codePointAt(0)! + 0xfee0) : c)).join("");
      const cyrillic: Record<string, string> = { a: "\u0430", e: "\u0435", o: "\u043e", p: "\u0440", c: "\u0441", x: "\u0445" };
      const k = chars.findIndex((c) => c in cyrillic);
      return k >= 0 ? chars.map((c, j) => (j === k ? cyrillic[c]! : c)).join("") : `${name}\u200b`;
    });

/** A timestamp of a cursor key: a real one, or one with an impossible date (2024-02-30, 2023-02-29, year 0000, hour 24). */
export const cursorDate = fc
  .record({
    year: fc.integer({ min: 0, max: 9999 }),
    month: fc.integer({ min: 1, max: 12 }),
    day: fc.integer({ min: 1, max: 31 }),
    hour: fc.integer({ min: 0, max: 24 }),
  })
  .map(({ year, month, day, hour }) => {
    const pad = (n: number, width = 2) => String(n).padStart(width, "0");
    const text = `${pad(year, 4)}-${pad(month)}-${pad(day)}T${pad(hour)}:00:00.000Z`;
    const date = new Date(text);
    return { text, real: year > 0 && !Number.isNaN(date.getTime()) && date.toISOString() === text };
  });
