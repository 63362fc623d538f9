// Building blocks of PostgreSQL wire-protocol messages, for the embedded database's server.

/** A message: its type byte, its length (itself included), its body. */
export function message(type: string, body: Uint8Array = new Uint8Array(0)): Buffer {
  const out = Buffer.alloc(5 + body.length);
  out.write(type, 0, "latin1");
  out.writeInt32BE(4 + body.length, 1);
  out.set(body, 5);
  return out;
}

/** A NUL-terminated UTF-8 string. */
export const cString = (text: string) => Buffer.from(`${text}\0`, "utf8");
