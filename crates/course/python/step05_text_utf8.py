#!/usr/bin/env python3
"""A WebSocket server written from scratch, one chapter at a time.

Step 5, text-utf8: a text message MUST be valid UTF-8 (RFC 6455 section
8.1). One that is not fails the connection with close code 1007 (invalid
frame payload data), and is never echoed.

Run it:    python3 step05_text_utf8.py 8080
Check it:  wsconform run --chapter text-utf8 --target ws://127.0.0.1:8080/echo -j 1
"""

import base64
import hashlib
import signal
import socket
import struct
import sys

# The GUID of RFC 6455 section 1.3: every server appends it to the client's
# key before hashing, which proves the server read this very request.
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# A request head longer than this is refused: a client must not be able to
# make the server buffer without end.
MAX_HEAD = 8192

# ANCHOR: limits
# The largest payload this server accepts in one frame. The length in a
# header is only a number a client wrote: compare it with the limit before
# reading (or storing) anything.
MAX_PAYLOAD = 16 * 1024 * 1024
# ANCHOR_END: limits

# The paths this server answers on.
PATHS = ("/echo",)

# ANCHOR: opcodes
# The opcodes this step knows (RFC 6455 section 5.2).
CONTINUATION = 0x0
TEXT = 0x1
BINARY = 0x2
CLOSE = 0x8
PING = 0x9
PONG = 0xA
KNOWN_OPCODES = (CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG)
# ANCHOR_END: opcodes


class Refusal(Exception):
    """The request is not an opening handshake we accept: answer with an
    HTTP error instead of 101."""

    def __init__(self, status, reason, extra_headers=()):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.extra_headers = extra_headers


class ProtocolError(Exception):
    """The client broke a rule of the protocol: the connection is failed.
    The code is the close code that names the broken rule (1002: protocol
    error), sent to the client in a close frame."""

    def __init__(self, code, reason):
        super().__init__(reason)
        self.code = code
        self.reason = reason


class Reader:
    """Reads from a socket through a buffer.

    TCP delivers a stream of bytes, not messages: one recv() may return half
    of the request head, or the head and the first frame behind it. The
    buffer keeps whatever arrived early for the next read."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = bytearray()

    def fill(self):
        """Waits for more bytes; EOFError when the client has hung up."""
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("the client closed the connection")
        self.buffer += chunk

    # ANCHOR: read_head
    def read_head(self):
        """Returns the request head up to and including the empty line
        (CRLF CRLF), reading no further than MAX_HEAD bytes."""
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end >= 0 and end + 4 <= MAX_HEAD:
                head = bytes(self.buffer[: end + 4])
                del self.buffer[: end + 4]
                return head
            if len(self.buffer) > MAX_HEAD:
                raise Refusal(400, "request head too large")
            self.fill()
    # ANCHOR_END: read_head

    # ANCHOR: read_exact
    def read_exact(self, count):
        """Returns exactly `count` bytes, waiting for as many reads as it
        takes: a frame may arrive one byte at a time. The buffer grows with
        what has arrived, never with what a header claims."""
        while len(self.buffer) < count:
            self.fill()
        data = bytes(self.buffer[:count])
        del self.buffer[:count]
        return data
    # ANCHOR_END: read_exact


# ANCHOR: parse_head
def parse_head(head):
    """Splits a request head into (method, path, version, headers).

    Header names are case-insensitive, so they are stored lower-cased; a
    name may appear more than once, so each maps to a list of values."""
    lines = head.decode("latin-1").split("\r\n")[:-2]
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise Refusal(400, "the request line is not METHOD PATH VERSION")
    method, path, version = parts
    headers = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise Refusal(400, "a header line is not NAME: VALUE")
        headers.setdefault(name.lower(), []).append(value.strip(" \t"))
    return method, path, version, headers


def one_header(headers, name):
    """The value of a header that must appear exactly once, or None."""
    values = headers.get(name, [])
    return values[0] if len(values) == 1 else None
# ANCHOR_END: parse_head


# ANCHOR: check_handshake
def check_handshake(method, path, version, headers):
    """Applies the rules of RFC 6455 section 4.2.1; returns the client's key
    or raises Refusal with the status to answer."""
    if method != "GET":
        raise Refusal(400, "the method must be GET")
    if version != "HTTP/1.1":
        raise Refusal(400, "the version must be HTTP/1.1")
    if path not in PATHS:
        raise Refusal(404, "no WebSocket endpoint at this path")
    if one_header(headers, "host") is None:
        raise Refusal(400, "Host is missing")
    upgrade = one_header(headers, "upgrade")
    if upgrade is None or upgrade.lower() != "websocket":
        raise Refusal(400, "Upgrade must be websocket")
    connection = ",".join(headers.get("connection", []))
    tokens = [token.strip().lower() for token in connection.split(",")]
    if "upgrade" not in tokens:
        raise Refusal(400, "Connection must contain the token Upgrade")
    if one_header(headers, "sec-websocket-version") != "13":
        # 426 Upgrade Required tells the client which version we speak.
        raise Refusal(426, "only version 13", [("Sec-WebSocket-Version", "13")])
    key = one_header(headers, "sec-websocket-key")
    if key is None or not is_valid_key(key):
        raise Refusal(400, "Sec-WebSocket-Key must be 16 bytes in base64")
    return key


def is_valid_key(key):
    """A key is 16 random bytes in base64: 24 characters ending in ==."""
    try:
        return len(base64.b64decode(key, validate=True)) == 16
    except ValueError:
        return False


def accept_key(key):
    """base64(SHA-1(key + GUID)), the value of Sec-WebSocket-Accept."""
    digest = hashlib.sha1(key.encode("ascii") + GUID).digest()
    return base64.b64encode(digest).decode("ascii")
# ANCHOR_END: check_handshake


# ANCHOR: responses
def switching_protocols(key):
    return (
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept_key(key)}\r\n"
        "\r\n"
    ).encode("ascii")


def refusal_response(refusal):
    names = {400: "Bad Request", 404: "Not Found", 426: "Upgrade Required"}
    lines = [f"HTTP/1.1 {refusal.status} {names.get(refusal.status, 'Error')}"]
    lines += [f"{name}: {value}" for name, value in refusal.extra_headers]
    body = refusal.reason + "\n"
    lines += [
        "Content-Type: text/plain",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode("ascii")
# ANCHOR_END: responses


# ANCHOR: read_frame
def read_frame(reader):
    """Reads one frame; returns (fin, opcode, payload), the payload unmasked.

    Byte 0: FIN (1 bit), RSV1-3 (3 bits), opcode (4 bits).
    Byte 1: MASK (1 bit), payload length (7 bits).
    Then the 4-byte masking key (when MASK is set) and the payload."""
    first, second = reader.read_exact(2)
    check_header(first, second)
    fin = first & 0x80 != 0
    opcode = first & 0x0F
    masked = second & 0x80 != 0
    length = read_length(reader, second & 0x7F)
    mask = reader.read_exact(4) if masked else bytes(4)
    payload = unmask(reader.read_exact(length), mask)
    return fin, opcode, payload
# ANCHOR_END: read_frame


# ANCHOR: check_header
def check_header(first, second):
    """The rules a header must follow, checked before reading anything more:
    a broken rule fails the connection at once."""
    if first & 0x70:
        raise ProtocolError(1002, "RSV bits set without an extension")
    if first & 0x0F not in KNOWN_OPCODES:
        raise ProtocolError(1002, "reserved opcode")
    if not second & 0x80:
        raise ProtocolError(1002, "a client frame must be masked")
# ANCHOR_END: check_header


# ANCHOR: read_length
def read_length(reader, length7):
    """The payload length: the 7-bit value itself up to 125, else the 16-bit
    (126) or 64-bit (127) big-endian number that follows."""
    if length7 == 126:
        (length,) = struct.unpack("!H", reader.read_exact(2))
    elif length7 == 127:
        (length,) = struct.unpack("!Q", reader.read_exact(8))
        if length >> 63:
            raise ProtocolError(1002, "the top bit of a 64-bit length must be 0")
    else:
        length = length7
    if length > MAX_PAYLOAD:
        raise ProtocolError(1009, "the frame is larger than this server accepts")
    return length
# ANCHOR_END: read_length


# ANCHOR: unmask
def unmask(payload, mask):
    """Byte i of the payload is XORed with byte i % 4 of the key (RFC 6455
    section 5.3). XOR twice gives the original back, so the same function
    masks and unmasks."""
    return bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
# ANCHOR_END: unmask


# ANCHOR: encode_frame
def encode_frame(opcode, payload):
    """A whole (FIN=1), unmasked frame: a server never masks. The length
    takes the shortest form that holds it."""
    first = 0x80 | opcode
    if len(payload) <= 125:
        header = struct.pack("!BB", first, len(payload))
    elif len(payload) <= 0xFFFF:
        header = struct.pack("!BBH", first, 126, len(payload))
    else:
        header = struct.pack("!BBQ", first, 127, len(payload))
    return header + payload
# ANCHOR_END: encode_frame


# ANCHOR: handle_frames
def handle_frames(sock, reader):
    """Echoes every whole text and binary frame. Fragments, pings and the
    closing handshake come in later chapters: until then the server hangs
    up when it meets one."""
    while True:
        fin, opcode, payload = read_frame(reader)
        if opcode not in (TEXT, BINARY) or not fin:
            return
        if opcode == TEXT:
            check_utf8(payload)
        sock.sendall(encode_frame(opcode, payload))
# ANCHOR_END: handle_frames


# ANCHOR: check_utf8
def check_utf8(payload):
    """Python's UTF-8 decoder is strict the way RFC 3629 is: it refuses
    overlong forms, surrogates (U+D800 to U+DFFF) and code points above
    U+10FFFF, exactly what a WebSocket text message must not contain."""
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(1007, "a text message must be valid UTF-8")
# ANCHOR_END: check_utf8


# ANCHOR: fail_connection
def fail_connection(sock, error):
    """Tells the client which rule it broke (a close frame with the code and
    a short reason) before the connection is closed."""
    reason = error.reason.encode("utf-8")[:123]
    sock.sendall(encode_frame(CLOSE, struct.pack("!H", error.code) + reason))
# ANCHOR_END: fail_connection


# ANCHOR: handle
def handle(sock):
    """Serves one connection: the handshake, then whatever comes after."""
    reader = Reader(sock)
    try:
        key = check_handshake(*parse_head(reader.read_head()))
    except Refusal as refusal:
        sock.sendall(refusal_response(refusal))
        return
    sock.sendall(switching_protocols(key))
    try:
        handle_frames(sock, reader)
    except ProtocolError as error:
        fail_connection(sock, error)
# ANCHOR_END: handle


# ANCHOR: serve
def serve(sock):
    """Runs handle() and always closes the socket, whatever went wrong: a
    client that disappears must never stop the server."""
    with sock:
        try:
            handle(sock)
        except (EOFError, OSError):
            pass
# ANCHOR_END: serve


# ANCHOR: main
def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    # SIGTERM (what `kill` sends) ends the server with exit code 0.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    listener = socket.create_server(("127.0.0.1", port))
    # Port 0 asks the system for a free port: print the one we got.
    print(f"listening on 127.0.0.1:{listener.getsockname()[1]}", flush=True)
    with listener:
        while True:
            sock, _address = listener.accept()
            # One connection at a time: the next client waits until this
            # one is done.
            serve(sock)
# ANCHOR_END: main


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass  # Ctrl-C ends the server without a traceback
