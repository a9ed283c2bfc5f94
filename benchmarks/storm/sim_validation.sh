#!/usr/bin/env bash
# The validation table of docs/storm.md ("Simulation"): real drop-all storms over
# sockets against imock-server at 5k, 10k and 15k clients (RUNS runs of 5 storms
# each), and imock-storm --sim at the same sizes; t50, t90 and t99 side by side
# (real: the median over all storms) and the simulation's error.
#   benchmarks/storm/sim_validation.sh [RUNS] [SIZES...]    (default 2; 5000 10000 15000)
# Run it on a quiet machine: the real storms share its cores with their generator.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
storm=${IMOCK_STORM:-$here/../../build/release/benchmarks/imock-storm}
runs=${1:-2}
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(5000 10000 15000)
[ -x "$storm" ] || { echo "sim_validation.sh: build imock-storm first ($storm)" >&2; exit 2; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for n in "${sizes[@]}"; do
  for k in $(seq 1 "$runs"); do
    "$storm" --clients "$n" --storms 5 --no-progress --json-out "$dir/real-$n-$k.json" >/dev/null
  done
  "$storm" --sim --clients "$n" --storms 1 --no-progress --json-out "$dir/sim-$n.json" >/dev/null
done
python3 - "$dir" "${sizes[@]}" <<'PY'
import glob, json, statistics, sys
d, sizes = sys.argv[1], sys.argv[2:]
keys = ("t50_s", "t90_s", "t99_s")
print("| clients | | t50 | t90 | t99 |")
print("|---:|---|---:|---:|---:|")
for n in sizes:
    real = {k: [] for k in keys}
    for f in glob.glob(f"{d}/real-{n}-*.json"):
        for s in json.load(open(f))["summary"]["storms"]:
            for k in keys:
                real[k].append(s[k])
    real = {k: statistics.median(v) for k, v in real.items()}
    sim = json.load(open(f"{d}/sim-{n}.json"))["summary"]["storms"][0]
    print(f"| {int(n):,} | real (median) | " + " | ".join(f"{real[k]:.3f} s" for k in keys) + " |")
    print(f"| | simulated | " + " | ".join(f"{sim[k]:.3f} s ({(sim[k] / real[k] - 1) * 100:+.0f}%)" for k in keys) + " |")
PY
