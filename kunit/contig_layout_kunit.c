// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for the layout inspector (drivers/contig/layout.c).
 *
 * Two halves: the accounting is driven with synthetic (VA, PFN) extents
 * whose runs and congruent chunks are known exactly, including layouts a
 * test machine cannot produce on demand (a congruent physical gigabyte);
 * the page-table walk is run on real user mappings made with
 * kunit_vm_mmap() and checked against an independent reference built
 * from get_user_pages_fast().
 */
#include <kunit/test.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/sched/mm.h>
#include <linux/uaccess.h>

#include "../layout.h"

#define SZ_2M_PAGES	(SZ_2M >> PAGE_SHIFT)
#define SZ_1G_PAGES	(SZ_1G >> PAGE_SHIFT)

/* A 1 GiB aligned user VA and physical frame to build layouts from. */
#define VA0		0x7f0000000000UL
#define PFN0		(SZ_4G >> PAGE_SHIFT)

static void acc_layout(struct contig_layout *l, unsigned long start,
		       unsigned long len, u64 key,
		       const unsigned long (*ext)[3], int n)
{
	struct contig_layout_acc acc;
	int i;

	contig_layout_acc_init(&acc, l, start, len, key);
	for (i = 0; i < n; i++)
		contig_layout_acc_add(&acc, ext[i][0], ext[i][1], ext[i][2]);
	contig_layout_acc_finish(&acc);
}

static void layout_acc_congruent_gigabyte(struct kunit *test)
{
	const unsigned long ext[][3] = { { VA0, PFN0, SZ_1G_PAGES } };
	struct contig_layout l;

	acc_layout(&l, VA0, SZ_1G, VA0, ext, 1);
	KUNIT_EXPECT_EQ(test, l.pages, SZ_1G_PAGES);
	KUNIT_EXPECT_EQ(test, l.present, SZ_1G_PAGES);
	KUNIT_EXPECT_EQ(test, l.runs, 1);
	KUNIT_EXPECT_EQ(test, l.longest_run, SZ_1G_PAGES);
	KUNIT_EXPECT_EQ(test, l.chunks_2m, 512);
	KUNIT_EXPECT_EQ(test, l.chunks_1g, 1);
}

static void layout_acc_incongruent_run(struct kunit *test)
{
	/* Contiguous, but physically one page off: no large entry fits. */
	const unsigned long ext[][3] = { { VA0, PFN0 + 1, SZ_1G_PAGES } };
	struct contig_layout l;

	acc_layout(&l, VA0, SZ_1G, VA0, ext, 1);
	KUNIT_EXPECT_EQ(test, l.runs, 1);
	KUNIT_EXPECT_EQ(test, l.longest_run, SZ_1G_PAGES);
	KUNIT_EXPECT_EQ(test, l.chunks_2m, 0);
	KUNIT_EXPECT_EQ(test, l.chunks_1g, 0);
}

static void layout_acc_key_decides_congruence(struct kunit *test)
{
	/* PA - key is a multiple of 2 MiB but not of 1 GiB. */
	const unsigned long ext[][3] = {
		{ VA0, PFN0 + SZ_2M_PAGES, SZ_1G_PAGES },
	};
	struct contig_layout l;

	acc_layout(&l, VA0, SZ_1G, SZ_1G, ext, 1);
	KUNIT_EXPECT_EQ(test, l.chunks_2m, 512);
	KUNIT_EXPECT_EQ(test, l.chunks_1g, 0);

	/*
	 * The same frames seen at a key 2 MiB higher are 1 GiB congruent,
	 * but no whole aligned gigabyte of key space lies inside the run.
	 */
	acc_layout(&l, VA0, SZ_1G, SZ_1G + SZ_2M, ext, 1);
	KUNIT_EXPECT_EQ(test, l.chunks_2m, 512);
	KUNIT_EXPECT_EQ(test, l.chunks_1g, 0);

	/* A key off by one page breaks every chunk. */
	acc_layout(&l, VA0, SZ_1G, SZ_1G + PAGE_SIZE, ext, 1);
	KUNIT_EXPECT_EQ(test, l.runs, 1);
	KUNIT_EXPECT_EQ(test, l.chunks_2m, 0);
}

static void layout_acc_partial_chunks(struct kunit *test)
{
	/* A 3 MiB run starting 1 MiB into a 2 MiB chunk holds one chunk. */
	const unsigned long ext[][3] = {
		{ VA0 + SZ_1M, PFN0 + (SZ_1M >> PAGE_SHIFT), 3 * SZ_1M >> PAGE_SHIFT },
	};
	struct contig_layout l;

	acc_layout(&l, VA0, SZ_4M, VA0, ext, 1);
	KUNIT_EXPECT_EQ(test, l.present, 3 * SZ_1M >> PAGE_SHIFT);
	KUNIT_EXPECT_EQ(test, l.runs, 1);
	KUNIT_EXPECT_EQ(test, l.chunks_2m, 1);
}

static void layout_acc_run_breaks(struct kunit *test)
{
	const unsigned long ext[][3] = {
		{ VA0, PFN0, 4 },		   /* run 1: 4 pages */
		{ VA0 + 4 * PAGE_SIZE, PFN0 + 4, 4 },  /* merges: 8 pages */
		{ VA0 + 8 * PAGE_SIZE, PFN0 + 100, 2 },/* PFN jump: run 2 */
		{ VA0 + 12 * PAGE_SIZE, PFN0 + 104, 1 },/* VA hole: run 3 */
		{ VA0 + 13 * PAGE_SIZE, PFN0 + 90, 3 },/* PFN backwards: run 4 */
	};
	struct contig_layout l;

	acc_layout(&l, VA0, 16 * PAGE_SIZE, VA0, ext, ARRAY_SIZE(ext));
	KUNIT_EXPECT_EQ(test, l.pages, 16);
	KUNIT_EXPECT_EQ(test, l.present, 14);
	KUNIT_EXPECT_EQ(test, l.runs, 4);
	KUNIT_EXPECT_EQ(test, l.longest_run, 8);
	KUNIT_EXPECT_EQ(test, l.chunks_2m, 0);
}

static void layout_acc_pages_merge_into_chunks(struct kunit *test)
{
	/* 4 MiB added page by page, as the PTE walk does, is two chunks. */
	struct contig_layout_acc acc;
	struct contig_layout l;
	unsigned long i;

	contig_layout_acc_init(&acc, &l, VA0, SZ_4M, VA0);
	for (i = 0; i < 2 * SZ_2M_PAGES; i++)
		contig_layout_acc_add(&acc, VA0 + i * PAGE_SIZE, PFN0 + i, 1);
	contig_layout_acc_finish(&acc);
	KUNIT_EXPECT_EQ(test, l.runs, 1);
	KUNIT_EXPECT_EQ(test, l.chunks_2m, 2);
}

static void layout_check_range_rejects(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, contig_layout_check_range(VA0, PAGE_SIZE, VA0), 0);
	KUNIT_EXPECT_EQ(test, contig_layout_check_range(VA0, 0, VA0), -EINVAL);
	KUNIT_EXPECT_EQ(test, contig_layout_check_range(VA0 + 1, PAGE_SIZE, VA0),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, contig_layout_check_range(VA0, PAGE_SIZE + 1, VA0),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, contig_layout_check_range(VA0, PAGE_SIZE, VA0 + 8),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, contig_layout_check_range(VA0, 2 * PAGE_SIZE,
							U64_MAX & PAGE_MASK),
			-EOVERFLOW);
	KUNIT_EXPECT_EQ(test, contig_layout_check_range(PAGE_MASK, 2 * PAGE_SIZE, 0),
			-EOVERFLOW);
	KUNIT_EXPECT_EQ(test, contig_layout_check_range(TASK_SIZE_MAX, PAGE_SIZE, 0),
			-EINVAL);
}

/* Map @pages anonymous pages in the test's mm; fails the test on error. */
static unsigned long map_anon(struct kunit *test, unsigned long pages)
{
	unsigned long addr;

	addr = kunit_vm_mmap(test, NULL, 0, pages * PAGE_SIZE,
			     PROT_READ | PROT_WRITE,
			     MAP_ANONYMOUS | MAP_PRIVATE, 0);
	KUNIT_ASSERT_FALSE_MSG(test, !addr || IS_ERR_VALUE(addr),
			       "kunit_vm_mmap failed: %ld", (long)addr);
	return addr;
}

static void touch_page(struct kunit *test, unsigned long addr, u64 val)
{
	KUNIT_ASSERT_EQ(test, put_user(val, (u64 __user *)addr), 0);
}

static void layout_mm_unpopulated(struct kunit *test)
{
	unsigned long addr = map_anon(test, 64);
	struct contig_layout l;

	KUNIT_ASSERT_EQ(test, contig_layout_query(current->mm, addr,
						  64 * PAGE_SIZE, addr, &l), 0);
	KUNIT_EXPECT_EQ(test, l.pages, 64);
	KUNIT_EXPECT_EQ(test, l.present, 0);
	KUNIT_EXPECT_EQ(test, l.runs, 0);
	KUNIT_EXPECT_EQ(test, l.longest_run, 0);
}

static void layout_mm_sparse(struct kunit *test)
{
	const unsigned long n = 128;
	unsigned long addr = map_anon(test, n), i;
	struct contig_layout l;

	for (i = 0; i < n; i += 2)
		touch_page(test, addr + i * PAGE_SIZE, i);
	KUNIT_ASSERT_EQ(test, contig_layout_query(current->mm, addr,
						  n * PAGE_SIZE, addr, &l), 0);
	KUNIT_EXPECT_EQ(test, l.present, n / 2);
	KUNIT_EXPECT_EQ(test, l.runs, n / 2);
	KUNIT_EXPECT_EQ(test, l.longest_run, 1);
	KUNIT_EXPECT_EQ(test, l.chunks_2m, 0);
}

/*
 * Reference: look every page up with GUP and count runs the plain way.
 * The answers must agree exactly with the page-table walk.
 */
static void layout_mm_matches_gup(struct kunit *test)
{
	const unsigned long n = 1024;
	unsigned long addr = map_anon(test, n), i, prev = 0, cur = 0;
	unsigned long runs = 0, longest = 0;
	struct contig_layout l;
	struct page *page;

	for (i = 0; i < n; i++)
		touch_page(test, addr + i * PAGE_SIZE, i);

	for (i = 0; i < n; i++) {
		unsigned long pfn;

		KUNIT_ASSERT_EQ(test, get_user_pages_fast(addr + i * PAGE_SIZE,
							  1, 0, &page), 1);
		pfn = page_to_pfn(page);
		put_page(page);
		if (i && pfn == prev + 1) {
			cur++;
		} else {
			runs++;
			cur = 1;
		}
		longest = max(longest, cur);
		prev = pfn;
	}

	KUNIT_ASSERT_EQ(test, contig_layout_query(current->mm, addr,
						  n * PAGE_SIZE, addr, &l), 0);
	KUNIT_EXPECT_EQ(test, l.pages, n);
	KUNIT_EXPECT_EQ(test, l.present, n);
	KUNIT_EXPECT_EQ(test, l.runs, runs);
	KUNIT_EXPECT_EQ(test, l.longest_run, longest);
}

static void layout_mm_bad_range(struct kunit *test)
{
	unsigned long addr = map_anon(test, 4);
	struct contig_layout l;

	KUNIT_EXPECT_EQ(test, contig_layout_query(current->mm, addr, 0, addr, &l),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, contig_layout_query(current->mm, addr + 8,
						  PAGE_SIZE, addr, &l),
			-EINVAL);
}

static struct kunit_case contig_layout_cases[] = {
	KUNIT_CASE(layout_acc_congruent_gigabyte),
	KUNIT_CASE(layout_acc_incongruent_run),
	KUNIT_CASE(layout_acc_key_decides_congruence),
	KUNIT_CASE(layout_acc_partial_chunks),
	KUNIT_CASE(layout_acc_run_breaks),
	KUNIT_CASE(layout_acc_pages_merge_into_chunks),
	KUNIT_CASE(layout_check_range_rejects),
	KUNIT_CASE(layout_mm_unpopulated),
	KUNIT_CASE(layout_mm_sparse),
	KUNIT_CASE(layout_mm_matches_gup),
	KUNIT_CASE(layout_mm_bad_range),
	{}
};

static struct kunit_suite contig_layout_suite = {
	.name = "contig_layout",
	.test_cases = contig_layout_cases,
};

kunit_test_suite(contig_layout_suite);

MODULE_DESCRIPTION("KUnit tests for the contig layout inspector");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
