// SPDX-License-Identifier: GPL-2.0
/*
 * neighbours_test: a PREPARE keeps to the rules the rest of mm sets, in a
 * guest with two NUMA nodes and a CMA area (make test boots one for it:
 * neighbours.sh).
 *
 * NUMA. Windows come only from nodes the requesting task may allocate
 * from; a page an exchange moves out of the window lands where ours was,
 * and only if its owner may use that node. Our buffer is scattered on
 * node 0; we PREPARE it bound (MPOL_BIND) to node 1, EXCHANGE_ONLY, so
 * that every move is an exchange with a page on node 1, and the other
 * page would go to node 0. The other pages are a "victim" process's
 * 256 MiB on node 1:
 *  - window_policy: every page of ours that moved is on node 1;
 *  - victim_cpuset: the victim's cgroup allows node 1 only: no victim
 *    page leaves node 1, refusals are traced (node_refused);
 *  - victim_mbind: the victim's buffer is mbind()ed to node 1: likewise;
 *  - victim_free: the victim may use both nodes: the exchanges happen and
 *    victim pages go to node 0 (what the two cases above prevent).
 * Every page of ours, of the interleaved buffer and of the victim is
 * verified afterwards.
 *
 * CMA and isolation. cma_never_window: a scattered 64 MiB buffer
 * PREPAREd with free frames allowed, bound to node 1, never lands in the
 * CMA area (its PFNs from debugfs cma/): 512 MiB of free frames where
 * node 1 starts (cma=512M@6G), the first windows a search of node 1
 * meets.
 * hugetlb_concurrent: a 1 GiB hugetlb page allocated (alloc_contig_pages:
 * pageblocks isolated, pages migrated) while another process PREPAREs
 * buffer after buffer: data intact on both sides, and afterwards no free
 * frame left isolated (/proc/pagetypeinfo) and the 1 GiB allocation
 * possible again.
 *
 * Prints "PASS name" or "FAIL name: reason" per case and "N passed, M
 * failed" at the end; exits 1 if any case failed. Needs root.
 *
 * Usage: neighbours_test CONFINED_CGROUP FREE_CGROUP
 *   CONFINED_CGROUP: a cgroup v2 directory whose cpuset.mems is "1"
 *   FREE_CGROUP: one whose cpuset.mems is "0-1"
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/contig_dma.h>
#include <linux/mempolicy.h>

#include "lib/knob.h"
#include "lib/membuf.h"
#include "lib/procpage.h"

#define PROG		"neighbours_test"
#define HPAGE		(2UL << 20)
#define OURS_LEN	(16 * MIB)
#define VICTIM_LEN	(256 * MIB)
#define CMA_LEN		(64 * MIB)
#define HUGE_1G		"/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages"
#define TRACE		"/sys/kernel/tracing"
#define PREPARE_EVENT	TRACE "/events/contig_dma/contig_dma_prepare/enable"

#define OURS_ID		0x31
#define OTHER_ID	0x32
#define VICTIM_ID	0x33

static int devfd;
static int passed, failed;

static bool __attribute__((format(printf, 2, 3)))
check(const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	failed++;
	return false;
}

static void pass(const char *name)
{
	printf("PASS %s\n", name);
	fflush(stdout);
	passed++;
}

/* The calling task allocates from @node only (-1: the default policy) */
static int bind_to(int node)
{
	unsigned long mask = node < 0 ? 0 : 1UL << node;

	return syscall(SYS_set_mempolicy, node < 0 ? MPOL_DEFAULT : MPOL_BIND,
		       node < 0 ? NULL : &mask, node < 0 ? 0 : 8 * sizeof(mask));
}

/*
 * The node of each page of [@addr, @addr + @pages pages) of process @pid,
 * counted into @on[0], @on[1]; pages not present or elsewhere in
 * @on[2]. -errno on failure.
 */
static int count_nodes(pid_t pid, const char *addr, unsigned long pages,
		       unsigned long on[3])
{
	enum { BATCH = 512 };
	void *ptrs[BATCH];
	int status[BATCH];
	unsigned long i, n, j;

	on[0] = on[1] = on[2] = 0;
	for (i = 0; i < pages; i += n) {
		n = pages - i < BATCH ? pages - i : BATCH;
		for (j = 0; j < n; j++)
			ptrs[j] = (void *)(addr + (i + j) * PAGE_SZ);
		if (syscall(SYS_move_pages, pid, n, ptrs, NULL, status, 0))
			return -errno;
		for (j = 0; j < n; j++)
			on[status[j] == 0 || status[j] == 1 ? status[j] : 2]++;
	}
	return 0;
}

/* The node of our page at @addr, or -errno */
static int page_node(const void *addr)
{
	void *p = (void *)addr;
	int status;

	if (syscall(SYS_move_pages, 0, 1, &p, NULL, &status, 0))
		return -errno;
	return status;
}

/*
 * Our pages that are on another frame than in @before and not on node 1:
 * moved into a window on a node the request did not allow.
 */
static unsigned long moved_off_node1(const char *a, unsigned long pages,
				     const uint64_t *before)
{
	unsigned long i, n = 0;

	for (i = 0; i < pages; i++)
		n += proc_pfn(0, a + i * PAGE_SZ) != before[i] &&
		     page_node(a + i * PAGE_SZ) != 1;
	return n;
}

/* Fault @a and @b in alternately, last page first (as contig_dma_test) */
static void fill_scattered(char *a, char *b, unsigned long pages)
{
	unsigned long i;

	for (i = pages; i-- > 0;) {
		membuf_fill_page(a + i * PAGE_SZ, OURS_ID, i);
		membuf_fill_page(b + i * PAGE_SZ, OTHER_ID, i);
	}
}

static int prepare(void *start, unsigned long len, uint32_t flags,
		   struct contig_dma_prepare *p)
{
	memset(p, 0, sizeof(*p));
	p->size = sizeof(*p);
	p->flags = flags;
	p->start = (uintptr_t)start;
	p->length = len;
	p->key = (uintptr_t)start;
	return ioctl(devfd, CONTIG_DMA_PREPARE, p) ? -errno : 0;
}

static void print_moves(const char *name, const struct contig_dma_prepare *p)
{
	unsigned long long f = 0;
	int i;

	for (i = 0; i < CONTIG_DMA_FAIL_NR; i++)
		f += p->moves.failed[i];
	printf("  %s: in_place %llu migrated %llu exchanged %llu failed %llu (unmovable %llu busy %llu no_window %llu) runs %llu -> %llu chunks_2m %llu\n",
	       name, (unsigned long long)p->moves.in_place,
	       (unsigned long long)p->moves.migrated,
	       (unsigned long long)p->moves.exchanged, f,
	       (unsigned long long)p->moves.failed[CONTIG_DMA_FAIL_UNMOVABLE],
	       (unsigned long long)p->moves.failed[CONTIG_DMA_FAIL_BUSY],
	       (unsigned long long)p->moves.failed[CONTIG_DMA_FAIL_NO_WINDOW],
	       (unsigned long long)p->before.runs,
	       (unsigned long long)p->after.runs,
	       (unsigned long long)p->after.chunks_2m);
}

static int write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_TRUNC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, value, strlen(value)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static long read_long(const char *path)
{
	char buf[64] = "";
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtol(buf, NULL, 0) : -EIO;
}

/* node_refused= of the last contig_dma_prepare event; -1 if none */
static long last_node_refused(void)
{
	FILE *f = fopen(TRACE "/trace", "r");
	char line[1024];
	long v = -1;
	char *p;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		p = strstr(line, "contig_dma_prepare:");
		if (p && (p = strstr(p, " node_refused=")))
			v = strtol(p + strlen(" node_refused="), NULL, 10);
	}
	fclose(f);
	return v;
}

/* ---- NUMA ---- */

enum victim_kind { VICTIM_CPUSET, VICTIM_MBIND, VICTIM_FREE };

struct victim {
	pid_t pid;
	char *addr;		/* in the victim, same in ours after fork */
	int to_child;		/* closed: verify and exit */
};

/*
 * A process holding VICTIM_LEN of patterned 4 KiB pages on node 1, in
 * @cgroup; @kind says how it is kept there. Returns 0 once its pages are
 * in; its exit status says whether they were intact at the end.
 */
static int victim_start(struct victim *v, enum victim_kind kind,
			const char *cgroup)
{
	int ready[2], go[2];
	char path[256], c;
	pid_t pid;

	v->addr = membuf_map(VICTIM_LEN, -1, MADV_NOHUGEPAGE);
	if (!v->addr || pipe(ready) || pipe(go))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		unsigned long mask = 1UL << 1;
		unsigned long bad;

		close(ready[0]);
		close(go[1]);
		snprintf(path, sizeof(path), "%s/cgroup.procs", cgroup);
		if (write_file(path, "0"))
			_exit(3);
		if (kind == VICTIM_MBIND &&
		    syscall(SYS_mbind, v->addr, VICTIM_LEN, MPOL_BIND, &mask,
			    8 * sizeof(mask), 0))
			_exit(4);
		/* Free to use both nodes, but its pages start on node 1 */
		if (kind == VICTIM_FREE && bind_to(1))
			_exit(5);
		membuf_fill(v->addr, VICTIM_LEN / PAGE_SZ, VICTIM_ID, 0);
		if (kind == VICTIM_FREE && bind_to(-1))
			_exit(5);
		if (write(ready[1], "r", 1) != 1)
			_exit(6);
		/* Until the parent closes its end */
		while (read(go[0], &c, 1) > 0)
			;
		bad = membuf_check(v->addr, VICTIM_LEN / PAGE_SZ, VICTIM_ID, 0,
				   "victim");
		_exit(bad ? 1 : 0);
	}
	close(ready[1]);
	close(go[0]);
	v->pid = pid;
	v->to_child = go[1];
	if (read(ready[0], &c, 1) != 1) {
		close(ready[0]);
		return -ECHILD;
	}
	close(ready[0]);
	return 0;
}

/* 0 if the victim's pages were intact, or its exit status */
static int victim_stop(struct victim *v)
{
	int status;

	close(v->to_child);
	if (waitpid(v->pid, &status, 0) != v->pid)
		return -errno;
	munmap(v->addr, VICTIM_LEN);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/*
 * Our buffer scattered on node 0 (and its interleaved twin), PREPAREd
 * bound to node 1, exchanges only. @victim_kind < 0: no victim, and free
 * frames allowed (node 1 is mostly free).
 */
static void case_numa(const char *name, int victim_kind, const char *cgroup)
{
	unsigned long pages = OURS_LEN / PAGE_SZ, ours[3], vict[3], i, off;
	uint64_t before[OURS_LEN / PAGE_SZ];
	struct contig_dma_prepare p;
	struct victim v = {};
	char *a, *b;
	long refused;
	int ret, vret = 0;
	bool ok = true;

	/* First, so that it shares none of our pages */
	if (victim_kind >= 0) {
		ret = victim_start(&v, victim_kind, cgroup);
		if (ret) {
			check(name, "victim setup: %s", strerror(-ret));
			return;
		}
		count_nodes(v.pid, v.addr, VICTIM_LEN / PAGE_SZ, vict);
		printf("  %s: victim before: node0 %lu node1 %lu other %lu\n",
		       name, vict[0], vict[1], vict[2]);
		if (vict[1] != VICTIM_LEN / PAGE_SZ)
			ok = check(name, "the victim's pages are not all on node 1 to begin with");
	}
	a = membuf_map(OURS_LEN, -1, MADV_NOHUGEPAGE);
	b = membuf_map(OURS_LEN, -1, MADV_NOHUGEPAGE);
	if (!a || !b || bind_to(0)) {
		check(name, "setup: %s", strerror(errno));
		return;
	}
	fill_scattered(a, b, pages);
	bind_to(-1);
	count_nodes(0, a, pages, ours);
	if (ours[0] != pages)
		ok = check(name, "our pages are not all on node 0 to begin with (%lu)",
			   ours[0]);
	for (i = 0; i < pages; i++)
		before[i] = proc_pfn(0, a + i * PAGE_SZ);

	write_file(TRACE "/trace", "");
	bind_to(1);
	ret = prepare(a, OURS_LEN,
		      victim_kind < 0 ? 0 : CONTIG_DMA_F_EXCHANGE_ONLY, &p);
	bind_to(-1);
	refused = last_node_refused();
	if (ret)
		ok = check(name, "PREPARE: %s", strerror(-ret));
	print_moves(name, &p);
	count_nodes(0, a, pages, ours);
	off = moved_off_node1(a, pages, before);
	printf("  %s: ours after: node0 %lu node1 %lu, node_refused %ld\n",
	       name, ours[0], ours[1], refused);
	/*
	 * Every page that moved went to node 1, the only node allowed (the
	 * statistics count a page moved twice, when its chunk was anchored
	 * again, twice: the frames are what counts)
	 */
	if (off)
		ok = check(name, "%lu pages moved to frames off node 1", off);
	if (victim_kind >= 0) {
		count_nodes(v.pid, v.addr, VICTIM_LEN / PAGE_SZ, vict);
		printf("  %s: victim after: node0 %lu node1 %lu other %lu\n",
		       name, vict[0], vict[1], vict[2]);
	}
	switch (victim_kind) {
	case VICTIM_CPUSET:
	case VICTIM_MBIND:
		if (vict[0])
			ok = check(name, "%lu victim pages moved to node 0, which the victim may not use",
				   vict[0]);
		if (refused <= 0)
			ok = check(name, "no exchange was refused (node_refused %ld): the case tested nothing",
				   refused);
		break;
	case VICTIM_FREE:
		if (!vict[0] || !p.moves.exchanged)
			ok = check(name, "no victim page went to node 0 (exchanged %llu): the engine did not exchange across nodes at all",
				   (unsigned long long)p.moves.exchanged);
		if (refused != 0)
			ok = check(name, "node_refused %ld for a victim free to use both nodes",
				   refused);
		break;
	default:
		/* Every page moves: none is on node 1 to begin with */
		if (ours[1] != pages || p.after.chunks_2m != OURS_LEN / HPAGE)
			ok = check(name, "%lu of %lu pages on node 1, %llu congruent 2 MiB chunks",
				   ours[1], pages,
				   (unsigned long long)p.after.chunks_2m);
		break;
	}
	if (membuf_check(a, pages, OURS_ID, 0, "ours") ||
	    membuf_check(b, pages, OTHER_ID, 0, "interleaved"))
		ok = check(name, "our pages corrupt");
	if (victim_kind >= 0) {
		vret = victim_stop(&v);
		if (vret)
			ok = check(name, "victim exit %d (1: its pages were corrupt)",
				   vret);
	}
	munmap(a, OURS_LEN);
	munmap(b, OURS_LEN);
	if (ok)
		pass(name);
}

/* ---- CMA and isolation ---- */

static long cma_base, cma_count;

/* The CMA area from debugfs; false if there is none */
static bool cma_area(void)
{
	cma_base = read_long("/sys/kernel/debug/cma/reserved/base_pfn");
	cma_count = read_long("/sys/kernel/debug/cma/reserved/count");
	return cma_base > 0 && cma_count > 0;
}

static unsigned long in_cma(const char *a, unsigned long pages)
{
	unsigned long i, n = 0;
	uint64_t pfn;

	for (i = 0; i < pages; i++) {
		pfn = proc_pfn(0, a + i * PAGE_SZ);
		n += pfn >= (uint64_t)cma_base &&
		     pfn < (uint64_t)(cma_base + cma_count);
	}
	return n;
}

static void case_cma_never_window(void)
{
	const char *name = "cma_never_window";
	unsigned long pages = CMA_LEN / PAGE_SZ, before, after;
	struct contig_dma_prepare p;
	char *a, *b;
	bool ok = true;
	int ret;

	if (!cma_area()) {
		check(name, "no CMA area in debugfs cma/reserved (boot with cma=)");
		return;
	}
	printf("  %s: CMA area: PFN 0x%lx, %ld pages\n", name, cma_base,
	       cma_count);
	a = membuf_map(CMA_LEN, -1, MADV_NOHUGEPAGE);
	b = membuf_map(CMA_LEN, -1, MADV_NOHUGEPAGE);
	if (!a || !b) {
		check(name, "mmap: %s", strerror(errno));
		return;
	}
	fill_scattered(a, b, pages);
	before = in_cma(a, pages);
	/* The CMA area is where node 1 starts: the first windows there */
	bind_to(1);
	ret = prepare(a, CMA_LEN, 0, &p);
	bind_to(-1);
	print_moves(name, &p);
	after = in_cma(a, pages);
	printf("  %s: pages in the CMA area: %lu before, %lu after; the buffer from PFN 0x%llx to 0x%llx\n",
	       name, before, after,
	       (unsigned long long)proc_pfn(0, a),
	       (unsigned long long)proc_pfn(0, a + CMA_LEN - PAGE_SZ));
	if (ret)
		ok = check(name, "PREPARE: %s", strerror(-ret));
	if (!p.moves.migrated && !p.moves.exchanged)
		ok = check(name, "nothing moved: the case tested nothing");
	if (after)
		ok = check(name, "%lu pages in CMA pageblocks after PREPARE",
			   after);
	if (membuf_check(a, pages, OURS_ID, 0, "ours") ||
	    membuf_check(b, pages, OTHER_ID, 0, "interleaved"))
		ok = check(name, "pages corrupt");
	munmap(a, CMA_LEN);
	munmap(b, CMA_LEN);
	if (ok)
		pass(name);
}

/* Free pages on the "Isolate" free lists, from /proc/pagetypeinfo */
static long isolated_free(void)
{
	FILE *f = fopen("/proc/pagetypeinfo", "r");
	char line[512], type[32], *p, *end;
	long sum = 0, n, order;
	int at;

	if (!f)
		return -errno;
	/* "Node    0, zone   Normal, type      Isolate      0      1 ..." */
	while (fgets(line, sizeof(line), f)) {
		p = strstr(line, ", type ");
		if (!strstr(line, "Node") || !p ||
		    sscanf(p, ", type %31s%n", type, &at) != 1 ||
		    strcmp(type, "Isolate"))
			continue;
		for (p += at, order = 0; ; order++, p = end) {
			n = strtol(p, &end, 10);
			if (end == p)
				break;
			sum += n << order;
		}
	}
	fclose(f);
	return sum;
}

/* One 1 GiB hugetlb page: 1 if allocated, 0 if not; freed again */
static int huge_1g(void)
{
	long got;

	if (write_file(HUGE_1G, "1"))
		return -errno;
	got = read_long(HUGE_1G);
	write_file(HUGE_1G, "0");
	return got == 1;
}

/* PREPAREs of new scattered buffers, @rounds of them; 0 if all intact */
static int prepare_loop(int rounds, int ready_fd)
{
	unsigned long pages = CMA_LEN / PAGE_SZ;
	struct contig_dma_prepare p;
	int r, bad = 0;
	char *a, *b;

	for (r = 0; r < rounds; r++) {
		a = membuf_map(CMA_LEN, -1, MADV_NOHUGEPAGE);
		b = membuf_map(CMA_LEN, -1, MADV_NOHUGEPAGE);
		if (!a || !b)
			return 2;
		fill_scattered(a, b, pages);
		if (!r && write(ready_fd, "r", 1) != 1)
			return 2;
		if (prepare(a, CMA_LEN, 0, &p))
			bad = 3;
		print_moves("hugetlb_concurrent (prepare)", &p);
		if (membuf_check(a, pages, OURS_ID, 0, "ours") ||
		    membuf_check(b, pages, OTHER_ID, 0, "interleaved"))
			bad = 1;
		munmap(a, CMA_LEN);
		munmap(b, CMA_LEN);
	}
	return bad;
}

static void case_hugetlb_concurrent(void)
{
	const char *name = "hugetlb_concurrent";
	int ready[2], status, alone, during, after;
	bool ok = true;
	long iso;
	pid_t pid;
	char c;

	alone = huge_1g();
	printf("  %s: a 1 GiB page alone: %s\n", name,
	       alone > 0 ? "allocated" : "not allocated");
	if (alone <= 0) {
		check(name, "the guest cannot allocate a 1 GiB page even with nothing else running (%d)",
		      alone);
		return;
	}
	if (pipe(ready)) {
		check(name, "pipe: %s", strerror(errno));
		return;
	}
	fflush(NULL);
	pid = fork();
	if (!pid) {
		close(ready[0]);
		_exit(prepare_loop(4, ready[1]));
	}
	close(ready[1]);
	if (pid < 0 || read(ready[0], &c, 1) != 1) {
		check(name, "the PREPARE process did not start");
		return;
	}
	close(ready[0]);
	during = huge_1g();
	waitpid(pid, &status, 0);
	iso = isolated_free();
	after = huge_1g();
	printf("  %s: a 1 GiB page during the PREPAREs: %s; after: %s; free pages left isolated: %ld\n",
	       name, during > 0 ? "allocated" : "not allocated",
	       after > 0 ? "allocated" : "not allocated", iso);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		ok = check(name, "the PREPARE process exited %d (1: corrupt pages, 3: a PREPARE failed)",
			   WIFEXITED(status) ? WEXITSTATUS(status) : 128);
	if (iso)
		ok = check(name, "%ld free pages left on isolated pageblocks", iso);
	if (after <= 0)
		ok = check(name, "no 1 GiB page after the PREPAREs, though there was one before");
	if (ok)
		pass(name);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: " PROG " CONFINED_CGROUP FREE_CGROUP\n");
		return 2;
	}
	devfd = open("/dev/contig_dma", O_RDWR);
	if (devfd < 0) {
		perror(PROG ": /dev/contig_dma");
		return 2;
	}
	if (write_file(PREPARE_EVENT, "1"))
		fprintf(stderr, PROG ": cannot enable the tracepoint\n");

	case_numa("numa_window_policy", -1, NULL);
	case_numa("numa_victim_cpuset", VICTIM_CPUSET, argv[1]);
	case_numa("numa_victim_mbind", VICTIM_MBIND, argv[2]);
	case_numa("numa_victim_free", VICTIM_FREE, argv[2]);
	case_cma_never_window();
	case_hugetlb_concurrent();

	write_file(PREPARE_EVENT, "0");
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
