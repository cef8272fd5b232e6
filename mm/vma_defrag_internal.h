/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The layers of the range defragmentation engine, as mm/vma_defrag.c (the
 * request: plan, moves) sees the two below it:
 *
 *   mm/vma_defrag_claims.c  claimed windows: frames a request has chosen,
 *                           which no other request may choose meanwhile
 *   mm/vma_defrag_index.c   the frame index: what each pageblock holds,
 *                           kept across requests; the search for windows
 *                           on it, and the exact check of the one chosen
 *
 * Not for use outside mm/; the interface for drivers is
 * include/linux/vma_defrag.h.
 */
#ifndef _MM_VMA_DEFRAG_INTERNAL_H
#define _MM_VMA_DEFRAG_INTERNAL_H

#include <linux/bits.h>
#include <linux/types.h>
#include <linux/vma_defrag.h>

struct mm_struct;
struct zone;

/* ---------------------------------------------------------------------- */
/* Claims (mm/vma_defrag_claims.c) */

struct defrag_claim;

struct defrag_claim *defrag_claim_add(unsigned long pfn, unsigned long nr);
void defrag_claim_drop(struct defrag_claim *claim);
void defrag_claims_push(struct vma_defrag_claims *claims,
			struct defrag_claim *claim);
void defrag_claims_drop_to(struct vma_defrag_claims *claims,
			   struct defrag_claim *mark);
void defrag_claims_splice(struct vma_defrag_claims *to,
			  struct vma_defrag_claims *from);
void defrag_claims_block(struct vma_defrag_frames *frames);

/* ---------------------------------------------------------------------- */
/* The frame index and the window search (mm/vma_defrag_index.c) */

struct page;

/* What a frame holds, as far as moving a page into it goes */
enum defrag_frame {
	FRAME_FREE = BIT(0),
	FRAME_MOVABLE = BIT(1),
	FRAME_BLOCKED = BIT(2),
};

enum defrag_frame defrag_frame_kind(struct page *page);

/* A region the index proposes, in its zone */
struct defrag_region {
	struct zone *zone;
	struct vma_defrag_region r;
};

/* What the index cost a request */
struct defrag_index_cost {
	u64 build_ns;		/* counting blocks never counted before */
	u64 refresh_ns;		/* recounting stale blocks */
	u64 search_ns;		/* candidates on the index */
	u64 snapshot_ns;	/* exact snapshots of regions */
	unsigned long blocks_counted;
	/* blocks the request's snapshots recounted, and those that drifted */
	unsigned long snap_blocks;
	unsigned long snap_drifted;
	bool recounted_drift;	/* the request recounted for a drift */
};

/*
 * What a request's searches learn for its next ones while it holds the
 * index: per zone of the index, the longest run of clean blocks, or
 * ULONG_MAX while unknown. defrag_index_get() sets it up (NULL if there
 * was no memory for it: each search then counts again), and
 * defrag_index_put() frees it.
 */
struct defrag_search_cache {
	unsigned long *longest;
	bool rechecked;		/* the blocks were recounted for a search */
};

/**
 * struct defrag_until - when a request's work on the index gives up
 * @deadline: ktime_get_ns() to stop at; 0 for none
 * @req: the request, whose @stop is asked too; NULL for none
 *
 * A fatal signal stops the work as well. A NULL pointer to one: only a
 * fatal signal.
 */
struct defrag_until {
	u64 deadline;
	const struct vma_defrag_request *req;
};

int defrag_index_get(struct defrag_index_cost *cost,
		     const struct defrag_until *until,
		     struct defrag_search_cache *cache);
void defrag_index_put(unsigned long refresh_blocks,
		      const struct defrag_until *until,
		      struct defrag_index_cost *cost,
		      struct defrag_search_cache *cache);
bool defrag_index_recheck(const struct defrag_until *until,
			  struct defrag_search_cache *cache,
			  struct defrag_index_cost *cost);
int defrag_index_regions(const struct vma_defrag_search *s,
			 struct defrag_region *regions, unsigned int max,
			 struct defrag_search_cache *cache,
			 struct defrag_index_cost *cost);
int defrag_frames_snapshot(struct zone *zone, unsigned long lo,
			   unsigned long hi, const struct vma_defrag_search *s,
			   struct vma_defrag_frames *frames,
			   struct defrag_index_cost *cost);
void defrag_frames_free(struct vma_defrag_frames *frames);
unsigned long defrag_frames_count(const unsigned long *map, unsigned long from,
				  unsigned long to);

#endif
