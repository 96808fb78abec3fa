"""Echo server on `aiohttp`: every message back unchanged, at /echo.

Usage: python aiohttp_echo.py PORT. Listens on 127.0.0.1:PORT, prints "ready"
once listening. The message limit is raised to 16 MiB (the library's default
is 4 MiB); the rest is the library's default.
"""

import asyncio
import sys

from aiohttp import WSMsgType, web


async def echo(request):
    socket = web.WebSocketResponse(max_msg_size=16 * 1024 * 1024)
    await socket.prepare(request)
    async for message in socket:
        if message.type == WSMsgType.TEXT:
            await socket.send_str(message.data)
        elif message.type == WSMsgType.BINARY:
            await socket.send_bytes(message.data)
    return socket


async def main(port):
    app = web.Application()
    app.router.add_get("/echo", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("ready", flush=True)
    await asyncio.Event().wait()


asyncio.run(main(int(sys.argv[1])))
