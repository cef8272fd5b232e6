// SPDX-License-Identifier: GPL-2.0
/*
 * Layout inspector: how is a user range laid out physically, as a device
 * will see it?
 *
 * The device addresses the range [start, start + len) at DMA key addresses
 * [key, key + len). What it pays for is decided by two things:
 *
 *  - runs: maximal stretches of pages that are contiguous both in the range
 *    and physically. ib_umem builds one scatterlist entry per run and VFIO
 *    issues one iommu_map() per run, so runs count entries and map calls.
 *  - congruent chunks: a 2 MiB (1 GiB) aligned chunk of key space that lies
 *    inside one run whose physical address is congruent with the key modulo
 *    2 MiB (1 GiB). Only those can be mapped by one large IOMMU leaf or MTT
 *    entry; a contiguous but incongruent run still needs 4 KiB entries.
 *
 * The walk takes mmap_lock for read and the page-table locks, never takes a
 * reference on a folio and never splits a huge PMD: it only reads. It is a
 * snapshot; the layout can change as soon as the locks are dropped, which is
 * why a driver asks again after pinning if it wants the pinned layout.
 *
 * The accounting is kept apart from the walk (contig_layout_acc_*) so that
 * KUnit can drive it with synthetic layouts that no real machine would give
 * on demand (e.g. a physically contiguous, congruent gigabyte).
 */
#include <linux/contig_dma.h>
#include <linux/hugetlb.h>
#include <linux/mm.h>
#include <linux/pagewalk.h>
#include <linux/sched/signal.h>
#include <linux/sizes.h>
#include <kunit/visibility.h>

#include "layout.h"

#define CONTIG_SZ_2M	((u64)SZ_2M)
#define CONTIG_SZ_1G	((u64)SZ_1G)

/* Number of @size-aligned chunks of key space inside [key, key + bytes). */
static unsigned long aligned_chunks(u64 key, u64 bytes, u64 size)
{
	u64 first = round_up(key, size);
	u64 last = round_down(key + bytes, size);

	return last > first ? (last - first) / size : 0;
}

static void close_run(struct contig_layout_acc *acc)
{
	struct contig_layout *out = acc->out;
	u64 key, pa, bytes;

	if (!acc->run_pages)
		return;

	out->runs++;
	out->longest_run = max(out->longest_run, acc->run_pages);

	key = acc->key + (acc->run_va - acc->start);
	pa = PFN_PHYS(acc->run_pfn);
	bytes = (u64)acc->run_pages << PAGE_SHIFT;
	/*
	 * Congruent runs put every aligned chunk of key space on an equally
	 * aligned physical chunk; incongruent runs have none.
	 */
	if (!((pa - key) & (CONTIG_SZ_2M - 1)))
		out->chunks_2m += aligned_chunks(key, bytes, CONTIG_SZ_2M);
	if (!((pa - key) & (CONTIG_SZ_1G - 1)))
		out->chunks_1g += aligned_chunks(key, bytes, CONTIG_SZ_1G);

	acc->run_pages = 0;
}

/**
 * contig_layout_acc_init() - start accounting the layout of a range
 * @acc: accumulator
 * @out: layout to fill in; zeroed here
 * @start: first VA of the range
 * @len: length of the range in bytes, a multiple of PAGE_SIZE
 * @key: DMA key address of @start
 */
void contig_layout_acc_init(struct contig_layout_acc *acc,
			    struct contig_layout *out, unsigned long start,
			    unsigned long len, u64 key)
{
	memset(out, 0, sizeof(*out));
	out->pages = len >> PAGE_SHIFT;
	acc->out = out;
	acc->start = start;
	acc->key = key;
	acc->run_pages = 0;
}
EXPORT_SYMBOL_IF_KUNIT(contig_layout_acc_init);

/**
 * contig_layout_acc_add() - account @nr present pages mapped contiguously
 * @acc: accumulator
 * @va: first VA, after every VA added before
 * @pfn: PFN mapped at @va
 * @nr: pages; @va + i maps @pfn + i
 */
void contig_layout_acc_add(struct contig_layout_acc *acc, unsigned long va,
			   unsigned long pfn, unsigned long nr)
{
	if (!nr)
		return;

	acc->out->present += nr;
	if (acc->run_pages &&
	    va == acc->run_va + (acc->run_pages << PAGE_SHIFT) &&
	    pfn == acc->run_pfn + acc->run_pages) {
		acc->run_pages += nr;
		return;
	}
	close_run(acc);
	acc->run_va = va;
	acc->run_pfn = pfn;
	acc->run_pages = nr;
}
EXPORT_SYMBOL_IF_KUNIT(contig_layout_acc_add);

/**
 * contig_layout_acc_finish() - close the last run
 * @acc: accumulator
 */
void contig_layout_acc_finish(struct contig_layout_acc *acc)
{
	close_run(acc);
}
EXPORT_SYMBOL_IF_KUNIT(contig_layout_acc_finish);

/**
 * contig_layout_check_range() - validate a range and its DMA key
 * @start: first VA, page aligned
 * @len: bytes, page aligned and not zero
 * @key: DMA key address of @start, page aligned
 *
 * Return: 0, -EINVAL for a zero or unaligned argument, -EOVERFLOW when the
 * range or its key space wraps around.
 */
int contig_layout_check_range(unsigned long start, unsigned long len, u64 key)
{
	if (!len || !PAGE_ALIGNED(start) || !PAGE_ALIGNED(len) ||
	    !PAGE_ALIGNED(key))
		return -EINVAL;
	if (start + len < start || key + len < key)
		return -EOVERFLOW;
	if (start + len > TASK_SIZE_MAX)
		return -EINVAL;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(contig_layout_check_range);

/*
 * An anonymous page a long-term pin would copy before pinning it: not
 * exclusive to this mm (gup_must_unshare()). Read under the page-table lock
 * that maps it.
 */
static bool cow_shared(struct page *page)
{
	return page && vma_defrag_pin_copies(page);
}

static int layout_pmd_entry(pmd_t *pmd, unsigned long addr,
			    unsigned long end, struct mm_walk *walk)
{
	struct contig_layout_acc *acc = walk->private;
	spinlock_t *ptl;	/* page-table lock of @pmd or its PTE page */
	pte_t *start_pte, *ptep;

	/* Read a huge PMD in place: the default walk would split it. */
	ptl = pmd_trans_huge_lock(pmd, walk->vma);
	if (ptl) {
		pmd_t val = pmdp_get(pmd);

		if (pmd_present(val)) {
			contig_layout_acc_add(acc, addr,
					      pmd_pfn(val) +
					      ((addr & ~PMD_MASK) >> PAGE_SHIFT),
					      (end - addr) >> PAGE_SHIFT);
			if (is_huge_zero_pmd(val))
				acc->out->zero += (end - addr) >> PAGE_SHIFT;
			else if (cow_shared(pmd_page(val)))
				acc->out->cow_shared +=
					(end - addr) >> PAGE_SHIFT;
		}
		spin_unlock(ptl);
		walk->action = ACTION_CONTINUE;
		return 0;
	}

	start_pte = pte_offset_map_lock(walk->mm, pmd, addr, &ptl);
	if (!start_pte) {
		/* The page table went away under us (THP collapse): retry. */
		walk->action = ACTION_AGAIN;
		return 0;
	}
	for (ptep = start_pte; addr != end; ptep++, addr += PAGE_SIZE) {
		pte_t pte = ptep_get(ptep);

		if (!pte_present(pte))
			continue;
		contig_layout_acc_add(acc, addr, pte_pfn(pte), 1);
		if (is_zero_pfn(pte_pfn(pte)))
			acc->out->zero++;
		else if (cow_shared(vm_normal_page(walk->vma, addr, pte)))
			acc->out->cow_shared++;
	}
	pte_unmap_unlock(start_pte, ptl);
	walk->action = ACTION_CONTINUE;
	cond_resched();
	return 0;
}

#ifdef CONFIG_HUGETLB_PAGE
static int layout_hugetlb_entry(pte_t *ptep, unsigned long hmask,
				unsigned long addr, unsigned long end,
				struct mm_walk *walk)
{
	struct contig_layout_acc *acc = walk->private;
	pte_t pte = huge_ptep_get(walk->mm, addr, ptep);

	if (pte_present(pte))
		contig_layout_acc_add(acc, addr,
				      pte_pfn(pte) +
				      ((addr & ~hmask) >> PAGE_SHIFT),
				      (end - addr) >> PAGE_SHIFT);
	return 0;
}
#else
#define layout_hugetlb_entry NULL
#endif

static const struct mm_walk_ops layout_walk_ops = {
	.pmd_entry	= layout_pmd_entry,
	.hugetlb_entry	= layout_hugetlb_entry,
	.walk_lock	= PGWALK_RDLOCK,
};

/**
 * contig_layout_query() - report the physical layout of a user range
 * @mm: address space of the range; the caller holds a reference
 * @start: first VA of the range, page aligned
 * @len: length in bytes, page aligned and not zero
 * @key: DMA key address at which the device sees @start (the VA for RDMA
 *	without an IOMMU, the IOVA for VFIO), page aligned
 * @layout: filled in with the layout on success
 *
 * Walks the page tables of [@start, @start + @len) under mmap_lock for read
 * without faulting anything in or taking page references. Holes, swapped
 * out pages and VM_PFNMAP/VM_IO mappings count as not present; the shared
 * zero page as present (and in @layout->zero).
 *
 * Context: process context; may sleep. Takes mmap_lock for read.
 * Return: 0 on success; -EINVAL or -EOVERFLOW for a bad range (see
 * contig_layout_check_range()); -EINTR if a fatal signal arrived while
 * waiting for mmap_lock.
 */
int contig_layout_query(struct mm_struct *mm, unsigned long start,
			unsigned long len, u64 key,
			struct contig_layout *layout)
{
	struct contig_layout_acc acc;
	int ret;

	ret = contig_layout_check_range(start, len, key);
	if (ret)
		return ret;

	contig_layout_acc_init(&acc, layout, start, len, key);
	if (mmap_read_lock_killable(mm))
		return -EINTR;
	ret = walk_page_range(mm, start, start + len, &layout_walk_ops, &acc);
	mmap_read_unlock(mm);
	contig_layout_acc_finish(&acc);
	return ret;
}
EXPORT_SYMBOL_GPL(contig_layout_query);
