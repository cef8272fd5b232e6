#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# checkpatch.pl --strict on every project kernel file (not user space).
# It runs inside the kernel tree, so that it knows the kernel's own
# identifiers (CamelCase APIs such as __SetPageMovable) and can check SPDX
# tags with scripts/spdxcheck.py.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/kernel-tree.sh" >/dev/null
cd "$top"
files=$(git ls-files include mm drivers kunit | grep -E '\.[ch]$')
cd build/linux
# spdxcheck.py needs the Debian python3 (python3-ply, python3-git), not another in PATH.
export PATH=/usr/bin:$PATH
# FILE_PATH_CHANGES: new files want a MAINTAINERS entry; ours is the README.
perl scripts/checkpatch.pl --strict --terse --ignore FILE_PATH_CHANGES \
	-f $(printf "$top/%s " $files)
rm -f .checkpatch-camelcase.git.*
echo "checkpatch: clean ($(echo "$files" | wc -w) files)"
