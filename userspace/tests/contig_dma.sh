#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# /dev/contig_dma, the user interface: contig_dma_test runs both ioctls
# through their happy paths and every refusal of the errno table, with no
# byte of memory changed by a refused request. Then the contigctl tool,
# run at another process (contig_dma_test --hold, holding a scattered,
# patterned 64 MiB buffer): query, prepare (JSON: fewer runs after),
# stats, policy (set and restored), its usage and error exits, and --help.
# The holder verifies its buffer when stopped. All steps run; any failure
# fails the test.
. /contig/lib.sh
CONTIG_TEST_NAME=contig_dma
SYS=/sys/kernel/mm/contig_dma
fifo=/tmp/contig_dma.ready
fails=0

fail() {
	log "FAIL: $*"
	fails=$((fails + 1))
}

# run EXPECTED_RC NAME CMD...: run CMD with stdout in $out, stderr in
# $err; fails unless it exits with EXPECTED_RC.
run() {
	want=$1
	name=$2
	shift 2
	"$@" > /tmp/contig_dma.out 2> /tmp/contig_dma.err
	rc=$?
	out=$(cat /tmp/contig_dma.out)
	err=$(cat /tmp/contig_dma.err)
	echo "\$ $*"
	[ -n "$out" ] && echo "$out"
	[ -n "$err" ] && echo "$err" >&2
	if [ "$rc" != "$want" ]; then
		fail "$name: exit status $rc, expected $want"
		return 1
	fi
	return 0
}

# The number after "NAME": in one line of JSON, inside object OBJ.
json_num() {
	echo "$1" | sed -n "s/.*\"$2\": *{[^}]*\"$3\": *\([0-9][0-9]*\).*/\1/p"
}

# The selected value of a THP-style "a [b] c" file
selected() {
	sed -n 's/.*\[\(.*\)\].*/\1/p' "$1"
}

[ -c /dev/contig_dma ] || fail "/dev/contig_dma is missing"

log "contig_dma_test:"
contig_dma_test
rc=$?
[ $rc = 0 ] || fail "contig_dma_test exited $rc"

# start_holder LOG MODE [MIB]: contig_dma_test MODE $fifo [MIB] in the
# background, its output in LOG (shown); sets $started_pid, and
# $started_addr to its buffer's address, empty (a failure counted) if it
# did not start. The holder opens the FIFO first: if it dies, the read
# sees end of file.
start_holder() {
	rm -f $fifo
	mkfifo $fifo
	contig_dma_test "$2" $fifo $3 > "$1" 2>&1 &
	started_pid=$!
	read -r started_addr read_pid < $fifo
	rm -f $fifo
	cat "$1"
	if [ -z "$started_addr" ] || [ "$read_pid" != "$started_pid" ]; then
		fail "the holder ($2) did not start (read '$started_addr' '$read_pid', pid $started_pid)"
		started_addr=
	fi
}

start_holder /tmp/contig_dma.hold --hold
holder=$started_pid pid=$started_pid addr=$started_addr

if [ -n "$addr" ]; then
	if run 0 "query" contigctl query --pid "$pid" "$addr" 64M; then
		echo "$out" | grep -q "runs " ||
			fail "query: no 'runs ' in its output"
	fi

	# The request must show in the tracepoint and in /proc/vmstat
	T=/sys/kernel/tracing
	echo > $T/trace
	echo 1 > $T/events/contig_dma/enable || fail "no contig_dma tracepoints"
	vm_before=$(awk '$1 == "contig_dma_request" { print $2 }' /proc/vmstat)
	if run 0 "prepare --json" contigctl prepare --pid "$pid" --json --progress "$addr" 64M; then
		lines=$(echo "$out" | wc -l)
		before=$(json_num "$out" before runs)
		after=$(json_num "$out" after runs)
		chunks=$(json_num "$out" after chunks_2m)
		log "prepare: runs ${before:-?} -> ${after:-?}, ${chunks:-?} congruent 2 MiB chunks after"
		[ "$lines" = 1 ] || fail "prepare --json: $lines lines, expected one object"
		case "$out" in
		"{"*"}") ;;
		*) fail "prepare --json: not one JSON object" ;;
		esac
		echo "$out" | grep -q '"command": *"prepare"' ||
			fail "prepare --json: no \"command\":\"prepare\""
		times=$(echo "$out" | sed -n 's/.*"times": *\({[^}]*}\).*/\1/p')
		log "prepare: times ${times:-none}"
		echo "$times" | grep -q '"plan_ns": *[1-9][0-9]*,"index_ns": *[0-9]*,"search_ns": *[1-9]' ||
			fail "prepare --json: no plan/index/search times"
		# --progress: a line per second once a request passes 1 s
		ns=$(echo "$out" | sed -n 's/.*"ns": *\([0-9][0-9]*\).*/\1/p')
		if [ "${ns:-0}" -gt 1500000000 ]; then
			echo "$err" | grep -q "contigctl: preparing 64 MiB: .* s, about [0-9]* pages moved" ||
				fail "prepare --progress: no progress line in $((ns / 1000000)) ms"
		fi
		if [ -z "$before" ] || [ -z "$after" ]; then
			fail "prepare --json: no before.runs or after.runs"
		elif [ "$after" -ge "$before" ]; then
			fail "prepare: runs $before -> $after, no fewer"
		fi
	fi
	echo 0 > $T/events/contig_dma/enable
	ev=$(grep "contig_dma_prepare:" $T/trace)
	echo "$ev"
	echo "$ev" | grep -q "len=0x4000000 .*user=explicit outcome=prepared ret=0" ||
		fail "no contig_dma_prepare event for the 64 MiB request"
	echo "$ev" | grep -q "len=0x4000000 .* plan_ns=[1-9][0-9]* index_ns=[0-9]* search_ns=[1-9][0-9]*" ||
		fail "the contig_dma_prepare event lacks the plan/index/search split"
	vm_after=$(awk '$1 == "contig_dma_request" { print $2 }' /proc/vmstat)
	[ "$((${vm_after:-0} - ${vm_before:-0}))" -ge 1 ] ||
		fail "/proc/vmstat contig_dma_request went from '$vm_before' to '$vm_after'"
fi

# PREPARE --populate=write at another process's 16 MiB, of which only
# every other page was ever written: the holes are filled (most at their
# target frames, on this quiet memory), every page is then present in one
# congruent run, and the holder finds its pages intact and the holes zero.
start_holder /tmp/contig_dma.half --hold-half 16
half=$started_pid hpid=$started_pid haddr=$started_addr
if [ -n "$haddr" ]; then
	in_place=$(cat $SYS/stats/pages_populated_in_place)
	if run 0 "prepare --populate=write" contigctl prepare --pid "$hpid" \
		--populate=write --json "$haddr" 16M; then
		pop=$(echo "$out" | sed -n 's/.*"populated": *\([0-9][0-9]*\)}.*/\1/p')
		after=$(json_num "$out" after runs)
		chunks=$(json_num "$out" after chunks_2m)
		in_place=$(($(cat $SYS/stats/pages_populated_in_place) - in_place))
		log "prepare --populate: ${pop:-?} pages populated ($in_place at their target), ${after:-?} runs, ${chunks:-?} congruent 2 MiB chunks"
		[ "$pop" = 2048 ] || fail "prepare --populate: populated '${pop}', expected 2048"
		[ "$in_place" -gt 0 ] || fail "prepare --populate: no hole filled at its target"
		[ "$chunks" = 8 ] || fail "prepare --populate: ${chunks:-?} chunks, expected 8"
	fi
	kill -TERM "$half"
	wait "$half" || fail "the half-written holder exited $?"
	cat /tmp/contig_dma.half
	grep -q "now 4096 present pages, [0-9]* runs, 8 congruent" /tmp/contig_dma.half ||
		fail "the holder did not see 4096 present pages in 8 congruent chunks"
	grep -q "VERIFY pages=4096 corrupt=0" /tmp/contig_dma.half ||
		fail "the half-written buffer was not verified intact"
fi

if run 0 "stats" contigctl stats; then
	n=$(echo "$out" | sed -n 's/^[[:space:]]*requests[[:space:]:=]*\([0-9][0-9]*\).*/\1/p' | head -n 1)
	log "stats: requests ${n:-?} (sysfs: $(cat $SYS/stats/requests 2>/dev/null))"
	[ "${n:-0}" -ge 1 ] || fail "stats: requests is '${n}', expected >= 1"
fi

prev=$(selected $SYS/enabled)
log "policy: enabled is '$prev'"
if run 0 "policy" contigctl policy; then
	echo "$out" | grep -q "enabled" || fail "policy: 'enabled' not shown"
	echo "$out" | grep -q "$prev" ||
		fail "policy: the current mode '$prev' not shown"
fi
if run 0 "policy enabled=never" contigctl policy enabled=never; then
	grep -q '\[never\]' $SYS/enabled ||
		fail "policy enabled=never: $SYS/enabled reads '$(cat $SYS/enabled)'"
fi
run 0 "policy enabled=$prev" contigctl policy enabled="$prev"
# Whatever contigctl did, later tests get the policy they expect.
[ "$(selected $SYS/enabled)" = "$prev" ] || {
	fail "policy enabled=$prev did not restore it"
	echo "$prev" > $SYS/enabled
}
# A bad value: the kernel refuses it (1), or contigctl already does (2).
contigctl policy enabled=sometimes
rc=$?
[ $rc = 1 ] || [ $rc = 2 ] || fail "policy enabled=sometimes: exit status $rc, expected 1 or 2"
[ "$(selected $SYS/enabled)" = "$prev" ] ||
	fail "policy enabled=sometimes changed enabled to '$(selected $SYS/enabled)'"

run 2 "unknown option" contigctl query --frobnicate 0x1000 4K
run 2 "unknown command" contigctl frobnicate
run 2 "missing LEN" contigctl query 0x1000
# Page 1 is never mapped: the kernel refuses with ENOMEM.
if run 1 "unmapped range" contigctl prepare 0x1000 4K; then
	echo "$err" | grep -q ENOMEM || fail "unmapped range: stderr does not mention ENOMEM"
fi
if run 0 "--help" contigctl --help; then
	echo "$out$err" | grep -qi examples || fail "--help: no EXAMPLES section"
fi

if kill -0 "$holder" 2>/dev/null; then
	kill -TERM "$holder"
fi
wait "$holder"
rc=$?
cat /tmp/contig_dma.hold
[ $rc = 0 ] || fail "the holder exited $rc"
grep -q "VERIFY pages=[1-9][0-9]* corrupt=0" /tmp/contig_dma.hold ||
	fail "the holder's buffer was not verified intact"

log "$fails failures"
[ $fails = 0 ]
