#!/bin/sh
# test_browser.sh: headless Chromium subscribed through pubsubd's built-in
# page over a WebSocket and an EventSource (tests/browser_driver.py does
# the work): messages published with redis-cli read back from the page's
# DOM in order, a Redis restart followed, a foreign origin refused.
# Exit status: 0 all passed, 1 a test failed, 77 a tool is missing.
#
# Environment: see tests/pydriver.sh; PDTEST_KEEP=1 keeps the directory;
# CHROMIUM names the browser (default: chromium on PATH).

exec "$(dirname "$0")/pydriver.sh" browser_driver.py 150 redis-cli
