#!/usr/bin/python3
"""tests/bench/failover.py: how soon after a Sentinel failover messages flow
again, through pubsubd and to a Sentinel-aware client of Redis itself.

Run by scripts/bench-failover (which installs and builds what it needs). Each
round starts a fresh master, its replica and three redis-sentinel processes
(quorum 2, down-after-milliseconds DOWN_MS) on free loopback ports, and a
pubsubd with redis.sentinel naming them. Three listeners run in this one
process, on one monotonic clock:

- direct: redis-py's Sentinel client (Sentinel.master_for().pubsub()),
  subscribed to the channel on Redis itself; on a lost connection it
  retries every 10 ms, and redis-py asks the sentinels for the master
  each time it reconnects and subscribes again;
- pubsubd: a plain redis-py client subscribed through pubsubd;
- sentinel: a subscription to +switch-master on one sentinel (when Sentinel
  itself announces the new master).

A publisher publishes a numbered message every 10 ms to whatever the
sentinels name as master. The master is killed (-9); each listener's figure
is the time from the kill to the first message published after the kill
that it receives (for sentinel: to the announcement). Prints each round and
the medians, as markdown.
"""

import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import redis
import redis.sentinel

ROUNDS = int(os.environ.get("ROUNDS", "5"))
DOWN_MS = int(os.environ.get("DOWN_MS", "1000"))
PUBSUBD = os.environ["PUBSUBD"]
CHANNEL = "failover"
WAIT_S = 30  # the longest any phase of a round may take


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Round:
    """One topology, one failover; every process stopped by close()."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="pubsubd-failover.")
        self.procs = []
        self.master = free_port()
        self.replica = free_port()
        self.sentinels = [free_port() for _ in range(3)]
        self.pubsubd = free_port()

    def spawn(self, argv, log):
        out = open(os.path.join(self.dir, log), "w")
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                             cwd=self.dir)
        out.close()
        self.procs.append(p)
        return p

    def wait_ping(self, port):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=port, socket_timeout=0.5).ping():
                    return
            except redis.RedisError:
                time.sleep(0.02)
        raise SystemExit("nothing answers on port %d (see %s)" %
                         (port, self.dir))

    def redis_server(self, port, tag, replicaof=None):
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", self.dir,
                "--dbfilename", tag + ".rdb"]
        if replicaof:
            argv += ["--replicaof", "127.0.0.1 %d" % replicaof]
        p = self.spawn(argv, tag + ".log")
        self.wait_ping(port)
        return p

    def start(self):
        self.master_proc = self.redis_server(self.master, "master")
        self.redis_server(self.replica, "replica", self.master)
        for i, port in enumerate(self.sentinels):
            conf = os.path.join(self.dir, "sentinel%d.conf" % i)
            with open(conf, "w") as f:
                f.write("port %d\nbind 127.0.0.1\ndir %s\n"
                        "sentinel monitor mymaster 127.0.0.1 %d 2\n"
                        "sentinel down-after-milliseconds mymaster %d\n"
                        "sentinel failover-timeout mymaster 10000\n" %
                        (port, self.dir, self.master, DOWN_MS))
            self.spawn(["redis-sentinel", conf], "sentinel%d.log" % i)
            self.wait_ping(port)
        conf = os.path.join(self.dir, "pubsubd.conf")
        nodes = ", ".join('"127.0.0.1:%d"' % p for p in self.sentinels)
        with open(conf, "w") as f:
            f.write('listen = ( { host = "127.0.0.1"; port = %d; } );\n'
                    'redis = { sentinel = { master = "mymaster"; '
                    'nodes = ( %s ); }; };\nlog = { level = "notice"; };\n'
                    % (self.pubsubd, nodes))
        self.spawn([PUBSUBD, "-c", conf], "pubsubd.log")
        self.wait_ping(self.pubsubd)
        self.wait_ready()

    def wait_ready(self):
        """Until every sentinel knows the others and the replica."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            try:
                ok = all(
                    len(redis.Redis(port=p).sentinel_sentinels("mymaster"))
                    == 2 and
                    len(redis.Redis(port=p).sentinel_slaves("mymaster")) == 1
                    for p in self.sentinels)
                info = redis.Redis(port=self.replica).info("replication")
                ok = ok and info.get("master_link_status") == "up"
                up = redis.Redis(port=self.pubsubd).info("upstream")
                ok = ok and up.get("upstream_connected") == 1
                if ok:
                    return
            except redis.RedisError:
                pass
            time.sleep(0.1)
        raise SystemExit("the topology never became ready (see %s)" %
                         self.dir)

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.terminate()
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class Listener(threading.Thread):
    """Records when each numbered message arrives."""

    def __init__(self, name, make_pubsub):
        super().__init__(daemon=True)
        self.name = name
        self.make_pubsub = make_pubsub
        self.arrivals = {}  # seq -> monotonic time
        self.stop = False
        self.ready = threading.Event()

    def run(self):
        ps = self.make_pubsub()
        while not self.stop:
            try:
                m = ps.get_message(timeout=0.05)
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                time.sleep(0.01)  # redis-py reconnects on the next call
                continue
            if m is None:
                continue
            if m["type"] in ("subscribe", "psubscribe"):
                self.ready.set()
            elif m["type"] == "message":
                data = m["data"].decode()
                if data.isdigit():
                    self.arrivals.setdefault(int(data), time.monotonic())
                else:
                    self.arrivals.setdefault(data, time.monotonic())

    def first_after(self, seq):
        times = [t for s, t in self.arrivals.items()
                 if isinstance(s, int) and s > seq]
        return min(times) if times else None


def one_round(n):
    r = Round()
    try:
        r.start()
        nodes = [("127.0.0.1", p) for p in r.sentinels]
        sen = redis.sentinel.Sentinel(nodes, socket_timeout=0.5)

        def direct():
            ps = sen.master_for("mymaster", socket_timeout=0.5).pubsub()
            ps.subscribe(CHANNEL)
            return ps

        def through():
            ps = redis.Redis(port=r.pubsubd, socket_timeout=0.5).pubsub()
            ps.subscribe(CHANNEL)
            return ps

        def announce():
            ps = redis.Redis(port=r.sentinels[1]).pubsub()
            ps.subscribe("+switch-master")
            return ps

        listeners = [Listener("direct", direct), Listener("pubsubd", through)]
        watch = Listener("sentinel", announce)
        for li in listeners + [watch]:
            li.start()
            if not li.ready.wait(10):
                raise SystemExit("%s never subscribed" % li.name)
        seq = [0]
        stop = [False]

        def publish():
            conn, at = None, None
            while not stop[0]:
                seq[0] += 1
                try:
                    where = sen.discover_master("mymaster")
                    if where != at:
                        conn, at = redis.Redis(host=where[0], port=where[1],
                                               socket_timeout=0.2), where
                    conn.publish(CHANNEL, str(seq[0]))
                except (redis.RedisError, OSError):
                    conn, at = None, None
                time.sleep(0.01)

        pub = threading.Thread(target=publish, daemon=True)
        pub.start()
        time.sleep(0.5)  # messages flow to both before the kill
        before = seq[0]
        for li in listeners:
            if li.first_after(0) is None:
                raise SystemExit("%s received nothing before the kill" %
                                 li.name)
        t0 = time.monotonic()
        r.master_proc.kill()
        deadline = t0 + WAIT_S
        while time.monotonic() < deadline and (
                any(li.first_after(before) is None for li in listeners) or
                not [t for s, t in watch.arrivals.items()
                     if not isinstance(s, int)]):
            time.sleep(0.01)
        stop[0] = True
        for li in listeners + [watch]:
            li.stop = True
        got = [li.first_after(before) for li in listeners]
        sw = [t for s, t in watch.arrivals.items() if not isinstance(s, int)]
        if None in got or not sw:
            raise SystemExit("round %d: no message within %d s after the "
                             "kill (see %s)" % (n, WAIT_S, r.dir))
        return [g - t0 for g in got] + [min(sw) - t0]
    finally:
        r.close()


def main():
    rows = []
    for n in range(1, ROUNDS + 1):
        rows.append(one_round(n))
        d, p, s = rows[-1]
        print("round %d: direct %.3f s, pubsubd %.3f s, +switch-master "
              "%.3f s" % (n, d, p, s), file=sys.stderr, flush=True)
    print("Failover: master killed (-9), Sentinel down-after-milliseconds "
          "%d, %d rounds; seconds from the kill to the first message "
          "published after it that each receives.\n" % (DOWN_MS, ROUNDS))
    print("| round | +switch-master announced | Sentinel-aware client "
          "(redis-py, direct) | through pubsubd | pubsubd - direct |")
    print("|---|---|---|---|---|")
    for n, (d, p, s) in enumerate(rows, 1):
        print("| %d | %.3f | %.3f | %.3f | %+.3f |" % (n, s, d, p, p - d))
    med = [statistics.median(c) for c in zip(*rows)]
    diffs = statistics.median(p - d for d, p, s in rows)
    print("| median | %.3f | %.3f | %.3f | %+.3f |" %
          (med[2], med[0], med[1], diffs))


if __name__ == "__main__":
    main()
