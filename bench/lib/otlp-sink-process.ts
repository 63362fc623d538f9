// The receiver of bench/lib/otlp-sink.ts, run as a process of its own: takes every OTLP/HTTP
// export (any encoding), answers 200 and counts it; GET /exports answers the count. Prints
// `{"port":N}` once it listens, and ends when its standard input closes.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

let exports = 0;
const server = createServer((request, response) => {
  if (request.method === "GET" && request.url === "/exports") {
    response.end(String(exports));
    return;
  }
  request.resume();
  request.on("end", () => {
    exports++;
    response.writeHead(200, { "content-type": String(request.headers["content-type"] ?? "application/json") }).end();
  });
});
server.listen(0, "127.0.0.1", () => console.log(JSON.stringify({ port: (server.address() as AddressInfo).port })));
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
