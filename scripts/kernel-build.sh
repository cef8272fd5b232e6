#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build build/kernel-<flavour>/arch/x86/boot/bzImage, flavour "test" or
# "bench": tinyconfig + configs/guest.config + configs/contig.config +
# configs/<flavour>.config. Fails, listing them, when options a fragment
# asks for did not make it into the final .config (a missing dependency
# makes Kconfig drop them silently).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
flavour=${1:?usage: kernel-build.sh test|bench}
tree=$top/build/linux
out=$top/build/kernel-$flavour
gen=$top/build/kconfig-$flavour

die() { echo "kernel-build: $*" >&2; exit 1; }

fragments=("$top/configs/guest.config" "$top/configs/contig.config"
	   "$top/configs/$flavour.config")
for f in "${fragments[@]}"; do
	[ -f "$f" ] || die "no config fragment $f (flavours: test, bench)"
done

"$top/scripts/kernel-tree.sh"

kmake() { make -s -C "$tree" ARCH=x86_64 "$@"; }

# Generate the configuration in a scratch output directory and install it
# only when it changed, so an unchanged configuration never invalidates
# the build.
mkdir -p "$gen" "$out"
cat "$tree/kernel/configs/tiny.config" "$tree/arch/x86/configs/tiny.config" \
	"${fragments[@]}" > "$gen/allno.config"
kmake O="$gen" KCONFIG_ALLCONFIG="$gen/allno.config" allnoconfig >/dev/null

dropped=()
while read -r line; do
	case "$line" in
	CONFIG_*=*)
		grep -qxF -- "$line" "$gen/.config" || dropped+=("$line")
		;;
	"# CONFIG_"*" is not set")
		sym=${line#\# }; sym=${sym%% *}
		grep -q "^$sym=" "$gen/.config" && dropped+=("$line")
		;;
	esac
done < <(cat "${fragments[@]}")
if [ ${#dropped[@]} -gt 0 ]; then
	echo "kernel-build: these options from configs/ are not in the final .config" >&2
	echo "kernel-build: (a dependency is missing; see $gen/.config):" >&2
	printf '  %s\n' "${dropped[@]}" >&2
	exit 1
fi
cmp -s "$gen/.config" "$out/.config" || cp "$gen/.config" "$out/.config"

echo "kernel-build: building $flavour kernel in build/kernel-$flavour"
export CCACHE_BASEDIR=$top
kmake O="$out" CC="ccache gcc" -j"$(nproc)" olddefconfig >/dev/null
kmake O="$out" CC="ccache gcc" -j"$(nproc)" bzImage
echo "kernel-build: $out/arch/x86/boot/bzImage"
