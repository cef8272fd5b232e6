// SPDX-License-Identifier: GPL-2.0
/*
 * contigctl: command-line front end of /dev/contig_dma. "prepare" asks the
 * kernel to make a range of a process's memory physically contiguous, and
 * congruent with the address a device sees it at, before the range is
 * registered with the device; "query" reports how contiguous it is; "stats"
 * and "policy" show the counters and knobs of /sys/kernel/mm/contig_dma/.
 *
 * contigctl checks only the syntax of its arguments: the kernel judges
 * requests (alignment, mappings, permissions), and contigctl explains the
 * errno it gets back, so that what the tool accepts never drifts from what
 * the kernel does.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/contig_dma.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open	434	/* one number for all architectures but alpha */
#endif

#define DEV_PATH	"/dev/contig_dma"
#define SYSFS_DIR	"/sys/kernel/mm/contig_dma"
#define STATS_DIR	SYSFS_DIR "/stats"
#define VMSTAT_PATH	"/proc/vmstat"

#define EXIT_KERNEL	1	/* the kernel refused or failed */
#define EXIT_USAGE	2

#define SZ_4K		0x1000ULL
#define SZ_2M		0x200000ULL
#define SZ_1G		0x40000000ULL
#define KIB		(1ULL << 10)
#define MIB		(1ULL << 20)
#define GIB		(1ULL << 30)

#define NSEC_PER_SEC	1000000000ULL
#define NSEC_PER_MSEC	1000000ULL
#define STEP_NS		(NSEC_PER_SEC / 2)

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define ULL(x)		((unsigned long long)(x))

/* What the command line asked for, before it becomes an ioctl argument */
struct req {
	const struct command *cmd;
	bool json;
	bool progress;
	int pid;		/* 0: the caller's own memory */
	uint64_t start;
	uint64_t len;
	uint64_t key;
	bool have_key;
	uint64_t pgsizes;
	uint64_t max_pages;
	uint64_t max_ns;
	uint32_t flags;
	char **args;		/* operands left after the options */
	int nargs;
};

struct command {
	const char *name;
	const char *synopsis;
	const char *help;
	const struct option *opts;
	int (*run)(struct req *r);
};

struct example {
	const char *cmd;
	const char *what;
	const char *line;
};

/* A "name value" pair read from sysfs or /proc/vmstat */
struct entry {
	char *name;
	char *value;
};

struct entries {
	struct entry *e;
	size_t nr;
	size_t cap;
};

static const char *const knob_names[] = {
	"enabled", "rdma", "vfio", "min_size", "max_pages", "max_ms",
};

static const char *const fail_names[] = {
	[CONTIG_DMA_FAIL_UNMOVABLE]	= "unmovable",
	[CONTIG_DMA_FAIL_PINNED]	= "pinned",
	[CONTIG_DMA_FAIL_BUSY]		= "busy",
	[CONTIG_DMA_FAIL_UNSUPPORTED]	= "unsupported",
	[CONTIG_DMA_FAIL_NOMEM]		= "nomem",
	[CONTIG_DMA_FAIL_MIGRATE]	= "migrate",
	[CONTIG_DMA_FAIL_SPLIT]		= "split",
	[CONTIG_DMA_FAIL_NO_WINDOW]	= "no_window",
};

__attribute__((format(printf, 1, 2)))
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("contigctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nsee contigctl --help\n", stderr);
	return EXIT_USAGE;
}

__attribute__((format(printf, 1, 2)))
static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("contigctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_KERNEL;
}

#define E(x)	{ x, #x }
static const struct {
	int err;
	const char *name;
} errnames[] = {
	E(EPERM), E(ENOENT), E(ESRCH), E(EINTR), E(EIO), E(ENXIO), E(E2BIG),
	E(EBADF), E(EAGAIN), E(ENOMEM), E(EACCES), E(EFAULT), E(EBUSY),
	E(EEXIST), E(ENODEV), E(EINVAL), E(ENOSPC), E(EROFS), E(ENOTTY),
	E(ERANGE), E(ENOSYS), E(EOVERFLOW), E(EOPNOTSUPP),
};
#undef E

/* Tests and scripts match on the symbolic name, not the localised text */
static const char *errname(int err)
{
	static char buf[32];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(errnames); i++)
		if (errnames[i].err == err)
			return errnames[i].name;
	snprintf(buf, sizeof(buf), "errno %d", err);
	return buf;
}

static void print_errno(const char *what, int err)
{
	fprintf(stderr, "contigctl: %s: %s (%s)\n", what, strerror(err),
		errname(err));
}

/*
 * EINVAL covers several mistakes; the request itself usually tells which
 * one was made, which is more use than the whole list.
 */
static const char *einval_hint(const struct req *r, bool prepare)
{
	static char buf[128];

	if (!r->len)
		return "LEN must not be 0";
	if ((r->start | r->len | r->key) & (SZ_4K - 1))
		return "START, LEN and the key must be multiples of 4 KiB";
	if (prepare && r->pgsizes && !(r->pgsizes & SZ_4K))
		return "--pgsizes must include 4K";
	if (prepare && geteuid() && ((r->start | r->len | r->key) & (SZ_2M - 1)))
		return "without CAP_SYS_ADMIN, START, LEN and the key must be multiples of 2 MiB";
	if (r->pid)
		snprintf(buf, sizeof(buf),
			 "the range must lie within one mapping (VMA): see /proc/%d/maps",
			 r->pid);
	else
		snprintf(buf, sizeof(buf),
			 "the range must lie within one mapping (VMA) of contigctl itself");
	return buf;
}

/* One line on what the errno from QUERY or PREPARE means for this request */
static const char *ioctl_hint(const struct req *r, bool prepare, int err)
{
	switch (err) {
	case EINVAL:
		return einval_hint(r, prepare);
	case ENOMEM:
		return "part of the range is not mapped (a hole, or unmapped while the request ran)";
	case EOPNOTSUPP:
		if (prepare)
			return "only anonymous and shmem memory can be prepared; device, hugetlb and DAX mappings cannot";
		return "device (VM_IO, VM_PFNMAP, VM_MIXEDMAP), hugetlb and DAX mappings cannot be queried";
	case EOVERFLOW:
		return "START + LEN or the key + LEN goes beyond 2^64";
	case EPERM:
		if (!prepare && !r->pid)
			return "query needs CAP_SYS_ADMIN: the layout tells which pages are physically adjacent, as pagemap's PFNs do";
		if (prepare && (r->flags & CONTIG_DMA_F_EXCHANGE_ONLY))
			return "--exchange-only needs CAP_SYS_NICE: it moves other processes' pages";
		if (prepare && !r->pid)
			return "RLIMIT_MEMLOCK is 0 (ulimit -l): without CAP_IPC_LOCK, prepare moves at most the memory the caller may lock";
		return "no permission on that process: needs ptrace access, and CAP_SYS_NICE for another user's process";
	case ESRCH:
		return "the process has exited, or has no memory (a zombie)";
	case EBADF:
		return "the kernel did not take contigctl's pidfd for a process";
	case EINTR:
		return "a fatal signal stopped the request";
	case E2BIG:
	case ENOTTY:
		return "this contigctl and the kernel's /dev/contig_dma do not match";
	case EFAULT:
		return "the kernel could not read the request (a bug in contigctl)";
	}
	return NULL;
}

/*
 * A number in C notation (decimal, 0x hex, 0 octal); with @suffix, times
 * 2^10, 2^20 or 2^30 for a trailing K, M or G.
 */
static int parse_u64(const char *s, bool suffix, uint64_t *v)
{
	unsigned long long n;
	unsigned int shift = 0;
	char *end;

	/* strtoull() would take a sign or blanks; no count has either */
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	n = strtoull(s, &end, 0);
	if (errno)
		return -errno;
	if (suffix && *end) {
		switch (*end) {
		case 'K':
		case 'k':
			shift = 10;
			break;
		case 'M':
		case 'm':
			shift = 20;
			break;
		case 'G':
		case 'g':
			shift = 30;
			break;
		default:
			return -EINVAL;
		}
		end++;
	}
	if (*end)
		return -EINVAL;
	if (shift && n > (UINT64_MAX >> shift))
		return -ERANGE;
	*v = (uint64_t)n << shift;
	return 0;
}

/* "4K,2M,1G" in any case and order, or a bitmap as a number */
static int parse_pgsizes(const char *s, uint64_t *bitmap)
{
	char buf[64], *tok, *save;

	if (isdigit((unsigned char)*s) && !parse_u64(s, false, bitmap))
		return 0;
	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	*bitmap = 0;
	/* strtok_r() would skip empty items; "4K,,2M" is a typo, refuse it */
	if (!*buf || *buf == ',' || buf[strlen(buf) - 1] == ',' ||
	    strstr(buf, ",,"))
		return -EINVAL;
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (!strcasecmp(tok, "4K"))
			*bitmap |= SZ_4K;
		else if (!strcasecmp(tok, "2M"))
			*bitmap |= SZ_2M;
		else if (!strcasecmp(tok, "1G"))
			*bitmap |= SZ_1G;
		else
			return -EINVAL;
	}
	return 0;
}

enum {
	OPT_PID = 256,
	OPT_KEY,
	OPT_PGSIZES,
	OPT_EXCHANGE_ONLY,
	OPT_POPULATE,
	OPT_MAX_PAGES,
	OPT_MAX_MS,
	OPT_PROGRESS,
	OPT_JSON,
};

#define OPTION_PID	{ "pid", required_argument, NULL, OPT_PID }
#define OPTION_KEY	{ "key", required_argument, NULL, OPT_KEY }
#define OPTION_JSON	{ "json", no_argument, NULL, OPT_JSON }
#define OPTION_HELP	{ "help", no_argument, NULL, 'h' }

static const struct option prepare_opts[] = {
	OPTION_PID,
	OPTION_KEY,
	{ "pgsizes", required_argument, NULL, OPT_PGSIZES },
	{ "exchange-only", no_argument, NULL, OPT_EXCHANGE_ONLY },
	{ "populate", optional_argument, NULL, OPT_POPULATE },
	{ "max-pages", required_argument, NULL, OPT_MAX_PAGES },
	{ "max-ms", required_argument, NULL, OPT_MAX_MS },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	OPTION_JSON,
	OPTION_HELP,
	{}
};

static const struct option query_opts[] = {
	OPTION_PID, OPTION_KEY, OPTION_JSON, OPTION_HELP, {}
};

static const struct option json_opts[] = {
	OPTION_JSON, OPTION_HELP, {}
};

static void help_command(FILE *f, const struct command *cmd);

/*
 * Parse a command's options into @r. Returns -1 to go on, else the exit
 * status (0 after --help).
 */
static int parse_options(const struct command *cmd, int argc, char **argv,
			 struct req *r)
{
	const char *name = cmd->name;
	static char prog[64];
	uint64_t v;
	int c;

	/* getopt names argv[0] in its messages: make it "contigctl CMD" */
	snprintf(prog, sizeof(prog), "contigctl %s", name);
	argv[0] = prog;
	while ((c = getopt_long(argc, argv, "h", cmd->opts, NULL)) != -1) {
		switch (c) {
		case OPT_PID:
			if (parse_u64(optarg, false, &v) || !v || v > INT_MAX)
				return usage_error("%s: bad --pid '%s'", name,
						   optarg);
			r->pid = (int)v;
			break;
		case OPT_KEY:
			if (parse_u64(optarg, false, &r->key))
				return usage_error("%s: bad --key '%s'", name,
						   optarg);
			r->have_key = true;
			break;
		case OPT_PGSIZES:
			if (parse_pgsizes(optarg, &r->pgsizes))
				return usage_error("%s: bad --pgsizes '%s' (a comma list of 4K, 2M, 1G, or a bitmap)",
						   name, optarg);
			break;
		case OPT_EXCHANGE_ONLY:
			r->flags |= CONTIG_DMA_F_EXCHANGE_ONLY;
			break;
		case OPT_POPULATE:
			r->flags |= CONTIG_DMA_F_POPULATE;
			if (!optarg || !strcmp(optarg, "write"))
				r->flags |= CONTIG_DMA_F_PIN_WRITE;
			else if (strcmp(optarg, "read"))
				return usage_error("%s: bad --populate '%s' (write or read)",
						   name, optarg);
			break;
		case OPT_MAX_PAGES:
			if (parse_u64(optarg, true, &r->max_pages))
				return usage_error("%s: bad --max-pages '%s'",
						   name, optarg);
			break;
		case OPT_MAX_MS:
			if (parse_u64(optarg, false, &v) ||
			    v > UINT64_MAX / NSEC_PER_MSEC)
				return usage_error("%s: bad --max-ms '%s'",
						   name, optarg);
			r->max_ns = v * NSEC_PER_MSEC;
			break;
		case OPT_PROGRESS:
			r->progress = true;
			break;
		case OPT_JSON:
			r->json = true;
			break;
		case 'h':
			help_command(stdout, cmd);
			return 0;
		default:
			/* getopt_long() has said what was wrong */
			fputs("see contigctl --help\n", stderr);
			return EXIT_USAGE;
		}
	}
	r->args = argv + optind;
	r->nargs = argc - optind;
	return -1;
}

/* START LEN, the operands of prepare and query */
static int parse_range(struct req *r)
{
	const char *name = r->cmd->name;

	if (r->nargs < 2)
		return usage_error("%s: START and LEN are needed", name);
	if (r->nargs > 2)
		return usage_error("%s: unexpected argument '%s'", name,
				   r->args[2]);
	if (parse_u64(r->args[0], false, &r->start))
		return usage_error("%s: bad START '%s'", name, r->args[0]);
	if (parse_u64(r->args[1], true, &r->len))
		return usage_error("%s: bad LEN '%s'", name, r->args[1]);
	if (!r->have_key)
		r->key = r->start;
	return -1;
}

/* @path's contents, without trailing blanks; 0 or -errno */
static int read_text(const char *path, char *buf, size_t size)
{
	size_t got = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (got < size - 1) {
		n = read(fd, buf + got, size - 1 - got);
		if (n < 0) {
			int err = errno;

			close(fd);
			return -err;
		}
		if (!n)
			break;
		got += n;
	}
	close(fd);
	while (got && isspace((unsigned char)buf[got - 1]))
		got--;
	buf[got] = '\0';
	return 0;
}

static int entries_add(struct entries *es, const char *name,
		       const char *value)
{
	if (es->nr == es->cap) {
		size_t cap = es->cap ? 2 * es->cap : 32;
		struct entry *e = realloc(es->e, cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		es->e = e;
		es->cap = cap;
	}
	es->e[es->nr].name = strdup(name);
	es->e[es->nr].value = strdup(value);
	if (!es->e[es->nr].name || !es->e[es->nr].value) {
		free(es->e[es->nr].name);
		free(es->e[es->nr].value);
		return -ENOMEM;
	}
	es->nr++;
	return 0;
}

static void entries_free(struct entries *es)
{
	size_t i;

	for (i = 0; i < es->nr; i++) {
		free(es->e[i].name);
		free(es->e[i].value);
	}
	free(es->e);
}

/*
 * The lines of /proc/vmstat whose name starts with @prefix into @es, or,
 * with @es NULL, the sum of the counters named in @names into @sum.
 */
static int vmstat_scan(const char *prefix, struct entries *es,
		       const char *const *names, uint64_t *sum)
{
	char line[256], name[128], value[64];
	FILE *f;
	int ret = 0;

	f = fopen(VMSTAT_PATH, "re");
	if (!f)
		return -errno;
	if (sum)
		*sum = 0;
	while (!ret && fgets(line, sizeof(line), f)) {
		const char *const *n;

		if (sscanf(line, "%127s %63s", name, value) != 2)
			continue;
		if (es) {
			if (!strncmp(name, prefix, strlen(prefix)))
				ret = entries_add(es, name, value);
			continue;
		}
		for (n = names; *n; n++)
			if (!strcmp(name, *n))
				*sum += strtoull(value, NULL, 10);
	}
	fclose(f);
	return ret;
}

/*
 * Pages moved system-wide so far: the progress report's only measure, as
 * PREPARE reports nothing until it returns.
 */
static int vmstat_moved(uint64_t *pages)
{
	static const char *const names[] = {
		"pgmigrate_success", "exchange_success", NULL
	};

	return vmstat_scan(NULL, NULL, names, pages);
}

/* The sysfs directory's absence means the feature is not built in */
static int sysfs_error(const char *path, int err)
{
	if (err == ENOENT && access(SYSFS_DIR, F_OK))
		return fail(SYSFS_DIR " does not exist: this kernel was built without CONFIG_CONTIG_DMA");
	print_errno(path, err);
	return EXIT_KERNEL;
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* sysfs values are decimal numbers; anything else is kept as a string */
static void json_value(const char *v)
{
	const char *p = v;

	if (*p == '-')
		p++;
	if (isdigit((unsigned char)*p) && (*p != '0' || !p[1]) &&
	    strspn(p, "0123456789") == strlen(p)) {
		fputs(v, stdout);
		return;
	}
	json_string(v);
}

static void json_entries(const char *key, const struct entries *es)
{
	size_t i;

	printf("\"%s\":{", key);
	for (i = 0; i < es->nr; i++) {
		if (i)
			putchar(',');
		json_string(es->e[i].name);
		putchar(':');
		json_value(es->e[i].value);
	}
	putchar('}');
}

static void json_layout(const char *key, const struct contig_dma_layout *l)
{
	printf("\"%s\":{\"pages\":%llu,\"present\":%llu,\"runs\":%llu,"
	       "\"longest_run\":%llu,\"chunks_2m\":%llu,\"chunks_1g\":%llu}",
	       key, ULL(l->pages), ULL(l->present), ULL(l->runs),
	       ULL(l->longest_run), ULL(l->chunks_2m), ULL(l->chunks_1g));
}

static void json_range(const char *cmd, const struct req *r)
{
	printf("{\"command\":\"%s\",\"pid\":%d,\"start\":%llu,\"length\":%llu,"
	       "\"key\":%llu,", cmd, r->pid, ULL(r->start), ULL(r->len),
	       ULL(r->key));
}

static const char *size_str(uint64_t bytes, char *buf, size_t size)
{
	if (bytes && !(bytes % GIB))
		snprintf(buf, size, "%llu GiB", ULL(bytes / GIB));
	else if (bytes && !(bytes % MIB))
		snprintf(buf, size, "%llu MiB", ULL(bytes / MIB));
	else if (bytes && !(bytes % KIB))
		snprintf(buf, size, "%llu KiB", ULL(bytes / KIB));
	else
		snprintf(buf, size, "%llu bytes", ULL(bytes));
	return buf;
}

static void print_range(const struct req *r)
{
	char size[32];

	if (r->pid)
		printf("pid %d", r->pid);
	else
		printf("pid self");
	printf(" range 0x%llx +%s, DMA key 0x%llx\n", ULL(r->start),
	       size_str(r->len, size, sizeof(size)), ULL(r->key));
}

/* Field names are matched by tests: keep them */
static void print_layout(const char *label, const struct contig_dma_layout *l)
{
	printf("%-8sruns %llu  longest %llu pages  2M chunks %llu  1G chunks %llu  present %llu/%llu\n",
	       label, ULL(l->runs), ULL(l->longest_run), ULL(l->chunks_2m),
	       ULL(l->chunks_1g), ULL(l->present), ULL(l->pages));
}

static void print_entries(const struct entries *es)
{
	size_t i, w = 0;

	for (i = 0; i < es->nr; i++)
		if (strlen(es->e[i].name) > w)
			w = strlen(es->e[i].name);
	for (i = 0; i < es->nr; i++)
		printf("%-*s %s\n", (int)w, es->e[i].name, es->e[i].value);
}

/* Output that could not be written is a failure, e.g. a full disk */
static int finish_output(void)
{
	if (fflush(stdout) || ferror(stdout))
		return fail("writing the output: %s", strerror(errno));
	return 0;
}

static int open_device(void)
{
	int fd, ver;

	fd = open(DEV_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;

		if (err == ENOENT)
			fail(DEV_PATH " does not exist: this kernel was built without CONFIG_CONTIG_DMA (or the device node was not created)");
		else
			print_errno(DEV_PATH, err);
		return -1;
	}
	ver = ioctl(fd, CONTIG_DMA_GET_API_VERSION);
	if (ver < 0) {
		print_errno(DEV_PATH ": API version", errno);
		close(fd);
		return -1;
	}
	/* A different set of ioctls: guessing at them could do harm */
	if (ver != CONTIG_DMA_API_VERSION) {
		fail(DEV_PATH " has API version %d, this contigctl knows version %d only: use a contigctl built for this kernel",
		     ver, CONTIG_DMA_API_VERSION);
		close(fd);
		return -1;
	}
	return fd;
}

/* A pidfd rather than a pid: the process cannot be swapped for another */
static int open_pidfd(int pid)
{
	int fd = syscall(SYS_pidfd_open, pid, 0);

	if (fd >= 0)
		return fd;
	if (errno == ESRCH)
		fail("no process %d", pid);
	else if (errno == ENOSYS)
		fail("this kernel has no pidfd_open(2), which --pid needs");
	else
		print_errno("pidfd_open", errno);
	return -1;
}

/* The device and, with --pid, the pidfd; -1 after saying why not */
static int open_target(const struct req *r, int *pidfd)
{
	int fd;

	*pidfd = -1;
	fd = open_device();
	if (fd < 0)
		return -1;
	if (r->pid) {
		*pidfd = open_pidfd(r->pid);
		if (*pidfd < 0) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

static int ioctl_failed(const struct req *r, int err)
{
	bool prepare = !strcmp(r->cmd->name, "prepare");
	const char *hint = ioctl_hint(r, prepare, err);

	print_errno(r->cmd->name, err);
	if (hint)
		fprintf(stderr, "contigctl: %s\n", hint);
	return EXIT_KERNEL;
}

static int cmd_query(struct req *r)
{
	struct contig_dma_query q;
	int fd, pidfd, ret, err;

	ret = parse_range(r);
	if (ret >= 0)
		return ret;
	memset(&q, 0, sizeof(q));
	q.size = sizeof(q);
	q.start = r->start;
	q.length = r->len;
	q.key = r->key;

	fd = open_target(r, &pidfd);
	if (fd < 0)
		return EXIT_KERNEL;
	if (pidfd >= 0) {
		q.flags |= CONTIG_DMA_F_PIDFD;
		q.pidfd = pidfd;
	}
	ret = ioctl(fd, CONTIG_DMA_QUERY, &q);
	err = errno;
	if (pidfd >= 0)
		close(pidfd);
	close(fd);
	if (ret < 0)
		return ioctl_failed(r, err);

	if (r->json) {
		json_range("query", r);
		json_layout("layout", &q.layout);
		puts("}");
	} else {
		print_layout("layout", &q.layout);
	}
	return finish_output();
}

struct prepare_job {
	int fd;
	struct contig_dma_prepare *arg;
	int ret;
	int err;
	bool done;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

static void *prepare_thread(void *data)
{
	struct prepare_job *job = data;
	int ret, err;

	ret = ioctl(job->fd, CONTIG_DMA_PREPARE, job->arg);
	err = errno;
	pthread_mutex_lock(&job->lock);
	job->ret = ret;
	job->err = ret < 0 ? err : 0;
	job->done = true;
	pthread_cond_signal(&job->cond);
	pthread_mutex_unlock(&job->lock);
	return NULL;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static void show_progress(const struct req *r, bool tty, uint64_t t0,
			  bool have_base, uint64_t base)
{
	double secs = (mono_ns() - t0) / 1e9;
	char size[32];
	uint64_t now;

	fprintf(stderr, "%scontigctl: preparing %s: %.1f s", tty ? "\r" : "",
		size_str(r->len, size, sizeof(size)), secs);
	/* Other processes migrate pages too, hence "about" */
	if (have_base && !vmstat_moved(&now))
		fprintf(stderr, ", about %llu pages moved",
			ULL(now > base ? now - base : 0));
	/* On a terminal, erase what a longer previous line left */
	fputs(tty ? "\033[K" : "\n", stderr);
	fflush(stderr);
}

/*
 * PREPARE can take many seconds on fragmented memory and says nothing
 * until it returns: run it in a thread so that this one can show that it
 * is getting on. SIGINT keeps its default action on purpose: a fatal
 * signal is what makes the kernel stop the request early.
 */
static int run_prepare(int fd, struct contig_dma_prepare *arg,
		       const struct req *r, int *err)
{
	struct prepare_job job = {
		.fd = fd,
		.arg = arg,
		.lock = PTHREAD_MUTEX_INITIALIZER,
	};
	bool tty = isatty(STDERR_FILENO), shown = false, have_base;
	pthread_condattr_t attr;
	uint64_t t0, base = 0;
	unsigned int step;
	pthread_t thread;
	int ret;

	pthread_condattr_init(&attr);
	/* Deadlines on the monotonic clock: a clock step must not stall us */
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&job.cond, &attr);
	pthread_condattr_destroy(&attr);

	have_base = !vmstat_moved(&base);
	t0 = mono_ns();
	/* Without a thread there is no progress, but the request still runs */
	if (pthread_create(&thread, NULL, prepare_thread, &job)) {
		pthread_cond_destroy(&job.cond);
		ret = ioctl(fd, CONTIG_DMA_PREPARE, arg);
		*err = ret < 0 ? errno : 0;
		return ret;
	}

	pthread_mutex_lock(&job.lock);
	for (step = 1; !job.done; step++) {
		uint64_t deadline = t0 + step * STEP_NS;
		struct timespec ts = {
			.tv_sec = deadline / NSEC_PER_SEC,
			.tv_nsec = deadline % NSEC_PER_SEC,
		};
		int rc = 0;

		while (!job.done && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&job.cond, &job.lock, &ts);
		if (job.done)
			break;
		/* Quick requests are the common case: keep them quiet */
		if (step < 2 || !(tty || r->progress))
			continue;
		/* A log gets a line a second, a terminal a livelier one */
		if (!tty && step % 2)
			continue;
		pthread_mutex_unlock(&job.lock);
		show_progress(r, tty, t0, have_base, base);
		shown = true;
		pthread_mutex_lock(&job.lock);
	}
	pthread_mutex_unlock(&job.lock);
	pthread_join(thread, NULL);
	pthread_cond_destroy(&job.cond);

	if (shown && tty) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
	*err = job.err;
	return job.ret;
}

static const char *const outcome_names[] = {
	[CONTIG_DMA_OUTCOME_PREPARED]	= "prepared",
	[CONTIG_DMA_OUTCOME_IN_PLACE]	= "in place",
	[CONTIG_DMA_OUTCOME_EMPTY]	= "empty: nothing populated",
	[CONTIG_DMA_OUTCOME_POLICY]	= "skipped: enabled=never",
};

static const char *outcome_name(unsigned int outcome)
{
	return outcome < ARRAY_SIZE(outcome_names) ? outcome_names[outcome] :
	       "unknown";
}

/* The kernel withholds the layout from callers without CAP_SYS_ADMIN */
static bool layout_withheld(const struct contig_dma_prepare *p)
{
	return p->before.present && !p->before.runs;
}

static void print_prepare(const struct req *r,
			  const struct contig_dma_prepare *p)
{
	const struct contig_dma_moves *m = &p->moves;
	unsigned long long total = 0, other = 0;
	double secs = m->ns / 1e9;
	size_t i;

	for (i = 0; i < CONTIG_DMA_FAIL_NR; i++) {
		total += m->failed[i];
		if (i >= ARRAY_SIZE(fail_names))
			other += m->failed[i];
	}

	print_range(r);
	printf("outcome %s\n", outcome_name(m->outcome));
	if (layout_withheld(p)) {
		printf("layout  withheld by the kernel: needs CAP_SYS_ADMIN (so do pages in place, failure reasons and segments)\n");
	} else {
		print_layout("before", &p->before);
		print_layout("after", &p->after);
	}
	printf("moves   in place %llu  migrated %llu  exchanged %llu  THP moved %llu  THP split %llu\n",
	       ULL(m->in_place), ULL(m->migrated), ULL(m->exchanged),
	       ULL(m->thp_moved), ULL(m->thp_split));
	if (r->flags & CONTIG_DMA_F_POPULATE)
		printf("populated %llu pages (faulted in, or copied from pages shared copy-on-write)\n",
		       ULL(p->populated));
	printf("failed  %llu (", total);
	for (i = 0; i < ARRAY_SIZE(fail_names); i++)
		printf("%s%s %llu", i ? " " : "", fail_names[i],
		       ULL(m->failed[i]));
	/* Reasons a newer kernel added that this contigctl has no name for */
	if (other)
		printf(" other %llu", other);
	printf(")\n");
	printf("placed  segments %u  reanchors %u\n", m->segments,
	       m->reanchors);
	printf("time    %.3f s", secs);
	if (r->len)
		printf("  (%.2f ms/MiB)", m->ns / 1e6 / ((double)r->len / MIB));
	printf("  plan %.3f s (index %.3f s, %llu pageblocks; search %.3f s)\n",
	       p->times.plan_ns / 1e9, p->times.index_ns / 1e9,
	       ULL(p->times.index_blocks), p->times.search_ns / 1e9);
	if (m->partial)
		printf("stopped early: a time or page bound was reached\n");
}

static void json_prepare(const struct req *r,
			 const struct contig_dma_prepare *p)
{
	const struct contig_dma_moves *m = &p->moves;
	unsigned long long other = 0;
	size_t i;

	json_range("prepare", r);
	printf("\"outcome\":\"%s\",\"layout_withheld\":%s,",
	       outcome_name(m->outcome), layout_withheld(p) ? "true" : "false");
	json_layout("before", &p->before);
	putchar(',');
	json_layout("after", &p->after);
	printf(",\"moves\":{\"in_place\":%llu,\"migrated\":%llu,"
	       "\"exchanged\":%llu,\"thp_moved\":%llu,\"thp_split\":%llu,"
	       "\"failed\":{", ULL(m->in_place), ULL(m->migrated),
	       ULL(m->exchanged), ULL(m->thp_moved), ULL(m->thp_split));
	for (i = 0; i < CONTIG_DMA_FAIL_NR; i++) {
		if (i >= ARRAY_SIZE(fail_names)) {
			other += m->failed[i];
			continue;
		}
		printf("%s\"%s\":%llu", i ? "," : "", fail_names[i],
		       ULL(m->failed[i]));
	}
	if (other)
		printf(",\"other\":%llu", other);
	printf("},\"segments\":%u,\"reanchors\":%u,\"partial\":%s,\"ns\":%llu},",
	       m->segments, m->reanchors, m->partial ? "true" : "false",
	       ULL(m->ns));
	printf("\"times\":{\"plan_ns\":%llu,\"index_ns\":%llu,\"search_ns\":%llu,"
	       "\"index_blocks\":%llu},\"populated\":%llu}\n",
	       ULL(p->times.plan_ns), ULL(p->times.index_ns),
	       ULL(p->times.search_ns), ULL(p->times.index_blocks),
	       ULL(p->populated));
}

static int cmd_prepare(struct req *r)
{
	struct contig_dma_prepare p;
	int fd, pidfd, ret, err;

	ret = parse_range(r);
	if (ret >= 0)
		return ret;
	memset(&p, 0, sizeof(p));
	p.size = sizeof(p);
	p.flags = r->flags;
	p.start = r->start;
	p.length = r->len;
	p.key = r->key;
	p.pgsize_bitmap = r->pgsizes;
	p.max_pages = r->max_pages;
	p.max_ns = r->max_ns;

	fd = open_target(r, &pidfd);
	if (fd < 0)
		return EXIT_KERNEL;
	if (pidfd >= 0) {
		p.flags |= CONTIG_DMA_F_PIDFD;
		p.pidfd = pidfd;
	}
	ret = run_prepare(fd, &p, r, &err);
	if (pidfd >= 0)
		close(pidfd);
	close(fd);
	if (ret < 0)
		return ioctl_failed(r, err);

	if (r->json)
		json_prepare(r, &p);
	else
		print_prepare(r, &p);
	return finish_output();
}

/* Counters are files; "." and "..", and any subdirectory, are not */
static int stats_filter(const struct dirent *d)
{
	return d->d_name[0] != '.' && d->d_type != DT_DIR;
}

static int stats_read(struct entries *es)
{
	struct dirent **names;
	char path[PATH_MAX], value[256];
	int n, i, ret = 0;

	/* alphasort: a stable order whatever counters the kernel adds */
	n = scandir(STATS_DIR, &names, stats_filter, alphasort);
	if (n < 0)
		return sysfs_error(STATS_DIR, errno);
	for (i = 0; i < n; i++) {
		const char *name = names[i]->d_name;

		if (ret)
			continue;
		snprintf(path, sizeof(path), STATS_DIR "/%s", name);
		ret = read_text(path, value, sizeof(value));
		if (ret) {
			print_errno(path, -ret);
			ret = EXIT_KERNEL;
			continue;
		}
		if (entries_add(es, name, value))
			ret = fail("out of memory");
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return ret;
}

static int cmd_stats(struct req *r)
{
	struct entries stats = {}, vm = {};
	int ret;

	if (r->nargs)
		return usage_error("stats: unexpected argument '%s'",
				   r->args[0]);
	/* Read everything first: an error must leave stdout empty */
	ret = stats_read(&stats);
	if (ret)
		goto out;
	ret = vmstat_scan("contig_dma_", &vm, NULL, NULL);
	if (ret) {
		print_errno(VMSTAT_PATH, -ret);
		ret = EXIT_KERNEL;
		goto out;
	}

	if (r->json) {
		printf("{\"command\":\"stats\",");
		json_entries("stats", &stats);
		putchar(',');
		json_entries("vmstat", &vm);
		puts("}");
	} else {
		struct entries all = {};
		size_t i;

		/* One list, one alignment: the vmstat names say where they are from */
		for (i = 0; !ret && i < stats.nr; i++)
			ret = entries_add(&all, stats.e[i].name,
					  stats.e[i].value);
		for (i = 0; !ret && i < vm.nr; i++)
			ret = entries_add(&all, vm.e[i].name, vm.e[i].value);
		if (ret)
			ret = fail("out of memory");
		else
			print_entries(&all);
		entries_free(&all);
		if (ret)
			goto out;
	}
	ret = finish_output();
out:
	entries_free(&stats);
	entries_free(&vm);
	return ret;
}

static bool is_knob(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(knob_names); i++)
		if (strlen(knob_names[i]) == len &&
		    !strncmp(knob_names[i], name, len))
			return true;
	return false;
}

static const char *knob_hint(const char *name, int err)
{
	if (err == EACCES || err == EPERM)
		return "changing the policy needs root";
	if (err != EINVAL)
		return NULL;
	if (!strcmp(name, "enabled"))
		return "enabled takes always, madvise or never";
	if (!strcmp(name, "rdma") || !strcmp(name, "vfio"))
		return "rdma and vfio take 0 or 1";
	if (!strcmp(name, "min_size"))
		return "min_size takes a number of bytes";
	if (!strcmp(name, "max_pages"))
		return "max_pages takes a number of pages, 0 for no bound";
	return "max_ms takes milliseconds, 0 for no bound";
}

static int knob_write(const char *name, const char *value)
{
	char path[PATH_MAX];
	size_t len = strlen(value);
	ssize_t n;
	int fd, err = 0;

	snprintf(path, sizeof(path), SYSFS_DIR "/%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* No newline: sysfs parsers take the value with or without one */
	n = write(fd, value, len);
	if (n < 0)
		err = errno;
	else if ((size_t)n != len)
		err = EIO;
	close(fd);
	return -err;
}

static int policy_read(struct entries *es)
{
	char path[PATH_MAX], value[256];
	size_t i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(knob_names); i++) {
		char *v = value, *end;

		snprintf(path, sizeof(path), SYSFS_DIR "/%s", knob_names[i]);
		ret = read_text(path, value, sizeof(value));
		if (ret)
			return sysfs_error(path, -ret);
		/* "always [madvise] never": the bracketed word is the setting */
		if (!strcmp(knob_names[i], "enabled")) {
			v = strchr(value, '[');
			end = v ? strchr(v, ']') : NULL;
			if (v && end) {
				v++;
				*end = '\0';
			} else {
				v = value;
			}
		}
		if (entries_add(es, knob_names[i], v))
			return fail("out of memory");
	}
	return 0;
}

static int cmd_policy(struct req *r)
{
	struct entries pol = {};
	int i, ret;

	/* Check every argument before writing any: all or nothing on typos */
	for (i = 0; i < r->nargs; i++) {
		const char *arg = r->args[i], *eq = strchr(arg, '=');

		if (!eq || eq == arg || !eq[1])
			return usage_error("policy: expected NAME=VALUE, got '%s'",
					   arg);
		if (!is_knob(arg, eq - arg))
			return usage_error("policy: unknown knob '%.*s' (one of enabled, rdma, vfio, min_size, max_pages, max_ms)",
					   (int)(eq - arg), arg);
	}
	for (i = 0; i < r->nargs; i++) {
		char name[32];
		const char *eq = strchr(r->args[i], '='), *hint;

		snprintf(name, sizeof(name), "%.*s", (int)(eq - r->args[i]),
			 r->args[i]);
		ret = knob_write(name, eq + 1);
		if (!ret)
			continue;
		if (ret == -ENOENT && access(SYSFS_DIR, F_OK))
			return sysfs_error(SYSFS_DIR, ENOENT);
		print_errno(r->args[i], -ret);
		hint = knob_hint(name, -ret);
		if (hint)
			fprintf(stderr, "contigctl: %s\n", hint);
		/* Earlier writes stay: say so rather than leave it a guess */
		if (i)
			fprintf(stderr, "contigctl: %d earlier setting%s written, the rest not\n",
				i, i > 1 ? "s were" : " was");
		return EXIT_KERNEL;
	}

	ret = policy_read(&pol);
	if (ret)
		goto out;
	if (r->json) {
		printf("{\"command\":\"policy\",");
		json_entries("policy", &pol);
		puts("}");
	} else {
		print_entries(&pol);
	}
	ret = finish_output();
out:
	entries_free(&pol);
	return ret;
}

static const char pid_help[] =
	"  --pid PID        the memory of process PID, named by a pidfd\n"
	"                   (pidfd_open(2)): needs ptrace access to it, and\n"
	"                   CAP_SYS_NICE if it belongs to another user. Without\n"
	"                   --pid the range is in contigctl's own memory, which\n"
	"                   is of use only to test the interface (its errors)\n"
	"  --key ADDR       the address at which the device sees START: an IOVA,\n"
	"                   or START itself for RDMA (the default)\n";

static const char json_help[] =
	"  --json           one JSON object on stdout, on one line\n";

static const char prepare_help[] =
	"Move the pages of [START, START+LEN) so that the range becomes physically\n"
	"contiguous, in chunks congruent with its DMA key modulo 2 MiB and 1 GiB\n"
	"where the device maps such pages, and print the layout before and after\n"
	"and what was moved. Page contents never change; pages not populated are\n"
	"left alone unless --populate is given. The policy's enabled, rdma, vfio and min_size knobs do not\n"
	"apply to this explicit request; its max_pages and max_ms bounds do.\n"
	"After a second, progress is shown on stderr if it is a terminal.\n"
	"Stopping contigctl (^C) stops the request, leaving it half done.\n"
	"\n"
	"%s"
	"  --pgsizes LIST   page sizes the device can map: a comma list of 4K, 2M\n"
	"                   and 1G, which must include 4K, or a bitmap such as\n"
	"                   0x40201000; default: the kernel's (4K,2M,1G)\n"
	"  --exchange-only  move pages only by exchanging them with the owner of\n"
	"                   their target frame, never into free frames\n"
	"  --populate[=write|read]  first do what a long-term pin of the range\n"
	"                   (writable by default) will do: fault in the pages not\n"
	"                   populated and copy those shared copy-on-write, so that\n"
	"                   the pages placed are the ones a registration gets\n"
	"  --max-pages N    stop after moving N pages (default: the policy's\n"
	"                   max_pages, if any)\n"
	"  --max-ms MS      stop after MS milliseconds (default: the policy's\n"
	"                   max_ms, if any)\n"
	"  --progress       show progress even when stderr is not a terminal\n"
	"%s";

static const char query_help[] =
	"Report how [START, START+LEN) is laid out physically, as a device that\n"
	"sees START at the key does: runs of pages contiguous both virtually and\n"
	"physically (the entries a scatterlist or IOMMU mapping needs), the\n"
	"longest run, 2 MiB and 1 GiB chunks congruent with the key, and pages\n"
	"present. Nothing is moved or faulted in; no physical address is shown.\n"
	"\n"
	"%s%s";

static const char stats_help[] =
	"Print the counters of " STATS_DIR "/ by name (since\n"
	"boot, over every request: the drivers' hooks and prepare), then the\n"
	"contig_dma_* lines of /proc/vmstat.\n"
	"\n"
	"%s%s";

static const char policy_help[] =
	"Print the policy knobs of " SYSFS_DIR "/: enabled (always,\n"
	"madvise or never: when the RDMA and VFIO/iommufd hooks prepare), rdma\n"
	"and vfio (0 or 1: whether each hook may), min_size (bytes: smaller\n"
	"driver requests are skipped), max_pages and max_ms (bounds on every\n"
	"request; 0: none). With NAME=VALUE arguments, first write each value,\n"
	"in order, as given (needs root); no knob is written if one NAME is\n"
	"unknown, and the first refused write stops the rest.\n"
	"\n"
	"%s%s";

static const struct command commands[] = {
	{
		.name = "prepare",
		.synopsis = "prepare [--pid PID] [--key ADDR] [--pgsizes LIST]\n"
			    "[--exchange-only] [--populate[=write|read]]\n"
			    "[--max-pages N] [--max-ms MS]\n"
			    "[--progress] [--json] START LEN",
		.help = prepare_help,
		.opts = prepare_opts,
		.run = cmd_prepare,
	},
	{
		.name = "query",
		.synopsis = "query [--pid PID] [--key ADDR] [--json] START LEN",
		.help = query_help,
		.opts = query_opts,
		.run = cmd_query,
	},
	{
		.name = "stats",
		.synopsis = "stats [--json]",
		.help = stats_help,
		.opts = json_opts,
		.run = cmd_stats,
	},
	{
		.name = "policy",
		.synopsis = "policy [--json] [NAME=VALUE ...]",
		.help = policy_help,
		.opts = json_opts,
		.run = cmd_policy,
	},
};

static const struct example examples[] = {
	{ "query", "How contiguous is a 256 MiB buffer of process 4242 for RDMA?",
	  "contigctl query --pid 4242 0x7f5a00000000 256M" },
	{ "prepare", "Prepare it for a device that maps 4 KiB and 2 MiB pages only:",
	  "contigctl prepare --pid 4242 --pgsizes 4K,2M 0x7f5a00000000 256M" },
	{ "prepare", "Prepare 1 GiB that a VFIO device will see at IOVA 0x100000000:",
	  "contigctl prepare --pid 4242 --key 0x100000000 --json 0x7f5a00000000 1G" },
	{ "prepare", "Spend at most half a second on it:",
	  "contigctl prepare --pid 4242 --max-ms 500 0x7f5a00000000 1G" },
	{ "policy", "Let the hooks prepare every registration, 500 ms at most:",
	  "contigctl policy enabled=always max_ms=500" },
	{ "stats", "The counters, for a script:",
	  "contigctl stats --json" },
};

static const char numbers_help[] =
	"Numbers are in C notation (4096, 0x7f5a00000000, 0755); LEN and prepare's\n"
	"--max-pages also take a binary suffix K, M or G (256M = 256 MiB). START,\n"
	"LEN and the key must be multiples of 4 KiB; the kernel checks them.\n";

static const char exit_help[] =
	"exit status:\n"
	"  0  success\n"
	"  1  the kernel refused or failed (the errno and a hint are on stderr),\n"
	"     or contig_dma is missing from this kernel\n"
	"  2  usage error\n";

/* @cmd's help; in the full help, query refers to prepare's options */
static void print_help_text(FILE *f, const struct command *cmd, bool full)
{
	if (full && cmd->run == cmd_query)
		fprintf(f, cmd->help,
			"  --pid PID, --key ADDR, --json: as for prepare\n", "");
	else if (cmd->run == cmd_prepare || cmd->run == cmd_query)
		fprintf(f, cmd->help, pid_help, json_help);
	else
		fprintf(f, cmd->help, json_help, "");
}

static void print_examples(FILE *f, const char *cmd)
{
	size_t i;

	fprintf(f, "examples:\n");
	for (i = 0; i < ARRAY_SIZE(examples); i++) {
		if (cmd && strcmp(cmd, examples[i].cmd))
			continue;
		fprintf(f, "  # %s\n  %s\n", examples[i].what,
			examples[i].line);
	}
}

/* @cmd's synopsis after @prefix, continuation lines under its first option */
static void print_synopsis(FILE *f, const char *prefix,
			   const struct command *cmd)
{
	int indent = strlen(prefix) + strlen("contigctl ") +
		     strlen(cmd->name) + 1;
	const char *s;

	fprintf(f, "%scontigctl ", prefix);
	for (s = cmd->synopsis; *s; s++) {
		fputc(*s, f);
		if (*s == '\n')
			fprintf(f, "%*s", indent, "");
	}
	fputc('\n', f);
}

static void help_command(FILE *f, const struct command *cmd)
{
	print_synopsis(f, "usage: ", cmd);
	fputc('\n', f);
	print_help_text(f, cmd, false);
	if (cmd->run == cmd_prepare || cmd->run == cmd_query)
		fprintf(f, "\n%s", numbers_help);
	fprintf(f, "\n%s\n", exit_help);
	print_examples(f, cmd->name);
}

static void help_all(FILE *f)
{
	size_t i;

	fprintf(f,
		"contigctl: make memory physically contiguous for DMA before a device\n"
		"maps it, and see how contiguous it is, through " DEV_PATH ".\n"
		"\n"
		"usage:\n");
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		print_synopsis(f, "  ", &commands[i]);
	fprintf(f,
		"  contigctl help [COMMAND] | contigctl [COMMAND] --help\n");
	for (i = 0; i < ARRAY_SIZE(commands); i++) {
		fprintf(f, "\n%s:\n", commands[i].name);
		print_help_text(f, &commands[i], true);
	}
	fprintf(f, "\n%s\n%s\n", numbers_help, exit_help);
	print_examples(f, NULL);
}

static const struct command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const struct command *cmd;
	struct req r = {};
	int ret;

	if (argc < 2)
		return usage_error("no command given");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		help_all(stdout);
		return finish_output();
	}
	if (!strcmp(argv[1], "help")) {
		if (argc == 2) {
			help_all(stdout);
			return finish_output();
		}
		cmd = find_command(argv[2]);
		if (!cmd)
			return usage_error("help: unknown command '%s'",
					   argv[2]);
		if (argc > 3)
			return usage_error("help: unexpected argument '%s'",
					   argv[3]);
		help_command(stdout, cmd);
		return finish_output();
	}
	cmd = find_command(argv[1]);
	if (!cmd)
		return usage_error("unknown command '%s'", argv[1]);

	r.cmd = cmd;
	ret = parse_options(cmd, argc - 1, argv + 1, &r);
	if (ret >= 0)
		return ret ? ret : finish_output();
	return cmd->run(&r);
}
