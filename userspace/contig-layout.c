// SPDX-License-Identifier: GPL-2.0
/*
 * contig-layout: report the physical layout of a process's buffer the way a
 * device sees it (runs, longest run, congruent 2 MiB / 1 GiB chunks), from
 * /proc/<pid>/pagemap. With --kernel, also ask the kernel's layout
 * inspector and fail unless both agree.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/layout.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: contig-layout [--pid PID] [--key ADDR] [--kernel] [--json] START LEN\n"
		"\n"
		"Report how [START, START+LEN) of process PID (default: this one) is laid\n"
		"out physically, as a device addressing START at ADDR (default START)\n"
		"sees it. Needs root (PFNs in pagemap).\n"
		"\n"
		"  --kernel  also query /sys/kernel/debug/contig/layout; exit 2 if the\n"
		"            two disagree\n"
		"  --json    one JSON object per line\n"
		"\n"
		"example: contig-layout --pid 1234 --key 0x40000000 0x7f0000000000 0x4000000\n");
}

static int parse_ul(const char *s, unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 0);
	return errno || *end || end == s ? -EINVAL : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "key", required_argument, NULL, 'k' },
		{ "kernel", no_argument, NULL, 'K' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	unsigned long pid = 0, start, len, key = 0;
	bool kernel = false, json = false, have_key = false;
	struct layout user, kern;
	int c, ret;

	while ((c = getopt_long(argc, argv, "p:k:Kjh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_ul(optarg, &pid))
				goto bad;
			break;
		case 'k':
			if (parse_ul(optarg, &key))
				goto bad;
			have_key = true;
			break;
		case 'K':
			kernel = true;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (argc - optind != 2 || parse_ul(argv[optind], &start) ||
	    parse_ul(argv[optind + 1], &len))
		goto bad;
	if (!have_key)
		key = start;

	ret = layout_from_pagemap(pid, start, len, key, &user);
	if (ret) {
		fprintf(stderr, "contig-layout: pagemap: %s\n", strerror(-ret));
		return 1;
	}
	layout_print(stdout, "pagemap", &user, json);
	if (!kernel)
		return 0;

	ret = layout_from_kernel(pid, start, len, key, &kern);
	if (ret) {
		fprintf(stderr, "contig-layout: kernel inspector: %s\n",
			strerror(-ret));
		return 1;
	}
	layout_print(stdout, "kernel", &kern, json);
	if (!layout_equal(&user, &kern)) {
		fprintf(stderr, "contig-layout: pagemap and kernel disagree\n");
		return 2;
	}
	return 0;
bad:
	usage(stderr);
	return 1;
}
