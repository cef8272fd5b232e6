#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make bench's no-clean-GiB case, in a 12 GiB guest of its own: memory
# fragmented with a long-term pinned page in three 2 MiB windows of four
# (fragmenter --unmovable), so that no 1 GiB window is clean, then a
# scattered 2 GiB buffer PREPAREd at a 1 GiB-aligned key by another
# process (contigctl prepare --pid). Every 2 MiB chunk must end congruent
# and no page may be left unplaced without being counted as failed: the
# engine once kept 8 to 12 segments for such a range and left a quarter
# of it where it was. The holder and the fragmenter verify every page.
. /contig/lib.sh
. /contig/bench-lib.sh
bench_failed=0
size_mib=2048
key=0x40000000

start_fragmenter --unmovable || { fail_bench "fragmenter"; exit 1; }
windows=$(windows_json)
rm -f /tmp/hold.fifo
mkfifo /tmp/hold.fifo
contig_dma_test --hold /tmp/hold.fifo $size_mib > /tmp/hold.out 2>&1 &
holder=$!
read -r addr pid < /tmp/hold.fifo
contigctl prepare --pid "$pid" --key $key --json "$addr" \
	$((size_mib << 20)) > /tmp/prepare.json ||
	fail_bench "contigctl prepare of $size_mib MiB"
kill -TERM $holder
wait $holder || fail_bench "the holder found corrupt pages"
cat /tmp/hold.out
emit prepare-nowindow fragmented 12G \
	"{\"windows\": $windows, \"prepare\": $(cat /tmp/prepare.json)}"
stop_fragmenter || fail_bench "fragmenter found corrupt pages"
exit $bench_failed
