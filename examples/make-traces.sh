#!/usr/bin/env bash
# Makes the example load traces of examples/traces/ with the simulated fleet: for each
# shape a pattern (`time,load` lines, load in [0, 1]), which dynamo-mock-worker
# --write-trace turns into the per-unit trace replay reads, with the figures its live
# workers would publish; gzip -9n leaves out name and time, so that the same build
# makes the same bytes. Prints each trace's size and range of demand.
#
#   examples/make-traces.sh          (after scripts/build.sh; MOCK_WORKER=PATH for another binary)
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C # decimals with '.', whatever the locale

mock=${MOCK_WORKER:-build/dynamo-mock-worker}
if [ ! -x "$mock" ]; then
  echo "make-traces: no $mock: build it (ninja -C build dynamo-mock-worker) or set MOCK_WORKER" >&2
  exit 2
fi
out=examples/traces
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# The day's shape: a raised cosine, smooth everywhere, from a trough of 0.1 at 03:00
# to a peak of 0.95 at 15:00.
diurnal='function diurnal(t) { return 0.1 + 0.85 * (1 - cos(2 * 3.141592653589793 * (t - 10800) / 86400)) / 2 }'

# pattern NAME SECONDS STEP AWK: writes $work/NAME.csv, the loads at 0, STEP, ...
# <= SECONDS of the `function load(t)` that AWK defines (with any BEGIN it needs).
# A csv pattern holds each load until its next time, and the trace is sampled at the
# same step, so every row of the trace sees exactly the load written here.
pattern() {
  local name=$1 seconds=$2 step=$3 code=$4
  awk -v seconds="$seconds" -v step="$step" "$code"'
    function clamp(x) { return x < 0 ? 0 : x > 1 ? 1 : x }
    BEGIN {
      print "time,load"
      for (t = 0; t <= seconds; t += step) printf "%d,%.6f\n", t, clamp(load(t))
    }' >"$work/$name.csv"
}

# trace NAME WORKERS SECONDS STEP: the per-unit trace of WORKERS workers under
# $work/NAME.csv into $out/NAME.csv.gz, then one line about it. The demand of a time
# is replay's: the sum over units of max(kv_used/kv_total, slots_used/slots_total)
# plus waiting/slots_total.
trace() {
  local name=$1 workers=$2 seconds=$3 step=$4
  "$mock" --write-trace "$work/$name.units.csv" --pattern "csv:$work/$name.csv" \
    --workers "$workers" --spread 0.2 --kv-total-blocks 8192 --slots-total 64 \
    --lease-base 7587867c5a2d0000 --trace-seconds "$seconds" --trace-step "$step"
  gzip -9n <"$work/$name.units.csv" >"$work/$name.csv.gz"
  mv "$work/$name.csv.gz" "$out/$name.csv.gz"
  awk -F, -v name="$name" -v workers="$workers" -v bytes="$(wc -c <"$out/$name.csv.gz")" '
    NR > 1 {
      kv = $3 / $4
      slots = $5 / $6
      demand[$1] += (kv > slots ? kv : slots) + $7 / $6
      rows++
    }
    END {
      first = 1
      for (t in demand) {
        if (first || demand[t] < low) low = demand[t]
        if (first || demand[t] > high) high = demand[t]
        first = 0
      }
      printf "%-10s %d workers %6d rows %7d bytes  demand %.2f to %.2f worker capacities\n",
        name, workers, rows, bytes, low, high
    }' "$work/$name.units.csv"
}

# diurnal: a day, one sample a minute.
pattern diurnal 86400 60 "$diurnal"' function load(t) { return diurnal(t) }'
trace diurnal 4 86400 60

# burst: two hours at 0.15, with ten minutes at 1.0 from minute 40, both edges sharp.
pattern burst 7200 10 'function load(t) { return t >= 2400 && t < 3000 ? 1.0 : 0.15 }'
trace burst 6 7200 10

# ramp: 0.05 up to 1.0 in a straight line over two hours, back down over one.
pattern ramp 10800 30 \
  'function load(t) { return t <= 7200 ? 0.05 + 0.95 * t / 7200 : 1.0 - 0.95 * (t - 7200) / 3600 }'
trace ramp 6 10800 30

# spiky-day: the diurnal day with 16 spikes of 1 to 3 minutes to 0.95 - 1.0, at times
# drawn once from a seeded generator. Park and Miller's minimal standard generator
# stays exact in awk's doubles, so every awk draws the same spikes (awk's own rand()
# differs from one awk to the next).
pattern spiky-day 86400 30 "$diurnal"'
  function uniform() { state = (16807 * state) % 2147483647; return state / 2147483647 }
  BEGIN {
    state = 20250301
    for (i = 0; i < 16; i++) {
      start[i] = 30 * int(uniform() * 2880)
      span[i] = 60 + 30 * int(uniform() * 5)
      level[i] = 0.95 + 0.05 * uniform()
    }
  }
  function load(t,   i, v) {
    v = diurnal(t)
    for (i = 0; i < 16; i++) {
      if (t >= start[i] && t < start[i] + span[i] && level[i] > v) v = level[i]
    }
    return v
  }'
trace spiky-day 4 86400 30

# workday: no traffic from 20:00 to 07:00, so that a ScaledObject with
# minReplicaCount 0 can go to zero; between, a half sine of demand up to 3.5 worker
# capacities at 13:30. Written directly as demand (time,load in worker capacities),
# with the column scale-to-zero.yaml's Prometheus trigger reads: frontend_queue,
# the requests queued at the frontend, taken as ceil(10 x demand) while requests
# arrive (at least 2, enough to wake a fleet at zero) and 0 when none do. A stand-in:
# a real frontend's queue also depends on the replicas there are, a trace cannot.
awk 'BEGIN {
  print "time,load,frontend_queue"
  for (t = 0; t <= 86400; t += 60) {
    demand = t >= 25200 && t < 72000 ? 0.2 + 3.3 * sin(3.141592653589793 * (t - 25200) / 46800) : 0
    queue = demand > 0 ? int(10 * demand + 0.999999) : 0
    if (demand > 0 && queue < 2) queue = 2
    printf "%d,%.6f,%d\n", t, demand, queue
  }
}' | gzip -9n >"$work/workday.csv.gz"
mv "$work/workday.csv.gz" "$out/workday.csv.gz"
printf '%-10s time,load %6d rows %7d bytes  demand 0 to 3.50 worker capacities\n' workday \
  "$(zcat "$out/workday.csv.gz" | tail -n +2 | wc -l)" "$(wc -c <"$out/workday.csv.gz")"
