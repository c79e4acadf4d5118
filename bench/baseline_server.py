"""The Python floor: a minimal broadcast server with the `websockets` library and no Django.

    python -m bench.baseline_server --port PORT --channel CHANNEL

Every socket gets {"type": "hello", ...} on connect; every message PUBLISHed to the Redis channel CHANNEL is
sent as one text frame to every open socket with `websockets.broadcast`, which writes the frame to each
connection without a task per socket. The frames travel the same way as the Django server's (a Redis PUBLISH
in, one text per event out), so the difference between the two is what Django and Channels add. It runs on
the standard asyncio loop: the pure-Python floor.
"""

import argparse
import asyncio
import json

import redis.asyncio as redis
from websockets.asyncio.server import broadcast, serve

from bench.common import HOST, REDIS_URL, raise_open_files

HELLO = json.dumps({"type": "hello", "last_event_id": 0})
# A socket whose unsent frames exceed this is skipped by broadcast(); set far above a burst's size so that
# the floor drops nothing and is compared like for like with a server that must deliver everything.
WRITE_LIMIT = 8 * 2**20


async def main(port: int, channel: str) -> None:
    sockets = set()

    async def handler(socket):
        sockets.add(socket)
        try:
            await socket.send(HELLO)
            async for _ in socket:  # the stream is one-way; reading only notices the close
                pass
        finally:
            sockets.discard(socket)

    async with serve(handler, HOST, port, compression=None, write_limit=WRITE_LIMIT, backlog=4096):
        client = redis.from_url(REDIS_URL)
        async with client.pubsub() as pubsub:
            await pubsub.subscribe(channel)
            print("ready", flush=True)
            async for message in pubsub.listen():
                if message["type"] == "message":
                    broadcast(sockets, message["data"].decode())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="bench.baseline_server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--channel", required=True)
    args = parser.parse_args()
    raise_open_files()
    asyncio.run(main(args.port, args.channel))
