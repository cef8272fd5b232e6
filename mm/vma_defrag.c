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
 * 1. Snapshot. The PFN behind every page of the range is read (mmap_lock
 *    for read). Every frame of every zone a long-term pin may use (not
 *    ZONE_MOVABLE, not CMA: FOLL_LONGTERM would migrate the pages away
 *    again), ZONE_DMA aside (kept for devices limited to it), is
 *    classified: free, movable (anon or shmem, on an LRU list, not
 *    pinned, not KSM) or blocked (reserved, slab, page tables, kernel
 *    stacks and other kernel pages, pinned, hugetlb, non-LRU movable), and
 *    frames claimed by other requests count as blocked.
 *
 * 2. Anchors. A window is a run of frames, one per page of the range, whose
 *    first frame is congruent with the key: page i must land on anchor + i.
 *    Windows containing a blocked frame are never chosen; among the others
 *    the cheapest wins, counting the pages already at their target as free
 *    (so an already contiguous, congruent range costs nothing), a page whose
 *    target is free as one copy and one whose target is in use as an
 *    exchange (three copies). The prior art anchored blindly at the start of
 *    a zone and stopped at the first unmovable frame.
 *    When no window holds the whole range, the range is cut at an A-aligned
 *    chunk boundary of key space near its middle and each half is anchored
 *    on its own, recursively, down to single chunks; a chunk with no clean
 *    window at A is tried at the next smaller page size, and left where it
 *    is below the smallest large page size. So the result keeps as many
 *    whole 1 GiB / 2 MiB chunks as the machine allows, in as few runs.
 *
 * 3. Claims. A chosen window is recorded in an interval tree of claimed
 *    frames before anything moves, so that concurrent and later requests
 *    never pick the same frames and undo each other. A claim lives as long
 *    as its virtual range stays mapped: an mmu interval notifier drops it
 *    when the range is unmapped or moved (munmap, mremap, exit), and
 *    vma_defrag_release() drops it when the registration that asked for it
 *    goes away. A claim is advisory: it steers anchor choice, it does not
 *    keep the allocator away from the frames once the request is over
 *    (pinning does that for a registration).
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
 *       our old frame with its data intact;
 *     - target unmovable (it became so after the snapshot): the page stays,
 *       and after the segment that chunk is anchored again elsewhere, once.
 *    Our shmem pages that an exchange with an anonymous page unmapped are
 *    faulted back in after each window (refault_segment()).
 *    A large folio moves whole when its target is aligned to its size and
 *    the target is either a free block of that size or a folio of the same
 *    order. Otherwise it is split: a misaligned target (key and VA differ
 *    modulo the folio size) can only be reached page by page, and a target
 *    block of smaller pages can only be exchanged page by page. Splitting
 *    costs the CPU its large TLB entry, not the device anything: the device
 *    maps the physical run. A large folio in a target frame is split when a
 *    base page must go there.
 *
 * The request is bounded: it reschedules, stops on a fatal signal, and
 * stops at a page or time budget with a partial result. Concurrent munmap,
 * mremap, fork or mprotect of the range are safe: pages are looked up
 * again right before they move, and the exchange and migration primitives
 * work on whatever mappings exist when they run.
 */
#include <linux/exchange.h>
#include <linux/interval_tree.h>
#include <linux/memory_hotplug.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/mm_inline.h>
#include <linux/mmzone.h>
#include <linux/page-isolation.h>
#include <linux/pagewalk.h>
#include <linux/refcount.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/swap.h>
#include <linux/vma_defrag.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <kunit/static_stub.h>
#include <kunit/visibility.h>

#include "internal.h"

/* Pairs and migrations handed to the primitives at a time */
#define DEFRAG_BATCH	32

/*
 * The claimed windows of all requests. The tree is also changed from the
 * mmu notifier callback, hence a spinlock; anchor_lock makes choosing a
 * window and claiming it atomic with respect to other requests.
 */
static DEFINE_SPINLOCK(claims_lock);
static struct rb_root_cached claims_tree = RB_ROOT_CACHED;
static LIST_HEAD(claims_list);
static DEFINE_MUTEX(anchor_lock);

struct defrag_claim {
	struct interval_tree_node pfns;
	struct mmu_interval_notifier notifier;
	struct list_head node;		/* in claims_list */
	struct work_struct drop_work;
	refcount_t ref;			/* the tree's and the request's */
	unsigned long start;		/* the virtual range it serves */
	unsigned long end;
	bool watched;			/* notifier inserted, or being */
	bool live;			/* watched: vma_defrag_release() may drop it */
	bool dropping;			/* out of the tree */
};

/* A segment of the range, anchored in one window */
struct defrag_segment {
	unsigned long first;		/* page index in the range */
	unsigned long nr;
	unsigned long anchor;		/* PFN of page @first's target */
	unsigned long align;		/* pages; congruence of the window */
	struct defrag_claim *claim;	/* until watched: then the tree's */
};

struct defrag_zone_frames {
	struct zone *zone;
	struct vma_defrag_frames frames;
};

struct defrag_ctx {
	struct mm_struct *mm;
	const struct vma_defrag_request *req;
	struct vma_defrag_stats *stats;
	unsigned long nr_pages;
	unsigned long key_pfn;
	unsigned long *pfns;		/* snapshot: PFN per page, 0 if absent */
	unsigned long *thps;		/* pages where a PMD-sized folio starts */
	unsigned long *seg_thps;	/* the same, for the segment at hand */
	unsigned long *refault;		/* our shmem pages an exchange unmapped */
	unsigned long *retry;		/* pages that met a transient reference */
	bool retrying;
	unsigned long *scratch;		/* for the anchor search */
	bool has_anon;			/* the range has anonymous pages */
	unsigned long aligns[4];	/* usable alignments in pages, ascending */
	unsigned int nr_aligns;

	struct defrag_zone_frames *zones;
	unsigned int nr_zones;

	struct defrag_segment *segs;
	unsigned int nr_segs;
	unsigned int max_segs;

	struct xarray held;		/* free frames taken, by PFN */
	unsigned long moved;
	u64 deadline;
	int stop;			/* 0, -EINTR, or 1 when out of budget */

	/* the batch being built */
	struct exchange_pair pairs[DEFRAG_BATCH];
	unsigned int nr_pairs;
	struct vma_defrag_move moves[DEFRAG_BATCH + 1];	/* NULL-terminated */
	unsigned int nr_moves;
	unsigned long *reanchor;	/* chunk bitmap of the current segment */
	unsigned long *reanchor_fails;	/* per chunk: pages that failed */
	unsigned long pair_index[DEFRAG_BATCH];	/* page index of pairs[].a */
	bool pair_unmaps[DEFRAG_BATCH];	/* pairs[].a will come back unmapped */
	const struct defrag_segment *seg;
};

/* ---------------------------------------------------------------------- */
/* The claimed-frames tree */

static void claim_put(struct defrag_claim *claim)
{
	if (refcount_dec_and_test(&claim->ref))
		kfree(claim);
}

/* The end of a claim that has left the tree: its notifier goes too. */
static void claim_free_work(struct work_struct *work)
{
	struct defrag_claim *claim = container_of(work, struct defrag_claim,
						  drop_work);

	if (claim->watched)
		mmu_interval_notifier_remove(&claim->notifier);
	claim_put(claim);
}

/* Take @claim out of the tree; false if someone else already did. */
static bool claim_unlink(struct defrag_claim *claim)
{
	bool mine;

	spin_lock(&claims_lock);
	mine = !claim->dropping;
	if (mine) {
		claim->dropping = true;
		interval_tree_remove(&claim->pfns, &claims_tree);
		list_del(&claim->node);
	}
	spin_unlock(&claims_lock);
	return mine;
}

static bool claim_invalidate(struct mmu_interval_notifier *sub,
			     const struct mmu_notifier_range *range,
			     unsigned long cur_seq)
{
	struct defrag_claim *claim = container_of(sub, struct defrag_claim,
						  notifier);

	/*
	 * Only unmapping ends a claim: migration, exchange, mprotect and
	 * zapping (MADV_DONTNEED) leave the range where it is. Removing the
	 * notifier must wait until this callback has returned: a work item
	 * does it.
	 */
	if (range->event != MMU_NOTIFY_UNMAP)
		return true;
	if (claim_unlink(claim))
		schedule_work(&claim->drop_work);
	return true;
}

static const struct mmu_interval_notifier_ops claim_notifier_ops = {
	.invalidate = claim_invalidate,
};

static struct defrag_claim *claim_add(unsigned long pfn, unsigned long nr,
				      unsigned long start, unsigned long len)
{
	struct defrag_claim *claim = kzalloc(sizeof(*claim), GFP_KERNEL);

	if (!claim)
		return NULL;
	claim->pfns.start = pfn;
	claim->pfns.last = pfn + nr - 1;
	claim->start = start;
	claim->end = start + len;
	refcount_set(&claim->ref, 2);
	INIT_WORK(&claim->drop_work, claim_free_work);
	spin_lock(&claims_lock);
	interval_tree_insert(&claim->pfns, &claims_tree);
	list_add(&claim->node, &claims_list);
	spin_unlock(&claims_lock);
	return claim;
}

/*
 * Tie the claim's life to its virtual range, and drop the request's
 * reference. Without a notifier (no memory for it) a claim could outlive
 * its range: it is dropped instead.
 */
static void claim_watch(struct defrag_claim *claim, struct mm_struct *mm)
{
	/* Set first: the notifier can fire as soon as it is inserted. */
	claim->watched = true;
	if (mmu_interval_notifier_insert(&claim->notifier, mm, claim->start,
					 claim->end - claim->start,
					 &claim_notifier_ops)) {
		claim->watched = false;
		if (claim_unlink(claim))
			claim_put(claim);
	} else {
		spin_lock(&claims_lock);
		claim->live = true;
		spin_unlock(&claims_lock);
	}
	claim_put(claim);
}

/**
 * vma_defrag_claimed() - is any frame of a PFN range claimed?
 * @pfn: first frame
 * @nr: frames
 *
 * Return: true if a request's window overlaps [@pfn, @pfn + @nr).
 */
bool vma_defrag_claimed(unsigned long pfn, unsigned long nr)
{
	bool ret;

	spin_lock(&claims_lock);
	ret = interval_tree_iter_first(&claims_tree, pfn, pfn + nr - 1);
	spin_unlock(&claims_lock);
	return ret;
}
EXPORT_SYMBOL_GPL(vma_defrag_claimed);

/**
 * vma_defrag_release() - drop the claims made for a virtual range
 * @mm: the address space the claims were made in
 * @start: first VA
 * @len: bytes
 *
 * A driver calls this when the registration that asked for contiguity goes
 * away (the claims also go when the range is unmapped). The frames become
 * available to other requests' anchor search again.
 *
 * Context: process context; may sleep.
 */
void vma_defrag_release(struct mm_struct *mm, unsigned long start,
			unsigned long len)
{
	struct defrag_claim *claim, *next;
	LIST_HEAD(dropped);

	spin_lock(&claims_lock);
	list_for_each_entry_safe(claim, next, &claims_list, node) {
		if (!claim->live || claim->dropping ||
		    claim->notifier.mm != mm || claim->end <= start ||
		    claim->start >= start + len)
			continue;
		claim->dropping = true;
		interval_tree_remove(&claim->pfns, &claims_tree);
		list_move(&claim->node, &dropped);
	}
	spin_unlock(&claims_lock);

	list_for_each_entry_safe(claim, next, &dropped, node)
		claim_free_work(&claim->drop_work);
}
EXPORT_SYMBOL_GPL(vma_defrag_release);

/* ---------------------------------------------------------------------- */
/* Frame classification and the anchor search */

enum frame_kind { FRAME_FREE, FRAME_MOVABLE, FRAME_BLOCKED };

/*
 * What a frame holds, read without locks or references: a hint for the
 * anchor search, as compaction's scanners read it. The move re-checks
 * everything under references and locks.
 */
static enum frame_kind frame_kind(struct page *page)
{
	struct folio *folio;

	if (PageBuddy(page))
		return FRAME_FREE;
	if (PageReserved(page) || PageOffline(page) || PageSlab(page) ||
	    PageTable(page) || is_migrate_cma_page(page))
		return FRAME_BLOCKED;
	folio = page_folio(page);
	/* On a per-CPU free list (drained before moving), or being freed */
	if (!folio_ref_count(folio))
		return FRAME_FREE;
	if (folio_test_hugetlb(folio) || folio_test_ksm(folio) ||
	    __folio_test_movable(folio) || folio_maybe_dma_pinned(folio))
		return FRAME_BLOCKED;
	/* What compaction may not move (mm/exchange.c refuses it too) */
	if (folio_test_unevictable(folio) && !compaction_unevictable_allowed())
		return FRAME_BLOCKED;
	/* Anonymous, or shmem: swap-backed without being anonymous */
	if (folio_test_anon(folio) || folio_test_swapbacked(folio))
		return FRAME_MOVABLE;
	return FRAME_BLOCKED;
}

static unsigned long bits_in(const unsigned long *map, unsigned long from,
			     unsigned long to)
{
	unsigned long n = 0;

	for (; from < to && from % BITS_PER_LONG; from++)
		n += test_bit(from, map);
	for (; from + BITS_PER_LONG <= to; from += BITS_PER_LONG)
		n += hweight_long(map[from / BITS_PER_LONG]);
	for (; from < to; from++)
		n += test_bit(from, map);
	return n;
}

/*
 * A THP that must be split to reach its target loses its PMD mapping for
 * good; count that as two more copies of it, more than the difference
 * between migrating and exchanging it, so that a window that keeps the
 * range's THPs whole wins whenever one exists.
 */
#define THP_SPLIT_COST	(2 * PMD_PAGES)
#define PMD_PAGES	BIT(PMD_ORDER)

/*
 * THPs of the segment (@thps: bitmap of their first pages, may be NULL)
 * that could not move whole if page 0 went to @anchor: their target is not
 * aligned, or is neither a free block nor a THP.
 */
static unsigned long thp_splits(const struct vma_defrag_frames *frames,
				const unsigned long *pfns,
				const unsigned long *thps, unsigned long nr,
				unsigned long anchor)
{
	unsigned long i, t, off, splits = 0;

	if (!thps)
		return 0;
	for_each_set_bit(i, thps, nr) {
		t = anchor + i;
		off = t - frames->base;
		if (pfns[i] == t || i + PMD_PAGES > nr)
			continue;
		if (IS_ALIGNED(t, PMD_PAGES) &&
		    (bits_in(frames->free, off, off + PMD_PAGES) == PMD_PAGES ||
		     (frames->thps && test_bit(off, frames->thps))))
			continue;
		splits++;
	}
	return splits;
}

static int cmp_ulong(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a;
	unsigned long y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

/**
 * vma_defrag_choose_window() - the cheapest clean window for a segment
 * @frames: snapshot of the frames to search
 * @pfns: current PFN of each page of the segment, 0 if not present
 * @thps: bitmap of the pages of the segment where a PMD-sized folio starts,
 *	or NULL
 * @nr: pages in the segment
 * @align: congruence in pages (a power of two)
 * @phase: the anchor must be congruent with @phase modulo @align
 * @scratch: room for @nr PFNs
 * @best: filled in with the chosen window
 *
 * A window is clean when none of its frames is blocked. Its cost counts a
 * page already at its target as nothing, one that can migrate into a free
 * target as one copy and one that must be exchanged as three, plus
 * THP_SPLIT_COST for each THP that could not move whole.
 *
 * Return: true if a clean window exists.
 */
VISIBLE_IF_KUNIT bool
vma_defrag_choose_window(const struct vma_defrag_frames *frames,
			 const unsigned long *pfns, const unsigned long *thps,
			 unsigned long nr, unsigned long align,
			 unsigned long phase, unsigned long *scratch,
			 struct vma_defrag_window *best)
{
	unsigned long end = frames->base + frames->nr;
	unsigned long i, n = 0, k = 0, present = 0, first, a;
	bool found = false;

	if (!nr || nr > frames->nr)
		return false;

	/* Each present page votes for the anchor that keeps it in place. */
	for (i = 0; i < nr; i++) {
		if (!pfns[i])
			continue;
		present++;
		if (pfns[i] < frames->base + i)
			continue;
		a = pfns[i] - i;
		if (a + nr > end || (a & (align - 1)) != phase)
			continue;
		scratch[n++] = a;
	}
	sort(scratch, n, sizeof(*scratch), cmp_ulong, NULL);

	first = round_down(frames->base, align) + phase;
	if (first < frames->base)
		first += align;

	for (a = first; a + nr <= end && a >= first;) {
		unsigned long off = a - frames->base, blocked, in_place = 0;
		unsigned long moves, migrations, cost, free;

		blocked = find_next_bit(frames->blocked, off + nr, off);
		if (blocked < off + nr) {
			/* The next candidate whose window starts after it */
			a = first + round_up(frames->base + blocked + 1 - first,
					     align);
			continue;
		}
		while (k < n && scratch[k] < a)
			k++;
		while (k < n && scratch[k] == a) {
			in_place++;
			k++;
		}
		free = bits_in(frames->free, off, off + nr);
		moves = present - in_place;
		migrations = min(free, moves);
		cost = migrations + 3 * (moves - migrations) +
		       thp_splits(frames, pfns, thps, nr, a) * THP_SPLIT_COST;
		/* Equal cost: more free frames keep more THPs whole */
		if (!found || cost < best->cost ||
		    (cost == best->cost && free > best->free)) {
			best->anchor = a;
			best->in_place = in_place;
			best->free = free;
			best->cost = cost;
			found = true;
			if (!cost)
				break;
		}
		a += align;
	}
	return found;
}
EXPORT_SYMBOL_IF_KUNIT(vma_defrag_choose_window);

/*
 * Zones a window may lie in: those a long-term pin may use (not
 * ZONE_MOVABLE, whose pages FOLL_LONGTERM migrates away again), except
 * ZONE_DMA, the few MiB that lowmem_reserve keeps for devices that can
 * address nothing else: user pages are not to be moved into them.
 */
static bool zone_for_windows(struct zone *zone)
{
#ifdef CONFIG_ZONE_DMA
	if (zone_idx(zone) == ZONE_DMA)
		return false;
#endif
	return zone_idx(zone) != ZONE_MOVABLE && !zone_is_zone_device(zone);
}

/*
 * An anonymous page is never exchanged with another owner's mapped shmem
 * page (mm/exchange.c would have to unmap it): for a range with
 * anonymous pages, such frames are as good as blocked. A hint, read
 * without locks, like frame_kind().
 */
static bool frame_mapped_shmem(struct page *page)
{
	struct folio *folio = page_folio(page);

	return !folio_test_anon(folio) && folio_mapped(folio);
}

static void snapshot_zone(struct defrag_zone_frames *zf, bool exchange_only,
			  bool has_anon)
{
	struct vma_defrag_frames *f = &zf->frames;
	unsigned long i;

	for (i = 0; i < f->nr; i++) {
		struct page *page = pfn_to_online_page(f->base + i);
		enum frame_kind kind = FRAME_BLOCKED;

		if (page && page_zone(page) == zf->zone)
			kind = frame_kind(page);
		if (kind == FRAME_MOVABLE && has_anon &&
		    frame_mapped_shmem(page))
			kind = FRAME_BLOCKED;
		if (kind == FRAME_BLOCKED ||
		    (kind == FRAME_FREE && exchange_only))
			__set_bit(i, f->blocked);
		else if (kind == FRAME_FREE)
			__set_bit(i, f->free);
		else if (PageHead(page) && compound_order(page) == PMD_ORDER)
			__set_bit(i, f->thps);
		if (!(i % 4096))
			cond_resched();
	}
}

/* Claimed frames are blocked for everybody else. */
static void block_claims(struct defrag_ctx *ctx)
{
	struct interval_tree_node *it;
	unsigned int z;

	spin_lock(&claims_lock);
	for (z = 0; z < ctx->nr_zones; z++) {
		struct vma_defrag_frames *f = &ctx->zones[z].frames;
		unsigned long last = f->base + f->nr - 1;

		for (it = interval_tree_iter_first(&claims_tree, f->base, last);
		     it; it = interval_tree_iter_next(it, f->base, last)) {
			unsigned long s = max(it->start, f->base);
			unsigned long e = min(it->last, last);

			bitmap_set(f->blocked, s - f->base, e - s + 1);
		}
	}
	spin_unlock(&claims_lock);
}

static int snapshot_frames(struct defrag_ctx *ctx)
{
	bool exchange_only = ctx->req->flags & VMA_DEFRAG_EXCHANGE_ONLY;
	struct zone *zone;
	unsigned int n = 0;

	for_each_populated_zone(zone)
		if (zone_for_windows(zone))
			n++;
	ctx->zones = kcalloc(n, sizeof(*ctx->zones), GFP_KERNEL);
	if (!ctx->zones)
		return -ENOMEM;

	for_each_populated_zone(zone) {
		struct defrag_zone_frames *zf = &ctx->zones[ctx->nr_zones];
		struct vma_defrag_frames *f = &zf->frames;

		if (!zone_for_windows(zone) || ctx->nr_zones == n)
			continue;
		zf->zone = zone;
		f->base = zone->zone_start_pfn;
		f->nr = zone->spanned_pages;
		f->blocked = kvcalloc(BITS_TO_LONGS(f->nr), sizeof(long),
				      GFP_KERNEL);
		f->free = kvcalloc(BITS_TO_LONGS(f->nr), sizeof(long),
				   GFP_KERNEL);
		f->thps = kvcalloc(BITS_TO_LONGS(f->nr), sizeof(long),
				   GFP_KERNEL);
		ctx->nr_zones++;
		if (!f->blocked || !f->free || !f->thps)
			return -ENOMEM;
		snapshot_zone(zf, exchange_only, ctx->has_anon);
	}
	block_claims(ctx);
	return 0;
}

static void free_frames(struct defrag_ctx *ctx)
{
	unsigned int z;

	for (z = 0; z < ctx->nr_zones; z++) {
		kvfree(ctx->zones[z].frames.blocked);
		kvfree(ctx->zones[z].frames.free);
		kvfree(ctx->zones[z].frames.thps);
	}
	kfree(ctx->zones);
}

/**
 * vma_defrag_windows() - the windows a request could be anchored at now
 * @orders: window sizes, as orders of pages (PMD_ORDER, PUD_ORDER, ...)
 * @nr: entries in @orders and @res
 * @res: filled in, one per order
 *
 * Counts, for each size, the naturally aligned windows that lie in one
 * zone windows may use, and among them the clean ones: no frame blocked
 * (kernel memory, pinned, hugetlb, ...) or claimed by a request. A range
 * whose chunks of that size should all be congruent needs one clean window
 * per chunk. Read without locks, like the anchor search, so it is a
 * snapshot. For administrators and tests: "would a 1 GiB chunk fit now?".
 *
 * Context: process context; may sleep. Scans every frame of those zones.
 * Return: 0, or -ENOMEM.
 */
int vma_defrag_windows(const unsigned int *orders, unsigned int nr,
		       struct vma_defrag_window_count *res)
{
	static const struct vma_defrag_request req = {};
	struct defrag_ctx *ctx;
	unsigned int z, o;
	int ret;

	/* Only the snapshot is used, but the context is too big for a stack */
	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	ctx->req = &req;
	ret = snapshot_frames(ctx);
	for (o = 0; !ret && o < nr; o++) {
		unsigned long size = 1UL << orders[o];

		res[o] = (struct vma_defrag_window_count){
			.fewest_blocked = ULONG_MAX,
		};
		for (z = 0; z < ctx->nr_zones; z++) {
			struct vma_defrag_frames *f = &ctx->zones[z].frames;
			unsigned long pfn = ALIGN(f->base, size), blocked;

			for (; pfn + size <= f->base + f->nr; pfn += size) {
				/* A zone spans holes: those are no window */
				if (!pfn_to_online_page(pfn) ||
				    !pfn_to_online_page(pfn + size - 1))
					continue;
				blocked = bits_in(f->blocked, pfn - f->base,
						  pfn - f->base + size);
				res[o].windows++;
				res[o].clean += !blocked;
				res[o].fewest_blocked =
					min(res[o].fewest_blocked, blocked);
				cond_resched();
			}
		}
		if (!res[o].windows)
			res[o].fewest_blocked = 0;
	}
	free_frames(ctx);
	kfree(ctx);
	return ret;
}
EXPORT_SYMBOL_GPL(vma_defrag_windows);

static void block_window(struct defrag_ctx *ctx, unsigned long pfn,
			 unsigned long nr)
{
	unsigned int z;

	for (z = 0; z < ctx->nr_zones; z++) {
		struct vma_defrag_frames *f = &ctx->zones[z].frames;

		if (pfn >= f->base && pfn + nr <= f->base + f->nr)
			bitmap_set(f->blocked, pfn - f->base, nr);
	}
}

/* Anchor [first, first + nr) at @align, in any zone; claim the window. */
static bool anchor_segment(struct defrag_ctx *ctx, unsigned long first,
			   unsigned long nr, unsigned long align)
{
	unsigned long phase = (ctx->key_pfn + first) & (align - 1);
	struct vma_defrag_window best, w;
	struct defrag_segment *seg;
	struct defrag_claim *claim;
	bool found = false;
	unsigned int z;

	if (ctx->nr_segs == ctx->max_segs)
		return false;
	/* The segment's THPs, counted from its first page */
	bitmap_shift_right(ctx->seg_thps, ctx->thps, first, first + nr);
	for (z = 0; z < ctx->nr_zones; z++) {
		if (!vma_defrag_choose_window(&ctx->zones[z].frames,
					      ctx->pfns + first, ctx->seg_thps,
					      nr, align, phase, ctx->scratch,
					      &w))
			continue;
		if (!found || w.cost < best.cost ||
		    (w.cost == best.cost && w.free > best.free))
			best = w;
		found = true;
	}
	if (!found)
		return false;

	claim = claim_add(best.anchor, nr, ctx->req->start + first * PAGE_SIZE,
			  nr * PAGE_SIZE);
	if (!claim)
		return false;
	block_window(ctx, best.anchor, nr);
	seg = &ctx->segs[ctx->nr_segs++];
	seg->claim = claim;
	seg->first = first;
	seg->nr = nr;
	seg->anchor = best.anchor;
	seg->align = align;
	return true;
}

/*
 * Anchor [first, first + nr) at alignment ctx->aligns[level], cutting it in
 * two at a chunk boundary of key space when no window holds it whole.
 */
static void plan(struct defrag_ctx *ctx, unsigned long first,
		 unsigned long nr, unsigned int level)
{
	unsigned long align = ctx->aligns[level], mid;

	if (fatal_signal_pending(current))
		return;
	if (anchor_segment(ctx, first, nr, align))
		return;
	/* Below the smallest large page size there is nothing to gain. */
	if (level == 0)
		return;

	/* In key space, where nothing below the range's key can wrap */
	mid = round_down(ctx->key_pfn + first + nr / 2, align);
	if (mid > ctx->key_pfn + first && mid < ctx->key_pfn + first + nr) {
		mid -= ctx->key_pfn;
		plan(ctx, first, mid - first, level);
		plan(ctx, mid, first + nr - mid, level);
	} else if (level > 1) {
		/* One chunk at this size, or less: try the next size down. */
		plan(ctx, first, nr, level - 1);
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

	if (!page)
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

static void flush_batch(struct defrag_ctx *ctx)
{
	struct vma_defrag_stats *st = ctx->stats;
	unsigned int i;

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

			if (m->done) {
				st->migrated += nr;
				st->thp_moved += nr > 1;
				ctx->moved += nr;
				continue;
			}
			st->failed[VMA_DEFRAG_FAIL_MIGRATE] += nr;
			/* Keep the frame: it is still a free target. */
			if (xa_err(xa_store(&ctx->held, folio_pfn(m->dst),
					    &m->dst->page, GFP_KERNEL)))
				folio_put(m->dst);
		}
		ctx->nr_moves = 0;
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
		 (req->max_ns && ktime_get_ns() >= ctx->deadline))
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
	    (!vma_is_anonymous(vma) && !vma_is_shmem(vma))) {
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
	if (page_folio(page) != folio || frame_kind(page) != FRAME_MOVABLE) {
		folio_put(folio);
		return NULL;
	}
	return folio;
}
EXPORT_SYMBOL_IF_KUNIT(vma_defrag_target_folio);

static bool target_free(unsigned long pfn)
{
	struct page *page = pfn_to_online_page(pfn);

	return page && frame_kind(page) == FRAME_FREE;
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
	struct folio *other;
	struct page *held;
	int ret;

	held = held_at(ctx, target, order);
	if (!held && !exchange_only && target_free(target)) {
		ret = take_free(ctx, target, order);
		if (ret == -EBUSY) {
			/* A per-CPU free list holds it */
			drain_all_pages(page_zone(pfn_to_page(target)));
			ret = take_free(ctx, target, order);
		}
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
		ctx->moves[ctx->nr_moves].src = folio;
		ctx->moves[ctx->nr_moves].dst = page_folio(held);
		ctx->nr_moves++;
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
	if (!folio) {
		if (!supported)
			ctx->stats->failed[VMA_DEFRAG_FAIL_UNSUPPORTED]++;
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
	const struct vma_defrag_frames *frames;	/* the zone's snapshot */
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
	unsigned int z;

	iso->base = pageblock_start_pfn(seg->anchor);
	iso->nr = (pageblock_align(seg->anchor + seg->nr) - iso->base) /
		  pageblock_nr_pages;
	for (z = 0; z < ctx->nr_zones; z++) {
		const struct vma_defrag_frames *f = &ctx->zones[z].frames;

		if (seg->anchor >= f->base && seg->anchor < f->base + f->nr) {
			iso->frames = f;
			iso->zone = ctx->zones[z].zone;
		}
	}
	if (iso->frames)
		iso->isolated = bitmap_zalloc(iso->nr, GFP_KERNEL);
}

/* Free frames of pageblock @i of the window, as the snapshot saw them */
static unsigned long pageblock_free(const struct window_isolation *iso,
				    unsigned long i)
{
	const struct vma_defrag_frames *f = iso->frames;
	unsigned long from = iso->base + i * pageblock_nr_pages;
	unsigned long to = from + pageblock_nr_pages;

	from = clamp(from, f->base, f->base + f->nr);
	to = clamp(to, f->base, f->base + f->nr);
	return bits_in(f->free, from - f->base, to - f->base);
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
 * Read the PFN behind each page of [first, first + nr) into ctx->pfns, 0
 * where nothing is mapped, under one hold of mmap_lock. @thps, if not
 * NULL, gets the pages where a PMD-sized folio starts. Returns the pages
 * present, or -EINTR.
 */
static long read_pfns(struct defrag_ctx *ctx, unsigned long first,
		      unsigned long nr, unsigned long *thps)
{
	unsigned long i, va;
	long present = 0;

	if (mmap_read_lock_killable(ctx->mm))
		return -EINTR;
	for (i = first; i < first + nr; i++) {
		struct vm_area_struct *vma;
		struct folio_walk fw;
		struct folio *folio;

		ctx->pfns[i] = 0;
		va = ctx->req->start + i * PAGE_SIZE;
		vma = vma_lookup(ctx->mm, va);
		if (!vma || (vma->vm_flags & (VM_IO | VM_PFNMAP | VM_HUGETLB)))
			continue;
		folio = folio_walk_start(&fw, vma, va, 0);
		if (!folio)
			continue;
		ctx->pfns[i] = page_to_pfn(fw.page);
		present++;
		ctx->has_anon |= folio_test_anon(folio);
		if (thps && fw.page == &folio->page &&
		    folio_order(folio) == PMD_ORDER)
			__set_bit(i, thps);
		folio_walk_end(&fw, vma);
		if (!(i % 512))
			cond_resched();
	}
	mmap_read_unlock(ctx->mm);
	return present;
}

/*
 * The alignments worth anchoring at: every page size of the bitmap that
 * has a whole aligned chunk in the key range, plus the base page.
 */
static int choose_aligns(struct defrag_ctx *ctx)
{
	const struct vma_defrag_request *req = ctx->req;
	unsigned long sizes = req->pgsize_bitmap & ~(PAGE_SIZE - 1);
	unsigned int bit;

	if (!(req->pgsize_bitmap & PAGE_SIZE))
		return -EINVAL;
	ctx->aligns[ctx->nr_aligns++] = 1;
	for_each_set_bit(bit, &sizes, BITS_PER_LONG) {
		u64 size = 1ULL << bit;

		if (bit == PAGE_SHIFT || ctx->nr_aligns == ARRAY_SIZE(ctx->aligns))
			continue;
		if (round_up(req->key, size) + size > req->key + req->len)
			break;
		ctx->aligns[ctx->nr_aligns++] = size >> PAGE_SHIFT;
	}
	return 0;
}

static int check_request(const struct vma_defrag_request *req)
{
	if (!req->len || !PAGE_ALIGNED(req->start) || !PAGE_ALIGNED(req->len) ||
	    !PAGE_ALIGNED(req->key) || (req->flags & ~VMA_DEFRAG_FLAGS))
		return -EINVAL;
	if (req->start + req->len < req->start || req->key + req->len < req->key)
		return -EOVERFLOW;
	if (req->start + req->len > TASK_SIZE_MAX)
		return -EINVAL;
	return 0;
}

/* Tie the claims of segments [from, nr_segs) to their virtual ranges. */
static void watch_claims(struct defrag_ctx *ctx, unsigned int from)
{
	unsigned int s;

	for (s = from; s < ctx->nr_segs; s++) {
		claim_watch(ctx->segs[s].claim, ctx->mm);
		/* From here on the claim may go away with its range. */
		ctx->segs[s].claim = NULL;
	}
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
			mutex_lock(&anchor_lock);
			block_claims(ctx);
			anchor_segment(ctx, first, nr, seg.align);
			mutex_unlock(&anchor_lock);
			if (ctx->nr_segs == before)
				continue;
			watch_claims(ctx, before);
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
 * at hand; see the top of this file. Pages not populated are left alone:
 * the only pages faulted in are the range's own shmem pages that an
 * exchange unmapped. Best effort: pages that cannot move are counted in
 * @stats->failed and left where they are.
 *
 * The frames chosen stay claimed, steering other requests elsewhere, until
 * the range is unmapped or vma_defrag_release() is called for it; a new
 * request for the same range replaces its claims.
 *
 * Context: process context; may sleep. Takes mmap_lock for read, briefly,
 * many times; must be called without it.
 * Return: 0 (see @stats, @stats->partial when a budget ran out), -EINVAL
 * for a bad request, -EOVERFLOW for a range that wraps, -ENOMEM, or -EINTR
 * when a fatal signal stopped it (@stats still describes what was done).
 */
int vma_defrag_range(struct mm_struct *mm, const struct vma_defrag_request *req,
		     struct vma_defrag_stats *stats)
{
	struct defrag_ctx *ctx;
	u64 t0 = ktime_get_ns();
	long present;
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
	ctx->nr_pages = req->len >> PAGE_SHIFT;
	ctx->key_pfn = req->key >> PAGE_SHIFT;
	ctx->deadline = t0 + req->max_ns;
	xa_init(&ctx->held);
	stats->pages = ctx->nr_pages;
	ret = choose_aligns(ctx);
	if (ret)
		goto out;

	ret = -ENOMEM;
	ctx->pfns = kvcalloc(ctx->nr_pages, sizeof(*ctx->pfns), GFP_KERNEL);
	ctx->scratch = kvcalloc(ctx->nr_pages, sizeof(*ctx->scratch),
				GFP_KERNEL);
	ctx->thps = kvcalloc(BITS_TO_LONGS(ctx->nr_pages), sizeof(long),
			     GFP_KERNEL);
	ctx->seg_thps = kvcalloc(BITS_TO_LONGS(ctx->nr_pages), sizeof(long),
				 GFP_KERNEL);
	ctx->refault = kvcalloc(BITS_TO_LONGS(ctx->nr_pages), sizeof(long),
				GFP_KERNEL);
	ctx->retry = kvcalloc(BITS_TO_LONGS(ctx->nr_pages), sizeof(long),
			      GFP_KERNEL);
	/* Enough for halving down to single chunks, and a re-anchor each */
	ctx->max_segs = 4 * DIV_ROUND_UP(ctx->nr_pages,
					 ctx->aligns[ctx->nr_aligns - 1]) + 4;
	ctx->segs = kvcalloc(ctx->max_segs, sizeof(*ctx->segs), GFP_KERNEL);
	if (!ctx->pfns || !ctx->scratch || !ctx->segs || !ctx->thps ||
	    !ctx->seg_thps || !ctx->refault || !ctx->retry)
		goto out;

	/* This range's earlier claims must not block its own new windows. */
	vma_defrag_release(mm, req->start, req->len);
	/* Pages in per-CPU batches can be neither isolated nor taken. */
	lru_add_drain_all();
	drain_all_pages(NULL);

	present = read_pfns(ctx, 0, ctx->nr_pages, ctx->thps);
	ret = present < 0 ? present : 0;
	/* Nothing populated: nothing to move, and no window to claim */
	if (present <= 0)
		goto out;
	stats->present = present;

	mutex_lock(&anchor_lock);
	ret = snapshot_frames(ctx);
	if (!ret)
		plan(ctx, 0, ctx->nr_pages, ctx->nr_aligns - 1);
	mutex_unlock(&anchor_lock);
	watch_claims(ctx, 0);
	if (ret)
		goto out;

	move_all(ctx);
	stats->segments = ctx->nr_segs - stats->reanchors;
	stats->partial = ctx->stop != 0;
	ret = ctx->stop < 0 ? ctx->stop : 0;
out:
	release_held(ctx);

	free_frames(ctx);
	kvfree(ctx->segs);
	kvfree(ctx->retry);
	kvfree(ctx->refault);
	kvfree(ctx->seg_thps);
	kvfree(ctx->thps);
	kvfree(ctx->scratch);
	kvfree(ctx->pfns);
	kfree(ctx);
	stats->ns = ktime_get_ns() - t0;
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
