#!/usr/bin/env bash
# The same reconnect storm against imock-server and against Debian's mosquitto, side by
# side: N reference-SDK clients (imock-storm), the documented reconnect schedule, and a
# broker restart (stop the process, wait, start it again on the same port) as the trigger.
#
#   benchmarks/storm_vs_mosquitto.sh [N]      # N clients, default 5000
#
# For each broker, imock-storm starts a fresh one on a free loopback port, connects the N
# clients, holds, restarts the broker (--restart-mode process, down --restart-down ms),
# waits until every client is back, and reads the broker's RSS and CPU from /proc.
# Prints a Markdown table with imock/mosquitto ratios. The JSON results and charts go to
# build/bench/storm-{imock,mosquitto}.{json,svg}.
#
# Environment:
#   IMOCK_BUILD_DIR  build tree to use (default build/release, the release preset)
#   STORM_DOWN_MS    how long the broker stays down (default 1000)
#   STORM_POLICY     documented (default), full-jitter or decorrelated
#   STORM_STORMS     restarts in a row (default 1)
#   STORM_ARGS       more imock-storm flags for both runs (e.g. "--procs 2")
#   STORM_TARGETS    default "imock mosquitto"
#   VERBOSE=1        imock-storm's progress on stderr
#
# One process holds at most `ulimit -Hn` files (20,000 here): N above ~19,000 needs
# STORM_ARGS="--procs 2" for the clients, and the broker itself must fit.
set -euo pipefail

N=${1:-5000}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${IMOCK_BUILD_DIR:-$ROOT/build/release}
OUT_DIR=$ROOT/build/bench
DOWN_MS=${STORM_DOWN_MS:-1000}
POLICY=${STORM_POLICY:-documented}
STORMS=${STORM_STORMS:-1}
TARGETS=${STORM_TARGETS:-imock mosquitto}
read -r -a EXTRA <<<"${STORM_ARGS:-}"
VERBOSE=${VERBOSE:-0}

die() { echo "storm_vs_mosquitto: $*" >&2; exit 1; }
[[ $N =~ ^[0-9]+$ && $N -gt 0 ]] || die "N must be a positive number, got '$N'"
command -v jq >/dev/null || die "jq is missing (apt-get install jq)"

# --- build --------------------------------------------------------------------------
STORM=$BUILD/benchmarks/imock-storm
mkdir -p "$OUT_DIR"
build() {
  if [[ $BUILD == "$ROOT/build/release" ]]; then
    [[ -f $BUILD/build.ninja ]] || (cd "$ROOT" && cmake --preset release)
    (cd "$ROOT" && cmake --build --preset release -j2 --target imock-storm imock-server)
  else
    [[ -f $BUILD/build.ninja ]] || (cd "$ROOT" && cmake --preset release -B "$BUILD")
    cmake --build "$BUILD" -j2 --target imock-storm imock-server
  fi
}
if ! build >"$OUT_DIR/storm-build.log" 2>&1; then
  if [[ -x $STORM && -x $BUILD/server/imock-server ]]; then
    echo "storm_vs_mosquitto: build failed (see $OUT_DIR/storm-build.log); using the existing binaries" >&2
  else
    cat "$OUT_DIR/storm-build.log" >&2
    die "build failed"
  fi
fi

# --- runs ---------------------------------------------------------------------------
# imock-storm stops by itself (--duration-limit) and stops the broker it started.
progress=(--no-progress)
[[ $VERBOSE == 1 ]] && progress=(--progress)
for target in $TARGETS; do
  echo "storm_vs_mosquitto: $N clients, $target, restart down ${DOWN_MS} ms, policy $POLICY" >&2
  rc=0
  "$STORM" --broker "$target" --clients "$N" --trigger restart --restart-mode process \
    --restart-down "$DOWN_MS" --policy "$POLICY" --storms "$STORMS" \
    --json-out "$OUT_DIR/storm-$target.json" --chart "$OUT_DIR/storm-$target.svg" \
    "${progress[@]}" "${EXTRA[@]}" >"$OUT_DIR/storm-$target.txt" || rc=$?
  [[ $VERBOSE == 1 ]] && cat "$OUT_DIR/storm-$target.txt" >&2
  [[ -s $OUT_DIR/storm-$target.json ]] || { cat "$OUT_DIR/storm-$target.txt" >&2; die "imock-storm ($target) wrote no result (exit $rc)"; }
  (( rc <= 1 )) || { cat "$OUT_DIR/storm-$target.txt" >&2; die "imock-storm ($target) failed (exit $rc)"; }
done

# --- table --------------------------------------------------------------------------
# One row per figure; the storm figures are those of the worst storm when STORMS > 1.
jq -rn --arg n "$N" '
  def r(x): if x == null then null else ((x * 100 | round) / 100) end;
  def fmt(x): if x == null then "never" else (x | tostring) end;
  def ratio(a; b): if a == null or b == null or b == 0 then "n/a" else (r(a / b) | tostring) end;
  def worst(f): [.summary.storms[] | f] | if any(. == null) then null else max end;
  def figures: {
    t99: worst(.t99_s), t100: worst(.t100_s),
    lost: ([.storms[].lost] | add),
    peak: ([.summary.storms[].peak_attempts_per_s] | max),
    amp: ([.summary.storms[].amplification] | max),
    p99: ([.summary.storms[].latency_p99_ms] | max),
    rss: (if (.server.samples | length) > 0 and .storms[0].server.rss_before_kb != null
          then r((.storms[0].server.rss_before_kb - .server.samples[0][1]) / .clients) else null end)
  };
  [inputs] as $all
  | ($all | map(select(.target_kind == "imock")) | first | if . then figures else {} end) as $i
  | ($all | map(select(.target_kind == "mosquitto")) | first | if . then figures else {} end) as $m
  | "| \($n) clients, restart storm | imock-server | mosquitto | imock/mosquitto |",
    "|---|---:|---:|---:|",
    "| 99% reconnected (s) | \(fmt($i.t99)) | \(fmt($m.t99)) | \(ratio($i.t99; $m.t99)) |",
    "| 100% reconnected (s) | \(fmt($i.t100)) | \(fmt($m.t100)) | \(ratio($i.t100; $m.t100)) |",
    "| lost | \(fmt($i.lost)) | \(fmt($m.lost)) | |",
    "| peak attempts/s | \(fmt($i.peak)) | \(fmt($m.peak)) | \(ratio($i.peak; $m.peak)) |",
    "| attempts per client | \(fmt(r($i.amp))) | \(fmt(r($m.amp))) | \(ratio($i.amp; $m.amp)) |",
    "| connect p99 in the storm (ms) | \(fmt(r($i.p99))) | \(fmt(r($m.p99))) | \(ratio($i.p99; $m.p99)) |",
    "| server RSS per connection (KB) | \(fmt($i.rss)) | \(fmt($m.rss)) | \(ratio($i.rss; $m.rss)) |"
' "$OUT_DIR"/storm-imock.json "$OUT_DIR"/storm-mosquitto.json 2>/dev/null ||
  jq -rn '"(one of the runs is missing; see build/bench/storm-*.txt)"'
echo
echo "Results: ${OUT_DIR#"$ROOT"/}/storm-{imock,mosquitto}.{json,svg,txt}"
