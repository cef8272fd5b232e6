/* SPDX-License-Identifier: GPL-2.0 */
/*
 * contig: on-demand physical contiguity for DMA.
 *
 * A driver that is about to pin a user range for a device asks contig to
 * rearrange the range's pages first, so that the device can map it with a
 * few large entries: contig_dma_prepare(). The range [start, start + len)
 * of an mm appears to the device at DMA key address @key (the VA itself
 * for RDMA without an IOMMU, the IOVA for VFIO/iommufd). After pinning,
 * contig_layout_query() reports what the device got.
 *
 * See Documentation/driver-api/contig_dma.rst.
 */
#ifndef _LINUX_CONTIG_DMA_H
#define _LINUX_CONTIG_DMA_H

#include <linux/types.h>
#include <linux/vma_defrag.h>
#include <uapi/linux/contig_dma.h>

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
 * @cow_shared: present anonymous pages not exclusive to this mm (shared
 *	copy-on-write after a fork()), which a long-term pin replaces with a
 *	copy of its own
 * @zero: present mappings of the shared zero page, which a long-term pin
 *	replaces with a page of its own
 */
struct contig_layout {
	unsigned long pages;
	unsigned long present;
	unsigned long runs;
	unsigned long longest_run;
	unsigned long chunks_2m;
	unsigned long chunks_1g;
	unsigned long cow_shared;
	unsigned long zero;
};

/* Who is asking: the policy has a switch per subsystem. */
enum contig_dma_user {
	CONTIG_DMA_USER_RDMA,		/* ib_umem_get() */
	CONTIG_DMA_USER_VFIO,		/* VFIO type1 and iommufd */
	CONTIG_DMA_USER_EXPLICIT,	/* /dev/contig_dma: not policy-gated */
	NR_CONTIG_DMA_USERS
};

/* Move pages by exchange only (tests, benchmarks); needs CAP_SYS_NICE */
#define CONTIG_DMA_EXCHANGE_ONLY	BIT(0)
/*
 * Touch no other process's page: only free frames are used, pages shared
 * with another process stay. Implied for a caller without CAP_SYS_NICE
 * (see contig_dma_prepare()).
 */
#define CONTIG_DMA_FREE_ONLY		BIT(1)
/*
 * First do what the caller's long-term pin will do to the range, so that
 * the pages placed are the ones the device gets: fill what is not
 * populated (in private anonymous memory, at the target frames) and copy
 * what is shared copy-on-write (see contig_dma_prepare()). With
 * CONTIG_DMA_PIN_WRITE the pin is writable (FOLL_WRITE), without it
 * read-only.
 */
#define CONTIG_DMA_POPULATE		BIT(2)
#define CONTIG_DMA_PIN_WRITE		BIT(3)
/*
 * The caller pins the range next and then calls contig_dma_pinned(): the
 * layout the statistics count (bytes_contiguous, chunks_*) is read then,
 * from what the pin left, rather than from what contig_dma_prepare() left.
 */
#define CONTIG_DMA_PIN_REPORT		BIT(4)

/**
 * struct contig_dma_request - a range a device is about to map
 * @start: first VA, page aligned
 * @len: bytes, page aligned, not zero
 * @key: address at which the device sees @start, page aligned
 * @pgsize_bitmap: page sizes the device or IOMMU can map, PAGE_SIZE
 *	included; 0 for 4 KiB, 2 MiB and 1 GiB
 * @user: the subsystem asking
 * @flags: CONTIG_DMA_* flags
 * @max_pages: pages to move at most; 0 for the policy's bound only
 * @max_ns: time at most, checked between moves; 0 for the policy's bound only
 * @claims: NULL, or where contig_dma_prepare() hands over its claims on the
 *	frames it chose, which keep other requests off them until the caller
 *	has pinned the range and calls contig_dma_pinned() or
 *	contig_dma_unclaim(); NULL drops them
 *	when contig_dma_prepare() returns
 * @stop: NULL, or asked while populating, between moves and during the
 *	window search (cheap, may not sleep): true stops the request where
 *	it is, as a time bound would. For a caller whose device may go away
 *	meanwhile.
 * @stop_arg: @stop's argument
 */
struct contig_dma_request {
	unsigned long start;
	unsigned long len;
	u64 key;
	unsigned long pgsize_bitmap;
	enum contig_dma_user user;
	unsigned int flags;
	unsigned long max_pages;
	u64 max_ns;
	struct vma_defrag_claims *claims;
	bool (*stop)(void *arg);
	void *stop_arg;
};

/* What became of a request */
enum contig_dma_outcome {
	CONTIG_DMA_PREPARED,		/* pages were moved (or tried) */
	CONTIG_DMA_IN_PLACE,		/* already as contiguous as it can be */
	CONTIG_DMA_SKIP_EMPTY,		/* nothing populated yet */
	CONTIG_DMA_SKIP_POLICY,		/* disabled, or VMA not MADV_HUGEPAGE */
	CONTIG_DMA_SKIP_SMALL,		/* shorter than min_size */
	CONTIG_DMA_ERROR,		/* contig_dma_prepare() returned < 0 */
	CONTIG_DMA_SKIP_PGSIZE,		/* no PAGE_SIZE in the device's sizes */
	NR_CONTIG_DMA_OUTCOMES
};

/**
 * struct contig_dma_result - what contig_dma_prepare() did
 * @outcome: whether pages were moved, and if not why
 * @moves: the engine's statistics (zero unless @outcome is
 *	CONTIG_DMA_PREPARED)
 * @populated: pages CONTIG_DMA_POPULATE faulted in or copied: present
 *	pages added, and copies made of shared ones
 * @before: the layout found (valid unless skipped by policy or size)
 * @after: the layout left (equal to @before when nothing moved)
 * @pinned: the layout after the caller's pin, what the device maps (set by
 *	contig_dma_pinned(); zero until then)
 * @ns: time spent, layout queries included
 */
struct contig_dma_result {
	enum contig_dma_outcome outcome;
	struct vma_defrag_stats moves;
	unsigned long populated;
	struct contig_layout before;
	struct contig_layout after;
	struct contig_layout pinned;
	u64 ns;
};

#ifdef CONFIG_CONTIG_DMA
int contig_layout_query(struct mm_struct *mm, unsigned long start,
			unsigned long len, u64 key,
			struct contig_layout *layout);
int contig_dma_prepare(struct mm_struct *mm,
		       const struct contig_dma_request *req,
		       struct contig_dma_result *res);
void contig_dma_unclaim(struct vma_defrag_claims *claims);
void contig_dma_pinned(struct mm_struct *mm,
		       const struct contig_dma_request *req,
		       struct contig_dma_result *res, int err);
#else
static inline int contig_layout_query(struct mm_struct *mm,
				      unsigned long start, unsigned long len,
				      u64 key, struct contig_layout *layout)
{
	return -EOPNOTSUPP;
}

static inline int contig_dma_prepare(struct mm_struct *mm,
				     const struct contig_dma_request *req,
				     struct contig_dma_result *res)
{
	return -EOPNOTSUPP;
}

static inline void contig_dma_unclaim(struct vma_defrag_claims *claims)
{
}

static inline void contig_dma_pinned(struct mm_struct *mm,
				     const struct contig_dma_request *req,
				     struct contig_dma_result *res, int err)
{
}
#endif

#endif /* _LINUX_CONTIG_DMA_H */
