"""cluster_driver.py: pubsubd in front of a real Redis Cluster (run by
tests/test_cluster.sh).

Starts six redis-server in cluster mode (three masters, a replica each,
cluster-node-timeout 1000 ms), joins them with redis-cli --cluster create,
and a pubsubd whose first seed is a dead port. Then, with a raw socket
client (whose bytes are checked: no sunsubscribe may ever reach it) and a
redis-py client:

- shard channels of every master, a channel and a pattern flow; SPUBLISH
  through pubsubd is routed and counted; PUBSUB SHARDNUMSUB and
  SHARDCHANNELS join the masters' answers; a cross-slot SSUBSCRIBE gets
  -CROSSSLOT;
- a slot is moved to another master and back (CLUSTER SETSLOT): the
  channel keeps flowing, on the new owner; a slot pubsubd holds nothing
  in is moved, and its SPUBLISH, answered MOVED, goes to the new owner;
- the master of a channel's slot, which also holds the channels and
  patterns, is killed (-9): once its replica is promoted the shard
  channel flows again, and so do the channel and the pattern;
- the clients were never disconnected.

Every wait is bounded. Prints one line per step; exits 0 if all passed, 1
if one failed.
Environment: PUBSUBD (the daemon), PDTEST_KEEP=1 (keep the directory).
"""
import os
import signal
import socket
import subprocess
import sys
import time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pdtest import Fail, Run, check, freeport, wait_for  # noqa: E402

PUBSUBD = os.path.abspath(os.environ.get("PUBSUBD", "./daemon/pubsubd"))
run = Run("pubsubd-cluster.")


def cluster_port():
    """A free port that a cluster node can take: its bus is 10000 above."""
    return freeport(also=10000)


def node_up(port):
    d = os.path.join(run.tmp, str(port))
    os.mkdir(d)
    run.start("redis%d" % port,
              ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
               "--cluster-enabled", "yes", "--cluster-node-timeout", "1000",
               "--cluster-config-file", "nodes.conf", "--save", "",
               "--repl-diskless-sync-delay", "0",
               "--cluster-replica-validity-factor", "0",
               "--appendonly", "no", "--dir", d])
    wait_for("redis %d" % port, lambda: redis.Redis(port=port).ping())


def slots(port):
    return redis.Redis(port=port).execute_command("CLUSTER SLOTS")


def owner(ch, via):
    """The port of the master serving ch's slot, as node via sees it."""
    slot = redis.Redis(port=via).execute_command("CLUSTER KEYSLOT", ch)
    for s in slots(via):
        if s[0] <= slot <= s[1]:
            return s[2][1]
    return None


def myid(port):
    return redis.Redis(port=port).execute_command("CLUSTER MYID").decode()


class Raw:
    """A client on a raw socket that keeps every byte it reads."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""

    def send(self, text):
        self.s.sendall(text.encode())

    def read_until(self, what, timeout=5.0):
        end = time.monotonic() + timeout
        while what not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                raise Fail("raw client: no %r in %r" % (what, self.buf[-300:]))
            self.s.settimeout(left)
            try:
                data = self.s.recv(65536)
            except socket.timeout:
                continue
            check(data != b"", "raw client: pubsubd closed the connection")
            self.buf += data


def flows(raw, ch, via, tag, timeout=10.0):
    """Publishes on ch's owner (as via sees it) until raw gets one; returns
    the seconds it took."""
    t0 = time.monotonic()
    end = t0 + timeout
    i = 0
    while time.monotonic() < end:
        i += 1
        payload = "%s-%d" % (tag, i)
        try:
            port = owner(ch, via)
            if port is not None:
                redis.Redis(port=port).execute_command("SPUBLISH", ch, payload)
        except redis.RedisError:
            pass
        try:
            raw.read_until(payload.encode(), 0.02)
            return time.monotonic() - t0
        except Fail:
            pass
    raise Fail("%s: nothing on %s for %.0f s" % (tag, ch, timeout))


def move_slot(slot, src, dst, tell):
    """Moves an empty slot from master src to master dst, as resharding
    does for a slot without keys, telling dst, src and then the masters in
    tell; the others learn it by gossip, some hundreds of ms later."""
    sid, did = myid(src), myid(dst)
    redis.Redis(port=dst).execute_command("CLUSTER SETSLOT", slot,
                                          "IMPORTING", sid)
    redis.Redis(port=src).execute_command("CLUSTER SETSLOT", slot,
                                          "MIGRATING", did)
    for p in [dst, src] + [p for p in tell if p not in (src, dst)]:
        redis.Redis(port=p).execute_command("CLUSTER SETSLOT", slot, "NODE",
                                            did)


def tell_owner(slot, dst, ports):
    """Tells the masters in ports that master dst serves slot."""
    did = myid(dst)
    for p in ports:
        redis.Redis(port=p).execute_command("CLUSTER SETSLOT", slot, "NODE",
                                            did)


def quiet(ports):
    """Waits until every node knows the same current epoch and the masters'
    config epochs are distinct: a slot moved before that can get an epoch
    another master has, and until Redis resolves that collision a node
    may take the slot back."""
    def check():
        cur = set()
        for p in ports:
            info = redis.Redis(port=p).execute_command(
                "CLUSTER", "INFO").decode()
            cur.add(info.split("cluster_current_epoch:")[1].split()[0])
        return len(cur) == 1 and epochs_settled(ports)
    wait_for("the cluster's epochs settled", check)


def epochs_settled(ports):
    """True when the masters' config epochs, as each node in ports sees
    them, are distinct: two moves in quick succession can give two masters
    the same epoch, and until Redis resolves that collision a node with a
    stale map can take the slot back (an UPDATE from the higher epoch)."""
    for p in ports:
        seen = []
        for line in redis.Redis(port=p).execute_command(
                "CLUSTER", "NODES").decode().splitlines():
            f = line.split()
            if "master" in f[2].split(",") and "fail" not in f[2]:
                seen.append(f[6])
        if len(seen) != len(set(seen)):
            return False
    return True


def settle(slot_of, want, ports):
    """Waits until every node in ports says master want serves the slot of
    channel slot_of and the epochs are distinct (see epochs_settled)."""
    wait_for("slot of %s on %d everywhere, epochs distinct" % (slot_of, want),
             lambda: all(owner(slot_of, q) == want for q in ports) and
             epochs_settled(ports))


def channel_of(master_port, via, prefix):
    """A channel name whose slot master_port serves."""
    for i in range(10000):
        ch = "%s%d" % (prefix, i)
        if owner(ch, via) == master_port:
            return ch
    raise Fail("no channel for master %d" % master_port)


def main():
    ports = []
    while len(ports) < 6:
        q = cluster_port()
        if q not in ports and q + 10000 not in ports:
            ports.append(q)
    for p in ports:
        node_up(p)
    out = subprocess.run(
        ["redis-cli", "--cluster", "create"] +
        ["127.0.0.1:%d" % p for p in ports] +
        ["--cluster-replicas", "1", "--cluster-yes"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    check(out.returncode == 0, "cluster create: %s" % out.stdout[-500:])
    wait_for("cluster state ok", lambda: all(
        b"cluster_state:ok" in redis.Redis(port=p).execute_command(
            "CLUSTER", "INFO") for p in ports), 30)
    replicas = [q for q in ports if redis.Redis(port=q).info(
        "replication")["role"] == "slave"]
    wait_for("replicas in sync", lambda: all(
        redis.Redis(port=q).info("replication").get("master_link_status") ==
        "up" for q in replicas), 30)
    masters = sorted(s[2][1] for s in slots(ports[0]))
    check(len(masters) == 3, "3 masters: %r" % masters)
    print("ok: a cluster of 3 masters and 3 replicas")

    pport = freeport()
    conf = os.path.join(run.tmp, "pubsubd.conf")
    with open(conf, "w") as f:
        f.write('listen = ( { host = "127.0.0.1"; port = %d; } );\n'
                'redis = { cluster = { nodes = ( "127.0.0.1:%d", '
                '"127.0.0.1:%d" ); }; backoff_max = 300; };\n'
                'log = { level = "info"; };\n' % (pport, freeport(),
                                                   masters[0]))
    run.start("pubsubd", [PUBSUBD, "-c", conf])
    p = redis.Redis(port=pport)
    wait_for("pubsubd", lambda: p.ping())
    wait_for("pubsubd up",
             lambda: p.info("upstream").get("upstream_connected") == 1)
    check(p.info("upstream").get("upstream_mode") == "cluster",
          "INFO says upstream_mode:cluster")
    print("ok: the first seed is down: learnt the map from the second")

    chans = [channel_of(m, masters[0], "ch%d-" % m) for m in masters]
    raw = Raw(pport)
    raw.send("".join("SSUBSCRIBE %s\r\n" % c for c in chans) +
             "SUBSCRIBE plain\r\nPSUBSCRIBE pat.*\r\n")
    raw.read_until(b"psubscribe")
    ps = p.pubsub()
    for c in chans:
        ps.execute_command("SSUBSCRIBE", c)
        r = ps.parse_response(block=False, timeout=5)
        check(r is not None and r[0] == b"ssubscribe", "ssubscribe %r" % r)
    for i, c in enumerate(chans):
        flows(raw, c, masters[0], "first%d" % i)
    n = p.execute_command("SPUBLISH", chans[1], "via-pubsubd")
    check(n == 2, "SPUBLISH through pubsubd counts its 2 clients: %r" % n)
    raw.read_until(b"via-pubsubd")
    r = ps.parse_response(block=False, timeout=5)
    while r is not None and r[-1] != b"via-pubsubd":
        r = ps.parse_response(block=False, timeout=5)
    check(r is not None, "redis-py got the SPUBLISH")
    redis.Redis(port=masters[2]).publish("plain", "plain-1")
    redis.Redis(port=masters[1]).publish("pat.x", "pat-1")
    raw.read_until(b"plain-1")
    raw.read_until(b"pat-1")
    print("ok: shard channels on every master, a channel and a pattern flow")

    got = p.execute_command("PUBSUB SHARDNUMSUB", *(chans + ["none"]))
    want = []
    for c in chans:
        want += [c.encode(), 2]
    check(got == want + [b"none", 0], "SHARDNUMSUB joined: %r" % got)
    got = sorted(p.execute_command("PUBSUB SHARDCHANNELS"))
    check(got == sorted(c.encode() for c in chans),
          "SHARDCHANNELS joined: %r" % got)
    try:
        p.execute_command("SSUBSCRIBE", chans[0], chans[1])
        raise Fail("a cross-slot SSUBSCRIBE was taken")
    except redis.ResponseError as e:
        check(str(e).startswith("CROSSSLOT"), "CROSSSLOT: %s" % e)
    try:
        p.execute_command("SUNSUBSCRIBE", chans[0], chans[1])
        raise Fail("a cross-slot SUNSUBSCRIBE was taken")
    except redis.ResponseError as e:
        check(str(e).startswith("CROSSSLOT"), "CROSSSLOT: %s" % e)
    print("ok: SHARDNUMSUB and SHARDCHANNELS from the owners; CROSSSLOT")

    # A slot moves to another master, and back. Only the two masters are
    # told at first: the node pubsubd learns its map from (masters[0])
    # hears of it later, so the map it gives is stale for a moment and
    # pubsubd must follow the MOVED answers of the old owner.
    # (Between the masters that the failover below leaves alone: a moved
    # slot bumps epochs that a replica's election must then catch up on.)
    ch = chans[1]
    slot = redis.Redis(port=masters[0]).execute_command("CLUSTER KEYSLOT", ch)
    src, dst = masters[1], masters[2]
    for way, (a, b) in (("there", (src, dst)), ("back", (dst, src))):
        quiet(ports)
        move_slot(slot, a, b, [])
        took = flows(raw, ch, b, "moved-" + way)
        tell_owner(slot, b, masters)
        settle(ch, b, ports)
        print("ok: slot %d moved %s (%d -> %d), the map's node told last: "
              "flowing again after %.3f s" % (slot, way, a, b, took))
    # A slot pubsubd holds nothing in moves: its map is stale, so its
    # SPUBLISH is answered MOVED, and sent again to the new owner, which
    # the node the map comes from does not know of yet.
    other = channel_of(masters[1], masters[0], "quiet")
    qslot = redis.Redis(port=masters[0]).execute_command("CLUSTER KEYSLOT",
                                                         other)
    quiet(ports)
    watcher = Raw(masters[2])
    move_slot(qslot, masters[1], masters[2], [])
    watcher.send("SSUBSCRIBE %s\r\n" % other)
    watcher.read_until(b"ssubscribe")
    n = p.execute_command("SPUBLISH", other, "after-moved")
    check(n == 1, "SPUBLISH after MOVED counts the new owner's: %r" % n)
    watcher.read_until(b"after-moved")
    tell_owner(qslot, masters[2], masters)
    settle(other, masters[2], ports)
    print("ok: SPUBLISH answered MOVED is sent to the new owner")

    r = ps.parse_response(block=False, timeout=5)
    seen = []
    while r is not None:
        seen.append(r)
        r = ps.parse_response(block=False, timeout=0.2)
    check(not any(x[0] == b"sunsubscribe" for x in seen),
          "redis-py saw no sunsubscribe: %r" % seen[-3:])

    # The home node (the first master connected) and owner of chans[0]:
    # killed; its replica takes over.
    victim = masters[0]
    pid = int(redis.Redis(port=victim).info()["process_id"])
    os.kill(pid, signal.SIGKILL)
    t0 = time.monotonic()
    alive = [q for q in ports if q != victim]
    flows(raw, chans[0], alive[0], "failover", 30)
    newowner = owner(chans[0], alive[0])
    print("ok: master %d killed: %s flows again from %d after %.3f s" %
          (victim, chans[0], newowner, time.monotonic() - t0))
    end = time.monotonic() + 10
    while True:
        redis.Redis(port=alive[0]).publish("plain", "plain-2")
        try:
            raw.read_until(b"plain-2", 0.1)
            break
        except Fail:
            check(time.monotonic() < end, "the channel moved off the "
                  "killed node")
    redis.Redis(port=alive[1]).publish("pat.y", "pat-2")
    raw.read_until(b"pat-2")
    for i, c in enumerate(chans[1:]):
        flows(raw, c, alive[0], "after%d" % i)
    print("ok: the channel and the pattern moved to another node")

    check(b"sunsubscribe" not in raw.buf and b"unsubscribe" not in raw.buf,
          "no (s)unsubscribe ever reached the raw client")
    check(p.ping(), "pubsubd answers")
    print("ok: no sunsubscribe reached a client; none was disconnected")
    return 0


if __name__ == "__main__":
    run.main(main)
