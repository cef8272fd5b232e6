// SPDX-License-Identifier: GPL-2.0
/*
 * unprivileged_test: /dev/contig_dma as a user without privilege would try
 * it, against the permission table of the admin guide. Run as root: it
 * forks a child that drops to uid/gid 65534 with no capability, does what
 * a tenant could, and reports; the root parent checks, through pagemap
 * (PFNs are shown to root only) and the kernel's counters, what the
 * child's requests did to its own memory and to everybody else's.
 *
 * unprivileged_test fragmented
 *	Run while the fragmenter holds memory (root's pages all around, free
 *	memory in order-0 pieces): the child PREPAREs its own scattered
 *	buffer. No page of any other process may move: the pages of a root
 *	buffer faulted in next to the child's keep their frames and bytes,
 *	and vmstat's exchange_success does not change (the fragmenter checks
 *	its own bytes when stopped). The child gets no layout back. Root
 *	(CAP_SYS_NICE, CAP_SYS_ADMIN) still exchanges there, and sees the
 *	layout.
 *
 * unprivileged_test free
 *	With free memory: the child's PREPARE still makes its own buffer one
 *	congruent run per 2 MiB, by migration alone; with enabled=never it
 *	moves nothing; QUERY is EPERM; an exchange-only PREPARE is EPERM; an
 *	unaligned range is EINVAL; an argument larger than a page is E2BIG;
 *	with RLIMIT_MEMLOCK at 4 MiB a request moves 4 MiB at most (partial),
 *	at 0 it is EPERM.
 *
 * The child's RLIMIT_MEMLOCK is 64 MiB (set by the parent), so that its
 * 16 MiB requests are not bounded by it until it lowers it itself.
 *
 * Prints "PASS name" or "FAIL name: reason" per check and "N passed, M
 * failed" at the end; exits 1 if any check failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/contig_dma.h>

#include "lib/layout.h"
#include "lib/membuf.h"
#include "lib/passfail.h"
#include "lib/procpage.h"

#define DEV		"/dev/contig_dma"
#define SYS		"/sys/kernel/mm/contig_dma/"
#define NOBODY		65534
#define HPAGE		(2UL << 20)
#define BUF_LEN		(16 * MIB)
#define BUF_PAGES	(BUF_LEN / PAGE_SZ)
#define MEMLOCK_CHILD	(64 * MIB)
#define MEMLOCK_LOW	(4 * MIB)
#define CHILD_ID	0x500
#define ROOT_ID		0x600

static void die(const char *what)
{
	perror(what);
	exit(2);
}

/* ---- The child's side ---- */

/* What the child did, for the parent */
struct report {
	int err;			/* errno of the PREPARE, or of setup */
	uintptr_t buf;			/* the buffer it worked on */
	struct contig_dma_prepare p;	/* the PREPARE's outputs */
};

static int sock = -1;

static void send_report(const struct report *r)
{
	if (write(sock, r, sizeof(*r)) != sizeof(*r))
		_exit(3);
}

/* Wait for the parent's go-ahead */
static void wait_parent(void)
{
	char c;

	if (read(sock, &c, 1) != 1)
		_exit(4);
}

/* A 16 MiB buffer of 4 KiB pages faulted last page first: scattered */
static char *scattered(void)
{
	char *a = membuf_map(BUF_LEN, -1, MADV_NOHUGEPAGE);
	unsigned long i;

	if (!a)
		return NULL;
	for (i = BUF_PAGES; i-- > 0;)
		membuf_fill_page(a + i * PAGE_SZ, CHILD_ID, i);
	return a;
}

static int do_prepare(int dev, char *buf, uint32_t flags,
		      struct contig_dma_prepare *p)
{
	*p = (struct contig_dma_prepare){
		.size = sizeof(*p),
		.flags = flags,
		.start = (uintptr_t)buf,
		.length = BUF_LEN,
		.key = (uintptr_t)buf,
	};
	return ioctl(dev, CONTIG_DMA_PREPARE, p) ? errno : 0;
}

/*
 * The child's steps, as uid 65534 without capabilities: each sends a
 * report, and waits for the parent where the parent looks at its pages.
 */
static int child(const char *mode)
{
	struct report r = { 0 };
	struct contig_dma_query q = { .size = sizeof(q) };
	char big[PAGE_SZ + 64] = { 0 };
	int dev;

	if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
	    setresuid(NOBODY, NOBODY, NOBODY)) {
		r.err = errno;
		send_report(&r);
		return 1;
	}
	dev = open(DEV, O_RDWR);
	if (dev < 0) {
		r.err = errno;
		send_report(&r);
		return 1;
	}

	/* Step 1: own scattered buffer, PREPARE as it comes */
	r.buf = (uintptr_t)scattered();
	if (!r.buf) {
		r.err = errno;
		send_report(&r);
		return 1;
	}
	send_report(&r);	/* the parent records the PFNs */
	wait_parent();
	r.err = do_prepare(dev, (char *)r.buf, 0, &r.p);
	send_report(&r);
	wait_parent();
	r.err = membuf_check((char *)r.buf, BUF_PAGES, CHILD_ID, 0,
			     "child's buffer") ? EIO : 0;
	send_report(&r);
	if (strcmp(mode, "free"))
		return 0;

	/* Step 2: enabled=never (set by the parent): nothing may move */
	wait_parent();
	r.buf = (uintptr_t)scattered();
	r.err = r.buf ? 0 : errno;
	send_report(&r);
	wait_parent();
	r.err = do_prepare(dev, (char *)r.buf, 0, &r.p);
	send_report(&r);

	/* Step 3: the refusals */
	wait_parent();
	q.start = r.buf;
	q.length = BUF_LEN;
	q.key = r.buf;
	r.err = ioctl(dev, CONTIG_DMA_QUERY, &q) ? errno : 0;
	send_report(&r);
	r.err = do_prepare(dev, (char *)r.buf, CONTIG_DMA_F_EXCHANGE_ONLY,
			   &r.p);
	send_report(&r);
	r.p.start += PAGE_SZ;
	r.p.length -= HPAGE;
	r.p.flags = 0;
	r.err = ioctl(dev, CONTIG_DMA_PREPARE, &r.p) ? errno : 0;
	send_report(&r);
	memcpy(big, &r.p, sizeof(r.p));
	((struct contig_dma_prepare *)big)->size = sizeof(big);
	((struct contig_dma_prepare *)big)->start = r.buf;
	((struct contig_dma_prepare *)big)->length = BUF_LEN;
	r.err = ioctl(dev, CONTIG_DMA_PREPARE, big) ? errno : 0;
	send_report(&r);

	/* Step 4: what it may lock bounds what it may move */
	r.buf = (uintptr_t)scattered();
	r.err = !r.buf ? errno :
		setrlimit(RLIMIT_MEMLOCK, &(struct rlimit){ MEMLOCK_LOW,
							     MEMLOCK_LOW }) ?
		errno : do_prepare(dev, (char *)r.buf, 0, &r.p);
	send_report(&r);
	r.err = setrlimit(RLIMIT_MEMLOCK, &(struct rlimit){ 0, 0 }) ? errno :
		do_prepare(dev, (char *)r.buf, 0, &r.p);
	send_report(&r);
	return 0;
}

/* ---- The parent's side ---- */

static pid_t kid;

static void get_report(struct report *r)
{
	if (read(sock, r, sizeof(*r)) != sizeof(*r)) {
		fprintf(stderr, "no report from the child\n");
		exit(2);
	}
}

static void go(void)
{
	if (write(sock, "g", 1) != 1)
		die("write");
}

static int sysfs_write(const char *knob, const char *value)
{
	char path[128];
	FILE *f;
	int ret;

	snprintf(path, sizeof(path), SYS "%s", knob);
	f = fopen(path, "w");
	if (!f)
		return -1;
	ret = fputs(value, f) < 0 ? -1 : 0;
	return fclose(f) ? -1 : ret;
}

/* The policy in force: the bracketed word of SYS/enabled */
static int sysfs_enabled(char *word, size_t len)
{
	char line[128], *l, *r;
	FILE *f = fopen(SYS "enabled", "r");

	if (!f)
		return -1;
	l = fgets(line, sizeof(line), f) ? strchr(line, '[') : NULL;
	fclose(f);
	r = l ? strchr(l, ']') : NULL;
	if (!r || (size_t)(r - l) > len)
		return -1;
	*r = 0;
	snprintf(word, len, "%s", l + 1);
	return 0;
}

/* 2 MiB chunks of [buf, buf + BUF_LEN) on one congruent run */
static unsigned long congruent_chunks(const uint64_t *pfns)
{
	unsigned long c, i, n = 0;
	bool ok;

	for (c = 0; c < BUF_PAGES / 512; c++) {
		ok = pfns[c * 512] && !(pfns[c * 512] % 512);
		for (i = 1; ok && i < 512; i++)
			ok = pfns[c * 512 + i] == pfns[c * 512] + i;
		n += ok;
	}
	return n;
}

static unsigned long runs(const uint64_t *pfns)
{
	unsigned long i, n = 0;

	for (i = 0; i < BUF_PAGES; i++)
		n += !i || !pfns[i] || pfns[i] != pfns[i - 1] + 1;
	return n;
}

static unsigned long differ(const uint64_t *a, const uint64_t *b)
{
	unsigned long i, n = 0;

	for (i = 0; i < BUF_PAGES; i++)
		n += a[i] != b[i];
	return n;
}

/* The layout fields a caller without CAP_SYS_ADMIN must not see */
static bool layout_hidden(const struct contig_dma_prepare *p)
{
	unsigned long f = 0;
	int i;

	for (i = 0; i < CONTIG_DMA_FAIL_NR; i++)
		f |= p->moves.failed[i];
	return !p->before.runs && !p->before.longest_run &&
	       !p->before.chunks_2m && !p->before.chunks_1g &&
	       !p->after.runs && !p->after.longest_run &&
	       !p->after.chunks_2m && !p->after.chunks_1g &&
	       !p->moves.in_place && !f && !p->moves.segments &&
	       !p->moves.reanchors && p->before.pages == BUF_PAGES;
}

static uint64_t before[BUF_PAGES], after[BUF_PAGES];
static uint64_t root_before[BUF_PAGES], root_after[BUF_PAGES];

/*
 * Root (CAP_SYS_NICE, CAP_SYS_ADMIN), under the fragmenter: its own
 * scattered buffer is still made contiguous by exchanging with the
 * fragmenter's pages, and it sees the layout.
 */
static void root_prepares(void)
{
	struct contig_dma_prepare p = { .size = sizeof(p) };
	char *a = scattered();
	unsigned long ex0, ex1;
	int dev, err;

	dev = open(DEV, O_RDWR);
	if (dev < 0 || !a)
		die("root's buffer");
	p.start = (uintptr_t)a;
	p.length = BUF_LEN;
	p.key = (uintptr_t)a;
	ex0 = proc_vmstat("exchange_success");
	err = ioctl(dev, CONTIG_DMA_PREPARE, &p) ? errno : 0;
	ex1 = proc_vmstat("exchange_success");
	printf("  root's PREPARE: %s, runs %llu -> %llu, migrated %llu exchanged %llu, exchange_success +%lu\n",
	       strerror(err), (unsigned long long)p.before.runs,
	       (unsigned long long)p.after.runs,
	       (unsigned long long)p.moves.migrated,
	       (unsigned long long)p.moves.exchanged, ex1 - ex0);
	pass_fail(!err && p.moves.exchanged && ex1 > ex0 &&
		  p.before.runs && p.after.runs < p.before.runs,
		  "root with CAP_SYS_NICE still exchanges, and sees the layout",
		  "%s, exchanged %llu, runs %llu -> %llu", strerror(err),
		  (unsigned long long)p.moves.exchanged,
		  (unsigned long long)p.before.runs,
		  (unsigned long long)p.after.runs);
	pass_fail(!membuf_check(a, BUF_PAGES, CHILD_ID, 0, "root's buffer"),
		  "root's exchanged pages keep their bytes", "corrupt");
	munmap(a, BUF_LEN);
	close(dev);
}

/*
 * Under the fragmenter, the frames around the child's pages are the
 * fragmenter's (root's): an exchange would move them. Root's own buffer
 * here is one more to check page by page.
 */
static void parent_fragmented(void)
{
	unsigned long ex0, ex1, moved_root;
	struct report r;
	char *root;

	root = membuf_map(BUF_LEN, -1, MADV_NOHUGEPAGE);
	if (!root)
		die("mmap");
	get_report(&r);
	if (r.err) {
		pass_fail(false, "child setup", "%s", strerror(r.err));
		return;
	}
	membuf_fill(root, BUF_PAGES, ROOT_ID, 0);
	if (pagemap_pfns(kid, r.buf, BUF_LEN, before) ||
	    pagemap_pfns(0, (uintptr_t)root, BUF_LEN, root_before))
		die("pagemap");
	ex0 = proc_vmstat("exchange_success");
	go();
	get_report(&r);
	ex1 = proc_vmstat("exchange_success");
	if (pagemap_pfns(kid, r.buf, BUF_LEN, after) ||
	    pagemap_pfns(0, (uintptr_t)root, BUF_LEN, root_after))
		die("pagemap");
	moved_root = differ(root_before, root_after);
	printf("  child's 16 MiB: runs %lu -> %lu; PREPARE: %s, migrated %llu exchanged %llu, outcome %u; exchange_success +%lu; root's pages moved %lu\n",
	       runs(before), runs(after), strerror(r.err),
	       (unsigned long long)r.p.moves.migrated,
	       (unsigned long long)r.p.moves.exchanged, r.p.moves.outcome,
	       ex1 - ex0, moved_root);
	pass_fail(!r.err, "unprivileged PREPARE on fragmented memory succeeds",
	      "%s", strerror(r.err));
	pass_fail(ex1 == ex0 && !r.p.moves.exchanged,
	      "unprivileged PREPARE exchanges with no other process",
	      "exchange_success +%lu, exchanged %llu", ex1 - ex0,
	      (unsigned long long)r.p.moves.exchanged);
	pass_fail(!moved_root, "root's pages stay on their frames",
	      "%lu of %lu moved", moved_root, BUF_PAGES);
	pass_fail(!membuf_check(root, BUF_PAGES, ROOT_ID, 0, "root's buffer"),
	      "root's pages keep their bytes", "corrupt");
	pass_fail(layout_hidden(&r.p), "unprivileged PREPARE reports no layout",
	      "runs %llu->%llu chunks_2m %llu->%llu in_place %llu segments %u",
	      (unsigned long long)r.p.before.runs,
	      (unsigned long long)r.p.after.runs,
	      (unsigned long long)r.p.before.chunks_2m,
	      (unsigned long long)r.p.after.chunks_2m,
	      (unsigned long long)r.p.moves.in_place, r.p.moves.segments);
	go();
	get_report(&r);
	pass_fail(!r.err, "the child's pages keep their bytes", "corrupt");
	munmap(root, BUF_LEN);
	root_prepares();
}

/*
 * The child's next buffer and its PREPARE: the PFNs before, into @before,
 * and after, into @after. Returns the child's setup error, or 0 (then
 * @r->err is the PREPARE's).
 */
static int watch_prepare(struct report *r)
{
	get_report(r);
	if (r->err)
		return r->err;
	if (pagemap_pfns(kid, r->buf, BUF_LEN, before))
		die("pagemap");
	go();
	get_report(r);
	if (pagemap_pfns(kid, r->buf, BUF_LEN, after))
		die("pagemap");
	return 0;
}

static void parent_free(void)
{
	struct report r;
	unsigned long moved;
	char was[16];
	int err;

	if (watch_prepare(&r)) {
		pass_fail(false, "child setup", "%s", strerror(r.err));
		return;
	}
	printf("  child's 16 MiB: runs %lu -> %lu, congruent 2 MiB chunks %lu -> %lu; migrated %llu exchanged %llu outcome %u\n",
	       runs(before), runs(after), congruent_chunks(before),
	       congruent_chunks(after),
	       (unsigned long long)r.p.moves.migrated,
	       (unsigned long long)r.p.moves.exchanged, r.p.moves.outcome);
	pass_fail(!r.err && r.p.moves.outcome == CONTIG_DMA_OUTCOME_PREPARED &&
	      congruent_chunks(after) == BUF_PAGES / 512 &&
	      runs(after) < runs(before),
	      "unprivileged PREPARE with free memory places its own range",
	      "%s, outcome %u, %lu of %lu chunks congruent", strerror(r.err),
	      r.p.moves.outcome, congruent_chunks(after), BUF_PAGES / 512);
	pass_fail(!r.p.moves.exchanged && r.p.moves.migrated,
	      "... by migration alone", "migrated %llu exchanged %llu",
	      (unsigned long long)r.p.moves.migrated,
	      (unsigned long long)r.p.moves.exchanged);
	pass_fail(layout_hidden(&r.p), "... and learns no layout", "fields set");
	go();
	get_report(&r);
	pass_fail(!r.err, "the child's pages keep their bytes", "corrupt");

	/* enabled=never */
	if (sysfs_enabled(was, sizeof(was)) || sysfs_write("enabled", "never"))
		die(SYS "enabled");
	go();
	err = watch_prepare(&r);
	if (sysfs_write("enabled", was))
		die(SYS "enabled");
	if (err) {
		pass_fail(false, "child setup", "%s", strerror(err));
		return;
	}
	moved = differ(before, after);
	pass_fail(!r.err && r.p.moves.outcome == CONTIG_DMA_OUTCOME_POLICY &&
	      !moved && !r.p.moves.migrated,
	      "unprivileged PREPARE with enabled=never moves nothing",
	      "%s, outcome %u, %lu pages moved", strerror(r.err),
	      r.p.moves.outcome, moved);

	/* The refusals */
	go();
	get_report(&r);
	pass_fail(r.err == EPERM, "unprivileged QUERY is EPERM", "got %s",
	      strerror(r.err));
	get_report(&r);
	pass_fail(r.err == EPERM, "unprivileged exchange-only PREPARE is EPERM",
	      "got %s", strerror(r.err));
	get_report(&r);
	pass_fail(r.err == EINVAL,
	      "unprivileged PREPARE of a range not 2 MiB aligned is EINVAL",
	      "got %s", strerror(r.err));
	get_report(&r);
	pass_fail(r.err == E2BIG, "an argument larger than a page is E2BIG",
	      "got %s", strerror(r.err));
	get_report(&r);
	printf("  with RLIMIT_MEMLOCK 4 MiB: %s, migrated %llu, partial %u\n",
	       strerror(r.err), (unsigned long long)r.p.moves.migrated,
	       r.p.moves.partial);
	/* As for max_pages: one batch may carry the count past, no more */
	pass_fail(!r.err && r.p.moves.migrated &&
		  r.p.moves.migrated <= MEMLOCK_LOW / PAGE_SZ + 512 &&
		  r.p.moves.partial,
		  "with RLIMIT_MEMLOCK 4 MiB, a 16 MiB PREPARE moves 4 MiB at most",
		  "%s, migrated %llu, partial %u", strerror(r.err),
		  (unsigned long long)r.p.moves.migrated, r.p.moves.partial);
	get_report(&r);
	pass_fail(r.err == EPERM, "with RLIMIT_MEMLOCK 0, PREPARE is EPERM",
		  "got %s", strerror(r.err));

}

int main(int argc, char **argv)
{
	int sv[2], status;

	if (argc != 2 || (strcmp(argv[1], "fragmented") &&
			  strcmp(argv[1], "free"))) {
		fprintf(stderr, "usage: unprivileged_test fragmented|free\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) ||
	    setrlimit(RLIMIT_MEMLOCK, &(struct rlimit){ MEMLOCK_CHILD,
							 MEMLOCK_CHILD }))
		die("socketpair, setrlimit");
	kid = fork();
	if (kid < 0)
		die("fork");
	if (!kid) {
		close(sv[0]);
		sock = sv[1];
		_exit(child(argv[1]));
	}
	close(sv[1]);
	sock = sv[0];
	if (!strcmp(argv[1], "fragmented"))
		parent_fragmented();
	else
		parent_free();
	close(sock);
	waitpid(kid, &status, 0);
	pass_fail(WIFEXITED(status) && !WEXITSTATUS(status), "the child exits 0",
	      "status %#x", status);
	return pass_fail_summary();
}
