// kubb's documented set-up for a typed fetch client (`npx kubb generate --config <this file>`).
import { defineConfig } from "@kubb/core";
import { pluginClient } from "@kubb/plugin-client";
import { pluginOas } from "@kubb/plugin-oas";
import { pluginTs } from "@kubb/plugin-ts";

export default defineConfig({
  root: ".",
  input: { path: "./openapi.yaml" },
  output: { path: "./artifacts/generated-clients/kubb/client", clean: true },
  plugins: [pluginOas(), pluginTs(), pluginClient({ client: "fetch" })],
});
