#!/bin/sh
# tests/test_units.sh: the systemd units as systemd itself reads them.
#
#   systemd-analyze verify   pubsubd.service (as built) and pubsubd.socket:
#                            syntax, unknown settings, that ExecStart= can
#                            run, that the socket's service exists, and
#                            that the Documentation= man pages exist;
#   systemd-analyze security the service's exposure, at most 2.0 ("OK").
#
# Both work offline, without a running systemd (as in a container). Two
# things verify checks belong to the installed system, not to this build,
# and are pointed at the build instead, in a scratch directory:
#   - ExecStart= names $(sbindir)/pubsubd, which exists only after make
#     install: the copy checked names the daemon just built ($PUBSUBD);
#     nothing else in the unit is changed.
#   - Documentation=man:pubsubd(8) man:pubsubd.conf(5) are looked up with
#     man(1), which knows only installed pages: MANPATH points at copies of
#     the pages in the source tree.
# Exits 77 (skipped) where systemd-analyze is not installed (Debian:
# systemd; scripts/common.sh installs it).
set -eu

bin=${PUBSUBD:-./daemon/pubsubd}
srcdir=${TESTS_SRCDIR:-$(dirname "$0")}/..
builddir=$(cd "$(dirname "$bin")/.." && pwd)
unit=$builddir/systemd/pubsubd.service

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "SKIP: systemd-analyze not found (Debian package: systemd)"
	exit 77
fi
[ -f "$unit" ] || { echo "FAIL: $unit not built"; exit 1; }
[ -x "$bin" ] || { echo "FAIL: $bin not built"; exit 1; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

tmp=$(mktemp -d /tmp/pubsubd-units.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM

# The units, with this build's daemon in the Exec lines that run pubsubd.
sed -E "s|^(Exec[A-Za-z]*=)[^ ]*/pubsubd( \|$)|\1$bin\2|" "$unit" \
    >"$tmp/pubsubd.service"
cp "$srcdir/systemd/pubsubd.socket" "$tmp/pubsubd.socket"
n=$(grep -c "^Exec[A-Za-z]*=$bin " "$tmp/pubsubd.service" || true)
if [ "$n" -ne 2 ]; then
	echo "FAIL: expected ExecStartPre= and ExecStart= to run pubsubd:"
	grep '^Exec' "$unit"
	exit 1
fi

# The man pages, where man(1) finds them.
mkdir -p "$tmp/man/man8" "$tmp/man/man5"
cp "$srcdir/daemon/pubsubd.8" "$tmp/man/man8/"
cp "$srcdir/conf/pubsubd.conf.5" "$tmp/man/man5/"
man=--man=yes
if ! command -v man >/dev/null 2>&1; then
	echo "note: man(1) not installed: the man pages are not checked"
	man=--man=no
fi

status=0
echo "== systemd-analyze verify pubsubd.socket pubsubd.service"
# verify prints nothing when all is well, and exits non-zero on an error;
# a warning (printed, exit 0) is a failure here too.
if ! out=$(cd "$tmp" && MANPATH="$tmp/man" systemd-analyze verify "$man" \
    "$tmp/pubsubd.socket" "$tmp/pubsubd.service" 2>&1); then
	status=1
fi
if [ -n "$out" ]; then
	echo "$out"
	status=1
fi

echo "== systemd-analyze security --offline=yes --threshold=20 pubsubd.service"
if ! out=$(systemd-analyze security --offline=yes --threshold=20 \
    "$tmp/pubsubd.service" 2>&1); then
	echo "$out" | grep -E '✗|Overall' || echo "$out"
	status=1
fi
level=$(echo "$out" | sed -n 's/.*Overall exposure level for pubsubd.service: \([0-9.]*\).*/\1/p')
if [ -z "$level" ]; then
	echo "$out"
	echo "FAIL: no exposure level"
	status=1
else
	echo "exposure: $level (at most 2.0)"
fi

[ "$status" -eq 0 ] && echo "PASS: the units verify; exposure $level"
exit $status
