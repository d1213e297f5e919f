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

source scripts/lib/processes.sh
trap 'exit 0' INT TERM
start_nats

workers=4
build/dynamo-mock-worker --nats-server "$nats_url" --workers "$workers" \
  --pattern sine:0.05:0.95:60 --spread 0.2 >"$work/fleet.log" 2>&1 &
pids+=($!)
wait_for "$work/fleet.log" 'ready' >/dev/null

build/metrics-keda --host 127.0.0.1 --port 0 --metrics-port 0 --nats-server "$nats_url" \
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
