// What a change of openapi.yaml breaks for existing clients, beyond what Optic checks: inputs
// the service now refuses (a narrower bound, a new pattern, a new required field, a new rule
// between fields), answers a client's exhaustive handling does not expect (an enum value more,
// a field no longer sent, a link in another format), operations gone.

// biome-ignore lint/suspicious/noExplicitAny: OpenAPI documents are untyped JSON trees, walked by keyword.
type Schema = Record<string, any>;
type Document = Schema;

export interface Finding {
  where: string;
  change: string;
}

const METHODS = ["get", "put", "post", "patch", "delete"] as const;

function resolver(document: Document) {
  const resolve = (schema: Schema | undefined, seen: string[] = []): Schema => {
    if (!schema || typeof schema !== "object") return {};
    if (typeof schema.$ref === "string") {
      if (seen.includes(schema.$ref)) return {};
      const target = schema.$ref
        .replace(/^#\//, "")
        .split("/")
        .reduce((node: Schema | undefined, key: string) => node?.[key.replace(/~1/g, "/").replace(/~0/g, "~")], document);
      return resolve(target, [...seen, schema.$ref]);
    }
    if (Array.isArray(schema.allOf)) {
      const merged: Schema = { ...schema, allOf: undefined, properties: {}, required: [] };
      for (const part of schema.allOf.map((each: Schema) => resolve(each, seen))) {
        Object.assign(merged, {
          ...part,
          properties: Object.assign(merged.properties, part.properties),
          required: [...merged.required, ...(part.required ?? [])],
        });
      }
      return merged;
    }
    return schema;
  };
  return resolve;
}

const TYPE_KEYWORDS: Record<string, string[]> = {
  string: ["pattern", "minLength", "maxLength", "format"],
  number: ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"],
  integer: ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "pattern"],
  array: ["items", "minItems", "maxItems", "uniqueItems"],
  object: ["properties", "required", "additionalProperties", "minProperties", "maxProperties", "dependentSchemas", "not"],
  null: [],
  boolean: [],
};

/** The schema as alternatives of one type each: `type: [a, b]` and `anyOf` alike, by type. */
function alternatives(schema: Schema, resolve: (s: Schema) => Schema): Map<string, Schema> {
  const byType = new Map<string, Schema>();
  const branches: Schema[] = schema.anyOf ?? schema.oneOf ?? [schema];
  for (const raw of branches) {
    const branch = resolve(raw);
    const merged = raw === schema ? branch : { ...schema, anyOf: undefined, oneOf: undefined, ...branch };
    const types: string[] = Array.isArray(merged.type) ? merged.type : merged.type ? [merged.type] : merged.properties ? ["object"] : ["any"];
    for (const type of types) {
      const keywords = TYPE_KEYWORDS[type];
      const own = keywords ? Object.fromEntries(Object.entries(merged).filter(([key]) => keywords.includes(key) || ["enum", "const"].includes(key))) : merged;
      byType.set(type, { ...own, type });
    }
  }
  return byType;
}

type Direction = "request" | "response";

/** Compares one schema in two versions; `request`: what clients send, `response`: what they get. */
interface Resolvers {
  old: (schema: Schema) => Schema;
  now: (schema: Schema) => Schema;
}

function compareSchemas(before: Schema, after: Schema, where: string, direction: Direction, r: Resolvers, out: Finding[]): void {
  const add = (change: string) => out.push({ where, change });
  const old = alternatives(r.old(before), r.old);
  const now = alternatives(r.now(after), r.now);
  if (old.has("any") || now.has("any")) {
    if (direction === "request" && old.has("any") && !now.has("any")) add("an input that took anything is now typed");
  }
  for (const [type, was] of old) {
    const is = now.get(type) ?? (type === "integer" ? now.get("number") : undefined);
    if (!is) {
      if (direction === "request" && type !== "any") add(`${type} is no longer accepted`);
      continue;
    }
    if (direction === "request") compareInput(was, is, add);
    else compareOutput(was, is, add);
    const properties = new Set([...Object.keys(was.properties ?? {}), ...Object.keys(is.properties ?? {})]);
    for (const name of properties) {
      const a = was.properties?.[name];
      const b = is.properties?.[name];
      if (a && b) compareSchemas(a, b, `${where}.${name}`, direction, r, out);
    }
    if (was.items && is.items) compareSchemas(was.items, is.items, `${where}[]`, direction, r, out);
  }
  if (direction === "response") {
    for (const type of now.keys()) if (!old.has(type) && !(type === "number" && old.has("integer"))) add(`may now be ${type}`);
  }
}

const stricter = (a: unknown, b: unknown, lowerIsStricter: boolean) =>
  b !== undefined && (a === undefined || (typeof a === "number" && typeof b === "number" && (lowerIsStricter ? b < a : b > a)));

function compareInput(was: Schema, is: Schema, add: (change: string) => void): void {
  for (const key of ["minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"])
    if (stricter(was[key], is[key], false)) add(`${key} ${was[key] ?? "none"} → ${is[key]}`);
  for (const key of ["maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"])
    if (stricter(was[key], is[key], true)) add(`${key} ${was[key] ?? "none"} → ${is[key]}`);
  for (const key of ["pattern", "multipleOf", "format", "const"])
    if (is[key] !== undefined && is[key] !== was[key]) add(`${key} ${JSON.stringify(was[key] ?? null)} → ${JSON.stringify(is[key])}`);
  if (is.uniqueItems && !was.uniqueItems) add("items must now be unique");
  if (Array.isArray(is.enum)) {
    const dropped = Array.isArray(was.enum) ? was.enum.filter((value: unknown) => !is.enum.includes(value)) : ["(any value)"];
    if (dropped.length > 0) add(`enum no longer takes ${dropped.map(String).join(", ")}`);
  }
  const newlyRequired = (is.required ?? []).filter((name: string) => !(was.required ?? []).includes(name));
  if (newlyRequired.length > 0) add(`now requires ${newlyRequired.join(", ")}`);
  if (is.additionalProperties === false && was.additionalProperties !== false) add("no longer takes undeclared fields");
  for (const key of ["not", "dependentSchemas"])
    if (is[key] !== undefined && JSON.stringify(is[key]) !== JSON.stringify(was[key])) add(`new rule ${key}: ${JSON.stringify(is[key])}`);
}

function compareOutput(was: Schema, is: Schema, add: (change: string) => void): void {
  if (Array.isArray(is.enum)) {
    const grown = Array.isArray(was.enum) ? is.enum.filter((value: unknown) => !was.enum.includes(value)) : [];
    if (grown.length > 0) add(`enum grew: ${grown.map(String).join(", ")}`);
  }
  const noLongerRequired = (was.required ?? []).filter((name: string) => !(is.required ?? []).includes(name));
  if (noLongerRequired.length > 0) add(`no longer always sends ${noLongerRequired.join(", ")}`);
  if (was.format !== is.format) add(`format ${was.format ?? "none"} → ${is.format ?? "none"}`);
  const dropped = Object.keys(was.properties ?? {}).filter((name) => !(name in (is.properties ?? {})));
  if (dropped.length > 0) add(`no longer documents ${dropped.join(", ")}`);
}

/** Every change from `released` to `current` that can break a client written against `released`. */
export function breakingChanges(released: Document, current: Document): Finding[] {
  const out: Finding[] = [];
  const resolveOld = resolver(released);
  const resolveNew = resolver(current);
  const r: Resolvers = { old: resolveOld, now: resolveNew };
  for (const [path, item] of Object.entries<Schema>(released.paths ?? {})) {
    for (const method of METHODS) {
      const before = item[method];
      if (!before) continue;
      const where = `${method.toUpperCase()} ${path}`;
      const after = current.paths?.[path]?.[method];
      if (!after) {
        out.push({ where, change: "operation removed" });
        continue;
      }
      const params = (op: Schema, pathItem: Schema, resolve: (s: Schema) => Schema) =>
        new Map<string, Schema>(
          [...(pathItem.parameters ?? []), ...(op.parameters ?? [])].map((p: Schema) => resolve(p)).map((p: Schema) => [`${p.in} ${p.name}`, p]),
        );
      const oldParams = params(before, item, resolveOld);
      const newParams = params(after, current.paths[path], resolveNew);
      for (const [key, parameter] of newParams) {
        const was = oldParams.get(key);
        if (!was && parameter.required) out.push({ where, change: `new required parameter ${key}` });
        if (was) compareSchemas(was.schema ?? {}, parameter.schema ?? {}, `${where} ${key}`, "request", r, out);
      }
      const bodyOld = before.requestBody?.content?.["application/json"]?.schema;
      const bodyNew = after.requestBody?.content?.["application/json"]?.schema;
      if (bodyOld && bodyNew) compareSchemas(bodyOld, bodyNew, `${where} body`, "request", r, out);
      if (!bodyOld && bodyNew && resolveNew(after.requestBody ?? {}).required) out.push({ where, change: "now requires a body" });
      for (const [status, response] of Object.entries<Schema>(before.responses ?? {})) {
        const next = after.responses?.[status];
        const schemaOld = resolveOld(response).content?.["application/json"]?.schema;
        const schemaNew = next && resolveNew(next).content?.["application/json"]?.schema;
        if (schemaOld && schemaNew) compareSchemas(schemaOld, schemaNew, `${where} ${status}`, "response", r, out);
      }
    }
  }
  return out;
}

/** The major version of `info.version` ("2.1.0" is 2). */
export const majorVersion = (document: Document): number => Number(String(document.info?.version ?? "0").split(".")[0]);
