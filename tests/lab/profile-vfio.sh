#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs inside the lab guest (tests/lab/lab-run): `fastpass profile --direct` boots a guest whose
# QEMU holds a real VFIO device (an e1000e on vfio-pci, prepared by fastpass) and counts QEMU's
# VFIO DMA maps and unmaps from its trace, and the maps of an IOVA range mapped before.
# usage: profile-vfio.sh FASTPASS
set -u
fp=$(realpath "$1")
. "$(dirname "$0")/../cli/lib.sh"
dev=${LAB_DEVICES%% *}
work=/tmp/fastpass-lab-profile; mkdir -p "$work"
kernel=$("$(dirname "$0")/../debian-kernel")
drv() { basename "$(readlink /sys/bus/pci/devices/$dev/driver)"; }

modprobe vfio-pci
echo bus > /sys/bus/pci/devices/$dev/reset_method
"$fp" prepare --run-dir "$work/run" "$dev" > /dev/null; rc=$?
[ $rc -eq 0 ] && [ "$(drv)" = vfio-pci ]; verdict "prepare $dev: exit 0, on vfio-pci"

"$fp" profile --direct --json --timeout 240 -- qemu-system-x86_64 -machine q35,accel=tcg -m 256 \
  -nodefaults -display none -kernel "$kernel" -append console=ttyS0 -device vfio-pci,host=$dev \
  > "$work/profile.json" 2> "$work/profile.err"; rc=$?
sed -n '/^times/,$p' "$work/profile.err" | sed 's/^/     /'
check "profile --direct with a VFIO device: exit 0" [ $rc -eq 0 ]
[ "$(jq '.runs[0] | .creation_ms > 0 and ((.creation_ms - .init_ms - .bios_ms) | fabs) < 0.01' "$work/profile.json")" = true ]
verdict "creation = init + BIOS, positive"
dma=$(jq -c '.runs[0].vfio_dma' "$work/profile.json")
[ "$(jq '.visible and .map > 0' <<<"$dma")" = true ]; verdict "VFIO DMA maps counted from QEMU's trace ($dma)"
[ "$(jq '.unmap >= 0 and .remap >= 0 and .remap <= .map' <<<"$dma")" = true ]
verdict "unmaps and redundant maps counted, no more redundant maps than maps"
grep -q "VFIO DMA calls .* map, .* unmap, .* map of an IOVA range mapped before" "$work/profile.err"
verdict "the summary says so"

"$fp" release --run-dir "$work/run" --mode restore "$dev" > /dev/null; rc=$?
[ $rc -eq 0 ] && [ "$(drv)" = e1000e ]; verdict "release: back on e1000e"
finish
