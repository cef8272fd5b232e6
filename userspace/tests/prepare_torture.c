// SPDX-License-Identifier: GPL-2.0
/*
 * prepare_torture: random CONTIG_DMA_PREPARE requests at processes that
 * keep changing their memory, and every byte checked at the end.
 *
 * Targets, each a process with three regions of patterned pages:
 *   anon   4 KiB anonymous pages (MADV_NOHUGEPAGE)
 *   thp    anonymous THPs (MADV_HUGEPAGE)
 *   memfd  a memfd mapped shared
 * Each keeps rewriting random pages (a generation number per page, kept in
 * its own private memory) and, in turn: munmap()s a chunk and maps it
 * again, mremap()s a chunk away and back, MADV_DONTNEEDs a chunk, and
 * fork()s a child that checks the whole region while sharing it COW; each
 * time it rewrites what it changed.
 *
 * Drivers, several at once, send PREPAREs through /dev/contig_dma with a
 * pidfd of a random target: a random stretch of a random region (one page
 * to all of it), a random DMA key (the address itself, or 2 MiB- and
 * 1 GiB-aligned keys off by 0, 1, 255, 511 or a random number of pages), a
 * random page-size bitmap, exchanges only or not, and a random time bound
 * (none, 10 ms, 1 s, 5 s: the bound covers the moves, after the scan). A request may fail only with an errno the
 * interface documents for a range changing under it.
 *
 * At the end every target checks every word of its regions, and each
 * forked child has checked its copy. Prints "RESULT key=value ..." and
 * exits 1 on any corrupt word, an unexpected errno or a process that died.
 *
 * Usage: prepare_torture [seconds [targets [drivers]]]
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/contig_dma.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open	434
#endif

#define PAGE		4096UL
#define HPAGE		(2UL << 20)
#define REGION_PAGES	2048UL		/* 8 MiB */
#define CHUNK_PAGES	64UL
#define MAX_TARGETS	4
#define MAX_DRIVERS	4

enum region_kind { ANON, THP, MEMFD, NR_REGIONS };
static const char *const region_name[NR_REGIONS] = { "anon", "thp", "memfd" };

struct shared {
	pid_t target[MAX_TARGETS];
	uintptr_t base[MAX_TARGETS][NR_REGIONS];
	volatile int ready;
	volatile int stop;
	/* Results, written by their owners */
	unsigned long rewrites[MAX_TARGETS], disturbs[MAX_TARGETS];
	unsigned long corrupt[MAX_TARGETS], checked[MAX_TARGETS];
	unsigned long child_corrupt[MAX_TARGETS];
	unsigned long requests[MAX_DRIVERS], done[MAX_DRIVERS];
	unsigned long unaligned[MAX_DRIVERS], partial[MAX_DRIVERS];
	unsigned long reanchors[MAX_DRIVERS], moved[MAX_DRIVERS];
	unsigned long errors[MAX_DRIVERS], unexpected[MAX_DRIVERS];
	unsigned long slowest_ms[MAX_DRIVERS];
};

static struct shared *sh;

static uint64_t word(uintptr_t addr, uint64_t gen)
{
	return (addr * 0x9e3779b97f4a7c15ULL) ^ (gen * 0xc2b2ae3d27d4eb4fULL);
}

static void write_page(char *p, uint64_t gen)
{
	unsigned long i;

	for (i = 0; i < PAGE; i += 8)
		*(volatile uint64_t *)(p + i) = word((uintptr_t)p + i, gen);
}

static unsigned long bad_words(const char *p, uint64_t gen)
{
	unsigned long i, bad = 0;

	for (i = 0; i < PAGE; i += 8)
		bad += *(const volatile uint64_t *)(p + i) !=
		       word((uintptr_t)p + i, gen);
	return bad;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* ---------------------------------------------------------------------- */
/* Targets */

struct target {
	int n;
	char *base[NR_REGIONS];
	int memfd;
	uint64_t *gen[NR_REGIONS];	/* per page; private to the target */
	uint64_t seed;
};

static char *map_region(struct target *t, int r, char *at)
{
	int flags = at ? MAP_FIXED : 0;
	size_t len = REGION_PAGES * PAGE;
	char *p;

	if (r == MEMFD) {
		p = mmap(at, len, PROT_READ | PROT_WRITE, MAP_SHARED | flags,
			 t->memfd, 0);
	} else {
		/* Room to align the THP region to 2 MiB */
		p = mmap(at, at ? len : len + HPAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
		if (p != MAP_FAILED && !at)
			p = (char *)(((uintptr_t)p + HPAGE - 1) & ~(HPAGE - 1));
		if (p != MAP_FAILED)
			madvise(p, len, r == THP ? MADV_HUGEPAGE :
				MADV_NOHUGEPAGE);
	}
	if (p == MAP_FAILED) {
		perror("prepare_torture: mmap");
		exit(2);
	}
	return p;
}

/* Pages [first, first + nr) of region @r: a new generation each */
static void rewrite(struct target *t, int r, unsigned long first,
		    unsigned long nr)
{
	unsigned long i;

	for (i = first; i < first + nr; i++)
		write_page(t->base[r] + i * PAGE, ++t->gen[r][i]);
}

static unsigned long check_region(struct target *t, int r)
{
	unsigned long i, bad = 0;

	for (i = 0; i < REGION_PAGES; i++)
		bad += bad_words(t->base[r] + i * PAGE, t->gen[r][i]);
	return bad;
}

static void disturb(struct target *t)
{
	int r = rnd(&t->seed) % NR_REGIONS, status;
	unsigned long first = rnd(&t->seed) % (REGION_PAGES / CHUNK_PAGES) *
			      CHUNK_PAGES;
	char *chunk = t->base[r] + first * PAGE, *away;
	size_t len = CHUNK_PAGES * PAGE;
	pid_t child;

	switch (rnd(&t->seed) % 4) {
	case 0:
		/* munmap and map again (the memfd's pages stay in its cache) */
		if (r == MEMFD)
			break;
		munmap(chunk, len);
		if (mmap(chunk, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) !=
		    chunk) {
			perror("prepare_torture: remap");
			exit(2);
		}
		madvise(chunk, len, r == THP ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
		rewrite(t, r, first, CHUNK_PAGES);
		break;
	case 1:
		/* mremap away (to a place reserved for it) and back */
		away = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0);
		if (away == MAP_FAILED ||
		    mremap(chunk, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
			   away) != away ||
		    mremap(away, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
			   chunk) != chunk) {
			perror("prepare_torture: mremap");
			exit(2);
		}
		break;
	case 2:
		if (r == MEMFD)
			break;
		madvise(chunk, len, MADV_DONTNEED);
		rewrite(t, r, first, CHUNK_PAGES);
		break;
	case 3:
		/* A child checks the region while sharing it COW */
		fflush(NULL);
		child = fork();
		if (child == 0)
			_exit(check_region(t, r) ? 1 : 0);
		/*
		 * Meanwhile the parent writes its private memory: the child
		 * must not see it. The memfd is shared: it writes after.
		 */
		if (r != MEMFD)
			rewrite(t, r, first, CHUNK_PAGES);
		if (child < 0 || waitpid(child, &status, 0) != child ||
		    !WIFEXITED(status) || WEXITSTATUS(status))
			sh->child_corrupt[t->n]++;
		if (r == MEMFD)
			rewrite(t, r, first, CHUNK_PAGES);
		break;
	}
	sh->disturbs[t->n]++;
}

static void run_target(int n)
{
	struct target t = { .n = n, .seed = 0x1234567ULL * (n + 1) };
	unsigned long bad = 0;
	int r;

	t.memfd = memfd_create("prepare_torture", 0);
	if (t.memfd < 0 || ftruncate(t.memfd, REGION_PAGES * PAGE)) {
		perror("prepare_torture: memfd");
		exit(2);
	}
	for (r = 0; r < NR_REGIONS; r++) {
		t.base[r] = map_region(&t, r, NULL);
		t.gen[r] = calloc(REGION_PAGES, sizeof(uint64_t));
		if (!t.gen[r])
			exit(2);
		rewrite(&t, r, 0, REGION_PAGES);
		sh->base[n][r] = (uintptr_t)t.base[r];
	}
	__atomic_add_fetch(&sh->ready, 1, __ATOMIC_SEQ_CST);

	while (!sh->stop) {
		unsigned long i = rnd(&t.seed) % REGION_PAGES;

		r = rnd(&t.seed) % NR_REGIONS;
		if (bad_words(t.base[r] + i * PAGE, t.gen[r][i]))
			sh->corrupt[n]++;
		rewrite(&t, r, i, 1);
		sh->rewrites[n]++;
		if (!(rnd(&t.seed) % 256))
			disturb(&t);
		/* Leave the two vCPUs some time for the requests */
		if (!(sh->rewrites[n] % 64))
			usleep(1000);
	}
	for (r = 0; r < NR_REGIONS; r++) {
		unsigned long b = check_region(&t, r);

		if (b)
			fprintf(stderr, "CORRUPT target %d %s: %lu words\n", n,
				region_name[r], b);
		bad += b;
		sh->checked[n] += REGION_PAGES;
	}
	sh->corrupt[n] += bad;
	exit(0);
}

/* ---------------------------------------------------------------------- */
/* Drivers */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* A key for a range at @start: itself, or aligned keys off by a few pages */
static uint64_t random_key(uint64_t *s, uint64_t start, int *unaligned)
{
	static const uint64_t offsets[] = { 0, 1, 255, 511 };
	uint64_t align = rnd(s) % 2 ? HPAGE : 1ULL << 30;
	uint64_t off;

	*unaligned = 0;
	if (!(rnd(s) % 4))
		return start;
	off = rnd(s) % 5 < 4 ? offsets[rnd(s) % 4] : rnd(s) % 512;
	*unaligned = off != 0;
	return (1 + rnd(s) % 64) * align + off * PAGE;
}

static void run_driver(int d, int targets, int dev, int *pidfds)
{
	/* 0: the system's bound (none by default) */
	static const uint64_t bounds[] = { 0, 10000000, 1000000000,
					   5000000000ULL };
	static const uint64_t pgsizes[] = { 0, 0x201000, 0x1000, 0x40201000 };
	uint64_t s = 0x9876543ULL * (d + 1);

	while (!sh->stop) {
		int n = rnd(&s) % targets, r = rnd(&s) % NR_REGIONS;
		unsigned long first = rnd(&s) % REGION_PAGES;
		unsigned long nr = 1 + rnd(&s) % (REGION_PAGES - first);
		struct contig_dma_prepare p = {
			.size = sizeof(p),
			.flags = CONTIG_DMA_F_PIDFD,
			.pidfd = pidfds[n],
		};
		uint64_t t0, ms;
		int unaligned, ret;

		if (rnd(&s) % 2)
			nr = 1 + nr % 1024;	/* mostly up to 4 MiB */
		p.start = sh->base[n][r] + first * PAGE;
		p.length = nr * PAGE;
		p.key = random_key(&s, p.start, &unaligned);
		p.pgsize_bitmap = pgsizes[rnd(&s) % 4];
		p.max_ns = bounds[rnd(&s) % 4];
		if (!(rnd(&s) % 4))
			p.flags |= CONTIG_DMA_F_EXCHANGE_ONLY;

		t0 = now_ns();
		ret = ioctl(dev, CONTIG_DMA_PREPARE, &p);
		ms = (now_ns() - t0) / 1000000;
		sh->requests[d]++;
		sh->unaligned[d] += unaligned;
		if (ms > sh->slowest_ms[d])
			sh->slowest_ms[d] = ms;
		if (!ret) {
			sh->done[d]++;
			sh->partial[d] += p.moves.partial;
			sh->reanchors[d] += p.moves.reanchors;
			sh->moved[d] += p.moves.migrated + p.moves.exchanged;
			continue;
		}
		sh->errors[d]++;
		/* A range changing under the request: a hole, a new VMA */
		if (errno == ENOMEM || errno == EINVAL || errno == EOPNOTSUPP ||
		    errno == EAGAIN || errno == EBUSY)
			continue;
		if (sh->unexpected[d]++ < 5)
			fprintf(stderr, "prepare_torture: PREPARE %s 0x%llx+0x%llx key 0x%llx: %s\n",
				region_name[r], (unsigned long long)p.start,
				(unsigned long long)p.length,
				(unsigned long long)p.key, strerror(errno));
	}
	exit(0);
}

static unsigned long sum(const unsigned long *v, int n)
{
	unsigned long s = 0;
	int i;

	for (i = 0; i < n; i++)
		s += v[i];
	return s;
}

#define SUM(field, n)	sum(sh->field, (n))

int main(int argc, char **argv)
{
	unsigned long seconds = argc > 1 ? strtoul(argv[1], NULL, 0) : 90;
	int targets = argc > 2 ? atoi(argv[2]) : 3;
	int drivers = argc > 3 ? atoi(argv[3]) : 2;
	pid_t pids[MAX_TARGETS + MAX_DRIVERS];
	int pidfds[MAX_TARGETS], npids = 0, dev, i, status, died = 0;
	unsigned long slowest = 0;
	time_t end;

	if (targets < 1 || targets > MAX_TARGETS || drivers < 1 ||
	    drivers > MAX_DRIVERS) {
		fprintf(stderr, "usage: prepare_torture [seconds [targets 1-%d [drivers 1-%d]]]\n",
			MAX_TARGETS, MAX_DRIVERS);
		return 2;
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	dev = open("/dev/contig_dma", O_RDWR);
	if (sh == MAP_FAILED || dev < 0) {
		perror("prepare_torture: setup");
		return 2;
	}

	fflush(NULL);
	for (i = 0; i < targets; i++) {
		pids[npids] = fork();
		if (pids[npids] == 0)
			run_target(i);
		sh->target[i] = pids[npids++];
		pidfds[i] = syscall(SYS_pidfd_open, sh->target[i], 0);
		if (pidfds[i] < 0) {
			perror("prepare_torture: pidfd_open");
			return 2;
		}
	}
	while (sh->ready < targets)
		usleep(10000);
	for (i = 0; i < drivers; i++) {
		pids[npids] = fork();
		if (pids[npids] == 0)
			run_driver(i, targets, dev, pidfds);
		npids++;
	}

	end = time(NULL) + seconds;
	while (time(NULL) < end)
		sleep(1);
	sh->stop = 1;
	for (i = 0; i < npids; i++)
		if (waitpid(pids[i], &status, 0) != pids[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, "prepare_torture: process %d died (status %#x)\n",
				pids[i], status);
			died++;
		}
	for (i = 0; i < drivers; i++)
		if (sh->slowest_ms[i] > slowest)
			slowest = sh->slowest_ms[i];

	printf("RESULT seconds=%lu targets=%d drivers=%d requests=%lu done=%lu errors=%lu unexpected=%lu unaligned_keys=%lu partial=%lu reanchors=%lu moved=%lu slowest_ms=%lu rewrites=%lu disturbs=%lu checked_pages=%lu corrupt=%lu child_corrupt=%lu died=%d\n",
	       seconds, targets, drivers, SUM(requests, drivers),
	       SUM(done, drivers), SUM(errors, drivers),
	       SUM(unexpected, drivers), SUM(unaligned, drivers),
	       SUM(partial, drivers), SUM(reanchors, drivers),
	       SUM(moved, drivers), slowest, SUM(rewrites, targets),
	       SUM(disturbs, targets), SUM(checked, targets),
	       SUM(corrupt, targets), SUM(child_corrupt, targets), died);
	return SUM(corrupt, targets) || SUM(child_corrupt, targets) ||
	       SUM(unexpected, drivers) || died || !SUM(done, drivers) ? 1 : 0;
}
