#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# contig in ib_umem_get() and rxe's large MR pages, on memory the
# fragmenter left without a free 2 MiB block, with contig's policy "never"
# (the stock kernel's layout) and "always": ibv_reg_mr() of 256 MiB and
# 1 GiB anonymous buffers with THP on and off, and of a memfd buffer.
#
# rdma_loopback registers the buffer under test (A) and two peers (B, C),
# then does RDMA WRITE, READ, SEND, atomics, memory-window and mid-page MR
# operations at offsets across the whole of A, every byte verified. While
# the MRs are registered it takes a snapshot of ib_umem:ib_umem_layout and
# of "rdma -dd res show mr", and this test checks that:
#  - the kernel's sg entries for A are the physical runs that pagemap shows;
#  - rxe's MR page size and page count are what ib_umem_find_best_pgsz()
#    gives for 4K|2M|1G (the irdma bitmap), for every MR;
#  - with "always", every bitmap gets pages of 2 MiB or more for A (the
#    floor: 1 GiB pages would also need a 1 GiB-aligned buffer), and the
#    block counts are the buffer's size over the page size;
#  - registering, deregistering and registering again in a loop leaves no
#    MR and no page pin behind;
#  - contig's statistics count the "never" registrations as skipped;
#  - a 64 MiB A written not at all or half (the pin populates the rest),
#    or shared copy-on-write with a child (the pin copies it), still gets
#    pages of 2 MiB or more with "always": contig does what the pin will
#    first (pages_populated counts it), every byte checked, the child's
#    copy too; the shared buffer's copies are made at their targets, and
#    no registration's pin changes the layout contig counted;
#  - the memory cgroup of a registration is charged for what contig
#    populates as for the pin's faults.
# The fragmenter verifies every page it held (other processes' memory) at
# the end.
. /contig/lib.sh
CONTIG_TEST_NAME=rdma_contig
SYS=/sys/kernel/mm/contig_dma
T=/sys/kernel/tracing
# B and C: WRITE/READ targets, registered before they are written (so
# contig populates and places them too with "always"); kept small, and
# unlike A's size so that A's MR is the only one of its length
PEER_MIB=16
fails=0

fail() {
	log "FAIL: $*"
	fails=$((fails + 1))
}

stat() { cat $SYS/stats/$1; }
FAIL_REASONS="unmovable pinned busy unsupported nomem migrate split no_window"

# Page pins held system-wide (per-CPU counts folded first).
pins_in_use() {
	echo 1 > /proc/sys/vm/stat_refresh
	awk '$1 == "nr_foll_pin_acquired" { a = $2 }
	     $1 == "nr_foll_pin_released" { r = $2 }
	     END { print a - r }' /proc/vmstat
}

# MRs registered on rxe0 now; empty (so that no comparison passes) if
# rdma cannot tell
mrs_registered() {
	rdma res show mr dev rxe0 > /tmp/rdma_contig.mrlist || return
	grep -c "mrn " /tmp/rdma_contig.mrlist
}

json_field() { sed -n "s/.*\"$1\": *\"*\([^,\"}]*\).*/\1/p" "$2"; }

# reg NAME never|always SIZE_MIB [rdma_loopback args...]
reg() {
	name=$1 policy=$2 size=$3
	shift 3
	len=$((size << 20))
	began=$(uptime_s)
	contig_policy "$policy" || { fail "cannot set policy $policy"; return; }
	log "== $name, policy $policy ($(free_huge_blocks) free 2 MiB blocks)"
	pins=$(pins_in_use)
	mrs=$(mrs_registered)
	for why in $FAIL_REASONS; do eval "failed_$why=$(stat pages_failed_$why)"; done
	rdma_snapshot_clear
	rdma_loopback --json --size "$size" --peer-size $PEER_MIB --offsets 32 \
		--while-registered "$RDMA_SNAPSHOT" \
		"$@" > /tmp/rdma_contig.json 2> /tmp/rdma_contig.err
	rc=$?
	grep -E "error|FAIL|mismatch|^rdma[: ]" /tmp/rdma_contig.err | head -n 20
	cat /tmp/rdma_contig.json
	[ $rc = 0 ] || fail "$name: rdma_loopback exit $rc"
	[ -s /tmp/rdma.trace ] || { fail "$name: no snapshot taken"; return; }

	# A (live at the snapshot) is the last ib_umem_get() of SIZE bytes: the kernel's sg entries must be the
	# runs pagemap shows while it is pinned
	set -- $(umem_layout $len 1 sg_entries irdma_pgsz irdma_blocks mlx5_pgsz mlx5_blocks bnxt_re_pgsz bnxt_re_blocks)
	runs=$(json_field sg_entries /tmp/rdma_contig.json)
	log "$name: A: $1 sg entries (pagemap: $runs runs); blocks: mlx5 $5 x $(($4 >> 10)) KiB, irdma $3 x $(($2 >> 10)) KiB, bnxt_re $7 x $(($6 >> 10)) KiB"
	[ "$1" = "$runs" ] || fail "$name: the kernel's sg entries ($1) are not pagemap's runs ($runs)"

	# What contig did for A's registrations (len is in hex there)
	grep "contig_dma_prepare:.* len=$(printf '%#x' $len) " /tmp/rdma.trace |
		sed 's/.*contig_dma_prepare: /contig: /; s/^/'"$CONTIG_TEST_NAME"': /'

	# Why contig left pages where they were, if it did
	line=
	for why in $FAIL_REASONS; do
		eval "d=\$((\$(stat pages_failed_$why) - failed_$why))"
		[ "$d" = 0 ] || line="$line $why=$d"
	done
	[ -z "$line" ] || log "$name: contig left pages away from their target:$line"

	# rxe picked what ib_umem_find_best_pgsz() allows for 4K|2M|1G
	want="$2 $3"
	got=$(rxe_mr_pages $len | awk '{ print $1, $2 }')
	log "$name: rxe MR of A: $(rxe_mr_pages $len | awk '{ print $2 " pages of " $1 " bytes, page table " $3 " bytes" }')"
	[ -n "$got" ] || sed 's/^/rdma -dd res show mr: /' /tmp/rdma.mrs | head -n 4
	[ "$got" = "$want" ] ||
		fail "$name: rxe MR pages '$got' are not ib_umem_find_best_pgsz's '$want'"

	if [ "$policy" = always ]; then
		# 2 MiB: 1 GiB pages need a 1 GiB-aligned buffer too
		floor=$((2 << 20))
		for pgsz in $2 $4 $6; do
			[ "$pgsz" -ge $floor ] ||
				fail "$name: page size $pgsz below the floor $floor"
		done
		[ "$3" = $((len / $2)) ] ||
			fail "$name: irdma blocks $3, expected $((len / $2))"
	fi
	[ -n "$mrs" ] && [ "$(mrs_registered)" = "$mrs" ] ||
		fail "$name: MRs registered: $mrs before, $(mrs_registered) after"
	[ "$(pins_in_use)" = "$pins" ] || fail "$name: $(($(pins_in_use) - pins)) page pins leaked"
	log "$name, policy $policy: $(($(uptime_s) - began)) s"
}

guest_rxe_up || exit 1
saved_enabled=$(sed 's/.*\[\(.*\)\].*/\1/' $SYS/enabled)
saved_rdma=$(cat $SYS/rdma)
echo 1 > $T/events/ib_umem/ib_umem_layout/enable || { log "FAIL: no ib_umem_layout tracepoint"; exit 1; }
echo 1 > $T/events/contig_dma/contig_dma_prepare/enable
start_fragmenter || { log "FAIL: fragmenter did not get ready"; exit 1; }
log "fragmented: $(free_huge_blocks) free 2 MiB blocks"

# The stock layout first, while the memory is as the fragmenter left it
skipped=$(stat requests_skipped)
reg "256M anon" never 256 --reg-cycles 4
reg "256M THP off" never 256 --backing nothp
reg "256M memfd" never 256 --backing memfd
reg "1G anon" never 1024 --skip-extra --no-repeat
reg "1G THP off" never 1024 --backing nothp --skip-extra --no-repeat
# A (twice at 256 MiB), B and C of every run; mid-page MRs are below
# min_size
[ $(($(stat requests_skipped) - skipped)) -ge 18 ] ||
	fail "policy never: $(($(stat requests_skipped) - skipped)) registrations counted as skipped"

requests=$(stat requests)
reg "256M anon" always 256 --reg-cycles 4
reg "256M THP off" always 256 --backing nothp
reg "256M MADV_HUGEPAGE" always 256 --backing thp
reg "256M memfd" always 256 --backing memfd
reg "1G anon" always 1024 --skip-extra --no-repeat
reg "1G THP off" always 1024 --backing nothp --skip-extra --no-repeat
# Memory the registration's pin populates (a fresh pool): contig does what
# the pin would first, so the pages placed are the ones the MR gets; and a
# buffer shared copy-on-write with a child, whose pages the writable pin
# copies (the child's copy and the parent's stay each as written).
populated=$(stat pages_populated)
in_place=$(stat pages_populated_in_place)
changed=$(stat requests_changed_by_pin)
reg "64M THP off, none written" always 64 --backing nothp --populated 0 --skip-extra --no-repeat
reg "64M THP off, half written" always 64 --backing nothp --populated 50 --skip-extra --no-repeat
reg "64M memfd, none written" always 64 --backing memfd --populated 0 --skip-extra --no-repeat
fork_in_place=$(stat pages_populated_in_place)
reg "64M THP off, shared with a child" always 64 --backing nothp --fork --skip-extra --no-repeat
fork_in_place=$(($(stat pages_populated_in_place) - fork_in_place))
populated=$(($(stat pages_populated) - populated))
in_place=$(($(stat pages_populated_in_place) - in_place))
changed=$(($(stat requests_changed_by_pin) - changed))
log "contig: $(($(stat requests) - requests)) requests, $populated pages populated, $in_place at their target ($fork_in_place in the shared buffer's run, its peers B and C included), $changed changed by the pin"
# The copies of the buffer shared with the child are made at their
# targets (free ones, or emptied by migrating their page away): more
# pages at their target in that run than its peers' 8192 holes
[ $fork_in_place -gt 8192 ] || fail "no copy of the shared buffer made at its target"
# contig's layout is what the pin kept: the statistics count the layout
# read after the pin, and no registration's pin changed it
[ $changed -eq 0 ] || fail "$changed registrations changed by their pin"
# A's holes (16384 + 8192 + 16384) and copies (16384), and every page of
# B and C (16 MiB each, written only once registered), in each of the 4
want=$((16384 + 8192 + 16384 + 16384 + 4 * 2 * 4096))
[ $populated -eq $want ] || fail "contig populated $populated pages, expected $want"

# The memory cgroup pays for what contig populates for ibv_reg_mr() as it
# would for the pin's faults: over the registration of an unwritten
# 64 MiB (A; its peers are registered after), memory.current grows by
# the buffer's size, and by the same with policy never and always
# (memcg_verdict)
if dir=$(memcg_dir rdma_contig); then
	for p in never always; do
		contig_policy $p || fail "cannot set policy $p"
		rdma_loopback --json --size 64 --peer-size $PEER_MIB --offsets 16 \
			--backing nothp --populated 0 --skip-extra --no-repeat \
			--memcg $dir > /tmp/rdma_memcg.json 2> /tmp/rdma_memcg.err ||
			{ cat /tmp/rdma_memcg.err; fail "memcg, policy $p: rdma_loopback failed"; }
		eval "memcg_$p=$(json_field memcg_reg_bytes /tmp/rdma_memcg.json)"
	done
	log "memory.current grew by ${memcg_never:-?} bytes over the registration with policy never, ${memcg_always:-?} with always"
	why=$(memcg_verdict "$memcg_never" "$memcg_always" $((64 << 20))) ||
		fail "$why"
	rmdir $dir
else
	fail "no memory cgroup"
fi

echo 0 > $T/events/ib_umem/ib_umem_layout/enable
echo 0 > $T/events/contig_dma/contig_dma_prepare/enable
echo "$saved_enabled" > $SYS/enabled
echo "$saved_rdma" > $SYS/rdma
stop_fragmenter || fail "fragmenter did not verify its pages (exit $rc)"
[ $fails = 0 ] || { log "$fails failures"; exit 1; }
exit 0
