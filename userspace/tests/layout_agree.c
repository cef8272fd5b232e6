// SPDX-License-Identifier: GPL-2.0
/*
 * layout_agree: the two halves of the layout inspector must agree.
 *
 * For buffers of several kinds (anonymous 4 KiB, anonymous THP, memfd,
 * sparse, unpopulated), computes the layout from /proc/self/pagemap and
 * asks the kernel (debugfs contig/layout) for the same range at three DMA
 * keys (the VA, a 1 GiB IOVA, and that IOVA plus 4 KiB). Every field must
 * match, and the fields that the test controls (pages, present) must have
 * the values it knows. The kernel must also refuse bad ranges.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/layout.h"
#include "lib/membuf.h"

static int failures;

#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		printf("layout_agree: FAIL: " __VA_ARGS__);		\
		printf("\n");						\
		failures++;						\
	}								\
} while (0)

static void touch(char *p, unsigned long len, unsigned long stride)
{
	unsigned long off;

	for (off = 0; off < len; off += stride)
		p[off] = (char)(off / PAGE_SZ) | 1;
}

static void compare(const char *what, char *p, unsigned long len,
		    unsigned long want_present)
{
	const uint64_t keys[] = { (uintptr_t)p, 1UL << 30, (1UL << 30) + PAGE_SZ };
	unsigned int i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		struct layout u, k;
		char label[96];
		int ret;

		ret = layout_from_pagemap(0, (uintptr_t)p, len, keys[i], &u);
		CHECK(!ret, "%s: pagemap: %s", what, strerror(-ret));
		ret = layout_from_kernel(0, (uintptr_t)p, len, keys[i], &k);
		CHECK(!ret, "%s: kernel: %s", what, strerror(-ret));
		snprintf(label, sizeof(label), "%s key=%#lx pagemap", what,
			 (unsigned long)keys[i]);
		layout_print(stdout, label, &u, false);
		snprintf(label, sizeof(label), "%s key=%#lx kernel ", what,
			 (unsigned long)keys[i]);
		layout_print(stdout, label, &k, false);
		CHECK(layout_equal(&u, &k), "%s key=%#lx: pagemap and kernel disagree",
		      what, (unsigned long)keys[i]);
		CHECK(u.pages == len / PAGE_SZ, "%s: pages %lu, expected %lu",
		      what, u.pages, len / PAGE_SZ);
		CHECK(u.present == want_present, "%s: present %lu, expected %lu",
		      what, u.present, want_present);
		CHECK(u.longest_run <= u.present && u.runs <= u.present,
		      "%s: runs/longest_run exceed present pages", what);
		CHECK(!u.present || u.runs >= 1, "%s: present pages but no run",
		      what);
	}
}

static void bad_ranges(char *p)
{
	struct layout k;
	int ret;

	ret = layout_from_kernel(0, (uintptr_t)p, 0, (uintptr_t)p, &k);
	CHECK(ret == -EINVAL, "zero length: got %s, expected EINVAL",
	      strerror(-ret));
	ret = layout_from_kernel(0, (uintptr_t)p + 1, PAGE_SZ, (uintptr_t)p, &k);
	CHECK(ret == -EINVAL, "unaligned start: got %s, expected EINVAL",
	      strerror(-ret));
	ret = layout_from_kernel(0, (uintptr_t)p, 2 * PAGE_SZ, -PAGE_SZ, &k);
	CHECK(ret == -EOVERFLOW, "wrapping key: got %s, expected EOVERFLOW",
	      strerror(-ret));
	ret = layout_from_kernel(999999, (uintptr_t)p, PAGE_SZ, 0, &k);
	CHECK(ret == -ESRCH, "no such pid: got %s, expected ESRCH",
	      strerror(-ret));
}

int main(int argc, char **argv)
{
	unsigned long mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 64;
	unsigned long len = mib * MIB, n = len / PAGE_SZ;
	char *anon, *thp, *shm, *sparse, *empty;
	int fd;

	anon = membuf_map(len, -1, -1);
	thp = membuf_map(len, -1, -1);
	sparse = membuf_map(16 * MIB, -1, -1);
	empty = membuf_map(8 * MIB, -1, -1);
	fd = memfd_create("layout_agree", 0);
	if (fd < 0 || ftruncate(fd, 16 * MIB)) {
		perror("layout_agree: memfd");
		return 1;
	}
	shm = membuf_map(16 * MIB, fd, -1);
	if (!anon || !thp || !sparse || !empty || !shm) {
		perror("layout_agree: mmap");
		return 1;
	}
	madvise(anon, len, MADV_NOHUGEPAGE);
	madvise(sparse, 16 * MIB, MADV_NOHUGEPAGE);
	madvise(thp, len, MADV_HUGEPAGE);

	touch(anon, len, PAGE_SZ);
	touch(thp, len, PAGE_SZ);
	touch(shm, 16 * MIB, PAGE_SZ);
	touch(sparse, 16 * MIB, 3 * PAGE_SZ);

	compare("anon-4k", anon, len, n);
	compare("anon-thp", thp, len, n);
	compare("memfd", shm, 16 * MIB, 16 * MIB / PAGE_SZ);
	compare("sparse", sparse, 16 * MIB, (16 * MIB / PAGE_SZ + 2) / 3);
	compare("unpopulated", empty, 8 * MIB, 0);
	bad_ranges(anon);

	printf("layout_agree: %s (%d failures)\n", failures ? "FAIL" : "PASS",
	       failures);
	return failures ? 1 : 0;
}
