// SPDX-License-Identifier: GPL-2.0
/*
 * exchange_stress: processes keep writing and verifying patterned pages
 * while the kernel exchanges their pages with each other, continuously,
 * through /sys/kernel/debug/contig/exchange.
 *
 * Workers, each a process with one region:
 *   anon      4 KiB anonymous pages (MADV_NOHUGEPAGE); rewrites and
 *             verifies every page, and in turn: madvise(DONTNEED)s a chunk,
 *             munmap()s and re-maps one, mremap()s one away and back, and
 *             fork()s a child that verifies the region (sharing it COW
 *             while it runs)
 *   thp       anonymous THPs (MADV_HUGEPAGE); rewrites and verifies
 *   cow       a forked pair mapping the same COW-shared anonymous pages;
 *             both verify them, neither writes
 *   memfd     a memfd mapped by two processes; each owns every other page,
 *             writes it under a per-page sequence count, and verifies all
 *             pages, its partner's included
 *   cow-thp   THPs shared copy-on-write with a child forked anew every
 *             second, mapped by PTEs in both; the parent writes the first
 *             half of every THP, the child the second half, both verify
 *             all; each round the parent also unmaps the upper half of one
 *             THP (MADV_DONTNEED) and writes it again, so that partly
 *             unmapped THPs are exchanged too
 *   cow-mthp  the same with 64 KiB mTHPs
 *   mlocked   mlock()ed 4 KiB pages; rewrites and verifies, and checks that
 *             smaps still counts all of them Locked
 *   soft-dirty  4 KiB pages; clears its soft-dirty bits, writes a random
 *             half of its pages, and checks that exactly those are
 *             soft-dirty in pagemap
 *   pressure  maps, touches and unmaps large anonymous areas
 * The driver picks random pairs of pages of the exchangeable regions (also
 * of different kinds, which the kernel must refuse when their orders
 * differ) and asks for them to be exchanged, until the time is up.
 *
 * Before that, functional checks: a COW-shared page mapped by two processes
 * is exchanged (both mappings follow, the mapcount follows, both see their
 * data); a hugetlb page and a KSM page are refused.
 *
 * Prints "RESULT key=value ..." and exits 1 on any corrupt page, a failed
 * check, a worker that died, or an exchange count of zero.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/procpage.h"

#define PAGE		4096UL
#define HPAGE		(2UL << 20)
#define WORDS		(PAGE / 8)
#define KNOB		"/sys/kernel/debug/contig/exchange"

enum kind { ANON, THP, COW, MEMFD, COW_THP, COW_MTHP, MLOCKED, SOFT_DIRTY,
	    NR_KINDS };

static const char *const kind_name[NR_KINDS] = {
	"anon", "thp", "cow", "memfd", "cow-thp", "cow-mthp", "mlocked",
	"soft-dirty",
};

/* A region as the driver sees it; workers publish theirs in shared memory */
struct region {
	pid_t pid;
	enum kind kind;
	uintptr_t base;
	unsigned long pages;
	unsigned long step;	/* folio size the driver steps by */
};

#define NR_REGIONS	10
#define MTHP		(64UL << 10)

struct shared {
	struct region region[NR_REGIONS];
	volatile int ready;
	volatile int stop;
	volatile unsigned long verified[NR_REGIONS];
	volatile unsigned long corrupt[NR_REGIONS];
};

static struct shared *sh;
/* Pairs the functional checks exchanged (they are traced too) */
static unsigned long functional_done;

static uint64_t pattern(unsigned long idx, uint64_t gen, unsigned long word)
{
	uint64_t x = (idx << 32) ^ (gen << 12) ^ word ^ 0x5eed5eedULL;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

/* Word 0: sequence count (memfd), word 1: generation, then the pattern */
static void write_page(volatile uint64_t *p, unsigned long idx, uint64_t gen)
{
	unsigned long i;

	p[1] = gen;
	for (i = 2; i < WORDS; i++)
		p[i] = pattern(idx, gen, i);
}

static int page_ok(const volatile uint64_t *p, unsigned long idx, uint64_t gen)
{
	unsigned long i;

	if (p[1] != gen)
		return 0;
	for (i = 2; i < WORDS; i++)
		if (p[i] != pattern(idx, gen, i))
			return 0;
	return 1;
}

static void report_corrupt(int r, unsigned long idx, const volatile uint64_t *p,
			   uint64_t gen)
{
	if (sh->corrupt[r]++ < 5)
		fprintf(stderr, "CORRUPT %s region %d page %lu: gen %llu expected %llu\n",
			kind_name[sh->region[r].kind], r, idx,
			(unsigned long long)p[1], (unsigned long long)gen);
}

static void *map_region(size_t len, int advice)
{
	char *p = mmap(NULL, len + HPAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	p = (char *)(((uintptr_t)p + HPAGE - 1) & ~(HPAGE - 1));
	madvise(p, len, advice);
	return p;
}

static void publish(int r, enum kind kind, void *base, unsigned long pages,
		    unsigned long step)
{
	sh->region[r] = (struct region){ getpid(), kind, (uintptr_t)base,
					 pages, step };
	__atomic_add_fetch(&sh->ready, 1, __ATOMIC_SEQ_CST);
}

/* Verify, rewrite with the next generation, verify again: every page. */
static void rewrite_all(int r, char *base, unsigned long pages, uint64_t *gen)
{
	unsigned long i;

	for (i = 0; i < pages && !sh->stop; i++) {
		volatile uint64_t *p = (uint64_t *)(base + i * PAGE);

		if (!page_ok(p, i, gen[i]))
			report_corrupt(r, i, p, gen[i]);
		write_page(p, i, ++gen[i]);
		if (!page_ok(p, i, gen[i]))
			report_corrupt(r, i, p, gen[i]);
		sh->verified[r]++;
	}
}

static int verify_all(char *base, unsigned long pages, const uint64_t *gen)
{
	unsigned long i, bad = 0;

	for (i = 0; i < pages; i++)
		bad += !page_ok((uint64_t *)(base + i * PAGE), i, gen[i]);
	return bad != 0;
}

#define CHUNK	16

/* One disturbance of the anon region; the chunk is rewritten afterwards. */
static void disturb(int r, char *base, unsigned long pages, uint64_t *gen,
		    unsigned int round)
{
	unsigned long first = (unsigned long)rand() % (pages - CHUNK), i;
	char *chunk = base + first * PAGE;
	size_t len = CHUNK * PAGE;
	int lost = 1, status;
	pid_t child;
	void *away;

	switch (round % 4) {
	case 0:
		madvise(chunk, len, MADV_DONTNEED);
		break;
	case 1:
		munmap(chunk, len);
		if (mmap(chunk, len, PROT_READ | PROT_WRITE, MAP_PRIVATE |
			 MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) {
			perror("mmap fixed");
			exit(2);
		}
		madvise(chunk, len, MADV_NOHUGEPAGE);
		break;
	case 2:
		away = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0);
		if (away == MAP_FAILED ||
		    mremap(chunk, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
			   away) == MAP_FAILED ||
		    mremap(away, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
			   chunk) == MAP_FAILED) {
			perror("mremap");
			exit(2);
		}
		lost = 0;
		break;
	case 3:
		child = fork();
		if (child == 0)
			_exit(verify_all(base, pages, gen));
		if (child > 0 && waitpid(child, &status, 0) == child &&
		    (!WIFEXITED(status) || WEXITSTATUS(status))) {
			fprintf(stderr, "CORRUPT anon region seen by a forked child\n");
			sh->corrupt[r]++;
		}
		lost = 0;
		break;
	}
	if (lost)
		for (i = first; i < first + CHUNK; i++)
			write_page((uint64_t *)(base + i * PAGE), i, ++gen[i]);
}

static void worker_private(int r, enum kind kind, unsigned long pages)
{
	uint64_t *gen = calloc(pages, sizeof(*gen));
	char *base = map_region(pages * PAGE, kind == THP ? MADV_HUGEPAGE :
				MADV_NOHUGEPAGE);
	unsigned long i;
	unsigned int round = 0;

	for (i = 0; i < pages; i++)
		write_page((uint64_t *)(base + i * PAGE), i, 0);
	publish(r, kind, base, pages, kind == THP ? HPAGE : PAGE);
	while (!sh->stop) {
		rewrite_all(r, base, pages, gen);
		if (kind == ANON)
			disturb(r, base, pages, gen, round++);
	}
	exit(0);
}

/* A forked pair that both keep verifying the same COW-shared pages. */
static void worker_cow(int r1, int r2, unsigned long pages)
{
	char *base = map_region(pages * PAGE, MADV_NOHUGEPAGE);
	unsigned long i;
	int r, status;
	pid_t child;

	for (i = 0; i < pages; i++)
		write_page((uint64_t *)(base + i * PAGE), i, 7);
	child = fork();
	r = child == 0 ? r2 : r1;
	publish(r, COW, base, pages, PAGE);
	while (!sh->stop) {
		for (i = 0; i < pages && !sh->stop; i++) {
			volatile uint64_t *p = (uint64_t *)(base + i * PAGE);

			if (!page_ok(p, i, 7))
				report_corrupt(r, i, p, 7);
			sh->verified[r]++;
		}
	}
	if (child > 0 && (waitpid(child, &status, 0) != child ||
			  !WIFEXITED(status) || WEXITSTATUS(status)))
		exit(1);
	exit(0);
}

/*
 * Rewrite the pages of [first, first + n) whose index, within their folio
 * of @per pages, is in [lo, hi); verify all of [first, first + n).
 */
static void rewrite_part(int r, char *base, unsigned long first,
			 unsigned long n, unsigned long per, unsigned long lo,
			 unsigned long hi, uint64_t *gen)
{
	unsigned long i;

	for (i = first; i < first + n && !sh->stop; i++) {
		volatile uint64_t *p = (uint64_t *)(base + i * PAGE);

		if (!page_ok(p, i, gen[i]))
			report_corrupt(r, i, p, gen[i]);
		if (i % per >= lo && i % per < hi)
			write_page(p, i, ++gen[i]);
		sh->verified[r]++;
	}
}

/*
 * Large folios of @size shared copy-on-write with a child forked anew each
 * round: written from both sides, each side its own half of every folio,
 * both verifying every page; partly unmapped folios among them.
 */
static void worker_cow_large(int r, enum kind kind, size_t size,
			     unsigned long folios)
{
	unsigned long per = size / PAGE, pages = folios * per, i, f;
	char *base = mmap(NULL, (folios + 1) * size + HPAGE,
			  PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	uint64_t *gen = calloc(pages, sizeof(*gen));
	volatile int *child_stop;
	int status;
	pid_t child;
	time_t until;

	child_stop = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED || child_stop == MAP_FAILED || !gen) {
		perror("cow worker");
		exit(2);
	}
	/* Aligned to the folio size; THPs only where the advice allows */
	base = (char *)(((uintptr_t)base + HPAGE - 1) & ~(HPAGE - 1));
	if (kind == COW_MTHP)
		base += size;	/* no 2 MiB-aligned start: no PMD THP */
	madvise(base, pages * PAGE, kind == COW_THP ? MADV_HUGEPAGE :
		MADV_NORMAL);
	for (i = 0; i < pages; i++)
		write_page((uint64_t *)(base + i * PAGE), i, 0);
	publish(r, kind, base, pages, size);

	while (!sh->stop) {
		/* A fresh large folio in place of one the writes broke up */
		f = (unsigned long)rand() % folios;
		munmap(base + f * size, size);
		if (mmap(base + f * size, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
		    MAP_FAILED) {
			perror("cow worker: mmap");
			exit(2);
		}
		madvise(base + f * size, size, kind == COW_THP ?
			MADV_HUGEPAGE : MADV_NORMAL);
		for (i = f * per; i < (f + 1) * per; i++)
			write_page((uint64_t *)(base + i * PAGE), i, ++gen[i]);

		/* PTE-map the THPs; partly unmap one and write it again */
		f = (unsigned long)rand() % folios;
		for (i = 0; kind == COW_THP && i < folios; i++) {
			mprotect(base + i * size, PAGE, PROT_READ);
			mprotect(base + i * size, PAGE, PROT_READ | PROT_WRITE);
		}
		madvise(base + f * size + size / 2, size / 2, MADV_DONTNEED);
		for (i = f * per + per / 2; i < (f + 1) * per; i++)
			write_page((uint64_t *)(base + i * PAGE), i, ++gen[i]);

		*child_stop = 0;
		fflush(NULL);
		child = fork();
		if (child == 0) {
			/* Its own copy of gen: writes the second halves */
			while (!*child_stop && !sh->stop)
				rewrite_part(r, base, 0, pages, per, per / 2,
					     per, gen);
			rewrite_part(r, base, 0, pages, per, 0, 0, gen);
			exit(0);
		}
		until = time(NULL) + 1;
		while (time(NULL) <= until && !sh->stop)
			rewrite_part(r, base, 0, pages, per, 0, per / 2, gen);
		*child_stop = 1;
		if (child < 0 || waitpid(child, &status, 0) != child ||
		    !WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, "cow worker: child ended badly\n");
			exit(1);
		}
		/* The child's writes were its own */
		rewrite_part(r, base, 0, pages, per, 0, 0, gen);
	}
	exit(0);
}

/* mlocked pages: exchanged, they stay mapped and locked */
static void worker_mlocked(int r, unsigned long pages)
{
	uint64_t *gen = calloc(pages, sizeof(*gen));
	char *base = map_region(pages * PAGE, MADV_NOHUGEPAGE);
	long kb;

	for (unsigned long i = 0; i < pages; i++)
		write_page((uint64_t *)(base + i * PAGE), i, 0);
	if (!gen || mlock(base, pages * PAGE)) {
		perror("mlock");
		exit(2);
	}
	publish(r, MLOCKED, base, pages, PAGE);
	while (!sh->stop) {
		rewrite_all(r, base, pages, gen);
		kb = proc_smaps_kb(0, base, "Locked");
		if (kb != (long)(pages * PAGE / 1024)) {
			fprintf(stderr, "mlocked worker: %ld kB Locked, expected %lu\n",
				kb, pages * PAGE / 1024);
			sh->corrupt[r]++;
		}
	}
	exit(0);
}

/* Soft-dirty bits: exactly the pages written since clear_refs are set */
static void worker_soft_dirty(int r, unsigned long pages)
{
	uint64_t *gen = calloc(pages, sizeof(*gen));
	char *base = map_region(pages * PAGE, MADV_NOHUGEPAGE);
	unsigned char *written = calloc(pages, 1);
	unsigned long i, wrong;
	int fd = open("/proc/self/clear_refs", O_WRONLY);

	if (!gen || !written || fd < 0) {
		perror("soft-dirty worker");
		exit(2);
	}
	for (i = 0; i < pages; i++)
		write_page((uint64_t *)(base + i * PAGE), i, 0);
	publish(r, SOFT_DIRTY, base, pages, PAGE);
	while (!sh->stop) {
		if (pwrite(fd, "4", 1, 0) != 1) {
			perror("clear_refs");
			exit(2);
		}
		for (i = 0; i < pages; i++) {
			volatile uint64_t *p = (uint64_t *)(base + i * PAGE);

			if (!page_ok(p, i, gen[i]))
				report_corrupt(r, i, p, gen[i]);
			written[i] = rand() % 2;
			if (written[i])
				write_page(p, i, ++gen[i]);
			sh->verified[r]++;
		}
		/* Give the driver time to exchange some of them */
		usleep(200000);
		for (i = 0, wrong = 0; i < pages; i++) {
			uint64_t e = proc_pagemap(0, base + i * PAGE);

			/* Present, or a migration entry of an exchange */
			if ((e & (3ULL << 62)) &&
			    !!(e & PM_SOFT_DIRTY) == written[i])
				continue;
			if (wrong++ < 3)
				fprintf(stderr, "soft-dirty worker: page %lu %s, pagemap %#llx\n",
					i, !(e & (3ULL << 62)) ? "not mapped" :
					written[i] ? "written but not soft-dirty" :
					"soft-dirty but not written",
					(unsigned long long)e);
		}
		if (wrong) {
			fprintf(stderr, "soft-dirty worker: %lu pages with the wrong soft-dirty bit\n",
				wrong);
			sh->corrupt[r]++;
		}
	}
	exit(0);
}

/* Two processes share a memfd; each writes its half, both verify all. */
static void worker_memfd(int r, int fd, unsigned long pages, int half)
{
	char *base = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
			  MAP_SHARED, fd, 0);
	uint64_t *copy = malloc(PAGE);
	unsigned long i;

	if (base == MAP_FAILED || !copy) {
		perror("memfd mmap");
		exit(2);
	}
	publish(r, MEMFD, base, pages, PAGE);
	while (!sh->stop) {
		for (i = 0; i < pages && !sh->stop; i++) {
			uint64_t *p = (uint64_t *)(base + i * PAGE);
			uint64_t s1, s2;

			if (i % 2 == (unsigned long)half) {
				/* Ours: even sequence count = stable page */
				s1 = __atomic_load_n(&p[0], __ATOMIC_RELAXED);
				if (!page_ok(p, i, p[1]))
					report_corrupt(r, i, p, p[1]);
				__atomic_store_n(&p[0], s1 + 1, __ATOMIC_RELEASE);
				write_page(p, i, p[1] + 1);
				__atomic_store_n(&p[0], s1 + 2, __ATOMIC_RELEASE);
			} else {
				do {
					s1 = __atomic_load_n(&p[0], __ATOMIC_ACQUIRE);
					memcpy(copy, p, PAGE);
					__atomic_thread_fence(__ATOMIC_ACQUIRE);
					s2 = __atomic_load_n(&p[0], __ATOMIC_RELAXED);
				} while ((s1 & 1) || s1 != s2);
				if (!page_ok(copy, i, copy[1]))
					report_corrupt(r, i, copy, copy[1]);
			}
			sh->verified[r]++;
		}
	}
	exit(0);
}

static void worker_pressure(void)
{
	const size_t len = 512UL << 20;

	while (!sh->stop) {
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		size_t off;

		if (p == MAP_FAILED) {
			sleep(1);
			continue;
		}
		for (off = 0; off < len && !sh->stop; off += PAGE)
			p[off] = 1;
		munmap(p, len);
	}
	exit(0);
}

static const char *const result_keys[] = {
	"absent", "done", "order_mismatch", "pinned", "ksm", "hugetlb", "io",
	"nonlru_movable", "unmovable", "device", "unsupported", "unevictable",
	"zone", "shmem_mapped", "hwpoison", "busy",
};
#define NR_KEYS (sizeof(result_keys) / sizeof(result_keys[0]))

/* The count for one of result_keys in @totals */
static unsigned long total(const unsigned long *totals, const char *key)
{
	unsigned int k;

	for (k = 0; k < NR_KEYS; k++)
		if (!strcmp(result_keys[k], key))
			return totals[k];
	fprintf(stderr, "exchange_stress: no result key %s\n", key);
	exit(2);
}

static int exchange(int fd, const struct region *x, unsigned long ix,
		    const struct region *y, unsigned long iy,
		    unsigned long count, unsigned long *totals)
{
	char buf[512], *line;
	ssize_t n;
	unsigned int k;

	n = snprintf(buf, sizeof(buf), "%d 0x%lx %d 0x%lx %lu", x->pid,
		     (unsigned long)x->base + ix * PAGE, y->pid,
		     (unsigned long)y->base + iy * PAGE, count);
	if (write(fd, buf, n) != n) {
		perror("write " KNOB);
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0) {
		perror("read " KNOB);
		return -1;
	}
	buf[n] = '\0';
	for (line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		for (k = 0; k < NR_KEYS; k++) {
			size_t l = strlen(result_keys[k]);

			if (!strncmp(line, result_keys[k], l) && line[l] == ' ')
				totals[k] += strtoul(line + l + 1, NULL, 10);
		}
	return 0;
}

static void sysfs_write(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0 || write(fd, value, strlen(value)) < 0)
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/*
 * With EXCHANGE_CGROUPS=<prefix>, worker n runs in cgroup <prefix><n>, so
 * that exchanges also cross memory cgroups.
 */
static void join_cgroup(int n)
{
	const char *prefix = getenv("EXCHANGE_CGROUPS");
	char path[256], pid[32];

	if (!prefix)
		return;
	snprintf(path, sizeof(path), "%s%d/cgroup.procs", prefix, n);
	snprintf(pid, sizeof(pid), "%d", getpid());
	sysfs_write(path, pid);
}

/* One pair for the functional checks: fresh totals, exchanges counted */
static int exchange_one(int fd, const struct region *x, const struct region *y,
			unsigned long *totals)
{
	memset(totals, 0, NR_KEYS * sizeof(*totals));
	if (exchange(fd, x, 0, y, 0, 1, totals))
		return -1;
	functional_done += total(totals, "done");
	return 0;
}

#define CHECK(cond, ...) do { if (!(cond)) { fprintf(stderr, "FAIL: " __VA_ARGS__); \
	fprintf(stderr, "\n"); bad++; } } while (0)

/*
 * Checks the kernel's KUnit suite cannot make: a COW-shared anonymous page
 * mapped by two processes, and the refusals of a hugetlb and a KSM page.
 */
static int functional(int fd)
{
	unsigned long totals[NR_KEYS] = {};
	struct region x = { getpid(), ANON, 0, 1, PAGE }, y = x;
	uint64_t pp, pq, cp;
	int to_child[2], from_child[2], bad = 0, status;
	char *p, *q, *h, *t, *k, c;
	pid_t child;
	int i;

	p = map_region(PAGE, MADV_NOHUGEPAGE);
	write_page((uint64_t *)p, 1, 1);
	if (pipe(to_child) || pipe(from_child))
		return 1;
	fflush(NULL);
	child = fork();
	if (child == 0) {
		/* Share p until told to look again */
		c = page_ok((uint64_t *)p, 1, 1);
		if (write(from_child[1], &c, 1) != 1 ||
		    read(to_child[0], &c, 1) != 1)
			_exit(2);
		_exit(page_ok((uint64_t *)p, 1, 1) ? 0 : 1);
	}
	if (read(from_child[0], &c, 1) != 1 || !c)
		return 1;
	/* Mapped by the parent only */
	q = map_region(PAGE, MADV_NOHUGEPAGE);
	write_page((uint64_t *)q, 2, 2);
	pp = proc_pfn(getpid(), p);
	pq = proc_pfn(getpid(), q);
	cp = proc_pfn(child, p);
	CHECK(pp && pp == cp, "child does not share the COW page (%llx, %llx)",
	      (unsigned long long)pp, (unsigned long long)cp);
	CHECK(proc_kpagecount(pp) == 2, "COW page mapped %llu times, not 2",
	      (unsigned long long)proc_kpagecount(pp));

	x.base = (uintptr_t)p;
	y.base = (uintptr_t)q;
	if (exchange_one(fd, &x, &y, totals))
		return 1;
	CHECK(total(totals, "done") == 1, "COW-shared page not exchanged");
	CHECK(proc_pfn(getpid(), p) == pq && proc_pfn(child, p) == pq,
	      "the COW page's two mappings do not both point at the new frame");
	CHECK(proc_pfn(getpid(), q) == pp, "the other page is not at the old frame");
	CHECK(proc_kpagecount(pq) == 2 && proc_kpagecount(pp) == 1,
	      "mapcounts %llu and %llu after, expected 2 and 1",
	      (unsigned long long)proc_kpagecount(pq),
	      (unsigned long long)proc_kpagecount(pp));
	CHECK(page_ok((uint64_t *)p, 1, 1) && page_ok((uint64_t *)q, 2, 2),
	      "data changed in the parent");
	c = 1;
	if (write(to_child[1], &c, 1) != 1 || waitpid(child, &status, 0) != child)
		return 1;
	CHECK(WIFEXITED(status) && !WEXITSTATUS(status),
	      "the child sees different data after the exchange");

	/* A hugetlb page (the test reserved some) against a THP: refused */
	h = mmap(NULL, HPAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	CHECK(h != MAP_FAILED, "no hugetlb page: %s", strerror(errno));
	if (h != MAP_FAILED) {
		t = map_region(HPAGE, MADV_HUGEPAGE);
		write_page((uint64_t *)h, 3, 3);
		write_page((uint64_t *)t, 4, 4);
		x.base = (uintptr_t)h;
		y.base = (uintptr_t)t;
		if (exchange_one(fd, &x, &y, totals))
			return 1;
		CHECK(total(totals, "hugetlb") == 1, "hugetlb page not refused as hugetlb");
		CHECK(page_ok((uint64_t *)h, 3, 3) && page_ok((uint64_t *)t, 4, 4),
		      "data changed by a refused exchange");
	}
	/* Two equal pages merged by KSM: refused */
	sysfs_write("/sys/kernel/mm/ksm/sleep_millisecs", "0");
	sysfs_write("/sys/kernel/mm/ksm/run", "1");
	k = map_region(2 * PAGE, MADV_NOHUGEPAGE);
	write_page((uint64_t *)k, 5, 5);
	write_page((uint64_t *)(k + PAGE), 5, 5);
	CHECK(!madvise(k, 2 * PAGE, MADV_MERGEABLE), "MADV_MERGEABLE: %s",
	      strerror(errno));
	for (i = 0; i < 300 && proc_pfn(getpid(), k) != proc_pfn(getpid(), k + PAGE); i++)
		usleep(100000);
	CHECK(proc_pfn(getpid(), k) == proc_pfn(getpid(), k + PAGE),
	      "ksmd did not merge two equal pages in 30 s");
	x.base = (uintptr_t)k;
	y.base = (uintptr_t)q;
	if (exchange_one(fd, &x, &y, totals))
		return 1;
	CHECK(total(totals, "ksm") == 1, "KSM page not refused as ksm");
	CHECK(page_ok((uint64_t *)k, 5, 5) && page_ok((uint64_t *)q, 2, 2),
	      "data changed by a refused exchange");
	/* Unmerge and stop ksmd: it would spin through the stress phase */
	sysfs_write("/sys/kernel/mm/ksm/run", "2");

	printf("functional: %s\n", bad ? "FAILED" :
	       "COW-shared exchange, hugetlb and KSM refusals ok");
	return bad;
}

int main(int argc, char **argv)
{
	unsigned long seconds = argc > 1 ? strtoul(argv[1], NULL, 0) : 120;
	int functional_failed;
	unsigned long totals[NR_KEYS] = {}, requests = 0, corrupt = 0;
	unsigned long success_before, i;
	pid_t pids[16];
	int npids = 0, fd, memfd, status, failed = 0;
	time_t end;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fd = open(KNOB, O_RDWR);
	memfd = memfd_create("exchange_stress", 0);
	if (sh == MAP_FAILED || fd < 0 || memfd < 0 ||
	    ftruncate(memfd, 1024 * PAGE)) {
		perror("exchange_stress setup");
		return 2;
	}

	{
		char *m = mmap(NULL, 1024 * PAGE, PROT_READ | PROT_WRITE,
			       MAP_SHARED, memfd, 0);

		if (m == MAP_FAILED) {
			perror("memfd mmap");
			return 2;
		}
		for (i = 0; i < 1024; i++)
			write_page((uint64_t *)(m + i * PAGE), i, 0);
		munmap(m, 1024 * PAGE);
	}

	functional_failed = functional(fd);
	success_before = proc_vmstat("exchange_success");

	fflush(NULL);
#define SPAWN(cg, call) do { pid_t p_ = fork(); if (!p_) { srand(getpid()); join_cgroup(cg); call; } pids[npids++] = p_; } while (0)
	SPAWN(0, worker_private(0, ANON, 1024));
	SPAWN(1, worker_private(1, THP, 4 * HPAGE / PAGE));
	SPAWN(1, worker_cow(2, 3, 1024));
	SPAWN(0, worker_memfd(4, memfd, 1024, 0));
	SPAWN(1, worker_memfd(5, memfd, 1024, 1));
	SPAWN(0, worker_cow_large(6, COW_THP, HPAGE, 4));
	SPAWN(1, worker_cow_large(7, COW_MTHP, MTHP, 32));
	SPAWN(0, worker_mlocked(8, 1024));
	SPAWN(1, worker_soft_dirty(9, 1024));
	SPAWN(1, worker_pressure());
	while (sh->ready < NR_REGIONS)
		usleep(10000);

	srand(1);
	end = time(NULL) + seconds;
	while (time(NULL) < end) {
		const struct region *x = &sh->region[rand() % NR_REGIONS];
		const struct region *y = &sh->region[rand() % NR_REGIONS];
		/* y is stepped by x's folio size: every region has 512 pages or more */
		unsigned long per = x->step / PAGE, count = 1 + rand() % 4;
		unsigned long ix = (rand() % (x->pages / per)) * per;
		unsigned long iy = (rand() % (y->pages / per)) * per;

		/* A folio may be in one pair only */
		if ((x == y || (x->kind == y->kind &&
				(x->kind == MEMFD || x->kind == COW))) &&
		    ix < iy + 4 * per && iy < ix + 4 * per)
			continue;
		/* Mostly pairs of equal order; the others must be refused */
		if (x->step != y->step && rand() % 8)
			continue;
		while (count > 1 && (ix + count * per > x->pages ||
				     iy + count * per > y->pages))
			count--;
		if (exchange(fd, x, ix, y, iy, count, totals)) {
			failed = 1;
			break;
		}
		requests++;
	}
	sh->stop = 1;

	for (i = 0; i < (unsigned long)npids; i++) {
		if (waitpid(pids[i], &status, 0) != pids[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, "worker %lu ended badly (status 0x%x)\n",
				i, status);
			failed = 1;
		}
	}
	for (i = 0; i < NR_REGIONS; i++) {
		corrupt += sh->corrupt[i];
		printf("region %lu %s: %lu page verifications, %lu corrupt\n", i,
		       kind_name[sh->region[i].kind], sh->verified[i],
		       sh->corrupt[i]);
		if (!sh->verified[i])
			failed = 1;
	}
	printf("RESULT seconds=%lu requests=%lu corrupt=%lu functional_done=%lu vmstat_success=%lu",
	       seconds, requests, corrupt, functional_done,
	       proc_vmstat("exchange_success") - success_before);
	for (i = 0; i < NR_KEYS; i++)
		printf(" %s=%lu", result_keys[i], totals[i]);
	printf("\n");
	return failed || functional_failed || corrupt || !total(totals, "done") ? 1 : 0;
}
