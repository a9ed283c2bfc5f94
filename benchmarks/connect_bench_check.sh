#!/usr/bin/env bash
# imock-connect-bench against an imock-server over each transport: every client is
# accepted over TCP, TLS, WS and WSS; a wrong secret is counted as refused with the
# server's code; and out of file descriptors it stops opening, says so, and keeps what
# it holds instead of spinning.
#   benchmarks/connect_bench_check.sh path/to/imock-server path/to/imock-connect-bench
set -euo pipefail
server=$1 bench=$2
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
"$server" --tls-self-signed --listen-mqtt 127.0.0.1:0 --listen-http 127.0.0.1:0 \
  --listen-mqtts 127.0.0.1:0 --listen-https 127.0.0.1:0 \
  --ready-file "$dir/ready.json" >"$dir/server.out" 2>&1 &
pid=$!
for _ in $(seq 1 100); do [ -s "$dir/ready.json" ] && break; sleep 0.1; done
[ -s "$dir/ready.json" ] || { echo "imock-server did not start:"; cat "$dir/server.out"; exit 1; }
field() { sed -E "s/.*\"$1\":\"([^\"]+)\".*/\1/" "$dir/ready.json"; }
fail=0
check() {  # check WHAT PATTERN OUTPUT
  grep -q "$2" <<<"$3" || { echo "$1: expected $2 in:"; echo "$3"; fail=1; }
}
for url in "mqtt://$(field mqtt)" "mqtts://$(field mqtts)" "ws://$(field http)/mqtt" \
           "wss://$(field https)/mqtt"; do
  out=$(timeout 60 "$bench" -n 200 -c 50 --app-secret imock-demo-secret "$url" 2>&1) ||
    { echo "$url:"; echo "$out"; fail=1; continue; }
  check "$url" '"connected":200,' "$out"
  check "$url" '"errors":0,' "$out"
done
out=$(timeout 60 "$bench" -n 20 --app-secret wrong-secret "mqtt://$(field mqtt)" 2>&1) || true
check "wrong secret" '"connected":0,' "$out"
check "wrong secret" 'rc-code 31004":20' "$out"
# 64 descriptors: a few for the process itself, the rest for connections.
out=$(ulimit -n 64 && timeout 60 "$bench" -n 200 -c 200 --source-ips 1 \
  --app-secret imock-demo-secret "mqtt://$(field mqtt)" 2>&1) || true
check "out of descriptors" 'stopped opening' "$out"
check "out of descriptors" '"errors":0,' "$out"
[ $fail -eq 0 ] && echo "imock-connect-bench connects over every transport and counts refusals"
exit $fail
