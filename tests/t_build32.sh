#!/bin/sh
# A native build on a 32-bit glibc system (Raspberry Pi OS armhf, say):
# every source compiles warning-free against armhf glibc's headers with the
# Makefile's flags, and those flags give 64-bit file offsets, without which
# `-r` could not open a capture over 2 GiB. The static builds (musl) have
# 64-bit offsets anyway, so only this checks the glibc case. Syntax only:
# the host's libpcap and mbedTLS headers stand in for armhf ones (they hold
# no architecture-specific definitions the sources use).
. "$(dirname "$0")/lib.sh"

CC32=arm-linux-gnueabihf-gcc
if ! command -v $CC32 >/dev/null 2>&1 || [ ! -f /usr/arm-linux-gnueabihf/include/stdio.h ]; then
	skip build32_glibc "no $CC32 with armhf glibc headers (make check installs them)"
	exit 0
fi
# -MMD -MP would write dependency files next to nothing
flags=$(make -s -C "$TOP" flags | sed 's/ -MMD//; s/ -MP//')
# the host's pcap and mbedtls headers, after armhf glibc's own
inc="-idirafter /usr/include"

bad=""
for f in "$TOP"/src/*.c; do
	# shellcheck disable=SC2086 # the flags are words
	(cd "$TOP" && $CC32 $flags -Werror $inc -fsyntax-only "$f") >"$T_TMP/cc.out" 2>&1 ||
		bad="$bad $(basename "$f"): $(head -c 300 "$T_TMP/cc.out")"
done
[ -z "$bad" ] && ok build32_glibc_compiles || fail build32_glibc_compiles "$bad"

# The check can fail: without the offset flag the build must stop.
noflag=$(echo "$flags" | sed 's/ -D_FILE_OFFSET_BITS=64//')
if (cd "$TOP" && $CC32 $noflag $inc -fsyntax-only src/capture.c) >"$T_TMP/cc.out" 2>&1; then
	fail build32_large_files "src/capture.c compiles with a 32-bit off_t"
elif grep -q "_FILE_OFFSET_BITS" "$T_TMP/cc.out" && [ "$noflag" != "$flags" ]; then
	ok build32_large_files
else
	fail build32_large_files "unexpected: flags \"$flags\"; $(head -c 300 "$T_TMP/cc.out")"
fi
