#!/bin/sh
# test_haproxy.sh: three pubsubd behind real haproxy, with the shipped
# conf/haproxy.cfg.example (tests/haproxy_driver.py does the work): the
# /live and /ready endpoints, a pubsubd whose Redis is down kept out of
# rotation and put back once synced, leastconn spreading redis-py clients,
# and a pubsubd killed with its clients reconnecting through haproxy while
# the others' lose nothing.
# Exit status: 0 all passed, 1 a test failed, 77 a tool is missing.
#
# Environment: see tests/pydriver.sh; PDTEST_KEEP=1 keeps the directory.

exec "$(dirname "$0")/pydriver.sh" haproxy_driver.py 300
