// SPDX-License-Identifier: GPL-2.0
/*
 * debugfs knobs that move the pages of a process, for the exchange tests
 * and benchmarks (CONFIG_CONTIG_DMA_DEBUG_MOVE; never in production):
 *
 *   contig/exchange  write "<pid_a> <addr_a> <pid_b> <addr_b> [<count>]"
 *                    exchanges the folio mapped at addr_a + i * size with
 *                    the one at addr_b + i * size, for i < count, in one
 *                    exchange_folio_pairs() call; size is the size of the
 *                    folio at addr_a.
 *   contig/migrate   write "<pid> <addr> [<count>]"
 *                    migrates the count folios from addr to newly
 *                    allocated folios through migrate_pages(), the
 *                    baseline exchange is measured against.
 *
 * A read returns the outcome of the open file's last write as "name value"
 * lines: pairs or folios requested, how many had nothing mapped (absent),
 * and one line per exchange result or migrated/failed. Moving another
 * process's pages takes PTRACE_MODE_ATTACH on it.
 */
#include <linux/debugfs.h>
#include <linux/exchange.h>
#include <linux/gfp.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/ptrace.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "debugfs.h"

/* Enough for 1 GiB of 4 KiB pages per side in one write */
#define MOVE_MAX_COUNT	(256UL * 1024)

static const char *const result_names[NR_EXCHANGE_RESULTS] = {
	[EXCHANGE_DONE]			= "done",
	[EXCHANGE_ORDER_MISMATCH]	= "order_mismatch",
	[EXCHANGE_PINNED]		= "pinned",
	[EXCHANGE_KSM]			= "ksm",
	[EXCHANGE_HUGETLB]		= "hugetlb",
	[EXCHANGE_IO]			= "io",
	[EXCHANGE_NONLRU_MOVABLE]	= "nonlru_movable",
	[EXCHANGE_UNMOVABLE]		= "unmovable",
	[EXCHANGE_DEVICE]		= "device",
	[EXCHANGE_UNSUPPORTED]		= "unsupported",
	[EXCHANGE_UNEVICTABLE]		= "unevictable",
	[EXCHANGE_ZONE]			= "zone",
	[EXCHANGE_SHMEM_MAPPED]		= "shmem_mapped",
	[EXCHANGE_HWPOISON]		= "hwpoison",
	[EXCHANGE_BUSY]			= "busy",
};

/*
 * Take a reference on the folios mapped at @addr, @addr + step, ... where
 * step is the size of the first folio found (or of the folio at @addr when
 * @step is 0 on entry). Absent pages leave NULL.
 */
static int move_lookup(pid_t pid, unsigned long addr, unsigned long count,
		       unsigned long *step, struct folio **folios)
{
	struct mm_struct *mm = contig_debugfs_mm(pid, PTRACE_MODE_ATTACH_FSCREDS);
	unsigned long i;

	if (IS_ERR(mm))
		return PTR_ERR(mm);

	mmap_read_lock(mm);
	for (i = 0; i < count; i++) {
		unsigned long a = addr + i * (*step ? *step : PAGE_SIZE);

		folios[i] = contig_debugfs_folio(mm, a);
		if (folios[i] && !*step)
			*step = folio_size(folios[i]);
	}
	mmap_read_unlock(mm);
	mmput(mm);
	return 0;
}

static void move_put(struct folio **folios, unsigned long count)
{
	unsigned long i;

	for (i = 0; i < count; i++)
		if (folios[i])
			folio_put(folios[i]);
}

static ssize_t exchange_write(struct file *file, const char __user *ubuf,
			      size_t count, loff_t *ppos)
{
	struct contig_result *res = file->private_data;
	unsigned long results[NR_EXCHANGE_RESULTS] = {};
	unsigned long addr_a, addr_b, nr = 1, step = 0, i, n, absent = 0;
	struct folio **fa = NULL, **fb = NULL;
	struct exchange_pair *pairs = NULL;
	int pid_a, pid_b, ret;
	char kbuf[128];
	size_t len;

	ret = contig_request_copy(ubuf, count, kbuf, sizeof(kbuf));
	if (ret)
		return ret;
	if (sscanf(kbuf, "%d %li %d %li %li", &pid_a, &addr_a, &pid_b, &addr_b,
		   &nr) < 4 || !nr || nr > MOVE_MAX_COUNT)
		return -EINVAL;

	fa = kvcalloc(nr, sizeof(*fa), GFP_KERNEL);
	fb = kvcalloc(nr, sizeof(*fb), GFP_KERNEL);
	pairs = kvcalloc(nr, sizeof(*pairs), GFP_KERNEL);
	ret = -ENOMEM;
	if (!fa || !fb || !pairs)
		goto out;

	/* Folios still in a per-CPU LRU batch cannot be isolated */
	lru_add_drain_all();
	ret = move_lookup(pid_a, addr_a, nr, &step, fa);
	if (!ret)
		ret = move_lookup(pid_b, addr_b, nr, &step, fb);
	if (ret)
		goto out_put;

	for (i = 0, n = 0; i < nr; i++) {
		if (!fa[i] || !fb[i]) {
			absent++;
			continue;
		}
		pairs[n].a = fa[i];
		pairs[n].b = fb[i];
		n++;
	}
	exchange_folio_pairs(pairs, n);
	for (i = 0; i < n; i++)
		results[pairs[i].result]++;

	mutex_lock(&res->lock);
	len = scnprintf(res->buf, sizeof(res->buf), "pairs %lu\nabsent %lu\n",
			nr, absent);
	for (i = 0; i < NR_EXCHANGE_RESULTS; i++)
		len += scnprintf(res->buf + len, sizeof(res->buf) - len,
				 "%s %lu\n", result_names[i], results[i]);
	res->len = len;
	*ppos = 0;
	mutex_unlock(&res->lock);
	ret = 0;

out_put:
	move_put(fa, nr);
	move_put(fb, nr);
out:
	kvfree(pairs);
	kvfree(fb);
	kvfree(fa);
	return ret ? ret : count;
}

static struct folio *move_alloc(struct folio *src, unsigned long private)
{
	gfp_t gfp = folio_order(src) ? GFP_TRANSHUGE : GFP_HIGHUSER_MOVABLE;

	return folio_alloc(gfp, folio_order(src));
}

static ssize_t migrate_write(struct file *file, const char __user *ubuf,
			     size_t count, loff_t *ppos)
{
	struct contig_result *res = file->private_data;
	unsigned long addr, nr = 1, step = 0, i, absent = 0, isolated = 0;
	unsigned int migrated = 0;
	struct folio **folios;
	LIST_HEAD(list);
	char kbuf[96];
	int pid, ret;

	ret = contig_request_copy(ubuf, count, kbuf, sizeof(kbuf));
	if (ret)
		return ret;
	if (sscanf(kbuf, "%d %li %li", &pid, &addr, &nr) < 2 || !nr ||
	    nr > MOVE_MAX_COUNT)
		return -EINVAL;

	folios = kvcalloc(nr, sizeof(*folios), GFP_KERNEL);
	if (!folios)
		return -ENOMEM;
	lru_add_drain_all();
	ret = move_lookup(pid, addr, nr, &step, folios);
	if (ret)
		goto out;
	for (i = 0; i < nr; i++) {
		if (!folios[i])
			absent++;
		else if (isolate_folio_to_list(folios[i], &list))
			isolated++;
	}
	move_put(folios, nr);

	if (!list_empty(&list)) {
		migrate_pages(&list, move_alloc, NULL, 0, MIGRATE_SYNC,
			      MR_SYSCALL, &migrated);
		putback_movable_pages(&list);
	}

	mutex_lock(&res->lock);
	res->len = scnprintf(res->buf, sizeof(res->buf),
			     "folios %lu\nabsent %lu\nisolated %lu\nmigrated_pages %u\n",
			     nr, absent, isolated, migrated);
	*ppos = 0;
	mutex_unlock(&res->lock);
out:
	kvfree(folios);
	return ret ? ret : count;
}

static const struct file_operations exchange_fops = {
	.owner		= THIS_MODULE,
	.open		= contig_result_open,
	.release	= contig_result_release,
	.read		= contig_result_read,
	.write		= exchange_write,
};

static const struct file_operations migrate_fops = {
	.owner		= THIS_MODULE,
	.open		= contig_result_open,
	.release	= contig_result_release,
	.read		= contig_result_read,
	.write		= migrate_write,
};

void contig_debugfs_move_init(struct dentry *dir)
{
	debugfs_create_file("exchange", 0600, dir, NULL, &exchange_fops);
	debugfs_create_file("migrate", 0600, dir, NULL, &migrate_fops);
}
