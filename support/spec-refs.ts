/**
 * `value` with its local `$ref` followed ("#/components/schemas/Product", JSON Pointer escapes
 * `~1` and `~0` decoded), as often as the target is itself a `$ref`; any other value as it is.
 * The one resolver of the spec's references for tests, benchmarks and scripts.
 */
export function resolveRef<T = unknown>(document: unknown, value: unknown): T {
  let current = value;
  while (current && typeof current === "object" && typeof (current as { $ref?: unknown }).$ref === "string") {
    const keys = (current as { $ref: string }).$ref
      .replace(/^#\//, "")
      .split("/")
      .map((key) => key.replace(/~1/g, "/").replace(/~0/g, "~"));
    current = keys.reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], document);
  }
  return current as T;
}
