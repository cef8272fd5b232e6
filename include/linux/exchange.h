/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Exchange of two in-use folios (mm/exchange.c): two movable folios of equal
 * order swap their contents and their mappings, without a free page.
 */
#ifndef _LINUX_EXCHANGE_H
#define _LINUX_EXCHANGE_H

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
	EXCHANGE_UNSUPPORTED,		/* -EOPNOTSUPP: not anon/shmem, hwpoison */
	EXCHANGE_BUSY,			/* -EAGAIN: extra reference, lock held */
	NR_EXCHANGE_RESULTS
};

/**
 * struct exchange_pair - one pair of folios for exchange_folio_pairs()
 * @a: One folio; the caller holds one reference on it.
 * @b: The other folio; the caller holds one reference on it.
 * @result: Set by exchange_folio_pairs().
 */
struct exchange_pair {
	struct folio *a;
	struct folio *b;
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

#endif /* _LINUX_EXCHANGE_H */
