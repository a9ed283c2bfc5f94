#!/usr/bin/env bash
# imock-storm against an imock-server whose admin API has a token: a drop-all storm on a
# --target works with the token (--admin-token or IMOCK_ADMIN_TOKEN), and without it
# the run stops with the server's 401 instead of measuring nothing.
#   benchmarks/storm/admin_token_check.sh path/to/imock-server path/to/imock-storm
set -euo pipefail
server=$1 storm=$2
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
"$server" --listen-mqtt 127.0.0.1:0 --listen-http 127.0.0.1:0 --admin-token storm-t0ken \
  --ready-file "$dir/ready.json" >"$dir/server.out" 2>&1 &
pid=$!
for _ in $(seq 1 100); do [ -s "$dir/ready.json" ] && break; sleep 0.1; done
[ -s "$dir/ready.json" ] || { echo "imock-server did not start:"; cat "$dir/server.out"; exit 1; }
mqtt=$(sed -E 's/.*"mqtt":"([^"]+)".*/\1/' "$dir/ready.json")
http=$(sed -E 's/.*"http":"([^"]+)".*/\1/' "$dir/ready.json")
run() {
  timeout 60 "$storm" --target "mqtt://$mqtt" --admin "http://$http" --app-key imock-demo-key \
    --app-secret imock-demo-secret --clients 10 --storms 1 --hold 0.2 --no-progress "$@"
}
fail=0
if out=$(run 2>&1); then
  echo "without the token the storm ran anyway:"; echo "$out"; fail=1
elif ! grep -q "401" <<<"$out"; then
  echo "without the token the storm failed, but not with the server's 401:"; echo "$out"; fail=1
fi
out=$(run --admin-token storm-t0ken 2>&1) || { echo "with --admin-token:"; echo "$out"; fail=1; }
grep -q "none lost in 1/1" <<<"$out" || { echo "with --admin-token, no storm:"; echo "$out"; fail=1; }
out=$(IMOCK_ADMIN_TOKEN=storm-t0ken run 2>&1) || { echo "with IMOCK_ADMIN_TOKEN:"; echo "$out"; fail=1; }
[ $fail -eq 0 ] && echo "imock-storm passes the admin token and stops without it"
exit $fail
