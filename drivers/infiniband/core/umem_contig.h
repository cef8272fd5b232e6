/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ib_umem_get()'s use of contig: see umem_contig.c.
 */
#ifndef _IB_UMEM_CONTIG_H
#define _IB_UMEM_CONTIG_H

#include <linux/contig_dma.h>

struct ib_umem;

/*
 * A registration's request to contig, from ib_umem_contig_prepare() until
 * ib_umem_contig_pinned(): the frames chosen stay claimed meanwhile.
 */
struct ib_umem_contig {
	struct contig_dma_request req;
	struct contig_dma_result res;
	struct vma_defrag_claims claims;
	bool prepared;
};

void ib_umem_contig_prepare(struct ib_umem *umem, struct ib_umem_contig *c);
void ib_umem_contig_pinned(struct ib_umem *umem, struct ib_umem_contig *c,
			   int ret);
void ib_umem_report_layout(struct ib_umem *umem);

#endif /* _IB_UMEM_CONTIG_H */
