"""pdtest.py: what the Python test drivers share: a scratch directory,
processes started into it and stopped by pid, bounded waits, and the run
of a driver's main() with its logs shown when it fails.

Environment: PDTEST_KEEP=1 keeps the directory.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

import redis

from freeport import freeport  # noqa: F401 (the drivers take it from here)

WAIT = 15.0


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def wait_for(what, fn, timeout=WAIT):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if fn():
                return
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.05)
    raise Fail("timed out waiting for " + what)


class Run:
    """A scratch directory and the processes started into it."""

    def __init__(self, prefix):
        self.tmp = tempfile.mkdtemp(prefix=prefix)
        self.procs = []  # (name, Popen)

    def start(self, name, args):
        log = open(os.path.join(self.tmp, name + ".log"), "w")
        p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                             cwd=self.tmp)
        log.close()
        self.procs.append((name, p))
        return p

    def web_pubsubd(self, pubsubd, rport, extra, listen="", name="pubsubd"):
        """Starts a pubsubd with a RESP listener and a web listener
        (protocol = "http") on free ports (and the listen entries in
        listen), on the Redis at rport, with the configuration text extra
        added (in name.conf; its log in name.log); returns (a redis-py
        client of it, the web port) once it is connected to Redis."""
        pport, wport = freeport(), freeport()
        conf = os.path.join(self.tmp, name + ".conf")
        with open(conf, "w") as f:
            f.write('listen = ( { host = "127.0.0.1"; port = %d; },\n'
                    '  { host = "127.0.0.1"; port = %d; protocol = "http"; '
                    '}%s );\n'
                    'redis = { host = "127.0.0.1"; port = %d; '
                    'backoff_max = 200; };\n'
                    'log = { level = "info"; };\n%s' % (pport, wport, listen,
                                                      rport, extra))
        self.start(name, [pubsubd, "-c", conf])
        p = redis.Redis(port=pport)
        wait_for("pubsubd", lambda: p.ping())
        wait_for("pubsubd up", lambda: p.info("upstream").get(
            "upstream_connected") == 1)
        return p, wport

    def stop_all(self):
        """SIGTERM to each, newest first; a pubsubd must exit 0."""
        status = 0
        for name, p in reversed(self.procs):
            if p.poll() is not None:
                continue
            p.send_signal(signal.SIGTERM)
            try:
                rc = p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = p.wait()
            if name.startswith("pubsubd") and rc != 0:
                print("FAIL: %s exited %d" % (name, rc))
                status = 1
        return status

    def main(self, fn):
        """Runs fn(); exits 0 if it returned 0 and every pubsubd exited
        cleanly, 77 if it returned 77 (skipped), else 1 with the tail of
        each log, pubsubd's last, and the failure again as the last line
        (what a CI summary that keeps only the end still shows)."""
        rc = 1
        why = None
        keep = os.environ.get("PDTEST_KEEP") == "1"
        try:
            rc = fn()
        except Fail as e:
            why = str(e)
        except Exception:
            why = traceback.format_exc()
        finally:
            if why is not None:
                print("FAIL: %s (files in %s)" % (why, self.tmp))
            if self.stop_all() != 0 and rc == 0:
                rc = 1
            if rc in (0, 77) and not keep:
                shutil.rmtree(self.tmp, ignore_errors=True)
            elif rc not in (0, 77):
                logs = sorted(f for f in os.listdir(self.tmp)
                              if f.endswith(".log"))
                logs.sort(key=lambda f: f.startswith("pubsubd"))
                for f in logs:
                    print("---- " + f)
                    with open(os.path.join(self.tmp, f)) as fh:
                        print("".join(fh.readlines()[-20:]), end="")
                if why is not None:
                    print("FAIL: " + " / ".join(
                        why.strip().splitlines()[-3:]))
        sys.exit(rc)
