#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make bench's populate case (issue 17), in a 4 GiB guest of its own so
# that every run meets memory as the fragmenter left it and not the
# contiguous buffers earlier "always" runs freed: a 256 MiB buffer of
# 4 KiB pages written 0 %, 50 % or 100 % before a VFIO type1 map and an
# ibv_reg_mr, policy never against always, two repetitions each; then an
# unwritten MADV_HUGEPAGE buffer (the stock fault path compacts memory
# for its THPs); then a buffer written whole and shared copy-on-write
# with a child, whose every page the pin copies. vfio_edu and
# rdma_loopback verify every byte and that the pages written before read
# back, those not written read zero, and each side of a fork its own.
. /contig/lib.sh
. /contig/bench-lib.sh
bench_failed=0

guest_rxe_up || fail_bench "rxe setup"
guest_vfio_bind || fail_bench "vfio bind"
start_fragmenter || { fail_bench "fragmenter"; exit 1; }
emit windows fragmented stock "$(windows_json)"
populate_policy_sides 256 2 0x40000000
stop_fragmenter || fail_bench "fragmenter found corrupt pages"
exit $bench_failed
