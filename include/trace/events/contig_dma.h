/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One event per contig_dma_prepare() call: contig_dma_prepare when the
 * range was looked at (moved, found in place, or an error), contig_dma_skip
 * when the policy or the range's size turned it away first. Then, for a
 * driver that reports its pin (contig_dma_pinned()), contig_dma_pinned:
 * the layout the device got, next to the one contig_dma_prepare() left.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM contig_dma

#if !defined(_TRACE_CONTIG_DMA_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_CONTIG_DMA_H

#include <linux/contig_dma.h>
#include <linux/tracepoint.h>

TRACE_DEFINE_ENUM(CONTIG_DMA_USER_RDMA);
TRACE_DEFINE_ENUM(CONTIG_DMA_USER_VFIO);
TRACE_DEFINE_ENUM(CONTIG_DMA_USER_EXPLICIT);
TRACE_DEFINE_ENUM(CONTIG_DMA_PREPARED);
TRACE_DEFINE_ENUM(CONTIG_DMA_IN_PLACE);
TRACE_DEFINE_ENUM(CONTIG_DMA_SKIP_EMPTY);
TRACE_DEFINE_ENUM(CONTIG_DMA_SKIP_POLICY);
TRACE_DEFINE_ENUM(CONTIG_DMA_SKIP_SMALL);
TRACE_DEFINE_ENUM(CONTIG_DMA_ERROR);
TRACE_DEFINE_ENUM(CONTIG_DMA_SKIP_PGSIZE);

#define show_contig_dma_user(user)					\
	__print_symbolic(user,						\
			 { CONTIG_DMA_USER_RDMA,	"rdma" },	\
			 { CONTIG_DMA_USER_VFIO,	"vfio" },	\
			 { CONTIG_DMA_USER_EXPLICIT,	"explicit" })

#define show_contig_dma_outcome(outcome)				\
	__print_symbolic(outcome,					\
			 { CONTIG_DMA_PREPARED,		"prepared" },	\
			 { CONTIG_DMA_IN_PLACE,		"in_place" },	\
			 { CONTIG_DMA_SKIP_EMPTY,	"empty" },	\
			 { CONTIG_DMA_SKIP_POLICY,	"policy" },	\
			 { CONTIG_DMA_SKIP_SMALL,	"small" },	\
			 { CONTIG_DMA_ERROR,		"error" },	\
			 { CONTIG_DMA_SKIP_PGSIZE,	"pgsize" })

TRACE_EVENT(contig_dma_prepare,
	    TP_PROTO(const struct contig_dma_request *req,
		     const struct contig_dma_result *res, int ret),
	    TP_ARGS(req, res, ret),
	    TP_STRUCT__entry(__field(unsigned long, start)
			     __field(unsigned long, len)
			     __field(u64, key)
			     __field(unsigned long, pgsizes)
			     __field(int, user)
			     __field(int, outcome)
			     __field(int, ret)
			     __field(unsigned long, in_place)
			     __field(unsigned long, migrated)
			     __field(unsigned long, exchanged)
			     __field(unsigned long, populated)
			     __field(unsigned long, populated_in_place)
			     __field(unsigned long, failed)
			     __field(unsigned long, node_refused)
			     __field(unsigned long, runs_before)
			     __field(unsigned long, runs_after)
			     __field(unsigned long, chunks_2m)
			     __field(unsigned long, chunks_1g)
			     __field(bool, partial)
			     __field(u64, ns)
			     __field(u64, plan_ns)
			     __field(u64, index_ns)
			     __field(u64, search_ns)
			     __field(u64, read_ns)
			     __field(unsigned long, drains)
			     __field(u64, drain_ns)),
	    TP_fast_assign(__entry->start = req->start;
			   __entry->len = req->len;
			   __entry->key = req->key;
			   __entry->pgsizes = req->pgsize_bitmap;
			   __entry->user = req->user;
			   __entry->outcome = res->outcome;
			   __entry->ret = ret;
			   __entry->in_place = res->moves.in_place;
			   __entry->migrated = res->moves.migrated;
			   __entry->exchanged = res->moves.exchanged;
			   __entry->populated = res->populated;
			   __entry->populated_in_place =
				res->moves.populated_in_place;
			   __entry->failed = vma_defrag_failed(&res->moves);
			   __entry->node_refused = res->moves.node_refused;
			   __entry->runs_before = res->before.runs;
			   __entry->runs_after = res->after.runs;
			   __entry->chunks_2m = res->after.chunks_2m;
			   __entry->chunks_1g = res->after.chunks_1g;
			   __entry->partial = res->moves.partial;
			   __entry->ns = res->ns;
			   __entry->plan_ns = res->moves.plan_ns;
			   __entry->index_ns = res->moves.index_ns;
			   __entry->search_ns = res->moves.search_ns;
			   __entry->read_ns = res->moves.read_ns;
			   __entry->drains = res->moves.drains;
			   __entry->drain_ns = res->moves.drain_ns;),
	    TP_printk("start=0x%lx len=0x%lx key=0x%llx pgsizes=0x%lx user=%s outcome=%s ret=%d in_place=%lu migrated=%lu exchanged=%lu populated=%lu populated_in_place=%lu failed=%lu node_refused=%lu runs=%lu->%lu chunks_2m=%lu chunks_1g=%lu partial=%d ns=%llu plan_ns=%llu index_ns=%llu search_ns=%llu read_ns=%llu drains=%lu drain_ns=%llu",
		      __entry->start, __entry->len, __entry->key,
		      __entry->pgsizes, show_contig_dma_user(__entry->user),
		      show_contig_dma_outcome(__entry->outcome), __entry->ret,
		      __entry->in_place, __entry->migrated, __entry->exchanged,
		      __entry->populated, __entry->populated_in_place,
		      __entry->failed, __entry->node_refused,
		      __entry->runs_before,
		      __entry->runs_after, __entry->chunks_2m,
		      __entry->chunks_1g, __entry->partial, __entry->ns,
		      __entry->plan_ns, __entry->index_ns, __entry->search_ns,
		      __entry->read_ns, __entry->drains, __entry->drain_ns)
);

TRACE_EVENT(contig_dma_pinned,
	    TP_PROTO(const struct contig_dma_request *req,
		     const struct contig_dma_result *res),
	    TP_ARGS(req, res),
	    TP_STRUCT__entry(__field(unsigned long, start)
			     __field(unsigned long, len)
			     __field(u64, key)
			     __field(int, user)
			     __field(unsigned long, present)
			     __field(unsigned long, runs_prepared)
			     __field(unsigned long, runs)
			     __field(unsigned long, chunks_2m_prepared)
			     __field(unsigned long, chunks_2m)
			     __field(unsigned long, chunks_1g)),
	    TP_fast_assign(__entry->start = req->start;
			   __entry->len = req->len;
			   __entry->key = req->key;
			   __entry->user = req->user;
			   __entry->present = res->pinned.present;
			   __entry->runs_prepared = res->after.runs;
			   __entry->runs = res->pinned.runs;
			   __entry->chunks_2m_prepared = res->after.chunks_2m;
			   __entry->chunks_2m = res->pinned.chunks_2m;
			   __entry->chunks_1g = res->pinned.chunks_1g;),
	    TP_printk("start=0x%lx len=0x%lx key=0x%llx user=%s present=%lu runs=%lu (prepared %lu) chunks_2m=%lu (prepared %lu) chunks_1g=%lu",
		      __entry->start, __entry->len, __entry->key,
		      show_contig_dma_user(__entry->user), __entry->present,
		      __entry->runs, __entry->runs_prepared,
		      __entry->chunks_2m, __entry->chunks_2m_prepared,
		      __entry->chunks_1g)
);

TRACE_EVENT(contig_dma_skip,
	    TP_PROTO(const struct contig_dma_request *req,
		     enum contig_dma_outcome outcome),
	    TP_ARGS(req, outcome),
	    TP_STRUCT__entry(__field(unsigned long, start)
			     __field(unsigned long, len)
			     __field(u64, key)
			     __field(int, user)
			     __field(int, outcome)),
	    TP_fast_assign(__entry->start = req->start;
			   __entry->len = req->len;
			   __entry->key = req->key;
			   __entry->user = req->user;
			   __entry->outcome = outcome;),
	    TP_printk("start=0x%lx len=0x%lx key=0x%llx user=%s why=%s",
		      __entry->start, __entry->len, __entry->key,
		      show_contig_dma_user(__entry->user),
		      show_contig_dma_outcome(__entry->outcome))
);

#endif /* _TRACE_CONTIG_DMA_H */

/* This part must be outside protection */
#include <trace/define_trace.h>
