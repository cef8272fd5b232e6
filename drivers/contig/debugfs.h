/* SPDX-License-Identifier: GPL-2.0 */
/* The files of /sys/kernel/debug/contig/, one source file per group. */
#ifndef _DRIVERS_CONTIG_DEBUGFS_H
#define _DRIVERS_CONTIG_DEBUGFS_H

struct dentry;

#ifdef CONFIG_CONTIG_DMA_DEBUG_MOVE
void contig_debugfs_move_init(struct dentry *dir);
#else
static inline void contig_debugfs_move_init(struct dentry *dir) {}
#endif

#endif /* _DRIVERS_CONTIG_DEBUGFS_H */
