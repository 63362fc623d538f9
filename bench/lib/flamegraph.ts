// A V8 .cpuprofile (node --cpu-prof) as a flame graph SVG and a top self-time list. Small on
// purpose: the profile format is a tree of call frames with sample counts, drawn as nested boxes.

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  /** µs between consecutive samples (the first from startTime). */
  timeDeltas?: number[];
}

/** The profile of [fromUs, toUs] (µs since its start): hit counts recounted from the samples in it. */
export function sliceProfile(profile: CpuProfile, fromUs: number, toUs: number): CpuProfile {
  const { samples = [], timeDeltas = [] } = profile;
  const hits = new Map<number, number>();
  const kept: number[] = [];
  let at = 0;
  for (let i = 0; i < samples.length; i++) {
    at += timeDeltas[i] ?? 0;
    if (at < fromUs || at > toUs) continue;
    hits.set(samples[i]!, (hits.get(samples[i]!) ?? 0) + 1);
    kept.push(samples[i]!);
  }
  return {
    nodes: profile.nodes.map((n) => ({ ...n, hitCount: hits.get(n.id) ?? 0 })),
    startTime: profile.startTime + fromUs,
    endTime: profile.startTime + Math.min(toUs, at),
    samples: kept,
  };
}

export interface SelfTime {
  frame: string;
  /** Share of all samples (idle excluded) in %. */
  percent: number;
  ms: number;
}

const IDLE = new Set(["(idle)", "(program)"]);

/** `name file:line`, with the path cut to the project or package. */
export function frameLabel(frame: CallFrame): string {
  const name = frame.functionName || "(anonymous)";
  if (!frame.url) return name;
  const path = frame.url
    .replace(/^file:\/\//, "")
    .replace(/^.*\/node_modules\//, "")
    .replace(/^.*\/(src|bench|generated)\//, "$1/");
  return `${name} ${path}:${frame.lineNumber + 1}`;
}

function busySamples(profile: CpuProfile): number {
  return profile.nodes.filter((n) => !IDLE.has(n.callFrame.functionName)).reduce((sum, n) => sum + (n.hitCount ?? 0), 0);
}

/** Self time summed by `keyOf` each frame (idle left out), busiest first. */
function selfTimeBy(profile: CpuProfile, keyOf: (frame: CallFrame) => string, count: number): SelfTime[] {
  const busy = busySamples(profile);
  const msPerSample = (profile.endTime - profile.startTime) / 1000 / Math.max(1, profile.samples?.length ?? busy);
  const byKey = new Map<string, number>();
  for (const node of profile.nodes) {
    if (IDLE.has(node.callFrame.functionName) || !node.hitCount) continue;
    const key = keyOf(node.callFrame);
    byKey.set(key, (byKey.get(key) ?? 0) + node.hitCount);
  }
  return [...byKey]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([frame, hits]) => ({ frame, percent: (100 * hits) / busy, ms: hits * msPerSample }));
}

/** The frames where the CPU was (self time), summed over every place they were called from. */
export const topSelfTime = (profile: CpuProfile, count = 15): SelfTime[] => selfTimeBy(profile, frameLabel, count);

const WIDTH = 1200;
const ROW = 16;
const escapeXml = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** Total samples of each node with its descendants. */
function totals(profile: CpuProfile): Map<number, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const total = new Map<number, number>();
  const visit = (id: number): number => {
    const node = byId.get(id)!;
    if (IDLE.has(node.callFrame.functionName)) {
      total.set(id, 0);
      return 0;
    }
    const sum = (node.hitCount ?? 0) + (node.children ?? []).reduce((s, c) => s + visit(c), 0);
    total.set(id, sum);
    return sum;
  };
  visit(profile.nodes[0]!.id);
  return total;
}

/** An SVG flame graph (root at the bottom; width = share of busy samples; hover for the figures). */
export function flameGraphSvg(profile: CpuProfile, title: string): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const total = totals(profile);
  const root = profile.nodes[0]!;
  const all = total.get(root.id) || 1;
  const boxes: string[] = [];
  let depthMax = 0;
  const draw = (id: number, x: number, depth: number) => {
    const node = byId.get(id)!;
    const width = (total.get(id)! / all) * WIDTH;
    if (width < 0.5) return;
    depthMax = Math.max(depthMax, depth);
    const label = depth === 0 ? "all" : frameLabel(node.callFrame);
    const hue = /node_modules|node:/.test(node.callFrame.url) ? 30 : node.callFrame.url ? 0 : 50;
    const light = 55 + ((label.length * 7) % 25);
    const percent = ((100 * total.get(id)!) / all).toFixed(2);
    boxes.push(
      `<g><title>${escapeXml(label)} (${percent} %)</title><rect x="${x.toFixed(1)}" y="${-depth * ROW}" width="${width.toFixed(1)}" height="${ROW - 1}" fill="hsl(${hue},80%,${light}%)"/>` +
        (width > 30 ? `<text x="${(x + 3).toFixed(1)}" y="${-depth * ROW + 11}">${escapeXml(label.slice(0, Math.floor(width / 6.5)))}</text>` : "") +
        `</g>`,
    );
    let childX = x;
    for (const child of node.children ?? []) {
      draw(child, childX, depth + 1);
      childX += (total.get(child)! / all) * WIDTH;
    }
  };
  draw(root.id, 0, 0);
  const height = (depthMax + 1) * ROW + 30;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 ${-(depthMax * ROW) - 25} ${WIDTH} ${height}" font-family="monospace" font-size="11">`,
    `<text x="0" y="${-(depthMax * ROW) - 10}" font-size="13">${escapeXml(title)}</text>`,
    ...boxes,
    `</svg>`,
  ].join("\n");
}

/** Where a frame's code lives: its npm package, the service's own code, Node's internals, or V8 (GC, compiler). */
export function frameOwner(frame: CallFrame): string {
  const url = frame.url.replace(/^file:\/\//, "");
  if (!url) return frame.functionName || "(anonymous)";
  const inPackage = /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (inPackage) return inPackage[1]!;
  if (url.startsWith("node:")) return url.split("/").slice(0, 2).join("/");
  const own = /\/(src|bench|generated|support)\//.exec(url);
  return own ? `${own[1]}/` : url;
}

/** Self time summed by frameOwner, busiest first. */
export const selfTimeByOwner = (profile: CpuProfile, count = 25): SelfTime[] => selfTimeBy(profile, frameOwner, count);
