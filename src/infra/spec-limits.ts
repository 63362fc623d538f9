import { loadSpec } from "./spec.js";

// Runtime values that openapi.yaml already states, read from it once at start-up rather than
// restated: the spec stays the one place to change them, and a rename there fails here, loudly.

type Schema = Record<string, unknown>;
const spec = loadSpec() as { components: { schemas: Record<string, Schema>; parameters: Record<string, { schema: Schema }> } };

function read<T>(where: string, value: unknown, type: "number" | "string"): T {
  if (typeof value !== type) throw new Error(`openapi.yaml: ${where} must be a ${type}`);
  return value as T;
}
const schema = (name: string): Schema => spec.components.schemas[name] ?? {};
/** The branch of type `type` of an `anyOf` schema (PriceInput, StockInput). */
const branch = (name: string, type: string): Schema => ((schema(name).anyOf as Schema[] | undefined) ?? []).find((b) => b.type === type) ?? {};

export const SPEC_LIMITS = {
  /** Parameter Limit's default: the page size when a client gives none. */
  defaultPageSize: read<number>("parameters.Limit.schema.default", spec.components.parameters.Limit?.schema.default, "number"),
  userNameMaxLength: read<number>("UserName.maxLength", schema("UserName").maxLength, "number"),
  productNameMaxLength: read<number>("ProductName.maxLength", schema("ProductName").maxLength, "number"),
  passwordMinLength: read<number>("Password.minLength", schema("Password").minLength, "number"),
  passwordMaxLength: read<number>("Password.maxLength", schema("Password").maxLength, "number"),
  maxStock: read<number>("StockInput's integer maximum", branch("StockInput", "integer").maximum, "number"),
  /** PriceInput's string pattern, which a price sent as a JSON number must match too (as its shortest decimal form). */
  pricePattern: new RegExp(read<string>("PriceInput's string pattern", branch("PriceInput", "string").pattern, "string")),
} as const;
