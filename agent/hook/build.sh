#!/bin/sh
# build.sh OUTDIR: builds the LD_PRELOAD hook into OUTDIR/libbaihook.so.
# The library links against libc only (dlsym is in libc since glibc 2.34),
# so it loads in the Debian bookworm kernel images without extra files.
set -eu
if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
src=$(dirname "$0")/src/hook.c
mkdir -p "$1"
${CC:-gcc} -shared -fPIC -O2 -Wall -Wextra -Werror -fvisibility=hidden \
	-Wl,-z,relro -Wl,--as-needed -o "$1/libbaihook.so.tmp" "$src"
mv -f "$1/libbaihook.so.tmp" "$1/libbaihook.so"
