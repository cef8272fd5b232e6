#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the guest's initramfs: static busybox, the Debian binaries the tests
# use with their shared libraries (found with ldd) and the rxe verbs
# provider, the project's user-space programs, tests and benchmarks, and
# guest/init.
#
# usage: mkinitramfs.sh OUTPUT.gz USERSPACE_BIN_DIR
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: mkinitramfs.sh OUTPUT.gz USERSPACE_BIN_DIR}
bindir=${2:?usage: mkinitramfs.sh OUTPUT.gz USERSPACE_BIN_DIR}
stage=$(mktemp -d "${out%.gz}.stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT

die() { echo "mkinitramfs: $*" >&2; exit 1; }

# Debian binaries the guest tests and benchmarks run.
HOST_BINS=(
	/usr/bin/ib_write_bw /usr/bin/ib_read_bw /usr/bin/ib_send_bw
	/usr/bin/ib_write_lat
	/usr/bin/ibv_devinfo /usr/bin/ibv_devices
	/usr/bin/rdma /usr/sbin/ip
)
# Loaded with dlopen(), so ldd of the binaries does not name them.
PROVIDERS=(/usr/lib/x86_64-linux-gnu/libibverbs/librxe-rdmav*.so)

copy_file() {
	local src=$1
	mkdir -p "$stage$(dirname "$src")"
	cp -L "$src" "$stage$src"
}

copy_libs_of() {
	local lib
	for lib in $(ldd "$1" 2>/dev/null | grep -o '/[^ ]*' || true); do
		[ -e "$stage$lib" ] || copy_file "$lib"
	done
}

copy_with_libs() {
	local f
	for f in "$@"; do
		[ -e "$f" ] || die "$f is missing (run 'make setup')"
		copy_file "$f"
		copy_libs_of "$f"
	done
}

mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,etc,contig}
# mktemp -d made it 0700, and it becomes the guest's /: tests that drop
# root must still reach /dev and /contig.
chmod 755 "$stage"
[ -x /bin/busybox ] || die "/bin/busybox is missing (run 'make setup')"
cp /bin/busybox "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"

copy_with_libs "${HOST_BINS[@]}" "${PROVIDERS[@]}"
mkdir -p "$stage/etc/libibverbs.d"
cp /etc/libibverbs.d/rxe.driver "$stage/etc/libibverbs.d/"
echo "root:x:0:0:root:/:/bin/sh" > "$stage/etc/passwd"
echo "root:x:0:" > "$stage/etc/group"
echo "127.0.0.1 localhost" > "$stage/etc/hosts"

mkdir -p "$stage/contig/bin" "$stage/contig/tests" "$stage/contig/bench"
for f in "$bindir"/*; do
	[ -f "$f" ] || continue
	cp "$f" "$stage/contig/bin/"
	copy_libs_of "$f"
done
cp "$top"/userspace/tests/*.sh "$stage/contig/tests/"
cp "$top"/userspace/bench/*.sh "$stage/contig/bench/" 2>/dev/null || true
cp "$top/guest/lib.sh" "$stage/contig/lib.sh"
cp "$top/guest/bench-lib.sh" "$stage/contig/bench-lib.sh"
cp "$top/guest/init" "$stage/init"
chmod +x "$stage/init" "$stage"/contig/tests/*.sh

(cd "$stage" && find . | cpio -o -H newc --quiet) | gzip -1 > "$out.tmp"
mv "$out.tmp" "$out"
