#!/bin/sh
# test_haproxy.sh: three pubsubd behind real haproxy, with the shipped
# conf/haproxy.cfg.example (tests/haproxy_driver.py does the work): the
# /live and /ready endpoints, a pubsubd whose Redis is down kept out of
# rotation and put back once synced, leastconn spreading redis-py clients,
# and a pubsubd killed with its clients reconnecting through haproxy while
# the others' lose nothing.
# Exit status: 0 all passed, 1 a test failed, 77 a tool is missing.
#
# Environment: PUBSUBD (default ./daemon/pubsubd), TESTS_SRCDIR (where the
# driver is; default: this script's directory), PDTEST_KEEP=1 (keep the
# directory).

PY=/usr/bin/python3	# Debian's, which has python3-redis
PUBSUBD=${PUBSUBD:-./daemon/pubsubd}
export PUBSUBD
TESTS_SRCDIR=${TESTS_SRCDIR:-$(dirname "$0")}
export TESTS_SRCDIR
if [ ! -x "$PY" ]; then
	echo "SKIP: $PY is missing"
	exit 77
fi
# Bounded as a whole too: a hang must fail the suite, not stall make check.
exec timeout 300 "$PY" "$TESTS_SRCDIR/haproxy_driver.py"
