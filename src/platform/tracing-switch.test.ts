import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { missingTracingPackages, TRACING_PACKAGES, tracingRequested } from "./tracing-switch.js";

describe("tracing switch", () => {
  it("is on for an OTLP endpoint or a trace exporter, off for none or a disabled SDK", () => {
    expect(tracingRequested({})).toBe(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" })).toBe(true);
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: "console" })).toBe(true);
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" })).toBe(false);
    expect(tracingRequested({ OTEL_SDK_DISABLED: "true", OTEL_TRACES_EXPORTER: "otlp" })).toBe(false);
  });

  it("finds every tracing package in the full install (npm ci installs the optional dependencies)", () => {
    // Node's own import.meta.resolve, as src/instrumentation.ts calls it (vitest's modules have none).
    const script =
      'import { missingTracingPackages } from "./src/platform/tracing-switch.ts"; console.log(JSON.stringify(missingTracingPackages(import.meta.resolve)))';
    const missing = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8" });
    expect(JSON.parse(missing)).toEqual([]);
  });

  it("names the tracing packages a lean install lacks", () => {
    const lean = (specifier: string) => {
      if (specifier.startsWith("@opentelemetry/sdk-node") || specifier === "@fastify/otel") throw new Error(`Cannot find package '${specifier}'`);
      return `file:///node_modules/${specifier}`;
    };
    expect(missingTracingPackages(lean)).toEqual(["@opentelemetry/sdk-node", "@fastify/otel"]);
    // Every optional dependency but Redoc (whose bundle make run unpacks) is a tracing package.
    const optional = Object.keys(JSON.parse(readFileSync("package.json", "utf8")).optionalDependencies).filter((name) => name !== "redoc");
    expect([...TRACING_PACKAGES].sort()).toEqual(optional.sort());
  });
});
