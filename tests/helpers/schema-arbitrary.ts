import fc from "fast-check";
import { loadSpec } from "../../src/spec.js";

// fast-check arbitraries built from openapi.yaml's JSON Schemas: values the schema accepts, and
// values it must refuse.
type Schema = Record<string, any>;
const spec = loadSpec() as Schema;

export function resolve(schema: Schema): Schema {
  if (schema?.$ref) return resolve(schema.$ref.replace(/^#\//, "").split("/").reduce((node: Schema, key: string) => node[key], spec));
  if (schema?.allOf) return schema.allOf.map(resolve).reduce((merged: Schema, part: Schema) => ({
    ...merged,
    ...part,
    properties: { ...merged.properties, ...part.properties },
    required: [...(merged.required ?? []), ...(part.required ?? [])],
  }), {});
  return schema;
}

/** Values valid against the schema (within its types, bounds and patterns). */
export function validValue(raw: Schema): fc.Arbitrary<unknown> {
  const schema = resolve(raw);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const types: string[] = Array.isArray(schema.type) ? schema.type : [schema.type ?? "object"];
  return fc.oneof(...types.map((type) => validOfType(schema, type)));
}

function validOfType(schema: Schema, type: string): fc.Arbitrary<unknown> {
  switch (type) {
    case "string":
      if (schema.format === "uuid") return fc.uuid();
      if (schema.pattern) return fc.stringMatching(new RegExp(schema.pattern)).filter((s) => s.length <= (schema.maxLength ?? 1e9) && s.length >= (schema.minLength ?? 0));
      return fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 40, 40), unit: "grapheme" }).filter((s) => s.length >= (schema.minLength ?? 0));
    case "integer":
      return fc.integer({ min: schema.minimum ?? -1000, max: Math.min(schema.maximum ?? 1_000_000, 1_000_000) });
    case "number":
      return fc.integer({ min: 0, max: 9_999_999 }).map((n) => n / 1000);
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array":
      return fc.array(validValue(schema.items ?? {}), { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 5, 5) });
    default: {
      const properties: Record<string, Schema> = schema.properties ?? {};
      const required = new Set<string>(schema.required ?? []);
      const record = fc.record(
        Object.fromEntries(Object.entries(properties).map(([name, child]) => [name, validValue(child)])),
        { requiredKeys: [...required].filter((name) => name in properties) },
      );
      return schema.minProperties ? record.filter((value) => Object.keys(value).length >= schema.minProperties) : record;
    }
  }
}

/** Strings that have broken naive services: SQL and JSON meta-characters, NULs, huge and odd unicode. */
export const nastyString = fc.oneof(
  fc.constantFrom("' OR 1=1 --", '"; DROP TABLE products; --', "%", "_", "\\", '{"$gt":""}', "\u0000", "\uFEFF", "𝕽𝖊𝖉𝕭𝖚𝖑𝖑", "ÅÄÖ", "../../etc/passwd", "x".repeat(5000)),
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
