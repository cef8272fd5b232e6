#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Random CONTIG_DMA_PREPAREs (random stretches, keys unaligned to 2 MiB and
# 1 GiB, page sizes, time bounds, exchanges only or not), from two
# processes at once, at three processes that keep rewriting, munmapping,
# mremapping, MADV_DONTNEEDing and forking over their anonymous, THP and
# memfd memory (prepare_torture.c). Every word of every page is checked at
# the end, and by each forked child; a request may fail only with an errno
# of a range that changed under it; no splat.
. /contig/lib.sh
CONTIG_TEST_NAME=prepare_torture
fail=0

result() { sed -n 's/.*RESULT //p' /tmp/torture.out | tr ' ' '\n' | sed -n "s/^$1=//p"; }

prepare_torture "${PREPARE_TORTURE_SECONDS:-45}" 3 2 > /tmp/torture.out 2>&1 || fail=1
cat /tmp/torture.out
[ -n "$(result requests)" ] || { log "FAIL: prepare_torture did not finish"; fail=1; }
[ "$(result unaligned_keys)" -gt 0 ] 2>/dev/null ||
	{ log "FAIL: no request with an unaligned key"; fail=1; }
[ "$(result done)" -gt 0 ] 2>/dev/null || { log "FAIL: no request succeeded"; fail=1; }
log "$(result requests) requests ($(result unaligned_keys) with unaligned keys, $(result reanchors) re-anchors, $(result moved) pages moved), $(result corrupt) corrupt words, $(result child_corrupt) children that saw corruption"
[ $fail = 0 ] && log "prepare torture: every byte intact"
exit $fail
