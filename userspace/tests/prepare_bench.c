// SPDX-License-Identifier: GPL-2.0
/*
 * prepare_bench: what a CONTIG_DMA_PREPARE costs as the request and the
 * machine grow, and when two requests run at once.
 *
 * Each request is made on a new buffer of 4 KiB pages (MADV_NOHUGEPAGE)
 * faulted in page by page alternately with a second buffer of the same
 * size, so that no page is in place and every page must move. The first
 * request of a run is the warm-up: it may build the kernel's frame index,
 * and is reported apart. Then, for each size, --reps requests, one at a
 * time; then --reps times two requests of the largest size from two
 * processes at once (each on buffers set up before the start), against one
 * alone just before. Every page of every buffer is verified after its
 * request. First of all, a measure of the guest's speed (a 64 MiB copy).
 *
 * Prints one JSON object per line:
 *   {"what": "calibrate", "size_mib": 64, "ns": [..], "median_ns": ..}
 *   {"what": "warmup", "size_mib": .., "ns": .., "plan_ns": .., ...}
 *   {"what": "request", "size_mib": .., "ns": [..], "plan_ns": [..],
 *    "index_ns": [..], "search_ns": [..], "moved": [..], "median_ns": ..}
 *   {"what": "concurrent", "size_mib": .., "one_ns": [..], "two_ns": [..],
 *    "median_ratio": ..}
 * Exits 1 on a failed request or a corrupt page.
 *
 * Usage: prepare_bench [--reps N] [--sizes MIB,MIB,...]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/contig_dma.h>

#include "lib/knob.h"
#include "lib/membuf.h"

#define PROG		"prepare_bench"
#define MAX_REPS	16
#define MAX_SIZES	8

static int dev;
static uint64_t next_id = 1;
static int failed;

struct one {
	struct contig_dma_prepare p;
	uint64_t start_ns, end_ns;	/* around the ioctl, CLOCK_MONOTONIC */
	uint64_t wall_ns;
};

/* Two buffers faulted in alternately; returns the first, patterned */
static void *scattered(unsigned long pages, uint64_t id, void **other)
{
	void *a = membuf_map(pages * PAGE_SZ, -1, MADV_NOHUGEPAGE);
	void *b = membuf_map(pages * PAGE_SZ, -1, MADV_NOHUGEPAGE);
	unsigned long i;

	if (!a || !b) {
		perror(PROG ": mmap");
		exit(2);
	}
	for (i = 0; i < pages; i++) {
		membuf_fill((char *)a + i * PAGE_SZ, 1, id, i);
		membuf_fill((char *)b + i * PAGE_SZ, 1, id + 1, i);
	}
	*other = b;
	return a;
}

struct job {
	unsigned long pages;
	uint64_t id;
	void *a, *b;
	struct one o;
};

/* A new scattered buffer of @mib MiB and its interleaved twin */
static void job_setup(struct job *j, unsigned long mib)
{
	j->pages = mib * MIB / PAGE_SZ;
	j->id = next_id;
	next_id += 2;
	j->a = scattered(j->pages, j->id, &j->b);
}

/* PREPARE the buffer, timed; then verify both buffers and free them */
static int job_run(struct job *j)
{
	struct contig_dma_prepare *p = &j->o.p;
	int ret = 0;
	uint64_t t0;

	memset(p, 0, sizeof(*p));
	p->size = sizeof(*p);
	p->start = (uintptr_t)j->a;
	p->length = j->pages * PAGE_SZ;
	p->key = (uintptr_t)j->a;
	t0 = now_ns();
	if (ioctl(dev, CONTIG_DMA_PREPARE, p)) {
		fprintf(stderr, PROG ": PREPARE of %lu pages: %s\n", j->pages,
			strerror(errno));
		ret = -1;
	}
	j->o.start_ns = t0;
	j->o.end_ns = now_ns();
	j->o.wall_ns = j->o.end_ns - t0;
	if (membuf_check(j->a, j->pages, j->id, 0, "buffer") ||
	    membuf_check(j->b, j->pages, j->id + 1, 0, "other buffer"))
		ret = -1;
	munmap(j->a, j->pages * PAGE_SZ);
	munmap(j->b, j->pages * PAGE_SZ);
	return ret;
}

static int request(unsigned long mib, struct one *o)
{
	struct job j;
	int ret;

	job_setup(&j, mib);
	ret = job_run(&j);
	*o = j.o;
	return ret;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

static uint64_t median(const uint64_t *v, int n)
{
	uint64_t s[MAX_REPS];

	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_u64);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static void print_list(const char *key, const uint64_t *v, int n)
{
	int i;

	printf(", \"%s\": [", key);
	for (i = 0; i < n; i++)
		printf("%s%llu", i ? ", " : "", (unsigned long long)v[i]);
	printf("]");
}

static unsigned long long moved(const struct contig_dma_prepare *p)
{
	return p->moves.migrated + p->moves.exchanged;
}

static void run_size(unsigned long mib, int reps)
{
	uint64_t ns[MAX_REPS], plan[MAX_REPS], index[MAX_REPS];
	uint64_t search[MAX_REPS], mv[MAX_REPS];
	struct one o;
	int r;

	for (r = 0; r < reps; r++) {
		if (request(mib, &o))
			failed = 1;
		ns[r] = o.p.moves.ns;
		plan[r] = o.p.times.plan_ns;
		index[r] = o.p.times.index_ns;
		search[r] = o.p.times.search_ns;
		mv[r] = moved(&o.p);
	}
	printf("{\"what\": \"request\", \"size_mib\": %lu", mib);
	print_list("ns", ns, reps);
	print_list("plan_ns", plan, reps);
	print_list("index_ns", index, reps);
	print_list("search_ns", search, reps);
	print_list("moved", mv, reps);
	printf(", \"median_ns\": %llu, \"median_plan_ns\": %llu}\n",
	       (unsigned long long)median(ns, reps),
	       (unsigned long long)median(plan, reps));
	fflush(stdout);
}

/*
 * Two processes PREPARE at once, each on its own buffers set up first: the
 * wall time from the first ioctl's start to the last one's end (what each
 * does after its ioctl, verifying and freeing its buffers, is not timed,
 * as it is not for one request alone).
 */
static uint64_t two_at_once(unsigned long mib)
{
	int go[2], ready[2], status, i, ret = 0;
	uint64_t *when, first, last;
	pid_t pid[2];
	char c;

	/* [2i], [2i + 1]: child i's ioctl start and end */
	when = mmap(NULL, 4 * sizeof(*when), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (when == MAP_FAILED || pipe(go) || pipe(ready))
		exit(2);
	fflush(NULL);
	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		if (pid[i] < 0)
			exit(2);
		if (!pid[i]) {
			struct job j;

			close(go[1]);
			close(ready[0]);
			next_id += 1000 * (i + 1);
			job_setup(&j, mib);
			if (write(ready[1], "r", 1) != 1 ||
			    read(go[0], &c, 1) != 0)
				_exit(2);
			ret = job_run(&j);
			when[2 * i] = j.o.start_ns;
			when[2 * i + 1] = j.o.end_ns;
			_exit(ret ? 1 : 0);
		}
	}
	close(go[0]);
	close(ready[1]);
	for (i = 0; i < 2; i++)
		if (read(ready[0], &c, 1) != 1)
			failed = 1;
	close(go[1]);
	for (i = 0; i < 2; i++) {
		waitpid(pid[i], &status, 0);
		ret |= !WIFEXITED(status) || WEXITSTATUS(status);
	}
	close(ready[0]);
	if (ret)
		failed = 1;
	first = when[0] < when[2] ? when[0] : when[2];
	last = when[1] > when[3] ? when[1] : when[3];
	munmap(when, 4 * sizeof(*when));
	return last - first;
}

/*
 * The guest's own speed: copying 64 MiB from one buffer to another, @reps
 * times. Under TCG one boot of the same guest can run everything up to
 * twice as fast as another; the report divides each request's time by
 * its boot's copy time to compare guests of different sizes.
 */
static void calibrate(int reps)
{
	uint64_t ns[MAX_REPS], t0;
	unsigned long len = 64 * MIB;
	char *from = membuf_map(len, -1, MADV_NOHUGEPAGE);
	char *to = membuf_map(len, -1, MADV_NOHUGEPAGE);
	int r;

	if (!from || !to) {
		perror(PROG ": mmap");
		exit(2);
	}
	memset(from, 0x5a, len);
	memset(to, 0, len);
	for (r = 0; r < reps; r++) {
		t0 = now_ns();
		memcpy(to, from, len);
		ns[r] = now_ns() - t0;
		/* Not optimised away: the copy is looked at */
		if (to[len - 1] != 0x5a)
			failed = 1;
		from[r] ^= 1;
	}
	printf("{\"what\": \"calibrate\", \"size_mib\": 64");
	print_list("ns", ns, reps);
	printf(", \"median_ns\": %llu}\n", (unsigned long long)median(ns, reps));
	fflush(stdout);
	munmap(from, len);
	munmap(to, len);
}

static void run_concurrent(unsigned long mib, int reps)
{
	uint64_t one[MAX_REPS], two[MAX_REPS], ratio[MAX_REPS];
	struct one o;
	int r;

	for (r = 0; r < reps; r++) {
		if (request(mib, &o))
			failed = 1;
		one[r] = o.wall_ns;
		two[r] = two_at_once(mib);
		ratio[r] = two[r] * 1000 / (one[r] ? one[r] : 1);
	}
	printf("{\"what\": \"concurrent\", \"size_mib\": %lu", mib);
	print_list("one_ns", one, reps);
	print_list("two_ns", two, reps);
	printf(", \"median_ratio\": %.3f}\n", median(ratio, reps) / 1000.0);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "reps", required_argument, NULL, 'r' },
		{ "sizes", required_argument, NULL, 's' },
		{}
	};
	unsigned long sizes[MAX_SIZES] = { 2, 64 };
	int nsizes = 2, reps = 3, c, i;
	struct one o;
	char *tok;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			reps = atoi(optarg);
			break;
		case 's':
			nsizes = 0;
			for (tok = strtok(optarg, ","); tok && nsizes < MAX_SIZES;
			     tok = strtok(NULL, ","))
				sizes[nsizes++] = strtoul(tok, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: " PROG " [--reps N] [--sizes MIB,...]\n");
			return 2;
		}
	}
	if (reps < 1 || reps > MAX_REPS || !nsizes) {
		fprintf(stderr, PROG ": --reps 1..%d, at least one size\n",
			MAX_REPS);
		return 2;
	}
	dev = open("/dev/contig_dma", O_RDWR);
	if (dev < 0) {
		perror(PROG ": /dev/contig_dma");
		return 2;
	}
	calibrate(reps);
	if (request(sizes[0], &o))
		failed = 1;
	printf("{\"what\": \"warmup\", \"size_mib\": %lu, \"ns\": %llu, \"plan_ns\": %llu, \"index_ns\": %llu, \"index_blocks\": %llu, \"search_ns\": %llu}\n",
	       sizes[0], (unsigned long long)o.p.moves.ns,
	       (unsigned long long)o.p.times.plan_ns,
	       (unsigned long long)o.p.times.index_ns,
	       (unsigned long long)o.p.times.index_blocks,
	       (unsigned long long)o.p.times.search_ns);
	for (i = 0; i < nsizes; i++)
		run_size(sizes[i], reps);
	run_concurrent(sizes[nsizes - 1], reps);
	return failed;
}
