// SPDX-License-Identifier: GPL-2.0
/*
 * Statistics of contig_dma_prepare() since boot, one number per file in
 * /sys/kernel/mm/contig_dma/stats/, and a summary in /proc/vmstat
 * (contig_dma_*).
 *
 * Requests are heavy (a page-table walk at least), so one atomic add per
 * counter and request costs nothing next to them, and keeps each file an
 * exact count.
 *
 * The achieved layout is kept as a histogram by page size: for each
 * request that left a layout (moved, or found in place), its congruent
 * 1 GiB chunks, its congruent 2 MiB chunks outside those, and its present
 * pages in neither. That is what the device's page tables hold, by entry
 * size, when it maps the range with every size it supports.
 */
#include <kunit/visibility.h>
#include <linux/atomic.h>
#include <linux/kobject.h>
#include <linux/mm.h>
#include <linux/sizes.h>
#include <linux/sysfs.h>
#include <linux/vmstat.h>

#include "internal.h"

#define PAGES_PER_2M	(SZ_2M >> PAGE_SHIFT)

static struct contig_dma_counters {
	atomic64_t requests;
	atomic64_t requests_skipped;
	atomic64_t requests_failed;
	atomic64_t requests_partial;
	atomic64_t requests_changed_by_pin;
	atomic64_t bytes_requested;
	atomic64_t bytes_contiguous;
	atomic64_t pages_in_place;
	atomic64_t pages_migrated;
	atomic64_t pages_exchanged;
	atomic64_t pages_populated;
	atomic64_t pages_populated_in_place;
	atomic64_t pages_evicted;
	atomic64_t pages_failed[NR_VMA_DEFRAG_FAIL];
	atomic64_t thp_moved;
	atomic64_t thp_split;
	atomic64_t thp_populated;
	atomic64_t time_ns;
	atomic64_t chunks_1g;
	atomic64_t chunks_2m;
	atomic64_t pages_4k;
} counters;

static void add(atomic64_t *counter, u64 v)
{
	if (v)
		atomic64_add(v, counter);
}

static void account_layout(const struct contig_layout *l)
{
	u64 in_2m = (u64)l->chunks_2m * PAGES_PER_2M;
	u64 c2m = l->chunks_2m - (u64)l->chunks_1g * (SZ_1G / SZ_2M);

	add(&counters.chunks_1g, l->chunks_1g);
	add(&counters.chunks_2m, c2m);
	add(&counters.pages_4k, l->present > in_2m ? l->present - in_2m : 0);
	add(&counters.bytes_contiguous,
	    (u64)l->chunks_1g * SZ_1G + c2m * SZ_2M);
	count_vm_events(CONTIG_DMA_CHUNK_1G, l->chunks_1g);
	count_vm_events(CONTIG_DMA_CHUNK_2M, c2m);
}

/**
 * contig_dma_account() - count one contig_dma_prepare() call
 * @req: the request
 * @res: its result
 */
void contig_dma_account(const struct contig_dma_request *req,
			const struct contig_dma_result *res)
{
	const struct vma_defrag_stats *m = &res->moves;
	unsigned long failed = vma_defrag_failed(m);
	/* Counted once the caller has pinned: contig_dma_account_pinned() */
	bool layout_later = req->flags & CONTIG_DMA_PIN_REPORT;
	int i;

	atomic64_inc(&counters.requests);
	add(&counters.bytes_requested, req->len);
	add(&counters.time_ns, res->ns);
	add(&counters.pages_populated, res->populated);
	add(&counters.pages_populated_in_place, res->moves.populated_in_place);
	add(&counters.pages_evicted, res->moves.evicted);
	count_vm_event(CONTIG_DMA_REQUEST);

	switch (res->outcome) {
	case CONTIG_DMA_ERROR:
		atomic64_inc(&counters.requests_failed);
		break;
	case CONTIG_DMA_PREPARED:
		break;
	case CONTIG_DMA_IN_PLACE:
		if (!layout_later)
			account_layout(&res->after);
		fallthrough;
	default:
		atomic64_inc(&counters.requests_skipped);
		count_vm_event(CONTIG_DMA_SKIPPED);
		return;
	}

	/* Prepared, or failed part way: count what moved */
	if (m->partial)
		atomic64_inc(&counters.requests_partial);
	add(&counters.pages_in_place, m->in_place);
	add(&counters.pages_migrated, m->migrated);
	add(&counters.pages_exchanged, m->exchanged);
	for (i = 0; i < NR_VMA_DEFRAG_FAIL; i++)
		add(&counters.pages_failed[i], m->failed[i]);
	add(&counters.thp_moved, m->thp_moved);
	add(&counters.thp_split, m->thp_split);
	add(&counters.thp_populated, m->populated_thp);
	count_vm_events(CONTIG_DMA_MIGRATED, m->migrated);
	count_vm_events(CONTIG_DMA_EXCHANGED, m->exchanged);
	count_vm_events(CONTIG_DMA_FAILED, failed);
	if (res->outcome == CONTIG_DMA_PREPARED && !layout_later)
		account_layout(&res->after);
}

/* A layout differs where the device sees it: pages, runs or chunks */
static bool layout_differs(const struct contig_layout *a,
			   const struct contig_layout *b)
{
	return a->present != b->present || a->runs != b->runs ||
	       a->chunks_2m != b->chunks_2m || a->chunks_1g != b->chunks_1g;
}

/**
 * contig_dma_account_pinned() - count the layout a caller's pin left
 * @res: a result whose @pinned was just read by contig_dma_pinned()
 *
 * The layout of a request made with CONTIG_DMA_PIN_REPORT is counted
 * here instead of in contig_dma_account().
 */
void contig_dma_account_pinned(const struct contig_dma_result *res)
{
	account_layout(&res->pinned);
	if (layout_differs(&res->pinned, &res->after))
		atomic64_inc(&counters.requests_changed_by_pin);
}

#if IS_ENABLED(CONFIG_KUNIT)
/**
 * contig_dma_bytes_contiguous() - the bytes_contiguous statistic
 *
 * Return: its value now, for KUnit.
 */
u64 contig_dma_bytes_contiguous(void)
{
	return atomic64_read(&counters.bytes_contiguous);
}
EXPORT_SYMBOL_IF_KUNIT(contig_dma_bytes_contiguous);
#endif

struct stat_attr {
	struct kobj_attribute attr;
	atomic64_t *counter;
};

static ssize_t stat_show(struct kobject *kobj, struct kobj_attribute *attr,
			 char *buf)
{
	struct stat_attr *sa = container_of(attr, struct stat_attr, attr);

	return sysfs_emit(buf, "%lld\n", atomic64_read(sa->counter));
}

#define STAT_ATTR(_name, _counter)					\
	static struct stat_attr stat_##_name = {			\
		.attr = __ATTR(_name, 0444, stat_show, NULL),		\
		.counter = &counters._counter,				\
	}

STAT_ATTR(requests, requests);
STAT_ATTR(requests_skipped, requests_skipped);
STAT_ATTR(requests_failed, requests_failed);
STAT_ATTR(requests_partial, requests_partial);
STAT_ATTR(requests_changed_by_pin, requests_changed_by_pin);
STAT_ATTR(bytes_requested, bytes_requested);
STAT_ATTR(bytes_contiguous, bytes_contiguous);
STAT_ATTR(pages_in_place, pages_in_place);
STAT_ATTR(pages_migrated, pages_migrated);
STAT_ATTR(pages_exchanged, pages_exchanged);
STAT_ATTR(pages_populated, pages_populated);
STAT_ATTR(pages_populated_in_place, pages_populated_in_place);
STAT_ATTR(pages_evicted, pages_evicted);
STAT_ATTR(pages_failed_unmovable, pages_failed[VMA_DEFRAG_FAIL_UNMOVABLE]);
STAT_ATTR(pages_failed_pinned, pages_failed[VMA_DEFRAG_FAIL_PINNED]);
STAT_ATTR(pages_failed_busy, pages_failed[VMA_DEFRAG_FAIL_BUSY]);
STAT_ATTR(pages_failed_unsupported,
	  pages_failed[VMA_DEFRAG_FAIL_UNSUPPORTED]);
STAT_ATTR(pages_failed_nomem, pages_failed[VMA_DEFRAG_FAIL_NOMEM]);
STAT_ATTR(pages_failed_migrate, pages_failed[VMA_DEFRAG_FAIL_MIGRATE]);
STAT_ATTR(pages_failed_split, pages_failed[VMA_DEFRAG_FAIL_SPLIT]);
STAT_ATTR(pages_failed_no_window, pages_failed[VMA_DEFRAG_FAIL_NO_WINDOW]);
STAT_ATTR(thp_moved, thp_moved);
STAT_ATTR(thp_split, thp_split);
STAT_ATTR(thp_populated, thp_populated);
STAT_ATTR(time_ns, time_ns);
STAT_ATTR(chunks_1g, chunks_1g);
STAT_ATTR(chunks_2m, chunks_2m);
STAT_ATTR(pages_4k, pages_4k);

static struct attribute *stats_attrs[] = {
	&stat_requests.attr.attr,
	&stat_requests_skipped.attr.attr,
	&stat_requests_failed.attr.attr,
	&stat_requests_partial.attr.attr,
	&stat_requests_changed_by_pin.attr.attr,
	&stat_bytes_requested.attr.attr,
	&stat_bytes_contiguous.attr.attr,
	&stat_pages_in_place.attr.attr,
	&stat_pages_migrated.attr.attr,
	&stat_pages_exchanged.attr.attr,
	&stat_pages_populated.attr.attr,
	&stat_pages_populated_in_place.attr.attr,
	&stat_pages_evicted.attr.attr,
	&stat_pages_failed_unmovable.attr.attr,
	&stat_pages_failed_pinned.attr.attr,
	&stat_pages_failed_busy.attr.attr,
	&stat_pages_failed_unsupported.attr.attr,
	&stat_pages_failed_nomem.attr.attr,
	&stat_pages_failed_migrate.attr.attr,
	&stat_pages_failed_split.attr.attr,
	&stat_pages_failed_no_window.attr.attr,
	&stat_thp_moved.attr.attr,
	&stat_thp_split.attr.attr,
	&stat_thp_populated.attr.attr,
	&stat_time_ns.attr.attr,
	&stat_chunks_1g.attr.attr,
	&stat_chunks_2m.attr.attr,
	&stat_pages_4k.attr.attr,
	NULL,
};

const struct attribute_group contig_dma_stats_group = {
	.name = "stats",
	.attrs = stats_attrs,
};
