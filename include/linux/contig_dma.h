/* SPDX-License-Identifier: GPL-2.0 */
/*
 * contig: on-demand physical contiguity for DMA.
 *
 * A driver that is about to pin a user range for a device can ask contig to
 * report (and, later in the series, rearrange) the physical layout of that
 * range as the device will see it: the range [start, start + len) of an mm
 * appears to the device at DMA key address @key (the VA itself for RDMA
 * without an IOMMU, the IOVA for VFIO/iommufd).
 *
 * See Documentation/mm/contig_dma.rst.
 */
#ifndef _LINUX_CONTIG_DMA_H
#define _LINUX_CONTIG_DMA_H

#include <linux/types.h>

struct mm_struct;

/**
 * struct contig_layout - physical layout of a user range, as a device sees it
 * @pages: base pages in the range
 * @present: pages currently mapped to a page frame
 * @runs: maximal runs of present pages that are contiguous both in the
 *	range and physically; what one scatterlist entry or one
 *	iommu_map() call covers
 * @longest_run: pages in the longest run
 * @chunks_2m: 2 MiB chunks, aligned in DMA key space, that lie inside one
 *	run whose physical address is congruent with the key modulo 2 MiB:
 *	the chunks an IOMMU or MTT can map with one 2 MiB entry
 * @chunks_1g: the same for 1 GiB
 */
struct contig_layout {
	unsigned long pages;
	unsigned long present;
	unsigned long runs;
	unsigned long longest_run;
	unsigned long chunks_2m;
	unsigned long chunks_1g;
};

#ifdef CONFIG_CONTIG_DMA
int contig_layout_query(struct mm_struct *mm, unsigned long start,
			unsigned long len, u64 key,
			struct contig_layout *layout);
#else
static inline int contig_layout_query(struct mm_struct *mm,
				      unsigned long start, unsigned long len,
				      u64 key, struct contig_layout *layout)
{
	return -EOPNOTSUPP;
}
#endif

#endif /* _LINUX_CONTIG_DMA_H */
