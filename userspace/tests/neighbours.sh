#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# own guest: make test boots a guest of two NUMA nodes with a CMA area
# (cma=) for this test alone; the "all" of the main test guest leaves it out.
#
# contig and the rest of mm (neighbours_test): windows only on nodes the
# requester may use; no exchange that moves another process's page to a
# node its cpuset or its VMA's policy forbids (and, as a control, such
# exchanges for a process free to use both nodes); nothing placed in CMA
# pageblocks; a 1 GiB hugetlb allocation racing with PREPAREs, and no
# free frame left isolated afterwards. Every page checked.
. /contig/lib.sh
CONTIG_TEST_NAME=neighbours
cg=/sys/fs/cgroup

if [ ! -d /sys/devices/system/node/node1 ]; then
	log "FAIL: one NUMA node: this test needs the two-node guest that make test boots for it"
	exit 1
fi
mkdir -p $cg
grep -q " $cg cgroup2 " /proc/mounts || mount -t cgroup2 none $cg || exit 1
echo +cpuset > $cg/cgroup.subtree_control || exit 1
mkdir -p $cg/confined $cg/free
echo 1 > $cg/confined/cpuset.mems || exit 1
echo 0-1 > $cg/free/cpuset.mems || exit 1
neighbours_test $cg/confined $cg/free
rc=$?
rmdir $cg/confined $cg/free
exit $rc
