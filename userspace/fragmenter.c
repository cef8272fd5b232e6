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
 *    table (unmovable) and maps the shared zero page (no data page).
 *
 * kcompactd's proactive compaction would undo step 2 within seconds, so
 * vm.compaction_proactiveness is set to 0 while the fragmenter runs (and
 * restored when it exits). The fragmenter then holds its memory until
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

/* Free blocks of order >= 9 per zone class: [0] DMA, [1] DMA32/Normal. */
static void free_huge_blocks(unsigned long out[2])
{
	char line[512], zone[32];
	FILE *f = fopen("/proc/buddyinfo", "r");

	out[0] = out[1] = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long n[11] = { 0 };
		int node;

		if (sscanf(line, "Node %d, zone %31s %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu",
			   &node, zone, &n[0], &n[1], &n[2], &n[3], &n[4],
			   &n[5], &n[6], &n[7], &n[8], &n[9], &n[10]) < 13)
			continue;
		out[strcmp(zone, "DMA") ? 1 : 0] += n[9] + n[10];
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

static int write_sysctl(const char *path, const char *val, char *old,
			size_t oldsz)
{
	int fd = open(path, O_RDWR);
	ssize_t n;

	if (fd < 0)
		return -errno;
	if (old) {
		n = read(fd, old, oldsz - 1);
		old[n > 0 ? n : 0] = '\0';
		lseek(fd, 0, SEEK_SET);
	}
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -errno : 0;
}

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
static int take_memory(unsigned long reserve_kb, unsigned long *taken)
{
	unsigned long blocks[2], next_id = 0;
	int ret;

	*taken = 0;
	for (;;) {
		unsigned long free_kb = meminfo_kb("MemFree"), bytes;

		free_huge_blocks(blocks);
		if (!blocks[1])
			return 0;
		if (free_kb < reserve_kb) {
			fprintf(stderr, "%s: MemFree %lu kB is down to the reserve with %lu free blocks of order >= 9 left\n",
				prog, free_kb, blocks[1]);
			return -ENOMEM;
		}
		/* Big steps while memory is plentiful, 2 MiB ones near the end. */
		bytes = (free_kb - reserve_kb) * 1024 / 4;
		bytes = bytes > 64 * MIB ? 64 * MIB : bytes;
		bytes = bytes < 2 * MIB ? 2 * MIB : bytes & ~(2 * MIB - 1);
		ret = take_chunk(bytes, &next_id);
		if (ret)
			return ret;
		*taken += bytes;
	}
}

/* Step 2: free the pages at odd PFNs; their even buddies stay held. */
static int free_odd_pfns(unsigned long *freed)
{
	int i, ret;

	*freed = 0;
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
			if (!(pfns[p] & 1))
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
		"usage: fragmenter [--unmovable] [--hold] [--ready FILE] [--reserve-mib N]\n"
		"\n"
		"Fragment physical memory: take 4 KiB pages until no free 2 MiB block is\n"
		"left, then free every page at an odd PFN. Needs root.\n"
		"\n"
		"  --unmovable      also scatter unmovable pages (page tables)\n"
		"  --hold           keep the memory until SIGTERM/SIGINT, then verify it\n"
		"  --ready FILE     create FILE once memory is fragmented\n"
		"  --reserve-mib N  never let MemFree drop below N MiB (default 32)\n"
		"\n"
		"Sets vm.compaction_proactiveness to 0 while it runs (compaction would\n"
		"undo the fragmentation) and restores it on exit.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "unmovable", no_argument, NULL, 'u' },
		{ "hold", no_argument, NULL, 'H' },
		{ "ready", required_argument, NULL, 'r' },
		{ "reserve-mib", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *proactive = "/proc/sys/vm/compaction_proactiveness";
	unsigned long reserve_mib = 32, taken, freed, checked, bad;
	unsigned long before[2], after[2];
	long pt_before = 0, pt_after = 0, tables = 0;
	bool unmovable = false, hold = false;
	const char *ready = NULL;
	char old_proactive[32] = "20";
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
			reserve_mib = strtoul(optarg, NULL, 0);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}

	ret = write_sysctl(proactive, "0", old_proactive, sizeof(old_proactive));
	if (ret) {
		fprintf(stderr, "%s: %s: %s\n", prog, proactive, strerror(-ret));
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	free_huge_blocks(before);
	printf("%s: before: MemFree %lu kB, free blocks of order >= 9: %lu (DMA zone: %lu)\n",
	       prog, meminfo_kb("MemFree"), before[1], before[0]);
	ret = take_memory(reserve_mib * 1024, &taken);
	if (!ret)
		ret = free_odd_pfns(&freed);
	if (!ret && unmovable) {
		pt_before = windows_with_flag(KPF_PGTABLE);
		tables = meminfo_kb("MemTotal") / 2048;
		ret = scatter_page_tables(tables);
		pt_after = windows_with_flag(KPF_PGTABLE);
	}
	if (ret) {
		fprintf(stderr, "%s: %s\n", prog, strerror(-ret));
		write_sysctl(proactive, old_proactive, NULL, 0);
		return 1;
	}
	free_huge_blocks(after);
	printf("%s: took %lu MiB in 4 KiB pages, freed %lu MiB at odd PFNs, holding %lu MiB\n",
	       prog, taken / MIB, freed / MIB, (taken - freed) / MIB);
	printf("%s: after: MemFree %lu kB, free blocks of order >= 9: %lu (DMA zone: %lu)\n",
	       prog, meminfo_kb("MemFree"), after[1], after[0]);
	if (unmovable)
		printf("%s: %ld page tables scattered: 2 MiB windows holding a page table %ld -> %ld\n",
		       prog, tables, pt_before, pt_after);
	printf("%s: RESULT taken_mib=%lu held_mib=%lu free_kb=%lu free_order9_before=%lu free_order9_after=%lu dma_zone_order9=%lu pgtables=%ld pgtable_windows_before=%ld pgtable_windows_after=%ld\n",
	       prog, taken / MIB, (taken - freed) / MIB, meminfo_kb("MemFree"),
	       before[1], after[1], after[0], tables, pt_before, pt_after);
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
	write_sysctl(proactive, old_proactive, NULL, 0);
	return bad ? 1 : 0;
}
