#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Soft-RoCE over eth0: ibv_reg_mr of a 64 MiB buffer, RDMA WRITE and READ
# loopback at offsets across it with every byte verified, and an unmodified
# ib_write_bw client/server pair completing.
. /contig/lib.sh
CONTIG_TEST_NAME=rdma
guest_rxe_up || exit 1
ibv_devinfo -d rxe0 | grep -E "hca_id|state|active_mtu"
rdma_loopback --dev rxe0 --size 64 --offsets 16 || exit 1
perftest_pair ib_write_bw -s 65536 -n 200 > /tmp/bw.out 2>&1
rc=$?
cat /tmp/bw.out
[ $rc = 0 ] || exit 1
# The client's result row: bytes, iterations, BW peak, BW average, MPPS.
grep -Eq '^ *65536 +200 ' /tmp/bw.out || { log "FAIL: no ib_write_bw result row"; exit 1; }
exit 0
