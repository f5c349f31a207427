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
# Environment: see tests/pydriver.sh; PDTEST_KEEP=1 keeps the directory.

exec "$(dirname "$0")/pydriver.sh" web_driver.py 180 redis-server
