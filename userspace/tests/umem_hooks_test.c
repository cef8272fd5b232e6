// SPDX-License-Identifier: GPL-2.0
/*
 * umem_hooks_test: contig in ib_umem_get(), where registrations and the
 * device's other users meet it. Run by rdma_hooks.sh as root on rxe0,
 * contig's policy "always", with the ib_umem_layout and contig_dma_prepare
 * events enabled.
 *
 * umem_hooks_test iova
 *	ibv_reg_mr_iova() of a scattered 256 MiB buffer at an IOVA that is
 *	not congruent with its VA modulo 2 MiB: contig must key the pages to
 *	the IOVA, so that ib_umem_find_best_pgsz() gives the irdma and
 *	bnxt_re bitmaps 2 MiB pages or more for that IOVA (with the VA as the
 *	key they get 4 KiB). Every byte of the buffer intact.
 *
 * umem_hooks_test removal
 *	A child registers a scattered 1 GiB buffer; while contig is
 *	preparing it, "rdma res show" must answer within DUMP_MAX_S, and
 *	"rdma link delete rxe0" (the device's removal, which waits for
 *	uverbs' SRCU section around the registration) must stop contig's
 *	work: the prepare event of that registration must be partial (it
 *	was stopped, not finished) and end within REMOVAL_STOP_S of the
 *	removal's start (a trace marker). Afterwards
 *	rxe0 is gone; rdma_hooks.sh adds it again.
 *
 * Prints "PASS name" or "FAIL name: reason" per check and "N passed, M
 * failed"; exits 1 if any check failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <infiniband/verbs.h>

#include "lib/membuf.h"
#include "lib/passfail.h"

#define TRACE		"/sys/kernel/tracing/"
#define IOVA_LEN	(256 * MIB)
#define REMOVAL_LEN	(1024 * MIB)
/* 2 MiB-aligned VAs; this IOVA is 1 MiB off any 2 MiB boundary */
#define ODD_IOVA	0x40100000ULL
/*
 * contig asks whether to stop between moves, between window candidates and
 * between the frame index's block recounts, so that a stop comes within
 * milliseconds of the removal on an idle machine; the bound leaves room
 * for a busy host (make test runs two guests on two cores). Without the
 * stop, the prepare ran 6 to 8 s past the removal, and was not partial.
 */
#define REMOVAL_STOP_S	5.0
/*
 * "rdma res show" while the registration is prepared: starting the tool
 * alone takes up to a second under TCG with two guests on two cores (it
 * took 1.04 s once, with the prepare running 3.4 s); a dump that waited
 * for the registration would wait for all of its prepare, and the check
 * that the prepare was still running when the dump had returned (below)
 * tells that apart too.
 */
#define DUMP_MAX_S	2.0
#define BUF_ID		0x700

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct ibv_pd *open_pd(struct ibv_context **ctx)
{
	struct ibv_device **list = ibv_get_device_list(NULL);
	struct ibv_pd *pd = NULL;

	*ctx = list && list[0] ? ibv_open_device(list[0]) : NULL;
	if (*ctx)
		pd = ibv_alloc_pd(*ctx);
	if (list)
		ibv_free_device_list(list);
	return pd;
}

/* A buffer of 4 KiB pages, faulted last page first: one run per page */
static char *scattered(unsigned long len)
{
	char *a = membuf_map(len, -1, MADV_NOHUGEPAGE);
	unsigned long i;

	if (!a)
		return NULL;
	for (i = len / PAGE_SZ; i-- > 0;)
		membuf_fill_page(a + i * PAGE_SZ, BUF_ID, i);
	return a;
}

/*
 * The last line of the trace with event @event (e.g. "contig_dma_prepare")
 * that contains @text, into @line, and its timestamp into @t.
 */
static bool trace_last(const char *event, const char *text, double *t,
		       char *line, size_t size)
{
	char tag[64], buf[1024], *p;
	bool found = false;
	FILE *f = fopen(TRACE "trace", "r");

	if (!f)
		return false;
	snprintf(tag, sizeof(tag), ": %s:", event);
	while (fgets(buf, sizeof(buf), f)) {
		p = strstr(buf, tag);
		if (!p || !strstr(buf, text))
			continue;
		/* "... [000] ..... 123.456789: event: ..." */
		while (p > buf && p[-1] != ' ')
			p--;
		*t = strtod(p, NULL);
		snprintf(line, size, "%s", buf);
		found = true;
	}
	fclose(f);
	return found;
}

static unsigned long field(const char *line, const char *name)
{
	const char *p = strstr(line, name);

	return p ? strtoul(p + strlen(name), NULL, 0) : 0;
}

/* rxe's own MR page size for the MR of @len bytes ("rdma -dd res show mr") */
static unsigned long rxe_mr_page_size(unsigned long len)
{
	char want[64], buf[1024];
	unsigned long pgsz = 0;
	FILE *f = popen("rdma -dd res show mr dev rxe0", "r");

	if (!f)
		return 0;
	snprintf(want, sizeof(want), " mrlen %lu ", len);
	while (fgets(buf, sizeof(buf), f))
		if (strstr(buf, want))
			pgsz = field(buf, "drv_page_size ");
	pclose(f);
	return pgsz;
}

static int mode_iova(void)
{
	struct ibv_context *ctx;
	struct ibv_pd *pd = open_pd(&ctx);
	unsigned long irdma, bnxt, rxe, bad;
	char line[1024] = "", want[64];
	struct ibv_mr *mr;
	double t;
	char *buf;

	buf = scattered(IOVA_LEN);
	if (!pd || !buf) {
		pass_fail(false, "setup", "%s", strerror(errno));
		return 1;
	}
	if (system("echo > " TRACE "trace"))
		pass_fail(false, "clearing the trace", "failed");
	mr = ibv_reg_mr_iova(pd, buf, IOVA_LEN, ODD_IOVA,
			     IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ);
	pass_fail(mr, "ibv_reg_mr_iova of 256 MiB at an IOVA 1 MiB off its VA's alignment",
	      "%s", strerror(errno));
	if (!mr)
		return 1;
	snprintf(want, sizeof(want), " length=%lu ", IOVA_LEN);
	if (!trace_last("ib_umem_layout", want, &t, line, sizeof(line)))
		pass_fail(false, "ib_umem_layout event", "none for the MR");
	irdma = field(line, "irdma_pgsz=");
	bnxt = field(line, "bnxt_re_pgsz=");
	printf("  %s", line);
	pass_fail(irdma >= (2UL << 20) && bnxt >= (2UL << 20),
	      "the MR's pages are large at its IOVA (contig keyed to the IOVA, not the VA)",
	      "irdma_pgsz %lu bnxt_re_pgsz %lu", irdma, bnxt);
	rxe = rxe_mr_page_size(IOVA_LEN);
	pass_fail(rxe >= (2UL << 20),
		  "rxe maps the MR with large pages at its IOVA (rdma res show mr)",
		  "drv_page_size %lu", rxe);
	pass_fail(field(line, "iova=") == ODD_IOVA, "the event shows the MR's IOVA",
	      "iova %#lx", field(line, "iova="));
	ibv_dereg_mr(mr);
	bad = membuf_check(buf, IOVA_LEN / PAGE_SZ, BUF_ID, 0, "buffer");
	pass_fail(!bad, "every byte of the buffer intact", "%lu corrupt pages", bad);
	ibv_dealloc_pd(pd);
	ibv_close_device(ctx);
	return 0;
}

static int mode_removal(void)
{
	double t0, t_dump, t_del, t_marker = 0, t_prep = 0;
	char line[1024] = "", want[64], c;
	int fds[2], status, mark;
	pid_t pid;

	if (pipe(fds) || system("echo > " TRACE "trace"))
		return 1;
	pid = fork();
	if (!pid) {
		struct ibv_context *ctx;
		struct ibv_pd *pd = open_pd(&ctx);
		char *buf = scattered(REMOVAL_LEN);
		struct ibv_mr *mr;

		close(fds[0]);
		if (!pd || !buf)
			_exit(2);
		if (write(fds[1], "r", 1) != 1)
			_exit(2);
		mr = ibv_reg_mr(pd, buf, REMOVAL_LEN, IBV_ACCESS_LOCAL_WRITE);
		printf("  child: ibv_reg_mr of 1 GiB: %s\n",
		       mr ? "registered" : strerror(errno));
		/* The device is gone: nothing to deregister, the buffer's bytes */
		_exit(membuf_check(buf, REMOVAL_LEN / PAGE_SZ, BUF_ID, 0,
				   "child's buffer") ? 1 : 0);
	}
	close(fds[1]);
	if (read(fds[0], &c, 1) != 1) {
		pass_fail(false, "the child starts its registration", "it died");
		return 1;
	}
	t0 = now_s();
	sleep(1);
	/* The device's other users: a resource dump */
	if (system("rdma res show > /dev/null"))
		pass_fail(false, "rdma res show", "failed");
	t_dump = now_s() - t0 - 1;
	mark = open(TRACE "trace_marker", O_WRONLY);
	if (mark < 0 || write(mark, "removal-begins", 14) != 14)
		pass_fail(false, "trace marker", "%s", strerror(errno));
	if (mark >= 0)
		close(mark);
	t_del = now_s();
	if (system("rdma link delete rxe0"))
		pass_fail(false, "rdma link delete rxe0", "failed");
	t_del = now_s() - t_del;
	waitpid(pid, &status, 0);
	trace_last("tracing_mark_write", "removal-begins", &t_marker, want,
		   sizeof(want));
	snprintf(want, sizeof(want), " len=0x%lx ", REMOVAL_LEN);
	if (!trace_last("contig_dma_prepare", want, &t_prep, line,
			sizeof(line)))
		pass_fail(false, "the registration's contig_dma_prepare event",
		      "none");
	printf("  rdma res show %.3f s; rdma link delete %.3f s; the prepare ended %.3f s after the removal began: %s",
	       t_dump, t_del, t_prep - t_marker, line);
	pass_fail(t_dump < DUMP_MAX_S, "rdma res show answers while the registration is prepared",
	      "%.3f s", t_dump);
	pass_fail(t_prep > t_marker, "the registration was still being prepared when the removal began",
	      "its prepare ended %.3f s before: the engine was too quick for this check",
	      t_marker - t_prep);
	pass_fail(strstr(line, " partial=1 ") &&
		  t_prep - t_marker < REMOVAL_STOP_S,
	      "the device's removal stops contig's work on the registration",
	      "the prepare ended %.3f s after the removal began, %s",
	      t_prep - t_marker,
	      strstr(line, " partial=1 ") ? "partial" : "not partial");
	pass_fail(WIFEXITED(status) && !WEXITSTATUS(status),
	      "the registering child's bytes are intact", "status %#x", status);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && !strcmp(argv[1], "iova"))
		mode_iova();
	else if (argc == 2 && !strcmp(argv[1], "removal"))
		mode_removal();
	else {
		fprintf(stderr, "usage: umem_hooks_test iova|removal\n");
		return 2;
	}
	return pass_fail_summary();
}
