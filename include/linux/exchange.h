/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Exchange of two in-use folios (mm/exchange.c): two movable folios of equal
 * order swap their contents and their mappings, without a free page.
 */
#ifndef _LINUX_EXCHANGE_H
#define _LINUX_EXCHANGE_H

#include <linux/bits.h>
#include <linux/errno.h>
#include <linux/types.h>

struct folio;

/*
 * Outcome of one exchange. The refusal reasons are counted in /proc/vmstat
 * as exchange_fail_<reason>, in this order after exchange_success.
 */
enum exchange_result {
	EXCHANGE_DONE,
	EXCHANGE_ORDER_MISMATCH,	/* -EINVAL: different orders, or a == b */
	EXCHANGE_PINNED,		/* -EBUSY: GUP pin (e.g. FOLL_LONGTERM) */
	EXCHANGE_KSM,			/* -EOPNOTSUPP */
	EXCHANGE_HUGETLB,		/* -EOPNOTSUPP */
	EXCHANGE_IO,			/* -EBUSY: writeback, swap I/O */
	EXCHANGE_NONLRU_MOVABLE,	/* -EOPNOTSUPP: movable_operations */
	EXCHANGE_UNMOVABLE,		/* -EBUSY: not on an LRU list */
	EXCHANGE_DEVICE,		/* -EOPNOTSUPP: ZONE_DEVICE */
	EXCHANGE_UNSUPPORTED,		/* -EOPNOTSUPP: not anon/shmem */
	EXCHANGE_UNEVICTABLE,		/* -EBUSY: compact_unevictable_allowed 0 */
	EXCHANGE_ZONE,			/* -ERANGE: zone the mapping forbids */
	EXCHANGE_SHMEM_MAPPED,		/* -EBUSY: would unmap others' shmem */
	EXCHANGE_HWPOISON,		/* -EHWPOISON: memory error */
	EXCHANGE_BUSY,			/* -EAGAIN: extra reference, lock held */
	NR_EXCHANGE_RESULTS
};

/*
 * exchange_pair flags. EXCHANGE_UNMAP_A: @a is the caller's own, and if it
 * is a shmem folio exchanged with an anonymous one, its mappings may be
 * dropped (the caller faults them back in). Without it, and always for
 * @b, a mapped shmem folio is not exchanged with an anonymous one.
 */
#define EXCHANGE_UNMAP_A	BIT(0)

/**
 * struct exchange_pair - one pair of folios for exchange_folio_pairs()
 * @a: One folio; the caller holds one reference on it.
 * @b: The other folio; the caller holds one reference on it.
 * @flags: EXCHANGE_UNMAP_A, or 0.
 * @result: Set by exchange_folio_pairs().
 */
struct exchange_pair {
	struct folio *a;
	struct folio *b;
	unsigned int flags;
	enum exchange_result result;
};

#ifdef CONFIG_PAGE_EXCHANGE
int exchange_folios(struct folio *a, struct folio *b);
unsigned int exchange_folio_pairs(struct exchange_pair *pairs, unsigned int nr);
int exchange_result_errno(enum exchange_result result);
#else
static inline int exchange_folios(struct folio *a, struct folio *b)
{
	return -EOPNOTSUPP;
}

static inline unsigned int exchange_folio_pairs(struct exchange_pair *pairs,
						unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		pairs[i].result = EXCHANGE_UNSUPPORTED;
	return 0;
}

static inline int exchange_result_errno(enum exchange_result result)
{
	return result == EXCHANGE_DONE ? 0 : -EOPNOTSUPP;
}
#endif

#if IS_ENABLED(CONFIG_KUNIT) && IS_ENABLED(CONFIG_PAGE_EXCHANGE)
struct page;
int exchange_copy_page(struct page *to, struct page *from);
#endif

#endif /* _LINUX_EXCHANGE_H */
