"""wsclient.py: raw-socket HTTP and WebSocket clients for the tests
(web_driver.py, browser_driver.py): every byte read is kept, every wait
bounded; the WebSocket client masks its frames as a browser does.
"""
import base64
import json
import os
import socket
import ssl
import struct
import time

from pdtest import check


class Conn:
    """A raw HTTP connection that keeps every byte it reads."""

    def __init__(self, port, rcvbuf=None, tls=False):
        self.s = socket.socket()
        if rcvbuf is not None:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.settimeout(5)
        self.s.connect(("127.0.0.1", port))
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.s = ctx.wrap_socket(self.s)
        self.buf = bytearray()
        self.closed = False

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def fill(self, timeout):
        """Reads what comes within timeout; False once the peer closed."""
        if self.closed:
            return False
        self.s.settimeout(timeout)
        try:
            data = self.s.recv(65536)
        except socket.timeout:
            return True
        except (ConnectionResetError, ssl.SSLError):
            data = b""
        if data == b"":
            self.closed = True
            return False
        self.buf += data
        return True

    def read_until(self, what, timeout=5.0):
        end = time.monotonic() + timeout
        while what not in self.buf:
            left = end - time.monotonic()
            check(left > 0, "no %r in %r" % (what, self.buf[-300:]))
            check(self.fill(min(left, 0.5)) or what in self.buf,
                  "closed before %r: %r" % (what, self.buf[-300:]))

    def response(self, timeout=5.0):
        """Reads a whole short response: (status, headers, body)."""
        end = time.monotonic() + timeout
        while not self.closed and time.monotonic() < end:
            self.fill(0.5)
        check(self.closed, "the response did not end: %r" % self.buf)
        head, _, body = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            headers[k.strip().lower()] = v.strip()
        return status, headers, body


class WS(Conn):
    """A WebSocket client on a raw socket: masks its frames, reads the
    server's (unmasked) ones."""

    def __init__(self, port, proto=None, extra="", rcvbuf=None, path="/ws",
                 tls=False):
        Conn.__init__(self, port, rcvbuf, tls)
        self.key = base64.b64encode(os.urandom(16)).decode()
        self.send("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                  "%s%s\r\n" % (path, port, self.key,
                                 "Sec-WebSocket-Protocol: "
                                 "%s\r\n" % proto if proto else "", extra))

    def upgraded(self):
        self.read_until(b"\r\n\r\n")
        head, _, rest = bytes(self.buf).partition(b"\r\n\r\n")
        self.buf = bytearray(rest)
        return head.decode()

    def frame(self, op, data, fin=True, mask=True):
        if isinstance(data, str):
            data = data.encode()
        b0 = (0x80 if fin else 0) | op
        m = 0x80 if mask else 0
        n = len(data)
        if n < 126:
            hdr = struct.pack("!BB", b0, m | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", b0, m | 126, n)
        else:
            hdr = struct.pack("!BBQ", b0, m | 127, n)
        if not mask:
            return hdr + data
        k = os.urandom(4)
        return hdr + k + bytes(c ^ k[i % 4] for i, c in enumerate(data))

    def cmd(self, *words):
        self.send(self.frame(1, json.dumps(list(words))))

    def next_frame(self, timeout=5.0):
        """(opcode, payload) of the next frame; None once closed."""
        end = time.monotonic() + timeout
        while True:
            b = self.buf
            if len(b) >= 2:
                n, off = b[1] & 0x7f, 2
                if n == 126 and len(b) >= 4:
                    n, off = struct.unpack("!H", bytes(b[2:4]))[0], 4
                elif n == 127 and len(b) >= 10:
                    n, off = struct.unpack("!Q", bytes(b[2:10]))[0], 10
                if (b[1] & 0x7f) < 126 or off > 2:
                    if len(b) >= off + n:
                        op, data = b[0] & 0x0f, bytes(b[off:off + n])
                        del self.buf[:off + n]
                        return op, data
            left = end - time.monotonic()
            check(left > 0, "no frame in %.0f s" % timeout)
            if not self.fill(min(left, 0.5)) and self.closed:
                return None

    def json(self, timeout=5.0):
        f = self.next_frame(timeout)
        check(f is not None and f[0] == 1, "a text frame: %r" % (f,))
        return json.loads(f[1])

    def closed_with(self, timeout=5.0):
        """The close code the server sent, after which it closed."""
        while True:
            f = self.next_frame(timeout)
            check(f is not None, "closed without a close frame")
            if f[0] == 8:
                code = struct.unpack("!H", f[1][:2])[0]
                end = time.monotonic() + timeout
                while self.fill(0.5) and time.monotonic() < end:
                    pass
                check(self.closed, "the connection ended after the close")
                return code, f[1][2:].decode()
