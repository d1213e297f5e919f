#!/usr/bin/env bash
# Checks the deployment files under deploy/, offline except for one `npm ci`:
#   - renders deploy/kubernetes/base, every overlay and the examples with
#     `kubectl kustomize` and validates every object (Kubernetes and KEDA schemas,
#     the Dynamo operator's CRD schemas kept in deploy/test/schemas, unknown fields,
#     consistency, metrics-keda's trigger rules and flags, RBAC):
#     deploy/test/validate-manifests.mjs
#   - validates the samples of what the Dynamo operator and its workers create
#     (deploy/test/operator-objects) the same way
#   - lints deploy/Dockerfile statically: deploy/test/lint-dockerfile.mjs (with
#     build/metrics-keda present, also that the runtime stage's packages provide
#     every library the binary loads)
#   - checks the Grafana dashboard parses; given a Prometheus exposition file as $1
#     (the scaler's own /metrics output), that every metric the dashboard queries is
#     in it: deploy/test/check-dashboard.mjs
#
#   scripts/check-deploy.sh [EXPOSITION.txt]
#   KUBECTL=/path/to/kubectl scripts/check-deploy.sh     (default: kubectl)
set -euo pipefail
cd "$(dirname "$0")/.."

exposition="${1:-}"
kubectl="${KUBECTL:-kubectl}"
tests=deploy/test
start=$EPOCHREALTIME
failures=()

since() { awk -v s="$1" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.1f", e - s }'; }
step() { printf '\n== %s\n' "$*"; }
fail() { failures+=("$1"); }

if [ -n "$exposition" ] && [ ! -r "$exposition" ]; then
  echo "check-deploy: cannot read the exposition file $exposition" >&2
  exit 2
fi
command -v node >/dev/null || { echo "check-deploy: node is required" >&2; exit 2; }
command -v "$kubectl" >/dev/null || { echo "check-deploy: $kubectl not found (set KUBECTL)" >&2; exit 2; }

if [ ! -d "$tests/node_modules" ]; then
  step "npm ci ($tests)"
  npm_start=$EPOCHREALTIME
  npm ci --silent --no-audit --no-fund --prefix "$tests"
  echo "npm ci took $(since "$npm_start")s"
fi

step "kubectl: $("$kubectl" version --client --short 2>/dev/null || "$kubectl" version --client 2>/dev/null | head -1)"

rendered=$(mktemp -d)
trap 'rm -rf "$rendered"' EXIT
dirs=(deploy/kubernetes/base)
for overlay in deploy/kubernetes/overlays/*/; do dirs+=("${overlay%/}"); done
dirs+=(deploy/kubernetes/examples)
for dir in "${dirs[@]}"; do
  name=${dir#deploy/kubernetes/}
  step "kubectl kustomize $dir"
  out="$rendered/${name//\//_}.yaml"
  if ! "$kubectl" kustomize "$dir" >"$out" 2>"$out.err"; then
    sed 's/^/  /' "$out.err" >&2
    fail "kustomize $name"
    continue
  fi
  # Newer kubectl versions warn about fields kubectl 1.20 requires (bases, ...).
  grep -v -i 'deprecated\|kustomize edit fix' "$out.err" | sed 's/^/  /' >&2 || true
  node "$tests/validate-manifests.mjs" --name "$name" <"$out" || fail "validate $name"
done

step "Dynamo operator objects ($tests/operator-objects)"
node "$tests/validate-manifests.mjs" "$tests"/operator-objects/*.yaml || fail "validate operator-objects"

step "Dockerfile (static)"
binary_args=()
[ -x build/metrics-keda ] && binary_args=(--binary build/metrics-keda)
node "$tests/lint-dockerfile.mjs" deploy/Dockerfile "${binary_args[@]}" || fail "Dockerfile"

dashboard=deploy/grafana/metrics-keda-dashboard.json
step "Grafana dashboard"
if [ -n "$exposition" ]; then
  node "$tests/check-dashboard.mjs" "$exposition" "$dashboard" || fail "dashboard"
else
  if node -e '
      const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      const n = (d.panels || []).filter((p) => p.type !== "row").length;
      if (n === 0) { console.log("FAIL no panels"); process.exit(1); }
      console.log(`ok   parses, ${n} panels (give an exposition file as $1 to check its metric names)`);
    ' "$dashboard"; then :; else fail "dashboard"; fi
fi

elapsed=$(since "$start")
echo
if [ ${#failures[@]} -eq 0 ]; then
  echo "check-deploy: all checks passed (${elapsed}s)"
else
  echo "check-deploy: FAILED: ${failures[*]} (${elapsed}s)"
  exit 1
fi
