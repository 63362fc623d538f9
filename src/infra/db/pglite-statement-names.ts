// Named prepared statements outlive transactions, so on PGlite's one shared session two
// connections preparing the same name would clash (42P05), and one would run the other's SQL if
// the texts differed. Each connection's names are therefore given a prefix of its own on the way
// in; the unnamed statement needs none (a connection owns the session for its whole batch), and
// neither do portals (they end with their transaction, which the connection owns too). SQL-level
// PREPARE and DEALLOCATE in a simple query are not rewritten: the service never sends them.

import { cString, message } from "./pg-protocol-messages.js";

const PARSE = 0x50; // 'P': name, query, parameter types
const BIND = 0x42; // 'B': portal, statement, ...
const DESCRIBE = 0x44; // 'D': 'S' | 'P', name
const CLOSE = 0x43; // 'C': 'S' | 'P', name
const STATEMENT = 0x53; // 'S'

/** One connection's statement names in the shared session, and the ones it has prepared there. */
export class ConnectionStatementNames {
  private readonly prepared = new Set<string>();

  private readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = prefix;
  }

  /** `packet` (one whole frontend message) with its statement name, if any, in this connection's namespace. */
  rewrite(packet: Buffer): Buffer {
    switch (packet[0]) {
      case PARSE: {
        const name = this.own(readCString(packet, 5));
        if (name) this.prepared.add(name);
        return replaceCString(packet, 5, name);
      }
      case BIND: {
        const portalEnd = packet.indexOf(0, 5);
        return replaceCString(packet, portalEnd + 1, this.own(readCString(packet, portalEnd + 1)));
      }
      case DESCRIBE:
        return packet[5] === STATEMENT ? replaceCString(packet, 6, this.own(readCString(packet, 6))) : packet;
      case CLOSE: {
        if (packet[5] !== STATEMENT) return packet;
        const name = this.own(readCString(packet, 6));
        this.prepared.delete(name);
        return replaceCString(packet, 6, name);
      }
      default:
        return packet;
    }
  }

  /** Close messages for every statement the connection left prepared (run them when it ends), or none. */
  closeAll(): Buffer[] {
    return [...this.prepared].map((name) => message("C", Buffer.concat([Buffer.from([STATEMENT]), cString(name)])));
  }

  private own(name: string): string {
    return name === "" ? "" : `${this.prefix}${name}`;
  }
}

function readCString(packet: Buffer, at: number): string {
  const end = packet.indexOf(0, at);
  if (end < 0) throw new Error("malformed message: unterminated string");
  return packet.toString("utf8", at, end);
}

/** The message with the C string at `at` replaced by `text`, its length field updated. */
function replaceCString(packet: Buffer, at: number, text: string): Buffer {
  const end = packet.indexOf(0, at);
  if (end < 0) throw new Error("malformed message: unterminated string");
  if (packet.toString("utf8", at, end) === text) return packet;
  const out = Buffer.concat([packet.subarray(0, at), Buffer.from(text, "utf8"), packet.subarray(end)]);
  out.writeInt32BE(out.length - 1, 1);
  return out;
}
