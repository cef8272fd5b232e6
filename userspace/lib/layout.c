// SPDX-License-Identifier: GPL-2.0
/*
 * Layout from pagemap. Deliberately a separate, plain implementation of the
 * same definitions as drivers/contig/layout.c (runs of pages contiguous in
 * VA and PA; 2 MiB / 1 GiB chunks of key space inside one run that is
 * congruent with the key), so that comparing the two checks both.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layout.h"
#include "procpage.h"

#define PAGE_SZ		4096UL
#define BATCH		4096

int pagemap_pfns(pid_t pid, unsigned long start, unsigned long len,
		 uint64_t *pfns)
{
	unsigned long n = len / PAGE_SZ, i = 0;
	uint64_t buf[BATCH];
	char path[64];
	int fd;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/pagemap");
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	while (i < n) {
		unsigned long want = n - i < BATCH ? n - i : BATCH, j;
		ssize_t got = pread(fd, buf, want * 8,
				    (off_t)((start / PAGE_SZ + i) * 8));

		if (got <= 0 || got % 8) {
			int err = got < 0 ? -errno : -EIO;

			close(fd);
			return err;
		}
		for (j = 0; j < (unsigned long)got / 8; j++) {
			uint64_t e = buf[j];

			pfns[i + j] = (e & PM_PRESENT) ? (e & PM_PFN) : 0;
		}
		i += got / 8;
	}
	close(fd);
	return 0;
}

static unsigned long chunks_in(uint64_t key, uint64_t bytes, uint64_t pa,
			       uint64_t size)
{
	uint64_t first, last;

	if ((pa - key) % size)
		return 0;
	first = (key + size - 1) / size * size;
	last = (key + bytes) / size * size;
	return last > first ? (last - first) / size : 0;
}

int layout_from_pagemap(pid_t pid, unsigned long start, unsigned long len,
			uint64_t key, struct layout *l)
{
	unsigned long n = len / PAGE_SZ, i, run_start = 0, run_len = 0;
	uint64_t *pfns;
	int ret;

	memset(l, 0, sizeof(*l));
	if (!len || start % PAGE_SZ || len % PAGE_SZ || key % PAGE_SZ)
		return -EINVAL;
	pfns = calloc(n, sizeof(*pfns));
	if (!pfns)
		return -ENOMEM;
	ret = pagemap_pfns(pid, start, len, pfns);
	if (ret) {
		free(pfns);
		return ret;
	}
	l->pages = n;
	/* One extra step past the end closes the last run. */
	for (i = 0; i <= n; i++) {
		bool present = i < n && pfns[i];

		if (present && run_len && pfns[i] == pfns[run_start] + run_len) {
			run_len++;
		} else {
			if (run_len) {
				uint64_t k = key + run_start * PAGE_SZ;
				uint64_t pa = pfns[run_start] * PAGE_SZ;
				uint64_t bytes = run_len * PAGE_SZ;

				l->runs++;
				if (run_len > l->longest_run)
					l->longest_run = run_len;
				l->chunks_2m += chunks_in(k, bytes, pa, 2UL << 20);
				l->chunks_1g += chunks_in(k, bytes, pa, 1UL << 30);
			}
			run_start = i;
			run_len = present ? 1 : 0;
		}
		if (present)
			l->present++;
	}
	free(pfns);
	return 0;
}

int layout_from_kernel(pid_t pid, unsigned long start, unsigned long len,
		       uint64_t key, struct layout *l)
{
	char buf[512], *p;
	ssize_t n;
	int fd, ret = 0;

	memset(l, 0, sizeof(*l));
	fd = open("/sys/kernel/debug/contig/layout", O_RDWR);
	if (fd < 0)
		return -errno;
	n = snprintf(buf, sizeof(buf), "%d 0x%lx 0x%lx 0x%" PRIx64,
		     pid ? (int)pid : (int)getpid(), start, len, key);
	if (write(fd, buf, n) != n) {
		ret = -errno;
		goto out;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0) {
		ret = n < 0 ? -errno : -EIO;
		goto out;
	}
	buf[n] = '\0';
	for (p = strtok(buf, "\n"); p; p = strtok(NULL, "\n")) {
		char name[32];
		unsigned long v;

		if (sscanf(p, "%31s %lu", name, &v) != 2)
			continue;
		if (!strcmp(name, "pages"))
			l->pages = v;
		else if (!strcmp(name, "present"))
			l->present = v;
		else if (!strcmp(name, "runs"))
			l->runs = v;
		else if (!strcmp(name, "longest_run"))
			l->longest_run = v;
		else if (!strcmp(name, "chunks_2m"))
			l->chunks_2m = v;
		else if (!strcmp(name, "chunks_1g"))
			l->chunks_1g = v;
	}
out:
	close(fd);
	return ret;
}

bool layout_equal(const struct layout *a, const struct layout *b)
{
	return a->pages == b->pages && a->present == b->present &&
	       a->runs == b->runs && a->longest_run == b->longest_run &&
	       a->chunks_2m == b->chunks_2m && a->chunks_1g == b->chunks_1g;
}

void layout_print(FILE *f, const char *label, const struct layout *l,
		  bool json)
{
	if (json)
		fprintf(f, "{\"label\": \"%s\", \"pages\": %lu, \"present\": %lu, \"runs\": %lu, \"longest_run\": %lu, \"chunks_2m\": %lu, \"chunks_1g\": %lu}\n",
			label, l->pages, l->present, l->runs, l->longest_run,
			l->chunks_2m, l->chunks_1g);
	else
		fprintf(f, "%s: pages %lu present %lu runs %lu longest_run %lu chunks_2m %lu chunks_1g %lu\n",
			label, l->pages, l->present, l->runs, l->longest_run,
			l->chunks_2m, l->chunks_1g);
}
