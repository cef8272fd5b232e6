#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# contig in VFIO's map paths, on memory the fragmenter left without a free
# 2 MiB block: the edu device behind the emulated VT-d, buffers mapped at
# 1 GiB-aligned IOVAs through VFIO type1, iommufd as a VFIO container and
# iommufd natively (IOMMU_IOAS_MAP), with contig's policy "never" (the
# stock kernel's result) and "always".
#
# Every map is checked by vfio_edu: the IOMMU leaves are the largest the
# buffer's physical layout allows, the iommu_map calls match its runs,
# 64 edu DMA round trips spread over the buffer copy exactly, every page of
# the buffer is intact afterwards, and the unmap releases every pin. With
# "always", the buffer must also be one run congruent with its IOVA (the
# floor: 2 MiB leaves, and 1 GiB leaves for 1 GiB at a 1 GiB-aligned
# IOVA); an IOVA off by 4 KiB must still map and DMA correctly. Maps are
# repeated to check that a remap passes the same checks against the
# layout at that time (khugepaged may collapse an unpinned buffer between
# two maps) and leaks no pin. The 1 GiB maps run with a bystander: a
# second thread's 64 KiB map and unmap in the same container or IOAS must
# be done while contig still works on the big one (no lock held for it);
# with iommufd the unmap is of everything, and must find no half-made
# area of the big map.
# A 64 MiB buffer written not at all or half (the map's pin populates the
# rest; it must read zero), or shared copy-on-write with a forked child
# (the pin copies it; each side must then see only its own writes), must
# map at the floor too: contig does what the pin will before placing.
# Its memory cgroup must be charged for them as for the pin's faults.
# A task without CAP_IPC_LOCK and with RLIMIT_MEMLOCK 0 must have its map
# refused (ENOMEM) without contig having been asked to prepare the range.
# contig's statistics must show the "never" maps turned away by the
# policy and the "always" maps prepared. The fragmenter verifies every
# page it held at the end.
. /contig/lib.sh
CONTIG_TEST_NAME=vfio_contig
SYS=/sys/kernel/mm/contig_dma
fails=0

fail() {
	log "FAIL: $*"
	fails=$((fails + 1))
}

stat() { cat $SYS/stats/$1; }

policy() {
	contig_policy "$1" || { fail "cannot set policy $1"; return 1; }
	log "policy: enabled=$(cat $SYS/enabled) vfio=$(cat $SYS/vfio)"
}

MOVES="requests requests_skipped requests_partial pages_migrated pages_exchanged pages_failed_unmovable pages_failed_pinned pages_failed_busy pages_failed_nomem pages_failed_migrate pages_failed_split chunks_1g chunks_2m"

# What contig did between two calls, from its statistics.
moves_mark() {
	for m in $MOVES; do eval "mark_$m=$(stat $m)"; done
}
moves_since_mark() {
	line=
	for m in $MOVES; do
		eval "d=\$((\$(stat $m) - mark_$m))"
		[ "$d" = 0 ] || line="$line $m=$d"
	done
	log "contig:${line:- nothing}"
}

# map NAME ARGS...: one vfio_edu run, 64 DMA round trips over the buffer.
map() {
	name=$1
	shift
	log "== $name ($(free_huge_blocks) free 2 MiB blocks): vfio_edu $*"
	moves_mark
	vfio_edu --offsets 64 "$@" || fail "$name"
	moves_since_mark
}

# clean_windows 2M|1G: windows of that size a request could fill now
clean_windows() {
	awk -v size="$1" '$1 == size { print $3 }' /sys/kernel/debug/contig/windows
}

# map1g NAME ARGS...: 1 GiB at a 1 GiB-aligned IOVA. The floor is one
# 1 GiB leaf when a clean 1 GiB window exists, 2 MiB leaves otherwise.
map1g() {
	name=$1
	shift
	clean=$(clean_windows 1G)
	log "$name: $clean clean 1 GiB windows, $(clean_windows 2M) clean 2 MiB windows"
	if [ "${clean:-0}" -gt 0 ]; then
		map "$name" "$@" --expect-contig --expect-1g
	else
		map "$name" "$@" --expect-contig
	fi
}

guest_vfio_bind || exit 1
saved_enabled=$(sed 's/.*\[\(.*\)\].*/\1/' $SYS/enabled)
saved_vfio=$(cat $SYS/vfio)
saved_rdma=$(cat $SYS/rdma)
start_fragmenter || { log "FAIL: fragmenter did not get ready"; exit 1; }
log "fragmented: $(free_huge_blocks) free 2 MiB blocks"

# The stock kernel's result first, while the memory is as the fragmenter
# left it: the buffers freed by later "always" runs leave contiguous blocks.
policy never
skipped=$(stat requests_skipped)
map "type1 never 256M" --size 256 --iova 0x40000000 --cycles 1
map "iommufd never 256M" --size 256 --iova 0x40000000 --iface iommufd
[ $(($(stat requests_skipped) - skipped)) -ge 3 ] ||
	fail "policy never: $(($(stat requests_skipped) - skipped)) maps counted as skipped, expected 3"

policy always
requests=$(stat requests)
chunks=$(stat chunks_2m)
map "type1 always 256M anon" --size 256 --iova 0x40000000 --expect-contig --cycles 2
map "type1 always 256M THP off" --size 256 --iova 0x40000000 --backing nothp --expect-contig
map "type1 always 256M MADV_HUGEPAGE" --size 256 --iova 0x40000000 --backing thp --expect-contig
map "type1 always 256M memfd" --size 256 --iova 0x40000000 --backing memfd --expect-contig
# Memory the map's pin populates, and memory shared copy-on-write with a
# child (the pin copies it): contig does what the pin will first
populated=$(stat pages_populated)
in_place=$(stat pages_populated_in_place)
map "type1 always 64M THP off, none written" --size 64 --backing nothp --populated 0 --expect-contig
map "type1 always 64M THP off, half written" --size 64 --backing nothp --populated 50 --expect-contig
map "iommufd always 64M THP off, half written" --size 64 --backing nothp --populated 50 --iface iommufd --expect-contig
map "iommufd always 64M memfd, none written" --size 64 --backing memfd --populated 0 --iface iommufd --expect-contig
# With THP on (MADV_HUGEPAGE), a whole 2 MiB of holes whose target is a
# whole free block gets one PMD-mapped THP there
thps=$(stat thp_populated)
map "type1 always 64M MADV_HUGEPAGE, none written" --size 64 --backing thp --populated 0 --expect-contig
thps=$(($(stat thp_populated) - thps))
fork_in_place=$(stat pages_populated_in_place)
changed=$(stat requests_changed_by_pin)
fork_chunks=$(stat chunks_2m)
map "type1 always 64M THP off, shared with a child" --size 64 --backing nothp --fork --expect-contig
fork_in_place=$(($(stat pages_populated_in_place) - fork_in_place))
changed=$(($(stat requests_changed_by_pin) - changed))
fork_chunks=$(($(stat chunks_2m) - fork_chunks))
# What the statistics count is the layout read after the pin: the 32
# chunks the IOMMU mapped (vfio_edu checked its leaves), with nothing the
# pin changed (before, the pin's copies undid the layout counted)
[ $changed -eq 0 ] || fail "$changed maps changed by their pin"
[ $fork_chunks -eq 32 ] ||
	fail "$fork_chunks 2 MiB chunks counted for the shared buffer, expected 32"
populated=$(($(stat pages_populated) - populated))
in_place=$(($(stat pages_populated_in_place) - in_place))
log "contig populated $populated pages for those maps, $in_place of them allocated at their target ($fork_in_place of the copies of the shared buffer), $thps THPs"
# The anonymous holes (16384 + 8192 + 8192 + 16384) and the copies of the
# pages shared with the child (16384) are made at their targets where
# those are free, which the window search prefers, or once the page there
# has been migrated away; the memfd holes come from the fault path.
[ $in_place -gt 0 ] && [ $in_place -le 65536 ] ||
	fail "$in_place pages populated at their target, expected 1 to 65536"
[ $fork_in_place -gt 0 ] ||
	fail "no copy of the shared buffer made at its target"
want=$((16384 + 8192 + 8192 + 16384 + 16384 + 16384))
[ $populated -eq $want ] ||
	fail "contig populated $populated pages, expected $want"
# The memory cgroup pays for what contig populates as it would for the
# pin's faults: over the map of an unwritten 64 MiB, its memory.current
# grows by the buffer's size, and by the same with policy never and
# always (memcg_verdict), through VFIO type1 and through iommufd.
if dir=$(memcg_dir vfio_contig); then
	for iface in type1 iommufd; do
		for p in never always; do
			policy $p
			out=$(vfio_edu --size 64 --backing nothp --populated 0 \
				--offsets 16 --iface $iface --memcg $dir --json) ||
				fail "memcg, $iface, policy $p: vfio_edu failed"
			echo "$out"
			eval "memcg_$p=$(echo "$out" | sed -n 's/.*"memcg_map_bytes":\(-\{0,1\}[0-9]*\).*/\1/p')"
		done
		policy always
		log "$iface: memory.current grew by ${memcg_never:-?} bytes over the map with policy never, ${memcg_always:-?} with always"
		why=$(memcg_verdict "$memcg_never" "$memcg_always" $((64 << 20))) ||
			fail "$iface: $why"
	done
	rmdir $dir
else
	fail "no memory cgroup"
fi
map1g "type1 always 1G anon" --size 1024 --iova 0x40000000 --bystander
map "type1 always 256M at IOVA + 4 KiB" --size 256 --iova 0x40001000
map "type1 always, no memlock allowance" --size 64 --no-memlock
map "iommufd always, no memlock allowance" --size 64 --iface iommufd --no-memlock
map "compat always 256M" --size 256 --iova 0x40000000 --iface compat --expect-contig --cycles 2
map "iommufd always 256M" --size 256 --iova 0x40000000 --iface iommufd --expect-contig --cycles 2
map1g "iommufd always 1G" --size 1024 --iova 0x40000000 --iface iommufd --bystander
log "contig statistics: $(($(stat requests) - requests)) requests, $(($(stat chunks_2m) - chunks)) congruent 2 MiB chunks made"
[ $(($(stat chunks_2m) - chunks)) -gt 0 ] ||
	fail "policy always: contig made no congruent 2 MiB chunk"

echo "$saved_enabled" > $SYS/enabled
echo "$saved_vfio" > $SYS/vfio
echo "$saved_rdma" > $SYS/rdma
stop_fragmenter || fail "fragmenter did not verify its pages (exit $rc)"
[ $fails = 0 ] || { log "$fails failures"; exit 1; }
exit 0
