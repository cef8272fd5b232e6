#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make bench: every measurement of DESIGN §5 the kernel can make today, on
# fresh memory and on memory fragmented by the fragmenter. The stock kernel
# paths ("stock" side) are the baseline every later change is compared
# against, in the same run; making a buffer contiguous is measured for
# contig's engine and the two stock ways of getting contiguous memory.
. /contig/lib.sh
. /contig/bench-lib.sh
bench_failed=0
SIZE=256
SWEEP=256	# edu round trips spread over the buffer (1 MiB stride)

measure() {
	memory=$1 iova=$2
	out=$(vfio_edu --size $SIZE --iova $iova --offsets $SWEEP --json) ||
		fail_bench "vfio_edu on $memory memory"
	emit vfio-map-anon-${SIZE}M "$memory" stock "${out:-null}"
	# Three MRs of $SIZE MiB (source, target, read-back). On fragmented
	# memory the stock rxe can fail to register them: each MR needs a
	# physically contiguous kernel array of 16 bytes per 4 KiB page
	# (order 8 for 256 MiB). That outcome is a measurement, not a
	# benchmark failure; on fresh memory it would be one.
	out=$(rdma_loopback --size $SIZE --offsets 16 --json 2>/tmp/rdma.err)
	rc=$?
	cat /tmp/rdma.err
	err=$(grep -m 1 "error:" /tmp/rdma.err | sed 's/.*error: //; s/["\\]//g')
	[ $rc = 0 ] && ok=true || ok=false
	emit rdma-reg-anon-${SIZE}M "$memory" stock \
		"{\"ok\": $ok, \"error\": \"$err\", \"loopback\": ${out:-null}}"
	[ $rc = 0 ] || [ "$memory" = fragmented ] ||
		fail_bench "rdma_loopback on $memory memory"
	if perftest_pair ib_write_bw -s 65536 -n 500 > /tmp/bw.out 2>&1; then
		emit ib_write_bw-64K "$memory" stock \
			"{\"bw_avg_mbps\": $(perftest_bw_avg /tmp/bw.out)}"
	else
		cat /tmp/bw.out
		fail_bench "ib_write_bw on $memory memory"
	fi
}

guest_rxe_up || fail_bench "rxe setup"
guest_vfio_bind || fail_bench "vfio bind"
# The stock kernel's paths: contig turns every driver request away.
contig_policy never || fail_bench "contig policy never"

emit windows fresh stock "$(windows_json)"
measure fresh 0x40000000

# Exchange against migrating the same folios through free pages, on fresh
# memory: migration needs the free pages that fragmented memory lacks.
exchange_sides() {
	for kind in 4k thp; do
		args="--pairs 4096"
		[ $kind = thp ] && args="--thp --pairs 32"
		out=$(exchange_bench $args) || fail_bench "exchange_bench $kind"
		emit exchange-$kind fresh "exchange-$kind" "${out:-null}"
	done
}
exchange_sides

# What an exchange keeps for the other owner of a page (the COW recipe
# through the exchange and through a PREPARE, mlock, soft-dirty, uffd), on
# this kernel as on the debug one: a failed check fails the benchmark.
exchange_regress > /tmp/regress.out 2>&1
rc=$?
cat /tmp/regress.out
checks=$(sed -n 's/^RESULT checks=\([0-9]*\) .*/\1/p' /tmp/regress.out)
failed=$(sed -n 's/^RESULT .* failed=\([0-9]*\)/\1/p' /tmp/regress.out)
failures=$(sed -n 's/^FAIL \([^:]*\):.*/"\1"/p' /tmp/regress.out | tr '\n' ',' | sed 's/,$//')
emit exchange-regress fresh kernel \
	"{\"checks\": ${checks:-0}, \"failed\": ${failed:-null}, \"failures\": [$failures]}"
[ $rc = 0 ] && [ -n "$checks" ] || fail_bench "exchange_regress exited $rc"

# M4 and M7: the cost of making $SIZE MiB of fragmented memory contiguous
# (contig's engine, MADV_COLLAPSE, alloc_contig_range), then the same with
# less than 3 % of memory free. One JSON object per side.
defrag_scenarios() {
	defrag_bench --size $SIZE > /tmp/defrag-bench.out 2>/tmp/defrag-bench.err
	rc=$?
	cat /tmp/defrag-bench.err
	while read -r line; do
		[ -n "$line" ] || continue
		memory=$(echo "$line" | sed -n 's/.*"memory": "\([^"]*\)".*/\1/p')
		side=$(echo "$line" | sed -n 's/.*"side": "\([^"]*\)".*/\1/p')
		emit defrag-${SIZE}M "$memory" "$side" "$line"
	done < /tmp/defrag-bench.out
	[ $rc = 0 ] || fail_bench "defrag_bench exited $rc"
}

start_fragmenter || { fail_bench "fragmenter"; exit 1; }
blocks=$(free_huge_blocks)
emit fragmenter fragmented stock "{\"free_order9_blocks\": $blocks}"
emit windows fragmented stock "$(windows_json)"
[ "$blocks" = 0 ] || fail_bench "memory not fragmented ($blocks free 2 MiB blocks)"
# A different IOVA per scenario lets the host attribute QEMU's IOTLB events.
measure fragmented 0x100000000
defrag_scenarios

# M1, M2, M5 with contig in VFIO's map paths: policy "never" against
# "always", type1 and iommufd, 256 MiB, then 1 GiB (type1) for the 1 GiB
# leaf. Last, because the "always" runs free contiguous memory.
vfio_policy_sides 256 $SWEEP 3 0x200000000 0x300000000 0x400000000 0x500000000
for policy in never always; do
	contig_policy $policy || fail_bench "contig policy $policy"
	[ $policy = never ] && iova=0x600000000 || iova=0x700000000
	out=$(vfio_edu --size 1024 --iova $iova --offsets $SWEEP --cycles 3 \
		--backing nothp --json) ||
		fail_bench "vfio_edu type1, policy $policy, 1024 MiB"
	emit vfio-policy-1024M fragmented "type1/$policy" "${out:-null}"
done
# M3 and M6 with contig in ib_umem_get(): ibv_reg_mr of 256 MiB and 1 GiB,
# policy "never" against "always", then unmodified perftest over rxe from
# 4 KiB to 8 MiB messages and with 128 MiB messages (256 MiB buffers).
rdma_policy_sides 256 3
rdma_policy_sides 1024 2
perftest_policy_sweep 4096 65536 1048576 8388608 134217728
contig_policy madvise
stop_fragmenter || fail_bench "fragmenter found corrupt pages"
exit $bench_failed
