"""browser_driver.py: a real browser subscribed through pubsubd (run by
tests/test_browser.sh).

Starts a redis-server, a pubsubd with a web listener serving its built-in
page (http.page), and headless Chromium (Debian's chromium) with its
DevTools protocol on a loopback port, driven from here over a WebSocket.
Chromium loads the page with ?channel=news, which subscribes over a
WebSocket (json) and an EventSource; messages are published with
redis-cli, and the page's DOM is read back:

- every message arrived on both, in order: a plain one, a multi-line one,
  a non-ASCII one;
- Redis is restarted: the page's connections stay open and the next
  message arrives on both;
- a page of another origin (served on another port) cannot open a
  WebSocket to pubsubd (refused with 403, which the browser reports as a
  failure, 1006).

Every wait is bounded. Prints one line per step; exits 0 if all passed, 1
if one failed, 77 if chromium is not installed. Environment: PUBSUBD (the
daemon), CHROMIUM (default: chromium on PATH), PDTEST_KEEP=1 (keep the
directory).
"""
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pdtest import Run, check, freeport, wait_for  # noqa: E402
from wsclient import WS  # noqa: E402

PUBSUBD = os.path.abspath(os.environ.get("PUBSUBD", "./daemon/pubsubd"))
run = Run("pubsubd-browser.")


class DevTools:
    """The DevTools protocol of one page, over a WebSocket."""

    def __init__(self, port, path):
        self.ws = WS(port, path=path)
        head = self.ws.upgraded()
        check(head.startswith("HTTP/1.1 101"), "DevTools: %r" % head)
        self.id = 0

    def call(self, method, timeout=10.0, **params):
        self.id += 1
        self.ws.send(self.ws.frame(1, json.dumps(
            {"id": self.id, "method": method, "params": params})))
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            check(left > 0, "no answer to %s" % method)
            f = self.ws.next_frame(left)
            check(f is not None, "DevTools closed")
            m = json.loads(f[1])
            if m.get("id") == self.id:
                check("error" not in m, "%s: %r" % (method, m))
                return m["result"]

    def eval(self, expr):
        r = self.call("Runtime.evaluate", expression=expr,
                      returnByValue=True, awaitPromise=True)
        check("exceptionDetails" not in r, "%s: %r" % (expr, r))
        return r["result"].get("value")


def lists(dt):
    return dt.eval("[...document.querySelectorAll('#ws li')].map("
                   "x => x.textContent).join('\\u0001') + '\\u0002' + "
                   "[...document.querySelectorAll('#sse li')].map("
                   "x => x.textContent).join('\\u0001')")


def received(dt):
    ws, sse = lists(dt).split("\u0002")
    return ([x for x in ws.split("\u0001") if x],
            [x for x in sse.split("\u0001") if x])


def start_redis(rport):
    run.start("redis", ["redis-server", "--port", str(rport), "--bind",
                        "127.0.0.1", "--save", "", "--appendonly", "no"])
    r = redis.Redis(port=rport)
    wait_for("redis", r.ping)
    return r


def publish(rport, msg):
    out = subprocess.run(["redis-cli", "-p", str(rport), "publish", "news",
                          msg], stdout=subprocess.PIPE, timeout=10)
    check(out.returncode == 0, "redis-cli publish")


def main():
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if chromium is None:
        print("SKIP: chromium is not installed")
        return 77
    rport, dport = freeport(), freeport()
    r = start_redis(rport)
    p, wport = run.web_pubsubd(PUBSUBD, rport, "http = { page = true; };\n")

    profile = os.path.join(run.tmp, "chromium")
    run.start("chromium", [chromium, "--headless=new", "--no-sandbox",
                           "--disable-gpu", "--no-first-run",
                           "--disable-extensions", "--disable-dev-shm-usage",
                           "--remote-debugging-address=127.0.0.1",
                           "--remote-debugging-port=%d" % dport,
                           "--user-data-dir=" + profile, "about:blank"])
    targets = []

    def pages():
        with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % dport,
                                    timeout=2) as u:
            targets[:] = [t for t in json.load(u) if t["type"] == "page"]
        return targets
    wait_for("chromium's DevTools", lambda: pages(), 30)
    url = targets[0]["webSocketDebuggerUrl"]
    dt = DevTools(dport, url.split(str(dport), 1)[1])
    dt.call("Page.enable")
    dt.call("Page.navigate", url="http://127.0.0.1:%d/?channel=news" % wport)
    # (document.body is null until the new page is parsed.)
    wait_for("the page subscribed on both", lambda: dt.eval(
        "document.body ? document.body.dataset.ws + ' ' + "
        "document.body.dataset.sse : ''") == "subscribed subscribed", 20)
    check(dict(r.pubsub_numsub("news"))[b"news"] == 1,
          "one upstream subscription for the page's two connections")
    print("ok: Chromium loaded the page; it subscribed over a WebSocket and "
          "an EventSource")

    sent = ["hello", "line one\nline two\nline three",
            "h\u00e9llo w\u00f6rld \u2713 \U0001f600", "fourth"]
    for m in sent:
        publish(rport, m)
    wait_for("4 messages on both", lambda: all(
        len(x) >= 4 for x in received(dt)), 10)
    ws, sse = received(dt)
    check(ws == sent, "WebSocket, in order: %r" % ws)
    check(sse == sent, "EventSource, in order: %r" % sse)
    print("ok: %d messages published with redis-cli arrived in the page on "
          "both, in order (multi-line, non-ASCII)" % len(sent))

    for name, proc in run.procs:
        if name == "redis":
            proc.terminate()
            proc.wait(10)
    run.procs = [x for x in run.procs if x[0] != "redis"]
    time.sleep(0.3)
    r = start_redis(rport)
    wait_for("resubscribed", lambda: dict(r.pubsub_numsub("news"))[
        b"news"] == 1)
    publish(rport, "after the restart")
    wait_for("the message after the restart", lambda: all(
        len(x) >= 5 for x in received(dt)), 10)
    ws, sse = received(dt)
    check(ws[-1] == sse[-1] == "after the restart", "after: %r %r" %
          (ws[-1:], sse[-1:]))
    check(dt.eval("document.body.dataset.ws + ' ' + document.body.dataset."
                  "sse") == "subscribed subscribed",
          "neither connection was closed")
    print("ok: Redis restarted: the page's connections stayed open and the "
          "next message arrived on both")

    # A page of another origin: served on another port by Python's own
    # http.server.
    site = os.path.join(run.tmp, "site")
    os.mkdir(site)
    with open(os.path.join(site, "index.html"), "w") as f:
        f.write("<p>elsewhere</p>")
    hport = freeport()
    run.start("http.server", [sys.executable, "-m", "http.server",
                              str(hport), "--bind", "127.0.0.1",
                              "--directory", site])
    wait_for("http.server", lambda: urllib.request.urlopen(
        "http://127.0.0.1:%d/" % hport, timeout=2).status == 200)
    dt.call("Page.navigate", url="http://127.0.0.1:%d/" % hport)
    wait_for("the other page", lambda: dt.eval("location.port") ==
             str(hport), 10)
    got = dt.eval("new Promise(ok => { const w = new WebSocket("
                  "'ws://127.0.0.1:%d/ws'); w.onopen = () => ok('open'); "
                  "w.onclose = e => ok('closed ' + e.code); })" % wport)
    check(got == "closed 1006", "a foreign page's WebSocket: %r" % got)
    refused = p.info("stats")["web_refused"]["origin"]
    check(refused == 1, "pubsubd refused its Origin: %r" % refused)
    print("ok: a page of another origin could not open a WebSocket (403, "
          "counted)")
    return 0


if __name__ == "__main__":
    run.main(main)
