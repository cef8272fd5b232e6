#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# checkpatch.pl --strict on every project kernel file (not user space).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/kernel-tree.sh" >/dev/null
cd "$top"
files=$(git ls-files include mm drivers kunit | grep -E '\.[ch]$')
# CAMELCASE: the only CamelCase names we use are existing kernel APIs
# (__SetPageMovable), which --no-tree cannot look up.
perl build/linux/scripts/checkpatch.pl --no-tree --strict --terse \
	--ignore FILE_PATH_CHANGES,CAMELCASE -f $files
echo "checkpatch: clean ($(echo "$files" | wc -w) files)"
