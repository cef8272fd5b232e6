#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make demo: a 256 MiB anonymous buffer mapped for the edu device through
# VFIO, on fresh memory and on fragmented memory. Prints what the device
# gets: physically contiguous runs, IOMMU leaves, iommu_map calls.
. /contig/lib.sh
. /contig/bench-lib.sh
bench_failed=0

guest_vfio_bind || fail_bench "vfio bind"
out=$(vfio_edu --size 256 --iova 0x40000000 --offsets 16 --json) ||
	fail_bench "vfio_edu on fresh memory"
emit vfio-map-anon-256M fresh stock "${out:-null}"

start_fragmenter || { fail_bench "fragmenter"; exit 1; }
blocks=$(free_huge_blocks)
emit fragmenter fragmented stock "{\"free_order9_blocks\": $blocks}"
out=$(vfio_edu --size 256 --iova 0x100000000 --offsets 16 --json) ||
	fail_bench "vfio_edu on fragmented memory"
emit vfio-map-anon-256M fragmented stock "${out:-null}"
stop_fragmenter || fail_bench "fragmenter found corrupt pages"
exit $bench_failed
