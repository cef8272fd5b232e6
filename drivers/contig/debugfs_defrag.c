// SPDX-License-Identifier: GPL-2.0
/*
 * debugfs knobs that make a process's range contiguous, for the range
 * defragmentation tests and benchmarks (CONFIG_CONTIG_DMA_DEBUG_MOVE; never
 * in production, where drivers call the engine at registration time):
 *
 *   contig/defrag        write "<pid> <start> <len> [<key> [<pgsizes>
 *                        [<flags> [<max_pages>]]]]"
 *                        runs vma_defrag_range() on the range; key
 *                        defaults to start, pgsizes to 4K|2M|1G, flags
 *                        (VMA_DEFRAG_*) and max_pages to 0.
 *   contig/alloc_contig  write "<pid> <start> <len> [<key>]"
 *                        the stock alternative: alloc_contig_pages() a
 *                        block as large as the range, and migrate each
 *                        page into the matching frame of the block. It
 *                        needs as much free memory as the range is long.
 *
 * A read returns the outcome of the open file's last write as "name value"
 * lines: what was moved and what failed, the time taken, and the layout of
 * the range (contig_layout_query(), at the key) before and after. Both take
 * PTRACE_MODE_ATTACH on the target, as moving its pages does.
 */
#include <linux/contig_dma.h>
#include <linux/debugfs.h>
#include <linux/gfp.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/ptrace.h>
#include <linux/sched/mm.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/swap.h>
#include <linux/vma_defrag.h>

#include "debugfs.h"

static const char *const fail_names[NR_VMA_DEFRAG_FAIL] = {
	[VMA_DEFRAG_FAIL_UNMOVABLE]	= "unmovable",
	[VMA_DEFRAG_FAIL_PINNED]	= "pinned",
	[VMA_DEFRAG_FAIL_BUSY]		= "busy",
	[VMA_DEFRAG_FAIL_UNSUPPORTED]	= "unsupported",
	[VMA_DEFRAG_FAIL_NOMEM]		= "nomem",
	[VMA_DEFRAG_FAIL_MIGRATE]	= "migrate",
	[VMA_DEFRAG_FAIL_SPLIT]		= "split",
	[VMA_DEFRAG_FAIL_NO_WINDOW]	= "no_window",
};

static size_t print_layouts(char *buf, size_t size,
			    const struct contig_layout *b,
			    const struct contig_layout *a)
{
	return scnprintf(buf, size,
			 "runs_before %lu\nruns_after %lu\nlongest_run_before %lu\nlongest_run_after %lu\n"
			 "chunks_2m_before %lu\nchunks_2m_after %lu\nchunks_1g_before %lu\nchunks_1g_after %lu\n",
			 b->runs, a->runs, b->longest_run, a->longest_run,
			 b->chunks_2m, a->chunks_2m, b->chunks_1g, a->chunks_1g);
}

static ssize_t defrag_write(struct file *file, const char __user *ubuf,
			    size_t count, loff_t *ppos)
{
	struct contig_result *res = file->private_data;
	struct vma_defrag_request req = {
		.pgsize_bitmap = SZ_4K | SZ_2M | SZ_1G,
	};
	struct contig_layout before, after;
	struct vma_defrag_stats st;
	unsigned long long key;
	struct mm_struct *mm;
	char kbuf[160];
	int pid, n, ret, i;
	size_t len;

	ret = contig_request_copy(ubuf, count, kbuf, sizeof(kbuf));
	if (ret)
		return ret;
	n = sscanf(kbuf, "%d %li %li %lli %li %i %li", &pid, &req.start,
		   &req.len, &key, &req.pgsize_bitmap, &req.flags,
		   &req.max_pages);
	if (n < 3)
		return -EINVAL;
	req.key = n > 3 ? key : req.start;

	mm = contig_debugfs_mm(pid, PTRACE_MODE_ATTACH_FSCREDS);
	if (IS_ERR(mm))
		return PTR_ERR(mm);
	ret = contig_layout_query(mm, req.start, req.len, req.key, &before);
	if (!ret)
		ret = vma_defrag_range(mm, &req, &st);
	if (!ret)
		ret = contig_layout_query(mm, req.start, req.len, req.key,
					  &after);
	mmput(mm);
	if (ret)
		return ret;

	mutex_lock(&res->lock);
	len = scnprintf(res->buf, sizeof(res->buf),
			"pages %lu\npresent %lu\nin_place %lu\nmigrated %lu\nexchanged %lu\n"
			"thp_moved %lu\nthp_split %lu\nfailed %lu\n",
			st.pages, st.present, st.in_place, st.migrated,
			st.exchanged, st.thp_moved, st.thp_split,
			vma_defrag_failed(&st));
	for (i = 0; i < NR_VMA_DEFRAG_FAIL; i++)
		len += scnprintf(res->buf + len, sizeof(res->buf) - len,
				 "fail_%s %lu\n", fail_names[i], st.failed[i]);
	len += scnprintf(res->buf + len, sizeof(res->buf) - len,
			 "segments %u\nreanchors %u\npartial %d\nns %llu\n"
			 "plan_ns %llu\nindex_ns %llu\nsearch_ns %llu\n"
			 "index_blocks %lu\nnode_refused %lu\n",
			 st.segments, st.reanchors, st.partial, st.ns,
			 st.plan_ns, st.index_ns, st.search_ns, st.index_blocks,
			 st.node_refused);
	len += print_layouts(res->buf + len, sizeof(res->buf) - len, &before,
			     &after);
	res->len = len;
	*ppos = 0;
	mutex_unlock(&res->lock);
	return count;
}

struct contig_block {
	struct page *first;
	unsigned long nr;
	unsigned long *used;	/* frames that now hold a page of the range */
};

/* Folios mapped at pages [i, i + nr) of the range; large ones are split. */
static unsigned int lookup_batch(struct mm_struct *mm, unsigned long start,
				 unsigned long i, unsigned int nr,
				 struct contig_block *blk,
				 struct vma_defrag_move *moves)
{
	unsigned int n = 0, j;
	bool split;

	mmap_read_lock(mm);
	for (j = 0; j < nr; j++) {
		struct folio *folio;

		folio = contig_debugfs_folio(mm, start + (i + j) * PAGE_SIZE);
		if (!folio)
			continue;
		if (folio_test_large(folio)) {
			/* The block is handed out in base pages */
			mmap_read_unlock(mm);
			folio_lock(folio);
			split = !split_folio(folio);
			folio_unlock(folio);
			folio_put(folio);
			mmap_read_lock(mm);
			if (split)
				j--;	/* look the page up again */
			continue;
		}
		moves[n].src = folio;
		moves[n].dst = page_folio(blk->first + i + j);
		n++;
	}
	mmap_read_unlock(mm);
	moves[n].src = NULL;
	return n;
}

#define ALLOC_CONTIG_BATCH	64

static int alloc_contig_move(struct mm_struct *mm, unsigned long start,
			     unsigned long len, unsigned long *migrated,
			     unsigned long *failed)
{
	struct vma_defrag_move *moves;
	struct contig_block blk = { .nr = len >> PAGE_SHIFT };
	unsigned long i, j;

	moves = kcalloc(ALLOC_CONTIG_BATCH + 1, sizeof(*moves), GFP_KERNEL);
	blk.used = bitmap_zalloc(blk.nr, GFP_KERNEL);
	if (!moves || !blk.used) {
		kfree(moves);
		bitmap_free(blk.used);
		return -ENOMEM;
	}
	blk.first = alloc_contig_pages(blk.nr, GFP_KERNEL | __GFP_NOWARN,
				       numa_node_id(), NULL);
	if (!blk.first) {
		kfree(moves);
		bitmap_free(blk.used);
		return -ENOMEM;
	}

	lru_add_drain_all();
	for (i = 0; i < blk.nr; i += ALLOC_CONTIG_BATCH) {
		unsigned int nr = min_t(unsigned long, ALLOC_CONTIG_BATCH,
					blk.nr - i);
		unsigned int n = lookup_batch(mm, start, i, nr, &blk, moves);

		*migrated += vma_defrag_migrate_to(moves, n);
		for (j = 0; j < n; j++) {
			if (moves[j].done)
				__set_bit(folio_pfn(moves[j].dst) -
					  page_to_pfn(blk.first), blk.used);
			else
				(*failed)++;
		}
		cond_resched();
	}
	/* Frames of the block that no page moved into go back. */
	for (i = 0; i < blk.nr; i++)
		if (!test_bit(i, blk.used))
			__free_page(blk.first + i);
	bitmap_free(blk.used);
	kfree(moves);
	return 0;
}

static ssize_t alloc_contig_write(struct file *file, const char __user *ubuf,
				  size_t count, loff_t *ppos)
{
	struct contig_result *res = file->private_data;
	unsigned long start, len, migrated = 0, failed = 0;
	unsigned long long key;
	struct contig_layout before, after;
	struct mm_struct *mm;
	char kbuf[96];
	int pid, ret, err;
	u64 t0, ns;
	size_t n;

	ret = contig_request_copy(ubuf, count, kbuf, sizeof(kbuf));
	if (ret)
		return ret;
	err = sscanf(kbuf, "%d %li %li %lli", &pid, &start, &len, &key);
	if (err < 3)
		return -EINVAL;
	if (err == 3)
		key = start;

	mm = contig_debugfs_mm(pid, PTRACE_MODE_ATTACH_FSCREDS);
	if (IS_ERR(mm))
		return PTR_ERR(mm);
	ret = contig_layout_query(mm, start, len, key, &before);
	if (ret)
		goto out;
	t0 = ktime_get_ns();
	/* Not getting the block is an outcome to report, not an error. */
	err = alloc_contig_move(mm, start, len, &migrated, &failed);
	ns = ktime_get_ns() - t0;
	ret = contig_layout_query(mm, start, len, key, &after);
	if (ret)
		goto out;

	mutex_lock(&res->lock);
	n = scnprintf(res->buf, sizeof(res->buf),
		      "pages %lu\npresent %lu\nmigrated %lu\nfailed %lu\nerror %d\nns %llu\n",
		      before.pages, before.present, migrated, failed, err, ns);
	n += print_layouts(res->buf + n, sizeof(res->buf) - n, &before,
			   &after);
	res->len = n;
	*ppos = 0;
	mutex_unlock(&res->lock);
out:
	mmput(mm);
	return ret ? ret : count;
}

static const struct file_operations defrag_fops = {
	.owner		= THIS_MODULE,
	.open		= contig_result_open,
	.release	= contig_result_release,
	.read		= contig_result_read,
	.write		= defrag_write,
};

static const struct file_operations alloc_contig_fops = {
	.owner		= THIS_MODULE,
	.open		= contig_result_open,
	.release	= contig_result_release,
	.read		= contig_result_read,
	.write		= alloc_contig_write,
};

void contig_debugfs_defrag_init(struct dentry *dir)
{
	debugfs_create_file("defrag", 0600, dir, NULL, &defrag_fops);
	debugfs_create_file("alloc_contig", 0600, dir, NULL,
			    &alloc_contig_fops);
}
