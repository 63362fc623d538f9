// The embedded server's per-connection statement names, message by message.
import { describe, expect, it } from "vitest";
import { cString, message } from "./pg-protocol-messages.js";
import { ConnectionStatementNames } from "./pglite-statement-names.js";

const body = (...parts: (string | Buffer)[]) => Buffer.concat(parts.map((p) => (typeof p === "string" ? cString(p) : p)));
const kind = (k: string) => Buffer.from(k, "latin1");
const noParameters = Buffer.from([0, 0]);

describe("a connection's statement names", () => {
  it("prefixes named statements in Parse, Bind, Describe and Close, with lengths to match", () => {
    const names = new ConnectionStatementNames("c7_");
    expect(names.rewrite(message("P", body("lookup", "SELECT 1", noParameters)))).toEqual(message("P", body("c7_lookup", "SELECT 1", noParameters)));
    const rest = Buffer.from([0, 0, 0, 0, 0, 0]);
    expect(names.rewrite(message("B", body("", "lookup", rest)))).toEqual(message("B", body("", "c7_lookup", rest)));
    expect(names.rewrite(message("B", body("portal", "lookup", rest)))).toEqual(message("B", body("portal", "c7_lookup", rest)));
    expect(names.rewrite(message("D", body(kind("S"), "lookup")))).toEqual(message("D", body(kind("S"), "c7_lookup")));
    expect(names.rewrite(message("C", body(kind("S"), "lookup")))).toEqual(message("C", body(kind("S"), "c7_lookup")));
  });

  it("leaves the unnamed statement, portals and other messages as they are", () => {
    const names = new ConnectionStatementNames("c7_");
    for (const packet of [
      message("P", body("", "SELECT 1", noParameters)),
      message("D", body(kind("P"), "portal")),
      message("C", body(kind("P"), "portal")),
      message("E", body("", Buffer.from([0, 0, 0, 0]))),
      message("S"),
    ]) {
      expect(names.rewrite(packet)).toEqual(packet);
    }
  });

  it("closes at the end what is still prepared, and nothing closed already", () => {
    const names = new ConnectionStatementNames("c7_");
    names.rewrite(message("P", body("a", "SELECT 1", noParameters)));
    names.rewrite(message("P", body("b", "SELECT 2", noParameters)));
    names.rewrite(message("C", body(kind("S"), "a")));
    expect(names.closeAll()).toEqual([message("C", body(kind("S"), "c7_b"))]);
  });

  it("refuses a message whose name is not terminated", () => {
    const names = new ConnectionStatementNames("c7_");
    expect(() => names.rewrite(message("P", Buffer.from("lookup", "utf8")))).toThrow(/unterminated/);
  });
});
