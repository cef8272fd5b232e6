/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a device gets from a user memory registration: one event per
 * successful ib_umem_get(), with the scatterlist entries and, for the page
 * size bitmaps of three common RDMA NICs, the page size
 * ib_umem_find_best_pgsz() would pick and the DMA blocks (MTT/PBL entries)
 * the MR would then need. rxe itself registers nothing in hardware; these
 * are the figures the same registration would cost on those devices.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM ib_umem

#if !defined(_TRACE_IB_UMEM_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_IB_UMEM_H

#include <linux/tracepoint.h>
#include <rdma/ib_umem.h>
#include <rdma/ib_verbs.h>

#ifndef _IB_UMEM_HW_BLOCKS
#define _IB_UMEM_HW_BLOCKS
/**
 * struct ib_umem_hw_blocks - the cost of a umem for one page size bitmap
 * @pgsz: ib_umem_find_best_pgsz() for the bitmap at the umem's VA
 * @blocks: ib_umem_num_dma_blocks() at that page size
 */
struct ib_umem_hw_blocks {
	unsigned long pgsz;
	size_t blocks;
};

/* The bitmaps reported, in this order (drivers' own names for them) */
enum ib_umem_hw_profile {
	IB_UMEM_HW_MLX5,	/* 4 KiB .. 2 GiB */
	IB_UMEM_HW_IRDMA,	/* 4 KiB, 2 MiB, 1 GiB */
	IB_UMEM_HW_BNXT_RE,	/* 4 KiB .. 1 GiB */
	NR_IB_UMEM_HW_PROFILES
};
#endif

TRACE_EVENT(ib_umem_layout,
	    TP_PROTO(struct ib_umem *umem,
		     const struct ib_umem_hw_blocks *hw),
	    TP_ARGS(umem, hw),
	    TP_STRUCT__entry(__string(dev, dev_name(&umem->ibdev->dev))
			     __field(unsigned long, addr)
			     __field(u64, iova)
			     __field(size_t, length)
			     __field(size_t, pages)
			     __field(unsigned int, sg_entries)
			     __field(unsigned int, dma_entries)
			     __array(unsigned long, pgsz,
				     NR_IB_UMEM_HW_PROFILES)
			     __array(size_t, blocks, NR_IB_UMEM_HW_PROFILES)),
	    TP_fast_assign(__assign_str(dev);
		__entry->addr = umem->address;
		__entry->iova = umem->iova;
		__entry->length = umem->length;
		__entry->pages = ib_umem_num_pages(umem);
		__entry->sg_entries = umem->sgt_append.sgt.orig_nents;
		__entry->dma_entries = umem->sgt_append.sgt.nents;
		for (int i = 0; i < NR_IB_UMEM_HW_PROFILES; i++) {
			__entry->pgsz[i] = hw[i].pgsz;
			__entry->blocks[i] = hw[i].blocks;
		}
	    ),
	    TP_printk("dev=%s addr=%#lx iova=%#llx length=%zu pages=%zu sg_entries=%u dma_entries=%u mlx5_pgsz=%lu mlx5_blocks=%zu irdma_pgsz=%lu irdma_blocks=%zu bnxt_re_pgsz=%lu bnxt_re_blocks=%zu",
		      __get_str(dev), __entry->addr, __entry->iova,
		      __entry->length,
		      __entry->pages, __entry->sg_entries, __entry->dma_entries,
		      __entry->pgsz[IB_UMEM_HW_MLX5],
		      __entry->blocks[IB_UMEM_HW_MLX5],
		      __entry->pgsz[IB_UMEM_HW_IRDMA],
		      __entry->blocks[IB_UMEM_HW_IRDMA],
		      __entry->pgsz[IB_UMEM_HW_BNXT_RE],
		      __entry->blocks[IB_UMEM_HW_BNXT_RE])
);

#endif /* _TRACE_IB_UMEM_H */

#include <trace/define_trace.h>
