#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Builds tests/qemu/dma-pieces-test.c against hw/vfio/dma-pieces.c of the patched QEMU tree
# (launcher/qemu/build-qemu's build/qemu/src, 0005 applied) and runs it: 0005's piece
# bookkeeping against a fake kernel and memory core. Skips (77) when that tree, or that file in
# it, is absent.
# With --series2 it runs the same checks on series 2's bookkeeping (dma-pieces-series2.c) and
# passes only if they catch each of its defects.
# usage: dma-pieces.sh CC QEMU_SRC OUT_DIR [--series2] [CFLAGS...]
set -u
cc=$1 src=$2 out=$3; shift 3
series2=; [ "${1:-}" = --series2 ] && { series2=1; shift; }
here=$(cd "$(dirname "$0")" && pwd)
[ -f "$src/hw/vfio/dma-pieces.c" ] && [ -f "$src/include/hw/vfio/vfio-dma-pieces.h" ] ||
  { echo "SKIP: no hw/vfio/dma-pieces.c in $src (launcher/qemu/build-qemu unpacks and patches it; --suite trixie for the 10.0 tree)"; exit 77; }
mkdir -p "$out"
read -r -a glib <<<"$(pkg-config --cflags --libs glib-2.0)"
if [ -z "$series2" ]; then
  bin=$out/dma-pieces-test impl=$src/hw/vfio/dma-pieces.c defs=()
else
  bin=$out/dma-pieces-test-series2 impl=$here/dma-pieces-series2.c defs=(-DDEL_IOMMU_TOO=1)
fi
"$cc" -std=gnu11 -g -O1 -Wall -Wextra -Wno-unused-parameter "$@" "${defs[@]}" \
  -I"$here/fake-qemu" -I"$src/include" "$here/dma-pieces-test.c" "$impl" "${glib[@]}" -o "$bin" ||
  { echo "FAIL: $impl does not build outside QEMU"; exit 1; }
if [ -z "$series2" ]; then
  exec "$bin" 200
fi
# Series 2: each defect must be caught. The reference check first, then the rest without it
# (the missing reference shows first in nearly every case and would hide the others).
status=0
with=$("$bin" 20); without=$("$bin" -R 20)
printf '%s\n' "$with" | sed 's/^/  series 2: /' | grep -v '^  series 2: ok' | head -12
printf '%s\n' "$without" | sed 's/^/  series 2, -R: /' | grep -v ': ok' | head -14
expect() {   # expect OUTPUT CASE WHAT: CASE must fail with a message matching WHAT
  if printf '%s\n' "$1" | grep "^FAIL $2: " | grep -q -- "$3"; then echo "ok series 2 caught: $2 ($3)"
  else echo "FAIL series 2 not caught: $2 ($3)"; status=1; fi
}
expect "$with" pending-piece-holds-its-region "nobody holds a reference"
expect "$without" iommu-section-removed-unmaps-its-translations "vfio_dma_pieces_add_ram = -17"
expect "$without" iommu-section-replaces-ram-pending-pieces "notifier's map of 0x300000 refused"
expect "$without" partial-overlap-unmaps-what-it-forgets "still mapped inside the removed range"
expect "$without" 'random-seed-[0-9]*' "."
exit $status
