# SPDX-License-Identifier: GPL-2.0
#
# contig: the one entry point. `make help` lists the targets.

SHELL := /bin/bash
BUILD := build
KUNIT_PY := $(BUILD)/linux/tools/testing/kunit/kunit.py

# What `make test` runs in the guest: all guest tests, or a comma list of
# userspace/tests/<name>.sh; KUNIT_FILTER narrows the KUnit suites
# (kunit.filter_glob, e.g. contig_layout or 'contig_layout.layout_mm_*').
SUITES ?= all
KUNIT_FILTER ?=
# For SUITES=all, make test boots two test guests side by side (under TCG
# a guest keeps about one of the host's two cores busy): these suites run
# in the second, the rest after KUnit in the first (scripts/test-guests.sh).
# Each lane takes about 40 minutes here; TEST_TIMEOUT bounds each guest.
SECOND_GUEST_SUITES := rdma_contig,vfio_contig,prepare_torture,rdma
TEST_TIMEOUT ?= 3900
BENCH_TIMEOUT ?= 2400
# make bench's guest-size sweep: one guest per size, the same requests,
# the sizes in turn SCALE_BOOTS times (a TCG boot's speed varies: the
# report pools the boots and also shows each request against its boot's
# speed)
SCALE_MEMS ?= 2G 8G 16G
SCALE_BOOTS ?= 3
# make bench's 2 GiB range on memory with no clean 1 GiB window
NOWINDOW_MEM := 12G
SCALE_TIMEOUT ?= 900
# make bench's populate guest (userspace/bench/populate.sh)
POPULATE_TIMEOUT ?= 2400

BZIMAGE = $(BUILD)/kernel-$(1)/arch/x86/boot/bzImage
INITRD := $(BUILD)/initramfs.gz
GUEST_ARGS := contig.rxe=1 contig.vfio=1 trace_buf_size=32M
# Test boots: page_owner active (the exchange swaps its records), the
# initramfs unpacked before KUnit runs, so that the statistics KUnit
# checks are quiet, and 40 minutes per guest test (rdma_contig took 29.6
# here with the populate rows, defrag 28; defrag took 12 on the
# debug kernel, and more than 20 on a slower machine).
TEST_ARGS := page_owner=on initramfs_async=0 contig.timeout=2400
# The test that needs a guest of its own (marked "# own guest:"): two NUMA
# nodes of 4 GiB (node 1 from 6 GiB physical: q35 keeps 2 GiB below 4 GiB)
# with a 512 MiB CMA area where node 1 starts, so that a window search
# bound to node 1 meets it first, and room for a 1 GiB hugetlb page on
# both nodes; no KUnit (the test guest runs it), and no page_owner: in
# 6.12, page_owner walks the page_ext of a 1 GiB folio with page_ext_next()
# past the end of its 128 MiB section's array (KASAN: slab-out-of-bounds
# in __update_page_owner_handle(), then a crash) when a 1 GiB hugetlb page
# is allocated at run time, which this test does. make test boots it after
# the test guest, for SUITES=all or a list that names it;
# SUITES=neighbours alone boots only that guest.
OWN_GUEST_MEM := 8G
OWN_GUEST_ARGS := cma=512M@6G kunit.enable=0 initramfs_async=0 \
	contig.timeout=1800
OWN_GUEST_TIMEOUT ?= 1200

.PHONY: help setup kernel kernel-test kernel-bench userspace image test \
	bench demo patches checkpatch docs clean distclean

help:
	@echo "make demo        build, boot, fragment memory, show the baseline table"
	@echo "make test        build the test kernel, run KUnit + guest tests"
	@echo "make bench       build the bench kernel, run all benchmarks"
	@echo "                 (table on stdout, build/bench/results.json)"
	@echo "make setup       install the Debian packages the project needs"
	@echo "make kernel      build both kernels (kernel-test, kernel-bench)"
	@echo "make userspace   build the user-space tools and tests"
	@echo "make image       build the guest initramfs"
	@echo "make patches     export the feature as a patch series (build/patches)"
	@echo "make checkpatch  checkpatch.pl --strict on every project kernel file"
	@echo "make docs        kernel-doc and Sphinx (kernel setup) on the documentation"
	@echo "variables: SUITES=layout,vfio  KUNIT_FILTER=contig_layout"

setup:
	@scripts/setup.sh

kernel: kernel-test kernel-bench

kernel-test kernel-bench: kernel-%: setup
	@scripts/kernel-build.sh $*

userspace: setup
	@$(MAKE) -s -C userspace O=$(abspath $(BUILD)/userspace)

image: userspace
	@scripts/mkinitramfs.sh $(INITRD) $(BUILD)/userspace/bin

test: kernel-test image
	@SUITES='$(SUITES)' KUNIT_FILTER='$(KUNIT_FILTER)' \
	BZIMAGE=$(call BZIMAGE,test) INITRD=$(INITRD) OUT=$(BUILD)/test \
	TEST_TIMEOUT=$(TEST_TIMEOUT) GUEST_ARGS='$(GUEST_ARGS)' \
	TEST_ARGS='$(TEST_ARGS)' SECOND_GUEST_SUITES='$(SECOND_GUEST_SUITES)' \
	OWN_GUEST_MEM=$(OWN_GUEST_MEM) OWN_GUEST_ARGS='$(OWN_GUEST_ARGS)' \
	OWN_GUEST_TIMEOUT=$(OWN_GUEST_TIMEOUT) KUNIT_PY=$(KUNIT_PY) \
		scripts/test-guests.sh

bench demo: %: kernel-bench image
	@mkdir -p $(BUILD)/bench
	@echo "$@: booting the bench guest (fragmenter, then the $@ scenarios)"
	@QEMU_TRACE_LOG=$(abspath $(BUILD)/bench/qemu-trace-$@.log) \
		scripts/run-guest.sh $(call BZIMAGE,bench) $(INITRD) \
		$(BUILD)/bench/console-$@.log $(BENCH_TIMEOUT) $(GUEST_ARGS) \
		contig.bench=$@; \
	rc=$$?; \
	consoles="--console $(BUILD)/bench/console-$@.log"; \
	for boot in $(if $(filter bench,$@),$(shell seq $(SCALE_BOOTS))); do \
	for mem in $(SCALE_MEMS); do \
		log=$(BUILD)/bench/console-scale-$$mem-$$boot.log; \
		echo "$@: guest-size sweep, a $$mem guest (boot $$boot)"; \
		GUEST_MEM=$$mem scripts/run-guest.sh $(call BZIMAGE,bench) \
			$(INITRD) $$log $(SCALE_TIMEOUT) $(GUEST_ARGS) \
			contig.bench=scale || rc=1; \
		consoles="$$consoles --console $$log"; \
	done; done; \
	if [ $@ = bench ]; then \
		log=$(BUILD)/bench/console-nowindow.log; \
		echo "$@: no clean 1 GiB window, a $(NOWINDOW_MEM) guest"; \
		GUEST_MEM=$(NOWINDOW_MEM) scripts/run-guest.sh \
			$(call BZIMAGE,bench) $(INITRD) $$log $(SCALE_TIMEOUT) \
			$(GUEST_ARGS) contig.bench=nowindow || rc=1; \
		consoles="$$consoles --console $$log"; \
		log=$(BUILD)/bench/console-populate.log; \
		echo "$@: memory not yet written, a guest of its own"; \
		scripts/run-guest.sh $(call BZIMAGE,bench) $(INITRD) $$log \
			$(POPULATE_TIMEOUT) $(GUEST_ARGS) contig.bench=populate || \
			rc=1; \
		consoles="$$consoles --console $$log"; \
	fi; \
	scripts/bench-report.py $$consoles \
		--qemu-trace $(BUILD)/bench/qemu-trace-$@.log --guest-rc $$rc \
		--json $(BUILD)/bench/results$(if $(filter demo,$@),-demo).json

patches: setup
	@scripts/export-patches.sh $(BUILD)/patches

checkpatch: setup
	@scripts/checkpatch.sh

docs: setup
	@scripts/docs-check.sh

clean:
	rm -rf $(BUILD)/kernel-* $(BUILD)/kconfig-* $(BUILD)/userspace \
		$(BUILD)/test $(BUILD)/bench $(BUILD)/patches $(BUILD)/docs \
		$(BUILD)/*.gz

distclean:
	rm -rf $(BUILD)
