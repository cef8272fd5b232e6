# SPDX-License-Identifier: GPL-2.0
#
# Helpers for guest benchmarks (sourced after lib.sh). A benchmark prints
# one "CONTIG-BENCH-JSON {...}" line per measurement; scripts/bench-report.py
# gathers them on the host into build/bench/results.json.

# emit SCENARIO MEMORY SIDE JSON: one measurement. MEMORY is the state of
# physical memory (fresh, fragmented, ...), SIDE the kernel path measured
# ("stock": contig not involved; later issues add "contig").
emit() {
	echo "CONTIG-BENCH-JSON {\"scenario\": \"$1\", \"memory\": \"$2\", \"side\": \"$3\", \"result\": $4}"
}

fail_bench() {
	echo "CONTIG-BENCH-ERROR $*"
	bench_failed=1
}

# Average bandwidth (MB/s) from a perftest client report.
perftest_bw_avg() {
	awk '$1 ~ /^[0-9]+$/ && NF >= 5 { bw = $4 } END { print bw + 0 }' "$1"
}

# vfio_policy_sides SIZE OFFSETS CYCLES IOVA...: on the memory as it is,
# map a SIZE MiB buffer of 4 KiB pages (MADV_NOHUGEPAGE: a THP fault
# would take the 2 MiB blocks an earlier "always" run freed, so every run
# starts from scattered pages) for the edu device through VFIO type1 and
# iommufd, with contig's policy "never", then "always". Each run takes
# the next IOVA of the list: the host attributes QEMU's IOTLB events to a
# run by its IOVA range. OFFSETS DMA round trips spread over the buffer
# are the IOTLB sweep; CYCLES repeated map/unmap cycles time the map of a
# buffer that is already in place. Leaves the policy at "madvise".
vfio_policy_sides() {
	size=$1 offsets=$2 cycles=$3
	shift 3
	for policy in never always; do
		contig_policy $policy || fail_bench "contig policy $policy"
		for iface in type1 iommufd; do
			iova=$1
			shift
			out=$(vfio_edu --size "$size" --iova "$iova" \
				--offsets "$offsets" --cycles "$cycles" \
				--iface $iface --backing nothp --json) ||
				fail_bench "vfio_edu $iface, policy $policy, $size MiB"
			emit vfio-policy-${size}M fragmented "$iface/$policy" \
				"${out:-null}"
		done
	done
	contig_policy madvise
}

# The clean 2 MiB and 1 GiB windows contig could fill now, as JSON
# (/sys/kernel/debug/contig/windows).
windows_json() {
	awk '$1 == "2M" { c2 = $3 } $1 == "1G" { c1 = $3; b1 = $4 }
	     END { printf "{\"clean_windows_2m\": %d, \"clean_windows_1g\": %d, \"fewest_blocked_1g\": %d}", c2, c1, b1 }' \
		/sys/kernel/debug/contig/windows
}
