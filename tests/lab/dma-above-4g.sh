#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs inside the lab guest (tests/lab/lab-run -n 1 -m 7G): a guest with more RAM than the
# 32-bit hole (4 GiB on q35: 2 GiB below 4 GiB, 2 GiB from 0x100000000) and one vfio-pci device
# boots the host's kernel with Debian's QEMU and with fastpass's QEMU. A kprobe on the kernel's
# vfio_iommu_type1_ioctl lists every VFIO_IOMMU_MAP_DMA (from exec until the guest kernel has
# listed the device): the RAM above 4 GiB must be mapped, as one IOVA range at 0x100000000, by
# both, as QEMU's own trace says too; and the guest kernel must see the device.
# usage: dma-above-4g.sh STOCK-QEMU FASTPASS_QEMU
set -u
stock=$(realpath "$1"); fpq=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cli/lib.sh"
[ -x "$fpq" ] || { echo "SKIP: no fastpass QEMU at $fpq (launcher/qemu/build-qemu builds it)"; exit 77; }
read -r -a devs <<<"${LAB_DEVICES:-}"
dev=${devs[0]}
work=/tmp/fastpass-lab-4g; mkdir -p "$work"
kernel=$("$here/../debian-kernel")
mem_mib=4096
# q35 puts 2 GiB below 4 GiB when the guest has 2.75 GiB or more (pc_q35_init's lowmem)
above=$((mem_mib * 1024 * 1024 - 0x80000000))
want_iova=0x100000000 want_size=$(printf '0x%x' $above)

. "$(dirname "${BASH_SOURCE[0]}")/dma-kprobe.sh"
dma_kprobe_on

modprobe vfio-pci
# QEMU 7.2's e1000e resets only on a bus reset (tests/lab/README.md, point 4)
echo bus > /sys/bus/pci/devices/$dev/reset_method
# echo vfio-pci > driver_override; echo $dev > driver/unbind; echo $dev > drivers_probe
echo vfio-pci > /sys/bus/pci/devices/$dev/driver_override
[ -e /sys/bus/pci/devices/$dev/driver ] && echo "$dev" > /sys/bus/pci/devices/$dev/driver/unbind
echo "$dev" > /sys/bus/pci/drivers_probe
check "$dev on vfio-pci" [ "$(basename "$(readlink /sys/bus/pci/devices/$dev/driver)")" = vfio-pci ]
free -m | sed -n 2p | sed 's/^/     lab guest memory (MiB): /'

for q in stock fastpass; do
  bin=$stock; [ $q = fastpass ] && bin=$fpq
  rm -f "$work/console-$q" "$work/trace-$q"
  echo > $T/trace
  echo 1 > $T/tracing_on
  # The guest kernel lists the device ("[8086:10d3]") while it enumerates PCI: the device is
  # there and its config space reads through VFIO.
  python3 "$here/qemu-init.py" --timeout 600 --until "$work/console-$q" "[8086:10d3]" -- "$bin" \
    -machine q35,accel=tcg -m $mem_mib -nodefaults -display none -kernel "$kernel" \
    -append "console=ttyS0 panic=-1" -serial "file:$work/console-$q" \
    -device "vfio-pci,host=$dev" -D "$work/trace-$q" \
    -trace enable=vfio_listener_region_add_ram -trace enable=vfio_dma_map_ioctl \
    > "$work/$q.json" 2> "$work/$q.err"
  rc=$?
  echo 0 > $T/tracing_on
  cp $T/trace "$work/$q.ktrace"
  check "$q: a 4 GiB guest with $dev boots ($(cat "$work/$q.json" 2>/dev/null))" [ $rc -eq 0 ]
  [ $rc -eq 0 ] || { sed 's/^/     /' "$work/$q.err"; tail -5 "$work/console-$q" 2>/dev/null | sed 's/^/     console: /'; }
  grep -m1 'Linux version' "$work/console-$q" | cut -c1-60 | sed 's/^/     guest: /'
  grep -m1 '\[8086:10d3\]' "$work/console-$q" | sed 's/^/     guest: /'
  check "$q: the guest kernel sees the device (8086:10d3)" grep -q '\[8086:10d3\]' "$work/console-$q"
  # iova size of every map the kernel was asked for
  awk '/ dma: / { for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
         if (f["cmd"] == "0x3b71") print f["a16"], f["a24"] }' "$work/$q.ktrace" > "$work/$q.kmaps"
  echo "     $q: VFIO_IOMMU_MAP_DMA at or above 1 MiB (iova size), as the kernel saw them:"
  while read -r iova size; do
    [ $((iova)) -ge $((1 << 20)) ] && echo "       $iova $size"
  done < "$work/$q.kmaps"
  check "$q: the kernel mapped the RAM above 4 GiB: iova $want_iova size $want_size" \
    grep -qx "$want_iova $want_size" "$work/$q.kmaps"
  # Nothing else lands in [4 GiB, 4 GiB + size): no other RAM, no second map of it
  [ "$(while read -r iova size; do
         [ $((iova)) -ge $((want_iova)) ] && [ $((iova)) -lt $((want_iova + above)) ] && echo x
       done < "$work/$q.kmaps" | wc -l)" -eq 1 ]
  verdict "$q: exactly one map inside the RAM above 4 GiB"
  ev=vfio_listener_region_add_ram; [ $q = fastpass ] && ev=vfio_dma_map_ioctl
  grep -m1 "^$ev.* 0x100000000 - " "$work/trace-$q" | sed "s/^/     $q QEMU trace: /"
  check "$q: QEMU's trace ($ev) shows 0x100000000 - $(printf '0x%x' $((want_iova + above - 1)))" \
    grep -q "^$ev.* 0x100000000 - $(printf '0x%x' $((want_iova + above - 1)))" "$work/trace-$q"
done
echo 0 > $T/events/fpdma/enable
echo > $T/kprobe_events
finish
