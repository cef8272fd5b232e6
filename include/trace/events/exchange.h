/* SPDX-License-Identifier: GPL-2.0 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM exchange

#if !defined(_TRACE_EXCHANGE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_EXCHANGE_H

#include <linux/exchange.h>
#include <linux/tracepoint.h>

#define EXCHANGE_RESULTS					\
	EM(EXCHANGE_DONE,		"done")			\
	EM(EXCHANGE_ORDER_MISMATCH,	"order_mismatch")	\
	EM(EXCHANGE_PINNED,		"pinned")		\
	EM(EXCHANGE_KSM,		"ksm")			\
	EM(EXCHANGE_HUGETLB,		"hugetlb")		\
	EM(EXCHANGE_IO,			"io")			\
	EM(EXCHANGE_NONLRU_MOVABLE,	"nonlru_movable")	\
	EM(EXCHANGE_UNMOVABLE,		"unmovable")		\
	EM(EXCHANGE_DEVICE,		"device")		\
	EM(EXCHANGE_UNSUPPORTED,	"unsupported")		\
	EMe(EXCHANGE_BUSY,		"busy")

#undef EM
#undef EMe
#define EM(a, b)	TRACE_DEFINE_ENUM(a);
#define EMe(a, b)	TRACE_DEFINE_ENUM(a);

EXCHANGE_RESULTS

#undef EM
#undef EMe
#define EM(a, b)	{a, b},
#define EMe(a, b)	{a, b}

/*
 * One event per pair of folios, exchanged or refused: the frames' PFNs
 * (a's data is at pfn_b afterwards, and b's at pfn_a), the order and the
 * outcome.
 */
TRACE_EVENT(mm_exchange_folios,

	TP_PROTO(unsigned long pfn_a, unsigned long pfn_b, unsigned int order,
		 int result),

	TP_ARGS(pfn_a, pfn_b, order, result),

	TP_STRUCT__entry(
		__field(unsigned long,	pfn_a)
		__field(unsigned long,	pfn_b)
		__field(unsigned int,	order)
		__field(int,		result)
	),

	TP_fast_assign(
		__entry->pfn_a = pfn_a;
		__entry->pfn_b = pfn_b;
		__entry->order = order;
		__entry->result = result;
	),

	TP_printk("pfn_a=0x%lx pfn_b=0x%lx order=%u result=%s",
		  __entry->pfn_a, __entry->pfn_b, __entry->order,
		  __print_symbolic(__entry->result, EXCHANGE_RESULTS))
);

#endif /* _TRACE_EXCHANGE_H */

/* This part must be outside protection */
#include <trace/define_trace.h>
