#!/bin/sh
# test_cluster.sh: pubsubd in front of a real Redis Cluster of three masters
# and three replicas (tests/cluster_driver.py does the work): shard
# channels routed by slot, slot moves both ways, a master killed and its
# replica promoted, CROSSSLOT, joined PUBSUB counts, and no sunsubscribe
# ever passed to a client.
# Exit status: 0 all passed, 1 a test failed, 77 a tool is missing.
#
# Environment: see tests/pydriver.sh; PDTEST_KEEP=1 keeps the directory.

exec "$(dirname "$0")/pydriver.sh" cluster_driver.py 240 redis-cli
