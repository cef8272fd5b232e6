#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The fragmenter leaves no free block of order >= 9 in any zone; its
# --unmovable mode also puts a long-term pinned page into nearly every 2 MiB
# window of the memory it took, except in the 128 MiB stretches it leaves
# clean (one in four); the layout halves still agree on fragmented memory;
# and every page the fragmenter held reads back intact.
. /contig/lib.sh
CONTIG_TEST_NAME=fragmenter
fail=0

result() { sed -n 's/.*RESULT //p' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

run_mode() {
	mode=$1
	if ! start_fragmenter $mode; then
		log "FAIL: fragmenter $mode did not get ready"
		wait $frag_pid
		fail=1
		return
	fi
	cat /proc/buddyinfo
	after=$(result /tmp/frag.out free_order9_after)
	held=$(result /tmp/frag.out held_mib)
	# Right now, not only when the fragmenter measured.
	now=$(free_huge_blocks)
	log "mode '${mode:-free}': holding $held MiB, free order>=9 blocks: $after at ready, $now now"
	[ "$after" = 0 ] || { log "FAIL: free 2 MiB blocks remain"; fail=1; }
	# Pages other processes free after the fragmenter measured (the
	# previous test's, per-CPU lists drained) can complete a free block
	# or two; compaction, which the fragmenter turned off, would undo
	# the fragmentation wholesale.
	[ "$now" -le 2 ] || { log "FAIL: $now free 2 MiB blocks came back (compaction?)"; fail=1; }
	if [ "$mode" = --unmovable ]; then
		pinned=$(result /tmp/frag.out pinned_windows)
		clean=$(result /tmp/frag.out clean_windows)
		windows=$(($(result /tmp/frag.out taken_mib) / 2))
		log "unmovable: $pinned windows hold a long-term pinned page, $clean left clean; the fragmenter took $windows windows' worth of memory"
		# It took memory everywhere and holds every other page of it;
		# three stretches in four get pins, the fourth none.
		[ "$((pinned + clean))" -ge $((windows * 9 / 10)) ] ||
			{ log "FAIL: held windows neither pinned nor clean"; fail=1; }
		[ "${clean:-0}" -gt 0 ] ||
			{ log "FAIL: no clean window left"; fail=1; }
		[ "$pinned" -ge $((windows * 6 / 10)) ] ||
			{ log "FAIL: unmovable pages not scattered"; fail=1; }
	fi
	layout_agree 16 > /tmp/agree.out 2>&1 || { cat /tmp/agree.out; log "FAIL: layout halves disagree on fragmented memory"; fail=1; }
	grep "anon-4k key=0x[0-9a-f]* pagemap" /tmp/agree.out | head -n 1
	stop_fragmenter
	rc=$?
	[ $rc = 0 ] || { log "FAIL: fragmenter exited $rc (corrupt pages?)"; fail=1; }
	grep -q "VERIFY pages=[1-9][0-9]* corrupt=0" /tmp/frag.out ||
		{ log "FAIL: held pages not verified"; fail=1; }
}

run_mode ""
run_mode --unmovable
exit $fail
