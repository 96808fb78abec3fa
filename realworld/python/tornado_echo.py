"""Echo server on `tornado`: every message back unchanged, at /echo.

Usage: python tornado_echo.py PORT. Listens on 127.0.0.1:PORT, prints "ready"
once listening. The message limit is raised to 16 MiB (the library's default
is 10 MiB); the rest, the origin check included, is the library's default.
"""

import asyncio
import sys

import tornado.web
import tornado.websocket


class Echo(tornado.websocket.WebSocketHandler):
    def on_message(self, message):
        self.write_message(message, binary=isinstance(message, bytes))


async def main(port):
    app = tornado.web.Application(
        [("/echo", Echo)], websocket_max_message_size=16 * 1024 * 1024
    )
    app.listen(port, address="127.0.0.1")
    print("ready", flush=True)
    await asyncio.Event().wait()


asyncio.run(main(int(sys.argv[1])))
