/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ib_umem_get()'s use of contig: see umem_contig.c.
 */
#ifndef _IB_UMEM_CONTIG_H
#define _IB_UMEM_CONTIG_H

struct ib_umem;

void ib_umem_contig_prepare(struct ib_umem *umem);
void ib_umem_contig_release(struct ib_umem *umem);
void ib_umem_report_layout(struct ib_umem *umem);

#endif /* _IB_UMEM_CONTIG_H */
