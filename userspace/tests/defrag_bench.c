// SPDX-License-Identifier: GPL-2.0
/*
 * defrag_bench: what it costs to make a buffer of fragmented memory
 * physically contiguous (DESIGN §5 M4: ns/MiB and its ratio to a plain
 * memcpy of the same size, same run), and whether it still works with
 * less than 3 % of memory free (M7), against the two ways a stock kernel
 * has to get contiguous memory under a populated buffer:
 *
 *   contig        the range defragmentation engine (debugfs contig/defrag)
 *   collapse      madvise(MADV_COLLAPSE): THPs built from free 2 MiB blocks,
 *                 compacting memory to get them
 *   alloc_contig  debugfs contig/alloc_contig: alloc_contig_range() of one
 *                 block for the whole buffer, then migration into it
 *
 * Run while the fragmenter holds its memory. First a memcpy of the buffer
 * size between two populated buffers (median of three), then each side on
 * a new patterned anonymous buffer of 4 KiB pages, with the DMA key at
 * 1 GiB; then memory is filled until less than 3 % is free and each side
 * runs again, on buffers populated before the filling. Every buffer is
 * kept until the end: freeing one that was made contiguous would hand a
 * large free block to the next side (the one buffer freed is one that
 * MADV_COLLAPSE failed on: it is as scattered as before, and the memory
 * is needed). Each buffer is verified byte for byte after its side, and
 * all of them, and the filler, at the end.
 *
 * Prints one JSON object per side. A side that fails to get contiguous
 * memory is a measurement; exits 1 on a corrupt page or when a contig
 * request fails, 2 when the benchmark cannot be set up.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/knob.h"
#include "lib/layout.h"
#include "lib/membuf.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif

#define PROG		"defrag_bench"
#define KEY		0x40000000ULL	/* a 1 GiB-aligned IOVA */
#define MEMCPY_ID	0x10
#define BUF_ID		0x20	/* + buffer number */
#define FILLER_ID	0x100
#define ROUNDS		3

enum side { CONTIG, COLLAPSE, ALLOC_CONTIG, NR_SIDES };
static const char *const side_names[NR_SIDES] = {
	"contig", "collapse", "alloc_contig"
};

struct buffer {
	char *mem;
	uint64_t id;
};

static unsigned long size_mib = 256, len, pages;
static double memcpy_ns_per_mib;
static struct buffer buffers[2 * NR_SIDES];
static int nr_buffers;
static bool last_side_ok;	/* the outcome of the last run_side() */

static const char *errname(int err)
{
	const char *name = strerrorname_np(err);

	return name ? name : "unknown";
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Patterned 4 KiB pages from wherever the allocator finds them. */
static struct buffer *new_buffer(void)
{
	struct buffer *b = &buffers[nr_buffers];

	b->mem = membuf_map(len, -1, MADV_NOHUGEPAGE);
	if (!b->mem) {
		perror(PROG ": mapping a buffer");
		exit(2);
	}
	b->id = BUF_ID + nr_buffers++;
	membuf_fill(b->mem, pages, b->id, 0);
	return b;
}

static void memcpy_baseline(void)
{
	char *src = membuf_map(len, -1, MADV_NOHUGEPAGE);
	char *dst = membuf_map(len, -1, MADV_NOHUGEPAGE);
	uint64_t t[ROUNDS];
	int i;

	if (!src || !dst) {
		perror(PROG ": mapping the memcpy buffers");
		exit(2);
	}
	membuf_fill(src, pages, MEMCPY_ID, 0);
	memset(dst, 0, len);	/* populated, so only the copy is timed */
	for (i = 0; i < ROUNDS; i++) {
		uint64_t t0 = now_ns();

		memcpy(dst, src, len);
		t[i] = now_ns() - t0;
	}
	if (membuf_check(dst, pages, MEMCPY_ID, 0, PROG ": memcpy")) {
		fprintf(stderr, PROG ": memcpy copied wrong bytes\n");
		exit(1);
	}
	qsort(t, ROUNDS, sizeof(t[0]), cmp_u64);
	memcpy_ns_per_mib = (double)t[ROUNDS / 2] / size_mib;
	munmap(src, len);
	munmap(dst, len);
	fprintf(stderr, PROG ": memcpy of %lu MiB: %.0f ns/MiB\n", size_mib,
		memcpy_ns_per_mib);
}

struct outcome {
	bool ok;
	const char *error;
	uint64_t ns, kernel_ns;
	long long migrated, exchanged;	/* -1: not known for this side */
};

/*
 * The debugfs sides: @knob on the whole buffer at KEY (alloc_contig takes
 * the key too, for the layout it reports). -errno if the request failed.
 */
static int request(const char *knob, struct buffer *b, struct outcome *o,
		   struct knob_reply *r)
{
	char req[128];
	long long v;
	int ret;

	snprintf(req, sizeof(req), "%d 0x%lx 0x%lx 0x%llx", (int)getpid(),
		 (unsigned long)b->mem, len, KEY);
	ret = knob_request(knob, req, r, &o->ns);
	if (ret) {
		o->error = errname(-ret);
		fprintf(stderr, PROG ": %s request '%s': %s\n", knob, req,
			strerror(-ret));
		return ret;
	}
	if (!knob_get(r, "ns", &v))
		o->kernel_ns = v;
	knob_get(r, "migrated", &o->migrated);
	return 0;
}

/* A failed contig request is a failure of the feature, not a measurement. */
static int do_contig(struct buffer *b, struct outcome *o)
{
	struct knob_reply r;

	static const char *const fails[] = {
		"fail_unmovable", "fail_pinned", "fail_busy",
		"fail_unsupported", "fail_nomem", "fail_migrate", "fail_split",
		"segments", "reanchors",
	};
	long long v;
	size_t i;

	if (request("defrag", b, o, &r))
		return 1;
	o->ok = true;
	knob_get(&r, "exchanged", &o->exchanged);
	/* Why a page did not reach its target, when one did not */
	for (i = 0; i < sizeof(fails) / sizeof(fails[0]); i++)
		if (!knob_get(&r, fails[i], &v) && v)
			fprintf(stderr, PROG ": defrag %s %lld\n", fails[i], v);
	return 0;
}

static int do_collapse(struct buffer *b, struct outcome *o)
{
	uint64_t t0 = now_ns();
	int ret;

	/* MADV_COLLAPSE refuses VM_NOHUGEPAGE areas. */
	ret = madvise(b->mem, len, MADV_HUGEPAGE);
	if (!ret)
		ret = madvise(b->mem, len, MADV_COLLAPSE);
	o->ns = now_ns() - t0;
	o->ok = !ret;
	if (ret)
		o->error = errname(errno);
	return 0;
}

static int do_alloc_contig(struct buffer *b, struct outcome *o)
{
	struct knob_reply r;
	long long err;

	if (request("alloc_contig", b, o, &r))
		return 0;
	if (knob_get(&r, "error", &err)) {
		fprintf(stderr, PROG ": alloc_contig reply has no 'error'\n");
		return 1;
	}
	o->ok = !err;
	if (err)
		o->error = errname(-err);
	o->exchanged = 0;
	return 0;
}

static void print_count(const char *name, long long v)
{
	if (v < 0)
		printf(", \"%s\": null", name);
	else
		printf(", \"%s\": %lld", name, v);
}

/*
 * One side on @b: time it, measure the layout before and after with the
 * kernel's layout file, verify the buffer. 0, or nonzero if the program
 * must fail (see the top comment).
 */
static int run_side(const char *memory, enum side side, struct buffer *b)
{
	struct outcome o = { .error = "", .migrated = -1, .exchanged = -1 };
	struct layout before, after;
	double free_pct, ns_per_mib;
	int ret, err;

	err = layout_from_kernel(0, (uintptr_t)b->mem, len, KEY, &before);
	free_pct = mem_free_pct();
	if (side == CONTIG)
		ret = do_contig(b, &o);
	else if (side == COLLAPSE)
		ret = do_collapse(b, &o);
	else
		ret = do_alloc_contig(b, &o);
	if (!err)
		err = layout_from_kernel(0, (uintptr_t)b->mem, len, KEY,
					 &after);
	if (err) {
		fprintf(stderr, PROG ": contig/layout: %s\n", strerror(-err));
		return 2;
	}
	if (membuf_check(b->mem, pages, b->id, 0, PROG ": buffer")) {
		fprintf(stderr, PROG ": %s on %s memory corrupted the buffer\n",
			side_names[side], memory);
		ret = 1;
	}

	ns_per_mib = (double)o.ns / size_mib;
	printf("{\"memory\": \"%s\", \"side\": \"%s\", \"size_mib\": %lu, \"ok\": %s, \"error\": \"%s\", \"ns_per_mib\": %.0f, \"ratio_to_memcpy\": %.3f, \"memcpy_ns_per_mib\": %.0f",
	       memory, side_names[side], size_mib, o.ok ? "true" : "false",
	       o.error, ns_per_mib, ns_per_mib / memcpy_ns_per_mib,
	       memcpy_ns_per_mib);
	if (o.kernel_ns)
		printf(", \"kernel_ns_per_mib\": %.0f",
		       (double)o.kernel_ns / size_mib);
	else
		printf(", \"kernel_ns_per_mib\": null");
	printf(", \"runs_before\": %lu, \"runs_after\": %lu, \"chunks_2m_before\": %lu, \"chunks_2m_after\": %lu, \"chunks_1g_before\": %lu, \"chunks_1g_after\": %lu",
	       before.runs, after.runs, before.chunks_2m, after.chunks_2m,
	       before.chunks_1g, after.chunks_1g);
	print_count("migrated", o.migrated);
	print_count("exchanged", o.exchanged);
	/*
	 * Per byte moved: a migration copies a page once, an exchange moves
	 * two pages (ours and the one whose frame we took), the floor M4
	 * compares against.
	 */
	if (o.migrated >= 0 && o.exchanged >= 0 &&
	    o.migrated + o.exchanged > 0) {
		double mib_moved = (o.migrated + 2.0 * o.exchanged) *
				   PAGE_SZ / MIB;

		printf(", \"ns_per_mib_moved\": %.0f, \"ratio_moved_to_memcpy\": %.3f",
		       o.ns / mib_moved, o.ns / mib_moved / memcpy_ns_per_mib);
	}
	printf(", \"free_pct\": %.1f}\n", free_pct);
	fflush(stdout);
	last_side_ok = o.ok;
	return ret;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [--size MIB] [--fill-to PCT]\n"
		"\n"
		"Cost of making a fragmented buffer contiguous: contig/defrag against\n"
		"MADV_COLLAPSE and contig/alloc_contig, with free memory and with less\n"
		"than PCT %% free (default 3). One JSON object per side. Needs root and\n"
		"about 6 x MIB of free memory; run it while the fragmenter holds memory.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "fill-to", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct filler filler = { .id = FILLER_ID };
	struct buffer *low[NR_SIDES];
	unsigned long free_kib, bad = 0;
	double fill_to = 3;
	int c, i, ret, worst = 0;

	while ((c = getopt_long(argc, argv, "s:f:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			size_mib = strtoul(optarg, NULL, 0);
			break;
		case 'f':
			fill_to = strtod(optarg, NULL);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!size_mib || optind < argc) {
		usage(stderr);
		return 2;
	}
	len = size_mib * MIB;
	pages = len / PAGE_SZ;

	/*
	 * Five buffers are held at once (a failed collapse leaves its buffer
	 * as scattered as it found it, so that one is freed); running out
	 * midway would OOM.
	 */
	if (meminfo_kib("MemFree", &free_kib) ||
	    free_kib / 1024 < (2 * NR_SIDES - 1) * size_mib + 64) {
		fprintf(stderr, PROG ": needs %lu MiB free for %d buffers of %lu MiB, has %lu MiB\n",
			(2 * NR_SIDES - 1) * size_mib + 64, 2 * NR_SIDES - 1,
			size_mib, free_kib / 1024);
		return 2;
	}

	memcpy_baseline();
	for (i = 0; i < NR_SIDES; i++) {
		struct buffer *b = new_buffer();

		ret = run_side("fragmented", i, b);
		worst = ret > worst ? ret : worst;
		if (i == COLLAPSE && !last_side_ok) {
			if (membuf_check(b->mem, pages, b->id, 0, PROG ": buffer"))
				worst = 1;
			munmap(b->mem, len);
			b->mem = NULL;
		}
	}

	/* Populated now: the filler must not take the buffers' memory. */
	for (i = 0; i < NR_SIDES; i++)
		low[i] = new_buffer();
	ret = filler_fill_to(&filler, fill_to);
	if (ret) {
		fprintf(stderr, PROG ": filling memory: %s\n", strerror(-ret));
		return 2;
	}
	fprintf(stderr, PROG ": took %lu MiB more: %.1f %% of memory free\n",
		filler.bytes / MIB, mem_free_pct());
	for (i = 0; i < NR_SIDES; i++) {
		ret = run_side("fragmented-97pct", i, low[i]);
		worst = ret > worst ? ret : worst;
	}

	for (i = 0; i < nr_buffers; i++)
		if (buffers[i].mem)
			bad += membuf_check(buffers[i].mem, pages,
					    buffers[i].id, 0,
					    PROG ": buffer at exit");
	bad += filler_check(&filler, PROG ": filler");
	fprintf(stderr, PROG ": verified %d buffers and %lu MiB of filler: %lu corrupt pages\n",
		nr_buffers, filler.bytes / MIB, bad);
	return bad ? 1 : worst;
}
