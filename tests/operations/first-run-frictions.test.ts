// Issue 27, finding 10: start-up and first-run frictions, those that show in the app itself.
// (JWT_SECRET's message: src/infra/config.test.ts; REDIS_URL's warning in a single production
// process: tests/deployment/rate-limit-store.postgres.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { captureLogs } from "../helpers/log-capture.js";

describe("finding 10: first-run frictions", () => {
  const logs = captureLogs();
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({}, { logger: { level: "info", stream: logs.stream } });
  });
  afterAll(() => t.close());

  it("logs request durations rounded to the hundredth of a millisecond (was 34.35114099999191)", async () => {
    for (let i = 0; i < 5; i++) expect((await t.request({ url: "/openapi.json" })).statusCode).toBe(200);
    const completed = logs.lines().filter((line) => line.msg === "request completed");
    expect(completed.length).toBeGreaterThanOrEqual(5);
    for (const line of completed) {
      expect(typeof line.responseTime).toBe("number");
      expect(String(line.responseTime)).toMatch(/^\d+(\.\d{1,2})?$/);
    }
  });
});
