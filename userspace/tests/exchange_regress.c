// SPDX-License-Identifier: GPL-2.0
/*
 * exchange_regress: what an exchange of two pages must keep for the
 * processes that own them, checked the way those processes see it. The
 * pages are exchanged through /sys/kernel/debug/contig/exchange; the other
 * owner ("victim") is a child process that maps its pages, reports their
 * addresses over a pipe and checks its own data when asked.
 *
 *   cow-thp, cow-mthp  A, a THP (or a 64 KiB mTHP) of this process mapped
 *                      by PTEs, its upper half unmapped (MADV_DONTNEED);
 *                      B, another, shared copy-on-write with the child and
 *                      mapped by PTEs in both. After exchanging A and B,
 *                      this process writes B's upper half and the child
 *                      writes B's lower half: each must see only its own
 *                      writes, every byte of both copies checked.
 *   cow-prepare        the same pair, chosen by the engine: an exchange-only
 *                      CONTIG_DMA_PREPARE of two such A next to a pool of
 *                      such B (see check_cow_prepare())
 *   mlocked            the child's mlocked page, exchanged, stays mapped
 *                      and mlocked (smaps Locked:, kpageflags MLOCKED)
 *   unevictable        with vm.compact_unevictable_allowed = 0 the same
 *                      pair is refused, counted in exchange_fail_unevictable
 *   shmem-mapped       the child's mapped memfd page is not exchanged with
 *                      an anonymous page, from either side, and stays
 *                      mapped; counted in exchange_fail_shmem_mapped
 *   soft-dirty         the child's soft-dirty bits, set and clear, survive
 *   uffd-wp            the child's page write-protected through userfaultfd
 *                      stays so (pagemap), with no event
 *   uffd-minor         the child's memfd page registered for userfaultfd
 *                      minor faults, exchanged with another memfd page,
 *                      stays mapped, with no event
 *
 * Prints "ok <check>" or "FAIL <check>: why" per check, then
 * "RESULT checks=N failed=N", and exits 1 if a check failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/contig_dma.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/procpage.h"

#define PAGE		4096UL
#define HPAGE		(2UL << 20)
#define MTHP		(64UL << 10)
#define KNOB		"/sys/kernel/debug/contig/exchange"
#define MTHP_KNOB	"/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled"
#define UNEVICTABLE_KNOB "/proc/sys/vm/compact_unevictable_allowed"

static int checks, failed, knob;

static void report(const char *check, const char *why)
{
	checks++;
	if (why) {
		failed++;
		printf("FAIL %s: %s\n", check, why);
	} else {
		printf("ok %s\n", check);
	}
	fflush(stdout);
}

static void die(const char *what)
{
	perror(what);
	exit(2);
}

/* The word at @addr for @seed: unique to the address */
static uint64_t word(uintptr_t addr, uint64_t seed)
{
	return (addr * 0x9e3779b97f4a7c15ULL) ^ (seed << 56) ^ seed;
}

static void fill(char *p, size_t len, uint64_t seed)
{
	size_t i;

	for (i = 0; i < len; i += 8)
		*(volatile uint64_t *)(p + i) = word((uintptr_t)p + i, seed);
}

/* Words of [p, p + len) that do not hold their pattern */
static unsigned long bad_words(const char *p, size_t len, uint64_t seed)
{
	unsigned long bad = 0;
	size_t i;

	for (i = 0; i < len; i += 8)
		bad += *(const volatile uint64_t *)(p + i) !=
		       word((uintptr_t)p + i, seed);
	return bad;
}

/* @size bytes aligned to @align, in the mapping returned in @map */
static char *map_in(size_t size, size_t align, char **map)
{
	*map = mmap(NULL, size + align, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*map == MAP_FAILED)
		die("mmap");
	return (char *)(((uintptr_t)*map + align - 1) & ~(align - 1));
}

/*
 * @align bytes aligned to @align, in an anonymous mapping of 2 * @align:
 * too small for a THP when @align is below 2 MiB.
 */
static char *map_aligned(size_t align)
{
	char *map;

	return map_in(align, align, &map);
}

/* A large folio behind [p, p + len): contiguous frames, kpageflags THP */
static int large_at(const char *p, size_t len)
{
	uint64_t first = proc_pfn(getpid(), p);

	return first && proc_kpageflag(first, KPF_THP) &&
	       proc_pfn(getpid(), p + len - PAGE) == first + len / PAGE - 1;
}

static void write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0 || write(fd, value, strlen(value)) < 0)
		die(path);
	close(fd);
}

static void read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		die(path);
	n = read(fd, buf, len - 1);
	if (n < 0)
		die(path);
	buf[n] = '\0';
	close(fd);
}

/*
 * Exchange the folio at @x in @px with the one at @y in @py; returns the
 * result the kernel names ("done", "unevictable", ...) in @result.
 */
static void exchange(pid_t px, const void *x, pid_t py, const void *y,
		     char *result, size_t len)
{
	char buf[512], *line;
	ssize_t n;
	int l;

	l = snprintf(buf, sizeof(buf), "%d %p %d %p 1", px, x, py, y);
	if (write(knob, buf, l) != l)
		die("write " KNOB);
	n = read(knob, buf, sizeof(buf) - 1);
	if (n <= 0)
		die("read " KNOB);
	buf[n] = '\0';
	snprintf(result, len, "none");
	for (line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		char key[32];
		unsigned long v;

		if (sscanf(line, "%31s %lu", key, &v) == 2 && v &&
		    strcmp(key, "pairs"))
			snprintf(result, len, "%s", key);
	}
}

/* ---------------------------------------------------------------------- */
/* The child: maps what it is told, reports addresses, checks on demand */

struct victim {
	pid_t pid;
	int cmd, reply;
};

enum { V_EXIT, V_COW_READY, V_CHECK, V_WRITE_LOW, V_CHECK_LOW, V_UFFD };

/* Ask the child; a child that died instead of answering is reported. */
static int send_cmd(struct victim *v, int cmd, long *reply)
{
	int status;
	long r;

	if (write(v->cmd, &cmd, sizeof(cmd)) != sizeof(cmd) ||
	    read(v->reply, &r, sizeof(r)) != sizeof(r)) {
		if (waitpid(v->pid, &status, 0) == v->pid)
			fprintf(stderr, "exchange_regress: the child ended (status %#x) instead of answering command %d\n",
				status, cmd);
		v->pid = 0;
		if (reply)
			*reply = -1;
		return -1;
	}
	if (reply)
		*reply = r;
	return 0;
}

/* Fill the lower (@upper 0) or the upper half of every @unit of @p */
static void fill_halves(char *p, size_t size, size_t unit, int upper,
			uint64_t seed)
{
	size_t o;

	for (o = 0; o < size; o += unit)
		fill(p + o + (upper ? unit / 2 : 0), unit / 2, seed);
}

static unsigned long bad_halves(const char *p, size_t size, size_t unit,
				int upper, uint64_t seed)
{
	unsigned long bad = 0;
	size_t o;

	for (o = 0; o < size; o += unit)
		bad += bad_words(p + o + (upper ? unit / 2 : 0), unit / 2, seed);
	return bad;
}

/* Map every THP of [p, p + size) by PTEs: split its PMD mapping */
static int pte_map(char *p, size_t size)
{
	size_t o;

	for (o = 0; o < size; o += HPAGE)
		if (mprotect(p + o, PAGE, PROT_READ) ||
		    mprotect(p + o, PAGE, PROT_READ | PROT_WRITE))
			return -1;
	return 0;
}

/*
 * The child's side of the COW check (@arg is a struct cow_share): it
 * shares b (size bytes, seed 2, in large folios of unit bytes), maps it by
 * PTEs, then on demand checks it, writes the lower half of every unit
 * (seed 4) and checks it again. Replies are counts of corrupt words.
 */
struct cow_share {
	char *b;
	size_t size, unit;
	long setup;	/* the child's: 0, or -1 if it could not map by PTEs */
};

static void victim_cow_setup(void *arg)
{
	struct cow_share *cs = arg;

	cs->setup = cs->unit == HPAGE && pte_map(cs->b, cs->size) ? -1 : 0;
}

static long victim_cow_answer(void *arg, int cmd)
{
	const struct cow_share *cs = arg;

	switch (cmd) {
	case V_COW_READY:
		return cs->setup;
	case V_CHECK:
		return bad_words(cs->b, cs->size, 2);
	case V_WRITE_LOW:
		fill_halves(cs->b, cs->size, cs->unit, 0, 4);
		return 0;
	case V_CHECK_LOW:
		return bad_halves(cs->b, cs->size, cs->unit, 0, 4) +
		       bad_halves(cs->b, cs->size, cs->unit, 1, 2);
	}
	_exit(0);
}

/*
 * Start the child: it runs @setup(@arg), then answers each command with
 * @answer(@arg, command) until told to exit (an answer may exit too).
 */
static void fork_victim(struct victim *v, void (*setup)(void *),
			long (*answer)(void *, int), void *arg)
{
	int cmd[2], reply[2], c;
	long r;

	if (pipe(cmd) || pipe(reply))
		die("pipe");
	fflush(NULL);
	v->pid = fork();
	if (v->pid < 0)
		die("fork");
	if (!v->pid) {
		close(cmd[1]);
		close(reply[0]);
		setup(arg);
		while (read(cmd[0], &c, sizeof(c)) == sizeof(c) && c != V_EXIT) {
			r = answer(arg, c);
			if (write(reply[1], &r, sizeof(r)) != sizeof(r))
				_exit(2);
		}
		_exit(0);
	}
	close(cmd[0]);
	close(reply[1]);
	v->cmd = cmd[1];
	v->reply = reply[0];
}

static void end_victim(struct victim *v)
{
	int status, cmd = V_EXIT;

	/* It exits without an answer */
	if (v->pid && write(v->cmd, &cmd, sizeof(cmd)) == sizeof(cmd))
		waitpid(v->pid, &status, 0);
	close(v->cmd);
	close(v->reply);
}

/* ---------------------------------------------------------------------- */

/*
 * After the exchange: this process writes the upper half of every @unit of
 * B (seed 3), the child the lower halves (seed 4); each must see only its
 * own writes, every byte of both copies checked. Returns 0, or -1 with
 * the reason in @why.
 */
static int cow_written_both_sides(struct victim *v, char *b, size_t size,
				  size_t unit, char *why, size_t len)
{
	long bad;

	fill_halves(b, size, unit, 1, 3);
	if (send_cmd(v, V_CHECK, &bad) || bad) {
		snprintf(why, len,
			 "%ld words of the child's B changed by the parent's write (-1: the child died)",
			 bad);
		return -1;
	}
	if (send_cmd(v, V_WRITE_LOW, NULL) || send_cmd(v, V_CHECK_LOW, &bad)) {
		snprintf(why, len, "the child died");
		return -1;
	}
	bad += bad_halves(b, size, unit, 0, 2) + bad_halves(b, size, unit, 1, 3);
	if (bad) {
		snprintf(why, len, "%ld corrupt words after writes from both sides",
			 bad);
		return -1;
	}
	return 0;
}

static void check_cow(size_t size, const char *name)
{
	char *a, *b, result[32], why[160] = "";
	struct cow_share cs;
	struct victim v;
	long bad;

	b = map_aligned(size == HPAGE ? HPAGE : 2 * size);
	fill(b, size, 2);
	if (!large_at(b, size)) {
		report(name, "B is not one large folio (THP or mTHP not enabled?)");
		return;
	}
	cs = (struct cow_share){ .b = b, .size = size, .unit = size };
	fork_victim(&v, victim_cow_setup, victim_cow_answer, &cs);
	if (send_cmd(&v, V_COW_READY, &bad) || bad) {
		snprintf(why, sizeof(why), "the child could not map B by PTEs");
		goto out;
	}
	if (size == HPAGE && pte_map(b, size))
		die("mprotect");
	if (proc_pfn(v.pid, b) != proc_pfn(getpid(), b)) {
		snprintf(why, sizeof(why), "B is not COW-shared after fork");
		goto out;
	}

	a = map_aligned(size == HPAGE ? HPAGE : 2 * size);
	fill(a, size, 1);
	if (size == HPAGE && pte_map(a, size))
		die("mprotect");
	if (madvise(a + size / 2, size / 2, MADV_DONTNEED))
		die("madvise");
	if (!large_at(a, size / 2)) {
		snprintf(why, sizeof(why), "A is not part of a large folio");
		goto out;
	}

	exchange(getpid(), a, getpid(), b, result, sizeof(result));
	if (strcmp(result, "done")) {
		snprintf(why, sizeof(why), "exchange: %s", result);
		goto out;
	}
	if (cow_written_both_sides(&v, b, size, size, why, sizeof(why)))
		goto out;
	bad = bad_words(a, size / 2, 1);
	if (bad)
		snprintf(why, sizeof(why), "%ld corrupt words of A", bad);
out:
	end_victim(&v);
	report(name, why[0] ? why : NULL);
}

/*
 * cow-prepare: the same breach, with the engine choosing the pair. This
 * process's range is two THPs, A1 and A2, each mapped by PTEs with its
 * upper half unmapped, on frames that are not adjacent. B, a pool of THPs
 * shared copy-on-write with the child, is faulted in before, between and
 * after them, so that the buddy allocator puts a B right behind A1 or
 * right before A2. An exchange-only PREPARE of the range keeps one of
 * A1 and A2 in place and exchanges the other whole with the frames next to
 * it: with a B there, the recipe's pair. Attempts where the frames next to
 * A1 and A2 are no B, or the engine exchanged with something else, are
 * set up again; one where it chose a B is the check.
 */
#define POOL_RUN	16	/* THPs of B faulted in before, between, after */
#define POOL_SIZE	(3 * POOL_RUN * HPAGE)
#define PREPARE_TRIES	8	/* PREPAREs with a B next to A1 or A2 */
#define SETUP_TRIES	32	/* set-ups, with a B there or not */

struct cow_prepare {
	char *pool_map, *pool, *range_map, *range;
	uint64_t a_pfn[2], b_pfn[3 * POOL_RUN];
};

/* Returns 1 if a B lies next to A1 or A2, 0 to try again, -1 on errors */
static int cow_prepare_setup(struct cow_prepare *cp, char *why, size_t len)
{
	size_t run = POOL_RUN * HPAGE;
	int k, next_to_b = 0;

	cp->pool = map_in(POOL_SIZE, HPAGE, &cp->pool_map);
	cp->range = map_in(2 * HPAGE, 2 * HPAGE, &cp->range_map);
	/* The range stays this process's alone */
	if (madvise(cp->range_map, 4 * HPAGE, MADV_DONTFORK))
		die("madvise");
	/* Fault in order: B, A1, B, A2, B */
	fill(cp->pool, run, 2);
	fill(cp->range, HPAGE, 1);
	fill(cp->pool + run, run, 2);
	fill(cp->range + HPAGE, HPAGE, 1);
	fill(cp->pool + 2 * run, run, 2);
	for (k = 0; k < 3 * POOL_RUN; k++) {
		if (!large_at(cp->pool + k * HPAGE, HPAGE)) {
			snprintf(why, len, "B is not all THPs (THP not enabled?)");
			return -1;
		}
		cp->b_pfn[k] = proc_pfn(getpid(), cp->pool + k * HPAGE);
	}
	for (k = 0; k < 2; k++) {
		if (!large_at(cp->range + k * HPAGE, HPAGE)) {
			snprintf(why, len, "A%d is not a THP", k + 1);
			return -1;
		}
		cp->a_pfn[k] = proc_pfn(getpid(), cp->range + k * HPAGE);
	}
	if (cp->a_pfn[1] == cp->a_pfn[0] + HPAGE / PAGE)
		return 0;	/* already contiguous: nothing would move */
	for (k = 0; k < 3 * POOL_RUN; k++)
		next_to_b |= cp->b_pfn[k] == cp->a_pfn[0] + HPAGE / PAGE ||
			     cp->b_pfn[k] + HPAGE / PAGE == cp->a_pfn[1];
	if (!next_to_b)
		return 0;
	for (k = 0; k < 2; k++) {
		if (pte_map(cp->range + k * HPAGE, HPAGE) ||
		    madvise(cp->range + k * HPAGE + HPAGE / 2, HPAGE / 2,
			    MADV_DONTNEED))
			die("mprotect/madvise");
	}
	return 1;
}

static void cow_prepare_teardown(struct cow_prepare *cp)
{
	munmap(cp->pool_map, POOL_SIZE + HPAGE);
	munmap(cp->range_map, 4 * HPAGE);
}

/* The B this process now has on A1's or A2's old frames, or -1 */
static int cow_prepare_exchanged(const struct cow_prepare *cp)
{
	uint64_t pfn;
	int k;

	for (k = 0; k < 3 * POOL_RUN; k++) {
		pfn = proc_pfn(getpid(), cp->pool + k * HPAGE);
		if (pfn == cp->a_pfn[0] || pfn == cp->a_pfn[1])
			return k;
	}
	return -1;
}

static void check_cow_prepare(void)
{
	char why[200] = "";
	struct cow_prepare cp;
	struct cow_share cs;
	struct victim v = { .pid = 0, .cmd = -1, .reply = -1 };
	int dev, setups, tries = 0, ok, k = -1;
	uint64_t pfn, a_now[2];
	long bad;

	dev = open("/dev/contig_dma", O_RDWR);
	if (dev < 0)
		die("/dev/contig_dma");
	for (setups = 1; setups <= SETUP_TRIES && tries < PREPARE_TRIES;
	     setups++) {
		struct contig_dma_prepare p = {
			.size = sizeof(p),
			.flags = CONTIG_DMA_F_EXCHANGE_ONLY,
		};

		ok = cow_prepare_setup(&cp, why, sizeof(why));
		if (ok < 0)
			goto out;
		if (!ok) {
			cow_prepare_teardown(&cp);
			continue;
		}
		tries++;
		cs = (struct cow_share){ .b = cp.pool, .size = POOL_SIZE,
					 .unit = HPAGE };
		fork_victim(&v, victim_cow_setup, victim_cow_answer, &cs);
		if (send_cmd(&v, V_COW_READY, &bad) || bad) {
			snprintf(why, sizeof(why), "the child could not map B by PTEs");
			goto out;
		}
		if (pte_map(cp.pool, POOL_SIZE))
			die("mprotect");
		if (proc_pfn(v.pid, cp.pool) != cp.b_pfn[0] ||
		    proc_pfn(getpid(), cp.pool) != cp.b_pfn[0]) {
			snprintf(why, sizeof(why), "B is not COW-shared after fork");
			goto out;
		}
		p.start = (uintptr_t)cp.range;
		p.length = 2 * HPAGE;
		p.key = p.start;
		if (ioctl(dev, CONTIG_DMA_PREPARE, &p)) {
			snprintf(why, sizeof(why), "PREPARE: %s", strerror(errno));
			goto out;
		}
		k = cow_prepare_exchanged(&cp);
		if (k >= 0)
			break;
		a_now[0] = proc_pfn(getpid(), cp.range);
		a_now[1] = proc_pfn(getpid(), cp.range + HPAGE);
		printf("cow-prepare: set-up %d: A1 %#llx -> %#llx, A2 %#llx -> %#llx, no B moved\n",
		       setups, (unsigned long long)cp.a_pfn[0],
		       (unsigned long long)a_now[0],
		       (unsigned long long)cp.a_pfn[1],
		       (unsigned long long)a_now[1]);
		end_victim(&v);
		v.pid = 0;
		cow_prepare_teardown(&cp);
	}
	if (k < 0) {
		snprintf(why, sizeof(why),
			 "in %d set-ups, %d with a B next to A1 or A2, the engine never exchanged A1 or A2 with a B",
			 setups - 1, tries);
		goto out_dev;
	}
	pfn = proc_pfn(getpid(), cp.pool + k * HPAGE);
	printf("cow-prepare: set-up %d, PREPARE %d, B %d exchanged with A%d (pfn %#llx)\n",
	       setups, tries, k, pfn == cp.a_pfn[0] ? 1 : 2,
	       (unsigned long long)pfn);

	if (cow_written_both_sides(&v, cp.pool, POOL_SIZE, HPAGE, why,
				   sizeof(why)))
		goto out;
	bad = bad_halves(cp.range, 2 * HPAGE, HPAGE, 0, 1);
	if (bad)
		snprintf(why, sizeof(why), "%ld corrupt words of A1 and A2", bad);
out:
	if (v.pid)
		end_victim(&v);
	cow_prepare_teardown(&cp);
out_dev:
	close(dev);
	report("cow-prepare", why[0] ? why : NULL);
}

/* The child: one page of each kind it is asked for, reported by address */
struct pages {
	char *locked, *memfd, *clean, *dirty, *wp, *minor;
	int uffd, uffd_ok;
	uint64_t dirty_seed;	/* what the child last wrote to @dirty */
};

/*
 * The child's userfaultfd: @wp write-protected, @minor registered for minor
 * faults. Returns 0, or -1 if the kernel lacks either.
 */
static int uffd_setup(struct pages *pg)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_MINOR_SHMEM,
	};
	struct uffdio_register wp = {
		.range = { (uintptr_t)pg->wp, PAGE },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	struct uffdio_register minor = {
		.range = { (uintptr_t)pg->minor, PAGE },
		.mode = UFFDIO_REGISTER_MODE_MINOR,
	};
	struct uffdio_writeprotect protect = {
		.range = { (uintptr_t)pg->wp, PAGE },
		.mode = UFFDIO_WRITEPROTECT_MODE_WP,
	};

	pg->uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (pg->uffd < 0 || ioctl(pg->uffd, UFFDIO_API, &api) ||
	    ioctl(pg->uffd, UFFDIO_REGISTER, &wp) ||
	    ioctl(pg->uffd, UFFDIO_REGISTER, &minor) ||
	    ioctl(pg->uffd, UFFDIO_WRITEPROTECT, &protect))
		return -1;
	return 0;
}

/* Events waiting on the child's userfaultfd: none is expected */
static long uffd_events(int uffd)
{
	struct uffd_msg msg;
	long n = 0;

	while (read(uffd, &msg, sizeof(msg)) == sizeof(msg))
		n++;
	return n;
}

static long victim_pages_answer(void *arg, int cmd)
{
	struct pages *pg = arg;

	switch (cmd) {
	case V_CHECK:
		return bad_words(pg->locked, PAGE, 11) +
		       bad_words(pg->memfd, PAGE, 12) +
		       bad_words(pg->clean, PAGE, 13) +
		       bad_words(pg->dirty, PAGE, pg->dirty_seed) +
		       bad_words(pg->wp, PAGE, 16) +
		       bad_words(pg->minor, PAGE, 17);
	case V_UFFD:
		return pg->uffd_ok ? uffd_events(pg->uffd) : -1;
	case V_WRITE_LOW:
		/* After clear_refs: dirty the one page */
		pg->dirty_seed = 15;
		fill(pg->dirty, PAGE, pg->dirty_seed);
		return 0;
	}
	_exit(0);
}

static char *map_memfd(void)
{
	int fd = memfd_create("exchange_regress", 0);
	char *p;

	if (fd < 0 || ftruncate(fd, PAGE))
		die("memfd");
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("mmap memfd");
	close(fd);
	return p;
}

/* The child's own pages, faulted in after the fork */
static void victim_pages_setup(void *arg)
{
	struct pages *pg = arg;

	fill(pg->locked, PAGE, 11);
	if (mlock(pg->locked, PAGE))
		_exit(3);
	fill(pg->memfd, PAGE, 12);
	fill(pg->clean, PAGE, 13);
	pg->dirty_seed = 14;
	fill(pg->dirty, PAGE, pg->dirty_seed);
	fill(pg->wp, PAGE, 16);
	fill(pg->minor, PAGE, 17);
	pg->uffd_ok = !uffd_setup(pg);
}

static void fork_pages_victim(struct victim *v, struct pages *pg)
{
	pg->locked = map_aligned(PAGE);
	pg->memfd = map_memfd();
	pg->clean = map_aligned(PAGE);
	pg->dirty = map_aligned(PAGE);
	pg->wp = map_aligned(PAGE);
	pg->minor = map_memfd();
	fork_victim(v, victim_pages_setup, victim_pages_answer, pg);
}

/* A page of this process, 4 KiB, filled with @seed */
static char *own_page(uint64_t seed)
{
	char *p = map_aligned(PAGE);

	if (madvise(p, PAGE, MADV_NOHUGEPAGE))
		die("madvise");
	fill(p, PAGE, seed);
	return p;
}

static void check_victim_pages(void)
{
	char *a = own_page(21), *b = own_page(22), *c = own_page(23);
	char *d = own_page(24), *e = own_page(25), *f = map_memfd();
	char result[32], why[200], path[64];
	uint64_t pfn_a, pfn_v, pfn_m;
	unsigned long before;
	struct pages pg;
	struct victim v;
	long bad, kb, events;

	fill(f, PAGE, 26);
	fork_pages_victim(&v, &pg);
	/* Wait for the child's pages: its first reply comes after them */
	send_cmd(&v, V_CHECK, &bad);

	/* mlocked: exchanged, and still mapped and mlocked */
	why[0] = '\0';
	pfn_a = proc_pfn(getpid(), a);
	pfn_v = proc_pfn(v.pid, pg.locked);
	kb = proc_smaps_kb(v.pid, pg.locked, "Locked");
	exchange(getpid(), a, v.pid, pg.locked, result, sizeof(result));
	send_cmd(&v, V_CHECK, &bad);
	if (strcmp(result, "done"))
		snprintf(why, sizeof(why), "exchange: %s", result);
	else if (proc_pfn(v.pid, pg.locked) != pfn_a || proc_pfn(getpid(), a) != pfn_v)
		snprintf(why, sizeof(why), "the frames did not trade places");
	else if (kb != 4 || proc_smaps_kb(v.pid, pg.locked, "Locked") != kb)
		snprintf(why, sizeof(why), "smaps Locked: %ld kB before, %ld after",
			 kb, proc_smaps_kb(v.pid, pg.locked, "Locked"));
	else if (!proc_kpageflag(pfn_a, KPF_MLOCKED) || !proc_kpageflag(pfn_a, KPF_UNEVICTABLE))
		snprintf(why, sizeof(why), "the page is no longer mlocked");
	else if (bad || bad_words(a, PAGE, 21))
		snprintf(why, sizeof(why), "%ld corrupt words", bad);
	report("mlocked", why[0] ? why : NULL);

	/* unevictable: vm.compact_unevictable_allowed = 0 refuses the pair */
	why[0] = '\0';
	write_file(UNEVICTABLE_KNOB, "0");
	before = proc_vmstat("exchange_fail_unevictable");
	exchange(getpid(), a, v.pid, pg.locked, result, sizeof(result));
	write_file(UNEVICTABLE_KNOB, "1");
	send_cmd(&v, V_CHECK, &bad);
	if (strcmp(result, "unevictable"))
		snprintf(why, sizeof(why), "exchange: %s", result);
	else if (proc_vmstat("exchange_fail_unevictable") != before + 1)
		snprintf(why, sizeof(why), "exchange_fail_unevictable did not count it");
	else if (proc_pfn(v.pid, pg.locked) != pfn_a ||
		 proc_smaps_kb(v.pid, pg.locked, "Locked") != 4)
		snprintf(why, sizeof(why), "a refused exchange moved or unlocked the page");
	else if (bad || bad_words(a, PAGE, 21))
		snprintf(why, sizeof(why), "%ld corrupt words", bad);
	report("unevictable", why[0] ? why : NULL);

	/* shmem-mapped: the child's memfd page stays mapped */
	why[0] = '\0';
	before = proc_vmstat("exchange_fail_shmem_mapped");
	pfn_m = proc_pfn(v.pid, pg.memfd);
	exchange(getpid(), b, v.pid, pg.memfd, result, sizeof(result));
	if (!strcmp(result, "shmem_mapped"))
		exchange(v.pid, pg.memfd, getpid(), b, result, sizeof(result));
	send_cmd(&v, V_CHECK, &bad);
	if (strcmp(result, "shmem_mapped"))
		snprintf(why, sizeof(why), "exchange: %s", result);
	else if (proc_vmstat("exchange_fail_shmem_mapped") != before + 2)
		snprintf(why, sizeof(why), "exchange_fail_shmem_mapped did not count both");
	else if (!pfn_m || proc_pfn(v.pid, pg.memfd) != pfn_m)
		snprintf(why, sizeof(why), "the memfd page was unmapped or moved");
	else if (bad || bad_words(b, PAGE, 22))
		snprintf(why, sizeof(why), "%ld corrupt words", bad);
	report("shmem-mapped", why[0] ? why : NULL);

	/* soft-dirty: one page clean, one written since clear_refs */
	why[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/clear_refs", v.pid);
	write_file(path, "4");
	send_cmd(&v, V_WRITE_LOW, NULL);
	if (proc_pagemap(v.pid, pg.clean) & PM_SOFT_DIRTY ||
	    !(proc_pagemap(v.pid, pg.dirty) & PM_SOFT_DIRTY)) {
		snprintf(why, sizeof(why), "soft-dirty bits wrong before the exchange (CONFIG_MEM_SOFT_DIRTY?)");
	} else {
		exchange(getpid(), c, v.pid, pg.clean, result, sizeof(result));
		if (!strcmp(result, "done"))
			exchange(getpid(), d, v.pid, pg.dirty, result,
				 sizeof(result));
		send_cmd(&v, V_CHECK, &bad);
		if (strcmp(result, "done"))
			snprintf(why, sizeof(why), "exchange: %s", result);
		else if (proc_pagemap(v.pid, pg.clean) & PM_SOFT_DIRTY)
			snprintf(why, sizeof(why), "a clean page came back soft-dirty");
		else if (!(proc_pagemap(v.pid, pg.dirty) & PM_SOFT_DIRTY))
			snprintf(why, sizeof(why), "a soft-dirty page lost its bit");
		else if (bad || bad_words(c, PAGE, 23) || bad_words(d, PAGE, 24))
			snprintf(why, sizeof(why), "%ld corrupt words", bad);
	}
	report("soft-dirty", why[0] ? why : NULL);

	/* uffd-wp: still write-protected, no event */
	why[0] = '\0';
	send_cmd(&v, V_UFFD, &bad);
	if (bad) {
		snprintf(why, sizeof(why), "userfaultfd set-up failed (CONFIG_USERFAULTFD?) or events: %ld", bad);
	} else if (!(proc_pagemap(v.pid, pg.wp) & PM_UFFD_WP)) {
		snprintf(why, sizeof(why), "the page is not uffd-wp before the exchange");
	} else {
		exchange(getpid(), e, v.pid, pg.wp, result, sizeof(result));
		send_cmd(&v, V_CHECK, &bad);
		send_cmd(&v, V_UFFD, &events);
		if (strcmp(result, "done"))
			snprintf(why, sizeof(why), "exchange: %s", result);
		else if (!(proc_pagemap(v.pid, pg.wp) & PM_PRESENT) ||
			 !(proc_pagemap(v.pid, pg.wp) & PM_UFFD_WP))
			snprintf(why, sizeof(why), "the page lost its mapping or its uffd-wp bit");
		else if (events)
			snprintf(why, sizeof(why), "%ld userfaultfd events", events);
		else if (bad || bad_words(e, PAGE, 25))
			snprintf(why, sizeof(why), "%ld corrupt words", bad);
	}
	report("uffd-wp", why[0] ? why : NULL);

	/* uffd-minor: a memfd page exchanged with another stays mapped */
	why[0] = '\0';
	pfn_m = proc_pfn(getpid(), f);
	exchange(getpid(), f, v.pid, pg.minor, result, sizeof(result));
	send_cmd(&v, V_CHECK, &bad);
	send_cmd(&v, V_UFFD, &events);
	if (strcmp(result, "done"))
		snprintf(why, sizeof(why), "exchange: %s", result);
	else if (proc_pfn(v.pid, pg.minor) != pfn_m)
		snprintf(why, sizeof(why), "the page is not mapped at its new frame");
	else if (events)
		snprintf(why, sizeof(why), "%ld userfaultfd events", events);
	else if (bad || bad_words(f, PAGE, 26))
		snprintf(why, sizeof(why), "%ld corrupt words", bad);
	report("uffd-minor", why[0] ? why : NULL);
	end_victim(&v);
}

int main(void)
{
	char mthp_was[128], *sel, *end;

	/* A child that died is reported, not a reason to die too */
	signal(SIGPIPE, SIG_IGN);
	knob = open(KNOB, O_RDWR);
	if (knob < 0)
		die(KNOB);

	check_cow(HPAGE, "cow-thp");
	check_cow_prepare();
	/* The 64 KiB mTHP size, as it was set before: "[never]" and so on */
	read_file(MTHP_KNOB, mthp_was, sizeof(mthp_was));
	write_file(MTHP_KNOB, "always");
	check_cow(MTHP, "cow-mthp");
	sel = strchr(mthp_was, '[');
	end = sel ? strchr(sel, ']') : NULL;
	if (sel && end) {
		*end = '\0';
		write_file(MTHP_KNOB, sel + 1);
	}
	check_victim_pages();

	printf("RESULT checks=%d failed=%d\n", checks, failed);
	return failed ? 1 : 0;
}
