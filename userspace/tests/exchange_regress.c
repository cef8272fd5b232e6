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
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE		4096UL
#define HPAGE		(2UL << 20)
#define MTHP		(64UL << 10)
#define KNOB		"/sys/kernel/debug/contig/exchange"
#define MTHP_KNOB	"/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled"
#define UNEVICTABLE_KNOB "/proc/sys/vm/compact_unevictable_allowed"

#define PM_PRESENT	(1ULL << 63)
#define PM_SOFT_DIRTY	(1ULL << 55)
#define PM_UFFD_WP	(1ULL << 57)
#define PM_PFN		((1ULL << 55) - 1)
#define KPF_UNEVICTABLE	18
#define KPF_THP		22
#define KPF_MLOCKED	33

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

/*
 * @align bytes aligned to @align, in an anonymous mapping of 2 * @align:
 * too small for a THP when @align is below 2 MiB.
 */
static char *map_aligned(size_t align)
{
	char *p = mmap(NULL, 2 * align, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	return (char *)(((uintptr_t)p + align - 1) & ~(align - 1));
}

static uint64_t pagemap(pid_t pid, const void *addr)
{
	char path[64];
	uint64_t e = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0 || pread(fd, &e, 8, (uintptr_t)addr / PAGE * 8) != 8)
		e = 0;
	if (fd >= 0)
		close(fd);
	return e;
}

static uint64_t pfn_of(pid_t pid, const void *addr)
{
	uint64_t e = pagemap(pid, addr);

	return e & PM_PRESENT ? e & PM_PFN : 0;
}

static int kpageflag(uint64_t pfn, int bit)
{
	uint64_t f = 0;
	int fd = open("/proc/kpageflags", O_RDONLY);

	if (fd < 0 || pread(fd, &f, 8, pfn * 8) != 8)
		f = 0;
	if (fd >= 0)
		close(fd);
	return !!(f & (1ULL << bit));
}

/* A large folio behind [p, p + len): contiguous frames, kpageflags THP */
static int large_at(const char *p, size_t len)
{
	uint64_t first = pfn_of(getpid(), p);

	return first && kpageflag(first, KPF_THP) &&
	       pfn_of(getpid(), p + len - PAGE) == first + len / PAGE - 1;
}

static unsigned long vmstat(const char *name)
{
	char key[64];
	unsigned long v, found = 0;
	FILE *f = fopen("/proc/vmstat", "r");

	while (f && fscanf(f, "%63s %lu", key, &v) == 2)
		if (!strcmp(key, name))
			found = v;
	if (f)
		fclose(f);
	return found;
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

/*
 * The child's side of the COW check: it shares @b (@size bytes, seed 2),
 * maps it by PTEs, then on demand checks it, writes its lower half (seed
 * 4) and checks it again. Replies are counts of corrupt words.
 */
static void victim_cow(char *b, size_t size, int cmd, int reply)
{
	long r = 0;
	int c;

	if (size == HPAGE && (mprotect(b, PAGE, PROT_READ) ||
			      mprotect(b, PAGE, PROT_READ | PROT_WRITE)))
		r = -1;
	while (read(cmd, &c, sizeof(c)) == sizeof(c)) {
		switch (c) {
		case V_COW_READY:
			break;
		case V_CHECK:
			r = bad_words(b, size, 2);
			break;
		case V_WRITE_LOW:
			fill(b, size / 2, 4);
			r = 0;
			break;
		case V_CHECK_LOW:
			r = bad_words(b, size / 2, 4) +
			    bad_words(b + size / 2, size / 2, 2);
			break;
		default:
			_exit(0);
		}
		if (write(reply, &r, sizeof(r)) != sizeof(r))
			_exit(2);
	}
	_exit(0);
}

static void fork_cow_victim(struct victim *v, char *b, size_t size)
{
	int cmd[2], reply[2];

	if (pipe(cmd) || pipe(reply))
		die("pipe");
	fflush(NULL);
	v->pid = fork();
	if (v->pid < 0)
		die("fork");
	if (!v->pid) {
		close(cmd[1]);
		close(reply[0]);
		victim_cow(b, size, cmd[0], reply[1]);
	}
	close(cmd[0]);
	close(reply[1]);
	v->cmd = cmd[1];
	v->reply = reply[0];
}

static void end_victim(struct victim *v)
{
	int status;

	int cmd = V_EXIT;

	/* It exits without an answer */
	if (v->pid && write(v->cmd, &cmd, sizeof(cmd)) == sizeof(cmd))
		waitpid(v->pid, &status, 0);
	close(v->cmd);
	close(v->reply);
}

/* ---------------------------------------------------------------------- */

static void check_cow(size_t size, const char *name)
{
	char *a, *b, result[32], why[160] = "";
	struct victim v;
	long bad;

	b = map_aligned(size == HPAGE ? HPAGE : 2 * size);
	fill(b, size, 2);
	if (!large_at(b, size)) {
		report(name, "B is not one large folio (THP or mTHP not enabled?)");
		return;
	}
	fork_cow_victim(&v, b, size);
	if (send_cmd(&v, V_COW_READY, &bad) || bad) {
		snprintf(why, sizeof(why), "the child could not map B by PTEs");
		goto out;
	}
	if (size == HPAGE && (mprotect(b, PAGE, PROT_READ) ||
			      mprotect(b, PAGE, PROT_READ | PROT_WRITE)))
		die("mprotect");
	if (pfn_of(v.pid, b) != pfn_of(getpid(), b)) {
		snprintf(why, sizeof(why), "B is not COW-shared after fork");
		goto out;
	}

	a = map_aligned(size == HPAGE ? HPAGE : 2 * size);
	fill(a, size, 1);
	if (size == HPAGE && (mprotect(a, PAGE, PROT_READ) ||
			      mprotect(a, PAGE, PROT_READ | PROT_WRITE)))
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
	/* This process writes B's upper half: a COW copy, not the child's */
	fill(b + size / 2, size / 2, 3);
	if (send_cmd(&v, V_CHECK, &bad) || bad) {
		snprintf(why, sizeof(why),
			 "%ld words of the child's B changed by the parent's write (-1: the child died)",
			 bad);
		goto out;
	}
	/* And the child its lower half */
	if (send_cmd(&v, V_WRITE_LOW, NULL) || send_cmd(&v, V_CHECK_LOW, &bad)) {
		snprintf(why, sizeof(why), "the child died");
		goto out;
	}
	bad += bad_words(b, size / 2, 2) + bad_words(b + size / 2, size / 2, 3) +
	       bad_words(a, size / 2, 1);
	if (bad)
		snprintf(why, sizeof(why),
			 "%ld corrupt words after writes from both sides", bad);
out:
	end_victim(&v);
	report(name, why[0] ? why : NULL);
}

/* The child: one page of each kind it is asked for, reported by address */
struct pages {
	char *locked, *memfd, *clean, *dirty, *wp, *minor;
	int uffd;
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

static void victim_pages(struct pages *pg, int uffd_ok, int cmd, int reply)
{
	uint64_t dirty_seed = 14;
	long r;
	int c;

	while (read(cmd, &c, sizeof(c)) == sizeof(c)) {
		switch (c) {
		case V_CHECK:
			r = bad_words(pg->locked, PAGE, 11) +
			    bad_words(pg->memfd, PAGE, 12) +
			    bad_words(pg->clean, PAGE, 13) +
			    bad_words(pg->dirty, PAGE, dirty_seed) +
			    bad_words(pg->wp, PAGE, 16) +
			    bad_words(pg->minor, PAGE, 17);
			break;
		case V_UFFD:
			r = uffd_ok ? uffd_events(pg->uffd) : -1;
			break;
		case V_WRITE_LOW:
			/* After clear_refs: dirty the one page */
			dirty_seed = 15;
			fill(pg->dirty, PAGE, dirty_seed);
			r = 0;
			break;
		default:
			_exit(0);
		}
		if (write(reply, &r, sizeof(r)) != sizeof(r))
			_exit(2);
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

static void fork_pages_victim(struct victim *v, struct pages *pg)
{
	int cmd[2], reply[2];

	pg->locked = map_aligned(PAGE);
	pg->memfd = map_memfd();
	pg->clean = map_aligned(PAGE);
	pg->dirty = map_aligned(PAGE);
	pg->wp = map_aligned(PAGE);
	pg->minor = map_memfd();
	if (pipe(cmd) || pipe(reply))
		die("pipe");
	fflush(NULL);
	v->pid = fork();
	if (v->pid < 0)
		die("fork");
	if (!v->pid) {
		close(cmd[1]);
		close(reply[0]);
		/* The child's own pages, faulted in after the fork */
		fill(pg->locked, PAGE, 11);
		if (mlock(pg->locked, PAGE))
			_exit(3);
		fill(pg->memfd, PAGE, 12);
		fill(pg->clean, PAGE, 13);
		fill(pg->dirty, PAGE, 14);
		fill(pg->wp, PAGE, 16);
		fill(pg->minor, PAGE, 17);
		victim_pages(pg, !uffd_setup(pg), cmd[0], reply[1]);
	}
	close(cmd[0]);
	close(reply[1]);
	v->cmd = cmd[1];
	v->reply = reply[0];
}

/* smaps "Locked:" of the child's mapping at @addr, in kB */
static long locked_kb(pid_t pid, const void *addr)
{
	char path[64], line[256];
	unsigned long start, end;
	long kb = -1;
	int in = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 &&
		    strchr(line, '-') < strchr(line, ' '))
			in = (uintptr_t)addr >= start && (uintptr_t)addr < end;
		else if (in && sscanf(line, "Locked: %ld kB", &kb) == 1)
			break;
	}
	if (f)
		fclose(f);
	return kb;
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
	pfn_a = pfn_of(getpid(), a);
	pfn_v = pfn_of(v.pid, pg.locked);
	kb = locked_kb(v.pid, pg.locked);
	exchange(getpid(), a, v.pid, pg.locked, result, sizeof(result));
	send_cmd(&v, V_CHECK, &bad);
	if (strcmp(result, "done"))
		snprintf(why, sizeof(why), "exchange: %s", result);
	else if (pfn_of(v.pid, pg.locked) != pfn_a || pfn_of(getpid(), a) != pfn_v)
		snprintf(why, sizeof(why), "the frames did not trade places");
	else if (kb != 4 || locked_kb(v.pid, pg.locked) != kb)
		snprintf(why, sizeof(why), "smaps Locked: %ld kB before, %ld after",
			 kb, locked_kb(v.pid, pg.locked));
	else if (!kpageflag(pfn_a, KPF_MLOCKED) || !kpageflag(pfn_a, KPF_UNEVICTABLE))
		snprintf(why, sizeof(why), "the page is no longer mlocked");
	else if (bad || bad_words(a, PAGE, 21))
		snprintf(why, sizeof(why), "%ld corrupt words", bad);
	report("mlocked", why[0] ? why : NULL);

	/* unevictable: vm.compact_unevictable_allowed = 0 refuses the pair */
	why[0] = '\0';
	write_file(UNEVICTABLE_KNOB, "0");
	before = vmstat("exchange_fail_unevictable");
	exchange(getpid(), a, v.pid, pg.locked, result, sizeof(result));
	write_file(UNEVICTABLE_KNOB, "1");
	send_cmd(&v, V_CHECK, &bad);
	if (strcmp(result, "unevictable"))
		snprintf(why, sizeof(why), "exchange: %s", result);
	else if (vmstat("exchange_fail_unevictable") != before + 1)
		snprintf(why, sizeof(why), "exchange_fail_unevictable did not count it");
	else if (pfn_of(v.pid, pg.locked) != pfn_a || locked_kb(v.pid, pg.locked) != 4)
		snprintf(why, sizeof(why), "a refused exchange moved or unlocked the page");
	else if (bad || bad_words(a, PAGE, 21))
		snprintf(why, sizeof(why), "%ld corrupt words", bad);
	report("unevictable", why[0] ? why : NULL);

	/* shmem-mapped: the child's memfd page stays mapped */
	why[0] = '\0';
	before = vmstat("exchange_fail_shmem_mapped");
	pfn_m = pfn_of(v.pid, pg.memfd);
	exchange(getpid(), b, v.pid, pg.memfd, result, sizeof(result));
	if (!strcmp(result, "shmem_mapped"))
		exchange(v.pid, pg.memfd, getpid(), b, result, sizeof(result));
	send_cmd(&v, V_CHECK, &bad);
	if (strcmp(result, "shmem_mapped"))
		snprintf(why, sizeof(why), "exchange: %s", result);
	else if (vmstat("exchange_fail_shmem_mapped") != before + 2)
		snprintf(why, sizeof(why), "exchange_fail_shmem_mapped did not count both");
	else if (!pfn_m || pfn_of(v.pid, pg.memfd) != pfn_m)
		snprintf(why, sizeof(why), "the memfd page was unmapped or moved");
	else if (bad || bad_words(b, PAGE, 22))
		snprintf(why, sizeof(why), "%ld corrupt words", bad);
	report("shmem-mapped", why[0] ? why : NULL);

	/* soft-dirty: one page clean, one written since clear_refs */
	why[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/clear_refs", v.pid);
	write_file(path, "4");
	send_cmd(&v, V_WRITE_LOW, NULL);
	if (pagemap(v.pid, pg.clean) & PM_SOFT_DIRTY ||
	    !(pagemap(v.pid, pg.dirty) & PM_SOFT_DIRTY)) {
		snprintf(why, sizeof(why), "soft-dirty bits wrong before the exchange (CONFIG_MEM_SOFT_DIRTY?)");
	} else {
		exchange(getpid(), c, v.pid, pg.clean, result, sizeof(result));
		if (!strcmp(result, "done"))
			exchange(getpid(), d, v.pid, pg.dirty, result,
				 sizeof(result));
		send_cmd(&v, V_CHECK, &bad);
		if (strcmp(result, "done"))
			snprintf(why, sizeof(why), "exchange: %s", result);
		else if (pagemap(v.pid, pg.clean) & PM_SOFT_DIRTY)
			snprintf(why, sizeof(why), "a clean page came back soft-dirty");
		else if (!(pagemap(v.pid, pg.dirty) & PM_SOFT_DIRTY))
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
	} else if (!(pagemap(v.pid, pg.wp) & PM_UFFD_WP)) {
		snprintf(why, sizeof(why), "the page is not uffd-wp before the exchange");
	} else {
		exchange(getpid(), e, v.pid, pg.wp, result, sizeof(result));
		send_cmd(&v, V_CHECK, &bad);
		send_cmd(&v, V_UFFD, &events);
		if (strcmp(result, "done"))
			snprintf(why, sizeof(why), "exchange: %s", result);
		else if (!(pagemap(v.pid, pg.wp) & PM_PRESENT) ||
			 !(pagemap(v.pid, pg.wp) & PM_UFFD_WP))
			snprintf(why, sizeof(why), "the page lost its mapping or its uffd-wp bit");
		else if (events)
			snprintf(why, sizeof(why), "%ld userfaultfd events", events);
		else if (bad || bad_words(e, PAGE, 25))
			snprintf(why, sizeof(why), "%ld corrupt words", bad);
	}
	report("uffd-wp", why[0] ? why : NULL);

	/* uffd-minor: a memfd page exchanged with another stays mapped */
	why[0] = '\0';
	pfn_m = pfn_of(getpid(), f);
	exchange(getpid(), f, v.pid, pg.minor, result, sizeof(result));
	send_cmd(&v, V_CHECK, &bad);
	send_cmd(&v, V_UFFD, &events);
	if (strcmp(result, "done"))
		snprintf(why, sizeof(why), "exchange: %s", result);
	else if (pfn_of(v.pid, pg.minor) != pfn_m)
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
