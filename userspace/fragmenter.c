// SPDX-License-Identifier: GPL-2.0
/*
 * fragmenter: make physical memory fragmented, reproducibly, and hold it so.
 *
 * 1. Take anonymous 4 KiB pages (MADV_NOHUGEPAGE), each filled with a
 *    pattern derived from its index, until /proc/buddyinfo shows no free
 *    block of order >= 9 in the zones user memory comes from.
 * 2. Free every page whose PFN is odd (MADV_DONTNEED). Its buddy, the even
 *    PFN next to it, stays held, so no freed page can merge: about half of
 *    memory is free again, all of it in order-0 pieces.
 * 3. With --unmovable, also scatter unmovable pages: read one byte in each
 *    2 MiB of a large sparse mapping, so that every read allocates a page
 *    table (unmovable) and maps the shared zero page (no data page). This
 *    happens when only the PFNs = 3 (mod 4) are free, a quarter of each
 *    pageblock: with half of a pageblock free the allocator would claim
 *    the whole block for unmovable pages and pack the page tables into a
 *    few blocks; with a quarter it takes single pages from many blocks.
 *    The other odd PFNs are freed afterwards.
 *
 * The kernel keeps its watermark reserve (vm.min_free_kbytes) and the
 * lower zones' protection (vm.lowmem_reserve_ratio) free, and since the
 * allocator splits the smallest free block first, those reserves end up
 * being exactly the last high-order blocks: step 1 lowers them while it
 * takes memory, in steps that shrink as free memory does, and restores
 * them once half of memory is free again. kcompactd's proactive
 * compaction, and the compaction that kswapd starts after a watermark
 * boost (triggered when an unmovable allocation steals from a movable
 * pageblock), would undo step 2 within seconds, so
 * vm.compaction_proactiveness and vm.watermark_boost_factor are 0 while
 * the fragmenter runs (restored when it exits). The fragmenter then holds its memory until
 * SIGTERM/SIGINT (--hold), and before it exits checks every byte of every
 * page it still holds: a page that something else moved must still read
 * back exactly what was written.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "lib/layout.h"

#define PAGE_SZ		4096UL
#define WORDS		(PAGE_SZ / 8)
#define MIB		(1UL << 20)
#define KPF_SLAB	7
#define KPF_PGTABLE	26
#define MAX_CHUNKS	4096

struct chunk {
	uint64_t *mem;
	unsigned long pages;
	unsigned long first_id;	/* global index of the chunk's first page */
	uint8_t *held;		/* per page: still mapped and patterned */
};

static struct chunk chunks[MAX_CHUNKS];
static int nr_chunks;
static volatile sig_atomic_t stop;
static const char *prog = "fragmenter";

static uint64_t pattern(unsigned long id, unsigned long w)
{
	return (id << 20) ^ (w * 0x9e3779b97f4a7c15ULL) ^ 0xf4a6u;
}

static void fill_page(uint64_t *p, unsigned long id)
{
	unsigned long w;

	for (w = 0; w < WORDS; w++)
		p[w] = pattern(id, w);
}

static bool check_page(const uint64_t *p, unsigned long id)
{
	unsigned long w;

	for (w = 0; w < WORDS; w++)
		if (p[w] != pattern(id, w))
			return false;
	return true;
}

/*
 * From /proc/buddyinfo: free blocks of order >= 9 in all zones (@blocks)
 * and in the DMA zone alone (@dma_blocks), and free bytes in the buddy
 * lists (@free).
 */
static void buddy_scan(unsigned long *blocks, unsigned long *dma_blocks,
		       unsigned long *free)
{
	char line[512], zone[32];
	FILE *f = fopen("/proc/buddyinfo", "r");

	*blocks = *dma_blocks = *free = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long n[11] = { 0 };
		int node, o;

		if (sscanf(line, "Node %d, zone %31s %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu",
			   &node, zone, &n[0], &n[1], &n[2], &n[3], &n[4],
			   &n[5], &n[6], &n[7], &n[8], &n[9], &n[10]) < 13)
			continue;
		*blocks += n[9] + n[10];
		if (!strcmp(zone, "DMA"))
			*dma_blocks += n[9] + n[10];
		for (o = 0; o <= 10; o++)
			*free += n[o] * (PAGE_SZ << o);
	}
	fclose(f);
}

static unsigned long meminfo_kb(const char *key)
{
	char line[256];
	unsigned long v = 0;
	size_t kl = strlen(key);
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			v = strtoul(line + kl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

struct tunable {
	const char *path;
	const char *value;	/* what the fragmenter needs */
	char saved[32];		/* what to restore */
	bool set;
};

static struct tunable held_tunables[] = {
	{ .path = "/proc/sys/vm/compaction_proactiveness", .value = "0" },
	{ .path = "/proc/sys/vm/watermark_boost_factor", .value = "0" },
};

static struct tunable take_tunables[] = {
	{ .path = "/proc/sys/vm/min_free_kbytes", .value = "1024" },
	{ .path = "/proc/sys/vm/watermark_scale_factor", .value = "1" },
	{ .path = "/proc/sys/vm/lowmem_reserve_ratio", .value = "0 0 0 0 0" },
};

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -errno : 0;
}

static int tune(struct tunable *t, int n)
{
	int i, ret;

	for (i = 0; i < n; i++) {
		int fd = open(t[i].path, O_RDONLY);
		ssize_t got;

		if (fd < 0)
			return -errno;
		got = read(fd, t[i].saved, sizeof(t[i].saved) - 1);
		close(fd);
		if (got <= 0)
			return got < 0 ? -errno : -EIO;
		t[i].saved[got] = '\0';
		ret = write_file(t[i].path, t[i].value);
		if (ret) {
			fprintf(stderr, "%s: %s: %s\n", prog, t[i].path,
				strerror(-ret));
			return ret;
		}
		t[i].set = true;
		printf("%s: %s = %s (was %s)\n", prog, t[i].path + 10,
		       t[i].value, strtok(t[i].saved, "\n"));
	}
	return 0;
}

static void untune(struct tunable *t, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (t[i].set && !write_file(t[i].path, t[i].saved))
			t[i].set = false;
}

#define TUNE(t)		tune(t, sizeof(t) / sizeof(t[0]))
#define UNTUNE(t)	untune(t, sizeof(t) / sizeof(t[0]))

static int take_chunk(unsigned long bytes, unsigned long *next_id)
{
	struct chunk *c = &chunks[nr_chunks];
	unsigned long i;

	if (nr_chunks == MAX_CHUNKS)
		return -ENOSPC;
	c->mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (c->mem == MAP_FAILED)
		return -errno;
	madvise(c->mem, bytes, MADV_NOHUGEPAGE);
	c->pages = bytes / PAGE_SZ;
	c->first_id = *next_id;
	c->held = malloc(c->pages);
	if (!c->held)
		return -ENOMEM;
	memset(c->held, 1, c->pages);
	for (i = 0; i < c->pages; i++)
		fill_page(c->mem + i * WORDS, c->first_id + i);
	*next_id += c->pages;
	nr_chunks++;
	return 0;
}

/* Step 1: take memory until no free block of order >= 9 is left. */
static int take_memory(unsigned long reserve, unsigned long *taken)
{
	unsigned long blocks, dma_blocks, free, next_id = 0;
	int ret;

	*taken = 0;
	for (;;) {
		unsigned long bytes;

		buddy_scan(&blocks, &dma_blocks, &free);
		if (!blocks)
			return 0;
		if (free < reserve) {
			fprintf(stderr, "%s: only %lu kB free with %lu free blocks of order >= 9 left\n",
				prog, free >> 10, blocks);
			return -ENOMEM;
		}
		/* Big steps while memory is plentiful, small ones near the end. */
		bytes = free / 4;
		bytes = bytes > 64 * MIB ? 64 * MIB : bytes;
		bytes = bytes < 256 * 1024 ? 256 * 1024 : bytes & ~(64 * 1024UL - 1);
		ret = take_chunk(bytes, &next_id);
		if (ret)
			return ret;
		*taken += bytes;
	}
}

/*
 * Step 2: free the held pages whose PFN matches (pfn & mask) == value; with
 * mask 1, value 1 that is every odd PFN, and the even buddies stay held.
 */
static int free_pfns(unsigned long mask, unsigned long value,
		     unsigned long *freed)
{
	int i, ret;

	for (i = 0; i < nr_chunks; i++) {
		struct chunk *c = &chunks[i];
		uint64_t *pfns = calloc(c->pages, sizeof(*pfns));
		unsigned long p;

		if (!pfns)
			return -ENOMEM;
		ret = pagemap_pfns(0, (unsigned long)c->mem, c->pages * PAGE_SZ,
				   pfns);
		if (ret) {
			free(pfns);
			return ret;
		}
		for (p = 0; p < c->pages; p++) {
			if (!pfns[p]) {
				free(pfns);
				fprintf(stderr, "%s: page %lu of chunk %d is not present (no PFN: not root?)\n",
					prog, p, i);
				return -EPERM;
			}
			if (!chunks[i].held[p] || (pfns[p] & mask) != value)
				continue;
			if (madvise(c->mem + p * WORDS, PAGE_SZ, MADV_DONTNEED)) {
				free(pfns);
				return -errno;
			}
			c->held[p] = 0;
			*freed += PAGE_SZ;
		}
		free(pfns);
	}
	return 0;
}

/* 2 MiB physical windows holding at least one page with a given flag. */
static long windows_with_flag(int bit)
{
	static uint64_t buf[512];
	long windows = 0;
	off_t off = 0;
	int fd = open("/proc/kpageflags", O_RDONLY);

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof(buf), off);
		int i;

		if (n <= 0)
			break;
		for (i = 0; i < n / 8; i++)
			if (buf[i] & (1ULL << bit)) {
				windows++;
				break;
			}
		off += n;
	}
	close(fd);
	return windows;
}

/* Step 3: one page table per 2 MiB of a sparse, read-only mapping. */
static long scatter_page_tables(unsigned long count)
{
	volatile char *area;
	unsigned long i;
	long sum = 0;

	area = mmap(NULL, count * 2 * MIB, PROT_READ,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (area == MAP_FAILED)
		return -errno;
	for (i = 0; i < count; i++)
		sum += area[i * 2 * MIB];
	return sum ? -EIO : 0;	/* the zero page reads as zero */
}

static unsigned long verify_held(unsigned long *checked)
{
	unsigned long bad = 0, p;
	int i;

	*checked = 0;
	for (i = 0; i < nr_chunks; i++)
		for (p = 0; p < chunks[i].pages; p++) {
			if (!chunks[i].held[p])
				continue;
			(*checked)++;
			if (!check_page(chunks[i].mem + p * WORDS,
					chunks[i].first_id + p)) {
				if (bad < 10)
					fprintf(stderr, "%s: page %lu of chunk %d is corrupt\n",
						prog, p, i);
				bad++;
			}
		}
	return bad;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: fragmenter [--unmovable] [--hold] [--ready FILE] [--reserve-kib N]\n"
		"\n"
		"Fragment physical memory: take 4 KiB pages until no free 2 MiB block is\n"
		"left, then free every page at an odd PFN. Needs root.\n"
		"\n"
		"  --unmovable      also scatter unmovable pages (page tables)\n"
		"  --hold           keep the memory until SIGTERM/SIGINT, then verify it\n"
		"  --ready FILE     create FILE once memory is fragmented\n"
		"  --reserve-kib N  give up when free memory drops below N KiB (default 512)\n"
		"\n"
		"Sets vm.compaction_proactiveness and vm.watermark_boost_factor to 0\n"
		"while it runs (compaction would undo the fragmentation), lowers\n"
		"vm.min_free_kbytes while it takes memory, and restores them all.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "unmovable", no_argument, NULL, 'u' },
		{ "hold", no_argument, NULL, 'H' },
		{ "ready", required_argument, NULL, 'r' },
		{ "reserve-kib", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	unsigned long reserve_kib = 512, taken = 0, freed = 0, checked, bad;
	unsigned long before, after, dma_before, dma_after, free_before, free_after;
	long pt_before = 0, pt_after = 0, tables = 0;
	bool unmovable = false, hold = false;
	const char *ready = NULL;
	int c, ret;

	while ((c = getopt_long(argc, argv, "uHr:R:h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			unmovable = true;
			break;
		case 'H':
			hold = true;
			break;
		case 'r':
			ready = optarg;
			break;
		case 'R':
			reserve_kib = strtoul(optarg, NULL, 0);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}

	ret = TUNE(held_tunables);
	if (ret) {
		UNTUNE(held_tunables);
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	buddy_scan(&before, &dma_before, &free_before);
	printf("%s: before: %lu kB free, free blocks of order >= 9: %lu (DMA zone: %lu)\n",
	       prog, free_before >> 10, before, dma_before);
	ret = TUNE(take_tunables);
	if (!ret)
		ret = take_memory(reserve_kib * 1024, &taken);
	if (!ret && unmovable) {
		ret = free_pfns(3, 3, &freed);
		pt_before = windows_with_flag(KPF_PGTABLE);
		tables = meminfo_kb("MemTotal") / 2048;
		if (!ret)
			ret = scatter_page_tables(tables);
		pt_after = windows_with_flag(KPF_PGTABLE);
	}
	if (!ret)
		ret = free_pfns(1, 1, &freed);
	UNTUNE(take_tunables);
	if (ret) {
		fprintf(stderr, "%s: %s\n", prog, strerror(-ret));
		UNTUNE(held_tunables);
		return 1;
	}
	buddy_scan(&after, &dma_after, &free_after);
	printf("%s: took %lu MiB in 4 KiB pages, freed %lu MiB at odd PFNs, holding %lu MiB\n",
	       prog, taken / MIB, freed / MIB, (taken - freed) / MIB);
	printf("%s: after: %lu kB free, free blocks of order >= 9: %lu (DMA zone: %lu)\n",
	       prog, free_after >> 10, after, dma_after);
	if (unmovable)
		printf("%s: %ld page tables scattered: 2 MiB windows holding a page table %ld -> %ld\n",
		       prog, tables, pt_before, pt_after);
	printf("%s: RESULT taken_mib=%lu held_mib=%lu free_kb=%lu free_order9_before=%lu free_order9_after=%lu pgtables=%ld pgtable_windows_before=%ld pgtable_windows_after=%ld\n",
	       prog, taken / MIB, (taken - freed) / MIB, free_after >> 10,
	       before, after, tables, pt_before, pt_after);
	fflush(stdout);

	if (ready) {
		int fd = open(ready, O_CREAT | O_WRONLY | O_TRUNC, 0644);

		if (fd >= 0)
			close(fd);
	}
	while (hold && !stop)
		pause();

	bad = verify_held(&checked);
	printf("%s: VERIFY pages=%lu corrupt=%lu\n", prog, checked, bad);
	UNTUNE(held_tunables);
	return bad ? 1 : 0;
}
