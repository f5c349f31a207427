"""web_driver.py: pubsubd's web listener (protocol = "http") against a real
redis-server, with raw sockets (run by tests/test_web.sh).

Server-Sent Events, GET /sse:
- the response head comes only once Redis holds every name asked for
  (checked on Redis itself the moment the head arrives);
- messages of channels and patterns arrive as events, in order: a plain
  one, a multi-line one (LF, CR LF and CR), a non-ASCII one, an empty one,
  and a channel name that needs escaping in the event's id;
- a keep-alive comment comes while idle; a Redis restart is followed and
  the stream keeps flowing without being closed;
- every malformed or refused request gets its status (400, 403 for a
  foreign Origin and for a channel the user may not hold, 404, 405, 408,
  431, 505) and the open streams are not disturbed;
- a stream that does not read is cut at the output limit while another
  gets every message;
- 200 streams at once each get a message; INFO counts streams and
  refusals.

Every wait is bounded. Prints one line per step; exits 0 if all passed, 1
if one failed. Environment: PUBSUBD (the daemon), PDTEST_KEEP=1 (keep the
directory).
"""
import os
import signal
import socket
import sys
import time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pdtest import Fail, Run, check, freeport, wait_for  # noqa: E402

PUBSUBD = os.path.abspath(os.environ.get("PUBSUBD", "./daemon/pubsubd"))
run = Run("pubsubd-web.")


class Conn:
    """A raw HTTP connection that keeps every byte it reads."""

    def __init__(self, port, rcvbuf=None):
        self.s = socket.socket()
        if rcvbuf is not None:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.settimeout(5)
        self.s.connect(("127.0.0.1", port))
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
        except ConnectionResetError:
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


def request(port, path, headers="", method="GET"):
    c = Conn(port)
    c.send("%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n" %
           (method, path, port, headers))
    return c


def events(raw):
    """The events of an event stream's body, as the EventSource spec reads
    them: (type, id, data) each; comments are counted as ("comment",)."""
    out = []
    text = raw.decode("utf-8", "replace")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    typ, data, eid = "", [], None
    for ln in lines:
        if ln == "":
            if data:
                out.append((typ or "message", eid, "\n".join(data)))
            typ, data = "", []
            continue
        if ln.startswith(":"):
            out.append(("comment",))
            continue
        field, _, value = ln.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "event":
            typ = value
        elif field == "data":
            data.append(value)
        elif field == "id":
            eid = value
    return out


def stream(port, query, origin=None):
    """Opens an event stream; returns (conn, head time)."""
    extra = "Origin: %s\r\n" % origin if origin else ""
    c = request(port, "/sse?" + query, extra)
    c.read_until(b"\r\n\r\n")
    return c


def body_events(c):
    return events(c.buf.partition(b"\r\n\r\n")[2])


def main():
    rport, pport, wport = freeport(), freeport(), freeport()
    run.start("redis", ["redis-server", "--port", str(rport), "--bind",
                        "127.0.0.1", "--save", "", "--appendonly", "no"])
    r = redis.Redis(port=rport)
    wait_for("redis", r.ping)
    conf = os.path.join(run.tmp, "pubsubd.conf")
    with open(conf, "w") as f:
        f.write('listen = ( { host = "127.0.0.1"; port = %d; },\n'
                '  { host = "127.0.0.1"; port = %d; protocol = "http"; } );\n'
                'redis = { host = "127.0.0.1"; port = %d; backoff_max = 200; '
                '};\n'
                'http = { origins = ( "http://good.example" ); keepalive = 1; '
                'header_max = 2048; request_timeout = 700; };\n'
                'limits = { output_hard = 65536; output_soft = 0; };\n'
                'users = ( { name = "default"; nopass = true; subscribe = '
                '( "news", "ml", "uni", "sp ace%%", "user.*", "slow", '
                '"many" ); } );\n'
                'log = { level = "info"; };\n' % (pport, wport, rport))
    run.start("pubsubd", [PUBSUBD, "-c", conf])
    p = redis.Redis(port=pport)
    wait_for("pubsubd", lambda: p.ping())
    wait_for("pubsubd up", lambda: p.info("upstream").get(
        "upstream_connected") == 1)

    # Subscribed upstream before the head is sent.
    c = stream(wport, "channel=news&channel=ml&channel=uni&channel="
               "sp+ace%25&pattern=user.*", origin="http://good.example")
    numsub = dict(r.pubsub_numsub("news", "ml", "uni", "sp ace%"))
    check(all(v == 1 for v in numsub.values()) and r.pubsub_numpat() == 1,
          "Redis held every name when the head came: %r" % numsub)
    head = c.buf.partition(b"\r\n\r\n")[0].decode()
    check(head.startswith("HTTP/1.1 200 OK"), "200: %r" % head)
    check("Content-Type: text/event-stream" in head, "event-stream")
    check("Access-Control-Allow-Origin: http://good.example" in head,
          "the allowed origin is told: %r" % head)
    print("ok: the stream's head came once Redis held all 5 names")

    sent = [("news", "hello"), ("ml", "line1\nline2\r\nline3\rline4"),
            ("uni", "h\u00e9llo w\u00f6rld \u2713 \U0001f600"),
            ("news", ""), ("sp ace%", "escaped id"),
            ("user.7", "by pattern")]
    for ch, msg in sent:
        r.publish(ch, msg.encode())
    c.read_until(b"by pattern")
    got = [e for e in body_events(c) if e[0] != "comment"]
    want = [("message", "news", "hello"),
            ("message", "ml", "line1\nline2\nline3\nline4"),
            ("message", "uni", "h\u00e9llo w\u00f6rld \u2713 \U0001f600"),
            ("message", "news", ""),
            ("message", "sp%20ace%25", "escaped id"),
            ("pmessage", "user.7", "by pattern")]
    check(got == want, "events in order: %r" % got)
    print("ok: %d events in order (multi-line, non-ASCII, empty, an "
          "escaped id, a pattern)" % len(got))

    c.buf = bytearray(c.buf.partition(b"\r\n\r\n")[0] + b"\r\n\r\n")
    c.read_until(b":\n\n", 3)
    print("ok: a keep-alive comment while idle")

    # Redis restarts: the stream stays, and flows again.
    for name, proc in run.procs:
        if name == "redis":
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
    run.procs = [x for x in run.procs if x[0] != "redis"]
    time.sleep(0.3)
    run.start("redis", ["redis-server", "--port", str(rport), "--bind",
                        "127.0.0.1", "--save", "", "--appendonly", "no"])
    r = redis.Redis(port=rport)
    wait_for("redis again", r.ping)
    wait_for("resubscribed", lambda: dict(r.pubsub_numsub("news"))[
        b"news"] == 1)
    r.publish("news", "after restart")
    c.read_until(b"after restart")
    check(not c.closed, "the stream was not closed")
    print("ok: Redis restarted: the stream flows again, never closed")

    # Refusals, each with its status, none disturbing the stream.
    cases = [
        ("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", 404),
        ("POST /sse?channel=news HTTP/1.1\r\nHost: x\r\n"
         "Content-Length: 0\r\n\r\n", 405),
        ("GET /sse HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET /sse?foo=bar HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET /sse?channel= HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET /sse?channel=%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET /sse?channel=news HTTP/1.1\r\nHost: x\r\n"
         "Origin: http://evil.example\r\n\r\n", 403),
        ("GET /sse?channel=secret HTTP/1.1\r\nHost: x\r\n\r\n", 403),
        ("GET /sse?channel=news&channel=secret HTTP/1.1\r\nHost: x\r\n\r\n",
         403),
        ("GET /sse?channel=news HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        ("GET /sse?channel=news HTTP/1.1\r\nHost: x\r\nX-Big: " +
         "y" * 3000 + "\r\n\r\n", 431),
        ("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
        ("GARBAGE\r\n\r\n", 400),
    ]
    for raw, code in cases:
        k = Conn(wport)
        k.send(raw.encode("latin-1"))
        status, headers, body = k.response()
        check(status == code, "%r: %d, not %d (%r)" % (raw[:40], status,
                                                       code, body))
        check(body.endswith(b"\r\n") and len(body) > 2,
              "a line of text says why: %r" % body)
    k = Conn(wport)
    k.send("GET /sse?channel=news HTTP/1.1\r\nHost:")
    t0 = time.monotonic()
    status, _, body = k.response()
    check(status == 408 and time.monotonic() - t0 < 3,
          "a head not finished in time: 408 (%d)" % status)
    r.publish("news", "after refusals")
    c.read_until(b"after refusals")
    print("ok: %d bad requests each got their status (400, 403 origin and "
          "NOPERM, 404, 405, 408, 431, 505); the stream flowed on" %
          (len(cases) + 1))

    # A stream that does not read is cut at the output limit; another
    # gets everything.
    slow = Conn(wport, rcvbuf=4096)
    slow.send("GET /sse?channel=slow HTTP/1.1\r\nHost: x\r\n\r\n")
    fast = stream(wport, "channel=slow")
    wait_for("slow subscribed", lambda: dict(r.pubsub_numsub("slow"))[
        b"slow"] == 1)
    time.sleep(0.2)
    payload = "x" * 4000
    n = 2000
    for i in range(0, n, 10):
        pipe = r.pipeline(transaction=False)
        for j in range(i, i + 10):
            pipe.publish("slow", "%d %s" % (j, payload))
        pipe.execute()
        fast.read_until(("%d x" % (i + 9)).encode(), 5)
    got = [e for e in body_events(fast) if e[0] == "message"]
    check(len(got) == n and all(e[2].startswith("%d " % i)
                                for i, e in enumerate(got)),
          "the reading stream got all %d in order (%d)" % (n, len(got)))
    end = time.monotonic() + 10
    while slow.fill(0.5) and time.monotonic() < end:
        pass
    check(slow.closed, "the stream that did not read was cut")
    check(len(slow.buf) < n * 4000, "it was cut before it all came")
    fast.s.close()
    print("ok: a stream that did not read was cut at the output limit; "
          "the other got all %d" % n)

    # Many streams at once.
    many = []
    for i in range(200):
        k = Conn(wport)
        k.send("GET /sse?channel=many HTTP/1.1\r\nHost: x\r\n\r\n")
        many.append(k)
    for k in many:
        k.read_until(b"\r\n\r\n")
    check(dict(r.pubsub_numsub("many"))[b"many"] == 1,
          "one upstream subscription for 200 streams")
    r.publish("many", "to all")
    for k in many:
        k.read_until(b"to all")
    info = p.info("stats")
    check(info["sse_connected_clients"] >= 201,
          "INFO counts streams: %r" % info["sse_connected_clients"])
    refused = info["web_refused"]
    check(refused["origin"] == 1 and refused["denied"] == 2 and
          refused["timeout"] == 1 and refused["too_large"] == 1 and
          refused["not_found"] == 2, "INFO counts refusals: %r" % refused)
    for k in many:
        k.s.close()
    wait_for("streams closed", lambda: p.info("stats")[
        "sse_connected_clients"] == 1)
    print("ok: 200 streams at once got the message (one upstream "
          "subscription); INFO counts streams and refusals")
    check(not c.closed, "the first stream is still open")
    return 0


if __name__ == "__main__":
    run.main(main)
