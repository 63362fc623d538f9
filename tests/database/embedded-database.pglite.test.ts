// The embedded database (PGlite behind the service's own loopback server, both in a thread of
// their own): only the process that started it can connect, concurrent connections never see each
// other's statements, and a data directory that does not open is never replaced by a new database
// (unless a start was stopped while it created that database: then the next one creates it again).
import { access, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { EmbeddedDatabaseError, startEmbeddedPostgres, type EmbeddedPostgres } from "../../src/infra/db/embedded.js";
import { spawnProcess } from "../../support/service-process.js";
import { startServerProcess } from "../helpers/server-process.js";

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "order-service-embedded-"));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

async function connectError(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => {});
  return client.connect().then(
    async () => {
      await client.end();
      return "connected";
    },
    (error: { code?: string }) => error.code ?? "error",
  );
}

describe("who can connect", () => {
  let db: EmbeddedPostgres;
  beforeAll(async () => {
    db = await startEmbeddedPostgres({});
  });
  afterAll(() => db.close());

  it("refuses any user name without this start's password", async () => {
    const port = new URL(db.url).port;
    expect(await connectError(`postgres://nobody@127.0.0.1:${port}/x`)).toBe("28P01");
    expect(await connectError(`postgres://postgres@127.0.0.1:${port}/postgres`)).toBe("28P01");
    expect(await connectError(`postgres://postgres:guess@127.0.0.1:${port}/postgres`)).toBe("28P01");
    expect(await connectError(db.url)).toBe("connected");
  });

  it("makes a new password at every start", async () => {
    const other = await startEmbeddedPostgres({});
    try {
      expect(new URL(other.url).password).not.toBe(new URL(db.url).password);
      expect(new URL(other.url).password.length).toBeGreaterThanOrEqual(32);
    } finally {
      await other.close();
    }
  }, 120_000);
});

describe("its own thread", () => {
  const handles = (kind: string) => process.getActiveResourcesInfo().filter((resource) => resource === kind).length;

  it("listens and serves connections off the service's thread: only the client's end of a connection is here", async () => {
    const listeningBefore = handles("TCPServerWrap");
    const db = await startEmbeddedPostgres({});
    try {
      expect(handles("TCPServerWrap")).toBe(listeningBefore);
      const socketsBefore = handles("TCPSocketWrap");
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      expect((await client.query("SELECT 40 + 2 AS answer")).rows).toEqual([{ answer: 42 }]);
      expect(handles("TCPSocketWrap")).toBe(socketsBefore + 1); // the server's end lives in the database's thread
      await client.end();
    } finally {
      await db.close();
    }
    expect(handles("TCPServerWrap")).toBe(listeningBefore);
  }, 60_000);

  it("ends by itself when closed, once PGlite and its server are closed: nothing terminates it", async () => {
    const terminate = vi.spyOn(Worker.prototype, "terminate");
    try {
      const db = await startEmbeddedPostgres({});
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      await client.query("SELECT 1");
      await client.end();
      await db.close();
      expect(terminate).not.toHaveBeenCalled();
    } finally {
      terminate.mockRestore();
    }
  }, 60_000);
});

describe("many connections on the one session", () => {
  let db: EmbeddedPostgres;
  let pool: pg.Pool;
  beforeAll(async () => {
    db = await startEmbeddedPostgres({});
    pool = new pg.Pool({ connectionString: db.url, max: 20 });
    await pool.query("CREATE TABLE numbers (n int PRIMARY KEY, word text NOT NULL)");
    await pool.query("INSERT INTO numbers SELECT g, 'n' || g FROM generate_series(1, 500) g");
  });
  afterAll(async () => {
    await pool.end();
    await db.close();
  });

  it("gives every extended-protocol query its own answer", async () => {
    // Different statements with different parameter types, so any interleaving of two
    // connections' Parse/Bind/Execute would fail or answer another query's rows.
    const answers = await Promise.all(
      Array.from({ length: 600 }, (_, i) =>
        i % 3 === 0
          ? pool.query("SELECT word FROM numbers WHERE n = $1", [1 + (i % 500)]).then((r) => r.rows[0]?.word === `n${1 + (i % 500)}`)
          : i % 3 === 1
            ? pool.query("SELECT count(*)::int AS c FROM numbers WHERE word LIKE $1", [`n${i % 10}%`]).then((r) => typeof r.rows[0]?.c === "number")
            : pool.query("SELECT $1::text || $2::int AS echo", ["q", i]).then((r) => r.rows[0]?.echo === `q${i}`),
      ),
    );
    expect(answers.filter((ok) => !ok)).toEqual([]);
  });

  it("keeps a transaction's statements to itself and goes on after errors", async () => {
    const results = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const client = await pool.connect();
        try {
          await client.query("BEGIN");
          await client.query("UPDATE numbers SET word = $1 WHERE n = $2", [`t${i}`, i + 1]);
          if (i % 4 === 0) await client.query("SELECT 1/0").catch(() => {}); // aborts this transaction only
          const seen = await client.query("SELECT word FROM numbers WHERE n = $1", [i + 1]).then(
            (r) => r.rows[0]?.word,
            () => "aborted",
          );
          await client.query(i % 4 === 0 ? "ROLLBACK" : "COMMIT");
          return seen === (i % 4 === 0 ? "aborted" : `t${i}`);
        } finally {
          client.release();
        }
      }),
    );
    expect(results.every(Boolean)).toBe(true);
    const { rows } = await pool.query("SELECT n, word FROM numbers WHERE n <= 40 ORDER BY n");
    expect(rows.map((r) => r.word)).toEqual(rows.map((r) => ((r.n - 1) % 4 === 0 ? `n${r.n}` : `t${r.n - 1}`)));
  });

  it("keeps every connection's named statements to itself, and closes them when it ends", async () => {
    // Twenty connections each prepare the same two names over their own SQL, as pg's named
    // statements do; on a shared session the second Parse of a name would fail (42P05) or
    // one connection would run another's text.
    const prepared = async () => (await pool.query("SELECT count(*)::int AS c FROM pg_prepared_statements")).rows[0].c as number;
    const before = await prepared();
    const clients = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const client = new pg.Client({ connectionString: db.url });
        client.on("error", () => {});
        await client.connect();
        return client;
      }),
    );
    // The connections at once, each one's statements one after another: a pg.Client runs one
    // query at a time (queueing more on it is deprecated, and gone in pg 9).
    const answers = (
      await Promise.all(
        clients.map(async (client, c) => {
          const oks: boolean[] = [];
          for (let i = 0; i < 10; i++) {
            const n = 101 + c * 10 + i; // rows the other tests leave as they were
            const word = await client.query({ name: "lookup", text: `SELECT word || '/${c}' AS w FROM numbers WHERE n = $1`, values: [n] });
            const echo = await client.query({ name: "echo", text: `SELECT $1::int + ${c} AS e`, values: [i] });
            oks.push(word.rows[0]?.w === `n${n}/${c}` && echo.rows[0]?.e === i + c);
          }
          return oks;
        }),
      )
    ).flat();
    expect(answers.filter((ok) => !ok)).toHaveLength(0);
    expect(answers).toHaveLength(200);
    expect(await prepared()).toBe(before + 40);
    await Promise.all(clients.map((client) => client.end()));
    await expect.poll(prepared, { timeout: 10_000 }).toBe(before);
  });

  it("rolls back what a vanished connection left open, and the others go on", async () => {
    const client = new pg.Client({ connectionString: db.url });
    client.on("error", () => {});
    await client.connect();
    await client.query("BEGIN");
    await client.query("UPDATE numbers SET word = 'vanished' WHERE n = 500");
    const waiting = pool.query("SELECT word FROM numbers WHERE n = 500"); // waits for the session
    (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    expect((await waiting).rows[0].word).toBe("n500");
  });
});

describe("a data directory that does not open", () => {
  it("is refused, not replaced, when it holds files but no database", async () => {
    const dir = join(scratch, "foreign");
    await startEmbeddedPostgres({ dataDir: dir }).then((db) => db.close());
    await rm(join(dir, "PG_VERSION"));
    await expect(startEmbeddedPostgres({ dataDir: dir })).rejects.toThrow(EmbeddedDatabaseError);
    await expect(startEmbeddedPostgres({ dataDir: dir })).rejects.toThrow(/PG_VERSION is missing.*make clean/);
    await expect(readFile(join(dir, "PG_VERSION"))).rejects.toThrow(); // nothing was initialised over it
  }, 60_000);

  it("is refused when its control file is damaged", async () => {
    const dir = join(scratch, "damaged");
    const db = await startEmbeddedPostgres({ dataDir: dir });
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query("CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)");
    await client.end();
    await db.close();
    await writeFile(join(dir, "global", "pg_control"), Buffer.alloc(8192, 7));
    await expect(startEmbeddedPostgres({ dataDir: dir })).rejects.toThrow(/exists but does not open.*make clean/);
    expect((await readFile(join(dir, "global", "pg_control")))[0]).toBe(7);
  }, 60_000);

  it("stops the service with one line saying what to do", async () => {
    const dir = join(scratch, "service");
    await startEmbeddedPostgres({ dataDir: join(dir, "pglite") }).then((db) => db.close());
    await rm(join(dir, "pglite", "PG_VERSION"));
    const failed = startServerProcess({ DATABASE_URL: "", DATA_DIR: dir });
    const error = await failed.then(
      () => undefined,
      (e: Error) => e.message,
    );
    expect(error).toMatch(/server\.ts exited early/);
    const lines = error!.split("\n").filter((line) => line.trim() && !/server\.ts exited early/.test(line));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/PG_VERSION is missing.*make clean/);
  }, 120_000);
});

describe("a first start stopped while it creates the database", () => {
  const exists = (path: string) =>
    access(path).then(
      () => true,
      () => false,
    );

  const user = { name: "after-interruption", password: "correct horse 1 battery" };
  const post = (baseUrl: string, path: string, body: unknown) =>
    fetch(`${baseUrl}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const signIn = async (baseUrl: string) => {
    const answer = await post(baseUrl, "/api/token/", user);
    expect(answer.status).toBe(200);
    return ((await answer.json()) as { access: string }).access;
  };

  it("is created again when it was stopped while the new database was being prepared (the migrations), and kept once prepared", async () => {
    const dir = join(scratch, "unprepared");
    const mark = `${dir}.creating`;
    const tableExists = async (url: string, table: string) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const { rows } = await client.query<{ found: string | null }>("SELECT to_regclass($1)::text AS found", [table]);
      await client.end();
      return rows[0]!.found !== null;
    };
    // Stopped half-way: one table made, then the preparation never ended.
    const stopped = startEmbeddedPostgres({
      dataDir: dir,
      prepareNew: async (url) => {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        await client.query("CREATE TABLE half_done (x int)");
        await client.end();
        throw new Error("stopped while preparing");
      },
    });
    await expect(stopped).rejects.toThrow("stopped while preparing");
    expect(await exists(mark)).toBe(true);

    const prepared: string[] = [];
    const db = await startEmbeddedPostgres({ dataDir: dir, prepareNew: async (url) => void prepared.push(url) });
    expect([db.recreated, prepared.length]).toEqual([true, 1]);
    expect(await tableExists(db.url, "half_done")).toBe(false);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query("CREATE TABLE kept (x int)");
    await client.end();
    await db.close();
    expect(await exists(mark)).toBe(false);

    const again = await startEmbeddedPostgres({ dataDir: dir, prepareNew: async (url) => void prepared.push(url) });
    try {
      expect([again.recreated, prepared.length]).toEqual([false, 1]);
      expect(await tableExists(again.url, "kept")).toBe(true);
    } finally {
      await again.close();
    }
  }, 120_000);

  it("is created again by the next start, which says so and serves", async () => {
    const dir = join(scratch, "interrupted");
    // A real first start of the service, killed once the new database's files have begun to appear.
    const first = spawnProcess(process.execPath, ["--import", "tsx", "src/server.ts"], {
      env: { ...process.env, NODE_ENV: "test", DATABASE_URL: "", DATA_DIR: dir, HOST: "127.0.0.1", PORT: "0" },
    });
    try {
      await vi.waitFor(
        async () => {
          if ((await readdir(join(dir, "pglite")).catch(() => [])).length === 0) throw new Error(`no database files yet: ${first.output()}`);
        },
        { timeout: 60_000, interval: 2 },
      );
    } finally {
      first.child.kill("SIGKILL");
      await first.exited;
    }
    // Stopped before the creation ended: part of a database, and the mark saying so.
    expect(await exists(join(dir, "pglite.creating")), "the creation ended before it was stopped").toBe(true);
    expect((await readdir(join(dir, "pglite"))).length).toBeGreaterThan(0);

    const server = await startServerProcess({ DATABASE_URL: "", DATA_DIR: dir });
    try {
      expect(server.output()).toMatch(/an earlier start was stopped while it created the embedded database in .*: created it again/);
      expect(await exists(join(dir, "pglite.creating"))).toBe(false);
      expect((await post(server.baseUrl, "/api/register/", user)).status).toBe(201);
      const products = await fetch(`${server.baseUrl}/api/product/`, { headers: { authorization: `Bearer ${await signIn(server.baseUrl)}` } });
      expect(products.status).toBe(200);
      expect(await products.json()).toMatchObject({ count: 0, results: [] });
    } finally {
      server.child.kill("SIGTERM");
      await server.exited;
    }
    // Created once and kept: the start after that finds its database, the user in it, and says nothing of the kind.
    const again = await startServerProcess({ DATABASE_URL: "", DATA_DIR: dir });
    try {
      expect(again.output()).not.toMatch(/created it again/);
      expect(await signIn(again.baseUrl)).toMatch(/^ey/);
    } finally {
      again.child.kill("SIGTERM");
      await again.exited;
    }
  }, 240_000);
});
