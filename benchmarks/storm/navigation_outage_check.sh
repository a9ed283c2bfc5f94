#!/usr/bin/env bash
# imock-storm's navigation-outage trigger against the imock-server it starts: clients
# that connect through navigation, navigation failing (HTTP 500, 30009) for 1 s from a
# drop-all. With the default cached list (2 h) nobody notices: no attempt fails. With
# --navigation-cache 0 every reconnect asks navigation: attempts fail with 30009 until
# the outage ends, and everyone is back after it.
#   benchmarks/storm/navigation_outage_check.sh path/to/imock-storm
set -euo pipefail
storm=$1
run() {
  timeout 90 "$storm" --clients 200 --navigation --trigger navigation-outage --outage 1 \
    --storms 1 --hold 0.2 --no-progress "$@" 2>&1
}
fail=0
out=$(run) || { echo "cached list: the run failed:"; echo "$out"; fail=1; }
grep -q "failures    none" <<<"$out" || { echo "cached list: attempts failed:"; echo "$out"; fail=1; }
grep -q "none lost in 1/1" <<<"$out" || { echo "cached list: clients lost:"; echo "$out"; fail=1; }
out=$(run --navigation-cache 0) || true
grep -q "30009 RC_NAVI_SERVER_ERROR" <<<"$out" ||
  { echo "no cache: no attempt failed with 30009:"; echo "$out"; fail=1; }
grep -q "none lost in 1/1" <<<"$out" || { echo "no cache: clients lost:"; echo "$out"; fail=1; }
[ $fail -eq 0 ] && echo "a navigation outage is unnoticed with a cached list and costs 30009s without"
exit $fail
