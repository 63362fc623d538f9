// The docs page at /redoc serves one file of the redoc package, its standalone bundle
// (src/platform/docs.ts). The package's ~90 dependencies are for its React build, which the
// service never loads, so redoc is an optional dependency that the first `make run` leaves out
// (npm ci --omit=optional) and this puts the bundle in place alone: the locked version's tarball
// from npm (its cache first), checked against package-lock.json's integrity, unpacked to
// node_modules/redoc with only its package.json, licences and bundle. Nothing to do when the
// package is installed whole (npm ci, npm ci --omit=dev). An argument names another project
// folder to put it in (the tests').
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(process.argv[2] ?? join(import.meta.dirname, ".."));
const target = join(root, "node_modules/redoc");
const BUNDLE = "bundles/redoc.standalone.js";

if (!existsSync(join(target, BUNDLE))) {
  const locked = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")).packages["node_modules/redoc"];
  if (!locked?.version || !locked.integrity) throw new Error("package-lock.json has no locked redoc to take the docs page's bundle from");
  console.log(`Unpacking Redoc's standalone bundle for the docs page (redoc@${locked.version}, one file of it; its dependencies are not needed)`);
  const scratch = mkdtempSync(join(tmpdir(), "redoc-"));
  try {
    const npm = process.platform === "win32" ? "npm.cmd" : "npm";
    const [{ filename }] = JSON.parse(
      execFileSync(npm, ["pack", `redoc@${locked.version}`, "--prefer-offline", "--json", "--pack-destination", scratch], { cwd: scratch, encoding: "utf8" }),
    );
    const tarball = join(scratch, filename);
    const [algorithm, expected] = locked.integrity.split(/-(.*)/s);
    const actual = createHash(algorithm).update(readFileSync(tarball)).digest("base64");
    if (actual !== expected) throw new Error(`redoc@${locked.version}'s tarball does not match package-lock.json's integrity`);
    mkdirSync(target, { recursive: true });
    execFileSync("tar", [
      "-xzf",
      tarball,
      "-C",
      target,
      "--strip-components=1",
      "package/package.json",
      "package/LICENSE",
      `package/${BUNDLE}`,
      `package/${BUNDLE}.LICENSE.txt`,
    ]);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
