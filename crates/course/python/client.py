"""A WebSocket client from scratch (standard library only): the client side
of the course. It connects to the URL it is given, echoes every message it
receives, and closes when the server closes: the contract of a client
under test (`wsconform run --client-cmd "python3 client.py {url}"`). It
also takes on the contract's optional part: the text message
wsconform:close is not echoed but starts the closing handshake.

A client's duties that a server never sees:
  * a fresh random 16-byte key per connection, and the server's
    Sec-WebSocket-Accept checked against it (RFC 6455 4.1);
  * every frame masked with a fresh random key (5.3);
  * server frames must not be masked; reserved bits and opcodes, bad UTF-8
    and bad close payloads fail the connection (5.1, 5.2, 8.1, 7.4);
  * after the closing handshake the server closes TCP first (7.1.1);
  * after its own close frame a client sends no data (5.5.1).
"""

import base64
import hashlib
import os
import socket
import struct
import sys
from urllib.parse import urlsplit

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CLOSE_REQUEST = b"wsconform:close"


class Failed(Exception):
    """The connection must be failed with this close code."""

    def __init__(self, code, why):
        super().__init__(why)
        self.code = code


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("the server closed the TCP connection")
        data += chunk
    return data


# ANCHOR: handshake
def handshake(sock, host, port, path):
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    )
    sock.sendall(request.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("the server closed the connection during the handshake")
        head += chunk
    head, rest = head.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    if lines[0].split(" ")[1:2] != ["101"]:
        raise ConnectionError(f"not upgraded: {lines[0]}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    expected = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
    if "websocket" not in headers.get("upgrade", "").lower():
        raise ConnectionError("no Upgrade: websocket in the 101")
    if "upgrade" not in headers.get("connection", "").lower():
        raise ConnectionError("no Connection: Upgrade in the 101")
    if headers.get("sec-websocket-accept") != expected:
        raise ConnectionError("wrong Sec-WebSocket-Accept")
    if "sec-websocket-protocol" in headers or "sec-websocket-extensions" in headers:
        raise ConnectionError("a subprotocol or extension we did not offer")
    return rest
# ANCHOR_END: handshake


# ANCHOR: send_frame
def send_frame(sock, opcode, payload):
    mask = os.urandom(4)  # a fresh random key for every frame
    header = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        header += bytes([0x80 | n])
    elif n < 65536:
        header += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        header += bytes([0x80 | 127]) + struct.pack("!Q", n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    sock.sendall(header + mask + masked)
# ANCHOR_END: send_frame


class Reader:
    def __init__(self, sock, pending):
        self.sock = sock
        self.pending = pending

    def take(self, n):
        while len(self.pending) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the TCP connection")
            self.pending += chunk
        data, self.pending = self.pending[:n], self.pending[n:]
        return data

    # ANCHOR: frame
    def frame(self):
        b0, b1 = self.take(2)
        fin, rsv, opcode = b0 & 0x80, b0 & 0x70, b0 & 0x0F
        if b1 & 0x80:
            raise Failed(1002, "a masked frame from the server")
        if rsv:
            raise Failed(1002, "reserved bits set")
        if opcode in (3, 4, 5, 6, 7) or opcode > 10:
            raise Failed(1002, "reserved opcode")
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self.take(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.take(8))[0]
        if opcode >= 8 and (not fin or n > 125):
            raise Failed(1002, "a fragmented or long control frame")
        return bool(fin), opcode, self.take(n)
    # ANCHOR_END: frame


def valid_close_code(code):
    """The codes an endpoint may send (RFC 6455 7.4.1, 7.4.2 and IANA's registry)."""
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def wait_for_tcp_close(sock):
    sock.settimeout(5)
    try:
        while sock.recv(4096):
            pass
    except OSError:
        pass


# ANCHOR: start_close
def start_close(sock, reader):
    """Our closing handshake: a close with 1000, then the server's close
    (data that still arrives is read, never echoed: 5.5.1), then the
    server closes TCP. A server that never answers gets 2 seconds."""
    send_frame(sock, 8, struct.pack("!H", 1000) + b"closing as asked")
    sock.settimeout(2)
    try:
        while True:
            fin, opcode, payload = reader.frame()
            if opcode == 8:
                break
    except socket.timeout:
        print("the server did not answer our close: closing TCP", file=sys.stderr)
        return 1
    wait_for_tcp_close(sock)
    return 0
# ANCHOR_END: start_close


def main(url):
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    sock = socket.create_connection((parts.hostname, parts.port or 80))
    try:
        rest = handshake(sock, parts.hostname, parts.port or 80, path)
    except ConnectionError as e:
        print(f"refused the server's answer: {e}", file=sys.stderr)
        sock.close()  # fail the connection: no frame is sent
        return 1
    reader = Reader(sock, rest)
    message, kind = b"", None
    try:
        while True:
            fin, opcode, payload = reader.frame()
            if opcode == 9:
                send_frame(sock, 10, payload)
            elif opcode == 10:
                pass
            # ANCHOR: close
            elif opcode == 8:
                if len(payload) == 1:
                    raise Failed(1002, "a one-byte close payload")
                code = payload[:2]
                if code and not valid_close_code(int.from_bytes(code, "big")):
                    raise Failed(1002, "a close code that may not be sent")
                try:
                    payload[2:].decode("utf-8")
                except UnicodeDecodeError:
                    raise Failed(1007, "a close reason that is not UTF-8")
                send_frame(sock, 8, code)
                wait_for_tcp_close(sock)
                return 0
            # ANCHOR_END: close
            elif opcode == 0:
                if kind is None:
                    raise Failed(1002, "a continuation with no message started")
                message += payload
            else:
                if kind is not None:
                    raise Failed(1002, "a new message inside a fragmented one")
                kind, message = opcode, payload
            if fin and opcode in (0, 1, 2):
                if kind == 1:
                    try:
                        message.decode("utf-8")
                    except UnicodeDecodeError:
                        raise Failed(1007, "a text message that is not UTF-8")
                    if message == CLOSE_REQUEST:
                        return start_close(sock, reader)
                send_frame(sock, kind, message)
                message, kind = b"", None
    except Failed as e:
        print(f"failing the connection ({e.code}): {e}", file=sys.stderr)
        send_frame(sock, 8, struct.pack("!H", e.code))
        wait_for_tcp_close(sock)
        return 1
    except ConnectionError as e:
        print(e, file=sys.stderr)
        return 1
    finally:
        sock.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
