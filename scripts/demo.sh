#!/usr/bin/env bash
# The scaler's main job, on one machine: a simulated Dynamo fleet whose load rises
# and falls, metrics-keda, and a KEDA-like client showing the scaling decision each
# second. By default today's Dynamo (1.4 on): workers registered in a local etcd,
# publishing their load over ZMQ, no NATS at all. Stops on Ctrl-C, or after SECONDS
# if given.
#
#   scripts/demo.sh [--generation today|nats|stats] [--period SECONDS] [SECONDS]
#     today  Dynamo 1.4 on: etcd discovery, load events over ZMQ (the default)
#     nats   Dynamo 0.9 - 1.3: etcd discovery, load events over NATS
#     stats  Dynamo 0.1 - 0.5: $SRV.STATS scrapes over NATS
#   --period: of the load's sine wave, 60 s by default (longer ones read better on the
#   status page's charts, which have a point per 10 s)
set -euo pipefail
cd "$(dirname "$0")/.."
usage() {
  echo "usage: scripts/demo.sh [--generation today|nats|stats] [--period SECONDS] [SECONDS]" >&2
  exit 2
}
generation=today
period=60
duration=0
while [ $# -gt 0 ]; do
  case "$1" in
    --generation) [ $# -ge 2 ] || usage; generation=$2; shift 2 ;;
    --generation=*) generation=${1#*=}; shift ;;
    --period) [ $# -ge 2 ] || usage; period=$2; shift 2 ;;
    --period=*) period=${1#*=}; shift ;;
    ''|*[!0-9]*) usage ;;
    *) duration=$1; shift ;;
  esac
done
case "$generation" in today|nats|stats) ;; *) usage ;; esac
case "$period" in ''|*[!0-9]*|0) usage ;; esac

scripts/install-deps.sh
scripts/build.sh >/dev/null

source scripts/lib/processes.sh
trap 'exit 0' INT TERM

workers=4
pattern=sine:0.05:0.95:$period
common=(--workers "$workers" --pattern "$pattern" --spread 0.2 --component backend
        --endpoint generate)
case "$generation" in
  today)
    start_etcd
    build/dynamo-mock-worker "${common[@]}" --nats-server "" --events zmq \
      --etcd-endpoints "$etcd_url" --forward-pass-metrics --router-noise >"$work/fleet.log" 2>&1 &
    scaler_flags=(--source events --event-plane zmq --discovery-backend etcd
                  --etcd-endpoints "$etcd_url")
    where="registered in etcd ($etcd_url), publishing ActiveLoad and ForwardPassMetrics over ZMQ
(plus router records the scaler must ignore); no NATS"
    ;;
  nats)
    start_etcd
    start_nats
    build/dynamo-mock-worker "${common[@]}" --nats-server "$nats_url" --form null \
      --events nats-namespace --etcd-endpoints "$etcd_url" >"$work/fleet.log" 2>&1 &
    scaler_flags=(--source auto --event-plane nats --nats-server "$nats_url"
                  --discovery-backend etcd --etcd-endpoints "$etcd_url")
    where="registered in etcd ($etcd_url), publishing envelopes on NATS ($nats_url) and answering
\$SRV.STATS with data: null"
    ;;
  stats)
    start_nats
    build/dynamo-mock-worker "${common[@]}" --nats-server "$nats_url" >"$work/fleet.log" 2>&1 &
    scaler_flags=(--source stats --nats-server "$nats_url" --discovery-backend none)
    where="answering \$SRV.STATS on NATS ($nats_url)"
    ;;
esac
pids+=($!)
wait_for "$work/fleet.log" 'ready' >/dev/null

build/metrics-keda --host 127.0.0.1 --port 0 --metrics-port 0 --component-name backend \
  --endpoint-name generate --check-interval 1 --cache-ttl 1 "${scaler_flags[@]}" \
  >"$work/scaler.log" 2>&1 &
pids+=($!)
scaler_port=$(wait_for "$work/scaler.log" '\(port [0-9]+\)' | grep -oE '[0-9]+')
http_port=$(wait_for "$work/scaler.log" 'HTTP on port [0-9]+' | grep -oE '[0-9]+$')

cat <<INFO
$workers simulated Dynamo workers of dynamo/backend/generate ($generation generation), $where.
Load follows a $period s sine wave between 0.05 and 0.95; metrics-keda on 127.0.0.1:$scaler_port,
its status page on http://127.0.0.1:$http_port/.
Trigger: llm_load_avg, threshold 0.7, activationThreshold 0.2; replicas as the HPA would set
them from $workers current (min 0, max 10). Ctrl-C stops.

INFO
count=0
[ "$duration" -gt 0 ] && count=$duration
build/keda-query --address "127.0.0.1:$scaler_port" --watch 1 --count "$count" \
  --current "$workers" --min 0 --max 10 activationThreshold=0.2
