"""Echo server on the `websockets` library: every message back unchanged.

Usage: python websockets_echo.py PORT. Listens on 127.0.0.1:PORT, echoes at
/echo (404 elsewhere), prints "ready" once listening. The message limit is raised to 16 MiB (the
library's default is 1 MiB), as Autobahn's test servers do; the rest is the
library's default.
"""

import asyncio
import sys
from http import HTTPStatus

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed


async def echo(connection):
    try:
        async for message in connection:
            await connection.send(message)
    except ConnectionClosed:
        pass


def only_echo(connection, request):
    if request.path.split("?")[0] != "/echo":
        return connection.respond(HTTPStatus.NOT_FOUND, "no such endpoint\n")
    return None


async def main(port):
    async with serve(
        echo, "127.0.0.1", port, process_request=only_echo, max_size=16 * 1024 * 1024
    ) as server:
        print("ready", flush=True)
        await server.serve_forever()


asyncio.run(main(int(sys.argv[1])))
