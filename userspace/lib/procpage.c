// SPDX-License-Identifier: GPL-2.0
/*
 * procpage: pagemap, kpageflags, kpagecount, smaps and vmstat reads; see
 * procpage.h.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "procpage.h"

#define PAGE	4096UL

static uint64_t read_u64(const char *path, uint64_t index, uint64_t fallback)
{
	uint64_t v = fallback;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || pread(fd, &v, 8, index * 8) != 8)
		v = fallback;
	if (fd >= 0)
		close(fd);
	return v;
}

/* This process's pagemap stays open: the stress tests read it per page. */
static uint64_t self_pagemap(uint64_t index)
{
	static pid_t opened_by;
	static int fd = -1;
	uint64_t e;

	if (fd >= 0 && opened_by != getpid()) {
		/* A child of the process that opened it: that one's pagemap */
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		fd = open("/proc/self/pagemap", O_RDONLY);
		opened_by = getpid();
	}
	if (fd < 0 || pread(fd, &e, 8, index * 8) != 8)
		return 0;
	return e;
}

uint64_t proc_pagemap(pid_t pid, const void *addr)
{
	char path[64];

	if (!pid || pid == getpid())
		return self_pagemap((uintptr_t)addr / PAGE);
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	return read_u64(path, (uintptr_t)addr / PAGE, 0);
}

uint64_t proc_pfn(pid_t pid, const void *addr)
{
	uint64_t e = proc_pagemap(pid, addr);

	return e & PM_PRESENT ? e & PM_PFN : 0;
}

int proc_kpageflag(uint64_t pfn, int bit)
{
	return !!(read_u64("/proc/kpageflags", pfn, 0) & (1ULL << bit));
}

uint64_t proc_kpagecount(uint64_t pfn)
{
	return read_u64("/proc/kpagecount", pfn, ~0ULL);
}

long proc_smaps_kb(pid_t pid, const void *addr, const char *field)
{
	char path[64], line[256];
	unsigned long start, end;
	size_t flen = strlen(field);
	long kb = -1;
	int in = 0;
	FILE *f;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/smaps");
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		/* A mapping's first line: "start-end perms ..." */
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 &&
		    strchr(line, '-') < strchr(line, ' '))
			in = (uintptr_t)addr >= start && (uintptr_t)addr < end;
		else if (in && !strncmp(line, field, flen) &&
			 line[flen] == ':' &&
			 sscanf(line + flen + 1, " %ld kB", &kb) == 1)
			break;
	}
	if (f)
		fclose(f);
	return kb;
}

unsigned long proc_vmstat(const char *name)
{
	char key[64];
	unsigned long v, found = 0;
	FILE *f = fopen("/proc/vmstat", "r");

	while (f && fscanf(f, "%63s %lu", key, &v) == 2)
		if (!strcmp(key, name))
			found = v;
	if (f)
		fclose(f);
	return found;
}
