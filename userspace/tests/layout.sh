#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The kernel's layout inspector and the pagemap tool agree on anonymous,
# THP, memfd, sparse and unpopulated buffers, at three DMA keys.
exec layout_agree 64
