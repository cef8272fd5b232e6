// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/contig_dma: the user-space interface (include/uapi/linux/contig_dma.h,
 * Documentation/admin-guide/mm/contig_dma.rst).
 *
 * QUERY reports the layout of a range; PREPARE runs contig_dma_prepare()
 * on it as an explicit request. Both work on the caller's own memory, or
 * on another process's through a pidfd with the permission migrate_pages(2)
 * asks for: the caller must be able to ptrace-read the target, and must
 * have CAP_SYS_NICE when the target belongs to another user.
 *
 * The device is open to everyone (mode 0666), for what a user may do with
 * its own memory without privilege, no more than MADV_COLLAPSE allows:
 *  - moving: without CAP_SYS_NICE, contig_dma_prepare() moves the caller's
 *    own pages into free frames only, and obeys enabled=never;
 *  - learning: the layout (runs, congruent chunks) tells which pages are
 *    physically adjacent and, with a chosen key, PFN bits: what
 *    /proc/pid/pagemap shows only to CAP_SYS_ADMIN since the Rowhammer
 *    fixes. Without it, QUERY fails with EPERM, and PREPARE needs its range
 *    and key 2 MiB aligned, aims at 2 MiB pages at most (what a THP gives
 *    anyone) and reports no layout, no pages in place and no failure
 *    reasons (those describe other processes' frames), only what it moved;
 *  - cost: without CAP_IPC_LOCK, a PREPARE moves no more pages than the
 *    caller may lock (RLIMIT_MEMLOCK, what it could pin for DMA anyway;
 *    partial beyond), and with no allowance at all it is EPERM, as
 *    mlock(2) is. The policy's max_pages and max_ms bound everyone.
 *
 * Arguments are versioned by their leading size field and copied with
 * copy_struct_from_user(), as iommufd and openat2() do: older callers get
 * the fields they know, newer callers must leave the fields this kernel
 * does not know zero.
 */
#include <linux/capability.h>
#include <linux/contig_dma.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/ptrace.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/security.h>
#include <linux/sizes.h>
#include <linux/uaccess.h>

#include "internal.h"
#include "layout.h"

/* The first version of each argument: everything up to its last input */
#define QUERY_SIZE_V1	offsetofend(struct contig_dma_query, key)
#define PREPARE_SIZE_V1	offsetofend(struct contig_dma_prepare, max_ns)

/* The fail reasons of the ABI are those of the engine, one for one. */
#define SAME_FAIL(why) \
	static_assert((int)CONTIG_DMA_FAIL_##why == (int)VMA_DEFRAG_FAIL_##why)
SAME_FAIL(UNMOVABLE);
SAME_FAIL(PINNED);
SAME_FAIL(BUSY);
SAME_FAIL(UNSUPPORTED);
SAME_FAIL(NOMEM);
SAME_FAIL(MIGRATE);
SAME_FAIL(SPLIT);
SAME_FAIL(NO_WINDOW);
static_assert((int)NR_VMA_DEFRAG_FAIL <= (int)CONTIG_DMA_FAIL_NR);

/* So are the outcomes an explicit request can have */
static_assert((int)CONTIG_DMA_OUTCOME_PREPARED == (int)CONTIG_DMA_PREPARED);
static_assert((int)CONTIG_DMA_OUTCOME_IN_PLACE == (int)CONTIG_DMA_IN_PLACE);
static_assert((int)CONTIG_DMA_OUTCOME_EMPTY == (int)CONTIG_DMA_SKIP_EMPTY);
static_assert((int)CONTIG_DMA_OUTCOME_POLICY == (int)CONTIG_DMA_SKIP_POLICY);

/*
 * Copy in an argument of @ksize bytes whose user copy says it has *@usize;
 * at least @min, at most a page (as openat2() and clone3() bound theirs).
 * The size is read once: the copy goes by that value.
 */
static int copy_arg(void *karg, size_t ksize, size_t min,
		    const void __user *uarg, u32 *usize)
{
	if (get_user(*usize, (const u32 __user *)uarg))
		return -EFAULT;
	if (*usize > PAGE_SIZE)
		return -E2BIG;
	if (*usize < min)
		return -EINVAL;
	return copy_struct_from_user(karg, ksize, uarg, *usize);
}

/* Copy an argument back, as much as the caller's version has room for. */
static int copy_arg_out(void __user *uarg, const void *karg, size_t ksize,
			u32 usize)
{
	return copy_to_user(uarg, karg, min_t(size_t, ksize, usize)) ?
	       -EFAULT : 0;
}

/* May current move @task's pages? The rules of migrate_pages(2). */
static int may_move_pages_of(struct task_struct *task)
{
	const struct cred *cred = current_cred(), *tcred;
	bool same_user;

	if (!ptrace_may_access(task, PTRACE_MODE_READ_REALCREDS))
		return -EPERM;
	rcu_read_lock();
	tcred = __task_cred(task);
	same_user = uid_eq(cred->euid, tcred->suid) ||
		    uid_eq(cred->euid, tcred->uid) ||
		    uid_eq(cred->uid, tcred->suid) ||
		    uid_eq(cred->uid, tcred->uid);
	rcu_read_unlock();
	if (!same_user && !capable(CAP_SYS_NICE))
		return -EPERM;
	return security_task_movememory(task);
}

/*
 * The mm an argument names, with a reference (mmput() it): the caller's,
 * or that of the process behind @pidfd when @flags has CONTIG_DMA_F_PIDFD.
 */
static struct mm_struct *target_mm(u32 flags, s32 pidfd)
{
	struct task_struct *task;
	struct mm_struct *mm;
	unsigned int f_flags;
	int ret;

	if (!(flags & CONTIG_DMA_F_PIDFD)) {
		if (pidfd)
			return ERR_PTR(-EINVAL);
		mmget(current->mm);
		return current->mm;
	}
	task = pidfd_get_task(pidfd, &f_flags);
	if (IS_ERR(task))
		return ERR_CAST(task);
	ret = may_move_pages_of(task);
	mm = ret ? ERR_PTR(ret) : get_task_mm(task);
	put_task_struct(task);
	return mm ?: ERR_PTR(-ESRCH);
}

static void layout_to_user(struct contig_dma_layout *u,
			   const struct contig_layout *k)
{
	u->pages = k->pages;
	u->present = k->present;
	u->runs = k->runs;
	u->longest_run = k->longest_run;
	u->chunks_2m = k->chunks_2m;
	u->chunks_1g = k->chunks_1g;
}

static int ioctl_query(void __user *uarg)
{
	struct contig_dma_query arg;
	struct contig_layout layout;
	struct mm_struct *mm;
	bool madvised;
	u32 usize;
	int ret;

	ret = copy_arg(&arg, sizeof(arg), QUERY_SIZE_V1, uarg, &usize);
	if (ret)
		return ret;
	/* Physical adjacency and PFN bits: pagemap's rule */
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if ((arg.flags & ~CONTIG_DMA_F_PIDFD) || arg.__reserved)
		return -EINVAL;
	ret = contig_layout_check_range(arg.start, arg.length, arg.key);
	if (ret)
		return ret;
	mm = target_mm(arg.flags, arg.pidfd);
	if (IS_ERR(mm))
		return PTR_ERR(mm);

	if (mmap_read_lock_killable(mm)) {
		ret = -EINTR;
		goto out;
	}
	ret = contig_dma_check_vmas(mm, arg.start, arg.length, false,
				    &madvised);
	mmap_read_unlock(mm);
	if (!ret)
		ret = contig_layout_query(mm, arg.start, arg.length, arg.key,
					  &layout);
	if (!ret) {
		layout_to_user(&arg.layout, &layout);
		ret = copy_arg_out(uarg, &arg, sizeof(arg), usize);
	}
out:
	mmput(mm);
	return ret;
}

static void moves_to_user(struct contig_dma_moves *u,
			  const struct vma_defrag_stats *k)
{
	int i;

	u->in_place = k->in_place;
	u->migrated = k->migrated;
	u->exchanged = k->exchanged;
	u->thp_moved = k->thp_moved;
	u->thp_split = k->thp_split;
	for (i = 0; i < NR_VMA_DEFRAG_FAIL; i++)
		u->failed[i] = k->failed[i];
	u->segments = k->segments;
	u->reanchors = k->reanchors;
	u->partial = k->partial;
	u->ns = k->ns;
}

/* What a caller without CAP_SYS_ADMIN does not learn (see the top) */
static void hide_layout(struct contig_dma_prepare *arg)
{
	struct contig_dma_layout *l[] = { &arg->before, &arg->after };
	int i;

	for (i = 0; i < ARRAY_SIZE(l); i++) {
		l[i]->runs = 0;
		l[i]->longest_run = 0;
		l[i]->chunks_2m = 0;
		l[i]->chunks_1g = 0;
	}
	arg->moves.in_place = 0;
	memset(arg->moves.failed, 0, sizeof(arg->moves.failed));
	arg->moves.segments = 0;
	arg->moves.reanchors = 0;
}

static int ioctl_prepare(void __user *uarg)
{
	struct contig_dma_result res;
	struct contig_dma_request req;
	struct contig_dma_prepare arg;
	unsigned long pgsizes, max_pages, lock_limit;
	struct mm_struct *mm;
	bool sees_layout;
	u32 usize;
	int ret;

	ret = copy_arg(&arg, sizeof(arg), PREPARE_SIZE_V1, uarg, &usize);
	if (ret)
		return ret;
	if ((arg.flags & ~(CONTIG_DMA_F_PIDFD | CONTIG_DMA_F_EXCHANGE_ONLY |
			   CONTIG_DMA_F_POPULATE | CONTIG_DMA_F_PIN_WRITE)) ||
	    arg.__reserved)
		return -EINVAL;
	/* Checked here too: a bad range must not depend on the pidfd */
	ret = contig_layout_check_range(arg.start, arg.length, arg.key);
	if (ret)
		return ret;
	if (arg.pgsize_bitmap && !(arg.pgsize_bitmap & PAGE_SIZE))
		return -EINVAL;
	sees_layout = ns_capable_noaudit(&init_user_ns, CAP_SYS_ADMIN);
	pgsizes = arg.pgsize_bitmap;
	if (!sees_layout) {
		/* 2 MiB chunks, as a THP gives anyone; no more */
		if (!IS_ALIGNED(arg.start | arg.length | arg.key, SZ_2M))
			return -EINVAL;
		pgsizes = (pgsizes ?: CONTIG_DMA_PGSIZES_DEFAULT | PAGE_SIZE) &
			  (SZ_2M | (SZ_2M - 1));
	}
	max_pages = arg.max_pages;
	if (!ns_capable_noaudit(&init_user_ns, CAP_IPC_LOCK)) {
		/* No more pages than the caller may lock: mlock(2)'s rules */
		lock_limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
		if (!lock_limit)
			return -EPERM;
		max_pages = min_not_zero(max_pages, lock_limit);
	}

	req = (struct contig_dma_request) {
		.start = arg.start,
		.len = arg.length,
		.key = arg.key,
		.pgsize_bitmap = pgsizes,
		.user = CONTIG_DMA_USER_EXPLICIT,
		.flags = (arg.flags & CONTIG_DMA_F_EXCHANGE_ONLY ?
			  CONTIG_DMA_EXCHANGE_ONLY : 0) |
			 (arg.flags & CONTIG_DMA_F_POPULATE ?
			  CONTIG_DMA_POPULATE : 0) |
			 (arg.flags & CONTIG_DMA_F_PIN_WRITE ?
			  CONTIG_DMA_PIN_WRITE : 0),
		.max_pages = max_pages,
		.max_ns = arg.max_ns,
	};
	mm = target_mm(arg.flags, arg.pidfd);
	if (IS_ERR(mm))
		return PTR_ERR(mm);
	/*
	 * Outputs that cannot be written fail the request before any page
	 * moves; only an munmap() or mprotect() racing with it can still
	 * make the last copy fail after the work.
	 */
	if (copy_arg_out(uarg, &arg, sizeof(arg), usize)) {
		mmput(mm);
		return -EFAULT;
	}
	ret = contig_dma_prepare(mm, &req, &res);
	mmput(mm);
	/* After a fatal signal the outputs still say what moved */
	if (ret && ret != -EINTR)
		return ret;
	moves_to_user(&arg.moves, &res.moves);
	arg.moves.outcome = res.outcome;
	layout_to_user(&arg.before, &res.before);
	layout_to_user(&arg.after, &res.after);
	if (!sees_layout)
		hide_layout(&arg);
	arg.times = (struct contig_dma_times){
		.plan_ns = res.moves.plan_ns,
		.index_ns = res.moves.index_ns,
		.search_ns = res.moves.search_ns,
		.index_blocks = res.moves.index_blocks,
	};
	arg.populated = res.populated;
	if (copy_arg_out(uarg, &arg, sizeof(arg), usize))
		ret = -EFAULT;
	return ret;
}

static long contig_dma_ioctl(struct file *file, unsigned int cmd,
			     unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case CONTIG_DMA_GET_API_VERSION:
		return CONTIG_DMA_API_VERSION;
	case CONTIG_DMA_QUERY:
		return ioctl_query(uarg);
	case CONTIG_DMA_PREPARE:
		return ioctl_prepare(uarg);
	}
	return -ENOTTY;
}

static const struct file_operations contig_dma_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= contig_dma_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice contig_dma_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "contig_dma",
	.fops	= &contig_dma_fops,
	.mode	= 0666,
};

static int __init contig_dma_ioctl_init(void)
{
	return misc_register(&contig_dma_misc);
}
device_initcall(contig_dma_ioctl_init);
