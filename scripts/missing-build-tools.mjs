// Prints the build tools named on the command line that node_modules lacks (nothing when all are
// there). After `npm ci --omit=dev` they are normally present: prisma and typescript as peers of
// @prisma/client, @types/pg and @types/node through @prisma/adapter-pg; the Makefile falls back
// to the full install when a dependency change takes one of them away.
import { existsSync } from "node:fs";

const root = new URL("../node_modules/", import.meta.url);
const missing = process.argv.slice(2).filter((name) => !existsSync(new URL(`${name}/package.json`, root)));
if (missing.length > 0) console.log(missing.join(" "));
