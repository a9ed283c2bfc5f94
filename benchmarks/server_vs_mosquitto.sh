#!/usr/bin/env bash
# Connect rate, CONNECT->CONNACK latency and memory per idle connection of imock-server
# and of Debian's mosquitto, over the same transports, measured by imock-connect-bench.
#
#   benchmarks/server_vs_mosquitto.sh [N]     # N clients per run, default 10000
#
# For each broker and transport (TCP, WebSocket, TLS; imock also does wss):
# start a fresh broker on free loopback ports, read its RSS (VmRSS), open N connections
# with imock-connect-bench and hold them, read the RSS again while all N are held:
# RSS per idle connection = (after - before) / N. Prints a Markdown table; the raw
# JSON lines go to build/bench/server_vs_mosquitto.jsonl.
#
# Environment:
#   IMOCK_BUILD_DIR   build tree to use (default build/release, the release preset)
#   BENCH_TRANSPORTS  default "tcp ws tls"; any of tcp ws tls wss
#   BENCH_TARGETS     default "imock imock-nolog mosquitto". imock-nolog is imock-server on
#                     the default config with `event_log: 100`: the event log keeps two
#                     events per connection (accept, connect), so imock - imock-nolog is
#                     the log's history per connection, reported in its own column
#   BENCH_CONCURRENCY connection attempts in flight (default 100: mosquitto listens with a
#                     backlog of 100; SYNs beyond it are dropped and retried 1 s later)
#   BENCH_SETTLE      seconds to wait after all N are held before reading RSS (default 1)
#   IMOCK_CONFIG      a config file for imock-server (the listen flags still win; not
#                     for imock-nolog)
#   VERBOSE=1         progress on stderr
#
# Each process may hold at most `ulimit -Hn` (20,000 here) files, so N must stay a
# little below that: the broker and the bench each hold N sockets.
set -euo pipefail

N=${1:-10000}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${IMOCK_BUILD_DIR:-$ROOT/build/release}
OUT_DIR=$ROOT/build/bench
JSONL=$OUT_DIR/server_vs_mosquitto.jsonl
TRANSPORTS=${BENCH_TRANSPORTS:-tcp ws tls}
TARGETS=${BENCH_TARGETS:-imock imock-nolog mosquitto}
CONCURRENCY=${BENCH_CONCURRENCY:-100}
SETTLE=${BENCH_SETTLE:-1}
VERBOSE=${VERBOSE:-0}
MOSQUITTO=${MOSQUITTO:-/usr/sbin/mosquitto}

say() { if [[ $VERBOSE == 1 ]]; then echo "[bench] $*" >&2; fi; }
die() { echo "server_vs_mosquitto: $*" >&2; exit 1; }

[[ $N =~ ^[0-9]+$ && $N -gt 0 ]] || die "N must be a positive number, got '$N'"
hard=$(ulimit -Hn)
if [[ $hard != unlimited ]]; then
  (( N + 200 <= hard )) || die "N=$N needs more than the $hard open files a process may hold; use N <= $((hard - 200))"
  ulimit -n "$hard"  # inherited by the brokers and the bench
fi
# Bounds: the whole bench run (connect + hold) and the wait for a broker to listen.
RUN_TIMEOUT=$((60 + N / 50))
START_TIMEOUT=15

mkdir -p "$OUT_DIR"
WORK=$(mktemp -d "$OUT_DIR/run.XXXXXX")
PIDS=()  # processes this script started and has not reaped yet
forget_pid() {
  local keep=() p
  for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build --------------------------------------------------------------------------
SERVER=$BUILD/server/imock-server
BENCH=$BUILD/benchmarks/imock-connect-bench
build() {
  if [[ $BUILD == "$ROOT/build/release" ]]; then
    [[ -f $BUILD/build.ninja ]] || (cd "$ROOT" && cmake --preset release)
    (cd "$ROOT" && cmake --build --preset release -j2 --target imock-server imock-connect-bench)
  else
    [[ -f $BUILD/build.ninja ]] || (cd "$ROOT" && cmake --preset release -B "$BUILD")
    cmake --build "$BUILD" -j2 --target imock-server imock-connect-bench
  fi
}
say "building in $BUILD"
if ! build >"$WORK/build.log" 2>&1; then
  if [[ -x $SERVER && -x $BENCH ]]; then
    echo "server_vs_mosquitto: build failed (see below); using the existing binaries" >&2
    tail -5 "$WORK/build.log" >&2
  else
    cat "$WORK/build.log" >&2
    die "build failed"
  fi
fi

# --- helpers ------------------------------------------------------------------------
# shellcheck source=benchmarks/ports.sh
source "$ROOT/benchmarks/ports.sh"  # port_free, free_port, wait_listening, cpu_ticks
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

stop_pid() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  forget_pid "$pid"
}

# start_imock / start_mosquitto TRANSPORT: start a fresh broker with all its listeners
# on free loopback ports; set SERVER_PID and URL (the listener for TRANSPORT).
start_imock() {
  local via=$1 config=${2:-${IMOCK_CONFIG:-}} ready=$WORK/imock-ready.json
  rm -f "$ready"
  "$SERVER" ${config:+--config "$config"} --listen-mqtt 127.0.0.1:0 --listen-http 127.0.0.1:0 \
    --tls-self-signed --listen-mqtts 127.0.0.1:0 --listen-https 127.0.0.1:0 \
    --ready-file "$ready" --log-level warn >"$WORK/imock-$via.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for _ in $(seq $((START_TIMEOUT * 10))); do
    [[ -s $ready ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  [[ -s $ready ]] || { cat "$WORK/imock-$via.log" >&2; die "imock-server did not start"; }
  case $via in
    tcp) URL=mqtt://$(jq -r .mqtt "$ready") ;;
    ws) URL=ws://$(jq -r .http "$ready")/mqtt ;;
    tls) URL=mqtts://$(jq -r .mqtts "$ready") ;;
    wss) URL=wss://$(jq -r .https "$ready")/mqtt ;;
  esac
}

MOSQ_CERT=$WORK/mosquitto-cert.pem
MOSQ_KEY=$WORK/mosquitto-key.pem
# mosquitto 2.0.11 refuses to start with a websockets listener alone ("Unable to start
# any listening sockets"), so, like imock, it always gets all three listeners.
start_mosquitto() {
  local via=$1 conf tcp_port ws_port tls_port port
  conf=$WORK/mosquitto.conf
  tcp_port=$(free_port)
  ws_port=$(free_port)
  tls_port=$(free_port)
  if [[ ! -f $MOSQ_CERT ]]; then
    # Same kind of certificate imock makes: EC P-256, self-signed.
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
      -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
      -keyout "$MOSQ_KEY" -out "$MOSQ_CERT" >/dev/null 2>&1 || die "openssl failed"
  fi
  cat >"$conf" <<CONF
# generated by benchmarks/server_vs_mosquitto.sh
# As root, mosquitto would otherwise switch to the user mosquitto.
user $(id -un)
persistence false
log_dest stderr
log_type error
log_type warning
allow_anonymous true
max_connections -1
# imock sets TCP_NODELAY too.
set_tcp_nodelay true
listener $tcp_port 127.0.0.1
listener $ws_port 127.0.0.1
protocol websockets
listener $tls_port 127.0.0.1
certfile $MOSQ_CERT
keyfile $MOSQ_KEY
CONF
  case $via in
    tcp) port=$tcp_port URL=mqtt://127.0.0.1:$tcp_port ;;
    ws) port=$ws_port URL=ws://127.0.0.1:$ws_port/mqtt ;;
    tls) port=$tls_port URL=mqtts://127.0.0.1:$tls_port ;;
    *) say "mosquitto: no $via listener in this comparison"; return 1 ;;
  esac
  "$MOSQUITTO" -c "$conf" >"$WORK/mosquitto-$via.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  if ! wait_listening "$SERVER_PID" "$port"; then
    echo "server_vs_mosquitto: mosquitto did not start: $(tail -3 "$WORK/mosquitto-$via.log")" >&2
    stop_pid "$SERVER_PID"
    return 1
  fi
}

# One measurement: prints one JSON line (the bench's summary plus RSS figures).
# Runs in the main shell (never in $(...)) so the EXIT trap sees the PIDs it starts.
measure() {
  local target=$1 via=$2 hold=$WORK/hold ready=$WORK/bench-ready.json out=$WORK/bench.json
  local extra=() progress=() before after cpu_before cpu_after bench_pid rc=0
  [[ $VERBOSE == 1 ]] && progress=(--progress)
  if [[ $target == imock ]]; then
    start_imock "$via"
    extra=(--app-secret imock-demo-secret)
  elif [[ $target == imock-nolog ]]; then
    local nolog=$WORK/imock-nolog.yaml
    "$SERVER" --print-config | sed -E 's/^( *event_log:) *[0-9]+/\1 100/' >"$nolog"
    grep -qE '^ *event_log: 100( |$)' "$nolog" || die "no event_log line in --print-config"
    start_imock "$via" "$nolog"
    extra=(--app-secret imock-demo-secret)
  else
    start_mosquitto "$via" || return 1
    # Same user name and token as for imock, without the imock user properties.
    extra=(--app-secret imock-demo-secret --plain)
  fi
  sleep 0.3
  before=$(rss_kb "$SERVER_PID")
  cpu_before=$(cpu_ticks "$SERVER_PID")
  say "$target $via: $URL, RSS before ${before} kB"
  rm -f "$ready" "$out"
  touch "$hold"
  "$BENCH" "$URL" --clients "$N" --concurrency "$CONCURRENCY" "${extra[@]}" \
    --hold-file "$hold" --ready-file "$ready" --timeout "$RUN_TIMEOUT" \
    "${progress[@]}" >"$out" 2>"$WORK/bench.err" &
  bench_pid=$!
  PIDS+=("$bench_pid")
  while [[ ! -s $ready ]] && kill -0 "$bench_pid" 2>/dev/null; do sleep 0.1; done
  cpu_after=$(cpu_ticks "$SERVER_PID" || echo 0)
  sleep "$SETTLE"
  after=$(rss_kb "$SERVER_PID" || echo 0)
  rm -f "$hold"
  wait "$bench_pid" || rc=$?
  forget_pid "$bench_pid"
  stop_pid "$SERVER_PID"
  if [[ ! -s $out ]]; then
    cat "$WORK/bench.err" >&2
    die "imock-connect-bench ($target $via) printed no summary (exit $rc)"
  fi
  [[ -s $WORK/bench.err ]] && say "bench: $(cat "$WORK/bench.err")"
  jq -c --arg server "$target" --argjson before "${before:-0}" --argjson after "${after:-0}" \
    --argjson cpu "$(( ${cpu_after:-0} - ${cpu_before:-0} ))" --argjson hz "$(getconf CLK_TCK)" '
    {server: $server} + . + {
      rss_before_kb: $before, rss_held_kb: $after,
      server_cpu_us_per_conn: (if .connected > 0
                               then (($cpu / $hz * 1e6 / .connected) * 10 | round) / 10
                               else null end),
      rss_per_conn_kb: (if .connected > 0
                        then ((($after - $before) / .connected) * 100 | round) / 100
                        else null end)}' "$out"
}

# --- runs ---------------------------------------------------------------------------
: >"$JSONL"
for via in $TRANSPORTS; do
  for target in $TARGETS; do
    if measure "$target" "$via" >"$WORK/line.json"; then
      cat "$WORK/line.json" >>"$JSONL"
      say "$(cat "$WORK/line.json")"
    else
      say "$target $via: skipped"
    fi
  done
done

# --- table --------------------------------------------------------------------------
# imock's ratios are to mosquitto on the same transport; "event log" is imock's RSS per
# connection minus imock-nolog's, from the same script run.
jq -rs '
  def fmt(x): if x == null then "n/a" else (x | tostring) end;
  def ratio(a; b): if a == null or b == null or b == 0 then "n/a"
                   else ((a / b * 100 | round) / 100 | tostring) end;
  . as $all
  | "| target | transport | clients | connected | connect rate/s (machine-bound) | p50 ms | p99 ms | server CPU µs/connect | CPU /mosquitto | RSS per idle connection (KB) | of which event log (KB) | RSS /mosquitto |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ( $all[]
      | . as $r
      | ($all | map(select(.server == "mosquitto" and .transport == $r.transport)) | first) as $m
      | ($all | map(select(.server == "imock-nolog" and .transport == $r.transport)) | first) as $n
      | (if .server == "imock" and $n != null and .rss_per_conn_kb != null and $n.rss_per_conn_kb != null
         then (((.rss_per_conn_kb - $n.rss_per_conn_kb) * 100 | round) / 100 | tostring) else "" end) as $log
      | (.server | startswith("imock")) as $imock
      | "| \(.server) | \(.transport) | \(.clients) | \(.connected) | \(.rate_per_s) | \(.p50_ms) | \(.p99_ms) | \(fmt(.server_cpu_us_per_conn)) | "
        + (if $imock and $m != null then ratio(.server_cpu_us_per_conn; $m.server_cpu_us_per_conn) else "" end)
        + " | \(fmt(.rss_per_conn_kb)) | \($log) | "
        + (if $imock and $m != null then ratio(.rss_per_conn_kb; $m.rss_per_conn_kb) else "" end) + " |" )
' "$JSONL"
echo
echo "Raw results: ${JSONL#"$ROOT"/}"
