// SPDX-License-Identifier: GPL-2.0
/*
 * exchange_bench: the cost of exchanging N pairs of folios against moving
 * the same folios through free pages with migrate_pages(), same run.
 *
 * Two buffers A and B of N folios each (4 KiB pages, or THPs with --thp)
 * are filled with patterns. Then, in rounds, alternating:
 *   exchange   one contig/exchange request: A[i] <-> B[i] for all i
 *              (exchange_folio_pairs(), batched);
 *   migration  contig/migrate requests for A and for B: every folio of
 *              both buffers moves once to a newly allocated folio
 *              (migrate_pages(), MIGRATE_SYNC), i.e. the same data moved
 *              as by the exchange, but through free pages;
 * each timed around the debugfs write (both include the same page-table
 * lookups). Every byte of both buffers is verified after every step, and
 * every exchange and migration must have succeeded for every folio.
 *
 * Prints one JSON object: ns per pair for each side (median of the rounds)
 * and their ratio.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE	4096UL
#define HPAGE	(2UL << 20)
#define ROUNDS	5

static unsigned long folio_size = PAGE;

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static uint64_t word(uintptr_t addr, uint64_t seed)
{
	return (addr * 0x9e3779b97f4a7c15ULL) ^ seed;
}

static void fill(char *buf, size_t len, uint64_t seed)
{
	size_t i;

	for (i = 0; i < len; i += 8)
		*(uint64_t *)(buf + i) = word((uintptr_t)buf + i, seed);
}

static void verify(const char *buf, size_t len, uint64_t seed, const char *when)
{
	size_t i;

	for (i = 0; i < len; i += 8)
		if (*(const uint64_t *)(buf + i) != word((uintptr_t)buf + i, seed)) {
			fprintf(stderr, "exchange_bench: corrupt word at +0x%zx %s\n",
				i, when);
			exit(1);
		}
}

static char *map_buffer(size_t len)
{
	char *p = mmap(NULL, len + HPAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	p = (char *)(((uintptr_t)p + HPAGE - 1) & ~(HPAGE - 1));
	if (madvise(p, len, folio_size == HPAGE ? MADV_HUGEPAGE :
		    MADV_NOHUGEPAGE))
		die("madvise");
	return p;
}

/* Write a request, read back the value of @key from the reply. */
static unsigned long request(const char *knob, const char *req,
			     const char *key, uint64_t *ns)
{
	char buf[512], *p;
	uint64_t t0;
	ssize_t n;
	int fd = open(knob, O_RDWR);

	if (fd < 0)
		die(knob);
	t0 = now_ns();
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		die(knob);
	*ns = now_ns() - t0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		die(knob);
	buf[n] = '\0';
	p = strstr(buf, key);
	if (!p) {
		fprintf(stderr, "exchange_bench: no '%s' in reply:\n%s", key, buf);
		exit(2);
	}
	return strtoul(p + strlen(key) + 1, NULL, 10);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	unsigned long pairs = 4096, done, moved;
	uint64_t ex[ROUNDS], mig[ROUNDS], ns, ns2;
	char req[160], *a, *b;
	size_t len;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--thp"))
			folio_size = HPAGE;
		else if (!strcmp(argv[i], "--pairs") && i + 1 < argc)
			pairs = strtoul(argv[++i], NULL, 0);
		else {
			fprintf(stderr, "usage: exchange_bench [--thp] [--pairs N]\n");
			return 2;
		}
	}
	len = pairs * folio_size;
	a = map_buffer(len);
	b = map_buffer(len);
	fill(a, len, 1);
	fill(b, len, 2);

	for (i = 0; i < ROUNDS; i++) {
		snprintf(req, sizeof(req), "%d %p %d %p %lu", getpid(), a,
			 getpid(), b, pairs);
		done = request("/sys/kernel/debug/contig/exchange", req,
			       "done", &ex[i]);
		if (done != pairs) {
			fprintf(stderr, "exchange_bench: %lu of %lu pairs exchanged\n",
				done, pairs);
			return 1;
		}
		verify(a, len, 1, "after exchange");
		verify(b, len, 2, "after exchange");

		snprintf(req, sizeof(req), "%d %p %lu", getpid(), a, pairs);
		moved = request("/sys/kernel/debug/contig/migrate", req,
				"migrated_pages", &ns);
		snprintf(req, sizeof(req), "%d %p %lu", getpid(), b, pairs);
		moved += request("/sys/kernel/debug/contig/migrate", req,
				 "migrated_pages", &ns2);
		mig[i] = ns + ns2;
		if (moved != 2 * len / PAGE) {
			fprintf(stderr, "exchange_bench: %lu of %lu pages migrated\n",
				moved, 2 * len / PAGE);
			return 1;
		}
		verify(a, len, 1, "after migration");
		verify(b, len, 2, "after migration");
	}
	qsort(ex, ROUNDS, sizeof(ex[0]), cmp_u64);
	qsort(mig, ROUNDS, sizeof(mig[0]), cmp_u64);
	printf("{\"folio_kib\": %lu, \"pairs\": %lu, \"rounds\": %d, "
	       "\"exchange_ns_per_pair\": %llu, "
	       "\"migration_ns_per_pair\": %llu, "
	       "\"exchange_vs_migration\": %.3f}\n",
	       folio_size >> 10, pairs, ROUNDS,
	       (unsigned long long)(ex[ROUNDS / 2] / pairs),
	       (unsigned long long)(mig[ROUNDS / 2] / pairs),
	       (double)ex[ROUNDS / 2] / mig[ROUNDS / 2]);
	return 0;
}
