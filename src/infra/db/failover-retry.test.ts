import { describe, expect, it } from "vitest";
import { AppError } from "../../errors/app-error.js";
import { isConnectionLost, isDatabaseUnavailable } from "./errors.js";
import { PrimaryWatch, retryConnectionLoss, runFailoverSafe } from "./failover-retry.js";

/** Errors as pg raises them in a failover. */
const terminated = () => new Error("Connection terminated unexpectedly");
const sqlError = (code: string, message: string) => Object.assign(new Error(message), { code });
/** Prisma's P2010 wrapping a driver error, as a raw query fails. */
const prismaRaw = (code: string) =>
  Object.assign(new Error("Raw query failed"), { code: "P2010", meta: { driverAdapterError: { cause: { originalCode: code } } } });

describe("which database errors mean a lost connection", () => {
  it.each([
    ["a socket cut by a proxy", terminated()],
    ["a backend ended by a switchover (57P01)", sqlError("57P01", "terminating connection due to administrator command")],
    ["a server in recovery (57P03)", sqlError("57P03", "the database system is in recovery mode")],
    ["a write on a standby through Prisma (25006)", prismaRaw("25006")],
    ["a connection failure (08006)", sqlError("08006", "connection failure")],
  ])("%s is lost, and answered 503", (_, error) => {
    expect(isConnectionLost(error)).toBe(true);
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it.each([
    ["a lock timeout (55P03)", sqlError("55P03", "canceling statement due to lock timeout")],
    ["a statement timeout (57014)", sqlError("57014", "canceling statement due to statement timeout")],
  ])("%s is a stall: answered 503 but not retried", (_, error) => {
    expect(isConnectionLost(error)).toBe(false);
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it("a unique violation is neither", () => {
    expect(isConnectionLost(sqlError("23505", "duplicate key"))).toBe(false);
  });
});

describe("retryConnectionLoss", () => {
  it("runs a read again after a lost connection", async () => {
    let calls = 0;
    const value = await retryConnectionLoss(async () => {
      if (++calls === 1) throw terminated();
      return "rows";
    });
    expect({ value, calls }).toEqual({ value: "rows", calls: 2 });
  });

  it("does not retry a stall, and gives up after five attempts", async () => {
    let stalls = 0;
    await expect(retryConnectionLoss(() => Promise.reject(sqlError("57014", "timeout")).finally(() => stalls++))).rejects.toThrow("timeout");
    expect(stalls).toBe(1);
    let losses = 0;
    await expect(retryConnectionLoss(() => Promise.reject(terminated()).finally(() => losses++))).rejects.toThrow(/terminated/);
    expect(losses).toBe(5);
  });
});

/** A transaction whose body runs, then whose COMMIT fails or not as told. */
function transaction(outcomes: Array<"ok" | "lost-before-commit" | "lost-commit">, verify: (id: number) => Promise<boolean>) {
  const runs: number[] = [];
  return {
    runs,
    transaction: {
      run: async (body: <R>(inner: () => Promise<R>) => Promise<R>) => {
        const outcome = outcomes[runs.length] ?? "ok";
        const id = 100 + runs.length;
        runs.push(id);
        if (outcome === "lost-before-commit") return body(() => Promise.reject(terminated()));
        const value = await body(async () => id);
        if (outcome === "lost-commit") throw sqlError("57P01", "terminating connection due to administrator command");
        return value;
      },
      verify,
    },
  };
}

describe("runFailoverSafe", () => {
  it("runs a transaction cut before its COMMIT again", async () => {
    const t = transaction(["lost-before-commit", "ok"], async () => {
      throw new Error("never asked");
    });
    expect(await runFailoverSafe(t.transaction)).toBe(101);
    expect(t.runs).toEqual([100, 101]);
  });

  it("answers a cut COMMIT that did commit with its result, without running it again", async () => {
    const t = transaction(["lost-commit"], async (id) => id === 100);
    expect(await runFailoverSafe(t.transaction)).toBe(100);
    expect(t.runs).toEqual([100]);
  });

  it("runs a cut COMMIT that did not commit again", async () => {
    const t = transaction(["lost-commit", "ok"], async () => false);
    expect(await runFailoverSafe(t.transaction)).toBe(101);
    expect(t.runs).toEqual([100, 101]);
  });

  it("answers 503 when whether a cut COMMIT committed cannot be told", async () => {
    const t = transaction(["lost-commit"], () => Promise.reject(terminated()));
    const error = await runFailoverSafe(t.transaction).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ status: 503, code: "service-unavailable", detail: expect.stringMatching(/not known/) });
    expect(t.runs).toEqual([100]);
  });
});

describe("PrimaryWatch", () => {
  it("holds its waiters until a probe finds the primary, with one probe at a time for all of them", async () => {
    let probes = 0;
    let inFlight = 0;
    let most = 0;
    const watch = new PrimaryWatch(
      async () => {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 5));
        inFlight--;
        return ++probes >= 3;
      },
      5_000,
      10,
    );
    expect(await Promise.all(Array.from({ length: 8 }, () => watch.waitForPrimary()))).toEqual(Array(8).fill(true));
    expect({ probes, most }).toEqual({ probes: 3, most: 1 });
  });

  it("gives up once the primary has been away longer than the hold, and answers at once after that", async () => {
    const watch = new PrimaryWatch(async () => false, 100, 10);
    const started = Date.now();
    expect(await watch.waitForPrimary()).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    const again = Date.now();
    expect(await watch.waitForPrimary()).toBe(false);
    expect(Date.now() - again).toBeLessThan(50);
  });

  it("holds again for a new outage once the last one is over", async () => {
    let up = false;
    const watch = new PrimaryWatch(async () => up, 100, 10);
    expect(await watch.waitForPrimary()).toBe(false);
    up = true;
    expect(await watch.waitForPrimary()).toBe(true);
    up = false;
    setTimeout(() => (up = true), 50);
    expect(await watch.waitForPrimary()).toBe(true);
  });

  it("notices in the background that the primary is back, so the next outage is held again", async () => {
    let up = false;
    let probes = 0;
    const watch = new PrimaryWatch(
      async () => {
        probes++;
        return up;
      },
      100,
      10,
      20,
    );
    expect(await watch.waitForPrimary()).toBe(false);
    up = true; // back, and no request reaches it: well within a hold's length of the outage
    await new Promise((resolve) => setTimeout(resolve, 30));
    const quiet = probes;
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(probes).toBe(quiet); // the background probe stopped once it found the primary
    up = false; // a new outage, soon after
    setTimeout(() => (up = true), 50);
    const started = Date.now();
    expect(await watch.waitForPrimary()).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(40);
    watch.close();
  });

  it("stops probing in the background once closed", async () => {
    let probes = 0;
    const watch = new PrimaryWatch(
      async () => {
        probes++;
        return false;
      },
      30,
      10,
      10,
    );
    expect(await watch.waitForPrimary()).toBe(false);
    watch.close();
    const after = probes;
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(probes).toBe(after);
  });
});
