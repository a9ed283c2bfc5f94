#!/usr/bin/env bash
# imock-storm with message traffic: 400 clients in two processes send 2 messages a
# second each across three drop-all storms; every acknowledged message is shown to its
# receiver once (none lost, none shown twice), the drops made some sends fail and be
# resent, and the JSON result carries the counts and the latencies. A plain broker is
# refused with a clear error.
#   benchmarks/storm/messages_check.sh path/to/imock-storm
set -euo pipefail
storm=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail=0
out=$(timeout 120 "$storm" --clients 400 --procs 2 --storms 3 --messages-per-s 2 --hold 1 \
  --no-progress --json-out "$dir/r.json" 2>&1) || { echo "the run failed:"; echo "$out"; fail=1; }
# The summary's messages block (the first one in the file), one field per line.
summary=$(sed -n '/"messages": {/,/}/p' "$dir/r.json" | sed -n '1,/}/p')
field() { grep "\"$1\":" <<<"$summary" | head -1 | sed -E 's/.*: ([0-9.]+),?$/\1/'; }
[ -n "$summary" ] || { echo "no messages summary in the result:"; cat "$dir/r.json" | head -50; exit 1; }
[ "$(field lost)" = 0 ] || { echo "messages lost: $summary"; fail=1; }
[ "$(field duplicates)" = 0 ] || { echo "duplicates shown: $summary"; fail=1; }
[ "$(field sent)" -ge 2000 ] || { echo "too few messages sent: $summary"; fail=1; }
[ "$(field delivered)" = "$(field sent)" ] || { echo "delivered != sent: $summary"; fail=1; }
grep -q "^messages    2 per client per s: sent" <<<"$out" || { echo "no messages line:"; echo "$out"; fail=1; }
if out=$(timeout 30 "$storm" --clients 10 --plain --messages-per-s 1 --no-progress 2>&1); then
  echo "--messages-per-s with --plain ran:"; echo "$out"; fail=1
fi
grep -q "needs imock-server" <<<"$out" || { echo "no clear error for --plain:"; echo "$out"; fail=1; }
[ $fail -eq 0 ] && echo "imock-storm with traffic: $(field sent) sent, none lost, none duplicated"
exit $fail
