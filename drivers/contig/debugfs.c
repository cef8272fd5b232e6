// SPDX-License-Identifier: GPL-2.0
/*
 * debugfs interface of the layout inspector, for tests and benchmarks:
 *
 *   # exec 3<>/sys/kernel/debug/contig/layout
 *   # echo "<pid> <start> <len> [<key>]" >&3     (numbers in C notation)
 *   # cat <&3
 *
 * A write runs contig_layout_query() on the target's mm, keeps the result
 * with the open file and rewinds it; reads then return the result as
 * "name value" lines, up to end of file.
 * Querying another process takes the same permission as reading its
 * /proc/<pid>/pagemap (PTRACE_MODE_READ), on top of debugfs being
 * root-only. The stable user ABI is the /dev/contig_dma ioctl; this file
 * is debugging aid and may change.
 *
 * contig/windows, read-only, says how many naturally aligned 2 MiB and
 * 1 GiB windows the anchor search could use right now (vma_defrag_windows()):
 *
 *   # cat /sys/kernel/debug/contig/windows
 *   size windows clean fewest_blocked
 *   2M 2040 1913 0
 *   1G 3 0 16417
 */
#include <linux/contig_dma.h>
#include <linux/debugfs.h>
#include <linux/init.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/pagewalk.h>
#include <linux/ptrace.h>
#include <linux/sched/mm.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vma_defrag.h>

#include "debugfs.h"

int contig_result_open(struct inode *inode, struct file *file)
{
	struct contig_result *res = kzalloc(sizeof(*res), GFP_KERNEL);

	if (!res)
		return -ENOMEM;
	mutex_init(&res->lock);
	file->private_data = res;
	return nonseekable_open(inode, file);
}

int contig_result_release(struct inode *inode, struct file *file)
{
	kfree(file->private_data);
	return 0;
}

ssize_t contig_result_read(struct file *file, char __user *ubuf, size_t count,
			   loff_t *ppos)
{
	struct contig_result *res = file->private_data;
	ssize_t ret;

	mutex_lock(&res->lock);
	ret = simple_read_from_buffer(ubuf, count, ppos, res->buf, res->len);
	mutex_unlock(&res->lock);
	return ret;
}

int contig_request_copy(const char __user *ubuf, size_t count, char *kbuf,
			size_t size)
{
	if (count >= size)
		return -EINVAL;
	if (copy_from_user(kbuf, ubuf, count))
		return -EFAULT;
	kbuf[count] = '\0';
	return 0;
}

struct mm_struct *contig_debugfs_mm(pid_t nr, unsigned int mode)
{
	struct task_struct *task;
	struct mm_struct *mm;

	task = find_get_task_by_vpid(nr);
	if (!task)
		return ERR_PTR(-ESRCH);
	mm = mm_access(task, mode);
	put_task_struct(task);
	return mm ? mm : ERR_PTR(-ESRCH);
}

struct folio *contig_debugfs_folio(struct mm_struct *mm, unsigned long va)
{
	struct vm_area_struct *vma = vma_lookup(mm, va);
	struct folio_walk fw;
	struct folio *folio;

	mmap_assert_locked(mm);
	if (!vma)
		return NULL;
	folio = folio_walk_start(&fw, vma, va, 0);
	if (folio) {
		folio_get(folio);
		folio_walk_end(&fw, vma);
	}
	return folio;
}

static int query_pid(pid_t nr, unsigned long start, unsigned long len,
		     u64 key, struct contig_layout *layout)
{
	struct mm_struct *mm = contig_debugfs_mm(nr, PTRACE_MODE_READ_FSCREDS);
	int ret;

	if (IS_ERR(mm))
		return PTR_ERR(mm);
	ret = contig_layout_query(mm, start, len, key, layout);
	mmput(mm);
	return ret;
}

static ssize_t layout_write(struct file *file, const char __user *ubuf,
			    size_t count, loff_t *ppos)
{
	struct contig_result *res = file->private_data;
	struct contig_layout l;
	unsigned long start, len;
	unsigned long long key;
	char kbuf[96];
	int pid, n, ret;

	ret = contig_request_copy(ubuf, count, kbuf, sizeof(kbuf));
	if (ret)
		return ret;

	n = sscanf(kbuf, "%d %li %li %lli", &pid, &start, &len, &key);
	if (n < 3)
		return -EINVAL;
	if (n == 3)
		key = start;

	ret = query_pid(pid, start, len, key, &l);
	if (ret)
		return ret;

	mutex_lock(&res->lock);
	res->len = scnprintf(res->buf, sizeof(res->buf),
			     "pages %lu\npresent %lu\nruns %lu\nlongest_run %lu\nchunks_2m %lu\nchunks_1g %lu\n",
			     l.pages, l.present, l.runs, l.longest_run,
			     l.chunks_2m, l.chunks_1g);
	*ppos = 0;
	mutex_unlock(&res->lock);
	return count;
}

static const struct file_operations layout_fops = {
	.owner		= THIS_MODULE,
	.open		= contig_result_open,
	.release	= contig_result_release,
	.read		= contig_result_read,
	.write		= layout_write,
};

static int windows_show(struct seq_file *m, void *v)
{
	static const unsigned int orders[] = { PMD_ORDER, PUD_ORDER };
	static const char * const names[] = { "2M", "1G" };
	struct vma_defrag_window_count res[ARRAY_SIZE(orders)];
	unsigned int i;
	int ret;

	ret = vma_defrag_windows(orders, ARRAY_SIZE(orders), res);
	if (ret)
		return ret;
	seq_puts(m, "size windows clean fewest_blocked\n");
	for (i = 0; i < ARRAY_SIZE(orders); i++)
		seq_printf(m, "%s %lu %lu %lu\n", names[i], res[i].windows,
			   res[i].clean, res[i].fewest_blocked);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(windows);

static int __init contig_debugfs_init(void)
{
	struct dentry *dir = debugfs_create_dir("contig", NULL);

	debugfs_create_file("layout", 0600, dir, NULL, &layout_fops);
	debugfs_create_file("windows", 0400, dir, NULL, &windows_fops);
	contig_debugfs_move_init(dir);
	contig_debugfs_defrag_init(dir);
	return 0;
}
late_initcall(contig_debugfs_init);
