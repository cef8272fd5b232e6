#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make bench's guest-size sweep, run in guests of several sizes (the
# Makefile boots one per size): what a PREPARE costs as the machine grows,
# for the same requests, and two requests at once against one. The first
# request builds the kernel's frame index and is reported apart. A 64 MiB
# copy first measures the speed of this boot (see prepare_bench).
# prepare_bench verifies every page of every buffer.
. /contig/lib.sh
. /contig/bench-lib.sh
bench_failed=0
REPS=${SCALE_REPS:-5}

boot=$(cat /proc/sys/kernel/random/boot_id)
mem=$(awk '/^MemTotal:/ { printf "%dG", ($2 + 524288) / 1048576 }' /proc/meminfo)
prepare_bench --reps "$REPS" --sizes 2,64 > /tmp/scale.out 2>/tmp/scale.err ||
	fail_bench "prepare_bench in a $mem guest"
cat /tmp/scale.err
while read -r line; do
	[ -n "$line" ] || continue
	what=$(echo "$line" | sed -n 's/.*"what": "\([^"]*\)".*/\1/p')
	size=$(echo "$line" | sed -n 's/.*"size_mib": \([0-9]*\).*/\1/p')
	# Which boot: the report compares each request with its boot's copy
	line=$(echo "$line" | sed "s/^{/{\"boot\": \"$boot\", /")
	emit prepare-scale "$mem" "$what-${size}M" "$line"
done < /tmp/scale.out
exit $bench_failed
