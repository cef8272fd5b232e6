// SPDX-License-Identifier: GPL-2.0
/*
 * contig_dma_test: the user interface of /dev/contig_dma, both ioctls,
 * against its contract (linux/contig_dma.h and the errno table of the
 * admin guide).
 *
 * Happy paths: the API version; QUERY's layout against the one computed
 * from /proc/self/pagemap; PREPARE on scattered anonymous and memfd
 * buffers (the range must end up in one run of congruent 2 MiB chunks,
 * every page accounted for in the moves, every byte intact, the reported
 * layout what pagemap shows), with EXCHANGE_ONLY and with a page bound;
 * the size-based versioning (a larger zero-padded struct, an older struct
 * without output room); and another process's memory through a pidfd.
 *
 * Bad input: every refusal of the errno table, and for each the memory the
 * request named (and a buffer of ours, always) must be exactly as before:
 * patterned pages still hold their pattern and, for PREPARE, no page moved
 * to another frame. A refusal that has already done part of the work is
 * the bug this guards against. Also: permission on another user's process,
 * and an munmap racing with PREPARE.
 *
 * Prints "PASS name", "FAIL name: reason" or "SKIP name: reason" per case,
 * indented detail lines with the measured figures, and "N passed, M
 * failed, K skipped" at the end; exits 1 if any case failed. Needs root:
 * PFNs in pagemap are only shown to it, and it sets up the unprivileged
 * and hugetlb cases.
 *
 * --hold FIFO [MIB]: for contig_dma.sh and make demo, which drive contigctl
 * at this process: map a scattered, patterned buffer of MIB MiB (64 by
 * default), write "ADDR PID" to FIFO, wait for SIGTERM, then verify the
 * buffer; exit 0 if it is intact.
 *
 * --hold-half FIFO MIB: the same for contig_dma.sh's PREPARE --populate
 * row, with a buffer of which only every other page was ever written.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/contig_dma.h>
#include <linux/magic.h>

#include "lib/knob.h"
#include "lib/layout.h"
#include "lib/membuf.h"

#define PROG		"contig_dma_test"
#define DEV		"/dev/contig_dma"
#define HPAGE		(2UL << 20)
#define BIG_LEN		(64 * MIB)	/* the buffers PREPARE works on */
#define BIG_PAGES	(BIG_LEN / PAGE_SZ)
#define MAIN_LEN	HPAGE		/* the buffer the bad requests name */
#define MAIN_PAGES	(MAIN_LEN / PAGE_SZ)
#define IOVA_KEY	0x40000000ULL	/* a 1 GiB-aligned DMA key */
#define WRAP_ADDR	0xfffffffffffff000ULL
#define KERNEL_ADDR	0xffff800000000000ULL
#define NOBODY		65534
#define BOGUS_IOCTL	_IO(CONTIG_DMA_TYPE, 0x3f)

/* Pattern ids: each buffer its own, so a page from another one is caught */
#define MAIN_ID		0x10
#define REGION_ID	0x20	/* + region index, in the table's cases */
#define BIG_ID		0x100	/* + case number; the interleaved one | OTHER */
#define OTHER		0x10000

#define offsetofend(T, m)	(offsetof(T, m) + sizeof(((T *)0)->m))
#define QUERY_V1	offsetofend(struct contig_dma_query, key)
#define PREPARE_V1	offsetofend(struct contig_dma_prepare, max_ns)

/* The tests build both structs from one: their input heads must agree. */
_Static_assert(offsetof(struct contig_dma_query, key) ==
	       offsetof(struct contig_dma_prepare, key), "uapi heads differ");
_Static_assert(sizeof(struct contig_dma_query) % 8 == 0 &&
	       sizeof(struct contig_dma_prepare) % 8 == 0,
	       "a tail after the struct would not be the next 8 bytes");

#ifndef SYS_pidfd_open
#define SYS_pidfd_open	434
#endif

static int devfd = -1;
static char *main_buf;
static int passed, failed, skipped;

static int sys_pidfd_open(pid_t pid)
{
	return syscall(SYS_pidfd_open, pid, 0);
}

static const char *ename(int err)
{
	const char *n = strerrorname_np(err);

	return n ? n : "?";
}

/* One case's verdict: reasons accumulate, the line is printed at the end. */
struct result {
	const char *name;
	char why[640];
	size_t len;
};

static bool __attribute__((format(printf, 3, 4)))
check(struct result *res, bool ok, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ok || res->len >= sizeof(res->why) - 1)
		return ok;
	if (res->len)
		res->len += snprintf(res->why + res->len,
				     sizeof(res->why) - res->len, "; ");
	if (res->len >= sizeof(res->why) - 1)
		return ok;
	va_start(ap, fmt);
	n = vsnprintf(res->why + res->len, sizeof(res->why) - res->len, fmt,
		      ap);
	va_end(ap);
	res->len += n > 0 ? (size_t)n : 0;
	if (res->len > sizeof(res->why) - 1)
		res->len = sizeof(res->why) - 1;
	return ok;
}

/* @got: 0 or an errno; @want likewise. */
static bool check_errno(struct result *res, int got, int want)
{
	if (!want)
		return check(res, !got, "expected success, got %s (%s)",
			     ename(got), strerror(got));
	return check(res, got == want, "expected %s, got %s (%s)",
		     ename(want), ename(got), strerror(got));
}

static void finish(struct result *res)
{
	if (res->len) {
		printf("FAIL %s: %s\n", res->name, res->why);
		failed++;
	} else {
		printf("PASS %s\n", res->name);
		passed++;
	}
}

static void skip(const char *name, const char *why)
{
	printf("SKIP %s: %s\n", name, why);
	skipped++;
}

static void to_layout(const struct contig_dma_layout *k, struct layout *l)
{
	l->pages = k->pages;
	l->present = k->present;
	l->runs = k->runs;
	l->longest_run = k->longest_run;
	l->chunks_2m = k->chunks_2m;
	l->chunks_1g = k->chunks_1g;
}

static void print_layout(const char *name, const char *label,
			 const struct contig_dma_layout *k)
{
	struct layout l;
	char s[160];

	to_layout(k, &l);
	snprintf(s, sizeof(s), "  %s: %s", name, label);
	layout_print(stdout, s, &l, false);
}

/*
 * The kernel's @k against pagemap's layout of the same range of @pid (0:
 * ourselves), read right after the call.
 */
static void check_layout(struct result *res, const char *what,
			 const struct contig_dma_layout *k, pid_t pid,
			 unsigned long start, unsigned long len, uint64_t key)
{
	struct layout kl, pl;
	int ret;

	to_layout(k, &kl);
	ret = layout_from_pagemap(pid, start, len, key, &pl);
	if (!check(res, !ret, "%s: pagemap: %s", what, strerror(-ret)))
		return;
	if (check(res, layout_equal(&kl, &pl),
		  "%s: the kernel's layout is not pagemap's", what))
		return;
	layout_print(stdout, "  kernel ", &kl, false);
	layout_print(stdout, "  pagemap", &pl, false);
}

static int query(struct contig_dma_query *q)
{
	return ioctl(devfd, CONTIG_DMA_QUERY, q) ? errno : 0;
}

static int prepare(struct contig_dma_prepare *p)
{
	return ioctl(devfd, CONTIG_DMA_PREPARE, p) ? errno : 0;
}

/*
 * A QUERY of [@addr, @addr + @len) with the VA as key, in the process of
 * @pidfd, or in ours when @pidfd is negative.
 */
static void query_init(struct contig_dma_query *q, int pidfd,
		       const void *addr, unsigned long len)
{
	memset(q, 0, sizeof(*q));
	q->size = sizeof(*q);
	if (pidfd >= 0) {
		q->flags = CONTIG_DMA_F_PIDFD;
		q->pidfd = pidfd;
	}
	q->start = (uintptr_t)addr;
	q->length = len;
	q->key = (uintptr_t)addr;
}

/* The PREPARE of what @q queries: the same leading input fields */
static void prepare_like(struct contig_dma_prepare *p,
			 const struct contig_dma_query *q)
{
	memset(p, 0, sizeof(*p));
	memcpy(p, q, QUERY_V1);
	p->size = sizeof(*p);
}

/* A PREPARE of [start, start + len) at @key, nothing else asked */
static void prepare_init(struct contig_dma_prepare *p, const void *start,
			 unsigned long len, uint64_t key)
{
	memset(p, 0, sizeof(*p));
	p->size = sizeof(*p);
	p->start = (uintptr_t)start;
	p->length = len;
	p->key = key;
}

static unsigned long long failed_sum(const struct contig_dma_moves *m)
{
	unsigned long long n = 0;
	int i;

	for (i = 0; i < CONTIG_DMA_FAIL_NR; i++)
		n += m->failed[i];
	return n;
}

static void print_moves(const char *name, const struct contig_dma_moves *m)
{
	printf("  %s: moves: in_place %llu migrated %llu exchanged %llu failed %llu (unmovable %llu pinned %llu busy %llu unsupported %llu nomem %llu migrate %llu split %llu) thp_moved %llu thp_split %llu segments %u reanchors %u partial %u, %.1f ms\n",
	       name, m->in_place, m->migrated, m->exchanged, failed_sum(m),
	       m->failed[CONTIG_DMA_FAIL_UNMOVABLE],
	       m->failed[CONTIG_DMA_FAIL_PINNED],
	       m->failed[CONTIG_DMA_FAIL_BUSY],
	       m->failed[CONTIG_DMA_FAIL_UNSUPPORTED],
	       m->failed[CONTIG_DMA_FAIL_NOMEM],
	       m->failed[CONTIG_DMA_FAIL_MIGRATE],
	       m->failed[CONTIG_DMA_FAIL_SPLIT], m->thp_moved, m->thp_split,
	       m->segments, m->reanchors, m->partial, m->ns / 1e6);
}

/*
 * Fault in @a and @b a page at a time, last page first and alternating
 * between the two: consecutive pages of @a get frames that are neither
 * adjacent nor ascending, so @a starts with about one run per page, and
 * the frames next to @a's are mostly @b's, whose bytes PREPARE must keep
 * intact while it makes room.
 */
static void fill_scattered(char *a, char *b, unsigned long pages, uint64_t id)
{
	unsigned long i;

	for (i = pages; i-- > 0;) {
		membuf_fill_page(a + i * PAGE_SZ, id, i);
		if (b)
			membuf_fill_page(b + i * PAGE_SZ, id | OTHER, i);
	}
}

/* A scattered, patterned buffer and the one interleaved with it */
struct sbuf {
	char *a, *b;
	unsigned long len, pages;
	uint64_t id;
};

/* @memfd: @a is a shared memfd mapping (shmem); otherwise anonymous. */
static int sbuf_make(struct sbuf *s, unsigned long len, bool memfd,
		     uint64_t id)
{
	int fd = -1, err;

	s->len = len;
	s->pages = len / PAGE_SZ;
	s->id = id;
	s->b = NULL;
	if (memfd) {
		fd = memfd_create(PROG, 0);
		if (fd < 0)
			return errno;
		if (ftruncate(fd, len)) {
			err = errno;
			close(fd);
			return err;
		}
	}
	/* 4 KiB pages: a THP would be contiguous from the start. */
	s->a = membuf_map(len, fd, MADV_NOHUGEPAGE);
	err = errno;
	/* The mapping keeps the memfd's pages; the descriptor is not needed. */
	if (fd >= 0)
		close(fd);
	if (!s->a)
		return err;
	s->b = membuf_map(len, -1, MADV_NOHUGEPAGE);
	if (!s->b) {
		err = errno;
		munmap(s->a, len);
		return err;
	}
	fill_scattered(s->a, s->b, s->pages, id);
	return 0;
}

/* Corrupt pages in @pages pages of @a (from the first) and all of @b */
static unsigned long sbuf_check(const struct sbuf *s, unsigned long pages,
				const char *what)
{
	return membuf_check(s->a, pages, s->id, 0, what) +
	       membuf_check(s->b, s->pages, s->id | OTHER, 0, what);
}

static void sbuf_free(struct sbuf *s, unsigned long a_len)
{
	if (a_len)
		munmap(s->a, a_len);
	munmap(s->b, s->len);
}

/* ---- Happy paths ---- */

static void case_api_version(void)
{
	struct result res = { .name = "GET_API_VERSION" };
	int v = ioctl(devfd, CONTIG_DMA_GET_API_VERSION);

	if (check_errno(&res, v < 0 ? errno : 0, 0))
		check(&res, v == CONTIG_DMA_API_VERSION,
		      "returned %d, expected %d", v, CONTIG_DMA_API_VERSION);
	printf("  API version %d\n", v);
	finish(&res);
}

static void case_query_layout(void)
{
	struct result res = { .name = "query 64 MiB anonymous, 4 KiB pages" };
	struct contig_dma_query q;
	struct layout pm1, pm2, kl;
	int err = 0, ret, tries;
	char *buf;

	buf = membuf_map(BIG_LEN, -1, MADV_NOHUGEPAGE);
	if (!check(&res, buf, "mmap: %s", strerror(errno))) {
		finish(&res);
		return;
	}
	membuf_fill(buf, BIG_PAGES, BIG_ID, 0);
	/*
	 * Compaction may move a page between the two readings; only a
	 * layout that stood still around the call is a fair comparison.
	 */
	for (tries = 0; tries < 3; tries++) {
		query_init(&q, -1, buf, BIG_LEN);
		ret = layout_from_pagemap(0, q.start, BIG_LEN, q.key, &pm1);
		err = query(&q);
		ret = ret ? ret : layout_from_pagemap(0, q.start, BIG_LEN,
						      q.key, &pm2);
		if (ret || err || layout_equal(&pm1, &pm2))
			break;
	}
	if (check_errno(&res, err, 0) &&
	    check(&res, !ret, "pagemap: %s", strerror(-ret))) {
		print_layout(res.name, "kernel ", &q.layout);
		layout_print(stdout, "  pagemap", &pm2, false);
		check(&res, q.layout.pages == BIG_PAGES,
		      "pages %llu, expected %lu", q.layout.pages, BIG_PAGES);
		check(&res, q.layout.present == BIG_PAGES,
		      "present %llu, expected %lu", q.layout.present,
		      BIG_PAGES);
		check(&res, q.layout.runs >= 1, "no run");
		to_layout(&q.layout, &kl);
		check(&res, layout_equal(&kl, &pm2),
		      "the kernel's layout is not pagemap's");
	}
	check(&res, !membuf_check(buf, BIG_PAGES, BIG_ID, 0, res.name),
	      "pages corrupt after QUERY");
	munmap(buf, BIG_LEN);
	finish(&res);
}

/*
 * P_NS_BOUND and P_POLICY_BOUND give a request 1 ms, its own or the
 * administrator's (max_ms): far less than moving 16384 pages takes on any
 * machine, so the request must stop part way.
 */
enum pmode { P_FULL, P_EXCHANGE_ONLY, P_BOUNDED, P_NS_BOUND, P_POLICY_BOUND };

#define BOUND_PAGES	64
#define MAX_MS_KNOB	"/sys/kernel/mm/contig_dma/max_ms"
#define PARTIAL_STAT	"/sys/kernel/mm/contig_dma/stats/requests_partial"

/* A number in a sysfs file; -1 if unreadable */
static long long sysfs_read(const char *path)
{
	long long v = -1;
	FILE *f = fopen(path, "r");

	if (f) {
		if (fscanf(f, "%lld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static int sysfs_write(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY), ret = 0;

	if (fd < 0)
		return errno;
	if (write(fd, value, strlen(value)) < 0)
		ret = errno;
	close(fd);
	return ret;
}

/*
 * PREPARE on a scattered 64 MiB buffer at a 2 MiB-aligned key. P_FULL
 * must reach the target, one run of congruent 2 MiB chunks, on an
 * otherwise idle guest with most memory free; the other modes only check
 * what their flag or bound promises.
 */
static void case_prepare(const char *name, bool memfd, enum pmode mode,
			 int nr)
{
	struct result res = { .name = name };
	struct contig_dma_prepare p;
	struct layout pm;
	unsigned long long moved;
	long long partial0 = 0;
	struct sbuf s;
	int err, ret;

	err = sbuf_make(&s, BIG_LEN, memfd, BIG_ID + nr);
	if (!check(&res, !err, "mapping the buffers: %s", strerror(err))) {
		finish(&res);
		return;
	}
	/* Anonymous: the VA itself, as RDMA uses; memfd: an IOVA. */
	prepare_init(&p, s.a, s.len, memfd ? IOVA_KEY : (uintptr_t)s.a);
	if (mode == P_EXCHANGE_ONLY)
		p.flags = CONTIG_DMA_F_EXCHANGE_ONLY;
	if (mode == P_BOUNDED)
		p.max_pages = BOUND_PAGES;
	if (mode == P_NS_BOUND)
		p.max_ns = 1000000;

	ret = layout_from_pagemap(0, p.start, p.length, p.key, &pm);
	if (!ret)
		printf("  %s: %s buffer at %p, key %#llx: %lu present pages in %lu runs before (pagemap)\n",
		       name, memfd ? "memfd" : "anonymous", s.a, p.key,
		       pm.present, pm.runs);
	/* The comparisons below mean nothing on a buffer that is not. */
	check(&res, !ret && pm.runs > 1,
	      "test setup: the buffer is not scattered (%lu runs)", pm.runs);

	if (mode == P_POLICY_BOUND) {
		partial0 = sysfs_read(PARTIAL_STAT);
		ret = sysfs_write(MAX_MS_KNOB, "1");
		check(&res, !ret, "writing 1 to " MAX_MS_KNOB ": %s",
		      strerror(ret));
	}
	err = prepare(&p);
	if (mode == P_POLICY_BOUND) {
		ret = sysfs_write(MAX_MS_KNOB, "0");
		check(&res, !ret, "writing 0 to " MAX_MS_KNOB ": %s",
		      strerror(ret));
		check(&res, sysfs_read(PARTIAL_STAT) > partial0,
		      "stats/requests_partial did not count the request");
	}
	if (check_errno(&res, err, 0)) {
		print_layout(name, "before", &p.before);
		print_layout(name, "after ", &p.after);
		print_moves(name, &p.moves);
		check_layout(&res, "after", &p.after, 0, p.start, p.length,
			     p.key);
		check(&res, p.before.pages == s.pages &&
		      p.before.present == s.pages,
		      "before: pages %llu present %llu, expected %lu each",
		      p.before.pages, p.before.present, s.pages);
	}
	check(&res, !sbuf_check(&s, s.pages, name),
	      "pages corrupt (the buffer or the one interleaved with it)");
	moved = p.moves.migrated + p.moves.exchanged;

	/*
	 * Requests stopped by a bound account for only what they reached;
	 * the pages of a chunk anchored again count each time they moved.
	 */
	if (!err && (mode == P_FULL || mode == P_EXCHANGE_ONLY) &&
	    !p.moves.reanchors)
		check(&res, p.moves.in_place + moved + failed_sum(&p.moves) ==
		      p.before.present,
		      "moves account for %llu pages, %llu present",
		      p.moves.in_place + moved + failed_sum(&p.moves),
		      p.before.present);
	else if (!err && (mode == P_FULL || mode == P_EXCHANGE_ONLY))
		check(&res, p.moves.in_place + moved + failed_sum(&p.moves) >=
		      p.before.present,
		      "moves account for %llu pages, %llu present, after %u re-anchored chunks",
		      p.moves.in_place + moved + failed_sum(&p.moves),
		      p.before.present, p.moves.reanchors);
	if (!err && mode == P_FULL) {
		check(&res, p.after.runs < p.before.runs,
		      "runs %llu -> %llu, no fewer", p.before.runs,
		      p.after.runs);
		check(&res, p.after.chunks_2m == s.len / HPAGE &&
		      p.after.runs == 1,
		      "target not reached: %llu runs, %llu of %lu 2 MiB chunks",
		      p.after.runs, p.after.chunks_2m, s.len / HPAGE);
	}
	if (!err && mode == P_EXCHANGE_ONLY)
		check(&res, !p.moves.migrated,
		      "%llu pages migrated with EXCHANGE_ONLY",
		      p.moves.migrated);
	if (!err && mode == P_BOUNDED) {
		check(&res, p.moves.partial == 1, "partial is %u, expected 1",
		      p.moves.partial);
		/* One THP may carry the count past the bound, no more. */
		check(&res, moved >= 1 && moved <= BOUND_PAGES + 512,
		      "%llu pages moved, bound %d", moved, BOUND_PAGES);
	}
	if (!err && (mode == P_NS_BOUND || mode == P_POLICY_BOUND)) {
		check(&res, p.moves.partial == 1, "partial is %u, expected 1",
		      p.moves.partial);
		check(&res, moved < s.pages,
		      "all %llu pages moved within 1 ms", moved);
	}
	sbuf_free(&s, s.len);
	finish(&res);
}

/*
 * A caller built against the first version of the struct: no room for
 * the output, so the kernel must accept the request and write nothing
 * past the size it was given.
 */
static void case_old_size(bool is_query, int nr)
{
	struct result res = { .name = is_query ?
		"query with the first struct version (no output room)" :
		"prepare with the first struct version (no output room)" };
	uint64_t raw[(sizeof(struct contig_dma_prepare) + 64) / 8];
	size_t size = is_query ? QUERY_V1 : PREPARE_V1, i, dirty = 0;
	struct contig_dma_prepare p;
	struct layout l0, l1;
	unsigned char *bytes = (unsigned char *)raw;
	struct sbuf s;
	int err;

	err = sbuf_make(&s, 4 * MIB, false, BIG_ID + nr);
	if (!check(&res, !err, "mapping the buffers: %s", strerror(err))) {
		finish(&res);
		return;
	}
	memset(&p, 0, sizeof(p));
	p.size = size;
	p.start = (uintptr_t)s.a;
	p.length = s.len;
	p.key = (uintptr_t)s.a;
	memset(raw, 0xa5, sizeof(raw));
	memcpy(raw, &p, size);
	layout_from_pagemap(0, p.start, p.length, p.key, &l0);
	err = ioctl(devfd, is_query ? CONTIG_DMA_QUERY : CONTIG_DMA_PREPARE,
		    raw) ? errno : 0;
	layout_from_pagemap(0, p.start, p.length, p.key, &l1);
	check_errno(&res, err, 0);
	for (i = size; i < sizeof(raw); i++)
		if (bytes[i] != 0xa5 && !dirty++)
			check(&res, false, "byte %zu past size %zu written (%#x)",
			      i, size, bytes[i]);
	if (dirty)
		check(&res, false, "%zu bytes written in all", dirty);
	printf("  size %zu: runs %lu -> %lu (pagemap), %zu bytes written past it\n",
	       size, l0.runs, l1.runs, dirty);
	check(&res, !sbuf_check(&s, s.pages, res.name), "pages corrupt");
	sbuf_free(&s, s.len);
	finish(&res);
}

/*
 * Another process's memory through a pidfd, with the same uid: the
 * forked child faults in and patterns its own pages (the parent's copy
 * of the mapping stays empty), the parent makes them contiguous, the
 * child verifies them once the parent closes @ctl.
 */
static void case_pidfd(void)
{
	struct result rq = { .name = "query through a pidfd" };
	struct result rp = { .name = "prepare through a pidfd" };
	int ready[2], ctl[2], pidfd, err, status;
	struct contig_dma_query q;
	struct contig_dma_prepare p;
	char *a, *b, c;
	pid_t pid;

	a = membuf_map(BIG_LEN, -1, MADV_NOHUGEPAGE);
	b = membuf_map(BIG_LEN, -1, MADV_NOHUGEPAGE);
	if (!a || !b || pipe(ready) || pipe(ctl)) {
		check(&rq, false, "setup: %s", strerror(errno));
		check(&rp, false, "setup: %s", strerror(errno));
		goto out;
	}
	pid = fork();
	if (!pid) {
		unsigned long bad;

		close(ready[0]);
		close(ctl[1]);
		fill_scattered(a, b, BIG_PAGES, BIG_ID);
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		/* End of file: the parent is done with our memory. */
		while (read(ctl[0], &c, 1) > 0)
			;
		bad = membuf_check(a, BIG_PAGES, BIG_ID, 0, "pidfd child") +
		      membuf_check(b, BIG_PAGES, BIG_ID | OTHER, 0,
				   "pidfd child");
		printf("  pidfd child: %lu corrupt pages\n", bad);
		_exit(bad ? 1 : 0);
	}
	close(ready[1]);
	close(ctl[0]);
	pidfd = pid > 0 ? sys_pidfd_open(pid) : -1;
	if (pidfd < 0 || read(ready[0], &c, 1) != 1) {
		check(&rq, false, "setup: fork/pidfd_open/child: %s",
		      strerror(errno));
		check(&rp, false, "setup failed");
		close(ctl[1]);
		if (pid > 0)
			waitpid(pid, NULL, 0);
		close(ready[0]);
		goto out;
	}

	query_init(&q, pidfd, a, BIG_LEN);
	err = query(&q);
	if (check_errno(&rq, err, 0)) {
		print_layout(rq.name, "child's buffer", &q.layout);
		check(&rq, q.layout.present == BIG_PAGES,
		      "present %llu, expected %lu (the child's pages)",
		      q.layout.present, BIG_PAGES);
		check_layout(&rq, "child", &q.layout, pid, q.start, q.length,
			     q.key);
	}

	prepare_like(&p, &q);
	err = prepare(&p);
	if (check_errno(&rp, err, 0)) {
		print_layout(rp.name, "before", &p.before);
		print_layout(rp.name, "after ", &p.after);
		print_moves(rp.name, &p.moves);
		check(&rp, p.after.runs < p.before.runs,
		      "runs %llu -> %llu, no fewer", p.before.runs,
		      p.after.runs);
		check_layout(&rp, "child after", &p.after, pid, p.start,
			     p.length, p.key);
	}
	close(ctl[1]);
	if (waitpid(pid, &status, 0) != pid)
		status = -1;
	check(&rp, status == 0,
	      "the child's verification failed (status %#x)", status);
	close(pidfd);
	close(ready[0]);
out:
	if (a)
		munmap(a, BIG_LEN);
	if (b)
		munmap(b, BIG_LEN);
	finish(&rq);
	finish(&rp);
}

/* What the unprivileged child saw, sent back through a pipe */
struct unpriv_report {
	int setup_err;		/* errno of dropping privileges, opening */
	int query_pidfd, prepare_pidfd, query_own, prepare_own;
	unsigned long own_runs_before, own_runs_after;
	unsigned long corrupt;
};

static int unpriv_child(int report_fd)
{
	struct unpriv_report r = { 0 };
	struct contig_dma_prepare p;
	struct contig_dma_query q;
	struct sbuf s;
	int pidfd;

	pidfd = sys_pidfd_open(getppid());
	if (pidfd < 0 || setgroups(0, NULL) ||
	    setresgid(NOBODY, NOBODY, NOBODY) ||
	    setresuid(NOBODY, NOBODY, NOBODY)) {
		r.setup_err = errno;
		goto out;
	}
	/* Our own open, as nobody: the node must be usable by anyone. */
	devfd = open(DEV, O_RDWR);
	if (devfd < 0) {
		r.setup_err = errno;
		goto out;
	}

	query_init(&q, pidfd, main_buf, MAIN_LEN);
	r.query_pidfd = query(&q);
	prepare_like(&p, &q);
	r.prepare_pidfd = prepare(&p);

	r.setup_err = sbuf_make(&s, 4 * MIB, false, BIG_ID);
	if (r.setup_err)
		goto out;
	query_init(&q, -1, s.a, s.len);
	r.query_own = query(&q);
	prepare_like(&p, &q);
	r.prepare_own = prepare(&p);
	r.own_runs_before = p.before.runs;
	r.own_runs_after = p.after.runs;
	r.corrupt = sbuf_check(&s, s.pages, "unprivileged child");
out:
	if (write(report_fd, &r, sizeof(r)) != sizeof(r))
		return 2;
	return r.setup_err || r.query_pidfd != EPERM ||
	       r.prepare_pidfd != EPERM || r.query_own != EPERM || r.prepare_own ||
	       r.corrupt ? 1 : 0;
}

/*
 * A child as uid/gid 65534 without capabilities: on the memory of a
 * root process through a pidfd it must get EPERM (migrate_pages(2)'s
 * rule), and nothing of ours may change; on its own memory it needs no
 * privilege for PREPARE (free frames only), but QUERY needs
 * CAP_SYS_ADMIN (see unprivileged_test for the rest of the model).
 */
static void case_unprivileged(void)
{
	struct result r1 = { .name = "unprivileged query of root's memory through a pidfd" };
	struct result r2 = { .name = "unprivileged prepare of root's memory through a pidfd" };
	struct result r3 = { .name = "unprivileged query of its own memory (EPERM: no layout without CAP_SYS_ADMIN)" };
	struct result r4 = { .name = "unprivileged prepare of its own memory" };
	struct unpriv_report rep;
	uint64_t *pfns0, *pfns1;
	unsigned long moved = 0, i;
	int fds[2], status = -1;
	ssize_t n = -1;
	pid_t pid;

	pfns0 = calloc(MAIN_PAGES, sizeof(*pfns0));
	pfns1 = calloc(MAIN_PAGES, sizeof(*pfns1));
	membuf_fill(main_buf, MAIN_PAGES, MAIN_ID, 0);
	if (!pfns0 || !pfns1 || pagemap_pfns(0, (uintptr_t)main_buf, MAIN_LEN,
					     pfns0) || pipe(fds)) {
		check(&r1, false, "setup failed");
		check(&r2, false, "setup failed");
		check(&r3, false, "setup failed");
		check(&r4, false, "setup failed");
		goto out;
	}
	pid = fork();
	if (!pid) {
		close(fds[0]);
		_exit(unpriv_child(fds[1]));
	}
	close(fds[1]);
	/* The child's report, or nothing if it died first. */
	if (pid > 0) {
		n = read(fds[0], &rep, sizeof(rep));
		waitpid(pid, &status, 0);
	}
	close(fds[0]);
	if (n != (ssize_t)sizeof(rep) || rep.setup_err) {
		/* Nothing was tried: none of the four may pass. */
		char why[96];

		if (n != (ssize_t)sizeof(rep))
			snprintf(why, sizeof(why),
				 "no report from the child (exit status %#x)",
				 status);
		else
			snprintf(why, sizeof(why), "child setup: %s",
				 strerror(rep.setup_err));
		check(&r1, false, "%s", why);
		check(&r2, false, "%s", why);
		check(&r3, false, "%s", why);
		check(&r4, false, "%s", why);
	} else {
		check_errno(&r1, rep.query_pidfd, EPERM);
		check_errno(&r2, rep.prepare_pidfd, EPERM);
		check_errno(&r3, rep.query_own, EPERM);
		check_errno(&r4, rep.prepare_own, 0);
		check(&r4, !rep.corrupt, "%lu of its pages corrupt",
		      rep.corrupt);
		printf("  unprivileged child's own 4 MiB: runs %lu -> %lu, %lu corrupt pages; exit status %#x\n",
		       rep.own_runs_before, rep.own_runs_after, rep.corrupt,
		       status);
	}
	check(&r1, !membuf_check(main_buf, MAIN_PAGES, MAIN_ID, 0, r1.name),
	      "root's pages corrupt");
	if (!pagemap_pfns(0, (uintptr_t)main_buf, MAIN_LEN, pfns1))
		for (i = 0; i < MAIN_PAGES; i++)
			moved += pfns0[i] != pfns1[i];
	check(&r2, !moved, "%lu of root's %lu pages moved", moved, MAIN_PAGES);
out:
	free(pfns0);
	free(pfns1);
	finish(&r1);
	finish(&r2);
	finish(&r3);
	finish(&r4);
}

/* ---- Bad input, table-driven ---- */

#define MAX_REGIONS	4

/* Memory a case's request names, checked to be untouched afterwards */
struct region {
	char *addr;
	unsigned long pages;
	uint64_t id;
	bool pattern;	/* false: device memory, never written nor read */
	uint64_t *pfns;	/* before the call */
};

struct env {
	unsigned long nr;		/* the ioctl */
	/* The request: PREPARE's input fields, also QUERY's head */
	struct contig_dma_prepare r;
	__u64 tail;			/* the 8 bytes after the struct */
	bool bad_ptr;
	bool ro_arg;			/* the argument in read-only memory */
	bool zero_tail;			/* ... or followed by a zeroed page */
	struct region reg[MAX_REGIONS];
	int nreg;
	struct {
		void *addr;
		size_t len;
	} map[MAX_REGIONS];
	int nmap;
	int fd;				/* closed afterwards when >= 0 */
	void (*undo)(struct env *e);	/* after the unmaps and close */
	char why[200];			/* SKIP or setup failure */
};

/* Register @pages pages at @addr to check; patterned now unless @dev. */
static int env_region(struct env *e, void *addr, unsigned long pages,
		      bool dev)
{
	struct region *r = &e->reg[e->nreg];

	r->addr = addr;
	r->pages = pages;
	r->id = e->nreg ? REGION_ID + e->nreg : MAIN_ID;
	r->pattern = !dev;
	/* Now: the case may leave a hole that a later mmap could fill. */
	r->pfns = calloc(pages, sizeof(*r->pfns));
	if (!r->pfns) {
		snprintf(e->why, sizeof(e->why), "out of memory");
		return -1;
	}
	if (r->pattern)
		membuf_fill(addr, pages, r->id, 0);
	e->nreg++;
	return 0;
}

static void *env_map(struct env *e, size_t len, int prot, int flags, int fd)
{
	void *p = mmap(NULL, len, prot, flags, fd, 0);

	if (p == MAP_FAILED) {
		snprintf(e->why, sizeof(e->why), "mmap of %zu bytes: %s", len,
			 strerror(errno));
		return NULL;
	}
	e->map[e->nmap].addr = p;
	e->map[e->nmap++].len = len;
	return p;
}

static void env_range(struct env *e, void *addr, unsigned long len)
{
	e->r.start = (uintptr_t)addr;
	e->r.length = len;
	e->r.key = (uintptr_t)addr;
}

/* Anonymous 4 KiB pages, like main_buf, that the case can punch holes in */
static char *env_anon(struct env *e, unsigned long pages)
{
	char *p = env_map(e, pages * PAGE_SZ, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1);

	if (p)
		madvise(p, pages * PAGE_SZ, MADV_NOHUGEPAGE);
	return p;
}

static int set_none(struct env *e)
{
	(void)e;
	return 0;
}

static int set_size0(struct env *e)
{
	e->r.size = 0;
	return 0;
}

static int set_size4(struct env *e)
{
	e->r.size = 4;
	return 0;
}

static int set_flag31(struct env *e)
{
	e->r.flags |= 1U << 31;
	return 0;
}

static int set_reserved(struct env *e)
{
	e->r.__reserved = 1;
	return 0;
}

/* A real pidfd (of ourselves): the missing flag alone must be the error. */
static int set_pidfd_noflag(struct env *e)
{
	e->fd = sys_pidfd_open(getpid());
	if (e->fd < 0) {
		snprintf(e->why, sizeof(e->why), "pidfd_open: %s",
			 strerror(errno));
		return -1;
	}
	e->r.pidfd = e->fd;
	return 0;
}

static int set_exchange_only(struct env *e)
{
	e->r.flags |= CONTIG_DMA_F_EXCHANGE_ONLY;
	return 0;
}

static int set_len0(struct env *e)
{
	e->r.length = 0;
	return 0;
}

static int set_start_unaligned(struct env *e)
{
	e->r.start++;
	return 0;
}

static int set_len_unaligned(struct env *e)
{
	e->r.length = PAGE_SZ + 1;
	return 0;
}

static int set_key_unaligned(struct env *e)
{
	e->r.key++;
	return 0;
}

static int set_start_wrap(struct env *e)
{
	e->r.start = WRAP_ADDR;
	e->r.length = 2 * PAGE_SZ;
	e->r.key = IOVA_KEY;	/* only the range may wrap */
	return 0;
}

static int set_key_wrap(struct env *e)
{
	e->r.length = 2 * PAGE_SZ;
	e->r.key = WRAP_ADDR;
	return 0;
}

static int set_pgsize_no4k(struct env *e)
{
	e->r.pgsize_bitmap = HPAGE;
	return 0;
}

/* Three pages, the middle one unmapped */
static int set_hole(struct env *e)
{
	char *p = env_anon(e, 3);

	if (!p || env_region(e, p, 1, false) ||
	    env_region(e, p + 2 * PAGE_SZ, 1, false))
		return -1;
	munmap(p + PAGE_SZ, PAGE_SZ);
	env_range(e, p, 3 * PAGE_SZ);
	return 0;
}

/* Two pages mapped, the request runs one page past them */
static int set_beyond_end(struct env *e)
{
	char *p = env_anon(e, 4);

	if (!p || env_region(e, p, 2, false))
		return -1;
	munmap(p + 2 * PAGE_SZ, 2 * PAGE_SZ);
	env_range(e, p, 3 * PAGE_SZ);
	return 0;
}

/* Address space that was reserved and given back: surely unmapped */
static int set_never_mapped(struct env *e)
{
	char *p = mmap(NULL, 16 * PAGE_SZ, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		snprintf(e->why, sizeof(e->why), "mmap: %s", strerror(errno));
		return -1;
	}
	munmap(p, 16 * PAGE_SZ);
	env_range(e, p, 4 * PAGE_SZ);
	return 0;
}

static int set_kernel_half(struct env *e)
{
	e->r.start = KERNEL_ADDR;
	e->r.length = PAGE_SZ;
	e->r.key = IOVA_KEY;
	return 0;
}

/* 2 MiB whose second half mprotect() turned into a VMA of its own */
static int set_two_vmas(struct env *e)
{
	char *p = env_anon(e, MAIN_PAGES);

	if (!p || env_region(e, p, MAIN_PAGES, false))
		return -1;
	if (mprotect(p + MAIN_LEN / 2, MAIN_LEN / 2, PROT_READ)) {
		snprintf(e->why, sizeof(e->why), "mprotect: %s",
			 strerror(errno));
		return -1;
	}
	env_range(e, p, MAIN_LEN);
	return 0;
}

#define NR_HUGEPAGES	"/proc/sys/vm/nr_hugepages"
static long saved_hugepages = -1;

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static int write_long(const char *path, long v)
{
	FILE *f = fopen(path, "w");
	int ret;

	if (!f)
		return -1;
	ret = fprintf(f, "%ld\n", v) < 0;
	return fclose(f) || ret ? -1 : 0;
}

static void undo_hugetlb(struct env *e)
{
	(void)e;
	if (saved_hugepages >= 0)
		write_long(NR_HUGEPAGES, saved_hugepages);
	saved_hugepages = -1;
}

static int set_hugetlb(struct env *e)
{
	char *p;

	saved_hugepages = read_long(NR_HUGEPAGES);
	e->undo = undo_hugetlb;
	if (saved_hugepages < 8)
		write_long(NR_HUGEPAGES, 8);
	p = mmap(NULL, HPAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (p == MAP_FAILED) {
		snprintf(e->why, sizeof(e->why),
			 "MAP_HUGETLB of 2 MiB: %s (nr_hugepages %ld)",
			 strerror(errno), read_long(NR_HUGEPAGES));
		return 1;
	}
	e->map[e->nmap].addr = p;
	e->map[e->nmap++].len = HPAGE;
	if (env_region(e, p, HPAGE / PAGE_SZ, false))
		return -1;
	env_range(e, p, HPAGE);
	return 0;
}

/*
 * Device memory: /dev/mem is often missing or restricted, but a PCI
 * memory BAR mapped through sysfs is VM_IO | VM_PFNMAP
 * (io_remap_pfn_range) and the guest has PCI devices. Mapped read-only
 * and never touched: a device register read or written may have effects.
 */
static int set_pfnmap(struct env *e)
{
	glob_t g;
	size_t i;
	char *p = MAP_FAILED;

	if (glob("/sys/bus/pci/devices/*/resource[0-9]", 0, NULL, &g)) {
		snprintf(e->why, sizeof(e->why),
			 "no PCI resource files in sysfs");
		return 1;
	}
	for (i = 0; i < g.gl_pathc && p == MAP_FAILED; i++) {
		struct stat st;
		int fd;

		if (stat(g.gl_pathv[i], &st) || st.st_size < (off_t)PAGE_SZ)
			continue;
		fd = open(g.gl_pathv[i], O_RDONLY);
		if (fd < 0)
			continue;
		/* Fails for I/O port BARs: the next file is tried. */
		p = mmap(NULL, PAGE_SZ, PROT_READ, MAP_SHARED, fd, 0);
		close(fd);
		if (p != MAP_FAILED)
			printf("  device memory: %s\n", g.gl_pathv[i]);
	}
	if (p == MAP_FAILED) {
		snprintf(e->why, sizeof(e->why),
			 "none of %zu PCI resource files could be mapped (no memory BAR?)",
			 g.gl_pathc);
		globfree(&g);
		return 1;
	}
	globfree(&g);
	e->map[e->nmap].addr = p;
	e->map[e->nmap++].len = PAGE_SZ;
	if (env_region(e, p, 1, true))
		return -1;
	env_range(e, p, PAGE_SZ);
	return 0;
}

/*
 * A regular file mapping: PREPARE moves only anonymous and shmem pages.
 * The guest's / and /tmp are tmpfs, which is shmem and accepted, so the
 * file lives on a ramfs mounted for the purpose: ramfs is always built
 * in, and its pages are plain page cache, neither anonymous nor shmem.
 * Skipped if the file ends up on tmpfs after all.
 */
static char ramfs_dir[64], ramfs_file[96];

static void undo_ramfs(struct env *e)
{
	(void)e;
	unlink(ramfs_file);
	umount(ramfs_dir);
	rmdir(ramfs_dir);
}

static int set_ramfs(struct env *e)
{
	const unsigned long pages = 16;
	struct statfs sf;
	char *p;

	snprintf(ramfs_dir, sizeof(ramfs_dir), "/tmp/" PROG ".XXXXXX");
	if (!mkdtemp(ramfs_dir)) {
		snprintf(e->why, sizeof(e->why), "mkdtemp: %s",
			 strerror(errno));
		return 1;
	}
	if (mount(PROG, ramfs_dir, "ramfs", 0, NULL)) {
		snprintf(e->why, sizeof(e->why), "mounting ramfs: %s",
			 strerror(errno));
		rmdir(ramfs_dir);
		return 1;
	}
	e->undo = undo_ramfs;
	snprintf(ramfs_file, sizeof(ramfs_file), "%s/file", ramfs_dir);
	e->fd = open(ramfs_file, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (e->fd < 0 || ftruncate(e->fd, pages * PAGE_SZ) ||
	    fstatfs(e->fd, &sf)) {
		snprintf(e->why, sizeof(e->why), "%s: %s", ramfs_file,
			 strerror(errno));
		return -1;
	}
	if (sf.f_type == TMPFS_MAGIC) {
		snprintf(e->why, sizeof(e->why),
			 "%s is on tmpfs (shmem), not a regular file system",
			 ramfs_file);
		return 1;
	}
	p = env_map(e, pages * PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED,
		    e->fd);
	if (!p || env_region(e, p, pages, false))
		return -1;
	env_range(e, p, pages * PAGE_SZ);
	return 0;
}

/*
 * A private file mapping of this program: read only (its text), or
 * written, so that its pages are anonymous COW copies in a file VMA (its
 * data). Neither is anonymous or shmem memory: EOPNOTSUPP.
 */
static int set_private_file(struct env *e, bool written)
{
	const unsigned long pages = 4;
	volatile char *p;
	unsigned long i;

	e->fd = open("/proc/self/exe", O_RDONLY);
	if (e->fd < 0) {
		snprintf(e->why, sizeof(e->why), "/proc/self/exe: %s",
			 strerror(errno));
		return -1;
	}
	p = env_map(e, pages * PAGE_SZ,
		    PROT_READ | (written ? PROT_WRITE : 0), MAP_PRIVATE, e->fd);
	if (!p)
		return -1;
	for (i = 0; i < pages; i++)
		(void)p[i * PAGE_SZ];
	if (env_region(e, (char *)p, pages, !written))
		return -1;
	env_range(e, (char *)p, pages * PAGE_SZ);
	return 0;
}

static int set_private_text(struct env *e)
{
	return set_private_file(e, false);
}

static int set_private_written(struct env *e)
{
	return set_private_file(e, true);
}

/*
 * A size above a page, every byte past the struct zero (so that only the
 * bound refuses it): E2BIG.
 */
static int set_size_page(struct env *e)
{
	e->r.size = PAGE_SZ + 8;
	e->zero_tail = true;
	return 0;
}

static int set_pidfd_minus1(struct env *e)
{
	e->r.flags |= CONTIG_DMA_F_PIDFD;
	e->r.pidfd = -1;
	return 0;
}

static int set_pidfd_file(struct env *e)
{
	e->fd = open("/proc/self/exe", O_RDONLY);
	if (e->fd < 0) {
		snprintf(e->why, sizeof(e->why), "/proc/self/exe: %s",
			 strerror(errno));
		return -1;
	}
	e->r.flags |= CONTIG_DMA_F_PIDFD;
	e->r.pidfd = e->fd;
	return 0;
}

/* A pidfd taken while the child lived, used after it was reaped */
static int set_pidfd_reaped(struct env *e)
{
	int fds[2];
	pid_t pid;
	char c;

	if (pipe(fds)) {
		snprintf(e->why, sizeof(e->why), "pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (!pid) {
		close(fds[1]);
		_exit(read(fds[0], &c, 1) < 0);
	}
	close(fds[0]);
	e->fd = pid > 0 ? sys_pidfd_open(pid) : -1;
	if (e->fd < 0)
		snprintf(e->why, sizeof(e->why), "fork/pidfd_open: %s",
			 strerror(errno));
	close(fds[1]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	if (e->fd < 0)
		return -1;
	e->r.flags |= CONTIG_DMA_F_PIDFD;
	e->r.pidfd = e->fd;
	return 0;
}

/* A newer caller's struct: 8 more bytes, zero */
static int set_tail_zero(struct env *e)
{
	e->r.size += 8;
	e->tail = 0;
	return 0;
}

/* ... with one byte of them not zero */
static int set_tail_nonzero(struct env *e)
{
	e->r.size += 8;
	e->tail = 1ULL << 40;
	return 0;
}

static int set_bad_ptr(struct env *e)
{
	e->bad_ptr = true;
	return 0;
}

/*
 * The argument readable but not writable: the outputs cannot be written
 * back, and that must be found before any page moves (it once was not:
 * the range was rearranged, then EFAULT).
 */
static int set_ro_arg(struct env *e)
{
	e->ro_arg = true;
	return 0;
}

/*
 * The request as the struct of its ioctl, @e->r.size bytes of it
 * meaningful and @e->tail right after the struct.
 */
static int issue(const struct env *e)
{
	uint64_t arg[sizeof(struct contig_dma_prepare) / 8 + 1];
	bool is_query = e->nr == CONTIG_DMA_QUERY;
	size_t head = is_query ? QUERY_V1 : PREPARE_V1;
	size_t size = is_query ? sizeof(struct contig_dma_query) :
		      sizeof(struct contig_dma_prepare);

	void *ro;
	int err;

	memset(arg, 0, sizeof(arg));
	memcpy(arg, &e->r, head);
	memcpy((char *)arg + size, &e->tail, sizeof(e->tail));
	if (e->ro_arg || e->zero_tail) {
		ro = mmap(NULL, 2 * PAGE_SZ, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (ro == MAP_FAILED)
			return errno;
		memcpy(ro, arg, sizeof(arg));
		err = e->ro_arg && mprotect(ro, 2 * PAGE_SZ, PROT_READ) ? errno :
		      ioctl(devfd, e->nr, ro) ? errno : 0;
		munmap(ro, 2 * PAGE_SZ);
		return err;
	}
	/* Page 1: below mmap_min_addr, never mapped. */
	return ioctl(devfd, e->nr, e->bad_ptr ? (void *)PAGE_SZ : arg) ?
	       errno : 0;
}

/* Patterns intact; with @pfns, every page still in its frame. */
static void check_untouched(struct result *res, const struct env *e,
			    bool pfns)
{
	unsigned long bad, moved, i;
	uint64_t *now;
	int k, ret;

	for (k = 0; k < e->nreg; k++) {
		const struct region *r = &e->reg[k];

		if (r->pattern) {
			bad = membuf_check(r->addr, r->pages, r->id, 0,
					   res->name);
			check(res, !bad, "%lu of %lu pages corrupt at %p", bad,
			      r->pages, r->addr);
		}
		if (!pfns)
			continue;
		now = calloc(r->pages, sizeof(*now));
		ret = now ? pagemap_pfns(0, (uintptr_t)r->addr,
					 r->pages * PAGE_SZ, now) : -ENOMEM;
		if (!check(res, !ret, "pagemap after: %s", strerror(-ret))) {
			free(now);
			continue;
		}
		for (moved = 0, i = 0; i < r->pages; i++)
			moved += now[i] != r->pfns[i];
		check(res, !moved, "%lu of %lu pages at %p moved", moved,
		      r->pages, r->addr);
		free(now);
	}
}

static void env_undo(struct env *e)
{
	int k;

	for (k = 0; k < e->nmap; k++)
		munmap(e->map[k].addr, e->map[k].len);
	if (e->fd >= 0)
		close(e->fd);
	if (e->undo)
		e->undo(e);
	for (k = 0; k < e->nreg; k++)
		free(e->reg[k].pfns);
}

struct tcase {
	const char *name;
	unsigned long nr;
	int err;		/* expected: an errno, or 0 */
	int (*setup)(struct env *e);	/* 0; 1: SKIP; -1: failed */
};

#define Q(name, err, fn)	{ "query " name, CONTIG_DMA_QUERY, err, fn }
#define P(name, err, fn)	{ "prepare " name, CONTIG_DMA_PREPARE, err, fn }
#define QP(name, err, fn)	Q(name, err, fn), P(name, err, fn)

static const struct tcase cases[] = {
	QP("size 0", EINVAL, set_size0),
	QP("size 4", EINVAL, set_size4),
	QP("unknown flag 1U << 31", EINVAL, set_flag31),
	QP("__reserved not zero", EINVAL, set_reserved),
	QP("pidfd without CONTIG_DMA_F_PIDFD", EINVAL, set_pidfd_noflag),
	Q("with CONTIG_DMA_F_EXCHANGE_ONLY", EINVAL, set_exchange_only),
	QP("length 0", EINVAL, set_len0),
	QP("start not page aligned", EINVAL, set_start_unaligned),
	QP("length not page aligned", EINVAL, set_len_unaligned),
	QP("key not page aligned", EINVAL, set_key_unaligned),
	QP("start + length wraps", EOVERFLOW, set_start_wrap),
	QP("key + length wraps", EOVERFLOW, set_key_wrap),
	P("pgsize_bitmap without 4 KiB", EINVAL, set_pgsize_no4k),
	QP("range with a hole", ENOMEM, set_hole),
	QP("range past the end of the mapping", ENOMEM, set_beyond_end),
	QP("range never mapped", ENOMEM, set_never_mapped),
	QP("range in the kernel's half", EINVAL, set_kernel_half),
	QP("range spanning two VMAs", EINVAL, set_two_vmas),
	QP("hugetlb", EOPNOTSUPP, set_hugetlb),
	QP("PCI BAR (VM_IO | VM_PFNMAP)", EOPNOTSUPP, set_pfnmap),
	Q("regular file (ramfs)", 0, set_ramfs),
	P("regular file (ramfs)", EOPNOTSUPP, set_ramfs),
	P("private file mapping, read only (a program's text)", EOPNOTSUPP,
	  set_private_text),
	P("private file mapping, written (COW pages, a program's data)",
	  EOPNOTSUPP, set_private_written),
	QP("pidfd -1", EBADF, set_pidfd_minus1),
	QP("regular file as pidfd", EBADF, set_pidfd_file),
	QP("pidfd of a reaped child", ESRCH, set_pidfd_reaped),
	Q("size + 8, zero extra bytes", 0, set_tail_zero),
	QP("size + 8, an extra byte not zero", E2BIG, set_tail_nonzero),
	QP("size above a page", E2BIG, set_size_page),
	QP("bad argument pointer", EFAULT, set_bad_ptr),
	QP("argument in read-only memory", EFAULT, set_ro_arg),
	{ "unknown ioctl number", BOGUS_IOCTL, ENOTTY, set_none },
};

static void run_case(const struct tcase *t)
{
	struct result res = { .name = t->name };
	struct env e = { .nr = t->nr, .fd = -1 };
	int k, ret, got;

	e.r.size = t->nr == CONTIG_DMA_QUERY ? sizeof(struct contig_dma_query) :
		   sizeof(struct contig_dma_prepare);
	env_range(&e, main_buf, MAIN_LEN);
	ret = env_region(&e, main_buf, MAIN_PAGES, false);
	if (!ret)
		ret = t->setup(&e);
	if (ret > 0) {
		skip(t->name, e.why);
		env_undo(&e);
		return;
	}
	if (ret < 0) {
		check(&res, false, "setup: %s", e.why);
	} else {
		for (k = 0; k < e.nreg && !ret; k++)
			ret = pagemap_pfns(0, (uintptr_t)e.reg[k].addr,
					   e.reg[k].pages * PAGE_SZ,
					   e.reg[k].pfns);
		if (check(&res, !ret, "pagemap: %s", strerror(-ret))) {
			got = issue(&e);
			check_errno(&res, got, t->err);
			/* QUERY never moves pages; a success may. */
			check_untouched(&res, &e, t->nr != CONTIG_DMA_QUERY &&
					t->err);
		}
	}
	env_undo(&e);
	finish(&res);
}

/* ---- An munmap racing with PREPARE ---- */

struct unmapper {
	pthread_barrier_t go;
	char *addr;
	size_t len;
	unsigned int delay_us;
	int err;
	uint64_t done_ns;
};

static void *unmapper_run(void *arg)
{
	struct unmapper *u = arg;

	pthread_barrier_wait(&u->go);
	usleep(u->delay_us);
	u->err = munmap(u->addr, u->len) ? errno : 0;
	u->done_ns = now_ns();
	return NULL;
}

/*
 * A thread unmaps the second half of the range after @delay_us while
 * PREPARE works on all of it: 0 (done before the unmap mattered) or
 * ENOMEM are both right; the first half must keep every byte.
 */
static void case_concurrent_munmap(int round, unsigned int delay_us, int nr)
{
	char name[80];
	struct result res = { .name = name };
	struct unmapper u = { .delay_us = delay_us };
	struct contig_dma_prepare p;
	pthread_t thread;
	uint64_t t0, t1;
	struct sbuf s;
	int err;

	snprintf(name, sizeof(name),
		 "prepare while the range is unmapped, round %d", round);
	err = sbuf_make(&s, BIG_LEN, false, BIG_ID + nr);
	if (!check(&res, !err, "mapping the buffers: %s", strerror(err))) {
		finish(&res);
		return;
	}
	u.addr = s.a + s.len / 2;
	u.len = s.len / 2;
	pthread_barrier_init(&u.go, NULL, 2);
	if (!check(&res, !pthread_create(&thread, NULL, unmapper_run, &u),
		   "pthread_create failed")) {
		sbuf_free(&s, s.len);
		finish(&res);
		return;
	}
	prepare_init(&p, s.a, s.len, (uintptr_t)s.a);
	pthread_barrier_wait(&u.go);
	t0 = now_ns();
	err = prepare(&p);
	t1 = now_ns();
	pthread_join(thread, NULL);
	pthread_barrier_destroy(&u.go);
	printf("  round %d: munmap after %u us %s, %s PREPARE returned %s after %.1f ms\n",
	       round, delay_us, u.err ? strerror(u.err) : "done",
	       u.done_ns <= t1 ? "before" : "after", ename(err),
	       (t1 - t0) / 1e6);
	if (!err || err == ENOMEM)
		print_moves(name, &p.moves);
	check(&res, !err || err == ENOMEM,
	      "expected success or ENOMEM, got %s (%s)", ename(err),
	      strerror(err));
	check(&res, !u.err, "munmap: %s", strerror(u.err));
	check(&res, !sbuf_check(&s, s.pages / 2, name),
	      "pages of the first half (or of the other buffer) corrupt");
	sbuf_free(&s, s.len / 2);
	finish(&res);
}

/*
 * kill -9 of a process in the middle of an exchange-only PREPARE of its
 * scattered buffer (moves that take seconds here): it must be gone as
 * promptly as the same process killed while idle (its exit frees the
 * same memory), give or take KILL_PROMPT_MS, and a PREPARE right after, of
 * a new buffer, must still work (no claim or lock left behind).
 */
#define KILL_AFTER_MS	300
#define KILL_PROMPT_MS	1000

/* Kill a child with the buffers set up, in a PREPARE or idle: ns to gone */
static uint64_t kill_child(struct result *res, int nr, bool in_prepare)
{
	struct contig_dma_prepare p;
	int ready[2], status;
	uint64_t t_kill;
	struct sbuf s;
	pid_t pid;
	char c;

	if (!check(res, !pipe(ready), "pipe: %s", strerror(errno)))
		return 0;
	fflush(NULL);
	pid = fork();
	if (!pid) {
		close(ready[0]);
		if (sbuf_make(&s, BIG_LEN, false, BIG_ID + nr))
			_exit(2);
		prepare_init(&p, s.a, s.len, (uintptr_t)s.a);
		p.flags = CONTIG_DMA_F_EXCHANGE_ONLY;
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		if (in_prepare)
			prepare(&p);
		else
			pause();
		_exit(3);	/* finished before the kill: too fast to tell */
	}
	close(ready[1]);
	if (!check(res, pid > 0 && read(ready[0], &c, 1) == 1,
		   "the child could not set up its buffer")) {
		close(ready[0]);
		if (pid > 0)
			waitpid(pid, &status, 0);
		return 0;
	}
	close(ready[0]);
	usleep(KILL_AFTER_MS * 1000);
	t_kill = now_ns();
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	check(res, WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	      "the %s child ended before the kill (status %#x)",
	      in_prepare ? "preparing" : "idle", status);
	return now_ns() - t_kill;
}

static void case_kill_during_prepare(int nr)
{
	struct result res = { .name = "kill -9 during a PREPARE" };
	struct contig_dma_prepare p;
	uint64_t idle, busy;
	struct sbuf s;
	int err;

	idle = kill_child(&res, nr, false);
	busy = kill_child(&res, nr + 1, true);
	printf("  killed %d ms into the PREPARE: gone %.1f ms later; killed idle with the same buffers: %.1f ms\n",
	       KILL_AFTER_MS, busy / 1e6, idle / 1e6);
	check(&res, busy < idle + KILL_PROMPT_MS * 1000000ULL,
	      "gone %.1f ms after the kill, the idle one %.1f ms",
	      busy / 1e6, idle / 1e6);

	/* Nothing left behind: another PREPARE goes through */
	err = sbuf_make(&s, BIG_LEN, false, BIG_ID + nr + 2);
	if (check(&res, !err, "mapping the buffers: %s", strerror(err))) {
		prepare_init(&p, s.a, s.len, (uintptr_t)s.a);
		err = prepare(&p);
		check(&res, !err, "a PREPARE after the kill: %s", ename(err));
		check(&res, !sbuf_check(&s, s.pages, res.name),
		      "pages corrupt after the PREPARE");
		sbuf_free(&s, s.len);
	}
	finish(&res);
}

/*
 * Bounded on any range: a PREPARE with max_ns = 1 ms on a scattered 1 GiB
 * buffer (262 144 pages to move, many seconds of work) must stop within a
 * few ms with a partial result, its reading of the page tables and its
 * window search included, and move nothing it then loses.
 */
#define GIB			(1024 * MIB)
#define BOUNDED_NS		1000000ULL
/* Wide enough for a debug kernel under TCG, tight against the full job */
#define BOUNDED_SLACK_NS	(50 * 1000000ULL)

static void case_gigabyte_in_a_millisecond(int nr)
{
	struct result res = { .name = "prepare of 1 GiB with max_ns=1 ms" };
	struct contig_dma_prepare p;
	uint64_t t0, wall;
	struct sbuf s;
	int err;

	err = sbuf_make(&s, GIB, false, BIG_ID + nr);
	if (!check(&res, !err, "mapping the buffers: %s", strerror(err))) {
		finish(&res);
		return;
	}
	prepare_init(&p, s.a, s.len, IOVA_KEY);
	p.max_ns = BOUNDED_NS;
	t0 = now_ns();
	err = prepare(&p);
	wall = now_ns() - t0;
	if (check_errno(&res, err, 0)) {
		printf("  %s: engine %.2f ms (plan %.2f, index %.2f, search %.2f), ioctl %.2f ms with both layouts; %llu pages moved, %llu of %llu present, partial %u\n",
		       res.name, p.moves.ns / 1e6, p.times.plan_ns / 1e6,
		       p.times.index_ns / 1e6, p.times.search_ns / 1e6,
		       wall / 1e6, p.moves.migrated + p.moves.exchanged,
		       p.before.present, p.before.pages, p.moves.partial);
		check(&res, p.before.present == s.pages,
		      "%llu pages present, expected %lu", p.before.present,
		      s.pages);
		check(&res, p.moves.partial == 1, "partial is %u, expected 1",
		      p.moves.partial);
		check(&res, p.moves.migrated + p.moves.exchanged < s.pages / 2,
		      "%llu pages moved within 1 ms",
		      p.moves.migrated + p.moves.exchanged);
		check(&res, p.moves.ns <= BOUNDED_NS + BOUNDED_SLACK_NS,
		      "the engine took %.1f ms with a bound of 1 ms",
		      p.moves.ns / 1e6);
		check_layout(&res, "after", &p.after, 0, p.start, p.length,
			     p.key);
	}
	check(&res, !sbuf_check(&s, s.pages, res.name),
	      "pages corrupt (the buffer or the one interleaved with it)");
	sbuf_free(&s, s.len);
	finish(&res);
}

/*
 * A huge sparse range costs what it maps: 1 TiB of MAP_NORESERVE with one
 * page touched must get a quick answer, with the page accounted for and
 * intact, and no allocation the size of the range (which the kernel would
 * refuse with a warning).
 */
#define SPARSE_LEN		(1024 * GIB)
#define SPARSE_PAGE		(SPARSE_LEN / 2 + 5 * PAGE_SZ)
#define SPARSE_MAX_NS		(1000 * 1000000ULL)

static void case_sparse_terabyte(void)
{
	struct result res = { .name = "prepare of 1 TiB with one page touched" };
	struct contig_dma_prepare p;
	uint64_t t0, wall;
	char *a;
	int err;

	a = mmap(NULL, SPARSE_LEN, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!check(&res, a != MAP_FAILED, "mmap of 1 TiB: %s",
		   strerror(errno))) {
		finish(&res);
		return;
	}
	/* One page, not the THP around it */
	madvise(a, SPARSE_LEN, MADV_NOHUGEPAGE);
	membuf_fill_page(a + SPARSE_PAGE, MAIN_ID, 0);
	prepare_init(&p, a, SPARSE_LEN, (uintptr_t)a);
	t0 = now_ns();
	err = prepare(&p);
	wall = now_ns() - t0;
	if (check_errno(&res, err, 0)) {
		printf("  %s: %.2f ms (engine %.2f ms), %llu of %llu pages present, %llu in place, %llu moved\n",
		       res.name, wall / 1e6, p.moves.ns / 1e6,
		       p.before.present, p.before.pages, p.moves.in_place,
		       p.moves.migrated + p.moves.exchanged);
		check(&res, p.before.present == 1 && p.after.present == 1,
		      "present %llu before, %llu after, expected 1",
		      p.before.present, p.after.present);
		check(&res, p.moves.in_place + p.moves.migrated +
		      p.moves.exchanged + failed_sum(&p.moves) == 1,
		      "the moves account for %llu pages, not 1",
		      p.moves.in_place + p.moves.migrated +
		      p.moves.exchanged + failed_sum(&p.moves));
	}
	check(&res, wall <= SPARSE_MAX_NS, "the PREPARE took %.1f ms",
	      wall / 1e6);
	check(&res, !membuf_check(a + SPARSE_PAGE, 1, MAIN_ID, 0, res.name),
	      "the page touched is corrupt");
	munmap(a, SPARSE_LEN);
	finish(&res);
}

/* ---- contig_dma.sh's target ---- */

/*
 * A holder's start: SIGTERM and SIGINT blocked before the address is out,
 * so that none can be missed; then the FIFO opened, first thing, so that
 * the reader sees end of file, not a hang, if the holder dies. Returns the
 * FIFO's descriptor, or -1.
 */
static int hold_open(const char *fifo, sigset_t *set)
{
	int fd;

	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigprocmask(SIG_BLOCK, set, NULL);
	fd = open(fifo, O_WRONLY);
	if (fd < 0)
		fprintf(stderr, PROG ": %s: %s\n", fifo, strerror(errno));
	return fd;
}

/* Tell the reader of @fd "ADDR PID"; nonzero on failure */
static int hold_announce(int fd, const char *fifo, const void *addr)
{
	int ret = dprintf(fd, "%#lx %d\n", (unsigned long)addr,
			  (int)getpid()) < 0;

	if (ret)
		fprintf(stderr, PROG ": %s: %s\n", fifo, strerror(errno));
	close(fd);
	return ret;
}

static int hold(const char *fifo, unsigned long len)
{
	struct layout l;
	unsigned long bad;
	struct sbuf s;
	sigset_t set;
	int fd, sig, err;

	fd = hold_open(fifo, &set);
	if (fd < 0)
		return 2;
	err = sbuf_make(&s, len, false, BIG_ID);
	if (err) {
		fprintf(stderr, PROG ": hold: mapping: %s\n", strerror(err));
		return 2;
	}
	if (!layout_from_pagemap(0, (uintptr_t)s.a, s.len, (uintptr_t)s.a, &l))
		printf(PROG ": hold: %lu MiB at %p, pid %d: %lu present pages in %lu runs\n",
		       s.len / MIB, s.a, (int)getpid(), l.present, l.runs);
	fflush(stdout);
	if (hold_announce(fd, fifo, s.a))
		return 2;
	sigwait(&set, &sig);
	if (!layout_from_pagemap(0, (uintptr_t)s.a, s.len, (uintptr_t)s.a, &l))
		printf(PROG ": hold: now %lu runs, %lu congruent 2 MiB chunks\n",
		       l.runs, l.chunks_2m);
	bad = sbuf_check(&s, s.pages, PROG ": hold");
	printf(PROG ": hold: VERIFY pages=%lu corrupt=%lu\n", 2 * s.pages,
	       bad);
	return bad ? 1 : 0;
}

/* The word --hold-half writes at word @w of page @i */
static uint64_t half_word(unsigned long i, unsigned long w)
{
	return 0x9e3779b97f4a7c15ULL * (i + 1) ^ w;
}

/*
 * --hold-half FIFO MIB: for contig_dma.sh's PREPARE --populate row. Holds
 * MIB MiB of 4 KiB pages (MADV_NOHUGEPAGE) of which only the even pages
 * are written, the odd ones never touched; stopped, it prints the layout
 * and checks that the even pages hold what was written and the odd ones
 * read zero, whatever populated and moved them meanwhile.
 */
static int hold_half(const char *fifo, unsigned long len)
{
	unsigned long pages = len / PAGE_SZ, i, w, bad = 0;
	const unsigned long words = PAGE_SZ / sizeof(uint64_t);
	struct layout l;
	uint64_t *a;
	sigset_t set;
	int fd, sig;

	fd = hold_open(fifo, &set);
	if (fd < 0)
		return 2;
	/* 2 MiB aligned, so that PREPARE keyed by the VA has whole chunks */
	a = mmap(NULL, len + 2 * MIB, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a != MAP_FAILED)
		a = (uint64_t *)(((uintptr_t)a + 2 * MIB - 1) & ~(2 * MIB - 1));
	if (a == MAP_FAILED || madvise(a, len, MADV_NOHUGEPAGE)) {
		fprintf(stderr, PROG ": hold-half: mapping: %s\n",
			strerror(errno));
		return 2;
	}
	for (i = 0; i < pages; i += 2)
		for (w = 0; w < words; w++)
			a[i * words + w] = half_word(i, w);
	if (!layout_from_pagemap(0, (uintptr_t)a, len, (uintptr_t)a, &l))
		printf(PROG ": hold-half: %lu MiB at %p, pid %d: %lu present pages in %lu runs\n",
		       len / MIB, (void *)a, (int)getpid(), l.present, l.runs);
	fflush(stdout);
	if (hold_announce(fd, fifo, a))
		return 2;
	sigwait(&set, &sig);
	/* Before reading: a read would fault the zero page into the holes */
	if (!layout_from_pagemap(0, (uintptr_t)a, len, (uintptr_t)a, &l))
		printf(PROG ": hold-half: now %lu present pages, %lu runs, %lu congruent 2 MiB chunks\n",
		       l.present, l.runs, l.chunks_2m);
	for (i = 0; i < pages; i++) {
		for (w = 0; w < words; w++)
			if (a[i * words + w] != (i % 2 ? 0 : half_word(i, w)))
				break;
		bad += w < words;
	}
	printf(PROG ": hold-half: VERIFY pages=%lu corrupt=%lu\n", pages, bad);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	unsigned int i;
	int nr = 0;

	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "--hold"))
		return hold(argv[2], argc == 4 ?
			    strtoul(argv[3], NULL, 0) * MIB : BIG_LEN);
	if (argc == 4 && !strcmp(argv[1], "--hold-half"))
		return hold_half(argv[2], strtoul(argv[3], NULL, 0) * MIB);
	if (argc != 1) {
		fprintf(stderr, "usage: " PROG "\n       " PROG " --hold FIFO [MIB]\n       " PROG " --hold-half FIFO MIB\n");
		return 2;
	}
	/* Children fork with nothing buffered, and lines keep their order. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (geteuid()) {
		printf(PROG ": needs root (PFNs in pagemap, the uid switch)\n");
		return 77;
	}
	devfd = open(DEV, O_RDWR);
	if (devfd < 0) {
		printf("FAIL open " DEV ": %s\n0 passed, 1 failed, 0 skipped\n",
		       strerror(errno));
		return 1;
	}
	main_buf = membuf_map(MAIN_LEN, -1, MADV_NOHUGEPAGE);
	if (!main_buf) {
		perror(PROG ": mmap");
		return 1;
	}
	/* Scattered: a PREPARE wrongly let through would move its pages. */
	fill_scattered(main_buf, NULL, MAIN_PAGES, MAIN_ID);

	case_api_version();
	case_query_layout();
	case_prepare("prepare 64 MiB anonymous, scattered", false, P_FULL,
		     nr++);
	case_prepare("prepare 64 MiB memfd, scattered", true, P_FULL, nr++);
	case_prepare("prepare with CONTIG_DMA_F_EXCHANGE_ONLY", false,
		     P_EXCHANGE_ONLY, nr++);
	case_prepare("prepare with max_pages=64", false, P_BOUNDED, nr++);
	case_prepare("prepare with max_ns=1 ms", false, P_NS_BOUND, nr++);
	case_prepare("prepare under the policy's max_ms=1", false,
		     P_POLICY_BOUND, nr++);
	case_old_size(true, nr++);
	case_old_size(false, nr++);
	case_pidfd();
	case_unprivileged();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
	case_concurrent_munmap(1, 0, nr++);
	case_concurrent_munmap(2, 5000, nr++);
	case_concurrent_munmap(3, 50000, nr++);
	case_kill_during_prepare(nr);
	nr += 3;
	case_gigabyte_in_a_millisecond(nr++);
	case_sparse_terabyte();

	printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
	return failed ? 1 : 0;
}
