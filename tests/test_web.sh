#!/bin/sh
# test_web.sh: pubsubd's web listener (protocol = "http") against a real
# redis-server, with raw sockets (tests/web_driver.py does the work):
# Server-Sent Events confirmed upstream before the head, events in order
# (multi-line, non-ASCII, empty payloads), keep-alive, a Redis restart
# followed, every bad request's status, a slow stream cut at the limit,
# 200 streams at once; WebSocket with the json and resp subprotocols, bad
# upgrades and bad frames with their statuses and close codes, a slow
# reader cut, 1000 WebSocket subscribers at once.
# Exit status: 0 all passed, 1 a test failed, 77 a tool is missing.
#
# Environment: PUBSUBD (default ./daemon/pubsubd), TESTS_SRCDIR (where the
# driver is; default: this script's directory), PDTEST_KEEP=1 (keep the
# directory).

PY=/usr/bin/python3	# Debian's, which has python3-redis
PUBSUBD=${PUBSUBD:-./daemon/pubsubd}
export PUBSUBD
TESTS_SRCDIR=${TESTS_SRCDIR:-$(dirname "$0")}
if [ ! -x "$PY" ] || ! command -v redis-server >/dev/null; then
	echo "SKIP: $PY or redis-server is missing"
	exit 77
fi
# Bounded as a whole too: a hang must fail the suite, not stall make check.
exec timeout 180 "$PY" "$TESTS_SRCDIR/web_driver.py"
