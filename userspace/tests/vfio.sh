#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# VFIO type1v2 with the edu device behind the emulated VT-d: map a 64 MiB
# anonymous buffer at a 1 GiB IOVA, DMA round trips through the device at
# the first, middle and last page with every byte verified, IOMMU leaves
# by size from debugfs, iommu_map calls from the iommu:map tracepoint.
. /contig/lib.sh
CONTIG_TEST_NAME=vfio
guest_vfio_bind || exit 1
exec vfio_edu --size 64 --iova 0x40000000 --offsets 3
