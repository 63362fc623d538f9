#!/usr/bin/env node
// Offline checks for the deployment files. Usage (from the project root):
//   node scripts/deploy-check/check.mjs dockerfile
//   node scripts/deploy-check/check.mjs compose
//   node scripts/deploy-check/check.mjs k8s NAME RENDERED.yaml [NAME RENDERED.yaml ...]
//   node scripts/deploy-check/check.mjs ops
// Each prints one summary line ("ok ..." / "FAIL ...") plus details, and exits non-zero on failure.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";

const require = createRequire(import.meta.url);
const HERE = dirname(fileURLToPath(import.meta.url));
const errors = [];
const fail = (msg) => errors.push(msg);
const read = (p) => readFileSync(p, "utf8");
function finish(label, detail = "") {
  if (errors.length) {
    console.log(`FAIL  ${label}: ${errors.length} problem(s)`);
    for (const e of errors) console.log(`  - ${e}`);
    process.exit(1);
  }
  console.log(`ok    ${label}${detail ? ` (${detail})` : ""}`);
}

// ---------------------------------------------------------------- Dockerfile ----
async function checkDockerfile() {
  const { validate } = await import("dockerfile-utils");
  const { DockerfileParser } = await import("dockerfile-ast");
  const text = read("Dockerfile");
  // dockerfile-utils: the linter of the Docker language server (syntax, flags, durations, ports,
  // duplicate CMD/HEALTHCHECK, deprecated instructions...). Every diagnostic fails.
  for (const d of validate(text)) fail(`Dockerfile:${d.range.start.line + 1}: ${d.message}`);

  // Policy checks on top (hadolint-style rules that matter for this image).
  const df = DockerfileParser.parse(text);
  const args = Object.fromEntries(df.getInitialARGs().map((a) => [a.getProperty()?.getName(), a.getProperty()?.getValue()]));
  const subst = (s) => s.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, n) => args[n] ?? `\${${n}}`);
  const froms = df.getFROMs();
  const stageNames = new Set(froms.map((f) => f.getBuildStage()).filter(Boolean));
  for (const f of froms) {
    const image = subst(f.getImage() ?? "");
    if (stageNames.has(image)) continue;
    if (!/^[^:@]+(:[^:@]+)?(@sha256:[0-9a-f]{64})?$/.test(image) || !/[:@]/.test(image)) fail(`FROM ${image}: base image must be pinned to a tag or digest`);
    if (/:latest(@|$)/.test(image)) fail(`FROM ${image}: do not use :latest`);
  }
  const instructions = df.getInstructions();
  const lastFrom = froms.at(-1);
  const finalStage = instructions.filter((i) => i.getRange().start.line > lastFrom.getRange().start.line);
  const kw = (i) => i.getKeyword();
  const argsText = (i) => i.getArgumentsContent() ?? "";
  for (const i of instructions) {
    if (kw(i) === "ADD") fail(`line ${i.getRange().start.line + 1}: use COPY instead of ADD`);
    if (kw(i) === "RUN" && /\bnpm (install|i)\b/.test(argsText(i))) fail(`line ${i.getRange().start.line + 1}: use npm ci (lockfile) instead of npm install`);
    if (kw(i) === "RUN" && /apt-get install(?!.*--no-install-recommends)/.test(argsText(i)))
      fail(`line ${i.getRange().start.line + 1}: apt-get install without --no-install-recommends`);
    if (kw(i) === "RUN" && /\bsudo\b/.test(argsText(i))) fail(`line ${i.getRange().start.line + 1}: sudo`);
  }
  const user = finalStage.filter((i) => kw(i) === "USER").at(-1);
  if (!user) fail("runtime stage has no USER");
  else if (!/^[1-9][0-9]*(:[0-9]+)?$/.test(argsText(user).trim())) fail(`USER ${argsText(user)}: must be a numeric non-root UID`);
  if (!finalStage.some((i) => kw(i) === "HEALTHCHECK")) fail("runtime stage has no HEALTHCHECK");
  const hc = finalStage.find((i) => kw(i) === "HEALTHCHECK");
  if (hc && !/\/healthz/.test(argsText(hc))) fail("HEALTHCHECK does not hit /healthz");
  if (!finalStage.some((i) => kw(i) === "EXPOSE" && /\b8000\b/.test(argsText(i)))) fail("runtime stage does not EXPOSE 8000");
  const envText = finalStage
    .filter((i) => kw(i) === "ENV")
    .map(argsText)
    .join(" ");
  if (!/NODE_ENV=production/.test(envText)) fail("runtime ENV lacks NODE_ENV=production");
  if (!/HOST=0\.0\.0\.0/.test(envText)) fail("runtime ENV lacks HOST=0.0.0.0");
  const cmd = finalStage.filter((i) => kw(i) === "CMD").at(-1);
  if (!cmd || !/^\s*\[\s*"node",\s*"--import",\s*"\.\/dist\/src\/instrumentation\.js",\s*"dist\/src\/server\.js"\s*\]\s*$/.test(argsText(cmd)))
    fail('CMD must be the exec form ["node", "--import", "./dist/src/instrumentation.js", "dist/src/server.js"]');
  const finalCopies = finalStage
    .filter((i) => kw(i) === "COPY")
    .map(argsText)
    .join("\n");
  for (const needed of ["node_modules", "dist", "openapi.yaml", "package.json", "prisma"])
    if (!finalCopies.includes(needed)) fail(`runtime stage does not copy ${needed}`);
  if (/--from=build\s+\/app\/node_modules/.test(finalCopies)) fail("runtime stage copies the build stage's node_modules (dev dependencies)");

  // Every COPY source from the build context exists and survives .dockerignore.
  const ignore = existsSync(".dockerignore") ? parseDockerignore(read(".dockerignore")) : () => false;
  let copies = 0;
  for (const i of instructions) {
    if (kw(i) !== "COPY" || i.getFlags().some((f) => f.getName() === "from")) continue;
    const parts = i.getArguments().map((a) => a.getValue());
    for (const src of parts.slice(0, -1)) {
      copies++;
      const path = src.replace(/\/$/, "");
      if (!existsSync(path)) fail(`COPY ${src}: not found in the build context`);
      else if (ignore(path)) fail(`COPY ${src}: excluded by .dockerignore`);
    }
  }
  for (const p of ["node_modules", "dist", ".git", ".data", "tests", "generated/prisma"]) if (!ignore(p)) fail(`.dockerignore should exclude ${p}`);
  finish("Dockerfile", `dockerfile-utils lint clean, ${froms.length} stages, ${copies} context COPY sources present and not ignored`);
}

/** Docker's .dockerignore semantics (last match wins, `!` re-includes, a match on a parent counts). */
function parseDockerignore(text) {
  const rules = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => {
      const negate = l.startsWith("!");
      const pattern = (negate ? l.slice(1) : l).replace(/^\/+|\/+$/g, "");
      const re = new RegExp(
        "^" +
          pattern
            .split("/")
            .map((seg) =>
              seg === "**"
                ? "\u0000"
                : seg
                    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
                    .replace(/\*/g, "[^/]*")
                    .replace(/\?/g, "[^/]"),
            )
            .join("/")
            // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL marks where a "**" segment was
            .replace(/\u0000\/?/g, "(?:.*/)?")
            .replace(/\(\?:\.\*\/\)\?$/, ".*") +
          "$",
      );
      return { negate, re };
    });
  return (path) => {
    const parents = path.split("/").map((_, i, a) => a.slice(0, i + 1).join("/"));
    let excluded = false;
    for (const { negate, re } of rules) if (parents.some((p) => re.test(p))) excluded = !negate;
    return excluded;
  };
}

// ---------------------------------------------------------------- compose -------
/** Compose interpolation: $$, $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?e}, ${VAR?e}, ${VAR:+r}, ${VAR+r}. */
function interpolate(value, env, where) {
  if (typeof value === "string") {
    return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (m, name, op, arg, bare) => {
      if (m === "$$") return "$";
      if (bare) return env[bare] ?? "";
      const v = env[name];
      const unsetOrEmpty = v === undefined || (op?.startsWith(":") && v === "");
      switch (op) {
        case ":-":
        case "-":
          return unsetOrEmpty ? interpolate(arg, env, where) : v;
        case ":?":
        case "?":
          if (unsetOrEmpty) throw new Error(`${where}: required variable ${name} is missing a value: ${arg}`);
          return v;
        case ":+":
        case "+":
          return unsetOrEmpty ? "" : interpolate(arg, env, where);
        default:
          return v ?? "";
      }
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, `${where}[${i}]`));
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env, `${where}.${k}`)]));
  return value;
}

async function checkCompose() {
  const { default: Ajv } = await import("ajv");
  const schemaPath = join(dirname(require.resolve("dclint/package.json")), "schemas", "compose.schema.json");
  const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true });
  // The schema names draft-07 by an https URL Ajv does not know; it is draft-07, Ajv's default.
  const { $schema, ...schema } = JSON.parse(read(schemaPath));
  const validateSchema = ajv.compile(schema);
  const raw = YAML.parse(read("compose.yaml"), { merge: true, maxAliasCount: 100 });

  // Without JWT_SECRET the file must refuse to resolve (required-variable error).
  try {
    interpolate(raw, {}, "compose");
    fail("compose resolves without JWT_SECRET: it must be a required variable");
  } catch (e) {
    if (!/JWT_SECRET/.test(e.message)) fail(`unexpected interpolation error without JWT_SECRET: ${e.message}`);
  }
  const doc = interpolate(raw, { JWT_SECRET: "x".repeat(48) }, "compose");
  for (const [label, d] of [
    ["raw", raw],
    ["interpolated", doc],
  ])
    if (!validateSchema(d)) for (const e of validateSchema.errors) fail(`schema (${label}): ${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`);

  const summary = [];
  const services = doc.services ?? {};
  for (const profile of [null, "monitoring"]) {
    const active = Object.entries(services).filter(([, s]) => !s.profiles || (profile && s.profiles.includes(profile)));
    const names = new Set(active.map(([n]) => n));
    for (const [name, s] of active) {
      const deps = Array.isArray(s.depends_on) ? Object.fromEntries(s.depends_on.map((d) => [d, {}])) : (s.depends_on ?? {});
      for (const [dep, cond] of Object.entries(deps)) {
        if (!names.has(dep)) fail(`[${profile ?? "default"}] ${name} depends on ${dep}, which is not in this profile`);
        if (cond.condition === "service_healthy" && !services[dep]?.healthcheck && dep !== "api")
          fail(`${name} waits for ${dep} healthy but ${dep} has no healthcheck`);
      }
      for (const v of s.volumes ?? []) {
        const src = typeof v === "string" ? v.split(":")[0] : v.source;
        if (src && !src.startsWith(".") && !src.startsWith("/") && !(src in (doc.volumes ?? {}))) fail(`${name}: volume ${src} is not declared`);
        if (src?.startsWith("./") && !existsSync(src)) fail(`${name}: bind mount ${src} does not exist`);
      }
    }
    summary.push(`${profile ?? "default"}: ${[...names].join(",")}`);
  }
  const need = (cond, msg) => cond || fail(msg);
  const api = services.api ?? {};
  need(services.db?.healthcheck?.test?.join(" ").includes("pg_isready"), "db healthcheck must use pg_isready");
  need(services.migrate?.command?.join(" ") === "node dist/scripts/migrate.js", "migrate must run node dist/scripts/migrate.js");
  need(api.depends_on?.migrate?.condition === "service_completed_successfully", "api must wait for migrate to complete successfully");
  need(api.depends_on?.db?.condition === "service_healthy", "api must wait for db healthy");
  // biome-ignore lint/suspicious/noTemplateCurlyInString: names compose's own ${VAR:?} syntax
  need(api.environment?.JWT_SECRET === "x".repeat(48), "api JWT_SECRET must come from ${JWT_SECRET:?...}");
  need(api.healthcheck, "api needs a healthcheck");
  need(
    typeof api.environment?.ADMIN_PASSWORD === "string" && api.environment.ADMIN_PASSWORD.length > 0,
    "api must get an ADMIN_PASSWORD when none is set (make up must give a usable admin)",
  );
  need(
    [api, services.proxy ?? {}].some((s) => (s.ports ?? []).some((p) => /:(8000|\$\{API_PORT:-8000\}):\d+$/.test(String(p)) || String(p).endsWith(":8000"))),
    "api (or the proxy in front of it) must publish port 8000",
  );
  need(
    services.prometheus?.profiles?.includes("monitoring") && services.grafana?.profiles?.includes("monitoring"),
    "prometheus and grafana belong to the monitoring profile",
  );
  for (const [name, s] of Object.entries(services))
    for (const [k, v] of Object.entries(s.environment ?? {}))
      if (v === "" && /PASSWORD|TOKEN|SECRET/.test(k)) fail(`${name}: ${k} resolves to an empty string (the app rejects empty values)`);

  // dclint (compose linter, same schema) with the style-only ordering rules off.
  const dclint = join(dirname(require.resolve("dclint/package.json")), "bin", "dclint.cjs");
  try {
    execFileSync(
      process.execPath,
      [
        dclint,
        "compose.yaml",
        "--color=false",
        "--max-warnings",
        "0",
        "--disable-rule",
        "service-keys-order",
        "services-alphabetical-order",
        "top-level-properties-order",
      ],
      { stdio: "pipe" },
    );
  } catch (e) {
    fail(`dclint: ${e.stdout?.toString().trim()}`);
  }
  finish("compose.yaml", `Compose-spec schema (dclint's copy) + dclint, profiles ${summary.join(" | ")}; fails without JWT_SECRET`);
}

// ---------------------------------------------------------------- Kubernetes ----
// Core kinds are validated by kubernetes-models' bundled OpenAPI validators; unknown field names
// (typos) are caught by type-checking the same objects against kubernetes-types with tsc (excess
// property checks). Anything else fails, except the CRDs listed here on purpose.
const KINDS = {
  "v1/ConfigMap": ["kubernetes-models/v1/ConfigMap", "core/v1", "ConfigMap"],
  "v1/Service": ["kubernetes-models/v1/Service", "core/v1", "Service"],
  "v1/ServiceAccount": ["kubernetes-models/v1/ServiceAccount", "core/v1", "ServiceAccount"],
  "v1/Namespace": ["kubernetes-models/v1/Namespace", "core/v1", "Namespace"],
  "apps/v1/Deployment": ["kubernetes-models/apps/v1/Deployment", "apps/v1", "Deployment"],
  "batch/v1/Job": ["kubernetes-models/batch/v1/Job", "batch/v1", "Job"],
  "autoscaling/v2/HorizontalPodAutoscaler": ["kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler", "autoscaling/v2", "HorizontalPodAutoscaler"],
  "policy/v1/PodDisruptionBudget": ["kubernetes-models/policy/v1/PodDisruptionBudget", "policy/v1", "PodDisruptionBudget"],
  "networking.k8s.io/v1/NetworkPolicy": ["kubernetes-models/networking.k8s.io/v1/NetworkPolicy", "networking/v1", "NetworkPolicy"],
  // CRD, deliberately allowed: Prometheus Operator's ServiceMonitor (deploy/components/servicemonitor),
  // validated by @kubernetes-models/prometheus-operator; no kubernetes-types strict check.
  "monitoring.coreos.com/v1/ServiceMonitor": ["@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor", null, null],
  // CRD, deliberately allowed: CloudNativePG's Cluster (deploy/overlays/ha-cloudnativepg), checked
  // against CNPG_CLUSTER_SCHEMA below (the fields this project uses, from the CRD's v1 API).
  "postgresql.cnpg.io/v1/Cluster": [null, null, null],
};

/** The part of CloudNativePG's Cluster v1 spec that deploy/ uses: unknown or mistyped fields fail. */
const quantity = { type: ["string", "number"] };
const CNPG_CLUSTER_SCHEMA = {
  type: "object",
  required: ["apiVersion", "kind", "metadata", "spec"],
  properties: {
    apiVersion: { const: "postgresql.cnpg.io/v1" },
    kind: { const: "Cluster" },
    metadata: { type: "object", required: ["name"], properties: { name: { type: "string", pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" } } },
    spec: {
      type: "object",
      additionalProperties: false,
      required: ["instances", "storage"],
      properties: {
        instances: { type: "integer", minimum: 1 },
        imageName: { type: "string", pattern: ":[0-9]" },
        primaryUpdateStrategy: { enum: ["supervised", "unsupervised"] },
        minSyncReplicas: { type: "integer", minimum: 0 },
        maxSyncReplicas: { type: "integer", minimum: 0 },
        postgresql: {
          type: "object",
          additionalProperties: false,
          properties: { parameters: { type: "object", additionalProperties: { type: "string" } } },
        },
        bootstrap: {
          type: "object",
          additionalProperties: false,
          properties: {
            initdb: {
              type: "object",
              additionalProperties: false,
              properties: { database: { type: "string" }, owner: { type: "string" }, secret: { type: "object", properties: { name: { type: "string" } } } },
            },
          },
        },
        storage: {
          type: "object",
          additionalProperties: false,
          required: ["size"],
          properties: { size: { type: "string" }, storageClass: { type: "string" } },
        },
        resources: {
          type: "object",
          additionalProperties: false,
          properties: {
            requests: { type: "object", additionalProperties: false, properties: { cpu: quantity, memory: quantity } },
            limits: { type: "object", additionalProperties: false, properties: { cpu: quantity, memory: quantity } },
          },
        },
        monitoring: { type: "object", additionalProperties: false, properties: { enablePodMonitor: { type: "boolean" } } },
      },
    },
  },
};

async function checkK8s(pairs) {
  const tsLines = [];
  const imports = new Set();
  const counts = [];
  const perOverlay = {};
  for (let p = 0; p < pairs.length; p += 2) {
    const [name, file] = [pairs[p], pairs[p + 1]];
    const objects = YAML.parseAllDocuments(read(file))
      .map((d) => d.toJS())
      .filter(Boolean);
    if (!objects.length) fail(`${name}: rendered no objects`);
    perOverlay[name] = objects;
    for (const [i, obj] of objects.entries()) {
      const key = `${obj.apiVersion}/${obj.kind}`;
      const id = `${name}: ${key} ${obj.metadata?.name}`;
      const entry = KINDS[key];
      if (!entry) {
        fail(`${id}: kind not allowed/unknown (add it to KINDS in check.mjs deliberately)`);
        continue;
      }
      if (entry[0] === null) {
        const { default: Ajv } = await import("ajv");
        const validate = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true }).compile(CNPG_CLUSTER_SCHEMA);
        if (!validate(obj)) for (const err of validate.errors) fail(`${id}: ${err.instancePath} ${err.message} ${JSON.stringify(err.params)}`);
        if (obj.spec.instances < 2) fail(`${id}: a highly available Cluster needs at least 2 instances`);
        if (!(obj.spec.minSyncReplicas >= 1)) fail(`${id}: minSyncReplicas must be at least 1, or a failover may lose acknowledged orders`);
        continue;
      }
      const mod = await import(entry[0]);
      const Model = mod[obj.kind];
      try {
        new Model(obj).validate();
      } catch (e) {
        for (const err of e.errors ?? [e]) fail(`${id}: ${err.instancePath ?? ""} ${err.message}`);
      }
      if (entry[1]) {
        imports.add(`import type { ${entry[2]} as ${entry[2]}_${entry[1].replace(/\W/g, "_")} } from "kubernetes-types/${entry[1]}";`);
        tsLines.push(`// ${id}\nexport const o_${p}_${i}: ${entry[2]}_${entry[1].replace(/\W/g, "_")} = ${JSON.stringify(obj, null, 1)};`);
      }
    }
    counts.push(`${name}: ${objects.length} objects`);
    overlayPolicy(name, objects);
    overlayRelations(name, objects);
  }
  // Strict field check with tsc: kubernetes-types marks unknown fields as excess properties.
  const dir = mkdtempSync(join(tmpdir(), "k8s-types-"));
  try {
    writeFileSync(join(dir, "objects.ts"), [...imports, ...tsLines].join("\n"));
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          module: "nodenext",
          moduleResolution: "nodenext",
          typeRoots: [],
          types: [],
          baseUrl: HERE,
          paths: { "kubernetes-types/*": [join(dirname(require.resolve("kubernetes-types/package.json")), "*")] },
        },
        files: ["objects.ts"],
      }),
    );
    const tsc = join(dirname(require.resolve("typescript/package.json")), "bin", "tsc");
    try {
      execFileSync(process.execPath, [tsc, "-p", dir], { stdio: "pipe" });
    } catch (e) {
      const out = (e.stdout?.toString() ?? "") + (e.stderr?.toString() ?? "");
      const src = [...imports, ...tsLines].join("\n").split("\n");
      for (const line of out
        .split("\n")
        .filter((l) => /error TS/.test(l))
        .slice(0, 20)) {
        const at = Number(/objects\.ts\((\d+),/.exec(line)?.[1] ?? 0);
        const owner =
          src
            .slice(0, at)
            .reverse()
            .find((l) => l.startsWith("// "))
            ?.slice(3) ?? "?";
        fail(`${owner}: ${line.replace(/^.*error (TS\d+):/, "$1")}`);
      }
      if (!/error TS/.test(out)) fail(`tsc failed: ${out.slice(0, 500)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  finish("kubernetes manifests", `${counts.join(", ")}; kubernetes-models schema + kubernetes-types strict fields`);
}

/** What the overlays promise (README): probes, security context, secrets by reference only, sizes. */
function overlayPolicy(name, objects) {
  const byKind = (k) => objects.filter((o) => o.kind === k);
  const problem = (m) => fail(`${name}: ${m}`);
  if (byKind("Secret").length) problem("a Secret is rendered: reference order-service-secrets, never commit it");
  // A CloudNativePG Cluster's application Secret (made by the operator) may be referenced too.
  const databases = byKind("Cluster").map((c) => c.metadata.name);
  const allowedSecrets = new Set(["order-service-secrets", ...databases.map((name) => `${name}-app`)]);
  /** A database URL built only from variables (secret references) and pointing at a Cluster's `-rw` or `-ro` service. */
  const composedUrl = (value, service) =>
    /^postgres(ql)?:\/\/\$\([A-Z_]+\):\$\([A-Z_]+\)@([a-z0-9-]+):\d+\/\w+(\?[\w=&]*)?$/.exec(value)?.[2] === service &&
    databases.some((name) => service.startsWith(`${name}-`));
  const deploy = byKind("Deployment")[0];
  const job = byKind("Job")[0];
  if (!deploy) problem("no Deployment");
  if (!job) problem("no migration Job");
  if (!byKind("Service").length) problem("no Service");
  const images = new Set();
  for (const w of [deploy, job].filter(Boolean)) {
    const pod = w.spec.template.spec;
    const psc = pod.securityContext ?? {};
    if (psc.runAsNonRoot !== true) problem(`${w.kind}: pod runAsNonRoot must be true`);
    if (psc.seccompProfile?.type !== "RuntimeDefault") problem(`${w.kind}: seccompProfile RuntimeDefault`);
    for (const c of pod.containers) {
      images.add(c.image);
      const sc = c.securityContext ?? {};
      if (sc.allowPrivilegeEscalation !== false) problem(`${w.kind}/${c.name}: allowPrivilegeEscalation must be false`);
      if (sc.readOnlyRootFilesystem !== true) problem(`${w.kind}/${c.name}: readOnlyRootFilesystem must be true`);
      if (!(sc.capabilities?.drop ?? []).includes("ALL")) problem(`${w.kind}/${c.name}: capabilities must drop ALL`);
      if (!c.resources?.requests || !c.resources?.limits) problem(`${w.kind}/${c.name}: resource requests and limits`);
      if (!(c.volumeMounts ?? []).some((m) => m.mountPath === "/tmp")) problem(`${w.kind}/${c.name}: /tmp emptyDir`);
      if (/:latest$|^[^:]+$/.test(c.image) || /latest-build/.test(c.image)) problem(`${w.kind}/${c.name}: image ${c.image} needs a real tag`);
      for (const e of c.env ?? []) {
        const composed = databases.length > 0 && (e.name === "DATABASE_URL" || e.name === "DATABASE_READ_URL");
        if (composed) {
          const service = `${databases[0]}-${e.name === "DATABASE_URL" ? "rw" : "ro"}`;
          if (!composedUrl(e.value ?? "", service)) problem(`${w.kind}/${c.name}: ${e.name} must be built from secret variables and point at ${service}`);
        } else if (/SECRET|PASSWORD|TOKEN|DATABASE_URL/.test(e.name) && e.value !== undefined)
          problem(`${w.kind}/${c.name}: ${e.name} given as a literal value`);
        if (e.valueFrom?.secretKeyRef && !allowedSecrets.has(e.valueFrom.secretKeyRef.name)) problem(`${e.name}: secret ${e.valueFrom.secretKeyRef.name}`);
      }
    }
  }
  if (images.size > 1) problem(`Deployment and Job use different images: ${[...images].join(", ")}`);
  if (deploy) {
    const pod = deploy.spec.template.spec;
    const c = pod.containers[0];
    if (c.livenessProbe?.httpGet?.path !== "/healthz") problem("liveness probe must hit /healthz");
    if (c.readinessProbe?.httpGet?.path !== "/readyz") problem("readiness probe must hit /readyz");
    if (!c.lifecycle?.preStop) problem("preStop hook (endpoint drain) missing");
    const preStop = c.lifecycle?.preStop?.sleep?.seconds ?? 0;
    if (!((pod.terminationGracePeriodSeconds ?? 30) > 10 + preStop)) problem("terminationGracePeriodSeconds must exceed preStop + the app's 10 s drain");
    const envNames = new Set((c.env ?? []).map((e) => e.name));
    for (const k of ["JWT_SECRET", "DATABASE_URL"]) if (!envNames.has(k)) problem(`container env lacks ${k} (secretKeyRef)`);
    if (job && !job.spec.template.spec.containers[0].args?.join(" ").includes("dist/scripts/migrate.js")) problem("Job must run node dist/scripts/migrate.js");
    const sel = deploy.spec.selector.matchLabels;
    const jobLabels = job?.spec.template.metadata?.labels ?? {};
    if (Object.entries(sel).every(([k, v]) => jobLabels[k] === v)) problem("migration Job pods match the Deployment/Service selector");
    for (const s of byKind("Service"))
      if (!Object.entries(s.spec.selector ?? {}).every(([k, v]) => deploy.spec.template.metadata.labels[k] === v))
        problem(`Service ${s.metadata.name} selects no API pod`);
  }
  const hpa = byKind("HorizontalPodAutoscaler")[0];
  const pdb = byKind("PodDisruptionBudget")[0];
  if (name === "dev") {
    if (deploy?.spec.replicas !== 1) problem("dev must run 1 replica");
    if (hpa || pdb) problem("dev should have neither HPA nor PDB");
    if (!deploy?.spec.template.spec.containers[0].image.endsWith(":dev")) problem("dev image tag must be dev");
  }
  if (name === "prod") {
    if (hpa?.spec.minReplicas !== 3 || hpa?.spec.maxReplicas !== 10) problem("prod HPA must be 3-10");
    if (hpa && !hpa.spec.metrics?.some((m) => m.resource?.name === "cpu")) problem("prod HPA must scale on CPU");
    if (pdb?.spec.minAvailable !== 2) problem("prod PDB minAvailable must be 2");
    if (deploy?.spec.replicas !== undefined && deploy.spec.replicas !== 3) problem("prod replicas");
  }
}

/**
 * What deploy/README.md's steps rely on, object to object: the migration step's label selection
 * holds everything its Job needs, every Secret key referenced is in deploy/secret.example.yaml and
 * in the README's `kubectl create secret` command, and metrics scraping can authenticate.
 */
function overlayRelations(name, objects) {
  const problem = (m) => fail(`${name}: ${m}`);
  const readme = read("deploy/README.md");
  const labelsOf = (o) => o.metadata?.labels ?? {};
  const byKind = (k) => objects.filter((o) => o.kind === k);
  const deploy = byKind("Deployment")[0];
  const job = byKind("Job")[0];

  // 1. `kubectl apply -k $K -l <selector>` as the README writes it.
  const selector = /kubectl apply -k \S+ -l (\S+)/.exec(readme)?.[1];
  if (!selector) problem("deploy/README.md has no `kubectl apply -k … -l <selector>` migration step");
  else if (job) {
    const [key, value] = selector.split("=");
    const selected = objects.filter((o) => labelsOf(o)[key] === value);
    const has = (kind, n) => selected.some((o) => o.kind === kind && o.metadata.name === n);
    if (!has("Job", job.metadata.name)) problem(`-l ${selector} does not select the migration Job`);
    const pod = job.spec.template.spec;
    const account = pod.serviceAccountName ?? "default";
    if (account !== "default" && !has("ServiceAccount", account))
      problem(`-l ${selector} selects the Job but not its ServiceAccount ${account}: in a fresh namespace the Job never gets a pod`);
    const rendered = (kind, n) => objects.some((o) => o.kind === kind && o.metadata.name === n);
    for (const c of pod.containers) {
      for (const ref of [...(c.envFrom ?? []).map((e) => e.configMapRef), ...(c.env ?? []).map((e) => e.valueFrom?.configMapKeyRef)].filter(Boolean)) {
        if (rendered("ConfigMap", ref.name) && !has("ConfigMap", ref.name)) problem(`-l ${selector} leaves out ConfigMap ${ref.name}, which the Job reads`);
      }
    }
    for (const o of selected)
      if (["Deployment", "Service", "HorizontalPodAutoscaler"].includes(o.kind))
        problem(`-l ${selector} also applies ${o.kind} ${o.metadata.name}: the app would roll out before the migration`);
  }

  // 2. Secret keys: in the example Secret and in the README's create command.
  const example = YAML.parse(read("deploy/secret.example.yaml"));
  const exampleKeys = new Set(Object.keys({ ...example?.stringData, ...example?.data }));
  const command = /kubectl -n \S+ create secret generic order-service-secrets(?:[^\n]*\\\n)*[^\n]*/.exec(readme)?.[0] ?? "";
  const commandKeys = new Set([...command.matchAll(/--from-literal=([A-Z_]+)=/g)].map((m) => m[1]));
  if (!command) problem("deploy/README.md has no `kubectl -n … create secret generic order-service-secrets` command");
  const refs = [];
  for (const w of [deploy, job].filter(Boolean)) {
    for (const c of w.spec.template.spec.containers) {
      for (const e of c.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef;
        if (ref) refs.push({ where: `${w.kind}/${c.name} ${e.name}`, ...ref });
      }
    }
  }
  for (const sm of byKind("ServiceMonitor")) {
    for (const ep of sm.spec.endpoints ?? []) {
      const cred = ep.authorization?.credentials ?? ep.bearerTokenSecret;
      if (cred) refs.push({ where: `ServiceMonitor ${sm.metadata.name}`, name: cred.name, key: cred.key, optional: false });
    }
  }
  // The Secret CloudNativePG makes for a rendered Cluster's application owner, with the keys it documents.
  const operatorSecrets = new Set(byKind("Cluster").map((c) => `${c.metadata.name}-app`));
  const OPERATOR_KEYS = new Set(["username", "password", "host", "port", "dbname", "uri", "jdbc-uri", "pgpass"]);
  for (const ref of refs) {
    if (operatorSecrets.has(ref.name)) {
      if (!OPERATOR_KEYS.has(ref.key)) problem(`${ref.where}: CloudNativePG's Secret ${ref.name} has no key ${ref.key}`);
      continue;
    }
    if (ref.name !== example?.metadata?.name) problem(`${ref.where}: Secret ${ref.name} is not the example's ${example?.metadata?.name}`);
    if (!exampleKeys.has(ref.key)) problem(`${ref.where}: key ${ref.key} is missing from deploy/secret.example.yaml`);
    if (!ref.optional && !commandKeys.has(ref.key)) problem(`${ref.where}: required key ${ref.key} is missing from the README's create secret command`);
  }
  if (deploy && !refs.some((r) => r.where.startsWith("Deployment") && r.key === "ADMIN_PASSWORD"))
    problem("the Deployment cannot create the first admin: no ADMIN_PASSWORD from the Secret");

  // 3. Metrics: annotation discovery sends no credentials, a ServiceMonitor sends METRICS_TOKEN.
  if (deploy) {
    const annotations = deploy.spec.template.metadata?.annotations ?? {};
    const container = deploy.spec.template.spec.containers[0];
    const tokenRef = (container.env ?? []).find((e) => e.name === "METRICS_TOKEN")?.valueFrom?.secretKeyRef;
    const byAnnotation = annotations["prometheus.io/scrape"] === "true";
    const monitors = byKind("ServiceMonitor");
    if (byAnnotation && monitors.length) problem("both scrape annotations and a ServiceMonitor: pick one");
    if (!byAnnotation && !monitors.length) problem("nothing scrapes /metrics (neither annotations nor a ServiceMonitor)");
    if (byAnnotation) {
      if (tokenRef) problem("scrape annotations with METRICS_TOKEN set: annotation-based scraping sends no token, every scrape would get 401");
      const ports = container.ports.map((p) => String(p.containerPort));
      if (!ports.includes(String(annotations["prometheus.io/port"])))
        problem(`prometheus.io/port ${annotations["prometheus.io/port"]} is not a container port`);
      if ((annotations["prometheus.io/path"] ?? "/metrics") !== "/metrics") problem("prometheus.io/path must be /metrics");
    }
    for (const sm of monitors) {
      const services = byKind("Service").filter((svc) => Object.entries(sm.spec.selector?.matchLabels ?? {}).every(([k, v]) => labelsOf(svc)[k] === v));
      if (!services.length) problem(`ServiceMonitor ${sm.metadata.name} selects no Service`);
      for (const ep of sm.spec.endpoints ?? []) {
        if (!services.some((svc) => svc.spec.ports.some((p) => p.name === ep.port)))
          problem(`ServiceMonitor port ${ep.port} is not a port of the selected Service`);
        if ((ep.path ?? "/metrics") !== "/metrics") problem("ServiceMonitor path must be /metrics");
        const cred = ep.authorization?.credentials ?? ep.bearerTokenSecret;
        if (!cred) problem("ServiceMonitor sends no credentials: /metrics answers 401 when METRICS_TOKEN is set");
        else if (!tokenRef || tokenRef.name !== cred.name || tokenRef.key !== cred.key)
          problem(`ServiceMonitor sends ${cred.name}/${cred.key}, but the app's METRICS_TOKEN is ${tokenRef ? `${tokenRef.name}/${tokenRef.key}` : "unset"}`);
        else if (tokenRef.optional) problem("METRICS_TOKEN is optional while the ServiceMonitor needs it: make it required");
      }
    }
  }
}

// ---------------------------------------------------------------- ops -----------
// The metric names the app exposes (src/observability, fastify-metrics defaults). Histograms also
// expose _bucket/_count/_sum.
const HISTOGRAMS = {
  http_request_duration_seconds: ["method", "route", "status_code"],
  db_query_duration_seconds: ["model", "operation"],
  db_coalesced_reads: [],
  webhook_attempt_duration_seconds: [],
};
const METRICS = {
  nodejs_eventloop_lag_p99_seconds: [],
  process_resident_memory_bytes: [],
  process_cpu_seconds_total: [],
  orders_placed_total: [],
  orders_declined_total: ["reason"],
  order_units_sold_total: [],
  orders_cancelled_total: [],
  order_units_returned_total: [],
  db_pool_connections: ["state"],
  db_pool_max_connections: [],
  service_ready: [],
  rate_limit_store_up: ["store"],
  rate_limit_store_errors_total: ["store"],
  coordination_connection_up: [],
  periodic_jobs_leader: [],
  periodic_job_runs_total: ["job", "outcome"],
  webhook_delivery_attempts_total: ["outcome"],
  webhook_deliveries_pending: [],
  webhook_oldest_pending_age_seconds: [],
  webhook_endpoints_disabled: [],
  up: [],
};
for (const [h, labels] of Object.entries(HISTOGRAMS)) {
  METRICS[`${h}_bucket`] = [...labels, "le"];
  METRICS[`${h}_count`] = labels;
  METRICS[`${h}_sum`] = labels;
}
const TARGET_LABELS = ["job", "instance", "service", "namespace", "pod"];
const PROMQL_WORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"]);

/** Metric names and label matchers used in a PromQL expression (Grafana variables stripped). */
export function promqlSelectors(expr) {
  let e = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""').replace(/\[[^\]]*\]/g, "");
  e = e.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "");
  const found = [];
  const re = /([A-Za-z_:][A-Za-z0-9_:]*)?\s*(\{[^}]*\})|([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g;
  let m;
  while ((m = re.exec(e))) {
    if (m[2] !== undefined) {
      found.push({ name: m[1], matchers: m[2] });
      continue;
    }
    if (m[4] !== undefined || PROMQL_WORDS.has(m[3]) || /^\d/.test(m[3])) continue;
    if (/^\$|__/.test(m[3]) || e[m.index - 1] === "$") continue;
    found.push({ name: m[3], matchers: "" });
  }
  return found;
}

function checkExpr(where, expr) {
  const sels = promqlSelectors(expr.replace(/\$\{?[A-Za-z_][A-Za-z0-9_]*\}?/g, "1"));
  if (!sels.length) fail(`${where}: no metric in ${expr}`);
  for (const { name, matchers } of sels) {
    if (!name) {
      fail(`${where}: selector without a metric name`);
      continue;
    }
    if (!(name in METRICS)) {
      fail(`${where}: unknown metric ${name}`);
      continue;
    }
    const original = promqlSelectors(expr).find((s) => s.name === name)?.matchers ?? matchers;
    for (const [, label] of original.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)/g))
      if (!METRICS[name].includes(label) && !TARGET_LABELS.includes(label)) fail(`${where}: ${name} has no label ${label}`);
  }
  return sels.length;
}

function checkOps() {
  // Prometheus config
  const prom = YAML.parse(read("ops/prometheus/prometheus.yml"));
  const job = prom?.scrape_configs?.find((s) => s.job_name === "order-service");
  if (!job) fail("prometheus.yml: no order-service scrape job");
  else {
    if ((job.metrics_path ?? "/metrics") !== "/metrics") fail("prometheus.yml: metrics_path must be /metrics");
    const scrapesApi =
      job.static_configs?.some((c) => c.targets?.includes("api:8000")) || job.dns_sd_configs?.some((c) => c.names?.includes("api") && c.port === 8000);
    if (!scrapesApi) fail("prometheus.yml: must scrape api:8000 (every replica: dns_sd_configs on the name api)");
  }
  // Grafana provisioning
  const ds = YAML.parse(read("ops/grafana/provisioning/datasources/prometheus.yml"));
  const dsUid = ds?.datasources?.[0]?.uid;
  if (ds?.datasources?.[0]?.url !== "http://prometheus:9090") fail("grafana datasource must point at http://prometheus:9090");
  const prov = YAML.parse(read("ops/grafana/provisioning/dashboards/order-service.yml"));
  if (prov?.providers?.[0]?.options?.path !== "/var/lib/grafana/dashboards") fail("dashboard provider path must be /var/lib/grafana/dashboards");
  // Dashboard
  const dash = JSON.parse(read("ops/grafana/dashboards/order-service.json"));
  const panels = (dash.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== "row");
  let queries = 0;
  const ids = new Set();
  for (const p of panels) {
    if (ids.has(p.id)) fail(`panel id ${p.id} duplicated`);
    ids.add(p.id);
    if (!p.targets?.length) fail(`panel "${p.title}" has no query`);
    for (const t of p.targets ?? []) {
      queries++;
      checkExpr(`panel "${p.title}" ${t.refId}`, t.expr ?? "");
    }
  }
  for (const v of dash.templating?.list ?? []) {
    if (v.type !== "query") continue;
    const q = typeof v.query === "string" ? v.query : v.query?.query;
    const lv = /^label_values\(\s*([^,]+),/.exec(q ?? "");
    checkExpr(`variable ${v.name}`, lv ? lv[1] : q);
  }
  if (dsUid !== "prometheus") fail("datasource uid must be prometheus (the dashboard's datasource variable defaults to it)");
  const titles = panels.map((p) => p.title.toLowerCase()).join("|");
  for (const want of ["request rate", "latency", "5xx", "4xx", "orders placed", "stock-outs", "units sold", "pool", "query latency", "event-loop", "memory"])
    if (!titles.includes(want)) fail(`dashboard lacks a "${want}" panel`);
  finish(
    "ops (prometheus.yml, grafana provisioning, dashboard)",
    `${panels.length} panels, ${queries} queries, metric names and labels all from the app's list`,
  );
}

const [cmd, ...rest] = process.argv.slice(2);
if (cmd === "dockerfile") await checkDockerfile();
else if (cmd === "compose") await checkCompose();
else if (cmd === "k8s") await checkK8s(rest);
else if (cmd === "ops") checkOps();
else {
  console.error("usage: check.mjs dockerfile|compose|k8s NAME FILE...|ops");
  process.exit(2);
}
