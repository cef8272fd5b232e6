// SPDX-License-Identifier: GPL-2.0
/*
 * Memory cgroup helpers for the tests: see memcg.h.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "memcg.h"

int memcg_enter(const char *dir)
{
	char path[PATH_MAX];
	FILE *f;
	int bad;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "memcg: %s: %s\n", path, strerror(errno));
		return -1;
	}
	bad = fprintf(f, "0\n") < 0;
	bad |= fclose(f) != 0;
	if (bad)
		fprintf(stderr, "memcg: %s: cannot move there\n", path);
	return bad ? -1 : 0;
}

long memcg_current(const char *dir)
{
	char path[PATH_MAX];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/memory.current", dir);
	f = fopen(path, "r");
	if (!f || fscanf(f, "%ld", &v) != 1)
		v = -1;
	if (f)
		fclose(f);
	return v;
}
