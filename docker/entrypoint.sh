#!/bin/sh
# The image's entry point: imock-server on all interfaces of the container. Off
# loopback the admin API needs a token (docs/admin-api.md, "Access"): give one with
#   docker run -e IMOCK_ADMIN_TOKEN=... imock
# or let this script make one and print it. Extra arguments go to imock-server.
set -eu
if [ -z "${IMOCK_ADMIN_TOKEN:-}" ]; then
  IMOCK_ADMIN_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  export IMOCK_ADMIN_TOKEN
  echo "imock: no IMOCK_ADMIN_TOKEN was given; the admin token is $IMOCK_ADMIN_TOKEN"
fi
exec "${IMOCK_SERVER:-/usr/local/bin/imock-server}" \
  --listen-mqtt 0.0.0.0:18830 --listen-http 0.0.0.0:18080 "$@"
