// orval's documented set-up for its fetch client (`npx orval --config <this file>`): `baseUrl`
// is where the service runs (the fetch client's calls are otherwise relative to a page).
import { defineConfig } from "orval";

export default defineConfig({
  shop: {
    // orval reads these paths from this file's folder.
    input: "../../../openapi.yaml",
    output: { target: "../../../artifacts/generated-clients/orval-fetch/client/client.ts", client: "fetch", baseUrl: process.env.SERVICE_URL },
  },
});
