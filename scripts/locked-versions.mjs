// Prints name@version for each package named on the command line, at the version
// package-lock.json pins, so that `make run` installs its build tools exactly as `npm ci` would.
import { readFileSync } from "node:fs";

const lock = JSON.parse(readFileSync(new URL("../package-lock.json", import.meta.url), "utf8"));
const pinned = process.argv.slice(2).map((name) => {
  const version = lock.packages[`node_modules/${name}`]?.version;
  if (!version) throw new Error(`${name} is not in package-lock.json`);
  return `${name}@${version}`;
});
console.log(pinned.join(" "));
