// SPDX-License-Identifier: GPL-2.0
/*
 * User memory for the KUnit suites that move pages: mappings made in the
 * test's mm with kunit_vm_mmap(), filled with a pattern unique to every
 * 8-byte word's virtual address and checked through the user mappings, so
 * that a test sees exactly what the process owning the memory would see.
 */
#include <kunit/test.h>
#include <linux/file.h>
#include <linux/mm.h>
#include <linux/huge_mm.h>
#include <linux/mman.h>
#include <linux/pagemap.h>
#include <linux/pagewalk.h>
#include <linux/shmem_fs.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "user_mem.h"

/* The pattern word at user address @addr (8-byte aligned) */
u64 user_mem_pattern(unsigned long addr, u64 seed)
{
	return (addr * 0x9e3779b97f4a7c15ULL) ^ seed;
}

void user_mem_fill(struct kunit *test, unsigned long addr, size_t len,
		   u64 seed)
{
	u64 *buf = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);
	size_t off, i;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	for (off = 0; off < len; off += PAGE_SIZE) {
		for (i = 0; i < PAGE_SIZE / 8; i++)
			buf[i] = user_mem_pattern(addr + off + i * 8, seed);
		KUNIT_ASSERT_EQ(test, copy_to_user((void __user *)(addr + off),
						   buf, PAGE_SIZE), 0);
	}
	kunit_kfree(test, buf);
}

/*
 * For ranges of gigabytes, where computing a word per word would take the
 * test minutes under emulation: every page gets the same seeded page of
 * patterns, with its own user address in its first and last word, so that
 * a page swapped, lost or zeroed still shows; the check compares every
 * byte.
 */
static void stamp_page(u64 *buf, unsigned long addr)
{
	buf[0] = addr;
	buf[PAGE_SIZE / 8 - 1] = ~addr;
}

static u64 *stamp_template(struct kunit *test, u64 seed)
{
	u64 *buf = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);
	size_t i;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	for (i = 0; i < PAGE_SIZE / 8; i++)
		buf[i] = user_mem_pattern(i * 8, seed);
	return buf;
}

void user_mem_stamp(struct kunit *test, unsigned long addr, size_t len,
		    u64 seed)
{
	u64 *buf = stamp_template(test, seed);
	size_t off;

	for (off = 0; off < len; off += PAGE_SIZE) {
		stamp_page(buf, addr + off);
		KUNIT_ASSERT_EQ(test, copy_to_user((void __user *)(addr + off),
						   buf, PAGE_SIZE), 0);
		cond_resched();
	}
	kunit_kfree(test, buf);
}

void user_mem_check_stamps(struct kunit *test, unsigned long addr,
			   size_t len, u64 seed)
{
	u64 *want = stamp_template(test, seed);
	u64 *buf = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);
	size_t off, bad = 0;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	for (off = 0; off < len; off += PAGE_SIZE) {
		void __user *from = (void __user *)(addr + off);

		KUNIT_ASSERT_EQ(test, copy_from_user(buf, from, PAGE_SIZE), 0);
		stamp_page(want, addr + off);
		bad += !!memcmp(buf, want, PAGE_SIZE);
		cond_resched();
	}
	KUNIT_EXPECT_EQ_MSG(test, bad, 0, "corrupt pages in 0x%lx+0x%zx",
			    addr, len);
	kunit_kfree(test, buf);
	kunit_kfree(test, want);
}

/*
 * Words of [@addr, @addr + @len) that do not hold the pattern of @seed,
 * or, if @zero, that are not zero (reading faults the pages in).
 */
static size_t bad_words(struct kunit *test, unsigned long addr, size_t len,
			u64 seed, bool zero)
{
	u64 *buf = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);
	size_t off, i, bad = 0;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	for (off = 0; off < len; off += PAGE_SIZE) {
		void __user *from = (void __user *)(addr + off);

		KUNIT_ASSERT_EQ(test, copy_from_user(buf, from, PAGE_SIZE), 0);
		for (i = 0; i < PAGE_SIZE / 8; i++)
			bad += buf[i] != (zero ? 0 :
					  user_mem_pattern(addr + off + i * 8,
							   seed));
	}
	kunit_kfree(test, buf);
	return bad;
}

/* Every byte of [addr, addr + len) still holds its pattern. */
void user_mem_check(struct kunit *test, unsigned long addr, size_t len,
		    u64 seed)
{
	KUNIT_EXPECT_EQ_MSG(test, bad_words(test, addr, len, seed, false), 0,
			    "corrupt words in 0x%lx+0x%zx", addr, len);
}

/* Every byte of [@addr, @addr + @len) reads zero (reading faults it in) */
void user_mem_check_zero(struct kunit *test, unsigned long addr, size_t len)
{
	KUNIT_EXPECT_EQ_MSG(test, bad_words(test, addr, len, 0, true), 0,
			    "non-zero words in 0x%lx+0x%zx", addr, len);
}

unsigned long user_mem_map_anon(struct kunit *test, size_t len,
				unsigned long flags)
{
	unsigned long addr = kunit_vm_mmap(test, NULL, 0, len, USER_MEM_RW,
					   MAP_PRIVATE | MAP_ANONYMOUS | flags,
					   0);

	KUNIT_ASSERT_NE(test, addr, 0);
	return addr;
}

static void fput_action(void *file)
{
	fput(file);
}

/* A shmem file of @len bytes, its pages from ZONE_DMA32 if @dma32. */
struct file *user_mem_shmem_file(struct kunit *test, size_t len, bool dma32)
{
	struct file *file = shmem_file_setup("contig-kunit", len, 0);

	KUNIT_ASSERT_FALSE(test, IS_ERR(file));
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, fput_action,
							file), 0);
	if (dma32)
		mapping_set_gfp_mask(file->f_mapping,
				     (GFP_HIGHUSER_MOVABLE & ~__GFP_HIGHMEM) |
				     __GFP_DMA32);
	return file;
}

unsigned long user_mem_map_file(struct kunit *test, struct file *file,
				size_t len, unsigned long flags)
{
	unsigned long addr = kunit_vm_mmap(test, file, 0, len, USER_MEM_RW,
					   MAP_SHARED | flags, 0);

	KUNIT_ASSERT_NE(test, addr, 0);
	return addr;
}

/* The folio mapped at @addr, with a reference, and the pfn behind @addr. */
struct folio *user_mem_folio_at(unsigned long addr, unsigned long *pfn)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	struct folio *folio = NULL;
	struct folio_walk fw;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	if (vma) {
		folio = folio_walk_start(&fw, vma, addr, 0);
		if (folio) {
			folio_get(folio);
			if (pfn)
				*pfn = page_to_pfn(fw.page);
			folio_walk_end(&fw, vma);
		}
	}
	mmap_read_unlock(mm);
	return folio;
}

/* A PMD-mapped THP, filled, in a 2 MiB-aligned part of a 4 MiB mapping */
unsigned long user_mem_map_thp(struct kunit *test)
{
	unsigned long addr = user_mem_map_anon(test, 2 * HPAGE_PMD_SIZE, 0);
	struct folio *folio;

	addr = ALIGN(addr, HPAGE_PMD_SIZE);
	user_mem_fill(test, addr, HPAGE_PMD_SIZE, 0);
	folio = user_mem_folio_at(addr, NULL);
	KUNIT_ASSERT_NOT_NULL(test, folio);
	KUNIT_ASSERT_EQ_MSG(test, folio_order(folio), HPAGE_PMD_ORDER,
			    "no THP at 0x%lx: is THP enabled=always?", addr);
	folio_put(folio);
	return addr;
}

static void mthp_off(void *order)
{
	clear_bit((unsigned long)order, &huge_anon_orders_always);
}

/*
 * An anonymous folio of @order below PMD order (an mTHP), filled, in a
 * mapping too small for a PMD-sized one. The order is enabled for the
 * length of the test, as .../hugepages-<size>kB/enabled = always would.
 */
unsigned long user_mem_map_mthp(struct kunit *test, unsigned int order)
{
	size_t size = PAGE_SIZE << order;
	unsigned long addr = user_mem_map_anon(test, 2 * size, 0);
	struct folio *folio;

	KUNIT_ASSERT_LT(test, order, HPAGE_PMD_ORDER);
	if (!test_and_set_bit(order, &huge_anon_orders_always)) {
		void *arg = (void *)(unsigned long)order;

		KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, mthp_off,
								arg), 0);
	}
	addr = ALIGN(addr, size);
	user_mem_fill(test, addr, size, 0);
	folio = user_mem_folio_at(addr, NULL);
	KUNIT_ASSERT_NOT_NULL(test, folio);
	KUNIT_ASSERT_EQ_MSG(test, folio_order(folio), order,
			    "no order-%u folio at 0x%lx", order, addr);
	folio_put(folio);
	return addr;
}

/* Base pages only: 2 MiB mappings would get THPs on first touch. */
void user_mem_no_thp(struct kunit *test, unsigned long addr, size_t len)
{
	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, addr, len,
					 MADV_NOHUGEPAGE), 0);
}

/*
 * Two 2 MiB ranges of base pages faulted in turn, page by page, so that
 * each is spread over frames the other one interleaves; patterned with
 * seeds 1 and 2.
 */
void user_mem_map_interleaved(struct kunit *test, unsigned long *a,
			      unsigned long *b)
{
	unsigned long i;

	*a = user_mem_map_anon(test, SZ_2M, 0);
	*b = user_mem_map_anon(test, SZ_2M, 0);
	user_mem_no_thp(test, *a, SZ_2M);
	user_mem_no_thp(test, *b, SZ_2M);
	for (i = 0; i < SZ_2M; i += PAGE_SIZE) {
		user_mem_fill(test, *a + i, PAGE_SIZE, 1);
		user_mem_fill(test, *b + i, PAGE_SIZE, 2);
	}
}
