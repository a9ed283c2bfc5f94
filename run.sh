#!/usr/bin/env bash
# The main job on embedded defaults: builds imock (release preset) and walks through
# imock-server with real clients (scripts/demo): server API token, MQTT 5 connect,
# a refused token, a kick, a block, the event log. It becomes the conformance suite
# once imock-harness exists.
#   ./run.sh            the walk-through (exits when done)
#   ./run.sh --serve    just run imock-server on its defaults until Ctrl-C
# Installs what is missing first, through scripts/install-deps.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps
cmake --preset release >/dev/null
cmake --build --preset release
if [ "${1:-}" = "--serve" ]; then
  shift
  exec build/release/server/imock-server "$@"
fi
exec scripts/demo build/release/server/imock-server
