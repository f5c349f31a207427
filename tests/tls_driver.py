"""tls_driver.py: the TLS tests of pubsubd (run by tests/test_tls.sh).

Makes its own certificates with the openssl command (a CA, a server
certificate for 127.0.0.1 and localhost, a second one for the reload, a
client certificate, and ones the CA did not sign), starts a redis-server
and pubsubd instances on free loopback ports, and drives real TLS clients
against them: redis-cli --tls, redis-py with ssl=True, openssl s_client and
Python's ssl module. Every wait is bounded. Prints one line per test and
exits 0 if all passed, 1 if one failed, 77 if a tool is missing.

Usage: tls_driver.py [ONLY]    (run only the tests whose name holds ONLY)
       tls_driver.py --bench SUBSCRIBERS MESSAGES SIZE
Environment: PUBSUBD (the daemon), TLS_KEEP=1 (keep the directory).
"""
import os, shutil, signal, socket, ssl, subprocess, sys, tempfile, threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pdtest import freeport  # noqa: E402

PUBSUBD = os.environ.get("PUBSUBD", "./daemon/pubsubd")
WAIT = 10.0		# seconds any one expected thing may take
TMP = tempfile.mkdtemp(prefix="pubsubd-tls.")
procs = []		# (name, Popen) we started, stopped at the end


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def run(args, timeout=30, **kw):
    return subprocess.run(args, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, **kw)



def path(name):
    return os.path.join(TMP, name)


def openssl(*args):
    r = run(["openssl"] + list(args))
    if r.returncode != 0:
        raise Fail("openssl %s: %s" % (" ".join(args), r.stderr.decode()))


def make_certs():
    """A CA; server certificates (two, for a reload); a client one; a CA
    nobody trusts and a client certificate it signed; a key that matches
    no certificate."""
    for ca in ("ca", "rogue"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                "2", "-subj", "/CN=pubsubd test %s" % ca,
                "-keyout", path(ca + ".key"), "-out", path(ca + ".crt"))
    with open(path("san.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, ca, cn in (("server", "ca", "localhost"),
                         ("server2", "ca", "localhost-renewed"),
                         ("client", "ca", "client"),
                         ("rogueclient", "rogue", "rogue client")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj",
                "/CN=" + cn, "-keyout", path(name + ".key"),
                "-out", path(name + ".csr"))
        ext = ["-extfile", path("san.cnf")] if name.startswith("server") \
            else []
        openssl("x509", "-req", "-in", path(name + ".csr"), "-CA",
                path(ca + ".crt"), "-CAkey", path(ca + ".key"),
                "-CAcreateserial", "-days", "2",
                "-out", path(name + ".crt"), *ext)
    openssl("genpkey", "-algorithm", "RSA", "-out", path("other.key"))


def start(name, args, log):
    p = subprocess.Popen(args, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    procs.append((name, p))
    return p


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def frame_message(channel, payload):
    return resp("message", channel, payload)


def frame_subscribe(channel, n):
    c = channel.encode()
    return b"*3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:%d\r\n" % (len(c), c, n)


class Conn:
    """A blocking connection (plain or TLS) with a read buffer."""

    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def read_exact(self, n, timeout=WAIT):
        end = time.time() + timeout
        while len(self.buf) < n:
            left = end - time.time()
            check(left > 0, "timed out with %d of %d bytes" %
                  (len(self.buf), n))
            self.s.settimeout(left)
            try:
                chunk = self.s.recv(65536)
            except socket.timeout:
                continue
            check(chunk, "closed with %d of %d bytes: %r" %
                  (len(self.buf), n, self.buf[:200]))
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def expect(self, want, timeout=WAIT):
        got = self.read_exact(len(want), timeout)
        check(got == want, "expected %r, got %r" % (want[:200], got[:200]))

    def closed(self, timeout=WAIT):
        """Whether the peer closes (EOF or a reset) within timeout."""
        end = time.time() + timeout
        while time.time() < end:
            self.s.settimeout(max(0.01, end - time.time()))
            try:
                chunk = self.s.recv(65536)
            except socket.timeout:
                continue
            except (ssl.SSLError, OSError):
                return True
            if not chunk:
                return True
            self.buf += chunk
        return False

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def tls_context(cert=None, key=None, ca="ca", minv=None, maxv=None):
    ctx = ssl.create_default_context(cafile=path(ca + ".crt"))
    if cert:
        ctx.load_cert_chain(path(cert + ".crt"), path(key + ".key"))
    if minv:
        ctx.minimum_version = minv
    if maxv:
        ctx.maximum_version = maxv
    return ctx


def connect_plain(port, rcvbuf=None):
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(WAIT)
    s.connect(("127.0.0.1", port))
    return s


def connect_tls(port, ctx=None, host="127.0.0.1", rcvbuf=None):
    ctx = ctx or tls_context()
    s = connect_plain(port, rcvbuf)
    return Conn(ctx.wrap_socket(s, server_hostname=host))


def connect_tls_unix(sockpath, ctx=None):
    ctx = ctx or tls_context()
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(WAIT)
    s.connect(sockpath)
    return Conn(ctx.wrap_socket(s, server_hostname="localhost"))


class Pubsubd:
    """One pubsubd with its configuration file and log."""

    def __init__(self, tag, redis_port, tls_conf, listen_extra="",
                 extra=""):
        self.tag = tag
        self.port = freeport()
        self.tls_port = freeport()
        self.unix = path(tag + ".sock")
        self.conf = path(tag + ".conf")
        self.log = path(tag + ".log")
        self.redis_port = redis_port
        self.write(tls_conf, listen_extra, extra)
        self.p = start(tag, [PUBSUBD, "-c", self.conf], self.log)
        end = time.time() + WAIT
        while True:
            try:
                c = Conn(connect_plain(self.port))
                c.send(b"PING\r\n")
                c.expect(b"+PONG\r\n")
                c.close()
                break
            except (OSError, Fail):
                check(time.time() < end and self.p.poll() is None,
                      "%s did not start: %s" % (tag, self.logtext()))
                time.sleep(0.05)

    def write(self, tls_conf, listen_extra="", extra=""):
        with open(self.conf, "w") as f:
            f.write('listen = ( { host = "127.0.0.1"; port = %d; },\n'
                    '  { host = "127.0.0.1"; port = %d; tls = true; },\n'
                    '  { path = "%s"; tls = true; }%s );\n'
                    'redis = { port = %d; };\n'
                    'tls = { %s };\n%s\n' %
                    (self.port, self.tls_port, self.unix, listen_extra,
                     self.redis_port, tls_conf, extra))

    def logtext(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def wait_log(self, needle, timeout=WAIT):
        end = time.time() + timeout
        while time.time() < end:
            if needle in self.logtext():
                return True
            time.sleep(0.05)
        return False

    def info(self, field):
        c = Conn(connect_plain(self.port))
        c.send(resp("INFO", "stats"))
        head = b""
        while not head.endswith(b"\r\n"):
            head += c.read_exact(1)
        body = c.read_exact(int(head[1:-2]) + 2).decode()
        c.close()
        for line in body.split("\r\n"):
            if line.startswith(field + ":"):
                return line.split(":", 1)[1]
        raise Fail("no %s in INFO: %s" % (field, body))

    def reload(self, tls_conf, extra=""):
        self.write(tls_conf, "", extra)
        n = self.logtext().count("configuration reloaded") + \
            self.logtext().count("reload failed")
        self.p.send_signal(signal.SIGHUP)
        end = time.time() + WAIT
        while time.time() < end:
            t = self.logtext()
            if t.count("configuration reloaded") + \
                    t.count("reload failed") > n:
                return
            time.sleep(0.05)
        raise Fail("no reload in the log")

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(WAIT)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        check(rc == 0, "%s exited %s: %s" % (self.tag, rc,
                                              self.logtext()[-3000:]))


def tls_base(extra=""):
    return ('certificate = "%s"; private_key = "%s"; ca_file = "%s"; %s' %
            (path("server.crt"), path("server.key"), path("ca.crt"), extra))


def publish(rport, pairs):
    """Publishes (channel, payload) pairs to Redis, pipelined."""
    c = Conn(connect_plain(rport))
    c.send(b"".join(resp("PUBLISH", ch, p) for ch, p in pairs))
    for _ in pairs:
        line = b""
        while not line.endswith(b"\r\n"):
            line += c.read_exact(1)
    c.close()


def wait_numsub(rport, channel, want):
    end = time.time() + WAIT
    while time.time() < end:
        c = Conn(connect_plain(rport))
        c.send(resp("PUBSUB", "NUMSUB", channel))
        r = c.s.recv(4096)
        c.close()
        if r.endswith(b":%d\r\n" % want):
            return
        time.sleep(0.05)
    raise Fail("NUMSUB %s never reached %d" % (channel, want))


# ---- the tests ------------------------------------------------------------

def t_redis_cli(env):
    """redis-cli --tls subscribes through the TLS listener and receives."""
    p = env["p1"]
    sub = subprocess.Popen(["redis-cli", "-p", str(p.tls_port), "--tls",
                            "--cacert", path("ca.crt"), "SUBSCRIBE",
                            "clich"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    try:
        wait_numsub(env["redis_port"], "clich", 1)
        publish(env["redis_port"], [("clich", "hello over tls")])
        out = b""
        end = time.time() + WAIT
        os.set_blocking(sub.stdout.fileno(), False)
        while b"hello over tls" not in out and time.time() < end:
            chunk = sub.stdout.read()
            if chunk:
                out += chunk
            time.sleep(0.02)
        check(out == b"subscribe\nclich\n1\nmessage\nclich\n"
              b"hello over tls\n", "redis-cli printed %r" % out)
    finally:
        sub.kill()
        sub.wait()
    r = run(["redis-cli", "-p", str(p.tls_port), "--tls", "--cacert",
             path("ca.crt"), "PING"])
    check(r.stdout == b"PONG\n", "redis-cli PING: %r" % r.stdout)


def t_redis_py(env):
    """redis-py with ssl=True: PING, PubSub, PUBLISH through pubsubd."""
    import redis
    p = env["p1"]
    r = redis.Redis(host="127.0.0.1", port=p.tls_port, ssl=True,
                    ssl_ca_certs=path("ca.crt"), socket_timeout=WAIT)
    check(r.ping() is True, "PING")
    ps = r.pubsub()
    ps.subscribe("pych")
    m = ps.get_message(timeout=WAIT)
    check(m and m["type"] == "subscribe", "confirmation: %r" % m)
    check(r.publish("pych", "from redis-py") == 1, "PUBLISH")
    m = ps.get_message(timeout=WAIT)
    check(m and m["data"] == b"from redis-py", "message: %r" % m)
    ps.close()
    r.close()


def t_plain_beside(env):
    """The plain listener beside the TLS ones serves as ever."""
    p = env["p1"]
    c = Conn(connect_plain(p.port))
    c.send(resp("SUBSCRIBE", "plainch"))
    c.expect(frame_subscribe("plainch", 1))
    wait_numsub(env["redis_port"], "plainch", 1)
    publish(env["redis_port"], [("plainch", "plain")])
    c.expect(frame_message("plainch", "plain"))
    c.close()


def kernel_tls():
    """Whether the kernel offers the tls ULP now (as pubsubd reads it)."""
    try:
        with open("/proc/sys/net/ipv4/tcp_available_ulp") as f:
            return "tls" in f.read().split()
    except OSError:
        return False


def t_ktls_on_off(env):
    """kTLS asked for (the default) and off (tls.ktls = false): both serve
    TLS subscribers alike; the log says who encrypts, and INFO counts the
    connections the kernel encrypts: some where the kernel has tls (and the
    module loaded), none where it has not (then OpenSSL does it all)."""
    p = env["p1"]
    check(p.wait_log("TLS: kTLS"), "the log says nothing of kTLS")
    c = connect_tls(p.tls_port)
    c.send(resp("SUBSCRIBE", "kch"))
    c.expect(frame_subscribe("kch", 1))
    kernel = int(p.info("tls_ktls_kernel"))
    check(kernel == int(kernel_tls()), "tls_ktls_kernel %d" % kernel)
    n = int(p.info("total_tls_ktls_connections"))
    if kernel:
        check(n > 0, "the kernel has tls, but no connection used it")
    else:
        check(n == 0, "%d kTLS connections without the kernel's tls" % n)
        check(p.wait_log("kTLS asked for, but the kernel offers no tls"),
              "the log does not say kTLS is unavailable")
    off = Pubsubd("ktls-off", env["redis_port"], tls_base("ktls = false;"),
                  extra='log = { level = "info"; };')
    try:
        check(off.wait_log("kTLS off (tls.ktls = false)"),
              "the log does not say kTLS is off")
        d = connect_tls(off.tls_port)
        d.send(resp("SUBSCRIBE", "kch"))
        d.expect(frame_subscribe("kch", 1))
        wait_numsub(env["redis_port"], "kch", 2)
        payload = "k" * 20000   # more than a record
        publish(env["redis_port"], [("kch", "one"), ("kch", payload)])
        for k in (c, d):
            k.expect(frame_message("kch", "one"))
            k.expect(frame_message("kch", payload))
        check(off.info("total_tls_ktls_connections") == "0",
              "kTLS used though off")
        d.close()
    finally:
        off.stop()
    c.close()


def t_resume(env):
    """With no server-side session cache, clients still resume, with the
    tickets the server sends (TLSv1.3 and TLSv1.2): no full handshake."""
    p = env["p1"]
    for v in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
        ctx = tls_context(minv=v, maxv=v)
        a = connect_tls(p.tls_port, ctx)
        a.send(b"PING\r\n")
        a.expect(b"+PONG\r\n")	# the TLSv1.3 tickets come after
        sess = a.s.session
        a.close()
        check(sess is not None and sess.has_ticket, "%s: no ticket" % v)
        s = connect_plain(p.tls_port)
        b = Conn(ctx.wrap_socket(s, server_hostname="127.0.0.1",
                                 session=sess))
        b.send(b"PING\r\n")
        b.expect(b"+PONG\r\n")
        check(b.s.session_reused, "%s: not resumed" % v)
        b.close()


def t_unix_tls(env):
    """TLS on a Unix socket listener."""
    c = connect_tls_unix(env["p1"].unix)
    c.send(b"PING\r\n")
    c.expect(b"+PONG\r\n")
    c.close()


def t_quit_flush_and_abrupt(env):
    """QUIT over TLS: +OK, then the server closes; a client that vanishes
    mid-stream costs the others nothing."""
    p = env["p1"]
    c = connect_tls(p.tls_port)
    c.send(b"PING\r\nQUIT\r\n")
    c.expect(b"+PONG\r\n+OK\r\n")
    check(c.closed(), "not closed after QUIT")
    c.close()
    a = connect_tls(p.tls_port)
    b = connect_tls(p.tls_port)
    for x in (a, b):
        x.send(resp("SUBSCRIBE", "abch"))
        x.expect(frame_subscribe("abch", 1))
    wait_numsub(env["redis_port"], "abch", 1)
    a.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                   b"\x01\x00\x00\x00\x00\x00\x00\x00")
    a.close()		# a reset, no close_notify
    publish(env["redis_port"], [("abch", "m%d" % i) for i in range(50)])
    for i in range(50):
        b.expect(frame_message("abch", "m%d" % i))
    b.close()


def t_handshake_garbage(env):
    """A plain client on the TLS port: the handshake fails, is logged with
    the peer and OpenSSL's reason, and counted (INFO and metrics)."""
    p = env["p1"]
    before = int(p.info("tls_handshake_failures"))
    c = Conn(connect_plain(p.tls_port))
    port = c.s.getsockname()[1]
    c.send(b"PING\r\n")
    check(c.closed(), "not closed")
    c.close()
    check(p.wait_log("TLS handshake with 127.0.0.1:%d failed: error:" %
                     port), "no log line: %s" % p.logtext()[-2000:])
    check(int(p.info("tls_handshake_failures")) == before + 1, "count")
    m = Conn(connect_plain(env["metrics_port"]))
    m.send(b"GET /metrics HTTP/1.0\r\n\r\n")
    m.closed()
    text = m.buf.decode()
    check("pubsubd_tls_handshake_failures_total %d" % (before + 1) in text,
          "metrics: %s" % text[-1500:])
    check("pubsubd_client_disconnects_total{reason=\"tls_handshake\"}"
          in text, "no tls_handshake reason")
    check("pubsubd_tls_clients_accepted_total" in text, "no accepted")


def t_handshake_timeout(env):
    """A client that connects and sends nothing is closed after
    tls.handshake_timeout (1000 ms here), and counted."""
    p = env["p1"]
    before = int(p.info("tls_handshake_failures"))
    c = Conn(connect_plain(p.tls_port))
    t0 = time.time()
    check(c.closed(WAIT), "still open after %.1f s" % WAIT)
    took = time.time() - t0
    check(took >= 0.8, "closed too early: %.2f s" % took)
    c.close()
    check(p.wait_log("failed: not done within 1000 ms"), "no log line")
    check(int(p.info("tls_handshake_failures")) == before + 1, "count")
    # A trickle of bytes does not extend the deadline.
    c = Conn(connect_plain(p.tls_port))
    t0 = time.time()
    hello = b"\x16\x03\x01\x02\x00"
    closed = False
    for i in range(40):
        try:
            c.send(hello[i % len(hello):i % len(hello) + 1])
        except OSError:
            closed = True
            break
        if c.closed(0.1):
            closed = True
            break
    check(closed and time.time() - t0 < 3.5, "trickle kept it open")
    c.close()


def t_verify_required(env):
    """verify_clients = required: no certificate, or one from another CA,
    is refused; the CA's client certificate is let in."""
    p = env["p2"]
    ok = connect_tls(p.tls_port, tls_context("client", "client"))
    ok.send(b"PING\r\n")
    ok.expect(b"+PONG\r\n")
    ok.close()
    for ctx, what in ((tls_context(), "no certificate"),
                      (tls_context("rogueclient", "rogueclient"),
                       "another CA's certificate")):
        refused = False
        try:
            c = connect_tls(p.tls_port, ctx)
            # TLS 1.3: the client's part ends before the server checks.
            c.send(b"PING\r\n")
            try:
                got = c.read_exact(7, 5.0)
                refused = got != b"+PONG\r\n"
            except (Fail, ssl.SSLError, OSError):
                refused = True
            c.close()
        except (ssl.SSLError, OSError):
            refused = True
        check(refused, "%s was let in" % what)
    check(p.wait_log("peer did not return a certificate"),
          "no log of the refusal: %s" % p.logtext()[-1000:])
    check(p.wait_log("certificate verify failed"),
          "no log of the refusal: %s" % p.logtext()[-1000:])


def t_min_version(env):
    """min_version = TLSv1.3 refuses openssl s_client -tls1_2 and lets
    -tls1_3 in."""
    p = env["p2"]
    base = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % p.tls_port,
            "-CAfile", path("ca.crt"), "-cert", path("client.crt"),
            "-key", path("client.key")]
    r = run(base + ["-tls1_2"], input=b"", timeout=WAIT)
    out = r.stdout.decode(errors="replace")
    check(r.returncode != 0 and "Cipher is (NONE)" in out,
          "TLSv1.2 accepted: %s" % out[-800:])
    r = run(base + ["-tls1_3", "-ign_eof"], input=b"PING\r\nQUIT\r\n",
            timeout=WAIT)
    out = r.stdout.decode(errors="replace")
    check("+PONG" in out and "TLSv1.3" in out, "TLSv1.3: %s" % out[-800:])
    ctx = tls_context("client", "client", maxv=ssl.TLSVersion.TLSv1_2)
    try:
        connect_tls(p.tls_port, ctx).close()
        raise Fail("python TLSv1.2 accepted")
    except (ssl.SSLError, OSError):
        pass


def read_all(conns, want, results):
    """Each of conns reads len(want) bytes (a thread each); results[i] is
    None, or why it failed."""
    def one(i, c):
        try:
            got = c.read_exact(len(want), 30)
            results[i] = None if got == want else \
                "differs at byte %d" % next(
                    k for k in range(len(want)) if got[k] != want[k])
        except Exception as e:	# noqa: a thread reports, never raises
            results[i] = str(e)
    ts = [threading.Thread(target=one, args=(i, c))
          for i, c in enumerate(conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)


def t_fanout_50(env):
    """50 TLS subscribers each get every message of a burst, byte-exact
    (small and large payloads, binary included)."""
    p = env["p1"]
    n, msgs = 50, []
    conns = []
    for i in range(n):
        c = connect_tls(p.tls_port)
        c.send(resp("SUBSCRIBE", "fan"))
        conns.append(c)
    for c in conns:
        c.expect(frame_subscribe("fan", 1))
    wait_numsub(env["redis_port"], "fan", 1)
    for i in range(300):
        size = (7, 100, 600, 3000, 20000)[i % 5]
        msgs.append(bytes((i + k) % 256 for k in range(size)))
    want = b"".join(frame_message("fan", m) for m in msgs)
    results = [0] * n
    t = threading.Thread(target=read_all, args=(conns, want, results))
    t.start()
    publish(env["redis_port"], [("fan", m) for m in msgs])
    t.join(90)
    bad = [(i, r) for i, r in enumerate(results) if r is not None]
    check(not bad, "%d of %d subscribers: %s" % (len(bad), n, bad[:3]))
    for c in conns:
        c.close()


def t_bytes_out_counted(env):
    """What TLS subscribers are sent counts in total_net_output_bytes
    (the fan-out hands it to the TLS bufferevent directly)."""
    p = env["p1"]
    before = int(p.info("total_net_output_bytes"))
    c = connect_tls(p.tls_port)
    c.send(resp("SUBSCRIBE", "bo"))
    c.expect(frame_subscribe("bo", 1))
    wait_numsub(env["redis_port"], "bo", 1)
    msgs = [bytes([65 + i % 26]) * 5000 for i in range(20)]
    publish(env["redis_port"], [("bo", m) for m in msgs])
    c.expect(b"".join(frame_message("bo", m) for m in msgs))
    delta = int(p.info("total_net_output_bytes")) - before
    check(delta >= 20 * 5000, "total_net_output_bytes grew by %d, not "
          "the %d sent" % (delta, 20 * 5000))
    c.close()


def t_user_full_no_plaintext(env):
    """A TLS connection refused at the default user's max_connections
    is only closed: no plaintext error on a TLS port."""
    p = Pubsubd("p3", env["redis_port"], tls_base(),
                extra='users = ( { name = "default"; nopass = true; '
                'subscribe = [ "*" ]; max_connections = 1; } );')
    try:
        # Holds the one connection (the start probe's may not be gone).
        end = time.time() + WAIT
        while True:
            a = Conn(connect_plain(p.port))
            a.send(b"PING\r\n")
            try:
                a.expect(b"+PONG\r\n")
                break
            except (OSError, Fail):
                a.close()
                check(time.time() < end, "no connection was served")
                time.sleep(0.05)
        s = connect_plain(p.tls_port)
        s.settimeout(WAIT)
        got = b""
        while True:
            try:
                d = s.recv(4096)
            except ConnectionResetError:
                break
            except socket.timeout:
                raise Fail("the refused TLS connection was not closed")
            if not d:
                break
            got += d
        s.close()
        check(got == b"", "a TLS port sent %r" % got)
        a.close()
    finally:
        p.stop()


def t_stalled_reader(env):
    """A TLS subscriber that stops reading is cut at limits.output_hard
    (1 MB here) while another keeps receiving everything."""
    p = env["p1"]
    before = int(p.info("clients_cut_hard"))
    stalled = connect_tls(p.tls_port, rcvbuf=4096)
    reader = connect_tls(p.tls_port)
    for c in (stalled, reader):
        c.send(resp("SUBSCRIBE", "stall"))
        c.expect(frame_subscribe("stall", 1))
    wait_numsub(env["redis_port"], "stall", 1)
    payload = b"x" * 4000
    chunk = 100		# 400 KB a round; 30 rounds: 12 MB, more than
    frames = frame_message("stall", payload) * chunk	# sockets hold
    for k in range(30):
        # The reader takes each round before the next: only the stalled
        # one falls behind.
        publish(env["redis_port"], [("stall", payload)] * chunk)
        reader.expect(frames, 30)
    end = time.time() + WAIT
    while int(p.info("clients_cut_hard")) == before and time.time() < end:
        time.sleep(0.05)
    check(int(p.info("clients_cut_hard")) == before + 1, "not cut")
    check(p.wait_log("over the hard limit (1048576)"), "no log line")
    check(stalled.closed(WAIT), "the stalled one is still open")
    stalled.close()
    reader.close()


def peer_cn(port):
    c = connect_tls(port)
    cert = c.s.getpeercert()
    c.close()
    return dict(x[0] for x in cert["subject"])["commonName"]


def t_reload_certificate(env):
    """SIGHUP with a new certificate: new connections get it, connected
    ones stay; a key that does not match keeps the running one."""
    p = env["p1"]
    check(peer_cn(p.tls_port) == "localhost", "first certificate")
    old = connect_tls(p.tls_port)
    old.send(resp("SUBSCRIBE", "rl"))
    old.expect(frame_subscribe("rl", 1))
    conf = env["p1_tls"].replace("server.crt", "server2.crt").replace(
        "server.key", "server2.key")
    p.reload(conf, env["p1_extra"])
    check("configuration reloaded" in p.logtext(), "reload failed: %s" %
          p.logtext()[-1500:])
    check(peer_cn(p.tls_port) == "localhost-renewed", "not renewed")
    wait_numsub(env["redis_port"], "rl", 1)
    publish(env["redis_port"], [("rl", "after reload")])
    old.expect(frame_message("rl", "after reload"))
    old.send(b"PING\r\n")
    old.expect(b"*2\r\n$4\r\npong\r\n$0\r\n\r\n")	# subscribed
    bad = conf.replace("server2.key", "other.key")
    p.reload(bad, env["p1_extra"])
    check(p.wait_log("reload failed, keeping the running configuration: "
                     "%s:" % p.conf), "bad key: %s" % p.logtext()[-800:])
    check("does not match the certificate" in p.logtext(), "reason")
    check(peer_cn(p.tls_port) == "localhost-renewed", "lost the context")
    p.reload(env["p1_tls"], env["p1_extra"])
    check(peer_cn(p.tls_port) == "localhost", "back to the first")
    old.close()


def t_bad_files(env):
    """pubsubd -t: files OpenSSL cannot use are FILE:LINE errors, exit 78."""
    cases = [
        ('certificate = "%s"; private_key = "%s";' %
         (path("server.crt"), path("other.key")),
         ":3: 'private_key': %s does not match the certificate" %
         path("other.key")),
        ('certificate = "%s"; private_key = "%s";' %
         (path("san.cnf"), path("server.key")),
         ":3: 'certificate': cannot load %s" % path("san.cnf")),
        ('certificate = "%s"; private_key = "%s";' %
         (path("server.crt"), path("server.crt")),
         ":3: 'private_key': cannot load"),
        ('certificate = "%s"; private_key = "%s";\n  ca_file = "%s";' %
         (path("server.crt"), path("server.key"), path("san.cnf")),
         ":4: 'ca_file': cannot load"),
        ('certificate = "%s"; private_key = "%s";\n  ciphers = "NOPE";' %
         (path("server.crt"), path("server.key")), ":4: 'ciphers': no "
         "cipher OpenSSL knows in \"NOPE\""),
        ('certificate = "%s"; private_key = "%s";\n'
         '  ciphersuites = "TLS_NOPE";' %
         (path("server.crt"), path("server.key")), ":4: 'ciphersuites'"),
    ]
    for body, want in cases:
        conf = path("bad.conf")
        with open(conf, "w") as f:
            f.write("listen = ( { port = 0; tls = true; } );\ntls = {\n"
                    "  %s\n};\n" % body)
        r = run([PUBSUBD, "-t", "-c", conf])
        err = r.stderr.decode()
        check(r.returncode == 78 and (conf + want) in err,
              "exit %d: %r, wanted %r" % (r.returncode, err, conf + want))
    # The same at start, not only with -t.
    p = subprocess.run([PUBSUBD, "-c", conf], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=WAIT)
    check(p.returncode == 78, "start: exit %d" % p.returncode)


TESTS = [t_redis_cli, t_redis_py, t_plain_beside, t_unix_tls,
         t_quit_flush_and_abrupt, t_handshake_garbage, t_handshake_timeout,
         t_verify_required, t_min_version, t_fanout_50, t_bytes_out_counted,
         t_user_full_no_plaintext, t_stalled_reader, t_ktls_on_off,
         t_resume,
         t_reload_certificate, t_bad_files]


def setup():
    make_certs()
    env = {"redis_port": freeport(), "metrics_port": freeport()}
    start("redis", ["redis-server", "--port", str(env["redis_port"]),
                    "--bind", "127.0.0.1", "--save", "", "--appendonly",
                    "no", "--dir", TMP], path("redis.log"))
    end = time.time() + WAIT
    while True:
        try:
            c = Conn(connect_plain(env["redis_port"]))
            c.send(b"PING\r\n")
            c.expect(b"+PONG\r\n")
            c.close()
            break
        except (OSError, Fail):
            check(time.time() < end, "redis-server did not start")
            time.sleep(0.05)
    env["p1_tls"] = tls_base("handshake_timeout = 1000;")
    env["p1_extra"] = ("limits = { output_hard = 1048576; };\n"
                       "metrics = { enabled = true; port = %d; };\n"
                       "log = { level = \"info\"; };" % env["metrics_port"])
    env["p1"] = Pubsubd("p1", env["redis_port"], env["p1_tls"], "",
                        env["p1_extra"])
    env["p2"] = Pubsubd("p2", env["redis_port"], tls_base(
        'verify_clients = "required"; min_version = "TLSv1.3";'))
    return env


def bench(nsub, nmsg, size):
    """Fan-out through pubsubd, plain and TLS: nsub subscribers, nmsg
    messages of size bytes; prints the time until every subscriber has
    every message."""
    make_certs()
    env = {"redis_port": freeport()}
    start("redis", ["redis-server", "--port", str(env["redis_port"]),
                    "--save", "", "--appendonly", "no", "--dir", TMP],
          path("redis.log"))
    time.sleep(0.5)
    p = Pubsubd("bench", env["redis_port"], tls_base(),
                extra="log = { level = \"warning\"; };")
    payload = b"p" * size
    want = frame_message("b", payload) * nmsg
    for kind in ("plain", "tls", "plain", "tls"):
        conns = []
        for i in range(nsub):
            c = connect_tls(p.tls_port) if kind == "tls" else \
                Conn(connect_plain(p.port))
            c.send(resp("SUBSCRIBE", "b"))
            conns.append(c)
        for c in conns:
            c.expect(frame_subscribe("b", 1))
        wait_numsub(env["redis_port"], "b", 1)
        results = [0] * nsub
        t = threading.Thread(target=read_all, args=(conns, want, results))
        t0 = time.time()
        t.start()
        for k in range(0, nmsg, 1000):
            publish(env["redis_port"], [("b", payload)] *
                    min(1000, nmsg - k))
        t.join(300)
        dt = time.time() - t0
        ok = all(r is None for r in results)
        print("%-5s %d subscribers x %d messages of %d B: %.2f s, "
              "%.0f deliveries/s, %.1f MB/s%s" %
              (kind, nsub, nmsg, size, dt, nsub * nmsg / dt,
               nsub * len(want) / dt / 1e6, "" if ok else " (INCOMPLETE)"))
        for c in conns:
            c.close()
        wait_numsub(env["redis_port"], "b", 0)
    p.stop()


def main():
    for tool in ("openssl", "redis-server", "redis-cli"):
        if shutil.which(tool) is None:
            print("SKIP: %s is missing" % tool)
            return 77
    try:
        import redis  # noqa: F401
    except ImportError:
        print("SKIP: python3-redis is missing")
        return 77
    if len(sys.argv) == 5 and sys.argv[1] == "--bench":
        bench(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
        return 0
    only = sys.argv[1] if len(sys.argv) > 1 else ""
    failed = 0
    env = setup()
    for t in TESTS:
        if only not in t.__name__:
            continue
        t0 = time.time()
        try:
            t(env)
            print("PASS: %s (%.1f s)" % (t.__name__[2:], time.time() - t0))
        except Exception as e:	# noqa: one failure does not stop the rest
            failed += 1
            print("FAIL: %s: %s" % (t.__name__[2:], e))
        sys.stdout.flush()
    # Stopping with TLS clients still there, one subscribed and one in
    # its handshake: everything of theirs must be freed (ASan's build).
    held = [connect_tls(env["p1"].tls_port), Conn(connect_plain(
        env["p1"].tls_port))]
    held[0].send(resp("SUBSCRIBE", "held"))
    held[0].expect(frame_subscribe("held", 1))
    for name in ("p1", "p2"):
        try:
            env[name].stop()
        except Fail as e:
            failed += 1
            print("FAIL: %s stopped uncleanly: %s" % (name, e))
    return 1 if failed else 0


if __name__ == "__main__":
    rc = 99
    try:
        rc = main()
    finally:
        for name, p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if rc == 0 and not os.environ.get("TLS_KEEP"):
            shutil.rmtree(TMP, ignore_errors=True)
        else:
            print("files kept in " + TMP)
    sys.exit(rc)
