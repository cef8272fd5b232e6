// SPDX-License-Identifier: GPL-2.0
/*
 * Range defragmentation: make the populated pages of a user range physically
 * contiguous, and congruent with the address a device will use for them,
 * without needing free memory.
 *
 * A request names a range [start, start + len) of an mm, the DMA key at
 * which a device sees start (VA for RDMA, IOVA for VFIO) and the page sizes
 * the device or IOMMU can map. The largest of those sizes that fits whole in
 * the key range is the alignment A: a page at key address k must land on a
 * frame whose physical address is congruent with k modulo A, so that every
 * A-aligned chunk of key space can be mapped by one A-sized entry.
 *
 * 1. The range, a slice at a time: 1 GiB of key space (or the largest
 *    usable page size), so that a request's arrays stay bounded and a huge
 *    sparse range costs what it maps. The PFN behind every page of the
 *    slice is read (mmap_lock for read, killable, within the request's
 *    time), crossing unmapped stretches a page table at a time.
 *
 * 2. Anchors. A window is a run of frames, one per page of the range, whose
 *    first frame is congruent with the key: page i must land on anchor + i.
 *    Windows lie in zones a long-term pin may use (not ZONE_MOVABLE, not
 *    CMA: FOLL_LONGTERM would migrate the pages away again), ZONE_DMA
 *    aside, and hold no blocked frame: reserved, slab, page tables and
 *    other kernel pages, pinned, hugetlb, KSM, non-LRU movable, in a
 *    pageblock someone else isolated, or claimed by another request; and
 *    on a node the requesting task may allocate from (its cpuset, and a
 *    strict memory policy of the task or the range).
 *    Among those the cheapest wins, counting the pages already at their
 *    target as free (so an already contiguous, congruent range costs
 *    nothing), a page whose target is free as one copy and one whose
 *    target is in use as an exchange (three copies). The frame index
 *    (mm/vma_defrag_index.c) finds candidates from per-pageblock counts
 *    kept across requests, and checks the best frame by frame; a request
 *    costs what it asks for, not what the machine holds.
 *    When no window holds the whole range, the range is cut at an A-aligned
 *    chunk boundary of key space near its middle and each half is anchored
 *    on its own, recursively, down to single chunks; a chunk with no clean
 *    window at A is tried at the next smaller page size, and left where it
 *    is (counted as VMA_DEFRAG_FAIL_NO_WINDOW) below the smallest. So the
 *    result keeps as many whole 1 GiB / 2 MiB chunks as the machine allows,
 *    in as few runs.
 *
 * 3. Claims (mm/vma_defrag_claims.c). The frames a chosen window gives the
 *    present pages are claimed before anything moves, so that concurrent
 *    requests never pick the same frames and undo each other. Claiming is
 *    the only step requests take in turn: a window another request claimed
 *    first sends this one to its next candidate. The claims are the
 *    request's: they end when it returns, or, when its caller asks for
 *    them (vma_defrag_request.claims), once the caller has pinned the
 *    range and calls vma_defrag_unclaim().
 *
 * 4. Moves, page by page in VA order, in batches, with mmap_lock held only
 *    to look pages up and never across a copy:
 *     - already at the target: nothing;
 *     - target free: that exact frame is taken out of the buddy allocator
 *       (so nobody else can get it meanwhile) and the page is migrated into
 *       it; frames taken but not used are freed at the end. The window's
 *       pageblocks are isolated meanwhile, ahead of the moves as far as
 *       free memory allows (isolate_ahead());
 *     - target used by a movable folio: the two are exchanged
 *       (mm/exchange.c), which needs no free memory: the other owner gets
 *       our old frame with its data intact. Unless our old frame is on a
 *       node that owner may not allocate from (its cpuset, a strict VMA
 *       policy): then the pair is refused, as for an unmovable target;
 *     - target unmovable (it became so after the snapshot): the page stays,
 *       and after the segment that chunk is anchored again elsewhere, once.
 *    Our shmem pages that an exchange with an anonymous page unmapped are
 *    faulted back in after each window (refault_segment()). Pages that met
 *    a transient reference or failed to migrate, and pages found unmapped
 *    that the snapshot saw (under someone else's migration), are tried
 *    once more after it.
 *    A large folio moves whole when its target is aligned to its size and
 *    the target is either a free block of that size or a folio of the same
 *    order. Otherwise it is split: a misaligned target (key and VA differ
 *    modulo the folio size) can only be reached page by page, and a target
 *    block of smaller pages can only be exchanged page by page. Splitting
 *    costs the CPU its large TLB entry, not the device anything: the device
 *    maps the physical run. A large folio in a target frame is split when a
 *    base page must go there.
 *
 * Populating into place (VMA_DEFRAG_POPULATE), for a caller about to pin
 * the range, whose pin would fault the holes in wherever the allocator
 * put them: the holes of private anonymous VMAs the pin could fill are
 * planned and claimed like present pages (a hole at a free frame costs
 * the window nothing, one at a frame in use a copy). In the moves, a
 * hole whose target is free gets that frame, taken from the buddy
 * allocator, zeroed, charged to the mm's memcg and mapped as
 * do_anonymous_page() maps a write fault's page (not writable for a
 * read-only pin, as its unsharing fault would map it): one zeroing, no
 * copy. A hole whose target is in use by another page has that page
 * migrated away first, to a frame outside the window on its node, and is
 * then filled in place; failing that (a large folio, memory short, a
 * request that only exchanges) it gets a page where a fault would
 * allocate it, which is then exchanged with the target's folio; without
 * the right to touch other processes' pages (VMA_DEFRAG_FREE_ONLY) it is
 * left to the pin. A whole PMD of holes in a VMA that allows THPs, whose
 * targets are a whole free block, gets one PMD-mapped THP there, as a THP
 * fault would map it (fill_thp()). Holes under userfaultfd, shmem holes
 * and holes the pin could not fault in (no VM_WRITE for a writable pin)
 * are left alone.
 *
 * The pin also replaces pages: the shared zero page, and an anonymous page
 * not exclusive to the mm (shared copy-on-write after a fork, or KSM),
 * which a long-term pin copies (gup_must_unshare()). In such VMAs those
 * are holes to the plan too, and are filled the same way, with a copy of
 * the shared page instead of zeroes: the new page is mapped in place of
 * the old one as wp_page_copy() maps it, the other mms keep the old page,
 * and the copy the pin would have made wherever the allocator put it is
 * made at the target instead. A PMD mapping such pages is split first, as
 * the pin's fault splits it.
 *
 * The request is bounded: it reschedules, stops on a fatal signal, and
 * stops at a page or time budget with a partial result. Concurrent munmap,
 * mremap, fork or mprotect of the range are safe: pages are looked up
 * again right before they move, and the exchange and migration primitives
 * work on whatever mappings exist when they run.
 */
#include <linux/cpuset.h>
#include <linux/exchange.h>
#include <linux/highmem.h>
#include <linux/ksm.h>
#include <linux/memcontrol.h>
#include <linux/memory_hotplug.h>
#include <linux/mempolicy.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/mm_inline.h>
#include <linux/mmu_notifier.h>
#include <linux/mmzone.h>
#include <linux/page-isolation.h>
#include <linux/pagewalk.h>
#include <linux/pgalloc.h>
#include <linux/pgtable.h>
#include <linux/rmap.h>
#include <linux/refcount.h>
#include <linux/sched/signal.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/swap.h>
#include <linux/userfaultfd_k.h>
#include <linux/vma_defrag.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <kunit/static_stub.h>
#include <kunit/visibility.h>

#include "internal.h"
#include "vma_defrag_internal.h"

/* Pairs and migrations handed to the primitives at a time */
#define DEFRAG_BATCH	32
/* Regions of the index tried frame by frame for a segment, best first */
#define DEFRAG_REGIONS	4
/* Rounds of index search and exact checks for one segment */
#define DEFRAG_ROUNDS	4
/* Stale pageblocks of the index each request recounts, beyond its own */
#define DEFRAG_INDEX_RECOUNT	128
/* Alignments a request anchors at, the base page's included */
#define DEFRAG_MAX_ALIGNS	4
/* Allocations per request: charged to its caller; too large is -ENOMEM */
#define DEFRAG_GFP	(GFP_KERNEL_ACCOUNT | __GFP_NOWARN)

static unsigned long *bitmap_kvzalloc(unsigned long bits)
{
	return kvcalloc(BITS_TO_LONGS(bits), sizeof(long), DEFRAG_GFP);
}

/* A segment of the range, anchored in one window */
struct defrag_segment {
	unsigned long first;		/* page index in the range */
	unsigned long nr;
	unsigned long anchor;		/* PFN of page @first's target */
	unsigned long align;		/* pages; congruence of the window */
	struct zone *zone;		/* of the window */
	u16 *block_free;		/* free frames per pageblock, or NULL */
};

/*
 * One page of a fill (install_run()): the frame taken for it at its target,
 * or NULL for a page allocated where a fault would allocate it; then what
 * its page-table entry held (@orig) and the page to copy from (@src: a
 * page shared copy-on-write, held; NULL for zeroes; FILL_SKIP when the
 * entry is not the fill's to replace).
 */
struct fill_slot {
	struct folio *folio;
	struct page *src;
	pte_t orig;
	bool install;
};

struct defrag_ctx {
	struct mm_struct *mm;
	const struct vma_defrag_request *req;	/* the slice at hand */
	struct vma_defrag_request slice;
	struct vma_defrag_stats *stats;
	unsigned long key_pfn;
	unsigned long *pfns;		/* snapshot: PFN per page, 0 if absent */
	unsigned long *thps;		/* pages where a PMD-sized folio starts */
	unsigned long *seg_thps;	/* the same, for the segment at hand */
	unsigned long *fill;		/* holes to populate (POPULATE), or NULL */
	unsigned long *seg_fill;	/* the same, for the segment at hand */
	struct fill_slot *run;		/* PTRS_PER_PTE, for fill_run() */
	unsigned long *refault;		/* our shmem pages an exchange unmapped */
	unsigned long *retry;		/* pages that met a transient reference */
	bool retrying;
	unsigned long *scratch;		/* for the anchor search */
	bool has_anon;			/* the range has anonymous pages */
	nodemask_t nodes;		/* where windows may lie */
	bool drained;			/* per-CPU batches, for this request */
	unsigned long aligns[DEFRAG_MAX_ALIGNS];	/* usable, in pages, ascending */
	unsigned int nr_aligns;

	struct defrag_index_cost icost;
	struct defrag_search_cache cache;	/* while holding the index */

	struct vma_defrag_claims claims;	/* of every segment */
	struct defrag_segment *segs;
	unsigned int nr_segs;
	unsigned int max_segs;

	struct xarray held;		/* free frames taken, by PFN */
	unsigned long moved;
	u64 deadline;
	struct defrag_until until;	/* for the index: deadline, stop */
	int stop;			/* 0, -EINTR, or 1 when out of budget */

	/* the batch being built */
	struct exchange_pair pairs[DEFRAG_BATCH];
	unsigned int nr_pairs;
	struct vma_defrag_move moves[DEFRAG_BATCH + 1];	/* NULL-terminated */
	unsigned int nr_moves;
	unsigned long *reanchor;	/* chunk bitmap of the current segment */
	unsigned long *reanchor_fails;	/* per chunk: pages that failed */
	unsigned long pair_index[DEFRAG_BATCH];	/* page index of pairs[].a */
	unsigned long move_index[DEFRAG_BATCH];	/* page index of moves[].src */
	bool move_evicts[DEFRAG_BATCH];	/* moves[] empties the target of hole move_index[] */
	bool pair_unmaps[DEFRAG_BATCH];	/* pairs[].a will come back unmapped */
	const struct defrag_segment *seg;
};

/* ---------------------------------------------------------------------- */
/* Anchors */

static bool should_stop(struct defrag_ctx *ctx);

/* Room for one more segment */
static bool grow_segs(struct defrag_ctx *ctx)
{
	struct defrag_segment *segs;
	unsigned int max = ctx->max_segs ? 2 * ctx->max_segs : 16;

	if (ctx->nr_segs < ctx->max_segs)
		return true;
	segs = kvcalloc(max, sizeof(*segs), GFP_KERNEL_ACCOUNT);
	if (!segs)
		return false;
	if (ctx->segs)
		memcpy(segs, ctx->segs, ctx->nr_segs * sizeof(*segs));
	kvfree(ctx->segs);
	ctx->segs = segs;
	ctx->max_segs = max;
	return true;
}

/* The free frames of each pageblock of a window, as @f saw them */
static u16 *window_block_free(const struct vma_defrag_frames *f,
			      unsigned long anchor, unsigned long nr)
{
	unsigned long lo = pageblock_start_pfn(anchor);
	unsigned long hi = pageblock_align(anchor + nr), pb;
	u16 *free = kvcalloc((hi - lo) / pageblock_nr_pages, sizeof(*free),
			     GFP_KERNEL_ACCOUNT);

	for (pb = lo; free && pb < hi; pb += pageblock_nr_pages)
		free[(pb - lo) / pageblock_nr_pages] =
			defrag_frames_count(f->free, pb - f->base,
					    pb - f->base + pageblock_nr_pages);
	return free;
}

/* The search stopped: a fatal signal, or the request's time is up */
static void search_stopped(struct defrag_ctx *ctx, int err)
{
	if (!ctx->stop)
		ctx->stop = err == -EINTR ? -EINTR : 1;
}

/*
 * Will page @i take its frame in a window: present (@pfns), or a hole the
 * request fills (@fill, may be NULL)?
 */
static bool takes_frame(const unsigned long *pfns, const unsigned long *fill,
			unsigned long i)
{
	return pfns[i] || (fill && test_bit(i, fill));
}

/*
 * Claim the frames of window @anchor that the present pages of segment @s
 * (and the holes it fills) will land on, a run at a time. False, with nothing
 * claimed, if another request claimed one of them first (or no memory).
 */
static bool claim_window(struct defrag_ctx *ctx,
			 const struct vma_defrag_search *s,
			 unsigned long anchor)
{
	struct defrag_claim *mark = ctx->claims.first, *claim;
	unsigned long i = 0, run;

	while (i < s->nr) {
		if (!takes_frame(s->pfns, s->fill, i)) {
			i++;
			continue;
		}
		for (run = i + 1; run < s->nr && takes_frame(s->pfns, s->fill, run);
		     run++)
			;
		claim = defrag_claim_add(anchor + i, run - i);
		if (IS_ERR(claim)) {
			defrag_claims_drop_to(&ctx->claims, mark);
			return false;
		}
		defrag_claims_push(&ctx->claims, claim);
		i = run;
	}
	return true;
}

/*
 * The first of @regions that holds a clean window for segment @s (its first
 * page @first), frame by frame, and can be claimed: a new segment.
 */
static bool anchor_in_regions(struct defrag_ctx *ctx,
			      const struct vma_defrag_search *s,
			      const struct defrag_region *regions, int n,
			      unsigned long first, struct vma_defrag_window *wp)
{
	unsigned long nr = s->nr, align = s->align;
	struct vma_defrag_window w;
	struct defrag_segment *seg;
	int i;

	for (i = 0; i < n; i++) {
		struct vma_defrag_frames f;
		u16 *block_free = NULL;
		u64 t0;
		bool found;

		/* A snapshot of a large region takes a while: not after a kill */
		if (should_stop(ctx))
			return false;
		if (defrag_frames_snapshot(regions[i].zone, regions[i].r.lo,
					   regions[i].r.hi, s, &f,
					   &ctx->icost))
			return false;
		t0 = ktime_get_ns();
		found = vma_defrag_choose_window(&f, s->pfns, s->thps, nr,
						 s->holes, align, s->phase,
						 ctx->scratch, &w);
		if (found)
			block_free = window_block_free(&f, w.anchor, nr);
		defrag_frames_free(&f);
		ctx->icost.search_ns += ktime_get_ns() - t0;
		if (!found)
			continue;
		/* Claimed by another request since the snapshot: go on */
		if (!claim_window(ctx, s, w.anchor)) {
			kvfree(block_free);
			continue;
		}
		seg = &ctx->segs[ctx->nr_segs++];
		seg->first = first;
		seg->nr = nr;
		seg->anchor = w.anchor;
		seg->align = align;
		seg->zone = regions[i].zone;
		seg->block_free = block_free;
		*wp = w;
		return true;
	}
	return false;
}

/*
 * Anchor [first, first + nr) at @align: the index proposes regions, the
 * first that holds a clean window frame by frame and can be claimed wins.
 */
static bool anchor_segment(struct defrag_ctx *ctx, unsigned long first,
			   unsigned long nr, unsigned long align)
{
	struct vma_defrag_search s = {
		.exchange_only = ctx->req->flags & VMA_DEFRAG_EXCHANGE_ONLY,
		.free_only = ctx->req->flags & VMA_DEFRAG_FREE_ONLY,
		.has_anon = ctx->has_anon,
		.pfns = ctx->pfns + first,
		.thps = ctx->seg_thps,
		.nr = nr,
		.align = align,
		.phase = (ctx->key_pfn + first) & (align - 1),
		.scratch = ctx->scratch,
		.deadline = ctx->req->max_ns ? ctx->deadline : 0,
		.nodes = &ctx->nodes,
		.req = ctx->req,
	};
	struct defrag_region regions[DEFRAG_REGIONS];
	struct vma_defrag_window w;
	int n, round;

	if (should_stop(ctx) || !grow_segs(ctx))
		return false;
	/* The segment's THPs and holes to fill, counted from its first page */
	bitmap_shift_right(ctx->seg_thps, ctx->thps, first, first + nr);
	if (ctx->fill) {
		bitmap_shift_right(ctx->seg_fill, ctx->fill, first, first + nr);
		s.fill = ctx->seg_fill;
		s.holes = bitmap_weight(ctx->seg_fill, nr);
	}
	/*
	 * Regions the counts got wrong are recounted by their snapshot, so
	 * the next round of the search sees them as they are. When every
	 * round failed, the counts may be wrong elsewhere too: once per
	 * request, the whole index is recounted and the rounds run again.
	 */
again:
	for (round = 0, n = 1; round < DEFRAG_ROUNDS && n > 0; round++) {
		n = defrag_index_regions(&s, regions, DEFRAG_REGIONS,
					 &ctx->cache, &ctx->icost);
		if (n < 0) {
			search_stopped(ctx, n);
			return false;
		}
		if (anchor_in_regions(ctx, &s, regions, n, first, &w))
			return true;
		if (should_stop(ctx))
			return false;
	}
	if (n > 0 && defrag_index_recheck(&ctx->until, &ctx->cache,
					  &ctx->icost))
		goto again;
	return false;
}

/*
 * Trim [*first, *first + *nr) to the whole chunks of @align pages of key
 * space that hold its present pages and holes to fill; returns how many
 * there are (0: the piece is left as it was).
 */
static unsigned long trim_to_present(const struct defrag_ctx *ctx,
				     unsigned long *first, unsigned long *nr,
				     unsigned long align)
{
	unsigned long lo = *first, end = *first + *nr, hi, i, n = 0;

	for (i = lo; i < end; i++) {
		if (!takes_frame(ctx->pfns, ctx->fill, i))
			continue;
		if (!n++)
			lo = i;
		hi = i + 1;
	}
	if (!n)
		return 0;
	/* In key space: the chunk of the first page may start before @first */
	lo = max(ctx->key_pfn + *first, round_down(ctx->key_pfn + lo, align));
	hi = min(ctx->key_pfn + end, round_up(ctx->key_pfn + hi, align));
	*first = lo - ctx->key_pfn;
	*nr = hi - lo;
	return n;
}

/*
 * Anchor [first, first + nr) at alignment ctx->aligns[level], cutting it in
 * two at a chunk boundary of key space when no window holds it whole.
 * Only the chunks holding present pages are anchored, and a chunk less
 * than half populated is not worth a window of a page size above the
 * smallest (the device could not map it whole anyway; a sparse range
 * would search for 1 GiB windows for a few pages): it is tried at the
 * next size down.
 */
static void plan(struct defrag_ctx *ctx, unsigned long first,
		 unsigned long nr, unsigned int level)
{
	unsigned long align = ctx->aligns[level], mid, present;

	if (should_stop(ctx))
		return;
	present = trim_to_present(ctx, &first, &nr, align);
	if (!present)
		return;
	if (level > 1 && 2 * present < nr) {
		plan(ctx, first, nr, level - 1);
		return;
	}
	if (anchor_segment(ctx, first, nr, align))
		return;
	if (ctx->stop)
		return;

	/* In key space, where nothing below the range's key can wrap */
	mid = round_down(ctx->key_pfn + first + nr / 2, align);
	if (level && mid > ctx->key_pfn + first &&
	    mid < ctx->key_pfn + first + nr) {
		mid -= ctx->key_pfn;
		plan(ctx, first, mid - first, level);
		plan(ctx, mid, first + nr - mid, level);
	} else if (level > 1) {
		/* One chunk at this size, or less: try the next size down. */
		plan(ctx, first, nr, level - 1);
	} else {
		/*
		 * No window even for one chunk of the smallest large page
		 * size (a base-page window is no gain): its pages stay where
		 * they are, counted.
		 */
		ctx->stats->failed[VMA_DEFRAG_FAIL_NO_WINDOW] += present;
	}
}

/* ---------------------------------------------------------------------- */
/* Taking free frames */

/*
 * Frames taken from the allocator are held in pageblock-sized pieces,
 * kept whole (one non-compound high-order page, marked HELD_WHOLE) until
 * a move needs one of their frames: a buddy block larger than a pageblock
 * can be the target of several THPs, and splitting it up front to serve
 * the first move would force the next THP to be split too.
 */
#define HELD_WHOLE	XA_MARK_1

static void hold_page(struct defrag_ctx *ctx, struct page *page)
{
	if (xa_err(xa_store(&ctx->held, page_to_pfn(page), page, GFP_KERNEL))) {
		xa_erase(&ctx->held, page_to_pfn(page));
		__free_page(page);
	}
}

/*
 * Take the free buddy block containing @pfn out of the allocator and keep
 * its frames in ctx->held. Returns 0, -EBUSY when @pfn is not in a buddy
 * block (a per-CPU list may hold it), -ERANGE when its block is smaller
 * than @order, and -ENOMEM when the watermarks forbid taking it.
 */
static int take_free(struct defrag_ctx *ctx, unsigned long pfn,
		     unsigned int order)
{
	struct page *page = pfn_to_online_page(pfn), *head = NULL;
	unsigned int o, block = 0, piece_order;
	unsigned long flags, head_pfn, i, j;
	struct zone *zone;

	/* A CMA pageblock, which the snapshot would have seen as blocked */
	if (!page || is_migrate_cma_page(page))
		return -EBUSY;
	zone = page_zone(page);
	spin_lock_irqsave(&zone->lock, flags);
	for (o = 0; o < NR_PAGE_ORDERS; o++) {
		struct page *p;

		head_pfn = pfn & ~((1UL << o) - 1);
		if (!zone_spans_pfn(zone, head_pfn))
			break;
		p = pfn_to_online_page(head_pfn);
		if (p && PageBuddy(p) && buddy_order(p) >= o) {
			head = p;
			block = buddy_order(p);
			break;
		}
	}
	if (!head || block < order) {
		spin_unlock_irqrestore(&zone->lock, flags);
		return head ? -ERANGE : -EBUSY;
	}
	/*
	 * The page allocator would have served this user page from any zone
	 * up to ZONE_MOVABLE: keep the reserve a lower zone holds against
	 * such allocations (lowmem_reserve) on top of the min watermark that
	 * __isolate_free_page() checks without it. Not for an isolated
	 * pageblock: the zone no longer counts its free frames.
	 */
	if (!is_migrate_isolate_page(head) &&
	    !zone_watermark_ok(zone, 0, min_wmark_pages(zone) + (1UL << block),
			       gfp_zone(GFP_HIGHUSER_MOVABLE), 0)) {
		spin_unlock_irqrestore(&zone->lock, flags);
		return -ENOMEM;
	}
	if (!__isolate_free_page(head, block)) {
		spin_unlock_irqrestore(&zone->lock, flags);
		return -ENOMEM;
	}
	spin_unlock_irqrestore(&zone->lock, flags);

	/* Hand the block out the way compaction does, piece by piece. */
	piece_order = min_t(unsigned int, block, pageblock_order);
	for (i = 0; i < (1UL << block); i += 1UL << piece_order) {
		struct page *piece = head + i;

		post_alloc_hook(piece, piece_order, __GFP_MOVABLE);
		set_page_refcounted(piece);
		if (piece_order < pageblock_order) {
			split_page(piece, piece_order);
			for (j = 0; j < (1UL << piece_order); j++)
				hold_page(ctx, piece + j);
			continue;
		}
		if (xa_err(xa_store(&ctx->held, page_to_pfn(piece), piece,
				    GFP_KERNEL))) {
			__free_pages(piece, pageblock_order);
			continue;
		}
		xa_set_mark(&ctx->held, page_to_pfn(piece), HELD_WHOLE);
	}
	return 0;
}

/*
 * Empty the per-CPU free lists of @zone (all zones if NULL) into the buddy
 * allocator, where take_free() can find their frames: it waits for every
 * CPU, so it is counted and timed.
 */
static void drain_pcp(struct defrag_ctx *ctx, struct zone *zone)
{
	u64 t0 = ktime_get_ns();

	drain_all_pages(zone);
	ctx->stats->drains++;
	ctx->stats->drain_ns += ktime_get_ns() - t0;
}

/* take_free(), once more after a drain if a per-CPU free list holds @pfn */
static int take_free_drained(struct defrag_ctx *ctx, unsigned long pfn,
			     unsigned int order)
{
	int ret = take_free(ctx, pfn, order);

	if (ret == -EBUSY) {
		drain_pcp(ctx, page_zone(pfn_to_page(pfn)));
		ret = take_free(ctx, pfn, order);
	}
	return ret;
}

/*
 * The held frame at @pfn, shaped for a folio of @order: a whole piece
 * becomes a THP-sized folio when @pfn is its head and @order matches,
 * base pages otherwise. NULL if @pfn is not held.
 */
static struct page *held_at(struct defrag_ctx *ctx, unsigned long pfn,
			    unsigned int order)
{
	unsigned long head = ALIGN_DOWN(pfn, pageblock_nr_pages), j;
	struct page *piece;

	if (!xa_get_mark(&ctx->held, head, HELD_WHOLE))
		return xa_load(&ctx->held, pfn);
	piece = xa_load(&ctx->held, head);
	xa_clear_mark(&ctx->held, head, HELD_WHOLE);
	if (pfn == head && order == pageblock_order) {
		prep_compound_page(piece, order);
		page_rmappable_folio(piece);
		return piece;
	}
	split_page(piece, pageblock_order);
	for (j = 0; j < pageblock_nr_pages; j++)
		hold_page(ctx, piece + j);
	return xa_load(&ctx->held, pfn);
}

static void release_held(struct defrag_ctx *ctx)
{
	unsigned long pfn;
	struct page *page;

	xa_for_each(&ctx->held, pfn, page) {
		if (xa_get_mark(&ctx->held, pfn, HELD_WHOLE))
			__free_pages(page, pageblock_order);
		else
			folio_put(page_folio(page));
	}
	xa_destroy(&ctx->held);
}

/* ---------------------------------------------------------------------- */
/* Migration into chosen frames */

static struct folio *move_new_folio(struct folio *src, unsigned long private)
{
	struct vma_defrag_move *moves = (struct vma_defrag_move *)private;
	unsigned int i;

	for (i = 0; moves[i].src; i++) {
		if (moves[i].src == src && !moves[i].done) {
			moves[i].done = true;
			return moves[i].dst;
		}
	}
	return NULL;
}

static void move_put_folio(struct folio *dst, unsigned long private)
{
	struct vma_defrag_move *moves = (struct vma_defrag_move *)private;
	unsigned int i;

	for (i = 0; moves[i].src; i++)
		if (moves[i].dst == dst)
			moves[i].done = false;
}

/**
 * vma_defrag_migrate_to() - migrate folios into frames the caller chose
 * @moves: the folios and their destinations, terminated by an entry whose
 *	@src is NULL (so @moves has room for @nr + 1 entries)
 * @nr: entries before the terminator
 *
 * Unlike migrate_pages() with an allocation callback, the destination of
 * each folio is fixed: the range defragmentation moves a page into exactly
 * the frame its anchor names, and the alloc_contig_range() baseline into
 * the matching frame of its block.
 *
 * Context: process context; may sleep. No locks held.
 * Return: the number of folios migrated; each entry's @done says which.
 */
unsigned int vma_defrag_migrate_to(struct vma_defrag_move *moves,
				   unsigned int nr)
{
	unsigned int i, done = 0, succeeded = 0;
	LIST_HEAD(list);

	for (i = 0; i < nr; i++) {
		moves[i].done = false;
		if (!isolate_folio_to_list(moves[i].src, &list)) {
			/* It may still sit in a per-CPU LRU batch */
			lru_add_drain();
			isolate_folio_to_list(moves[i].src, &list);
		}
		folio_put(moves[i].src);
	}
	if (!list_empty(&list)) {
		migrate_pages(&list, move_new_folio, move_put_folio,
			      (unsigned long)moves, MIGRATE_SYNC,
			      MR_CONTIG_RANGE, &succeeded);
		putback_movable_pages(&list);
	}
	for (i = 0; i < nr; i++)
		done += moves[i].done;
	return done;
}

/* ---------------------------------------------------------------------- */
/* Moving pages to their targets */

static enum vma_defrag_fail fail_reason(enum exchange_result result)
{
	switch (result) {
	case EXCHANGE_PINNED:
		return VMA_DEFRAG_FAIL_PINNED;
	case EXCHANGE_UNMOVABLE:
	case EXCHANGE_NONLRU_MOVABLE:
	case EXCHANGE_DEVICE:
	/* A frame this page may not take, or whose owner must keep it */
	case EXCHANGE_UNEVICTABLE:
	case EXCHANGE_ZONE:
	case EXCHANGE_SHMEM_MAPPED:
		return VMA_DEFRAG_FAIL_UNMOVABLE;
	case EXCHANGE_KSM:
	case EXCHANGE_HUGETLB:
	case EXCHANGE_UNSUPPORTED:
	case EXCHANGE_HWPOISON:
		return VMA_DEFRAG_FAIL_UNSUPPORTED;
	default:
		return VMA_DEFRAG_FAIL_BUSY;
	}
}

/**
 * vma_defrag_chunk_bounds() - the pages of a segment in one chunk of key space
 * @key_pfn: The DMA key of the range's first page, in pages.
 * @first: The segment's first page, as an index into the range.
 * @nr: The segment's pages.
 * @align: The segment's alignment in pages, a power of two.
 * @c: A chunk of the segment: 0 for the @align-aligned chunk of key space
 *     holding page @first, 1 for the next, and so on.
 * @cfirst: Set to the first page of the segment in chunk @c.
 * @cnr: Set to the number of the segment's pages in chunk @c.
 *
 * Computed in key space, where every bound is at least @key_pfn, so that a
 * segment starting in the middle of a chunk (a key that is not aligned to
 * @align) gives its first chunk's pages and not an index that wrapped below
 * page 0.
 *
 * Return: true if chunk @c holds pages of the segment.
 */
VISIBLE_IF_KUNIT bool vma_defrag_chunk_bounds(unsigned long key_pfn,
					      unsigned long first,
					      unsigned long nr,
					      unsigned long align,
					      unsigned long c,
					      unsigned long *cfirst,
					      unsigned long *cnr)
{
	unsigned long seg_key = key_pfn + first, seg_end = seg_key + nr;
	unsigned long lo, hi;

	if (c > (seg_end - 1) / align - seg_key / align)
		return false;
	lo = (seg_key / align + c) * align;
	hi = min(lo + align, seg_end);
	lo = max(lo, seg_key);
	*cfirst = lo - key_pfn;
	*cnr = hi - lo;
	return true;
}
EXPORT_SYMBOL_IF_KUNIT(vma_defrag_chunk_bounds);

/* Index, within @seg, of the chunk of key space that page @index is in */
static unsigned long seg_chunk(const struct defrag_ctx *ctx,
			       const struct defrag_segment *seg,
			       unsigned long index)
{
	return (ctx->key_pfn + index) / seg->align -
	       (ctx->key_pfn + seg->first) / seg->align;
}

static void fail(struct defrag_ctx *ctx, enum vma_defrag_fail why,
		 unsigned long pages, unsigned long index)
{
	/* A transient reference or lock: try once more after the window */
	if (why == VMA_DEFRAG_FAIL_BUSY && !ctx->retrying) {
		bitmap_set(ctx->retry, index, pages);
		return;
	}
	ctx->stats->failed[why] += pages;
	/* An unmovable target: that chunk is anchored again afterwards */
	if (why == VMA_DEFRAG_FAIL_UNMOVABLE && ctx->reanchor) {
		unsigned long c = seg_chunk(ctx, ctx->seg, index);

		__set_bit(c, ctx->reanchor);
		ctx->reanchor_fails[c] += pages;
	}
}

/* Hole @index could not be filled now: once more after the window */
static void retry_hole(struct defrag_ctx *ctx, unsigned long index)
{
	__set_bit(index, ctx->fill);
	if (!ctx->retrying)
		__set_bit(index, ctx->retry);
}

static void fill_evicted(struct defrag_ctx *ctx, unsigned long index);

static void flush_batch(struct defrag_ctx *ctx)
{
	struct vma_defrag_stats *st = ctx->stats;
	unsigned int i, nr;
	bool evicted = false;

	if (ctx->nr_pairs) {
		exchange_folio_pairs(ctx->pairs, ctx->nr_pairs);
		for (i = 0; i < ctx->nr_pairs; i++) {
			struct exchange_pair *p = &ctx->pairs[i];
			unsigned long nr = folio_nr_pages(p->a);

			if (p->result == EXCHANGE_DONE) {
				st->exchanged += nr;
				st->thp_moved += nr > 1;
				ctx->moved += nr;
				if (ctx->pair_unmaps[i])
					bitmap_set(ctx->refault,
						   ctx->pair_index[i], nr);
			} else {
				enum vma_defrag_fail why = fail_reason(p->result);

				/* A pinned target is as good as unmovable */
				if (why == VMA_DEFRAG_FAIL_PINNED &&
				    folio_maybe_dma_pinned(p->b))
					why = VMA_DEFRAG_FAIL_UNMOVABLE;
				/* Our page may not move: no window helps */
				if (p->result == EXCHANGE_UNEVICTABLE &&
				    (folio_test_mlocked(p->a) ||
				     folio_test_unevictable(p->a)))
					why = VMA_DEFRAG_FAIL_UNSUPPORTED;
				fail(ctx, why, nr, ctx->pair_index[i]);
			}
			folio_put(p->a);
			folio_put(p->b);
		}
		ctx->nr_pairs = 0;
	}
	if (ctx->nr_moves) {
		ctx->moves[ctx->nr_moves].src = NULL;
		vma_defrag_migrate_to(ctx->moves, ctx->nr_moves);
		for (i = 0; i < ctx->nr_moves; i++) {
			struct vma_defrag_move *m = &ctx->moves[i];
			unsigned long nr = folio_nr_pages(m->dst);

			if (ctx->move_evicts[i]) {
				if (m->done) {
					st->evicted++;
					evicted = true;
					continue;
				}
				/* The hole gets a page elsewhere, later */
				folio_put(m->dst);
				retry_hole(ctx, ctx->move_index[i]);
				ctx->move_evicts[i] = false;
				continue;
			}
			if (m->done) {
				st->migrated += nr;
				st->thp_moved += nr > 1;
				ctx->moved += nr;
				continue;
			}
			/*
			 * Often a reference held for a moment (a GUP-fast
			 * walk, a per-CPU LRU batch): once more after the
			 * window, like a busy page
			 */
			if (ctx->retrying)
				st->failed[VMA_DEFRAG_FAIL_MIGRATE] += nr;
			else
				bitmap_set(ctx->retry, ctx->move_index[i], nr);
			/* Keep the frame: it is still a free target. */
			if (xa_err(xa_store(&ctx->held, folio_pfn(m->dst),
					    &m->dst->page, GFP_KERNEL)))
				folio_put(m->dst);
		}
		nr = ctx->nr_moves;
		ctx->nr_moves = 0;
		/* The frames the evicted pages left, freed on this CPU */
		if (evicted)
			drain_local_pages(ctx->seg->zone);
		for (i = 0; i < nr; i++) {
			if (ctx->move_evicts[i])
				fill_evicted(ctx, ctx->move_index[i]);
			ctx->move_evicts[i] = false;
		}
	}
}

/* Is @folio part of the batch being built? */
static bool in_batch(struct defrag_ctx *ctx, struct folio *folio)
{
	unsigned int i;

	for (i = 0; i < ctx->nr_pairs; i++)
		if (ctx->pairs[i].a == folio || ctx->pairs[i].b == folio)
			return true;
	for (i = 0; i < ctx->nr_moves; i++)
		if (ctx->moves[i].src == folio || ctx->moves[i].dst == folio)
			return true;
	return false;
}

static bool should_stop(struct defrag_ctx *ctx)
{
	const struct vma_defrag_request *req = ctx->req;

	if (ctx->stop)
		return true;
	if (fatal_signal_pending(current))
		ctx->stop = -EINTR;
	else if ((req->max_pages && ctx->moved >= req->max_pages) ||
		 (req->max_ns && ktime_get_ns() >= ctx->deadline) ||
		 (req->stop && req->stop(req->stop_arg)))
		ctx->stop = 1;
	return ctx->stop;
}

/* The folio mapped at @va, with a reference, and the PFN behind @va */
static struct folio *lookup(struct defrag_ctx *ctx, unsigned long va,
			    unsigned long *pfn, bool *supported)
{
	struct vm_area_struct *vma;
	struct folio *folio = NULL;
	struct folio_walk fw;

	*supported = true;
	mmap_read_lock(ctx->mm);
	vma = vma_lookup(ctx->mm, va);
	if (!vma)
		goto out;
	if ((vma->vm_flags & (VM_IO | VM_PFNMAP | VM_HUGETLB)) ||
	    !vma_defrag_vma_supported(vma)) {
		*supported = false;
		goto out;
	}
	folio = folio_walk_start(&fw, vma, va, 0);
	if (folio) {
		folio_get(folio);
		*pfn = page_to_pfn(fw.page);
		folio_walk_end(&fw, vma);
	}
out:
	mmap_read_unlock(ctx->mm);
	return folio;
}

static int split_locked(struct folio *folio)
{
	int ret;

	folio_lock(folio);
	ret = split_folio(folio);
	if (ret == -EAGAIN) {
		/* A per-CPU LRU batch may hold a reference */
		lru_add_drain_all();
		ret = split_folio(folio);
	}
	folio_unlock(folio);
	return ret;
}

/**
 * vma_defrag_target_folio() - the movable folio in a target frame
 * @pfn: The target frame.
 *
 * KUnit replaces it (a static stub) to make a frame of a window look taken
 * by the kernel in the middle of a request, which is what re-anchoring is
 * for and what no test can arrange otherwise.
 *
 * Return: The folio, with a reference, or NULL if there is none.
 */
VISIBLE_IF_KUNIT struct folio *vma_defrag_target_folio(unsigned long pfn)
{
	struct page *page = pfn_to_online_page(pfn);
	struct folio *folio;

	KUNIT_STATIC_STUB_REDIRECT(vma_defrag_target_folio, pfn);
	if (!page)
		return NULL;
	folio = page_folio(page);
	if (!folio_try_get(folio))
		return NULL;
	if (page_folio(page) != folio ||
	    defrag_frame_kind(page) != FRAME_MOVABLE) {
		folio_put(folio);
		return NULL;
	}
	return folio;
}
EXPORT_SYMBOL_IF_KUNIT(vma_defrag_target_folio);

static bool target_free(unsigned long pfn)
{
	struct page *page = pfn_to_online_page(pfn);

	return page && defrag_frame_kind(page) == FRAME_FREE;
}

/*
 * May the folio an exchange would move out of our window land on node
 * @nid? Only if every task mapping it may allocate there: its mm's owner's
 * cpuset, and a strict (MPOL_BIND) policy of the VMA mapping it. The
 * owner stands for the mm's tasks, as it does for memcg; a thread with a
 * narrower cpuset of its own or a task policy is not looked at.
 */
struct victim_node {
	int nid;
	bool allowed;
};

static bool victim_node_one(struct folio *folio, struct vm_area_struct *vma,
			    unsigned long addr, void *arg)
{
	struct victim_node *v = arg;

#ifdef CONFIG_NUMA
	if (vma->vm_policy && vma->vm_policy->mode == MPOL_BIND &&
	    !node_isset(v->nid, vma->vm_policy->nodes))
		v->allowed = false;
#endif
#ifdef CONFIG_MEMCG
	if (v->allowed) {
		struct task_struct *owner;

		rcu_read_lock();
		owner = rcu_dereference(vma->vm_mm->owner);
		if (owner && !node_isset(v->nid, cpuset_mems_allowed(owner)))
			v->allowed = false;
		rcu_read_unlock();
	}
#endif
	return v->allowed;
}

/*
 * 1 if @victim may go to node @nid, 0 if not, -EBUSY if its lock or rmap
 * lock is held by someone else (try again later).
 */
static int victim_may_land(struct folio *victim, int nid)
{
	struct victim_node v = { .nid = nid, .allowed = true };
	struct rmap_walk_control rwc = {
		.rmap_one = victim_node_one,
		.arg = &v,
		.try_lock = true,
		.anon_lock = folio_lock_anon_vma_read,
	};

	if (folio_nid(victim) == nid)
		return 1;
	if (!folio_trylock(victim))
		return -EBUSY;
	rmap_walk(victim, &rwc);
	folio_unlock(victim);
	if (rwc.contended)
		return -EBUSY;
	return v.allowed;
}

/*
 * Queue @folio, which must go to @target, for migration into a held frame
 * or for exchange with the folio there. Returns false when the caller
 * should look the page up again (something was split).
 */
static bool queue_move(struct defrag_ctx *ctx, struct folio *folio,
		       unsigned long index, unsigned long target)
{
	unsigned int order = folio_order(folio);
	unsigned long nr = 1UL << order;
	bool exchange_only = ctx->req->flags & VMA_DEFRAG_EXCHANGE_ONLY;
	bool free_only = ctx->req->flags & VMA_DEFRAG_FREE_ONLY;
	struct folio *other;
	struct page *held;
	int ret;

	/* Moving it would move another process's page too */
	if (free_only && folio_likely_mapped_shared(folio)) {
		fail(ctx, VMA_DEFRAG_FAIL_UNSUPPORTED, nr, index);
		folio_put(folio);
		return true;
	}
	held = held_at(ctx, target, order);
	if (!held && !exchange_only && target_free(target)) {
		ret = take_free_drained(ctx, target, order);
		if (ret == -ENOMEM) {
			fail(ctx, VMA_DEFRAG_FAIL_NOMEM, nr, index);
			folio_put(folio);
			return true;
		}
		/* Free frames, but not as one block: go page by page */
		if (ret == -ERANGE)
			goto split_ours;
		held = held_at(ctx, target, order);
	}
	if (held) {
		if (folio_order(page_folio(held)) != order) {
			if (order)
				goto split_ours;
			/* A large free target left by a failed migration */
			fail(ctx, VMA_DEFRAG_FAIL_BUSY, nr, index);
			folio_put(folio);
			return true;
		}
		xa_erase(&ctx->held, target);
		ctx->move_index[ctx->nr_moves] = index;
		ctx->moves[ctx->nr_moves].src = folio;
		ctx->moves[ctx->nr_moves].dst = page_folio(held);
		ctx->nr_moves++;
		return true;
	}

	/* No exchange with, nor split of, what another process may own */
	if (free_only) {
		if (order)
			goto split_ours;
		fail(ctx, target_free(target) ? VMA_DEFRAG_FAIL_BUSY :
		     VMA_DEFRAG_FAIL_UNMOVABLE, nr, index);
		folio_put(folio);
		return true;
	}
	other = vma_defrag_target_folio(target);
	if (!other && order)
		goto split_ours;
	if (!other) {
		fail(ctx, target_free(target) ? VMA_DEFRAG_FAIL_BUSY :
		     VMA_DEFRAG_FAIL_UNMOVABLE, nr, index);
		folio_put(folio);
		return true;
	}
	if (in_batch(ctx, other)) {
		folio_put(other);
		flush_batch(ctx);
		folio_put(folio);
		return false;
	}
	if (folio_order(other) == order && folio_pfn(other) == target) {
		/* The other page would land where ours is: may it? */
		ret = victim_may_land(other, folio_nid(folio));
		if (ret <= 0) {
			ctx->stats->node_refused += ret ? 0 : nr;
			fail(ctx, ret ? VMA_DEFRAG_FAIL_BUSY :
			     VMA_DEFRAG_FAIL_UNMOVABLE, nr, index);
			folio_put(other);
			folio_put(folio);
			return true;
		}
		ctx->pair_index[ctx->nr_pairs] = index;
		/* Exchanged with an anonymous folio, shmem is unmapped */
		ctx->pair_unmaps[ctx->nr_pairs] = !folio_test_anon(folio) &&
						  folio_test_anon(other);
		ctx->pairs[ctx->nr_pairs].a = folio;
		ctx->pairs[ctx->nr_pairs].b = other;
		/* Ours: refault_segment() maps it back */
		ctx->pairs[ctx->nr_pairs].flags = EXCHANGE_UNMAP_A;
		ctx->nr_pairs++;
		return true;
	}
	if (folio_order(other) > order) {
		/* A base page must go into part of a large folio */
		ret = split_locked(other);
		folio_put(other);
		folio_put(folio);
		if (ret) {
			fail(ctx, VMA_DEFRAG_FAIL_SPLIT, nr, index);
			return true;
		}
		return false;
	}
	folio_put(other);
split_ours:
	ret = split_locked(folio);
	folio_put(folio);
	if (ret) {
		fail(ctx, VMA_DEFRAG_FAIL_SPLIT, nr, index);
		return true;
	}
	ctx->stats->thp_split++;
	return false;
}

/* ---------------------------------------------------------------------- */
/* Populating holes into place */

/* @n holes filled, at their targets if @in_place */
static void count_filled(struct defrag_ctx *ctx, unsigned long n,
			 bool in_place)
{
	ctx->stats->populated += n;
	if (in_place)
		ctx->stats->populated_in_place += n;
	ctx->moved += n;
}

/*
 * The frame @target of a hole, held or free, taken out of ctx->held for
 * it as an order-0 page; NULL when it is in use (or held as a large
 * folio, left by a failed migration).
 */
static struct page *take_hole_frame(struct defrag_ctx *ctx,
				    unsigned long target)
{
	struct page *held = held_at(ctx, target, 0);

	if (!held && target_free(target) &&
	    !take_free_drained(ctx, target, 0))
		held = held_at(ctx, target, 0);
	if (!held || folio_test_large(page_folio(held)))
		return NULL;
	xa_erase(&ctx->held, target);
	return held;
}

/**
 * vma_defrag_vma_fillable() - may VMA_DEFRAG_POPULATE fill a VMA's holes
 * @vma: the VMA; mmap_lock held
 * @write: for a writable pin (VMA_DEFRAG_POPULATE_WRITE)
 *
 * Private anonymous memory the caller's pin could fault in: writable for a
 * writable pin, readable for a read-only one (check_vma_flags() in
 * mm/gup.c). Not under userfaultfd, whose handler decides what a missing
 * page gets. Shmem holes are left to the pin: its pages belong in the
 * page cache, which a fault fills.
 *
 * Return: true if a request with VMA_DEFRAG_POPULATE fills its holes, and
 * replaces the pages its pin would replace (the shared zero page, pages
 * shared copy-on-write).
 */
bool vma_defrag_vma_fillable(struct vm_area_struct *vma, bool write)
{
	return vma_is_anonymous(vma) &&
	       (vma->vm_flags & (write ? VM_WRITE : VM_READ)) &&
	       !(vma->vm_flags & (VM_IO | VM_PFNMAP | VM_HUGETLB)) &&
	       !userfaultfd_armed(vma);
}
EXPORT_SYMBOL_GPL(vma_defrag_vma_fillable);

/* Does this request fill the holes of @vma? */
static bool may_fill(const struct defrag_ctx *ctx, struct vm_area_struct *vma)
{
	return ctx->fill &&
	       vma_defrag_vma_fillable(vma, ctx->req->flags &
					    VMA_DEFRAG_POPULATE_WRITE);
}

/* The first address in [@va, @end) of a VMA whose holes may be filled */
static unsigned long next_fillable(struct defrag_ctx *ctx, unsigned long va,
				   unsigned long end)
{
	VMA_ITERATOR(vmi, ctx->mm, va);
	struct vm_area_struct *vma;

	if (!ctx->fill)
		return end;
	for_each_vma_range(vmi, vma, end)
		if (may_fill(ctx, vma))
			return max(va, vma->vm_start);
	return end;
}

/* The PMD entry covering @va, with the tables above it; NULL: no memory */
static pmd_t *alloc_pmd(struct mm_struct *mm, unsigned long va)
{
	p4d_t *p4d = p4d_alloc(mm, pgd_offset(mm, va), va);
	pud_t *pud = p4d ? pud_alloc(mm, p4d, va) : NULL;

	return pud ? pmd_alloc(mm, pud, va) : NULL;
}

/* A page-table entry a fill leaves alone */
#define FILL_SKIP	ERR_PTR(-EBUSY)

/*
 * What a fill puts in place of page-table entry @pte of @vma at @addr, as
 * the pin's fault would: a zeroed page for nothing mapped or for the
 * shared zero page (NULL); a copy of @pte's page when the pin would copy
 * it (that page); else FILL_SKIP.
 */
static struct page *fill_source(struct vm_area_struct *vma,
				unsigned long addr, pte_t pte)
{
	struct page *page;

	if (pte_none(pte))
		return NULL;
	if (!pte_present(pte))
		return FILL_SKIP;
	if (is_zero_pfn(pte_pfn(pte)))
		return NULL;
	page = vm_normal_page(vma, addr, pte);
	return page && vma_defrag_pin_copies(page) ? page : FILL_SKIP;
}

/*
 * A PMD mapping what the pin would replace (the huge zero page, or a THP
 * shared copy-on-write) is split first, as the pin's unsharing fault
 * splits it (do_huge_pmd_wp_page()), so that its pages are replaced one
 * by one. mmap_lock is held.
 */
static void split_shared_pmd(struct vm_area_struct *vma, pmd_t *pmd,
			     unsigned long va)
{
	pmd_t val = pmdp_get_lockless(pmd);

	if (pmd_trans_huge(val) &&
	    (is_huge_zero_pmd(val) || vma_defrag_pin_copies(pmd_page(val))))
		split_huge_pmd(vma, pmd, va);
}

/*
 * Map new pages at @va and the pages after it, all under one PMD, where
 * the pin would put new pages: holes, the shared zero page, and pages the
 * pin would copy (vma_defrag_pin_copies()), whose content the new page
 * takes. They
 * are mapped as do_anonymous_page() maps a write fault's page and
 * wp_page_copy() a copy (for a read-only pin, as its unsharing fault
 * does: exclusive, not writable), under one hold of mmap_lock and of the
 * page-table lock. @run[0..@n).folio are frames the request took at the
 * pages' targets (order 0), or, where NULL, a folio is allocated where a
 * fault would allocate it (the VMA's policy). Charged to the mm's memcg as
 * a fault is. An entry that changed since it was read, or whose VMA went
 * or changed, is left alone and its folio given back. Entries replaced
 * are cleared and flushed from the TLBs before the new ones are set, and
 * the old page's mapping dropped after, as in wp_page_copy(). Returns the
 * pages mapped; every folio is consumed.
 */
static unsigned long install_run(struct defrag_ctx *ctx, unsigned long va,
				 struct fill_slot *run, unsigned long n)
{
	bool write = ctx->req->flags & VMA_DEFRAG_POPULATE_WRITE;
	unsigned long k, mapped = 0, new_anon = 0, all = n;
	struct mmu_notifier_range range;
	struct mm_struct *mm = ctx->mm;
	bool replacing = false, cleared = false;
	struct vm_area_struct *vma;
	spinlock_t *ptl;	/* of the page table */
	pte_t *pte;
	pmd_t *pmd;

	for (k = 0; k < all; k++) {
		run[k].src = FILL_SKIP;
		run[k].install = false;
	}
	if (mmap_read_lock_killable(mm)) {
		ctx->stop = -EINTR;
		goto put;
	}
	vma = vma_lookup(mm, va);
	if (!vma || !may_fill(ctx, vma) || va + n * PAGE_SIZE > vma->vm_end ||
	    test_bit(MMF_UNSTABLE, &mm->flags) || anon_vma_prepare(vma))
		goto unlock;
	pmd = alloc_pmd(mm, va);
	if (!pmd)
		goto unlock;
	split_shared_pmd(vma, pmd, va);
	if (pte_alloc(mm, pmd))
		goto unlock;

	/* What each entry holds: the pages to copy are held meanwhile */
	pte = pte_offset_map_lock(mm, pmd, va, &ptl);
	if (!pte)
		goto unlock;
	for (k = 0; k < n; k++) {
		run[k].orig = ptep_get(pte + k);
		run[k].src = fill_source(vma, va + k * PAGE_SIZE, run[k].orig);
		if (!IS_ERR_OR_NULL(run[k].src))
			get_page(run[k].src);
		if (!IS_ERR(run[k].src) && !pte_none(run[k].orig))
			replacing = true;
	}
	pte_unmap_unlock(pte, ptl);

	for (k = 0; k < n; k++) {
		unsigned long addr = va + k * PAGE_SIZE;
		struct folio *folio = run[k].folio;

		if (IS_ERR(run[k].src))
			continue;
		/* Zeroed, unless the copy below overwrites it */
		if (!folio && run[k].src)
			folio = vma_alloc_folio(GFP_HIGHUSER_MOVABLE, 0, vma,
						addr, false);
		else if (!folio)
			folio = vma_alloc_zeroed_movable_folio(vma, addr);
		else if (!run[k].src)
			clear_user_highpage(&folio->page, addr);
		run[k].folio = folio;
		if (!folio || mem_cgroup_charge(folio, mm, GFP_KERNEL))
			break;
		/* A copy that meets a memory error is left to the pin */
		if (run[k].src && copy_mc_user_highpage(&folio->page,
							run[k].src, addr,
							vma))
			continue;
		__folio_mark_uptodate(folio);
		run[k].install = true;
	}
	n = k;

	if (replacing) {
		mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, va,
					va + n * PAGE_SIZE);
		mmu_notifier_invalidate_range_start(&range);
	}
	pte = pte_offset_map_lock(mm, pmd, va, &ptl);
	if (!pte)
		goto notified;
	for (k = 0; k < n; k++) {
		unsigned long addr = va + k * PAGE_SIZE;

		if (!run[k].install)
			continue;
		if (!pte_same(ptep_get(pte + k), run[k].orig)) {
			run[k].install = false;
			continue;
		}
		if (pte_none(run[k].orig))
			continue;
		flush_cache_page(vma, addr, pte_pfn(run[k].orig));
		ptep_get_and_clear(mm, addr, pte + k);
		cleared = true;
	}
	if (cleared)
		flush_tlb_range(vma, va, va + n * PAGE_SIZE);
	for (k = 0; k < n; k++) {
		unsigned long addr = va + k * PAGE_SIZE;
		struct folio *folio = run[k].folio;
		pte_t entry;

		if (!run[k].install)
			continue;
		entry = pte_sw_mkyoung(mk_pte(&folio->page, vma->vm_page_prot));
		if (write && (vma->vm_flags & VM_WRITE))
			entry = pte_mkwrite(pte_mkdirty(entry), vma);
		else if (pte_present(run[k].orig) &&
			 pte_soft_dirty(run[k].orig))
			entry = pte_mksoft_dirty(entry);
		folio_add_new_anon_rmap(folio, vma, addr, RMAP_EXCLUSIVE);
		folio_add_lru_vma(folio, vma);
		set_pte_at(mm, addr, pte + k, entry);
		update_mmu_cache_range(NULL, vma, addr, pte + k, 1);
		if (run[k].src) {
			/* After the new entry is set: see wp_page_copy() */
			folio_remove_rmap_pte(page_folio(run[k].src),
					      run[k].src, vma);
		} else {
			if (!pte_none(run[k].orig))
				ksm_might_unmap_zero_page(mm, run[k].orig);
			new_anon++;
		}
		run[k].folio = NULL;
		mapped++;
	}
	add_mm_counter(mm, MM_ANONPAGES, new_anon);
	pte_unmap_unlock(pte, ptl);
notified:
	if (replacing)
		mmu_notifier_invalidate_range_end(&range);
unlock:
	mmap_read_unlock(mm);
put:
	for (k = 0; k < all; k++) {
		/* Uncharged, if they were, and given back to the allocator */
		if (run[k].folio)
			folio_put(run[k].folio);
		if (IS_ERR_OR_NULL(run[k].src))
			continue;
		/* The reference of the mapping replaced, then ours */
		if (run[k].install)
			folio_put(page_folio(run[k].src));
		put_page(run[k].src);
	}
	return mapped;
}

#ifdef CONFIG_TRANSPARENT_HUGEPAGE
/*
 * Fill the holes [@index, @index + HPAGE_PMD_NR) with one PMD-mapped THP,
 * as a THP fault would (__do_huge_pmd_anonymous_page()), when they are a
 * whole PMD of a VMA that allows THPs (its flags and the sysfs settings,
 * as in a fault), with no page table below it, and their targets a whole
 * free block: one zeroing of 2 MiB, one entry, the CPU's large TLB entry
 * too. Returns true if it did; false leaves everything as it was, for the
 * page-by-page fill.
 */
static bool fill_thp(struct defrag_ctx *ctx, const struct defrag_segment *seg,
		     unsigned long index, unsigned long target)
{
	unsigned long va = ctx->req->start + index * PAGE_SIZE;
	unsigned long end = index + HPAGE_PMD_NR;
	bool write = ctx->req->flags & VMA_DEFRAG_POPULATE_WRITE;
	struct mm_struct *mm = ctx->mm;
	struct vm_area_struct *vma;
	struct folio *folio = NULL;
	struct page *held;
	pgtable_t pgtable;
	spinlock_t *ptl;	/* of the PMD */
	pmd_t *pmd, entry;

	if (pageblock_order != HPAGE_PMD_ORDER ||
	    !IS_ALIGNED(va, HPAGE_PMD_SIZE) ||
	    !IS_ALIGNED(target, HPAGE_PMD_NR) ||
	    end > seg->first + seg->nr ||
	    (ctx->req->flags & VMA_DEFRAG_EXCHANGE_ONLY) ||
	    find_next_zero_bit(ctx->fill, end, index) < end)
		return false;
	if (mmap_read_lock_killable(mm))
		return false;
	vma = vma_lookup(mm, va);
	if (!vma || !may_fill(ctx, vma) || va + HPAGE_PMD_SIZE > vma->vm_end ||
	    !thp_vma_allowable_order(vma, vma->vm_flags,
				     TVA_IN_PF | TVA_ENFORCE_SYSFS,
				     HPAGE_PMD_ORDER) ||
	    test_bit(MMF_UNSTABLE, &mm->flags) || anon_vma_prepare(vma))
		goto unlock;
	pmd = alloc_pmd(mm, va);
	if (!pmd || !pmd_none(pmdp_get(pmd)))
		goto unlock;
	/*
	 * A whole free block at the target, taken as one THP-shaped folio.
	 * Frames just freed sit on per-CPU lists, which keep the buddy
	 * allocator from merging the block: drained once if it is not whole.
	 */
	if (!xa_load(&ctx->held, target) && target_free(target) &&
	    take_free(ctx, target, HPAGE_PMD_ORDER)) {
		drain_pcp(ctx, page_zone(pfn_to_page(target)));
		take_free(ctx, target, HPAGE_PMD_ORDER);
	}
	held = held_at(ctx, target, HPAGE_PMD_ORDER);
	if (!held || folio_order(page_folio(held)) != HPAGE_PMD_ORDER)
		goto unlock;
	xa_erase(&ctx->held, target);
	folio = page_folio(held);
	if (mem_cgroup_charge(folio, mm, GFP_KERNEL))
		goto unlock;
	pgtable = pte_alloc_one(mm);
	if (!pgtable)
		goto unlock;
	folio_zero_user(folio, va);
	__folio_mark_uptodate(folio);
	ptl = pmd_lock(mm, pmd);
	if (!pmd_none(pmdp_get(pmd))) {
		spin_unlock(ptl);
		pte_free(mm, pgtable);
		goto unlock;
	}
	entry = mk_huge_pmd(&folio->page, vma->vm_page_prot);
	if (write && (vma->vm_flags & VM_WRITE))
		entry = pmd_mkwrite(pmd_mkdirty(entry), vma);
	folio_add_new_anon_rmap(folio, vma, va, RMAP_EXCLUSIVE);
	folio_add_lru_vma(folio, vma);
	pgtable_trans_huge_deposit(mm, pmd, pgtable);
	set_pmd_at(mm, va, pmd, entry);
	update_mmu_cache_pmd(vma, va, pmd);
	add_mm_counter(mm, MM_ANONPAGES, HPAGE_PMD_NR);
	mm_inc_nr_ptes(mm);
	deferred_split_folio(folio, false);
	spin_unlock(ptl);
	mmap_read_unlock(mm);

	bitmap_clear(ctx->fill, index, HPAGE_PMD_NR);
	count_filled(ctx, HPAGE_PMD_NR, true);
	ctx->stats->populated_thp++;
	return true;
unlock:
	mmap_read_unlock(mm);
	/* Uncharged, if it was, and given back to the allocator */
	if (folio)
		folio_put(folio);
	return false;
}
#else
static bool fill_thp(struct defrag_ctx *ctx, const struct defrag_segment *seg,
		     unsigned long index, unsigned long target)
{
	return false;
}
#endif

/*
 * A page other than ours in the target of hole @index: queue its migration
 * to a frame outside the window (on its node), after which the hole is
 * filled in place (fill_evicted()). One copy, where a page allocated
 * elsewhere and exchanged with it would take three. A frame the allocator
 * offers inside the window is a free target: it is held for its page, and
 * another is asked for. False when it cannot be done that way (a large
 * folio, one in the batch already, no memory): the caller falls back.
 */
static bool queue_evict(struct defrag_ctx *ctx, unsigned long index,
			unsigned long target)
{
	const struct defrag_segment *seg = ctx->seg;
	struct folio *other;
	struct page *page;
	unsigned long pfn;
	int tries;

	if (ctx->nr_moves == DEFRAG_BATCH)
		flush_batch(ctx);
	other = vma_defrag_target_folio(target);
	if (!other)
		return false;
	if (folio_test_large(other) || in_batch(ctx, other)) {
		folio_put(other);
		return false;
	}
	for (tries = 0; tries < 8; tries++) {
		page = alloc_pages_node(folio_nid(other),
					GFP_HIGHUSER_MOVABLE | __GFP_THISNODE |
					__GFP_NOWARN | __GFP_NORETRY, 0);
		if (!page)
			break;
		pfn = page_to_pfn(page);
		if (pfn < seg->anchor || pfn >= seg->anchor + seg->nr)
			break;
		if (xa_err(xa_store(&ctx->held, pfn, page, GFP_KERNEL))) {
			xa_erase(&ctx->held, pfn);
			__free_page(page);
		}
		page = NULL;
	}
	if (!page) {
		folio_put(other);
		return false;
	}
	ctx->move_index[ctx->nr_moves] = index;
	ctx->move_evicts[ctx->nr_moves] = true;
	ctx->moves[ctx->nr_moves].src = other;
	ctx->moves[ctx->nr_moves].dst = page_folio(page);
	ctx->nr_moves++;
	return true;
}

/*
 * Hole @index, whose target's page was just migrated away: take the frame
 * and fill the hole there. If someone took it first, the hole is tried
 * once more after the window, like a busy page.
 */
static void fill_evicted(struct defrag_ctx *ctx, unsigned long index)
{
	unsigned long target = ctx->seg->anchor + (index - ctx->seg->first);
	struct page *page = take_hole_frame(ctx, target);
	struct fill_slot slot = {};

	if (!page) {
		retry_hole(ctx, index);
		return;
	}
	slot.folio = page_folio(page);
	count_filled(ctx, install_run(ctx, ctx->req->start + index * PAGE_SIZE,
				      &slot, 1), true);
}

/* Runs of holes shorter than this are filled a page at a time */
#define FILL_RUN_MIN	8

/*
 * Fill the run of holes from @index whose targets, from @target on, are
 * free, up to the end of its PMD (of VA), of the target's pageblock and of
 * the segment, with one install_run(): the locks and lookups of a page
 * fill paid once per run. A target pageblock held whole and wanted whole
 * is split straight into the run, without going through ctx->held page by
 * page. Returns the holes dealt with; 0 when there is no run worth it,
 * for fill_hole() to take the page alone.
 */
static unsigned long fill_run(struct defrag_ctx *ctx,
			      const struct defrag_segment *seg,
			      unsigned long index, unsigned long target)
{
	unsigned long va = ctx->req->start + index * PAGE_SIZE;
	struct fill_slot *run = ctx->run;
	unsigned long max, n, k;
	struct page *piece;

	if (!run || (ctx->req->flags & VMA_DEFRAG_EXCHANGE_ONLY))
		return 0;
	max = min3((pmd_addr_end(va, va + PMD_SIZE) - va) >> PAGE_SHIFT,
		   pageblock_end_pfn(target) - target,
		   seg->first + seg->nr - index);
	n = find_next_zero_bit(ctx->fill, index + max, index) - index;
	if (n < FILL_RUN_MIN)
		return 0;
	if (!xa_load(&ctx->held, target) && target_free(target))
		take_free_drained(ctx, target, 0);
	if (n == pageblock_nr_pages &&
	    xa_get_mark(&ctx->held, target, HELD_WHOLE)) {
		piece = xa_erase(&ctx->held, target);
		split_page(piece, pageblock_order);
		for (k = 0; k < n; k++)
			run[k].folio = page_folio(piece + k);
	} else {
		for (k = 0; k < n; k++) {
			struct page *held = held_at(ctx, target + k, 0);

			if (!held || folio_test_large(page_folio(held)))
				break;
			xa_erase(&ctx->held, target + k);
			run[k].folio = page_folio(held);
		}
		n = k;
		if (!n)
			return 0;
	}
	bitmap_clear(ctx->fill, index, n);
	count_filled(ctx, install_run(ctx, va, run, n), true);
	return n;
}

/*
 * Fill hole @index, whose frame is @target: with that frame when it is
 * free (taken from the buddy allocator, as for a migration); else, once
 * the page there is migrated away (queue_evict()); else with a page from
 * elsewhere, which the caller then moves like any page of the range (an
 * exchange with the target's folio: memory too short for a migration,
 * exchanges only, a large folio in the target, or the second try). Returns 1 when the hole is
 * dealt with, 0 when the page must be looked up again (it was mapped
 * elsewhere, and must now move).
 */
static unsigned long fill_hole(struct defrag_ctx *ctx, unsigned long index,
			       unsigned long target)
{
	unsigned int flags = ctx->req->flags;
	bool exchange_only = flags & VMA_DEFRAG_EXCHANGE_ONLY;
	struct page *page = exchange_only ? NULL : take_hole_frame(ctx, target);
	struct fill_slot slot = { .folio = page ? page_folio(page) : NULL };

	__clear_bit(index, ctx->fill);
	if (!page && (flags & VMA_DEFRAG_FREE_ONLY)) {
		/* Its target is someone's page, which this request may not touch */
		fail(ctx, VMA_DEFRAG_FAIL_UNMOVABLE, 1, index);
		return 1;
	}
	if (!page && !exchange_only && !ctx->retrying &&
	    queue_evict(ctx, index, target))
		return 1;
	if (!install_run(ctx, ctx->req->start + index * PAGE_SIZE, &slot, 1))
		return 1;
	count_filled(ctx, 1, page);
	if (page)
		return 1;
	/* On the LRU, so that it can be isolated for the exchange */
	lru_add_drain();
	return 0;
}

/*
 * Bring page @index of the range (and, for a large folio that moves whole,
 * the rest of its folio) to its target. Returns the pages dealt with; 0
 * when the page must be looked up again.
 */
static unsigned long defrag_page(struct defrag_ctx *ctx,
				 const struct defrag_segment *seg,
				 unsigned long index)
{
	unsigned long va = ctx->req->start + index * PAGE_SIZE;
	unsigned long target = seg->anchor + (index - seg->first);
	unsigned long seg_end = seg->first + seg->nr, pfn, nr, sub;
	struct folio *folio;
	bool supported;

	folio = lookup(ctx, va, &pfn, &supported);
	if (folio && ctx->fill && test_bit(index, ctx->fill)) {
		/* A page the pin would copy: copied to its target instead */
		folio_put(folio);
		folio = NULL;
	}
	if (!folio) {
		if (!supported) {
			ctx->stats->failed[VMA_DEFRAG_FAIL_UNSUPPORTED]++;
		} else if (ctx->fill && test_bit(index, ctx->fill)) {
			if (fill_thp(ctx, seg, index, target))
				return 1UL << PMD_ORDER;
			nr = fill_run(ctx, seg, index, target);
			return nr ?: fill_hole(ctx, index, target);
		} else if (ctx->pfns[index] && !ctx->retrying) {
			/*
			 * There a moment ago, not mapped now: under migration
			 * by someone else, or a shmem page an exchange
			 * unmapped. Mapped again and tried once more after the
			 * window; a page unmapped for good is not counted.
			 */
			__set_bit(index, ctx->refault);
			__set_bit(index, ctx->retry);
		}
		return 1;
	}
	if (pfn == target && !folio_test_large(folio)) {
		ctx->stats->in_place++;
		folio_put(folio);
		return 1;
	}
	if (in_batch(ctx, folio)) {
		folio_put(folio);
		flush_batch(ctx);
		return 0;
	}
	if (ctx->nr_pairs == DEFRAG_BATCH || ctx->nr_moves == DEFRAG_BATCH) {
		folio_put(folio);
		flush_batch(ctx);
		return 0;
	}

	nr = folio_nr_pages(folio);
	if (nr > 1) {
		sub = pfn - folio_pfn(folio);
		/* Whole and aligned to its size: it can move as a unit */
		if (!sub && index + nr <= seg_end && IS_ALIGNED(target, nr)) {
			if (pfn == target) {
				ctx->stats->in_place += nr;
				folio_put(folio);
				return nr;
			}
			return queue_move(ctx, folio, index, target) ? nr : 0;
		}
		if (folio_pfn(folio) + sub == target &&
		    IS_ALIGNED(target - sub, nr) && sub <= index - seg->first &&
		    index - sub + nr <= seg_end) {
			/* The rest of a folio already in place */
			ctx->stats->in_place += nr - sub;
			folio_put(folio);
			return nr - sub;
		}
		/* Misaligned target, or straddling the segment: split it */
		if (split_locked(folio)) {
			folio_put(folio);
			fail(ctx, VMA_DEFRAG_FAIL_SPLIT, 1, index);
			return 1;
		}
		ctx->stats->thp_split++;
		folio_put(folio);
		return 0;
	}
	return queue_move(ctx, folio, index, target) ? 1 : 0;
}

/*
 * Isolate the pageblocks of a window, as alloc_contig_range() does for its
 * range: the allocator cannot hand out their free frames meanwhile, frames
 * freed in them stay there, and taking a free target is not held to the
 * watermark. That is right for a move: each frame taken is given back as
 * soon as the page that moved into it has left its old frame, so near the
 * watermark (memory 97 % full) the window's few free frames still count.
 *
 * But not the whole window at once when memory is short: the free frames
 * of an isolated pageblock are lost to every other allocation, and a
 * 1 GiB window isolated whole in a fragmented guest took the bulk of free
 * memory away for the length of the request, until the OOM killer stepped
 * in. So pageblocks are isolated ahead of the moves, and released once the
 * moves are past them, as far ahead as keeps the free frames isolated (as
 * the snapshot counted them) within half of what the zone has free, and
 * always the pageblock being filled and the next. Kernel allocations
 * landing in the window further ahead meanwhile are what re-anchoring is
 * for. A pageblock that cannot be isolated (a page that is not movable
 * right now, someone else's isolation) is just filled without.
 */
#define ISOLATE_MIN_AHEAD	2	/* pageblocks */

struct window_isolation {
	unsigned long *isolated;	/* a bit per pageblock of the window */
	const u16 *block_free;		/* free frames per pageblock */
	struct zone *zone;
	unsigned long base;		/* PFN of its first pageblock */
	unsigned long nr;		/* its pageblocks */
	unsigned long next;		/* the first not tried yet */
	unsigned long released;		/* the first not released yet */
	unsigned long free;		/* free frames in isolated pageblocks */
};

static void isolation_init(struct defrag_ctx *ctx,
			   struct window_isolation *iso,
			   const struct defrag_segment *seg)
{
	iso->base = pageblock_start_pfn(seg->anchor);
	iso->nr = (pageblock_align(seg->anchor + seg->nr) - iso->base) /
		  pageblock_nr_pages;
	iso->zone = seg->zone;
	iso->block_free = seg->block_free;
	/* Without the counts, no isolation: the moves work without */
	if (iso->block_free)
		iso->isolated = bitmap_zalloc(iso->nr, GFP_KERNEL);
}

/* Free frames of pageblock @i of the window, as the snapshot saw them */
static unsigned long pageblock_free(const struct window_isolation *iso,
				    unsigned long i)
{
	return iso->block_free[i];
}

static void release_isolated(struct window_isolation *iso, unsigned long end)
{
	unsigned long pb;

	for (; iso->released < end; iso->released++) {
		if (!test_bit(iso->released, iso->isolated))
			continue;
		pb = iso->base + iso->released * pageblock_nr_pages;
		undo_isolate_page_range(pb, pb + pageblock_nr_pages,
					MIGRATE_MOVABLE);
		iso->free -= pageblock_free(iso, iso->released);
	}
}

/* Isolate ahead of the target of page @index, release what lies behind */
static void isolate_ahead(struct window_isolation *iso,
			  const struct defrag_segment *seg, unsigned long index)
{
	unsigned long cur, pb, nfree;

	if (!iso->isolated)
		return;
	cur = (seg->anchor + index - seg->first - iso->base) /
	      pageblock_nr_pages;
	release_isolated(iso, min(cur, iso->next));
	for (; iso->next < iso->nr; iso->next++) {
		nfree = pageblock_free(iso, iso->next);
		if (iso->next >= cur + ISOLATE_MIN_AHEAD &&
		    iso->free + nfree >
		    zone_page_state(iso->zone, NR_FREE_PAGES) / 2)
			break;
		pb = iso->base + iso->next * pageblock_nr_pages;
		if (start_isolate_page_range(pb, pb + pageblock_nr_pages,
					     MIGRATE_MOVABLE, 0, GFP_KERNEL))
			continue;
		__set_bit(iso->next, iso->isolated);
		iso->free += nfree;
	}
}

static void isolation_end(struct window_isolation *iso)
{
	if (!iso->isolated)
		return;
	release_isolated(iso, iso->next);
	bitmap_free(iso->isolated);
}

/*
 * An exchange of a shmem folio with an anonymous one unmaps the shmem side
 * (see mm/exchange.c) and leaves it to fault back in from the page cache,
 * which already points at the new frame. Fault our pages of @seg back in
 * now, so that the range is mapped as it was and the layout a driver reads
 * (or pins) right after shows it.
 */
static void refault_segment(struct defrag_ctx *ctx,
			    const struct defrag_segment *seg)
{
	unsigned long end = seg->first + seg->nr, i = seg->first, j;
	int locked = 0;

	for (;;) {
		i = find_next_bit(ctx->refault, end, i);
		if (i >= end)
			break;
		j = find_next_zero_bit(ctx->refault, end, i);
		if (!locked) {
			if (mmap_read_lock_killable(ctx->mm))
				return;
			locked = 1;
		}
		/* Holes unmapped meanwhile fail the call: that is fine */
		faultin_page_range(ctx->mm, ctx->req->start + i * PAGE_SIZE,
				   ctx->req->start + j * PAGE_SIZE, false,
				   &locked);
		bitmap_clear(ctx->refault, i, j - i);
		i = j;
		cond_resched();
	}
	if (locked)
		mmap_read_unlock(ctx->mm);
}

/* Bring page @index (and the rest of its folio, if it moves whole) home */
static unsigned long defrag_index(struct defrag_ctx *ctx,
				  const struct defrag_segment *seg,
				  unsigned long index)
{
	unsigned long done = 0;
	int tries;

	/* A page is looked up again after a split or a flush only */
	for (tries = 0; !done && tries < 4; tries++)
		done = defrag_page(ctx, seg, index);
	cond_resched();
	return done ? done : 1;
}

static void defrag_segment(struct defrag_ctx *ctx,
			   const struct defrag_segment *seg,
			   unsigned long *reanchor)
{
	unsigned long index = seg->first, end = seg->first + seg->nr, done;
	struct window_isolation iso = {};

	/* Exchanges alone take no free frame: nothing to keep for them */
	if (!(ctx->req->flags & VMA_DEFRAG_EXCHANGE_ONLY))
		isolation_init(ctx, &iso, seg);
	ctx->seg = seg;
	ctx->reanchor = reanchor;
	while (index < end && !should_stop(ctx)) {
		isolate_ahead(&iso, seg, index);
		index += defrag_index(ctx, seg, index);
	}
	flush_batch(ctx);
	isolation_end(&iso);
	/* Our pages an exchange unmapped, before they are looked up again */
	refault_segment(ctx, seg);

	/* Pages that met a transient reference or lock: once more */
	ctx->retrying = true;
	index = seg->first;
	while (!should_stop(ctx)) {
		index = find_next_bit(ctx->retry, end, index);
		if (index >= end)
			break;
		done = defrag_index(ctx, seg, index);
		bitmap_clear(ctx->retry, index, done);
		index += done;
	}
	flush_batch(ctx);
	ctx->retrying = false;
	/* Stopped early: what was left to retry counts as busy */
	ctx->stats->failed[VMA_DEFRAG_FAIL_BUSY] += bitmap_weight(ctx->retry,
								  end);
	bitmap_zero(ctx->retry, end);
	ctx->reanchor = NULL;
	refault_segment(ctx, seg);
}

/* ---------------------------------------------------------------------- */
/* The request */

/*
 * The first address in [@va, @end) where @mm may map a page: @va itself
 * unless a VMA boundary or a table of nothing (an empty PGD, P4D, PUD or
 * PMD entry) lies in the way, which is crossed a table at a time, so that
 * a sparse range costs what it maps. Page tables above the PTE level go
 * away only under mmap_lock for write; a racing fault only makes the
 * answer stale, as any snapshot. @end if nothing is mapped. Called with
 * mmap_lock held.
 */
static unsigned long next_mapped(struct mm_struct *mm, unsigned long va,
				 unsigned long end)
{
	while (va < end) {
		struct vm_area_struct *vma = find_vma(mm, va);
		unsigned long stop;
		pgd_t *pgd;
		p4d_t *p4d;
		pud_t *pud, pudv;
		pmd_t *pmd;

		if (!vma || vma->vm_start >= end)
			return end;
		va = max(va, vma->vm_start);
		stop = min(vma->vm_end, end);
		if (vma->vm_flags & (VM_IO | VM_PFNMAP | VM_HUGETLB)) {
			va = stop;
			continue;
		}
		pgd = pgd_offset(mm, va);
		if (pgd_none(pgdp_get(pgd))) {
			va = pgd_addr_end(va, stop);
			continue;
		}
		p4d = p4d_offset(pgd, va);
		if (p4d_none(p4dp_get(p4d))) {
			va = p4d_addr_end(va, stop);
			continue;
		}
		pud = pud_offset(p4d, va);
		pudv = pudp_get(pud);
		if (pud_none(pudv)) {
			va = pud_addr_end(va, stop);
			continue;
		}
		if (!pud_present(pudv) || pud_leaf(pudv))
			return va;
		pmd = pmd_offset(pud, va);
		if (pmd_none(pmdp_get_lockless(pmd))) {
			va = pmd_addr_end(va, stop);
			continue;
		}
		return va;
	}
	return end;
}

/*
 * Read the PFN behind each page of [first, first + nr) into ctx->pfns, 0
 * where nothing is mapped, under one hold of mmap_lock; unmapped stretches
 * are crossed a page table at a time (next_mapped()), but for VMAs whose
 * holes the request fills, which are marked in ctx->fill. @thps, if not
 * NULL, gets the pages where a PMD-sized folio starts. Returns the pages
 * present, -EINTR, or -ETIME when the request's time ran out.
 */
static long read_pfns(struct defrag_ctx *ctx, unsigned long first,
		      unsigned long nr, unsigned long *thps)
{
	unsigned long i, va, end = first + nr, steps = 0;
	bool after_hole = true;
	long present = 0;

	if (mmap_read_lock_killable(ctx->mm)) {
		ctx->stop = -EINTR;
		return -EINTR;
	}
	if (ctx->fill)
		bitmap_clear(ctx->fill, first, nr);
	for (i = first; i < end; i++) {
		struct vm_area_struct *vma;
		struct folio_walk fw;
		struct folio *folio;
		unsigned long next;

		if (!(++steps % 512)) {
			cond_resched();
			if (should_stop(ctx)) {
				present = ctx->stop < 0 ? ctx->stop : -ETIME;
				break;
			}
		}
		va = ctx->req->start + i * PAGE_SIZE;
		/* Where one page is missing, whole tables may be */
		next = after_hole ? next_mapped(ctx->mm, va, ctx->req->start +
						end * PAGE_SIZE) : va;
		vma = next > va && ctx->fill ? vma_lookup(ctx->mm, va) : NULL;
		if (vma && may_fill(ctx, vma)) {
			/* Nothing mapped in a VMA whose holes are filled */
			next = (min(next, vma->vm_end) - ctx->req->start) >>
			       PAGE_SHIFT;
			memset(ctx->pfns + i, 0, (next - i) * sizeof(*ctx->pfns));
			bitmap_set(ctx->fill, i, next - i);
			ctx->has_anon = true;
			i = next - 1;
			continue;
		}
		if (next > va)
			next = next_fillable(ctx, va, next);
		if (next > va) {
			next = (next - ctx->req->start) >> PAGE_SHIFT;
			memset(ctx->pfns + i, 0, (next - i) * sizeof(*ctx->pfns));
			i = next - 1;
			continue;
		}
		ctx->pfns[i] = 0;
		after_hole = true;
		vma = vma_lookup(ctx->mm, va);
		if (!vma || (vma->vm_flags & (VM_IO | VM_PFNMAP | VM_HUGETLB)))
			continue;
		folio = folio_walk_start(&fw, vma, va, 0);
		if (!folio) {
			/* A swap or migration entry too: the fill checks */
			if (may_fill(ctx, vma)) {
				__set_bit(i, ctx->fill);
				ctx->has_anon = true;
			}
			continue;
		}
		after_hole = false;
		if (may_fill(ctx, vma) &&
		    vma_defrag_pin_copies(fw.level == FW_LEVEL_PTE ? fw.page :
					  &folio->page)) {
			/* The pin would copy it: a hole to the plan */
			__set_bit(i, ctx->fill);
			ctx->has_anon = true;
			folio_walk_end(&fw, vma);
			continue;
		}
		ctx->pfns[i] = page_to_pfn(fw.page);
		present++;
		ctx->has_anon |= folio_test_anon(folio);
		if (thps && fw.page == &folio->page &&
		    folio_order(folio) == PMD_ORDER)
			__set_bit(i, thps);
		folio_walk_end(&fw, vma);
	}
	mmap_read_unlock(ctx->mm);
	return present;
}

/*
 * The alignments worth anchoring at: every page size of the bitmap that
 * has a whole aligned chunk in the key range, plus the base page.
 */
static int choose_aligns(const struct vma_defrag_request *req,
			 unsigned long *aligns, unsigned int *nr)
{
	unsigned long sizes = req->pgsize_bitmap & ~(PAGE_SIZE - 1);
	unsigned int bit;

	if (!(req->pgsize_bitmap & PAGE_SIZE))
		return -EINVAL;
	*nr = 0;
	aligns[(*nr)++] = 1;
	for_each_set_bit(bit, &sizes, BITS_PER_LONG) {
		u64 size = 1ULL << bit;

		if (bit == PAGE_SHIFT || *nr == DEFRAG_MAX_ALIGNS)
			continue;
		if (round_up(req->key, size) + size > req->key + req->len)
			break;
		aligns[(*nr)++] = size >> PAGE_SHIFT;
	}
	return 0;
}

static int check_request(const struct vma_defrag_request *req)
{
	if (!req->len || !PAGE_ALIGNED(req->start) || !PAGE_ALIGNED(req->len) ||
	    !PAGE_ALIGNED(req->key) || (req->flags & ~VMA_DEFRAG_FLAGS))
		return -EINVAL;
	/* Exchange only, and never exchange: nothing could move */
	if ((req->flags & VMA_DEFRAG_EXCHANGE_ONLY) &&
	    (req->flags & VMA_DEFRAG_FREE_ONLY))
		return -EINVAL;
	if (req->start + req->len < req->start || req->key + req->len < req->key)
		return -EOVERFLOW;
	if (req->start + req->len > TASK_SIZE_MAX)
		return -EINVAL;
	return 0;
}

/* Move the pages of every segment; anchor failed chunks again, once. */
static void move_all(struct defrag_ctx *ctx)
{
	unsigned int planned = ctx->nr_segs, s;

	for (s = 0; s < planned && !should_stop(ctx); s++) {
		struct defrag_segment seg = ctx->segs[s];
		unsigned long end = seg.first + seg.nr;
		unsigned long chunks = seg_chunk(ctx, &seg, end - 1) + 1;
		unsigned long *reanchor = bitmap_zalloc(chunks, GFP_KERNEL);
		unsigned long c;

		ctx->reanchor_fails = kvcalloc(chunks, sizeof(long), GFP_KERNEL);
		if (!ctx->reanchor_fails) {
			bitmap_free(reanchor);
			reanchor = NULL;
		}
		defrag_segment(ctx, &seg, reanchor);
		if (!reanchor)
			continue;
		for_each_set_bit(c, reanchor, chunks) {
			unsigned int before = ctx->nr_segs;
			unsigned long first, nr;

			if (should_stop(ctx))
				break;
			if (WARN_ON_ONCE(!vma_defrag_chunk_bounds(ctx->key_pfn,
								  seg.first,
								  seg.nr,
								  seg.align, c,
								  &first, &nr)))
				break;
			/* Its pages may have moved: read them again */
			if (read_pfns(ctx, first, nr, NULL) < 0)
				break;
			if (defrag_index_get(&ctx->icost, &ctx->until,
					     &ctx->cache))
				break;
			anchor_segment(ctx, first, nr, seg.align);
			defrag_index_put(0, &ctx->until, &ctx->icost,
					 &ctx->cache);
			if (ctx->nr_segs == before)
				continue;
			ctx->stats->reanchors++;
			/* Its pages get another go: the new window tells */
			ctx->stats->failed[VMA_DEFRAG_FAIL_UNMOVABLE] -=
				ctx->reanchor_fails[c];
			defrag_segment(ctx, &ctx->segs[before], NULL);
		}
		bitmap_free(reanchor);
		kvfree(ctx->reanchor_fails);
		ctx->reanchor_fails = NULL;
	}
}

/*
 * A request works on its range a slice at a time: one chunk of key space of
 * the largest usable page size, and at least 1 GiB, so that no chunk a
 * device could map whole is cut, the per-page arrays of a request stay
 * bounded whatever the range's size, and a sparse range costs only what it
 * maps (next_mapped() skips what holds nothing).
 */
#define DEFRAG_SLICE_PAGES	(SZ_1G / PAGE_SIZE)

static int slice_size(const struct vma_defrag_request *req,
		      unsigned long *pages)
{
	unsigned long aligns[DEFRAG_MAX_ALIGNS];
	unsigned int nr;
	int ret = choose_aligns(req, aligns, &nr);

	if (ret)
		return ret;
	*pages = max(DEFRAG_SLICE_PAGES, aligns[nr - 1]);
	return 0;
}

/*
 * Plan and move the pages of [first, first + nr) of the request: a slice,
 * seen as a request of its own through ctx->slice.
 */
static int defrag_slice(struct defrag_ctx *ctx, unsigned long first,
			unsigned long nr)
{
	const struct vma_defrag_request *req = ctx->req;
	struct vma_defrag_stats *stats = ctx->stats;
	unsigned long holes;
	unsigned int i;
	long present;
	u64 t1;
	int ret;

	ctx->slice = *req;
	ctx->slice.start = req->start + first * PAGE_SIZE;
	ctx->slice.key = req->key + first * PAGE_SIZE;
	ctx->slice.len = nr * PAGE_SIZE;
	ctx->req = &ctx->slice;
	ctx->key_pfn = ctx->slice.key >> PAGE_SHIFT;
	ctx->has_anon = false;
	bitmap_zero(ctx->thps, nr);
	if (ctx->fill)
		bitmap_zero(ctx->fill, nr);
	bitmap_zero(ctx->refault, nr);
	bitmap_zero(ctx->retry, nr);
	ret = choose_aligns(ctx->req, ctx->aligns, &ctx->nr_aligns);
	if (ret)
		goto out;

	t1 = ktime_get_ns();
	present = read_pfns(ctx, 0, nr, ctx->thps);
	stats->read_ns += ktime_get_ns() - t1;
	ret = present < 0 && present != -ETIME ? present : 0;
	if (present < 0)
		goto out;
	holes = ctx->fill ? bitmap_weight(ctx->fill, nr) : 0;
	/* Nothing populated nor to fill: no move, and no window to claim */
	if (!present && !holes)
		goto out;
	stats->present += present;

	/*
	 * Pages in per-CPU batches can be neither isolated nor taken, and a
	 * page not yet on the LRU reads as blocked to the window search.
	 * Once per request, and only once there are pages and time to work
	 * with: the drains wait for every CPU.
	 */
	if (!ctx->drained && !should_stop(ctx)) {
		lru_add_drain_all();
		drain_pcp(ctx, NULL);
		ctx->drained = true;
	}
	t1 = ktime_get_ns();
	ret = defrag_index_get(&ctx->icost, &ctx->until, &ctx->cache);
	if (ret)
		goto out;
	plan(ctx, 0, nr, ctx->nr_aligns - 1);
	/* Recount twice as much of the index as this slice spans, and more */
	defrag_index_put(2 * DIV_ROUND_UP(present + holes, pageblock_nr_pages) +
			 DEFRAG_INDEX_RECOUNT, &ctx->until, &ctx->icost,
			 &ctx->cache);
	stats->plan_ns += ktime_get_ns() - t1;

	move_all(ctx);
	stats->segments += ctx->nr_segs;
out:
	release_held(ctx);
	for (i = 0; i < ctx->nr_segs; i++) {
		kvfree(ctx->segs[i].block_free);
		ctx->segs[i].block_free = NULL;
	}
	ctx->nr_segs = 0;
	ctx->req = req;
	if (ret == -EINTR) {
		/* Stopped like a move would be: what was done is reported */
		ctx->stop = -EINTR;
		ret = 0;
	}
	return ret;
}

/*
 * The nodes windows may lie on: those the requesting task's cpuset allows,
 * narrowed by a strict (MPOL_BIND) policy of the task or of a VMA of the
 * range, as a fault would narrow them. Preferred and interleaving policies
 * narrow nothing (a fault falls back from them too), nor do shmem's
 * per-file policies. Empty: -EINVAL (a VMA bound to nodes the cpuset does
 * not allow).
 */
static int window_nodes(struct defrag_ctx *ctx)
{
#ifdef CONFIG_NUMA
	VMA_ITERATOR(vmi, ctx->mm, ctx->req->start);
	struct mempolicy *pol = current->mempolicy;
	struct vm_area_struct *vma;
#endif

	nodes_and(ctx->nodes, cpuset_current_mems_allowed,
		  node_states[N_MEMORY]);
#ifdef CONFIG_NUMA
	if (pol && pol->mode == MPOL_BIND)
		nodes_and(ctx->nodes, ctx->nodes, pol->nodes);
	if (mmap_read_lock_killable(ctx->mm))
		return -EINTR;
	for_each_vma_range(vmi, vma, ctx->req->start + ctx->req->len) {
		pol = vma->vm_policy;
		if (pol && pol->mode == MPOL_BIND)
			nodes_and(ctx->nodes, ctx->nodes, pol->nodes);
	}
	mmap_read_unlock(ctx->mm);
#endif
	return nodes_empty(ctx->nodes) ? -EINVAL : 0;
}

/**
 * vma_defrag_range() - make a user range physically contiguous for a device
 * @mm: the address space; the caller holds a reference (mmget)
 * @req: the range, its DMA key, the device's page sizes and the budget
 * @stats: filled in with what was done, also when stopped early
 *
 * Rearranges the populated pages of [@req->start, @req->start + @req->len)
 * so that they lie on physically contiguous frames congruent with
 * @req->key modulo the largest usable page size of @req->pgsize_bitmap,
 * moving as little as possible and using exchanges where no free frame is
 * at hand; see the top of this file. Pages not populated are left alone,
 * unless @req->flags has VMA_DEFRAG_POPULATE: then the holes of private
 * anonymous VMAs are filled with zeroed pages at their targets (see
 * "Populating into place" at the top of this file). Otherwise the only
 * pages faulted in are the range's own shmem pages that an exchange
 * unmapped. Best effort: pages that cannot move are counted in
 * @stats->failed and left where they are. A range is worked on a slice of
 * key space at a time (1 GiB, or the largest usable page size if larger),
 * so what a request allocates is bounded by the slice, and a sparse range
 * costs what it maps; a range longer than a slice may end up in one run
 * per slice.
 *
 * The frames chosen for the present pages are claimed, steering other
 * requests elsewhere, while the request runs; with @req->claims they are
 * handed over to the caller, who drops them with vma_defrag_unclaim() once
 * it has pinned the range.
 *
 * Context: process context; may sleep. Takes mmap_lock for read, briefly,
 * many times; must be called without it.
 * Return: 0 (see @stats, @stats->partial when a budget ran out), -EINVAL
 * for a bad request or a range bound (MPOL_BIND) to no node the caller's
 * cpuset allows, -EOVERFLOW for a range that wraps, -ENOMEM, or -EINTR
 * when a fatal signal stopped it (@stats still describes what was done).
 */
int vma_defrag_range(struct mm_struct *mm, const struct vma_defrag_request *req,
		     struct vma_defrag_stats *stats)
{
	unsigned long slice_pages, array_pages, done, va, end;
	u64 t0 = ktime_get_ns();
	struct defrag_ctx *ctx;
	int ret;

	memset(stats, 0, sizeof(*stats));
	ret = check_request(req);
	if (ret)
		return ret;
	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	ctx->mm = mm;
	ctx->req = req;
	ctx->stats = stats;
	ctx->deadline = t0 + req->max_ns;
	ctx->until = (struct defrag_until){
		.deadline = req->max_ns ? ctx->deadline : 0,
		.req = req,
	};
	xa_init(&ctx->held);
	stats->pages = req->len >> PAGE_SHIFT;
	ret = slice_size(req, &slice_pages);
	if (!ret)
		ret = window_nodes(ctx);
	if (ret)
		goto out;

	/* Per page of a slice; charged to the caller */
	ret = -ENOMEM;
	array_pages = min(slice_pages, stats->pages);
	ctx->pfns = kvcalloc(array_pages, sizeof(*ctx->pfns), DEFRAG_GFP);
	ctx->scratch = kvcalloc(array_pages, sizeof(*ctx->scratch),
				DEFRAG_GFP);
	ctx->thps = bitmap_kvzalloc(array_pages);
	ctx->seg_thps = bitmap_kvzalloc(array_pages);
	ctx->refault = bitmap_kvzalloc(array_pages);
	ctx->retry = bitmap_kvzalloc(array_pages);
	if (req->flags & VMA_DEFRAG_POPULATE) {
		ctx->fill = bitmap_kvzalloc(array_pages);
		ctx->seg_fill = bitmap_kvzalloc(array_pages);
		ctx->run = kvcalloc(PTRS_PER_PTE, sizeof(*ctx->run),
				    DEFRAG_GFP);
		if (!ctx->fill || !ctx->seg_fill || !ctx->run)
			goto out;
	}
	if (!ctx->pfns || !ctx->scratch || !ctx->thps || !ctx->seg_thps ||
	    !ctx->refault || !ctx->retry)
		goto out;
	ret = 0;

	/*
	 * Slice by slice, each one chunk of key space at the slice size (its
	 * ends the range's), skipping what is not mapped at all.
	 */
	for (done = 0; done < stats->pages && !ret && !should_stop(ctx);) {
		unsigned long key = req->key + done * PAGE_SIZE, nr;

		nr = min((round_down(key, slice_pages * PAGE_SIZE) +
			  slice_pages * PAGE_SIZE - key) >> PAGE_SHIFT,
			 stats->pages - done);
		va = req->start + done * PAGE_SIZE;
		end = va + nr * PAGE_SIZE;
		if (mmap_read_lock_killable(mm)) {
			ctx->stop = -EINTR;
			break;
		}
		va = min(next_mapped(mm, va, end), next_fillable(ctx, va, end));
		mmap_read_unlock(mm);
		if (va < end)
			ret = defrag_slice(ctx, done, nr);
		done += nr;
	}
	stats->segments -= stats->reanchors;
	stats->partial = ctx->stop != 0;
	if (!ret && ctx->stop < 0)
		ret = ctx->stop;
out:
	/* The moves are done: the caller's pin takes over, or nothing */
	if (req->claims)
		defrag_claims_splice(req->claims, &ctx->claims);
	else
		vma_defrag_unclaim(&ctx->claims);
	kvfree(ctx->run);
	kvfree(ctx->seg_fill);
	kvfree(ctx->fill);
	kvfree(ctx->retry);
	kvfree(ctx->refault);
	kvfree(ctx->seg_thps);
	kvfree(ctx->thps);
	kvfree(ctx->scratch);
	kvfree(ctx->pfns);
	kvfree(ctx->segs);
	stats->index_ns = ctx->icost.build_ns + ctx->icost.refresh_ns;
	stats->search_ns = ctx->icost.search_ns + ctx->icost.snapshot_ns;
	stats->index_blocks = ctx->icost.blocks_counted;
	stats->ns = ktime_get_ns() - t0;
	kfree(ctx);
	return ret;
}
EXPORT_SYMBOL_GPL(vma_defrag_range);

/**
 * vma_defrag_failed() - pages a request left away from their target
 * @stats: the request's statistics
 *
 * Return: the sum of @stats->failed over all reasons.
 */
unsigned long vma_defrag_failed(const struct vma_defrag_stats *stats)
{
	unsigned long sum = 0;
	int i;

	for (i = 0; i < NR_VMA_DEFRAG_FAIL; i++)
		sum += stats->failed[i];
	return sum;
}
EXPORT_SYMBOL_GPL(vma_defrag_failed);
