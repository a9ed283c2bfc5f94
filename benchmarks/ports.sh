# Shell helpers the benchmark scripts share (sourced, not run): free loopback ports,
# waiting for a broker to listen, a process's CPU time. The caller defines die().

# Whether nothing listens on TCP port $1.
port_free() { [[ -z $(ss -Htln "sport = :$1") ]]; }

# A free loopback port below the ephemeral range, so a bench's own sockets never take it.
free_port() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 12000))
    if port_free "$p"; then echo "$p"; return; fi
  done
  die "no free port"
}

# wait_listening PID PORT: until the process listens there (false if it exits, or after
# START_TIMEOUT seconds, default 15).
wait_listening() {
  for _ in $(seq $((${START_TIMEOUT:-15} * 10))); do
    kill -0 "$1" 2>/dev/null || return 1
    port_free "$2" || return 0
    sleep 0.1
  done
  return 1
}

# User + system CPU time of process $1 in clock ticks (fields 14 and 15 of
# /proc/PID/stat, counted after the ")" that ends the command name).
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
