/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Patterned memory for programs whose pages the kernel moves behind their
 * back (the fragmenter, the defragmentation test and benchmark): every
 * 8-byte word of a page holds a value derived from the buffer's id, the
 * page's index and the word's index, so that a page that comes back from
 * the wrong frame, at the wrong offset or from another buffer, or with a
 * single byte changed, is caught. Also: how much memory is free, and
 * taking memory until little is.
 */
#ifndef CONTIG_USER_MEMBUF_H
#define CONTIG_USER_MEMBUF_H

#include <stdbool.h>
#include <stdint.h>

#define PAGE_SZ		4096UL
#define WORDS		(PAGE_SZ / 8)
#define MIB		(1UL << 20)

uint64_t membuf_word(uint64_t id, unsigned long page, unsigned long w);
void membuf_fill_page(void *page, uint64_t id, unsigned long index);
bool membuf_page_ok(const void *page, uint64_t id, unsigned long index);

/*
 * @pages pages at @mem, numbered from @first: fill them, or count the
 * corrupt ones (the first few are reported on stderr, named by @what).
 */
void membuf_fill(void *mem, unsigned long pages, uint64_t id,
		 unsigned long first);
unsigned long membuf_check(const void *mem, unsigned long pages, uint64_t id,
			   unsigned long first, const char *what);

/*
 * @len bytes, read-write, at a 2 MiB-aligned address (so THPs can map it
 * and VA and PA can agree mod 2 MiB): private anonymous memory, or @fd
 * shared when @fd >= 0. madvise(@advice) unless it is negative. NULL on
 * failure, with errno set.
 */
void *membuf_map(unsigned long len, int fd, int advice);

/*
 * @bytes of anonymous memory in 4 KiB pages (MADV_NOHUGEPAGE, like the
 * memory of a long-running machine), populated with the pattern of buffer
 * @id from page @first on. NULL on failure, with errno set.
 */
void *membuf_take(unsigned long bytes, uint64_t id, unsigned long first);

/* A field of /proc/meminfo, in KiB; -errno when missing. */
int meminfo_kib(const char *field, unsigned long *kib);
/* MemFree as a percentage of MemTotal; negative if unreadable. */
double mem_free_pct(void);

/*
 * Memory taken, as patterned 4 KiB anonymous pages, until MemFree is
 * below a percentage of MemTotal: the "almost no free memory" state.
 */
struct filler_chunk {
	void *mem;
	unsigned long pages;
};

struct filler {
	uint64_t id;		/* chunk i is patterned with id + i */
	struct filler_chunk *chunks;
	int nr, cap;
	unsigned long bytes;
};

/* Take memory into @f until MemFree < @pct % of MemTotal; 0 or -errno. */
int filler_fill_to(struct filler *f, double pct);
unsigned long filler_check(const struct filler *f, const char *what);

#endif
