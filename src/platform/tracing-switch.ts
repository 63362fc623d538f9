/**
 * Tracing is on when the environment names where traces go: an OTLP endpoint
 * (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) or a trace exporter
 * (OTEL_TRACES_EXPORTER, e.g. `otlp` with the SDK's default endpoint, or `console`), and
 * OTEL_SDK_DISABLED is not `true`. `OTEL_TRACES_EXPORTER=none` keeps it off.
 */
export function tracingRequested(env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? "")
    .split(",")
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean);
  if (exporters.includes("none")) return false;
  return exporters.length > 0 || Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/** The packages tracing loads: optionalDependencies, which the first `make run` leaves out until OTEL_* asks for tracing. */
export const TRACING_PACKAGES = [
  "@opentelemetry/instrumentation",
  "@opentelemetry/sdk-node",
  "@opentelemetry/instrumentation-pg",
  "@fastify/otel",
  "@prisma/instrumentation",
  "@opentelemetry/context-async-hooks",
  "@opentelemetry/core",
  "import-in-the-middle",
] as const;

/** The tracing packages `resolve` cannot find (import.meta.resolve throws for a package not installed). */
export function missingTracingPackages(resolve: (specifier: string) => string): string[] {
  return TRACING_PACKAGES.filter((name) => {
    try {
      resolve(name);
      return false;
    } catch {
      return true;
    }
  });
}
