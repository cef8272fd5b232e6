// SPDX-License-Identifier: GPL-2.0
/*
 * The frame index of the range defragmentation engine, and the search for
 * windows on it.
 *
 * For each segment of a range, mm/vma_defrag.c needs a window: a run of
 * frames, one per page, congruent with the DMA key, none of them blocked
 * (kernel memory, pinned, hugetlb, CMA, claimed by another request, ...),
 * where moving the pages in costs least. Classifying every frame of the
 * machine for each request made a request cost what the machine holds: a
 * 2 MiB request took 4.5 times as long on a 16 GiB guest as on a 2 GiB one,
 * under a global mutex. Here a request costs what it asks for, plus a pass
 * over a small array per zone.
 *
 * Data model. For each zone windows may use (zone_for_windows()), a block
 * map (struct vma_defrag_block_map): one struct vma_defrag_block per
 * pageblock, counting its free frames, its blocked frames, its movable
 * frames of mapped shmem (blocked for ranges with anonymous pages) and the
 * movable PMD-sized folios starting in it, and when it was counted; 16
 * bytes per 2 MiB, 8 MiB for 1 TiB. The maps live across requests, under
 * a read-write semaphore that requests hold for reading while they search;
 * memory hotplug changing a zone's span makes the next request rebuild
 * the maps (for writing). Counts are written and read without further
 * locking: they are hints. A stale count costs a failed exact check (below)
 * or a window passed over, never a wrong move.
 *
 * Keeping it current, at a cost proportional to the requests:
 *  - counting: the first request counts every pageblock (reported apart
 *    as the index's build); if it is stopped (a signal, its time budget),
 *    blocks not yet counted read as blocked, and the next request goes on;
 *  - every exact snapshot of a region recounts the pageblocks it covers;
 *  - before each search, the blocks of the few windows that would keep
 *    most of the segment's present pages in place are recounted, however
 *    recently: those pages were often faulted in just before the request,
 *    after their frames were counted free, and these are the windows the
 *    search should find first (recount_own_windows());
 *  - every request then recounts stale pageblocks (counted more than
 *    DEFRAG_INDEX_FRESH ago), twice as many as its range spans plus 128,
 *    taking them in turn round the machine: a constant part that sweeps a
 *    machine in a number of requests proportional to its size, and a part
 *    that follows the request's own size;
 *  - a request whose search finds no candidate at all, or whose proposed
 *    regions all fail their exact check for DEFRAG_ROUNDS rounds,
 *    recounts, once, every block (defrag_index_recheck()), and searches
 *    again: what became usable since the counts (frames a workload took
 *    that an exchange could now use, kernel memory freed) shows only so.
 *    On a machine with no window for a large request, that request costs
 *    a pass over the frames, as every request did before the index;
 *  - when an exact snapshot finds most of its pageblocks changed (whether
 *    they hold blocked frames, or a quarter of their frames freed or
 *    taken), the machine has moved on since the counts were made (a
 *    workload started or ended): the request's next search first
 *    recounts, once, DEFRAG_DRIFT_RECOUNT blocks (4 GiB) or 16 times its
 *    own size if more, fresh or not, in turn round the machine. Bounded: a
 *    workload starting on a 1 TiB machine must not cost the next request
 *    a pass over every frame; the snapshots of the regions a search
 *    proposes correct those regions' counts, which is what the search
 *    needs, and the turns catch up with the rest over the next requests.
 *
 * The search has two levels.
 *  1. On the block map (vma_defrag_find_regions()): every candidate window
 *     of the segment's size, alignment and phase, in each zone. A sliding
 *     sum over whole pageblocks gives each candidate's blocked and free
 *     frames in O(1), so one pass costs O(pageblocks of the zone) whatever
 *     the segment's size; a pageblock only partly covered counts its share
 *     of each. Candidates with blocked frames are out (for a window smaller
 *     than a pageblock's alignment, the candidate is a region of whole
 *     pageblocks and may hold as many blocked frames as it has room to
 *     spare); claimed ones too. The rest are ranked by the copies the counts
 *     predict: a present page already at its target costs nothing (counted
 *     exactly, from the votes of the segment's PFNs, as
 *     vma_defrag_choose_window() counts them), one with a free target one,
 *     one with a target in use three (an exchange), a THP that would have
 *     to split THP_SPLIT_COST more. The pass ends early once its best
 *     DEFRAG_REGIONS candidates are all within 1/64 of the best case (every
 *     page in place that could be, the rest migrated, or exchanged when
 *     only exchanging).
 *  2. Exact: those regions are snapshotted frame by frame (struct
 *     vma_defrag_frames, claims marked blocked, in defrag_frames_snapshot())
 *     and vma_defrag_choose_window() picks the window there; the first that
 *     holds a clean window is used. The caller claims it; a request that
 *     claimed an overlapping window in between sends it to the next region.
 *     The snapshots recount the blocks they cover, so when the counts were
 *     wrong about all of them, the caller's next round of the search (up to
 *     four) sees the blocks as they are.
 *
 * Only the zones of the nodes the search allows (vma_defrag_search.nodes:
 * the requester's cpuset and strict memory policy) are searched.
 * Both levels give up on a fatal signal, at the request's deadline and when
 * its stop callback says so (struct defrag_until).
 */
#include <linux/jiffies.h>
#include <linux/memory_hotplug.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/mutex.h>
#include <linux/page-isolation.h>
#include <linux/rwsem.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/vma_defrag.h>
#include <kunit/visibility.h>

#include "internal.h"
#include "vma_defrag_internal.h"

#define BLOCK			pageblock_nr_pages
/* A block counted this recently is not counted again, but for snapshots */
#define DEFRAG_INDEX_FRESH	(HZ / 10)
/* Candidates between two checks for a signal, the deadline, rescheduling */
#define DEFRAG_SEARCH_CHECK	256
/* A request's snapshots of this many blocks can tell the index drifted */
#define DEFRAG_DRIFT_BLOCKS	8
/* Blocks the request that finds the index drifted recounts, at least */
#define DEFRAG_DRIFT_RECOUNT	2048
/* The windows most of a segment's pages vote for, recounted before a search */
#define DEFRAG_OWN_WINDOWS	4

/* ---------------------------------------------------------------------- */
/* Frames */

/*
 * What a frame holds, read without locks or references: a hint for the
 * window search, as compaction's scanners read it. The move re-checks
 * everything under references and locks.
 */
enum defrag_frame defrag_frame_kind(struct page *page)
{
	struct folio *folio;

	/*
	 * CMA pageblocks, free or not: FOLL_LONGTERM would migrate the pages
	 * out again, and cma_alloc() would have to. Tested before the buddy
	 * allocator's own pages, which a CMA area mostly is.
	 */
	if (is_migrate_cma_page(page))
		return FRAME_BLOCKED;
	if (PageBuddy(page))
		return FRAME_FREE;
	if (PageReserved(page) || PageOffline(page) || PageSlab(page) ||
	    PageTable(page))
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
 * What frame @pfn holds, for a zone's index, as FRAME_* bits: FRAME_FREE,
 * FRAME_BLOCKED, or FRAME_MOVABLE with FRAME_SHMEM_MAPPED and
 * FRAME_THP_HEAD as they apply. @isolated: its pageblock is isolated (by
 * someone else: a request's own isolated pageblocks are claimed anyway).
 */
#define FRAME_SHMEM_MAPPED	BIT(8)
#define FRAME_THP_HEAD		BIT(9)

static unsigned int classify(struct zone *zone, unsigned long pfn,
			     bool isolated)
{
	struct page *page = pfn_to_online_page(pfn);
	unsigned int kind;

	if (!page || page_zone(page) != zone || isolated)
		return FRAME_BLOCKED;
	kind = defrag_frame_kind(page);
	if (kind != FRAME_MOVABLE)
		return kind;
	if (frame_mapped_shmem(page))
		kind |= FRAME_SHMEM_MAPPED;
	if (PageHead(page) && compound_order(page) == PMD_ORDER)
		kind |= FRAME_THP_HEAD;
	return kind;
}

static bool block_isolated(struct zone *zone, unsigned long pfn)
{
	struct page *page = pfn_to_online_page(pfn);

	return page && page_zone(page) == zone && is_migrate_isolate_page(page);
}

/* Whether a frame of @kind may hold a page of a request with rules @s */
static bool frame_blocked(unsigned int kind, const struct vma_defrag_search *s)
{
	return (kind & FRAME_BLOCKED) ||
	       ((kind & FRAME_FREE) && s->exchange_only) ||
	       (!(kind & FRAME_FREE) && s->free_only) ||
	       ((kind & FRAME_SHMEM_MAPPED) && s->has_anon);
}

static void count_frame(struct vma_defrag_block *b, unsigned int kind)
{
	if (kind & FRAME_FREE) {
		b->free++;
	} else if (kind & FRAME_BLOCKED) {
		b->blocked++;
	} else {
		b->shmem_mapped += !!(kind & FRAME_SHMEM_MAPPED);
		b->thps += !!(kind & FRAME_THP_HEAD);
	}
}

/*
 * Has the machine moved on since @old was counted? Whether the block holds
 * blocked frames changed, or a quarter of its frames were freed or taken.
 */
static bool block_drifted(const struct vma_defrag_block *old,
			  const struct vma_defrag_block *now)
{
	u16 free = READ_ONCE(old->free);

	return READ_ONCE(old->stamp) &&
	       (!READ_ONCE(old->blocked) != !now->blocked ||
		abs((int)free - (int)now->free) > BLOCK / 4);
}

static void store_block(struct vma_defrag_block *dst,
			const struct vma_defrag_block *src)
{
	WRITE_ONCE(dst->free, src->free);
	WRITE_ONCE(dst->blocked, src->blocked);
	WRITE_ONCE(dst->shmem_mapped, src->shmem_mapped);
	WRITE_ONCE(dst->thps, src->thps);
	WRITE_ONCE(dst->stamp, jiffies ?: 1);
}

/* Set bits of @map in [@from, @to) */
unsigned long defrag_frames_count(const unsigned long *map, unsigned long from,
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
 * Copies for filling @holes (VMA_DEFRAG_POPULATE) with @spare free frames
 * left after the moves: a hole whose target is free costs no more than the
 * fault it replaces; the page in the target of another is migrated away
 * first (one copy).
 */
static unsigned long fill_cost(unsigned long holes, unsigned long spare)
{
	return holes - min(holes, spare);
}

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
		    (defrag_frames_count(frames->free, off, off + PMD_PAGES) == PMD_PAGES ||
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
 * @holes: pages of the segment not present that the request fills
 * @align: congruence in pages (a power of two)
 * @phase: the anchor must be congruent with @phase modulo @align
 * @scratch: room for @nr PFNs
 * @best: filled in with the chosen window
 *
 * A window is clean when none of its frames is blocked. Its cost counts a
 * page already at its target as nothing, one that can migrate into a free
 * target as one copy and one that must be exchanged as three, plus
 * THP_SPLIT_COST for each THP that could not move whole; a hole as nothing
 * while free frames the moves do not need are left, a copy beyond (the
 * page in its target migrates away).
 *
 * Return: true if a clean window exists.
 */
bool vma_defrag_choose_window(const struct vma_defrag_frames *frames,
			      const unsigned long *pfns,
			      const unsigned long *thps, unsigned long nr,
			      unsigned long holes, unsigned long align,
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
		free = defrag_frames_count(frames->free, off, off + nr);
		moves = present - in_place;
		migrations = min(free, moves);
		cost = migrations + 3 * (moves - migrations) +
		       fill_cost(holes, free - migrations) +
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

/* ---------------------------------------------------------------------- */
/* The block maps */

struct defrag_zone_index {
	struct zone *zone;
	unsigned long start_pfn;	/* the zone's span when built */
	unsigned long spanned;
	struct vma_defrag_block_map map;
};

static struct {
	struct rw_semaphore lock;	/* read: using the maps; write: (re)building */
	struct mutex count_lock;	/* one request counts uncounted blocks */
	struct defrag_zone_index *zones;
	unsigned int nr_zones;
	bool counted;			/* every block counted once */
	atomic_t drifted;		/* snapshots disagreed: recount more */
	unsigned int cursor_zone;	/* the round robin of recounts */
	unsigned long cursor_block;
} defrag_index = {
	.lock = __RWSEM_INITIALIZER(defrag_index.lock),
	.count_lock = __MUTEX_INITIALIZER(defrag_index.count_lock),
	.drifted = ATOMIC_INIT(0),
};

/* Count the frames of block @b of @zi, and store the counts in the map */
static void count_block(struct defrag_zone_index *zi, unsigned long b)
{
	unsigned long pfn = zi->map.base + b * BLOCK, i;
	struct vma_defrag_block c = {};
	bool isolated = block_isolated(zi->zone, pfn);

	for (i = 0; i < BLOCK; i++)
		count_frame(&c, classify(zi->zone, pfn + i, isolated));
	store_block(&zi->map.blocks[b], &c);
}

/* Do the maps still describe the zones (memory hotplug)? */
static bool index_current(void)
{
	struct defrag_zone_index *zi = defrag_index.zones;
	unsigned int n = 0;
	struct zone *zone;

	if (!zi)
		return false;
	for_each_populated_zone(zone) {
		if (!zone_for_windows(zone))
			continue;
		if (n == defrag_index.nr_zones || zi[n].zone != zone ||
		    zi[n].start_pfn != zone->zone_start_pfn ||
		    zi[n].spanned != zone->spanned_pages)
			return false;
		n++;
	}
	return n == defrag_index.nr_zones;
}

static void index_free(void)
{
	unsigned int z;

	for (z = 0; z < defrag_index.nr_zones; z++)
		kvfree(defrag_index.zones[z].map.blocks);
	kfree(defrag_index.zones);
	defrag_index.zones = NULL;
	defrag_index.nr_zones = 0;
}

/* New, uncounted maps for the zones as they are. Write lock held. */
static int index_build(void)
{
	unsigned int n = 0;
	struct zone *zone;

	index_free();
	for_each_populated_zone(zone)
		n += zone_for_windows(zone);
	defrag_index.zones = kcalloc(n, sizeof(*defrag_index.zones),
				     GFP_KERNEL);
	if (!defrag_index.zones)
		return -ENOMEM;
	for_each_populated_zone(zone) {
		struct defrag_zone_index *zi;
		unsigned long end = zone_end_pfn(zone);

		if (!zone_for_windows(zone) || defrag_index.nr_zones == n)
			continue;
		zi = &defrag_index.zones[defrag_index.nr_zones];
		zi->zone = zone;
		zi->start_pfn = zone->zone_start_pfn;
		zi->spanned = zone->spanned_pages;
		zi->map.base = ALIGN_DOWN(zone->zone_start_pfn, BLOCK);
		zi->map.nr = DIV_ROUND_UP(end - zi->map.base, BLOCK);
		zi->map.blocks = kvcalloc(zi->map.nr, sizeof(*zi->map.blocks),
					  GFP_KERNEL);
		if (!zi->map.blocks) {
			index_free();
			return -ENOMEM;
		}
		defrag_index.nr_zones++;
	}
	defrag_index.counted = false;
	defrag_index.cursor_zone = 0;
	defrag_index.cursor_block = 0;
	return 0;
}

/* The request's deadline passed, or its stop callback said stop */
static bool until_reached(const struct defrag_until *until)
{
	const struct vma_defrag_request *req = until ? until->req : NULL;

	return until && ((until->deadline && ktime_get_ns() >= until->deadline) ||
			 (req && req->stop && req->stop(req->stop_arg)));
}

static bool out_of_time(const struct defrag_until *until)
{
	return fatal_signal_pending(current) || until_reached(until);
}

/* Count the blocks never counted; stop when out of time */
static void index_count_all(const struct defrag_until *until,
			    struct defrag_index_cost *cost)
{
	u64 t0 = ktime_get_ns();
	unsigned long b;
	unsigned int z;

	if (mutex_lock_killable(&defrag_index.count_lock))
		return;
	for (z = 0; z < defrag_index.nr_zones && !defrag_index.counted; z++) {
		struct defrag_zone_index *zi = &defrag_index.zones[z];

		for (b = 0; b < zi->map.nr; b++) {
			if (READ_ONCE(zi->map.blocks[b].stamp))
				continue;
			count_block(zi, b);
			cost->blocks_counted++;
			cond_resched();
			if (out_of_time(until))
				goto out;
		}
	}
	defrag_index.counted = true;
out:
	mutex_unlock(&defrag_index.count_lock);
	cost->build_ns += ktime_get_ns() - t0;
}

/**
 * defrag_index_get() - make the frame index usable for a request
 * @cost: the index's costs are added to it
 * @until: when to stop counting
 * @cache: set up for the searches until defrag_index_put()
 *
 * Rebuilds the block maps if the zones changed, and counts the blocks that
 * were never counted. Until defrag_index_put(), the maps stay as they are.
 *
 * Context: process context; may sleep.
 * Return: 0, -ENOMEM, or -EINTR on a fatal signal.
 */
int defrag_index_get(struct defrag_index_cost *cost,
		     const struct defrag_until *until,
		     struct defrag_search_cache *cache)
{
	unsigned int z;
	int ret = 0;

	if (down_read_killable(&defrag_index.lock))
		return -EINTR;
	if (!index_current()) {
		up_read(&defrag_index.lock);
		if (down_write_killable(&defrag_index.lock))
			return -EINTR;
		if (!index_current())
			ret = index_build();
		downgrade_write(&defrag_index.lock);
		if (ret) {
			up_read(&defrag_index.lock);
			return ret;
		}
	}
	if (!defrag_index.counted)
		index_count_all(until, cost);
	cache->rechecked = false;
	cache->longest = kmalloc_array(defrag_index.nr_zones,
				       sizeof(*cache->longest), GFP_KERNEL);
	for (z = 0; cache->longest && z < defrag_index.nr_zones; z++)
		cache->longest[z] = ULONG_MAX;
	return 0;
}

/*
 * Recount every block counted longer than @age jiffies ago; false if the
 * request ran out of time first.
 */
static bool recount_older(unsigned long age, const struct defrag_until *until,
			  struct defrag_index_cost *cost)
{
	u64 t0 = ktime_get_ns();
	unsigned long b, stamp;
	bool done = true;
	unsigned int z;

	for (z = 0; z < defrag_index.nr_zones && done; z++) {
		struct defrag_zone_index *zi = &defrag_index.zones[z];

		for (b = 0; b < zi->map.nr; b++) {
			stamp = READ_ONCE(zi->map.blocks[b].stamp);
			if (stamp && time_before(jiffies, stamp + age))
				continue;
			count_block(zi, b);
			cost->blocks_counted++;
			cond_resched();
			if (out_of_time(until)) {
				done = false;
				break;
			}
		}
	}
	cost->refresh_ns += ktime_get_ns() - t0;
	return done;
}

/*
 * Recount up to @budget blocks counted more than @age jiffies ago, in turn
 * round the machine from where the last request stopped, looking at no
 * more than four times as many.
 */
static void recount_in_turn(unsigned long budget, unsigned long age,
			    const struct defrag_until *until,
			    struct defrag_index_cost *cost)
{
	unsigned long looked = 0, b, stamp;
	u64 t0 = ktime_get_ns();
	unsigned int z;

	while (budget && looked < 4 * budget && defrag_index.nr_zones &&
	       !out_of_time(until)) {
		struct defrag_zone_index *zi;

		/* Racy with other requests' turns: at worst a block twice */
		z = READ_ONCE(defrag_index.cursor_zone) % defrag_index.nr_zones;
		zi = &defrag_index.zones[z];
		b = READ_ONCE(defrag_index.cursor_block);
		if (b >= zi->map.nr) {
			WRITE_ONCE(defrag_index.cursor_zone, z + 1);
			WRITE_ONCE(defrag_index.cursor_block, 0);
			looked++;
			continue;
		}
		WRITE_ONCE(defrag_index.cursor_block, b + 1);
		looked++;
		stamp = READ_ONCE(zi->map.blocks[b].stamp);
		if (stamp && time_before(jiffies, stamp + age))
			continue;
		count_block(zi, b);
		budget--;
		cost->blocks_counted++;
		if (!(looked % 64))
			cond_resched();
	}
	cost->refresh_ns += ktime_get_ns() - t0;
}

/*
 * When snapshots found the machine has moved on, the request that sees it
 * first recounts more than its share, once: DEFRAG_DRIFT_RECOUNT blocks,
 * or 16 times its own @blocks if more, in turn, however recently they were
 * counted (what changed may have changed right after a count: a test that
 * maps memory and asks at once showed it). Bounded, so that
 * a workload starting on a large machine costs the next requests a few
 * milliseconds each and not a pass over all of its frames; the snapshots
 * of the regions a search proposes correct those regions' counts anyway.
 * Returns true if it recounted.
 */
static bool recount_if_drifted(unsigned long blocks,
			       const struct defrag_until *until,
			       struct defrag_index_cost *cost)
{
	if (cost->recounted_drift || !atomic_read(&defrag_index.drifted) ||
	    atomic_cmpxchg(&defrag_index.drifted, 1, 0) != 1)
		return false;
	cost->recounted_drift = true;
	recount_in_turn(max_t(unsigned long, DEFRAG_DRIFT_RECOUNT, 16 * blocks),
			0, until, cost);
	return true;
}

/*
 * Recount the blocks of every zone's index that [@a, @a + @nr) covers;
 * false if the request ran out of time first.
 */
static bool recount_span(unsigned long a, unsigned long nr,
			 const struct defrag_until *until,
			 struct defrag_index_cost *cost)
{
	unsigned long b, first, last;
	unsigned int z;

	for (z = 0; z < defrag_index.nr_zones; z++) {
		struct defrag_zone_index *zi = &defrag_index.zones[z];
		unsigned long end = zi->map.base + zi->map.nr * BLOCK;

		if (a + nr <= zi->map.base || a >= end)
			continue;
		first = (max(a, zi->map.base) - zi->map.base) / BLOCK;
		last = (min(a + nr, end) - 1 - zi->map.base) / BLOCK;
		for (b = first; b <= last; b++) {
			count_block(zi, b);
			cost->blocks_counted++;
			cond_resched();
			if (out_of_time(until))
				return false;
		}
	}
	return true;
}

/* When the search for @s gives up */
static struct defrag_until search_until(const struct vma_defrag_search *s)
{
	return (struct defrag_until){ .deadline = s->deadline, .req = s->req };
}

/*
 * Each present page of @s votes for the anchor that keeps it in place:
 * the anchors of windows inside [@lo, @hi) with the segment's phase, into
 * s->scratch, sorted. Returns how many; *@present is set to the number of
 * present pages.
 */
static unsigned long collect_votes(const struct vma_defrag_search *s,
				   unsigned long lo, unsigned long hi,
				   unsigned long *present)
{
	unsigned long i, a, n = 0;

	*present = 0;
	for (i = 0; i < s->nr; i++) {
		if (!s->pfns[i])
			continue;
		(*present)++;
		if (s->pfns[i] < lo + i)
			continue;
		a = s->pfns[i] - i;
		if (a > hi - s->nr || (a & (s->align - 1)) != s->phase)
			continue;
		s->scratch[n++] = a;
	}
	sort(s->scratch, n, sizeof(*s->scratch), cmp_ulong, NULL);
	return n;
}

/*
 * The windows that keep most of a segment's pages where they are, which
 * the search ranks first when they are clean, have the counts likeliest
 * to be stale: the pages that vote for them were often faulted in just
 * before the request, so that a count taken while their frames were free
 * reads as blocked to an exchange-only request and the search passes the
 * cheapest window over for one where every page moves (a COW test found
 * it so). Before searching, recount the blocks of the DEFRAG_OWN_WINDOWS
 * windows with the most votes, each with at least 1/64 of the present
 * pages, however recently counted: a cost that follows the segment's size.
 * Returns true if it recounted any block.
 */
static bool recount_own_windows(const struct vma_defrag_search *s,
				const struct defrag_until *until,
				struct defrag_index_cost *cost)
{
	unsigned long counted = cost->blocks_counted;
	unsigned long top[DEFRAG_OWN_WINDOWS] = {}, votes[DEFRAG_OWN_WINDOWS] = {};
	unsigned long i, j, run, present;
	unsigned long n = collect_votes(s, 0, ULONG_MAX, &present);
	u64 t0 = ktime_get_ns();

	for (i = 0; i < n; i += run) {
		for (run = 1; i + run < n && s->scratch[i + run] == s->scratch[i];
		     run++)
			;
		if (64 * run < present || run <= votes[DEFRAG_OWN_WINDOWS - 1])
			continue;
		for (j = DEFRAG_OWN_WINDOWS - 1; j && run > votes[j - 1]; j--) {
			top[j] = top[j - 1];
			votes[j] = votes[j - 1];
		}
		top[j] = s->scratch[i];
		votes[j] = run;
	}
	for (j = 0; j < DEFRAG_OWN_WINDOWS && votes[j]; j++)
		if (!recount_span(top[j], s->nr, until, cost))
			break;
	cost->refresh_ns += ktime_get_ns() - t0;
	return cost->blocks_counted != counted;
}

#if IS_ENABLED(CONFIG_KUNIT)
/*
 * Recount the whole index now, for tests about the exact choice between
 * windows, which must not depend on what earlier tests left stale.
 */
void vma_defrag_index_refresh(void)
{
	struct defrag_search_cache cache = {};
	struct defrag_index_cost cost = {};

	if (defrag_index_get(&cost, NULL, &cache))
		return;
	recount_older(0, NULL, &cost);
	defrag_index_put(0, NULL, &cost, &cache);
}
EXPORT_SYMBOL_IF_KUNIT(vma_defrag_index_refresh);
#endif

/**
 * defrag_index_put() - done with the frame index, recounting some of it
 * @refresh_blocks: how many stale blocks to recount, in turn round the
 *	machine
 * @until: when to stop recounting
 * @cost: the index's costs are added to it
 * @cache: from defrag_index_get(), freed
 */
void defrag_index_put(unsigned long refresh_blocks,
		      const struct defrag_until *until,
		      struct defrag_index_cost *cost,
		      struct defrag_search_cache *cache)
{
	if (!recount_if_drifted(refresh_blocks, until, cost))
		recount_in_turn(refresh_blocks, DEFRAG_INDEX_FRESH, until,
				cost);
	kfree(cache->longest);
	cache->longest = NULL;
	up_read(&defrag_index.lock);
}

/* ---------------------------------------------------------------------- */
/* The search on the block maps */

static unsigned long block_blocked(const struct vma_defrag_block *b,
				   const struct vma_defrag_search *s)
{
	if (!READ_ONCE(b->stamp))
		return BLOCK;
	if (s->free_only)
		return BLOCK - READ_ONCE(b->free);
	return READ_ONCE(b->blocked) +
	       (s->exchange_only ? READ_ONCE(b->free) : 0) +
	       (s->has_anon ? READ_ONCE(b->shmem_mapped) : 0);
}

static unsigned long block_free(const struct vma_defrag_block *b,
				const struct vma_defrag_search *s)
{
	if (!READ_ONCE(b->stamp) || s->exchange_only)
		return 0;
	return READ_ONCE(b->free);
}

/* Blocked and free frames over whole blocks [from, from + n) */
struct block_sums {
	unsigned long from, n;
	unsigned long blocked, free;
	bool valid;
};

static void sums_add(struct block_sums *w,
		     const struct vma_defrag_block_map *map,
		     const struct vma_defrag_search *s, unsigned long b,
		     long sign)
{
	w->blocked += sign * block_blocked(&map->blocks[b], s);
	w->free += sign * block_free(&map->blocks[b], s);
}

/* Move the sums to start at block @from: O(distance), or O(n) at most */
static void sums_slide(struct block_sums *w,
		       const struct vma_defrag_block_map *map,
		       const struct vma_defrag_search *s, unsigned long from)
{
	unsigned long b;

	if (!w->valid || from < w->from || from >= w->from + w->n) {
		w->valid = true;
		w->blocked = 0;
		w->free = 0;
		for (b = from; b < from + w->n; b++)
			sums_add(w, map, s, b, 1);
	} else {
		for (b = w->from; b < from; b++) {
			sums_add(w, map, s, b, -1);
			sums_add(w, map, s, b + w->n, 1);
		}
	}
	w->from = from;
}

/* A share @part of BLOCK of what block @b counts */
static void sums_part(const struct vma_defrag_block_map *map,
		      const struct vma_defrag_search *s, unsigned long b,
		      unsigned long part, unsigned long *blocked,
		      unsigned long *free)
{
	if (!part)
		return;
	*blocked += block_blocked(&map->blocks[b], s) * part / BLOCK;
	*free += block_free(&map->blocks[b], s) * part / BLOCK;
}

/* Keep the @max best regions in @best, sorted by blocked, then cost */
static bool region_better(const struct vma_defrag_region *x,
			  const struct vma_defrag_region *y)
{
	return x->blocked < y->blocked ||
	       (x->blocked == y->blocked && x->cost < y->cost);
}

static void keep_region(struct vma_defrag_region *best, unsigned int *nbest,
			unsigned int max, const struct vma_defrag_region *r)
{
	unsigned int i = *nbest;

	if (i == max) {
		if (!region_better(r, &best[max - 1]))
			return;
		i--;
	} else {
		(*nbest)++;
	}
	for (; i && region_better(r, &best[i - 1]); i--)
		best[i] = best[i - 1];
	best[i] = *r;
}

static bool worth_keeping(const struct vma_defrag_region *best,
			  unsigned int nbest, unsigned int max,
			  const struct vma_defrag_region *r)
{
	return nbest < max || region_better(r, &best[max - 1]);
}

/*
 * THP_SPLIT_COST for each THP of @s that could not move whole into the
 * window at @a, by the counts: its target is aligned but neither a whole
 * free block nor a THP (a misaligned target costs every window the same).
 */
static unsigned long thp_penalty(const struct vma_defrag_block_map *map,
				 const struct vma_defrag_search *s,
				 unsigned long a)
{
	unsigned long i, t, splits = 0;
	const struct vma_defrag_block *b;

	if (!s->thps)
		return 0;
	for_each_set_bit(i, s->thps, s->nr) {
		t = a + i;
		if (!IS_ALIGNED(t, PMD_PAGES) || s->pfns[i] == t ||
		    i + PMD_PAGES > s->nr)
			continue;
		b = &map->blocks[(t - map->base) / BLOCK];
		if (block_free(b, s) == BLOCK || READ_ONCE(b->thps))
			continue;
		splits++;
	}
	return splits * THP_SPLIT_COST;
}

/*
 * Copies for @present pages, @in_place of them in place, and @holes to
 * fill, with @free targets
 */
static unsigned long predicted_cost(unsigned long present,
				    unsigned long in_place, unsigned long holes,
				    unsigned long free)
{
	unsigned long moves = present - min(in_place, present);
	unsigned long migrations = min(free, moves);

	return migrations + 3 * (moves - migrations) +
	       fill_cost(holes, free - migrations);
}

/*
 * Every DEFRAG_SEARCH_CHECK candidates: reschedule, and stop on a fatal
 * signal (-EINTR), or at the deadline or when the request's stop callback
 * says so (-ETIME).
 */
static int search_check(const struct vma_defrag_search *s,
			unsigned long *checked)
{
	const struct defrag_until until = search_until(s);

	if (++*checked % DEFRAG_SEARCH_CHECK)
		return 0;
	cond_resched();
	if (fatal_signal_pending(current))
		return -EINTR;
	if (until_reached(&until))
		return -ETIME;
	return 0;
}

/* The longest run of blocks with nothing blocked for @s */
static unsigned long longest_clean(const struct vma_defrag_block_map *map,
				   const struct vma_defrag_search *s)
{
	unsigned long b, run = 0, longest = 0;

	for (b = 0; b < map->nr; b++) {
		run = block_blocked(&map->blocks[b], s) ? 0 : run + 1;
		longest = max(longest, run);
		if (!(b % 4096))
			cond_resched();
	}
	return longest;
}

/**
 * vma_defrag_find_regions() - the best regions of a zone for a segment
 * @map: the zone's block map
 * @s: the segment
 * @longest: the longest run of clean blocks in @map for the rules of @s,
 *	or ULONG_MAX if not known yet (it is then counted and stored): no
 *	window needs more, and a request keeps it from one segment to the
 *	next (claims only make runs shorter), so that cutting a range in
 *	ever smaller segments costs a pass over the map only for those that
 *	can fit
 * @best: filled in with up to @max regions, best first
 * @max: room in @best
 *
 * See the top of this file, "The search has two levels", step 1.
 *
 * Return: the regions found, or -EINTR (fatal signal) or -ETIME (deadline).
 */
VISIBLE_IF_KUNIT int
vma_defrag_find_regions(const struct vma_defrag_block_map *map,
			const struct vma_defrag_search *s,
			unsigned long *longest,
			struct vma_defrag_region *best, unsigned int max)
{
	unsigned long end = map->base + map->nr * BLOCK, nr = s->nr;
	unsigned long i, n, k = 0, present, most = 0, run = 0;
	unsigned long good, a, first, checked = 0, head, full_from, full_n;
	unsigned int nbest = 0;
	struct block_sums w = {};
	int ret;

	if (!nr || !max || nr > map->nr * BLOCK)
		return 0;
	/* Whole blocks a window at a pageblock's alignment or more needs */
	head = s->phase % BLOCK;
	full_from = head ? 1 : 0;
	full_n = head && head + nr <= BLOCK ? 0 :
		 (head + nr) / BLOCK - full_from;
	if (s->align >= BLOCK) {
		if (*longest == ULONG_MAX)
			*longest = longest_clean(map, s);
		if (full_n > *longest)
			return 0;
	}

	n = collect_votes(s, map->base, end, &present);
	for (i = 0; i < n; i++) {
		run = i && s->scratch[i] == s->scratch[i - 1] ? run + 1 : 1;
		most = max(most, run);
	}
	/* Good enough: within 1/64 of the best any window could do */
	good = (s->exchange_only ? 3 : 1) * (present - most) + present / 64;

	if (s->align >= BLOCK) {
		/*
		 * One window per candidate anchor a: a partial block at each
		 * end (its share counted) around whole blocks (slid).
		 */
		first = round_down(map->base, s->align) + s->phase;
		if (first < map->base)
			first += s->align;
		w.n = full_n;
		for (a = first; a + nr <= end && a >= first; a += s->align) {
			unsigned long b0 = (a - map->base) / BLOCK, in_place = 0;
			unsigned long blocked, free, tail;
			struct vma_defrag_region r;

			ret = search_check(s, &checked);
			if (ret)
				return ret;
			sums_slide(&w, map, s, b0 + full_from);
			blocked = w.blocked;
			free = w.free;
			if (head && head + nr <= BLOCK) {
				sums_part(map, s, b0, nr, &blocked, &free);
			} else {
				sums_part(map, s, b0, head ? BLOCK - head : 0,
					  &blocked, &free);
				tail = (head + nr) % BLOCK;
				sums_part(map, s, b0 + full_from + full_n, tail,
					  &blocked, &free);
			}
			if (blocked)
				continue;
			while (k < n && s->scratch[k] < a)
				k++;
			while (k < n && s->scratch[k] == a) {
				in_place++;
				k++;
			}
			r = (struct vma_defrag_region){
				.lo = ALIGN_DOWN(a, BLOCK),
				.hi = ALIGN(a + nr, BLOCK),
				.cost = predicted_cost(present, in_place, s->holes,
						       free),
			};
			if (worth_keeping(best, nbest, max, &r))
				r.cost += thp_penalty(map, s, a);
			if (!worth_keeping(best, nbest, max, &r) ||
			    vma_defrag_claimed(a, nr))
				continue;
			keep_region(best, &nbest, max, &r);
			/* Enough good ones: an exact check may still fail some */
			if (nbest == max && best[max - 1].cost <= good)
				break;
		}
		return nbest;
	}

	/*
	 * A window smaller than a pageblock's alignment: candidates are
	 * regions of whole blocks that any such window fits in, and may hold
	 * as many blocked frames as they have frames to spare.
	 */
	w.n = min(DIV_ROUND_UP(nr + BLOCK - 1, BLOCK), map->nr);
	for (i = 0; i + w.n <= map->nr; i++) {
		unsigned long lo = map->base + i * BLOCK, in_place = 0;
		struct vma_defrag_region r;

		ret = search_check(s, &checked);
		if (ret)
			return ret;
		sums_slide(&w, map, s, i);
		if (w.blocked > w.n * BLOCK - nr)
			continue;
		/* Votes for anchors in the region's first block */
		while (k < n && s->scratch[k] < lo)
			k++;
		for (a = k; a < n && s->scratch[a] < lo + BLOCK; a++)
			in_place++;
		r = (struct vma_defrag_region){
			.lo = lo,
			.hi = lo + w.n * BLOCK,
			.blocked = w.blocked,
			.cost = predicted_cost(present, in_place, s->holes,
					       w.free),
		};
		if (!worth_keeping(best, nbest, max, &r) ||
		    vma_defrag_claimed(r.lo, r.hi - r.lo))
			continue;
		keep_region(best, &nbest, max, &r);
		if (nbest == max && !best[max - 1].blocked &&
		    best[max - 1].cost <= good)
			break;
	}
	return nbest;
}
EXPORT_SYMBOL_IF_KUNIT(vma_defrag_find_regions);

static void forget_longest(struct defrag_search_cache *cache)
{
	unsigned int z;

	for (z = 0; cache->longest && z < defrag_index.nr_zones; z++)
		cache->longest[z] = ULONG_MAX;
}

/**
 * defrag_index_regions() - the best regions of every zone for a segment
 * @s: the segment
 * @regions: filled in, best first
 * @max: room in @regions
 * @cache: what one search learns for the next of the same request
 * @cost: the search's time is added to it
 *
 * Context: between defrag_index_get() and defrag_index_put().
 * Return: the regions found, -EINTR or -ETIME.
 */
int defrag_index_regions(const struct vma_defrag_search *s,
			 struct defrag_region *regions, unsigned int max,
			 struct defrag_search_cache *cache,
			 struct defrag_index_cost *cost)
{
	const struct defrag_until until = search_until(s);
	struct vma_defrag_region found[4];
	unsigned int z, nregions = 0, i, j;
	u64 t0 = ktime_get_ns();
	int n = 0;

	max = min_t(unsigned int, max, ARRAY_SIZE(found));
	/* Counts from before the machine moved on would mislead the search */
	if (recount_if_drifted(s->nr / BLOCK, &until, cost))
		forget_longest(cache);
	/* The longest clean runs may have grown */
	if (recount_own_windows(s, &until, cost))
		forget_longest(cache);
again:
	t0 = ktime_get_ns();
	for (z = 0; z < defrag_index.nr_zones; z++) {
		struct zone *zone = defrag_index.zones[z].zone;
		unsigned long unknown = ULONG_MAX;

		/* A node the requester may not allocate from */
		if (s->nodes && !node_isset(zone_to_nid(zone), *s->nodes))
			continue;
		n = vma_defrag_find_regions(&defrag_index.zones[z].map, s,
					    cache->longest ?
					    &cache->longest[z] : &unknown,
					    found, max);
		if (n < 0)
			break;
		/* Merge, best first */
		for (i = 0; i < n; i++) {
			struct defrag_region r = {
				.zone = zone,
				.r = found[i],
			};

			if (nregions == max &&
			    !region_better(&r.r, &regions[max - 1].r))
				break;
			if (nregions < max)
				nregions++;
			for (j = nregions - 1;
			     j && region_better(&r.r, &regions[j - 1].r); j--)
				regions[j] = regions[j - 1];
			regions[j] = r;
		}
		n = 0;
	}
	cost->search_ns += ktime_get_ns() - t0;
	/*
	 * Nothing: the counts may be too old to show what became usable since
	 * (frames a workload took that an exchange could now use, kernel
	 * memory freed). Once per request, recount and look again.
	 */
	if (!n && !nregions && defrag_index_recheck(&until, cache, cost))
		goto again;
	return n < 0 ? n : nregions;
}

/**
 * defrag_index_recheck() - recount the whole index, once per request
 * @until: when to stop recounting
 * @cache: the request's search cache
 * @cost: the recount's time is added to it
 *
 * For a search that found nothing, or whose regions all failed their
 * exact check: the counts may be too old. Every block is recounted, also
 * those counted a moment ago, since what changed may have changed right
 * after (a KUnit case that maps memory and asks at once found no window
 * when they were skipped, and when only a bounded part was recounted).
 *
 * Context: between defrag_index_get() and defrag_index_put().
 * Return: true if it recounted (the caller searches again), false if this
 * request did so already.
 */
bool defrag_index_recheck(const struct defrag_until *until,
			  struct defrag_search_cache *cache,
			  struct defrag_index_cost *cost)
{
	if (cache->rechecked)
		return false;
	cache->rechecked = true;
	recount_older(0, until, cost);
	forget_longest(cache);
	return true;
}

/* ---------------------------------------------------------------------- */
/* Exact snapshots */

static struct defrag_zone_index *zone_index(struct zone *zone)
{
	unsigned int z;

	for (z = 0; z < defrag_index.nr_zones; z++)
		if (defrag_index.zones[z].zone == zone)
			return &defrag_index.zones[z];
	return NULL;
}

/**
 * defrag_frames_snapshot() - every frame of a region, for the exact search
 * @zone: the zone of the region
 * @lo: first PFN, pageblock aligned
 * @hi: PFN after the last, pageblock aligned
 * @s: the request's rules (exchange_only, has_anon)
 * @frames: filled in; defrag_frames_free() frees its bitmaps
 * @cost: the snapshot's time is added to it
 *
 * Frames a request with rules @s may not use, and claimed frames, are
 * blocked. The index's counts of the region's blocks are refreshed.
 *
 * Context: between defrag_index_get() and defrag_index_put().
 * Return: 0, -ENOMEM, or -EINTR on a fatal signal.
 */
int defrag_frames_snapshot(struct zone *zone, unsigned long lo,
			   unsigned long hi, const struct vma_defrag_search *s,
			   struct vma_defrag_frames *frames,
			   struct defrag_index_cost *cost)
{
	struct defrag_zone_index *zi = zone_index(zone);
	unsigned long nr = hi - lo, pfn, i, blocks = 0, drifted = 0;
	u64 t0 = ktime_get_ns();

	frames->base = lo;
	frames->nr = nr;
	frames->blocked = kvcalloc(BITS_TO_LONGS(nr), sizeof(long),
				   GFP_KERNEL_ACCOUNT);
	frames->free = kvcalloc(BITS_TO_LONGS(nr), sizeof(long),
				GFP_KERNEL_ACCOUNT);
	frames->thps = kvcalloc(BITS_TO_LONGS(nr), sizeof(long),
				GFP_KERNEL_ACCOUNT);
	if (!frames->blocked || !frames->free || !frames->thps) {
		defrag_frames_free(frames);
		return -ENOMEM;
	}
	for (pfn = lo; pfn < hi; pfn += BLOCK) {
		bool isolated = block_isolated(zone, pfn);
		struct vma_defrag_block c = {};

		for (i = pfn - lo; i < pfn - lo + BLOCK; i++) {
			unsigned int kind = classify(zone, lo + i, isolated);

			count_frame(&c, kind);
			if (frame_blocked(kind, s))
				__set_bit(i, frames->blocked);
			else if (kind & FRAME_FREE)
				__set_bit(i, frames->free);
			else if (kind & FRAME_THP_HEAD)
				__set_bit(i, frames->thps);
		}
		if (zi && pfn >= zi->map.base &&
		    pfn < zi->map.base + zi->map.nr * BLOCK) {
			struct vma_defrag_block *b =
				&zi->map.blocks[(pfn - zi->map.base) / BLOCK];

			blocks++;
			drifted += block_drifted(b, &c);
			store_block(b, &c);
		}
		cond_resched();
		if (fatal_signal_pending(current)) {
			defrag_frames_free(frames);
			return -EINTR;
		}
	}
	/*
	 * Most of what this request's snapshots looked at had changed: the
	 * rest has too, likely. Summed over the request, so that the small
	 * regions of 2 MiB segments can tell as well as one large one.
	 */
	cost->snap_blocks += blocks;
	cost->snap_drifted += drifted;
	if (cost->snap_blocks >= DEFRAG_DRIFT_BLOCKS &&
	    2 * cost->snap_drifted > cost->snap_blocks) {
		atomic_set(&defrag_index.drifted, 1);
		cost->snap_blocks = 0;
		cost->snap_drifted = 0;
	}
	defrag_claims_block(frames);
	cost->snapshot_ns += ktime_get_ns() - t0;
	return 0;
}

void defrag_frames_free(struct vma_defrag_frames *frames)
{
	kvfree(frames->blocked);
	kvfree(frames->free);
	kvfree(frames->thps);
	frames->blocked = NULL;
	frames->free = NULL;
	frames->thps = NULL;
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
 * per chunk. Read without locks, like the window search, so it is a
 * snapshot. For administrators and tests: "would a 1 GiB chunk fit now?".
 * It recounts the whole frame index on the way.
 *
 * Context: process context; may sleep. Reads every frame of those zones.
 * Return: 0, -ENOMEM or -EINTR.
 */
int vma_defrag_windows(const unsigned int *orders, unsigned int nr,
		       struct vma_defrag_window_count *res)
{
	static const struct vma_defrag_search rules = {};
	struct defrag_search_cache cache;
	struct defrag_index_cost cost = {};
	unsigned int z, o;
	int ret;

	for (o = 0; o < nr; o++)
		res[o] = (struct vma_defrag_window_count){
			.fewest_blocked = ULONG_MAX,
		};
	ret = defrag_index_get(&cost, 0, &cache);
	if (ret)
		return ret;
	for (z = 0; !ret && z < defrag_index.nr_zones; z++) {
		struct defrag_zone_index *zi = &defrag_index.zones[z];
		struct vma_defrag_frames f;

		ret = defrag_frames_snapshot(zi->zone, zi->map.base,
					     zi->map.base + zi->map.nr * BLOCK,
					     &rules, &f, &cost);
		for (o = 0; !ret && o < nr; o++) {
			unsigned long size = 1UL << orders[o], pfn, blocked;
			unsigned long zend = zone_end_pfn(zi->zone);

			pfn = ALIGN(zi->zone->zone_start_pfn, size);
			for (; pfn + size <= zend; pfn += size) {
				/* A zone spans holes: those are no window */
				if (!pfn_to_online_page(pfn) ||
				    !pfn_to_online_page(pfn + size - 1))
					continue;
				blocked = defrag_frames_count(f.blocked,
							      pfn - f.base,
							      pfn - f.base + size);
				res[o].windows++;
				res[o].clean += !blocked;
				res[o].fewest_blocked =
					min(res[o].fewest_blocked, blocked);
				cond_resched();
			}
		}
		defrag_frames_free(&f);
	}
	for (o = 0; o < nr; o++)
		if (!res[o].windows)
			res[o].fewest_blocked = 0;
	defrag_index_put(0, 0, &cost, &cache);
	return ret;
}
EXPORT_SYMBOL_GPL(vma_defrag_windows);
