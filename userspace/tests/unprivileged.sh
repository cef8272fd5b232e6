#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# /dev/contig_dma as an unprivileged tenant would try it (unprivileged_test,
# a child as uid 65534 without capabilities, checked by its root parent):
# on memory the fragmenter holds, a PREPARE of its own scattered buffer
# moves no page of any other process (a root buffer's PFNs and bytes,
# vmstat exchange_success, and the fragmenter's bytes when stopped), while
# root's still exchanges there and sees the layout; with free memory it
# still makes its own range congruent, by migration only; with
# enabled=never nothing moves; QUERY and exchange-only PREPARE are EPERM,
# a range not 2 MiB aligned EINVAL, an oversized argument E2BIG; and
# RLIMIT_MEMLOCK bounds what it moves (EPERM at 0).
. /contig/lib.sh
CONTIG_TEST_NAME=unprivileged
fails=0

if start_fragmenter; then
	unprivileged_test fragmented || fails=$((fails + 1))
else
	log "FAIL: the fragmenter did not get ready"
	fails=$((fails + 1))
fi
stop_fragmenter || fails=$((fails + 1))
unprivileged_test free || fails=$((fails + 1))
[ $fails -eq 0 ]
