#!/usr/bin/env bash
# The main job on embedded defaults: builds imock (release) and runs it.
# Today that is the protocol benchmark suite (codec and token, ns per operation);
# it becomes the conformance suite once imock-harness exists.
# Installs what is missing first, through scripts/install-deps.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps
cmake --preset release >/dev/null
cmake --build --preset release
exec build/release/benchmarks/protocol_benchmark "$@"
