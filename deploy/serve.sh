#!/usr/bin/env bash
# Serves HTTP and WebSockets with an ASGI server: deploy/serve.sh [daphne|uvicorn] [host] [port].
# The systemd units run one of these per port; `make run` runs one in the foreground.
set -euo pipefail
cd "$(dirname "$0")/.."
server=${1:-uvicorn} host=${2:-127.0.0.1} port=${3:-8000}
# Protocol-level WebSocket pings: a peer that does not answer one within the timeout (frozen laptop, dead NAT
# entry) is dropped, so its socket does not linger. The app's own {"type":"ping"} frames
# (TRACKER_HEARTBEAT_SECONDS) keep idle sockets alive through proxies.
ping_interval=${TRACKER_WS_PING_INTERVAL:-30} ping_timeout=${TRACKER_WS_PING_TIMEOUT:-30}
case "$server" in
    daphne) exec .venv/bin/daphne -b "$host" -p "$port" --proxy-headers \
        --ping-interval "$ping_interval" --ping-timeout "$ping_timeout" tracker_project.asgi:application ;;
    # No per-message deflate: events are small, and a compressor per socket doubled the memory per
    # connection (77 KB against 40 KB) and halved the fan-out rate in `make bench`.
    uvicorn) exec .venv/bin/uvicorn --host "$host" --port "$port" --proxy-headers --no-access-log \
        --ws-per-message-deflate false --ws-ping-interval "$ping_interval" --ws-ping-timeout "$ping_timeout" tracker_project.asgi:application ;;
    *) echo "unknown server $server (daphne or uvicorn)" >&2; exit 2 ;;
esac
