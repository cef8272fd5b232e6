// SPDX-License-Identifier: GPL-2.0
/* Requests to the debugfs files of contig; see knob.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "knob.h"

static int parse_reply(char *buf, struct knob_reply *r)
{
	char *line, *save;

	r->nr = 0;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[32];
		long long v;

		if (sscanf(line, "%31s %lli", name, &v) != 2)
			continue;
		if (r->nr == KNOB_FIELDS)
			return -E2BIG;
		strcpy(r->name[r->nr], name);
		r->value[r->nr++] = v;
	}
	return r->nr ? 0 : -EBADMSG;
}

int knob_request(const char *knob, const char *req, struct knob_reply *r,
		 uint64_t *ns)
{
	char path[128], buf[4096];
	size_t len = strlen(req), got = 0;
	uint64_t t0;
	ssize_t n;
	int fd, ret = 0;

	r->nr = 0;
	snprintf(path, sizeof(path), KNOB_DIR "%s", knob);
	fd = open(path, O_RDWR);
	if (fd < 0)
		return -errno;
	t0 = now_ns();
	n = write(fd, req, len);
	if (ns)
		*ns = now_ns() - t0;
	if (n != (ssize_t)len) {
		ret = n < 0 ? -errno : -EIO;
		goto out;
	}
	/* The file is not seekable: the write rewound it; read to the end. */
	while (got < sizeof(buf) - 1) {
		n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		if (!n)
			break;
		got += n;
	}
	buf[got] = '\0';
	ret = parse_reply(buf, r);
out:
	close(fd);
	return ret;
}

int knob_get(const struct knob_reply *r, const char *name, long long *v)
{
	int i;

	for (i = 0; i < r->nr; i++)
		if (!strcmp(r->name[i], name)) {
			*v = r->value[i];
			return 0;
		}
	return -ENOENT;
}

const char *knob_missing(const struct knob_reply *r,
			 const char *const *names)
{
	long long v;

	for (; *names; names++)
		if (knob_get(r, *names, &v))
			return *names;
	return NULL;
}
