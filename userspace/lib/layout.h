/* SPDX-License-Identifier: GPL-2.0 */
/*
 * User-space half of the layout inspector: the physical layout of a buffer
 * as a device sees it, computed from /proc/<pid>/pagemap (root only: PFNs
 * are hidden from others). The kernel half is contig_layout_query(); the
 * two must agree field for field, which the layout_agree guest test checks.
 */
#ifndef CONTIG_USER_LAYOUT_H
#define CONTIG_USER_LAYOUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct layout {
	unsigned long pages;
	unsigned long present;
	unsigned long runs;
	unsigned long longest_run;
	unsigned long chunks_2m;
	unsigned long chunks_1g;
};

/* Layout of [start, start + len) of @pid (0: this process) at DMA @key. */
int layout_from_pagemap(pid_t pid, unsigned long start, unsigned long len,
			uint64_t key, struct layout *l);
/* The same from the kernel, through /sys/kernel/debug/contig/layout. */
int layout_from_kernel(pid_t pid, unsigned long start, unsigned long len,
		       uint64_t key, struct layout *l);
bool layout_equal(const struct layout *a, const struct layout *b);
void layout_print(FILE *f, const char *label, const struct layout *l,
		  bool json);

/* PFN behind each page of [start, start + len); 0 for pages not present. */
int pagemap_pfns(pid_t pid, unsigned long start, unsigned long len,
		 uint64_t *pfns);

#endif
