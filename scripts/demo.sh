#!/usr/bin/env bash
# The scaler's main job, on one machine: a local nats-server, a simulated Dynamo
# fleet whose load rises and falls, metrics-keda, and a KEDA-like client showing
# the scaling decision each second. Stops on Ctrl-C, or after SECONDS if given.
#
#   scripts/demo.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-0}"
case "$duration" in
  ''|*[!0-9]*) echo "usage: scripts/demo.sh [SECONDS]" >&2; exit 2 ;;
esac

scripts/install-deps.sh
scripts/build.sh >/dev/null

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

# Waits until FILE has a line matching PATTERN; prints the first match.
wait_for() {
  local file=$1 pattern=$2
  for _ in $(seq 100); do
    if grep -m1 -oE "$pattern" "$file" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "demo: timed out waiting for '$pattern' in $file:" >&2
  cat "$file" >&2
  return 1
}

nats_server=$(command -v nats-server || echo /usr/sbin/nats-server)
"$nats_server" -a 127.0.0.1 -p -1 >"$work/nats.log" 2>&1 &
pids+=($!)
nats_port=$(wait_for "$work/nats.log" 'client connections on [0-9.]+:[0-9]+' | grep -oE '[0-9]+$')
nats_url="nats://127.0.0.1:$nats_port"

workers=4
build/dynamo-mock-worker --nats-server "$nats_url" --workers "$workers" \
  --pattern sine:0.05:0.95:60 --spread 0.2 >"$work/fleet.log" 2>&1 &
pids+=($!)
wait_for "$work/fleet.log" 'ready' >/dev/null

build/metrics-keda --host 127.0.0.1 --port 0 --nats-server "$nats_url" \
  --check-interval 1 --cache-ttl 1 >"$work/scaler.log" 2>&1 &
pids+=($!)
scaler_port=$(wait_for "$work/scaler.log" '\(port [0-9]+\)' | grep -oE '[0-9]+')

cat <<INFO
nats-server on $nats_url; $workers simulated workers of dynamo/llm-worker/kv-router,
load following a 60 s sine wave between 0.05 and 0.95; metrics-keda on 127.0.0.1:$scaler_port.
Trigger: llm_load_avg, threshold 0.7, activationThreshold 0.2; replicas as the HPA would set
them from $workers current (min 0, max 10). Ctrl-C stops.

INFO
count=0
[ "$duration" -gt 0 ] && count=$duration
build/keda-query --address "127.0.0.1:$scaler_port" --watch 1 --count "$count" \
  --current "$workers" --min 0 --max 10 activationThreshold=0.2
