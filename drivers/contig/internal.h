/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the files of drivers/contig/ share: the policy (policy.c), the
 * statistics (stats.c) and the range checks of contig_dma_prepare()
 * (prepare.c) that the /dev/contig_dma ioctls (ioctl.c) apply too.
 */
#ifndef _DRIVERS_CONTIG_INTERNAL_H
#define _DRIVERS_CONTIG_INTERNAL_H

#include <linux/contig_dma.h>
#include <linux/sysfs.h>

struct mm_struct;

/* policy.c */
enum contig_dma_outcome contig_dma_policy_verdict(enum contig_dma_user user,
						  unsigned long len,
						  bool madvised,
						  bool privileged);
bool contig_dma_policy_unprivileged_exchange(void);
void contig_dma_policy_bounds(unsigned long *max_pages, u64 *max_ns);

/* stats.c */
extern const struct attribute_group contig_dma_stats_group;
void contig_dma_account(const struct contig_dma_request *req,
			const struct contig_dma_result *res);
void contig_dma_account_pinned(const struct contig_dma_result *res);
#if IS_ENABLED(CONFIG_KUNIT)
u64 contig_dma_bytes_contiguous(void);
#endif

/* prepare.c */
int contig_dma_check_vmas(struct mm_struct *mm, unsigned long start,
			  unsigned long len, bool moving, bool *madvised);
bool contig_dma_in_place(const struct contig_layout *layout, u64 key,
			 unsigned long len, unsigned long pgsizes);

#endif /* _DRIVERS_CONTIG_INTERNAL_H */
