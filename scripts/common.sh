# shellcheck shell=bash
# scripts/common.sh: what scripts/run and scripts/test share: installing the
# Debian packages the build and the tests need, and building in a build
# directory. Sourced, not run.

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Everything the build, the daemon and the tests need, by Debian name.
PACKAGES="gcc libc6-dev clang libclang-rt-14-dev make autoconf automake pkg-config libevent-dev
	libhiredis-dev libconfig-dev check libsystemd-dev redis-server
	redis-tools redis-sentinel python3-redis procps systemd man-db util-linux iproute2
	libssl-dev openssl haproxy libhttp-parser-dev
	libwslay-dev libjansson-dev chromium"

say() { printf '==> %s\n' "$*" >&2; }

# Installs whatever of PACKAGES is missing (as root, with apt-get).
install_packages() {
	local missing="" p
	for p in $PACKAGES; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q 'install ok installed'; then
			missing="$missing $p"
		fi
	done
	[ -z "$missing" ] && return 0
	say "installing:$missing"
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	# shellcheck disable=SC2086
	$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# build DIR [configure args...]: configures (once) and builds in DIR.
build() {
	local dir=$1
	shift
	if [ ! -x "$TOP/configure" ] || [ "$TOP/configure.ac" -nt "$TOP/configure" ] ||
	    [ "$TOP/Makefile.am" -nt "$TOP/Makefile.in" ]; then
		say "autoreconf"
		(cd "$TOP" && autoreconf -fi >/dev/null 2>&1) ||
		    (cd "$TOP" && autoreconf -fi)
	fi
	mkdir -p "$dir"
	if [ ! -f "$dir/Makefile" ] || [ "$TOP/configure" -nt "$dir/Makefile" ]; then
		say "configure $* (in $dir)"
		(cd "$dir" && "$TOP/configure" -q "$@")
	fi
	say "make (in $dir)"
	make -C "$dir" -j"$(nproc)" >/dev/null
}
