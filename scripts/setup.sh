#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install every Debian package the project needs. Idempotent: when all
# packages are present it prints nothing and exits 0, so every make target
# can depend on it cheaply.
set -euo pipefail

PKGS=(
	linux-source-6.12
	build-essential bc bison flex libelf-dev libssl-dev dwarves cpio xz-utils
	kmod python3 python3-ply python3-git perl rsync ccache git
	qemu-system-x86 busybox-static
	rdma-core ibverbs-utils ibverbs-providers libibverbs-dev librdmacm-dev
	perftest iproute2
	gnuplot-nox jq
	python3-sphinx graphviz
)

missing=()
for p in "${PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "setup: missing packages: ${missing[*]}" >&2
	echo "setup: run 'make setup' as root (or install them with apt-get)" >&2
	exit 1
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
