// SPDX-License-Identifier: GPL-2.0
/*
 * rdma_loopback - RDMA WRITE/READ data-integrity test over a loopback RC
 * connection on a single (soft-RoCE) device.
 *
 * What it checks:
 *   - Two RC QPs on the same device are connected to each other through
 *     the port's own RoCE v2 (IPv4-mapped) GID, so every operation goes
 *     through the full RoCE transport path of the driver.
 *   - Two mmap()ed buffers A and B are registered; the first and a repeated
 *     ibv_reg_mr() of A are timed (memory pinning cost).
 *   - RDMA WRITEs copy chunks of A into B at offsets spread over the whole
 *     buffer (first and last page included, plus one chunk with an
 *     unaligned start and length). Each chunk must arrive intact and every
 *     byte of B outside the chunks, in particular the bytes right before
 *     and after each chunk, must be untouched.
 *   - RDMA READs copy the same chunks of B back into a third buffer C; every
 *     byte read must match B, and C outside the chunks must be untouched.
 *   - The source buffer A must never change.
 *
 * Why: memory registration, page pinning and the per-page DMA mapping of
 * user memory are easy to get subtly wrong (off-by-one pages, wrong page
 * for mid-page offsets, stale mappings after re-registration). The fill
 * patterns are chosen so that every byte of A, B and C differs from the
 * byte at the same offset in the other buffers, so a single misplaced or
 * missing byte is detected.
 *
 * Usage: rdma_loopback [--dev rxe0] [--size MiB] [--offsets N] [--iters N]
 *                      [--json]
 * Exit status is 0 only if every WRITE and READ completed and verified.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <infiniband/verbs.h>

#include "lib/layout.h"
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PROG		"rdma_loopback"
#define PORT_NUM	1
#define CHUNK_BYTES	(64 * 1024)
#define ODD_START	123		/* unaligned start inside a page */
#define ODD_LEN		(4096 + 77)	/* unaligned length crossing a page */
#define POLL_TIMEOUT_MS	10000
#define SEED_A		0x0123456789abcdefULL

struct options {
	const char *dev;
	unsigned int size_mib;
	unsigned int offsets;
	unsigned int iters;
	bool json;
};

struct stats {
	unsigned int writes_ok;
	unsigned int reads_ok;
	unsigned int failed;
	unsigned long long reg_first_us;
	unsigned long long reg_repeat_us;
	struct layout a_layout;	/* buffer A while registered (pinned) */
};

struct region {
	const char *name;
	uint8_t *addr;
	size_t len;
	struct ibv_mr *mr;
};

struct chunk {
	size_t off;
	size_t len;
};

struct test {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_qp *qp[2];
	int gid_index;
	union ibv_gid gid;
	enum ibv_mtu mtu;
	struct region a, b, c;
	struct chunk *chunks;
	unsigned int nchunks;
	int *status;		/* per-chunk completion state of a batch */
};

static FILE *info_out;

static void __attribute__((format(printf, 1, 2))) info(const char *fmt, ...)
{
	va_list ap;

	fprintf(info_out, PROG ": ");
	va_start(ap, fmt);
	vfprintf(info_out, fmt, ap);
	va_end(ap);
	fputc('\n', info_out);
}

static void __attribute__((format(printf, 1, 2))) error(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, PROG ": error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---------------------------------------------------------------- options */

static void usage(FILE *f)
{
	fprintf(f, "usage: " PROG " [--dev NAME (default rxe0)]\n"
		"       [--size MiB (default 64)] [--offsets N (default 16)]\n"
		"       [--iters N (default 1)] [--json]\n");
}

static int parse_uint(const char *name, const char *s, unsigned long min,
		      unsigned long max, unsigned int *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
		error("invalid --%s '%s' (expected %lu..%lu)", name, s, min, max);
		return -1;
	}
	*out = (unsigned int)v;
	return 0;
}

/* Returns 0 to run, 1 for --help, -1 on a usage error. */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "dev",	required_argument, NULL, 'd' },
		{ "size",	required_argument, NULL, 's' },
		{ "offsets",	required_argument, NULL, 'o' },
		{ "iters",	required_argument, NULL, 'i' },
		{ "json",	no_argument,	   NULL, 'j' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "d:s:o:i:jh", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o->dev = optarg;
			break;
		case 's':
			if (parse_uint("size", optarg, 1, 65536, &o->size_mib))
				return -1;
			break;
		case 'o':
			if (parse_uint("offsets", optarg, 1, 1024, &o->offsets))
				return -1;
			break;
		case 'i':
			if (parse_uint("iters", optarg, 1, 1000000, &o->iters))
				return -1;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			return 1;
		default:
			return -1;
		}
	}
	if (optind < argc) {
		error("unexpected argument '%s'", argv[optind]);
		return -1;
	}
	return 0;
}

/* --------------------------------------------------------------- patterns */

/*
 * Each 8-byte word holds its byte offset XOR a seed. Seeds of different
 * buffers differ in every byte, so no byte matches another buffer's byte.
 */
static uint64_t seed_for(unsigned int iter, unsigned int which)
{
	uint64_t diff = 1 + (2ULL * iter + which) % 255;	/* 1..255 */

	return SEED_A ^ (diff * 0x0101010101010101ULL);
}

static void fill_pattern(uint8_t *buf, size_t len, uint64_t seed)
{
	size_t off;

	for (off = 0; off + 8 <= len; off += 8) {
		uint64_t w = off ^ seed;

		memcpy(buf + off, &w, sizeof(w));
	}
}

static uint8_t pattern_byte(size_t off, uint64_t seed)
{
	uint64_t w = (off & ~(size_t)7) ^ seed;
	uint8_t b[8];

	memcpy(b, &w, sizeof(b));
	return b[off & 7];
}

/* Checks [start, end) against the pattern; *bad gets the first mismatch. */
static bool check_pattern(const uint8_t *buf, size_t start, size_t end,
			  uint64_t seed, size_t *bad)
{
	size_t i = start;

	while (i < end) {
		if ((i & 7) == 0 && i + 8 <= end) {
			uint64_t w;

			memcpy(&w, buf + i, sizeof(w));
			if (w == (i ^ seed)) {
				i += 8;
				continue;
			}
		}
		if (buf[i] != pattern_byte(i, seed)) {
			*bad = i;
			return false;
		}
		i++;
	}
	return true;
}

static void report_mismatch(const struct region *r, size_t off, uint8_t want,
			    const char *where)
{
	error("%s: byte at offset %#zx is %#04x, expected %#04x (%s)",
	      r->name, off, r->addr[off], want, where);
}

/*
 * Verifies that every byte of @r outside the chunks still holds the
 * pattern @seed. Returns the number of damaged gaps.
 */
static unsigned int check_gaps(const struct test *t, const struct region *r,
			       uint64_t seed)
{
	unsigned int i, bad_gaps = 0;
	size_t pos = 0, bad;
	char where[96];

	for (i = 0; i <= t->nchunks; i++) {
		size_t end = i < t->nchunks ? t->chunks[i].off : r->len;

		if (!check_pattern(r->addr, pos, end, seed, &bad)) {
			if (i > 0 && bad == pos)
				snprintf(where, sizeof(where),
					 "byte right after chunk %u", i - 1);
			else if (i < t->nchunks && bad + 1 == end)
				snprintf(where, sizeof(where),
					 "byte right before chunk %u", i);
			else
				snprintf(where, sizeof(where),
					 "outside the chunks, before chunk %u", i);
			report_mismatch(r, bad, pattern_byte(bad, seed), where);
			bad_gaps++;
		}
		if (i < t->nchunks)
			pos = t->chunks[i].off + t->chunks[i].len;
	}
	return bad_gaps;
}

/* ------------------------------------------------------------ chunk setup */

/*
 * Spreads the chunks evenly over the buffer: chunk 0 starts at the first
 * page, the last chunk ends at the last byte. One chunk gets an unaligned
 * start and length. Chunks never overlap.
 */
static int plan_chunks(struct test *t, size_t size, unsigned int n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t pages = size / page, chunk_pages, span, i;
	unsigned int odd = n >= 3 ? n / 2 : 0;

	if (pages / n < 2) {
		error("--size too small for %u offsets (need 2 pages each)", n);
		return -1;
	}
	chunk_pages = CHUNK_BYTES / page;
	if (chunk_pages < 2)
		chunk_pages = 2;
	if (chunk_pages > pages / n)
		chunk_pages = pages / n;
	span = pages - chunk_pages;

	t->chunks = calloc(n, sizeof(*t->chunks));
	t->status = calloc(n, sizeof(*t->status));
	if (!t->chunks || !t->status) {
		error("calloc: %s", strerror(errno));
		return -1;
	}
	t->nchunks = n;
	for (i = 0; i < n; i++) {
		size_t first = n > 1 ? i * span / (n - 1) : 0;

		t->chunks[i].off = first * page;
		t->chunks[i].len = chunk_pages * page;
	}
	t->chunks[odd].off += ODD_START;
	t->chunks[odd].len = ODD_LEN;

	info("%u chunks of %zu bytes, last at %#zx; chunk %u unaligned: %#zx+%zu",
	     n, chunk_pages * page, t->chunks[n - 1].off, odd,
	     t->chunks[odd].off, t->chunks[odd].len);
	for (i = 0; n <= 32 && i < n; i++)
		info("chunk %zu: offset %#zx length %zu", i,
		     t->chunks[i].off, t->chunks[i].len);
	return 0;
}

/* --------------------------------------------------------- device and QPs */

static int open_device(struct test *t, const char *name)
{
	struct ibv_device **list;
	int i, num = 0;

	list = ibv_get_device_list(&num);
	if (!list) {
		error("ibv_get_device_list: %s (no RDMA support or device?)",
		      strerror(errno));
		return -1;
	}
	for (i = 0; i < num; i++)
		if (!strcmp(ibv_get_device_name(list[i]), name))
			break;
	if (i == num) {
		error("RDMA device '%s' not found (%d device(s) present)",
		      name, num);
		ibv_free_device_list(list);
		return -1;
	}
	t->ctx = ibv_open_device(list[i]);
	if (!t->ctx)
		error("ibv_open_device(%s): %s", name, strerror(errno));
	ibv_free_device_list(list);
	return t->ctx ? 0 : -1;
}

static bool gid_is_ipv4_mapped(const union ibv_gid *gid)
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(gid->raw, prefix, sizeof(prefix));
}

/*
 * Picks the source GID: a RoCE v2 IPv4-mapped GID if there is one, else
 * any IPv4-mapped GID, else index 0. ibv_query_gid_ex() (the public form
 * of the GID type query) is used when available, ibv_query_gid() otherwise.
 */
static int find_gid(struct test *t, int tbl_len)
{
	int i, v2 = -1, mapped = -1, ret;
	struct ibv_gid_entry e;
	union ibv_gid gid;

	for (i = 0; i < tbl_len; i++) {
		if (!ibv_query_gid_ex(t->ctx, PORT_NUM, i, &e, 0)) {
			if (!gid_is_ipv4_mapped(&e.gid))
				continue;
			if (e.gid_type == IBV_GID_TYPE_ROCE_V2 && v2 < 0)
				v2 = i;
		} else if (ibv_query_gid(t->ctx, PORT_NUM, i, &gid) ||
			   !gid_is_ipv4_mapped(&gid)) {
			continue;
		}
		if (mapped < 0)
			mapped = i;
	}
	t->gid_index = v2 >= 0 ? v2 : mapped >= 0 ? mapped : 0;
	if (v2 < 0)
		info("warning: no RoCE v2 IPv4-mapped GID found, using index %d",
		     t->gid_index);

	ret = ibv_query_gid(t->ctx, PORT_NUM, t->gid_index, &t->gid);
	if (ret) {
		error("ibv_query_gid(index %d): %s", t->gid_index,
		      strerror(errno ? errno : EINVAL));
		return -1;
	}
	return 0;
}

static int query_port(struct test *t)
{
	struct ibv_port_attr pa;
	char str[INET6_ADDRSTRLEN];
	int ret;

	ret = ibv_query_port(t->ctx, PORT_NUM, &pa);
	if (ret) {
		error("ibv_query_port(%d): %s", PORT_NUM, strerror(ret));
		return -1;
	}
	if (pa.state != IBV_PORT_ACTIVE)
		info("warning: port %d state is %s, not ACTIVE", PORT_NUM,
		     ibv_port_state_str(pa.state));
	t->mtu = pa.active_mtu;
	if (find_gid(t, pa.gid_tbl_len))
		return -1;
	if (!inet_ntop(AF_INET6, t->gid.raw, str, sizeof(str)))
		strcpy(str, "?");
	info("port %d: active_mtu %d, gid_index %d, gid %s", PORT_NUM,
	     128 << t->mtu, t->gid_index, str);
	return 0;
}

static int create_resources(struct test *t, unsigned int depth)
{
	struct ibv_qp_init_attr qa = {
		.qp_type = IBV_QPT_RC,
		.cap = {
			.max_send_wr = depth,
			.max_recv_wr = 1,
			.max_send_sge = 1,
			.max_recv_sge = 1,
		},
	};
	int i;

	t->pd = ibv_alloc_pd(t->ctx);
	if (!t->pd) {
		error("ibv_alloc_pd: %s", strerror(errno));
		return -1;
	}
	t->cq = ibv_create_cq(t->ctx, 2 * depth + 16, NULL, NULL, 0);
	if (!t->cq) {
		error("ibv_create_cq: %s", strerror(errno));
		return -1;
	}
	qa.send_cq = t->cq;
	qa.recv_cq = t->cq;
	for (i = 0; i < 2; i++) {
		t->qp[i] = ibv_create_qp(t->pd, &qa);
		if (!t->qp[i]) {
			error("ibv_create_qp(QP%d): %s", i + 1, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int modify_qp(struct ibv_qp *qp, struct ibv_qp_attr *attr, int mask,
		     const char *state)
{
	int ret = ibv_modify_qp(qp, attr, mask);

	if (ret)
		error("ibv_modify_qp(QP %#x -> %s): %s", qp->qp_num, state,
		      strerror(ret));
	return ret ? -1 : 0;
}

static int connect_qp(struct test *t, struct ibv_qp *qp, uint32_t dest_qpn)
{
	struct ibv_qp_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.qp_state = IBV_QPS_INIT;
	attr.pkey_index = 0;
	attr.port_num = PORT_NUM;
	attr.qp_access_flags = IBV_ACCESS_LOCAL_WRITE |
			       IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE;
	if (modify_qp(qp, &attr, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
		      IBV_QP_PORT | IBV_QP_ACCESS_FLAGS, "INIT"))
		return -1;

	memset(&attr, 0, sizeof(attr));
	attr.qp_state = IBV_QPS_RTR;
	attr.path_mtu = t->mtu;
	attr.dest_qp_num = dest_qpn;
	attr.rq_psn = 0;
	attr.max_dest_rd_atomic = 1;
	attr.min_rnr_timer = 12;
	attr.ah_attr.is_global = 1;
	attr.ah_attr.grh.dgid = t->gid;
	attr.ah_attr.grh.sgid_index = (uint8_t)t->gid_index;
	attr.ah_attr.grh.hop_limit = 1;
	attr.ah_attr.port_num = PORT_NUM;
	if (modify_qp(qp, &attr, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
		      IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
		      IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER, "RTR"))
		return -1;

	memset(&attr, 0, sizeof(attr));
	attr.qp_state = IBV_QPS_RTS;
	attr.timeout = 14;
	attr.retry_cnt = 7;
	attr.rnr_retry = 7;
	attr.sq_psn = 0;
	attr.max_rd_atomic = 1;
	return modify_qp(qp, &attr, IBV_QP_STATE | IBV_QP_TIMEOUT |
			 IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
			 IBV_QP_MAX_QP_RD_ATOMIC, "RTS");
}

/* ---------------------------------------------------------------- memory */

static unsigned long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
}

static int alloc_region(struct region *r, const char *name, size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	r->name = name;
	if (p == MAP_FAILED) {
		error("mmap(%s, %zu bytes): %s", name, len, strerror(errno));
		return -1;
	}
	r->addr = p;
	r->len = len;
	return 0;
}

/* Registers @r; returns the time ibv_reg_mr() took, in *us. */
static int reg_region(struct test *t, struct region *r, unsigned long long *us)
{
	unsigned long long start = now_us();

	r->mr = ibv_reg_mr(t->pd, r->addr, r->len, IBV_ACCESS_LOCAL_WRITE |
			   IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ);
	*us = now_us() - start;
	if (!r->mr) {
		error("ibv_reg_mr(%s, %zu bytes): %s", r->name, r->len,
		      strerror(errno));
		return -1;
	}
	return 0;
}

static int dereg_region(struct region *r)
{
	int ret;

	if (!r->mr)
		return 0;
	ret = ibv_dereg_mr(r->mr);
	r->mr = NULL;
	if (ret)
		error("ibv_dereg_mr(%s): %s", r->name, strerror(ret));
	return ret ? -1 : 0;
}

static int setup_memory(struct test *t, size_t size, struct stats *st)
{
	unsigned long long us;

	if (alloc_region(&t->a, "A", size) || alloc_region(&t->b, "B", size) ||
	    alloc_region(&t->c, "C", size))
		return -1;
	/* B and C get their patterns at the start of every iteration. */
	fill_pattern(t->a.addr, size, SEED_A);

	if (reg_region(t, &t->a, &st->reg_first_us) || dereg_region(&t->a) ||
	    reg_region(t, &t->a, &st->reg_repeat_us))
		return -1;
	info("reg_mr A (%zu MiB): first %llu us, repeated %llu us",
	     size >> 20, st->reg_first_us, st->reg_repeat_us);
	/*
	 * A is pinned now, so its runs are exactly the physically contiguous
	 * runs ib_umem_get() merged into scatterlist entries (rxe's maximum
	 * segment size is UINT_MAX, so no run is split).
	 */
	if (layout_from_pagemap(0, (uintptr_t)t->a.addr, size,
				(uintptr_t)t->a.addr, &st->a_layout))
		info("no layout of A (pagemap needs root)");
	info("A while registered: %lu runs (sg entries), longest %lu pages, %lu congruent 2 MiB chunks",
	     st->a_layout.runs, st->a_layout.longest_run,
	     st->a_layout.chunks_2m);
	if (reg_region(t, &t->b, &us) || reg_region(t, &t->c, &us))
		return -1;
	return 0;
}

/* ------------------------------------------------------------ data path */

enum { WR_PENDING = -1, WR_OK = 0, WR_FAILED = 1 };

/* Polls until every posted WR completed or the timeout expired. */
static int poll_batch(struct test *t, unsigned int posted,
		      enum ibv_wc_opcode opcode)
{
	unsigned long long deadline = now_us() + POLL_TIMEOUT_MS * 1000ULL;
	const struct timespec nap = { 0, 50000 };
	unsigned int done = 0;
	struct ibv_wc wc[16];
	int i, n;

	while (done < posted) {
		n = ibv_poll_cq(t->cq, 16, wc);
		if (n < 0) {
			error("ibv_poll_cq: returned %d", n);
			return -1;
		}
		for (i = 0; i < n; i++) {
			uint64_t id = wc[i].wr_id;

			if (id >= posted || t->status[id] != WR_PENDING) {
				error("unexpected completion wr_id %llu",
				      (unsigned long long)id);
				continue;
			}
			done++;
			t->status[id] = WR_FAILED;
			if (wc[i].status != IBV_WC_SUCCESS)
				error("chunk %llu: completion status %s (%d)",
				      (unsigned long long)id,
				      ibv_wc_status_str(wc[i].status),
				      wc[i].status);
			else if (wc[i].opcode != opcode)
				error("chunk %llu: completion opcode %d, expected %d",
				      (unsigned long long)id, wc[i].opcode, opcode);
			else
				t->status[id] = WR_OK;
		}
		if (!n && now_us() > deadline) {
			error("timeout: %u of %u completions after %d ms",
			      done, posted, POLL_TIMEOUT_MS);
			return -1;
		}
		if (!n)
			nanosleep(&nap, NULL);
	}
	return 0;
}

/* Posts one signaled RDMA op per chunk on QP1 and waits for them. */
static int run_batch(struct test *t, enum ibv_wr_opcode op,
		     const struct region *local, const struct region *remote)
{
	enum ibv_wc_opcode wc_op = op == IBV_WR_RDMA_WRITE ?
				   IBV_WC_RDMA_WRITE : IBV_WC_RDMA_READ;
	struct ibv_send_wr wr, *bad_wr;
	struct ibv_sge sge;
	unsigned int i;
	int ret = 0;

	for (i = 0; i < t->nchunks; i++)
		t->status[i] = WR_PENDING;
	for (i = 0; i < t->nchunks; i++) {
		const struct chunk *ch = &t->chunks[i];

		sge.addr = (uintptr_t)(local->addr + ch->off);
		sge.length = (uint32_t)ch->len;
		sge.lkey = local->mr->lkey;
		memset(&wr, 0, sizeof(wr));
		wr.wr_id = i;
		wr.sg_list = &sge;
		wr.num_sge = 1;
		wr.opcode = op;
		wr.send_flags = IBV_SEND_SIGNALED;
		wr.wr.rdma.remote_addr = (uintptr_t)(remote->addr + ch->off);
		wr.wr.rdma.rkey = remote->mr->rkey;
		ret = ibv_post_send(t->qp[0], &wr, &bad_wr);
		if (ret) {
			error("ibv_post_send(chunk %u): %s", i, strerror(ret));
			break;
		}
	}
	if (poll_batch(t, i, wc_op))
		return -1;
	return ret ? -1 : 0;
}

/* RDMA WRITE A -> B, then verify B's chunks and everything around them. */
static int write_phase(struct test *t, struct stats *st, uint64_t seed_b)
{
	int ret = run_batch(t, IBV_WR_RDMA_WRITE, &t->a, &t->b);
	unsigned int i;
	size_t bad;

	for (i = 0; i < t->nchunks; i++) {
		const struct chunk *ch = &t->chunks[i];
		bool ok = t->status[i] == WR_OK;

		if (ok && !check_pattern(t->b.addr, ch->off, ch->off + ch->len,
					 SEED_A, &bad)) {
			report_mismatch(&t->b, bad, pattern_byte(bad, SEED_A),
					"inside written chunk");
			ok = false;
		}
		if (ok)
			st->writes_ok++;
		else
			st->failed++;
	}
	st->failed += check_gaps(t, &t->b, seed_b);
	return ret;
}

/* RDMA READ B -> C, then verify every byte read and C around the chunks. */
static int read_phase(struct test *t, struct stats *st, uint64_t seed_c)
{
	int ret = run_batch(t, IBV_WR_RDMA_READ, &t->c, &t->b);
	unsigned int i;
	size_t j;

	for (i = 0; i < t->nchunks; i++) {
		const struct chunk *ch = &t->chunks[i];
		const uint8_t *src = t->b.addr + ch->off;
		const uint8_t *dst = t->c.addr + ch->off;
		bool ok = t->status[i] == WR_OK;

		if (ok && memcmp(dst, src, ch->len)) {
			for (j = 0; dst[j] == src[j]; j++)
				;
			report_mismatch(&t->c, ch->off + j, src[j],
					"inside read chunk");
			ok = false;
		}
		if (ok)
			st->reads_ok++;
		else
			st->failed++;
	}
	st->failed += check_gaps(t, &t->c, seed_c);
	return ret;
}

static int run_iteration(struct test *t, struct stats *st, unsigned int iter)
{
	uint64_t seed_b = seed_for(iter, 0), seed_c = seed_for(iter, 1);
	unsigned int failed_before = st->failed;
	size_t bad;
	int ret;

	fill_pattern(t->b.addr, t->b.len, seed_b);
	fill_pattern(t->c.addr, t->c.len, seed_c);

	ret = write_phase(t, st, seed_b);
	if (!ret)
		ret = read_phase(t, st, seed_c);
	if (!ret && st->failed == failed_before)
		st->failed += check_gaps(t, &t->b, seed_b);	/* READ left B alone */
	if (!check_pattern(t->a.addr, 0, t->a.len, SEED_A, &bad)) {
		report_mismatch(&t->a, bad, pattern_byte(bad, SEED_A),
				"source buffer modified");
		st->failed++;
	}
	info("iteration %u: %s", iter + 1,
	     st->failed == failed_before && !ret ? "ok" : "FAILED");
	return ret;
}

/* --------------------------------------------------------------- teardown */

static unsigned int destroy_all(struct test *t)
{
	struct region *r[] = { &t->a, &t->b, &t->c };
	unsigned int errors = 0;
	int i, ret;

	/* QPs first, so nothing can still be in flight into the MRs. */
	for (i = 0; i < 2; i++) {
		ret = t->qp[i] ? ibv_destroy_qp(t->qp[i]) : 0;
		if (ret) {
			error("ibv_destroy_qp(QP%d): %s", i + 1, strerror(ret));
			errors++;
		}
	}
	for (i = 0; i < 3; i++)
		errors += dereg_region(r[i]) ? 1 : 0;
	ret = t->cq ? ibv_destroy_cq(t->cq) : 0;
	if (ret) {
		error("ibv_destroy_cq: %s", strerror(ret));
		errors++;
	}
	ret = t->pd ? ibv_dealloc_pd(t->pd) : 0;
	if (ret) {
		error("ibv_dealloc_pd: %s", strerror(ret));
		errors++;
	}
	if (t->ctx && ibv_close_device(t->ctx)) {
		error("ibv_close_device: %s", strerror(errno));
		errors++;
	}
	for (i = 0; i < 3; i++) {
		if (r[i]->addr && munmap(r[i]->addr, r[i]->len)) {
			error("munmap(%s): %s", r[i]->name, strerror(errno));
			errors++;
		}
	}
	free(t->chunks);
	free(t->status);
	return errors;
}

/* ------------------------------------------------------------------- main */

static int setup(struct test *t, const struct options *o, struct stats *st)
{
	size_t size = (size_t)o->size_mib << 20;

	if (open_device(t, o->dev) || query_port(t) ||
	    create_resources(t, o->offsets) ||
	    connect_qp(t, t->qp[0], t->qp[1]->qp_num) ||
	    connect_qp(t, t->qp[1], t->qp[0]->qp_num))
		return -1;
	info("QP1 %#x <-> QP2 %#x connected on %s port %d",
	     t->qp[0]->qp_num, t->qp[1]->qp_num, o->dev, PORT_NUM);
	if (plan_chunks(t, size, o->offsets))
		return -1;
	return setup_memory(t, size, st);
}

static void run_test(const struct options *o, struct stats *st)
{
	struct test t;
	unsigned int i;

	memset(&t, 0, sizeof(t));
	if (setup(&t, o, st)) {
		st->failed++;
	} else {
		for (i = 0; i < o->iters; i++)
			if (run_iteration(&t, st, i))
				break;
	}
	st->failed += destroy_all(&t);
}

static void print_result(const struct options *o, const struct stats *st)
{
	if (o->json)
		printf("{\"size_mib\": %u, \"writes_ok\": %u, \"reads_ok\": %u, "
		       "\"failed\": %u, \"reg_first_us\": %llu, "
		       "\"reg_repeat_us\": %llu, \"sg_entries\": %lu, "
		       "\"longest_run\": %lu, \"chunks_2m\": %lu, "
		       "\"chunks_1g\": %lu}\n",
		       o->size_mib, st->writes_ok, st->reads_ok, st->failed,
		       st->reg_first_us, st->reg_repeat_us, st->a_layout.runs,
		       st->a_layout.longest_run, st->a_layout.chunks_2m,
		       st->a_layout.chunks_1g);
	else
		printf(PROG ": RESULT size_mib=%u writes_ok=%u reads_ok=%u "
		       "failed=%u reg_first_us=%llu reg_repeat_us=%llu "
		       "sg_entries=%lu chunks_2m=%lu\n",
		       o->size_mib, st->writes_ok, st->reads_ok, st->failed,
		       st->reg_first_us, st->reg_repeat_us, st->a_layout.runs,
		       st->a_layout.chunks_2m);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct options o = {
		.dev = "rxe0", .size_mib = 64, .offsets = 16, .iters = 1,
	};
	struct stats st = { 0 };
	unsigned long long expected;
	int ret;

	info_out = stdout;
	ret = parse_options(argc, argv, &o);
	if (ret > 0) {
		usage(stdout);
		return 0;
	}
	if (o.json)
		info_out = stderr;	/* keep stdout a single JSON object */
	if (ret < 0) {
		usage(stderr);
		st.failed = 1;
		print_result(&o, &st);
		return 1;
	}

	info("device %s, size %u MiB, %u offsets, %u iteration(s)",
	     o.dev, o.size_mib, o.offsets, o.iters);
	run_test(&o, &st);
	print_result(&o, &st);

	expected = (unsigned long long)o.offsets * o.iters;
	return st.failed == 0 && st.writes_ok == expected &&
	       st.reads_ok == expected ? 0 : 1;
}
