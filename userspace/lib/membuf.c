// SPDX-License-Identifier: GPL-2.0
/*
 * Patterned memory, free memory and the filler; see membuf.h.
 *
 * The pattern is cheap on purpose (one multiply a word, the rest per
 * page): the fragmenter writes gigabytes of it under QEMU TCG. It still
 * tells apart any two pages of one buffer (the page index sits above the
 * word bits), any two words of one page, and equal pages of different
 * buffers. Buffer id 0 is the fragmenter's historical pattern.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "membuf.h"

#define HPAGE_SZ	(2UL << 20)

static uint64_t page_base(uint64_t id, unsigned long page)
{
	return ((uint64_t)page << 20) ^ (id * 0xd6e8feb86659fd93ULL) ^ 0xf4a6u;
}

uint64_t membuf_word(uint64_t id, unsigned long page, unsigned long w)
{
	return page_base(id, page) ^ (w * 0x9e3779b97f4a7c15ULL);
}

void membuf_fill_page(void *page, uint64_t id, unsigned long index)
{
	uint64_t base = page_base(id, index), *p = page;
	unsigned long w;

	for (w = 0; w < WORDS; w++)
		p[w] = base ^ (w * 0x9e3779b97f4a7c15ULL);
}

/* Index of the first wrong word of the page, or WORDS if none is. */
static unsigned long first_bad_word(const uint64_t *p, uint64_t id,
				    unsigned long index)
{
	uint64_t base = page_base(id, index);
	unsigned long w;

	for (w = 0; w < WORDS; w++)
		if (p[w] != (base ^ (w * 0x9e3779b97f4a7c15ULL)))
			return w;
	return WORDS;
}

bool membuf_page_ok(const void *page, uint64_t id, unsigned long index)
{
	return first_bad_word(page, id, index) == WORDS;
}

void membuf_fill(void *mem, unsigned long pages, uint64_t id,
		 unsigned long first)
{
	unsigned long i;

	for (i = 0; i < pages; i++)
		membuf_fill_page((char *)mem + i * PAGE_SZ, id, first + i);
}

unsigned long membuf_check(const void *mem, unsigned long pages, uint64_t id,
			   unsigned long first, const char *what)
{
	unsigned long i, w, bad = 0;

	for (i = 0; i < pages; i++) {
		const uint64_t *p = (const uint64_t *)((const char *)mem +
						       i * PAGE_SZ);

		w = first_bad_word(p, id, first + i);
		if (w == WORDS)
			continue;
		if (bad++ < 5)
			fprintf(stderr, "%s: page %lu (id %" PRIu64 ") corrupt at byte %lu: %#" PRIx64 ", expected %#" PRIx64 "\n",
				what, first + i, id, w * 8, p[w],
				membuf_word(id, first + i, w));
	}
	return bad;
}

void *membuf_map(unsigned long len, int fd, int advice)
{
	unsigned long a;
	char *p;

	/* Reserve 2 MiB more than needed, map at the aligned address in it. */
	p = mmap(NULL, len + HPAGE_SZ, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	a = ((unsigned long)p + HPAGE_SZ - 1) & ~(HPAGE_SZ - 1);
	if (fd >= 0)
		p = mmap((void *)a, len, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, fd, 0);
	else
		p = mmap((void *)a, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (advice >= 0 && madvise(p, len, advice))
		return NULL;
	return p;
}

void *membuf_take(unsigned long bytes, uint64_t id, unsigned long first)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, bytes, MADV_NOHUGEPAGE);
	membuf_fill(p, bytes / PAGE_SZ, id, first);
	return p;
}

int meminfo_kib(const char *field, unsigned long *kib)
{
	FILE *f = fopen("/proc/meminfo", "r");
	size_t n = strlen(field);
	char line[256];
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) && line[n] == ':' &&
		    sscanf(line + n + 1, "%lu", kib) == 1) {
			ret = 0;
			break;
		}
	fclose(f);
	return ret;
}

double mem_free_pct(void)
{
	unsigned long total, free;

	if (meminfo_kib("MemTotal", &total) || meminfo_kib("MemFree", &free) ||
	    !total)
		return -1;
	return 100.0 * free / total;
}

static int filler_take(struct filler *f, unsigned long bytes)
{
	struct filler_chunk *c;

	if (f->nr == f->cap) {
		int cap = f->cap ? 2 * f->cap : 64;
		struct filler_chunk *grown;

		grown = realloc(f->chunks, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		f->chunks = grown;
		f->cap = cap;
	}
	c = &f->chunks[f->nr];
	c->mem = membuf_take(bytes, f->id + f->nr, 0);
	if (!c->mem)
		return -errno;
	c->pages = bytes / PAGE_SZ;
	f->nr++;
	f->bytes += bytes;
	return 0;
}

int filler_fill_to(struct filler *f, double pct)
{
	unsigned long total, free, target, step;
	int ret;

	ret = meminfo_kib("MemTotal", &total);
	if (ret)
		return ret;
	target = total * pct / 100;
	for (;;) {
		ret = meminfo_kib("MemFree", &free);
		if (ret)
			return ret;
		if (free < target)
			return 0;
		/*
		 * Half the distance to the target, between 256 KiB and
		 * 16 MiB: fast while far away, without overshooting into
		 * the watermarks (and the OOM killer) near it.
		 */
		step = (free - target) / 2 * 1024;
		step = step > 16 * MIB ? 16 * MIB : step;
		step = step < 256 * 1024 ? 256 * 1024 : step & ~(PAGE_SZ - 1);
		/* Something keeps freeing memory: do not chase it forever. */
		if (f->bytes + step > total * 1024)
			return -ENOMEM;
		ret = filler_take(f, step);
		if (ret)
			return ret;
	}
}

unsigned long filler_check(const struct filler *f, const char *what)
{
	unsigned long bad = 0;
	int i;

	for (i = 0; i < f->nr; i++)
		bad += membuf_check(f->chunks[i].mem, f->chunks[i].pages,
				    f->id + i, 0, what);
	return bad;
}
