"""Echo server on `wsproto` (sans-IO) with asyncio streams around it.

Usage: python wsproto_echo.py PORT. Listens on 127.0.0.1:PORT, echoes at
/echo (404 elsewhere), prints "ready" once listening. wsproto parses and builds every byte; this file
only moves bytes and answers its events the way wsproto's documentation does:
accept the handshake, send a rejection when the request is not one, echo
whole messages, answer pings, answer a close (also the close wsproto reports
when a frame is invalid) and hang up.
"""

import asyncio
import sys

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    RejectConnection,
    Message,
    Ping,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError


async def serve_one(reader, writer):
    connection = WSConnection(ConnectionType.SERVER)
    parts = []
    try:
        while True:
            data = await reader.read(65536)
            try:
                connection.receive_data(data or None)
            except RemoteProtocolError as error:
                if error.event_hint is not None:
                    writer.write(connection.send(error.event_hint))
                break
            done = not data
            for event in connection.events():
                if isinstance(event, Request):
                    if event.target.split("?")[0] != "/echo":
                        writer.write(connection.send(RejectConnection(status_code=404)))
                        done = True
                        break
                    writer.write(connection.send(AcceptConnection()))
                elif isinstance(event, (TextMessage, BytesMessage)):
                    parts.append(event.data)
                    if event.message_finished:
                        whole = "".join(parts) if isinstance(event, TextMessage) else b"".join(parts)
                        parts = []
                        writer.write(connection.send(Message(data=whole)))
                elif isinstance(event, Ping):
                    writer.write(connection.send(event.response()))
                elif isinstance(event, CloseConnection):
                    try:
                        writer.write(connection.send(event.response()))
                    except LocalProtocolError:
                        pass
                    done = True
                    break
            await writer.drain()
            if done:
                break
    except (ConnectionError, LocalProtocolError):
        pass
    finally:
        writer.close()


async def main(port):
    server = await asyncio.start_server(serve_one, "127.0.0.1", port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main(int(sys.argv[1])))
