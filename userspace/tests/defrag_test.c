// SPDX-License-Identifier: GPL-2.0
/*
 * defrag_test: ask the range defragmentation engine to make this
 * process's buffer physically contiguous and congruent with a DMA key,
 * through /sys/kernel/debug/contig/defrag, and check that no byte of it
 * (nor of anything else this program holds) changed on the way.
 *
 * The buffer (anonymous 4 KiB pages, anonymous THP, or a shared memfd) is
 * filled with a pattern unique to buffer, page and word. Optionally, more
 * memory is then taken until almost none is free (--fill-to), so that the
 * engine has to exchange pages with their owners instead of migrating
 * into free frames; and the request can race with an munmap() of part of
 * the buffer, or with a forked child that shares the buffer and verifies
 * it (writing to some of its copy-on-write pages, for anonymous memory)
 * while the request runs (--concurrent).
 *
 * Afterwards every page is verified, and the layout the kernel reported
 * for the buffer after the request must be what /proc/self/pagemap shows.
 * Prints the kernel's whole reply and what was checked as one "RESULT
 * name=value ..." line (or one JSON object); the calling script judges
 * how contiguous the result is. Exits 1 on a corrupt page, a layout
 * mismatch, a failed request, or a child that saw a corrupt page.
 *
 * --raw STRING writes STRING as the request and expects it to be refused:
 * prints the errno, exits 0 if the write failed and 1 if it did not.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/knob.h"
#include "lib/layout.h"
#include "lib/membuf.h"

#define PROG		"defrag_test"
#define BUF_ID		1
#define CHILD_ID	2	/* pages the forked child rewrites */
#define FILLER_ID	0x100
#define CHILD_STRIDE	64	/* the child rewrites every 64th page */
#define DEFRAG_EXCHANGE_ONLY	0x1
#define PGSIZES		0x40201000UL	/* 4 KiB | 2 MiB | 1 GiB */

enum kind { ANON, THP, MEMFD };
static const char *const kind_names[] = { "anon", "thp", "memfd" };

enum concurrent { NONE, MUNMAP, FORK };
static const char *const concurrent_names[] = { "none", "munmap", "fork" };

/* The reply fields this program relies on; the kernel may add more. */
static const char *const needed[] = {
	"pages", "present", "in_place", "migrated", "exchanged", "thp_moved",
	"thp_split", "failed", "fail_unmovable", "fail_pinned", "fail_busy",
	"fail_unsupported", "fail_nomem", "fail_migrate", "fail_split",
	"segments", "reanchors", "partial", "ns", "runs_before", "runs_after",
	"longest_run_before", "longest_run_after", "chunks_2m_before",
	"chunks_2m_after", "chunks_1g_before", "chunks_1g_after", NULL
};

static bool json;

/* Progress goes to stderr with --json: stdout carries only the object. */
static void info(const char *fmt, ...)
{
	FILE *f = json ? stderr : stdout;
	va_list ap;

	fprintf(f, PROG ": ");
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fflush(f);
}

/*
 * One field of the result: a word "name=value" of the RESULT line, or a
 * member of the JSON object (@quoted: a string).
 */
static void put(const char *name, bool quoted, const char *fmt, ...)
{
	static bool started;
	va_list ap;

	if (json)
		printf("%s\"%s\": %s", started ? ", " : "{", name,
		       quoted ? "\"" : "");
	else
		printf("%s %s=", started ? "" : PROG ": RESULT", name);
	started = true;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (json && quoted)
		putchar('"');
}

static int raw_request(const char *req)
{
	int fd = open(KNOB_DIR "defrag", O_RDWR);
	ssize_t n;

	if (fd < 0) {
		perror(PROG ": " KNOB_DIR "defrag");
		return 2;
	}
	n = write(fd, req, strlen(req));
	if (n < 0) {
		printf(PROG ": raw '%s': errno=%d (%s)\n", req, errno,
		       strerrorname_np(errno));
		close(fd);
		return 0;
	}
	close(fd);
	printf(PROG ": raw '%s': accepted (%zd bytes), expected an error\n",
	       req, n);
	return 1;
}

static char *map_buffer(enum kind kind, unsigned long len)
{
	int fd = -1;
	char *p;

	if (kind == MEMFD) {
		fd = memfd_create(PROG, 0);
		if (fd < 0 || ftruncate(fd, len))
			return NULL;
	}
	p = membuf_map(len, fd, kind == ANON ? MADV_NOHUGEPAGE :
			       kind == THP ? MADV_HUGEPAGE : -1);
	/* The mapping keeps the memfd's pages; the descriptor is not needed. */
	if (fd >= 0)
		close(fd);
	return p;
}

/* What runs alongside the request (--concurrent), and how it went. */
struct race {
	enum concurrent what;
	/* munmap: a thread of ours */
	pthread_t thread;
	pthread_barrier_t go;
	char *addr;
	unsigned long len;
	int err;
	uint64_t done_ns;
	/* fork: a child, told through a pipe */
	pid_t child;
	int ctl;
	int status;
};

/*
 * --concurrent munmap: a thread unmaps the buffer's last quarter while
 * the main thread is inside the request's write(). The barrier is passed
 * just before the request; the sleep lets the engine get going first.
 */
static void *unmapper_run(void *arg)
{
	struct race *r = arg;

	pthread_barrier_wait(&r->go);
	usleep(50000);
	r->err = munmap(r->addr, r->len) ? errno : 0;
	r->done_ns = now_ns();
	return NULL;
}

/*
 * The view of the forked child: which pattern each page must have. After
 * it rewrote its copy-on-write copies, every CHILD_STRIDE-th page is its
 * own; the parent must never see those.
 */
static unsigned long child_check(const char *buf, unsigned long pages,
				 bool rewrote)
{
	unsigned long i, bad = 0;

	for (i = 0; i < pages; i++) {
		uint64_t id = rewrote && i % CHILD_STRIDE == 0 ? CHILD_ID :
								  BUF_ID;

		bad += membuf_check(buf + i * PAGE_SZ, 1, id, i,
				    PROG ": child");
	}
	return bad;
}

/*
 * --concurrent fork: the child shares the buffer (copy-on-write for
 * anonymous memory, truly shared for memfd) and verifies all of it about
 * every 100 ms until the parent closes @ctl. When the parent writes 'g'
 * (request starting), an anonymous child rewrites its own copies of some
 * pages, so that copy-on-write breaks while the engine moves the very
 * pages involved. Exits 0 if it never saw a wrong byte.
 */
static int child_run(char *buf, unsigned long pages, bool rewrite, int ctl)
{
	struct pollfd pfd = { .fd = ctl, .events = POLLIN };
	unsigned long bad = 0, rounds = 0, i;
	bool rewrote = false;
	char c;

	for (;;) {
		if (poll(&pfd, 1, 100) > 0) {
			if (read(ctl, &c, 1) != 1)
				break;
			if (c == 'g' && rewrite && !rewrote) {
				usleep(50000);
				for (i = 0; i < pages; i += CHILD_STRIDE)
					membuf_fill_page(buf + i * PAGE_SZ,
							 CHILD_ID, i);
				rewrote = true;
			}
		}
		bad += child_check(buf, pages, rewrote);
		rounds++;
	}
	bad += child_check(buf, pages, rewrote);
	fprintf(stderr, PROG ": child: %lu verify rounds, rewrote %s, %lu corrupt pages\n",
		rounds, rewrote ? "every 64th page" : "nothing", bad);
	return bad ? 1 : 0;
}

/*
 * The kernel's layout after the request against pagemap's now. With
 * @prefix, pagemap saw only the part of the range still mapped, while the
 * kernel may have measured the whole range before the munmap: a prefix
 * can only have fewer runs and chunks, never more. A different "before"
 * is only noted: other kernel paths (khugepaged, compaction) may move
 * pages between the two measurements.
 */
static bool layout_agrees(const struct knob_reply *r,
			  const struct layout *before,
			  const struct layout *after, bool prefix)
{
	long long runs, chunks, runs_before;

	knob_get(r, "runs_after", &runs);
	knob_get(r, "chunks_2m_after", &chunks);
	knob_get(r, "runs_before", &runs_before);
	if ((unsigned long)runs_before != before->runs)
		info("note: runs_before %lld, but the layout file said %lu before the request\n",
		     runs_before, before->runs);
	if (prefix ? after->runs <= (unsigned long)runs &&
		     after->chunks_2m <= (unsigned long)chunks :
		     after->runs == (unsigned long)runs &&
		     after->chunks_2m == (unsigned long)chunks)
		return true;
	fprintf(stderr, PROG ": FAIL: kernel says runs_after %lld chunks_2m_after %lld, pagemap shows %lu runs %lu chunks\n",
		runs, chunks, after->runs, after->chunks_2m);
	return false;
}

/*
 * Start what races with the request, on the buffer at @buf; returns how
 * many of its pages stay mapped, to be verified. Exits on failure.
 */
static unsigned long race_prepare(struct race *r, char *buf,
				  unsigned long pages, enum kind kind)
{
	int fds[2];

	if (r->what == MUNMAP) {
		r->addr = buf + pages / 4 * 3 * PAGE_SZ;
		r->len = pages / 4 * PAGE_SZ;
		pthread_barrier_init(&r->go, NULL, 2);
		if (pthread_create(&r->thread, NULL, unmapper_run, r)) {
			fprintf(stderr, PROG ": pthread_create failed\n");
			exit(2);
		}
		return pages / 4 * 3;
	}
	if (r->what == FORK) {
		if (pipe(fds)) {
			perror(PROG ": pipe");
			exit(2);
		}
		r->child = fork();
		if (r->child < 0) {
			perror(PROG ": fork");
			exit(2);
		}
		if (!r->child) {
			close(fds[1]);
			_exit(child_run(buf, pages, kind != MEMFD, fds[0]));
		}
		close(fds[0]);
		r->ctl = fds[1];
	}
	return pages;
}

/* The request is about to start. */
static void race_go(struct race *r)
{
	if (r->what == MUNMAP)
		pthread_barrier_wait(&r->go);
	else if (r->what == FORK && write(r->ctl, "g", 1) != 1)
		perror(PROG ": telling the child");
}

/* The request returned at @t_done: collect the racer; false if it failed. */
static bool race_finish(struct race *r, uint64_t t_done)
{
	if (r->what == MUNMAP) {
		pthread_join(r->thread, NULL);
		info("munmap of the last quarter: %s, %s the request returned\n",
		     r->err ? strerror(r->err) : "done",
		     r->done_ns <= t_done ? "before" : "after");
		return !r->err;
	}
	if (r->what == FORK) {
		close(r->ctl);
		if (waitpid(r->child, &r->status, 0) != r->child)
			r->status = -1;
		if (r->status) {
			fprintf(stderr, PROG ": FAIL: child exit status %#x\n",
				r->status);
			return false;
		}
	}
	return true;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [--kind anon|thp|memfd] [--size MIB] [--key ADDR]\n"
		"                   [--exchange-only] [--max-pages N] [--fill-to PCT]\n"
		"                   [--concurrent munmap|fork] [--json]\n"
		"       " PROG " --raw REQUEST\n"
		"\n"
		"Make a patterned buffer contiguous through debugfs contig/defrag and\n"
		"verify every byte and the reported layout. Needs root.\n"
		"\n"
		"  --kind K          anon (4 KiB, default), thp (MADV_HUGEPAGE) or memfd\n"
		"  --size MIB        buffer size (default 256)\n"
		"  --key ADDR        DMA key the layout must be congruent with (default: VA)\n"
		"  --exchange-only   never migrate into free frames (flags bit 0)\n"
		"  --max-pages N     budget of pages moved (default 0: unlimited)\n"
		"  --fill-to PCT     before the request, take memory until MemFree < PCT %%\n"
		"  --concurrent C    munmap: unmap the last quarter during the request;\n"
		"                    fork: a child shares and verifies the buffer meanwhile\n"
		"  --json            one JSON object on stdout instead of the RESULT line\n"
		"  --raw REQUEST     write REQUEST; exit 0 if refused, 1 if accepted\n");
}

static int parse_choice(const char *arg, const char *const *names, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(arg, names[i]))
			return i;
	return -1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kind", required_argument, NULL, 'k' },
		{ "size", required_argument, NULL, 's' },
		{ "key", required_argument, NULL, 'K' },
		{ "exchange-only", no_argument, NULL, 'x' },
		{ "max-pages", required_argument, NULL, 'm' },
		{ "fill-to", required_argument, NULL, 'f' },
		{ "concurrent", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "raw", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	unsigned long size_mib = 256, max_pages = 0, len, pages, checked;
	unsigned long corrupt, flags = 0;
	int kind = ANON, concurrent = NONE, c, ret, pm_ret, i;
	unsigned long long key = 0;
	bool have_key = false, failed = false;
	struct filler filler = { .id = FILLER_ID };
	struct layout before, after;
	struct knob_reply reply;
	struct race race = { 0 };
	uint64_t ns, t_done;
	double fill_to = -1, free_pct;
	const char *missing;
	char req[192], *buf;

	while ((c = getopt_long(argc, argv, "k:s:K:xm:f:c:jr:h", opts,
				NULL)) != -1) {
		switch (c) {
		case 'k':
			kind = parse_choice(optarg, kind_names, 3);
			break;
		case 's':
			size_mib = strtoul(optarg, NULL, 0);
			break;
		case 'K':
			key = strtoull(optarg, NULL, 0);
			have_key = true;
			break;
		case 'x':
			flags |= DEFRAG_EXCHANGE_ONLY;
			break;
		case 'm':
			max_pages = strtoul(optarg, NULL, 0);
			break;
		case 'f':
			fill_to = strtod(optarg, NULL);
			break;
		case 'c':
			concurrent = parse_choice(optarg, concurrent_names, 3);
			break;
		case 'j':
			json = true;
			break;
		case 'r':
			return raw_request(optarg);
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (kind < 0 || concurrent < 0 || !size_mib || optind < argc) {
		usage(stderr);
		return 2;
	}
	/* A quarter of the buffer must be whole 2 MiB (THP) pieces. */
	if (concurrent == MUNMAP && size_mib % 8) {
		fprintf(stderr, PROG ": --concurrent munmap needs a size that is a multiple of 8 MiB\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);

	len = size_mib * MIB;
	pages = len / PAGE_SZ;
	buf = map_buffer(kind, len);
	if (!buf) {
		perror(PROG ": mapping the buffer");
		return 2;
	}
	if (!have_key)
		key = (uintptr_t)buf;
	membuf_fill(buf, pages, BUF_ID, 0);
	ret = layout_from_kernel(0, (uintptr_t)buf, len, key, &before);
	if (ret) {
		fprintf(stderr, PROG ": contig/layout: %s\n", strerror(-ret));
		return 1;
	}
	info("%s buffer of %lu MiB at %p, key %#llx: %lu present pages in %lu runs, %lu congruent 2 MiB chunks\n",
	     kind_names[kind], size_mib, buf, key, before.present, before.runs,
	     before.chunks_2m);

	if (fill_to >= 0) {
		ret = filler_fill_to(&filler, fill_to);
		if (ret) {
			fprintf(stderr, PROG ": filling memory: %s\n",
				strerror(-ret));
			return 2;
		}
		info("took %lu MiB more in 4 KiB pages: %.1f %% of memory free\n",
		     filler.bytes / MIB, mem_free_pct());
	}

	race.what = concurrent;
	checked = race_prepare(&race, buf, pages, kind);

	free_pct = mem_free_pct();
	snprintf(req, sizeof(req), "%d 0x%lx 0x%lx 0x%llx 0x%lx %lu %lu",
		 (int)getpid(), (unsigned long)buf, len, key, PGSIZES, flags,
		 max_pages);
	info("request: %s\n", req);
	race_go(&race);
	ret = knob_request("defrag", req, &reply, &ns);
	t_done = now_ns();
	/*
	 * Right away: khugepaged may collapse a THP buffer's pages in the
	 * seconds the verification takes. The still-mapped part is the
	 * same whether or not the munmap is done.
	 */
	pm_ret = layout_from_pagemap(0, (uintptr_t)buf, checked * PAGE_SZ,
				     key, &after);
	if (!race_finish(&race, t_done))
		failed = true;
	if (ret) {
		fprintf(stderr, PROG ": FAIL: defrag request '%s': %s\n", req,
			strerror(-ret));
		return 1;
	}
	if (pm_ret) {
		fprintf(stderr, PROG ": pagemap: %s\n", strerror(-pm_ret));
		return 1;
	}
	missing = knob_missing(&reply, needed);
	if (missing) {
		fprintf(stderr, PROG ": FAIL: reply has no '%s'\n", missing);
		return 1;
	}

	corrupt = membuf_check(buf, checked, BUF_ID, 0, PROG ": buffer");
	corrupt += filler_check(&filler, PROG ": filler");

	if (!layout_agrees(&reply, &before, &after, concurrent == MUNMAP))
		failed = true;

	put("kind", true, "%s", kind_names[kind]);
	put("size_mib", false, "%lu", size_mib);
	put("key", true, "%#llx", key);
	put("exchange_only", false, "%lu", flags & DEFRAG_EXCHANGE_ONLY);
	put("max_pages", false, "%lu", max_pages);
	put("concurrent", true, "%s", concurrent_names[concurrent]);
	for (i = 0; i < reply.nr; i++)
		put(reply.name[i], false, "%lld", reply.value[i]);
	put("request_ns", false, "%" PRIu64, ns);
	put("layout_runs_before", false, "%lu", before.runs);
	put("check_pages", false, "%lu", checked);
	put("check_runs", false, "%lu", after.runs);
	put("check_chunks_2m", false, "%lu", after.chunks_2m);
	put("filler_mib", false, "%lu", filler.bytes / MIB);
	put("free_pct", false, "%.1f", free_pct);
	put("child_status", false, "%d", race.status);
	put("corrupt", false, "%lu", corrupt);
	printf(json ? "}\n" : "\n");
	return corrupt || failed ? 1 : 0;
}
