#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the guests `make test` needs, two at a time, and report.
#
# A guest under TCG keeps about one host core busy (the tests are mostly
# one process at a time), so on a 2-core host two guests side by side take
# little longer than one. For SUITES=all the guest tests are split in two
# lanes of about equal length:
#   lane 1: the test guest (KUnit at boot, then every guest test that is not
#           in lane 2), then the guest of its own (two NUMA nodes, a CMA
#           area) for the tests marked "# own guest:";
#   lane 2: a second test guest (no KUnit) for SECOND_GUEST_SUITES.
# A list of suites runs in the test guest, and its own-guest tests, if it
# names any, in their guest beside it.
#
# usage: test-guests.sh   (everything from the environment, set by the
#        Makefile: SUITES KUNIT_FILTER BZIMAGE INITRD OUT TEST_TIMEOUT
#        GUEST_ARGS TEST_ARGS SECOND_GUEST_SUITES
#        OWN_GUEST_MEM OWN_GUEST_ARGS OWN_GUEST_TIMEOUT KUNIT_PY)
set -uo pipefail

cd "$(dirname "$0")/.."
mkdir -p "$OUT"

# Guest tests (userspace/tests/*.sh), split by the "# own guest:" marker.
own_all=$(grep -l '^# own guest:' userspace/tests/*.sh |
	sed 's|.*/||; s|\.sh$||' | tr '\n' ' ')
plain_all=$(grep -L '^# own guest:' userspace/tests/*.sh |
	sed 's|.*/||; s|\.sh$||' | tr '\n' ' ')

is_in() { case " $2 " in *" $1 "*) return 0 ;; esac; return 1; }

main= second= own=
if [ "$SUITES" = all ]; then
	second_list=$(echo "$SECOND_GUEST_SUITES" | tr ',' ' ')
	for t in $second_list; do
		is_in "$t" "$plain_all" ||
			{ echo "test: SECOND_GUEST_SUITES names $t, not a guest test" >&2; exit 2; }
	done
	for t in $plain_all; do
		if is_in "$t" "$second_list"; then
			second=$second${second:+,}$t
		else
			main=$main${main:+,}$t
		fi
	done
	own=$(echo $own_all | tr ' ' ',')
else
	for t in $(echo "$SUITES" | tr ',' ' '); do
		if is_in "$t" "$own_all"; then
			own=$own${own:+,}$t
		else
			main=$main${main:+,}$t
		fi
	done
fi

kunit=${KUNIT_FILTER:+kunit.filter_glob=$KUNIT_FILTER}

# guest LANE WHAT TIMEOUT ARGS...: boot the test kernel, console in
# $OUT/console<-LANE>.log, exit status in $OUT/.rc-LANE.
guest() {
	lane=$1 what=$2 limit=$3
	shift 3
	console=$OUT/console${lane#main}.log
	echo "test: booting $what"
	scripts/run-guest.sh "$BZIMAGE" "$INITRD" "$console" "$limit" "$@"
	rc=$?
	echo $rc > "$OUT/.rc-$lane"
	echo "test: $what: exit $rc after $(( $(date +%s) - began )) s, console log in $console"
}

rm -f "$OUT"/.rc-* "$OUT"/console*.log
began=$(date +%s)
pids=()
if [ -n "$second" ]; then
	guest -2 "a second test guest ($second)" \
		"$TEST_TIMEOUT" $GUEST_ARGS $TEST_ARGS kunit.enable=0 \
		contig.tests="$second" &
	pids+=($!)
fi
(
	if [ -n "$main" ]; then
		guest main "the test guest (KUnit at boot, then $main)" \
			"$TEST_TIMEOUT" $GUEST_ARGS $TEST_ARGS contig.tests="$main" \
			$kunit
	fi
	[ -n "$own" ] && GUEST_NODES=2 GUEST_MEM=$OWN_GUEST_MEM \
		guest -own "the two-node guest with a CMA area ($own)" \
			"$OWN_GUEST_TIMEOUT" $OWN_GUEST_ARGS contig.tests="$own"
) &
pids+=($!)
wait "${pids[@]}"
echo "test: the guests took $(( $(date +%s) - began )) s"

args=()
for lane in main -2 -own; do
	[ -f "$OUT/.rc-$lane" ] || continue
	args+=(--console "$OUT/console${lane#main}.log"
	       --guest-rc "$(cat "$OUT/.rc-$lane")")
done
[ -n "$main" ] && args+=(--expect-kunit)
exec scripts/report.py "${args[@]}" --kunit-py "$KUNIT_PY" \
	--json "$OUT/results.json"
