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
#include <linux/sched/mm.h>
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
 * and 2) and check data, frames, roles, LRU and statistics.
 */
static void exchange_and_check(struct kunit *test, unsigned long x,
			       unsigned long y, size_t len)
{
	struct role rx = role_at(test, x), ry = role_at(test, y);
	struct stats *before = stats_new(test);

	KUNIT_ASSERT_NE(test, rx.pfn, ry.pfn);
	KUNIT_ASSERT_EQ(test, exchange_at(x, y), 0);

	user_mem_check(test, x, len, 1);
	user_mem_check(test, y, len, 2);
	expect_role(test, role_at(test, x), rx, ry.pfn, "first address");
	expect_role(test, role_at(test, y), ry, rx.pfn, "second address");
	expect_stats_balance(test, before);
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
 * anon <-> shmem, then shmem <-> anon: the shmem role is unmapped rather
 * than migrated, and faults back in (user_mem_check() does) from the page cache.
 */
static void exchange_anon_shmem(struct kunit *test)
{
	struct file *f = user_mem_shmem_file(test, PAGE_SIZE, false);
	unsigned long x = user_mem_map_anon(test, PAGE_SIZE, 0);
	unsigned long y = user_mem_map_file(test, f, PAGE_SIZE, 0);

	user_mem_fill(test, x, PAGE_SIZE, 1);
	user_mem_fill(test, y, PAGE_SIZE, 2);
	exchange_and_check(test, x, y, PAGE_SIZE);
	/* The shmem folio first this time */
	user_mem_fill(test, x, PAGE_SIZE, 2);
	user_mem_fill(test, y, PAGE_SIZE, 1);
	exchange_and_check(test, y, x, PAGE_SIZE);
}

/* An mlocked anon page and an mlocked shmem page in another zone */
static void exchange_anon_shmem_cross_zone_mlocked(struct kunit *test)
{
	struct file *g = user_mem_shmem_file(test, PAGE_SIZE, true);
	unsigned long x = user_mem_map_anon(test, PAGE_SIZE, MAP_LOCKED);
	unsigned long y = user_mem_map_file(test, g, PAGE_SIZE, MAP_LOCKED);
	struct folio *a, *b;

	user_mem_fill(test, x, PAGE_SIZE, 1);
	user_mem_fill(test, y, PAGE_SIZE, 2);
	a = user_mem_folio_at(x, NULL);
	b = user_mem_folio_at(y, NULL);
	KUNIT_ASSERT_NOT_NULL(test, a);
	KUNIT_ASSERT_NOT_NULL(test, b);
	KUNIT_ASSERT_NE(test, folio_zonenum(a), folio_zonenum(b));
	folio_put(a);
	folio_put(b);
	exchange_and_check(test, x, y, PAGE_SIZE);
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

/* A refused exchange leaves both addresses exactly as they were. */
static void expect_refused(struct kunit *test, unsigned long x,
			   unsigned long y, size_t len, int ret, int err)
{
	KUNIT_EXPECT_EQ(test, ret, err);
	user_mem_check(test, x, len, 1);
	user_mem_check(test, y, len, 2);
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
	{}
};

static struct kunit_suite exchange_suite = {
	.name = "exchange",
	.test_cases = exchange_cases,
};

kunit_test_suite(exchange_suite);

MODULE_DESCRIPTION("KUnit tests for the exchange of two in-use folios");
MODULE_LICENSE("GPL");
