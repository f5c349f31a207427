#!/bin/sh
# test_tls.sh: TLS clients through pubsubd (tests/tls_driver.py does the
# work): certificates made with the openssl command, redis-cli --tls,
# redis-py with ssl=True, openssl s_client and Python's ssl module against
# a real redis-server and real pubsubd instances on free loopback ports.
# Exit status: 0 all passed, 1 a test failed, 77 a tool is missing.
#
# Environment: PUBSUBD (default ./daemon/pubsubd), TESTS_SRCDIR (where the
# driver is; default: this script's directory), TLS_ONLY (run only tests
# whose name holds it), TLS_KEEP=1 (keep the certificates and logs).

PY=/usr/bin/python3	# Debian's, which has python3-redis
PUBSUBD=${PUBSUBD:-./daemon/pubsubd}
export PUBSUBD
if [ ! -x "$PY" ]; then
	echo "SKIP: $PY is missing"
	exit 77
fi
# Bounded as a whole too: a hang must fail the suite, not stall make check.
exec timeout 600 "$PY" "${TESTS_SRCDIR:-$(dirname "$0")}/tls_driver.py" \
    ${TLS_ONLY:+"$TLS_ONLY"}
