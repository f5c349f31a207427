#!/bin/sh
# test_wsnode.sh: pubsubd's WebSocket endpoint against npm's `ws`, an
# independent client (tests/wsnode_driver.py and tests/ws_node.js do the
# work). Exit status: 0 all passed, 1 a test failed, 77 a tool is missing.
#
# Environment: see tests/pydriver.sh; PDTEST_KEEP=1 keeps the directory.

exec "$(dirname "$0")/pydriver.sh" wsnode_driver.py 120 node redis-server
