// SPDX-License-Identifier: GPL-2.0
/*
 * Physically contiguous user memory registrations, and what they cost.
 *
 * ib_umem_get() pins with FOLL_LONGTERM: from then on the pages cannot
 * move, and a range the allocator scattered costs one scatterlist entry per
 * physical run and, once a driver picks its MR page size with
 * ib_umem_find_best_pgsz(), one MTT/PBL entry (or IOMMU PTE) per 4 KiB
 * page. Right before the pin is the last moment to do better, so
 * ib_umem_contig_prepare() asks contig to rearrange the range's pages
 * there, after doing what the pin would (CONTIG_DMA_POPULATE: fault in the
 * holes of a fresh pool, copy the pages shared copy-on-write with a child,
 * writable or not as the registration is), so that the pages placed are
 * the ones the pin gets: physically contiguous and congruent with the VA modulo
 * 2 MiB or 1 GiB, the condition ib_umem_find_best_pgsz() checks before
 * it picks a large page. The key is the umem's IOVA: its VA for
 * ib_umem_get() (ibv_reg_mr() gives the MR that IOVA), the MR's own for
 * ib_umem_get_iova() (ibv_reg_mr_iova()), so that an MR registered at
 * another IOVA gets large pages too.
 *
 * ib_umem_get() runs inside uverbs' disassociate_srcu read section, which
 * the removal of the device waits for. contig may take seconds for a large
 * range, so the request stops (between moves, and in its window search)
 * as soon as the device's unregistration has begun: the removal waits for
 * one move at most, and the registration goes on with what was done.
 *
 * The call is best effort and policy-gated (/sys/kernel/mm/contig_dma/
 * "enabled" and "rdma"): whatever it returns, the registration goes on
 * exactly as before. Nothing is asked for ODP or dma-buf umems: ODP never
 * pins (it faults pages in on demand, page by page) and a dma-buf's pages
 * belong to its exporter. The frames contig chose stay claimed, so that no
 * concurrent registration takes them, until ib_umem_get() has pinned the
 * pages (ib_umem_contig_pinned()); from then on the pins keep them. Then
 * contig reads the layout once more and counts that one: what the MR got.
 *
 * ib_umem_report_layout() emits ib_umem:ib_umem_layout (see
 * include/trace/events/ib_umem.h) for every umem, so that the effect is
 * visible on any device: sg entries, and the page size and DMA block count
 * that three NICs' bitmaps would get.
 */
#include <linux/contig_dma.h>
#include <linux/mm.h>
#include <linux/sizes.h>
#include <rdma/ib_umem.h>
#include <rdma/ib_verbs.h>

#include "umem_contig.h"

#define CREATE_TRACE_POINTS
#include <trace/events/ib_umem.h>

/* The whole pages a umem covers, as contig wants them */
static void umem_page_range(const struct ib_umem *umem, unsigned long *start,
			    unsigned long *len)
{
	*start = ALIGN_DOWN(umem->address, PAGE_SIZE);
	*len = PAGE_ALIGN(umem->address + umem->length) - *start;
}

/* Stop contig's work once the device is going away */
static bool umem_device_going(void *ibdev)
{
	return ib_device_unregistering(ibdev);
}

/**
 * ib_umem_contig_prepare() - make a umem's range contiguous before pinning
 * @umem: a umem being built by ib_umem_get(), not pinned yet
 * @c: zeroed; the request, its result and the frames chosen, kept until
 *	ib_umem_contig_pinned()
 *
 * Context: process context of the registering task, without mmap_lock.
 */
void ib_umem_contig_prepare(struct ib_umem *umem, struct ib_umem_contig *c)
{
	struct contig_dma_request *req = &c->req;

	/* The pages are found through the registering task's own mm */
	if (!IS_ENABLED(CONFIG_CONTIG_DMA) || umem->owning_mm != current->mm)
		return;
	/* An IOVA whose page offset differs gets no large page anyway */
	if ((umem->iova ^ umem->address) & ~PAGE_MASK)
		return;
	*req = (struct contig_dma_request) {
		.pgsize_bitmap = PAGE_SIZE | SZ_2M | SZ_1G,
		.user = CONTIG_DMA_USER_RDMA,
		.flags = CONTIG_DMA_POPULATE | CONTIG_DMA_PIN_REPORT |
			 (umem->writable ? CONTIG_DMA_PIN_WRITE : 0),
		.claims = &c->claims,
		.stop = umem_device_going,
		.stop_arg = umem->ibdev,
	};
	umem_page_range(umem, &req->start, &req->len);
	/* The IOVA of the first whole page */
	req->key = umem->iova - (umem->address - req->start);
	contig_dma_prepare(umem->owning_mm, req, &c->res);
	c->prepared = true;
}

/**
 * ib_umem_contig_pinned() - the umem's pages are pinned, or will not be
 * @umem: the umem given to ib_umem_contig_prepare()
 * @c: as ib_umem_contig_prepare() left it; its claims are empty afterwards
 * @ret: 0 when the pages are pinned, else the registration's error
 *
 * Context: process context, without mmap_lock.
 */
void ib_umem_contig_pinned(struct ib_umem *umem, struct ib_umem_contig *c,
			   int ret)
{
	if (c->prepared)
		contig_dma_pinned(umem->owning_mm, &c->req, &c->res, ret);
}

static const unsigned long ib_umem_hw_pgsz_bitmaps[NR_IB_UMEM_HW_PROFILES] = {
	[IB_UMEM_HW_MLX5] = GENMASK_ULL(31, 12),
	[IB_UMEM_HW_IRDMA] = SZ_4K | SZ_2M | SZ_1G,
	[IB_UMEM_HW_BNXT_RE] = GENMASK_ULL(30, 12),
};

/**
 * ib_umem_report_layout() - trace what a registration would cost devices
 * @umem: a pinned and DMA-mapped umem, at the IOVA ib_umem_get() or
 *	ib_umem_get_iova() recorded
 *
 * ib_umem_find_best_pgsz() records the IOVA it is given in the umem; the
 * one given here is the umem's own, which drivers set again when they
 * call it themselves.
 */
void ib_umem_report_layout(struct ib_umem *umem)
{
	struct ib_umem_hw_blocks hw[NR_IB_UMEM_HW_PROFILES];
	int i;

	/* Three walks of the scatterlist: only for someone who listens */
	if (!trace_ib_umem_layout_enabled())
		return;
	for (i = 0; i < NR_IB_UMEM_HW_PROFILES; i++) {
		hw[i].pgsz = ib_umem_find_best_pgsz(umem,
						    ib_umem_hw_pgsz_bitmaps[i],
						    umem->iova);
		hw[i].blocks = hw[i].pgsz ?
			       ib_umem_num_dma_blocks(umem, hw[i].pgsz) : 0;
	}
	trace_ib_umem_layout(umem, hw);
}
