/* SPDX-License-Identifier: GPL-2.0 */
/* The files of /sys/kernel/debug/contig/, one source file per group. */
#ifndef _DRIVERS_CONTIG_DEBUGFS_H
#define _DRIVERS_CONTIG_DEBUGFS_H

#include <linux/fs.h>
#include <linux/mutex.h>

struct dentry;
struct folio;
struct mm_struct;

/*
 * A debugfs file whose write runs a request and whose reads return the
 * request's outcome as text, per open file: the files share open, release
 * and read.
 */
struct contig_result {
	struct mutex lock;	/* serialises write and read on one open file */
	char buf[1024];
	size_t len;
};

int contig_result_open(struct inode *inode, struct file *file);
int contig_result_release(struct inode *inode, struct file *file);
ssize_t contig_result_read(struct file *file, char __user *ubuf, size_t count,
			   loff_t *ppos);

/* A write's request as a NUL-terminated string; -EINVAL if too long */
int contig_request_copy(const char __user *ubuf, size_t count, char *kbuf,
			size_t size);

/* The mm of process @nr, if the caller may access it in @mode (ptrace) */
struct mm_struct *contig_debugfs_mm(pid_t nr, unsigned int mode);

/* The folio mapped at @va, with a reference, or NULL; mmap_lock held */
struct folio *contig_debugfs_folio(struct mm_struct *mm, unsigned long va);

#ifdef CONFIG_CONTIG_DMA_DEBUG_MOVE
void contig_debugfs_move_init(struct dentry *dir);
void contig_debugfs_defrag_init(struct dentry *dir);
#else
static inline void contig_debugfs_move_init(struct dentry *dir) {}
static inline void contig_debugfs_defrag_init(struct dentry *dir) {}
#endif

#endif /* _DRIVERS_CONTIG_DEBUGFS_H */
