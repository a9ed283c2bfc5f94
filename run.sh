#!/usr/bin/env bash
# The main job on embedded defaults: builds imock (release preset), measures the
# suite's mutation score (scripts/mutants: every mutant of the reference client
# against the simulated suite), runs the whole conformance suite (scenarios/*.yaml)
# against imock-server and the reference SDK over real sockets, writes
# docs/conformance.md and prints it.
#   ./run.sh            the conformance suite and its matrix
#   ./run.sh --demo     a walk-through of imock-server with real MQTT clients
#   ./run.sh --serve    just run imock-server on its defaults until Ctrl-C
# Installs what is missing first, through scripts/install-deps.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps
cmake --preset release >/dev/null
cmake --build --preset release
case "${1:-}" in
  --serve) shift; exec build/release/server/imock-server "$@" ;;
  --demo) exec scripts/demo build/release/server/imock-server ;;
  "") ;;
  *) echo "run.sh: unknown argument '$1' (try --demo or --serve)" >&2; exit 2 ;;
esac
status=0
mutants=build/release/mutants.jsonl
scripts/mutants --out "$mutants" || status=$?
echo
build/release/harness/imock-harness matrix scenarios --run --mutants "$mutants" \
    --out docs/conformance.md || status=$?
echo
cat docs/conformance.md
exit $status
