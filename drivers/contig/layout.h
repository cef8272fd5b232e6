/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internal interface of the layout inspector, shared with its KUnit suite.
 */
#ifndef _CONTIG_LAYOUT_H
#define _CONTIG_LAYOUT_H

#include <linux/contig_dma.h>

/**
 * struct contig_layout_acc - accumulates a layout from (VA, PFN) extents
 * @out: the layout being filled in
 * @start: first VA of the range
 * @key: DMA key address of @start
 * @run_va: first VA of the open run
 * @run_pfn: first PFN of the open run
 * @run_pages: pages in the open run, 0 when none is open
 *
 * Extents must be added in increasing VA order; the walker guarantees it.
 */
struct contig_layout_acc {
	struct contig_layout *out;
	unsigned long start;
	u64 key;
	unsigned long run_va;
	unsigned long run_pfn;
	unsigned long run_pages;
};

void contig_layout_acc_init(struct contig_layout_acc *acc,
			    struct contig_layout *out, unsigned long start,
			    unsigned long len, u64 key);
void contig_layout_acc_add(struct contig_layout_acc *acc, unsigned long va,
			   unsigned long pfn, unsigned long nr);
void contig_layout_acc_finish(struct contig_layout_acc *acc);
int contig_layout_check_range(unsigned long start, unsigned long len, u64 key);

#endif /* _CONTIG_LAYOUT_H */
