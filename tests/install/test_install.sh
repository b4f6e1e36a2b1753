#!/bin/sh
# test_install.sh BUILD_DIR SOURCE_DIR — installs the build into a temporary prefix, then builds a consumer with
# find_package(tensortrace) (shared and static) and with pkg-config, and runs both; the installed Python package
# must load the installed library.
set -eu
build=$1 src=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/tt_install.XXXXXX")
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
test -f "$work/prefix/include/tt/writer.h"
libdir=$(ls -d "$work"/prefix/lib*/ | head -n 1)
test -f "$libdir/libtrace.a"
test -f "$libdir/pkgconfig/libtrace.pc"
test -f "$libdir/cmake/tensortrace/tensortraceConfig.cmake"

cmake -S "$src/tests/install/consumer" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/consumer" >/dev/null
LD_LIBRARY_PATH="$libdir" "$work/consumer/consumer_shared" "$work/a.tt"
"$work/consumer/consumer_static" "$work/b.tt"

PKG_CONFIG_PATH="$libdir/pkgconfig" cc -std=c11 -o "$work/consumer_pc" "$src/tests/install/consumer/main.c" \
  $(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs libtrace)
LD_LIBRARY_PATH="$libdir" "$work/consumer_pc" "$work/c.tt"
PKG_CONFIG_PATH="$libdir/pkgconfig" cc -std=c11 -static-libgcc -o "$work/consumer_pc_static" \
  "$src/tests/install/consumer/main.c" -DTT_STATIC_DEFINE \
  $(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags libtrace) "$libdir/libtrace.a" \
  $(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --libs --static libtrace | sed 's/-ltrace//')
"$work/consumer_pc_static" "$work/d.tt"

# the Python package, installed under the prefix, loads the library installed beside it
if /usr/bin/python3 -c "import numpy" 2>/dev/null; then
  found=$(cd "$work" && env -u TT_LIBTRACE PYTHONPATH="$work/prefix/lib/python3/dist-packages" /usr/bin/python3 \
    -c "import tensortrace as tt, numpy as np; w = tt.Writer('e.tt'); w.put(np.ones(4, np.float32), point='x');
w.close(); assert len(tt.open('e.tt')) == 1; print(tt.library_path)")
  case $found in
    "$work/prefix/"*) ;;
    *) echo "install: the installed package loaded '$found', not the installed library" >&2; exit 1 ;;
  esac
fi
echo "install: ok"
