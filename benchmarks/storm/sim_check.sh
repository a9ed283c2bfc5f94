#!/usr/bin/env bash
# imock-storm --sim: 3,000 simulated clients through two drop-all storms on the
# virtual-time engine. Every client comes back, the report says it was simulated and
# carries the model's notes; two runs with the same seed give the same storms to the
# microsecond; a slower server (--sim-service-us) gives slower recoveries, as the
# model says it must (3,000 connects at 1 ms each take at least 3 s); a restart and
# a full-jitter run recover too; options that need sockets are refused.
#   benchmarks/storm/sim_check.sh path/to/imock-storm
set -euo pipefail
storm=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail=0
run() { timeout 120 "$storm" --sim --no-progress "$@"; }
storms() { python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["storms"], sort_keys=True))' "$1"; }
field() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

out=$(run --clients 3000 --storms 2 --json-out "$dir/a.json" 2>&1) || { echo "the run failed:"; echo "$out"; fail=1; }
grep -q "imock-server (simulated)" <<<"$out" || { echo "the summary does not say simulated:"; echo "$out"; fail=1; }
grep -q "note        simulated: listen queue 16384" <<<"$out" || { echo "no model note:"; echo "$out"; fail=1; }
[ "$(field "$dir/a.json" 'r["target_kind"]')" = sim ] || { echo "target_kind is not sim"; fail=1; }
[ "$(field "$dir/a.json" 'sum(s["recovered"] for s in r["storms"])')" = 6000 ] || { echo "not every client came back:"; echo "$out"; fail=1; }
run --clients 3000 --storms 2 --json-out "$dir/b.json" >/dev/null 2>&1 || true
[ "$(storms "$dir/a.json")" = "$(storms "$dir/b.json")" ] || { echo "two runs with one seed differ"; fail=1; }

run --clients 3000 --storms 1 --sim-service-us 1000 --json-out "$dir/slow.json" >/dev/null 2>&1 || { echo "the slow run failed"; fail=1; }
t99=$(field "$dir/slow.json" 'r["summary"]["storms"][0]["t99_s"]')
fast=$(field "$dir/a.json" 'r["summary"]["storms"][0]["t99_s"]')
python3 -c "import sys; sys.exit(0 if $t99 >= 2.9 and $t99 > 4 * $fast else 1)" ||
  { echo "1 ms per connect gave t99 $t99 s (30 us: $fast s)"; fail=1; }

for extra in "--trigger restart" "--policy full-jitter" "--trigger kicks --kick-rate 3000"; do
  # shellcheck disable=SC2086
  out=$(run --clients 1000 --storms 1 $extra 2>&1) || { echo "--sim $extra failed:"; echo "$out"; fail=1; }
done

for bad in "--target mqtt://127.0.0.1:1883" "--procs 2" "--broker mosquitto" "--messages-per-s 1"; do
  # shellcheck disable=SC2086
  if out=$(timeout 30 "$storm" --sim --clients 10 $bad 2>&1); then echo "--sim $bad ran"; fail=1; fi
  grep -q "does not apply to --sim" <<<"$out" || { echo "no clear error for --sim $bad: $out"; fail=1; }
done
if out=$(timeout 30 "$storm" --clients 10 --sim-backlog 5 2>&1); then echo "--sim-backlog without --sim ran"; fail=1; fi
grep -q "need --sim" <<<"$out" || { echo "no clear error for --sim-backlog alone: $out"; fail=1; }
[ $fail -eq 0 ] && echo "imock-storm --sim: 3000 clients back twice, deterministic, t99 $fast s (1 ms per connect: $t99 s)"
exit $fail
