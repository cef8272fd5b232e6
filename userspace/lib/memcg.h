/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A test in a memory cgroup of its own (cgroup v2): move into it, and read
 * what it is charged (memory.current), to check that the kernel charges
 * the pages it populates for a map or registration as a fault would.
 */
#ifndef CONTIG_USER_MEMCG_H
#define CONTIG_USER_MEMCG_H

/* Move the calling process into the cgroup @dir; 0, or -1 (logged) */
int memcg_enter(const char *dir);
/* @dir/memory.current in bytes, or -1 */
long memcg_current(const char *dir);

#endif /* CONTIG_USER_MEMCG_H */
