// SPDX-License-Identifier: GPL-2.0
/*
 * vfio_edu - end-to-end VFIO type1 DMA mapping test using QEMU's edu device.
 *
 * What it checks:
 *   - A VFIO_IOMMU_MAP_DMA of an anonymous buffer (default 64 MiB at IOVA
 *     0x40000000) through the Intel IOMMU succeeds, how long it takes and
 *     how many iommu_map() calls it issued (iommu:map tracepoint).
 *   - The IOMMU page table built for the device (read back from the
 *     intel-iommu debugfs dump) covers the mapped range exactly, and with
 *     which leaf sizes (4 KiB / 2 MiB / 1 GiB).
 *   - Real device DMA through that mapping works: the edu device copies a
 *     page (RAM -> device -> a different RAM page) at several offsets of
 *     the buffer, the copy is byte exact, nothing beyond the transfer is
 *     written, and afterwards every page of the buffer is still intact.
 *   - VFIO_IOMMU_UNMAP_DMA unmaps exactly what was mapped.
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
#include <time.h>
#include <unistd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "lib/layout.h"

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

struct options {
	unsigned long size_mib;
	uint64_t iova;
	unsigned long offsets;
	bool json;
};

struct result {
	unsigned long map_calls;
	unsigned long leaves_4k;
	unsigned long leaves_2m;
	unsigned long leaves_1g;
	uint64_t map_us;
	struct layout layout;	/* of the buffer at its IOVA, while mapped */
	unsigned long dma_ok;
	unsigned long dma_failed;
	bool mapped;		/* VFIO_IOMMU_MAP_DMA succeeded */
	bool unmap_ok;
	bool integrity_ok;
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
	int group_id;
	int container;
	int group;
	int device;
	struct region bar0;
};

struct dmabuf {
	uint8_t *va;
	uint64_t iova;
	size_t size;
	size_t npages;
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
		"usage: " PROG " [--size MiB] [--iova HEX] [--offsets N] [--json]\n"
		"  --size MiB    buffer size to map (default 64)\n"
		"  --iova HEX    IOVA to map it at (default 0x40000000)\n"
		"  --offsets N   pages to DMA-test, spread evenly (default 3:\n"
		"                first, middle, last)\n"
		"  --json        print the result as one JSON object\n");
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

/* Returns 0 to run, 1 when --help was given, -1 on a usage error. */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "size",    required_argument, NULL, 's' },
		{ "iova",    required_argument, NULL, 'i' },
		{ "offsets", required_argument, NULL, 'n' },
		{ "json",    no_argument,       NULL, 'j' },
		{ "help",    no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	uint64_t v;
	int c;

	o->size_mib = 64;
	o->iova = 0x40000000;
	o->offsets = 3;
	o->json = false;

	while ((c = getopt_long(argc, argv, "s:i:n:jh", longopts, NULL)) != -1) {
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
		"(size: 1..1048576 MiB, iova: 4 KiB aligned hex, offsets >= 1)\n",
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

static int vfio_setup(struct vfio_dev *d)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char path[64];
	int ret;

	d->container = open("/dev/vfio/vfio", O_RDWR);
	if (d->container < 0) {
		log_err("open /dev/vfio/vfio: %s", strerror(errno));
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

	b->size = (size_t)o->size_mib << 20;
	b->npages = b->size / page_size;
	b->iova = o->iova;

	/* Align to 2 MiB so THP can back it and large IOMMU pages can fit. */
	len = b->size + SZ_2M;
	raw = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
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
	b->va = start;

	for (page = 0; page < b->npages; page++)
		fill_page(b, page);
	log_info("buffer %zu MiB at %p filled", b->size >> 20, b->va);
	return 0;
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

static int map_buffer(struct vfio_dev *d, struct dmabuf *b, struct result *r)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)b->va,
		.iova = b->iova,
		.size = b->size,
	};
	uint64_t t0, t1;
	int ret;

	if (trace_start()) {
		trace_stop();
		return -1;
	}
	t0 = now_ns();
	ret = ioctl(d->container, VFIO_IOMMU_MAP_DMA, &map);
	t1 = now_ns();
	if (ret) {
		log_err("VFIO_IOMMU_MAP_DMA iova 0x%" PRIx64 " size %zu: %s",
			b->iova, b->size, strerror(errno));
		trace_stop();
		return -1;
	}
	r->mapped = true;
	r->map_us = (t1 - t0) / 1000;
	ret = trace_count_maps(b, &r->map_calls);
	trace_stop();
	if (layout_from_pagemap(0, (uintptr_t)b->va, b->size, b->iova,
				&r->layout))
		log_err("no layout of the buffer (pagemap needs root)");
	log_info("buffer while mapped: %lu physically contiguous runs, %lu congruent 2 MiB chunks, %lu 1 GiB",
		 r->layout.runs, r->layout.chunks_2m, r->layout.chunks_1g);
	log_info("mapped %zu MiB at iova 0x%" PRIx64 " in %" PRIu64
		 " us with %lu iommu_map calls", b->size >> 20, b->iova,
		 r->map_us, r->map_calls);
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

static int unmap_buffer(struct vfio_dev *d, struct dmabuf *b,
			struct result *r)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.iova = b->iova,
		.size = b->size,
	};

	if (ioctl(d->container, VFIO_IOMMU_UNMAP_DMA, &unmap)) {
		log_err("VFIO_IOMMU_UNMAP_DMA: %s", strerror(errno));
		return -1;
	}
	r->unmap_ok = unmap.size == b->size;
	if (!r->unmap_ok) {
		log_err("unmapped %llu bytes, mapped %zu",
			(unsigned long long)unmap.size, b->size);
		return -1;
	}
	return 0;
}

/* Everything from device discovery to unmap; 0 if all steps ran. */
static int run(const struct options *o, struct vfio_dev *d, struct dmabuf *b,
	       struct result *r)
{
	int ret = 0;

	if (o->offsets > (((uint64_t)o->size_mib << 20) / page_size)) {
		log_err("--offsets %lu exceeds the number of pages", o->offsets);
		return -1;
	}
	if (page_size <= EDU_DMA_COUNT) {
		log_err("page size %zu too small for the DMA test", page_size);
		return -1;
	}
	if (find_edu(d) || find_group(d) || vfio_setup(d) ||
	    enable_bus_master(d) || bar0_setup(d) || edu_check_id(&d->bar0) ||
	    buffer_setup(b, o) || map_buffer(d, b, r))
		ret = -1;
	if (!r->mapped)
		return -1;

	if (count_leaves(d, b, r))
		ret = -1;
	run_dma_tests(d, b, o, r);
	verify_buffer(b, r);
	if (unmap_buffer(d, b, r))
		ret = -1;
	return ret;
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
	 * sees in the pinned buffer.
	 */
	if (r->map_calls != r->layout.runs) {
		log_err("%lu iommu_map calls for %lu physically contiguous runs",
			r->map_calls, r->layout.runs);
		pass = false;
	}
	if (!r->unmap_ok || !r->integrity_ok)
		pass = false;
	return pass;
}

static void print_result(const struct options *o, const struct result *r)
{
	fflush(stderr);
	if (o->json)
		printf("{\"size_mib\":%lu,\"iova\":\"0x%" PRIx64 "\","
		       "\"map_calls\":%lu,\"leaves_4k\":%lu,\"leaves_2m\":%lu,"
		       "\"leaves_1g\":%lu,\"map_us\":%" PRIu64 ","
		       "\"dma_ok\":%lu,\"dma_failed\":%lu,\"runs\":%lu,"
		       "\"chunks_2m\":%lu,\"chunks_1g\":%lu}\n",
		       o->size_mib, o->iova, r->map_calls, r->leaves_4k,
		       r->leaves_2m, r->leaves_1g, r->map_us, r->dma_ok,
		       r->dma_failed, r->layout.runs, r->layout.chunks_2m,
		       r->layout.chunks_1g);
	else
		printf(PROG ": RESULT size_mib=%lu iova=0x%" PRIx64
		       " map_calls=%lu leaves_4k=%lu leaves_2m=%lu"
		       " leaves_1g=%lu map_us=%" PRIu64 " dma_ok=%lu"
		       " dma_failed=%lu\n",
		       o->size_mib, o->iova, r->map_calls, r->leaves_4k,
		       r->leaves_2m, r->leaves_1g, r->map_us, r->dma_ok,
		       r->dma_failed);
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
	if (b->va)
		munmap(b->va, b->size);
}

int main(int argc, char **argv)
{
	struct vfio_dev dev = { .container = -1, .group = -1, .device = -1 };
	struct result res = { 0 };
	struct dmabuf buf = { 0 };
	struct options opts;
	bool pass;
	int ret;

	ret = parse_options(argc, argv, &opts);
	if (ret)
		return ret < 0 ? 1 : 0;
	info_out = opts.json ? stderr : stdout;
	page_size = sysconf(_SC_PAGESIZE);

	pass = run(&opts, &dev, &buf, &res) == 0;
	/* Without a mapping there is nothing to judge beyond the error. */
	if (res.mapped)
		pass = verdict(&opts, &res) && pass;
	cleanup(&dev, &buf);
	log_info("%s", pass ? "PASS" : "FAIL");
	print_result(&opts, &res);
	return pass ? 0 : 1;
}
