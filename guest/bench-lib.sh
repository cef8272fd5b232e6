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
