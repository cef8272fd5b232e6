// SPDX-License-Identifier: GPL-2.0
/*
 * rdma_loopback - RDMA data-integrity test over a loopback RC connection
 * on a single (soft-RoCE) device.
 *
 * What it checks:
 *   - Two RC QPs on the same device are connected to each other through
 *     the port's own RoCE v2 (IPv4-mapped) GID, so every operation goes
 *     through the full RoCE transport path of the driver.
 *   - Three 2 MiB-aligned buffers are mapped (--backing: private anonymous
 *     memory with THP as the system says, with MADV_HUGEPAGE or with
 *     MADV_NOHUGEPAGE, or a shared memfd) and registered: A, the buffer
 *     under test, and its peers B and C (--peer-size, A's size unless
 *     smaller). The first and a repeated ibv_reg_mr() of A are timed
 *     (memory pinning cost; --no-repeat registers A once).
 *     --while-registered lets a caller look at them while they are
 *     registered.
 *   - RDMA WRITEs copy chunks of A into B at offsets spread over the whole
 *     buffers (first and last page included, plus one chunk with an
 *     unaligned start and length). Each chunk must arrive intact and every
 *     byte of B outside the chunks, in particular the bytes right before
 *     and after each chunk, must be untouched.
 *   - RDMA READs copy the same chunks of B back into C; every byte read
 *     must match B, and C outside the chunks must be untouched.
 *   - The source buffer A must never change.
 *
 * Then, unless --skip-extra, the other data paths of the driver:
 *   - Atomics: on each of up to 64 words of B (the first and the last, one
 *     in each chunk, the words on either side of 1 GiB and 2 MiB
 *     boundaries) a fetch-and-add, a compare-and-swap that matches, one
 *     that does not and one that restores the word. Each must return what
 *     the word held into C at the same offset and leave the right value.
 *   - SEND/RECV: A's chunks are sent on QP1 into receives that QP2 posted
 *     at the same offsets of B.
 *   - Memory windows: a type 2 window over a range of B that starts inside
 *     a page and spans a 2 MiB boundary, bound by a bind WR on QP2 (a type
 *     2 window serves the QP that bound it, and QP2 serves QP1's requests).
 *     RDMA WRITEs and READs through its rkey hit its first and last bytes
 *     and the boundary. Then the same through a type 1 window bound with
 *     ibv_bind_mw(), unless the device has no type 1 windows.
 *   - Sub-page MRs: two more MRs over parts of A that start and end inside
 *     a page, one across a 2 MiB boundary, each the local and the remote
 *     side of a WRITE and of a READ. A transfer into A brings back bytes
 *     that came from it, over a copy inverted just before, so one that
 *     moves nothing is caught; afterwards A must hold its pattern again.
 *   Atomics and transfers into B and C must change nothing else there.
 *
 * With --populated PCT, only that share of A's pages (spread evenly) is
 * written before A is registered: the registration's pin populates the
 * rest, which must read zero; then they get the pattern like the others.
 * With --fork, a child shares A copy-on-write from before A's
 * registration (whose writable pin gives the parent copies of its own) to
 * the end: the child's copy must keep the pattern whatever the transfers
 * into the parent's A did, and the child's writes must not reach it.
 * With --memcg DIR, the process runs in that memory cgroup (v2), and the
 * growth of its memory.current over A's first registration is reported
 * (memcg_reg_bytes): what the pin, or contig for it, charged.
 *
 * With --reg-cycles N, A is finally deregistered and registered again N
 * times (timed), each time followed by a WRITE and a READ of four chunks
 * through the new MR: a registration loop a caller checks for leaks.
 *
 * Why: memory registration, page pinning and the per-page DMA mapping of
 * user memory are easy to get subtly wrong (off-by-one pages, wrong page
 * for mid-page offsets, stale mappings after re-registration). An MR maps
 * its memory in pages as large as the memory allows (2 MiB or 1 GiB when
 * it is physically contiguous), and each data path translates addresses
 * on its own, so each one is run at offsets across the whole MR, next to
 * 2 MiB boundaries included. The fill patterns are chosen so that every
 * byte of A, B and C differs from the byte at the same offset in the
 * other buffers, so a single misplaced or missing byte is detected.
 *
 * Usage: rdma_loopback [--dev rxe0] [--size MiB] [--peer-size MiB]
 *                      [--offsets N] [--iters N]
 *                      [--backing anon|thp|nothp|memfd] [--reg-cycles N]
 *                      [--no-repeat] [--while-registered CMD]
 *                      [--skip-extra] [--json]
 * Exit status is 0 only if every operation completed and verified.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <infiniband/verbs.h>

#include "lib/layout.h"
#include "lib/membuf.h"
#include "lib/memcg.h"
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROG		"rdma_loopback"
#define PORT_NUM	1
#define CHUNK_BYTES	(64 * 1024)
#define ODD_START	123		/* unaligned start inside a page */
#define ODD_LEN		(4096 + 77)	/* unaligned length crossing a page */
#define POLL_TIMEOUT_MS	10000
#define SEED_A		0x0123456789abcdefULL

#define SZ_2M		((size_t)2 << 20)
#define SZ_1G		((size_t)1 << 30)
#define ALIGN_DOWN(x, a)	((x) & ~((size_t)(a) - 1))
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))

#define ACCESS_DATA	(IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | \
			 IBV_ACCESS_REMOTE_READ)
/* B is also the target of the atomics and the memory windows. */
#define ACCESS_B	(ACCESS_DATA | IBV_ACCESS_REMOTE_ATOMIC | \
			 IBV_ACCESS_MW_BIND)

#define MAX_ATOMIC_TARGETS	64
#define MAX_1G_PAIRS		4
#define MAX_CHUNK_TARGETS	16
#define ATOMIC_ADD	0x0101010101010101ULL	/* changes every byte */
#define ATOMIC_MISS	0x8000000000000001ULL	/* makes a compare fail */

/* A window holds a 2 MiB boundary with room for a span on either side. */
#define MW_LEN		(SZ_2M + 3 * ODD_LEN + 123)
#define SUB_MR_LEN1	(2 * 4096 + 1000)
#define SUB_MR_LEN2	(3 * 4096 + 5)
#define CYCLE_CHUNKS	4
#define MW_SPANS	3	/* first, last, around a 2 MiB boundary */

enum backing { BACK_ANON, BACK_THP, BACK_NOTHP, BACK_MEMFD };
static const char * const backing_names[] = { "anon", "thp", "nothp", "memfd" };

struct options {
	const char *dev;
	bool no_repeat;
	const char *while_registered;
	unsigned int size_mib;
	unsigned int peer_mib;		/* B and C; 0: as large as A */
	unsigned int offsets;
	unsigned int iters;
	unsigned int reg_cycles;
	enum backing backing;
	bool skip_extra;
	unsigned int populated_pct;	/* --populated */
	bool fork_child;		/* --fork */
	const char *memcg;		/* --memcg */
	bool json;
};

struct stats {
	unsigned int writes_ok;
	unsigned int reads_ok;
	unsigned int failed;
	unsigned long long reg_first_us;
	unsigned long long reg_repeat_us;
	struct layout a_layout;	/* buffer A while registered (pinned) */
	/* *_want: operations planned, so that one never run is a failure */
	unsigned int atomics_ok, atomics_want;
	unsigned int sends_ok, sends_want;
	unsigned int mw_ok, mw_want;
	unsigned int submr_ok, submr_want;
	unsigned int reg_cycles;		/* cycles that verified */
	unsigned int reg_cycle_regs;		/* registrations timed */
	unsigned long long reg_cycle_us;	/* their total time */
	long memcg_reg_bytes;	/* --memcg: growth over A's registration */
};

struct region {
	const char *name;
	uint8_t *addr;
	size_t len;
	int memfd;		/* -1 unless the backing is a memfd */
	struct ibv_mr *mr;
};

/* The same bytes of A and of the peers B and C, which can be smaller. */
struct chunk {
	size_t off;	/* in A */
	size_t poff;	/* in B and C */
	size_t len;
};

enum { WR_PENDING = -1, WR_OK = 0, WR_FAILED = 1 };

/* What became of one posted WR; its wr_id is its index in test.wrs. */
struct wr_state {
	int status;
	enum ibv_wc_opcode opcode;	/* the completion it must get */
	uint32_t byte_len;		/* of a receive */
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
	struct wr_state *wrs;	/* the WRs of the current batch */
	/*
	 * A post failed or completions timed out: what is still queued
	 * could complete into a later batch, so no more operations.
	 */
	bool broken;
	unsigned int populated_pct;	/* of A's pages written before reg */
	pid_t child;			/* --fork: shares A, or -1 */
	int child_go;			/* a byte there: check your copy */
	const char *memcg;		/* --memcg, or NULL */
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
		"       [--size MiB (default 64)] [--peer-size MiB]\n"
		"       [--offsets N (default 16)] [--iters N (default 1)]\n"
		"       [--backing anon|thp|nothp|memfd (default anon)]\n"
		"       [--reg-cycles N (default 0)] [--no-repeat]\n"
		"       [--while-registered CMD] [--skip-extra]\n"
		"       [--populated PCT] [--fork] [--memcg DIR] [--json]\n"
		"  --size MiB      size of A, the buffer under test\n"
		"  --peer-size MiB size of B and C, at most and by default\n"
		"                  --size: A's chunks go to offsets spread\n"
		"                  over them\n"
		"  --backing B     memory of A, B and C: anon (THP as the\n"
		"                  system says), thp (MADV_HUGEPAGE),\n"
		"                  nothp (MADV_NOHUGEPAGE), memfd (shared)\n"
		"  --reg-cycles N  then deregister and register A N times,\n"
		"                  each with a WRITE and READ of 4 chunks\n"
		"  --no-repeat     register A once, not twice\n"
		"  --while-registered CMD\n"
		"                  then run CMD with sh, its stdout to stderr\n"
		"  --skip-extra    WRITE and READ only: no atomics,\n"
		"                  SEND/RECV, MW or sub-page MR phases\n"
		"  --populated PCT write only PCT %% of A's pages before its\n"
		"                  registration; the rest must read zero\n"
		"  --fork          a child shares A copy-on-write across its\n"
		"                  registration; each side keeps its own bytes\n"
		"  --memcg DIR     run in the memory cgroup DIR (cgroup v2) and\n"
		"                  report what memory.current grew by over A's\n"
		"                  first registration\n");
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

static int parse_backing(const char *s, enum backing *out)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(backing_names); i++) {
		if (!strcmp(s, backing_names[i])) {
			*out = i;
			return 0;
		}
	}
	error("invalid --backing '%s' (expected anon, thp, nothp or memfd)", s);
	return -1;
}

/* Returns 0 to run, 1 for --help, -1 on a usage error. */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "dev",	required_argument, NULL, 'd' },
		{ "size",	required_argument, NULL, 's' },
		{ "offsets",	required_argument, NULL, 'o' },
		{ "iters",	required_argument, NULL, 'i' },
		{ "backing",	required_argument, NULL, 'b' },
		{ "reg-cycles",	required_argument, NULL, 'r' },
		{ "peer-size",	required_argument, NULL, 'p' },
		{ "no-repeat",	no_argument,	   NULL, 'n' },
		{ "while-registered", required_argument, NULL, 'w' },
		{ "skip-extra",	no_argument,	   NULL, 'x' },
		{ "populated",	required_argument, NULL, 'P' },
		{ "fork",	no_argument,	   NULL, 'F' },
		{ "memcg",	required_argument, NULL, 'M' },
		{ "json",	no_argument,	   NULL, 'j' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "d:s:o:i:b:r:p:nw:xP:FM:jh", longopts,
				NULL)) != -1) {
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
		case 'b':
			if (parse_backing(optarg, &o->backing))
				return -1;
			break;
		case 'r':
			if (parse_uint("reg-cycles", optarg, 0, 1000000,
				       &o->reg_cycles))
				return -1;
			break;
		case 'p':
			if (parse_uint("peer-size", optarg, 1, 65536,
				       &o->peer_mib))
				return -1;
			break;
		case 'n':
			o->no_repeat = true;
			break;
		case 'w':
			o->while_registered = optarg;
			break;
		case 'x':
			o->skip_extra = true;
			break;
		case 'P':
			if (parse_uint("populated", optarg, 0, 100,
				       &o->populated_pct))
				return -1;
			break;
		case 'M':
			o->memcg = optarg;
			break;
		case 'F':
			o->fork_child = true;
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
	/* A's bytes go to B at the same offsets in some phases */
	if (o->peer_mib > o->size_mib) {
		error("--peer-size %u is larger than --size %u", o->peer_mib,
		      o->size_mib);
		return -1;
	}
	if (!o->peer_mib)
		o->peer_mib = o->size_mib;
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

/* Puts the pattern back into [start, end) after an operation changed it. */
static void fill_range(uint8_t *buf, size_t start, size_t end, uint64_t seed)
{
	size_t i;

	for (i = start; i < end; i++)
		buf[i] = pattern_byte(i, seed);
}

static void restore_chunks(const struct region *r, const struct chunk *ch,
			   unsigned int n, uint64_t seed)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		fill_range(r->addr, ch[i].poff, ch[i].poff + ch[i].len, seed);
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

/* Is [start, end) of @r the pattern @seed? Reports the first bad byte. */
static bool range_intact(const struct region *r, size_t start, size_t end,
			 uint64_t seed, const char *where)
{
	size_t bad;

	if (check_pattern(r->addr, start, end, seed, &bad))
		return true;
	report_mismatch(r, bad, pattern_byte(bad, seed), where);
	return false;
}

/* Are the @len bytes at @off of @r those at @src? */
static bool same_bytes(const struct region *r, size_t off, const uint8_t *src,
		       size_t len, const char *where)
{
	const uint8_t *dst = r->addr + off;
	size_t j;

	if (!memcmp(dst, src, len))
		return true;
	for (j = 0; dst[j] == src[j]; j++)
		;
	report_mismatch(r, off + j, src[j], where);
	return false;
}

/* Does chunk @ch of the peer @r hold what A holds there? */
static bool holds_a(const struct test *t, const struct region *r,
		    const struct chunk *ch, const char *where)
{
	return same_bytes(r, ch->poff, t->a.addr + ch->off, ch->len, where);
}

/*
 * Verifies that every byte of the peer @r outside the @n chunks (sorted,
 * not overlapping) still holds the pattern @seed. Returns the number of
 * damaged gaps.
 */
static unsigned int check_gaps(const struct region *r, const struct chunk *ch,
			       unsigned int n, uint64_t seed)
{
	unsigned int i, bad_gaps = 0;
	size_t pos = 0, bad;
	char where[96];

	for (i = 0; i <= n; i++) {
		size_t end = i < n ? ch[i].poff : r->len;

		if (!check_pattern(r->addr, pos, end, seed, &bad)) {
			if (i > 0 && bad == pos)
				snprintf(where, sizeof(where),
					 "byte right after chunk %u", i - 1);
			else if (i < n && bad + 1 == end)
				snprintf(where, sizeof(where),
					 "byte right before chunk %u", i);
			else
				snprintf(where, sizeof(where),
					 "outside the chunks, before chunk %u", i);
			report_mismatch(r, bad, pattern_byte(bad, seed), where);
			bad_gaps++;
		}
		if (i < n)
			pos = ch[i].poff + ch[i].len;
	}
	return bad_gaps;
}

/*
 * Like check_gaps(), but only the page on either side of each chunk: for
 * loops that cannot afford a pass over the whole buffer every time.
 */
static unsigned int check_guards(const struct region *r, const struct chunk *ch,
				 unsigned int n, uint64_t seed)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), prev_end = 0;
	unsigned int i, bad = 0;

	for (i = 0; i < n; i++) {
		size_t end = ch[i].poff + ch[i].len;
		size_t lo = ch[i].poff > prev_end + page ?
			    ch[i].poff - page : prev_end;
		size_t next = i + 1 < n ? ch[i + 1].poff : r->len;
		size_t hi = end + page < next ? end + page : next;

		bad += !range_intact(r, lo, ch[i].poff, seed, "before a chunk");
		bad += !range_intact(r, end, hi, seed, "after a chunk");
		prev_end = end;
	}
	return bad;
}

/* Does A still hold its pattern? If not, it gets it back for what follows. */
static bool a_intact(struct test *t, const char *where)
{
	if (range_intact(&t->a, 0, t->a.len, SEED_A, where))
		return true;
	fill_pattern(t->a.addr, t->a.len, SEED_A);
	return false;
}

static void tally(struct stats *st, unsigned int *ok_count, bool ok)
{
	if (ok)
		(*ok_count)++;
	else
		st->failed++;
}

/* ------------------------------------------------------------ chunk setup */

/* Offset of the first page of chunk @i of @n in @pages pages. */
static size_t spread(size_t i, unsigned int n, size_t pages,
		     size_t chunk_pages, size_t page)
{
	return (n > 1 ? i * (pages - chunk_pages) / (n - 1) : 0) * page;
}

/*
 * Spreads the chunks evenly over A and, at the same index, over the peers
 * (the same offsets unless they are smaller): chunk 0 starts at the first
 * page, the last chunk ends at the last byte. One chunk gets an unaligned
 * start and length. Chunks never overlap.
 */
static int plan_chunks(struct test *t, size_t size, size_t peer,
		       unsigned int n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t pages = size / page, ppages = peer / page, chunk_pages, i;
	unsigned int odd = n >= 3 ? n / 2 : 0;

	if (ppages / n < 2) {
		error("--%s too small for %u offsets (need 2 pages each)",
		      peer < size ? "peer-size" : "size", n);
		return -1;
	}
	chunk_pages = CHUNK_BYTES / page;
	if (chunk_pages < 2)
		chunk_pages = 2;
	if (chunk_pages > ppages / n)
		chunk_pages = ppages / n;

	/* A SEND/RECV batch has a WR on either side for each chunk. */
	t->chunks = calloc(n, sizeof(*t->chunks));
	t->wrs = calloc(2 * n + CYCLE_CHUNKS, sizeof(*t->wrs));
	if (!t->chunks || !t->wrs) {
		error("calloc: %s", strerror(errno));
		return -1;
	}
	t->nchunks = n;
	for (i = 0; i < n; i++) {
		t->chunks[i].off = spread(i, n, pages, chunk_pages, page);
		t->chunks[i].poff = spread(i, n, ppages, chunk_pages, page);
		t->chunks[i].len = chunk_pages * page;
	}
	t->chunks[odd].off += ODD_START;
	t->chunks[odd].poff += ODD_START;
	t->chunks[odd].len = ODD_LEN;

	info("%u chunks of %zu bytes, last at %#zx; chunk %u unaligned: %#zx+%zu",
	     n, chunk_pages * page, t->chunks[n - 1].off, odd,
	     t->chunks[odd].off, t->chunks[odd].len);
	for (i = 0; n <= 32 && i < n; i++) {
		if (peer == size)
			info("chunk %zu: offset %#zx length %zu", i,
			     t->chunks[i].off, t->chunks[i].len);
		else
			info("chunk %zu: offset %#zx (B and C %#zx) length %zu",
			     i, t->chunks[i].off, t->chunks[i].poff,
			     t->chunks[i].len);
	}
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
	/*
	 * A batch has at most one WR per chunk on either queue, or one per
	 * chunk of a registration cycle or span of a memory window
	 * (MW_SPANS <= CYCLE_CHUNKS).
	 */
	unsigned int sq_depth = depth > CYCLE_CHUNKS ? depth : CYCLE_CHUNKS;
	struct ibv_qp_init_attr qa = {
		.qp_type = IBV_QPT_RC,
		.cap = {
			.max_send_wr = sq_depth,
			.max_recv_wr = depth,
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
	/* the responder checks atomics against the QP's access too */
	attr.qp_access_flags = ACCESS_DATA | IBV_ACCESS_REMOTE_ATOMIC;
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

/*
 * 2 MiB-aligned, so that THPs can back it and its virtual and physical
 * addresses can agree modulo 2 MiB, which large MR pages need.
 */
static int alloc_region(struct region *r, const char *name, size_t len,
			enum backing backing)
{
	int advice = backing == BACK_THP ? MADV_HUGEPAGE :
		     backing == BACK_NOTHP ? MADV_NOHUGEPAGE : -1;
	char memfd_name[32];
	void *p;

	r->name = name;
	if (backing == BACK_MEMFD) {
		snprintf(memfd_name, sizeof(memfd_name), PROG "-%s", name);
		r->memfd = memfd_create(memfd_name, MFD_CLOEXEC);
		if (r->memfd < 0 || ftruncate(r->memfd, (off_t)len)) {
			error("memfd for %s (%zu bytes): %s", name, len,
			      strerror(errno));
			return -1;
		}
	}
	p = membuf_map(len, r->memfd, advice);
	if (!p) {
		error("mapping %s (%zu bytes of %s memory): %s", name, len,
		      backing_names[backing], strerror(errno));
		return -1;
	}
	r->addr = p;
	r->len = len;
	return 0;
}

/* Registers @r; returns the time ibv_reg_mr() took, in *us. */
static int reg_region(struct test *t, struct region *r, int access,
		      unsigned long long *us)
{
	unsigned long long start = now_us();

	r->mr = ibv_reg_mr(t->pd, r->addr, r->len, access);
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

/* --populated: A's pages written before its registration, spread evenly */
static bool written_before(const struct test *t, size_t page)
{
	return (page * t->populated_pct) % 100 < t->populated_pct;
}

/*
 * Fill A's pages written before the registration (!@holes), or check that
 * the others read zero and fill them (@holes); returns the pages that did
 * not read zero.
 */
static size_t fill_a(struct test *t, bool holes)
{
	size_t page, off, bad = 0;

	for (page = 0; page * 4096 < t->a.len; page++) {
		off = page * 4096;
		if (written_before(t, page) == holes)
			continue;
		if (holes) {
			size_t i;

			for (i = 0; i < 4096 && !t->a.addr[off + i]; i++)
				;
			bad += i < 4096;
		}
		fill_range(t->a.addr, off, off + 4096, SEED_A);
	}
	if (holes && t->populated_pct < 100 && !bad)
		info("the %u%% of A's pages its registration populated read zero",
		     100 - t->populated_pct);
	return bad;
}

/* --fork: the byte the child writes at @off of its copy of A */
static uint8_t flipped(size_t off)
{
	return (uint8_t)(0xff - pattern_byte(off, SEED_A));
}

/*
 * --fork: the child shares A until told (a byte on the pipe) to check its
 * copy: the pattern, whatever the parent's transfers did to its own; then
 * it inverts a byte of every 64th page and checks that. Exits 0 if all
 * held.
 */
static int fork_child(struct test *t)
{
	size_t bad = 0, off;
	int fds[2];
	char c;

	if (pipe(fds)) {
		error("pipe: %s", strerror(errno));
		return -1;
	}
	t->child = fork();
	if (t->child < 0) {
		error("fork: %s", strerror(errno));
		return -1;
	}
	if (t->child) {
		close(fds[0]);
		t->child_go = fds[1];
		info("child %d shares A copy-on-write", (int)t->child);
		return 0;
	}
	close(fds[1]);
	if (read(fds[0], &c, 1) != 1)
		_exit(2);
	if (!check_pattern(t->a.addr, 0, t->a.len, SEED_A, &off))
		bad++;
	for (off = 0; off < t->a.len; off += 64 * 4096)
		t->a.addr[off] = flipped(off);
	for (off = 0; off < t->a.len; off += 64 * 4096)
		bad += t->a.addr[off] != flipped(off);
	_exit(bad ? 1 : 0);
}

/* --fork: let the child check and write its copy; A must not see that */
static unsigned int fork_finish(struct test *t)
{
	int status = -1;
	size_t bad;
	bool ok;

	if (t->child <= 0)
		return 0;
	if (write(t->child_go, "g", 1) != 1 ||
	    waitpid(t->child, &status, 0) < 0)
		status = -1;
	close(t->child_go);
	t->child = -1;
	ok = check_pattern(t->a.addr, 0, t->a.len, SEED_A, &bad);
	info("fork: the child's copy of A %s, the parent's A %s",
	     WIFEXITED(status) && !WEXITSTATUS(status) ? "intact" :
	     "NOT intact", ok ? "intact" : "changed");
	if (!ok)
		report_mismatch(&t->a, bad, pattern_byte(bad, SEED_A),
				"the child's writes reached the parent's A");
	return !ok + !(WIFEXITED(status) && !WEXITSTATUS(status));
}

static int setup_memory(struct test *t, size_t size, size_t peer,
			enum backing backing, bool repeat, struct stats *st)
{
	unsigned long long us;
	long memcg, now;

	if (alloc_region(&t->a, "A", size, backing) ||
	    alloc_region(&t->b, "B", peer, backing) ||
	    alloc_region(&t->c, "C", peer, backing))
		return -1;
	/* B and C get their patterns at the start of every iteration. */
	fill_a(t, false);
	if (t->child == 0 && fork_child(t))
		return -1;

	memcg = t->memcg ? memcg_current(t->memcg) : -1;
	if (reg_region(t, &t->a, ACCESS_DATA, &st->reg_first_us))
		return -1;
	now = memcg >= 0 ? memcg_current(t->memcg) : -1;
	if (now >= 0) {
		st->memcg_reg_bytes = now - memcg;
		info("memcg %s: memory.current grew by %ld bytes over A's registration",
		     t->memcg, st->memcg_reg_bytes);
	}
	/* What the pin populated reads zero; then it gets the pattern */
	if (fill_a(t, true)) {
		error("pages of A the registration populated did not read zero");
		st->failed++;
	}
	if (repeat && (dereg_region(&t->a) ||
		       reg_region(t, &t->a, ACCESS_DATA, &st->reg_repeat_us)))
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
	if (reg_region(t, &t->b, ACCESS_B, &us) ||
	    reg_region(t, &t->c, ACCESS_DATA, &us))
		return -1;
	return 0;
}

/*
 * Runs @cmd with sh while the MRs exist, e.g. to take a snapshot of what
 * the kernel made of them. posix_spawn() rather than fork(): a fork would
 * copy every pinned page of the buffers for the child. Its stdout goes to
 * stderr, so that ours stays one JSON object.
 */
static int run_while_registered(const char *cmd)
{
	char sh[] = "sh", dash_c[] = "-c";
	char *const argv[] = { sh, dash_c, (char *)cmd, NULL };
	posix_spawn_file_actions_t fa;
	int ret, status;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	ret = posix_spawn_file_actions_init(&fa);
	if (!ret)
		ret = posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO,
						       STDOUT_FILENO);
	if (!ret)
		ret = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (ret) {
		error("--while-registered: cannot run /bin/sh: %s",
		      strerror(ret));
		return -1;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			error("waitpid: %s", strerror(errno));
			return -1;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		error("--while-registered command failed (wait status %#x)",
		      status);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ data path */

static enum ibv_wc_opcode wc_opcode(enum ibv_wr_opcode op)
{
	switch (op) {
	case IBV_WR_RDMA_WRITE:
		return IBV_WC_RDMA_WRITE;
	case IBV_WR_RDMA_READ:
		return IBV_WC_RDMA_READ;
	case IBV_WR_ATOMIC_FETCH_AND_ADD:
		return IBV_WC_FETCH_ADD;
	case IBV_WR_ATOMIC_CMP_AND_SWP:
		return IBV_WC_COMP_SWAP;
	case IBV_WR_BIND_MW:
		return IBV_WC_BIND_MW;
	default:
		return IBV_WC_SEND;
	}
}

/* Expects WRs @first..@first + @n - 1 to complete with @opcode. */
static void begin_batch(struct test *t, unsigned int first, unsigned int n,
			enum ibv_wc_opcode opcode)
{
	unsigned int i;

	for (i = first; i < first + n; i++) {
		t->wrs[i].status = WR_PENDING;
		t->wrs[i].opcode = opcode;
		t->wrs[i].byte_len = 0;
	}
}

/* Polls until WRs 0..@posted - 1 completed or the timeout expired. */
static int poll_batch(struct test *t, unsigned int posted)
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
			t->broken = true;
			return -1;
		}
		for (i = 0; i < n; i++) {
			uint64_t id = wc[i].wr_id;
			struct wr_state *s;

			if (id >= posted || t->wrs[id].status != WR_PENDING) {
				error("unexpected completion wr_id %llu",
				      (unsigned long long)id);
				continue;
			}
			s = &t->wrs[id];
			done++;
			s->status = WR_FAILED;
			if (wc[i].status != IBV_WC_SUCCESS)
				error("WR %llu: completion status %s (%d)",
				      (unsigned long long)id,
				      ibv_wc_status_str(wc[i].status),
				      wc[i].status);
			else if (wc[i].opcode != s->opcode)
				error("WR %llu: completion opcode %d, expected %d",
				      (unsigned long long)id, wc[i].opcode,
				      s->opcode);
			else
				s->status = WR_OK;
			s->byte_len = wc[i].byte_len;
		}
		if (!n && now_us() > deadline) {
			error("timeout: %u of %u completions after %d ms",
			      done, posted, POLL_TIMEOUT_MS);
			t->broken = true;
			return -1;
		}
		if (!n)
			nanosleep(&nap, NULL);
	}
	return 0;
}

/* A signaled WR moving @len bytes at @laddr (@lkey) to or from the peer. */
static void data_wr(struct ibv_send_wr *wr, struct ibv_sge *sge,
		    enum ibv_wr_opcode op, void *laddr, size_t len,
		    uint32_t lkey, void *raddr, uint32_t rkey)
{
	sge->addr = (uintptr_t)laddr;
	sge->length = (uint32_t)len;
	sge->lkey = lkey;
	memset(wr, 0, sizeof(*wr));
	wr->sg_list = sge;
	wr->num_sge = 1;
	wr->opcode = op;
	wr->send_flags = IBV_SEND_SIGNALED;
	wr->wr.rdma.remote_addr = (uintptr_t)raddr;
	wr->wr.rdma.rkey = rkey;
}

/* Where chunk @ch is in @r: A and the peers can differ in size. */
static uint8_t *chunk_addr(const struct test *t, const struct region *r,
			   const struct chunk *ch)
{
	return r->addr + (r == &t->a ? ch->off : ch->poff);
}

/*
 * Posts one signaled RDMA op per chunk on QP1, between @local and @remote
 * at the chunk's offsets, with @rkey (the remote MR's or a memory
 * window's), and waits for them.
 */
static int run_batch(struct test *t, enum ibv_wr_opcode op,
		     const struct region *local, const struct region *remote,
		     uint32_t rkey, const struct chunk *ch, unsigned int n)
{
	struct ibv_send_wr wr, *bad_wr;
	struct ibv_sge sge;
	unsigned int i;
	int ret = 0;

	begin_batch(t, 0, n, wc_opcode(op));
	for (i = 0; i < n; i++) {
		data_wr(&wr, &sge, op, chunk_addr(t, local, &ch[i]), ch[i].len,
			local->mr->lkey, chunk_addr(t, remote, &ch[i]), rkey);
		wr.wr_id = i;
		ret = ibv_post_send(t->qp[0], &wr, &bad_wr);
		if (ret) {
			error("ibv_post_send(chunk %u): %s", i, strerror(ret));
			t->broken = true;
			break;
		}
	}
	if (poll_batch(t, i))
		return -1;
	return ret ? -1 : 0;
}

/* Posts @wr on @qp and waits for it: did it complete successfully? */
static bool post_and_wait(struct test *t, struct ibv_qp *qp,
			  struct ibv_send_wr *wr, const char *what)
{
	struct ibv_send_wr *bad_wr;
	int ret;

	begin_batch(t, 0, 1, wc_opcode(wr->opcode));
	wr->wr_id = 0;
	wr->send_flags |= IBV_SEND_SIGNALED;
	ret = ibv_post_send(qp, wr, &bad_wr);
	if (ret) {
		error("ibv_post_send(%s): %s", what, strerror(ret));
		t->broken = true;
		return false;
	}
	if (!poll_batch(t, 1) && t->wrs[0].status == WR_OK)
		return true;
	error("%s did not complete", what);
	return false;
}

/* One RDMA WRITE or READ on QP1; all addresses are explicit. */
static bool rdma_one(struct test *t, enum ibv_wr_opcode op, void *laddr,
		     size_t len, uint32_t lkey, void *raddr, uint32_t rkey,
		     const char *what)
{
	struct ibv_send_wr wr;
	struct ibv_sge sge;

	data_wr(&wr, &sge, op, laddr, len, lkey, raddr, rkey);
	return post_and_wait(t, t->qp[0], &wr, what);
}

/* RDMA WRITE A -> B, then verify B's chunks and everything around them. */
static int write_phase(struct test *t, struct stats *st, uint64_t seed_b)
{
	int ret = run_batch(t, IBV_WR_RDMA_WRITE, &t->a, &t->b,
			    t->b.mr->rkey, t->chunks, t->nchunks);
	unsigned int i;

	for (i = 0; i < t->nchunks; i++)
		tally(st, &st->writes_ok, t->wrs[i].status == WR_OK &&
		      holds_a(t, &t->b, &t->chunks[i], "inside written chunk"));
	st->failed += check_gaps(&t->b, t->chunks, t->nchunks, seed_b);
	return ret;
}

/* RDMA READ B -> C, then verify every byte read and C around the chunks. */
static int read_phase(struct test *t, struct stats *st, uint64_t seed_c)
{
	int ret = run_batch(t, IBV_WR_RDMA_READ, &t->c, &t->b,
			    t->b.mr->rkey, t->chunks, t->nchunks);
	unsigned int i;

	for (i = 0; i < t->nchunks; i++) {
		const struct chunk *ch = &t->chunks[i];

		tally(st, &st->reads_ok, t->wrs[i].status == WR_OK &&
		      same_bytes(&t->c, ch->poff, t->b.addr + ch->poff, ch->len,
				 "inside read chunk"));
	}
	st->failed += check_gaps(&t->c, t->chunks, t->nchunks, seed_c);
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
	if (!ret && st->failed == failed_before)	/* READ left B alone */
		st->failed += check_gaps(&t->b, t->chunks, t->nchunks, seed_b);
	if (!check_pattern(t->a.addr, 0, t->a.len, SEED_A, &bad)) {
		report_mismatch(&t->a, bad, pattern_byte(bad, SEED_A),
				"source buffer modified");
		st->failed++;
	}
	info("iteration %u: %s", iter + 1,
	     st->failed == failed_before && !ret ? "ok" : "FAILED");
	return ret;
}

/* ---------------------------------------------------------------- atomics */

struct targets {
	size_t off[MAX_ATOMIC_TARGETS];
	unsigned int n;
};

static void add_target(struct targets *tg, size_t off)
{
	unsigned int i;

	if (tg->n == MAX_ATOMIC_TARGETS)
		return;
	for (i = 0; i < tg->n; i++)
		if (tg->off[i] == off)
			return;
	tg->off[tg->n++] = off;
}

/*
 * The words on either side of at most @max of the multiples of @step in
 * (0, @len), spread evenly over them, the first and the last included.
 */
static void add_boundary_pairs(struct targets *tg, size_t len, size_t step,
			       size_t max)
{
	size_t nb = (len - 1) / step, k = nb < max ? nb : max, j;

	for (j = 0; j < k; j++) {
		size_t b = (k > 1 ? 1 + j * (nb - 1) / (k - 1) : 1) * step;

		add_target(tg, b - 8);
		add_target(tg, b);
	}
}

/* In order of importance, as there is room for MAX_ATOMIC_TARGETS only. */
static void plan_atomic_targets(const struct test *t, struct targets *tg)
{
	unsigned int n = t->nchunks, j;
	unsigned int k = n < MAX_CHUNK_TARGETS ? n : MAX_CHUNK_TARGETS;

	tg->n = 0;
	add_target(tg, 0);
	add_target(tg, t->b.len - 8);
	add_boundary_pairs(tg, t->b.len, SZ_1G, MAX_1G_PAIRS);
	for (j = 0; j < k; j++) {
		const struct chunk *ch = &t->chunks[k > 1 ?
						    j * (n - 1) / (k - 1) : 0];

		add_target(tg, ALIGN_DOWN(ch->poff + ch->len / 2, 8));
	}
	add_boundary_pairs(tg, t->b.len, SZ_2M,
			   (MAX_ATOMIC_TARGETS - tg->n) / 2);
}

struct atomic_op {
	const char *name;
	enum ibv_wr_opcode opcode;
	uint64_t compare_add;
	uint64_t swap;
	uint64_t want_orig;	/* what it must return: the word before it */
	uint64_t want_word;	/* what the word must hold after it */
};

/*
 * Four operations on a word that holds @old, which leave it as it was:
 * each value differs from the one before in every byte, so a lost or
 * partial update shows.
 */
static void plan_atomic_ops(uint64_t old, struct atomic_op op[4])
{
	uint64_t added = old + ATOMIC_ADD, swapped = ~added;

	op[0] = (struct atomic_op){ "fetch-and-add",
		IBV_WR_ATOMIC_FETCH_AND_ADD, ATOMIC_ADD, 0, old, added };
	op[1] = (struct atomic_op){ "compare-and-swap (equal)",
		IBV_WR_ATOMIC_CMP_AND_SWP, added, swapped, added, swapped };
	op[2] = (struct atomic_op){ "compare-and-swap (not equal)",
		IBV_WR_ATOMIC_CMP_AND_SWP, swapped ^ ATOMIC_MISS, added,
		swapped, swapped };
	op[3] = (struct atomic_op){ "compare-and-swap (restore)",
		IBV_WR_ATOMIC_CMP_AND_SWP, swapped, old, swapped, old };
}

/*
 * Runs @op on the word at @off of B from QP1; the original value lands in
 * C at @off, where the pattern is put back afterwards.
 */
static bool run_atomic(struct test *t, size_t off, const struct atomic_op *op,
		       uint64_t seed_b, uint64_t seed_c)
{
	uint64_t got = ~op->want_orig, word;	/* a result that never came */
	size_t lo = off >= 8 ? off - 8 : 0;
	size_t hi = off + 16 <= t->b.len ? off + 16 : t->b.len;
	struct ibv_send_wr wr;
	struct ibv_sge sge;
	bool ok;

	memcpy(t->c.addr + off, &got, sizeof(got));
	sge.addr = (uintptr_t)(t->c.addr + off);
	sge.length = sizeof(uint64_t);
	sge.lkey = t->c.mr->lkey;
	memset(&wr, 0, sizeof(wr));
	wr.sg_list = &sge;
	wr.num_sge = 1;
	wr.opcode = op->opcode;
	wr.wr.atomic.remote_addr = (uintptr_t)(t->b.addr + off);
	wr.wr.atomic.compare_add = op->compare_add;
	wr.wr.atomic.swap = op->swap;
	wr.wr.atomic.rkey = t->b.mr->rkey;
	ok = post_and_wait(t, t->qp[0], &wr, op->name);

	memcpy(&got, t->c.addr + off, sizeof(got));
	memcpy(&word, t->b.addr + off, sizeof(word));
	if (ok && got != op->want_orig) {
		error("%s at B+%#zx returned %#llx, expected %#llx", op->name,
		      off, (unsigned long long)got,
		      (unsigned long long)op->want_orig);
		ok = false;
	}
	if (ok && word != op->want_word) {
		error("%s at B+%#zx left %#llx, expected %#llx", op->name,
		      off, (unsigned long long)word,
		      (unsigned long long)op->want_word);
		ok = false;
	}
	ok = ok && range_intact(&t->b, lo, off, seed_b, "before an atomic") &&
	     range_intact(&t->b, off + 8, hi, seed_b, "after an atomic");
	fill_range(t->c.addr, off, off + 8, seed_c);
	return ok;
}

static void atomics_phase(struct test *t, struct stats *st, uint64_t seed_b,
			  uint64_t seed_c)
{
	unsigned int i, j, failed_before = st->failed;
	struct atomic_op ops[4];
	struct targets tg;

	plan_atomic_targets(t, &tg);
	st->atomics_want += 4 * tg.n;
	for (i = 0; i < tg.n && !t->broken; i++) {
		size_t off = tg.off[i];

		plan_atomic_ops(off ^ seed_b, ops);
		for (j = 0; j < 4; j++) {
			bool ok = run_atomic(t, off, &ops[j], seed_b, seed_c);

			tally(st, &st->atomics_ok, ok);
			if (!ok) {
				/* the next ones would expect the wrong word */
				fill_range(t->b.addr, off, off + 8, seed_b);
				break;
			}
		}
	}
	st->failed += !range_intact(&t->b, 0, t->b.len, seed_b,
				    "changed by the atomics");
	st->failed += !range_intact(&t->c, 0, t->c.len, seed_c,
				    "changed by the atomics");
	info("atomics: %u words of B, 4 operations each: %s", tg.n,
	     st->failed == failed_before ? "ok" : "FAILED");
}

/* -------------------------------------------------------------- SEND/RECV */

/* Receives at the chunks of B, WR ids nchunks.. */
static int post_receives(struct test *t)
{
	unsigned int n = t->nchunks, i;
	struct ibv_recv_wr wr, *bad_wr;
	struct ibv_sge sge;
	int ret;

	for (i = 0; i < n; i++) {
		sge.addr = (uintptr_t)(t->b.addr + t->chunks[i].poff);
		sge.length = (uint32_t)t->chunks[i].len;
		sge.lkey = t->b.mr->lkey;
		memset(&wr, 0, sizeof(wr));
		wr.wr_id = n + i;
		wr.sg_list = &sge;
		wr.num_sge = 1;
		ret = ibv_post_recv(t->qp[1], &wr, &bad_wr);
		if (ret) {
			error("ibv_post_recv(chunk %u): %s", i, strerror(ret));
			return -1;
		}
	}
	return 0;
}

/* Sends of A's chunks, WR ids 0..nchunks - 1. */
static int post_sends(struct test *t)
{
	struct ibv_send_wr wr, *bad_wr;
	struct ibv_sge sge;
	unsigned int i;
	int ret;

	for (i = 0; i < t->nchunks; i++) {
		const struct chunk *ch = &t->chunks[i];

		data_wr(&wr, &sge, IBV_WR_SEND, t->a.addr + ch->off, ch->len,
			t->a.mr->lkey, NULL, 0);
		wr.wr_id = i;
		ret = ibv_post_send(t->qp[0], &wr, &bad_wr);
		if (ret) {
			error("ibv_post_send(SEND chunk %u): %s", i,
			      strerror(ret));
			return -1;
		}
	}
	return 0;
}

static bool send_arrived(const struct test *t, unsigned int i)
{
	const struct wr_state *send = &t->wrs[i];
	const struct wr_state *recv = &t->wrs[t->nchunks + i];
	const struct chunk *ch = &t->chunks[i];

	if (send->status != WR_OK || recv->status != WR_OK)
		return false;
	if (recv->byte_len != ch->len) {
		error("chunk %u: received %u bytes, sent %zu", i,
		      recv->byte_len, ch->len);
		return false;
	}
	return holds_a(t, &t->b, ch, "inside received chunk");
}

static void send_phase(struct test *t, struct stats *st, uint64_t seed_b)
{
	unsigned int n = t->nchunks, i, failed_before = st->failed;

	st->sends_want += n;
	begin_batch(t, 0, n, IBV_WC_SEND);
	begin_batch(t, n, n, IBV_WC_RECV);
	/* All receives first: a SEND without one waits for RNR retries. */
	if (post_receives(t) || post_sends(t)) {
		t->broken = true;
		st->failed += n;
		return;
	}
	poll_batch(t, 2 * n);
	for (i = 0; i < n; i++)
		tally(st, &st->sends_ok, send_arrived(t, i));
	st->failed += check_gaps(&t->b, t->chunks, n, seed_b);
	restore_chunks(&t->b, t->chunks, n, seed_b);
	info("SEND/RECV: %u chunks: %s", n,
	     st->failed == failed_before ? "ok" : "FAILED");
}

/* --------------------------------------------------------- memory windows */

struct window {
	size_t off;	/* in B */
	size_t len;
};

/* A window at @off (8-aligned) or just after, so that it starts mid-page. */
static void plan_window(size_t size, size_t off, struct window *w)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	w->off = off & (page - 1) ? off : off + 8;
	w->len = size - off - 8 > MW_LEN ? MW_LEN : size - off - 8;
}

/*
 * The window's first and last bytes and, if there is room, the bytes
 * around a 2 MiB boundary between them: sorted, not overlapping.
 */
static unsigned int window_spans(const struct window *w, struct chunk *span)
{
	size_t len = w->len / 3 < ODD_LEN ? w->len / 3 : ODD_LEN;
	size_t end = w->off + w->len;
	size_t bnd = ALIGN_DOWN(w->off + len + len / 2 + SZ_2M - 1, SZ_2M);
	size_t mid = bnd - len / 2;
	unsigned int n = 0;

	/* B is no larger than A: A's bytes at the same offsets go there */
	span[n++] = (struct chunk){ w->off, w->off, len };
	if (mid >= w->off + len && mid + len <= end - len)
		span[n++] = (struct chunk){ mid, mid, len };
	span[n++] = (struct chunk){ end - len, end - len, len };
	return n;
}

/* WRITEs A -> B and READs B -> C of @span through the window's @rkey. */
static void mw_transfers(struct test *t, struct stats *st,
			 const struct chunk *span, unsigned int n,
			 uint32_t rkey, uint64_t seed_b, uint64_t seed_c)
{
	unsigned int i;

	run_batch(t, IBV_WR_RDMA_WRITE, &t->a, &t->b, rkey, span, n);
	for (i = 0; i < n; i++)
		tally(st, &st->mw_ok, t->wrs[i].status == WR_OK &&
		      holds_a(t, &t->b, &span[i], "written through an MW"));
	st->failed += check_gaps(&t->b, span, n, seed_b);
	if (!t->broken) {
		run_batch(t, IBV_WR_RDMA_READ, &t->c, &t->b, rkey, span, n);
		for (i = 0; i < n; i++)
			tally(st, &st->mw_ok, t->wrs[i].status == WR_OK &&
			      same_bytes(&t->c, span[i].poff,
					 t->b.addr + span[i].poff, span[i].len,
					 "read through an MW"));
		st->failed += check_gaps(&t->c, span, n, seed_c);
	}
	restore_chunks(&t->b, span, n, seed_b);
	restore_chunks(&t->c, span, n, seed_c);
}

static struct ibv_mw_bind_info window_bind_info(const struct test *t,
						const struct window *w)
{
	struct ibv_mw_bind_info bi = {
		.mr = t->b.mr,
		.addr = (uintptr_t)(t->b.addr + w->off),
		.length = w->len,
		.mw_access_flags = IBV_ACCESS_REMOTE_WRITE |
				   IBV_ACCESS_REMOTE_READ,
	};

	return bi;
}

/*
 * A type 2 window is bound by a WR and belongs to the QP that posted it,
 * which must be QP2: it serves QP1's requests. The rkey it gets is the
 * one the WR names.
 */
static bool bind_type2(struct test *t, struct ibv_mw *mw,
		       const struct window *w, uint32_t *rkey)
{
	struct ibv_send_wr wr;

	memset(&wr, 0, sizeof(wr));
	wr.opcode = IBV_WR_BIND_MW;
	wr.bind_mw.mw = mw;
	wr.bind_mw.rkey = ibv_inc_rkey(mw->rkey);
	wr.bind_mw.bind_info = window_bind_info(t, w);
	if (!post_and_wait(t, t->qp[1], &wr, "bind of the type 2 MW"))
		return false;
	*rkey = wr.bind_mw.rkey;
	return true;
}

static void dealloc_mw(struct stats *st, struct ibv_mw *mw)
{
	int ret = ibv_dealloc_mw(mw);

	if (ret) {
		error("ibv_dealloc_mw: %s", strerror(ret));
		st->failed++;
	}
}

static void mw_type2_test(struct test *t, struct stats *st, uint64_t seed_b,
			  uint64_t seed_c)
{
	struct chunk span[MW_SPANS];
	struct ibv_mw *mw;
	struct window w;
	unsigned int n;
	uint32_t rkey;
	bool bound;

	plan_window(t->b.len, ALIGN_DOWN(t->b.len / 3, 8) + 8, &w);
	n = window_spans(&w, span);
	st->mw_want += 1 + 2 * n;
	mw = ibv_alloc_mw(t->pd, IBV_MW_TYPE_2);
	if (!mw) {
		error("ibv_alloc_mw(type 2): %s", strerror(errno));
		st->failed++;
		return;
	}
	info("type 2 MW over B+%#zx, %zu bytes, %u spans", w.off, w.len, n);
	bound = bind_type2(t, mw, &w, &rkey);
	tally(st, &st->mw_ok, bound);
	if (bound)
		mw_transfers(t, st, span, n, rkey, seed_b, seed_c);
	dealloc_mw(st, mw);
}

/*
 * ibv_bind_mw() posts the bind on @qp and gives the window its new rkey at
 * once. Returns 1 if bound, 0 if not, -1 if the device cannot bind type 1.
 */
static int bind_type1(struct test *t, struct ibv_mw *mw,
		      const struct window *w)
{
	struct ibv_mw_bind bind = {
		.wr_id = 0,
		.send_flags = IBV_SEND_SIGNALED,
		.bind_info = window_bind_info(t, w),
	};
	int ret;

	begin_batch(t, 0, 1, IBV_WC_BIND_MW);
	ret = ibv_bind_mw(t->qp[1], mw, &bind);
	if (ret == EOPNOTSUPP)
		return -1;
	if (ret) {
		error("ibv_bind_mw(type 1): %s", strerror(ret));
		return 0;
	}
	return !poll_batch(t, 1) && t->wrs[0].status == WR_OK;
}

static void mw_type1_test(struct test *t, struct stats *st, uint64_t seed_b,
			  uint64_t seed_c)
{
	struct chunk span[MW_SPANS];
	struct ibv_mw *mw;
	struct window w;
	unsigned int n;
	int bound;

	/* elsewhere than the type 2 window */
	plan_window(t->b.len, ALIGN_DOWN(t->b.len / 6, 8) + 16, &w);
	n = window_spans(&w, span);
	mw = ibv_alloc_mw(t->pd, IBV_MW_TYPE_1);
	if (!mw && errno == EOPNOTSUPP) {
		info("note: no type 1 memory windows on this device, skipped");
		return;
	}
	if (!mw) {
		error("ibv_alloc_mw(type 1): %s", strerror(errno));
		st->mw_want++;
		st->failed++;
		return;
	}
	info("type 1 MW over B+%#zx, %zu bytes, %u spans", w.off, w.len, n);
	bound = bind_type1(t, mw, &w);
	if (bound < 0) {
		info("note: type 1 memory windows cannot be bound, skipped");
	} else {
		st->mw_want += 1 + 2 * n;
		tally(st, &st->mw_ok, bound);
		if (bound && !t->broken)
			mw_transfers(t, st, span, n, mw->rkey, seed_b, seed_c);
	}
	dealloc_mw(st, mw);
}

static void mw_phase(struct test *t, struct stats *st, uint64_t seed_b,
		     uint64_t seed_c)
{
	unsigned int failed_before = st->failed;

	mw_type2_test(t, st, seed_b, seed_c);
	if (!t->broken)
		mw_type1_test(t, st, seed_b, seed_c);
	info("memory windows: %s",
	     st->failed == failed_before ? "ok" : "FAILED");
}

/* ----------------------------------------------------------- sub-page MRs */

struct sub_mr {
	size_t a_off;	/* start in A */
	size_t len;
	size_t dst;	/* where in B and C it goes, at another page offset */
};

static void plan_sub_mrs(size_t size, size_t peer, struct sub_mr sub[2])
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	/* Across the first 2 MiB boundary of A if it has one. */
	sub[0].a_off = (size > SZ_2M + 4 * page ? SZ_2M : size / 2) -
		       page + 123;
	sub[0].len = SUB_MR_LEN1;
	sub[0].dst = peer / 4 + 2048 + 5;
	sub[1].a_off = size / 2 + 77;
	sub[1].len = SUB_MR_LEN2;
	sub[1].dst = peer - SUB_MR_LEN2 - page - 11;
}

/*
 * The sub-MR as the local side of a WRITE into B and of a READ back into
 * it, then as the remote side of a READ into C and of a WRITE into it.
 * Each transfer into A puts back what was there, over inverted bytes.
 */
static void sub_mr_transfers(struct test *t, struct stats *st,
			     const struct sub_mr *s, struct ibv_mr *mr)
{
	uint8_t *sub = t->a.addr + s->a_off, *b = t->b.addr + s->dst;
	uint8_t *c = t->c.addr + s->dst;
	size_t i;
	bool ok;

	ok = rdma_one(t, IBV_WR_RDMA_WRITE, sub, s->len, mr->lkey, b,
		      t->b.mr->rkey, "WRITE from a sub-page MR") &&
	     same_bytes(&t->b, s->dst, sub, s->len, "from a sub-page MR");
	tally(st, &st->submr_ok, ok);
	if (t->broken)
		return;

	for (i = 0; i < s->len; i++)
		sub[i] = ~sub[i];
	ok = rdma_one(t, IBV_WR_RDMA_READ, sub, s->len, mr->lkey, b,
		      t->b.mr->rkey, "READ into a sub-page MR");
	tally(st, &st->submr_ok, a_intact(t, "read into a sub-page MR") && ok);
	if (t->broken)
		return;

	ok = rdma_one(t, IBV_WR_RDMA_READ, c, s->len, t->c.mr->lkey, sub,
		      mr->rkey, "READ from a sub-page MR") &&
	     same_bytes(&t->c, s->dst, sub, s->len, "read from a sub-page MR");
	tally(st, &st->submr_ok, ok);
	if (t->broken)
		return;

	for (i = 0; i < s->len; i++)
		sub[i] = ~sub[i];
	ok = rdma_one(t, IBV_WR_RDMA_WRITE, b, s->len, t->b.mr->lkey, sub,
		      mr->rkey, "WRITE into a sub-page MR");
	tally(st, &st->submr_ok,
	      a_intact(t, "written into a sub-page MR") && ok);
}

static void sub_mr_test(struct test *t, struct stats *st,
			const struct sub_mr *s, uint64_t seed_b,
			uint64_t seed_c)
{
	const struct chunk at = { s->a_off, s->dst, s->len };
	struct ibv_mr *mr;
	int ret;

	st->submr_want += 4;
	mr = ibv_reg_mr(t->pd, t->a.addr + s->a_off, s->len, ACCESS_DATA);
	if (!mr) {
		error("ibv_reg_mr(A+%#zx, %zu bytes): %s", s->a_off, s->len,
		      strerror(errno));
		st->failed++;
		return;
	}
	info("sub-page MR over A+%#zx, %zu bytes, to and from B and C+%#zx",
	     s->a_off, s->len, s->dst);
	sub_mr_transfers(t, st, s, mr);
	st->failed += check_gaps(&t->b, &at, 1, seed_b);
	st->failed += check_gaps(&t->c, &at, 1, seed_c);
	restore_chunks(&t->b, &at, 1, seed_b);
	restore_chunks(&t->c, &at, 1, seed_c);
	ret = ibv_dereg_mr(mr);
	if (ret) {
		error("ibv_dereg_mr(sub-page MR): %s", strerror(ret));
		st->failed++;
	}
}

static void sub_mr_phase(struct test *t, struct stats *st, uint64_t seed_b,
			 uint64_t seed_c)
{
	unsigned int i, failed_before = st->failed;
	struct sub_mr sub[2];

	plan_sub_mrs(t->a.len, t->b.len, sub);
	for (i = 0; i < 2 && !t->broken; i++)
		sub_mr_test(t, st, &sub[i], seed_b, seed_c);
	info("sub-page MRs: %s",
	     st->failed == failed_before ? "ok" : "FAILED");
}

/* ---------------------------------------------------------- extra phases */

/*
 * B and C hold their patterns between phases: each phase checks all of
 * them and puts back what it wrote.
 */
static void run_extra_phases(struct test *t, struct stats *st,
			     unsigned int iters)
{
	uint64_t seed_b = seed_for(iters, 0), seed_c = seed_for(iters, 1);

	fill_pattern(t->b.addr, t->b.len, seed_b);
	fill_pattern(t->c.addr, t->c.len, seed_c);
	atomics_phase(t, st, seed_b, seed_c);
	if (!t->broken)
		send_phase(t, st, seed_b);
	if (!t->broken)
		mw_phase(t, st, seed_b, seed_c);
	if (!t->broken)
		sub_mr_phase(t, st, seed_b, seed_c);
	st->failed += !a_intact(t, "source buffer modified");
}

/* ------------------------------------------------------------- reg cycles */

/* The first, the last and two middle chunks, each once. */
static unsigned int pick_cycle_chunks(const struct test *t, struct chunk *out)
{
	unsigned int n = t->nchunks, i, k = 0;
	unsigned int idx[CYCLE_CHUNKS] = { 0, n / 3, 2 * n / 3, n - 1 };

	for (i = 0; i < CYCLE_CHUNKS; i++)
		if (!k || t->chunks[idx[i]].off != out[k - 1].off)
			out[k++] = t->chunks[idx[i]];
	return k;
}

/* WRITE A -> B and READ B -> C of @ch: how many chunks or guards failed. */
static unsigned int cycle_transfers(struct test *t, const struct chunk *ch,
				    unsigned int n, uint64_t seed_b,
				    uint64_t seed_c)
{
	unsigned int i, bad = 0;

	run_batch(t, IBV_WR_RDMA_WRITE, &t->a, &t->b, t->b.mr->rkey, ch, n);
	for (i = 0; i < n; i++)
		bad += t->wrs[i].status != WR_OK ||
		       !holds_a(t, &t->b, &ch[i], "written after reg_mr");
	bad += check_guards(&t->b, ch, n, seed_b);
	if (t->broken)
		return bad + n;		/* the READs did not run */

	run_batch(t, IBV_WR_RDMA_READ, &t->c, &t->b, t->b.mr->rkey, ch, n);
	for (i = 0; i < n; i++)
		bad += t->wrs[i].status != WR_OK ||
		       !same_bytes(&t->c, ch[i].poff, t->b.addr + ch[i].poff,
				   ch[i].len, "read after reg_mr");
	return bad + check_guards(&t->c, ch, n, seed_c);
}

static void run_reg_cycles(struct test *t, struct stats *st,
			   unsigned int cycles, unsigned int iters)
{
	uint64_t seed_b = seed_for(iters + 1, 0);
	uint64_t seed_c = seed_for(iters + 1, 1);
	struct chunk ch[CYCLE_CHUNKS];
	unsigned int i, bad, n = pick_cycle_chunks(t, ch);
	unsigned long long us;

	fill_pattern(t->b.addr, t->b.len, seed_b);
	fill_pattern(t->c.addr, t->c.len, seed_c);
	for (i = 0; i < cycles && !t->broken; i++) {
		if (dereg_region(&t->a) ||
		    reg_region(t, &t->a, ACCESS_DATA, &us)) {
			st->failed++;
			break;
		}
		st->reg_cycle_us += us;
		st->reg_cycle_regs++;
		bad = cycle_transfers(t, ch, n, seed_b, seed_c);
		restore_chunks(&t->b, ch, n, seed_b);
		restore_chunks(&t->c, ch, n, seed_c);
		st->failed += bad;
		if (!bad && !t->broken)
			st->reg_cycles++;
	}
	st->failed += check_gaps(&t->b, ch, n, seed_b);
	st->failed += check_gaps(&t->c, ch, n, seed_c);
	st->failed += !a_intact(t, "source buffer modified");
	info("registration cycles: %u of %u verified, %llu us per ibv_reg_mr",
	     st->reg_cycles, cycles, st->reg_cycle_regs ?
	     st->reg_cycle_us / st->reg_cycle_regs : 0);
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
		if (r[i]->memfd >= 0)
			close(r[i]->memfd);
	}
	free(t->chunks);
	free(t->wrs);
	return errors;
}

/* ------------------------------------------------------------------- main */

static int setup(struct test *t, const struct options *o, struct stats *st)
{
	size_t size = (size_t)o->size_mib << 20;
	size_t peer = (size_t)o->peer_mib << 20;

	if (open_device(t, o->dev) || query_port(t) ||
	    create_resources(t, o->offsets) ||
	    connect_qp(t, t->qp[0], t->qp[1]->qp_num) ||
	    connect_qp(t, t->qp[1], t->qp[0]->qp_num))
		return -1;
	info("QP1 %#x <-> QP2 %#x connected on %s port %d",
	     t->qp[0]->qp_num, t->qp[1]->qp_num, o->dev, PORT_NUM);
	if (plan_chunks(t, size, peer, o->offsets))
		return -1;
	return setup_memory(t, size, peer, o->backing, !o->no_repeat, st);
}

static void run_test(const struct options *o, struct stats *st)
{
	struct test t;
	unsigned int i;

	memset(&t, 0, sizeof(t));
	t.populated_pct = o->populated_pct;
	t.child = o->fork_child ? 0 : -1;
	t.memcg = o->memcg;
	t.a.memfd = -1;
	t.b.memfd = -1;
	t.c.memfd = -1;
	if (setup(&t, o, st)) {
		st->failed++;
	} else {
		if (o->while_registered &&
		    run_while_registered(o->while_registered))
			st->failed++;
		for (i = 0; i < o->iters; i++)
			if (run_iteration(&t, st, i))
				break;
		if (i == o->iters && !o->skip_extra)
			run_extra_phases(&t, st, o->iters);
		if (i == o->iters && o->reg_cycles && !t.broken)
			run_reg_cycles(&t, st, o->reg_cycles, o->iters);
	}
	st->failed += fork_finish(&t);
	st->failed += destroy_all(&t);
}

static void print_result(const struct options *o, const struct stats *st)
{
	unsigned long long cycle_us = st->reg_cycle_regs ?
		st->reg_cycle_us / st->reg_cycle_regs : 0;

	if (o->json)
		printf("{\"size_mib\": %u, \"writes_ok\": %u, \"reads_ok\": %u, "
		       "\"failed\": %u, \"reg_first_us\": %llu, "
		       "\"reg_repeat_us\": %llu, \"sg_entries\": %lu, "
		       "\"longest_run\": %lu, \"chunks_2m\": %lu, "
		       "\"chunks_1g\": %lu, \"backing\": \"%s\", "
		       "\"atomics_ok\": %u, \"sends_ok\": %u, \"mw_ok\": %u, "
		       "\"submr_ok\": %u, \"reg_cycles\": %u, "
		       "\"reg_cycle_avg_us\": %llu, \"memcg_reg_bytes\": %ld}\n",
		       o->size_mib, st->writes_ok, st->reads_ok, st->failed,
		       st->reg_first_us, st->reg_repeat_us, st->a_layout.runs,
		       st->a_layout.longest_run, st->a_layout.chunks_2m,
		       st->a_layout.chunks_1g, backing_names[o->backing],
		       st->atomics_ok, st->sends_ok, st->mw_ok, st->submr_ok,
		       st->reg_cycles, cycle_us, st->memcg_reg_bytes);
	else
		printf(PROG ": RESULT size_mib=%u writes_ok=%u reads_ok=%u "
		       "failed=%u reg_first_us=%llu reg_repeat_us=%llu "
		       "sg_entries=%lu chunks_2m=%lu backing=%s "
		       "atomics_ok=%u sends_ok=%u mw_ok=%u submr_ok=%u "
		       "reg_cycles=%u reg_cycle_avg_us=%llu\n",
		       o->size_mib, st->writes_ok, st->reads_ok, st->failed,
		       st->reg_first_us, st->reg_repeat_us, st->a_layout.runs,
		       st->a_layout.chunks_2m, backing_names[o->backing],
		       st->atomics_ok, st->sends_ok, st->mw_ok, st->submr_ok,
		       st->reg_cycles, cycle_us);
	fflush(stdout);
}

/* Did every planned operation run and verify? */
static bool all_ok(const struct options *o, const struct stats *st)
{
	unsigned long long expected = (unsigned long long)o->offsets * o->iters;

	if (st->failed || st->writes_ok != expected ||
	    st->reads_ok != expected || st->reg_cycles != o->reg_cycles)
		return false;
	if (o->skip_extra)
		return true;
	return st->atomics_want && st->atomics_ok == st->atomics_want &&
	       st->sends_want && st->sends_ok == st->sends_want &&
	       st->mw_want && st->mw_ok == st->mw_want &&
	       st->submr_want && st->submr_ok == st->submr_want;
}

int main(int argc, char **argv)
{
	struct options o = {
		.dev = "rxe0", .size_mib = 64, .offsets = 16, .iters = 1,
		.backing = BACK_ANON, .populated_pct = 100,
	};
	struct stats st = { .memcg_reg_bytes = -1 };
	int ret;

	info_out = stdout;
	ret = parse_options(argc, argv, &o);
	if (ret > 0) {
		usage(stdout);
		return 0;
	}
	if (o.json)
		info_out = stderr;	/* keep stdout a single JSON object */
	if (!ret && o.fork_child && (o.backing == BACK_MEMFD ||
				     o.populated_pct != 100)) {
		fprintf(stderr, PROG ": --fork needs private memory written whole\n");
		ret = -1;
	}
	if (ret < 0) {
		usage(stderr);
		st.failed = 1;
		print_result(&o, &st);
		return 1;
	}
	if (o.memcg && memcg_enter(o.memcg)) {
		st.failed = 1;
		print_result(&o, &st);
		return 1;
	}

	info("device %s, size %u MiB, %u offsets, %u iteration(s)",
	     o.dev, o.size_mib, o.offsets, o.iters);
	info("%s memory, %s, %u registration cycle(s)",
	     backing_names[o.backing], o.skip_extra ? "WRITE/READ only" :
	     "all data paths", o.reg_cycles);
	run_test(&o, &st);
	print_result(&o, &st);
	return all_ok(&o, &st) ? 0 : 1;
}
