// SPDX-License-Identifier: GPL-2.0
/*
 * vfio_edu - end-to-end VFIO DMA mapping test using QEMU's edu device.
 *
 * What it checks:
 *   - A DMA map of a buffer (default 64 MiB of anonymous memory at IOVA
 *     0x40000000) through the Intel IOMMU succeeds, how long it takes and
 *     how many iommu_map() calls it issued (iommu:map tracepoint). The map
 *     goes through one of three interfaces: VFIO type1
 *     (VFIO_IOMMU_MAP_DMA on /dev/vfio/vfio), iommufd as a VFIO container
 *     (the same ioctl on /dev/iommu) or iommufd natively (the device's
 *     /dev/vfio/devices/ cdev bound to /dev/iommu, IOMMU_IOAS_MAP).
 *   - The IOMMU page table built for the device (read back from the
 *     intel-iommu debugfs dump) covers the mapped range exactly, and with
 *     the largest leaves (4 KiB / 2 MiB / 1 GiB) the buffer's physical
 *     layout at that IOVA allows, no fewer.
 *   - With --expect-contig / --expect-1g (contig's policy "always"), that
 *     every 2 MiB-aligned IOVA block of the buffer is physically
 *     contiguous and congruent (a 2 MiB leaf), and every 1 GiB-aligned
 *     one a 1 GiB leaf: the floor.
 *   - Real device DMA through that mapping works: the edu device copies a
 *     page (RAM -> device -> a different RAM page) at several offsets of
 *     the buffer, the copy is byte exact, nothing beyond the transfer is
 *     written, and afterwards every page of the buffer is still intact.
 *   - With --bystander, that the map does not hold up the container's
 *     other users: while it runs (contig preparing the buffer, policy
 *     "always"), a second thread maps and unmaps a 64 KiB buffer in the
 *     same container or IOAS, and must be done before the big map returns.
 *   - With --no-memlock, that a task without CAP_IPC_LOCK and with
 *     RLIMIT_MEMLOCK 0 has its map refused (ENOMEM) without contig having
 *     been asked to prepare the range (its "requests" count unchanged).
 *   - With --populated PCT, only that share of the buffer's pages is
 *     written before the map (spread evenly: 50 is every other page), so
 *     the map's pin populates the rest; they must read zero after it.
 *     With contig's policy "always" and --expect-contig, they must be
 *     placed with the rest (contig populates as the pin would).
 *   - With --fork, a child shares the buffer copy-on-write while it is
 *     mapped: the map's writable pin copies every page first (contig,
 *     doing the same, places the copies), then the parent and the child
 *     each write their own copy, and each must see only its own writes.
 *   - The unmap unmaps exactly what was mapped and releases every page
 *     pin the map took (/proc/vmstat nr_foll_pin_*); with --cycles N, N
 *     more map/unmap cycles of the same buffer pass the same leaf checks
 *     and leak no pin either (the repeated map's latency is reported).
 *
 * Why: this exercises the whole VFIO -> IOMMU -> page table -> device DMA
 * path, so a change in how mappings are built (large page use, number of
 * iommu_map() calls) is checked both structurally (leaf sizes, exact
 * coverage of the range) and functionally (DMA data integrity), not just
 * by timing.
 *
 * Expected environment: QEMU q35 guest with intel-iommu and an edu device
 * (1234:11e8) bound to vfio-pci, debugfs and tracefs mounted, run as root.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "lib/iommufd_abi.h"
#include "lib/layout.h"
#include "lib/memcg.h"

#define PROG			"vfio_edu"

#define SZ_4K			(1ULL << 12)
#define SZ_2M			(1ULL << 21)
#define SZ_1G			(1ULL << 30)

#define EDU_VENDOR		0x1234
#define EDU_DEVICE		0x11e8
#define EDU_REG_ID		0x00
#define EDU_ID_MAGIC		0xed
#define EDU_REG_DMA_SRC		0x80
#define EDU_REG_DMA_DST		0x88
#define EDU_REG_DMA_CNT		0x90
#define EDU_REG_DMA_CMD		0x98
#define EDU_DMA_RUN		0x1
#define EDU_DMA_TO_RAM		0x2
#define EDU_DMA_BUF		0x40000
/* Stay strictly inside the 4 KiB window: QEMU 7.2 aborts at its end. */
#define EDU_DMA_COUNT		2048
#define EDU_DMA_TIMEOUT_NS	(10ULL * 1000000000ULL)

/* VT-d PS bit (DMA_PTE_LARGE_PAGE in drivers/iommu/intel/iommu.h) */
#define VTD_PTE_LARGE_PAGE	(1ULL << 7)

#define POISON			0xa5
#define PATTERN_SALT		0xed00ed00ed00ed00ULL

#define SYSFS_PCI		"/sys/bus/pci/devices"
#define TRACEFS			"/sys/kernel/tracing"
#define TRACE_MAP_EVENT		TRACEFS "/events/iommu/map/enable"
#define DEBUGFS_INTEL		"/sys/kernel/debug/iommu/intel"

enum iface { IFACE_TYPE1, IFACE_COMPAT, IFACE_IOMMUFD };
static const char * const iface_names[] = { "type1", "compat", "iommufd" };

enum backing { BACK_ANON, BACK_THP, BACK_NOTHP, BACK_MEMFD };
static const char * const backing_names[] = { "anon", "thp", "nothp", "memfd" };

struct options {
	unsigned long size_mib;
	uint64_t iova;
	unsigned long offsets;
	enum iface iface;
	enum backing backing;
	unsigned long cycles;
	bool expect_contig;
	bool expect_1g;
	bool bystander;
	bool no_memlock;
	unsigned long populated_pct;
	bool fork_child;
	const char *memcg;
	bool json;
};

struct result {
	unsigned long map_calls;
	unsigned long leaves_4k;
	unsigned long leaves_2m;
	unsigned long leaves_1g;
	uint64_t map_us;
	uint64_t map_repeat_us;	/* average over the --cycles maps */
	unsigned long cycles_ok;
	struct layout before;	/* of the buffer at its IOVA, before the map */
	struct layout layout;	/* of the buffer at its IOVA, while mapped */
	long pins_base;		/* page pins held before the map */
	long pinned;		/* page pins the map took */
	long pins_leaked;	/* pins still held after the unmaps */
	unsigned long dma_ok;
	unsigned long dma_failed;
	bool mapped;		/* VFIO_IOMMU_MAP_DMA succeeded */
	bool bystander_ok;	/* --bystander: done before the map returned */
	bool unmap_ok;
	bool integrity_ok;
	bool fork_ok;		/* --fork: each side saw its own writes only */
	long memcg_map_bytes;	/* --memcg: what memory.current grew over the map */
};

/* A device region, accessed by mmap when possible, else pread/pwrite. */
struct region {
	int fd;
	uint64_t offset;
	uint64_t size;
	volatile uint8_t *map;
};

struct vfio_dev {
	char bdf[NAME_MAX + 1];
	enum iface iface;
	int group_id;
	int container;		/* /dev/vfio/vfio, or /dev/iommu as container */
	int group;
	int iommufd;		/* native iommufd */
	uint32_t ioas_id;
	int device;
	struct region bar0;
};

struct dmabuf {
	uint8_t *va;
	int memfd;
	uint64_t iova;
	size_t size;
	size_t npages;
	unsigned long populated_pct;	/* of pages written before the map */
};

static FILE *info_out;
static size_t page_size;

#define __printf(a, b)		__attribute__((format(printf, a, b)))

static void __printf(1, 2) log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(info_out, PROG ": ");
	vfprintf(info_out, fmt, ap);
	fputc('\n', info_out);
	va_end(ap);
}

static void __printf(1, 2) log_err(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	va_start(ap, fmt);
	fprintf(stderr, PROG ": error: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [--size MiB] [--iova HEX] [--offsets N]\n"
		"       [--iface type1|compat|iommufd] [--backing anon|thp|nothp|memfd]\n"
		"       [--cycles N] [--expect-contig] [--expect-1g] [--bystander]\n"
		"       [--no-memlock] [--populated PCT] [--fork] [--memcg DIR]\n"
		"       [--json]\n"
		"  --size MiB       buffer size to map (default 64)\n"
		"  --iova HEX       IOVA to map it at (default 0x40000000)\n"
		"  --offsets N      pages to DMA-test, spread evenly (default 3:\n"
		"                   first, middle, last)\n"
		"  --iface I        type1: VFIO type1 container (default);\n"
		"                   compat: /dev/iommu as the VFIO container;\n"
		"                   iommufd: the VFIO cdev and IOMMU_IOAS_MAP\n"
		"  --backing B      anon (default; THP as the system says), thp\n"
		"                   (MADV_HUGEPAGE), nothp (MADV_NOHUGEPAGE), memfd\n"
		"  --cycles N       then unmap and map the same buffer N more times\n"
		"  --expect-contig  fail unless every 2 MiB-aligned IOVA block of\n"
		"                   the buffer is one 2 MiB chunk (or larger leaf)\n"
		"  --expect-1g      fail unless every 1 GiB-aligned IOVA block of the\n"
		"                   buffer is one 1 GiB leaf\n"
		"  --bystander      while the buffer is being mapped, map and unmap\n"
		"                   64 KiB more in the same container from another\n"
		"                   thread; fail unless that is done before the\n"
		"                   buffer's map returns\n"
		"  --no-memlock     drop CAP_IPC_LOCK, set RLIMIT_MEMLOCK to 0: the\n"
		"                   map must fail with ENOMEM, and contig must not\n"
		"                   have been asked to prepare the buffer\n"
		"  --populated PCT  write only PCT %% of the pages before the map\n"
		"                   (spread evenly); the rest must read zero after it\n"
		"  --fork           a child shares the buffer copy-on-write across\n"
		"                   the map; each side must see only its own writes\n"
		"  --memcg DIR      run in the memory cgroup DIR (cgroup v2) and\n"
		"                   report how much its memory.current grew over\n"
		"                   the map (what the pin and contig charged)\n"
		"  --json           print the result as one JSON object\n");
}

static int parse_num(const char *s, int base, uint64_t *out)
{
	char *end;

	errno = 0;
	if (!*s || *s == '-')
		return -1;
	*out = strtoull(s, &end, base);
	return (errno || *end) ? -1 : 0;
}

static int parse_name(const char *s, const char * const *names, int n,
		      uint64_t *out)
{
	int i;

	for (i = 0; i < n; i++) {
		if (!strcmp(s, names[i])) {
			*out = i;
			return 0;
		}
	}
	return -1;
}

/* Returns 0 to run, 1 when --help was given, -1 on a usage error. */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "size",    required_argument, NULL, 's' },
		{ "iova",    required_argument, NULL, 'i' },
		{ "offsets", required_argument, NULL, 'n' },
		{ "iface",   required_argument, NULL, 'I' },
		{ "backing", required_argument, NULL, 'b' },
		{ "cycles",  required_argument, NULL, 'c' },
		{ "expect-contig", no_argument, NULL, 'C' },
		{ "expect-1g", no_argument,     NULL, 'G' },
		{ "bystander", no_argument,     NULL, 'B' },
		{ "no-memlock", no_argument,    NULL, 'M' },
		{ "populated", required_argument, NULL, 'P' },
		{ "fork",    no_argument,       NULL, 'F' },
		{ "memcg",   required_argument, NULL, 'm' },
		{ "json",    no_argument,       NULL, 'j' },
		{ "help",    no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	uint64_t v;
	int c;

	o->size_mib = 64;
	o->iova = 0x40000000;
	o->offsets = 3;
	o->iface = IFACE_TYPE1;
	o->backing = BACK_ANON;
	o->cycles = 0;
	o->expect_contig = false;
	o->expect_1g = false;
	o->bystander = false;
	o->no_memlock = false;
	o->populated_pct = 100;
	o->fork_child = false;
	o->memcg = NULL;
	o->json = false;

	while ((c = getopt_long(argc, argv, "s:i:n:I:b:c:CGBMP:Fm:jh", longopts,
				NULL)) != -1) {
		switch (c) {
		case 's':
			if (parse_num(optarg, 10, &v) || !v || v > (1UL << 20))
				goto bad;
			o->size_mib = v;
			break;
		case 'i':
			if (parse_num(optarg, 16, &o->iova) ||
			    o->iova & (SZ_4K - 1))
				goto bad;
			break;
		case 'n':
			if (parse_num(optarg, 10, &v) || !v || v > UINT_MAX)
				goto bad;
			o->offsets = v;
			break;
		case 'I':
			if (parse_name(optarg, iface_names, 3, &v))
				goto bad;
			o->iface = v;
			break;
		case 'b':
			if (parse_name(optarg, backing_names, 4, &v))
				goto bad;
			o->backing = v;
			break;
		case 'c':
			if (parse_num(optarg, 10, &v) || v > 1000)
				goto bad;
			o->cycles = v;
			break;
		case 'C':
			o->expect_contig = true;
			break;
		case 'G':
			o->expect_1g = true;
			break;
		case 'B':
			o->bystander = true;
			break;
		case 'M':
			o->no_memlock = true;
			break;
		case 'P':
			if (parse_num(optarg, 10, &v) || v > 100)
				goto bad;
			o->populated_pct = v;
			break;
		case 'F':
			o->fork_child = true;
			break;
		case 'm':
			o->memcg = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return -1;
	}
	if (o->iova + ((uint64_t)o->size_mib << 20) < o->iova) {
		fprintf(stderr, PROG ": iova + size overflows\n");
		return -1;
	}
	return 0;
bad:
	fprintf(stderr, PROG ": invalid value '%s' for option -%c "
		"(size: 1..1048576 MiB, iova: 4 KiB aligned hex, offsets >= 1,\n"
		"cycles: 0..1000, populated: 0..100, iface and backing: see below)\n",
		optarg, c);
	usage(stderr);
	return -1;
}

static int read_sysfs_hex(const char *path, unsigned long *val)
{
	char buf[32];
	FILE *f;
	int ok;

	f = fopen(path, "r");
	if (!f)
		return -1;
	ok = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	if (!ok)
		return -1;
	*val = strtoul(buf, NULL, 16);
	return 0;
}

static int find_edu(struct vfio_dev *d)
{
	unsigned long vendor, device;
	struct dirent *de;
	char path[PATH_MAX];
	DIR *dir;
	int found = 0;

	dir = opendir(SYSFS_PCI);
	if (!dir) {
		log_err("opendir %s: %s", SYSFS_PCI, strerror(errno));
		return -1;
	}
	while (!found && (de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), SYSFS_PCI "/%s/vendor", de->d_name);
		if (read_sysfs_hex(path, &vendor) || vendor != EDU_VENDOR)
			continue;
		snprintf(path, sizeof(path), SYSFS_PCI "/%s/device", de->d_name);
		if (read_sysfs_hex(path, &device) || device != EDU_DEVICE)
			continue;
		snprintf(d->bdf, sizeof(d->bdf), "%s", de->d_name);
		found = 1;
	}
	closedir(dir);
	if (!found) {
		log_err("no edu device (%04x:%04x) found in %s",
			EDU_VENDOR, EDU_DEVICE, SYSFS_PCI);
		return -1;
	}
	log_info("edu device %s", d->bdf);
	return 0;
}

/* Basename of the target of SYSFS_PCI/<bdf>/<link>. */
static int read_link_name(const char *bdf, const char *link, char *out,
			  size_t len)
{
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), SYSFS_PCI "/%s/%s", bdf, link);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0) {
		log_err("readlink %s: %s", path, strerror(errno));
		return -1;
	}
	target[n] = '\0';
	snprintf(out, len, "%s", basename(target));
	return 0;
}

static int find_group(struct vfio_dev *d)
{
	char name[PATH_MAX];

	if (read_link_name(d->bdf, "driver", name, sizeof(name)))
		return -1;
	if (strcmp(name, "vfio-pci")) {
		log_err("%s is bound to '%s', not vfio-pci", d->bdf, name);
		return -1;
	}
	if (read_link_name(d->bdf, "iommu_group", name, sizeof(name)))
		return -1;
	d->group_id = atoi(name);
	log_info("iommu group %d", d->group_id);
	return 0;
}

/*
 * The group path: a container (VFIO type1's /dev/vfio/vfio, or /dev/iommu,
 * which iommufd makes act as one), the group set to it, then the device.
 */
static int vfio_group_setup(struct vfio_dev *d)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	const char *container = d->iface == IFACE_COMPAT ? "/dev/iommu" :
							   "/dev/vfio/vfio";
	char path[64];
	int ret;

	d->container = open(container, O_RDWR);
	if (d->container < 0) {
		log_err("open %s: %s", container, strerror(errno));
		return -1;
	}
	ret = ioctl(d->container, VFIO_GET_API_VERSION);
	if (ret != VFIO_API_VERSION) {
		log_err("VFIO API version %d, expected %d", ret,
			VFIO_API_VERSION);
		return -1;
	}
	ret = ioctl(d->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU);
	if (ret <= 0) {
		log_err("VFIO_TYPE1v2_IOMMU not supported%s%s",
			ret < 0 ? ": " : "", ret < 0 ? strerror(errno) : "");
		return -1;
	}

	snprintf(path, sizeof(path), "/dev/vfio/%d", d->group_id);
	d->group = open(path, O_RDWR);
	if (d->group < 0) {
		log_err("open %s: %s", path, strerror(errno));
		return -1;
	}
	if (ioctl(d->group, VFIO_GROUP_GET_STATUS, &status)) {
		log_err("VFIO_GROUP_GET_STATUS: %s", strerror(errno));
		return -1;
	}
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		log_err("group %d is not viable (bind all its devices to "
			"vfio-pci)", d->group_id);
		return -1;
	}
	if (ioctl(d->group, VFIO_GROUP_SET_CONTAINER, &d->container)) {
		log_err("VFIO_GROUP_SET_CONTAINER: %s", strerror(errno));
		return -1;
	}
	/* Type1 v1 would disable IOMMU large pages. */
	if (ioctl(d->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)) {
		log_err("VFIO_SET_IOMMU(TYPE1v2): %s", strerror(errno));
		return -1;
	}
	d->device = ioctl(d->group, VFIO_GROUP_GET_DEVICE_FD, d->bdf);
	if (d->device < 0) {
		log_err("VFIO_GROUP_GET_DEVICE_FD(%s): %s", d->bdf,
			strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The native iommufd path: the device's cdev bound to /dev/iommu, attached
 * to a new IOAS that the buffer is then mapped into.
 */
static int vfio_cdev_setup(struct vfio_dev *d)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach),
	};
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	char name[NAME_MAX + 1], path[PATH_MAX];
	struct dirent *de;
	DIR *dir;

	snprintf(path, sizeof(path), SYSFS_PCI "/%s/vfio-dev", d->bdf);
	dir = opendir(path);
	if (!dir) {
		log_err("opendir %s: %s (need CONFIG_VFIO_DEVICE_CDEV)", path,
			strerror(errno));
		return -1;
	}
	name[0] = '\0';
	while ((de = readdir(dir)))
		if (!strncmp(de->d_name, "vfio", 4))
			snprintf(name, sizeof(name), "%s", de->d_name);
	closedir(dir);
	if (!name[0]) {
		log_err("no vfio cdev in %s", path);
		return -1;
	}
	snprintf(path, sizeof(path), "/dev/vfio/devices/%s", name);
	d->device = open(path, O_RDWR);
	if (d->device < 0) {
		log_err("open %s: %s", path, strerror(errno));
		return -1;
	}
	d->iommufd = open("/dev/iommu", O_RDWR);
	if (d->iommufd < 0) {
		log_err("open /dev/iommu: %s (need CONFIG_IOMMUFD)",
			strerror(errno));
		return -1;
	}
	bind.iommufd = d->iommufd;
	if (ioctl(d->device, VFIO_DEVICE_BIND_IOMMUFD, &bind)) {
		log_err("VFIO_DEVICE_BIND_IOMMUFD: %s", strerror(errno));
		return -1;
	}
	if (ioctl(d->iommufd, IOMMU_IOAS_ALLOC, &alloc)) {
		log_err("IOMMU_IOAS_ALLOC: %s", strerror(errno));
		return -1;
	}
	d->ioas_id = alloc.out_ioas_id;
	attach.pt_id = d->ioas_id;
	if (ioctl(d->device, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach)) {
		log_err("VFIO_DEVICE_ATTACH_IOMMUFD_PT(ioas %u): %s",
			d->ioas_id, strerror(errno));
		return -1;
	}
	log_info("%s bound to /dev/iommu, attached to IOAS %u", path,
		 d->ioas_id);
	return 0;
}

static int vfio_setup(struct vfio_dev *d)
{
	return d->iface == IFACE_IOMMUFD ? vfio_cdev_setup(d) :
					   vfio_group_setup(d);
}

static int region_info(struct vfio_dev *d, unsigned int index,
		       struct vfio_region_info *info)
{
	memset(info, 0, sizeof(*info));
	info->argsz = sizeof(*info);
	info->index = index;
	if (ioctl(d->device, VFIO_DEVICE_GET_REGION_INFO, info)) {
		log_err("VFIO_DEVICE_GET_REGION_INFO(%u): %s", index,
			strerror(errno));
		return -1;
	}
	return 0;
}

static int enable_bus_master(struct vfio_dev *d)
{
	const uint16_t want = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	struct vfio_region_info info;
	uint16_t cmd;
	off_t off;

	if (region_info(d, VFIO_PCI_CONFIG_REGION_INDEX, &info))
		return -1;
	off = info.offset + PCI_COMMAND;
	if (pread(d->device, &cmd, sizeof(cmd), off) != sizeof(cmd)) {
		log_err("pread PCI_COMMAND: %s", strerror(errno));
		return -1;
	}
	cmd |= want;
	if (pwrite(d->device, &cmd, sizeof(cmd), off) != sizeof(cmd)) {
		log_err("pwrite PCI_COMMAND: %s", strerror(errno));
		return -1;
	}
	if (pread(d->device, &cmd, sizeof(cmd), off) != sizeof(cmd)) {
		log_err("pread PCI_COMMAND: %s", strerror(errno));
		return -1;
	}
	if ((cmd & want) != want) {
		log_err("PCI_COMMAND is 0x%04x, memory/bus master not set", cmd);
		return -1;
	}
	return 0;
}

static int bar0_setup(struct vfio_dev *d)
{
	struct region *r = &d->bar0;
	struct vfio_region_info info;
	void *map;

	if (region_info(d, VFIO_PCI_BAR0_REGION_INDEX, &info))
		return -1;
	if (info.size < EDU_REG_DMA_CMD + 8) {
		log_err("BAR0 too small (%llu bytes)",
			(unsigned long long)info.size);
		return -1;
	}
	r->fd = d->device;
	r->offset = info.offset;
	r->size = info.size;
	r->map = NULL;
	if (!(info.flags & VFIO_REGION_INFO_FLAG_MMAP)) {
		log_info("BAR0 not mmap-able, using pread/pwrite");
		return 0;
	}
	map = mmap(NULL, info.size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   d->device, info.offset);
	if (map == MAP_FAILED) {
		log_info("mmap BAR0: %s, using pread/pwrite", strerror(errno));
		return 0;
	}
	r->map = map;
	return 0;
}

static int reg_read(struct region *r, uint64_t reg, void *val, size_t len)
{
	if (r->map) {
		if (len == 4)
			*(uint32_t *)val = *(volatile uint32_t *)(r->map + reg);
		else
			*(uint64_t *)val = *(volatile uint64_t *)(r->map + reg);
		return 0;
	}
	if (pread(r->fd, val, len, r->offset + reg) != (ssize_t)len) {
		log_err("pread BAR0+0x%" PRIx64 ": %s", reg, strerror(errno));
		return -1;
	}
	return 0;
}

static int reg_write64(struct region *r, uint64_t reg, uint64_t val)
{
	if (r->map) {
		*(volatile uint64_t *)(r->map + reg) = val;
		return 0;
	}
	if (pwrite(r->fd, &val, 8, r->offset + reg) != 8) {
		log_err("pwrite BAR0+0x%" PRIx64 ": %s", reg, strerror(errno));
		return -1;
	}
	return 0;
}

static int edu_check_id(struct region *bar)
{
	uint32_t id;

	if (reg_read(bar, EDU_REG_ID, &id, sizeof(id)))
		return -1;
	if ((id & 0xff) != EDU_ID_MAGIC) {
		log_err("BAR0 ID register is 0x%08x, not an edu device", id);
		return -1;
	}
	log_info("edu id 0x%08x (version %u.%u)", id, id >> 24,
		 (id >> 16) & 0xff);
	return 0;
}

static int edu_wait_idle(struct region *bar)
{
	uint64_t start = now_ns(), cmd;

	for (;;) {
		if (reg_read(bar, EDU_REG_DMA_CMD, &cmd, sizeof(cmd)))
			return -1;
		if (!(cmd & EDU_DMA_RUN))
			return 0;
		if (now_ns() - start > EDU_DMA_TIMEOUT_NS) {
			log_err("edu DMA timed out (cmd 0x%" PRIx64 ")", cmd);
			return -1;
		}
		usleep(1000);
	}
}

static int edu_dma(struct region *bar, uint64_t src, uint64_t dst,
		   uint64_t count, bool to_ram)
{
	if (edu_wait_idle(bar))
		return -1;
	__sync_synchronize();
	if (reg_write64(bar, EDU_REG_DMA_SRC, src) ||
	    reg_write64(bar, EDU_REG_DMA_DST, dst) ||
	    reg_write64(bar, EDU_REG_DMA_CNT, count) ||
	    reg_write64(bar, EDU_REG_DMA_CMD,
			EDU_DMA_RUN | (to_ram ? EDU_DMA_TO_RAM : 0)))
		return -1;
	if (edu_wait_idle(bar))
		return -1;
	__sync_synchronize();
	return 0;
}

static inline uint64_t pattern(size_t page, size_t word)
{
	return ((uint64_t)page << 32) ^ word ^ PATTERN_SALT;
}

static uint64_t *page_ptr(struct dmabuf *b, size_t page)
{
	return (uint64_t *)(b->va + page * page_size);
}

/* --populated: pages written before the map, spread evenly */
static bool written_before(const struct dmabuf *b, size_t page)
{
	return (page * b->populated_pct) % 100 < b->populated_pct;
}

static void fill_page(struct dmabuf *b, size_t page)
{
	uint64_t *p = page_ptr(b, page);
	size_t w;

	for (w = 0; w < page_size / 8; w++)
		p[w] = pattern(page, w);
}

/* Index of the first word not holding its pattern, or -1. */
static long check_page(struct dmabuf *b, size_t page)
{
	uint64_t *p = page_ptr(b, page);
	size_t w;

	for (w = 0; w < page_size / 8; w++)
		if (p[w] != pattern(page, w))
			return w;
	return -1;
}

static int buffer_setup(struct dmabuf *b, const struct options *o)
{
	size_t len, head, page;
	uint8_t *raw, *start;
	void *va;

	b->size = (size_t)o->size_mib << 20;
	b->npages = b->size / page_size;
	b->iova = o->iova;

	/* Align to 2 MiB so THP can back it and large IOMMU pages can fit. */
	len = b->size + SZ_2M;
	raw = mmap(NULL, len, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED) {
		log_err("mmap %zu bytes: %s", len, strerror(errno));
		return -1;
	}
	start = (uint8_t *)(((uintptr_t)raw + SZ_2M - 1) & ~(SZ_2M - 1));
	head = start - raw;
	if (head)
		munmap(raw, head);
	if (len - head > b->size)
		munmap(start + b->size, len - head - b->size);

	if (o->backing == BACK_MEMFD) {
		b->memfd = memfd_create(PROG, MFD_CLOEXEC);
		if (b->memfd < 0 || ftruncate(b->memfd, b->size)) {
			log_err("memfd of %zu bytes: %s", b->size,
				strerror(errno));
			munmap(start, b->size);
			return -1;
		}
		va = mmap(start, b->size, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_FIXED, b->memfd, 0);
	} else {
		va = mmap(start, b->size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	}
	if (va == MAP_FAILED) {
		log_err("mmap %zu bytes of %s memory: %s", b->size,
			backing_names[o->backing], strerror(errno));
		munmap(start, b->size);
		return -1;
	}
	b->va = va;
	if ((o->backing == BACK_THP &&
	     madvise(b->va, b->size, MADV_HUGEPAGE)) ||
	    (o->backing == BACK_NOTHP &&
	     madvise(b->va, b->size, MADV_NOHUGEPAGE))) {
		log_err("madvise(%s): %s", backing_names[o->backing],
			strerror(errno));
		return -1;
	}

	b->populated_pct = o->populated_pct;
	for (page = 0; page < b->npages; page++)
		if (written_before(b, page))
			fill_page(b, page);
	log_info("buffer %zu MiB of %s memory at %p filled (%lu %% of its pages)",
		 b->size >> 20, backing_names[o->backing], b->va,
		 o->populated_pct);
	return 0;
}

/*
 * --populated: the pin made the pages not written before the map; they
 * read zero. Then they get their pattern, so that the DMA tests and the
 * integrity check see a whole buffer. Returns the pages that did not read
 * zero.
 */
static size_t fill_holes(struct dmabuf *b)
{
	size_t page, w, bad = 0;
	uint64_t *p;

	for (page = 0; page < b->npages; page++) {
		if (written_before(b, page))
			continue;
		p = page_ptr(b, page);
		for (w = 0; w < page_size / 8; w++)
			if (p[w]) {
				bad++;
				break;
			}
		fill_page(b, page);
	}
	if (bad)
		log_err("%zu pages the map populated did not read zero", bad);
	else if (b->populated_pct < 100)
		log_info("the %zu%% of pages the map populated read zero",
			 100 - (size_t)b->populated_pct);
	return bad;
}

static int write_str(const char *path, const char *s, int flags)
{
	size_t len = strlen(s);
	int fd, ret = 0;

	fd = open(path, O_WRONLY | flags);
	if (fd < 0) {
		log_err("open %s: %s", path, strerror(errno));
		return -1;
	}
	if (len && write(fd, s, len) != (ssize_t)len) {
		log_err("write %s: %s", path, strerror(errno));
		ret = -1;
	}
	close(fd);
	return ret;
}

/* Page pins held system-wide: acquired minus released, /proc/vmstat. */
static int read_pins(long *pins)
{
	unsigned long acquired = 0, released = 0, v;
	char name[64];
	int seen = 0;
	FILE *f;

	/* Fold the per-CPU deltas first, or the two may be off by dozens */
	if (write_str("/proc/sys/vm/stat_refresh", "1", 0))
		return -1;
	f = fopen("/proc/vmstat", "r");
	if (!f) {
		log_err("open /proc/vmstat: %s", strerror(errno));
		return -1;
	}
	while (fscanf(f, "%63s %lu", name, &v) == 2) {
		if (!strcmp(name, "nr_foll_pin_acquired")) {
			acquired = v;
			seen++;
		} else if (!strcmp(name, "nr_foll_pin_released")) {
			released = v;
			seen++;
		}
	}
	fclose(f);
	if (seen != 2) {
		log_err("no nr_foll_pin_* in /proc/vmstat");
		return -1;
	}
	*pins = (long)(acquired - released);
	return 0;
}

static int trace_start(void)
{
	if (write_str(TRACE_MAP_EVENT, "1", 0) ||
	    write_str(TRACEFS "/tracing_on", "1", 0) ||
	    write_str(TRACEFS "/trace", "", O_TRUNC))
		return -1;
	return 0;
}

static void trace_stop(void)
{
	write_str(TRACE_MAP_EVENT, "0", 0);
}

/* Count iommu:map events whose IOVA lies in the buffer's range. */
static int trace_count_maps(struct dmabuf *b, unsigned long *count)
{
	unsigned long in_buf, written;
	size_t cap = 0;
	char *line = NULL, *p;
	uint64_t iova;
	FILE *f;

	f = fopen(TRACEFS "/trace", "r");
	if (!f) {
		log_err("open " TRACEFS "/trace: %s", strerror(errno));
		return -1;
	}
	*count = 0;
	while (getline(&line, &cap, f) > 0) {
		if (sscanf(line, "# entries-in-buffer/entries-written: %lu/%lu",
			   &in_buf, &written) == 2 && in_buf != written)
			log_info("warning: trace buffer lost %lu events, "
				 "map_calls is a lower bound", written - in_buf);
		if (!strstr(line, " map: IOMMU:"))
			continue;
		/* A line without an iova= field is counted anyway. */
		p = strstr(line, "iova=");
		iova = p ? strtoull(p + 5, NULL, 16) : b->iova;
		if (iova >= b->iova && iova < b->iova + b->size)
			(*count)++;
	}
	free(line);
	fclose(f);
	return 0;
}

/* Map the whole buffer at its IOVA through the chosen interface. */
static int dma_map(struct vfio_dev *d, struct dmabuf *b)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)b->va,
		.iova = b->iova,
		.size = b->size,
	};
	struct iommu_ioas_map ioas_map = {
		.size = sizeof(ioas_map),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = d->ioas_id,
		.user_va = (uintptr_t)b->va,
		.length = b->size,
		.iova = b->iova,
	};

	if (d->iface == IFACE_IOMMUFD) {
		if (!ioctl(d->iommufd, IOMMU_IOAS_MAP, &ioas_map))
			return 0;
		log_err("IOMMU_IOAS_MAP iova 0x%" PRIx64 " size %zu: %s",
			b->iova, b->size, strerror(errno));
		return -1;
	}
	if (!ioctl(d->container, VFIO_IOMMU_MAP_DMA, &map))
		return 0;
	log_err("VFIO_IOMMU_MAP_DMA iova 0x%" PRIx64 " size %zu: %s",
		b->iova, b->size, strerror(errno));
	return -1;
}

/* Unmap it; the bytes the kernel says it unmapped must be the buffer's. */
static int dma_unmap(struct vfio_dev *d, struct dmabuf *b)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.iova = b->iova,
		.size = b->size,
	};
	struct iommu_ioas_unmap ioas_unmap = {
		.size = sizeof(ioas_unmap),
		.ioas_id = d->ioas_id,
		.iova = b->iova,
		.length = b->size,
	};
	uint64_t unmapped;

	if (d->iface == IFACE_IOMMUFD) {
		if (ioctl(d->iommufd, IOMMU_IOAS_UNMAP, &ioas_unmap)) {
			log_err("IOMMU_IOAS_UNMAP: %s", strerror(errno));
			return -1;
		}
		unmapped = ioas_unmap.length;
	} else {
		if (ioctl(d->container, VFIO_IOMMU_UNMAP_DMA, &unmap)) {
			log_err("VFIO_IOMMU_UNMAP_DMA: %s", strerror(errno));
			return -1;
		}
		unmapped = unmap.size;
	}
	if (unmapped != b->size) {
		log_err("unmapped %" PRIu64 " bytes, mapped %zu", unmapped,
			b->size);
		return -1;
	}
	return 0;
}

/*
 * The container's other user: 64 KiB mapped and unmapped from a second
 * thread, half a second after the buffer's map was issued, when contig is
 * working on the buffer. Its map is below contig's min_size. With native
 * iommufd it unmaps everything (IOVA 0, length ~0), as a VMM resetting
 * its address space does: that must find no half-made area of the
 * buffer's map in the IOAS (it would fail with EBUSY), and unmap exactly
 * its own 64 KiB.
 */
#define BYSTANDER_SIZE		(64 * 1024)
#define BYSTANDER_DELAY_NS	500000000ULL

struct bystander {
	struct vfio_dev *d;
	struct dmabuf buf;
	uint64_t t_issue;	/* the buffer's map issued */
	uint64_t t_start, t_done;
	int err;
};

static void *bystander_run(void *arg)
{
	struct bystander *bs = arg;
	struct timespec ts = {
		.tv_sec = BYSTANDER_DELAY_NS / 1000000000ULL,
		.tv_nsec = BYSTANDER_DELAY_NS % 1000000000ULL,
	};

	struct iommu_ioas_unmap all = {
		.size = sizeof(all),
		.ioas_id = bs->d->ioas_id,
		.iova = 0,
		.length = UINT64_MAX,
	};

	nanosleep(&ts, NULL);
	bs->t_start = now_ns();
	bs->err = dma_map(bs->d, &bs->buf);
	if (!bs->err && bs->d->iface == IFACE_IOMMUFD) {
		if (ioctl(bs->d->iommufd, IOMMU_IOAS_UNMAP, &all)) {
			log_err("bystander: IOMMU_IOAS_UNMAP of everything: %s",
				strerror(errno));
			bs->err = -1;
		} else if (all.length != BYSTANDER_SIZE) {
			log_err("bystander: unmapping everything unmapped %llu bytes, not its own %d",
				(unsigned long long)all.length,
				BYSTANDER_SIZE);
			bs->err = -1;
		}
	} else if (!bs->err) {
		bs->err = dma_unmap(bs->d, &bs->buf);
	}
	bs->t_done = now_ns();
	return NULL;
}

static int bystander_setup(struct bystander *bs, struct vfio_dev *d,
			   const struct dmabuf *b)
{
	void *va = mmap(NULL, BYSTANDER_SIZE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (va == MAP_FAILED) {
		log_err("bystander buffer: %s", strerror(errno));
		return -1;
	}
	bs->d = d;
	bs->buf = (struct dmabuf){
		.va = va,
		.memfd = -1,
		.size = BYSTANDER_SIZE,
		.npages = BYSTANDER_SIZE / page_size,
		/* Past the buffer, clear of it by a GiB */
		.iova = ((b->iova + b->size + SZ_1G - 1) & ~(SZ_1G - 1)) +
			SZ_1G,
	};
	return 0;
}

static int map_buffer(struct vfio_dev *d, struct dmabuf *b, struct result *r,
		      const struct options *o)
{
	struct bystander bs = { 0 };
	pthread_t thread;
	uint64_t t0, t1;
	long pins, memcg, now;
	int ret;

	if (layout_from_pagemap(0, (uintptr_t)b->va, b->size, b->iova,
				&r->before))
		log_err("no layout of the buffer (pagemap needs root)");
	log_info("buffer before the map: %lu physically contiguous runs, %lu congruent 2 MiB chunks, %lu 1 GiB",
		 r->before.runs, r->before.chunks_2m, r->before.chunks_1g);
	if (read_pins(&r->pins_base) || trace_start()) {
		trace_stop();
		return -1;
	}
	if (o->bystander && (bystander_setup(&bs, d, b) ||
			     pthread_create(&thread, NULL, bystander_run, &bs))) {
		log_err("bystander: cannot start it");
		trace_stop();
		return -1;
	}
	memcg = o->memcg ? memcg_current(o->memcg) : -1;
	t0 = now_ns();
	ret = dma_map(d, b);
	t1 = now_ns();
	now = memcg >= 0 ? memcg_current(o->memcg) : -1;
	if (now >= 0) {
		r->memcg_map_bytes = now - memcg;
		log_info("memcg %s: memory.current grew by %ld bytes (%ld pages) over the map",
			 o->memcg, r->memcg_map_bytes,
			 r->memcg_map_bytes / (long)page_size);
	}
	if (o->bystander) {
		pthread_join(thread, NULL);
		munmap(bs.buf.va, BYSTANDER_SIZE);
		r->bystander_ok = !bs.err && bs.t_done < t1;
		log_info("bystander: 64 KiB map + unmap %s in %" PRIu64
			 " us, started %" PRIu64 " ms into the buffer's map, done %s it returned (%" PRIu64 " ms in)",
			 bs.err ? "failed" : "done",
			 (bs.t_done - bs.t_start) / 1000,
			 (bs.t_start - t0) / 1000000,
			 bs.t_done < t1 ? "before" : "after",
			 (t1 - t0) / 1000000);
	}
	if (ret) {
		trace_stop();
		return -1;
	}
	r->mapped = true;
	r->map_us = (t1 - t0) / 1000;
	ret = trace_count_maps(b, &r->map_calls);
	trace_stop();
	if (!read_pins(&pins))
		r->pinned = pins - r->pins_base;
	if (layout_from_pagemap(0, (uintptr_t)b->va, b->size, b->iova,
				&r->layout))
		log_err("no layout of the buffer (pagemap needs root)");
	log_info("buffer while mapped: %lu physically contiguous runs, %lu congruent 2 MiB chunks, %lu 1 GiB",
		 r->layout.runs, r->layout.chunks_2m, r->layout.chunks_1g);
	log_info("mapped %zu MiB at iova 0x%" PRIx64 " through %s in %" PRIu64
		 " us with %lu iommu_map calls, %ld page pins",
		 b->size >> 20, b->iova, iface_names[d->iface], r->map_us,
		 r->map_calls, r->pinned);
	return ret;
}

/*
 * Parse one line of domain_translation_struct. Leaf lines look like
 *   0x<IOVA_PFN> |<TAB>PML5E<TAB>PML4E<TAB>PDPE[<TAB>PDE[<TAB>PTE]]
 * The first three entries are always printed; PDE and PTE only when the
 * walk went down to that level, so the number of entries tells the leaf
 * level: 3 -> PDPE (1 GiB), 4 -> PDE (2 MiB), 5 -> PTE (4 KiB).
 * Returns 1 for a leaf line, 0 for other lines, -1 if malformed.
 */
static int parse_leaf_line(const char *line, uint64_t *pfn, int *level)
{
	const char *p = line;
	uint64_t val[5];
	char *end;
	int n = 0;

	if (strncmp(p, "0x", 2))
		return 0;
	*pfn = strtoull(p, &end, 16);
	p = end + strspn(end, " \t");
	if (*p++ != '|')
		return -1;
	while (n < 5) {
		p += strspn(p, " \t");
		if (strncmp(p, "0x", 2))
			break;
		val[n++] = strtoull(p, &end, 16);
		p = end;
	}
	if (n < 3 || !val[n - 1])
		return -1;
	*level = 6 - n;
	/* A 2 MiB or 1 GiB leaf must have the PS bit set. */
	if (*level > 1 && !(val[n - 1] & VTD_PTE_LARGE_PAGE))
		return -1;
	return 1;
}

static int count_leaves(struct vfio_dev *d, struct dmabuf *b,
			struct result *r)
{
	char path[PATH_MAX], *line = NULL;
	bool header = false;
	size_t cap = 0;
	uint64_t pfn, iova;
	int level, ret = 0;
	FILE *f;

	snprintf(path, sizeof(path), DEBUGFS_INTEL "/%s/domain_translation_struct",
		 d->bdf);
	f = fopen(path, "r");
	if (!f) {
		log_err("open %s: %s (need debugfs and "
			"CONFIG_INTEL_IOMMU_DEBUGFS)", path, strerror(errno));
		return -1;
	}
	while (getline(&line, &cap, f) > 0) {
		if (!strncmp(line, "IOVA_PFN", 8))
			header = true;
		switch (parse_leaf_line(line, &pfn, &level)) {
		case 0:
			continue;
		case -1:
			log_err("unexpected line in %s: %s", path, line);
			ret = -1;
			continue;
		}
		iova = pfn << 12;
		if (iova < b->iova || iova >= b->iova + b->size)
			continue;
		if (level == 1)
			r->leaves_4k++;
		else if (level == 2)
			r->leaves_2m++;
		else
			r->leaves_1g++;
	}
	free(line);
	fclose(f);
	if (!header) {
		log_err("no page table dump in %s", path);
		return -1;
	}
	log_info("page table leaves in range: 4k=%lu 2m=%lu 1g=%lu",
		 r->leaves_4k, r->leaves_2m, r->leaves_1g);
	return ret;
}

/* Report the first difference between two words, with its byte offset. */
static void report_mismatch(const char *what, size_t page, size_t off,
			    uint64_t want, uint64_t got)
{
	log_err("%s: page %zu offset 0x%zx: expected 0x%016" PRIx64
		" got 0x%016" PRIx64, what, page, off, want, got);
}

/*
 * Copy EDU_DMA_COUNT bytes of page src into the device and back out into
 * the next page (poisoned first), then check the copy and that the rest of
 * the destination page stayed poisoned. Returns 1 if verified, 0 on data
 * mismatch, -1 if the device could not be driven.
 */
static int dma_round_trip(struct region *bar, struct dmabuf *b, size_t src)
{
	size_t dst = (src + 1) % b->npages, w, i;
	uint64_t *dp = page_ptr(b, dst);
	uint8_t *bytes = (uint8_t *)dp;
	int ok = 1;

	memset(dp, POISON, page_size);
	if (edu_dma(bar, b->iova + src * page_size, EDU_DMA_BUF,
		    EDU_DMA_COUNT, false) ||
	    edu_dma(bar, EDU_DMA_BUF, b->iova + dst * page_size,
		    EDU_DMA_COUNT, true))
		return -1;

	for (w = 0; ok && w < EDU_DMA_COUNT / 8; w++) {
		if (dp[w] != pattern(src, w)) {
			report_mismatch("DMA copy", dst, w * 8,
					pattern(src, w), dp[w]);
			ok = 0;
		}
	}
	for (i = EDU_DMA_COUNT; ok && i < page_size; i++) {
		if (bytes[i] != POISON) {
			log_err("DMA wrote past its end: page %zu offset 0x%zx "
				"is 0x%02x", dst, i, bytes[i]);
			ok = 0;
		}
	}
	fill_page(b, dst);
	log_info("DMA page %zu -> device -> page %zu: %s", src, dst,
		 ok ? "ok" : "FAILED");
	return ok;
}

static void run_dma_tests(struct vfio_dev *d, struct dmabuf *b,
			  const struct options *o, struct result *r)
{
	unsigned long i;
	size_t page;
	int ret;

	for (i = 0; i < o->offsets; i++) {
		page = o->offsets == 1 ? 0 :
		       (size_t)((uint64_t)i * (b->npages - 1) /
				(o->offsets - 1));
		ret = dma_round_trip(&d->bar0, b, page);
		if (ret < 0) {
			/* Device stuck: count this and the rest as failed. */
			r->dma_failed += o->offsets - i;
			return;
		}
		if (ret)
			r->dma_ok++;
		else
			r->dma_failed++;
	}
}

static void verify_buffer(struct dmabuf *b, struct result *r)
{
	size_t page, bad = 0;
	long w;

	for (page = 0; page < b->npages; page++) {
		w = check_page(b, page);
		if (w < 0)
			continue;
		if (!bad)
			report_mismatch("buffer integrity", page, w * 8,
					pattern(page, w), page_ptr(b, page)[w]);
		bad++;
	}
	r->integrity_ok = !bad;
	if (bad)
		log_err("%zu of %zu pages corrupted", bad, b->npages);
	else
		log_info("all %zu pages intact", b->npages);
}

/*
 * --fork: a child that shares the buffer copy-on-write from before the map
 * until told to check its copy (a byte on @go): every page must hold the
 * pattern, whatever the parent's map, DMA and writes did; then it writes
 * word 1 of every 64th page and checks that too. Exits 0 if all held.
 */
static void __attribute__((noreturn)) fork_child_run(struct dmabuf *b, int go)
{
	size_t page, bad = 0;
	char c;

	if (read(go, &c, 1) != 1)
		_exit(2);
	for (page = 0; page < b->npages; page++)
		bad += check_page(b, page) >= 0;
	for (page = 0; page < b->npages; page += 64)
		page_ptr(b, page)[1] = ~pattern(page, 1);
	for (page = 0; page < b->npages; page += 64)
		bad += page_ptr(b, page)[1] != ~pattern(page, 1);
	if (bad)
		fprintf(stderr, PROG ": child: %zu of its pages changed\n", bad);
	_exit(bad ? 1 : 0);
}

struct forked {
	pid_t pid;
	int go;			/* write end of the child's pipe */
};

static int fork_start(struct dmabuf *b, struct forked *f)
{
	int fds[2];

	if (pipe(fds))
		return -1;
	f->pid = fork();
	if (f->pid < 0)
		return -1;
	if (!f->pid) {
		close(fds[1]);
		fork_child_run(b, fds[0]);
	}
	close(fds[0]);
	f->go = fds[1];
	log_info("child %d shares the buffer copy-on-write", (int)f->pid);
	return 0;
}

/*
 * The parent writes word 0 of every 64th page, lets the child check and
 * write its copy, then checks its own: its writes there, the child's not.
 */
static void fork_finish(struct dmabuf *b, struct forked *f,
			struct result *r)
{
	size_t page, bad = 0;
	int status = -1;

	for (page = 0; page < b->npages; page += 64)
		page_ptr(b, page)[0] = ~pattern(page, 0);
	if (write(f->go, "g", 1) != 1 || waitpid(f->pid, &status, 0) < 0)
		status = -1;
	close(f->go);
	for (page = 0; page < b->npages; page++) {
		uint64_t *p = page_ptr(b, page);

		if (page % 64) {
			bad += check_page(b, page) >= 0;
			continue;
		}
		bad += p[0] != ~pattern(page, 0) || p[1] != pattern(page, 1);
		p[0] = pattern(page, 0);
	}
	r->fork_ok = !bad && WIFEXITED(status) && !WEXITSTATUS(status);
	log_info("fork: the child's copy %s, the parent's %zu pages wrong",
		 WIFEXITED(status) && !WEXITSTATUS(status) ? "intact" :
		 "NOT intact", bad);
}

/* Pins the map took and the unmap did not release, system-wide. */
static void check_pins(long base, struct result *r, const char *when)
{
	long pins;

	if (read_pins(&pins))
		return;
	if (pins != base) {
		log_err("%s: %ld page pins not released", when, pins - base);
		r->pins_leaked += pins - base;
	}
}

static int unmap_buffer(struct vfio_dev *d, struct dmabuf *b,
			struct result *r)
{
	if (dma_unmap(d, b))
		return -1;
	r->unmap_ok = true;
	check_pins(r->pins_base, r, "unmap");
	return 0;
}

static bool leaves_as_layout(const struct result *r);
static bool contig_as_expected(const struct options *o,
			       const struct result *r);

/*
 * Map and unmap the same buffer again, as a device driver that maps and
 * unmaps a long-lived buffer does. Unpinned between two maps, its pages
 * may move (khugepaged collapses them into THPs), so each map is checked
 * against the buffer's layout at that time, as the first was: leaves as
 * the layout allows, and with --expect-contig still every 2 MiB block; and
 * each unmap must release all its pins.
 */
static int run_cycles(struct vfio_dev *d, struct dmabuf *b,
		      const struct options *o, struct result *r)
{
	uint64_t t0, total = 0;
	unsigned long i;
	struct result c;
	long base;

	for (i = 0; i < o->cycles; i++) {
		memset(&c, 0, sizeof(c));
		if (read_pins(&base))
			return -1;
		t0 = now_ns();
		if (dma_map(d, b))
			return -1;
		total += now_ns() - t0;
		if (layout_from_pagemap(0, (uintptr_t)b->va, b->size, b->iova,
					&c.layout) || count_leaves(d, b, &c)) {
			dma_unmap(d, b);
			return -1;
		}
		if (dma_unmap(d, b))
			return -1;
		check_pins(base, r, "cycle");
		if (!leaves_as_layout(&c) ||
		    (o->expect_contig && !contig_as_expected(o, &c))) {
			log_err("cycle %lu: see above", i + 1);
			continue;
		}
		r->cycles_ok++;
	}
	if (o->cycles)
		r->map_repeat_us = total / o->cycles / 1000;
	log_info("%lu of %lu map/unmap cycles passed; repeated map %" PRIu64 " us on average",
		 r->cycles_ok, o->cycles, r->map_repeat_us);
	return 0;
}

/* Everything from device discovery to unmap; 0 if all steps ran. */
/* contig's count of requests, from its statistics; -1 if unreadable */
static long contig_requests(void)
{
	FILE *f = fopen("/sys/kernel/mm/contig_dma/stats/requests", "r");
	long n = -1;

	if (f) {
		if (fscanf(f, "%ld", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

/* Lose CAP_IPC_LOCK (effective, permitted, inheritable) */
static int drop_ipc_lock(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct caps[2];
	uint32_t bit = 1U << (CAP_IPC_LOCK % 32);
	int i = CAP_IPC_LOCK / 32;

	if (syscall(SYS_capget, &h, caps))
		return -1;
	caps[i].effective &= ~bit;
	caps[i].permitted &= ~bit;
	caps[i].inheritable &= ~bit;
	return syscall(SYS_capset, &h, caps);
}

/*
 * --no-memlock: with no memlock allowance the map cannot pin, and contig
 * must not have worked on the range before finding out.
 */
static int map_without_memlock(struct vfio_dev *d, struct dmabuf *b)
{
	struct rlimit none = { 0, 0 };
	long before, after;
	int ret, err;

	if (drop_ipc_lock() || setrlimit(RLIMIT_MEMLOCK, &none)) {
		log_err("dropping CAP_IPC_LOCK and RLIMIT_MEMLOCK: %s",
			strerror(errno));
		return -1;
	}
	before = contig_requests();
	ret = dma_map(d, b);
	err = errno;
	after = contig_requests();
	if (!ret)
		dma_unmap(d, b);
	log_info("without memlock allowance: map %s, contig requests %ld -> %ld",
		 ret ? strerror(err) : "succeeded", before, after);
	if (!ret || err != ENOMEM) {
		log_err("the map should have failed with ENOMEM");
		return -1;
	}
	if (before < 0 || after != before) {
		log_err("contig was asked to prepare a range that could not be pinned");
		return -1;
	}
	return 0;
}

static int run(const struct options *o, struct vfio_dev *d, struct dmabuf *b,
	       struct result *r)
{
	struct forked child = { .pid = -1, .go = -1 };
	int ret = 0;

	if (o->offsets > (((uint64_t)o->size_mib << 20) / page_size)) {
		log_err("--offsets %lu exceeds the number of pages", o->offsets);
		return -1;
	}
	if (page_size <= EDU_DMA_COUNT) {
		log_err("page size %zu too small for the DMA test", page_size);
		return -1;
	}
	if (o->no_memlock)
		return find_edu(d) || find_group(d) || vfio_setup(d) ||
		       buffer_setup(b, o) || map_without_memlock(d, b) ? -1 : 0;
	if (o->fork_child && (o->backing == BACK_MEMFD ||
			      o->populated_pct != 100)) {
		log_err("--fork needs private memory written whole");
		return -1;
	}
	r->memcg_map_bytes = -1;
	if (o->memcg && memcg_enter(o->memcg))
		return -1;
	if (find_edu(d) || find_group(d) || vfio_setup(d) ||
	    enable_bus_master(d) || bar0_setup(d) || edu_check_id(&d->bar0) ||
	    buffer_setup(b, o) || (o->fork_child && fork_start(b, &child)) ||
	    map_buffer(d, b, r, o))
		ret = -1;
	if (!r->mapped) {
		if (o->fork_child && child.pid > 0) {
			close(child.go);
			waitpid(child.pid, NULL, 0);
		}
		return -1;
	}

	if (count_leaves(d, b, r) || fill_holes(b))
		ret = -1;
	run_dma_tests(d, b, o, r);
	verify_buffer(b, r);
	if (o->fork_child)
		fork_finish(b, &child, r);
	if (unmap_buffer(d, b, r) || run_cycles(d, b, o, r))
		ret = -1;
	return ret;
}

/*
 * iommu_map() splits each run into the largest pages that IOVA and PA
 * alignment allow, so the leaves follow from the layout: one 1 GiB leaf
 * per congruent 1 GiB chunk, one 2 MiB leaf per congruent 2 MiB chunk not
 * inside one, 4 KiB leaves for the rest. Fewer large leaves than that
 * would mean the map wasted contiguity the memory had.
 */
static bool leaves_as_layout(const struct result *r)
{
	const struct layout *l = &r->layout;
	unsigned long want_1g = l->chunks_1g;
	unsigned long want_2m = l->chunks_2m - 512 * l->chunks_1g;
	unsigned long want_4k = l->pages - 512 * l->chunks_2m;

	if (r->leaves_1g == want_1g && r->leaves_2m == want_2m &&
	    r->leaves_4k == want_4k)
		return true;
	log_err("leaves 4k=%lu 2m=%lu 1g=%lu, the layout allows 4k=%lu 2m=%lu 1g=%lu",
		r->leaves_4k, r->leaves_2m, r->leaves_1g, want_4k, want_2m,
		want_1g);
	return false;
}

/* IOVA blocks of @size wholly inside [iova, iova + len) */
static unsigned long blocks_inside(uint64_t iova, uint64_t len, uint64_t size)
{
	uint64_t first = (iova + size - 1) & ~(size - 1);
	uint64_t end = (iova + len) & ~(size - 1);

	return end > first ? (end - first) / size : 0;
}

static bool contig_as_expected(const struct options *o,
			       const struct result *r)
{
	uint64_t len = (uint64_t)o->size_mib << 20;
	unsigned long want = blocks_inside(o->iova, len, SZ_2M);

	if (r->layout.chunks_2m == want)
		return true;
	log_err("expected all %lu 2 MiB IOVA blocks congruent, the buffer has %lu (%lu runs)",
		want, r->layout.chunks_2m, r->layout.runs);
	return false;
}

static bool huge_as_expected(const struct options *o, const struct result *r)
{
	uint64_t len = (uint64_t)o->size_mib << 20;
	unsigned long want = blocks_inside(o->iova, len, SZ_1G);

	if (want && r->leaves_1g == want)
		return true;
	log_err("expected %lu 1 GiB leaves, got %lu", want, r->leaves_1g);
	return false;
}

static bool verdict(const struct options *o, const struct result *r)
{
	uint64_t size = (uint64_t)o->size_mib << 20;
	uint64_t covered = r->leaves_4k * SZ_4K + r->leaves_2m * SZ_2M +
			   r->leaves_1g * SZ_1G;
	bool pass = true;

	if (r->dma_ok != o->offsets || r->dma_failed) {
		log_err("only %lu of %lu DMA round trips verified", r->dma_ok,
			o->offsets);
		pass = false;
	}
	if (covered != size) {
		log_err("page table leaves cover %" PRIu64 " bytes, mapped %"
			PRIu64, covered, size);
		pass = false;
	}
	if (r->map_calls < 1) {
		log_err("no iommu:map trace events seen");
		pass = false;
	}
	/*
	 * type1 maps each physically contiguous run of pinned pages with one
	 * iommu_map(): the map calls must equal the runs the layout inspector
	 * sees in the pinned buffer. iommufd maps each entry of its PFN
	 * batches, and a run can straddle two batches.
	 */
	if (o->iface == IFACE_TYPE1 ? r->map_calls != r->layout.runs :
				      r->map_calls < r->layout.runs) {
		log_err("%lu iommu_map calls for %lu physically contiguous runs",
			r->map_calls, r->layout.runs);
		pass = false;
	}
	if (!leaves_as_layout(r))
		pass = false;
	if (o->expect_contig && !contig_as_expected(o, r))
		pass = false;
	if (o->expect_1g && !huge_as_expected(o, r))
		pass = false;
	if (r->pins_leaked) {
		log_err("%ld page pins leaked", r->pins_leaked);
		pass = false;
	}
	if (r->cycles_ok != o->cycles) {
		log_err("only %lu of %lu map/unmap cycles passed",
			r->cycles_ok, o->cycles);
		pass = false;
	}
	if (!r->unmap_ok || !r->integrity_ok)
		pass = false;
	if (o->fork_child && !r->fork_ok) {
		log_err("--fork: the parent's or the child's copy changed");
		pass = false;
	}
	if (o->bystander && !r->bystander_ok) {
		log_err("the bystander's map and unmap failed, or waited for the buffer's map");
		pass = false;
	}
	return pass;
}

static void print_result(const struct options *o, const struct result *r)
{
	fflush(stderr);
	if (o->json)
		printf("{\"iface\":\"%s\",\"backing\":\"%s\","
		       "\"size_mib\":%lu,\"iova\":\"0x%" PRIx64 "\","
		       "\"map_calls\":%lu,\"leaves_4k\":%lu,\"leaves_2m\":%lu,"
		       "\"leaves_1g\":%lu,\"map_us\":%" PRIu64 ","
		       "\"map_repeat_us\":%" PRIu64 ",\"cycles\":%lu,"
		       "\"dma_ok\":%lu,\"dma_failed\":%lu,"
		       "\"runs_before\":%lu,\"chunks_2m_before\":%lu,"
		       "\"runs\":%lu,\"chunks_2m\":%lu,\"chunks_1g\":%lu,"
		       "\"pinned\":%ld,\"pins_leaked\":%ld,"
		       "\"memcg_map_bytes\":%ld}\n",
		       iface_names[o->iface], backing_names[o->backing],
		       o->size_mib, o->iova, r->map_calls, r->leaves_4k,
		       r->leaves_2m, r->leaves_1g, r->map_us, r->map_repeat_us,
		       r->cycles_ok, r->dma_ok, r->dma_failed, r->before.runs,
		       r->before.chunks_2m, r->layout.runs,
		       r->layout.chunks_2m, r->layout.chunks_1g, r->pinned,
		       r->pins_leaked, r->memcg_map_bytes);
	else
		printf(PROG ": RESULT iface=%s backing=%s size_mib=%lu"
		       " iova=0x%" PRIx64 " runs_before=%lu runs=%lu"
		       " map_calls=%lu leaves_4k=%lu leaves_2m=%lu"
		       " leaves_1g=%lu map_us=%" PRIu64
		       " map_repeat_us=%" PRIu64 " cycles=%lu dma_ok=%lu"
		       " dma_failed=%lu pins_leaked=%ld\n",
		       iface_names[o->iface], backing_names[o->backing],
		       o->size_mib, o->iova, r->before.runs, r->layout.runs,
		       r->map_calls, r->leaves_4k, r->leaves_2m, r->leaves_1g,
		       r->map_us, r->map_repeat_us, r->cycles_ok, r->dma_ok,
		       r->dma_failed, r->pins_leaked);
	fflush(stdout);
}

static void cleanup(struct vfio_dev *d, struct dmabuf *b)
{
	if (d->bar0.map)
		munmap((void *)d->bar0.map, d->bar0.size);
	if (d->device >= 0)
		close(d->device);
	if (d->group >= 0)
		close(d->group);
	if (d->container >= 0)
		close(d->container);
	if (d->iommufd >= 0)
		close(d->iommufd);
	if (b->va)
		munmap(b->va, b->size);
	if (b->memfd >= 0)
		close(b->memfd);
}

int main(int argc, char **argv)
{
	struct vfio_dev dev = { .container = -1, .group = -1, .device = -1,
				.iommufd = -1 };
	struct dmabuf buf = { .memfd = -1 };
	struct result res = { 0 };
	struct options opts;
	bool pass;
	int ret;

	ret = parse_options(argc, argv, &opts);
	if (ret)
		return ret < 0 ? 1 : 0;
	info_out = opts.json ? stderr : stdout;
	page_size = sysconf(_SC_PAGESIZE);
	dev.iface = opts.iface;

	pass = run(&opts, &dev, &buf, &res) == 0;
	/* Without a mapping there is nothing to judge beyond the error. */
	if (res.mapped)
		pass = verdict(&opts, &res) && pass;
	cleanup(&dev, &buf);
	log_info("%s", pass ? "PASS" : "FAIL");
	print_result(&opts, &res);
	return pass ? 0 : 1;
}
