#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The range defragmentation engine (debugfs contig/defrag) on memory the
# fragmenter holds: with only order-0 pages free, and with a long-term
# pinned page in every 2 MiB window of three 128 MiB stretches in four
# (--unmovable), so that the anchor search must find the clean ones. A 256 MiB buffer
# of each kind (anonymous 4 KiB, THP, memfd) must end up with every 2 MiB
# chunk congruent with the key, one run per window the engine chose (8
# windows at most) where pins are scattered, and in one run where nothing
# is pinned (a chunk re-anchored because a frame of its window was taken
# during the request may split a run in three: 2 more runs allowed for
# each); the same with less than 3 % of memory free, mostly by exchanging
# pages with the fragmenter;
# and (with free memory) requests must survive an munmap of part of the
# buffer and a forked child sharing it. The fragmenter itself must leave no
# free 2 MiB block, put its pins where it says, and keep the layout halves
# in agreement (this test is the fragmenter's test too). No byte may change: defrag_test verifies its own
# memory, the fragmenter every page it held when it is stopped (the pages
# it got in exchange included). Malformed requests must be refused.
. /contig/lib.sh
CONTIG_TEST_NAME=defrag
KEY=0x40000000	# 2 MiB (and 1 GiB) aligned, whatever the buffer's VA
fail=0

result() { sed -n 's/.*RESULT //p' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
r() { result /tmp/defrag.out "$1"; }

# refuse REQUEST ERRNO: the write of REQUEST must fail with ERRNO.
refuse() {
	out=$(defrag_test --raw "$1")
	rc=$?
	echo "$out"
	if [ $rc != 0 ]; then
		log "FAIL: request '$1' was accepted"
		fail=1
	elif ! echo "$out" | grep -q "errno=$2 "; then
		log "FAIL: request '$1' refused, but not with errno $2"
		fail=1
	fi
}

# run NAME ARGS...: defrag_test on a 256 MiB buffer at key $KEY; output in
# /tmp/defrag.out. Fails (and says so) if defrag_test did: corruption,
# layout mismatch, refused request, or a child that saw a wrong byte.
run() {
	name=$1
	shift
	blocks=$(free_huge_blocks)
	defrag_test --size 256 --key $KEY "$@" > /tmp/defrag.out 2>&1
	rc=$?
	cat /tmp/defrag.out
	if [ $rc != 0 ]; then
		log "FAIL: $name: defrag_test exited $rc"
		fail=1
		return 1
	fi
	ns=$(r ns)
	log "$name: runs $(r runs_before) -> $(r runs_after), 2M chunks $(r chunks_2m_before) -> $(r chunks_2m_after), migrated $(r migrated), exchanged $(r exchanged), failed $(r failed), re-anchored $(r reanchors), $((${ns:-0} / 1000000)) ms; $(r free_pct) % free, $blocks free 2 MiB blocks before"
}

# runs_within NAME N: at most N runs, 2 more for each re-anchored chunk.
runs_within() {
	reanchors=$(r reanchors)
	expect "$1" runs_after -le $(($2 + 2 * ${reanchors:-0}))
}

# one_run_per_window NAME: with pins scattered (--unmovable), how many
# windows a buffer needs depends on how many clean 128 MiB stretches the
# other suites' kernel allocations left (2 to 6 for 256 MiB so far); what
# the engine owes is one run per window it chose (2 more for each
# re-anchored chunk), each window a 32 MiB piece at least.
one_run_per_window() {
	segments=$(r segments)
	expect "$1" segments -le 8
	runs_within "$1" "${segments:-0}"
}

# expect NAME FIELD TEST VALUE: the RESULT's FIELD passes [ FIELD TEST VALUE ].
expect() {
	got=$(r "$2")
	[ "${got:-missing}" "$3" "$4" ] 2>/dev/null && return 0
	log "FAIL: $1: $2 is ${got:-missing}, expected $3 $4"
	fail=1
}

run_mode() {
	mode=$1
	label=${mode#--}
	label=${label:-free}
	if ! start_fragmenter $mode; then
		log "FAIL: fragmenter $mode did not get ready"
		wait $frag_pid
		fail=1
		return
	fi
	# The fragmenter test insists on none; here a stray block re-formed
	# from per-CPU lists (seen once after --unmovable's pinning) is
	# tolerated: what matters is that each buffer starts scattered,
	# which runs_before checks below.
	blocks=$(free_huge_blocks)
	log "mode $label: $blocks free 2 MiB blocks with the fragmenter holding its memory"
	[ "$blocks" -le 2 ] || { log "FAIL: memory is not fragmented"; fail=1; }
	check_fragmenter "$mode"

	for kind in anon thp memfd; do
		name="$label $kind"
		run "$name" --kind $kind || continue
		one_run_per_window "$name"
		expect "$name" chunks_2m_after -eq 128
		expect "$name" present -eq "$(r pages)"
		# 4 KiB pages from fragmented memory: scattered to begin with
		[ $kind = thp ] || expect "$name" runs_before -gt 60000
		# Without pins some clean 256 MiB stretch exists.
		if [ -z "$mode" ]; then
			runs_within "$name" 1
			expect "$name" failed -eq 0
		fi
	done

	# Less than 3 % of memory free: the few free frames are scattered,
	# so the engine reaches the same layout by exchanging with the
	# fragmenter's pages (M7).
	name="$label fill-to-3%"
	if run "$name" --kind anon --fill-to 3; then
		one_run_per_window "$name"
		expect "$name" chunks_2m_after -eq 128
		expect "$name" exchanged -gt "$(r migrated)"
		[ -z "$mode" ] && runs_within "$name" 1
	fi

	# Buffers freed above left contiguous free windows behind: filling
	# memory again makes these requests exchange while the range is
	# unmapped or shared under them. In the first mode only (time).
	races=""
	[ -z "$mode" ] && races="anon:munmap anon:fork memfd:fork"
	for c in $races; do
		name="$label ${c%:*} concurrent ${c#*:}"
		run "$name" --kind ${c%:*} --concurrent ${c#*:} --fill-to 5 ||
			continue
		runs_within "$name" 4
		expect "$name" exchanged -gt 0
	done

	stop_fragmenter
	rc=$?
	[ $rc = 0 ] || { log "FAIL: fragmenter exited $rc (corrupt pages?)"; fail=1; }
	grep -q "VERIFY pages=[1-9][0-9]* corrupt=0" /tmp/frag.out ||
		{ log "FAIL: fragmenter's pages not verified"; fail=1; }
}

# What the fragmenter promises (the other tests that use it rely on it):
# no free block of order >= 9 in any zone when it is ready; with
# --unmovable, a long-term pinned page in most 2 MiB windows of the memory
# it took and clean 128 MiB stretches in between; and the layout halves
# agree on the memory it fragmented.
check_fragmenter() {
	after=$(result /tmp/frag.out free_order9_after)
	[ "$after" = 0 ] || { log "FAIL: fragmenter: $after free 2 MiB blocks at ready"; fail=1; }
	if [ "$1" = --unmovable ]; then
		pinned=$(result /tmp/frag.out pinned_windows)
		clean=$(result /tmp/frag.out clean_windows)
		windows=$(($(result /tmp/frag.out taken_mib) / 2))
		log "fragmenter --unmovable: $pinned windows hold a long-term pinned page, $clean left clean, of $windows windows' worth taken"
		# It took memory everywhere and holds every other page of it;
		# three stretches in four get pins, the fourth none.
		[ "$((pinned + clean))" -ge $((windows * 9 / 10)) ] ||
			{ log "FAIL: fragmenter: held windows neither pinned nor clean"; fail=1; }
		[ "${clean:-0}" -gt 0 ] ||
			{ log "FAIL: fragmenter: no clean window left"; fail=1; }
		[ "$pinned" -ge $((windows * 6 / 10)) ] ||
			{ log "FAIL: fragmenter: unmovable pages not scattered"; fail=1; }
	fi
	layout_agree 16 > /tmp/agree.out 2>&1 ||
		{ cat /tmp/agree.out; log "FAIL: layout halves disagree on fragmented memory"; fail=1; }
	grep "anon-4k key=0x[0-9a-f]* pagemap" /tmp/agree.out | head -n 1
}

# Any live process will do as a target: these fail before looking at it.
refuse "$$ 0x40000000 0" 22
refuse "$$ 0x40000001 0x1000" 22
refuse "999999 0x40000000 0x1000" 3
refuse "make it contiguous" 22

run_mode ""
run_mode --unmovable
exit $fail
