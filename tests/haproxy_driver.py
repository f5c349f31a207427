"""haproxy_driver.py: several pubsubd behind real HAProxy (run by
tests/test_haproxy.sh).

Starts two redis-server (A, and B later), three pubsubd with their metrics
listeners (1 and 2 on A, 3 on B, which is down at first), and haproxy with
conf/haproxy.cfg.example (its bind and server lines pointed at them, and a
stats socket added). Then, with redis-py clients, each named so that CLIENT
LIST on a pubsubd shows who is where:

- /live and /ready answer as documented (GET and HEAD; 503 with the reason
  while Redis is down);
- the check keeps pubsubd 3 out of rotation while its Redis is down, and
  puts it back once it is synced; leastconn spreads the clients;
- pubsubd 1 is killed (-9): its clients reconnect through haproxy and
  subscribe again (redis-py does both on its next read), and the clients
  of the others lose none of the messages published meanwhile.

Every wait is bounded. Prints one line per step; exits 0 if all passed, 1
if one failed, 77 if haproxy is missing.
Environment: PUBSUBD (the daemon), TESTS_SRCDIR (where conf/ is, one level
up), PDTEST_KEEP=1 (keep the directory).
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pdtest import Run, check, freeport, wait_for  # noqa: E402

PUBSUBD = os.path.abspath(os.environ.get("PUBSUBD", "./daemon/pubsubd"))
SRCDIR = os.environ.get("TESTS_SRCDIR", os.path.dirname(__file__))
EXAMPLE = os.path.join(SRCDIR, "..", "conf", "haproxy.cfg.example")
run = Run("pubsubd-haproxy.")
TMP = run.tmp
start = run.start


def redis_up(port, tag):
    start(tag, ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", TMP,
                "--dbfilename", tag + ".rdb"])
    wait_for(tag, lambda: redis.Redis(port=port).ping())


def pubsubd_up(n, port, mport, rport, extra=""):
    conf = os.path.join(TMP, "pubsubd%d.conf" % n)
    with open(conf, "w") as f:
        f.write('listen = ( { host = "127.0.0.1"; port = %d; } );\n'
                'redis = { port = %d; backoff_max = 300; };\n'
                'metrics = { enabled = true; port = %d; };\n'
                'log = { level = "info"; };\n%s\n' %
                (port, rport, mport, extra))
    p = start("pubsubd%d" % n, [PUBSUBD, "-c", conf])
    wait_for("pubsubd %d" % n, lambda: redis.Redis(port=port).ping())
    return p


def http(port, path, method="GET"):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def haproxy_conf(port, servers, sock):
    """The example, pointed at our ports, with a stats socket and a
    maxconn that this machine's open-file limit allows."""
    with open(EXAMPLE) as f:
        text = f.read()
    check("balance leastconn" in text and "option httpchk GET /ready" in text,
          "the example lost its leastconn or its /ready check")
    text = re.sub(r"bind 0\.0\.0\.0:6379", "bind 127.0.0.1:%d" % port, text)
    text = re.sub(r"\tserver pubsubd.*\n", "", text)
    for i, (p, m) in enumerate(servers, 1):
        text += "\tserver pubsubd%d 127.0.0.1:%d check port %d\n" % (i, p, m)
    text = text.replace("global\n", "global\n\tstats socket %s level admin\n"
                        % sock, 1)
    # Two descriptors per connection: within this machine's limit.
    text = re.sub(r"maxconn \d+", "maxconn 2000", text)
    path = os.path.join(TMP, "haproxy.cfg")
    with open(path, "w") as f:
        f.write(text)
    return path


def server_status(sock):
    """{server name: status} from haproxy's stats socket."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(sock)
    s.sendall(b"show stat\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    out = {}
    lines = data.decode().splitlines()
    head = lines[0].lstrip("# ").split(",")
    for line in lines[1:]:
        f = line.split(",")
        if len(f) == len(head) and f[0] == "pubsubd" and \
                f[1].startswith("pubsubd"):
            out[f[1]] = f[head.index("status")]
    return out


def names_on(port):
    """The client names on a pubsubd (CLIENT LIST)."""
    r = redis.Redis(port=port, decode_responses=True)
    return {c["name"] for c in r.client_list() if c.get("name")}


class Client(threading.Thread):
    """A redis-py subscriber through haproxy that retries: on a lost
    connection its next get_message() reconnects (through haproxy, to
    whichever pubsubd) and subscribes again."""

    def __init__(self, name, port):
        super().__init__(daemon=True)
        self.name = name
        r = redis.Redis(port=port, client_name=name, socket_timeout=5)
        self.ps = r.pubsub()
        self.ps.subscribe("ch")
        self.got = []
        self.lock = threading.Lock()
        self.stop = False
        self.subscribes = 0

    def run(self):
        while not self.stop:
            try:
                m = self.ps.get_message(timeout=0.1)
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                time.sleep(0.05)
                continue
            if m is None:
                continue
            with self.lock:
                if m["type"] == "subscribe":
                    self.subscribes += 1
                elif m["type"] == "message":
                    self.got.append(m["data"].decode())

    def received(self):
        with self.lock:
            return list(self.got)


def main():
    if shutil.which("haproxy") is None:
        print("SKIP: haproxy is missing (Debian's haproxy; scripts/test "
              "installs it)")
        return 77
    ra, rb = freeport(), freeport()
    ports = [freeport() for _ in range(3)]
    mports = [freeport() for _ in range(3)]
    hport = freeport()
    sock = os.path.join(TMP, "haproxy.sock")
    redis_up(ra, "redisA")
    pubs = [pubsubd_up(1, ports[0], mports[0], ra),
            pubsubd_up(2, ports[1], mports[1], ra,
                       "passthrough = true; shutdown = { timeout = 10000; };"),
            pubsubd_up(3, ports[2], mports[2], rb)]

    # The endpoints.
    for m in mports:
        check(http(m, "/live") == (200, "live\n"), "/live is not 200 live")
    wait_for("pubsubd 1 ready", lambda: http(mports[0], "/ready")[0] == 200)
    st, body = http(mports[0], "/ready")
    check(body.startswith("ready: redis at 127.0.0.1:%d" % ra), body)
    st, body = http(mports[2], "/ready")
    check(st == 503 and body.startswith(
        "not ready: redis at 127.0.0.1:%d is down" % rb),
        "pubsubd 3: %d %s" % (st, body))
    check(http(mports[2], "/ready", "HEAD") == (503, ""), "HEAD /ready")
    check(http(mports[0], "/ready", "POST")[0] == 405, "POST /ready")
    check(http(mports[0], "/nowhere")[0] == 404, "GET /nowhere")
    print("ok: /live and /ready")

    # haproxy: pubsubd 3 out of rotation while its Redis is down.
    cfg = haproxy_conf(hport, list(zip(ports, mports)), sock)
    r = subprocess.run(["haproxy", "-c", "-f", cfg], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    check(r.returncode == 0, "haproxy -c: " + r.stdout.decode())
    start("haproxy", ["haproxy", "-db", "-f", cfg])
    wait_for("haproxy's stats socket", lambda: os.path.exists(sock))
    wait_for("pubsubd 1, 2 UP and 3 DOWN", lambda: server_status(sock) == {
        "pubsubd1": "UP", "pubsubd2": "UP", "pubsubd3": "DOWN"})
    clients = [Client("c%d" % i, hport) for i in range(20)]
    for c in clients:
        c.start()
    wait_for("20 subscribed", lambda: all(c.subscribes for c in clients))
    on = [names_on(p) for p in ports]
    check(len(on[0]) + len(on[1]) == 20 and not on[2],
          "clients spread %s" % [len(o) for o in on])
    check(min(len(on[0]), len(on[1])) >= 5, "leastconn spread %s" %
          [len(o) for o in on])
    print("ok: pubsubd 3 out of rotation; 20 clients spread %d / %d / 0" %
          (len(on[0]), len(on[1])))

    # Its Redis comes up: synced, back in rotation, new clients go there.
    redis_up(rb, "redisB")
    wait_for("pubsubd 3 ready", lambda: http(mports[2], "/ready")[0] == 200)
    wait_for("pubsubd 3 UP", lambda: server_status(sock).get("pubsubd3") ==
             "UP")
    more = [Client("c%d" % i, hport) for i in range(20, 30)]
    for c in more:
        c.start()
    clients += more
    wait_for("30 subscribed", lambda: all(c.subscribes for c in clients))
    on = [names_on(p) for p in ports]
    check(len(on[2]) >= 5 and sum(len(o) for o in on) == 30,
          "after pubsubd 3 came back %s" % [len(o) for o in on])
    print("ok: pubsubd 3 back in rotation, took %d of 10 new clients" %
          len(on[2]))

    # pubsubd 1 dies while messages flow.
    pa, pb = redis.Redis(port=ra), redis.Redis(port=rb)
    seq = []

    def publish(msg):
        pa.publish("ch", msg)
        pb.publish("ch", msg)
        seq.append(msg)

    for i in range(10):
        publish("m%d" % i)
        time.sleep(0.02)
    victims = on[0]
    pubs[0].kill()
    pubs[0].wait()
    for i in range(10, 40):
        publish("m%d" % i)
        time.sleep(0.05)
    wait_for("every client's last message", lambda: all(
        c.received()[-1:] == [seq[-1]] for c in clients))
    for c in clients:
        got = c.received()
        if c.name in victims:
            check(c.subscribes >= 2, "%s never subscribed again" % c.name)
            check(got[:10] == seq[:10], "%s before the kill: %s" %
                  (c.name, got[:10]))
        else:
            check(got == seq, "%s lost messages: %d of %d" %
                  (c.name, len(got), len(seq)))
    on = [names_on(p) for p in ports[1:]]
    check(sum(len(o) for o in on) == 30 and victims <= on[0] | on[1],
          "after the kill %s" % [len(o) for o in on])
    print("ok: pubsubd 1 killed: its %d clients back through haproxy, the "
          "other %d lost nothing" % (len(victims), 30 - len(victims)))
    for c in clients:
        c.stop = True
    for c in clients:
        c.join(2)

    # Stopping: /ready says so (503) while a client is still owed a reply.
    owed = socket.create_connection(("127.0.0.1", ports[1]), timeout=5)
    owed.sendall(b"*3\r\n$5\r\nBLPOP\r\n$4\r\nlist\r\n$1\r\n0\r\n")
    wait_for("BLPOP on redis", lambda: redis.Redis(port=ra).info(
        "clients")["blocked_clients"] == 1)
    pubs[1].send_signal(signal.SIGTERM)
    wait_for("/ready: stopping", lambda: http(mports[1], "/ready") ==
             (503, "not ready: stopping\n"))
    check(http(mports[1], "/live") == (200, "live\n"), "/live while stopping")
    pa.lpush("list", "done")
    check(pubs[1].wait(10) == 0, "pubsubd 2 did not stop cleanly")
    check(owed.recv(100).startswith(b"*2\r\n$4\r\nlist\r\n"),
          "the owed BLPOP reply")
    owed.close()
    print("ok: /ready is 503 while stopping, /live 200")
    return 0


if __name__ == "__main__":
    run.main(main)
