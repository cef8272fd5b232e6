#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Soft-RoCE over eth0: ibv_reg_mr of 64 MiB buffers, RDMA WRITE and READ
# loopback at offsets across them with every byte verified, SEND/RECV,
# atomics, memory windows and mid-page MRs (rdma_loopback), rxe's MR page
# table as "rdma -dd" shows it, and an unmodified ib_write_bw
# client/server pair completing.
. /contig/lib.sh
CONTIG_TEST_NAME=rdma
guest_rxe_up || exit 1
ibv_devinfo -d rxe0 | grep -E "hca_id|state|active_mtu"
rdma_loopback --dev rxe0 --size 64 --offsets 16 \
	--while-registered "rdma -dd res show mr dev rxe0 > /tmp/rdma.mrs" || exit 1
# rxe reports each MR's page size and page table ("rdma -dd")
cat /tmp/rdma.mrs
grep -q "drv_page_size [0-9]* drv_pages [0-9]* drv_page_table_bytes [0-9]*" /tmp/rdma.mrs ||
	{ log "FAIL: no page_size/pages/page_table_bytes in rdma -dd res show mr"; exit 1; }
perftest_pair ib_write_bw -s 65536 -n 200 > /tmp/bw.out 2>&1
rc=$?
cat /tmp/bw.out
[ $rc = 0 ] || exit 1
# The client's result row: bytes, iterations, BW peak, BW average, MPPS.
grep -Eq '^ *65536 +200 ' /tmp/bw.out || { log "FAIL: no ib_write_bw result row"; exit 1; }
exit 0
