#!/usr/bin/env bash
# bench/run.sh: the benchmark suite of metrics-keda, in one command.
#
# Builds in Release into its own directory (bench/build), then runs the
# micro-benchmarks (Google Benchmark) and, against a real nats-server and the
# simulated fleet (dynamo-mock-worker), the scaler's end-to-end figures. The
# scaler under test is pinned to CPU 0 and the load generators to CPU 1. Prints
# one table with the machine's core count and writes the same to
# bench/results.json. Every process it starts is stopped on exit; everything
# listens on 127.0.0.1 only, on ports the kernel picks.
#
#   bench/run.sh              full run (about 6 minutes after the build)
#   QUICK=1 bench/run.sh      short run (about 2 minutes), noisier figures
#
# Knobs (environment): REPS, LOAD_SECONDS, WARMUP_SECONDS, CHANNELS, INFLIGHT,
# STALE_BURSTS, STALE_CALLERS, SCRAPE_WINDOW, CHANGE_TRIALS, CPU_SECONDS,
# SERIES_SECONDS, CEILING_OPTIONS (1: also try server options on the ceiling;
# default in the full run), OPTION_REPS, OPTION_SECONDS,
# CEILING_ARGS (extra ceiling_scaler flags), BENCH_BUILD_DIR, BENCH_SKIP_DEPS=1,
# BENCH_SKIP_BUILD=1, BENCH_KEEP_LOGS=1, RESULTS (output path).
set -euo pipefail
# The whole script is one compound command, read before it runs: editing this
# file during a run cannot change the run.
{
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then d_reps=1 d_load=5 d_warm=1 d_bursts=10 d_trials=5 d_cpu=10 d_series=5 d_opts=0
else d_reps=3 d_load=10 d_warm=2 d_bursts=30 d_trials=10 d_cpu=30 d_series=10 d_opts=1; fi
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
    micro_benchmarks ceiling_scaler grpc_load change_latency
fi
for tool in "$BIN/metrics-keda" "$BIN/dynamo-mock-worker" "$TOOLS/micro_benchmarks" \
            "$TOOLS/ceiling_scaler" "$TOOLS/grpc_load" "$TOOLS/change_latency"; do
  [ -x "$tool" ] || die "missing $tool (build failed?)"
done
NATS_SERVER_BIN=$(command -v nats-server || echo /usr/sbin/nats-server)
[ -x "$NATS_SERVER_BIN" ] || die "nats-server not found"

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
for b in BM_DecodeStatsFlat BM_DecodeStatsNested BM_DecodeZmqActiveLoad BM_Aggregate/100 \
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

start_nats
log "nats-server at $NATS_URL"

# --- 2. ceiling options (optional) --------------------------------------------
OPTION_LINES=()
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
    echo "    {\"figure\": $(json_str "${ROW_NAME[$i]}"), \"result\": $(json_str "${ROW_VALUE[$i]}"), \"target\": $(json_str "${ROW_TARGET[$i]}"), \"met\": $([ "${ROW_MET[$i]}" = yes ] && echo true || echo false), \"notes\": $(json_str "${ROW_NOTE[$i]}")}$sep"
  done
  echo "  ],"
  echo "  \"values\": {"
  echo "    \"decode_flat_us\": $(json_num "$DEC_FLAT"), \"decode_nested_us\": $(json_num "$DEC_NESTED"), \"aggregate_10000_us\": $(json_num "$AGG_10K"),"
  echo "    \"ceiling_rps\": $(json_num "$CEIL_RPS"), \"ceiling_p99_us\": $(json_num "$CEIL_P99"), \"scaler_rps\": $(json_num "$REAL_RPS"), \"scaler_p99_us\": $(json_num "$REAL_P99"),"
  echo "    \"rps_ratio\": $(json_num "$RPS_RATIO"), \"scaler_cpu_us_per_call\": $(json_num "$REAL_US"), \"ceiling_cpu_us_per_call\": $(json_num "$CEIL_US"), \"others_cpu_max_percent\": $(json_num "$OTHER_MAX"), \"scaler_errors\": $ERRORS, \"scaler_wrong_values\": $WRONG, \"p99_ratio\": $(json_num "$P99_RATIO"), \"scaler_3_targets_rps\": $(json_num "$MULTI_RPS"), \"scaler_3_targets_p99_us\": $(json_num "$MULTI_P99"),"
  echo "    \"stale_scrapes_per_burst\": $(json_num "$STALE_ROUNDS"), \"stale_p50_ms\": $(json_num "$STALE_P50"), \"stale_p99_ms\": $(json_num "$STALE_P99"),"
  echo "    \"change_getmetrics_p50_ms\": $(json_num "$GM_P50"), \"change_getmetrics_max_ms\": $(json_num "$GM_MAX"), \"change_stream_p50_ms\": $(json_num "$SI_P50"), \"change_stream_max_ms\": $(json_num "$SI_MAX"),"
  echo "    \"cpu_1000_workers_percent\": $(json_num "$CPU_1K"), \"rss_10000_workers_3_targets_kib\": $(json_num "$RSS3"), \"hwm_10000_workers_3_targets_kib\": $(json_num "$HWM3")"
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
