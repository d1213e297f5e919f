# Sourced by the demo and the soak: background processes started on loopback,
# all stopped when the script exits.
#   pids+=($!)            remember a background process
#   wait_for FILE REGEX   wait (up to 20 s) until FILE matches; print the match
#   start_nats            start nats-server on a free port; sets nats_url
#   start_etcd            start etcd on free ports; sets etcd_url

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

start_etcd() {
  local server port peer
  server=$(command -v etcd || echo /usr/bin/etcd)
  port=$(free_port)
  peer=$(free_port)
  "$server" --name demo --data-dir "$work/etcd" \
    --listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "demo=http://127.0.0.1:$peer" >"$work/etcd.log" 2>&1 &
  pids+=($!)
  wait_for "$work/etcd.log" 'ready to serve client requests' >/dev/null
  etcd_url="http://127.0.0.1:$port"
}

# A loopback TCP port nobody listens on now: a random one that refuses a connection.
free_port() {
  local port
  while true; do
    port=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
}
