#!/usr/bin/env bash
# imock-client sends and prints messages: alice sends one with --send and one as a
# stdin line, each process exiting once its sends are acknowledged; bob connects
# afterwards, gets both from the offline store, prints them and exits after two.
# A malformed --send is refused before anything connects.
#   client/cli_messages_check.sh path/to/imock-server path/to/imock-client
set -euo pipefail
server=$1 client=$2
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
"$server" --listen-mqtt 127.0.0.1:0 --listen-http 127.0.0.1:0 \
  --ready-file "$dir/ready.json" >"$dir/server.out" 2>&1 &
pid=$!
for _ in $(seq 1 100); do [ -s "$dir/ready.json" ] && break; sleep 0.1; done
[ -s "$dir/ready.json" ] || { echo "imock-server did not start:"; cat "$dir/server.out"; exit 1; }
field() { sed -E "s/.*\"$1\":\"([^\"]+)\".*/\1/" "$dir/ready.json"; }
as() {  # as USER FLAGS...: imock-client for USER on this server, bounded
  local user=$1; shift
  timeout 30 "$client" --url "mqtt://$(field mqtt)" --api "http://$(field http)" \
    --app-key imock-demo-key --app-secret imock-demo-secret --user "$user" "$@"
}
fail=0
check() {  # check WHAT PATTERN OUTPUT
  grep -q -- "$2" <<<"$3" || { echo "$1: expected '$2' in:"; echo "$3"; fail=1; }
}
out=$(as alice --send "bob:hello bob" --exit-when-done 2>&1) || { echo "--send failed:"; echo "$out"; fail=1; }
check "--send" "sent #1 to bob: hello bob" "$out"
out=$(printf 'bob from stdin\n' | as alice --send-stdin --exit-when-done 2>&1) ||
  { echo "--send-stdin failed:"; echo "$out"; fail=1; }
check "--send-stdin" "to bob: from stdin" "$out"
out=$(as bob --json --exit-after-messages 2 2>&1) || { echo "receiver failed:"; echo "$out"; fail=1; }
check "receiver" '"from":"alice".*"text":"hello bob".*"offline":true.*"event":"message"' "$out"
check "receiver" '"text":"from stdin"' "$out"
check "receiver" '"event":"done"' "$out"
if out=$(as alice --send "no-colon" 2>&1); then
  echo "a bad --send was taken:"; echo "$out"; fail=1
fi
check "bad --send" "bad --send 'no-colon' (expected USER:TEXT" "$out"
[ $fail -eq 0 ] && echo "imock-client sends with --send and stdin lines, and prints what it receives"
exit $fail
