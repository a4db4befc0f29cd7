#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/deb.sh DEB_FILE: checks the Debian package that `make deb` built (run by `make
# check-deb`; root, and the network to deb.debian.org).
#   1. lintian on the .changes (source, .deb, dbgsym): no error-level tag;
#   2. a fresh bookworm root (debootstrap minbase; the bootstrapped root is cached as
#      $(dirname DEB_FILE)/bookworm-root.tar.gz, delete it to bootstrap again), where apt
#      installs the package's dependencies and man-db, then the .deb itself;
#   3. `vpcnet version`, `man vpcnet`, the CNI plugin's VERSION, the files where the package
#      says (/usr/bin, /usr/lib/cni, the header, the multiarch library and .pc, the unit,
#      enabled but not started by the maintainer scripts, the completion, the man pages);
#   4. `dpkg --purge vpcnet`: no file it installed or made (the state store, the unit's
#      enablement) remains — the root's file list equals the one before the install.
# Everything runs in a mount namespace of its own; the root is unmounted and removed on exit.
# One summary line at the end; exit 0 when every check passed.
set -euo pipefail

deb=${1:?usage: tests/deb.sh DEB_FILE}
deb=$(realpath "$deb")
[ -f "$deb" ] || { echo "deb.sh: no such file: $deb" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "deb.sh: needs root (debootstrap, chroot)" >&2; exit 2; }
if [ -z "${DEB_SH_PRIVATE:-}" ]; then  # mounts made below never leak to the host
	DEB_SH_PRIVATE=1 exec unshare --mount --propagation private "$0" "$@"
fi

dir=$(dirname "$deb")
src=$(cd "$(dirname "$0")/.." && pwd)
pkg=$(dpkg-deb -f "$deb" Package)
version=$(dpkg-deb -f "$deb" Version)
changes=${deb%.deb}.changes
mirror=http://deb.debian.org/debian
cache=$dir/bookworm-root.tar.gz
start=$SECONDS
fails=0
checks=0

ok()   { checks=$((checks + 1)); echo "  ok    $*"; }
fail() { checks=$((checks + 1)); fails=$((fails + 1)); echo "  FAIL  $*"; }
check() {  # check DESCRIPTION COMMAND...: ok when COMMAND succeeds
	local what=$1; shift
	if "$@"; then ok "$what"; else fail "$what"; fi
}

root=""
cleanup() {
	local rc=$?
	set +e
	if [ -n "$root" ] && [ -d "$root" ]; then
		# innermost first (the tmpfs last); nothing was mounted outside this namespace
		findmnt -rn -o TARGET | grep -F "$root" | sort -r | while read -r m; do
			umount -l "$m"
		done
		rm -rf --one-file-system "$root"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. lintian ---------------------------------------------------------------------------
echo "== lintian $(basename "$changes")"
target=$deb
[ -f "$changes" ] && target=$changes
if lintian --fail-on error --display-info --show-overrides "$target" > "$dir/lintian.log" 2>&1; then
	lrc=0
else
	lrc=$?
fi
grep -v '^running with root privileges' "$dir/lintian.log" | sed 's/^/  /' || true
errors=$(grep -c '^E: ' "$dir/lintian.log" || true)
warnings=$(grep -c '^W: ' "$dir/lintian.log" || true)
overridden=$(grep -c '^O: ' "$dir/lintian.log" || true)
if [ "$lrc" = 0 ]; then
	ok "lintian: no errors ($warnings warnings, $overridden overridden)"
else
	fail "lintian: $errors errors (exit $lrc)"
fi

# --- 2. a clean root ------------------------------------------------------------------------
# on a tmpfs of this mount namespace: should the script be killed, it goes with the namespace
root=$(mktemp -d "$dir/root.XXXXXX")
mount -t tmpfs -o size=3g,mode=0755 vpcnet-deb-root "$root"
if [ -f "$cache" ]; then
	echo "== bookworm root from $(basename "$cache")"
	tar -xzf "$cache" -C "$root"
else
	echo "== debootstrap --variant=minbase bookworm (about 2 minutes; kept in $(basename "$cache"))"
	if ! timeout 900 debootstrap --variant=minbase bookworm "$root" "$mirror" \
		> "$dir/debootstrap.log" 2>&1; then
		tail -n 20 "$dir/debootstrap.log"
		echo "deb.sh: debootstrap failed ($dir/debootstrap.log)" >&2
		exit 1
	fi
	tar -czf "$cache.tmp" -C "$root" . && mv "$cache.tmp" "$cache"
fi

mount -t proc proc "$root/proc"
mkdir -p "$dir/apt-archives/partial"  # downloaded .debs, kept for the next run
mount --bind "$dir/apt-archives" "$root/var/cache/apt/archives"
cp /etc/resolv.conf "$root/etc/resolv.conf"
in_root() { timeout 900 chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
	DEBIAN_FRONTEND=noninteractive "$@"; }
# what vpcnet itself runs gets an empty network namespace too: nothing there may touch the host's
in_root_nonet() { unshare --net chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	LANG=C.UTF-8 "$@"; }

# The root's files, but for dpkg's and apt's own databases, caches and logs, and man-db's
# cache /var/cache/man: its index, the CACHEDIR.TAG files mandb drops on its first run, and
# the formatted page `man vpcnet` saves in cat8/ are man-db's files (its daily cron job
# expires them), not the package's.
snapshot() {
	(cd "$root" && find . -xdev \( -path ./proc -o -path ./sys -o -path ./dev -o -path ./tmp \
		-o -path ./var/lib/dpkg -o -path ./var/lib/apt -o -path ./var/cache/apt \
		-o -path ./var/log -o -path ./var/cache/man \) \
		-prune -o -print) | LC_ALL=C sort
}

echo "== apt: $pkg's dependencies and man-db"
deps=$(dpkg-deb -f "$deb" Pre-Depends Depends Recommends | sed -n 's/^[A-Za-z-]*: //p' | paste -sd, -)
if ! { in_root apt-get update -q > "$dir/apt.log" 2>&1 &&
       in_root apt-get satisfy -y -q --no-install-recommends "man-db, $deps" >> "$dir/apt.log" 2>&1; }; then
	tail -n 20 "$dir/apt.log"
	echo "deb.sh: apt failed in the root ($dir/apt.log)" >&2
	exit 1
fi
snapshot > "$dir/files-before"
in_root dpkg-query -W -f '${Package}\n' | LC_ALL=C sort > "$dir/packages-before"

# --- 3. install and use ---------------------------------------------------------------------
echo "== install $(basename "$deb")"
cp "$deb" "$root/tmp/"
if in_root apt-get install -y -q --no-install-recommends "/tmp/$(basename "$deb")" \
	> "$dir/install.log" 2>&1; then
	ok "apt-get install ./$(basename "$deb")"
	new=$(in_root dpkg-query -W -f '${Package}\n' | LC_ALL=C sort | comm -13 "$dir/packages-before" -)
	check "it pulled in no other package (new: $(echo $new))" test "$new" = "$pkg"
else
	tail -n 20 "$dir/install.log"
	fail "apt-get install ./$(basename "$deb")"
	echo "deb.sh: FAIL: the package does not install" >&2
	exit 1
fi
in_root dpkg -L "$pkg" | LC_ALL=C sort > "$dir/files-of-package"

out=$(in_root_nonet vpcnet version 2>&1) || true
echo "  \$ vpcnet version"; echo "$out" | sed 's/^/    /'
check "vpcnet version prints $version" grep -q "vpcnet ${version%%-*}" <<< "$out"

out=$(in_root env MANPAGER=cat MANWIDTH=80 man vpcnet 2>&1) || true
echo "  \$ man vpcnet | head -4"; printf '%s\n' "$out" | sed -n '1,4s/^/    /p'
check "man vpcnet prints its NAME section" \
	bash -c 'grep -q "^NAME" <<< "$1" && grep -A1 "^NAME" <<< "$1" | grep -q "vpcnet"' _ "$out"

out=$(echo '{"cniVersion":"1.0.0"}' | in_root_nonet env CNI_COMMAND=VERSION /usr/lib/cni/vpcnet 2>&1) || true
check "the CNI plugin answers VERSION" grep -q '"supportedVersions"' <<< "$out"

out=$(in_root_nonet vpcnet vpc list 2>&1) || true
check "vpcnet vpc list works (and makes the state store)" \
	test -f "$root/var/lib/vpcnet/state.db"

ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
for f in /usr/bin/vpcnet /usr/lib/cni/vpcnet /usr/include/vpcnet.h \
	"/usr/lib/$ma/libvpcnet.so.0" "/usr/lib/$ma/libvpcnet.so" "/usr/lib/$ma/libvpcnet.a" \
	"/usr/lib/$ma/pkgconfig/vpcnet.pc" /lib/systemd/system/vpcnet-restore.service \
	/usr/share/bash-completion/completions/vpcnet /usr/share/man/man8/vpcnet.8.gz; do
	check "$f" grep -qx "$f" "$dir/files-of-package"
done
nman=$(grep -c '^/usr/share/man/man8/.*\.8\.gz$' "$dir/files-of-package" || true)
# the pages the package was built from: make deb's copy of the source, else this tree
mansrc=$dir/$pkg-${version%%-*}/man
[ -d "$mansrc" ] || mansrc=$src/man
nscd=$(ls "$mansrc"/*.8.scd 2>/dev/null | wc -l)
check "$nman man pages in man8 (of $nscd man/*.8.scd)" test "$nman" -ge 1 -a "$nman" -ge "$nscd"
check "the .pc's libdir is where the library is" \
	grep -qx "libdir=\${prefix}/lib/$ma" "$root/usr/lib/$ma/pkgconfig/vpcnet.pc"
check "ldconfig knows libvpcnet.so.0" bash -c "chroot '$root' ldconfig -p | grep -q 'libvpcnet.so.0 '"
check "vpcnet-restore.service is enabled at boot" \
	test -L "$root/etc/systemd/system/multi-user.target.wants/vpcnet-restore.service"
ctl=$(mktemp -d)
dpkg-deb -e "$deb" "$ctl"
check "no maintainer script starts or restarts a unit" \
	bash -c "! cat '$ctl'/*inst '$ctl'/*rm 2>/dev/null | grep -Eq 'deb-systemd-invoke (start|restart)|systemctl.* (start|restart)'"
rm -rf "$ctl"

# --- 4. purge ---------------------------------------------------------------------------------
echo "== dpkg --purge $pkg"
if in_root dpkg --purge "$pkg" > "$dir/purge.log" 2>&1; then
	ok "dpkg --purge $pkg"
else
	sed 's/^/    /' "$dir/purge.log"; fail "dpkg --purge $pkg"
fi
snapshot > "$dir/files-after"
left=$(diff "$dir/files-before" "$dir/files-after" || true)
if [ -z "$left" ]; then
	ok "the root's files are those before the install"
else
	fail "the root's files differ from those before the install:"; echo "$left" | sed 's/^/    /'
fi
stale=""
while read -r f; do
	[ -e "$root$f" ] || [ -L "$root$f" ] || continue
	[ -d "$root$f" ] && continue  # directories: the whole root's list above covers them
	stale="$stale $f"
done < "$dir/files-of-package"
if [ -z "$stale" ]; then ok "nothing of dpkg -L $pkg remains"; else fail "left behind:$stale"; fi

secs=$((SECONDS - start))
if [ "$fails" = 0 ]; then
	echo "deb.sh: PASS: $pkg $version: lintian 0 errors, $warnings warnings, $overridden overridden; installed, used and purged in a bookworm root; $checks checks, ${secs}s"
else
	echo "deb.sh: FAIL: $pkg $version: $fails of $checks checks failed; ${secs}s"
	exit 1
fi
