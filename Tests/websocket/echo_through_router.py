"""WebSockets through sched-router with a real WebSocket library on both ends.

Starts an echo server (the `websockets` package from PyPI) on 127.0.0.1:SERVER_PORT, which the
router's route table points at, then connects a client of the same library to the router at
127.0.0.1:ROUTER_PORT: the handshake must pass the library's own checks (Sec-WebSocket-Accept,
the upgrade fields), text and binary messages (one of 1 MiB) must come back intact, the 101
must carry the router's color stamp, the server must see the client's address in
x-forwarded-for, and both sides must see a clean close. Prints PASSED, or exits 1 naming what
went wrong. Bounded: every step has a timeout.

With CA_FILE and HOST, the client speaks wss:// to the router's HTTPS listener, asking for HOST
(SNI) and trusting only CA_FILE, and the server must see x-forwarded-proto https.

usage: echo_through_router.py SERVER_PORT ROUTER_PORT [CA_FILE HOST]
"""

import asyncio
import os
import ssl
import sys

import websockets

seen_forwarded = []
seen_proto = []


def request_headers(connection):
    """The handshake request's headers, in the legacy and the new API alike."""
    request = getattr(connection, "request", None)
    return request.headers if request is not None else connection.request_headers


def response_headers(connection):
    response = getattr(connection, "response", None)
    return response.headers if response is not None else connection.response_headers


async def echo(connection, *_):
    seen_forwarded.append(request_headers(connection).get("x-forwarded-for"))
    seen_proto.append(request_headers(connection).get("x-forwarded-proto"))
    async for message in connection:
        await connection.send(message)


async def main(server_port, router_port, ca_file=None, host=None):
    async with websockets.serve(echo, "127.0.0.1", server_port, max_size=4 << 20):
        options = {}
        if ca_file:
            uri = f"wss://127.0.0.1:{router_port}/chat"
            options = {"ssl": ssl.create_default_context(cafile=ca_file), "server_hostname": host}
        else:
            uri = f"ws://127.0.0.1:{router_port}/chat"
        async with websockets.connect(uri, open_timeout=5, close_timeout=5, max_size=4 << 20, **options) as client:
            color = response_headers(client).get("x-turnout-color")
            if color != "blue":
                sys.exit(f"the 101 through the router carries x-turnout-color {color!r}, not 'blue'")
            messages = ["hello", "ünïcödé text", os.urandom(64), os.urandom(1 << 20), "last"]
            for message in messages:
                await client.send(message)
                answer = await asyncio.wait_for(client.recv(), 5)
                if answer != message:
                    sys.exit(f"sent {len(message)} {type(message).__name__}, got back {len(answer)} that differ")
        if client.close_code != 1000:
            sys.exit(f"the close was not clean: code {client.close_code}")
    if seen_forwarded != ["127.0.0.1"]:
        sys.exit(f"the server saw x-forwarded-for {seen_forwarded!r}, not ['127.0.0.1']")
    proto = "https" if ca_file else "http"
    if seen_proto != [proto]:
        sys.exit(f"the server saw x-forwarded-proto {seen_proto!r}, not [{proto!r}]")
    print(f"PASSED: {len(messages)} messages echoed through the router (websockets {websockets.__version__})")


if __name__ == "__main__":
    tls = sys.argv[3:5] if len(sys.argv) >= 5 else []
    asyncio.run(asyncio.wait_for(main(int(sys.argv[1]), int(sys.argv[2]), *tls), 30))
