#!/bin/sh
# check-fuzz.sh: the fuzz targets in make check. If clang can build and link
# a -fsanitize=fuzzer,address,undefined program here, runs `scripts/fuzz 30`
# (each target for 30 seconds) and exits with its status; if it cannot, or
# pkg-config knows no libevent or libconfig, exits 77 (skipped).
#
# The source tree is found from TESTS_SRCDIR (<srcdir>/tests, as make check
# exports it) or else from this script's own path. The fuzz build goes to
# _build-fuzz in the current directory (make check runs tests in the top
# build directory), so a read-only source tree is never written to.
# Environment: FUZZ_CC (default clang), FUZZ_SECONDS (default 30);
# PUBSUBD_SKIP_FUZZ set skips (scripts/test sets it for its second, the
# sanitizer, run: the fuzz targets are sanitized builds of their own, and
# once per run of scripts/test is enough).

if [ -n "${TESTS_SRCDIR:-}" ]; then
	top=$TESTS_SRCDIR/..
else
	top=$(dirname "$0")/../..
fi
top=$(cd "$top" && pwd) || exit 99
if [ ! -x "$top/scripts/fuzz" ] || [ ! -f "$top/tests/fuzz/fuzz_resp.c" ]; then
	echo "ERROR: no scripts/fuzz or tests/fuzz/fuzz_resp.c under $top" >&2
	exit 99
fi

if [ -n "${PUBSUBD_SKIP_FUZZ:-}" ]; then
	echo "SKIP: PUBSUBD_SKIP_FUZZ is set"
	exit 77
fi

cc=${FUZZ_CC:-clang}
if ! command -v "$cc" >/dev/null 2>&1; then
	echo "SKIP: $cc not found"
	exit 77
fi
if ! pkg-config --exists libevent libconfig 2>/dev/null; then
	echo "SKIP: pkg-config knows no libevent or libconfig"
	exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-fuzz.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/probe.c" <<'EOF'
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return 0;
}
EOF
if ! "$cc" -fsanitize=fuzzer,address,undefined -o "$tmp/probe" \
    "$tmp/probe.c" >"$tmp/probe.log" 2>&1 ||
    ! "$tmp/probe" -runs=1 >>"$tmp/probe.log" 2>&1; then
	echo "SKIP: $cc cannot build a libFuzzer target here:"
	sed 's/^/  /' "$tmp/probe.log" | tail -n 5
	exit 77
fi

FUZZ_BUILDDIR=${FUZZ_BUILDDIR:-$(pwd)/_build-fuzz}
export FUZZ_BUILDDIR
"$top/scripts/fuzz" "${FUZZ_SECONDS:-30}"
