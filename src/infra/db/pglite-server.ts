// The embedded PGlite served over TCP on loopback, so that pg, Prisma's adapter and the schema
// engine reach it exactly as they reach PostgreSQL. It runs in the embedded database's own thread
// beside PGlite (./pglite-worker.ts), never on the service's event loop: each batch goes straight
// from a socket to PGlite and its answer straight back.
//
// PGlite is one single-user backend: every connection shares its one session. That is safe only
// if a connection has the session to itself from its first message until the backend is idle
// again, i.e. until ReadyForQuery says "idle" (not in a transaction block). So:
// - frontend messages are grouped into batches that end where the backend answers
//   ReadyForQuery (Sync, a simple Query) or flushes (Flush, CopyDone, CopyFail), and each batch
//   runs through PGlite in one call;
// - a connection owns the session from its batch's start until a ReadyForQuery with status idle;
//   other connections' batches wait in arrival order (an open transaction holds the session
//   across batches, as it holds a PostgreSQL backend);
// - each connection's named prepared statements get names of its own (pglite-statement-names.ts)
//   and are closed when it ends;
// - a failure while running a batch, a connection lost while owning the session, or a
//   transaction left idle too long rolls back and hands the session on: nothing can stall the
//   others.
// (@electric-sql/pglite-socket 0.2.x schedules single messages, so two connections' extended-protocol
// batches interleave on the shared unnamed statement: electric-sql/pglite issue #1046.)
//
// Only the process that started the server can connect: it asks for a password that is random
// for each start (cleartext is fine on loopback, where nobody else can read the traffic).
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { cString, message } from "./pg-protocol-messages.js";
import { ConnectionStatementNames } from "./pglite-statement-names.js";

/** What the server needs of PGlite: one session that runs protocol batches, one at a time. */
export interface ProtocolBackend {
  /** Runs frontend messages and answers the backend's (a copy of its own: the server may keep it). */
  execProtocol(batch: Uint8Array): Promise<Buffer>;
}

export interface PgliteServerOptions {
  host: string;
  /** 0: any free port. */
  port: number;
  /** A connection holding an open transaction this long without a new message is terminated. */
  idleInTransactionMs?: number;
}

export interface PgliteServer {
  host: string;
  port: number;
  /** The user name and password connections must present. */
  user: string;
  password: string;
  /** Stops listening, ends every connection (rolling back an open transaction) and waits for that. */
  close(): Promise<void>;
}

const PROTOCOL_3 = 196_608;
const SSL_REQUEST = 80_877_103;
const GSSENC_REQUEST = 80_877_104;
const CANCEL_REQUEST = 80_877_102;
const MAX_MESSAGE_BYTES = 256 * 1024 * 1024;
/** Frontend messages after which the backend answers (or flushes) and waits for the client. */
const BATCH_ENDS = new Set(["S", "Q", "H", "c", "f"]);
const DEFAULT_IDLE_IN_TRANSACTION_MS = 60_000;

export async function startPgliteServer(db: ProtocolBackend, options: PgliteServerOptions): Promise<PgliteServer> {
  const session = new SessionScheduler(db);
  const greetings = new StartupReplies();
  const password = randomBytes(24).toString("base64url");
  const expected = digest(password);
  const connections = new Set<Connection>();
  const server: Server = createServer((socket) => {
    const connection = new Connection(socket, session, greetings, expected, options.idleInTransactionMs ?? DEFAULT_IDLE_IN_TRANSACTION_MS);
    connections.add(connection);
    socket.once("close", () => connections.delete(connection));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the embedded database server has no TCP address");
  return {
    host: options.host,
    port: address.port,
    user: "postgres",
    password,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...connections].map((connection) => connection.end()));
      await closed;
      await session.idle();
    },
  };
}

const digest = (text: string) => createHash("sha256").update(text).digest();

/**
 * Hands PGlite's one session to one connection at a time, in arrival order. The owner keeps it
 * until its batch leaves the backend idle.
 */
class SessionScheduler {
  private owner: Connection | undefined;
  private readonly waiting: { connection: Connection; grant: () => void; refuse: (error: Error) => void }[] = [];
  private running: Promise<unknown> = Promise.resolve();

  readonly db: ProtocolBackend;

  constructor(db: ProtocolBackend) {
    this.db = db;
  }

  isOwner(connection: Connection): boolean {
    return this.owner === connection;
  }

  /** Runs one batch of `connection`'s messages once the session is its own; answers PGlite's output. */
  async run(connection: Connection, batch: Uint8Array): Promise<Buffer> {
    await this.acquire(connection);
    const result = this.db.execProtocol(batch);
    this.running = result.catch(() => {});
    return result;
  }

  /** After a batch: hand the session on unless the backend is still busy with this connection. */
  settle(connection: Connection, backendIdle: boolean): void {
    if (backendIdle) this.release(connection);
  }

  /** Takes a connection that is going away out of the queue: its pending batch is refused. */
  withdraw(connection: Connection): void {
    const index = this.waiting.findIndex((w) => w.connection === connection);
    if (index >= 0) this.waiting.splice(index, 1)[0]!.refuse(new Error("connection closed"));
  }

  /** Gives up the session, rolling back whatever the connection left open (call once its batches are done). */
  async abandon(connection: Connection): Promise<void> {
    if (this.owner !== connection) return;
    try {
      // Sync ends an unfinished extended-protocol batch; ROLLBACK ends an open transaction.
      await this.db.execProtocol(concat(message("S"), message("Q", cString("ROLLBACK"))));
    } catch {
      // The backend is idle already, or beyond saving: either way the others go on.
    } finally {
      this.release(connection);
    }
  }

  /** Runs a connection's last messages (closing what it prepared) once the session is free; never throws. */
  async finish(connection: Connection, messages: Buffer[]): Promise<void> {
    if (messages.length === 0) return;
    await this.acquire(connection);
    try {
      await this.db.execProtocol(concat(...messages, message("S")));
    } catch {
      // The database is closing: its statements go with it.
    } finally {
      this.release(connection);
    }
  }

  /** Resolves when no batch is running. */
  async idle(): Promise<void> {
    await this.running;
  }

  private acquire(connection: Connection): Promise<void> {
    if (this.owner === connection) return Promise.resolve();
    if (this.owner === undefined && this.waiting.length === 0) {
      this.owner = connection;
      return Promise.resolve();
    }
    return new Promise((grant, refuse) => this.waiting.push({ connection, grant, refuse }));
  }

  private release(connection: Connection): void {
    if (this.owner !== connection) return;
    const next = this.waiting.shift();
    this.owner = next?.connection;
    next?.grant();
  }
}

/**
 * PGlite's answer to a startup packet (AuthenticationOk, server parameters, ReadyForQuery) does
 * not change while it runs, and there is no backend to start per connection: a packet seen
 * before is answered from memory, so a new connection never waits for the session.
 */
class StartupReplies {
  private readonly replies = new Map<string, Uint8Array>();

  async answer(session: SessionScheduler, connection: Connection, packet: Buffer): Promise<Uint8Array> {
    const key = packet.toString("base64");
    const known = this.replies.get(key);
    if (known) return known;
    const reply = await session.run(connection, packet);
    session.settle(connection, readyStatus(reply) === "I");
    if (readyStatus(reply) === "I") this.replies.set(key, reply);
    return reply;
  }
}

/** Numbers connections for their statement names' prefix. */
let connectionsOpened = 0;

type Phase = "startup" | "authentication" | "ready" | "closed";

/** One client connection: framing, authentication, and its batches through the scheduler. */
class Connection {
  private phase: Phase = "startup";
  private buffered: Buffer = Buffer.alloc(0);
  private pendingMessages: Buffer[] = [];
  private startupPacket: Buffer | undefined;
  private user = "postgres";
  /** This connection's batches run one after another, in the order they arrived. */
  private chain: Promise<void> = Promise.resolve();
  private idleTimer: NodeJS.Timeout | undefined;
  private ended: Promise<void> | undefined;
  private readonly statementNames = new ConnectionStatementNames(`c${++connectionsOpened}_`);

  private readonly socket: Socket;
  private readonly session: SessionScheduler;
  private readonly greetings: StartupReplies;
  private readonly passwordDigest: Buffer;
  private readonly idleInTransactionMs: number;

  constructor(socket: Socket, session: SessionScheduler, greetings: StartupReplies, passwordDigest: Buffer, idleInTransactionMs: number) {
    this.socket = socket;
    this.session = session;
    this.greetings = greetings;
    this.passwordDigest = passwordDigest;
    this.idleInTransactionMs = idleInTransactionMs;
    socket.setNoDelay(true);
    socket.on("data", (data) => this.receive(data));
    socket.on("error", () => socket.destroy());
    socket.once("close", () => void this.end());
  }

  /** Ends the connection; an open transaction or unfinished batch of its own is rolled back. */
  end(): Promise<void> {
    this.ended ??= (async () => {
      this.phase = "closed";
      clearTimeout(this.idleTimer);
      this.socket.destroy();
      this.session.withdraw(this);
      await this.chain;
      await this.session.abandon(this);
      await this.session.finish(this, this.statementNames.closeAll());
    })();
    return this.ended;
  }

  private receive(data: Buffer): void {
    if (this.phase === "closed") return;
    this.buffered = this.buffered.length === 0 ? data : Buffer.concat([this.buffered, data]);
    try {
      this.parse();
    } catch (error) {
      this.fatal("08P01", (error as Error).message);
    }
  }

  private parse(): void {
    while (this.phase !== "closed") {
      if (this.phase === "startup") {
        if (this.buffered.length < 8) return;
        const length = this.buffered.readInt32BE(0);
        if (length < 8 || length > 10_000) throw new Error("invalid startup packet length");
        if (this.buffered.length < length) return;
        const packet = this.take(length);
        this.startup(packet);
        continue;
      }
      if (this.buffered.length < 5) return;
      const type = String.fromCharCode(this.buffered[0]!);
      const length = this.buffered.readInt32BE(1);
      if (length < 4 || length > MAX_MESSAGE_BYTES) throw new Error(`invalid message length ${length}`);
      if (this.buffered.length < length + 1) return;
      const packet = this.take(length + 1);
      if (this.phase === "authentication") this.authenticate(type, packet);
      else this.message(type, packet);
    }
  }

  private take(bytes: number): Buffer {
    const packet = this.buffered.subarray(0, bytes);
    this.buffered = this.buffered.subarray(bytes);
    return packet;
  }

  private startup(packet: Buffer): void {
    const code = packet.readInt32BE(4);
    if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
      this.socket.write("N"); // no encryption on loopback; the client goes on in plain text
      return;
    }
    if (code === CANCEL_REQUEST) return void this.end(); // PGlite has no other backend to signal
    if (code !== PROTOCOL_3) throw new Error(`unsupported frontend protocol ${code >> 16}.${code & 0xffff}`);
    const fields = packet.subarray(8).toString("utf8").split("\0");
    for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === "user") this.user = fields[i + 1]!;
    this.startupPacket = Buffer.from(packet);
    this.phase = "authentication";
    this.socket.write(authenticationRequest(3)); // AuthenticationCleartextPassword
  }

  private authenticate(type: string, packet: Buffer): void {
    if (type !== "p") throw new Error("expected a password message");
    const given = packet.subarray(5, packet.length - 1).toString("utf8");
    if (this.user !== "postgres" || !timingSafeEqual(digest(given), this.passwordDigest)) {
      this.fatal("28P01", `password authentication failed for user "${this.user}"`);
      return;
    }
    this.phase = "ready";
    const startup = this.startupPacket!;
    this.startupPacket = undefined;
    this.chain = this.chain
      .then(async () => {
        const reply = await this.greetings.answer(this.session, this, startup);
        if (this.socket.writable) this.socket.write(reply);
      })
      .catch((error: unknown) => this.fatal("XX000", `embedded database failure: ${(error as Error).message}`));
  }

  private message(type: string, packet: Buffer): void {
    if (type === "X") return void this.end();
    this.pendingMessages.push(this.statementNames.rewrite(Buffer.from(packet)));
    if (!BATCH_ENDS.has(type)) return;
    const batch = Buffer.concat(this.pendingMessages);
    this.pendingMessages = [];
    this.enqueue(batch);
  }

  private enqueue(batch: Uint8Array): void {
    this.chain = this.chain.then(() => this.runBatch(batch)).catch((error: unknown) => this.fatal("XX000", (error as Error).message));
  }

  private async runBatch(batch: Uint8Array): Promise<void> {
    if (this.phase === "closed") return;
    clearTimeout(this.idleTimer);
    let output: Uint8Array;
    try {
      output = await this.session.run(this, batch);
    } catch (error) {
      // An internal failure of PGlite: this connection ends (rolling back), the others go on.
      this.fatal("XX000", `embedded database failure: ${(error as Error).message}`);
      return;
    }
    const status = readyStatus(output);
    if (this.socket.writable) this.socket.write(withOneReadyForQuery(output));
    this.session.settle(this, status === "I");
    if (status !== "I" && this.session.isOwner(this)) {
      this.idleTimer = setTimeout(() => this.fatal("25P03", "terminating connection due to idle-in-transaction timeout"), this.idleInTransactionMs).unref();
    }
  }

  private fatal(code: string, text: string): void {
    if (this.phase === "closed") return;
    const fields = concat(cString("SFATAL"), cString("VFATAL"), cString(`C${code}`), cString(`M${text}`), new Uint8Array([0]));
    this.socket.write(message("E", fields));
    this.socket.end();
    void this.end();
  }
}

function authenticationRequest(kind: number): Buffer {
  const body = Buffer.alloc(4);
  body.writeInt32BE(kind);
  return message("R", body);
}

const concat = (...parts: Uint8Array[]) => Buffer.concat(parts);

/** The transaction status of the last ReadyForQuery in `output` ("I", "T", "E"), if any. */
function readyStatus(output: Uint8Array): string | undefined {
  let status: string | undefined;
  forEachMessage(output, (type, offset) => {
    if (type === 0x5a) status = String.fromCharCode(output[offset + 5]!);
  });
  return status;
}

/**
 * PostgreSQL answers a batch with exactly one ReadyForQuery, at its end; PGlite has been seen to
 * send one early after an error (electric-sql/pglite issue #958), which would make a client take
 * the rest of the answer for its next query's. Only the last one is kept.
 */
function withOneReadyForQuery(output: Uint8Array): Uint8Array {
  const ready: number[] = [];
  forEachMessage(output, (type, offset) => {
    if (type === 0x5a) ready.push(offset);
  });
  if (ready.length <= 1) return output;
  const keep: Uint8Array[] = [];
  let from = 0;
  for (const offset of ready.slice(0, -1)) {
    keep.push(output.subarray(from, offset));
    from = offset + 6;
  }
  keep.push(output.subarray(from));
  return Buffer.concat(keep);
}

function forEachMessage(output: Uint8Array, visit: (type: number, offset: number) => void): void {
  const view = new DataView(output.buffer, output.byteOffset, output.byteLength);
  for (let offset = 0; offset + 5 <= output.length; ) {
    visit(output[offset]!, offset);
    offset += 1 + view.getInt32(offset + 1);
  }
}
