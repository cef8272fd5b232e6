/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Range defragmentation (mm/vma_defrag.c): make the populated pages of a
 * user range physically contiguous and congruent with a DMA key, by
 * migrating them into free frames or exchanging them with the frames'
 * current owners. See Documentation/mm/vma_defrag.rst.
 */
#ifndef _LINUX_VMA_DEFRAG_H
#define _LINUX_VMA_DEFRAG_H

#include <linux/bits.h>
#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/types.h>

struct folio;
struct mm_struct;

/*
 * Never migrate into a free frame, only exchange: the engine behaves as on
 * memory with no free frame at all. For tests and benchmarks of that case.
 */
#define VMA_DEFRAG_EXCHANGE_ONLY	BIT(0)
/*
 * Touch no page of another process: only free frames are targets (no
 * exchange, no split of a folio in a target), and a page of the range that
 * another mm maps too stays where it is (VMA_DEFRAG_FAIL_UNSUPPORTED), as
 * move_pages(2) without MPOL_MF_MOVE_ALL. For callers without
 * CAP_SYS_NICE.
 */
#define VMA_DEFRAG_FREE_ONLY		BIT(1)
/*
 * Populate into place: the holes of the range's private anonymous VMAs
 * are planned like present pages, and each is filled with a zeroed page
 * allocated at its target frame (taken from the buddy allocator) and
 * mapped there, as a fault would map it; a hole whose target is in use
 * gets a page allocated elsewhere, which then moves like any other. The
 * shared zero page and pages the pin would copy (not exclusive to the mm:
 * shared copy-on-write) are replaced the same way, by zeroes or a copy.
 * For a caller about to pin the range, which would do all that anyway.
 * Shmem holes are left alone.
 */
#define VMA_DEFRAG_POPULATE		BIT(2)
/* With VMA_DEFRAG_POPULATE: the pin will write, map the new pages writable */
#define VMA_DEFRAG_POPULATE_WRITE	BIT(3)
#define VMA_DEFRAG_FLAGS		(VMA_DEFRAG_EXCHANGE_ONLY | \
					 VMA_DEFRAG_FREE_ONLY | \
					 VMA_DEFRAG_POPULATE | \
					 VMA_DEFRAG_POPULATE_WRITE)

struct defrag_claim;

/**
 * vma_defrag_pin_copies() - would a long-term pin copy this page first
 * @page: a page mapped by a process; read under the lock of the entry
 *	that maps it (for a PMD mapping, the head page)
 *
 * An anonymous page not exclusive to the mm mapping it (shared
 * copy-on-write after a fork(), or a KSM page) is copied by a long-term
 * pin, writable or read-only, before it is pinned (gup_must_unshare()).
 * The one rule for the layout's count of such pages and for the engine,
 * which makes that copy at the page's target (VMA_DEFRAG_POPULATE).
 *
 * Return: true if the pin would pin a copy rather than @page.
 */
static inline bool vma_defrag_pin_copies(struct page *page)
{
	return PageAnon(page) && !PageAnonExclusive(page);
}

/**
 * vma_defrag_vma_supported() - may the engine move the pages of a VMA
 * @vma: the VMA
 *
 * Anonymous memory, and shmem mapped shared (memfd, tmpfs, SysV shared
 * memory, MAP_SHARED | MAP_ANONYMOUS). A private mapping of a shmem file
 * is a file mapping like any other: its pages are the file's page cache,
 * which other mappings share, or anonymous COW copies in a file VMA.
 * Device, hugetlb and DAX mappings are not looked at here.
 *
 * Return: true if the engine may move its pages.
 */
static inline bool vma_defrag_vma_supported(struct vm_area_struct *vma)
{
	return vma_is_anonymous(vma) ||
	       (vma_is_shmem(vma) && (vma->vm_flags & VM_SHARED));
}

/**
 * struct vma_defrag_claims - claims a request handed over to its caller
 * @first: the claims, linked; NULL for none (a zeroed struct is empty)
 */
struct vma_defrag_claims {
	struct defrag_claim *first;
};

/**
 * struct vma_defrag_request - what to make contiguous, and for what device
 * @start: first VA of the range, page aligned
 * @len: bytes, page aligned, not zero
 * @key: address at which the device sees @start (the VA for RDMA, the IOVA
 *	for VFIO), page aligned; physical addresses are made congruent with
 *	it modulo the largest usable page size
 * @pgsize_bitmap: page sizes the device or IOMMU can map; must contain
 *	PAGE_SIZE
 * @flags: VMA_DEFRAG_* flags
 * @max_pages: stop after moving this many pages; 0 for no limit
 * @max_ns: stop after this much time; 0 for no limit
 * @claims: NULL, or where to hand over the claims on the frames chosen, so
 *	that other requests keep off them until the caller has pinned the
 *	range; it then drops them with vma_defrag_unclaim(). Without it the
 *	claims end with the request.
 * @stop: NULL, or asked between moves and during the window search
 *	(cheap, may not sleep): true stops the request as its time budget
 *	would (partial). For a caller whose context is going away, such as a
 *	device being removed while a registration for it runs.
 * @stop_arg: @stop's argument
 */
struct vma_defrag_request {
	unsigned long start;
	unsigned long len;
	u64 key;
	unsigned long pgsize_bitmap;
	unsigned int flags;
	unsigned long max_pages;
	u64 max_ns;
	struct vma_defrag_claims *claims;
	bool (*stop)(void *arg);
	void *stop_arg;
};

/* Why a page could not be brought to its target */
enum vma_defrag_fail {
	VMA_DEFRAG_FAIL_UNMOVABLE,	/* the target frame is unmovable */
	VMA_DEFRAG_FAIL_PINNED,		/* a GUP pin on either side */
	VMA_DEFRAG_FAIL_BUSY,		/* a transient reference or lock */
	VMA_DEFRAG_FAIL_UNSUPPORTED,	/* not anon/shmem, KSM, hugetlb, ... */
	VMA_DEFRAG_FAIL_NOMEM,		/* a free target under the watermark */
	VMA_DEFRAG_FAIL_MIGRATE,	/* migration into a free target failed */
	VMA_DEFRAG_FAIL_SPLIT,		/* a large folio could not be split */
	VMA_DEFRAG_FAIL_NO_WINDOW,	/* no clean window for its chunk */
	NR_VMA_DEFRAG_FAIL
};

/**
 * struct vma_defrag_stats - what one request did
 * @pages: base pages in the range
 * @present: pages populated when the request started
 * @in_place: pages found at their target
 * @populated: holes filled (VMA_DEFRAG_POPULATE): zeroed pages mapped, and
 *	copies mapped in place of pages shared copy-on-write
 * @populated_in_place: of @populated, those allocated at their target
 * @populated_thp: of those, PMD-mapped THPs filled whole
 * @evicted: other pages migrated out of a hole's target to fill it there
 * @migrated: pages migrated into a free target frame (a page of a chunk
 *	that was anchored again counts each time it moved)
 * @exchanged: pages exchanged with the target frame's owner (likewise)
 * @thp_moved: large folios moved whole (migrated or exchanged)
 * @thp_split: large folios split because their target could not take them
 *	whole (see the top comment of mm/vma_defrag.c)
 * @failed: pages left away from their target, by reason (pages of a
 *	chunk anchored again count by the outcome of the second attempt)
 * @segments: physical windows the range was anchored in
 * @reanchors: chunks anchored again after meeting an unmovable frame
 * @partial: stopped early (time or page budget, fatal signal)
 * @ns: time spent
 * @plan_ns: of @ns, choosing and claiming windows (with @index_ns and
 *	@search_ns)
 * @index_ns: counting frames for the frame index: building it (the first
 *	request) and recounting stale pageblocks
 * @search_ns: finding windows on the index, and checking them frame by
 *	frame
 * @index_blocks: pageblocks counted for the index
 * @read_ns: of @ns, reading the PFN behind every page of the range
 * @drains: per-CPU free lists drained (drain_all_pages()) to take a frame
 * @drain_ns: of @ns, those drains
 * @node_refused: pages not exchanged because the other page would have
 *	landed on a node its owner may not use (counted in @failed too)
 */
struct vma_defrag_stats {
	unsigned long pages;
	unsigned long present;
	unsigned long in_place;
	unsigned long populated;
	unsigned long populated_in_place;
	unsigned long populated_thp;
	unsigned long evicted;
	unsigned long migrated;
	unsigned long exchanged;
	unsigned long thp_moved;
	unsigned long thp_split;
	unsigned long failed[NR_VMA_DEFRAG_FAIL];
	unsigned int segments;
	unsigned int reanchors;
	bool partial;
	u64 ns;
	u64 plan_ns;
	u64 index_ns;
	u64 search_ns;
	unsigned long index_blocks;
	u64 read_ns;
	unsigned long drains;
	u64 drain_ns;
	unsigned long node_refused;
};

/**
 * struct vma_defrag_move - one folio to migrate into a chosen frame
 * @src: the folio to move; the caller holds a reference, which
 *	vma_defrag_migrate_to() consumes
 * @dst: a free folio of the same order that the caller owns (reference
 *	count 1, not on any list), e.g. taken from alloc_contig_pages()
 * @done: set when @src's contents and mappings now live in @dst; @dst then
 *	belongs to them, otherwise it is still the caller's
 */
struct vma_defrag_move {
	struct folio *src;
	struct folio *dst;
	bool done;
};

/**
 * struct vma_defrag_window_count - windows of one size, right now
 * @windows: naturally aligned windows in the zones windows may use
 * @clean: those without a blocked or claimed frame
 * @fewest_blocked: the fewest blocked frames in any window (0 if a clean
 *	one exists): how far the best window is from clean
 */
struct vma_defrag_window_count {
	unsigned long windows;
	unsigned long clean;
	unsigned long fewest_blocked;
};

#ifdef CONFIG_VMA_DEFRAG
int vma_defrag_windows(const unsigned int *orders, unsigned int nr,
		       struct vma_defrag_window_count *res);
int vma_defrag_range(struct mm_struct *mm, const struct vma_defrag_request *req,
		     struct vma_defrag_stats *stats);
bool vma_defrag_vma_fillable(struct vm_area_struct *vma, bool write);
void vma_defrag_unclaim(struct vma_defrag_claims *claims);
unsigned int vma_defrag_migrate_to(struct vma_defrag_move *moves,
				   unsigned int nr);
unsigned long vma_defrag_failed(const struct vma_defrag_stats *stats);
#else
static inline int vma_defrag_windows(const unsigned int *orders,
				     unsigned int nr,
				     struct vma_defrag_window_count *res)
{
	return -EOPNOTSUPP;
}

static inline int vma_defrag_range(struct mm_struct *mm,
				   const struct vma_defrag_request *req,
				   struct vma_defrag_stats *stats)
{
	return -EOPNOTSUPP;
}

static inline bool vma_defrag_vma_fillable(struct vm_area_struct *vma,
					   bool write)
{
	return false;
}

static inline void vma_defrag_unclaim(struct vma_defrag_claims *claims)
{
}
#endif

/*
 * The anchor search works on a snapshot of physical frames, apart from the
 * snapshot itself so that KUnit can feed it synthetic layouts.
 */

/**
 * struct vma_defrag_frames - a snapshot of a run of physical frames
 * @base: first PFN
 * @nr: frames
 * @blocked: bitmap, frames no window may contain (unmovable, claimed)
 * @free: bitmap, frames free in the buddy allocator
 * @thps: bitmap, frames where a movable PMD-sized folio starts
 */
struct vma_defrag_frames {
	unsigned long base;
	unsigned long nr;
	unsigned long *blocked;
	unsigned long *free;
	unsigned long *thps;
};

/**
 * struct vma_defrag_window - a candidate anchor and what it would cost
 * @anchor: PFN the first page of the segment would land on
 * @in_place: present pages already at their target in this window
 * @free: free frames in the window
 * @cost: estimated copies (a migration 1, an exchange 3)
 */
struct vma_defrag_window {
	unsigned long anchor;
	unsigned long in_place;
	unsigned long free;
	unsigned long cost;
};

/**
 * struct vma_defrag_block - what the frame index knows of one pageblock
 * @free: frames free in the buddy allocator (or on a per-CPU list)
 * @blocked: frames no window may hold (kernel memory, pinned, hugetlb,
 *	CMA, isolated by someone else, ...)
 * @shmem_mapped: movable frames of mapped shmem: blocked for a range with
 *	anonymous pages
 * @thps: movable PMD-sized folios starting in the pageblock
 * @stamp: jiffies when the frames were counted (never 0); 0 when they
 *	have not been counted yet, which the search reads as all blocked
 */
struct vma_defrag_block {
	u16 free;
	u16 blocked;
	u16 shmem_mapped;
	u16 thps;
	unsigned long stamp;
};

/**
 * struct vma_defrag_block_map - the frame index of one zone
 * @base: PFN of the first frame of block 0, pageblock aligned
 * @nr: blocks
 * @blocks: one per pageblock
 */
struct vma_defrag_block_map {
	unsigned long base;
	unsigned long nr;
	struct vma_defrag_block *blocks;
};

/**
 * struct vma_defrag_search - a segment looking for a window
 * @exchange_only: free frames are blocked too
 * @free_only: frames in use are blocked too (VMA_DEFRAG_FREE_ONLY; the
 *	range's own pages in place among them: the range moves whole)
 * @has_anon: mapped shmem frames are blocked too
 * @pfns: PFN of each page of the segment, 0 if not present
 * @holes: pages of the segment not present that the request fills
 *	(VMA_DEFRAG_POPULATE): a hole at a free target costs nothing, one at
 *	a target in use a copy
 * @fill: bitmap of those holes, or NULL
 * @thps: bitmap of the pages of the segment where a PMD-sized folio
 *	starts, or NULL
 * @nr: pages in the segment
 * @align: congruence in pages (a power of two)
 * @phase: the anchor must be congruent with @phase modulo @align
 * @scratch: room for @nr PFNs
 * @deadline: ktime_get_ns() at which to give up; 0 for none
 * @nodes: the nodes whose zones the window may lie in; NULL for any
 * @req: the request, whose @stop is asked as the deadline is; may be NULL
 */
struct vma_defrag_search {
	bool exchange_only;
	bool free_only;
	bool has_anon;
	const unsigned long *pfns;
	unsigned long holes;
	const unsigned long *fill;
	const unsigned long *thps;
	unsigned long nr;
	unsigned long align;
	unsigned long phase;
	unsigned long *scratch;
	u64 deadline;
	const nodemask_t *nodes;
	const struct vma_defrag_request *req;
};

/**
 * struct vma_defrag_region - where the index says a window may lie
 * @lo: first PFN, pageblock aligned
 * @hi: PFN after the last, pageblock aligned
 * @blocked: frames the index counts as blocked there (0 for a window of
 *	at least one pageblock's alignment; up to the slack of the region
 *	for a smaller one)
 * @cost: the copies the index predicts for the best window there
 */
struct vma_defrag_region {
	unsigned long lo;
	unsigned long hi;
	unsigned long blocked;
	unsigned long cost;
};

bool vma_defrag_claimed(unsigned long pfn, unsigned long nr);
/* The exact window search, for mm/vma_defrag*.c and their tests */
bool vma_defrag_choose_window(const struct vma_defrag_frames *frames,
			      const unsigned long *pfns,
			      const unsigned long *thps, unsigned long nr,
			      unsigned long holes, unsigned long align,
			      unsigned long phase, unsigned long *scratch,
			      struct vma_defrag_window *best);
#if IS_ENABLED(CONFIG_KUNIT)
int vma_defrag_find_regions(const struct vma_defrag_block_map *map,
			    const struct vma_defrag_search *s,
			    unsigned long *longest,
			    struct vma_defrag_region *best, unsigned int max);
bool vma_defrag_chunk_bounds(unsigned long key_pfn, unsigned long first,
			     unsigned long nr, unsigned long align,
			     unsigned long c, unsigned long *cfirst,
			     unsigned long *cnr);
struct folio *vma_defrag_target_folio(unsigned long pfn);
void vma_defrag_index_refresh(void);
/* Claims (mm/vma_defrag_claims.c), for tests that claim frames themselves */
struct defrag_claim *defrag_claim_add(unsigned long pfn, unsigned long nr);
void defrag_claim_drop(struct defrag_claim *claim);
#endif

#endif /* _LINUX_VMA_DEFRAG_H */
