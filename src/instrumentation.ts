// Loaded before the service with `node --import ./dist/src/instrumentation.js dist/src/server.js`
// (make run, the image, npm start): OpenTelemetry's instrumentations must be in place before
// Fastify, Prisma and pg are loaded, and pg is an ES module import here, which only a module
// hook registered beforehand can see (import-in-the-middle, OpenTelemetry's ESM support).
// Tracing stays off, and nothing of the SDK is loaded, unless a trace exporter is configured.
import { register } from "node:module";
import { missingTracingPackages, tracingRequested } from "./platform/tracing-switch.js";

if (tracingRequested(process.env)) {
  const missing = missingTracingPackages(import.meta.resolve);
  if (missing.length > 0) {
    console.error(
      `Tracing is on (OTEL_*), but its packages are not installed: ${missing.join(", ")}. They are optional dependencies, which the first \`make run\` leaves out until tracing is asked for: \`make run\` installs them itself; otherwise run \`npm install --omit=dev\`.`,
    );
    process.exit(1);
  }
  // The hook wraps only the modules an instrumentation asks for (pg), as the SDK documents it
  // (createAddHookMessageChannel): wrapping every module of the service slowed its start and
  // failed on the generated Prisma client.
  const { createAddHookMessageChannel } = await import("import-in-the-middle");
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register("import-in-the-middle/hook.mjs", import.meta.url, registerOptions);
  const { startTracing } = await import("./platform/tracing.js");
  startTracing();
  await waitForAllMessagesAcknowledged();
}
