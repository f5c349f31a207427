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

WebSocket, GET /ws:
- the handshake (Sec-WebSocket-Accept, the json and resp subprotocols,
  each bad upgrade with its status);
- json: commands as JSON arrays, replies and messages as JSON text frames
  in order, a payload that is not UTF-8 as {"base64":...} and one sent so,
  AUTH, NOPERM, HELLO 3 then PUBLISH with its count, a command in three
  fragments, ping and pong, the close handshake;
- resp: RESP bytes both ways in binary frames, a command split over two;
- passthrough (a second pubsubd): a BLPOP's reply keeps its place before
  a PING and messages that came behind it, on json and resp;
- every bad frame closed with its code (1002 unmasked, 1003 binary on
  json, 1007 invalid UTF-8 and not a command, 1008 over the message rate,
  1009 over the frame limit), a slow reader cut at the output limit while
  another gets everything, a Redis restart followed, 1000 WebSocket
  subscribers at once, INFO's counts.

Every wait is bounded. Prints one line per step; exits 0 if all passed, 1
if one failed. Environment: PUBSUBD (the daemon), PDTEST_KEEP=1 (keep the
directory).
"""
import base64
import hashlib
import os
import resource
import signal
import hmac
import struct
import subprocess
import urllib.parse
import sys
import time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pdtest import Run, check, freeport, wait_for  # noqa: E402
from wsclient import WS, Conn  # noqa: E402

SECRET = "a test secret of some length"
PUBSUBD = os.path.abspath(os.environ.get("PUBSUBD", "./daemon/pubsubd"))
run = Run("pubsubd-web.")


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


def ws_tests(wport, r, p):
    # The handshake.
    w = WS(wport, extra="Origin: http://good.example\r\n")
    head = w.upgraded()
    want = base64.b64encode(hashlib.sha1(
        (w.key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
    check(head.startswith("HTTP/1.1 101") and
          ("Sec-WebSocket-Accept: %s" % want.decode()) in head and
          "Sec-WebSocket-Protocol" not in head, "101: %r" % head)
    k = WS(wport, proto="chat, resp")
    check("Sec-WebSocket-Protocol: resp" in k.upgraded(), "resp chosen")
    k.s.close()
    bad = [("Sec-WebSocket-Protocol: chat\r\n", 400),
           ("Origin: http://evil.example\r\n", 403)]
    for extra, code in bad:
        k = WS(wport, extra=extra)
        status, _, body = k.response()
        check(status == code, "%r: %d, not %d" % (extra, status, code))
    for raw, code in [
            ("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n", 426),
            ("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Version: 8\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", 426),
            ("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
             "Sec-WebSocket-Key: short\r\n\r\n", 400),
            ("POST /ws HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
             "\r\n", 405)]:
        k = Conn(wport)
        k.send(raw)
        status, _, _ = k.response()
        check(status == code, "%r: %d, not %d" % (raw[:60], status, code))
    print("ok: the WebSocket handshake (accept key, json by default, resp "
          "chosen), 6 bad upgrades with their statuses")

    # json: commands, replies and messages.
    w.cmd("SUBSCRIBE", "news", "ml")
    check(w.json() == ["subscribe", "news", 1] and
          w.json() == ["subscribe", "ml", 2], "subscribed")
    w.cmd("PSUBSCRIBE", "user.*")
    check(w.json() == ["psubscribe", "user.*", 3], "psubscribed")
    r.publish("news", "hello")
    r.publish("ml", "a\nb\r\n\"quoted\" \\ \u00e9\u2713")
    r.publish("news", b"\xff\x00\xfe binary")
    r.publish("user.9", "by pattern")
    got = [w.json() for _ in range(4)]
    want = [["message", "news", "hello"],
            ["message", "ml", "a\nb\r\n\"quoted\" \\ \u00e9\u2713"],
            ["message", "news", {"base64": base64.b64encode(
                b"\xff\x00\xfe binary").decode()}],
            ["pmessage", "user.*", "user.9", "by pattern"]]
    check(got == want, "json messages in order: %r" % got)
    w.cmd("SUBSCRIBE", "secret")
    e = w.json()
    check(isinstance(e, dict) and e.get("error", "").startswith("NOPERM"),
          "NOPERM as an error object: %r" % e)
    w.send(w.frame(9, b"are you there"))
    f = w.next_frame()
    check(f == (10, b"are you there"), "pong with the ping's data: %r" % (f,))
    w.cmd("PING")
    check(w.json() == ["pong", ""], "PING while subscribed")
    print("ok: json: subscribe, 4 messages in order (multi-line, escapes, "
          "non-ASCII, not UTF-8 as base64, a pattern), NOPERM, ping/pong")

    # A second client: AUTH, HELLO 3, PUBLISH counts, a base64 argument, a
    # command in three fragments.
    a = WS(wport)
    a.upgraded()
    a.cmd("AUTH", "alice", "wrong")
    e = a.json()
    check("WRONGPASS" in e.get("error", ""), "WRONGPASS: %r" % e)
    a.cmd("AUTH", "alice", "alicepw")
    check(a.json() == "OK", "AUTH as alice")
    a.cmd("HELLO", "3")
    hello = a.json()
    check(isinstance(hello, dict) and hello.get("proto") == 3,
          "HELLO 3 as an object: %r" % hello)
    a.send(a.frame(1, '["PUB', fin=False))
    a.send(a.frame(0, 'LISH","news",', fin=False))
    a.send(a.frame(0, '{"base64":"/wA="}]'))
    n = a.json()
    check(n == 2, "PUBLISH in 3 fragments counted 2 (this WebSocket "
          "and the event stream): %r" % n)
    check(w.json() == ["message", "news", {"base64": "/wA="}],
          "the base64 argument arrived as bytes")
    a.cmd("PUBSUB", "NUMSUB", "news")
    check(a.json() == ["news", 2], "PUBSUB NUMSUB")
    a.send(a.frame(8, struct.pack("!H", 1000) + b"bye"))
    f = a.next_frame()
    check(f is not None and f[0] == 8 and f[1][:2] == struct.pack("!H", 1000),
          "the close echoed: %r" % (f,))
    end = time.monotonic() + 5
    while a.fill(0.5) and time.monotonic() < end:
        pass
    check(a.closed, "closed after the close handshake")
    print("ok: json: AUTH, HELLO 3, PUBLISH counted (base64 argument, 3 "
          "fragments), PUBSUB, the close handshake")

    # resp: RESP bytes both ways, a command split over two frames.
    rc = WS(wport, proto="resp")
    rc.upgraded()
    rc.send(rc.frame(2, b"*2\r\n$9\r\nSUBSCRIBE\r\n$"))
    rc.send(rc.frame(2, b"4\r\nnews\r\n"))
    f = rc.next_frame()
    check(f == (2, b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"),
          "resp: the reply's bytes: %r" % (f,))
    r.publish("news", b"\xffraw")
    f = rc.next_frame()
    check(f == (2, b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$4\r\n"
                   b"\xffraw\r\n"), "resp: the message's bytes: %r" % (f,))
    check(w.json() == ["message", "news", {"base64": "/3Jhdw=="}],
          "and the json client's")
    print("ok: resp: RESP both ways in binary frames, a command over two")

    # Bad frames, each closed with its code; the others unharmed.
    cases = [
        (lambda k: k.send(k.frame(1, b'["PING"]', mask=False)), 1002),
        (lambda k: k.send(k.frame(2, b'["PING"]')), 1003),
        (lambda k: k.send(k.frame(1, b'["PING", "\xc3\x28"]')), 1007),
        (lambda k: k.send(k.frame(1, b'{"not": "a command"}')), 1007),
        (lambda k: k.send(k.frame(1, b'["PING", [1]]')), 1007),
        (lambda k: k.send(k.frame(1, b"x" * 5000)), 1009),
        (lambda k: k.send(b"".join(k.frame(1, b'["PING"]')
                                   for _ in range(80))), 1008),
    ]
    for act, code in cases:
        k = WS(wport)
        k.upgraded()
        act(k)
        got, reason = k.closed_with()
        check(got == code, "closed with %d, not %d (%s)" % (got, code,
                                                           reason))
    r.publish("news", "after bad frames")
    check(w.json() == ["message", "news", "after bad frames"],
          "the first client flowed on")
    print("ok: bad frames closed with 1002, 1003, 1007 (x3), 1008, 1009; "
          "the others unharmed")

    # A WebSocket that does not read is cut; another gets everything.
    slow = WS(wport, rcvbuf=4096)
    slow.upgraded()
    slow.cmd("SUBSCRIBE", "slow")
    fast = WS(wport)
    fast.upgraded()
    fast.cmd("SUBSCRIBE", "slow")
    check(fast.json()[0] == "subscribe", "fast subscribed")
    wait_for("slow subscribed", lambda: dict(p.pubsub_numsub("slow"))[
        b"slow"] == 2)
    n, payload = 2000, "x" * 4000
    for i in range(0, n, 10):
        pipe = r.pipeline(transaction=False)
        for j in range(i, i + 10):
            pipe.publish("slow", "%d %s" % (j, payload))
        pipe.execute()
        for j in range(i, i + 10):
            m = fast.json()
            check(m[2].startswith("%d " % j), "in order: %r" % m[2][:10])
    end = time.monotonic() + 10
    while slow.fill(0.5) and time.monotonic() < end:
        pass
    check(slow.closed, "the WebSocket that did not read was cut")
    fast.s.close()
    print("ok: a WebSocket that did not read was cut at the output limit; "
          "the other got all %d in order" % n)

    # Redis restarts under a WebSocket subscriber.
    return w


def ws_many(wport, r, p, w):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    many = []
    for i in range(1000):
        k = WS(wport)
        many.append(k)
    for k in many:
        k.upgraded()
        k.cmd("SUBSCRIBE", "many")
    for k in many:
        check(k.json()[0] == "subscribe", "subscribed")
    check(dict(r.pubsub_numsub("many"))[b"many"] == 1,
          "one upstream subscription for 1000 WebSockets")
    r.publish("many", "to all")
    for k in many:
        check(k.json() == ["message", "many", "to all"], "each got it")
    info = p.info("stats")
    check(info["ws_connected_clients"] >= 1001,
          "INFO counts WebSockets: %r" % info["ws_connected_clients"])
    check(0 < info["total_web_net_output_bytes"] <
          info["total_net_output_bytes"], "INFO counts web bytes: %r" %
          info["total_web_net_output_bytes"])
    for k in many:
        k.s.close()
    wait_for("closed", lambda: p.info("stats")["ws_connected_clients"] == 1)
    print("ok: 1000 WebSocket subscribers at once got the message (one "
          "upstream subscription); INFO counts them")


def ws_passthrough(rport, r):
    """Replies Redis sends later (passthrough) keep their place among the
    messages on both subprotocols: a BLPOP waits in Redis, a PING and two
    messages come behind it, and all arrive in order once it is answered;
    the messages after it come framed as before."""
    p, wport = run.web_pubsubd(PUBSUBD, rport, "passthrough = true;\n",
                               name="pubsubd-pt")
    w = WS(wport)
    w.upgraded()
    w.cmd("HELLO", "3")
    check(w.json().get("proto") == 3, "HELLO 3")
    w.cmd("SUBSCRIBE", "pt")
    check(w.json() == ["subscribe", "pt", 1], "subscribed")
    rc = WS(wport, proto="resp")
    rc.upgraded()
    rc.send(rc.frame(2, b"HELLO 3\r\n"))
    rc.read_until(b"proto")
    rc.buf.clear()
    rc.send(rc.frame(2, b"SUBSCRIBE pt\r\n"))
    f = rc.next_frame()
    check(f == (2, b">3\r\n$9\r\nsubscribe\r\n$2\r\npt\r\n:1\r\n"),
          "resp: subscribed: %r" % (f,))

    for k in (w, rc):
        if k is rc:
            # The json round's two messages came to it as frames of their own.
            for want in (b"behind 1\r\n", b"\xff behind 2\r\n"):
                f = rc.next_frame()
                check(f[0] == 2 and f[1].endswith(want), "resp: %r" % (f,))
        blpop = (k.frame(1, '["BLPOP","q","10"]') + k.frame(1, '["PING"]')
                 if k is w else
                 k.frame(2, b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n"
                         b"$2\r\n10\r\n*1\r\n$4\r\nPING\r\n"))
        k.send(blpop)
        wait_for("BLPOP waits in Redis", lambda: r.info("clients")[
            "blocked_clients"] == 1)
        r.publish("pt", "behind 1")
        r.publish("pt", b"\xff behind 2")
        k.fill(0.3)
        check(len(k.buf) == 0, "nothing came before the awaited reply: %r" %
              bytes(k.buf))
        r.rpush("q", "item")
        if k is w:
            got = [w.json() for _ in range(4)]
            want = [["q", "item"], "PONG", ["message", "pt", "behind 1"],
                    ["message", "pt", {"base64": base64.b64encode(
                        b"\xff behind 2").decode()}]]
            check(got == want, "json: the reply, then what waited behind "
                  "it, in order: %r" % got)
        else:
            want = (b"*2\r\n$1\r\nq\r\n$4\r\nitem\r\n+PONG\r\n"
                    b">3\r\n$7\r\nmessage\r\n$2\r\npt\r\n$8\r\nbehind 1\r\n"
                    b">3\r\n$7\r\nmessage\r\n$2\r\npt\r\n$10\r\n"
                    b"\xff behind 2\r\n")
            got = b""
            while len(got) < len(want):
                f = rc.next_frame()
                check(f is not None and f[0] == 2, "a binary frame: %r" % (f,))
                got += f[1]
            check(got == want, "resp: the reply, then what waited behind "
                  "it, in order: %r" % got)
    # The resp round's two messages came to the json client as ever.
    check([w.json()[2] for _ in range(2)] == ["behind 1", {
        "base64": base64.b64encode(b"\xff behind 2").decode()}],
        "json: the resp round's messages")
    r.publish("pt", "after")
    check(w.json() == ["message", "pt", "after"], "json: framed as before")
    f = rc.next_frame()
    check(f == (2, b">3\r\n$7\r\nmessage\r\n$2\r\npt\r\n$5\r\nafter\r\n"),
          "resp: framed as before: %r" % (f,))
    w.s.close()
    rc.s.close()
    with open(os.path.join(run.tmp, "pubsubd-pt.log")) as f:
        log = f.read()
    check("could not be read" not in log, "no reply was unreadable")
    print("ok: passthrough over WebSocket (json and resp): a BLPOP's reply "
          "kept its place before a PING and 2 messages (one not UTF-8) "
          "that came behind it")


def ticket(user, expiry, key=None):
    text = "%s:%d" % (user, expiry)
    sig = hmac.new((key or SECRET).encode(), text.encode(),
                   hashlib.sha256).hexdigest()
    return "%s:%s" % (text, sig)


def ticket_tests(wport, r):
    """An event stream logged in by a signed, expiring ticket."""
    now = int(time.time())
    status, _, body = request(wport, "/sse?channel=private").response()
    check(status == 403, "the default user may not hold it: %d" % status)
    c = stream(wport, "channel=private&ticket=" +
               urllib.parse.quote(ticket("alice", now + 60)))
    check(c.buf.startswith(b"HTTP/1.1 200"), "200 with alice's ticket: %r"
          % bytes(c.buf[:60]))
    r.publish("private", "for alice")
    c.read_until(b"data: for alice")
    c.s.close()
    # Expired a minute ago, not one second: the daemon's time() (glibc
    # reads the coarse clock, a tick behind) and Python's time.time() can
    # straddle a second; with now - 1 a run in CI got its stream (the
    # boundary itself is test_ticket's).
    for t, why in [(ticket("alice", now - 60), b"expired"),
                   (ticket("alice", now + 60, "not the secret, but long"),
                    b"not valid"),
                   (ticket("mallory", now + 60), b"not valid"),
                   ("alice", b"not valid")]:
        status, _, body = request(wport, "/sse?channel=private&ticket=" +
                                  urllib.parse.quote(t)).response()
        check(status == 401 and why in body, "%r: %d %r" % (t, status, body))
    with open(os.path.join(run.tmp, "pubsubd.log"), "rb") as f:
        log = f.read()
    check(ticket("alice", now + 60).split(":")[2].encode() not in log,
          "no ticket in the log")
    print("ok: tickets: alice's logs the stream in (a channel the default "
          "user may not hold); expired, forged, unknown user, malformed: "
          "401; none logged")


def tls_tests(tport, r):
    """wss:// and https:// on a listener with tls = true."""
    w = WS(tport, tls=True)
    head = w.upgraded()
    check(head.startswith("HTTP/1.1 101"), "wss: 101: %r" % head)
    w.cmd("SUBSCRIBE", "uni")
    check(w.json() == ["subscribe", "uni", 1], "wss: subscribed")
    c = Conn(tport, tls=True)
    c.send("GET /sse?channel=uni HTTP/1.1\r\nHost: x\r\n\r\n")
    c.read_until(b"\r\n\r\n")
    check(c.buf.startswith(b"HTTP/1.1 200"), "https: 200")
    r.publish("uni", "over TLS \u2713")
    check(w.json() == ["message", "uni", "over TLS \u2713"],
          "wss: the message")
    c.read_until("over TLS \u2713".encode())
    w.send(w.frame(1, b"x" * 5000))
    code, _ = w.closed_with()
    check(code == 1009, "wss: a frame over the limit closed with 1009")
    c.s.close()
    print("ok: wss:// and https:// (tls = true): a WebSocket and an event "
          "stream subscribed, got the message; a frame over the limit 1009")


def restart_redis(rport):
    """Stops the redis-server (SIGTERM) and starts another on its port;
    returns a client of it once pubsubd has subscribed to "news" again."""
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
    return r


def main():
    rport = freeport()
    run.start("redis", ["redis-server", "--port", str(rport), "--bind",
                        "127.0.0.1", "--save", "", "--appendonly", "no"])
    r = redis.Redis(port=rport)
    wait_for("redis", r.ping)
    # A certificate for the wss:// and https:// listener.
    crt, key = [os.path.join(run.tmp, n) for n in ("web.crt", "web.key")]
    out = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                          "-nodes", "-subj", "/CN=127.0.0.1", "-days", "1",
                          "-keyout", key, "-out", crt],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=60)
    check(out.returncode == 0, "openssl req: %r" % out.stdout[-300:])
    tport = freeport()
    p, wport = run.web_pubsubd(PUBSUBD, rport, (
        'tls = { certificate = "%s"; private_key = "%s"; };\n' % (crt, key)) + (
        'http = { origins = ( "http://good.example" ); keepalive = 1; '
        'header_max = 16384; request_timeout = 700; message_max = 4096; '
        'message_rate = 50; ticket_secret = "%s"; };\n'
        'limits = { output_hard = 65536; output_soft = 0; };\n'
        'users = ( { name = "default"; nopass = true; subscribe = '
        '( "news", "ml", "uni", "sp ace%%", "user.*", "slow", "many", '
        '"secret2" ); },\n'
        '  { name = "alice"; password_sha256 = "%s"; subscribe = ( "*" ); '
        'publish = ( "*" ); } );\n') % (
            SECRET, hashlib.sha256(b"alicepw").hexdigest()),
        listen=',\n  { host = "127.0.0.1"; port = %d; protocol = "http"; '
        'tls = true; }' % tport)

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

    # A stream of many names: their replies fill many buffer chains.
    big = stream(wport, "&".join("channel=user.%d" % i for i in range(800)))
    check(big.buf.startswith(b"HTTP/1.1 200"), "800 names: 200")
    r.publish("user.799", "to the last of 800")
    big.read_until(b"data: to the last of 800")
    big.s.close()
    print("ok: a stream of 800 names opened once Redis held them all")

    c.buf = bytearray(c.buf.partition(b"\r\n\r\n")[0] + b"\r\n\r\n")
    c.read_until(b":\n\n", 3)
    print("ok: a keep-alive comment while idle")

    # Redis restarts: the stream stays, and flows again.
    r = restart_redis(rport)
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
         "y" * 20000 + "\r\n\r\n", 431),
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

    ticket_tests(wport, r)
    ws_passthrough(rport, r)
    w = ws_tests(wport, r, p)
    tls_tests(tport, r)

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
    check(refused["origin"] == 2 and refused["denied"] == 7 and
          refused["timeout"] == 1 and refused["too_large"] == 1 and
          refused["not_found"] == 3, "INFO counts refusals: %r" % refused)
    for k in many:
        k.s.close()
    wait_for("streams closed", lambda: p.info("stats")[
        "sse_connected_clients"] == 1)
    print("ok: 200 streams at once got the message (one upstream "
          "subscription); INFO counts streams and refusals")
    check(not c.closed, "the first stream is still open")

    # Redis restarts: the WebSocket subscriber flows again, not closed.
    r = restart_redis(rport)
    r.publish("news", "after the second restart")
    check(w.json(10) == ["message", "news", "after the second restart"],
          "the WebSocket flows again")
    print("ok: Redis restarted: the WebSocket subscriber flows again, "
          "never closed")
    ws_many(wport, r, p, w)
    return 0


if __name__ == "__main__":
    run.main(main)
