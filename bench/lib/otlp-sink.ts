// A collector's OTLP/HTTP endpoint inside a benchmark: takes every export (any encoding) and
// counts what came, so that a service with tracing on has somewhere to send its spans.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface OtlpSink {
  url: string;
  exports(): number;
  close(): void;
}

export async function startOtlpSink(): Promise<OtlpSink> {
  let exports = 0;
  const server = createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      exports++;
      response.writeHead(200, { "content-type": String(request.headers["content-type"] ?? "application/json") }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, exports: () => exports, close: () => server.close() };
}

/** The service's environment for tracing on, exporting to `sink`, sampling `ratio` of the traces it starts. */
export function tracingEnvironment(sink: OtlpSink, ratio: string): Record<string, string> {
  return { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: ratio };
}
