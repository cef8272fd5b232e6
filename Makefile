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
TEST_TIMEOUT ?= 4800
BENCH_TIMEOUT ?= 2400
# make bench's guest-size sweep: one guest per size, the same requests
SCALE_MEMS ?= 2G 8G 16G
SCALE_TIMEOUT ?= 900

BZIMAGE = $(BUILD)/kernel-$(1)/arch/x86/boot/bzImage
INITRD := $(BUILD)/initramfs.gz
GUEST_ARGS := contig.rxe=1 contig.vfio=1 trace_buf_size=32M
# Test boots: page_owner active (the exchange swaps its records), the
# initramfs unpacked before KUnit runs, so that the statistics KUnit
# checks are quiet, and 30 minutes per guest test (defrag took 12 on the
# debug kernel, and more than 20 on a slower machine).
TEST_ARGS := page_owner=on initramfs_async=0 contig.timeout=1800

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
	@mkdir -p $(BUILD)/test
	@echo "test: booting the test guest (KUnit at boot, then guest tests: $(SUITES))"
	@scripts/run-guest.sh $(call BZIMAGE,test) $(INITRD) \
		$(BUILD)/test/console.log $(TEST_TIMEOUT) $(GUEST_ARGS) $(TEST_ARGS) \
		contig.tests=$(SUITES) \
		$(if $(KUNIT_FILTER),kunit.filter_glob=$(KUNIT_FILTER)); \
	rc=$$?; \
	echo "test: console log in $(BUILD)/test/console.log"; \
	scripts/report.py --console $(BUILD)/test/console.log \
		--kunit-py $(KUNIT_PY) --guest-rc $$rc --expect-kunit \
		--json $(BUILD)/test/results.json

bench demo: %: kernel-bench image
	@mkdir -p $(BUILD)/bench
	@echo "$@: booting the bench guest (fragmenter, then the $@ scenarios)"
	@QEMU_TRACE_LOG=$(abspath $(BUILD)/bench/qemu-trace-$@.log) \
		scripts/run-guest.sh $(call BZIMAGE,bench) $(INITRD) \
		$(BUILD)/bench/console-$@.log $(BENCH_TIMEOUT) $(GUEST_ARGS) \
		contig.bench=$@; \
	rc=$$?; \
	consoles="--console $(BUILD)/bench/console-$@.log"; \
	for mem in $(if $(filter bench,$@),$(SCALE_MEMS)); do \
		echo "$@: guest-size sweep, a $$mem guest"; \
		GUEST_MEM=$$mem scripts/run-guest.sh $(call BZIMAGE,bench) \
			$(INITRD) $(BUILD)/bench/console-scale-$$mem.log \
			$(SCALE_TIMEOUT) $(GUEST_ARGS) contig.bench=scale || rc=1; \
		consoles="$$consoles --console $(BUILD)/bench/console-scale-$$mem.log"; \
	done; \
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
