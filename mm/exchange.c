// SPDX-License-Identifier: GPL-2.0
/*
 * Exchange of two in-use folios, without a free page.
 *
 * Two movable folios of equal order trade their contents and their roles:
 * afterwards every virtual address, page-cache slot and swap-cache slot that
 * referred to folio A refers to folio B's frame, which holds A's data, and
 * the other way round. Migration needs a free frame to do this; exchange
 * needs none, which is what lets mm/vma_defrag.c make a user range
 * physically contiguous on memory with no free 2 MiB block left.
 *
 * It is migration run in both directions at once, built from migration's
 * pieces rather than beside them:
 *
 *  1. isolate both folios from their LRU lists and lock them (the second one
 *     only by trylock, so two exchanges can never wait on each other);
 *  2. replace every mapping of both with migration entries (try_to_migrate(),
 *     TLB flushes batched over all pairs of a batch as migrate_pages_batch()
 *     does); a fault on either now waits for the folio lock;
 *  3. check that each folio has no reference besides the caller's, the
 *     isolation and the page/swap cache's, and freeze both refcounts under
 *     the cache locks: nobody can look either folio up from here on;
 *  4. exchange the data, frozen, so that no reader can see a frame
 *     half-way; a memory error while copying undoes the copies made and
 *     refuses the pair (machine-check safe copies, as migration's);
 *  5. point each cache slot at the other frame, exchange the folio state
 *     (mapping, index, private, memcg, the page flags that describe the
 *     data, NUMA cpupid, page_owner), reset the tail pages' per-page state
 *     as a new migration target has it, and move the per-zone statistics;
 *  6. unfreeze each frame to the other's reference count, put both back on
 *     the LRU and turn A's migration entries into mappings of B's frame and
 *     B's into mappings of A's frame (remove_migration_ptes()); mapcounts,
 *     NR_*_MAPPED, mlock and PageAnonExclusive are rebuilt by the rmap code
 *     exactly as after a migration.
 *
 * Any refusal happens by step 4, before any state is exchanged, and undoes
 * steps 1-3: both folios are left as they were, mapped where they were and
 * back on their LRU lists.
 *
 * The data goes through a per-CPU bounce page, with three page copies per
 * page, rather than word by word through a register: in the bench
 * guest (make bench, 4096 pairs of 4 KiB pages and 32 pairs of THPs, both
 * variants in one run) the bounce page took 18.6 us per 4 KiB pair against
 * 29.1 us, and 4.4 ms per THP pair against 9.6 ms. That guest is QEMU TCG,
 * which runs copy_page()'s string instructions far faster than a loop of
 * loads and stores; the choice deserves a measurement on real hardware.
 *
 * An anonymous folio and a shmem folio exchange the same way, except that
 * the shmem folio is unmapped instead of migrated, and the frame taking the
 * shmem role keeps the anonymous mapping until the anonymous role has been
 * remapped (exchange_unmap(), exchange_defer_mapping()). Only the caller's
 * own shmem folio is unmapped so (EXCHANGE_UNMAP_A); a mapped shmem folio
 * of anyone else is refused against an anonymous one.
 *
 * Supported: anonymous folios (also COW-shared by several processes, also
 * in the swap cache when not under I/O), shmem/memfd folios, either of them
 * with the other, of any equal order up to PMD-mapped THPs; mlocked folios
 * too, unless vm.compact_unevictable_allowed is 0. A folio whose mapping
 * keeps it below a zone (mapping_gfp_mask()) only takes a frame there.
 * Refused, with the folio untouched: see enum exchange_result.
 */

#include <linux/exchange.h>
#include <linux/highmem.h>
#include <linux/huge_mm.h>
#include <linux/local_lock.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/mm_inline.h>
#include <linux/page_owner.h>
#include <linux/pagemap.h>
#include <linux/rmap.h>
#include <linux/sched.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/swap.h>
#include <linux/vmstat.h>
#include <linux/xarray.h>
#include <kunit/static_stub.h>
#include <kunit/visibility.h>

#include "internal.h"

#define CREATE_TRACE_POINTS
#include <trace/events/exchange.h>

/* Pairs unmapped together before one TLB flush, as in migrate_pages_batch */
#define EXCHANGE_BATCH		32
/* Attempts for a pair that met a transient reference or a held lock */
#define EXCHANGE_PASSES		3

/*
 * Which bits of a head page's flags word go with the data, and which stay
 * with the frame. The kernel already says what describes a page's use:
 * PAGE_FLAGS_CHECK_AT_PREP, every bit a page fresh from the allocator must
 * not have (all page flags but PG_hwpoison, the MGLRU generation and
 * reference bits). Those move with the data, except the few that say what
 * is happening to the frame right now: PG_locked and PG_waiters (our lock
 * and whoever waits on it), PG_head (equal orders) and PG_arch_* (left to
 * flush_dcache_folio(), as for a migration target). PG_lru, PG_writeback
 * and PG_reserved are clear on both sides here (isolated, refused, user
 * folios). A flag added to page-flags.h moves with the data unless it is
 * added here: the safe default, for state that is not the frame's.
 * Everything outside PAGEFLAGS_MASK (zone, node, section, KASAN tag) is
 * the frame's; the NUMA cpupid moves by folio_xchg_last_cpupid().
 */
#ifdef CONFIG_ARCH_USES_PG_ARCH_2
#define EXCHANGE_ARCH_2		BIT(PG_arch_2)
#else
#define EXCHANGE_ARCH_2		0
#endif
#ifdef CONFIG_ARCH_USES_PG_ARCH_3
#define EXCHANGE_ARCH_3		BIT(PG_arch_3)
#else
#define EXCHANGE_ARCH_3		0
#endif
#define EXCHANGE_FRAME_FLAGS						\
	(BIT(PG_locked) | BIT(PG_waiters) | BIT(PG_head) |		\
	 BIT(PG_arch_1) | EXCHANGE_ARCH_2 | EXCHANGE_ARCH_3)
#define EXCHANGE_DATA_FLAGS	(PAGE_FLAGS_CHECK_AT_PREP & ~EXCHANGE_FRAME_FLAGS)

struct exchange_side {
	struct folio *folio;
	struct anon_vma *anon_vma;
	struct address_space *cache;	/* page or swap cache, or NULL */
	pgoff_t cache_index;
	int expected_refs;		/* once unmapped */
	bool isolated_file;		/* which NR_ISOLATED_* we counted */
	bool isolated;
	bool locked;
	bool was_mapped;
	bool was_mlocked;
	bool deferred_split;
	bool partially_mapped;
	/* Anon <-> shmem: the shmem role's mapping, installed last */
	struct address_space *pending_mapping;
};

struct exchange_work {
	struct exchange_side a;
	struct exchange_side b;
	unsigned int flags;		/* of the pair: EXCHANGE_UNMAP_A */
	bool mixed;			/* one anonymous, one shmem */
};

static const int exchange_errno[NR_EXCHANGE_RESULTS] = {
	[EXCHANGE_DONE]			= 0,
	[EXCHANGE_ORDER_MISMATCH]	= -EINVAL,
	[EXCHANGE_PINNED]		= -EBUSY,
	[EXCHANGE_KSM]			= -EOPNOTSUPP,
	[EXCHANGE_HUGETLB]		= -EOPNOTSUPP,
	[EXCHANGE_IO]			= -EBUSY,
	[EXCHANGE_NONLRU_MOVABLE]	= -EOPNOTSUPP,
	[EXCHANGE_UNMOVABLE]		= -EBUSY,
	[EXCHANGE_DEVICE]		= -EOPNOTSUPP,
	[EXCHANGE_UNSUPPORTED]		= -EOPNOTSUPP,
	[EXCHANGE_UNEVICTABLE]		= -EBUSY,
	[EXCHANGE_ZONE]			= -ERANGE,
	[EXCHANGE_SHMEM_MAPPED]		= -EBUSY,
	[EXCHANGE_HWPOISON]		= -EHWPOISON,
	[EXCHANGE_BUSY]			= -EAGAIN,
};

/**
 * exchange_result_errno - the errno that reports an exchange result
 * @result: The result of one pair.
 *
 * Return: 0 for %EXCHANGE_DONE, -EINVAL for mismatched orders, -EBUSY for
 * pinned, under-I/O or unmovable folios, for unevictable ones while
 * vm.compact_unevictable_allowed is 0 and for a mapped shmem folio that
 * would lose its mappings, -ERANGE when a frame lies in a zone the other
 * folio's mapping does not allow, -EHWPOISON for a poisoned page or a
 * memory error met while copying, -EOPNOTSUPP for kinds that cannot be
 * exchanged, -EAGAIN when a transient reference or lock outlasted the
 * retries.
 */
int exchange_result_errno(enum exchange_result result)
{
	if (WARN_ON_ONCE(result >= NR_EXCHANGE_RESULTS))
		return -EINVAL;
	return exchange_errno[result];
}
EXPORT_SYMBOL_GPL(exchange_result_errno);

/*
 * One page per CPU to exchange data through: three page copies were faster
 * than swapping word by word through a register (see the top of this
 * file), and they copy whatever the architecture keeps beside the data.
 * Its local lock also keeps the frozen part of an exchange on its CPU,
 * unpreempted (exchange_move()).
 */
struct exchange_bounce {
	local_lock_t lock;
	struct page *page;
};

static DEFINE_PER_CPU(struct exchange_bounce, exchange_bounce) = {
	.lock = INIT_LOCAL_LOCK(lock),
};

static bool exchange_ready __read_mostly;

static int __init exchange_bounce_init(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct page *page = alloc_pages_node(cpu_to_node(cpu),
						     GFP_KERNEL, 0);

		if (!page) {
			pr_err("exchange: no bounce page for CPU %d, exchange disabled\n",
			       cpu);
			return -ENOMEM;
		}
		per_cpu(exchange_bounce, cpu).page = page;
	}
	exchange_ready = true;
	return 0;
}
core_initcall(exchange_bounce_init);

/**
 * exchange_copy_page() - copy a user page, stopping at a memory error
 * @to: The destination.
 * @from: The source, whose memory may be poisoned.
 *
 * copy_mc_highpage(), as migration's folio_mc_copy() uses: a poisoned
 * source ends the copy with an error instead of a machine check, and the
 * page is queued for memory_failure(). KUnit replaces it (a static stub) to
 * inject such an error.
 *
 * Return: 0, or -EHWPOISON.
 */
VISIBLE_IF_KUNIT int exchange_copy_page(struct page *to, struct page *from)
{
	KUNIT_STATIC_STUB_REDIRECT(exchange_copy_page, to, from);
	return copy_mc_highpage(to, from) ? -EHWPOISON : 0;
}
EXPORT_SYMBOL_IF_KUNIT(exchange_copy_page);

/*
 * Exchange the data of @x and @y through the bounce page @t. The two user
 * pages are each read once, by the first two copies; a memory error in
 * either leaves both pages as they were: in the first nothing was written,
 * in the second @x is written back from @t. The third copy reads @t, the
 * kernel's own page written a moment ago.
 */
static int exchange_page_data(struct page *x, struct page *y, struct page *t)
{
	if (exchange_copy_page(t, x))
		return -EHWPOISON;
	if (exchange_copy_page(x, y)) {
		copy_highpage(x, t);
		return -EHWPOISON;
	}
	copy_highpage(y, t);
	return 0;
}

/* What can be refused without the folio lock. */
static enum exchange_result exchange_classify(struct folio *folio)
{
	if (folio_is_zone_device(folio))
		return EXCHANGE_DEVICE;
	if (folio_test_hugetlb(folio))
		return EXCHANGE_HUGETLB;
	if (folio_test_ksm(folio))
		return EXCHANGE_KSM;
	if (__folio_test_movable(folio))
		return EXCHANGE_NONLRU_MOVABLE;
	if (folio_maybe_dma_pinned(folio))
		return EXCHANGE_PINNED;
	/* What compaction may not move, exchange does not move either */
	if ((folio_test_unevictable(folio) || folio_test_mlocked(folio)) &&
	    !compaction_unevictable_allowed())
		return EXCHANGE_UNEVICTABLE;
	return EXCHANGE_DONE;
}

/* What needs the folio lock: the kind of the folio and its I/O state. */
static enum exchange_result exchange_check_locked(struct exchange_side *s)
{
	struct folio *folio = s->folio;
	struct address_space *mapping = folio_mapping(folio);

	if (folio_test_ksm(folio))
		return EXCHANGE_KSM;
	if (folio_contain_hwpoisoned_page(folio))
		return EXCHANGE_HWPOISON;
	if (folio_test_writeback(folio))
		return EXCHANGE_IO;
	if (folio_test_anon(folio)) {
		/* A swap-in still reading, or a new swap-cache folio */
		if (folio_test_swapcache(folio) && !folio_test_uptodate(folio))
			return EXCHANGE_IO;
	} else if (!mapping || !shmem_mapping(mapping)) {
		/* Regular files, and folios truncated from under us */
		return EXCHANGE_UNSUPPORTED;
	}
	/* No filesystem-private state to hand over */
	if (folio_test_private(folio) || folio_test_private_2(folio))
		return EXCHANGE_UNSUPPORTED;
	if (folio_maybe_dma_pinned(folio))
		return EXCHANGE_PINNED;

	s->cache = mapping;
	if (mapping)
		s->cache_index = folio_index(folio);
	s->was_mlocked = folio_test_mlocked(folio);
	return EXCHANGE_DONE;
}

/*
 * A shmem mapping may keep its folios below a zone (mapping_gfp_mask(),
 * e.g. __GFP_DMA32 for a driver's buffer); its folio may only take a frame
 * it allows, as migration's allocation would. Anonymous folios, also in the
 * swap cache, may live in any zone.
 */
static bool exchange_zone_allowed(const struct exchange_side *s,
				  const struct folio *other)
{
	if (folio_test_anon(s->folio) || !s->cache)
		return true;
	return folio_zonenum(other) <= gfp_zone(mapping_gfp_mask(s->cache));
}

/*
 * Anon <-> shmem unmaps the shmem folio (exchange_unmap()): only when it is
 * the caller's own and the caller said it faults it back in. Another
 * owner's mapped page is never left unmapped: its mlock, its soft-dirty bit
 * and a userfaultfd minor registration would all notice.
 */
static bool exchange_may_unmap(const struct exchange_work *w,
			       const struct exchange_side *shmem)
{
	return !folio_mapped(shmem->folio) ||
	       (shmem == &w->a && (w->flags & EXCHANGE_UNMAP_A));
}

static bool exchange_isolate(struct exchange_side *s)
{
	struct folio *folio = s->folio;

	/* A folio just faulted in may still sit in this CPU's LRU batch */
	if (!folio_test_lru(folio))
		lru_add_drain();
	if (!folio_isolate_lru(folio))
		return false;
	s->isolated = true;
	s->isolated_file = folio_is_file_lru(folio);
	node_stat_mod_folio(folio, NR_ISOLATED_ANON + s->isolated_file,
			    folio_nr_pages(folio));
	return true;
}

/* Back on the LRU; the isolation reference is still ours to drop. */
static void exchange_add_lru(struct exchange_side *s)
{
	struct folio *folio = s->folio;

	node_stat_mod_folio(folio, NR_ISOLATED_ANON + s->isolated_file,
			    -folio_nr_pages(folio));
	folio_add_lru(folio);
	s->isolated = false;
}

static void exchange_unmap(struct exchange_side *s, bool mixed)
{
	struct folio *folio = s->folio;

	/*
	 * Exchanged with an anonymous folio, a shmem folio is unmapped rather
	 * than migrated: its users fault it back in from the page cache.
	 * Migration entries of both types would each point, for a while, at
	 * a frame of the other type, and a concurrent zap or fork would count
	 * them in the wrong RSS counter (zap_nonpresent_ptes()).
	 */
	if (mixed && !folio_test_anon(folio)) {
		if (folio_mapped(folio))
			try_to_unmap(folio, TTU_BATCH_FLUSH | TTU_IGNORE_MLOCK |
				     TTU_SPLIT_HUGE_PMD);
		return;
	}

	/*
	 * The anon_vma must outlive the unmapped interval, in which the last
	 * process mapping the folio may exit (see migrate_folio_unmap()).
	 */
	if (folio_test_anon(folio))
		s->anon_vma = folio_get_anon_vma(folio);
	if (folio_mapped(folio) && (!folio_test_anon(folio) || s->anon_vma)) {
		try_to_migrate(folio, TTU_BATCH_FLUSH);
		s->was_mapped = true;
	}
}

/* Undo whatever exchange_begin() did to one side; leaves it as it was. */
static void exchange_restore(struct exchange_side *s)
{
	struct folio *folio = s->folio;

	if (s->was_mapped)
		remove_migration_ptes(folio, folio, 0);
	if (s->anon_vma)
		put_anon_vma(s->anon_vma);
	if (s->locked)
		folio_unlock(folio);
	if (s->isolated) {
		exchange_add_lru(s);
		folio_put(folio);
	}
}

/*
 * Isolate, lock and unmap both folios. The TLB flush for the unmapping is
 * left to the caller, who batches it over several pairs. The first folio
 * lock may be waited for only when we hold no other folio lock.
 */
static enum exchange_result exchange_begin(struct exchange_work *w,
					   bool may_block)
{
	struct exchange_side *a = &w->a, *b = &w->b;
	enum exchange_result r;

	if (unlikely(!exchange_ready))
		return EXCHANGE_UNSUPPORTED;
	if (a->folio == b->folio || folio_order(a->folio) != folio_order(b->folio))
		return EXCHANGE_ORDER_MISMATCH;
	r = exchange_classify(a->folio);
	if (r == EXCHANGE_DONE)
		r = exchange_classify(b->folio);
	if (r != EXCHANGE_DONE)
		return r;

	if (!exchange_isolate(a))
		return EXCHANGE_UNMOVABLE;
	if (!exchange_isolate(b)) {
		r = EXCHANGE_UNMOVABLE;
		goto fail;
	}

	if (!folio_trylock(a->folio)) {
		if (!may_block) {
			r = EXCHANGE_BUSY;
			goto fail;
		}
		folio_lock(a->folio);
	}
	a->locked = true;
	if (!folio_trylock(b->folio)) {
		r = EXCHANGE_BUSY;
		goto fail;
	}
	b->locked = true;

	r = exchange_check_locked(a);
	if (r == EXCHANGE_DONE)
		r = exchange_check_locked(b);
	if (r != EXCHANGE_DONE)
		goto fail;
	if (!exchange_zone_allowed(a, b->folio) ||
	    !exchange_zone_allowed(b, a->folio)) {
		r = EXCHANGE_ZONE;
		goto fail;
	}

	w->mixed = folio_test_anon(a->folio) != folio_test_anon(b->folio);
	if (w->mixed &&
	    !exchange_may_unmap(w, folio_test_anon(a->folio) ? b : a)) {
		r = EXCHANGE_SHMEM_MAPPED;
		goto fail;
	}
	exchange_unmap(a, w->mixed);
	exchange_unmap(b, w->mixed);
	return EXCHANGE_DONE;

fail:
	exchange_restore(b);
	exchange_restore(a);
	return r;
}

static void exchange_lock_caches(struct address_space *x,
				 struct address_space *y)
{
	local_irq_disable();
	if (x == y)
		y = NULL;
	else if (x && y && x > y)
		swap(x, y);
	else if (!x)
		swap(x, y);
	if (x)
		xa_lock(&x->i_pages);
	if (y)
		xa_lock_nested(&y->i_pages, SINGLE_DEPTH_NESTING);
}

static void exchange_unlock_caches(struct address_space *x,
				   struct address_space *y)
{
	if (y && y != x)
		xa_unlock(&y->i_pages);
	if (x)
		xa_unlock(&x->i_pages);
}

/* Point the cache slots of @from's folio at @to (under the cache lock). */
static void exchange_cache_slots(struct exchange_side *from, struct folio *to)
{
	XA_STATE(xas, &from->cache->i_pages, from->cache_index);
	long i, entries = 1;

	/* The swap cache still stores one entry per page */
	if (folio_test_swapcache(from->folio))
		entries = folio_nr_pages(from->folio);
	for (i = 0; i < entries; i++) {
		xas_store(&xas, to);
		xas_next(&xas);
	}
}

static void exchange_folio_flags(struct folio *a, struct folio *b)
{
	unsigned long fa = READ_ONCE(a->flags) & EXCHANGE_DATA_FLAGS;
	unsigned long fb = READ_ONCE(b->flags) & EXCHANGE_DATA_FLAGS;
	unsigned long old;

	/*
	 * Atomically, because the frame's own bits (PG_waiters) can still be
	 * set by a task starting to wait on our lock.
	 */
	old = READ_ONCE(a->flags);
	while (!try_cmpxchg(&a->flags, &old,
			    (old & ~EXCHANGE_DATA_FLAGS) | fb))
		;
	old = READ_ONCE(b->flags);
	while (!try_cmpxchg(&b->flags, &old,
			    (old & ~EXCHANGE_DATA_FLAGS) | fa))
		;
}

/*
 * The per-page state of a large folio's tail pages. PageAnonExclusive is
 * the one a tail page carries for its data: set on every tail page of an
 * exclusive PMD mapping when the PMD is split, and left set on the tail
 * pages that are unmapped later (a partial munmap or MADV_DONTNEED). The
 * mapped ones were cleared by try_to_migrate() and their exclusivity
 * travels in the migration entries, which remove_migration_ptes() turns
 * back into PageAnonExclusive of the frame the data lands on; what it
 * never does is clear the bit. So reset every tail page to what a newly
 * allocated migration target has, clear: left on the frame, a stale bit
 * would make the other folio's data, mapped COW-shared, look exclusive,
 * and do_wp_page() would let one process write into another's copy. The
 * head page's bit moves with the data, as folio_migrate_flags() moves it.
 * PG_hwpoison, the other per-page flag, is the frame's (and refused).
 */
static void exchange_reset_tails(struct folio *folio)
{
	long i, nr = folio_nr_pages(folio);

	if (!folio_test_anon(folio))
		return;
	for (i = 1; i < nr; i++)
		ClearPageAnonExclusive(folio_page(folio, i));
}

/* Everything that describes the data moves with it. Both refs are frozen. */
static void exchange_folio_state(struct folio *a, struct folio *b)
{
	int cpupid;

	exchange_reset_tails(a);
	exchange_reset_tails(b);
	swap(a->mapping, b->mapping);
	swap(a->index, b->index);
	swap(a->private, b->private);
#ifdef CONFIG_MEMCG
	swap(a->memcg_data, b->memcg_data);
#endif
	exchange_folio_flags(a, b);
	cpupid = folio_last_cpupid(a);
	folio_xchg_last_cpupid(a, folio_xchg_last_cpupid(b, cpupid));
	folio_swap_owner(a, b);
}

/*
 * @folio's role moved from a frame in @from to one in @to: move what is
 * counted per zone or node and not rebuilt by remapping. Irqs are off.
 */
static void exchange_account_move(struct folio *folio,
				  struct address_space *cache, bool dirty,
				  struct zone *from, struct zone *to)
{
	long nr = folio_nr_pages(folio);

	if (from == to)
		return;
	if (cache)
		folio_account_cache_move(folio, cache, from, to, dirty);
	/* Unmapping munlocks; only a folio mlocked but unmapped gets here */
	if (folio_test_mlocked(folio)) {
		__mod_zone_page_state(from, NR_MLOCK, -nr);
		__mod_zone_page_state(to, NR_MLOCK, nr);
	}
}

/*
 * Exchange the data of two frozen folios, with preemption off (the bounce
 * page's local lock is held): a page-cache lookup spins until the
 * refcounts unfreeze, and might otherwise spin on this CPU. On a memory
 * error in page i, pages 0..i-1 are exchanged back and page i was left as
 * it was, so both folios hold their own data again.
 */
static int exchange_folio_data(struct folio *a, struct folio *b)
{
	struct page *t = this_cpu_read(exchange_bounce.page);
	long i, j, nr = folio_nr_pages(a);

	for (i = 0; i < nr; i++) {
		if (!exchange_page_data(folio_page(a, i), folio_page(b, i), t))
			continue;
		for (j = 0; j < i; j++)
			if (exchange_page_data(folio_page(a, j),
					       folio_page(b, j), t))
				pr_err("exchange: second memory error undoing pfns %#lx and %#lx: their data stays exchanged\n",
				       folio_pfn(a) + j, folio_pfn(b) + j);
		return -EHWPOISON;
	}
	flush_dcache_folio(a);
	flush_dcache_folio(b);
	return 0;
}

static void exchange_note_deferred_split(struct exchange_side *s)
{
	struct folio *folio = s->folio;

	if (folio_order(folio) <= 1)
		return;
	/* Racy, as in migrate_folio_move(); the freeze settles it */
	if (!data_race(list_empty(&folio->_deferred_list))) {
		s->deferred_split = true;
		s->partially_mapped = folio_test_partially_mapped(folio);
	}
}

/*
 * Anon <-> shmem: until the anonymous role's migration entries, which point
 * at the frame that now plays the shmem role, have been moved to the other
 * frame, that frame keeps looking anonymous to zap and fork. It is locked
 * and off the LRU meanwhile; lock-free page-cache readers that find it get
 * the right data, and everyone else waits for the lock and then sees the
 * shmem mapping (exchange_finish()).
 */
static void exchange_defer_mapping(struct exchange_side *shmem_role,
				   struct exchange_side *anon_role)
{
	shmem_role->pending_mapping = shmem_role->folio->mapping;
	shmem_role->folio->mapping = anon_role->folio->mapping;
}

/*
 * Steps 3-5: freeze, exchange the data, then the roles, unfreeze. The data
 * goes first, so that a memory error in either folio can still back out
 * with nothing exchanged (EXCHANGE_HWPOISON). From the freeze to the
 * unfreeze this CPU is not preempted (the bounce page's local lock): the
 * cache locks are held only to freeze and to switch the slots, and in
 * between, lock-free page-cache lookups of either folio spin on its frozen
 * refcount. See Documentation/mm/exchange.rst for how long that can be.
 */
static enum exchange_result exchange_move(struct exchange_work *w)
{
	struct exchange_side *a = &w->a, *b = &w->b;
	struct folio *fa = a->folio, *fb = b->folio;
	struct zone *zone_a = folio_zone(fa), *zone_b = folio_zone(fb);
	bool dirty_a, dirty_b;

	if (folio_mapped(fa) || folio_mapped(fb))
		return EXCHANGE_BUSY;

	/* The caller's reference, the isolation's and the cache's */
	a->expected_refs = 2 + folio_expected_ref_count(fa);
	b->expected_refs = 2 + folio_expected_ref_count(fb);
	if (folio_ref_count(fa) != a->expected_refs ||
	    folio_ref_count(fb) != b->expected_refs)
		goto busy;

	exchange_note_deferred_split(a);
	exchange_note_deferred_split(b);

	local_lock(&exchange_bounce.lock);
	exchange_lock_caches(a->cache, b->cache);
	if (!folio_ref_freeze(fa, a->expected_refs))
		goto unlock_busy;
	if (!folio_ref_freeze(fb, b->expected_refs)) {
		folio_ref_unfreeze(fa, a->expected_refs);
		goto unlock_busy;
	}
	exchange_unlock_caches(a->cache, b->cache);
	local_irq_enable();

	if (exchange_folio_data(fa, fb)) {
		folio_ref_unfreeze(fa, a->expected_refs);
		folio_ref_unfreeze(fb, b->expected_refs);
		local_unlock(&exchange_bounce.lock);
		return EXCHANGE_HWPOISON;
	}

	exchange_lock_caches(a->cache, b->cache);
	/* While frozen and the memcg is still the folio's own */
	folio_unqueue_deferred_split(fa);
	folio_unqueue_deferred_split(fb);

	if (a->cache)
		exchange_cache_slots(a, fb);
	if (b->cache)
		exchange_cache_slots(b, fa);
	dirty_a = folio_test_dirty(fa);
	dirty_b = folio_test_dirty(fb);
	exchange_folio_state(fa, fb);
	if (w->mixed)
		exchange_defer_mapping(folio_test_anon(fa) ? b : a,
				       folio_test_anon(fa) ? a : b);
	exchange_unlock_caches(a->cache, b->cache);

	/* fb now plays a's role and fa b's */
	exchange_account_move(fb, a->cache, dirty_a, zone_a, zone_b);
	exchange_account_move(fa, b->cache, dirty_b, zone_b, zone_a);
	local_irq_enable();

	folio_ref_unfreeze(fa, b->expected_refs);
	folio_ref_unfreeze(fb, a->expected_refs);
	local_unlock(&exchange_bounce.lock);
	return EXCHANGE_DONE;

unlock_busy:
	exchange_unlock_caches(a->cache, b->cache);
	local_irq_enable();
	local_unlock(&exchange_bounce.lock);
busy:
	if (folio_maybe_dma_pinned(fa) || folio_maybe_dma_pinned(fb))
		return EXCHANGE_PINNED;
	return EXCHANGE_BUSY;
}

/* Step 6: map each role at its new frame, and let both folios go. */
static void exchange_finish(struct exchange_work *w)
{
	struct exchange_side *a = &w->a, *b = &w->b;
	struct folio *fa = a->folio, *fb = b->folio;

	/*
	 * On the LRU before remapping, so that an mlocked folio gets its
	 * mlock_count back from the remapping (as in migrate_folio_move()).
	 */
	if (!a->pending_mapping)
		exchange_add_lru(a);
	if (!b->pending_mapping)
		exchange_add_lru(b);
	if (a->was_mlocked || b->was_mlocked)
		lru_add_drain();

	if (a->was_mapped)
		remove_migration_ptes(fa, fb, 0);
	if (b->was_mapped)
		remove_migration_ptes(fb, fa, 0);

	/* No migration entry points at the shmem role's frame any more */
	if (a->pending_mapping) {
		WRITE_ONCE(fa->mapping, a->pending_mapping);
		exchange_add_lru(a);
	}
	if (b->pending_mapping) {
		WRITE_ONCE(fb->mapping, b->pending_mapping);
		exchange_add_lru(b);
	}

	if (a->deferred_split)
		deferred_split_folio(fb, a->partially_mapped);
	if (b->deferred_split)
		deferred_split_folio(fa, b->partially_mapped);

	folio_unlock(fa);
	folio_unlock(fb);
	if (a->anon_vma)
		put_anon_vma(a->anon_vma);
	if (b->anon_vma)
		put_anon_vma(b->anon_vma);
	/* The isolation references */
	folio_put(fa);
	folio_put(fb);
}

/* Steps 3-6 for a pair that exchange_begin() unmapped and flushed. */
static enum exchange_result exchange_end(struct exchange_work *w)
{
	enum exchange_result r = exchange_move(w);

	if (r == EXCHANGE_DONE) {
		exchange_finish(w);
	} else {
		exchange_restore(&w->b);
		exchange_restore(&w->a);
	}
	return r;
}

static void exchange_work_init(struct exchange_work *w,
			       const struct exchange_pair *pair)
{
	memset(w, 0, sizeof(*w));
	w->a.folio = pair->a;
	w->b.folio = pair->b;
	w->flags = pair->flags;
}

static enum exchange_result exchange_one(struct exchange_work *w,
					 const struct exchange_pair *pair)
{
	enum exchange_result r;

	exchange_work_init(w, pair);
	r = exchange_begin(w, true);
	if (r != EXCHANGE_DONE)
		return r;
	try_to_unmap_flush();
	return exchange_end(w);
}

static void exchange_account(const struct exchange_pair *pair,
			     unsigned long pfn_a, unsigned long pfn_b)
{
	BUILD_BUG_ON(EXCHANGE_FAIL_BUSY - EXCHANGE_SUCCESS != EXCHANGE_BUSY);

	count_vm_event(EXCHANGE_SUCCESS + pair->result);
	trace_mm_exchange_folios(pfn_a, pfn_b, folio_order(pair->a),
				 pair->result);
}

static unsigned int exchange_batch(struct exchange_pair *pairs,
				   unsigned int nr, struct exchange_work *works)
{
	unsigned int i, pass, done = 0;

	/*
	 * One pass over the whole batch with all locks taken by trylock: we
	 * hold the earlier pairs' locks, so waiting on another could deadlock.
	 * One TLB flush covers all the unmapping.
	 */
	for (i = 0; i < nr; i++) {
		exchange_work_init(&works[i], &pairs[i]);
		pairs[i].result = exchange_begin(&works[i], false);
	}
	try_to_unmap_flush();
	for (i = 0; i < nr; i++)
		if (pairs[i].result == EXCHANGE_DONE)
			pairs[i].result = exchange_end(&works[i]);

	/* Pairs that met contention again, one at a time */
	for (pass = 1; pass < EXCHANGE_PASSES; pass++) {
		for (i = 0; i < nr; i++) {
			if (pairs[i].result != EXCHANGE_BUSY)
				continue;
			cond_resched();
			pairs[i].result = exchange_one(&works[i], &pairs[i]);
		}
	}

	for (i = 0; i < nr; i++) {
		exchange_account(&pairs[i], folio_pfn(pairs[i].a),
				 folio_pfn(pairs[i].b));
		done += pairs[i].result == EXCHANGE_DONE;
	}
	return done;
}

/**
 * exchange_folio_pairs - exchange many pairs of folios
 * @pairs: The pairs; no folio may appear twice.
 * @nr: Number of pairs.
 *
 * For each pair, exchange the contents and the mappings of the two folios
 * as exchange_folios() does. Pairs are processed in batches: all pairs of
 * a batch are unmapped first, with one TLB flush, then exchanged and
 * remapped. A pair that meets a transient reference or a held folio lock
 * is retried on its own. The caller holds one reference on every folio and
 * keeps it. Sets @pairs[i].result; see exchange_result_errno().
 *
 * Context: Process context, may sleep. No folio locked by the caller.
 * Return: The number of pairs exchanged.
 */
unsigned int exchange_folio_pairs(struct exchange_pair *pairs, unsigned int nr)
{
	struct exchange_work one, *works;
	unsigned int start, n, batch, done = 0;

	batch = min_t(unsigned int, nr, EXCHANGE_BATCH);
	/*
	 * Fragmented memory is where we run, and the array is a kmalloc-4k
	 * object, which KASAN's redzones make an order-1 allocation: it only
	 * saves time, so do not reclaim hard or call the OOM killer for it
	 * (whose victim could be a process whose pages we are moving); work
	 * on one pair at a time instead.
	 */
	works = batch > 1 ? kmalloc_array(batch, sizeof(*works),
					  GFP_KERNEL | __GFP_NORETRY |
					  __GFP_NOWARN) : NULL;
	if (!works) {
		works = &one;
		batch = 1;
	}

	for (start = 0; start < nr; start += n) {
		n = min(batch, nr - start);
		done += exchange_batch(pairs + start, n, works);
		cond_resched();
	}

	if (works != &one)
		kfree(works);
	return done;
}
EXPORT_SYMBOL_GPL(exchange_folio_pairs);

/**
 * exchange_folios - exchange the contents and mappings of two folios
 * @a: One folio.
 * @b: The other folio, of the same order.
 *
 * Afterwards @a's frame holds @b's data and plays @b's role (its mappings,
 * page-cache or swap-cache slot, flags, memcg) and @b's frame holds @a's:
 * every virtual address keeps seeing its own data. No free page is used.
 * Both folios must be on an LRU list, anonymous or shmem, unpinned and not
 * under I/O; otherwise nothing changes and an errno says why. A mapped
 * shmem folio is not exchanged with an anonymous one (its mappings would
 * be dropped); exchange_folio_pairs() with %EXCHANGE_UNMAP_A allows it for
 * the caller's own @a.
 *
 * The caller holds one reference on each folio and keeps it.
 *
 * Context: Process context, may sleep. No folio locked by the caller.
 * Return: 0 when exchanged, else the errno of exchange_result_errno().
 */
int exchange_folios(struct folio *a, struct folio *b)
{
	struct exchange_pair pair = { .a = a, .b = b };

	exchange_folio_pairs(&pair, 1);
	return exchange_result_errno(pair.result);
}
EXPORT_SYMBOL_GPL(exchange_folios);
