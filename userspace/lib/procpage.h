/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What /proc tells root about a page, for tests that check what moving it
 * kept: the pagemap entry behind a virtual address (frame, soft-dirty,
 * uffd-wp), the frame's kpageflags and kpagecount, a mapping's smaps
 * field, a /proc/vmstat counter. pid 0 is the calling process (also after
 * a fork: the file is opened again in the child).
 */
#ifndef CONTIG_USER_PROCPAGE_H
#define CONTIG_USER_PROCPAGE_H

#include <stdint.h>
#include <sys/types.h>

/* Bits of a pagemap entry (Documentation/admin-guide/mm/pagemap.rst) */
#define PM_PRESENT	(1ULL << 63)
#define PM_UFFD_WP	(1ULL << 57)
#define PM_SOFT_DIRTY	(1ULL << 55)
#define PM_PFN		((1ULL << 55) - 1)

/* Bits of kpageflags (include/uapi/linux/kernel-page-flags.h) */
#define KPF_UNEVICTABLE	18
#define KPF_THP		22
#define KPF_MLOCKED	33

/* The pagemap entry of @addr in @pid; 0 if it cannot be read */
uint64_t proc_pagemap(pid_t pid, const void *addr);
/* The frame behind @addr in @pid; 0 if none is present */
uint64_t proc_pfn(pid_t pid, const void *addr);
/* Whether kpageflags bit @bit is set for frame @pfn */
int proc_kpageflag(uint64_t pfn, int bit);
/* How many times frame @pfn is mapped; ~0 if it cannot be read */
uint64_t proc_kpagecount(uint64_t pfn);
/* smaps @field ("Locked", "Rss", ...) of @pid's mapping at @addr, in kB; -1 */
long proc_smaps_kb(pid_t pid, const void *addr, const char *field);
/* The /proc/vmstat counter @name; 0 if there is none */
unsigned long proc_vmstat(const char *name);

#endif
