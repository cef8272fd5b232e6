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

# populate_policy_sides SIZE REPS IOVA: on the memory as it is, a SIZE MiB
# buffer of 4 KiB pages (MADV_NOHUGEPAGE) of which 0 %, 50 % or 100 % is
# written before a VFIO type1 map at IOVA (vfio_edu) and before an
# ibv_reg_mr (rdma_loopback), policy never REPS times, then always REPS
# times (an "always" run frees a contiguous buffer that a later "never"
# run would get: never first). Then an unwritten MADV_HUGEPAGE buffer
# (the fault path compacts for THPs) both ways, and a buffer shared
# copy-on-write with a child (the pin copies it) both ways, through both
# interfaces. Each run's JSON carries
# its repetition and contig's pages_populated(_in_place) deltas; the
# report compares medians. Leaves the policy at "madvise".
populate_policy_sides() {
	size=$1 reps=$2 iova=$3
	for pct in 0 50 100; do
		for policy in never always; do
			contig_policy $policy || fail_bench "contig policy $policy"
			rep=1
			while [ $rep -le "$reps" ]; do
				populate_run "$size" vfio nothp $pct $policy $rep "$iova"
				populate_run "$size" rdma nothp $pct $policy $rep "$iova"
				rep=$((rep + 1))
			done
		done
	done
	for policy in never always; do
		contig_policy $policy || fail_bench "contig policy $policy"
		populate_run "$size" vfio thp 0 $policy 1 "$iova"
	done
	# Written whole, then shared copy-on-write with a child: the pin
	# copies every page (backing "fork")
	for policy in never always; do
		contig_policy $policy || fail_bench "contig policy $policy"
		populate_run "$size" vfio fork 100 $policy 1 "$iova"
		populate_run "$size" rdma fork 100 $policy 1 "$iova"
	done
	contig_policy madvise
}

# populate_run SIZE vfio|rdma BACKING PCT POLICY REP IOVA: one run of
# populate_policy_sides. BACKING "fork" is 4 KiB pages written whole and
# shared copy-on-write with a child across the map.
populate_run() {
	size=$1 what=$2 backing=$3 pct=$4 policy=$5 rep=$6 iova=$7
	buf="--backing $backing --populated $pct"
	[ "$backing" = fork ] && buf="--backing nothp --fork"
	stats=/sys/kernel/mm/contig_dma/stats
	pop=$(cat $stats/pages_populated)
	inplace=$(cat $stats/pages_populated_in_place)
	evicted=$(cat $stats/pages_evicted)
	thps=$(cat $stats/thp_populated)
	T=/sys/kernel/tracing
	echo > $T/trace
	echo 1 > $T/events/contig_dma/contig_dma_prepare/enable
	if [ "$what" = vfio ]; then
		out=$(vfio_edu --size "$size" --iova "$iova" --offsets 16 \
			$buf --json) ||
			fail_bench "vfio_edu $backing $pct %, policy $policy, $size MiB"
	else
		out=$(rdma_loopback --size "$size" --peer-size 16 --offsets 16 \
			$buf --skip-extra --json 2>/tmp/rdma.err) ||
			{ cat /tmp/rdma.err; fail_bench "rdma_loopback $pct %, policy $policy, $size MiB"; }
	fi
	pop=$(($(cat $stats/pages_populated) - pop))
	inplace=$(($(cat $stats/pages_populated_in_place) - inplace))
	evicted=$(($(cat $stats/pages_evicted) - evicted))
	thps=$(($(cat $stats/thp_populated) - thps))
	echo 0 > $T/events/contig_dma/contig_dma_prepare/enable
	# Where the time went: the requests' events (ns, plan, index, search)
	grep "contig_dma_prepare:" $T/trace | sed 's/^.*contig_dma_prepare: /contig_dma_prepare: /'
	emit populate-${size}M fragmented "$what/$backing/$pct/$policy" \
		"{\"rep\": $rep, \"populated\": $pop, \"populated_in_place\": $inplace, \"evicted\": $evicted, \"thp_populated\": $thps, \"run\": ${out:-null}}"
}

# The clean 2 MiB and 1 GiB windows contig could fill now, as JSON
# (/sys/kernel/debug/contig/windows).
windows_json() {
	awk '$1 == "2M" { c2 = $3 } $1 == "1G" { c1 = $3; b1 = $4 }
	     END { printf "{\"clean_windows_2m\": %d, \"clean_windows_1g\": %d, \"fewest_blocked_1g\": %d}", c2, c1, b1 }' \
		/sys/kernel/debug/contig/windows
}

# rdma_policy_sides SIZE CYCLES: on the memory as it is, ibv_reg_mr() of a
# SIZE MiB buffer of 4 KiB pages (MADV_NOHUGEPAGE, as for VFIO) with
# contig's policy "never", then "always": RDMA WRITE/READ over rxe at
# offsets across it, every byte verified; the first registration, the
# repeated one and CYCLES more re-registrations timed; and, while it is
# registered, what the kernel made of it (ib_umem:ib_umem_layout: sg
# entries, page size and DMA blocks for the mlx5, irdma and bnxt_re
# bitmaps) and what rxe keeps for it ("rdma -dd res show mr"). Leaves the
# policy at "madvise".
rdma_policy_sides() {
	size=$1 cycles=$2
	len=$((size << 20))
	echo 1 > /sys/kernel/tracing/events/ib_umem/ib_umem_layout/enable
	for policy in never always; do
		contig_policy $policy || fail_bench "contig policy $policy"
		rdma_snapshot_clear
		out=$(rdma_loopback --size "$size" --peer-size 64 --offsets 16 \
			--backing nothp --reg-cycles "$cycles" --skip-extra \
			--json --while-registered "$RDMA_SNAPSHOT" 2>/tmp/rdma.err) ||
			{ cat /tmp/rdma.err; fail_bench "rdma_loopback, policy $policy, $size MiB"; }
		emit rdma-policy-${size}M fragmented "$policy" \
			"{\"loopback\": ${out:-null}, \"umem\": $(umem_json "$len"), \"rxe_mr\": $(rxe_mr_json "$len")}"
	done
	echo 0 > /sys/kernel/tracing/events/ib_umem/ib_umem_layout/enable
	contig_policy madvise
}

UMEM_FIELDS="sg_entries mlx5_pgsz mlx5_blocks irdma_pgsz irdma_blocks bnxt_re_pgsz bnxt_re_blocks"

# The last ib_umem_layout event of the snapshot for a LEN-byte umem, as JSON.
umem_json() {
	umem_layout "$1" 1 $UMEM_FIELDS |
		awk -v names="$UMEM_FIELDS" '
		{
			split(names, k, " ")
			s = ""
			for (i = 1; i <= NF; i++)
				s = s (i > 1 ? ", " : "") "\"" k[i] "\": " $i
			print "{" s "}"
			found = 1
		}
		END { if (!found) print "null" }'
}

# rxe's page table of the first LEN-byte MR of the snapshot, as JSON.
rxe_mr_json() {
	rxe_mr_pages "$1" |
		awk 'NR == 1 { printf "{\"page_size\": %s, \"pages\": %s, \"page_table_bytes\": %s}", $1, $2, $3; found = 1 }
		     END { if (!found) printf "null" }'
}

# perftest_policy_sweep SIZES...: unmodified ib_write_bw, ib_read_bw and
# ib_send_bw over rxe (server and client in this guest) at each message
# size, with contig's policy "never", then "always", about 64 MiB moved per
# point (at least 5 messages). perftest's buffer is twice the message
# size, so a large message size is also the large-buffer run. Each point
# also records the largest MR perftest registered, as the kernel saw it.
# Leaves the policy at "madvise".
perftest_policy_sweep() {
	echo 1 > /sys/kernel/tracing/events/ib_umem/ib_umem_layout/enable
	for policy in never always; do
		contig_policy $policy || fail_bench "contig policy $policy"
		for tool in ib_write_bw ib_read_bw ib_send_bw; do
			for s in "$@"; do
				n=$((67108864 / s))
				[ $n -lt 5 ] && n=5
				[ $n -gt 2000 ] && n=2000
				echo > /sys/kernel/tracing/trace
				if perftest_pair $tool -s "$s" -n "$n" > /tmp/bw.out 2>&1; then
					cat /sys/kernel/tracing/trace > /tmp/rdma.trace
					emit perftest fragmented "$policy" \
						"{\"tool\": \"$tool\", \"size\": $s, \"iters\": $n, \"bw_avg_mbps\": $(perftest_bw_avg /tmp/bw.out), \"umem\": $(largest_umem_json)}"
				else
					cat /tmp/bw.out
					fail_bench "$tool -s $s, policy $policy"
				fi
			done
		done
	done
	echo 0 > /sys/kernel/tracing/events/ib_umem/ib_umem_layout/enable
	contig_policy madvise
}

# The largest umem of the snapshot, as JSON (perftest's data buffer).
largest_umem_json() {
	local len
	len=$(grep "ib_umem_layout:" /tmp/rdma.trace |
		sed -n 's/.* length=\([0-9]*\) .*/\1/p' | sort -n | tail -n 1)
	[ -n "$len" ] && umem_json "$len" || echo null
}
