# Sourced by the demo and the soak: background processes started on loopback,
# all stopped when the script exits.
#   pids+=($!)            remember a background process
#   wait_for FILE REGEX   wait (up to 20 s) until FILE matches; print the match
#   start_nats DIR        start nats-server on a free port; sets nats_url

work=$(mktemp -d)
pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap stop_all EXIT

wait_for() {
  local file=$1 pattern=$2
  for _ in $(seq 200); do
    if grep -m1 -oE "$pattern" "$file" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "$(basename "$0"): timed out waiting for '$pattern' in $file:" >&2
  cat "$file" >&2
  return 1
}

start_nats() {
  local server
  server=$(command -v nats-server || echo /usr/sbin/nats-server)
  "$server" -a 127.0.0.1 -p -1 >"$work/nats.log" 2>&1 &
  pids+=($!)
  nats_url="nats://127.0.0.1:$(wait_for "$work/nats.log" 'client connections on [0-9.]+:[0-9]+' |
    grep -oE '[0-9]+$')"
}
