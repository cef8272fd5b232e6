// SPDX-License-Identifier: GPL-2.0
/*
 * contig_dma_prepare(): what a driver calls before it pins a user range
 * for a device, and what the /dev/contig_dma PREPARE ioctl calls.
 *
 * It is the layer between the policy and the engine. In order, each step
 * cheaper than the next:
 *
 *   1. the request itself (alignment, wrap-around, flags);
 *   2. the policy (policy.c): enabled, the subsystem's switch, min_size;
 *      explicit requests from user space pass this step, but for
 *      enabled=never when the caller lacks CAP_SYS_NICE;
 *   2a. who may be touched: a caller without CAP_SYS_NICE moves its own
 *      pages into free frames only (CONTIG_DMA_FREE_ONLY), as move_pages(2)
 *      without MPOL_MF_MOVE_ALL would: no exchange with another process's
 *      page, no split of another process's THP, no move of a page another
 *      process maps too. The driver hooks may be allowed more by the
 *      administrator (unprivileged_exchange);
 *   3. the VMAs: one VMA, no hole, anonymous or shmem memory, and, with
 *      enabled=madvise, marked MADV_HUGEPAGE; then the device's page
 *      sizes, once the policy has let the request through: a device that
 *      cannot map PAGE_SIZE is a skip, not an error (contig has nothing to
 *      offer it);
 *   4. the layout as it is (a page-table walk). With CONTIG_DMA_POPULATE,
 *      when the caller's pin would change the range's pages (fill holes,
 *      replace the zero page, copy pages shared copy-on-write): in private
 *      anonymous memory, the engine does it at the pages' target frames
 *      (VMA_DEFRAG_POPULATE) in step 5, with no copy where the target is
 *      free and the pin's own copy where a page is shared; otherwise
 *      (shmem holes) what the pin will do is done first
 *      (populate_like_pin()) and the layout read again. Then nothing
 *      populated, or already one run congruent with the key, ends the
 *      request;
 *   5. mm/vma_defrag.c, bounded by the request's and the policy's bounds;
 *      holes it left are then populated as the pin would, and the layout
 *      read again.
 *
 * Every call is counted (stats.c) and traced, whatever its outcome. A
 * failure is only reported, never fatal: the caller pins and maps the
 * range the way it would have without contig.
 *
 * What the device got is what the pin left, not what this file left: a
 * fork() or an munmap() between the two changes it. A driver that pins
 * right after (CONTIG_DMA_PIN_REPORT) calls contig_dma_pinned() then, which
 * reads the layout once more and counts that one (bytes_contiguous, the
 * chunk histogram, the contig_dma_pinned event).
 */
#include <kunit/visibility.h>
#include <linux/contig_dma.h>
#include <linux/hugetlb.h>
#include <linux/lockdep.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sizes.h>
#include <linux/vma_defrag.h>

#include "internal.h"
#include "layout.h"

#define CREATE_TRACE_POINTS
#include <trace/events/contig_dma.h>

#define CONTIG_DMA_FLAGS	(CONTIG_DMA_EXCHANGE_ONLY | CONTIG_DMA_FREE_ONLY | \
				 CONTIG_DMA_POPULATE | CONTIG_DMA_PIN_WRITE | \
				 CONTIG_DMA_PIN_REPORT)

/*
 * May the request move other processes' pages (exchange with them, split
 * their THPs, move pages they map too)? With CAP_SYS_NICE, which
 * migrate_pages(2) and move_pages(2) ask for the same; for a driver's
 * request, also when the administrator set unprivileged_exchange. Not
 * audited: a caller without it still gets a request, a narrower one.
 */
static bool may_touch_others(const struct contig_dma_request *req)
{
	if (ns_capable_noaudit(&init_user_ns, CAP_SYS_NICE))
		return true;
	return req->user != CONTIG_DMA_USER_EXPLICIT &&
	       contig_dma_policy_unprivileged_exchange();
}

/* Mappings whose pages contig never moves, and never reports on */
static bool vma_is_special(struct vm_area_struct *vma)
{
	return (vma->vm_flags & (VM_IO | VM_PFNMAP | VM_MIXEDMAP)) ||
	       is_vm_hugetlb_page(vma) || vma_is_dax(vma);
}

/**
 * contig_dma_check_vmas() - may [@start, @start + @len) be queried or moved
 * @mm: the address space, mmap_lock held
 * @start: first VA, page aligned
 * @len: bytes, page aligned, not wrapping
 * @moving: for PREPARE, which also needs anonymous or shmem memory
 * @madvised: set when the VMA is marked MADV_HUGEPAGE
 *
 * Return: 0; -ENOMEM when part of the range is not mapped; -EINVAL when it
 * spans several VMAs; -EOPNOTSUPP for device (VM_IO, VM_PFNMAP,
 * VM_MIXEDMAP), hugetlb or DAX memory and, when @moving, for any mapping
 * the engine does not move (vma_defrag_vma_supported(): neither anonymous
 * nor shmem mapped shared; a private mapping of a tmpfs file is a file
 * mapping).
 */
int contig_dma_check_vmas(struct mm_struct *mm, unsigned long start,
			  unsigned long len, bool moving, bool *madvised)
{
	unsigned long end = start + len, mapped_to = start;
	struct vma_iterator vmi;
	struct vm_area_struct *vma;
	unsigned int nr = 0;
	int ret = 0;

	mmap_assert_locked(mm);
	vma_iter_init(&vmi, mm, start);
	*madvised = false;
	for_each_vma_range(vmi, vma, end) {
		if (vma->vm_start > mapped_to)
			return -ENOMEM;
		mapped_to = vma->vm_end;
		if (nr++)
			continue;
		*madvised = vma->vm_flags & VM_HUGEPAGE;
		if (vma_is_special(vma) ||
		    (moving && !vma_defrag_vma_supported(vma)))
			ret = -EOPNOTSUPP;
	}
	if (mapped_to < end)
		return -ENOMEM;
	return nr > 1 ? -EINVAL : ret;
}
EXPORT_SYMBOL_IF_KUNIT(contig_dma_check_vmas);

/* @size-aligned chunks of key space inside [@key, @key + @len) */
static unsigned long chunks_in(u64 key, unsigned long len, u64 size)
{
	u64 first = round_up(key, size), end = round_down(key + len, size);

	return end > first ? div64_u64(end - first, size) : 0;
}

/**
 * contig_dma_in_place() - is a range already as contiguous as it can be
 * @layout: its layout
 * @key: its DMA key
 * @len: its length
 * @pgsizes: the page sizes the device can use
 *
 * A run break costs the device a scatterlist entry or an iommu_map() call,
 * not a large page. So a range whose key and length are 2 MiB aligned, and
 * whose every 2 MiB (and 1 GiB) chunk is congruent, is mapped with the
 * largest pages the device asked for however many runs it is in: the
 * engine cannot improve it in those terms, and running it again (one
 * anchor search over the machine's frames) on every re-registration of a
 * buffer it could not bring into one run would cost seconds for nothing.
 * Otherwise the pages outside whole chunks need one run to be contiguous.
 *
 * Return: true when every page is present, every chunk of a usable large
 * page size that fits in the key space is congruent, and either the range
 * is one run or every page lies in such a 2 MiB chunk.
 */
bool contig_dma_in_place(const struct contig_layout *layout, u64 key,
			 unsigned long len, unsigned long pgsizes)
{
	if (layout->present != layout->pages)
		return false;
	if ((pgsizes & SZ_2M) && layout->chunks_2m != chunks_in(key, len, SZ_2M))
		return false;
	if ((pgsizes & SZ_1G) && layout->chunks_1g != chunks_in(key, len, SZ_1G))
		return false;
	return layout->runs == 1 ||
	       ((pgsizes & SZ_2M) && IS_ALIGNED(key | len, SZ_2M));
}
EXPORT_SYMBOL_IF_KUNIT(contig_dma_in_place);

/* @a - @b, or 0 if @b is larger (something else changed the range too) */
static unsigned long fewer(unsigned long a, unsigned long b)
{
	return a > b ? a - b : 0;
}

/* Pages pinned and unpinned at a time by populate_like_pin() */
#define POPULATE_BATCH	(PAGE_SIZE / sizeof(struct page *))

/*
 * Would the caller's long-term pin change the pages of a range with this
 * layout: fault in a hole, copy a page shared copy-on-write, or replace
 * the shared zero page? A read-only long-term pin of a private mapping
 * does all three as well (gup_must_unshare()).
 */
static bool pin_changes(const struct contig_layout *layout)
{
	return layout->present < layout->pages || layout->cow_shared ||
	       layout->zero;
}

/*
 * Do to [@start, @start + @len) what the caller's long-term pin is about
 * to do, without keeping the pins: pin_user_pages_remote() with
 * FOLL_LONGTERM (and FOLL_WRITE for a writable pin) faults in the holes,
 * copies the pages shared copy-on-write (gup_must_unshare()) and moves
 * pages out of ZONE_MOVABLE and CMA, exactly as the pin will; then the
 * pages are unpinned at once. The engine then places the pages the device
 * will get, and the pin that follows finds them in place and changes
 * nothing. A read-only long-term pin of a private mapping does not pin
 * the shared zero page either: its holes get pages of their own too.
 *
 * Returns 0, -EINTR on a fatal signal, -ETIME when @req's stop callback
 * said stop (asked between batches), or the error of the pin (-EFAULT for
 * a range the pin would refuse too, -ENOMEM): the caller then leaves the
 * rest of the range to its pin.
 */
static int populate_like_pin(struct mm_struct *mm,
			     const struct contig_dma_request *req, bool write)
{
	unsigned long start = req->start, len = req->len;
	unsigned int gup_flags = FOLL_LONGTERM | (write ? FOLL_WRITE : 0);
	unsigned long addr = start, end = start + len, nr;
	struct page **pages;
	long pinned;
	int ret = 0;

	pages = kmalloc_array(POPULATE_BATCH, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	while (addr < end) {
		nr = min_t(unsigned long, POPULATE_BATCH,
			   (end - addr) >> PAGE_SHIFT);
		if (mmap_read_lock_killable(mm)) {
			ret = -EINTR;
			break;
		}
		pinned = pin_user_pages_remote(mm, addr, nr, gup_flags, pages,
					       NULL);
		mmap_read_unlock(mm);
		if (pinned <= 0) {
			ret = pinned ? pinned : -EFAULT;
			break;
		}
		unpin_user_pages(pages, pinned);
		addr += pinned << PAGE_SHIFT;
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		if (req->stop && req->stop(req->stop_arg)) {
			ret = -ETIME;
			break;
		}
		cond_resched();
	}
	kfree(pages);
	return ret;
}

static int prepare(struct mm_struct *mm, const struct contig_dma_request *req,
		   struct contig_dma_result *res)
{
	struct vma_defrag_request dreq = {
		.start = req->start,
		.len = req->len,
		.key = req->key,
		.pgsize_bitmap = req->pgsize_bitmap ?:
				 CONTIG_DMA_PGSIZES_DEFAULT | PAGE_SIZE,
		.max_pages = req->max_pages,
		.max_ns = req->max_ns,
		.claims = req->claims,
		.stop = req->stop,
		.stop_arg = req->stop_arg,
	};
	bool madvised, fillable, fill = false, walked = false;
	struct vm_area_struct *vma;
	bool privileged = may_touch_others(req);
	bool pin_write = req->flags & CONTIG_DMA_PIN_WRITE;
	struct contig_layout populated;
	unsigned long max_pages;
	u64 max_ns;
	int ret;

	ret = contig_layout_check_range(req->start, req->len, req->key);
	if (ret)
		return ret;
	if ((req->flags & ~CONTIG_DMA_FLAGS) ||
	    req->user >= NR_CONTIG_DMA_USERS ||
	    ((req->flags & CONTIG_DMA_EXCHANGE_ONLY) &&
	     (req->flags & CONTIG_DMA_FREE_ONLY)))
		return -EINVAL;
	if ((req->flags & CONTIG_DMA_EXCHANGE_ONLY) && !privileged)
		return -EPERM;

	/* Disabled, or too small: decided before taking any lock */
	res->outcome = contig_dma_policy_verdict(req->user, req->len, true,
						 privileged);
	if (res->outcome != CONTIG_DMA_PREPARED)
		return 0;
	if (mmap_read_lock_killable(mm))
		return -EINTR;
	ret = contig_dma_check_vmas(mm, req->start, req->len, true, &madvised);
	/* One VMA (contig_dma_check_vmas() passed): the engine may fill it? */
	vma = ret ? NULL : vma_lookup(mm, req->start);
	fillable = vma && vma_defrag_vma_fillable(vma, pin_write);
	mmap_read_unlock(mm);
	if (ret)
		return ret;
	res->outcome = contig_dma_policy_verdict(req->user, req->len,
						 madvised, privileged);
	if (res->outcome != CONTIG_DMA_PREPARED)
		return 0;
	if (!(dreq.pgsize_bitmap & PAGE_SIZE)) {
		res->outcome = CONTIG_DMA_SKIP_PGSIZE;
		return 0;
	}

	ret = contig_layout_query(mm, req->start, req->len, req->key,
				  &res->before);
	if (ret)
		return ret;
	res->after = res->before;
	populated = res->before;
	/*
	 * In memory the engine can fill, it does what the pin would (holes,
	 * the zero page, copies of shared pages) at the pages' targets, and
	 * the pin does what is left (below).
	 */
	if ((req->flags & CONTIG_DMA_POPULATE) && fillable &&
	    pin_changes(&res->before)) {
		fill = true;
		dreq.flags |= VMA_DEFRAG_POPULATE |
			      (pin_write ? VMA_DEFRAG_POPULATE_WRITE : 0);
	} else if ((req->flags & CONTIG_DMA_POPULATE) &&
		   pin_changes(&res->before)) {
		/* The pages the pin will give the device, before placing them */
		ret = populate_like_pin(mm, req, pin_write);
		if (ret == -EINTR)
			return ret;
		ret = contig_layout_query(mm, req->start, req->len, req->key,
					  &populated);
		if (ret)
			return ret;
		res->after = populated;
		/*
		 * Pages faulted in (the shared zero page aside), and copies
		 * made of shared pages
		 */
		res->populated = fewer(populated.present - populated.zero,
				       res->before.present - res->before.zero) +
				 fewer(res->before.cow_shared,
				       populated.cow_shared);
	}
	/* Nothing but the shared zero page, which never moves, is empty */
	if (!fill && populated.present == populated.zero) {
		res->outcome = CONTIG_DMA_SKIP_EMPTY;
		return 0;
	}
	if (!fill && contig_dma_in_place(&populated, req->key, req->len,
					 dreq.pgsize_bitmap)) {
		res->outcome = CONTIG_DMA_IN_PLACE;
		return 0;
	}

	/* The administrator's bounds hold for every request. */
	contig_dma_policy_bounds(&max_pages, &max_ns);
	dreq.max_pages = min_not_zero(dreq.max_pages, max_pages);
	dreq.max_ns = min_not_zero(dreq.max_ns, max_ns);
	if (req->flags & CONTIG_DMA_EXCHANGE_ONLY)
		dreq.flags |= VMA_DEFRAG_EXCHANGE_ONLY;
	if ((req->flags & CONTIG_DMA_FREE_ONLY) || !privileged)
		dreq.flags |= VMA_DEFRAG_FREE_ONLY;
	ret = vma_defrag_range(mm, &dreq, &res->moves);
	if (ret && ret != -EINTR)
		return ret;
	if (fill && !ret) {
		/*
		 * Holes the engine did not fill (a chunk with no window, a
		 * budget that ran out): what the pin will do to them is done
		 * now, so that the layout below is what the device gets. With
		 * none left, the walk that found none is that layout.
		 */
		ret = contig_layout_query(mm, req->start, req->len, req->key,
					  &res->after);
		walked = !ret && !pin_changes(&res->after);
		if (!ret && !walked)
			ret = populate_like_pin(mm, req, pin_write);
		if (ret != -EINTR)
			ret = 0;
	}
	/* Also after a fatal signal: the caller learns what was moved */
	if (!walked)
		contig_layout_query(mm, req->start, req->len, req->key,
				    &res->after);
	if (fill)
		res->populated = fewer(res->after.present - res->after.zero,
				       res->before.present - res->before.zero) +
				 fewer(res->before.cow_shared,
				       res->after.cow_shared);
	return ret;
}

/**
 * contig_dma_prepare() - make a user range contiguous before it is pinned
 * @mm: the address space; the caller holds a reference (mmget(), or it is
 *	current->mm)
 * @req: the range, the key the device sees it at, the device's page
 *	sizes, who asks, and optional bounds
 * @res: filled in with the outcome, what moved and the layout before and
 *	after, also on failure
 *
 * Rearranges the populated pages of the range so that they are physically
 * contiguous and congruent with @req->key modulo the largest usable page
 * size (see Documentation/mm/vma_defrag.rst), if the policy in
 * /sys/kernel/mm/contig_dma/ lets @req->user do it for a range of this size
 * and VMA. Cheap when it does not: a range too small, turned away by the
 * policy, not populated, or already in place costs at most one page-table
 * walk. Pages not populated are left alone, unless @req->flags has
 * CONTIG_DMA_POPULATE: then the holes are faulted in and the pages shared
 * copy-on-write copied first, as the caller's long-term pin
 * (FOLL_LONGTERM, and FOLL_WRITE with CONTIG_DMA_PIN_WRITE) would do, so
 * that what is placed is what the device gets (@res->populated counts
 * them); a re-registration of a placed range still costs one walk. Call
 * it right before pinning. Best effort: what it cannot move stays where
 * it is, and the caller must go on with its registration whatever this
 * returns.
 *
 * Context: process context; may sleep. Must be called without mmap_lock,
 * where pin_user_pages_fast() may be called.
 * A caller without CAP_SYS_NICE gets a narrower request (see 2a above):
 * its pages go to free frames only, and those another process maps too
 * stay. With enabled=never, an explicit request from such a caller is
 * skipped like a driver's. A device whose @req->pgsize_bitmap lacks
 * PAGE_SIZE gets CONTIG_DMA_SKIP_PGSIZE, once the policy let the request
 * through.
 *
 * Return: 0 (see @res->outcome); -EINVAL, -EOVERFLOW, -ENOMEM or
 * -EOPNOTSUPP for a range it cannot work on (the errors of
 * contig_dma_check_vmas() and contig_layout_check_range(); -EINVAL also for
 * unknown or contradictory flags); -EPERM for CONTIG_DMA_EXCHANGE_ONLY
 * without CAP_SYS_NICE; -EINTR when a fatal signal stopped it. Only -EINTR
 * and an -ENOMEM of the engine (a later slice of a large range) can come
 * after pages moved; @res then says what moved.
 */
int contig_dma_prepare(struct mm_struct *mm,
		       const struct contig_dma_request *req,
		       struct contig_dma_result *res)
{
	u64 t0 = ktime_get_ns();
	int ret;

	might_sleep();
	lockdep_assert_not_held(&mm->mmap_lock);
	memset(res, 0, sizeof(*res));
	ret = prepare(mm, req, res);
	if (ret)
		res->outcome = CONTIG_DMA_ERROR;
	res->ns = ktime_get_ns() - t0;
	contig_dma_account(req, res);
	if (res->outcome == CONTIG_DMA_SKIP_POLICY ||
	    res->outcome == CONTIG_DMA_SKIP_SMALL ||
	    res->outcome == CONTIG_DMA_SKIP_PGSIZE)
		trace_contig_dma_skip(req, res->outcome);
	else
		trace_contig_dma_prepare(req, res, ret);
	return ret;
}
EXPORT_SYMBOL_GPL(contig_dma_prepare);

/**
 * contig_dma_pinned() - the caller's pin of a prepared range is done
 * @mm: the address space given to contig_dma_prepare()
 * @req: the request given to it, with CONTIG_DMA_PIN_REPORT
 * @res: its result; @res->pinned is set here
 * @err: 0 when the range is pinned, else the pin's error
 *
 * Lets other requests have the frames (@req->claims, as
 * contig_dma_unclaim()); then, for a range that was prepared or found in
 * place and is now pinned, reads its layout once more (one page-table
 * walk), which is what the device maps, into @res->pinned, and counts that
 * one in the statistics and the contig_dma_pinned event. A range the pin
 * changed since contig_dma_prepare() (another thread forked or remapped
 * it) is counted in requests_changed_by_pin.
 *
 * Context: process context, without mmap_lock, once the pages are pinned
 * (or will not be).
 */
void contig_dma_pinned(struct mm_struct *mm,
		       const struct contig_dma_request *req,
		       struct contig_dma_result *res, int err)
{
	might_sleep();
	if (req->claims)
		contig_dma_unclaim(req->claims);
	if (err || !(req->flags & CONTIG_DMA_PIN_REPORT) ||
	    (res->outcome != CONTIG_DMA_PREPARED &&
	     res->outcome != CONTIG_DMA_IN_PLACE))
		return;
	if (contig_layout_query(mm, req->start, req->len, req->key,
				&res->pinned))
		return;
	contig_dma_account_pinned(res);
	trace_contig_dma_pinned(req, res);
}
EXPORT_SYMBOL_GPL(contig_dma_pinned);

/**
 * contig_dma_unclaim() - let other requests have the frames of a range
 * @claims: what contig_dma_prepare() handed over through
 *	contig_dma_request.claims; empty afterwards
 *
 * Call it once the range is pinned, or the registration gave up: pinned
 * frames keep other requests off by themselves.
 *
 * Context: process context.
 */
void contig_dma_unclaim(struct vma_defrag_claims *claims)
{
	vma_defrag_unclaim(claims);
}
EXPORT_SYMBOL_GPL(contig_dma_unclaim);
