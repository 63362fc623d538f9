import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import type { FastifySchemaCompiler } from "fastify";

function createAjv(coerceTypes: boolean): Ajv2020 {
  const ajv = new Ajv2020({
    coerceTypes,
    useDefaults: true,
    removeAdditional: false,
    allErrors: true,
    strictSchema: true,
    strictTypes: false,
    strictRequired: false,
    allowUnionTypes: true,
  });
  addFormats.default(ajv);
  // OpenAPI annotations that are not JSON Schema keywords.
  ajv.addVocabulary(["example", "xml", "externalDocs", "discriminator"]);
  return ajv;
}

// Query strings, path parameters and headers are text, so they are coerced to the schema's
// types. JSON bodies are not: `"quantity": "5"` is an error, not 5.
const textAjv = createAjv(true);
const bodyAjv = createAjv(false);

interface ObjectSchema {
  properties?: Record<string, unknown>;
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

/** OpenAPI 3.1 schemas are JSON Schema 2020-12, which Fastify's default (draft-07) Ajv does not speak. */
export const validatorCompiler: FastifySchemaCompiler<ObjectSchema> = ({ schema, httpPart }) => {
  if (httpPart === "body") return bodyAjv.compile(schema);
  return textAjv.compile(httpPart === "headers" ? lowerCaseHeaders(schema) : schema);
};
