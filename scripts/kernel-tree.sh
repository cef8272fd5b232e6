#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Prepare build/linux: the pristine Debian linux-source-6.12 tree, kept as a
# git repository (tag "pristine") so that the hook patches can be reset and
# re-applied cleanly and the whole feature can be exported with
# "git format-patch".
#
# Incremental by design: patches are re-applied only when patches/ changed,
# and project files are copied with rsync --checksum so that an unchanged
# file keeps its mtime and kbuild does not rebuild what depends on it.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
tree=${KTREE:-$top/build/linux}
tarball=${KSRC_TARBALL:-$(ls /usr/src/linux-source-6.12.tar.* 2>/dev/null | head -n 1)}

die() { echo "kernel-tree: $*" >&2; exit 1; }

[ -n "$tarball" ] && [ -f "$tarball" ] ||
	die "no /usr/src/linux-source-6.12.tar.* (run 'make setup')"

git_t() { git -C "$tree" -c user.name=contig -c user.email=contig@localhost "$@"; }

extract() {
	[ -f "$tree/.contig-pristine" ] && return 0
	echo "kernel-tree: extracting $(basename "$tarball") (once)"
	rm -rf "$tree" "$tree.tmp"
	mkdir -p "$tree.tmp"
	tar -xf "$tarball" -C "$tree.tmp" --strip-components=1
	mv "$tree.tmp" "$tree"
	local ver
	ver=$(make -s -C "$tree" kernelversion)
	case "$ver" in
	6.12.*) ;;
	*) die "linux-source is $ver, contig needs a 6.12.y tree" ;;
	esac
	echo "kernel-tree: recording pristine $ver in git (once)"
	git_t init -q
	git_t add -A -f
	git_t commit -q -m "linux $ver (Debian linux-source-6.12, pristine)"
	git_t tag pristine
	echo "$ver" > "$tree/.contig-pristine"
}

# Re-apply patches/series onto the pristine tree when patches/ changed.
apply_series() {
	local want have
	want=$( (cd "$top/patches" && cat series $(grep -v '^\s*#' series | sed '/^\s*$/d')) | sha1sum | cut -d' ' -f1)
	have=$(cat "$tree/.contig-series" 2>/dev/null || true)
	[ "$want" = "$have" ] && return 0

	echo "kernel-tree: applying patches/series"
	git_t checkout -q -f -B contig pristine
	git_t clean -q -fdx -e .contig-pristine
	local p
	while read -r p _; do
		case "$p" in ''|'#'*) continue ;; esac
		[ -f "$top/patches/$p" ] || die "patches/series names $p, which does not exist"
		if ! git_t apply --check "$top/patches/$p" 2>/tmp/contig-apply.err; then
			cat /tmp/contig-apply.err >&2
			die "patch $p no longer applies to linux $(cat "$tree/.contig-pristine")"
		fi
		# git am keeps the author, the message and the Signed-off-by,
		# so that "make patches" exports them as they are here.
		git_t am -q "$top/patches/$p"
	done < "$top/patches/series"
	echo "$want" > "$tree/.contig-series"
}

# Copy the project's kernel files to their tree paths. kunit/ lands in
# drivers/contig/kunit/ so the suites build with the rest of the driver.
overlay() {
	local d
	for d in include mm drivers; do
		[ -d "$top/$d" ] || continue
		rsync -rc --out-format='kernel-tree: updated %n' "$top/$d" "$tree/"
	done
	mkdir -p "$tree/drivers/contig/kunit"
	rsync -rc --out-format='kernel-tree: updated drivers/contig/kunit/%n' \
		"$top/kunit/" "$tree/drivers/contig/kunit/"
	# The kernel's documentation, for its Sphinx build (make docs);
	# Documentation/testing.rst is about this project, not the kernel.
	for d in mm admin-guide driver-api ABI; do
		[ -d "$top/Documentation/$d" ] || continue
		rsync -rc --out-format='kernel-tree: updated Documentation/%n' \
			"$top/Documentation/$d" "$tree/Documentation/"
	done
}

extract
apply_series
overlay
