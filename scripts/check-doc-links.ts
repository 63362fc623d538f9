// Checks the relative links of the project's Markdown (README.md, docs/, deploy/README.md): each
// must name a file of the checkout, and a `#fragment` a heading of that file, as GitHub makes its
// anchors. Prints every broken link and exits 1 if there is one.
//   npx tsx scripts/check-doc-links.ts
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { PROJECT_ROOT } from "../src/infra/project-root.js";

function markdownFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return markdownFiles(path);
    return name.endsWith(".md") ? [path] : [];
  });
}

/** Text outside fenced code blocks and inline code, where a link is a link. */
const prose = (text: string) => text.replace(/^```[\s\S]*?^```/gm, "").replace(/`[^`\n]*`/g, "");

/** GitHub's heading anchors: lowercased, punctuation dropped, spaces as hyphens, repeats numbered. */
function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  for (const [, heading] of prose(text).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = heading!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    let anchor = base;
    for (let n = 1; anchors.has(anchor); n++) anchor = `${base}-${n}`;
    anchors.add(anchor);
  }
  return anchors;
}

const files = [join(PROJECT_ROOT, "README.md"), join(PROJECT_ROOT, "deploy/README.md"), ...markdownFiles(join(PROJECT_ROOT, "docs"))];
const broken: string[] = [];
let checked = 0;
for (const file of files) {
  const text = readFileSync(file, "utf8");
  for (const [, target] of prose(text).matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^[a-z]+:/i.test(target!)) continue; // http:, https:, mailto:
    checked++;
    const [path, fragment] = target!.split("#") as [string, string | undefined];
    const linked = path === "" ? file : resolve(dirname(file), decodeURIComponent(path));
    const where = `${relative(PROJECT_ROOT, file)}: (${target})`;
    if (!existsSync(linked)) broken.push(`${where}: no file ${relative(PROJECT_ROOT, linked)}`);
    else if (fragment && linked.endsWith(".md") && !anchorsOf(readFileSync(linked, "utf8")).has(fragment)) {
      broken.push(`${where}: no heading for #${fragment} in ${relative(PROJECT_ROOT, linked)}`);
    }
  }
}
for (const line of broken) console.error(line);
console.log(`${checked} relative links in ${files.length} files, ${broken.length} broken`);
process.exit(broken.length > 0 ? 1 : 0);
