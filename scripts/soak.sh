#!/usr/bin/env bash
# Soak: the scaler beside 1,000 simulated workers, a churning fleet of 50 more
# (started and stopped every 10 s), and steady KEDA-like polling, for MINUTES
# (default 30). Each minute it samples the scaler's RSS, CPU, open fds and
# threads, and checks the answer for the steady fleet is exact (1000 x 0.5).
# Prints a table and a verdict; exits 1 on FAIL.
#
#   scripts/soak.sh [MINUTES]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-30}"
case "$minutes" in ''|*[!0-9]*|0) echo "usage: scripts/soak.sh [MINUTES]" >&2; exit 2 ;; esac

scripts/install-deps.sh
scripts/build.sh >/dev/null

source scripts/lib/processes.sh
trap 'exit 130' INT TERM
start_nats

build/dynamo-mock-worker --nats-server "$nats_url" --workers 1000 --pattern constant:0.5 \
  >"$work/fleet.log" 2>&1 &
pids+=($!)
wait_for "$work/fleet.log" ready >/dev/null

build/metrics-keda --host 127.0.0.1 --port 0 --metrics-port 0 --nats-server "$nats_url" \
  --check-interval 1 --cache-ttl 1 >"$work/scaler.log" 2>&1 &
scaler=$!
pids+=($scaler)
port=$(wait_for "$work/scaler.log" '\(port [0-9]+' | grep -oE '[0-9]+')
address="127.0.0.1:$port"

# Churn: a second component's fleet that comes and goes every 10 s.
(
  while true; do
    build/dynamo-mock-worker --nats-server "$nats_url" --component churn --workers 50 \
      --pattern sine:0:1:20 --duration 10 >/dev/null 2>&1 || true
    sleep 1
  done
) &
pids+=($!)

# Steady KEDA-like load: four pollers, each a trigger polled every second.
for trigger in "" "component=churn" "metricName=llm_kv_blocks_usage_percent" \
               "metricName=llm_requests_waiting threshold=5"; do
  # shellcheck disable=SC2086
  build/keda-query --address "$address" --watch 1 $trigger >/dev/null 2>&1 &
  pids+=($!)
done

ticks() { awk '{print $14 + $15}' "/proc/$scaler/stat"; }
field() { awk -v k="$1" '$1 == k {print $2}' "/proc/$scaler/status"; }
hz=$(getconf CLK_TCK)

printf '%-6s %9s %7s %5s %8s %s\n' minute "rss_KiB" "cpu_%" fds threads answer
verdict=PASS
first_rss=""
last_ticks=$(ticks)
for minute in $(seq 1 "$minutes"); do
  sleep 60
  if ! kill -0 "$scaler" 2>/dev/null; then
    echo "the scaler died"; verdict=FAIL; break
  fi
  now_ticks=$(ticks)
  cpu=$(awk -v d=$((now_ticks - last_ticks)) -v hz="$hz" 'BEGIN { printf "%.1f", 100 * d / hz / 60 }')
  last_ticks=$now_ticks
  rss=$(field VmRSS:)
  threads=$(field Threads:)
  fds=$(ls "/proc/$scaler/fd" | wc -l)
  value=$(build/keda-query --address "$address" 2>&1 | awk '/^value:/ {print $2}')
  answer=ok
  [ "$value" = "500" ] || { answer="wrong ($value)"; verdict=FAIL; }
  [ -z "$first_rss" ] && first_rss=$rss
  printf '%-6s %9s %7s %5s %8s %s\n' "$minute" "$rss" "$cpu" "$fds" "$threads" "$answer"
done
# Growth allowed: 25 % over the first minute's RSS.
if [ -n "$first_rss" ] && [ "$rss" -gt $((first_rss * 5 / 4)) ]; then
  echo "RSS grew from $first_rss KiB to $rss KiB"
  verdict=FAIL
fi
echo "verdict: $verdict"
[ "$verdict" = PASS ]
