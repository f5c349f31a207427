"""slotmove.py: how soon a shard channel flows again after its slot moves
to another master, through pubsubd and for a cluster-aware subscriber of
Redis itself, side by side (run by scripts/bench-slotmove).

Once: a Redis Cluster of three masters on free loopback ports and a
pubsubd before it. Per round: a shard channel of a fresh slot, subscribed
by a raw client of pubsubd and by a direct subscriber that does what a
cluster-aware client does (SSUBSCRIBE on the slot's owner; on Redis'
sunsubscribe push, CLUSTER SLOTS again and SSUBSCRIBE on the new owner);
the slot is moved (CLUSTER SETSLOT IMPORTING, MIGRATING, NODE on every
master, as resharding does for a slot without keys) while a publisher
sends a numbered message to the new owner every millisecond; each
subscriber's time from the start of the move to its first message is
taken. Prints a markdown table with the medians.
Environment: PUBSUBD (the daemon), ROUNDS (default 7).
"""
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

import redis

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import cluster_driver as cd  # noqa: E402
from pdtest import Fail, check, freeport, wait_for  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "7"))


class Sub(threading.Thread):
    """Reads a socket; notes when the first 'after' message arrives."""

    def __init__(self, sock, follow=None):
        super().__init__(daemon=True)
        self.sock, self.follow, self.first = sock, follow, None
        self.stop = False

    def run(self):
        buf = b""
        self.sock.settimeout(0.05)
        while not self.stop and self.first is None:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            if not data:
                return
            buf += data
            if b"sunsubscribe" in buf and self.follow is not None:
                buf = buf.replace(b"sunsubscribe", b"")
                self.sock = self.follow(self.sock)
                self.sock.settimeout(0.05)
            if b"after-" in buf:
                self.first = time.monotonic()


def direct(ch, via):
    port = cd.owner(ch, via)
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"SSUBSCRIBE %s\r\n" % ch.encode())
    return s


def main():
    ports = []
    while len(ports) < 3:
        q = cd.cluster_port()
        if q not in ports and q + 10000 not in ports:
            ports.append(q)
    for p in ports:
        cd.node_up(p)
    out = subprocess.run(["redis-cli", "--cluster", "create"] +
                         ["127.0.0.1:%d" % p for p in ports] +
                         ["--cluster-yes"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=60)
    check(out.returncode == 0, "cluster create: %s" % out.stdout[-300:])
    wait_for("cluster ok", lambda: all(
        b"cluster_state:ok" in redis.Redis(port=p).execute_command(
            "CLUSTER", "INFO") for p in ports), 30)
    pport = freeport()
    conf = os.path.join(cd.run.tmp, "pubsubd.conf")
    with open(conf, "w") as f:
        f.write('listen = ( { host = "127.0.0.1"; port = %d; } );\n'
                'redis = { cluster = { nodes = ( "127.0.0.1:%d" ); }; };\n'
                % (pport, ports[0]))
    cd.run.start("pubsubd", [cd.PUBSUBD, "-c", conf])
    wait_for("pubsubd up", lambda: redis.Redis(port=pport).info(
        "upstream").get("upstream_connected") == 1)
    rows = []
    for r in range(ROUNDS):
        ch = "bench%d-%d" % (r, time.monotonic_ns() % 100000)
        src = cd.owner(ch, ports[0])
        dst = [p for p in ports if p != src][r % 2]
        slot = redis.Redis(port=src).execute_command("CLUSTER KEYSLOT", ch)
        ps = socket.create_connection(("127.0.0.1", pport))
        ps.sendall(b"SSUBSCRIBE %s\r\n" % ch.encode())
        d = direct(ch, ports[0])
        time.sleep(0.3)
        a = Sub(ps)
        b = Sub(d, lambda old: (old.close(), direct(ch, dst))[1])
        a.start()
        b.start()
        stop = threading.Event()

        def publish():
            n = redis.Redis(port=dst)
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    n.execute_command("SPUBLISH", ch, "after-%d" % i)
                except redis.RedisError:
                    pass        # MOVED until dst owns the slot
                time.sleep(0.001)
        t0 = time.monotonic()
        pub = threading.Thread(target=publish, daemon=True)
        pub.start()
        cd.move_slot(slot, src, dst, ports)
        end = time.monotonic() + 10
        while (a.first is None or b.first is None) and \
                time.monotonic() < end:
            time.sleep(0.005)
        stop.set()
        a.stop = b.stop = True
        pub.join()
        check(a.first is not None and b.first is not None,
              "round %d: a subscriber got nothing" % r)
        rows.append((a.first - t0, b.first - t0))
        print("round %d: slot %d %d -> %d: pubsubd %.4f s, direct %.4f s" %
              (r, slot, src, dst, rows[-1][0], rows[-1][1]))
        ps.close()
    mp = statistics.median(x for x, _ in rows)
    md = statistics.median(y for _, y in rows)
    md_delta = statistics.median(x - y for x, y in rows)
    print()
    print("| slot move, %d rounds | median s after the move starts |" %
          ROUNDS)
    print("|---|---|")
    print("| cluster-aware subscriber, direct | %.4f |" % md)
    print("| through pubsubd | %.4f |" % mp)
    print("| pubsubd - direct (median of differences) | %+.4f |" % md_delta)
    return 0


if __name__ == "__main__":
    try:
        cd.run.main(main)
    except Fail as e:
        print("FAIL: %s" % e)
        sys.exit(1)
