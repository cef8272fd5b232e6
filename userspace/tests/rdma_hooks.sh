#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# contig in ib_umem_get(), where it meets the rest of RDMA (umem_hooks_test,
# contig's policy "always", on rxe0):
#  - iova: ibv_reg_mr_iova() at an IOVA not congruent with the VA modulo
#    2 MiB gets 2 MiB MR pages or more at that IOVA (contig keyed to the
#    IOVA, not the VA), every byte intact;
#  - removal: while a 1 GiB registration is being prepared, "rdma res
#    show" answers at once, and "rdma link delete rxe0" stops contig's
#    work on it: partial, within 5 s (without the stop it ran 6 to 8 s
#    on, to the end). The removal waits for uverbs' SRCU section around
#    the registration, so it must not wait for contig.
# rxe0 is added again at the end.
. /contig/lib.sh
CONTIG_TEST_NAME=rdma_hooks
SYS=/sys/kernel/mm/contig_dma
T=/sys/kernel/tracing
fails=0

saved_enabled=$(sed 's/.*\[\(.*\)\].*/\1/' $SYS/enabled)
saved_rdma=$(cat $SYS/rdma)
guest_rxe_up || { log "FAIL: no rxe0"; exit 1; }
contig_policy always || { log "FAIL: cannot set policy always"; exit 1; }
echo 1 > $T/events/ib_umem/ib_umem_layout/enable &&
	echo 1 > $T/events/contig_dma/contig_dma_prepare/enable ||
	{ log "FAIL: no ib_umem_layout or contig_dma_prepare event"; exit 1; }

umem_hooks_test iova || fails=$((fails + 1))
umem_hooks_test removal || fails=$((fails + 1))

echo 0 > $T/events/ib_umem/ib_umem_layout/enable
echo 0 > $T/events/contig_dma/contig_dma_prepare/enable
echo "$saved_enabled" > $SYS/enabled
echo "$saved_rdma" > $SYS/rdma
guest_rxe_up || { log "FAIL: rxe0 could not be added again"; fails=$((fails + 1)); }
[ $fails -eq 0 ]
