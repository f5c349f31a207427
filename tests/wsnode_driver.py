"""wsnode_driver.py: pubsubd's WebSocket endpoint against npm's `ws`, an
independent client (tests/ws_node.js does the work; run by
tests/test_wsnode.sh). Starts a redis-server and a pubsubd with a web
listener, runs the script, then checks pubsubd still serves.

`ws` comes from tests/node/node_modules (scripts/test installs it from
tests/node/package-lock.json). Without it: SKIP (exit 77), but under CI
(CI=true) a failure, so that a missing install step cannot hide.
Environment: PUBSUBD, TESTS_SRCDIR, PDTEST_KEEP=1 (keep the directory).
"""
import os
import subprocess
import sys

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pdtest import Run, check, freeport, wait_for  # noqa: E402

SRC = os.environ.get("TESTS_SRCDIR", os.path.dirname(os.path.abspath(
    __file__)))
MODULES = os.path.abspath(os.path.join(SRC, "node", "node_modules"))
PUBSUBD = os.path.abspath(os.environ.get("PUBSUBD", "./daemon/pubsubd"))
run = Run("pubsubd-wsnode.")


def main():
    if not os.path.isdir(os.path.join(MODULES, "ws")):
        if os.environ.get("CI") == "true":
            print("FAIL: npm's ws is not in %s (scripts/test installs it)" %
                  MODULES)
            return 1
        print("SKIP: npm's ws is not in %s (scripts/test installs it)" %
              MODULES)
        return 77
    rport = freeport()
    run.start("redis", ["redis-server", "--port", str(rport), "--bind",
                        "127.0.0.1", "--save", "", "--appendonly", "no"])
    wait_for("redis", redis.Redis(port=rport).ping)
    p, wport = run.web_pubsubd(PUBSUBD, rport,
                               "http = { message_max = 200000; };\n")
    out = subprocess.run(["node", os.path.join(SRC, "ws_node.js"),
                          str(wport)], env=dict(os.environ,
                                                NODE_PATH=MODULES),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=90)
    sys.stdout.write(out.stdout.decode(errors="replace"))
    check(out.returncode == 0, "ws_node.js exited %d" % out.returncode)
    check(p.ping(), "pubsubd still serves")
    wait_for("every WebSocket gone", lambda: p.info("stats")[
        "ws_connected_clients"] == 0)
    print("ok: npm's ws: every step passed; pubsubd still serves")
    return 0


sys.exit(run.main(main))
