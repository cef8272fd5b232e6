/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The request/reply files of /sys/kernel/debug/contig/ (defrag,
 * alloc_contig, ...): a write runs a request, reads up to end of file
 * return its outcome as "name value" lines. Replies are looked up by
 * name, so the kernel may add fields without breaking the programs.
 */
#ifndef CONTIG_USER_KNOB_H
#define CONTIG_USER_KNOB_H

#include <stdint.h>
#include <time.h>

#define KNOB_DIR	"/sys/kernel/debug/contig/"
#define KNOB_FIELDS	64

struct knob_reply {
	int nr;
	char name[KNOB_FIELDS][32];
	long long value[KNOB_FIELDS];
};

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * Write @req to KNOB_DIR @knob and parse the reply into @r. @ns (may be
 * NULL) gets the time the write took, i.e. the request's run time. 0, or
 * -errno of whichever step failed (the write's errno is the request's).
 */
int knob_request(const char *knob, const char *req, struct knob_reply *r,
		 uint64_t *ns);

/* The value of @name in @r; 0, or -ENOENT if the reply lacks it. */
int knob_get(const struct knob_reply *r, const char *name, long long *v);

/* The first of the NULL-terminated @names that @r lacks, or NULL. */
const char *knob_missing(const struct knob_reply *r,
			 const char *const *names);

#endif
