// SPDX-License-Identifier: GPL-2.0
/*
 * fragmenter: make physical memory fragmented, reproducibly, and hold it so.
 *
 * 1. Take anonymous 4 KiB pages (MADV_NOHUGEPAGE), each filled with a
 *    pattern derived from its index, until /proc/buddyinfo shows no free
 *    block of order >= 9 in any zone.
 * 2. Free every page whose PFN is odd (MADV_DONTNEED). Its buddy, the even
 *    PFN next to it, stays held, so no freed page can merge: about half of
 *    memory is free again, in order-0 pieces (and, in one 2 MiB window of
 *    16, order-3 pieces that keep small kernel allocations working; see
 *    frees_in_step2()).
 * 3. Take, as THPs, the few free 2 MiB blocks that form again when the
 *    per-CPU free lists drain into the buddy lists.
 * 4. With --unmovable, also scatter unmovable pages (before step 3, whose
 *    wait then also covers what pinning freed): long-term pin one
 *    held page in every 2 MiB window (io_uring fixed buffers, pinned with
 *    FOLL_LONGTERM like RDMA and VFIO pins), except in one physical
 *    128 MiB stretch of four, which stays free of pins. Left to the
 *    allocator, other unmovable kernel pages (page tables, slabs) pile up
 *    in the few pageblocks it already keeps for them, by design; pins put
 *    one into nearly every window, deterministically. The clean stretches
 *    are what a real machine has too: regions where nothing pinned landed,
 *    where a contiguity engine can build runs by moving movable pages out.
 *    Pinning every window would leave nothing contiguous possible at all.
 *
 * The kernel keeps its watermark reserve (vm.min_free_kbytes) and the
 * lower zones' protection (vm.lowmem_reserve_ratio) free, and since the
 * allocator splits the smallest free block first, those reserves end up
 * being exactly the last high-order blocks: step 1 lowers them while it
 * takes memory, in steps that shrink as free memory does, and they are
 * restored after step 3, once half of memory is free again. kcompactd's proactive
 * compaction, and the compaction that kswapd starts after a watermark
 * boost (triggered when an unmovable allocation steals from a movable
 * pageblock), would undo step 2 within seconds, so
 * vm.compaction_proactiveness and vm.watermark_boost_factor are 0 while
 * the fragmenter runs (restored when it exits).
 *
 * The fragmenter then holds its memory until SIGTERM/SIGINT (--hold), and
 * before it exits checks every byte of every page it still holds: a page
 * that something else moved must still read back exactly what was written.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lib/layout.h"
#include "lib/membuf.h"

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

	if (nr_chunks == MAX_CHUNKS)
		return -ENOSPC;
	c->mem = membuf_take(bytes, 0, *next_id);
	if (!c->mem)
		return -errno;
	c->pages = bytes / PAGE_SZ;
	c->first_id = *next_id;
	c->held = malloc(c->pages);
	if (!c->held)
		return -ENOMEM;
	memset(c->held, 1, c->pages);
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
 * Which held pages step 2 frees. In most 2 MiB windows, every odd PFN: the
 * even buddy stays held, so nothing merges. In one window of 16, every
 * page whose PFN has bit 3 set instead: free order-3 blocks whose buddies
 * stay held. With nothing but order-0 pages free, every order-1..3 kernel
 * allocation (slabs, pipe buffers, socket buffers) would depend on direct
 * compaction, which in practice ends in the OOM killer; these blocks are
 * its reserve. User pages come from order-0 blocks first, so buffers are
 * still built from scattered 4 KiB pages.
 */
static bool is_reserve_window(uint64_t pfn)
{
	return (pfn >> 9) % 16 == 0;
}

static bool frees_in_step2(uint64_t pfn)
{
	return is_reserve_window(pfn) ? pfn & 8 : pfn & 1;
}

/* Step 2: free the held pages @want picks. */
static int free_pfns(bool (*want)(uint64_t pfn), unsigned long *freed)
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
			if (!c->held[p])
				continue;
			if (!pfns[p]) {
				free(pfns);
				fprintf(stderr, "%s: page %lu of chunk %d is not present (no PFN: not root?)\n",
					prog, p, i);
				return -EPERM;
			}
			if (!want(pfns[p]))
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

/*
 * Step 3: pages that sat in the per-CPU free lists while memory was taken
 * reach the buddy lists a few seconds later (pcp high decay) and can merge
 * into free 2 MiB blocks again. Wait for that, and take each such block
 * whole as a THP: the fault path for a VMA without MADV_HUGEPAGE uses a
 * light allocation that takes a free block as it is and never compacts.
 * Done when two scans a second apart find no free block.
 */
static int settle(unsigned long *thps)
{
	unsigned long blocks, dma_blocks, free;
	int quiet = 0, rounds;

	*thps = 0;
	for (rounds = 0; rounds < 60 && quiet < 2; rounds++) {
		sleep(1);
		buddy_scan(&blocks, &dma_blocks, &free);
		if (!blocks) {
			quiet++;
			continue;
		}
		quiet = 0;
		while (blocks--) {
			char *p = mmap(NULL, 4 * MIB, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			char *huge;

			if (p == MAP_FAILED)
				return -errno;
			huge = (char *)(((unsigned long)p + 2 * MIB - 1) &
					~(2 * MIB - 1));
			*huge = 1;
			(*thps)++;
		}
	}
	return quiet >= 2 ? 0 : -EAGAIN;
}

/*
 * The 128 MiB physical stretches (PFN bits 15 and up) step 4 leaves free
 * of pins: one in four. Large enough for an engine to anchor a 128 MiB
 * run in, rare enough that it has to search for them.
 */
static bool is_clean_stretch(uint64_t pfn)
{
	return ((pfn >> 15) & 3) == 3;
}

/*
 * Step 4 (--unmovable): long-term pin one held page in every 2 MiB window
 * that holds any, outside the clean stretches, by registering them as
 * io_uring fixed buffers (FOLL_LONGTERM, as RDMA and VFIO pin). A pinned
 * page cannot be migrated or exchanged: nearly every window now contains
 * an unmovable page, which is what a contiguity engine must find its way
 * around. The pins last until the fragmenter exits. @clean counts the
 * windows with held pages that were left unpinned on purpose.
 */
static int pin_scattered(unsigned long *windows, unsigned long *clean)
{
	struct io_uring_params params = { 0 };
	unsigned long nr_windows = 0, n = 0, p;
	struct iovec *iov = NULL;
	uint8_t *seen = NULL;
	int i, fd, ret = 0;

	*windows = *clean = 0;
	for (i = 0; i < nr_chunks; i++)
		n += chunks[i].pages;
	iov = calloc(n, sizeof(*iov));
	if (!iov)
		return -ENOMEM;
	n = 0;
	for (i = 0; !ret && i < nr_chunks; i++) {
		uint64_t *pfns = calloc(chunks[i].pages, sizeof(*pfns));

		ret = pfns ? pagemap_pfns(0, (unsigned long)chunks[i].mem,
					  chunks[i].pages * PAGE_SZ, pfns) : -ENOMEM;
		for (p = 0; !ret && p < chunks[i].pages; p++) {
			unsigned long w = pfns[p] / 512;

			if (!chunks[i].held[p] || !pfns[p])
				continue;
			if (w >= nr_windows) {
				uint8_t *grown = realloc(seen, w + 1);

				if (!grown) {
					ret = -ENOMEM;
					break;
				}
				memset(grown + nr_windows, 0, w + 1 - nr_windows);
				seen = grown;
				nr_windows = w + 1;
			}
			if (seen[w])
				continue;
			seen[w] = 1;
			if (is_clean_stretch(pfns[p])) {
				(*clean)++;
				continue;
			}
			iov[n].iov_base = chunks[i].mem + p * WORDS;
			iov[n].iov_len = PAGE_SZ;
			n++;
		}
		free(pfns);
	}
	free(seen);
	if (ret)
		goto out;

	fd = syscall(__NR_io_uring_setup, 1, &params);
	if (fd < 0) {
		ret = -errno;
		fprintf(stderr, "%s: io_uring_setup: %s\n", prog, strerror(errno));
		goto out;
	}
	/* At most IORING_MAX_REG_BUFFERS (16384): one per window is far less. */
	if (syscall(__NR_io_uring_register, fd, IORING_REGISTER_BUFFERS, iov,
		    n) < 0) {
		ret = -errno;
		fprintf(stderr, "%s: pinning %lu pages: %s\n", prog, n,
			strerror(errno));
		close(fd);
		goto out;
	}
	*windows = n;	/* one pinned page in each */
out:
	free(iov);
	return ret;
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
			if (!membuf_page_ok(chunks[i].mem + p * WORDS, 0,
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
		"  --unmovable      also long-term pin one page in every 2 MiB window,\n"
		"                   except in one 128 MiB physical stretch of four\n"
		"                   ((pfn >> 15) & 3 == 3), left clean\n"
		"  --hold           keep the memory until SIGTERM/SIGINT, then verify it\n"
		"  --ready FILE     write \"ready\" to FILE once memory is fragmented; FILE\n"
		"                   is opened at start, so a reader of a FIFO sees end of\n"
		"                   file instead if the fragmenter dies first\n"
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
	unsigned long pinned_windows = 0, clean_windows = 0;
	unsigned long thps = 0;
	bool unmovable = false, hold = false;
	const char *ready = NULL;
	int ready_fd = -1;
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
	/*
	 * Open the readiness file now: waiting on a FIFO needs no polling
	 * (forking a poller at the edge of memory would invite the OOM
	 * killer), and a reader sees end of file if we die.
	 */
	if (ready) {
		ready_fd = open(ready, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (ready_fd < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, ready,
				strerror(errno));
			UNTUNE(held_tunables);
			return 1;
		}
	}

	buddy_scan(&before, &dma_before, &free_before);
	printf("%s: before: %lu kB free, free blocks of order >= 9: %lu (DMA zone: %lu)\n",
	       prog, free_before >> 10, before, dma_before);
	ret = TUNE(take_tunables);
	if (!ret)
		ret = take_memory(reserve_kib * 1024, &taken);
	if (!ret)
		ret = free_pfns(frees_in_step2, &freed);
	/*
	 * Pin before settling: registering the fixed buffers allocates and
	 * frees kernel memory, which once let a 2 MiB block form again after
	 * settle() had finished. Settle with the reserves still lowered: a
	 * block that re-forms in a lower zone (DMA) is out of a THP's reach
	 * once lowmem_reserve_ratio protects that zone again, and settle()
	 * would wait for it in vain.
	 */
	if (!ret && unmovable)
		ret = pin_scattered(&pinned_windows, &clean_windows);
	if (!ret)
		ret = settle(&thps);
	UNTUNE(take_tunables);
	if (ret) {
		fprintf(stderr, "%s: %s\n", prog, strerror(-ret));
		UNTUNE(held_tunables);
		return 1;
	}
	buddy_scan(&after, &dma_after, &free_after);
	printf("%s: took %lu MiB in 4 KiB pages, freed %lu MiB at odd PFNs, holding %lu MiB\n",
	       prog, taken / MIB, freed / MIB, (taken - freed) / MIB);
	printf("%s: %lu free 2 MiB blocks formed again from per-CPU lists; taken as THPs\n",
	       prog, thps);
	printf("%s: after: %lu kB free, free blocks of order >= 9: %lu (DMA zone: %lu)\n",
	       prog, free_after >> 10, after, dma_after);
	if (unmovable)
		printf("%s: long-term pinned one page in each of %lu 2 MiB windows; left %lu windows in clean 128 MiB stretches unpinned\n",
		       prog, pinned_windows, clean_windows);
	printf("%s: RESULT taken_mib=%lu held_mib=%lu free_kb=%lu free_order9_before=%lu free_order9_after=%lu pinned_windows=%lu clean_windows=%lu thps=%lu\n",
	       prog, taken / MIB, (taken - freed) / MIB, free_after >> 10,
	       before, after, pinned_windows, clean_windows, thps);
	fflush(stdout);

	if (ready_fd >= 0 && write(ready_fd, "ready\n", 6) != 6)
		fprintf(stderr, "%s: %s: %s\n", prog, ready, strerror(errno));
	while (hold && !stop)
		pause();

	bad = verify_held(&checked);
	printf("%s: VERIFY pages=%lu corrupt=%lu\n", prog, checked, bad);
	UNTUNE(held_tunables);
	return bad ? 1 : 0;
}
