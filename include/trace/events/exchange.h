/* SPDX-License-Identifier: GPL-2.0 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM exchange

#if !defined(_TRACE_EXCHANGE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_EXCHANGE_H

#include <linux/exchange.h>
#include <linux/tracepoint.h>

TRACE_DEFINE_ENUM(EXCHANGE_DONE);
TRACE_DEFINE_ENUM(EXCHANGE_ORDER_MISMATCH);
TRACE_DEFINE_ENUM(EXCHANGE_PINNED);
TRACE_DEFINE_ENUM(EXCHANGE_KSM);
TRACE_DEFINE_ENUM(EXCHANGE_HUGETLB);
TRACE_DEFINE_ENUM(EXCHANGE_IO);
TRACE_DEFINE_ENUM(EXCHANGE_NONLRU_MOVABLE);
TRACE_DEFINE_ENUM(EXCHANGE_UNMOVABLE);
TRACE_DEFINE_ENUM(EXCHANGE_DEVICE);
TRACE_DEFINE_ENUM(EXCHANGE_UNSUPPORTED);
TRACE_DEFINE_ENUM(EXCHANGE_UNEVICTABLE);
TRACE_DEFINE_ENUM(EXCHANGE_ZONE);
TRACE_DEFINE_ENUM(EXCHANGE_SHMEM_MAPPED);
TRACE_DEFINE_ENUM(EXCHANGE_HWPOISON);
TRACE_DEFINE_ENUM(EXCHANGE_BUSY);

#define show_exchange_result(result)					\
	__print_symbolic(result,					\
			 { EXCHANGE_DONE,		"done" },	\
			 { EXCHANGE_ORDER_MISMATCH,	"order_mismatch" }, \
			 { EXCHANGE_PINNED,		"pinned" },	\
			 { EXCHANGE_KSM,		"ksm" },	\
			 { EXCHANGE_HUGETLB,		"hugetlb" },	\
			 { EXCHANGE_IO,			"io" },		\
			 { EXCHANGE_NONLRU_MOVABLE,	"nonlru_movable" }, \
			 { EXCHANGE_UNMOVABLE,		"unmovable" },	\
			 { EXCHANGE_DEVICE,		"device" },	\
			 { EXCHANGE_UNSUPPORTED,	"unsupported" }, \
			 { EXCHANGE_UNEVICTABLE,	"unevictable" }, \
			 { EXCHANGE_ZONE,		"zone" }, \
			 { EXCHANGE_SHMEM_MAPPED,	"shmem_mapped" }, \
			 { EXCHANGE_HWPOISON,		"hwpoison" }, \
			 { EXCHANGE_BUSY,		"busy" })

/*
 * One event per pair of folios, exchanged or refused: the frames' PFNs
 * (a's data is at pfn_b afterwards, and b's at pfn_a), the order and the
 * outcome.
 */
TRACE_EVENT(mm_exchange_folios,
	    TP_PROTO(unsigned long pfn_a, unsigned long pfn_b, unsigned int order, int result),
	    TP_ARGS(pfn_a, pfn_b, order, result),
	    TP_STRUCT__entry(__field(unsigned long, pfn_a)
			     __field(unsigned long, pfn_b)
			     __field(unsigned int, order)
			     __field(int, result)),
	    TP_fast_assign(__entry->pfn_a = pfn_a;
			   __entry->pfn_b = pfn_b;
			   __entry->order = order;
			   __entry->result = result;),
	    TP_printk("pfn_a=0x%lx pfn_b=0x%lx order=%u result=%s",
		      __entry->pfn_a, __entry->pfn_b, __entry->order,
		      show_exchange_result(__entry->result))
);

#endif /* _TRACE_EXCHANGE_H */

/* This part must be outside protection */
#include <trace/define_trace.h>
