#!/usr/bin/env bash
# Offline validation of the deployment files: Dockerfile, compose.yaml, deploy/ (kustomize), ops/.
# Run from anywhere; exits non-zero on the first failing check. Needs node + npm (its tools come
# from scripts/deploy-check/package-lock.json, installed there on first use) and kubectl >= 1.27
# for `kubectl kustomize` (preinstalled on this project's machines). No Docker engine, no cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
CHECK=scripts/deploy-check
step() { printf '%-5s %s\n' "$1" "$2"; }
# Every tool runs bounded: one that stops answering fails this script in minutes, where it once held
# a CI run until the run's own limit (the k8s check, after kustomize had rendered; not reproduced
# in 40 runs here). A run that times out is tried once more, then fails.
LIMIT=${DEPLOY_CHECK_LIMIT:-300}
bounded() {
  local rc=0
  timeout --kill-after=10 "$LIMIT" "$@" || rc=$?
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    step "..." "$* did not finish in ${LIMIT}s; running it once more"
    rc=0
    timeout --kill-after=10 "$LIMIT" "$@" || rc=$?
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then step "FAIL" "$* did not finish in ${LIMIT}s, twice"; fi
  fi
  return "$rc"
}

# Tools: a lockfile of their own, so the app's dependencies stay untouched.
if ! node -e "for (const m of ['dockerfile-utils','dclint/package.json','kubernetes-models/package.json','@kubernetes-models/prometheus-operator/package.json','kubernetes-types/package.json','typescript','yaml','ajv']) require.resolve(m, { paths: ['$CHECK'] })" 2>/dev/null \
   || [ "$CHECK/package-lock.json" -nt "$CHECK/node_modules/.package-lock.json" ]; then
  step "..." "installing validator tools (npm ci in $CHECK)"
  bounded npm ci --prefix "$CHECK" --no-audit --no-fund --loglevel=error >/dev/null
fi

# 1. Dockerfile: dockerfile-utils lint + image policy + .dockerignore vs COPY sources.
bounded node "$CHECK/check.mjs" dockerfile

# 2. compose.yaml: Compose-spec JSON schema, both profiles, required JWT_SECRET, dclint.
bounded node "$CHECK/check.mjs" compose
if docker compose version >/dev/null 2>&1; then
  JWT_SECRET=validate-deploy-only-0123456789abcdef docker compose -f compose.yaml config -q
  JWT_SECRET=validate-deploy-only-0123456789abcdef docker compose -f compose.yaml --profile monitoring config -q
  step "ok" "docker compose config -q (default and monitoring profiles)"
else
  step "skip" "docker compose config: no compose plugin for the docker client here (schema check above covers it)"
fi

# 3. Kustomize: render every overlay (and the base), validate every object offline.
if ! command -v kubectl >/dev/null 2>&1; then
  step "FAIL" "kubectl not found: kubectl >= 1.27 (kustomize v5) is needed to render deploy/ (Debian's kubernetes-client 1.20 is too old)"
  exit 1
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
pairs=()
for dir in deploy/base deploy/overlays/*/; do
  name=$(basename "$dir")
  bounded kubectl kustomize "$dir" >"$out/$name.yaml" || { step "FAIL" "kubectl kustomize $dir"; exit 1; }
  [ "$name" = base ] || pairs+=("$name" "$out/$name.yaml")
done
step "ok" "kubectl kustomize: base, $(ls -d deploy/overlays/*/ | xargs -n1 basename | paste -sd, -) rendered ($(kubectl version --client 2>/dev/null | grep -i kustomize | tr -d '\n'))"
bounded node "$CHECK/check.mjs" k8s "${pairs[@]}"

# 4. ops/: prometheus.yml, Grafana provisioning, dashboard queries use only the app's metrics.
bounded node "$CHECK/check.mjs" ops

step "ok" "all deploy checks passed in $(( $(date +%s) - start ))s"
