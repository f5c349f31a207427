"""freeport.py: free loopback ports for the servers the Python drivers and
scripts/bench start, picked as tests/port.c picks them for the C suites:
at random below the kernel's ephemeral range (asking the kernel, by
binding port 0, twice in a row can give the same port, and its outgoing
connections take ports from that range), free when bound here, and never
handed out twice by one process.

As a command, for a shell script whose every port is a process of its
own: `python3 freeport.py FILE` prints a port, never one FILE lists, and
adds it to FILE.
"""
import random
import socket
import sys

_given = set()
_rand = random.Random()


def _bindable(port):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def freeport(also=None):
    """A port free on 127.0.0.1 now, never one given before. With also (an
    offset: a cluster node's bus is 10000 above its port) that port too
    is free, and is never given either."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    if low - 10000 < 1000:
        low = 65536
    for _ in range(2000):
        port = _rand.randrange(10000, low)
        want = [port] if also is None else [port, port + also]
        if all(p not in _given and p < 65536 and _bindable(p)
               for p in want):
            _given.update(want)
            return port
    raise OSError("no free port on 127.0.0.1")


def main(path):
    try:
        with open(path) as f:
            _given.update(int(w) for w in f.read().split())
    except FileNotFoundError:
        pass
    port = freeport()
    with open(path, "a") as f:
        f.write("%d\n" % port)
    print(port)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: freeport.py FILE")
    main(sys.argv[1])
