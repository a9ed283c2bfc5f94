#!/usr/bin/env bash
# The policy table of docs/storm.md ("Simulation"): the three jitter policies at 10k,
# 100k and 1M simulated clients, one drop-all each, on the calibrated model. Prints
# a Markdown table (peak attempts per second, time to 99%, attempts per client) and
# writes each run's JSON and chart to DIR (default ./sim-policies). TRIGGER=flap (or any
# --trigger) storms with that trigger instead of drop-all.
#   benchmarks/storm/sim_policies.sh [DIR] [SIZES...]
# A million clients take about a minute and 5.5 GB of memory per run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
storm=${IMOCK_STORM:-$here/../../build/release/benchmarks/imock-storm}
dir=${1:-sim-policies}
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000 1000000)
[ -x "$storm" ] || { echo "sim_policies.sh: build imock-storm first ($storm)" >&2; exit 2; }
mkdir -p "$dir"
for n in "${sizes[@]}"; do
  for p in documented full-jitter decorrelated; do
    "$storm" --sim --clients "$n" --ramp 30000 --storms 1 --policy "$p" --trigger "${TRIGGER:-drop-all}" \
      --recovery-timeout 600 --duration-limit 1200 --no-progress \
      --json-out "$dir/$p-$n.json" --chart "$dir/$p-$n.svg" >/dev/null || true
  done
done
python3 - "$dir" "${sizes[@]}" <<'PY'
import json, sys
d, sizes = sys.argv[1], sys.argv[2:]
print("| clients | policy | peak attempts/s | t50 | t99 | attempts per client | wall time |")
print("|---:|---|---:|---:|---:|---:|---:|")
for n in sizes:
    for p in ("documented", "full-jitter", "decorrelated"):
        r = json.load(open(f"{d}/{p}-{n}.json"))
        s = r["summary"]["storms"][0]
        wall = next((x.split(" in ")[-1].split(" of wall")[0] for x in r["notes"] if "wall time" in x), "?")
        t = lambda k: f"{s[k]:.2f} s" if s.get(k) is not None else "not reached"
        print(f"| {int(n):,} | {p} | {s['peak_attempts_per_s']:,.0f} | {t('t50_s')} | {t('t99_s')} | "
              f"{s['amplification']:.2f} | {wall} |")
PY
