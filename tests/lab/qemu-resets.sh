#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs inside the lab guest (tests/lab/lab-run -n 3): every PCI reset the real kernel does from
# QEMU's exec until its vCPUs run, and at a later system_reset, traced with kprobes, for stock
# QEMU, fastpass's QEMU, and fastpass's QEMU with its fast-boot options turned off.
# usage: qemu-resets.sh STOCK_QEMU FASTPASS_QEMU
# Prints each reset as: PHASE FUNCTION DEVICE(pci_dev pointer) START END (seconds, trace clock).
set -u
stock=$1 fpq=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cli/lib.sh"
[ "${LAB:-}" = 1 ] || { echo "qemu-resets.sh: run it inside the lab (tests/lab/lab-run)" >&2; exit 2; }
[ -x "$fpq" ] || { echo "SKIP: no fastpass QEMU at $fpq (launcher/qemu/build-qemu builds it)"; exit 77; }
work=/tmp/qemu-resets
. "$here/qemu-trace.sh"
mapfile -t all_devices < <(vfio_args $n)
run() { # NAME QEMU [ARGS...]: QEMU with every device until it runs, system_reset, quit
  local name=$1; shift
  trace_qemu "$name" --system-reset -- "$@" -machine q35,accel=tcg -m 128 -nodefaults \
    -display none "${all_devices[@]}"
}

run stock "$stock"; rc=$?
check "stock QEMU runs with $n devices" [ $rc -eq 0 ]
check "stock: $((2 * n)) resets before its vCPUs run (2 per device)" [ "$(count stock exec)" -eq $((2 * n)) ]
check "stock: system_reset resets each device" [ "$(distinct stock system_reset)" -eq $n ]

# The options default to off (series 3): turned on as the wrapper does, with -global
on=()
for p in x-skip-first-reset x-parallel-open; do
  grep -q "$p=" <("$fpq" -device vfio-pci,help 2>&1) && on+=(-global "vfio-pci.$p=on")
done
run fastpass "$fpq" "${on[@]}"; rc=$?
check "fastpass QEMU runs with $n devices" [ $rc -eq 0 ]
[ "$(count fastpass exec)" -eq $n ] && [ "$(distinct fastpass exec)" -eq $n ]
verdict "fastpass: $n resets before its vCPUs run, one per device"
check "fastpass: system_reset still resets each device" [ "$(distinct fastpass system_reset)" -eq $n ]
grep -q 'x-parallel-open' <("$fpq" -device vfio-pci,help 2>&1) && {
  overlap fastpass exec; verdict "fastpass: the $n open-time resets overlap in time (concurrent, not serial)"
}

# Without any option (series 3: each defaults to off) the binary must behave as Debian's.
run fastpass-off "$fpq"; rc=$?
check "fastpass QEMU without options runs" [ $rc -eq 0 ]
check "fastpass, no options: $((2 * n)) resets before running, as stock" \
  [ "$(count fastpass-off exec)" -eq $((2 * n)) ]
check "fastpass, no options: system_reset resets each device" \
  [ "$(distinct fastpass-off system_reset)" -eq $n ]

# VFIO DMA maps from exec until the guest kernel's first line (SeaBIOS's memory map changes
# included), one device, 256 MiB: fewer maps, unmaps and maps of a range mapped before (and
# unmapped since) with fastpass's QEMU.
if [ $dma = 1 ]; then
  kernel=$(ls /boot/vmlinuz-* | sort -V | tail -1)
  for v in stock fastpass fastpass-dma-off; do
    bin=$stock extra=()
    [ $v != stock ] && bin=$fpq
    # fastpass: every option on, as the wrapper turns them on; fastpass-dma-off: none at all
    [ $v = fastpass ] && extra=("${on[@]}")
    [ $v = fastpass ] && grep -q 'x-keep-dma-maps=' <("$fpq" -device vfio-pci,help 2>&1) &&
      extra+=(-global vfio-pci.x-keep-dma-maps=on)
    rm -f "$work/console-$v"
    trace_qemu "dma-$v" --until "$work/console-$v" "Linux version" -- "$bin" "${extra[@]}" \
      -machine q35,accel=tcg -m 256 -nodefaults -display none -kernel "$kernel" \
      -append console=ttyS0 -serial "file:$work/console-$v" -device "vfio-pci,host=${devs[0]}" \
      > /dev/null
    check "$v: boots a kernel with a VFIO device" [ $? -eq 0 ]
    echo "   $v, exec -> first kernel line: $(dma_counts "dma-$v")"
    awk '$1 != "quit" && $2 == "dma_map" && seen[$3 " " $4]++ { print "     mapped again: iova " $3 " size " $4 }' \
      "$work/dma-$v.dma"
  done
  read -r sm _ su _ sr _ <<<"$(dma_counts dma-stock)"
  read -r fm _ fu _ fr _ <<<"$(dma_counts dma-fastpass)"
  [ "$fr" -lt "$sr" ] && [ "$fu" -lt "$su" ] && [ "$fm" -lt "$sm" ]
  verdict "fastpass: fewer DMA maps, unmaps and repeated maps than stock ($fm/$fu/$fr vs $sm/$su/$sr)"
  [ "$(dma_counts dma-fastpass-dma-off)" = "$(dma_counts dma-stock)" ]
  verdict "fastpass without options: the same DMA calls as stock"
fi

# A device whose open fails (its group held by another process): the start fails naming that
# device, and every device stays on vfio-pci, usable by the next start.
if [ $n -ge 2 ]; then
  held=${devs[1]}
  group=$(basename "$(readlink /sys/bus/pci/devices/$held/iommu_group)")
  exec 7<>/dev/vfio/$group
  timeout 120 "$fpq" "${on[@]}" -machine q35,accel=tcg -m 128 -nodefaults -display none "${all_devices[@]}" \
    > "$work/held.out" 2> "$work/held.err"; rc=$?
  exec 7>&-
  sed 's/^/   /' "$work/held.err"
  [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "$held" "$work/held.err"
  verdict "fastpass: a device held elsewhere fails the start with its name ($held)"
  ok_drivers=1
  for d in "${devs[@]}"; do
    [ "$(basename "$(readlink /sys/bus/pci/devices/$d/driver)")" = vfio-pci ] || ok_drivers=0
  done
  check "fastpass: after the failed start every device is still on vfio-pci" [ $ok_drivers = 1 ]
  run fastpass-again "$fpq" "${on[@]}"; rc=$?
  check "fastpass: the next start with all devices runs" [ $rc -eq 0 ]
fi

# Two devices in one IOMMU group (behind one PCIe-to-PCI bridge): opened at once from one group
# and one container, both QEMUs start with them.
read -r -a bridged <<<"${LAB_BRIDGED_DEVICES:-}"
if [ ${#bridged[@]} -ge 2 ]; then
  for d in "${bridged[@]}"; do
    # echo vfio-pci > driver_override; echo $d > driver/unbind; echo $d > drivers_probe
    echo vfio-pci > /sys/bus/pci/devices/$d/driver_override
    [ -e /sys/bus/pci/devices/$d/driver ] && echo "$d" > /sys/bus/pci/devices/$d/driver/unbind
    echo "$d" > /sys/bus/pci/drivers_probe
  done
  shared=(-device "vfio-pci,host=${bridged[0]}" -device "vfio-pci,host=${bridged[1]}" -device "vfio-pci,host=${devs[0]}")
  for q in stock fastpass; do
    bin=($stock); [ $q = fastpass ] && bin=("$fpq" "${on[@]}")
    trace_qemu "$q-shared" -- "${bin[@]}" -machine q35,accel=tcg -m 128 -nodefaults -display none "${shared[@]}"
    check "$q: starts with two devices of one IOMMU group and a third" [ $? -eq 0 ]
  done
fi

echo 0 > $T/events/fp/enable
echo > $T/kprobe_events
finish
