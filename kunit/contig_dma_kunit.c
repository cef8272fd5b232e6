// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for drivers/contig/prepare.c: the checks contig_dma_prepare()
 * makes before it moves anything, and what it reports.
 *
 * The "already in place" test runs on synthetic layouts; the VMA checks
 * and whole requests on user ranges made with kunit_vm_mmap(). The
 * requests run at boot, before user space could change the policy, so
 * they see its defaults: enabled=madvise, rdma=1, min_size=2 MiB.
 */
#include <kunit/test.h>
#include <linux/contig_dma.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/sched/mm.h>
#include <linux/sizes.h>
#include <linux/swap.h>
#include <linux/vma_defrag.h>

#include "../internal.h"
#include "user_mem.h"

#define KEY		0x40000000ULL	/* a 1 GiB-aligned IOVA */
#define ALL_SIZES	(SZ_4K | SZ_2M | SZ_1G)

/* ---------------------------------------------------------------------- */
/*
 * Already in place: every chunk that fits congruent, and one run unless
 * every page lies in such a chunk
 */

static void in_place_needs_congruent_chunks(struct kunit *test)
{
	struct contig_layout l = {
		.pages = 1024, .present = 1024, .runs = 1, .longest_run = 1024,
		.chunks_2m = 2,
	};

	KUNIT_EXPECT_TRUE(test, contig_dma_in_place(&l, KEY, SZ_4M,
						    ALL_SIZES));
	l.chunks_2m = 1;
	KUNIT_EXPECT_FALSE(test, contig_dma_in_place(&l, KEY, SZ_4M,
						     ALL_SIZES));
	/* Without 2 MiB pages, congruence does not matter */
	KUNIT_EXPECT_TRUE(test, contig_dma_in_place(&l, KEY, SZ_4M, SZ_4K));
	/* A key 4 KiB off 2 MiB leaves room for one chunk only */
	KUNIT_EXPECT_TRUE(test, contig_dma_in_place(&l, KEY + SZ_4K, SZ_4M,
						    ALL_SIZES));
	l.chunks_2m = 2;
	l.runs = 2;
	/* Two congruent chunks in two runs: the same 2 MiB pages */
	KUNIT_EXPECT_TRUE(test, contig_dma_in_place(&l, KEY, SZ_4M,
						    ALL_SIZES));
	/* ... but 4 KiB pages only want one run */
	KUNIT_EXPECT_FALSE(test, contig_dma_in_place(&l, KEY, SZ_4M, SZ_4K));
	/* Off 2 MiB, the pages outside the chunk may be anywhere */
	l.chunks_2m = 1;
	KUNIT_EXPECT_FALSE(test, contig_dma_in_place(&l, KEY + SZ_4K, SZ_4M,
						     ALL_SIZES));
	l.chunks_2m = 2;
	l.runs = 1;
	l.present = 1000;
	KUNIT_EXPECT_FALSE(test, contig_dma_in_place(&l, KEY, SZ_4M,
						     ALL_SIZES));
}

static void in_place_gigabyte(struct kunit *test)
{
	struct contig_layout l = {
		.pages = SZ_1G / SZ_4K, .present = SZ_1G / SZ_4K, .runs = 1,
		.longest_run = SZ_1G / SZ_4K, .chunks_2m = 512,
	};

	KUNIT_EXPECT_FALSE(test, contig_dma_in_place(&l, KEY, SZ_1G,
						     ALL_SIZES));
	KUNIT_EXPECT_TRUE(test, contig_dma_in_place(&l, KEY, SZ_1G,
						    SZ_4K | SZ_2M));
	l.chunks_1g = 1;
	KUNIT_EXPECT_TRUE(test, contig_dma_in_place(&l, KEY, SZ_1G,
						    ALL_SIZES));
}

/* ---------------------------------------------------------------------- */
/* The VMA checks */

static int check(unsigned long start, unsigned long len, bool moving,
		 bool *madvised)
{
	int ret;

	mmap_read_lock(current->mm);
	ret = contig_dma_check_vmas(current->mm, start, len, moving, madvised);
	mmap_read_unlock(current->mm);
	return ret;
}

static void vmas_anon_and_madvise(struct kunit *test)
{
	unsigned long a = user_mem_map_anon(test, SZ_2M, 0);
	bool madvised;

	KUNIT_EXPECT_EQ(test, check(a, SZ_2M, true, &madvised), 0);
	KUNIT_EXPECT_FALSE(test, madvised);
	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, a, SZ_2M,
					 MADV_HUGEPAGE), 0);
	KUNIT_EXPECT_EQ(test, check(a, SZ_2M, true, &madvised), 0);
	KUNIT_EXPECT_TRUE(test, madvised);
}

static void vmas_holes(struct kunit *test)
{
	unsigned long a = user_mem_map_anon(test, 3 * PAGE_SIZE, 0);
	bool madvised;

	KUNIT_ASSERT_EQ(test, vm_munmap(a + PAGE_SIZE, PAGE_SIZE), 0);
	KUNIT_EXPECT_EQ(test, check(a, PAGE_SIZE, true, &madvised), 0);
	KUNIT_EXPECT_EQ(test, check(a, 3 * PAGE_SIZE, true, &madvised),
			-ENOMEM);
	KUNIT_EXPECT_EQ(test, check(a + PAGE_SIZE, PAGE_SIZE, false,
				    &madvised), -ENOMEM);
	/* Past the end of the last page */
	KUNIT_EXPECT_EQ(test, check(a + 2 * PAGE_SIZE, 2 * PAGE_SIZE, false,
				    &madvised), -ENOMEM);
}

static void vmas_several(struct kunit *test)
{
	unsigned long a = user_mem_map_anon(test, 2 * PAGE_SIZE, 0);
	bool madvised;

	/* Different flags on the second page make it a VMA of its own */
	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, a + PAGE_SIZE,
					 PAGE_SIZE, MADV_HUGEPAGE), 0);
	KUNIT_EXPECT_EQ(test, check(a, 2 * PAGE_SIZE, false, &madvised),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, check(a, PAGE_SIZE, true, &madvised), 0);
}

static void vmas_shmem(struct kunit *test)
{
	struct file *file = user_mem_shmem_file(test, SZ_2M, false);
	unsigned long s = user_mem_map_file(test, file, SZ_2M, 0);
	unsigned long p;
	bool madvised;

	KUNIT_EXPECT_EQ(test, check(s, SZ_2M, true, &madvised), 0);
	/* Mapped private, a tmpfs file is a file mapping: query, no move */
	p = kunit_vm_mmap(test, file, 0, SZ_2M, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE, 0);
	KUNIT_ASSERT_FALSE(test, IS_ERR_VALUE(p));
	KUNIT_EXPECT_EQ(test, check(p, SZ_2M, true, &madvised), -EOPNOTSUPP);
	KUNIT_EXPECT_EQ(test, check(p, SZ_2M, false, &madvised), 0);
}

/* ---------------------------------------------------------------------- */
/* Whole requests */

static int prepare_flags(unsigned long start, unsigned long len,
			 enum contig_dma_user user, unsigned int flags,
			 struct contig_dma_result *res)
{
	struct contig_dma_request req = {
		.start = start,
		.len = len,
		.key = KEY,
		.user = user,
		.flags = flags,
	};

	return contig_dma_prepare(current->mm, &req, res);
}

static int prepare(unsigned long start, unsigned long len,
		   enum contig_dma_user user, struct contig_dma_result *res)
{
	return prepare_flags(start, len, user, 0, res);
}

static void prepare_explicit(struct kunit *test)
{
	struct contig_dma_result res;
	unsigned long a, b;

	user_mem_map_interleaved(test, &a, &b);
	KUNIT_ASSERT_EQ(test, prepare(a, SZ_2M, CONTIG_DMA_USER_EXPLICIT,
				      &res), 0);
	KUNIT_EXPECT_EQ(test, res.outcome, CONTIG_DMA_PREPARED);
	KUNIT_EXPECT_GT(test, res.before.runs, 1);
	KUNIT_EXPECT_EQ(test, res.after.runs, 1);
	KUNIT_EXPECT_EQ(test, res.after.chunks_2m, 1);
	KUNIT_EXPECT_EQ(test, res.moves.in_place + res.moves.migrated +
			res.moves.exchanged, 512);
	KUNIT_EXPECT_GT(test, res.ns, 0);
	user_mem_check(test, a, SZ_2M, 1);
	user_mem_check(test, b, SZ_2M, 2);

	/* In place now: found by a walk, nothing moves */
	KUNIT_ASSERT_EQ(test, prepare(a, SZ_2M, CONTIG_DMA_USER_EXPLICIT,
				      &res), 0);
	KUNIT_EXPECT_EQ(test, res.outcome, CONTIG_DMA_IN_PLACE);
	KUNIT_EXPECT_EQ(test, res.moves.migrated + res.moves.exchanged, 0);
	KUNIT_EXPECT_EQ(test, res.after.runs, 1);
	user_mem_check(test, a, SZ_2M, 1);
}

/* Driver requests follow the default policy: madvise, 2 MiB at least */
static void prepare_policy(struct kunit *test)
{
	struct contig_dma_result res;
	unsigned long a, b;

	user_mem_map_interleaved(test, &a, &b);
	KUNIT_ASSERT_EQ(test, prepare(a, SZ_2M, CONTIG_DMA_USER_RDMA, &res),
			0);
	KUNIT_EXPECT_EQ(test, res.outcome, CONTIG_DMA_SKIP_POLICY);
	/* Turned away before the walk: no layout, nothing moved */
	KUNIT_EXPECT_EQ(test, res.before.pages, 0);
	KUNIT_ASSERT_EQ(test, contig_layout_query(current->mm, a, SZ_2M, KEY,
						  &res.after), 0);
	KUNIT_EXPECT_GT(test, res.after.runs, 1);

	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, a, SZ_2M,
					 MADV_HUGEPAGE), 0);
	KUNIT_ASSERT_EQ(test, prepare(a, SZ_1M, CONTIG_DMA_USER_VFIO, &res),
			0);
	KUNIT_EXPECT_EQ(test, res.outcome, CONTIG_DMA_SKIP_SMALL);

	/* khugepaged may have collapsed the range meanwhile: in place */
	KUNIT_ASSERT_EQ(test, prepare(a, SZ_2M, CONTIG_DMA_USER_RDMA, &res),
			0);
	KUNIT_EXPECT_TRUE(test, res.outcome == CONTIG_DMA_PREPARED ||
			  res.outcome == CONTIG_DMA_IN_PLACE);
	KUNIT_EXPECT_EQ(test, res.after.runs, 1);
	user_mem_check(test, a, SZ_2M, 1);
	user_mem_check(test, b, SZ_2M, 2);
}

/*
 * Free frames only (what a caller without CAP_SYS_NICE gets): the range
 * still ends up in one congruent run, by migration alone, and the pages
 * interleaved with it (another buffer, standing for another process's)
 * stay on their frames with their data.
 */
static void prepare_free_only(struct kunit *test)
{
	struct contig_dma_request req = {
		.key = KEY, .user = CONTIG_DMA_USER_EXPLICIT,
		.flags = CONTIG_DMA_FREE_ONLY,
	};
	unsigned long a, b, i, pfn, *pfns, moved = 0;
	struct contig_dma_result res;
	struct folio *folio;

	pfns = kunit_kcalloc(test, SZ_2M / PAGE_SIZE, sizeof(*pfns),
			     GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pfns);
	user_mem_map_interleaved(test, &a, &b);
	for (i = 0; i < SZ_2M / PAGE_SIZE; i++) {
		folio = user_mem_folio_at(b + i * PAGE_SIZE, &pfns[i]);
		KUNIT_ASSERT_NOT_NULL(test, folio);
		folio_put(folio);
	}
	req.start = a;
	req.len = SZ_2M;
	KUNIT_ASSERT_EQ(test, contig_dma_prepare(current->mm, &req, &res), 0);
	KUNIT_EXPECT_EQ(test, res.outcome, CONTIG_DMA_PREPARED);
	KUNIT_EXPECT_GT(test, res.before.runs, 1);
	KUNIT_EXPECT_EQ(test, res.after.runs, 1);
	KUNIT_EXPECT_EQ(test, res.after.chunks_2m, 1);
	KUNIT_EXPECT_EQ(test, res.moves.exchanged, 0);
	KUNIT_EXPECT_EQ(test, res.moves.in_place + res.moves.migrated, 512);
	for (i = 0; i < SZ_2M / PAGE_SIZE; i++) {
		folio = user_mem_folio_at(b + i * PAGE_SIZE, &pfn);
		KUNIT_ASSERT_NOT_NULL(test, folio);
		folio_put(folio);
		moved += pfn != pfns[i];
	}
	KUNIT_EXPECT_EQ(test, moved, 0);
	user_mem_check(test, a, SZ_2M, 1);
	user_mem_check(test, b, SZ_2M, 2);
}

/*
 * With CONTIG_DMA_PIN_REPORT the layout is counted once the caller has
 * pinned (contig_dma_pinned()), as it is then: a range left in one
 * congruent run counts 2 MiB; the same range emptied between the request
 * and the pin (as another thread could) counts nothing; a pin that failed
 * counts nothing either. The claims are given up every time.
 */
static void pinned_counts_what_the_pin_left(struct kunit *test)
{
	struct vma_defrag_claims claims = {};
	struct contig_dma_request req = {
		.len = SZ_2M,
		.key = KEY,
		.user = CONTIG_DMA_USER_EXPLICIT,
		.flags = CONTIG_DMA_PIN_REPORT,
		.claims = &claims,
	};
	struct contig_dma_result res;
	unsigned long a, b;
	u64 bytes;

	user_mem_map_interleaved(test, &a, &b);
	req.start = a;
	bytes = contig_dma_bytes_contiguous();
	KUNIT_ASSERT_EQ(test, contig_dma_prepare(current->mm, &req, &res), 0);
	KUNIT_ASSERT_EQ(test, res.outcome, CONTIG_DMA_PREPARED);
	KUNIT_EXPECT_EQ(test, res.after.chunks_2m, 1);
	KUNIT_EXPECT_EQ(test, contig_dma_bytes_contiguous(), bytes);
	KUNIT_EXPECT_NOT_NULL(test, claims.first);
	contig_dma_pinned(current->mm, &req, &res, 0);
	KUNIT_EXPECT_NULL(test, claims.first);
	KUNIT_EXPECT_EQ(test, res.pinned.chunks_2m, res.after.chunks_2m);
	KUNIT_EXPECT_EQ(test, res.pinned.runs, res.after.runs);
	KUNIT_EXPECT_EQ(test, contig_dma_bytes_contiguous(),
			bytes + (u64)res.after.chunks_2m * SZ_2M);

	/* In place now; emptied before the pin */
	bytes = contig_dma_bytes_contiguous();
	KUNIT_ASSERT_EQ(test, contig_dma_prepare(current->mm, &req, &res), 0);
	KUNIT_ASSERT_EQ(test, res.outcome, CONTIG_DMA_IN_PLACE);
	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, a, SZ_2M, MADV_DONTNEED),
			0);
	contig_dma_pinned(current->mm, &req, &res, 0);
	KUNIT_EXPECT_EQ(test, res.pinned.present, 0);
	KUNIT_EXPECT_EQ(test, res.pinned.chunks_2m, 0);
	KUNIT_EXPECT_EQ(test, contig_dma_bytes_contiguous(), bytes);

	/* A pin that failed */
	user_mem_fill(test, a, SZ_2M, 3);
	KUNIT_ASSERT_EQ(test, contig_dma_prepare(current->mm, &req, &res), 0);
	contig_dma_pinned(current->mm, &req, &res, -ENOMEM);
	KUNIT_EXPECT_NULL(test, claims.first);
	KUNIT_EXPECT_EQ(test, res.pinned.runs, 0);
	KUNIT_EXPECT_EQ(test, contig_dma_bytes_contiguous(), bytes);
	user_mem_check(test, a, SZ_2M, 3);
	user_mem_check(test, b, SZ_2M, 2);
}

/* ---------------------------------------------------------------------- */
/* Populating as the pin will (CONTIG_DMA_POPULATE) */

#define HOLE	(16 * PAGE_SIZE)

static int prepare_populate(unsigned long start, unsigned long len,
			    unsigned int flags, struct contig_dma_result *res)
{
	return prepare_flags(start, len, CONTIG_DMA_USER_EXPLICIT,
			     CONTIG_DMA_POPULATE | flags, res);
}

/* What the engine did, for a case whose layout came out wrong */
static void log_moves(struct kunit *test, const struct contig_dma_result *res)
{
	const struct vma_defrag_stats *m = &res->moves;

	kunit_info(test,
		   "segments %u reanchors %u in_place %lu populated %lu (%lu in place) migrated %lu exchanged %lu partial %d failed %lu %lu %lu %lu %lu %lu %lu %lu\n",
		   m->segments, m->reanchors, m->in_place, m->populated,
		   m->populated_in_place, m->migrated, m->exchanged, m->partial,
		   m->failed[0], m->failed[1], m->failed[2], m->failed[3],
		   m->failed[4], m->failed[5], m->failed[6], m->failed[7]);
}

/* Punch holes of HOLE bytes at the start, in the middle, at the end */
static void punch_holes(struct kunit *test, unsigned long a)
{
	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, a, HOLE,
					 MADV_DONTNEED), 0);
	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, a + SZ_1M, HOLE,
					 MADV_DONTNEED), 0);
	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, a + SZ_2M - HOLE, HOLE,
					 MADV_DONTNEED), 0);
}

/* The pages around the holes kept their pattern, the holes read zero */
static void check_holes(struct kunit *test, unsigned long a, u64 seed)
{
	user_mem_check_zero(test, a, HOLE);
	user_mem_check(test, a + HOLE, SZ_1M - HOLE, seed);
	user_mem_check_zero(test, a + SZ_1M, HOLE);
	user_mem_check(test, a + SZ_1M + HOLE, SZ_1M - 2 * HOLE, seed);
	user_mem_check_zero(test, a + SZ_2M - HOLE, HOLE);
}

/*
 * After a populating request on punch_holes()'s range @a, interleaved with
 * @b: the holes populated, by the engine, the range one congruent run of
 * present pages, the holes zero, every other page of @a and @b intact.
 */
static void expect_holes_placed(struct kunit *test,
				const struct contig_dma_result *res,
				unsigned long a, unsigned long b)
{
	unsigned long holes = 3 * HOLE / PAGE_SIZE;

	KUNIT_EXPECT_EQ(test, res->populated, holes);
	KUNIT_EXPECT_EQ(test, res->moves.populated, holes);
	KUNIT_EXPECT_EQ(test, res->after.present, 512);
	KUNIT_EXPECT_EQ(test, res->after.runs, 1);
	KUNIT_EXPECT_EQ(test, res->after.chunks_2m, 1);
	if (res->after.runs != 1)
		log_moves(test, res);
	check_holes(test, a, 1);
	user_mem_check(test, b, SZ_2M, 2);
}

/*
 * Holes at the start, in the middle and at the end of a scattered range,
 * for a writable pin: faulted in and placed with the rest, one congruent
 * run, each hole zero, every other page (and the interleaved buffer,
 * whose frames the targets may be) intact; then in place at one walk.
 */
static void populate_holes(struct kunit *test)
{
	unsigned long a, b, holes = 3 * HOLE / PAGE_SIZE;
	struct contig_dma_result res;

	user_mem_map_interleaved(test, &a, &b);
	punch_holes(test, a);
	KUNIT_ASSERT_EQ(test, prepare_populate(a, SZ_2M, CONTIG_DMA_PIN_WRITE,
					       &res), 0);
	KUNIT_EXPECT_EQ(test, res.outcome, CONTIG_DMA_PREPARED);
	KUNIT_EXPECT_EQ(test, res.before.present, 512 - holes);
	expect_holes_placed(test, &res, a, b);

	KUNIT_ASSERT_EQ(test, prepare_populate(a, SZ_2M, CONTIG_DMA_PIN_WRITE,
					       &res), 0);
	KUNIT_EXPECT_EQ(test, res.outcome, CONTIG_DMA_IN_PLACE);
	KUNIT_EXPECT_EQ(test, res.populated, 0);
}

/*
 * Nothing populated, for a writable pin: every page is allocated at its
 * target and mapped there (a free window exists on a quiet machine), with
 * no copy; one congruent run of zeroes, writable without another fault.
 */
static void populate_into_place(struct kunit *test)
{
	unsigned long a = user_mem_map_anon(test, SZ_2M, 0);
	struct contig_dma_result res;

	user_mem_no_thp(test, a, SZ_2M);
	KUNIT_ASSERT_EQ(test, prepare_populate(a, SZ_2M, CONTIG_DMA_PIN_WRITE,
					       &res), 0);
	KUNIT_EXPECT_EQ(test, res.outcome, CONTIG_DMA_PREPARED);
	KUNIT_EXPECT_EQ(test, res.before.present, 0);
	KUNIT_EXPECT_EQ(test, res.populated, 512);
	KUNIT_EXPECT_EQ(test, res.moves.populated, 512);
	KUNIT_EXPECT_EQ(test, res.moves.populated_in_place, 512);
	KUNIT_EXPECT_EQ(test, res.moves.migrated + res.moves.exchanged, 0);
	KUNIT_EXPECT_EQ(test, res.after.present, 512);
	KUNIT_EXPECT_EQ(test, res.after.runs, 1);
	KUNIT_EXPECT_EQ(test, res.after.chunks_2m, 1);
	KUNIT_EXPECT_EQ(test, res.after.cow_shared + res.after.zero, 0);
	if (res.moves.populated_in_place != 512)
		log_moves(test, &res);
	user_mem_check_zero(test, a, SZ_2M);
	user_mem_fill(test, a, SZ_2M, 5);
	user_mem_check(test, a, SZ_2M, 5);

	KUNIT_ASSERT_EQ(test, prepare_populate(a, SZ_2M, CONTIG_DMA_PIN_WRITE,
					       &res), 0);
	KUNIT_EXPECT_EQ(test, res.outcome, CONTIG_DMA_IN_PLACE);
}

/*
 * A whole 2 MiB of a THP VMA (enabled=always in the test guest), nothing
 * populated and no page table yet: one PMD-mapped THP at a free congruent
 * block, zeroed, writable, the range in place.
 */
static void populate_thp(struct kunit *test)
{
	unsigned long a = user_mem_map_anon(test, 2 * SZ_2M, 0), pfn;
	struct contig_dma_result res;
	struct folio *folio;

	a = ALIGN(a, SZ_2M);
	KUNIT_ASSERT_EQ(test, prepare_populate(a, SZ_2M, CONTIG_DMA_PIN_WRITE,
					       &res), 0);
	KUNIT_EXPECT_EQ(test, res.outcome, CONTIG_DMA_PREPARED);
	KUNIT_EXPECT_EQ(test, res.moves.populated_thp, 1);
	KUNIT_EXPECT_EQ(test, res.moves.populated_in_place, 512);
	KUNIT_EXPECT_EQ(test, res.populated, 512);
	KUNIT_EXPECT_EQ(test, res.after.chunks_2m, 1);
	if (res.moves.populated_thp != 1)
		log_moves(test, &res);
	folio = user_mem_folio_at(a, &pfn);
	KUNIT_ASSERT_NOT_NULL(test, folio);
	KUNIT_EXPECT_EQ(test, folio_order(folio), HPAGE_PMD_ORDER);
	KUNIT_EXPECT_TRUE(test, IS_ALIGNED(pfn, HPAGE_PMD_NR));
	KUNIT_EXPECT_TRUE(test, folio_test_anon(folio));
	folio_put(folio);
	user_mem_check_zero(test, a, SZ_2M);
	user_mem_fill(test, a, SZ_2M, 6);
	user_mem_check(test, a, SZ_2M, 6);
}

/*
 * A range read before it was written maps the shared zero page, which the
 * pin replaces (writable or not: a long-term pin does not pin the zero
 * page): with page tables of small pages in one VMA, and with the huge
 * zero page in a THP VMA (enabled=always in the test guest), which is
 * split as the pin's fault splits it. Every page is replaced at its
 * target, zeroed; one congruent run, no zero page left, writable.
 */
static void populate_zero_page(struct kunit *test)
{
	unsigned long nothp = user_mem_map_anon(test, SZ_2M, 0);
	unsigned long thp = ALIGN(user_mem_map_anon(test, 2 * SZ_2M, 0), SZ_2M);
	unsigned long ranges[] = { nothp, thp };
	struct contig_dma_result res;
	int i;

	user_mem_no_thp(test, nothp, SZ_2M);
	for (i = 0; i < ARRAY_SIZE(ranges); i++) {
		user_mem_check_zero(test, ranges[i], SZ_2M);
		KUNIT_ASSERT_EQ(test, prepare_populate(ranges[i], SZ_2M,
						       CONTIG_DMA_PIN_WRITE,
						       &res), 0);
		KUNIT_EXPECT_EQ(test, res.outcome, CONTIG_DMA_PREPARED);
		KUNIT_EXPECT_EQ(test, res.before.zero, 512);
		KUNIT_EXPECT_EQ(test, res.populated, 512);
		KUNIT_EXPECT_EQ(test, res.moves.populated, 512);
		KUNIT_EXPECT_EQ(test, res.after.zero, 0);
		KUNIT_EXPECT_EQ(test, res.after.present, 512);
		KUNIT_EXPECT_EQ(test, res.after.runs, 1);
		KUNIT_EXPECT_EQ(test, res.after.chunks_2m, 1);
		if (res.after.runs != 1 || res.moves.populated != 512)
			log_moves(test, &res);
		user_mem_check_zero(test, ranges[i], SZ_2M);
		user_mem_fill(test, ranges[i], SZ_2M, 7 + i);
		user_mem_check(test, ranges[i], SZ_2M, 7 + i);
	}
}

/* Migrate the page mapped at @va into frame @pfn, free: true if done */
static bool move_page_to_frame(unsigned long va, unsigned long pfn)
{
	struct vma_defrag_move move[2] = {};
	struct folio *folio = user_mem_folio_at(va, NULL);

	if (!folio)
		return false;
	if (alloc_contig_range(pfn, pfn + 1, MIGRATE_MOVABLE, GFP_KERNEL)) {
		folio_put(folio);
		return false;
	}
	move[0].src = folio;
	move[0].dst = page_folio(pfn_to_page(pfn));
	if (vma_defrag_migrate_to(move, 1))
		return true;
	__free_page(pfn_to_page(pfn));
	return false;
}

/*
 * A hole whose target frame another mapping's page took: that page is
 * migrated away (evicted) and the hole filled at its target, one copy.
 * The range is first placed in one run; then HOLE pages in its middle are
 * dropped and another mapping's pages migrated into their frames. The
 * cheapest window is then the range's own: every present page is in
 * place, and each hole costs the copy of the page in its frame. Every
 * page of the three mappings keeps its data; the holes read zero.
 */
static void populate_evicts(struct kunit *test)
{
	unsigned long c = user_mem_map_anon(test, HOLE, 0);
	unsigned long a, b, base, i, taken = 0;
	struct contig_dma_result res;
	struct folio *folio;

	user_mem_map_interleaved(test, &a, &b);
	user_mem_no_thp(test, c, HOLE);
	KUNIT_ASSERT_EQ(test, prepare_populate(a, SZ_2M, CONTIG_DMA_PIN_WRITE,
					       &res), 0);
	KUNIT_ASSERT_EQ(test, res.after.runs, 1);
	folio = user_mem_folio_at(a, &base);
	KUNIT_ASSERT_NOT_NULL(test, folio);
	folio_put(folio);

	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, a + SZ_1M, HOLE,
					 MADV_DONTNEED), 0);
	user_mem_fill(test, c, HOLE, 4);
	lru_add_drain_all();
	for (i = 0; i < HOLE / PAGE_SIZE; i++)
		taken += move_page_to_frame(c + i * PAGE_SIZE,
					    base + (SZ_1M >> PAGE_SHIFT) + i);
	KUNIT_ASSERT_GT_MSG(test, taken, 0,
			    "no page could be moved into the holes' frames");

	KUNIT_ASSERT_EQ(test, prepare_populate(a, SZ_2M, CONTIG_DMA_PIN_WRITE,
					       &res), 0);
	KUNIT_EXPECT_EQ(test, res.outcome, CONTIG_DMA_PREPARED);
	KUNIT_EXPECT_EQ(test, res.moves.evicted, taken);
	KUNIT_EXPECT_EQ(test, res.moves.populated_in_place, HOLE / PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, res.moves.migrated + res.moves.exchanged, 0);
	KUNIT_EXPECT_EQ(test, res.after.runs, 1);
	KUNIT_EXPECT_EQ(test, res.after.chunks_2m, 1);
	if (res.moves.evicted != taken || res.after.runs != 1)
		log_moves(test, &res);
	user_mem_check(test, a, SZ_1M, 1);
	user_mem_check_zero(test, a + SZ_1M, HOLE);
	user_mem_check(test, a + SZ_1M + HOLE, SZ_1M - HOLE, 1);
	user_mem_check(test, b, SZ_2M, 2);
	user_mem_check(test, c, HOLE, 4);
}

/*
 * Holes whose targets are other pages' frames: with exchanges only, every
 * hole gets a page elsewhere, which then swaps with the target's owner.
 * Such a request needs a window of frames all in use: a THP of another
 * mapping is one for sure (split for the exchanges), whatever else the
 * machine holds. That mapping's data, the range's data and the zeroes of
 * the holes all survive, and the range is one run.
 */
static void populate_holes_exchange_only(struct kunit *test)
{
	unsigned long a, b, holes = 3 * HOLE / PAGE_SIZE;
	unsigned long t = user_mem_map_thp(test);
	struct contig_dma_result res;

	user_mem_map_interleaved(test, &a, &b);
	punch_holes(test, a);
	KUNIT_ASSERT_EQ(test, prepare_populate(a, SZ_2M, CONTIG_DMA_PIN_WRITE |
					       CONTIG_DMA_EXCHANGE_ONLY,
					       &res), 0);
	KUNIT_EXPECT_EQ(test, res.outcome, CONTIG_DMA_PREPARED);
	KUNIT_EXPECT_EQ(test, res.moves.populated_in_place, 0);
	KUNIT_EXPECT_GE(test, res.moves.exchanged, holes);
	KUNIT_EXPECT_EQ(test, res.moves.migrated, 0);
	expect_holes_placed(test, &res, a, b);
	user_mem_check(test, t, SZ_2M, 0);
}

/*
 * Without CONTIG_DMA_POPULATE the holes stay holes (what contig did before
 * it populated), and the range is not in place while it has them.
 */
static void populate_not_asked(struct kunit *test)
{
	struct contig_dma_result res;
	unsigned long a, b;

	user_mem_map_interleaved(test, &a, &b);
	punch_holes(test, a);
	KUNIT_ASSERT_EQ(test, prepare(a, SZ_2M, CONTIG_DMA_USER_EXPLICIT,
				      &res), 0);
	KUNIT_EXPECT_EQ(test, res.populated, 0);
	KUNIT_EXPECT_EQ(test, res.after.present, 512 - 3 * HOLE / PAGE_SIZE);
	KUNIT_ASSERT_EQ(test, prepare(a, SZ_2M, CONTIG_DMA_USER_EXPLICIT,
				      &res), 0);
	KUNIT_EXPECT_NE(test, res.outcome, CONTIG_DMA_IN_PLACE);
}

/*
 * A read-only long-term pin of private anonymous holes does not pin the
 * shared zero page (gup_must_unshare()): it gets pages of their own, and
 * so does contig, which places them with the rest.
 */
static void populate_read_only_anon(struct kunit *test)
{
	unsigned long a, b, holes = 3 * HOLE / PAGE_SIZE;
	struct contig_dma_result res;

	user_mem_map_interleaved(test, &a, &b);
	punch_holes(test, a);
	KUNIT_ASSERT_EQ(test, prepare_populate(a, SZ_2M, 0, &res), 0);
	KUNIT_EXPECT_EQ(test, res.populated, holes);
	KUNIT_EXPECT_EQ(test, res.after.present, 512);
	KUNIT_EXPECT_EQ(test, res.after.zero, 0);
	KUNIT_EXPECT_EQ(test, res.after.cow_shared, 0);
	KUNIT_EXPECT_EQ(test, res.after.runs, 1);
	KUNIT_EXPECT_EQ(test, res.after.chunks_2m, 1);
	if (res.after.runs != 1)
		log_moves(test, &res);
	check_holes(test, a, 1);
	user_mem_check(test, b, SZ_2M, 2);
}

/*
 * shmem holes: even a read-only pin allocates them (in the page cache),
 * so contig populates and places them, written or not.
 */
static void populate_shmem(struct kunit *test)
{
	struct file *file = user_mem_shmem_file(test, SZ_2M, false);
	unsigned long s = user_mem_map_file(test, file, SZ_2M, 0), off;
	struct contig_dma_result res;

	/* Every other 64 KiB written: half the file is holes */
	for (off = 0; off < SZ_2M; off += SZ_128K)
		user_mem_fill(test, s + off, SZ_64K, 3);
	KUNIT_ASSERT_EQ(test, prepare_populate(s, SZ_2M, 0, &res), 0);
	KUNIT_EXPECT_EQ(test, res.before.present, 256);
	KUNIT_EXPECT_EQ(test, res.populated, 256);
	KUNIT_EXPECT_EQ(test, res.after.present, 512);
	KUNIT_EXPECT_EQ(test, res.after.runs, 1);
	KUNIT_EXPECT_EQ(test, res.after.chunks_2m, 1);
	for (off = 0; off < SZ_2M; off += SZ_128K) {
		user_mem_check(test, s + off, SZ_64K, 3);
		user_mem_check_zero(test, s + off + SZ_64K, SZ_64K);
	}
}

/* MAP_NORESERVE memory is populated like any other */
static void populate_noreserve(struct kunit *test)
{
	unsigned long a = user_mem_map_anon(test, SZ_2M, MAP_NORESERVE);
	struct contig_dma_result res;

	user_mem_no_thp(test, a, SZ_2M);
	user_mem_fill(test, a + SZ_1M, SZ_64K, 4);
	KUNIT_ASSERT_EQ(test, prepare_populate(a, SZ_2M, CONTIG_DMA_PIN_WRITE,
					       &res), 0);
	KUNIT_EXPECT_EQ(test, res.populated, 512 - 16);
	KUNIT_EXPECT_EQ(test, res.after.present, 512);
	KUNIT_EXPECT_EQ(test, res.after.chunks_2m, 1);
	user_mem_check(test, a + SZ_1M, SZ_64K, 4);
	user_mem_check_zero(test, a, SZ_1M);
}

/*
 * A writable pin of a read-only mapping fails, and so does the populate:
 * the request goes on with the pages there are (none: a skip), and reports
 * no error; the pin will report its own. A read-only long-term pin gets
 * pages of their own, read-only: so does contig.
 */
static void populate_read_only_vma(struct kunit *test)
{
	unsigned long a = kunit_vm_mmap(test, NULL, 0, SZ_2M, PROT_READ,
					MAP_PRIVATE | MAP_ANONYMOUS, 0);
	struct contig_dma_result res;

	KUNIT_ASSERT_FALSE(test, IS_ERR_VALUE(a));
	KUNIT_EXPECT_EQ(test, prepare_populate(a, SZ_2M, CONTIG_DMA_PIN_WRITE,
					       &res), 0);
	KUNIT_EXPECT_EQ(test, res.outcome, CONTIG_DMA_SKIP_EMPTY);
	KUNIT_EXPECT_EQ(test, res.populated, 0);
	KUNIT_EXPECT_EQ(test, res.after.present, 0);
	KUNIT_EXPECT_EQ(test, prepare_populate(a, SZ_2M, 0, &res), 0);
	KUNIT_EXPECT_EQ(test, res.populated, 512);
	KUNIT_EXPECT_EQ(test, res.after.present, 512);
	KUNIT_EXPECT_EQ(test, res.after.zero, 0);
	user_mem_check_zero(test, a, SZ_2M);
}

static void prepare_empty_and_bad(struct kunit *test)
{
	unsigned long a = user_mem_map_anon(test, SZ_4M, 0);
	struct contig_dma_request req = {
		.start = a, .len = SZ_2M, .key = KEY,
		.user = CONTIG_DMA_USER_EXPLICIT,
	};
	struct contig_dma_result res;

	/* The second half unmapped: a hole for the last request */
	KUNIT_ASSERT_EQ(test, vm_munmap(a + SZ_2M, SZ_2M), 0);
	KUNIT_ASSERT_EQ(test, prepare(a, SZ_2M, CONTIG_DMA_USER_EXPLICIT,
				      &res), 0);
	KUNIT_EXPECT_EQ(test, res.outcome, CONTIG_DMA_SKIP_EMPTY);
	KUNIT_EXPECT_EQ(test, res.before.present, 0);

	/* A device that cannot map PAGE_SIZE: a skip of its own, not an error */
	req.pgsize_bitmap = SZ_2M;
	KUNIT_EXPECT_EQ(test, contig_dma_prepare(current->mm, &req, &res), 0);
	KUNIT_EXPECT_EQ(test, res.outcome, CONTIG_DMA_SKIP_PGSIZE);
	/* ... once the policy let it through: madvise, and no MADV_HUGEPAGE */
	req.user = CONTIG_DMA_USER_VFIO;
	KUNIT_EXPECT_EQ(test, contig_dma_prepare(current->mm, &req, &res), 0);
	KUNIT_EXPECT_EQ(test, res.outcome, CONTIG_DMA_SKIP_POLICY);
	req.user = CONTIG_DMA_USER_EXPLICIT;
	req.pgsize_bitmap = 0;
	req.flags = BIT(7);
	KUNIT_EXPECT_EQ(test, contig_dma_prepare(current->mm, &req, &res),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, res.outcome, CONTIG_DMA_ERROR);
	/* Exchange only, and free frames only: contradictory */
	req.flags = CONTIG_DMA_EXCHANGE_ONLY | CONTIG_DMA_FREE_ONLY;
	KUNIT_EXPECT_EQ(test, contig_dma_prepare(current->mm, &req, &res),
			-EINVAL);
	req.flags = 0;
	req.len = SZ_4M;
	KUNIT_EXPECT_EQ(test, contig_dma_prepare(current->mm, &req, &res),
			-ENOMEM);
	req.len = SZ_2M;
	req.key = KEY + 1;
	KUNIT_EXPECT_EQ(test, contig_dma_prepare(current->mm, &req, &res),
			-EINVAL);
}

static struct kunit_case contig_dma_cases[] = {
	KUNIT_CASE(in_place_needs_congruent_chunks),
	KUNIT_CASE(in_place_gigabyte),
	KUNIT_CASE(vmas_anon_and_madvise),
	KUNIT_CASE(vmas_holes),
	KUNIT_CASE(vmas_several),
	KUNIT_CASE(vmas_shmem),
	KUNIT_CASE_SLOW(prepare_explicit),
	KUNIT_CASE_SLOW(prepare_policy),
	KUNIT_CASE_SLOW(prepare_free_only),
	KUNIT_CASE(prepare_empty_and_bad),
	KUNIT_CASE_SLOW(pinned_counts_what_the_pin_left),
	KUNIT_CASE_SLOW(populate_holes),
	KUNIT_CASE_SLOW(populate_into_place),
	KUNIT_CASE_SLOW(populate_thp),
	KUNIT_CASE_SLOW(populate_zero_page),
	KUNIT_CASE_SLOW(populate_evicts),
	KUNIT_CASE_SLOW(populate_holes_exchange_only),
	KUNIT_CASE_SLOW(populate_not_asked),
	KUNIT_CASE_SLOW(populate_read_only_anon),
	KUNIT_CASE_SLOW(populate_shmem),
	KUNIT_CASE_SLOW(populate_noreserve),
	KUNIT_CASE(populate_read_only_vma),
	{}
};

static struct kunit_suite contig_dma_suite = {
	.name = "contig_dma",
	.test_cases = contig_dma_cases,
};

kunit_test_suite(contig_dma_suite);

MODULE_DESCRIPTION("KUnit tests for the contig_dma driver API");
MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
MODULE_LICENSE("GPL");
