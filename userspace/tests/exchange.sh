#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# mm/exchange.c: what it must keep for the pages' other owners and what it
# must refuse (exchange_regress); a COW-shared page, and hugetlb and KSM
# refusals; then minutes of exchanges between the pages of processes
# that keep writing and verifying them (anon, THP, a forked COW pair, a
# memfd shared by two processes; in two memory cgroups) while they munmap,
# mremap, fork and madvise and another process makes memory pressure. Every
# exchange shows up in the tracepoint and in /proc/vmstat, no page may come
# back corrupt, and each cgroup's statistics return to zero.
. /contig/lib.sh
CONTIG_TEST_NAME=exchange
SECONDS_OF_STRESS=${EXCHANGE_STRESS_SECONDS:-60}
fail=0
events=/sys/kernel/tracing/events/exchange/mm_exchange_folios

# Workers in two memory cgroups: exchanges cross them, and each cgroup's
# statistics must come back to zero once its workers are gone.
cg=/sys/fs/cgroup
mkdir -p $cg
mount -t cgroup2 none $cg
echo +memory > $cg/cgroup.subtree_control
mkdir $cg/w0 $cg/w1

# What an exchange keeps for the other owner of a page: COW copies written
# from both sides (THP and mTHP), mlock, soft-dirty; what it refuses.
exchange_regress > /tmp/regress.out 2>&1 || fail=1
cat /tmp/regress.out
grep -q "^RESULT checks=" /tmp/regress.out ||
	{ log "FAIL: exchange_regress did not finish"; fail=1; }

echo 2 > /proc/sys/vm/nr_hugepages
# 64 KiB mTHPs for the cow-mthp worker
mthp=/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled
mthp_was=$(sed -n 's/.*\[\(.*\)\].*/\1/p' $mthp)
echo always > $mthp
echo 0 > /sys/kernel/tracing/trace
echo 1 > $events/enable
EXCHANGE_CGROUPS=$cg/w exchange_stress "$SECONDS_OF_STRESS" > /tmp/stress.out 2>&1 || fail=1
echo 0 > $events/enable
cat /tmp/stress.out
echo "$mthp_was" > $mthp
echo 0 > /proc/sys/vm/nr_hugepages

sleep 3	# the periodic memcg statistics flush runs every 2 s
for g in w0 w1; do
	stats=$(grep -E '^(anon|shmem|file|anon_thp|shmem_thp|file_mapped|unevictable) ' $cg/$g/memory.stat | tr '\n' ' ')
	log "cgroup $g after its workers exited: $stats"
	echo "$stats" | grep -q '[1-9]' &&
		{ log "FAIL: cgroup $g statistics did not return to zero"; fail=1; }
done
rmdir $cg/w0 $cg/w1
umount $cg

result() { sed -n 's/.*RESULT //p' /tmp/stress.out | tr ' ' '\n' | sed -n "s/^$1=//p"; }
done_pairs=$(result done)
vm=$(result vmstat_success)
traced=$(grep -c "mm_exchange_folios:.*result=done" /sys/kernel/tracing/trace)
log "exchanged $done_pairs pairs in ${SECONDS_OF_STRESS}s, vmstat exchange_success +$vm, tracepoint done events $traced"
grep -m 3 "mm_exchange_folios:" /sys/kernel/tracing/trace
[ "${done_pairs:-0}" -gt 1000 ] || { log "FAIL: too few exchanges to stress anything"; fail=1; }
[ "$vm" = "$done_pairs" ] || { log "FAIL: vmstat exchange_success disagrees"; fail=1; }
# Plus the functional checks' exchanges. The ring buffer may have
# wrapped: it can hold fewer, never more.
[ "$traced" -gt 0 ] && [ "$traced" -le $((vm + $(result functional_done))) ] ||
	{ log "FAIL: tracepoint events do not match"; fail=1; }
grep "^exchange_" /proc/vmstat
[ $fail = 0 ] && log "exchange stress: zero corruptions"
exit $fail
