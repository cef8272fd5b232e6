# SPDX-License-Identifier: GPL-2.0
#
# Shell helpers for guest tests and benchmarks (sourced).

log() { echo "$CONTIG_TEST_NAME: $*"; }

# Seconds since boot, whole.
uptime_s() { cut -d. -f1 /proc/uptime; }

# Bring eth0 up on QEMU's (restricted) user network and put rxe0 on it.
# Idempotent.
guest_rxe_up() {
	[ -e /sys/class/infiniband/rxe0 ] && return 0
	ip link set lo up
	ip link set eth0 up || return 1
	ip addr add 10.0.2.15/24 dev eth0 2>/dev/null
	rdma link add rxe0 type rxe netdev eth0 || return 1
	i=0
	while [ $i -lt 50 ]; do
		grep -q ACTIVE /sys/class/infiniband/rxe0/ports/1/state 2>/dev/null &&
			return 0
		sleep 0.1
		i=$((i + 1))
	done
	echo "rxe0 did not become ACTIVE" >&2
	return 1
}

# Bind QEMU's edu device (1234:11e8) to vfio-pci. Idempotent.
guest_vfio_bind() {
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor")" = 0x1234 ] && [ "$(cat "$d/device")" = 0x11e8 ] || continue
		[ -e "$d/driver" ] && [ "$(basename "$(readlink "$d/driver")")" = vfio-pci ] && return 0
		echo 1234 11e8 > /sys/bus/pci/drivers/vfio-pci/new_id 2>/dev/null
		[ -e "$d/driver" ] || echo "$(basename "$d")" > /sys/bus/pci/drivers/vfio-pci/bind
		[ -e "$d/driver" ] && return 0
	done
	echo "edu device not found or not bound to vfio-pci" >&2
	return 1
}

# Free 2 MiB-or-larger blocks in all zones, from /proc/buddyinfo.
free_huge_blocks() {
	awk '{ n = 0; for (i = 14; i <= NF; i++) n += $i; s += n } END { print s + 0 }' /proc/buddyinfo
}

# Start the fragmenter in the background with its arguments (it holds its
# memory; $frag_pid) and wait until memory is fragmented. The FIFO needs no
# polling, and reads end of file if the fragmenter dies first.
start_fragmenter() {
	rm -f /tmp/frag.ready
	mkfifo /tmp/frag.ready
	fragmenter --hold --ready /tmp/frag.ready "$@" > /tmp/frag.out 2>&1 &
	frag_pid=$!
	read -r state < /tmp/frag.ready
	cat /tmp/frag.out
	[ "$state" = ready ]
}

# Stop the fragmenter; it verifies every page it held before exiting.
# Fails if it found a corrupt page or was gone already (a signal, most
# likely the OOM killer: then the kernel log above says why).
stop_fragmenter() {
	kill -TERM $frag_pid 2>/dev/null
	wait $frag_pid
	rc=$?
	tail -n 1 /tmp/frag.out
	[ $rc -gt 128 ] &&
		echo "$CONTIG_TEST_NAME: FAIL: the fragmenter was killed by signal $((rc - 128)) before it could verify its pages"
	return $rc
}

# GID index of rxe0's RoCE v2 IPv4-mapped GID (what perftest's -x wants).
rxe_gid_index() {
	for g in /sys/class/infiniband/rxe0/ports/1/gids/*; do
		i=${g##*/}
		case "$(cat "$g" 2>/dev/null)" in
		0000:0000:0000:0000:0000:ffff:*)
			[ "$(cat /sys/class/infiniband/rxe0/ports/1/gid_attrs/types/$i 2>/dev/null)" = "RoCE v2" ] &&
				{ echo "$i"; return 0; }
			;;
		esac
	done
	return 1
}

# Run a perftest server and client (same guest, over rxe0) with the given
# extra arguments; the client's report goes to stdout. Fails if either fails.
perftest_pair() {
	tool=$1
	shift
	gid=$(rxe_gid_index) || { echo "no RoCE v2 IPv4 GID on rxe0" >&2; return 1; }
	$tool -d rxe0 -x "$gid" -F "$@" > /tmp/perftest-server.out 2>&1 &
	server=$!
	# The server listens only once it has set up its QP: retry the
	# client's connection while the server is still waiting.
	tries=0
	while :; do
		sleep 1
		$tool -d rxe0 -x "$gid" -F "$@" 10.0.2.15 > /tmp/perftest-client.out 2>&1
		crc=$?
		tries=$((tries + 1))
		[ $crc = 0 ] && break
		grep -q "Couldn't connect" /tmp/perftest-client.out || break
		kill -0 $server 2>/dev/null && [ $tries -lt 10 ] || break
	done
	wait $server
	src=$?
	cat /tmp/perftest-client.out
	[ $crc = 0 ] && [ $src = 0 ] && return 0
	echo "--- server:"; cat /tmp/perftest-server.out
	echo "$tool: client exit $crc, server exit $src" >&2
	return 1
}

# contig_policy never|madvise|always: contig's policy for driver requests
# (/sys/kernel/mm/contig_dma/enabled), with both subsystem switches on.
contig_policy() {
	echo "$1" > /sys/kernel/mm/contig_dma/enabled &&
		echo 1 > /sys/kernel/mm/contig_dma/vfio &&
		echo 1 > /sys/kernel/mm/contig_dma/rdma
}

# What a registration got, seen while it is registered: rdma_loopback
# --while-registered "$RDMA_SNAPSHOT" saves ib_umem:ib_umem_layout events
# (enable the event first) and "rdma -dd res show mr" (rxe's MR pages).
RDMA_SNAPSHOT="cat /sys/kernel/tracing/trace > /tmp/rdma.trace; rdma -dd res show mr dev rxe0 > /tmp/rdma.mrs"
rdma_snapshot_clear() {
	echo > /sys/kernel/tracing/trace
	rm -f /tmp/rdma.trace /tmp/rdma.mrs
}

# umem_layout LEN N FIELD...: the FIELDs (sg_entries, irdma_pgsz, ...) of
# the last N ib_umem_layout events of the snapshot for LEN-byte umems, a
# line each, oldest first.
umem_layout() {
	local len=$1 n=$2
	shift 2
	grep "ib_umem_layout:" /tmp/rdma.trace |
		awk -v len="$len" -v fields="$*" '
		{
			# every line has every key: kv needs no clearing
			for (i = 1; i <= NF; i++)
				if ((n = index($i, "=")) > 0)
					kv[substr($i, 1, n - 1)] = substr($i, n + 1)
			if (kv["length"] != len)
				next
			nf = split(fields, f, " ")
			line = ""
			for (i = 1; i <= nf; i++)
				line = line (i > 1 ? " " : "") kv[f[i]]
			print line
		}' | tail -n "$n"
}

# rxe_mr_pages LEN: rxe's "page_size pages page_table_bytes" of each MR
# of LEN bytes in the snapshot ("rdma -dd res show mr" prints the driver's
# attributes, prefixed "drv_", after the MR's own).
rxe_mr_pages() {
	awk -v len="$1" '
	{
		for (i = 1; i < NF; i++) {
			if ($i == "mrlen") cur = $(i + 1)
			if ($i == "drv_page_size") ps = $(i + 1)
			if ($i == "drv_pages") pages = $(i + 1)
			if ($i == "drv_page_table_bytes" && cur == len) {
				print ps, pages, $(i + 1)
				cur = ""
			}
		}
	}' /tmp/rdma.mrs
}

# memcg_dir NAME: a memory cgroup NAME of its own under cgroup v2's root
# (mounted if need be); prints its path
memcg_dir() {
	cg=/sys/fs/cgroup
	grep -q " $cg cgroup2 " /proc/mounts || mount -t cgroup2 none $cg || return 1
	echo +memory > $cg/cgroup.subtree_control || return 1
	mkdir -p $cg/$1 && echo $cg/$1
}

# memcg_verdict NEVER ALWAYS BYTES: did memory.current grow, over a map
# or registration whose pin populated BYTES, by BYTES at least with policy
# never and with always, and by the same with both (within 1 MiB: page
# tables)? memory.current moves in batches: each CPU keeps up to 64
# pages charged ahead (MEMCG_CHARGE_BATCH), which a charge may use up
# without memory.current growing, so BYTES less that much. Prints why not.
memcg_verdict() {
	least=$(($3 - 64 * 4096 * $(nproc)))
	if [ "${1:--1}" -lt $least ] || [ "${2:--1}" -lt $least ]; then
		echo "memory.current grew by less than the $3 bytes populated (less the per-CPU batches: $least)"
		return 1
	fi
	diff=$(($2 - $1))
	[ ${diff#-} -le $((1 << 20)) ] && return 0
	echo "memory.current grew by $diff bytes more with always than with never"
	return 1
}
