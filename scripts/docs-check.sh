#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make docs: check the project's kernel documentation the way the kernel
# checks its own.
#
#   1. scripts/kernel-doc -none -Wall on every project kernel source and
#      header: every kerneldoc comment well formed and complete.
#   2. The reST documents, built with the kernel's Sphinx setup (its
#      conf.py, its extensions, the kernel-doc directives they use). A full
#      htmldocs build takes the better part of an hour on two cores, so
#      they are built as a small documentation tree of their own
#      (Documentation/contig-check/, generated in build/linux, whose pages
#      include them); any warning fails. The kernel's indexes list them
#      too (patches/0007), for a full build.
#
# Prints nothing but a summary when all is well; exits non-zero otherwise.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
tree=$top/build/linux
out=$top/build/docs

"$top/scripts/kernel-tree.sh" > /dev/null

# Project kernel files, at their tree paths (kunit/ lives elsewhere there)
mapfile -t srcs < <(cd "$top" && git ls-files 'include/*.h' 'mm/*.c' \
				'drivers/*.c' 'drivers/*.h')
log=$(cd "$tree" && scripts/kernel-doc -none -Wall "${srcs[@]}" 2>&1) || true
if [ -n "$log" ]; then
	echo "$log"
	echo "docs: kernel-doc found problems" >&2
	exit 1
fi
echo "docs: kernel-doc -none -Wall: clean (${#srcs[@]} files)"

if ! command -v sphinx-build > /dev/null; then
	echo "docs: sphinx-build is missing (run 'make setup')" >&2
	exit 1
fi

chk=$tree/Documentation/contig-check
rm -rf "$chk"
mkdir -p "$chk"
docs=(mm/contig_dma mm/exchange mm/vma_defrag admin-guide/mm/contig_dma
      driver-api/contig_dma)
{
	echo ".. SPDX-License-Identifier: GPL-2.0"
	echo
	echo "=================================="
	echo "contig documentation (build check)"
	echo "=================================="
	echo
	echo ".. toctree::"
	echo "   :maxdepth: 1"
	echo
	for d in "${docs[@]}"; do
		echo "   ${d//\//-}"
	done
} > "$chk/index.rst"
for d in "${docs[@]}"; do
	printf '.. include:: ../%s.rst\n' "$d" > "$chk/${d//\//-}.rst"
done

mkdir -p "$out"
if ! make -s -C "$tree" O="$out" SPHINXDIRS=contig-check htmldocs \
	> "$out/sphinx.log" 2>&1; then
	cat "$out/sphinx.log"
	echo "docs: the Sphinx build failed" >&2
	exit 1
fi
if grep -iE "warning|error" "$out/sphinx.log"; then
	echo "docs: the Sphinx build warned (full log: $out/sphinx.log)" >&2
	exit 1
fi
echo "docs: Sphinx (kernel conf.py, ${#docs[@]} documents): clean; HTML in $out/Documentation/output/contig-check"
