#!/usr/bin/env bash
# imock-message-bench against imock-server and mosquitto: every message arrives both
# ways and the JSON line says how many per second; with the server's send rate limit
# on (the default 5 a second), the bench stops with the server's refusal and says why.
#   benchmarks/message_bench_check.sh path/to/imock-server path/to/imock-message-bench
set -euo pipefail
server=$1 bench=$2
mosquitto=${MOSQUITTO:-/usr/sbin/mosquitto}
dir=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
start_imock() {  # start_imock CONFIG: sets mqtt
  rm -f "$dir/ready.json"
  "$server" --config "$1" --listen-mqtt 127.0.0.1:0 --listen-http 127.0.0.1:0 \
    --ready-file "$dir/ready.json" >"$dir/server.out" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do [ -s "$dir/ready.json" ] && break; sleep 0.1; done
  [ -s "$dir/ready.json" ] || { echo "imock-server did not start:"; cat "$dir/server.out"; exit 1; }
  mqtt=$(sed -E 's/.*"mqtt":"([^"]+)".*/\1/' "$dir/ready.json")
}
fail=0
printf 'messages:\n  client_send_rate_per_s: 0\n' >"$dir/fast.yaml"
start_imock "$dir/fast.yaml"
out=$(timeout 60 "$bench" --broker imock --mqtt "$mqtt" --messages 2000 --pairs 2 2>&1) ||
  { echo "imock:"; echo "$out"; fail=1; }
grep -q '"received":4000,' <<<"$out" || { echo "imock: not every message arrived: $out"; fail=1; }
printf 'apps:\n  - {key: imock-demo-key, secret: imock-demo-secret}\n' >"$dir/limited.yaml"
start_imock "$dir/limited.yaml"
if out=$(timeout 60 "$bench" --broker imock --mqtt "$mqtt" --messages 100 2>&1); then
  echo "the rate limit did not stop the bench: $out"; fail=1
fi
grep -q "client_send_rate_per_s" <<<"$out" || { echo "no hint at the rate limit: $out"; fail=1; }
if [ -x "$mosquitto" ]; then
  port=$((20000 + RANDOM % 12000))
  printf 'listener %s 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n' "$port" >"$dir/m.conf"
  "$mosquitto" -c "$dir/m.conf" >"$dir/m.out" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 50); do [ -n "$(ss -Htln "sport = :$port")" ] && break; sleep 0.1; done
  out=$(timeout 60 "$bench" --broker mqtt --mqtt "127.0.0.1:$port" --messages 2000 2>&1) ||
    { echo "mosquitto:"; echo "$out"; cat "$dir/m.out"; fail=1; }
  grep -q '"received":2000,' <<<"$out" || { echo "mosquitto: not every message arrived: $out"; fail=1; }
fi
[ $fail -eq 0 ] && echo "imock-message-bench delivers every message through imock-server and mosquitto"
exit $fail
