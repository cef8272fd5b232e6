#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the contig test guest under QEMU TCG (../shared/DESIGN.md §3) and
# capture its console. The guest powers itself off when done; a hard time
# limit kills QEMU otherwise (exit status 124).
#
# usage: run-guest.sh BZIMAGE INITRD CONSOLE_LOG TIMEOUT_S [APPEND...]
# env:   QEMU_TRACE_LOG=FILE  also log QEMU's emulated-IOTLB trace events
#        (vtd_iotlb_page_hit / vtd_iotlb_page_update) to FILE
#        GUEST_MEM (default 4G), GUEST_CPUS (default 2)
#        GUEST_NODES=N  N NUMA nodes, GUEST_MEM (whole GiB) split evenly
#        between them, the CPUs (one socket each, so that no cache is
#        shared across nodes) dealt out in turn
set -uo pipefail

kernel=${1:?usage: run-guest.sh BZIMAGE INITRD CONSOLE_LOG TIMEOUT_S [APPEND...]}
initrd=${2:?}
log=${3:?}
limit=${4:?}
shift 4

mem=${GUEST_MEM:-4G}
cpus=${GUEST_CPUS:-2}
numa=()
nodes=${GUEST_NODES:-1}
if [ "$nodes" -gt 1 ]; then
	gib=${mem%G}
	case "$mem" in
	*G) ;;
	*) echo "run-guest: GUEST_NODES needs GUEST_MEM in GiB (e.g. 4G)" >&2; exit 2 ;;
	esac
	if [ $((gib % nodes)) -ne 0 ]; then
		echo "run-guest: $mem does not split evenly into $nodes nodes" >&2
		exit 2
	fi
	for ((n = 0; n < nodes; n++)); do
		numa+=(-object "memory-backend-ram,id=ram$n,size=$((gib / nodes))G"
		       -numa "node,nodeid=$n,memdev=ram$n")
	done
	for ((c = 0; c < cpus; c++)); do
		numa+=(-numa "cpu,node-id=$((c % nodes)),socket-id=$c,core-id=0,thread-id=0")
	done
fi

trace=()
if [ -n "${QEMU_TRACE_LOG:-}" ]; then
	rm -f "$QEMU_TRACE_LOG"
	trace=(-trace enable=vtd_iotlb_page_hit -trace enable=vtd_iotlb_page_update
	       -D "$QEMU_TRACE_LOG")
fi

# The user-mode network is restricted: the guest reaches nothing outside
# itself. rxe and perftest only talk to the guest's own address.
timeout -s KILL "$limit" qemu-system-x86_64 \
	-accel tcg -machine q35,kernel-irqchip=split -cpu max \
	-m "$mem" -smp "$cpus,sockets=$cpus,cores=1,threads=1" "${numa[@]}" \
	-nographic -no-reboot -monitor none -serial stdio \
	-device intel-iommu,intremap=on,aw-bits=48 \
	-device edu,dma_mask=0xffffffffffffffff \
	-nic user,model=virtio-net-pci,restrict=on \
	"${trace[@]}" \
	-kernel "$kernel" -initrd "$initrd" \
	-append "console=ttyS0 panic=-1 intel_iommu=on $*" \
	</dev/null >"$log" 2>&1
rc=$?
[ $rc -eq 137 ] && rc=124
exit $rc
