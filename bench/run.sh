#!/usr/bin/env bash
# bench/run.sh: the benchmark suite of metrics-keda, in one command.
#
# Builds in Release into its own directory (bench/build), then runs the
# micro-benchmarks (Google Benchmark) and, against a real nats-server and the
# simulated fleet (dynamo-mock-worker), the scaler's end-to-end figures on the
# stats path; then, against a real etcd, those of the event plane (workers
# registered in etcd publishing ActiveLoad over ZMQ: bench/event_flood,
# bench/event_latency and the simulated fleet). The scaler under test is pinned
# to CPU 0 and the load generators to CPU 1. Prints one table with the machine's
# core count and writes the same to bench/results.json. Every process it starts
# is stopped on exit; everything listens on 127.0.0.1 only, on ports the kernel
# picks (etcd's: free ones picked at random).
#
#   bench/run.sh              full run (about 11 minutes after the build)
#   QUICK=1 bench/run.sh      short run (about 4 minutes), noisier figures
#   EVENTS_ONLY=1 bench/run.sh   micro-benchmarks and the event plane only
#
# Knobs (environment): REPS, LOAD_SECONDS, WARMUP_SECONDS, CHANNELS, INFLIGHT,
# STALE_BURSTS, STALE_CALLERS, SCRAPE_WINDOW, CHANGE_TRIALS, CPU_SECONDS,
# SERIES_SECONDS, CEILING_OPTIONS (1: also try server options on the ceiling;
# default in the full run), OPTION_REPS, OPTION_SECONDS,
# CEILING_ARGS (extra ceiling_scaler flags), BENCH_BUILD_DIR, BENCH_SKIP_DEPS=1,
# BENCH_SKIP_BUILD=1, BENCH_KEEP_LOGS=1, RESULTS (output path).
# Event plane: EVENTS (0: skip it), EVENTS_ONLY=1, FLOOD_PUBLISHERS (1000),
# FLOOD_RATE (events/s, 100000), FLOOD_SECONDS (60; QUICK 10), FLOOD_THREADS (1),
# IDLE_RATE (events/s of an idle fleet's heartbeats, 100), IDLE_SECONDS (20;
# QUICK 8), PUSH_FLIPS (1000; QUICK 200), PUSH_GAP_MS (5), BIG_FLEET (10000),
# BIG_SETTLE_SECONDS (12), BIG_HEARTBEAT (the big fleet's heartbeat, seconds: 10,
# as Dynamo's).
set -euo pipefail
# The whole script is one compound command, read before it runs: editing this
# file during a run cannot change the run.
{
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then d_reps=1 d_load=5 d_warm=1 d_bursts=10 d_trials=5 d_cpu=10 d_series=5 d_opts=0
  d_flood=10 d_idle=8 d_flips=200
else d_reps=3 d_load=10 d_warm=2 d_bursts=30 d_trials=10 d_cpu=30 d_series=10 d_opts=1
  d_flood=60 d_idle=20 d_flips=1000; fi
REPS=${REPS:-$d_reps}
LOAD_SECONDS=${LOAD_SECONDS:-$d_load}
WARMUP_SECONDS=${WARMUP_SECONDS:-$d_warm}
CHANNELS=${CHANNELS:-4}
INFLIGHT=${INFLIGHT:-16}
STALE_BURSTS=${STALE_BURSTS:-$d_bursts}
STALE_CALLERS=${STALE_CALLERS:-64}
SCRAPE_WINDOW=${SCRAPE_WINDOW:-0.5}
CHANGE_TRIALS=${CHANGE_TRIALS:-$d_trials}
CPU_SECONDS=${CPU_SECONDS:-$d_cpu}
SERIES_SECONDS=${SERIES_SECONDS:-$d_series}
CEILING_OPTIONS=${CEILING_OPTIONS:-$d_opts}
OPTION_REPS=${OPTION_REPS:-2}
OPTION_SECONDS=${OPTION_SECONDS:-4}
CEILING_ARGS=${CEILING_ARGS:-}
EVENTS=${EVENTS:-1}
EVENTS_ONLY=${EVENTS_ONLY:-0}
[ "$EVENTS_ONLY" != 1 ] || EVENTS=1
FLOOD_PUBLISHERS=${FLOOD_PUBLISHERS:-1000}
FLOOD_RATE=${FLOOD_RATE:-100000}
FLOOD_SECONDS=${FLOOD_SECONDS:-$d_flood}
FLOOD_THREADS=${FLOOD_THREADS:-1}
IDLE_RATE=${IDLE_RATE:-100}
IDLE_SECONDS=${IDLE_SECONDS:-$d_idle}
PUSH_FLIPS=${PUSH_FLIPS:-$d_flips}
PUSH_GAP_MS=${PUSH_GAP_MS:-5}
BIG_FLEET=${BIG_FLEET:-10000}
BIG_SETTLE_SECONDS=${BIG_SETTLE_SECONDS:-12}
BIG_HEARTBEAT=${BIG_HEARTBEAT:-10}
BUILD_DIR=${BENCH_BUILD_DIR:-$ROOT/bench/build}
RESULTS=${RESULTS:-$ROOT/bench/results.json}
BIN=$BUILD_DIR
TOOLS=$BUILD_DIR/bench

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- build -------------------------------------------------------------------
if [ "${BENCH_SKIP_DEPS:-0}" != 1 ]; then scripts/install-deps.sh; fi
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  log "building (Release) in $BUILD_DIR"
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMETRICS_KEDA_TESTS=OFF \
    -DMETRICS_KEDA_BENCH=ON >/dev/null
  cmake --build "$BUILD_DIR" --parallel "$(nproc)" --target metrics-keda dynamo-mock-worker \
    micro_benchmarks ceiling_scaler grpc_load change_latency event_flood event_latency
fi
for tool in "$BIN/metrics-keda" "$BIN/dynamo-mock-worker" "$TOOLS/micro_benchmarks" \
            "$TOOLS/ceiling_scaler" "$TOOLS/grpc_load" "$TOOLS/change_latency" \
            "$TOOLS/event_flood" "$TOOLS/event_latency"; do
  [ -x "$tool" ] || die "missing $tool (build failed?)"
done
NATS_SERVER_BIN=$(command -v nats-server || echo /usr/sbin/nats-server)
[ "$EVENTS_ONLY" = 1 ] || [ -x "$NATS_SERVER_BIN" ] || die "nats-server not found"
ETCD_BIN=$(command -v etcd || echo /usr/bin/etcd)
[ "$EVENTS" != 1 ] || [ -x "$ETCD_BIN" ] || die "etcd not found"

# --- processes ---------------------------------------------------------------
WORK=$(mktemp -d /tmp/mk-bench.XXXXXX)
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "${BENCH_KEEP_LOGS:-0}" = 1 ]; then log "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

CORES=$(nproc)
if [ "$CORES" -ge 2 ]; then SCALER_CPU=0 LOAD_CPU=1; else SCALER_CPU="" LOAD_CPU=""; fi
HZ=$(getconf CLK_TCK)

# start NAME CPU CMD...: runs CMD in the background (pinned to CPU if given),
# output to $WORK/NAME.log; sets LAST_PID.
start() {
  local name=$1 cpu=$2
  shift 2
  if [ -n "$cpu" ]; then set -- taskset -c "$cpu" "$@"; fi
  "$@" >"$WORK/$name.log" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}
# stop PID: SIGTERM, then SIGKILL after 5 s.
stop() {
  local pid=$1 kept=() p
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || kept+=("$p"); done
  PIDS=("${kept[@]}")
}
# wait_for FILE REGEX [SECONDS]: prints the first match.
wait_for() {
  local file=$1 pattern=$2 tries=$(( ${3:-20} * 10 ))
  for _ in $(seq "$tries"); do
    if grep -m1 -oE "$pattern" "$file" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  log "timed out waiting for '$pattern' in $file:"
  tail -20 "$file" >&2
  return 1
}
# run_tool CPU CMD...: runs CMD in the foreground (pinned).
run_tool() {
  local cpu=$1
  shift
  if [ -n "$cpu" ]; then taskset -c "$cpu" "$@"; else "$@"; fi
}
# kv LINE KEY: the value of KEY=VALUE in a line of figures.
kv() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k {v = $2} END {print (v == "" ? "nan" : v)}'; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Ticks all CPUs spent busy (user, nice, system, irq, softirq, steal).
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
status_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
median() { printf '%s\n' "$@" | sort -g | awk 'NF {a[++n] = $1} END {print (n ? a[int((n + 1) / 2)] : "nan")}'; }
# calc EXPR [DECIMALS]: awk arithmetic; nan when an operand is missing.
calc() {
  case "$1" in *nan*) echo nan; return ;; esac
  awk "BEGIN {printf \"%.${2:-2}f\", $1}" 2>/dev/null || echo nan
}
# http_get PORT PATH: the body of a GET on 127.0.0.1 (bash's /dev/tcp, no curl).
http_get() {
  local response
  exec 9<>"/dev/tcp/127.0.0.1/$1"
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&9
  response=$(cat <&9)
  exec 9<&-
  printf '%s\n' "${response#*$'\r\n\r\n'}"
}
scrape_rounds() { http_get "$1" /metrics | awk '/^metrics_keda_scrape_rounds_total/ {s += $NF} END {print s + 0}'; }

start_nats() {
  start nats "" "$NATS_SERVER_BIN" -a 127.0.0.1 -p -1
  NATS_PID=$LAST_PID
  NATS_URL="nats://127.0.0.1:$(wait_for "$WORK/nats.log" 'client connections on [0-9.]+:[0-9]+' |
    grep -oE '[0-9]+$')"
}
# start_fleet COMPONENT WORKERS: a simulated fleet at constant load 0.5, with a
# control subject bench.control.COMPONENT; sets FLEET_PID.
start_fleet() {
  start "fleet-$1" "" "$BIN/dynamo-mock-worker" --nats-server "$NATS_URL" --component "$1" \
    --workers "$2" --pattern constant:0.5 --control-subject "bench.control.$1"
  FLEET_PID=$LAST_PID
  wait_for "$WORK/fleet-$1.log" '^ready' 30 >/dev/null
}
# start_scaler NAME COMPONENT ARGS...: metrics-keda pinned to the scaler CPU;
# sets SCALER_PID, SCALER_ADDR, SCALER_HTTP.
start_scaler() {
  local name=$1 component=$2 line
  shift 2
  start "$name" "$SCALER_CPU" "$BIN/metrics-keda" --host 127.0.0.1 --port 0 --metrics-port 0 \
    --nats-server "$NATS_URL" --component-name "$component" "$@"
  SCALER_PID=$LAST_PID
  line=$(wait_for "$WORK/$name.log" '\(port [0-9]+.*HTTP on port [0-9]+' 20)
  SCALER_ADDR="127.0.0.1:$(grep -oE '\(port [0-9]+' <<<"$line" | grep -oE '[0-9]+')"
  SCALER_HTTP=$(grep -oE 'HTTP on port [0-9]+' <<<"$line" | grep -oE '[0-9]+')
}
# wait_answer ADDRESS TRIGGER: until one GetMetrics of TRIGGER ("k=v,...,expect=X") is right.
wait_answer() {
  local out
  for _ in $(seq 60); do
    out=$("$TOOLS/grpc_load" --address "$1" --bursts 1 --burst 1 --gap-ms 0 --trigger "$2" 2>/dev/null || true)
    [ "$(kv "$out" ok)" = 1 ] && return 0
    sleep 0.5
  done
  die "no right answer for trigger '$2' from $1"
}
# load_run SERVER_PID ARGS...: a steady grpc_load run on the load CPU; prints its
# figures plus, over the measured seconds, server_cpu and other_cpu: percent of
# one core used by the server, and by everything but the server and the
# generator (noise from other processes; it should be near 0).
load_run() {
  local server=$1 out t0 t1 s0 s1
  shift
  local pin=()
  [ -z "$LOAD_CPU" ] || pin=(taskset -c "$LOAD_CPU")
  "${pin[@]}" "$TOOLS/grpc_load" --channels "$CHANNELS" --inflight "$INFLIGHT" \
    --warmup "$WARMUP_SECONDS" --duration "$LOAD_SECONDS" "$@" >"$WORK/load.out" 2>>"$WORK/load.err" &
  local pid=$!
  sleep "$WARMUP_SECONDS"
  t0=$(ticks "$server") s0=$(busy_ticks)
  sleep "$LOAD_SECONDS"
  t1=$(ticks "$server") s1=$(busy_ticks)
  wait "$pid" || die "grpc_load failed: $(cat "$WORK/load.err")"
  out=$(cat "$WORK/load.out")
  # The generator's own CPU (client_cpu, a fraction of one core) is subtracted too.
  echo "$out server_cpu=$(calc "($t1 - $t0) * 100 / $HZ / $LOAD_SECONDS" 0)" \
    "other_cpu=$(calc "(($s1 - $s0) - ($t1 - $t0)) * 100 / $HZ / $LOAD_SECONDS - $(kv "$out" client_cpu) * 100" 0)"
}

# --- the event plane's processes -----------------------------------------------
now() { date +%s.%N; }
# A loopback TCP port nobody listens on now (etcd cannot be told to pick one).
free_port() {
  local port
  while true; do
    port=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
}
# start_etcd: a fresh single-node etcd in the work directory; sets ETCD_URL, ETCD_PID.
start_etcd() {
  local port peer
  port=$(free_port)
  peer=$(free_port)
  while [ "$peer" = "$port" ]; do peer=$(free_port); done
  rm -rf "$WORK/etcd"
  start etcd "" "$ETCD_BIN" --name bench --data-dir "$WORK/etcd" \
    --listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "bench=http://127.0.0.1:$peer"
  ETCD_PID=$LAST_PID
  wait_for "$WORK/etcd.log" 'ready to serve client requests' 30 >/dev/null
  ETCD_URL="http://127.0.0.1:$port"
}
# start_event_scaler NAME COMPONENT ARGS...: metrics-keda as beside Dynamo 1.4 (etcd
# discovery, ZMQ events, no NATS), pinned to the scaler CPU; sets SCALER_PID,
# SCALER_ADDR, SCALER_HTTP.
start_event_scaler() {
  local name=$1 component=$2 line
  shift 2
  start "$name" "$SCALER_CPU" "$BIN/metrics-keda" --host 127.0.0.1 --port 0 --metrics-port 0 \
    --source events --event-plane zmq --discovery-backend etcd --etcd-endpoints "$ETCD_URL" \
    --component-name "$component" --endpoint-name generate "$@"
  SCALER_PID=$LAST_PID
  line=$(wait_for "$WORK/$name.log" '\(port [0-9]+.*HTTP on port [0-9]+' 20)
  SCALER_ADDR="127.0.0.1:$(grep -oE '\(port [0-9]+' <<<"$line" | grep -oE '[0-9]+')"
  SCALER_HTTP=$(grep -oE 'HTTP on port [0-9]+' <<<"$line" | grep -oE '[0-9]+')
}
# wait_line FILE REGEX SECONDS PID:NAME...: prints the first line of FILE matching
# REGEX; dies when one of the processes exits first (its log named).
wait_line() {
  local file=$1 pattern=$2 tries=$(( $3 * 10 )) watched
  shift 3
  for _ in $(seq "$tries"); do
    if grep -m1 -E "$pattern" "$file" 2>/dev/null; then return 0; fi
    for watched in "$@"; do
      kill -0 "${watched%%:*}" 2>/dev/null ||
        die "${watched#*:} exited: $(tail -3 "$WORK/${watched#*:}.log" | tr '\n' ' ')"
    done
    sleep 0.1
  done
  die "timed out waiting for '$pattern' in $file"
}
# zmq_counters HTTP_PORT COMPONENT: "applied messages gaps dropped": the target's
# applied events and the ZMQ source's messages read, sequence gaps and drops.
zmq_counters() {
  http_get "$1" /metrics | awk -v c="component=\"$2\"" '
    /^metrics_keda_events_applied_total\{/ && index($0, c) {a = $NF}
    /^metrics_keda_source_event_messages_total\{source="zmq"\}/ {m = $NF}
    /^metrics_keda_source_sequence_gaps_total\{source="zmq"\}/ {g = $NF}
    /^metrics_keda_source_event_messages_dropped_total\{source="zmq"\}/ {d = $NF}
    END {printf "%.0f %.0f %.0f %.0f\n", a, m, g, d}'
}
# flood_run MODE NAME RATE SECONDS: FLOOD_PUBLISHERS publishers (bench/event_flood,
# on the load CPU) send RATE events/s for SECONDS to MODE, on the scaler CPU:
# `scaler` (the publishers registered in etcd), or a count-only subscriber with
# `each` (one SUB socket per publisher, polled as the scaler does) or `one` (one SUB
# socket connected to all). Sets FLOOD_OUT to key=value figures: sent, sent_rate,
# publisher_cpu, received (in the end, queues drained), share (received / sent),
# rate (received per second of the flood), window_rate (received per second
# while the publishers sent, queued messages left out), cpu (percent of one core
# over those seconds), other_cpu (everything else on the machine), rss_kib,
# hwm_kib; for the scaler also applied, gaps (sequence gaps it counted), dropped.
flood_run() {
  local mode=$1 name=$2 rate=$3 seconds=$4 fp sp etcd_args=() line t0 t1 k0 k1 f0 f1 b0 b1
  local c0="" c1="" tc0="" tc1="" last="" current="" rss hwm out window cpu counted
  local applied received gaps dropped
  [ "$mode" != scaler ] || etcd_args=(--etcd-endpoints "$ETCD_URL")
  start "$name-flood" "$LOAD_CPU" "$TOOLS/event_flood" publish --publishers "$FLOOD_PUBLISHERS" \
    --rate "$rate" --duration "$seconds" --threads "$FLOOD_THREADS" --subscribers 1 \
    --endpoints-out "$WORK/$name-endpoints.txt" --wait 300 "${etcd_args[@]}"
  fp=$LAST_PID
  wait_line "$WORK/$name-flood.log" '^registered' 300 "$fp:$name-flood" >/dev/null
  if [ "$mode" = scaler ]; then
    start_event_scaler "$name" backend
    sp=$SCALER_PID
  else
    start "$name" "$SCALER_CPU" "$TOOLS/event_flood" count \
      --endpoints-file "$WORK/$name-endpoints.txt" --sockets "$mode" --duration "$seconds"
    sp=$LAST_PID
  fi
  wait_line "$WORK/$name-flood.log" '^subscribed' 300 "$fp:$name-flood" "$sp:$name" >/dev/null
  # The scaler's counters are read outside the CPU window (/metrics lists every unit).
  if [ "$mode" = scaler ]; then tc0=$(now) c0=$(zmq_counters "$SCALER_HTTP" backend); fi
  t0=$(now) k0=$(ticks "$sp") f0=$(ticks "$fp") b0=$(busy_ticks)
  line=$(wait_line "$WORK/$name-flood.log" '^published' $((${seconds%.*} + 120)) \
         "$fp:$name-flood" "$sp:$name")
  k1=$(ticks "$sp") f1=$(ticks "$fp") b1=$(busy_ticks) t1=$(now)
  rss=$(status_kib "$sp" VmRSS) hwm=$(status_kib "$sp" VmHWM)
  cpu=$(calc "($k1 - $k0) * 100 / $HZ / ($t1 - $t0)" 1)
  out="sent=$(kv "$line" sent) seconds=$(kv "$line" seconds) sent_rate=$(kv "$line" rate)"
  out+=" publisher_cpu=$(calc "($f1 - $f0) * 100 / $HZ / ($t1 - $t0)" 0) cpu=$cpu"
  out+=" other_cpu=$(calc "(($b1 - $b0) - ($k1 - $k0) - ($f1 - $f0)) * 100 / $HZ / ($t1 - $t0)" 0)"
  if [ "$mode" = scaler ]; then
    tc1=$(now) c1=$(zmq_counters "$SCALER_HTTP" backend)
    # What was queued still arrives: read until the count stands still for a second.
    for _ in $(seq 60); do
      sleep 0.5
      current=$(zmq_counters "$SCALER_HTTP" backend)
      [ "$current" = "$last" ] && break
      last=$current
    done
    read -r applied received gaps dropped <<<"$current"
    window=$(calc "($(cut -d' ' -f2 <<<"$c1") - $(cut -d' ' -f2 <<<"$c0")) / ($tc1 - $tc0)" 0)
    out+=" received=$received window_rate=$window applied=$applied gaps=$gaps dropped=$dropped"
    stop "$sp"
  else
    wait "$sp" || true
    stop "$sp"
    counted=$(grep -m1 '^received=' "$WORK/$name.log" || echo "received=nan window_rate=nan")
    out+=" received=$(kv "$counted" received) window_rate=$(kv "$counted" window_rate)"
  fi
  out+=" share=$(calc "$(kv "$out" received) / $(kv "$out" sent)" 4)"
  out+=" rate=$(calc "$(kv "$out" received) / $(kv "$out" seconds)" 0) rss_kib=$rss hwm_kib=$hwm"
  stop "$fp"
  FLOOD_OUT=$out
}

# --- results -----------------------------------------------------------------
ROW_NAME=() ROW_VALUE=() ROW_TARGET=() ROW_MET=() ROW_NOTE=()
# row NAME VALUE TARGET MET NOTE: one line of the table (MET: yes, NO, or -).
row() { ROW_NAME+=("$1"); ROW_VALUE+=("$2"); ROW_TARGET+=("$3"); ROW_MET+=("$4"); ROW_NOTE+=("$5"); }
RAW=()
raw() { RAW+=("$1: $2"); log "$1: $2"; }
# verdict EXPR: yes or NO (NO too when a figure is missing: nan or empty).
verdict() {
  case "$1" in *nan*) echo NO; return ;; esac
  awk "BEGIN {print ($1) ? \"yes\" : \"NO\"}"
}

START_TIME=$(date +%s)
CPU_MODEL=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
GRPC_VERSION=$(pkg-config --modversion grpc++ 2>/dev/null || echo unknown)
log "machine: $CORES cores ($CPU_MODEL), gRPC $GRPC_VERSION; work dir $WORK"
[ -n "$SCALER_CPU" ] || log "fewer than 2 cores: nothing is pinned"

# --- 1. micro-benchmarks -------------------------------------------------------
log "micro-benchmarks"
MICRO_MIN_TIME=$([ "$QUICK" = 1 ] && echo 0.2 || echo 0.5)
run_tool "$SCALER_CPU" "$TOOLS/micro_benchmarks" --benchmark_format=csv \
  --benchmark_min_time="$MICRO_MIN_TIME" --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true >"$WORK/micro.csv" 2>"$WORK/micro.err"
# micro NAME: median CPU time of benchmark NAME in microseconds.
micro() {
  awk -F, -v n="\"$1_median\"" '$1 == n {
    t = $4; u = $5; gsub(/"/, "", u)
    f = (u == "ns") ? 0.001 : (u == "ms") ? 1000 : (u == "s") ? 1e6 : 1
    printf "%.3f", t * f; found = 1 }
    END { if (!found) printf "nan" }' "$WORK/micro.csv"
}
for b in BM_DecodeStatsFlat BM_DecodeStatsNested BM_DecodeZmqActiveLoad \
         BM_DecodeAndApplyZmqActiveLoad/1000 BM_DecodeAndApplyZmqActiveLoad/10000 \
         BM_EventSnapshot/1000 BM_EventSnapshot/10000 BM_Aggregate/100 \
         BM_Aggregate/1000 BM_Aggregate/10000 BM_RoundBookkeeping/1000 BM_RoundBookkeeping/10000 \
         BM_ParseTriggerMetadata BM_AnswerFor BM_TriggerLogRecord; do
  raw "micro $b" "$(micro "$b") us"
done
DEC_FLAT=$(micro BM_DecodeStatsFlat)
DEC_NESTED=$(micro BM_DecodeStatsNested)
AGG_10K=$(micro BM_Aggregate/10000)
row "decode one stats reply, flat (v0.3)" "$DEC_FLAT us" "<= 2 us" "$(verdict "$DEC_FLAT <= 2")" ""
row "decode one stats reply, nested (v0.4)" "$DEC_NESTED us" "<= 2 us" "$(verdict "$DEC_NESTED <= 2")" ""
row "aggregate 10,000 workers into the 4 figures" "$AGG_10K us" "<= 200 us" "$(verdict "$AGG_10K <= 200")" ""
DEC_ZMQ=$(micro BM_DecodeZmqActiveLoad)
APPLY_1K=$(micro BM_DecodeAndApplyZmqActiveLoad/1000)
APPLY_10K=$(micro BM_DecodeAndApplyZmqActiveLoad/10000)
SNAP_1K=$(micro BM_EventSnapshot/1000)
APPLY_MPS=$(calc "1 / $APPLY_1K" 2)
row "decode + apply one ZMQ ActiveLoad, 1,000 units" \
  "$APPLY_MPS M events/s ($(calc "$APPLY_1K * 1000" 0) ns each)" ">= 2 M events/s, one core" \
  "$(verdict "$APPLY_MPS >= 2")" "four frames -> envelope -> ActiveLoad -> the unit's figures (FleetModel); decoding alone $(calc "$DEC_ZMQ * 1000" 0) ns; 10,000 units $(calc "$APPLY_10K * 1000" 0) ns; no lock, no snapshot (one snapshot of 1,000 units: $SNAP_1K us)"

# Figures of the stats path, left as nan when it is not run (EVENTS_ONLY=1).
CEIL_RPS=nan CEIL_P99=nan REAL_RPS=nan REAL_P99=nan MULTI_RPS=nan MULTI_P99=nan
RPS_RATIO=nan P99_RATIO=nan REAL_US=nan CEIL_US=nan OTHER_MAX=nan ERRORS=0 WRONG=0
STALE_ROUNDS=nan STALE_P50=nan STALE_P99=nan GM_P50=nan GM_MAX=nan SI_P50=nan SI_MAX=nan
CPU_1K=nan RSS3=nan HWM3=nan TP_HWM=0 LOAD_SHAPE="" CPU_NOTE=""
C_RPS=() R_RPS=() M_RPS=() OPTION_LINES=() SERIES_LINES=()
if [ "$EVENTS_ONLY" != 1 ]; then
start_nats
log "nats-server at $NATS_URL"

# --- 2. ceiling options (optional) --------------------------------------------
if [ "$CEILING_OPTIONS" = 1 ]; then
  log "ceiling: trying server options (interleaved, $OPTION_REPS x ${OPTION_SECONDS}s each)"
  OPTIONS=(
    "as src/main.cc||"
    "abseil deadlock detection off||--deadlock-detection 0"
    "GRPC_POLL_STRATEGY=poll|GRPC_POLL_STRATEGY=poll|"
    "grpc.http2.bdp_probe=0||--arg grpc.http2.bdp_probe=0"
    "grpc.minimal_stack=1||--arg grpc.minimal_stack=1"
    "grpc.optimization_target=throughput||--sarg grpc.optimization_target=throughput"
    "grpc.enable_channelz=0||--arg grpc.enable_channelz=0"
    "grpc.max_concurrent_streams=16||--arg grpc.max_concurrent_streams=16"
  )
  declare -A OPT_RPS=() OPT_US=()
  for _ in $(seq "$OPTION_REPS"); do
    for option in "${OPTIONS[@]}"; do
      IFS='|' read -r label envs args <<<"$option"
      # shellcheck disable=SC2086
      start ceiling-option "$SCALER_CPU" env $envs "$TOOLS/ceiling_scaler" --value 500 $args
      cpid=$LAST_PID
      cport=$(wait_for "$WORK/ceiling-option.log" 'listening on port [0-9]+' | grep -oE '[0-9]+$')
      out=$(LOAD_SECONDS=$OPTION_SECONDS WARMUP_SECONDS=1 load_run "$cpid" \
            --address "127.0.0.1:$cport" --trigger expect=500)
      stop "$cpid"
      OPT_RPS[$label]="${OPT_RPS[$label]:-} $(kv "$out" rps)"
      OPT_US[$label]="${OPT_US[$label]:-} $(calc "$(kv "$out" server_cpu) * 10000 / $(kv "$out" rps)" 1)"
      raw "ceiling option [$label]" "$out"
    done
  done
  for option in "${OPTIONS[@]}"; do
    IFS='|' read -r label _ _ <<<"$option"
    # shellcheck disable=SC2086
    OPTION_LINES+=("$label|$(median ${OPT_RPS[$label]})|${OPT_RPS[$label]# }|$(median ${OPT_US[$label]})")
  done
fi

# --- 3. GetMetrics throughput: real scaler beside the ceiling -------------------
log "throughput: 1,000-worker fleets, scaler and ceiling on CPU ${SCALER_CPU:-any}"
start_fleet tp-a 1000
start_fleet tp-b 1000
start_fleet tp-c 1000
# shellcheck disable=SC2086
start ceiling "$SCALER_CPU" "$TOOLS/ceiling_scaler" --value 500 $CEILING_ARGS
CEILING_PID=$LAST_PID
CEILING_ADDR="127.0.0.1:$(wait_for "$WORK/ceiling.log" 'listening on port [0-9]+' | grep -oE '[0-9]+$')"
start_scaler scaler-tp tp-a --check-interval 5 --cache-ttl 3600
TP_PID=$SCALER_PID TP_ADDR=$SCALER_ADDR
wait_answer "$TP_ADDR" "expect=500"
wait_answer "$TP_ADDR" "component=tp-b,expect=500"
wait_answer "$TP_ADDR" "component=tp-c,expect=500"
C_RPS=() C_P99=() R_RPS=() R_P99=() M_RPS=() M_P99=()
C_CPU=() R_CPU=() C_GEN=() R_GEN=() OTHER=() C_US=() R_US=()
ERRORS=0 WRONG=0  # over every scaler run: non-OK statuses, OK with a wrong value
for rep in $(seq "$REPS"); do
  out=$(load_run "$CEILING_PID" --address "$CEILING_ADDR" --trigger expect=500)
  raw "ceiling run $rep" "$out"
  C_RPS+=("$(kv "$out" rps)") C_P99+=("$(kv "$out" p99_us)")
  C_CPU+=("$(kv "$out" server_cpu)") C_GEN+=("$(kv "$out" client_cpu)") OTHER+=("$(kv "$out" other_cpu)")
  C_US+=("$(calc "$(kv "$out" server_cpu) * 10000 / $(kv "$out" rps)" 1)")
  out=$(load_run "$TP_PID" --address "$TP_ADDR" --trigger expect=500)
  raw "scaler run $rep (1 target)" "$out"
  R_RPS+=("$(kv "$out" rps)") R_P99+=("$(kv "$out" p99_us)")
  R_CPU+=("$(kv "$out" server_cpu)") R_GEN+=("$(kv "$out" client_cpu)") OTHER+=("$(kv "$out" other_cpu)")
  R_US+=("$(calc "$(kv "$out" server_cpu) * 10000 / $(kv "$out" rps)" 1)")
  ERRORS=$((ERRORS + $(kv "$out" errors))) WRONG=$((WRONG + $(kv "$out" wrong)))
  out=$(load_run "$TP_PID" --address "$TP_ADDR" --trigger component=tp-a,expect=500 \
        --trigger component=tp-b,expect=500 --trigger component=tp-c,expect=500)
  raw "scaler run $rep (3 targets)" "$out"
  M_RPS+=("$(kv "$out" rps)") M_P99+=("$(kv "$out" p99_us)")
  ERRORS=$((ERRORS + $(kv "$out" errors))) WRONG=$((WRONG + $(kv "$out" wrong)))
done
TP_HWM=$(status_kib "$TP_PID" VmHWM)
stop "$TP_PID"
stop "$CEILING_PID"
CEIL_RPS=$(median "${C_RPS[@]}") CEIL_P99=$(median "${C_P99[@]}")
REAL_RPS=$(median "${R_RPS[@]}") REAL_P99=$(median "${R_P99[@]}")
MULTI_RPS=$(median "${M_RPS[@]}") MULTI_P99=$(median "${M_P99[@]}")
RPS_RATIO=$(calc "$REAL_RPS / $CEIL_RPS" 2)
P99_RATIO=$(calc "$REAL_P99 / $CEIL_P99" 2)
LOAD_SHAPE="${CHANNELS} conn x ${INFLIGHT} streams, median of $REPS"
OTHER_MAX=$(printf '%s\n' "${OTHER[@]}" | sort -g | tail -1)
REAL_US=$(median "${R_US[@]}") CEIL_US=$(median "${C_US[@]}")
CPU_NOTE="server CPU $(median "${R_CPU[@]}")% (ceiling $(median "${C_CPU[@]}")%), $REAL_US us/call (ceiling $CEIL_US); generator $(calc "$(median "${R_GEN[@]}") * 100" 0)% ($(calc "$(median "${C_GEN[@]}") * 100" 0)%); others <= ${OTHER_MAX}%"
row "GetMetrics/s, fresh snapshot, 1,000 workers" "$REAL_RPS/s = $RPS_RATIO x ceiling ($CEIL_RPS/s)" \
  ">= 0.9 x ceiling" "$(verdict "$RPS_RATIO >= 0.9 && $ERRORS + $WRONG == 0")" "$LOAD_SHAPE; errors $ERRORS, wrong values $WRONG; $CPU_NOTE"
row "GetMetrics p99 at that load" "$(calc "$REAL_P99 / 1000" 2) ms = $P99_RATIO x ceiling ($(calc "$CEIL_P99 / 1000" 2) ms)" \
  "<= 1.2 x ceiling p99" "$(verdict "$P99_RATIO <= 1.2")" "$LOAD_SHAPE"

# --- 4. stale snapshot: many callers share one scrape ---------------------------
log "stale snapshot: $STALE_BURSTS bursts of $STALE_CALLERS callers"
start_scaler scaler-stale tp-a --check-interval 3600 --cache-ttl 0.2 --max-staleness 60 \
  --scrape-window "$SCRAPE_WINDOW"
ST_PID=$SCALER_PID
wait_answer "$SCALER_ADDR" "expect=500"
before=$(scrape_rounds "$SCALER_HTTP")
out=$(run_tool "$LOAD_CPU" "$TOOLS/grpc_load" --address "$SCALER_ADDR" --channels "$CHANNELS" \
      --bursts "$STALE_BURSTS" --burst "$STALE_CALLERS" --gap-ms 400 --trigger expect=500)
after=$(scrape_rounds "$SCALER_HTTP")
stop "$ST_PID"
raw "stale bursts" "$out rounds=$((after - before))"
STALE_ROUNDS=$(calc "($after - $before) / $STALE_BURSTS" 2)
STALE_P99=$(calc "$(kv "$out" p99_us) / 1000" 1)
STALE_P50=$(calc "$(kv "$out" p50_us) / 1000" 1)
STALE_LIMIT=$(calc "$SCRAPE_WINDOW * 1000 + 5" 0)
STALE_OK=$(verdict "$STALE_ROUNDS > 0 && $STALE_ROUNDS <= 1 && $STALE_P99 <= $STALE_LIMIT && $(kv "$out" ok) == $STALE_BURSTS * $STALE_CALLERS")
row "GetMetrics, stale snapshot, $STALE_CALLERS callers at once" \
  "$STALE_ROUNDS scrapes per burst; p50 $STALE_P50 ms, p99 $STALE_P99 ms" \
  "1 scrape; p99 <= $STALE_LIMIT ms" "$STALE_OK" "1,000 workers, window ${SCRAPE_WINDOW}s, $STALE_BURSTS bursts; under 1: a burst met the end of a discovery round already running"

# --- 5. load change -> GetMetrics and StreamIsActive -----------------------------
log "load change latency: $CHANGE_TRIALS trials, check-interval 1 s"
start_fleet chg 1000
CHG_FLEET=$FLEET_PID
start_scaler scaler-change chg --check-interval 1 --cache-ttl 2
CH_PID=$SCALER_PID
wait_answer "$SCALER_ADDR" "expect=500"
out=$(run_tool "$LOAD_CPU" "$TOOLS/change_latency" --address "$SCALER_ADDR" --nats "$NATS_URL" \
      --control bench.control.chg --trials "$CHANGE_TRIALS" 2>"$WORK/change.err" || true)
cat "$WORK/change.err" >>"$WORK/change.log"
stop "$CH_PID"
stop "$CHG_FLEET"
[ -n "$out" ] || die "change_latency failed: $(cat "$WORK/change.err")"
raw "load change" "$out"
while read -r line; do raw "  change" "$line"; done <"$WORK/change.err"
GM_P50=$(kv "$out" getmetrics_p50_ms) GM_MAX=$(kv "$out" getmetrics_max_ms)
SI_P50=$(kv "$out" stream_p50_ms) SI_MAX=$(kv "$out" stream_max_ms)
MISSED=$(kv "$out" missed)
row "load change -> GetMetrics value (interval 1 s)" "p50 $GM_P50 ms, max $GM_MAX ms" "<= 1100 ms" \
  "$(verdict "$GM_MAX <= 1100 && $MISSED == 0")" "1,000 workers, $CHANGE_TRIALS trials at random phases"
row "load change -> StreamIsActive push (interval 1 s)" "p50 $SI_P50 ms, max $SI_MAX ms" "<= 1100 ms" \
  "$(verdict "$SI_MAX <= 1100 && $MISSED == 0")" "same trials"

# --- 6. series: scrape rounds, CPU and memory at 100 / 1,000 / 10,000 workers ----
SERIES_LINES=()
for workers in 100 1000 10000; do
  if [ "$workers" = 1000 ]; then seconds=$CPU_SECONDS; component=tp-a; fleet=""
  else seconds=$SERIES_SECONDS; component="s$workers"; start_fleet "$component" "$workers"; fleet=$FLEET_PID; fi
  log "series: $workers workers, check-interval 1 s, no KEDA load, ${seconds}s"
  start_scaler "scaler-$workers" "$component" --check-interval 1 --cache-ttl 1 --log-level debug \
    --scrape-window "$SCRAPE_WINDOW"
  sp=$SCALER_PID
  wait_answer "$SCALER_ADDR" "expect=$(calc "$workers * 0.5" 1)"
  sleep 3  # past the first rounds, in which every worker joins
  mark=$(wc -l <"$WORK/scaler-$workers.log")
  t0=$(ticks "$sp")
  sleep "$seconds"
  t1=$(ticks "$sp")
  rss=$(status_kib "$sp" VmRSS) hwm=$(status_kib "$sp" VmHWM)
  stop "$sp"
  [ -z "$fleet" ] || stop "$fleet"
  rounds=$(tail -n +"$((mark + 1))" "$WORK/scaler-$workers.log" | grep -E 'round [0-9]+ took' || true)
  early=$(grep 'ended early' <<<"$rounds" | grep -oE 'took [0-9.]+' | grep -oE '[0-9.]+' || true)
  full=$(grep -v 'ended early' <<<"$rounds" | grep -oE 'took [0-9.]+' | grep -oE '[0-9.]+' || true)
  n_early=$(grep -c . <<<"$early" || true) n_full=$(grep -c . <<<"$full" || true)
  # shellcheck disable=SC2086
  p50=$(median $early) max=$(printf '%s\n' $early | sort -g | tail -1)
  max=${max:-nan}
  # shellcheck disable=SC2086
  full_p50=$(median $full)
  cpu=$(calc "($t1 - $t0) * 100 / $HZ / $seconds" 2)
  SERIES_LINES+=("$workers|$p50|${max:-nan}|$n_early|$full_p50|$n_full|$cpu|$((rss / 1024))|$((hwm / 1024))")
  raw "series $workers workers" "early-exit rounds n=$n_early p50=$p50 ms max=${max:-nan} ms; full-window rounds n=$n_full p50=$full_p50 ms; cpu=$cpu%; rss=${rss} KiB hwm=${hwm} KiB"
  case $workers in
    1000)
      row "scrape round, 1,000 workers, early exit" "p50 $p50 ms, max $max ms" "<= 50 ms" \
        "$(verdict "$max <= 50")" "$n_early rounds; discovery rounds (every 5th) wait the ${SCRAPE_WINDOW}s window"
      CPU_1K=$cpu ;;
    10000)
      row "scrape round, 10,000 workers, early exit" "p50 $p50 ms, max $max ms" "<= 500 ms" \
        "$(verdict "$max <= 500")" "$n_early rounds" ;;
  esac
done
row "scaler CPU, polling 1,000 workers every 1 s, no KEDA load" "$CPU_1K % of one core" "<= 5 %" \
  "$(verdict "$CPU_1K <= 5")" "utime+stime over ${CPU_SECONDS}s"

# --- 7. memory: 10,000 workers in 3 targets -------------------------------------
log "memory: 10,000 workers in 3 targets"
stop_list=()
start_fleet rss-a 3334; stop_list+=("$FLEET_PID")
start_fleet rss-b 3333; stop_list+=("$FLEET_PID")
start_fleet rss-c 3333; stop_list+=("$FLEET_PID")
start_scaler scaler-rss rss-a --check-interval 1 --cache-ttl 1
RSS_PID=$SCALER_PID
wait_answer "$SCALER_ADDR" "expect=1667"
wait_answer "$SCALER_ADDR" "component=rss-b,expect=1666.5"
wait_answer "$SCALER_ADDR" "component=rss-c,expect=1666.5"
sleep 6  # a few rounds per target, one a full-window discovery round
RSS3=$(status_kib "$RSS_PID" VmRSS) HWM3=$(status_kib "$RSS_PID" VmHWM)
stop "$RSS_PID"
for pid in "${stop_list[@]}"; do stop "$pid"; done
raw "memory 3 targets" "VmRSS=$RSS3 KiB VmHWM=$HWM3 KiB"
RSS3_MIB=$(calc "$RSS3 / 1024" 1) HWM3_MIB=$(calc "$HWM3 / 1024" 1)
row "resident memory, 10,000 workers in 3 targets" "$RSS3_MIB MiB (peak $HWM3_MIB MiB)" "<= 64 MiB" \
  "$(verdict "$HWM3_MIB <= 64")" "3,334 + 3,333 + 3,333 workers; VmRSS (VmHWM)"

stop "$NATS_PID"
fi  # the stats path (sections 2 - 7)

# --- 8. the event plane: etcd discovery, ActiveLoad over ZMQ --------------------
FLOOD_ROW_RATIO=nan PUSH_OUT="" BIG_OUT="" IDLE_SCALER="" IDLE_EACH="" IDLE_ONE=""
F_SCALER="" F_EACH="" F_ONE=""
if [ "$EVENTS" = 1 ]; then
start_etcd
log "etcd at $ETCD_URL"

# 8a. Many publishers: the scaler between two count-only subscribers (the ceiling).
log "event flood: $FLOOD_PUBLISHERS publishers, $FLOOD_RATE events/s, ${FLOOD_SECONDS}s each:" \
  "count-only (one SUB per publisher), scaler, count-only (one SUB for all)"
flood_run each flood-each "$FLOOD_RATE" "$FLOOD_SECONDS"; F_EACH=$FLOOD_OUT
raw "flood, count-only, one SUB per publisher" "$F_EACH"
flood_run scaler flood-scaler "$FLOOD_RATE" "$FLOOD_SECONDS"; F_SCALER=$FLOOD_OUT
raw "flood, scaler" "$F_SCALER"
flood_run one flood-one "$FLOOD_RATE" "$FLOOD_SECONDS"; F_ONE=$FLOOD_OUT
raw "flood, count-only, one SUB for all" "$F_ONE"
FLOOD_SENT=$(kv "$F_SCALER" sent) FLOOD_RECEIVED=$(kv "$F_SCALER" received)
FLOOD_APPLIED=$(kv "$F_SCALER" applied)
FLOOD_LOST=$(calc "$FLOOD_SENT - $FLOOD_RECEIVED" 0)
# The ceiling is the better of the two count-only subscribers. The publishers' own
# rate varies from run to run with what else runs on their core, so what is
# compared is the share of the sent events each side received, beside the rates.
FLOOD_C_SHARE=$(printf '%s\n' "$(kv "$F_EACH" share)" "$(kv "$F_ONE" share)" | grep -v nan |
                sort -g | tail -1)
FLOOD_C_SHARE=${FLOOD_C_SHARE:-nan}
FLOOD_C_RATE=$(printf '%s\n' "$(kv "$F_EACH" rate)" "$(kv "$F_ONE" rate)" | grep -v nan |
               sort -g | tail -1)
FLOOD_C_RATE=${FLOOD_C_RATE:-nan}
FLOOD_ROW_RATIO=$(calc "$(kv "$F_SCALER" share) / $FLOOD_C_SHARE" 2)
FLOOD_US=$(calc "$(kv "$F_SCALER" cpu) * 10000 / $(kv "$F_SCALER" sent_rate)" 2)
FLOOD_EACH_US=$(calc "$(kv "$F_EACH" cpu) * 10000 / $(kv "$F_EACH" sent_rate)" 2)
FLOOD_ONE_US=$(calc "$(kv "$F_ONE" cpu) * 10000 / $(kv "$F_ONE" sent_rate)" 2)
row "ZMQ flood: $FLOOD_PUBLISHERS publishers, $FLOOD_RATE events/s, ${FLOOD_SECONDS}s" \
  "received $FLOOD_RECEIVED of $FLOOD_SENT ($(kv "$F_SCALER" rate)/s) = $FLOOD_ROW_RATIO x the ceiling's share ($(calc "$FLOOD_C_SHARE * 100" 1) %, $FLOOD_C_RATE/s); lost $FLOOD_LOST" \
  ">= 0.8 x ceiling" "$(verdict "$FLOOD_ROW_RATIO >= 0.8")" \
  "applied $FLOOD_APPLIED, sequence gaps $(kv "$F_SCALER" gaps); while sending: scaler $(kv "$F_SCALER" window_rate)/s, count-only $(kv "$F_EACH" window_rate)/s and $(kv "$F_ONE" window_rate)/s; CPU $(kv "$F_SCALER" cpu)% = $FLOOD_US us/event (count-only: $(kv "$F_EACH" cpu)% = $FLOOD_EACH_US us/event with one SUB per publisher, $(kv "$F_ONE" cpu)% = $FLOOD_ONE_US us/event with one SUB for all); RSS $(calc "$(kv "$F_SCALER" rss_kib) / 1024" 0) MiB (peak $(calc "$(kv "$F_SCALER" hwm_kib) / 1024" 0)); the publishers sent $(kv "$F_SCALER" sent_rate)/s with $(kv "$F_SCALER" publisher_cpu)% of CPU 1; others $(kv "$F_SCALER" other_cpu)%"

# 8b. An idle fleet: every worker's heartbeat (one event per 10 s) and nothing else.
log "idle fleet: $FLOOD_PUBLISHERS publishers, $IDLE_RATE events/s, ${IDLE_SECONDS}s each"
flood_run scaler idle-scaler "$IDLE_RATE" "$IDLE_SECONDS"; IDLE_SCALER=$FLOOD_OUT
raw "idle fleet, scaler" "$IDLE_SCALER"
flood_run each idle-each "$IDLE_RATE" "$IDLE_SECONDS"; IDLE_EACH=$FLOOD_OUT
raw "idle fleet, count-only, one SUB per publisher" "$IDLE_EACH"
flood_run one idle-one "$IDLE_RATE" "$IDLE_SECONDS"; IDLE_ONE=$FLOOD_OUT
raw "idle fleet, count-only, one SUB for all" "$IDLE_ONE"
row "scaler CPU, $FLOOD_PUBLISHERS publishers at $IDLE_RATE events/s (heartbeats)" \
  "$(kv "$IDLE_SCALER" cpu) % of one core" "-" "-" \
  "count-only: $(kv "$IDLE_EACH" cpu)% with one SUB per publisher (the scaler's layout), $(kv "$IDLE_ONE" cpu)% with one SUB for all; received $(kv "$IDLE_SCALER" received) of $(kv "$IDLE_SCALER" sent)"

# 8c. One worker's change -> KEDA.
log "push latency: $PUSH_FLIPS flips per phase"
start_event_scaler event-push backend
PUSH_PID=$SCALER_PID
PUSH_OUT=$(run_tool "$LOAD_CPU" "$TOOLS/event_latency" --address "$SCALER_ADDR" \
           --etcd-endpoints "$ETCD_URL" --flips "$PUSH_FLIPS" --gap-ms "$PUSH_GAP_MS" \
           2>"$WORK/push.err" || true)
stop "$PUSH_PID"
[ -n "$PUSH_OUT" ] || die "event_latency failed: $(tail -5 "$WORK/push.err")"
raw "event push latency" "$PUSH_OUT"
while read -r line; do raw "  push" "$line"; done <"$WORK/push.err"
STATS_NOTE=""
[ "$SI_P50" = nan ] || STATS_NOTE="; the stats path waits for a check interval: p50 $SI_P50 ms at --check-interval 1 (above)"
row "event -> StreamIsActive push, 1 worker" \
  "p50 $(kv "$PUSH_OUT" stream_p50_ms) ms, p99 $(kv "$PUSH_OUT" stream_p99_ms) ms, max $(kv "$PUSH_OUT" stream_max_ms) ms" \
  "p99 <= 5 ms" "$(verdict "$(kv "$PUSH_OUT" stream_p99_ms) <= 5 && $(kv "$PUSH_OUT" missed) == 0")" \
  "$PUSH_FLIPS flips kv 100 <-> 900 of 1000, activation at 50%, nothing else calling$STATS_NOTE"
row "event -> GetMetrics value, polled back to back" \
  "p50 $(kv "$PUSH_OUT" getmetrics_p50_ms) ms, p99 $(kv "$PUSH_OUT" getmetrics_p99_ms) ms, max $(kv "$PUSH_OUT" getmetrics_max_ms) ms" \
  "p99 <= 2 ms" "$(verdict "$(kv "$PUSH_OUT" getmetrics_p99_ms) <= 2 && $(kv "$PUSH_OUT" missed) == 0")" \
  "$PUSH_FLIPS more flips, $(kv "$PUSH_OUT" polls_per_flip) calls a flip; the stream's pushes meanwhile: p50 $(kv "$PUSH_OUT" stream_polled_p50_ms), p99 $(kv "$PUSH_OUT" stream_polled_p99_ms) ms"

# 8d. A big fleet registered before the scaler starts.
log "big fleet: $BIG_FLEET workers registered in etcd, one ZMQ PUB socket"
t0=$(now)
start big-fleet "$LOAD_CPU" "$BIN/dynamo-mock-worker" --nats-server "" --events zmq \
  --etcd-endpoints "$ETCD_URL" --component big --endpoint generate --workers "$BIG_FLEET" \
  --kv-total-blocks 1000 --pattern constant:0.5 --event-heartbeat "$BIG_HEARTBEAT" --no-revoke
BIG_FLEET_PID=$LAST_PID
wait_line "$WORK/big-fleet.log" '^ready' 1800 "$BIG_FLEET_PID:big-fleet" >/dev/null
BIG_REGISTER_S=$(calc "$(now) - $t0" 1)
log "big fleet registered in ${BIG_REGISTER_S}s"
BIG_EXPECT=$(calc "$BIG_FLEET * 0.5" 1)
t0=$(now)
start_event_scaler event-big big
BIG_PID=$SCALER_PID
BIG_ANSWER_S=nan
for _ in $(seq 2400); do
  out=$(run_tool "$LOAD_CPU" "$TOOLS/grpc_load" --address "$SCALER_ADDR" --bursts 1 --burst 1 \
        --gap-ms 0 --trigger "expect=$BIG_EXPECT" 2>/dev/null || true)
  if [ "$(kv "$out" ok)" = 1 ]; then BIG_ANSWER_S=$(calc "$(now) - $t0" 2); break; fi
  kill -0 "$BIG_PID" 2>/dev/null || die "the scaler exited: $(tail -3 "$WORK/event-big.log")"
  sleep 0.05
done
BIG_RSS_ANSWER=$(status_kib "$BIG_PID" VmRSS) BIG_HWM_ANSWER=$(status_kib "$BIG_PID" VmHWM)
# When discovery had every unit: the time stamp of the scaler's log line.
joined=$(grep -m1 -E "target dynamo/big/generate: $BIG_FLEET worker units joined" \
         "$WORK/event-big.log" | awk '{print $1}' || true)
BIG_DISCOVERY_S=nan
[ -z "$joined" ] || BIG_DISCOVERY_S=$(calc "$(date -d "$joined" +%s.%N) - $t0" 2)
sleep "$BIG_SETTLE_SECONDS"
BIG_RSS=$(status_kib "$BIG_PID" VmRSS) BIG_HWM=$(status_kib "$BIG_PID" VmHWM)
BIG_UNITS=$(http_get "$SCALER_HTTP" /metrics | awk '
  /^metrics_keda_worker_units\{.*component="big".*state="reporting"/ {r = $NF}
  /^metrics_keda_worker_units\{.*component="big".*state="pending"/ {p = $NF}
  END {printf "reporting=%s pending=%s", r, p}')
BIG_HWM_HTTP=$(status_kib "$BIG_PID" VmHWM)
stop "$BIG_PID"
stop "$BIG_FLEET_PID"
BIG_OUT="register_s=$BIG_REGISTER_S answer_s=$BIG_ANSWER_S discovery_s=$BIG_DISCOVERY_S rss_answer_kib=$BIG_RSS_ANSWER hwm_answer_kib=$BIG_HWM_ANSWER rss_kib=$BIG_RSS hwm_kib=$BIG_HWM $BIG_UNITS hwm_after_metrics_kib=$BIG_HWM_HTTP"
raw "big fleet" "$BIG_OUT"
row "$BIG_FLEET units from etcd + ZMQ: start -> right AverageValue" \
  "$BIG_ANSWER_S s (every unit in discovery after $BIG_DISCOVERY_S s)" "-" "-" \
  "GetMetrics llm_load_avg AverageValue = N x F = $BIG_EXPECT, polled every 50 ms; the units speak at the fleet's ${BIG_HEARTBEAT} s heartbeat; after ${BIG_SETTLE_SECONDS}s more: $BIG_UNITS"
BIG_MAX_MIB=$(calc "($BIG_HWM > $BIG_HWM_ANSWER ? $BIG_HWM : $BIG_HWM_ANSWER) / 1024" 1)
row "resident memory, $BIG_FLEET units from etcd + ZMQ" \
  "$(calc "$BIG_RSS_ANSWER / 1024" 1) MiB at the answer, $(calc "$BIG_RSS / 1024" 1) MiB ${BIG_SETTLE_SECONDS}s later (peak $BIG_MAX_MIB)" \
  "<= 64 MiB" "$(verdict "$BIG_MAX_MIB <= 64")" \
  "no HTTP call before; one /metrics of every unit then took the peak to $(calc "$BIG_HWM_HTTP / 1024" 0) MiB"
stop "$ETCD_PID"
fi  # the event plane

ELAPSED=$(( $(date +%s) - START_TIME ))

# --- report ----------------------------------------------------------------------
{
  echo
  echo "metrics-keda benchmarks: $CORES cores ($CPU_MODEL), gRPC $GRPC_VERSION, $(uname -r)"
  echo "scaler pinned to CPU ${SCALER_CPU:-none}, load generators to CPU ${LOAD_CPU:-none}; QUICK=$QUICK; ${ELAPSED}s"
  echo
  printf '| %-58s | %-52s | %-24s | %-4s | %s\n' figure result target met notes
  printf '|%s|%s|%s|%s|%s\n' "$(printf -- '-%.0s' {1..60})" "$(printf -- '-%.0s' {1..54})" \
    "$(printf -- '-%.0s' {1..26})" "------" "-------"
  for i in "${!ROW_NAME[@]}"; do
    printf '| %-58s | %-52s | %-24s | %-4s | %s\n' "${ROW_NAME[$i]}" "${ROW_VALUE[$i]}" \
      "${ROW_TARGET[$i]}" "${ROW_MET[$i]}" "${ROW_NOTE[$i]}"
  done
  if [ "$EVENTS_ONLY" != 1 ]; then
  echo
  echo "Series (check-interval 1 s, no KEDA load):"
  printf '| %8s | %-30s | %-22s | %10s | %-14s |\n' workers "early-exit round p50 / max" \
    "discovery round p50" "CPU" "RSS (peak)"
  for line in "${SERIES_LINES[@]}"; do
    IFS='|' read -r w p50 max ne fp50 nf cpu rss hwm <<<"$line"
    printf '| %8s | %-30s | %-22s | %9s%% | %-14s |\n' "$w" "$p50 / $max ms (n=$ne)" \
      "$fp50 ms (n=$nf)" "$cpu" "$rss MiB ($hwm)"
  done
  echo
  echo "GetMetrics throughput ($LOAD_SHAPE):"
  echo "  ceiling (constant answer)    $CEIL_RPS/s  p99 $(calc "$CEIL_P99 / 1000" 2) ms   runs: ${C_RPS[*]}"
  echo "  metrics-keda, 1 target       $REAL_RPS/s  p99 $(calc "$REAL_P99 / 1000" 2) ms   runs: ${R_RPS[*]}"
  echo "  metrics-keda, 3 targets      $MULTI_RPS/s  p99 $(calc "$MULTI_P99 / 1000" 2) ms   runs: ${M_RPS[*]}"
  echo "  CPU of one core during the measured seconds (median): $CPU_NOTE"
  echo "  scaler peak RSS after the load: $((TP_HWM / 1024)) MiB"
  if [ ${#OPTION_LINES[@]} -gt 0 ]; then
    echo
    echo "Ceiling with server options (GetMetrics/s median; server CPU us per call median; runs):"
    for line in "${OPTION_LINES[@]}"; do
      IFS='|' read -r label med runs us <<<"$line"
      printf '  %-42s %8s/s %7s us   %s\n' "$label" "$med" "$us" "$runs"
    done
  fi
  fi  # the stats path
  if [ "$EVENTS" = 1 ]; then
    echo
    echo "Event plane ($FLOOD_PUBLISHERS ZMQ publishers registered in etcd; CPU in % of one core over the seconds the publishers sent):"
    for entry in "flood: count-only, one SUB per publisher|$F_EACH" "flood: scaler|$F_SCALER" \
                 "flood: count-only, one SUB for all|$F_ONE" "idle: scaler|$IDLE_SCALER" \
                 "idle: count-only, one SUB per publisher|$IDLE_EACH" \
                 "idle: count-only, one SUB for all|$IDLE_ONE"; do
      IFS='|' read -r label figures <<<"$entry"
      printf '  %-40s sent %9s (%6s/s)  received %9s (%6s/s; %6s/s while sending)  CPU %5s%%  RSS %4s MiB (peak %4s)\n' \
        "$label" "$(kv "$figures" sent)" "$(kv "$figures" sent_rate)" "$(kv "$figures" received)" \
        "$(kv "$figures" rate)" "$(kv "$figures" window_rate)" "$(kv "$figures" cpu)" "$(calc "$(kv "$figures" rss_kib) / 1024" 0)" \
        "$(calc "$(kv "$figures" hwm_kib) / 1024" 0)"
    done
    echo "  push latency: $PUSH_OUT"
    echo "  big fleet: $BIG_OUT"
  fi
} | tee "$WORK/table.txt"

# --- JSON ------------------------------------------------------------------------
json_num() { if [[ $1 =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; then printf '%s' "$1"; else printf null; fi; }
json_str() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }
{
  echo "{"
  echo "  \"machine\": {\"cores\": $CORES, \"cpu\": $(json_str "$CPU_MODEL"), \"kernel\": $(json_str "$(uname -r)"), \"grpc\": $(json_str "$GRPC_VERSION"), \"scaler_cpu\": $(json_str "${SCALER_CPU:-none}"), \"load_cpu\": $(json_str "${LOAD_CPU:-none}")},"
  echo "  \"run\": {\"quick\": $QUICK, \"seconds\": $ELAPSED, \"date\": $(json_str "$(date -u +%Y-%m-%dT%H:%M:%SZ)"), \"reps\": $REPS, \"load_seconds\": $LOAD_SECONDS, \"channels\": $CHANNELS, \"inflight\": $INFLIGHT, \"scrape_window_seconds\": $SCRAPE_WINDOW},"
  echo "  \"figures\": ["
  for i in "${!ROW_NAME[@]}"; do
    sep=$([ "$i" -lt $((${#ROW_NAME[@]} - 1)) ] && echo , || true)
    echo "    {\"figure\": $(json_str "${ROW_NAME[$i]}"), \"result\": $(json_str "${ROW_VALUE[$i]}"), \"target\": $(json_str "${ROW_TARGET[$i]}"), \"met\": $(case "${ROW_MET[$i]}" in yes) echo true ;; NO) echo false ;; *) echo null ;; esac), \"notes\": $(json_str "${ROW_NOTE[$i]}")}$sep"
  done
  echo "  ],"
  echo "  \"values\": {"
  echo "    \"decode_flat_us\": $(json_num "$DEC_FLAT"), \"decode_nested_us\": $(json_num "$DEC_NESTED"), \"aggregate_10000_us\": $(json_num "$AGG_10K"),"
  echo "    \"ceiling_rps\": $(json_num "$CEIL_RPS"), \"ceiling_p99_us\": $(json_num "$CEIL_P99"), \"scaler_rps\": $(json_num "$REAL_RPS"), \"scaler_p99_us\": $(json_num "$REAL_P99"),"
  echo "    \"rps_ratio\": $(json_num "$RPS_RATIO"), \"scaler_cpu_us_per_call\": $(json_num "$REAL_US"), \"ceiling_cpu_us_per_call\": $(json_num "$CEIL_US"), \"others_cpu_max_percent\": $(json_num "$OTHER_MAX"), \"scaler_errors\": $ERRORS, \"scaler_wrong_values\": $WRONG, \"p99_ratio\": $(json_num "$P99_RATIO"), \"scaler_3_targets_rps\": $(json_num "$MULTI_RPS"), \"scaler_3_targets_p99_us\": $(json_num "$MULTI_P99"),"
  echo "    \"stale_scrapes_per_burst\": $(json_num "$STALE_ROUNDS"), \"stale_p50_ms\": $(json_num "$STALE_P50"), \"stale_p99_ms\": $(json_num "$STALE_P99"),"
  echo "    \"change_getmetrics_p50_ms\": $(json_num "$GM_P50"), \"change_getmetrics_max_ms\": $(json_num "$GM_MAX"), \"change_stream_p50_ms\": $(json_num "$SI_P50"), \"change_stream_max_ms\": $(json_num "$SI_MAX"),"
  echo "    \"cpu_1000_workers_percent\": $(json_num "$CPU_1K"), \"rss_10000_workers_3_targets_kib\": $(json_num "$RSS3"), \"hwm_10000_workers_3_targets_kib\": $(json_num "$HWM3"),"
  echo "    \"decode_zmq_activeload_us\": $(json_num "$DEC_ZMQ"), \"decode_apply_zmq_1000_us\": $(json_num "$APPLY_1K"), \"decode_apply_zmq_10000_us\": $(json_num "$APPLY_10K"), \"decode_apply_zmq_1000_m_per_s\": $(json_num "$APPLY_MPS"), \"event_snapshot_1000_us\": $(json_num "$SNAP_1K")"
  echo "  },"
  # The event plane: each run's key=value figures as numbers.
  json_kv() {
    local first=1 pair
    printf '{'
    for pair in $1; do
      [ $first = 1 ] || printf ', '
      first=0
      printf '"%s": %s' "${pair%%=*}" "$(json_num "${pair#*=}")"
    done
    printf '}'
  }
  echo "  \"event_plane\": {"
  echo "    \"publishers\": $FLOOD_PUBLISHERS, \"flood_rate\": $FLOOD_RATE, \"flood_seconds\": $FLOOD_SECONDS, \"idle_rate\": $IDLE_RATE, \"idle_seconds\": $IDLE_SECONDS, \"flips\": $PUSH_FLIPS, \"big_fleet\": $BIG_FLEET,"
  echo "    \"flood_scaler\": $(json_kv "$F_SCALER"), \"flood_count_each\": $(json_kv "$F_EACH"), \"flood_count_one\": $(json_kv "$F_ONE"),"
  echo "    \"flood_scaler_vs_ceiling\": $(json_num "$FLOOD_ROW_RATIO"),"
  echo "    \"idle_scaler\": $(json_kv "$IDLE_SCALER"), \"idle_count_each\": $(json_kv "$IDLE_EACH"), \"idle_count_one\": $(json_kv "$IDLE_ONE"),"
  echo "    \"push\": $(json_kv "$PUSH_OUT"),"
  echo "    \"big_fleet_figures\": $(json_kv "$BIG_OUT")"
  echo "  },"
  echo "  \"series\": ["
  for i in "${!SERIES_LINES[@]}"; do
    IFS='|' read -r w p50 max ne fp50 nf cpu rss hwm <<<"${SERIES_LINES[$i]}"
    sep=$([ "$i" -lt $((${#SERIES_LINES[@]} - 1)) ] && echo , || true)
    echo "    {\"workers\": $(json_num "$w"), \"early_round_p50_ms\": $(json_num "$p50"), \"early_round_max_ms\": $(json_num "$max"), \"early_rounds\": $(json_num "$ne"), \"discovery_round_p50_ms\": $(json_num "$fp50"), \"discovery_rounds\": $(json_num "$nf"), \"cpu_percent\": $(json_num "$cpu"), \"rss_mib\": $(json_num "$rss"), \"hwm_mib\": $(json_num "$hwm")}$sep"
  done
  echo "  ],"
  echo "  \"ceiling_options\": ["
  for i in "${!OPTION_LINES[@]}"; do
    IFS='|' read -r label med runs us <<<"${OPTION_LINES[$i]}"
    sep=$([ "$i" -lt $((${#OPTION_LINES[@]} - 1)) ] && echo , || true)
    echo "    {\"option\": $(json_str "$label"), \"median_rps\": $(json_num "$med"), \"server_cpu_us_per_call\": $(json_num "$us"), \"runs\": [$(tr ' ' ',' <<<"$runs")]}$sep"
  done
  echo "  ],"
  echo "  \"raw\": ["
  for i in "${!RAW[@]}"; do
    sep=$([ "$i" -lt $((${#RAW[@]} - 1)) ] && echo , || true)
    echo "    $(json_str "${RAW[$i]}")$sep"
  done
  echo "  ]"
  echo "}"
} >"$RESULTS"
log "wrote $RESULTS"
exit 0
}
