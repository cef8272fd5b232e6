/* SPDX-License-Identifier: GPL-2.0 */
/* User memory for the KUnit suites that move pages (user_mem.c). */
#ifndef _CONTIG_KUNIT_USER_MEM_H
#define _CONTIG_KUNIT_USER_MEM_H

#include <linux/mman.h>
#include <linux/types.h>

struct file;
struct folio;
struct kunit;

#define USER_MEM_RW	(PROT_READ | PROT_WRITE)

u64 user_mem_pattern(unsigned long addr, u64 seed);
void user_mem_fill(struct kunit *test, unsigned long addr, size_t len,
		   u64 seed);
void user_mem_check(struct kunit *test, unsigned long addr, size_t len,
		    u64 seed);
void user_mem_check_zero(struct kunit *test, unsigned long addr, size_t len);
void user_mem_stamp(struct kunit *test, unsigned long addr, size_t len,
		    u64 seed);
void user_mem_check_stamps(struct kunit *test, unsigned long addr,
			   size_t len, u64 seed);
unsigned long user_mem_map_anon(struct kunit *test, size_t len,
				unsigned long flags);
struct file *user_mem_shmem_file(struct kunit *test, size_t len, bool dma32);
unsigned long user_mem_map_file(struct kunit *test, struct file *file,
				size_t len, unsigned long flags);
struct folio *user_mem_folio_at(unsigned long addr, unsigned long *pfn);
unsigned long user_mem_map_thp(struct kunit *test);
unsigned long user_mem_map_mthp(struct kunit *test, unsigned int order);
void user_mem_no_thp(struct kunit *test, unsigned long addr, size_t len);
void user_mem_map_interleaved(struct kunit *test, unsigned long *a,
			      unsigned long *b);

#endif
