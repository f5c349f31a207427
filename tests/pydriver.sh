#!/bin/sh
# pydriver.sh DRIVER SECONDS [TOOL...]: what the test_*.sh wrappers of the
# Python drivers share: runs tests/DRIVER with Debian's python3 (which has
# python3-redis), bounded as a whole to SECONDS (a hang must fail the
# suite, not stall make check); SKIP (exit 77) if that python3 or one of
# the TOOLs is missing.
#
# Environment: PUBSUBD (default ./daemon/pubsubd), TESTS_SRCDIR (where the
# drivers are; default: this script's directory), passed on.

PY=/usr/bin/python3
driver=$1
secs=$2
shift 2
PUBSUBD=${PUBSUBD:-./daemon/pubsubd}
TESTS_SRCDIR=${TESTS_SRCDIR:-$(dirname "$0")}
export PUBSUBD TESTS_SRCDIR
if [ ! -x "$PY" ]; then
	echo "SKIP: $PY is missing"
	exit 77
fi
for tool in "$@"; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: $tool is missing"
		exit 77
	fi
done
exec timeout "$secs" "$PY" "$TESTS_SRCDIR/$driver"
