// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for mm/vma_defrag.c and mm/vma_defrag_index.c.
 *
 * The window search runs on synthetic snapshots of physical memory, which
 * no real machine would give on demand: windows blocked at chosen places,
 * pages already in place, free frames; its first level on synthetic block
 * maps, up to a terabyte's. The whole engine then runs on user
 * ranges made with kunit_vm_mmap(): scattered 4 KiB pages, THPs with an
 * aligned and a misaligned key, shmem, exchanges only; each test checks
 * the layout the device would see (contig_layout_query()), what the engine
 * says it did, and every byte of every range involved, its own and the
 * other mappings' whose frames it took.
 */
#include <kunit/static_stub.h>
#include <kunit/test.h>
#include <linux/contig_dma.h>
#include <linux/mm.h>
#include <linux/huge_mm.h>
#include <linux/mman.h>
#include <linux/pagemap.h>
#include <linux/sched/mm.h>
#include <linux/sizes.h>
#include <linux/swap.h>
#include <linux/vma_defrag.h>

#include "user_mem.h"

#define WINDOW		512UL		/* frames in a 2 MiB window */
#define BASE		(64 * WINDOW)	/* first PFN of synthetic snapshots */
#define KEY		0x40000000ULL	/* a 1 GiB-aligned IOVA */

/* ---------------------------------------------------------------------- */
/* The anchor search on synthetic snapshots */

static struct vma_defrag_frames *frames_new(struct kunit *test,
					    unsigned long windows)
{
	struct vma_defrag_frames *f = kunit_kzalloc(test, sizeof(*f),
						    GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, f);
	f->base = BASE;
	f->nr = windows * WINDOW;
	f->blocked = kunit_kcalloc(test, BITS_TO_LONGS(f->nr), sizeof(long),
				   GFP_KERNEL);
	f->free = kunit_kcalloc(test, BITS_TO_LONGS(f->nr), sizeof(long),
				GFP_KERNEL);
	f->thps = kunit_kcalloc(test, BITS_TO_LONGS(f->nr), sizeof(long),
				GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, f->blocked);
	KUNIT_ASSERT_NOT_NULL(test, f->free);
	KUNIT_ASSERT_NOT_NULL(test, f->thps);
	return f;
}

static unsigned long *pfns_new(struct kunit *test, unsigned long nr)
{
	unsigned long *p = kunit_kcalloc(test, nr, sizeof(*p), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, p);
	return p;
}

static bool choose(struct kunit *test, struct vma_defrag_frames *f,
		   unsigned long *pfns, unsigned long nr, unsigned long align,
		   unsigned long phase, struct vma_defrag_window *w)
{
	return vma_defrag_choose_window(f, pfns, NULL, nr, 0, align, phase,
					pfns_new(test, nr), w);
}

/* One unmovable frame in every window but one: that one is chosen. */
static void anchor_skips_blocked_windows(struct kunit *test)
{
	struct vma_defrag_frames *f = frames_new(test, 16);
	struct vma_defrag_window w;
	unsigned long i;

	for (i = 0; i < 16; i++)
		if (i != 6)
			__set_bit(i * WINDOW + 100, f->blocked);
	KUNIT_ASSERT_TRUE(test, choose(test, f, pfns_new(test, WINDOW), WINDOW,
				       WINDOW, 0, &w));
	KUNIT_EXPECT_EQ(test, w.anchor, BASE + 6 * WINDOW);
}

/* No clean window at all: no anchor, rather than a blind one. */
static void anchor_none_when_all_blocked(struct kunit *test)
{
	struct vma_defrag_frames *f = frames_new(test, 8);
	struct vma_defrag_window w;
	unsigned long i;

	for (i = 0; i < 8; i++)
		__set_bit(i * WINDOW + 511, f->blocked);
	KUNIT_EXPECT_FALSE(test, choose(test, f, pfns_new(test, WINDOW),
					WINDOW, WINDOW, 0, &w));
	/* A 4-window range fits nowhere when one window in two is blocked */
	bitmap_zero(f->blocked, f->nr);
	for (i = 0; i < 8; i += 2)
		__set_bit(i * WINDOW + 7, f->blocked);
	KUNIT_EXPECT_FALSE(test, choose(test, f, pfns_new(test, 4 * WINDOW),
					4 * WINDOW, WINDOW, 0, &w));
}

/* The window where most pages already are wins over empty ones. */
static void anchor_prefers_pages_in_place(struct kunit *test)
{
	struct vma_defrag_frames *f = frames_new(test, 16);
	unsigned long *pfns = pfns_new(test, WINDOW);
	struct vma_defrag_window w;
	unsigned long i;

	bitmap_fill(f->free, f->nr);
	for (i = 0; i < WINDOW; i++) {
		/* 300 pages sit in window 9, the rest in window 2 */
		pfns[i] = BASE + (i < 300 ? 9 : 2) * WINDOW + i;
		__clear_bit(pfns[i] - BASE, f->free);
	}
	KUNIT_ASSERT_TRUE(test, choose(test, f, pfns, WINDOW, WINDOW, 0, &w));
	KUNIT_EXPECT_EQ(test, w.anchor, BASE + 9 * WINDOW);
	KUNIT_EXPECT_EQ(test, w.in_place, 300);

	/* All in place: nothing to move, whatever else is free */
	for (i = 0; i < WINDOW; i++)
		pfns[i] = BASE + 12 * WINDOW + i;
	KUNIT_ASSERT_TRUE(test, choose(test, f, pfns, WINDOW, WINDOW, 0, &w));
	KUNIT_EXPECT_EQ(test, w.anchor, BASE + 12 * WINDOW);
	KUNIT_EXPECT_EQ(test, w.cost, 0);
}

/* Anchors are congruent with the key, even off a window boundary. */
static void anchor_congruence(struct kunit *test)
{
	struct vma_defrag_frames *f = frames_new(test, 8);
	struct vma_defrag_window w;

	/* Blocks the first candidate (BASE + 7) only */
	__set_bit(7 + 3, f->blocked);
	KUNIT_ASSERT_TRUE(test, choose(test, f, pfns_new(test, WINDOW), WINDOW,
				       WINDOW, 7, &w));
	KUNIT_EXPECT_EQ(test, w.anchor % WINDOW, 7);
	KUNIT_EXPECT_EQ(test, w.anchor, BASE + WINDOW + 7);
	/* The window must end inside the snapshot */
	bitmap_fill(f->blocked, 7 * WINDOW);
	KUNIT_EXPECT_FALSE(test, choose(test, f, pfns_new(test, WINDOW),
					WINDOW, WINDOW, 7, &w));
}

/* Free targets are cheaper than exchanges; without them, exchange. */
static void anchor_prefers_free_frames(struct kunit *test)
{
	struct vma_defrag_frames *f = frames_new(test, 8);
	unsigned long *pfns = pfns_new(test, WINDOW);
	struct vma_defrag_window w;
	unsigned long i;

	for (i = 0; i < WINDOW; i++)
		pfns[i] = BASE + 100 * WINDOW + 2 * i;	/* outside, scattered */
	bitmap_set(f->free, 5 * WINDOW, WINDOW);
	bitmap_set(f->free, 2 * WINDOW, WINDOW / 2);
	KUNIT_ASSERT_TRUE(test, choose(test, f, pfns, WINDOW, WINDOW, 0, &w));
	KUNIT_EXPECT_EQ(test, w.anchor, BASE + 5 * WINDOW);
	KUNIT_EXPECT_EQ(test, w.free, WINDOW);
	KUNIT_EXPECT_EQ(test, w.cost, WINDOW);

	/* Exchanges only: free frames are as good as blocked */
	bitmap_or(f->blocked, f->blocked, f->free, f->nr);
	KUNIT_ASSERT_TRUE(test, choose(test, f, pfns, WINDOW, WINDOW, 0, &w));
	KUNIT_EXPECT_EQ(test, w.free, 0);
	KUNIT_EXPECT_EQ(test, w.cost, 3 * WINDOW);
	KUNIT_EXPECT_NE(test, w.anchor, BASE + 5 * WINDOW);
	KUNIT_EXPECT_NE(test, w.anchor, BASE + 2 * WINDOW);
}

/*
 * A range of two THPs, one already in place: its neighbour window is
 * cheaper by copies, but would split the other THP; a window that takes
 * both whole wins. Also: a THP exchanges whole with a THP.
 */
static void anchor_keeps_thps_whole(struct kunit *test)
{
	struct vma_defrag_frames *f = frames_new(test, 8);
	unsigned long *pfns = pfns_new(test, 2 * WINDOW), *thps;
	struct vma_defrag_window w;
	unsigned long i;

	thps = kunit_kcalloc(test, BITS_TO_LONGS(2 * WINDOW), sizeof(long),
			     GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, thps);
	__set_bit(0, thps);
	__set_bit(WINDOW, thps);
	for (i = 0; i < WINDOW; i++) {
		pfns[i] = BASE + WINDOW + i;			/* THP 0 */
		pfns[WINDOW + i] = BASE + 7 * WINDOW + i;	/* THP 1 */
	}
	__set_bit(WINDOW, f->thps);
	__set_bit(7 * WINDOW, f->thps);
	/* Window 2: three quarters free, base pages in the rest */
	bitmap_set(f->free, 2 * WINDOW, 3 * WINDOW / 4);
	/* Windows 4 and 5: free */
	bitmap_set(f->free, 4 * WINDOW, 2 * WINDOW);

	KUNIT_ASSERT_TRUE(test, vma_defrag_choose_window(f, pfns, NULL,
							 2 * WINDOW, 0, WINDOW,
							 0,
							 pfns_new(test, 2 * WINDOW),
							 &w));
	/* Copies alone: keep THP 0, split THP 1 into window 2 */
	KUNIT_EXPECT_EQ(test, w.anchor, BASE + WINDOW);
	KUNIT_ASSERT_TRUE(test, vma_defrag_choose_window(f, pfns, thps,
							 2 * WINDOW, 0, WINDOW,
							 0,
							 pfns_new(test, 2 * WINDOW),
							 &w));
	KUNIT_EXPECT_EQ(test, w.anchor, BASE + 4 * WINDOW);

	/* No free window, a THP in window 2: THP 1 exchanges whole with it */
	bitmap_zero(f->free, f->nr);
	__set_bit(2 * WINDOW, f->thps);
	KUNIT_ASSERT_TRUE(test, vma_defrag_choose_window(f, pfns, thps,
							 2 * WINDOW, 0, WINDOW,
							 0,
							 pfns_new(test, 2 * WINDOW),
							 &w));
	KUNIT_EXPECT_EQ(test, w.anchor, BASE + WINDOW);
	KUNIT_EXPECT_EQ(test, w.in_place, WINDOW);
}

/*
 * The chunks of one segment cover it exactly, in order, each within one
 * @align-aligned chunk of key space, every one but the first starting on a
 * chunk boundary.
 */
static void expect_chunks(struct kunit *test, unsigned long key_pfn,
			  unsigned long first, unsigned long nr,
			  unsigned long align)
{
	unsigned long c, cfirst, cnr, next = first;

	for (c = 0; vma_defrag_chunk_bounds(key_pfn, first, nr, align, c,
					    &cfirst, &cnr); c++) {
		KUNIT_ASSERT_EQ_MSG(test, cfirst, next,
				    "align %lu key %#lx first %lu nr %lu chunk %lu",
				    align, key_pfn, first, nr, c);
		KUNIT_ASSERT_GE(test, cnr, 1);
		KUNIT_EXPECT_EQ(test, (key_pfn + cfirst) / align,
				(key_pfn + cfirst + cnr - 1) / align);
		if (c)
			KUNIT_EXPECT_EQ(test, (key_pfn + cfirst) % align, 0);
		next += cnr;
	}
	KUNIT_EXPECT_EQ_MSG(test, next, first + nr,
			    "align %lu key %#lx first %lu nr %lu",
			    align, key_pfn, first, nr);
}

/*
 * Keys in every offset class of a 2 MiB and a 1 GiB alignment. A segment
 * that starts at page 0 with a key past a chunk boundary once gave its
 * first chunk an index that had wrapped below 0.
 */
static void chunk_bounds_every_offset(struct kunit *test)
{
	static const unsigned long aligns[] = { WINDOW, 512 * WINDOW };
	static const unsigned long offsets[] = { 0, 1, 255, 511,
						 512 * WINDOW - 1 };
	static const unsigned long firsts[] = { 0, 3 };
	unsigned long a, o, f, n;

	for (a = 0; a < ARRAY_SIZE(aligns); a++) {
		unsigned long align = aligns[a];
		const unsigned long nrs[] = { 1, align - 1, align,
					      2 * align + 7 };

		for (o = 0; o < ARRAY_SIZE(offsets); o++)
			for (f = 0; f < ARRAY_SIZE(firsts); f++)
				for (n = 0; n < ARRAY_SIZE(nrs); n++)
					expect_chunks(test, (KEY >> PAGE_SHIFT) +
						      offsets[o], firsts[f],
						      nrs[n], align);
	}
}

/* ---------------------------------------------------------------------- */
/* The engine on real user ranges */

static struct contig_layout layout_of(struct kunit *test, unsigned long addr,
				      unsigned long len, u64 key)
{
	struct contig_layout l;

	KUNIT_ASSERT_EQ(test, contig_layout_query(current->mm, addr, len, key,
						  &l), 0);
	return l;
}

/* A request; with @claims, they are handed over there */
static int defrag_keep(unsigned long addr, unsigned long len, u64 key,
		       unsigned int flags, struct vma_defrag_claims *claims,
		       struct vma_defrag_stats *st)
{
	struct vma_defrag_request req = {
		.start = addr,
		.len = len,
		.key = key,
		.pgsize_bitmap = SZ_4K | SZ_2M | SZ_1G,
		.flags = flags,
		.claims = claims,
	};
	int ret = vma_defrag_range(current->mm, &req, st);

	if (vma_defrag_failed(st))
		kunit_info(kunit_get_current_test(),
			   "failed: unmovable %lu pinned %lu busy %lu unsupported %lu nomem %lu migrate %lu split %lu no_window %lu\n",
			   st->failed[VMA_DEFRAG_FAIL_UNMOVABLE],
			   st->failed[VMA_DEFRAG_FAIL_PINNED],
			   st->failed[VMA_DEFRAG_FAIL_BUSY],
			   st->failed[VMA_DEFRAG_FAIL_UNSUPPORTED],
			   st->failed[VMA_DEFRAG_FAIL_NOMEM],
			   st->failed[VMA_DEFRAG_FAIL_MIGRATE],
			   st->failed[VMA_DEFRAG_FAIL_SPLIT],
			   st->failed[VMA_DEFRAG_FAIL_NO_WINDOW]);
	return ret;
}

static int defrag(unsigned long addr, unsigned long len, u64 key,
		  unsigned int flags, struct vma_defrag_stats *st)
{
	return defrag_keep(addr, len, key, flags, NULL, st);
}

static void expect_contiguous(struct kunit *test, unsigned long addr,
			      unsigned long len, u64 key,
			      unsigned long chunks_2m)
{
	struct contig_layout l = layout_of(test, addr, len, key);

	KUNIT_EXPECT_EQ(test, l.present, len >> PAGE_SHIFT);
	KUNIT_EXPECT_EQ(test, l.runs, 1);
	KUNIT_EXPECT_EQ(test, l.chunks_2m, chunks_2m);
}

static unsigned long moved(const struct vma_defrag_stats *st)
{
	return st->migrated + st->exchanged;
}

static void defrag_scattered_anon(struct kunit *test)
{
	struct vma_defrag_stats st;
	unsigned long a, b;

	user_mem_map_interleaved(test, &a, &b);
	KUNIT_EXPECT_GT(test, layout_of(test, a, SZ_2M, KEY).runs, 1);

	KUNIT_ASSERT_EQ(test, defrag(a, SZ_2M, KEY, 0, &st), 0);
	KUNIT_EXPECT_EQ(test, st.pages, 512);
	KUNIT_EXPECT_EQ(test, st.present, 512);
	KUNIT_EXPECT_EQ(test, st.in_place + moved(&st), 512);
	KUNIT_EXPECT_GT(test, moved(&st), 0);
	KUNIT_EXPECT_EQ(test, vma_defrag_failed(&st), 0);
	KUNIT_EXPECT_FALSE(test, st.partial);
	expect_contiguous(test, a, SZ_2M, KEY, 1);
	user_mem_check(test, a, SZ_2M, 1);
	user_mem_check(test, b, SZ_2M, 2);

	/* Already in place: a second request moves nothing */
	KUNIT_ASSERT_EQ(test, defrag(a, SZ_2M, KEY, 0, &st), 0);
	KUNIT_EXPECT_EQ(test, st.in_place, 512);
	KUNIT_EXPECT_EQ(test, moved(&st), 0);
	expect_contiguous(test, a, SZ_2M, KEY, 1);
	user_mem_check(test, a, SZ_2M, 1);
}

/*
 * A clean 2 MiB window of in-use frames for exchanges only: a THP of
 * another mapping, split into base pages.
 */
static unsigned long map_split_thp(struct kunit *test, u64 seed)
{
	unsigned long c = user_mem_map_thp(test);
	struct folio *folio;
	int ret;

	user_mem_fill(test, c, HPAGE_PMD_SIZE, seed);
	folio = user_mem_folio_at(c, NULL);
	KUNIT_ASSERT_NOT_NULL(test, folio);
	lru_add_drain_all();
	folio_lock(folio);
	ret = split_folio(folio);
	folio_unlock(folio);
	folio_put(folio);
	KUNIT_ASSERT_EQ(test, ret, 0);
	/*
	 * Out of khugepaged's reach: THP is "always" and the range is whole
	 * again, and a collapse in the middle of a request would free the
	 * frames the engine chose to exchange into.
	 */
	user_mem_no_thp(test, c, HPAGE_PMD_SIZE);
	return c;
}

/* Exchanges only, into frames held by another mapping */
static void defrag_exchange_only(struct kunit *test)
{
	unsigned long a, b, c = map_split_thp(test, 3);
	struct vma_defrag_stats st;

	user_mem_map_interleaved(test, &a, &b);

	KUNIT_ASSERT_EQ(test, defrag(a, SZ_2M, KEY, VMA_DEFRAG_EXCHANGE_ONLY,
				     &st), 0);
	KUNIT_EXPECT_EQ(test, st.migrated, 0);
	KUNIT_EXPECT_GT(test, st.exchanged, 0);
	KUNIT_EXPECT_EQ(test, st.in_place + st.exchanged, 512);
	KUNIT_EXPECT_EQ(test, vma_defrag_failed(&st), 0);
	expect_contiguous(test, a, SZ_2M, KEY, 1);
	user_mem_check(test, a, SZ_2M, 1);
	user_mem_check(test, b, SZ_2M, 2);
	user_mem_check(test, c, HPAGE_PMD_SIZE, 3);
}

/*
 * Two THPs, key congruent with the VA: they move whole, never split, also
 * when both targets lie in one free buddy block larger than 2 MiB. Two, not
 * more: a window that splits one of them to keep the other in place costs
 * more than moving both into a free 4 MiB window (at boot there is one),
 * whereas with more THPs, keeping all the others in place can rightly win.
 */
static void defrag_thp_whole(struct kunit *test)
{
	unsigned long a = user_mem_map_anon(test, 3 * SZ_2M, 0), i;
	struct vma_defrag_stats st;

	a = ALIGN(a, SZ_2M);
	user_mem_fill(test, a, 2 * SZ_2M, 4);
	for (i = 0; i < 2; i++) {
		struct folio *folio = user_mem_folio_at(a + i * SZ_2M, NULL);

		KUNIT_ASSERT_NOT_NULL(test, folio);
		KUNIT_ASSERT_EQ(test, folio_order(folio), HPAGE_PMD_ORDER);
		folio_put(folio);
	}

	/* The choice, not the index's staleness after earlier tests */
	vma_defrag_index_refresh();
	KUNIT_ASSERT_EQ(test, defrag(a, 2 * SZ_2M, a, 0, &st), 0);
	KUNIT_EXPECT_EQ(test, st.thp_split, 0);
	KUNIT_EXPECT_EQ(test, st.in_place + moved(&st), 1024);
	KUNIT_EXPECT_EQ(test, st.thp_moved * 512, moved(&st));
	expect_contiguous(test, a, 2 * SZ_2M, a, 2);
	user_mem_check(test, a, 2 * SZ_2M, 4);
}

/* A key 4 KiB off the VA's alignment: THPs can only move page by page. */
static void defrag_thp_misaligned_key(struct kunit *test)
{
	unsigned long a = user_mem_map_anon(test, 3 * SZ_2M, 0);
	u64 key = KEY + PAGE_SIZE;
	struct vma_defrag_stats st;

	a = ALIGN(a, SZ_2M);
	user_mem_fill(test, a, 2 * SZ_2M, 5);
	KUNIT_ASSERT_EQ(test, defrag(a, 2 * SZ_2M, key, 0, &st), 0);
	KUNIT_EXPECT_EQ(test, st.thp_split, 2);
	KUNIT_EXPECT_EQ(test, st.thp_moved, 0);
	KUNIT_EXPECT_EQ(test, vma_defrag_failed(&st), 0);
	/* Only one 2 MiB-aligned chunk of key space lies inside the range */
	expect_contiguous(test, a, 2 * SZ_2M, key, 1);
	user_mem_check(test, a, 2 * SZ_2M, 5);
}

/* A shmem mapping interleaved with anonymous pages */
static void defrag_shmem(struct kunit *test)
{
	struct file *file = user_mem_shmem_file(test, SZ_2M, false);
	unsigned long s = user_mem_map_file(test, file, SZ_2M, 0);
	unsigned long b = user_mem_map_anon(test, SZ_2M, 0), i;
	struct vma_defrag_stats st;

	user_mem_no_thp(test, b, SZ_2M);
	for (i = 0; i < SZ_2M; i += PAGE_SIZE) {
		user_mem_fill(test, s + i, PAGE_SIZE, 6);
		user_mem_fill(test, b + i, PAGE_SIZE, 7);
	}
	KUNIT_ASSERT_EQ(test, defrag(s, SZ_2M, KEY, 0, &st), 0);
	KUNIT_EXPECT_EQ(test, vma_defrag_failed(&st), 0);
	expect_contiguous(test, s, SZ_2M, KEY, 1);
	user_mem_check(test, s, SZ_2M, 6);
	user_mem_check(test, b, SZ_2M, 7);
}

/*
 * shmem exchanged with anonymous frames: the exchange unmaps the shmem
 * side, and the engine maps it back, at the new frames.
 */
static void defrag_shmem_exchange_only(struct kunit *test)
{
	struct file *file = user_mem_shmem_file(test, SZ_2M, false);
	unsigned long s = user_mem_map_file(test, file, SZ_2M, 0);
	unsigned long c = map_split_thp(test, 8), b, i;
	struct vma_defrag_stats st;

	b = user_mem_map_anon(test, SZ_2M, 0);
	user_mem_no_thp(test, b, SZ_2M);
	for (i = 0; i < SZ_2M; i += PAGE_SIZE) {
		user_mem_fill(test, s + i, PAGE_SIZE, 9);
		user_mem_fill(test, b + i, PAGE_SIZE, 10);
	}
	KUNIT_ASSERT_EQ(test, defrag(s, SZ_2M, KEY, VMA_DEFRAG_EXCHANGE_ONLY,
				     &st), 0);
	KUNIT_EXPECT_EQ(test, st.migrated, 0);
	KUNIT_EXPECT_GT(test, st.exchanged, 0);
	KUNIT_EXPECT_EQ(test, vma_defrag_failed(&st), 0);
	/* Every page present again, before anything touched the range */
	expect_contiguous(test, s, SZ_2M, KEY, 1);
	user_mem_check(test, s, SZ_2M, 9);
	user_mem_check(test, b, SZ_2M, 10);
	user_mem_check(test, c, HPAGE_PMD_SIZE, 8);
}

/*
 * Claims cover the frames of the present pages for as long as the caller
 * asked: without a place to hand them over they end with the request;
 * handed over, they last until vma_defrag_unclaim(). The frame of a page
 * not present is never claimed.
 */
static void defrag_claims_until_unclaimed(struct kunit *test)
{
	struct vma_defrag_claims claims = {};
	struct vma_defrag_stats st;
	unsigned long a, b, pfn;
	struct folio *folio;

	user_mem_map_interleaved(test, &a, &b);
	KUNIT_ASSERT_EQ(test, defrag(a, SZ_2M, KEY, 0, &st), 0);
	folio = user_mem_folio_at(a, &pfn);
	KUNIT_ASSERT_NOT_NULL(test, folio);
	folio_put(folio);
	expect_contiguous(test, a, SZ_2M, KEY, 1);
	KUNIT_EXPECT_FALSE(test, vma_defrag_claimed(pfn, 512));

	/* Page 100 gone: its frame is no request's business */
	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, a + 100 * PAGE_SIZE,
					 PAGE_SIZE, MADV_DONTNEED), 0);
	KUNIT_ASSERT_EQ(test, defrag_keep(a, SZ_2M, KEY, 0, &claims, &st), 0);
	KUNIT_EXPECT_EQ(test, st.in_place, 511);
	KUNIT_EXPECT_TRUE(test, vma_defrag_claimed(pfn, 1));
	KUNIT_EXPECT_TRUE(test, vma_defrag_claimed(pfn + 99, 1));
	KUNIT_EXPECT_FALSE(test, vma_defrag_claimed(pfn + 100, 1));
	KUNIT_EXPECT_TRUE(test, vma_defrag_claimed(pfn + 101, 1));
	KUNIT_EXPECT_TRUE(test, vma_defrag_claimed(pfn + 511, 1));
	vma_defrag_unclaim(&claims);
	KUNIT_EXPECT_NULL(test, claims.first);
	KUNIT_EXPECT_FALSE(test, vma_defrag_claimed(pfn, 512));
	user_mem_check(test, a, 100 * PAGE_SIZE, 1);
	user_mem_check(test, a + 101 * PAGE_SIZE, 411 * PAGE_SIZE, 1);
	user_mem_check(test, b, SZ_2M, 2);
}

/*
 * A 2 GiB range, 1 GiB aligned, where no 1 GiB window is clean: another
 * request holds a claim on the last frame of every 16 MiB of physical
 * memory, so each 1 GiB chunk falls back to 2 MiB windows, cut into
 * hundreds of segments. Every 2 MiB chunk must still end up congruent and
 * every page be accounted for: the segment table once had room for a
 * dozen segments and left the rest of the range unplaced, uncounted.
 */
#define NO_GIB_LEN	SZ_2G
#define CLAIM_EVERY	(SZ_16M >> PAGE_SHIFT)

struct claim_set {
	unsigned long nr;
	struct defrag_claim *claims[];
};

static void claim_set_drop(void *data)
{
	struct claim_set *set = data;

	while (set->nr)
		defrag_claim_drop(set->claims[--set->nr]);
	kvfree(set);
}

static struct claim_set *claim_every(struct kunit *test, unsigned long every)
{
	unsigned long max = 0, pfn;
	struct claim_set *set;
	struct zone *zone;

	for_each_populated_zone(zone)
		max += zone->spanned_pages / every + 1;
	set = kvzalloc(struct_size(set, claims, max), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, set);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, claim_set_drop,
							set), 0);
	for_each_populated_zone(zone) {
		for (pfn = ALIGN(zone->zone_start_pfn, every) + every - 1;
		     pfn < zone_end_pfn(zone) && set->nr < max; pfn += every) {
			struct defrag_claim *claim;

			claim = defrag_claim_add(pfn, 1);
			if (!IS_ERR(claim))
				set->claims[set->nr++] = claim;
		}
	}
	return set;
}

static void defrag_no_clean_gigabyte(struct kunit *test)
{
	unsigned long a = user_mem_map_anon(test, NO_GIB_LEN + SZ_1G, 0);
	unsigned long pages = NO_GIB_LEN >> PAGE_SHIFT;
	struct vma_defrag_stats st;
	struct claim_set *set;
	struct contig_layout l;

	a = ALIGN(a, SZ_1G);
	user_mem_stamp(test, a, NO_GIB_LEN, 11);
	set = claim_every(test, CLAIM_EVERY);
	KUNIT_ASSERT_GT(test, set->nr, 0);

	KUNIT_ASSERT_EQ(test, defrag(a, NO_GIB_LEN, KEY, 0, &st), 0);
	l = layout_of(test, a, NO_GIB_LEN, KEY);
	kunit_info(test, "%lu claims; %lu segments (%u re-anchored), %lu in place, %lu moved (%lu THPs whole), %lu failed, %llu ms; %lu runs, %lu 2 MiB chunks, %lu 1 GiB\n",
		   set->nr, (unsigned long)st.segments, st.reanchors,
		   st.in_place, moved(&st), st.thp_moved,
		   vma_defrag_failed(&st),
		   st.ns / NSEC_PER_MSEC, l.runs, l.chunks_2m, l.chunks_1g);
	KUNIT_EXPECT_EQ(test, st.present, pages);
	/* A page of a chunk anchored again counts each time it moved */
	if (st.reanchors)
		KUNIT_EXPECT_GE(test, st.in_place + moved(&st), pages);
	else
		KUNIT_EXPECT_EQ(test, st.in_place + moved(&st), pages);
	KUNIT_EXPECT_EQ(test, vma_defrag_failed(&st), 0);
	KUNIT_EXPECT_FALSE(test, st.partial);
	/* Each window under 16 MiB: far more than the dozen of old */
	KUNIT_EXPECT_GE(test, st.segments, NO_GIB_LEN / SZ_16M);
	KUNIT_EXPECT_EQ(test, l.present, pages);
	KUNIT_EXPECT_EQ(test, l.chunks_2m, NO_GIB_LEN / SZ_2M);
	KUNIT_EXPECT_EQ(test, l.chunks_1g, 0);
	user_mem_check_stamps(test, a, NO_GIB_LEN, 11);
}

/*
 * As if the kernel had just allocated a frame of the window: the first
 * target the engine looks at is not a movable folio, once.
 */
static bool target_taken;

static struct folio *target_taken_once(unsigned long pfn)
{
	kunit_deactivate_static_stub(kunit_get_current_test(),
				     vma_defrag_target_folio);
	target_taken = true;
	return NULL;
}

#define REANCHOR_PAGES	(3 * WINDOW)

/*
 * Re-anchoring the chunk that met a taken frame, with keys off a chunk
 * boundary by 1, 255 and 511 pages (and so off a 1 GiB boundary too): the
 * range's first segment starts inside a chunk of key space. Exchanges only,
 * into windows of in-use frames that split THPs of other mappings provide.
 * Every page must end congruent with its key, every byte of every mapping
 * intact; the first chunk was anchored once more and nothing failed.
 */
static void defrag_reanchor_unaligned_key(struct kunit *test)
{
	static const unsigned long offsets[] = { 1, 255, 511 };
	unsigned long a, b, c[6], i, o, pfn;
	struct vma_defrag_stats st;
	struct folio *folio;

	for (o = 0; o < ARRAY_SIZE(offsets); o++) {
		u64 key = KEY + offsets[o] * PAGE_SIZE;
		unsigned long key_pfn = key >> PAGE_SHIFT;

		for (i = 0; i < ARRAY_SIZE(c); i++)
			c[i] = map_split_thp(test, 20 + i);
		a = user_mem_map_anon(test, REANCHOR_PAGES * PAGE_SIZE, 0);
		b = user_mem_map_anon(test, REANCHOR_PAGES * PAGE_SIZE, 0);
		user_mem_no_thp(test, a, REANCHOR_PAGES * PAGE_SIZE);
		user_mem_no_thp(test, b, REANCHOR_PAGES * PAGE_SIZE);
		for (i = 0; i < REANCHOR_PAGES; i++) {
			user_mem_fill(test, a + i * PAGE_SIZE, PAGE_SIZE, 11);
			user_mem_fill(test, b + i * PAGE_SIZE, PAGE_SIZE, 12);
		}

		target_taken = false;
		kunit_activate_static_stub(test, vma_defrag_target_folio,
					   target_taken_once);
		KUNIT_ASSERT_EQ(test, defrag(a, REANCHOR_PAGES * PAGE_SIZE, key,
					     VMA_DEFRAG_EXCHANGE_ONLY, &st), 0);
		if (!target_taken)
			kunit_deactivate_static_stub(test,
						     vma_defrag_target_folio);
		KUNIT_ASSERT_TRUE_MSG(test, target_taken,
				      "the engine looked at no target");

		KUNIT_EXPECT_GE_MSG(test, st.reanchors, 1, "key %#llx", key);
		KUNIT_EXPECT_EQ_MSG(test, vma_defrag_failed(&st), 0,
				    "unmovable %lu pinned %lu busy %lu split %lu",
				    st.failed[VMA_DEFRAG_FAIL_UNMOVABLE],
				    st.failed[VMA_DEFRAG_FAIL_PINNED],
				    st.failed[VMA_DEFRAG_FAIL_BUSY],
				    st.failed[VMA_DEFRAG_FAIL_SPLIT]);
		/* The first chunk's pages may have moved twice */
		KUNIT_EXPECT_GE(test, st.in_place + st.exchanged, REANCHOR_PAGES);
		for (i = 0; i < REANCHOR_PAGES; i++) {
			folio = user_mem_folio_at(a + i * PAGE_SIZE, &pfn);
			KUNIT_ASSERT_NOT_NULL(test, folio);
			folio_put(folio);
			KUNIT_EXPECT_EQ_MSG(test, (pfn - key_pfn - i) % WINDOW, 0,
					    "key %#llx page %lu at pfn %#lx",
					    key, i, pfn);
		}
		user_mem_check(test, a, REANCHOR_PAGES * PAGE_SIZE, 11);
		user_mem_check(test, b, REANCHOR_PAGES * PAGE_SIZE, 12);
		for (i = 0; i < ARRAY_SIZE(c); i++)
			user_mem_check(test, c[i], HPAGE_PMD_SIZE, 20 + i);
	}
}

/* A page budget stops the request early, with a partial result. */
static void defrag_budget(struct kunit *test)
{
	struct vma_defrag_request req = {
		.len = SZ_2M,
		.key = KEY,
		.pgsize_bitmap = SZ_4K | SZ_2M,
		.max_pages = 16,
	};
	struct vma_defrag_stats st;
	unsigned long a, b;

	user_mem_map_interleaved(test, &a, &b);
	req.start = a;
	KUNIT_ASSERT_EQ(test, vma_defrag_range(current->mm, &req, &st), 0);
	KUNIT_EXPECT_TRUE(test, st.partial);
	KUNIT_EXPECT_GE(test, moved(&st), 16);
	/* At most one batch beyond the budget */
	KUNIT_EXPECT_LE(test, moved(&st), 16 + 32);
	user_mem_check(test, a, SZ_2M, 1);
	user_mem_check(test, b, SZ_2M, 2);
}

static void defrag_bad_requests(struct kunit *test)
{
	struct vma_defrag_request req = {
		.start = SZ_1G,
		.len = SZ_2M,
		.key = KEY,
		.pgsize_bitmap = SZ_4K | SZ_2M,
	};
	struct vma_defrag_request bad;
	struct vma_defrag_stats st;

	/* The test's mm comes with its first mapping */
	user_mem_map_anon(test, PAGE_SIZE, 0);
	bad = req;
	bad.len = 0;
	KUNIT_EXPECT_EQ(test, vma_defrag_range(current->mm, &bad, &st), -EINVAL);
	bad = req;
	bad.start += 1;
	KUNIT_EXPECT_EQ(test, vma_defrag_range(current->mm, &bad, &st), -EINVAL);
	bad = req;
	bad.key += 512;
	KUNIT_EXPECT_EQ(test, vma_defrag_range(current->mm, &bad, &st), -EINVAL);
	bad = req;
	bad.pgsize_bitmap = SZ_2M;
	KUNIT_EXPECT_EQ(test, vma_defrag_range(current->mm, &bad, &st), -EINVAL);
	bad = req;
	bad.flags = BIT(7);
	KUNIT_EXPECT_EQ(test, vma_defrag_range(current->mm, &bad, &st), -EINVAL);
	bad = req;
	bad.start = -SZ_1M;
	KUNIT_EXPECT_EQ(test, vma_defrag_range(current->mm, &bad, &st),
			-EOVERFLOW);
	/* Nothing mapped there: nothing to do, and no error */
	KUNIT_EXPECT_EQ(test, vma_defrag_range(current->mm, &req, &st), 0);
	KUNIT_EXPECT_EQ(test, st.present, 0);
	KUNIT_EXPECT_EQ(test, moved(&st), 0);
}

/*
 * contig/windows counts what the anchor search would see: a free 2 MiB
 * block is a clean window, and the same block held by the kernel is not.
 * Taking eight blocks must take eight clean windows away and giving them
 * back must return them; other allocations meanwhile may move the counts
 * by a window or two, no more at boot.
 */
#define WINDOWS_TAKEN	8

static unsigned long clean_2m_windows(struct kunit *test)
{
	static const unsigned int order = PMD_ORDER;
	struct vma_defrag_window_count c;

	KUNIT_ASSERT_EQ(test, vma_defrag_windows(&order, 1, &c), 0);
	KUNIT_EXPECT_LE(test, c.clean, c.windows);
	KUNIT_EXPECT_EQ(test, c.fewest_blocked == 0, c.clean > 0);
	return c.clean;
}

static void windows_count_kernel_blocks(struct kunit *test)
{
	struct page *blocks[WINDOWS_TAKEN];
	long before, taken, back;
	int i;

	before = clean_2m_windows(test);
	for (i = 0; i < WINDOWS_TAKEN; i++) {
		blocks[i] = alloc_pages(GFP_KERNEL | __GFP_NOWARN, PMD_ORDER);
		KUNIT_ASSERT_NOT_NULL(test, blocks[i]);
	}
	taken = clean_2m_windows(test);
	for (i = 0; i < WINDOWS_TAKEN; i++)
		__free_pages(blocks[i], PMD_ORDER);
	back = clean_2m_windows(test);

	KUNIT_EXPECT_LE(test, abs(before - taken - WINDOWS_TAKEN), 2);
	KUNIT_EXPECT_LE(test, abs(back - before), 2);
}

/* ---------------------------------------------------------------------- */
/* The search on synthetic block maps (the frame index) */

/* Synthetic maps start far above any real frame: no claim overlaps them */
#define MAP_BASE	BIT(36)
#define GIB_BLOCKS	512UL		/* pageblocks in 1 GiB */
#define TIB_BLOCKS	(1024 * GIB_BLOCKS)

static struct vma_defrag_block_map *map_new(struct kunit *test,
					    unsigned long blocks,
					    unsigned int blocked)
{
	struct vma_defrag_block_map *map = kunit_kzalloc(test, sizeof(*map),
							 GFP_KERNEL);
	unsigned long b;

	KUNIT_ASSERT_NOT_NULL(test, map);
	map->base = MAP_BASE;
	map->nr = blocks;
	map->blocks = kvcalloc(blocks, sizeof(*map->blocks), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, map->blocks);
	for (b = 0; b < blocks; b++) {
		map->blocks[b].blocked = blocked;
		map->blocks[b].free = WINDOW - blocked;
		map->blocks[b].stamp = 1;
	}
	return map;
}

static void map_free(struct vma_defrag_block_map *map)
{
	kvfree(map->blocks);
}

static void map_clean(struct vma_defrag_block_map *map, unsigned long from,
		      unsigned long nr)
{
	for (; nr; nr--, from++) {
		map->blocks[from].blocked = 0;
		map->blocks[from].free = WINDOW;
	}
}

/* A segment of @nr pages, all present on frames outside any map */
static struct vma_defrag_search search_new(struct kunit *test,
					   unsigned long nr,
					   unsigned long align)
{
	unsigned long *pfns = kvcalloc(nr, sizeof(*pfns), GFP_KERNEL), i;
	unsigned long *scratch = kvcalloc(nr, sizeof(*scratch), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, pfns);
	KUNIT_ASSERT_NOT_NULL(test, scratch);
	for (i = 0; i < nr; i++)
		pfns[i] = 1 + 2 * i;
	return (struct vma_defrag_search){
		.pfns = pfns, .nr = nr, .align = align, .scratch = scratch,
	};
}

static void search_free(struct vma_defrag_search *s)
{
	kvfree(s->pfns);
	kvfree(s->scratch);
}

static int find(const struct vma_defrag_block_map *map,
		const struct vma_defrag_search *s, struct vma_defrag_region *r)
{
	unsigned long longest = ULONG_MAX;

	return vma_defrag_find_regions(map, s, &longest, r, 1);
}

/*
 * A 1 TiB machine with one frame blocked in every pageblock but one
 * clean, 1 GiB-aligned GiB: a 1 GiB request finds it, in one pass.
 */
static void index_gigabyte_in_a_terabyte(struct kunit *test)
{
	struct vma_defrag_block_map *map = map_new(test, TIB_BLOCKS, 1);
	struct vma_defrag_search s = search_new(test, GIB_BLOCKS * WINDOW,
						GIB_BLOCKS * WINDOW);
	unsigned long clean = 586 * GIB_BLOCKS;
	struct vma_defrag_region r;
	u64 t0 = ktime_get_ns(), ns;

	map_clean(map, clean, GIB_BLOCKS);
	KUNIT_ASSERT_EQ(test, find(map, &s, &r), 1);
	ns = ktime_get_ns() - t0;
	KUNIT_EXPECT_EQ(test, r.lo, MAP_BASE + clean * WINDOW);
	KUNIT_EXPECT_EQ(test, r.hi, r.lo + GIB_BLOCKS * WINDOW);
	KUNIT_EXPECT_EQ(test, r.blocked, 0);
	/* Every page migrates into a free frame */
	KUNIT_EXPECT_EQ(test, r.cost, GIB_BLOCKS * WINDOW);
	kunit_info(test, "1 GiB window in 1 TiB: %llu us\n", ns / 1000);
	KUNIT_EXPECT_LT(test, ns, 2 * NSEC_PER_SEC);

	/* Not 1 GiB-aligned any more: none */
	map->blocks[clean].blocked = 1;
	map_clean(map, clean + 1, GIB_BLOCKS);
	KUNIT_EXPECT_EQ(test, find(map, &s, &r), 0);
	search_free(&s);
	map_free(map);
}

/*
 * The request's whole plan when no 1 GiB window is clean, on 1 TiB with
 * every other pageblock clean: the GiB at 1 GiB, then at 2 MiB, then cut
 * in halves down to single chunks, as plan() does, each chunk's window
 * then taken (as a claim would). The halves longer than the longest clean
 * run cost nothing; the whole plan stays within 2 s on a debug kernel,
 * where classifying the frames of 1 TiB for each of its 1 023 searches
 * would take hours.
 */
struct plan_sim {
	struct kunit *test;
	struct vma_defrag_block_map *map;
	unsigned long longest, searches, chunks;
};

static void plan_sim(struct plan_sim *p, unsigned long nr)
{
	struct vma_defrag_search s = search_new(p->test, nr, WINDOW);
	struct vma_defrag_region r;
	int n;

	n = vma_defrag_find_regions(p->map, &s, &p->longest, &r, 1);
	search_free(&s);
	p->searches++;
	KUNIT_ASSERT_GE(p->test, n, 0);
	if (n) {
		KUNIT_EXPECT_EQ(p->test, nr, WINDOW);
		/* Taken: blocked for the next searches */
		p->map->blocks[(r.lo - MAP_BASE) / WINDOW].blocked = WINDOW;
		p->chunks++;
		return;
	}
	if (nr == WINDOW)
		return;
	plan_sim(p, nr / 2);
	plan_sim(p, nr / 2);
}

static void index_plan_without_clean_gigabyte(struct kunit *test)
{
	struct vma_defrag_block_map *map = map_new(test, TIB_BLOCKS, 1);
	struct vma_defrag_search s = search_new(test, GIB_BLOCKS * WINDOW,
						GIB_BLOCKS * WINDOW);
	struct plan_sim p = { .test = test, .map = map, .longest = ULONG_MAX };
	struct vma_defrag_region r;
	u64 t0 = ktime_get_ns(), ns;
	unsigned long b;

	for (b = 0; b < TIB_BLOCKS; b += 2)
		map_clean(map, b, 1);
	KUNIT_ASSERT_EQ(test, find(map, &s, &r), 0);
	search_free(&s);
	plan_sim(&p, GIB_BLOCKS * WINDOW);
	ns = ktime_get_ns() - t0;
	KUNIT_EXPECT_EQ(test, p.chunks, GIB_BLOCKS);
	KUNIT_EXPECT_EQ(test, p.longest, 1);
	kunit_info(test, "1 GiB plan in 1 TiB: %lu searches, %llu us\n",
		   p.searches, ns / 1000);
	KUNIT_EXPECT_LT(test, ns, 2 * NSEC_PER_SEC);
	map_free(map);
}

/*
 * What counts as blocked: blocked frames; a partly covered block's share;
 * free frames when only exchanging; mapped shmem with anonymous pages;
 * blocks never counted.
 */
static void index_rules(struct kunit *test)
{
	struct vma_defrag_block_map *map = map_new(test, 4, 0);
	struct vma_defrag_search s = search_new(test, WINDOW, WINDOW);
	struct vma_defrag_region r;

	/* Half a block in, half out: a window at phase 256 spans two */
	s.phase = WINDOW / 2;
	map->blocks[0].blocked = 1;	/* its share of half a block is 0 */
	map->blocks[1].blocked = 8;	/* 4 in the window at block 0.5 */
	map->blocks[2].blocked = 1;
	KUNIT_ASSERT_EQ(test, find(map, &s, &r), 1);
	KUNIT_EXPECT_EQ(test, r.lo, MAP_BASE + 2 * WINDOW);
	KUNIT_EXPECT_EQ(test, r.hi, MAP_BASE + 4 * WINDOW);
	map->blocks[3].blocked = 2;
	KUNIT_EXPECT_EQ(test, find(map, &s, &r), 0);
	map->blocks[3].blocked = 0;

	/* Only exchanging: free frames are blocked too */
	s.phase = 0;
	map->blocks[0].blocked = 0;
	map->blocks[1].blocked = 0;
	map->blocks[2].blocked = 0;
	map->blocks[0].free = 1;
	map->blocks[1].free = 1;
	map->blocks[2].free = 1;
	map->blocks[3].free = 0;
	s.exchange_only = true;
	KUNIT_ASSERT_EQ(test, find(map, &s, &r), 1);
	KUNIT_EXPECT_EQ(test, r.lo, MAP_BASE + 3 * WINDOW);
	/* All in use: each page an exchange */
	KUNIT_EXPECT_EQ(test, r.cost, 3 * WINDOW);

	/* Anonymous pages: other owners' mapped shmem is blocked */
	s.has_anon = true;
	map->blocks[3].shmem_mapped = 1;
	KUNIT_EXPECT_EQ(test, find(map, &s, &r), 0);
	s.has_anon = false;
	KUNIT_EXPECT_EQ(test, find(map, &s, &r), 1);

	/* Never counted: as good as blocked */
	map->blocks[3].stamp = 0;
	KUNIT_EXPECT_EQ(test, find(map, &s, &r), 0);
	search_free(&s);
	map_free(map);
}

/* Pages already in place make their window the cheapest, at no cost. */
static void index_prefers_pages_in_place(struct kunit *test)
{
	struct vma_defrag_block_map *map = map_new(test, 8, 0);
	struct vma_defrag_search s = search_new(test, 2 * WINDOW, WINDOW);
	struct vma_defrag_region r;
	unsigned long i;

	for (i = 0; i < 2 * WINDOW; i++)
		((unsigned long *)s.pfns)[i] = MAP_BASE + 5 * WINDOW + i;
	KUNIT_ASSERT_EQ(test, find(map, &s, &r), 1);
	KUNIT_EXPECT_EQ(test, r.lo, MAP_BASE + 5 * WINDOW);
	KUNIT_EXPECT_EQ(test, r.cost, 0);

	/* Base-page alignment: regions of whole blocks around the window */
	s.align = 1;
	KUNIT_ASSERT_EQ(test, find(map, &s, &r), 1);
	KUNIT_EXPECT_EQ(test, r.lo, MAP_BASE + 5 * WINDOW);
	KUNIT_EXPECT_GE(test, r.hi - r.lo, 2 * WINDOW);
	KUNIT_EXPECT_EQ(test, r.cost, 0);
	search_free(&s);
	map_free(map);
}

/* A deadline already past stops the search with -ETIME. */
static void index_deadline(struct kunit *test)
{
	struct vma_defrag_block_map *map = map_new(test, 64 * GIB_BLOCKS, 1);
	struct vma_defrag_search s = search_new(test, WINDOW, WINDOW);
	/* As if some run were clean: every candidate is looked at */
	unsigned long longest = 1;
	struct vma_defrag_region r;

	s.deadline = ktime_get_ns();
	KUNIT_EXPECT_EQ(test, vma_defrag_find_regions(map, &s, &longest, &r, 1),
			-ETIME);
	search_free(&s);
	map_free(map);
}

static struct kunit_case vma_defrag_cases[] = {
	KUNIT_CASE(anchor_skips_blocked_windows),
	KUNIT_CASE(anchor_none_when_all_blocked),
	KUNIT_CASE(anchor_prefers_pages_in_place),
	KUNIT_CASE(anchor_congruence),
	KUNIT_CASE(anchor_prefers_free_frames),
	KUNIT_CASE(anchor_keeps_thps_whole),
	KUNIT_CASE(chunk_bounds_every_offset),
	KUNIT_CASE_SLOW(index_gigabyte_in_a_terabyte),
	KUNIT_CASE_SLOW(index_plan_without_clean_gigabyte),
	KUNIT_CASE(index_rules),
	KUNIT_CASE(index_prefers_pages_in_place),
	KUNIT_CASE(index_deadline),
	KUNIT_CASE_SLOW(defrag_scattered_anon),
	KUNIT_CASE_SLOW(defrag_exchange_only),
	KUNIT_CASE_SLOW(defrag_thp_whole),
	KUNIT_CASE_SLOW(defrag_thp_misaligned_key),
	KUNIT_CASE_SLOW(defrag_shmem),
	KUNIT_CASE_SLOW(defrag_shmem_exchange_only),
	KUNIT_CASE_SLOW(defrag_claims_until_unclaimed),
	KUNIT_CASE_SLOW(defrag_no_clean_gigabyte),
	KUNIT_CASE_SLOW(defrag_reanchor_unaligned_key),
	KUNIT_CASE_SLOW(defrag_budget),
	KUNIT_CASE(defrag_bad_requests),
	KUNIT_CASE_SLOW(windows_count_kernel_blocks),
	{}
};

static struct kunit_suite vma_defrag_suite = {
	.name = "vma_defrag",
	.test_cases = vma_defrag_cases,
};

kunit_test_suite(vma_defrag_suite);

MODULE_DESCRIPTION("KUnit tests for range defragmentation");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
