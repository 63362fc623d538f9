import { Ajv2020, type ErrorObject } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import type { FastifySchemaCompiler } from "fastify";

function createAjv(coerceTypes: boolean | "array"): Ajv2020 {
  const ajv = new Ajv2020({
    coerceTypes,
    useDefaults: true,
    removeAdditional: false,
    allErrors: true,
    strictSchema: true,
    strictTypes: false,
    strictRequired: false,
    allowUnionTypes: true,
    // Errors carry their schema: a dependentSchemas refusal names the fields it excludes.
    verbose: true,
    // `multipleOf: 0.001` on prices: 1.001 / 0.001 is 1000.9999999999999 and 9999.978 / 0.001
    // 9999977.999999998 in binary floating point. The exact check is the price's own (its shortest
    // decimal form against PriceInput's pattern, src/shared/money.ts); this one only must not refuse.
    multipleOfPrecision: 4,
  });
  addFormats.default(ajv);
  // OpenAPI annotations that are not JSON Schema keywords.
  ajv.addVocabulary(["example", "xml", "externalDocs", "discriminator"]);
  return ajv;
}

// Query strings, path parameters and headers are text, so they are coerced to the schema's
// types; a parameter sent once where the schema takes a list (`?status=created`) becomes a list
// of one (sent several times it already is one). JSON bodies are not: `"quantity": "5"` is an
// error, not 5.
const textAjv = createAjv("array");
const bodyAjv = createAjv(false);

interface ObjectSchema {
  type?: unknown;
  minimum?: unknown;
  properties?: Record<string, ObjectSchema>;
  required?: string[];
}

/** Node lowercases incoming header names; Fastify only lowercases the schema's for its own compiler. */
function lowerCaseHeaders(schema: ObjectSchema): ObjectSchema {
  return {
    ...schema,
    ...(schema.properties && {
      properties: Object.fromEntries(Object.entries(schema.properties).map(([name, value]) => [name.toLowerCase(), value])),
    }),
    ...(schema.required && { required: schema.required.map((name) => name.toLowerCase()) }),
  };
}

/**
 * Ajv coerces any text JavaScript reads as a number ("0x5", "1e2", "1.0", "Infinity", "1e400").
 * An integer parameter must be written in decimal digits (a sign only where negatives are
 * allowed), short enough to be exact; then Ajv converts it and checks the bounds.
 */
const DIGITS = /^\d{1,15}$/;
const SIGNED_DIGITS = /^-?\d{1,15}$/;

type TextValidator = ((data: Record<string, unknown>) => boolean) & { errors?: ErrorObject[] | null };

function decimalIntegersFirst(schema: ObjectSchema, validate: TextValidator): TextValidator {
  const integers = Object.entries(schema.properties ?? {})
    .filter(([, property]) => property.type === "integer")
    .map(([name, property]) => ({ name, form: typeof property.minimum === "number" && property.minimum >= 0 ? DIGITS : SIGNED_DIGITS }));
  if (integers.length === 0) return validate;
  const checked: TextValidator = (data) => {
    const errors: ErrorObject[] = integers
      .filter(({ name, form }) => data?.[name] !== undefined && !(typeof data[name] === "string" && form.test(data[name])))
      .map(({ name, form }) => ({
        keyword: "pattern",
        instancePath: `/${name}`,
        schemaPath: `#/properties/${name}/type`,
        params: { pattern: form.source },
        message: "must be an integer written in decimal digits",
      }));
    if (errors.length > 0) {
      checked.errors = errors;
      return false;
    }
    const valid = validate(data);
    checked.errors = validate.errors;
    return valid;
  };
  return checked;
}

/** OpenAPI 3.1 schemas are JSON Schema 2020-12, which Fastify's default (draft-07) Ajv does not speak. */
export const validatorCompiler: FastifySchemaCompiler<ObjectSchema> = ({ schema, httpPart }) => {
  if (httpPart === "body") return bodyAjv.compile(schema);
  const textSchema = httpPart === "headers" ? lowerCaseHeaders(schema) : schema;
  return decimalIntegersFirst(textSchema, textAjv.compile(textSchema) as TextValidator);
};
