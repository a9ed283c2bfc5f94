#!/usr/bin/env bash
# One-to-one QoS 1 messages per second through imock-server against mosquitto's QoS 1
# publish rate, in the same run, by the same client (imock-message-bench): for
# imock-server a PUBLISH to imock/send with `to` delivered on imock/msg (the message
# path of docs/protocol.md §9: stored, assigned a messageUId, delivered, acknowledged);
# for mosquitto a PUBLISH QoS 1 to the topic the receiver subscribed to with QoS 1.
#
#   benchmarks/messages_vs_mosquitto.sh [MESSAGES] [ROUNDS]   # default 200000, 3
#
# Each round starts both brokers fresh on free loopback ports and runs imock then
# mosquitto, so a noisy neighbour hits both; it prints messages/s of each, their ratio,
# and the broker's CPU time per 1000 messages (the figure two shared cores measure
# best: the client and the broker compete for them, so the rate is machine-bound).
#
# Environment: IMOCK_BUILD_DIR (default build/release), MOSQUITTO (/usr/sbin/mosquitto),
# BENCH_PAIRS (sender/receiver pairs, default 1), BENCH_WINDOW (messages sent and not yet
# received, per pair, default 32; mosquitto sends a subscriber at most 20 unacknowledged
# by default).
set -euo pipefail

MESSAGES=${1:-200000}
ROUNDS=${2:-3}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${IMOCK_BUILD_DIR:-$ROOT/build/release}
MOSQUITTO=${MOSQUITTO:-/usr/sbin/mosquitto}
PAIRS=${BENCH_PAIRS:-1}
WINDOW=${BENCH_WINDOW:-32}
SERVER=$BUILD/server/imock-server
BENCH=$BUILD/benchmarks/imock-message-bench

die() { echo "messages_vs_mosquitto: $*" >&2; exit 1; }
[[ $MESSAGES =~ ^[0-9]+$ && $MESSAGES -gt 0 ]] || die "MESSAGES must be a positive number"
[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -gt 0 ]] || die "ROUNDS must be a positive number"
[[ -x $MOSQUITTO ]] || die "no $MOSQUITTO (scripts/install-deps installs mosquitto)"
(cd "$ROOT" && cmake --build "$BUILD" --target imock-server imock-message-bench >/dev/null) ||
  die "build failed (cmake --build $BUILD --target imock-server imock-message-bench)"

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# shellcheck source=benchmarks/ports.sh
source "$ROOT/benchmarks/ports.sh"  # port_free, free_port, wait_listening, cpu_ticks

# The send rate limit is the vendor's 5 a second per client; a benchmark turns it off.
printf 'messages:\n  client_send_rate_per_s: 0\n' >"$WORK/imock.yaml"
TICK=$(getconf CLK_TCK)
run() {  # run imock|mosquitto: sets RATE (messages/s) and CPU (broker CPU ms per 1000)
  local kind=$1 port pid out
  port=$(free_port)
  if [[ $kind == imock ]]; then
    "$SERVER" --config "$WORK/imock.yaml" --listen-mqtt "127.0.0.1:$port" \
      --listen-http 127.0.0.1:0 --log-level warn >"$WORK/imock.log" 2>&1 &
  else
    # TCP_NODELAY as imock-server has it: without it mosquitto's small writes to a
    # subscriber wait on Nagle and delayed ACKs, and the rate is theirs, not its own.
    printf 'listener %s 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n' "$port" \
      >"$WORK/mosquitto.conf"
    "$MOSQUITTO" -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
  fi
  pid=$!
  PIDS+=("$pid")
  wait_listening "$pid" "$port" || die "$kind did not listen on $port (see $WORK/$kind.log)"
  local before after
  before=$(cpu_ticks "$pid")
  out=$(timeout 300 "$BENCH" --broker "$([[ $kind == imock ]] && echo imock || echo mqtt)" \
    --mqtt "127.0.0.1:$port" --messages "$((MESSAGES / PAIRS))" --pairs "$PAIRS" \
    --window "$WINDOW") || die "$kind: $out"
  after=$(cpu_ticks "$pid")
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  PIDS=()
  local per_s received
  per_s=$(sed -E 's/.*"per_s":([0-9]+).*/\1/' <<<"$out")
  received=$(sed -E 's/.*"received":([0-9]+).*/\1/' <<<"$out")
  RATE=$per_s
  CPU=$(awk -v t="$((after - before))" -v hz="$TICK" -v n="$received" \
    'BEGIN { x = n > 0 ? t * 1000 / hz / n * 1000 : 0; printf "%.2f", x }')
}

echo "| round | imock msg/s | mosquitto msg/s | rate imock/mosquitto | imock CPU ms/1000 | mosquitto CPU ms/1000 | CPU imock/mosquitto |"
echo "|---|---|---|---|---|---|---|"
for round in $(seq "$ROUNDS"); do
  run imock
  i_rate=$RATE i_cpu=$CPU
  run mosquitto
  m_rate=$RATE m_cpu=$CPU
  awk -v k="$round" -v ir="$i_rate" -v mr="$m_rate" -v ic="$i_cpu" -v mc="$m_cpu" 'BEGIN {
    rate = mr > 0 ? ir / mr : 0
    cpu = mc > 0 ? ic / mc : 0
    printf "| %d | %d | %d | %.2f | %.2f | %.2f | %.2f |\n", k, ir, mr, rate, ic, mc, cpu }'
done
echo
echo "$MESSAGES messages per run, $PAIRS pair(s), window $WINDOW, 64-byte payloads, TCP on loopback."
