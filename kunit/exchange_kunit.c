// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for mm/exchange.c on real user mappings.
 *
 * Each test maps user memory into the test's mm with kunit_vm_mmap(),
 * fills every page with a pattern unique to its virtual address through the
 * user mapping, exchanges folios and then checks, through the user mappings
 * again: every byte at every address, that the frames behind the two
 * addresses traded places, that each role kept its reference count and
 * mapcount, that both folios are back on the LRU, and that the node and zone
 * statistics the exchange could disturb are what they were. Refusals check
 * the errno and that nothing at all changed.
 */
#include <kunit/static_stub.h>
#include <kunit/test.h>
#include <linux/delay.h>
#include <linux/exchange.h>
#include <linux/file.h>
#include <linux/highmem.h>
#include <linux/huge_mm.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/pagemap.h>
#include <linux/pagewalk.h>
#include <linux/pid.h>
#include <linux/sched/mm.h>
#include <linux/sched/task.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/swap.h>
#include <linux/uaccess.h>
#include <linux/vmstat.h>

#include "user_mem.h"

/* What must be the same for the role at a virtual address, before/after */
struct role {
	unsigned long pfn;
	int refcount;
	int mapcount;
	unsigned long flags;	/* of the data: active, dirty, mlocked, ... */
};

/* Not PG_dirty: unmapping moves a dirty PTE's bit to the folio */
#define ROLE_FLAGS (BIT(PG_active) | BIT(PG_unevictable) | BIT(PG_mlocked) | \
		    BIT(PG_swapbacked) | BIT(PG_uptodate))

static struct role role_at(struct kunit *test, unsigned long addr)
{
	struct role r = {};
	struct folio *folio;

	lru_add_drain_all();
	folio = user_mem_folio_at(addr, &r.pfn);
	KUNIT_ASSERT_NOT_NULL_MSG(test, folio, "nothing mapped at 0x%lx", addr);
	KUNIT_EXPECT_TRUE_MSG(test, folio_test_lru(folio),
			      "folio at 0x%lx is not on an LRU list", addr);
	r.refcount = folio_ref_count(folio);
	r.mapcount = folio_mapcount(folio);
	r.flags = folio->flags & ROLE_FLAGS;
	folio_put(folio);
	return r;
}

static void expect_role(struct kunit *test, struct role now, struct role was,
			unsigned long pfn, const char *what)
{
	KUNIT_EXPECT_EQ_MSG(test, now.pfn, pfn, "%s: frame", what);
	KUNIT_EXPECT_EQ_MSG(test, now.refcount, was.refcount, "%s: refs", what);
	KUNIT_EXPECT_EQ_MSG(test, now.mapcount, was.mapcount, "%s: maps", what);
	KUNIT_EXPECT_EQ_MSG(test, now.flags, was.flags, "%s: flags", what);
}

/* Statistics an exchange must leave as they were */
static const enum node_stat_item node_items[] = {
	NR_ANON_MAPPED, NR_FILE_MAPPED, NR_FILE_PAGES, NR_SHMEM,
	NR_ANON_THPS, NR_SHMEM_THPS, NR_SHMEM_PMDMAPPED,
	NR_ISOLATED_ANON, NR_ISOLATED_FILE,
};

static const enum zone_stat_item zone_items[] = {
	NR_ZONE_INACTIVE_ANON, NR_ZONE_ACTIVE_ANON, NR_ZONE_UNEVICTABLE,
	NR_MLOCK,
};

struct stats {
	long node[MAX_NUMNODES][ARRAY_SIZE(node_items)];
	long zone[MAX_NUMNODES][MAX_NR_ZONES][ARRAY_SIZE(zone_items)];
};

/* Exact values: the atomic counter plus every CPU's pending difference. */
static long node_stat_exact(struct pglist_data *pgdat, enum node_stat_item item)
{
	long x = atomic_long_read(&pgdat->vm_stat[item]);
	int cpu;

	for_each_online_cpu(cpu)
		x += per_cpu_ptr(pgdat->per_cpu_nodestats,
				 cpu)->vm_node_stat_diff[item];
	return x;
}

static void stats_take(struct stats *s)
{
	int nid, z, i;

	/* The files of earlier tests go away late: kthreads delay fput */
	flush_delayed_fput();
	lru_add_drain_all();
	memset(s, 0, sizeof(*s));
	for_each_online_node(nid) {
		struct pglist_data *pgdat = NODE_DATA(nid);

		for (i = 0; i < ARRAY_SIZE(node_items); i++)
			s->node[nid][i] = node_stat_exact(pgdat, node_items[i]);
		for (z = 0; z < MAX_NR_ZONES; z++) {
			struct zone *zone = &pgdat->node_zones[z];

			if (!populated_zone(zone))
				continue;
			for (i = 0; i < ARRAY_SIZE(zone_items); i++)
				s->zone[nid][z][i] =
					zone_page_state_snapshot(zone,
								 zone_items[i]);
		}
	}
}

static void expect_stats_balance(struct kunit *test, const struct stats *was)
{
	struct stats *now = kunit_kzalloc(test, sizeof(*now), GFP_KERNEL);
	int nid, z, i;

	KUNIT_ASSERT_NOT_NULL(test, now);
	stats_take(now);
	for_each_online_node(nid) {
		for (i = 0; i < ARRAY_SIZE(node_items); i++)
			KUNIT_EXPECT_EQ_MSG(test, now->node[nid][i],
					    was->node[nid][i], "node %d %s",
					    nid, node_stat_name(node_items[i]));
		for (z = 0; z < MAX_NR_ZONES; z++)
			for (i = 0; i < ARRAY_SIZE(zone_items); i++)
				KUNIT_EXPECT_EQ_MSG(test, now->zone[nid][z][i],
						    was->zone[nid][z][i],
						    "node %d zone %d %s", nid, z,
						    zone_stat_name(zone_items[i]));
	}
	kunit_kfree(test, now);
}

/*
 * The baseline, taken once the counters hold still: a case's kthread
 * reports its end before it exits, so the previous case's mm and its
 * pages may still be going away while this one starts.
 */
static struct stats *stats_new(struct kunit *test)
{
	struct stats *s = kunit_kzalloc(test, sizeof(*s), GFP_KERNEL);
	struct stats *again = kunit_kzalloc(test, sizeof(*s), GFP_KERNEL);
	int tries;

	KUNIT_ASSERT_NOT_NULL(test, s);
	KUNIT_ASSERT_NOT_NULL(test, again);
	stats_take(s);
	for (tries = 0; tries < 50; tries++) {
		msleep(20);
		stats_take(again);
		if (!memcmp(s, again, sizeof(*s)))
			break;
		memcpy(s, again, sizeof(*s));
	}
	kunit_kfree(test, again);
	return s;
}

/* Exchange the folios at @x and @y as one pair with @flags */
static int exchange_at_flags(unsigned long x, unsigned long y,
			     unsigned int flags)
{
	struct exchange_pair pair = {
		.a = user_mem_folio_at(x, NULL),
		.b = user_mem_folio_at(y, NULL),
		.flags = flags,
	};
	int ret = -ENOENT;

	if (pair.a && pair.b) {
		exchange_folio_pairs(&pair, 1);
		ret = exchange_result_errno(pair.result);
	}
	if (pair.a)
		folio_put(pair.a);
	if (pair.b)
		folio_put(pair.b);
	return ret;
}

static int exchange_at(unsigned long x, unsigned long y)
{
	struct folio *a = user_mem_folio_at(x, NULL), *b = user_mem_folio_at(y, NULL);
	int ret = -ENOENT;

	if (a && b)
		ret = exchange_folios(a, b);
	if (a)
		folio_put(a);
	if (b)
		folio_put(b);
	return ret;
}

/*
 * Exchange the folios at @x and @y (each @len long, filled with seeds 1
 * and 2) as a pair with @flags, and check data, frames, roles, LRU and
 * statistics.
 */
static void exchange_and_check_flags(struct kunit *test, unsigned long x,
				     unsigned long y, size_t len,
				     unsigned int flags)
{
	struct role rx = role_at(test, x), ry = role_at(test, y);
	struct stats *before = stats_new(test);

	KUNIT_ASSERT_NE(test, rx.pfn, ry.pfn);
	KUNIT_ASSERT_EQ(test, exchange_at_flags(x, y, flags), 0);

	user_mem_check(test, x, len, 1);
	user_mem_check(test, y, len, 2);
	expect_role(test, role_at(test, x), rx, ry.pfn, "first address");
	expect_role(test, role_at(test, y), ry, rx.pfn, "second address");
	expect_stats_balance(test, before);
}

static void exchange_and_check(struct kunit *test, unsigned long x,
			       unsigned long y, size_t len)
{
	exchange_and_check_flags(test, x, y, len, 0);
}

/* A refused exchange leaves both addresses exactly as they were. */
static void expect_refused(struct kunit *test, unsigned long x,
			   unsigned long y, size_t len, int ret, int err)
{
	KUNIT_EXPECT_EQ(test, ret, err);
	user_mem_check(test, x, len, 1);
	user_mem_check(test, y, len, 2);
}

static void exchange_anon_4k(struct kunit *test)
{
	unsigned long x = user_mem_map_anon(test, PAGE_SIZE, 0);
	unsigned long y = user_mem_map_anon(test, PAGE_SIZE, 0);

	user_mem_fill(test, x, PAGE_SIZE, 1);
	user_mem_fill(test, y, PAGE_SIZE, 2);
	exchange_and_check(test, x, y, PAGE_SIZE);
	/* And back: each frame returns to its first role */
	exchange_and_check(test, x, y, PAGE_SIZE);
}

static void exchange_anon_thp(struct kunit *test)
{
	unsigned long x = user_mem_map_thp(test), y = user_mem_map_thp(test);

	user_mem_fill(test, x, HPAGE_PMD_SIZE, 1);
	user_mem_fill(test, y, HPAGE_PMD_SIZE, 2);
	exchange_and_check(test, x, y, HPAGE_PMD_SIZE);
}

static void exchange_shmem_files(struct kunit *test)
{
	struct file *f = user_mem_shmem_file(test, PAGE_SIZE, false);
	struct file *g = user_mem_shmem_file(test, PAGE_SIZE, false);
	unsigned long x = user_mem_map_file(test, f, PAGE_SIZE, 0);
	unsigned long y = user_mem_map_file(test, g, PAGE_SIZE, 0);
	struct folio *cached;
	unsigned long pfn;

	user_mem_fill(test, x, PAGE_SIZE, 1);
	user_mem_fill(test, y, PAGE_SIZE, 2);
	exchange_and_check(test, x, y, PAGE_SIZE);

	/* The page cache slot follows the data */
	cached = filemap_get_folio(f->f_mapping, 0);
	KUNIT_ASSERT_FALSE(test, IS_ERR(cached));
	folio_put(user_mem_folio_at(x, &pfn));
	KUNIT_EXPECT_EQ(test, folio_pfn(cached), pfn);
	folio_put(cached);
}

/* Two pages of one file: both slots live under one cache lock. */
static void exchange_shmem_one_file(struct kunit *test)
{
	struct file *f = user_mem_shmem_file(test, 2 * PAGE_SIZE, false);
	unsigned long x = user_mem_map_file(test, f, 2 * PAGE_SIZE, 0);

	user_mem_fill(test, x, PAGE_SIZE, 1);
	user_mem_fill(test, x + PAGE_SIZE, PAGE_SIZE, 2);
	exchange_and_check(test, x, x + PAGE_SIZE, PAGE_SIZE);
}

/*
 * anon <-> shmem: the shmem role is unmapped rather than migrated, and
 * faults back in (user_mem_check() does) from the page cache. Only a shmem
 * folio the caller calls its own (EXCHANGE_UNMAP_A) is unmapped so; another
 * owner's mapped shmem folio is refused, whichever side it is on.
 */
static void exchange_anon_shmem(struct kunit *test)
{
	struct file *f = user_mem_shmem_file(test, PAGE_SIZE, false);
	unsigned long x = user_mem_map_anon(test, PAGE_SIZE, 0);
	unsigned long y = user_mem_map_file(test, f, PAGE_SIZE, 0);
	struct role rx, ry;

	user_mem_fill(test, x, PAGE_SIZE, 1);
	user_mem_fill(test, y, PAGE_SIZE, 2);
	rx = role_at(test, x);
	ry = role_at(test, y);
	expect_refused(test, x, y, PAGE_SIZE, exchange_at(x, y), -EBUSY);
	expect_refused(test, x, y, PAGE_SIZE, exchange_at(y, x), -EBUSY);
	expect_refused(test, x, y, PAGE_SIZE,
		       exchange_at_flags(x, y, EXCHANGE_UNMAP_A), -EBUSY);
	expect_role(test, role_at(test, x), rx, rx.pfn, "anon page");
	expect_role(test, role_at(test, y), ry, ry.pfn, "mapped shmem page");

	/* The shmem folio is ours */
	user_mem_fill(test, x, PAGE_SIZE, 2);
	user_mem_fill(test, y, PAGE_SIZE, 1);
	exchange_and_check_flags(test, y, x, PAGE_SIZE, EXCHANGE_UNMAP_A);
	/* And back */
	exchange_and_check_flags(test, y, x, PAGE_SIZE, EXCHANGE_UNMAP_A);
}

/*
 * A shmem file's pages from ZONE_DMA32 (user_mem_shmem_file()), which may
 * then live in any zone: the mapping no longer keeps them low.
 */
static void allow_any_zone(struct file *file)
{
	mapping_set_gfp_mask(file->f_mapping, GFP_HIGHUSER_MOVABLE);
}

/* An mlocked anon page and an mlocked shmem page (ours) in another zone */
static void exchange_anon_shmem_cross_zone_mlocked(struct kunit *test)
{
	struct file *g = user_mem_shmem_file(test, PAGE_SIZE, true);
	unsigned long x = user_mem_map_anon(test, PAGE_SIZE, MAP_LOCKED);
	unsigned long y = user_mem_map_file(test, g, PAGE_SIZE, MAP_LOCKED);
	struct folio *a, *b;

	user_mem_fill(test, x, PAGE_SIZE, 2);
	user_mem_fill(test, y, PAGE_SIZE, 1);
	allow_any_zone(g);
	a = user_mem_folio_at(x, NULL);
	b = user_mem_folio_at(y, NULL);
	KUNIT_ASSERT_NOT_NULL(test, a);
	KUNIT_ASSERT_NOT_NULL(test, b);
	KUNIT_ASSERT_NE(test, folio_zonenum(a), folio_zonenum(b));
	folio_put(a);
	folio_put(b);
	exchange_and_check_flags(test, y, x, PAGE_SIZE, EXCHANGE_UNMAP_A);
}

/*
 * Two mlocked shmem pages, one in ZONE_NORMAL and one in ZONE_DMA32: the
 * per-zone LRU and NR_MLOCK counts must follow the roles.
 */
static void exchange_cross_zone_mlocked(struct kunit *test)
{
	struct file *f = user_mem_shmem_file(test, PAGE_SIZE, false);
	struct file *g = user_mem_shmem_file(test, PAGE_SIZE, true);
	unsigned long x = user_mem_map_file(test, f, PAGE_SIZE, MAP_LOCKED);
	unsigned long y = user_mem_map_file(test, g, PAGE_SIZE, MAP_LOCKED);
	struct folio *a, *b;

	user_mem_fill(test, x, PAGE_SIZE, 1);
	user_mem_fill(test, y, PAGE_SIZE, 2);
	allow_any_zone(g);
	a = user_mem_folio_at(x, NULL);
	b = user_mem_folio_at(y, NULL);
	KUNIT_ASSERT_NOT_NULL(test, a);
	KUNIT_ASSERT_NOT_NULL(test, b);
	KUNIT_EXPECT_TRUE(test, folio_test_mlocked(a));
	KUNIT_EXPECT_TRUE(test, folio_test_mlocked(b));
	KUNIT_EXPECT_EQ(test, folio_zonenum(b), ZONE_DMA32);
	KUNIT_ASSERT_NE_MSG(test, folio_zonenum(a), folio_zonenum(b),
			    "both pages in zone %d", folio_zonenum(a));
	folio_put(a);
	folio_put(b);

	exchange_and_check(test, x, y, PAGE_SIZE);
}

/* Many pairs in one exchange_folio_pairs() call. */
static void exchange_batch(struct kunit *test)
{
	const unsigned int nr = 80;	/* more than one internal batch */
	unsigned long x = user_mem_map_anon(test, nr * PAGE_SIZE, 0);
	unsigned long y = user_mem_map_anon(test, nr * PAGE_SIZE, 0);
	unsigned long *px, *py, pfn;
	struct exchange_pair *pairs;
	struct stats *before;
	unsigned int i;

	px = kunit_kcalloc(test, nr, sizeof(*px), GFP_KERNEL);
	py = kunit_kcalloc(test, nr, sizeof(*py), GFP_KERNEL);
	pairs = kunit_kcalloc(test, nr, sizeof(*pairs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, px);
	KUNIT_ASSERT_NOT_NULL(test, py);
	KUNIT_ASSERT_NOT_NULL(test, pairs);

	user_mem_fill(test, x, nr * PAGE_SIZE, 1);
	user_mem_fill(test, y, nr * PAGE_SIZE, 2);
	lru_add_drain_all();
	before = stats_new(test);
	for (i = 0; i < nr; i++) {
		pairs[i].a = user_mem_folio_at(x + i * PAGE_SIZE, &px[i]);
		pairs[i].b = user_mem_folio_at(y + i * PAGE_SIZE, &py[i]);
		KUNIT_ASSERT_NOT_NULL(test, pairs[i].a);
		KUNIT_ASSERT_NOT_NULL(test, pairs[i].b);
		KUNIT_ASSERT_EQ(test, folio_order(pairs[i].a), 0);
	}

	KUNIT_EXPECT_EQ(test, exchange_folio_pairs(pairs, nr), nr);
	for (i = 0; i < nr; i++) {
		KUNIT_EXPECT_EQ(test, pairs[i].result, EXCHANGE_DONE);
		folio_put(pairs[i].a);
		folio_put(pairs[i].b);
	}

	user_mem_check(test, x, nr * PAGE_SIZE, 1);
	user_mem_check(test, y, nr * PAGE_SIZE, 2);
	for (i = 0; i < nr; i++) {
		folio_put(user_mem_folio_at(x + i * PAGE_SIZE, &pfn));
		KUNIT_EXPECT_EQ(test, pfn, py[i]);
		folio_put(user_mem_folio_at(y + i * PAGE_SIZE, &pfn));
		KUNIT_EXPECT_EQ(test, pfn, px[i]);
	}
	expect_stats_balance(test, before);
}

static void refuse_order_mismatch(struct kunit *test)
{
	unsigned long x = user_mem_map_thp(test);
	unsigned long y = user_mem_map_anon(test, PAGE_SIZE, 0);
	struct role rx, ry;

	user_mem_fill(test, x, HPAGE_PMD_SIZE, 1);
	user_mem_fill(test, y, PAGE_SIZE, 2);
	rx = role_at(test, x);
	ry = role_at(test, y);
	expect_refused(test, x, y, PAGE_SIZE, exchange_at(x, y), -EINVAL);
	user_mem_check(test, x, HPAGE_PMD_SIZE, 1);
	expect_role(test, role_at(test, x), rx, rx.pfn, "THP");
	expect_role(test, role_at(test, y), ry, ry.pfn, "4K page");
	/* The same folio twice is no pair either */
	KUNIT_EXPECT_EQ(test, exchange_at(y, y), -EINVAL);
}

static void refuse_pinned(struct kunit *test)
{
	unsigned long x = user_mem_map_anon(test, PAGE_SIZE, 0);
	unsigned long y = user_mem_map_anon(test, PAGE_SIZE, 0);
	struct page *pinned;
	struct role rx, ry;

	user_mem_fill(test, x, PAGE_SIZE, 1);
	user_mem_fill(test, y, PAGE_SIZE, 2);
	KUNIT_ASSERT_EQ(test, pin_user_pages_fast(x, 1, FOLL_WRITE |
						  FOLL_LONGTERM, &pinned), 1);
	rx = role_at(test, x);
	ry = role_at(test, y);
	expect_refused(test, x, y, PAGE_SIZE, exchange_at(x, y), -EBUSY);
	expect_refused(test, x, y, PAGE_SIZE, exchange_at(y, x), -EBUSY);
	expect_role(test, role_at(test, x), rx, rx.pfn, "pinned page");
	expect_role(test, role_at(test, y), ry, ry.pfn, "other page");
	unpin_user_page(pinned);
	/* The pin was the only obstacle */
	KUNIT_EXPECT_EQ(test, exchange_at(x, y), 0);
	user_mem_check(test, x, PAGE_SIZE, 1);
	user_mem_check(test, y, PAGE_SIZE, 2);
}

static void refuse_extra_reference(struct kunit *test)
{
	unsigned long x = user_mem_map_anon(test, PAGE_SIZE, 0);
	unsigned long y = user_mem_map_anon(test, PAGE_SIZE, 0);
	struct role rx, ry;
	struct folio *held;

	user_mem_fill(test, x, PAGE_SIZE, 1);
	user_mem_fill(test, y, PAGE_SIZE, 2);
	held = user_mem_folio_at(y, NULL);	/* like a concurrent get_page() */
	KUNIT_ASSERT_NOT_NULL(test, held);
	rx = role_at(test, x);
	ry = role_at(test, y);
	expect_refused(test, x, y, PAGE_SIZE, exchange_at(x, y), -EAGAIN);
	expect_role(test, role_at(test, x), rx, rx.pfn, "other page");
	expect_role(test, role_at(test, y), ry, ry.pfn, "referenced page");
	folio_put(held);
	KUNIT_EXPECT_EQ(test, exchange_at(x, y), 0);
	user_mem_check(test, x, PAGE_SIZE, 1);
	user_mem_check(test, y, PAGE_SIZE, 2);
}

static void refuse_writeback(struct kunit *test)
{
	unsigned long x = user_mem_map_anon(test, PAGE_SIZE, 0);
	unsigned long y = user_mem_map_anon(test, PAGE_SIZE, 0);
	struct folio *wb;
	struct role rx;

	user_mem_fill(test, x, PAGE_SIZE, 1);
	user_mem_fill(test, y, PAGE_SIZE, 2);
	rx = role_at(test, x);
	/* No swap device here: stand in for swap-out I/O with the flag */
	wb = user_mem_folio_at(x, NULL);
	KUNIT_ASSERT_NOT_NULL(test, wb);
	KUNIT_ASSERT_FALSE(test, folio_test_set_writeback(wb));
	expect_refused(test, x, y, PAGE_SIZE, exchange_at(x, y), -EBUSY);
	KUNIT_EXPECT_TRUE(test, folio_test_clear_writeback(wb));
	folio_put(wb);
	expect_role(test, role_at(test, x), rx, rx.pfn, "page under I/O");
}

/* A kernel page: never on an LRU list. */
static void refuse_unmovable(struct kunit *test)
{
	unsigned long y = user_mem_map_anon(test, PAGE_SIZE, 0);
	struct page *page = alloc_page(GFP_KERNEL);
	struct folio *b;
	struct role ry;

	KUNIT_ASSERT_NOT_NULL(test, page);
	user_mem_fill(test, y, PAGE_SIZE, 2);
	ry = role_at(test, y);
	b = user_mem_folio_at(y, NULL);
	KUNIT_EXPECT_EQ(test, exchange_folios(page_folio(page), b), -EBUSY);
	KUNIT_EXPECT_EQ(test, exchange_folios(b, page_folio(page)), -EBUSY);
	KUNIT_EXPECT_EQ(test, page_ref_count(page), 1);
	folio_put(b);
	user_mem_check(test, y, PAGE_SIZE, 2);
	expect_role(test, role_at(test, y), ry, ry.pfn, "user page");
	__free_page(page);
}

static bool xk_isolate(struct page *page, isolate_mode_t mode)
{
	return false;
}

static int xk_migrate(struct page *dst, struct page *src, enum migrate_mode m)
{
	return -EBUSY;
}

static void xk_putback(struct page *page)
{
}

static const struct movable_operations xk_mops = {
	.isolate_page = xk_isolate,
	.migrate_page = xk_migrate,
	.putback_page = xk_putback,
};

/* A page with movable_operations, as zsmalloc and balloon pages have. */
static void refuse_nonlru_movable(struct kunit *test)
{
	unsigned long y = user_mem_map_anon(test, PAGE_SIZE, 0);
	struct page *page = alloc_page(GFP_KERNEL);
	struct folio *b;

	KUNIT_ASSERT_NOT_NULL(test, page);
	lock_page(page);
	__SetPageMovable(page, &xk_mops);
	unlock_page(page);

	user_mem_fill(test, y, PAGE_SIZE, 2);
	b = user_mem_folio_at(y, NULL);
	KUNIT_EXPECT_EQ(test, exchange_folios(b, page_folio(page)),
			-EOPNOTSUPP);
	folio_put(b);
	user_mem_check(test, y, PAGE_SIZE, 2);

	lock_page(page);
	__ClearPageMovable(page);
	page->mapping = NULL;	/* __ClearPageMovable() leaves the type bit */
	unlock_page(page);
	__free_page(page);
}

/*
 * A shmem page that must stay in ZONE_DMA32 (its mapping's gfp mask) is
 * not exchanged into a frame of ZONE_NORMAL, from either side.
 */
static void refuse_zone(struct kunit *test)
{
	struct file *f = user_mem_shmem_file(test, PAGE_SIZE, false);
	struct file *g = user_mem_shmem_file(test, PAGE_SIZE, true);
	unsigned long x = user_mem_map_file(test, f, PAGE_SIZE, 0);
	unsigned long y = user_mem_map_file(test, g, PAGE_SIZE, 0);
	struct role rx, ry;

	user_mem_fill(test, x, PAGE_SIZE, 1);
	user_mem_fill(test, y, PAGE_SIZE, 2);
	rx = role_at(test, x);
	ry = role_at(test, y);
	KUNIT_ASSERT_EQ(test, page_zonenum(pfn_to_page(ry.pfn)), ZONE_DMA32);
	KUNIT_ASSERT_GT(test, page_zonenum(pfn_to_page(rx.pfn)), ZONE_DMA32);
	expect_refused(test, x, y, PAGE_SIZE, exchange_at(x, y), -ERANGE);
	expect_refused(test, x, y, PAGE_SIZE, exchange_at(y, x), -ERANGE);
	expect_role(test, role_at(test, x), rx, rx.pfn, "normal page");
	expect_role(test, role_at(test, y), ry, ry.pfn, "DMA32 page");
	/* Allowed anywhere, it may go */
	allow_any_zone(g);
	exchange_and_check(test, x, y, PAGE_SIZE);
}

/* ---------------------------------------------------------------------- */
/* Per-page state: COW sharing, partly unmapped large folios */

/*
 * A second process sharing the test's memory copy-on-write, as fork()
 * would: a task with a copy of the test's mm that only waits to be told to
 * exit. Its memory is read with access_process_vm().
 */
struct cow_child {
	struct completion go;
	struct task_struct *task;
	pid_t pid;
};

static int cow_child_wait(void *arg)
{
	struct cow_child *c = arg;

	wait_for_completion(&c->go);
	do_exit(0);
}

static void cow_child_end(void *arg)
{
	struct cow_child *c = arg;

	complete(&c->go);
	/* Its mm is gone once it has exited */
	while (!READ_ONCE(c->task->exit_state))
		usleep_range(1000, 2000);
	if (c->task->exit_state == EXIT_ZOMBIE)
		kernel_wait(c->pid, NULL);
	put_task_struct(c->task);
}

static struct cow_child *cow_fork(struct kunit *test)
{
	struct cow_child *c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	struct kernel_clone_args args = {
		.flags = CLONE_UNTRACED,
		.exit_signal = SIGCHLD,
		.fn = cow_child_wait,
	};
	struct pid *pid;

	KUNIT_ASSERT_NOT_NULL(test, c);
	init_completion(&c->go);
	args.fn_arg = c;
	lru_add_drain_all();
	c->pid = kernel_clone(&args);
	KUNIT_ASSERT_GT(test, c->pid, 0);
	pid = find_get_pid(c->pid);
	c->task = get_pid_task(pid, PIDTYPE_PID);
	put_pid(pid);
	if (!c->task) {
		complete(&c->go);
		KUNIT_FAIL_AND_ABORT(test, "child %d gone", c->pid);
	}
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, cow_child_end,
							c), 0);
	return c;
}

/* Every byte the child sees in [addr, addr + len) holds its pattern */
static void cow_child_check(struct kunit *test, struct cow_child *c,
			    unsigned long addr, size_t len, u64 seed)
{
	u64 *buf = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);
	size_t off, i, bad = 0;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	for (off = 0; off < len; off += PAGE_SIZE) {
		KUNIT_ASSERT_EQ(test, access_process_vm(c->task, addr + off,
							buf, PAGE_SIZE, 0),
				PAGE_SIZE);
		for (i = 0; i < PAGE_SIZE / 8; i++)
			bad += buf[i] != user_mem_pattern(addr + off + i * 8,
							  seed);
	}
	KUNIT_EXPECT_EQ_MSG(test, bad, 0,
			    "corrupt words in the child's 0x%lx+0x%zx", addr,
			    len);
	kunit_kfree(test, buf);
}

/* Map the PMD-mapped THP at @addr with PTEs, as an mprotect() of a page would */
static void pte_map(struct kunit *test, unsigned long addr)
{
	struct vm_area_struct *vma;

	mmap_read_lock(current->mm);
	vma = vma_lookup(current->mm, addr);
	if (vma)
		split_huge_pmd_address(vma, addr, false, NULL);
	mmap_read_unlock(current->mm);
	KUNIT_ASSERT_NOT_NULL(test, vma);
}

/* How many pages of the folio at @addr are marked PageAnonExclusive */
static unsigned long anon_exclusive_pages(struct kunit *test,
					  unsigned long addr,
					  unsigned long first, unsigned long nr)
{
	struct folio *folio = user_mem_folio_at(addr, NULL);
	unsigned long i, n = 0;

	KUNIT_ASSERT_NOT_NULL(test, folio);
	for (i = first; i < first + nr; i++)
		n += PageAnonExclusive(folio_page(folio, i));
	folio_put(folio);
	return n;
}

static unsigned long map_large(struct kunit *test, unsigned int order)
{
	return order == HPAGE_PMD_ORDER ? user_mem_map_thp(test) :
					  user_mem_map_mthp(test, order);
}

/*
 * B, a large folio shared copy-on-write with a child (and mapped by PTEs
 * in this process, as an mprotect() of one page would). A, a large folio
 * of this process only, mapped by PTEs, its upper half unmapped
 * (MADV_DONTNEED): its tail pages there keep PageAnonExclusive. Exchange
 * them, then write B's upper half here: the write must copy, and the
 * child's B must not change. It did change when the exchange left A's
 * per-page bits on the frame that took B's data.
 */
static void cow_partly_unmapped(struct kunit *test, unsigned int order)
{
	size_t size = PAGE_SIZE << order, half = size / 2;
	unsigned long nr = 1UL << order, a, b;
	struct cow_child *child;
	struct role ra, rb;

	b = map_large(test, order);
	user_mem_fill(test, b, size, 2);
	child = cow_fork(test);
	if (order == HPAGE_PMD_ORDER)
		pte_map(test, b);
	rb = role_at(test, b);
	KUNIT_ASSERT_EQ(test, rb.mapcount, order == HPAGE_PMD_ORDER ?
			nr + 1 : 2 * nr);
	KUNIT_ASSERT_EQ(test, anon_exclusive_pages(test, b, 0, nr), 0);

	a = map_large(test, order);
	user_mem_fill(test, a, size, 1);
	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, a + half, half,
					 MADV_DONTNEED), 0);
	ra = role_at(test, a);
	KUNIT_ASSERT_EQ(test, ra.mapcount, nr / 2);
	KUNIT_ASSERT_EQ(test, anon_exclusive_pages(test, a, nr / 2, nr / 2),
			nr / 2);

	KUNIT_ASSERT_EQ(test, exchange_at(a, b), 0);
	expect_role(test, role_at(test, a), ra, rb.pfn, "partly unmapped");
	expect_role(test, role_at(test, b), rb, ra.pfn, "COW-shared");
	/* Nothing of B is exclusive on its new frame; A's mapped half is */
	KUNIT_EXPECT_EQ(test, anon_exclusive_pages(test, b, 0, nr), 0);
	KUNIT_EXPECT_EQ(test, anon_exclusive_pages(test, a, 0, nr / 2), nr / 2);

	user_mem_fill(test, b + half, half, 3);
	user_mem_check(test, b, half, 2);
	user_mem_check(test, b + half, half, 3);
	user_mem_check(test, a, half, 1);
	cow_child_check(test, child, b, size, 2);
}

static void exchange_cow_thp(struct kunit *test)
{
	cow_partly_unmapped(test, HPAGE_PMD_ORDER);
}

#define MTHP_ORDER	4	/* 64 KiB */

static void exchange_cow_mthp(struct kunit *test)
{
	cow_partly_unmapped(test, MTHP_ORDER);
}

/*
 * A PMD-mapped THP takes the frame of a partly unmapped one: only its head
 * page may be PageAnonExclusive (page-flags.h); a tail page marked so
 * would make this THP's pages exclusive again once a fork shares it and a
 * split maps it by PTEs.
 */
static void exchange_pmd_mapped_tails(struct kunit *test)
{
	unsigned long a = user_mem_map_thp(test), b = user_mem_map_thp(test);
	unsigned long nr = HPAGE_PMD_NR;

	user_mem_fill(test, a, HPAGE_PMD_SIZE, 1);
	user_mem_fill(test, b, HPAGE_PMD_SIZE, 2);
	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, a + HPAGE_PMD_SIZE / 2,
					 HPAGE_PMD_SIZE / 2, MADV_DONTNEED), 0);
	exchange_and_check(test, a, b, HPAGE_PMD_SIZE / 2);
	user_mem_check(test, b, HPAGE_PMD_SIZE, 2);
	KUNIT_EXPECT_EQ(test, anon_exclusive_pages(test, b, 0, 1), 1);
	KUNIT_EXPECT_EQ(test, anon_exclusive_pages(test, b, 1, nr - 1), 0);
	KUNIT_EXPECT_EQ(test, anon_exclusive_pages(test, a, 0, nr / 2), nr / 2);
	KUNIT_EXPECT_EQ(test, anon_exclusive_pages(test, a, nr / 2, nr / 2), 0);
}

/* ---------------------------------------------------------------------- */
/* Memory errors while copying */

struct copy_error {
	unsigned int calls;
	unsigned int fail_at;	/* the n-th copy from a user page fails */
};

static int copy_fails_once(struct page *to, struct page *from)
{
	struct copy_error *e = kunit_get_current_test()->priv;

	if (++e->calls == e->fail_at)
		return -EHWPOISON;
	copy_highpage(to, from);
	return 0;
}

/*
 * A memory error in the first or the second copy of a page (each page is
 * read twice: A's into the bounce page, B's into A's frame), in the first
 * page, a middle one or the last: the pair is refused with -EHWPOISON and
 * both folios keep their data, frames and roles. Then it exchanges.
 */
static void exchange_copy_error(struct kunit *test, unsigned long x,
				unsigned long y, size_t len)
{
	unsigned long last = len / PAGE_SIZE - 1;
	const unsigned int fail_at[] = { 1, 2, 2 * (last / 2) + 1,
					 2 * (last / 2) + 2, 2 * last + 2 };
	struct copy_error e;
	struct stats *before;
	struct role rx, ry;
	unsigned int i;

	user_mem_fill(test, x, len, 1);
	user_mem_fill(test, y, len, 2);
	test->priv = &e;
	for (i = 0; i < ARRAY_SIZE(fail_at); i++) {
		rx = role_at(test, x);
		ry = role_at(test, y);
		before = stats_new(test);
		e.calls = 0;
		e.fail_at = fail_at[i];
		kunit_activate_static_stub(test, exchange_copy_page,
					   copy_fails_once);
		KUNIT_EXPECT_EQ_MSG(test, exchange_at(x, y), -EHWPOISON,
				    "copy %u", fail_at[i]);
		kunit_deactivate_static_stub(test, exchange_copy_page);
		/* Undoing the pages before it copies them again */
		KUNIT_EXPECT_GE(test, e.calls, fail_at[i]);
		user_mem_check(test, x, len, 1);
		user_mem_check(test, y, len, 2);
		expect_role(test, role_at(test, x), rx, rx.pfn, "first");
		expect_role(test, role_at(test, y), ry, ry.pfn, "second");
		expect_stats_balance(test, before);
	}
	test->priv = NULL;
	exchange_and_check(test, x, y, len);
}

static void exchange_copy_error_4k(struct kunit *test)
{
	exchange_copy_error(test, user_mem_map_anon(test, PAGE_SIZE, 0),
			    user_mem_map_anon(test, PAGE_SIZE, 0), PAGE_SIZE);
}

static void exchange_copy_error_thp(struct kunit *test)
{
	exchange_copy_error(test, user_mem_map_thp(test),
			    user_mem_map_thp(test), HPAGE_PMD_SIZE);
}

static struct kunit_case exchange_cases[] = {
	KUNIT_CASE(exchange_anon_4k),
	KUNIT_CASE(exchange_anon_thp),
	KUNIT_CASE(exchange_shmem_files),
	KUNIT_CASE(exchange_shmem_one_file),
	KUNIT_CASE(exchange_anon_shmem),
	KUNIT_CASE(exchange_cross_zone_mlocked),
	KUNIT_CASE(exchange_anon_shmem_cross_zone_mlocked),
	KUNIT_CASE(exchange_batch),
	KUNIT_CASE(refuse_order_mismatch),
	KUNIT_CASE(refuse_pinned),
	KUNIT_CASE(refuse_extra_reference),
	KUNIT_CASE(refuse_writeback),
	KUNIT_CASE(refuse_unmovable),
	KUNIT_CASE(refuse_nonlru_movable),
	KUNIT_CASE(refuse_zone),
	KUNIT_CASE(exchange_cow_thp),
	KUNIT_CASE(exchange_cow_mthp),
	KUNIT_CASE(exchange_pmd_mapped_tails),
	KUNIT_CASE(exchange_copy_error_4k),
	KUNIT_CASE(exchange_copy_error_thp),
	{}
};

static struct kunit_suite exchange_suite = {
	.name = "exchange",
	.test_cases = exchange_cases,
};

kunit_test_suite(exchange_suite);

MODULE_DESCRIPTION("KUnit tests for the exchange of two in-use folios");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
