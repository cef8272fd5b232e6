// SPDX-License-Identifier: GPL-2.0
/*
 * The policy, in /sys/kernel/mm/contig_dma/ (see
 * Documentation/ABI/testing/sysfs-kernel-mm-contig_dma):
 *
 *   enabled     always | madvise | never, as for THP: with madvise, only
 *               ranges in VMAs marked MADV_HUGEPAGE are prepared; an
 *               application that asked for huge pages wants large DMA
 *               mappings too, and no new madvise value is needed
 *   rdma, vfio  per-subsystem switches for the driver hooks
 *   min_size    driver requests shorter than this are not worth a walk
 *   max_pages   bound on pages moved per request (0: none)
 *   max_ms      bound on time per request, checked between moves (0: none)
 *
 *   unprivileged_exchange
 *               1: a driver's request (rdma, vfio) from a caller without
 *               CAP_SYS_NICE may still exchange with other processes'
 *               pages; 0 (default): such requests use free frames only
 *
 * Explicit requests (the /dev/contig_dma ioctl) from a caller with
 * CAP_SYS_NICE pass the first four, as MADV_COLLAPSE ignores THP's
 * "enabled": the caller asked for exactly this range. Without it they
 * obey enabled=never: switching contig off must stop every request that
 * needs no privilege. The two bounds hold for every request: they are
 * what the administrator allows one request to cost.
 *
 * The knobs are single words read with READ_ONCE() by each request; a
 * change applies to requests that start after it.
 */
#include <linux/init.h>
#include <linux/kobject.h>
#include <linux/mm.h>
#include <linux/sizes.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/time64.h>

#include "internal.h"

enum contig_dma_enabled {
	CONTIG_DMA_ALWAYS,
	CONTIG_DMA_MADVISE,
	CONTIG_DMA_NEVER,
};

static const char * const enabled_names[] = {
	[CONTIG_DMA_ALWAYS]	= "always",
	[CONTIG_DMA_MADVISE]	= "madvise",
	[CONTIG_DMA_NEVER]	= "never",
};

static struct {
	enum contig_dma_enabled enabled;
	unsigned long user_on[CONTIG_DMA_USER_EXPLICIT];	/* 0 or 1 */
	unsigned long min_size;
	unsigned long max_pages;
	unsigned long max_ms;
	unsigned long unprivileged_exchange;	/* 0 or 1 */
} policy = {
	.enabled = CONTIG_DMA_MADVISE,
	.user_on = { [CONTIG_DMA_USER_RDMA] = 1, [CONTIG_DMA_USER_VFIO] = 1 },
	.min_size = SZ_2M,
};

/**
 * contig_dma_policy_verdict() - may a request go ahead
 * @user: who asks
 * @len: the range's length
 * @madvised: whether its VMA is marked MADV_HUGEPAGE
 * @privileged: whether the caller has CAP_SYS_NICE
 *
 * Return: CONTIG_DMA_PREPARED when it may, CONTIG_DMA_SKIP_POLICY or
 * CONTIG_DMA_SKIP_SMALL when it may not.
 */
enum contig_dma_outcome contig_dma_policy_verdict(enum contig_dma_user user,
						  unsigned long len,
						  bool madvised,
						  bool privileged)
{
	if (user == CONTIG_DMA_USER_EXPLICIT)
		return privileged ||
		       READ_ONCE(policy.enabled) != CONTIG_DMA_NEVER ?
		       CONTIG_DMA_PREPARED : CONTIG_DMA_SKIP_POLICY;
	switch (READ_ONCE(policy.enabled)) {
	case CONTIG_DMA_NEVER:
		return CONTIG_DMA_SKIP_POLICY;
	case CONTIG_DMA_MADVISE:
		if (!madvised)
			return CONTIG_DMA_SKIP_POLICY;
		break;
	case CONTIG_DMA_ALWAYS:
		break;
	}
	if (!READ_ONCE(policy.user_on[user]))
		return CONTIG_DMA_SKIP_POLICY;
	if (len < READ_ONCE(policy.min_size))
		return CONTIG_DMA_SKIP_SMALL;
	return CONTIG_DMA_PREPARED;
}

/**
 * contig_dma_policy_bounds() - the administrator's bounds on one request
 * @max_pages: pages moved at most, 0 for no bound
 * @max_ns: time at most, checked between moves; 0 for no bound
 */
void contig_dma_policy_bounds(unsigned long *max_pages, u64 *max_ns)
{
	*max_pages = READ_ONCE(policy.max_pages);
	*max_ns = (u64)READ_ONCE(policy.max_ms) * NSEC_PER_MSEC;
}

/**
 * contig_dma_policy_unprivileged_exchange() - may drivers' requests from
 *	callers without CAP_SYS_NICE exchange with other processes' pages
 *
 * Return: the administrator's choice, unprivileged_exchange.
 */
bool contig_dma_policy_unprivileged_exchange(void)
{
	return READ_ONCE(policy.unprivileged_exchange);
}

static ssize_t enabled_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	enum contig_dma_enabled cur = READ_ONCE(policy.enabled);
	int i, len = 0;

	for (i = 0; i < ARRAY_SIZE(enabled_names); i++)
		len += sysfs_emit_at(buf, len, i == cur ? "%s[%s]" : "%s%s",
				     i ? " " : "", enabled_names[i]);
	return len + sysfs_emit_at(buf, len, "\n");
}

static ssize_t enabled_store(struct kobject *kobj, struct kobj_attribute *attr,
			     const char *buf, size_t count)
{
	int i = sysfs_match_string(enabled_names, buf);

	if (i < 0)
		return i;
	WRITE_ONCE(policy.enabled, i);
	return count;
}

static struct kobj_attribute enabled_attr = __ATTR_RW_MODE(enabled, 0644);

/* The numeric knobs: a value and the largest one it may take */
struct knob_attr {
	struct kobj_attribute attr;
	unsigned long *value;
	unsigned long max;
};

static ssize_t knob_show(struct kobject *kobj, struct kobj_attribute *attr,
			 char *buf)
{
	struct knob_attr *ka = container_of(attr, struct knob_attr, attr);

	return sysfs_emit(buf, "%lu\n", READ_ONCE(*ka->value));
}

static ssize_t knob_store(struct kobject *kobj, struct kobj_attribute *attr,
			  const char *buf, size_t count)
{
	struct knob_attr *ka = container_of(attr, struct knob_attr, attr);
	unsigned long v;
	int ret = kstrtoul(buf, 0, &v);

	if (ret)
		return ret;
	if (v > ka->max)
		return -EINVAL;
	WRITE_ONCE(*ka->value, v);
	return count;
}

#define KNOB_ATTR(_name, _value, _max)					\
	static struct knob_attr _name##_attr = {			\
		.attr = __ATTR(_name, 0644, knob_show, knob_store),	\
		.value = &policy._value,				\
		.max = _max,						\
	}

KNOB_ATTR(rdma, user_on[CONTIG_DMA_USER_RDMA], 1);
KNOB_ATTR(vfio, user_on[CONTIG_DMA_USER_VFIO], 1);
KNOB_ATTR(min_size, min_size, ULONG_MAX);
KNOB_ATTR(max_pages, max_pages, ULONG_MAX);
/* In nanoseconds, a u64 holds 584 years; a day is enough */
KNOB_ATTR(max_ms, max_ms, MSEC_PER_SEC * 60 * 60 * 24);
KNOB_ATTR(unprivileged_exchange, unprivileged_exchange, 1);

static struct attribute *policy_attrs[] = {
	&enabled_attr.attr,
	&rdma_attr.attr.attr,
	&vfio_attr.attr.attr,
	&min_size_attr.attr.attr,
	&max_pages_attr.attr.attr,
	&max_ms_attr.attr.attr,
	&unprivileged_exchange_attr.attr.attr,
	NULL,
};

static const struct attribute_group policy_group = {
	.attrs = policy_attrs,
};

static int __init contig_dma_sysfs_init(void)
{
	struct kobject *kobj;
	int ret;

	kobj = kobject_create_and_add("contig_dma", mm_kobj);
	if (!kobj)
		return -ENOMEM;
	ret = sysfs_create_group(kobj, &policy_group);
	if (!ret)
		ret = sysfs_create_group(kobj, &contig_dma_stats_group);
	if (ret) {
		pr_err("contig_dma: cannot create /sys/kernel/mm/contig_dma: %d\n",
		       ret);
		kobject_put(kobj);
	}
	return ret;
}
subsys_initcall(contig_dma_sysfs_init);
