#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Export the whole feature as a git format-patch series against the
# pristine Debian linux-source-6.12 tree: the hook patches of
# patches/series, then one patch adding the project's kernel files.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:?usage: export-patches.sh OUTDIR}")
tree=$top/build/linux
"$top/scripts/kernel-tree.sh" >/dev/null

g() { git -C "$tree" -c user.name=contig -c user.email=contig@localhost "$@"; }
g branch -q -f contig-export contig
g worktree remove -f "$tree/.export" 2>/dev/null || true
g worktree add -q "$tree/.export" contig-export
trap 'g worktree remove -f "$tree/.export"; g branch -q -D contig-export' EXIT
(cd "$top" && git ls-files include mm drivers Documentation/mm \
	Documentation/admin-guide Documentation/driver-api Documentation/ABI) |
while read -r f; do
	mkdir -p "$tree/.export/$(dirname "$f")"
	cp "$top/$f" "$tree/.export/$f"
done
(cd "$top" && git ls-files kunit) | while read -r f; do
	mkdir -p "$tree/.export/drivers/contig/$(dirname "$f")"
	cp "$top/$f" "$tree/.export/drivers/contig/$f"
done
git -C "$tree/.export" add -A -f
git -C "$tree/.export" -c user.name=contig -c user.email=contig@localhost \
	commit -q -m "contig: on-demand physical contiguity for DMA" \
	-m "Page exchange (mm/exchange.c), range defragmentation with anchors and claimed frames (mm/vma_defrag.c), and the driver API with its policy, statistics, tracepoints and /dev/contig_dma (drivers/contig/), with their KUnit suites and documentation." \
	-m "Signed-off-by: contig developers <contig@localhost>"
rm -rf "$out"
git -C "$tree/.export" format-patch -q -o "$out" pristine..HEAD
ls "$out"
