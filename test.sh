#!/usr/bin/env bash
# Builds imock (release preset) and runs the whole ctest suite.
#   ./test.sh                 everything
#   ./test.sh -L protocol     extra arguments go to ctest (here: only the protocol label)
# Installs what is missing first, through scripts/install-deps.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps
preset=${IMOCK_PRESET:-release}
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
ctest --preset "$preset" "$@"
