#!/bin/sh
# test_cluster.sh: pubsubd in front of a real Redis Cluster of three masters
# and three replicas (tests/cluster_driver.py does the work): shard
# channels routed by slot, slot moves both ways, a master killed and its
# replica promoted, CROSSSLOT, joined PUBSUB counts, and no sunsubscribe
# ever passed to a client.
# Exit status: 0 all passed, 1 a test failed, 77 a tool is missing.
#
# Environment: PUBSUBD (default ./daemon/pubsubd), TESTS_SRCDIR (where the
# driver is; default: this script's directory), PDTEST_KEEP=1 (keep the
# directory).

PY=/usr/bin/python3	# Debian's, which has python3-redis
PUBSUBD=${PUBSUBD:-./daemon/pubsubd}
export PUBSUBD
TESTS_SRCDIR=${TESTS_SRCDIR:-$(dirname "$0")}
if [ ! -x "$PY" ] || ! command -v redis-cli >/dev/null; then
	echo "SKIP: $PY or redis-cli is missing"
	exit 77
fi
# Bounded as a whole too: a hang must fail the suite, not stall make check.
exec timeout 240 "$PY" "$TESTS_SRCDIR/cluster_driver.py"
