/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ib_umem_get()'s use of contig: see umem_contig.c.
 */
#ifndef _IB_UMEM_CONTIG_H
#define _IB_UMEM_CONTIG_H

#include <linux/vma_defrag.h>

struct ib_umem;

void ib_umem_contig_prepare(struct ib_umem *umem,
			    struct vma_defrag_claims *claims);
void ib_umem_contig_pinned(struct vma_defrag_claims *claims);
void ib_umem_report_layout(struct ib_umem *umem);

#endif /* _IB_UMEM_CONTIG_H */
