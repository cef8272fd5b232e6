/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * /dev/contig_dma: ask the kernel to make a user range physically
 * contiguous for DMA ahead of registering it with a device, and query how
 * contiguous it is. See Documentation/admin-guide/mm/contig_dma.rst.
 *
 * Versioning: every ioctl argument starts with __u32 size, set by user
 * space to sizeof() the structure it was built with. New fields are only
 * ever appended; the kernel accepts older (smaller) structures, treating
 * the missing fields as zero, and newer (larger) ones whose extra bytes
 * are all zero (E2BIG otherwise, and for a size above a page). Output
 * fields the caller's structure has no room for are not written.
 * CONTIG_DMA_GET_API_VERSION returns CONTIG_DMA_API_VERSION, raised when
 * the set of ioctls changes.
 *
 * Privilege (see the admin guide's permission table): QUERY, and the
 * layout fields of PREPARE, need CAP_SYS_ADMIN, as PFNs in
 * /proc/pid/pagemap do; without it PREPARE needs start, length and key
 * 2 MiB aligned and aims at 2 MiB pages at most. Moving other processes'
 * pages (exchange, THP splits, pages mapped by others) needs CAP_SYS_NICE;
 * without it PREPARE moves the caller's own pages into free frames only.
 * Without CAP_IPC_LOCK, PREPARE moves at most RLIMIT_MEMLOCK's worth of
 * pages, and is EPERM when that limit is 0.
 */
#ifndef _UAPI_LINUX_CONTIG_DMA_H
#define _UAPI_LINUX_CONTIG_DMA_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

#define CONTIG_DMA_API_VERSION		1
#define CONTIG_DMA_TYPE			0xDC

/* Page sizes when a request gives none: these and the kernel's PAGE_SIZE */
#define CONTIG_DMA_PGSIZES_DEFAULT	0x40201000ULL

/* Request flags */
/* @pidfd names the process whose memory is meant; otherwise the caller's */
#define CONTIG_DMA_F_PIDFD		_BITUL(0)
/* PREPARE: move pages by exchange only, never into free frames */
#define CONTIG_DMA_F_EXCHANGE_ONLY	_BITUL(1)
/*
 * PREPARE: first do to the range what a long-term pin of it will do
 * (FOLL_LONGTERM, with CONTIG_DMA_F_PIN_WRITE a writable one): fault in
 * what is not populated, copy the pages shared copy-on-write, so that the
 * pages placed are the ones a registration made right after gets
 */
#define CONTIG_DMA_F_POPULATE		_BITUL(2)
#define CONTIG_DMA_F_PIN_WRITE		_BITUL(3)

/**
 * struct contig_dma_layout - how a range is laid out, as a device sees it
 * @pages: base pages (4 KiB) in the range
 * @present: pages mapped to a page frame
 * @runs: maximal runs of present pages contiguous both virtually and
 *	physically: the entries a scatterlist or an IOMMU mapping needs
 * @longest_run: pages in the longest run
 * @chunks_2m: 2 MiB-aligned chunks of DMA key space inside one run whose
 *	physical address is congruent with the key modulo 2 MiB: what a
 *	device can map with 2 MiB entries
 * @chunks_1g: the same for 1 GiB
 *
 * Counts only: no physical address is ever reported.
 */
struct contig_dma_layout {
	__u64 pages;
	__u64 present;
	__u64 runs;
	__u64 longest_run;
	__u64 chunks_2m;
	__u64 chunks_1g;
};

/* Why a page could not be brought to its target frame */
enum contig_dma_fail {
	CONTIG_DMA_FAIL_UNMOVABLE,	/* the target frame is unmovable */
	CONTIG_DMA_FAIL_PINNED,		/* a GUP pin on either side */
	CONTIG_DMA_FAIL_BUSY,		/* a transient reference or lock */
	CONTIG_DMA_FAIL_UNSUPPORTED,	/* KSM, file, ... pages */
	CONTIG_DMA_FAIL_NOMEM,		/* a free target under the watermark */
	CONTIG_DMA_FAIL_MIGRATE,	/* migration into a free frame failed */
	CONTIG_DMA_FAIL_SPLIT,		/* a THP could not be split */
	CONTIG_DMA_FAIL_NO_WINDOW,	/* no clean window for its chunk */
	CONTIG_DMA_FAIL_NR = 8		/* room in contig_dma_moves.failed */
};

/* What became of a PREPARE, in contig_dma_moves.outcome */
enum contig_dma_outcome_code {
	CONTIG_DMA_OUTCOME_PREPARED,	/* pages were moved, or tried */
	CONTIG_DMA_OUTCOME_IN_PLACE,	/* already as contiguous as it can be */
	CONTIG_DMA_OUTCOME_EMPTY,	/* no page populated: nothing to do */
	CONTIG_DMA_OUTCOME_POLICY,	/* enabled=never, without CAP_SYS_NICE */
};

/**
 * struct contig_dma_moves - what a PREPARE did
 * @in_place: pages already at their target frame
 * @migrated: pages migrated into a free frame
 * @exchanged: pages exchanged with the target frame's owner
 * @thp_moved: transparent huge pages moved whole
 * @thp_split: transparent huge pages split to move their pages
 * @failed: pages left away from their target, by enum contig_dma_fail
 * @segments: physical windows the range was placed in
 * @reanchors: chunks placed again after meeting an unmovable frame
 * @partial: 1 when the request stopped at its time or page bound
 * @outcome: enum contig_dma_outcome_code (0, "prepared", before API
 *	version 1's kernels filled it in)
 * @ns: time spent in the kernel
 *
 * Without CAP_SYS_ADMIN, @in_place, @failed, @segments and @reanchors are
 * zero: they tell where pages are, and where other processes' are.
 */
struct contig_dma_moves {
	__u64 in_place;
	__u64 migrated;
	__u64 exchanged;
	__u64 thp_moved;
	__u64 thp_split;
	__u64 failed[CONTIG_DMA_FAIL_NR];
	__u32 segments;
	__u32 reanchors;
	__u32 partial;
	__u32 outcome;
	__u64 ns;
};

/**
 * struct contig_dma_times - where the time of a PREPARE went
 * @plan_ns: choosing and claiming windows, @index_ns and @search_ns
 *	included
 * @index_ns: counting frames for the kernel's frame index: its build (the
 *	first request after boot or memory hotplug) and recounts
 * @search_ns: searching windows on the index and checking them frame by
 *	frame
 * @index_blocks: pageblocks counted for the index
 */
struct contig_dma_times {
	__u64 plan_ns;
	__u64 index_ns;
	__u64 search_ns;
	__u64 index_blocks;
};

/**
 * struct contig_dma_query - CONTIG_DMA_QUERY argument
 * @size: sizeof(struct contig_dma_query)
 * @flags: CONTIG_DMA_F_PIDFD or 0
 * @pidfd: with CONTIG_DMA_F_PIDFD, a pidfd of the target process; 0
 *	otherwise
 * @__reserved: zero
 * @start: first address of the range, page aligned
 * @length: bytes, page aligned, not zero
 * @key: address at which the device sees @start (an IOVA, or @start
 *	itself for RDMA); page aligned
 * @layout: output
 */
struct contig_dma_query {
	__u32 size;
	__u32 flags;
	__s32 pidfd;
	__u32 __reserved;
	__aligned_u64 start;
	__aligned_u64 length;
	__aligned_u64 key;
	struct contig_dma_layout layout;
};

/**
 * struct contig_dma_prepare - CONTIG_DMA_PREPARE argument
 * @size: sizeof(struct contig_dma_prepare)
 * @flags: CONTIG_DMA_F_PIDFD, CONTIG_DMA_F_EXCHANGE_ONLY (needs
 *	CAP_SYS_NICE), CONTIG_DMA_F_POPULATE, CONTIG_DMA_F_PIN_WRITE
 * @pidfd: as in struct contig_dma_query
 * @__reserved: zero
 * @start: as in struct contig_dma_query
 * @length: as in struct contig_dma_query
 * @key: as in struct contig_dma_query
 * @pgsize_bitmap: page sizes the device can map; must include 4 KiB;
 *	0 for CONTIG_DMA_PGSIZES_DEFAULT
 * @max_pages: stop after moving this many pages; 0: the system's bound
 *	(and, without CAP_IPC_LOCK, RLIMIT_MEMLOCK's worth at most)
 * @max_ns: stop moving pages once this long has passed; 0: the system's bound
 * @moves: output, what was done
 * @before: output, the layout before (without CAP_SYS_ADMIN, only @pages
 *	and @present)
 * @after: output, the layout after (likewise)
 * @times: output, where the time went (appended in API version 1)
 * @populated: output, pages CONTIG_DMA_F_POPULATE faulted in or copied
 *	(appended after @times)
 */
struct contig_dma_prepare {
	__u32 size;
	__u32 flags;
	__s32 pidfd;
	__u32 __reserved;
	__aligned_u64 start;
	__aligned_u64 length;
	__aligned_u64 key;
	__aligned_u64 pgsize_bitmap;
	__aligned_u64 max_pages;
	__aligned_u64 max_ns;
	struct contig_dma_moves moves;
	struct contig_dma_layout before;
	struct contig_dma_layout after;
	struct contig_dma_times times;
	__aligned_u64 populated;
};

/* Returns CONTIG_DMA_API_VERSION */
#define CONTIG_DMA_GET_API_VERSION	_IO(CONTIG_DMA_TYPE, 0x00)
/* Report the layout of a range; needs CAP_SYS_ADMIN */
#define CONTIG_DMA_QUERY		_IO(CONTIG_DMA_TYPE, 0x01)
/* Make a range physically contiguous and congruent with a key */
#define CONTIG_DMA_PREPARE		_IO(CONTIG_DMA_TYPE, 0x02)

#endif /* _UAPI_LINUX_CONTIG_DMA_H */
