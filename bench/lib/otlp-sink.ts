// A collector's OTLP/HTTP endpoint for a benchmark: takes every export (any encoding) and counts
// what came, so that a service with tracing on has somewhere to send its spans. It runs in a
// process of its own, as a collector does, so that the load generator's event loop never holds
// up the answers to the service's exports (the SDK sends one batch at a time).
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const SINK_PROCESS = fileURLToPath(new URL("./otlp-sink-process.ts", import.meta.url));

export interface OtlpSink {
  url: string;
  /** How many exports have arrived so far. */
  exports(): Promise<number>;
  close(): void;
}

export async function startOtlpSink(): Promise<OtlpSink> {
  const child = spawn(process.execPath, ["--import", "tsx", SINK_PROCESS], { stdio: ["pipe", "pipe", "inherit"] });
  const exited = new Promise<never>((_, reject) => child.once("exit", (code) => reject(new Error(`the OTLP receiver exited with ${code} before it listened`))));
  const firstLine = new Promise<string>((resolve) => createInterface({ input: child.stdout }).once("line", resolve));
  const { port } = JSON.parse(await Promise.race([firstLine, exited])) as { port: number };
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    exports: async () => Number(await (await fetch(`${url}/exports`)).text()),
    close: () => child.stdin.end(),
  };
}

/** The service's environment for tracing on, exporting to `sink`, sampling `ratio` of the traces it starts. */
export function tracingEnvironment(sink: OtlpSink, ratio: string): Record<string, string> {
  return { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: ratio };
}
