#!/bin/sh
# Builds tests/neon/match_check for arm64 (static, so qemu-user needs no
# sysroot) and runs it under qemu-aarch64-static; the report goes to
# OUTDIR/neon.txt. Exit 77 names a missing Debian package on stderr.
#
#   tests/neon/run.sh OUTDIR        (from the top of the source tree)
set -eu

out=${1:?usage: tests/neon/run.sh OUTDIR}
cc=${AARCH64_CC:-aarch64-linux-gnu-gcc}
qemu=${QEMU_AARCH64:-qemu-aarch64-static}

if ! command -v "$cc" >/dev/null 2>&1; then
	echo "no $cc: install gcc-aarch64-linux-gnu" >&2
	exit 77
fi
if ! command -v "$qemu" >/dev/null 2>&1; then
	echo "no $qemu: install qemu-user-static" >&2
	exit 77
fi

mkdir -p "$out"
if ! "$cc" -std=gnu11 -O2 -Wall -Wextra -D_GNU_SOURCE -static -Iinclude -Iruntime \
	-Itests/neon tests/neon/match_check.c runtime/match.c runtime/match_neon.c \
	runtime/match_avx2.c runtime/match_avx512.c runtime/log.c \
	-lm -lpthread -o "$out/match_check" 2>"$out/cc.log"; then
	if grep -q 'stdio.h\|cannot find -lc\|crt1.o' "$out/cc.log"; then
		echo "$cc has no arm64 C library: install libc6-dev-arm64-cross" >&2
		exit 77
	fi
	cat "$out/cc.log" >&2
	exit 1
fi
"$qemu" "$out/match_check" >"$out/neon.txt"
