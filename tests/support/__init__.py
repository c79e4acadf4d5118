"""Real processes and clients for the tests that start servers: ASGI servers (deploy/serve.sh), a Redis of their own,
a TCP proxy in front of PostgreSQL that can be cut, and a resuming WebSocket client (the `websockets` library).
"""
