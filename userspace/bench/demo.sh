#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make demo: a 256 MiB anonymous buffer mapped for the edu device through
# VFIO, on fresh memory and on fragmented memory; then, on the same
# fragmented memory, a 256 MiB buffer of another process that contigctl
# queries, prepares (/dev/contig_dma PREPARE) and queries again; then
# 256 MiB buffers mapped through VFIO type1 and iommufd with contig's
# policy "never" and "always", and a 256 MiB ibv_reg_mr and perftest over
# rxe the same way. Prints what the device gets: physically contiguous
# runs, congruent chunks, IOMMU leaves, iommu_map calls, map latency,
# IOTLB misses, sg entries and MR pages, registration latency, bandwidth;
# and contigctl's own output.
. /contig/lib.sh
. /contig/bench-lib.sh
bench_failed=0

# show CMD...: run CMD, its output (and the command) shown by make demo
show() {
	echo "CONTIG-SHOW \$ $*"
	"$@" > /tmp/demo.out 2>&1
	rc=$?
	sed 's/^/CONTIG-SHOW /' /tmp/demo.out
	return $rc
}

guest_vfio_bind || fail_bench "vfio bind"
# The stock kernel's paths first: contig turns every driver request away.
contig_policy never || fail_bench "contig policy never"
out=$(vfio_edu --size 256 --iova 0x40000000 --offsets 16 --json) ||
	fail_bench "vfio_edu on fresh memory"
emit vfio-map-anon-256M fresh stock "${out:-null}"

start_fragmenter || { fail_bench "fragmenter"; exit 1; }
blocks=$(free_huge_blocks)
emit fragmenter fragmented stock "{\"free_order9_blocks\": $blocks}"
emit windows fragmented stock "$(windows_json)"
echo "CONTIG-SHOW Clean windows contig could fill on the fragmented memory:"
show cat /sys/kernel/debug/contig/windows || fail_bench "contig/windows"
out=$(vfio_edu --size 256 --iova 0x100000000 --offsets 16 --json) ||
	fail_bench "vfio_edu on fragmented memory"
emit vfio-map-anon-256M fragmented stock "${out:-null}"

# contigctl on a process's 256 MiB buffer, scattered over fragmented memory
fifo=/tmp/demo.ready
rm -f $fifo
mkfifo $fifo
contig_dma_test --hold $fifo 256 > /tmp/demo.hold 2>&1 &
holder=$!
read -r addr pid < $fifo
rm -f $fifo
if [ -z "$addr" ] || [ "$pid" != "$holder" ]; then
	cat /tmp/demo.hold
	fail_bench "the buffer's holder did not start"
else
	echo "CONTIG-SHOW contig_dma on fragmented memory ($(free_huge_blocks) free 2 MiB blocks): process $pid, 256 MiB at $addr"
	show contigctl query --pid "$pid" "$addr" 256M ||
		fail_bench "contigctl query"
	out=$(contigctl query --pid "$pid" --json "$addr" 256M) ||
		fail_bench "contigctl query --json"
	emit contigctl-256M fragmented "before PREPARE" "${out:-null}"
	show contigctl prepare --pid "$pid" "$addr" 256M ||
		fail_bench "contigctl prepare"
	show contigctl query --pid "$pid" "$addr" 256M ||
		fail_bench "contigctl query after prepare"
	show contigctl stats || fail_bench "contigctl stats"
	out=$(contigctl query --pid "$pid" --json "$addr" 256M) ||
		fail_bench "contigctl query --json"
	emit contigctl-256M fragmented "after PREPARE" "${out:-null}"
	kill -TERM "$holder"
	wait "$holder" || fail_bench "the buffer's holder found corrupt pages"
	echo "CONTIG-SHOW $(tail -n 1 /tmp/demo.hold)"
fi

# The same fragmented memory through VFIO's map paths, contig's policy
# "never" against "always", VFIO type1 and iommufd.
vfio_policy_sides 256 64 2 0x200000000 0x300000000 0x400000000 0x500000000

# The same through ibv_reg_mr over rxe: what the kernel and rxe made of a
# 256 MiB registration, and perftest's bandwidth, never against always.
guest_rxe_up || fail_bench "rxe setup"
rdma_policy_sides 256 2
# Memory not written before the map or the registration (a VMM's guest
# RAM, a fresh pool): contig fills it at its target frames.
for policy in never always; do
	contig_policy $policy || fail_bench "contig policy $policy"
	populate_run 64 vfio nothp 0 $policy 1 0x600000000
	populate_run 64 rdma nothp 0 $policy 1 0x600000000
done
contig_policy madvise
perftest_policy_sweep 65536 8388608

stop_fragmenter || fail_bench "fragmenter found corrupt pages"
exit $bench_failed
