#!/usr/bin/env bash
# Serves HTTP and WebSockets with an ASGI server: deploy/serve.sh [daphne|uvicorn] [host] [port].
# The systemd units run one of these per port; `make run` runs one in the foreground.
set -euo pipefail
cd "$(dirname "$0")/.."
server=${1:-daphne} host=${2:-127.0.0.1} port=${3:-8000}
case "$server" in
    daphne) exec .venv/bin/daphne -b "$host" -p "$port" --proxy-headers tracker_project.asgi:application ;;
    uvicorn) exec .venv/bin/uvicorn --host "$host" --port "$port" --proxy-headers --no-access-log \
        tracker_project.asgi:application ;;
    *) echo "unknown server $server (daphne or uvicorn)" >&2; exit 2 ;;
esac
