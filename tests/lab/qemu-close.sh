#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs inside the lab guest (tests/lab/lab-run -n 3): the kernel's resets when QEMU ends and its
# vfio-pci devices are closed (issue 20), kprobes on every PCI reset. Ended by SIGTERM (what
# libvirt's virsh destroy sends first) or QMP quit, fastpass's QEMU with x-parallel-close on
# (as the wrapper turns it on) closes all devices at once: their close-time resets overlap.
# Debian's QEMU, and fastpass's with x-parallel-close off, leave the closing to the kernel at
# process exit: one reset after another. So does SIGKILL, whatever the property. After each
# end, no process holds a device's group, every device is on vfio-pci, and the next QEMU starts
# with all of them.
# usage: qemu-close.sh STOCK_QEMU FASTPASS_QEMU
set -u
stock=$1 fpq=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cli/lib.sh"
[ "${LAB:-}" = 1 ] || { echo "qemu-close.sh: run it inside the lab (tests/lab/lab-run)" >&2; exit 2; }
[ -x "$fpq" ] || { echo "SKIP: no fastpass QEMU at $fpq (launcher/qemu/build-qemu builds it)"; exit 77; }
grep -q 'x-parallel-close=' <("$fpq" -device vfio-pci,help 2>&1) ||
  { echo "SKIP: $fpq has no x-parallel-close (series 3 or older)"; exit 77; }
work=/tmp/qemu-close
. "$here/qemu-trace.sh"
[ "$n" -ge 2 ] || { echo "qemu-close.sh: needs 2 devices or more (lab-run -n 3)"; exit 2; }
mapfile -t all_devices < <(vfio_args $n)
on=()
for p in x-skip-first-reset x-parallel-open x-keep-dma-maps x-parallel-close; do
  grep -q "$p=" <("$fpq" -device vfio-pci,help 2>&1) && on+=(-global "vfio-pci.$p=on")
done
echo "# fastpass's options: ${on[*]}"

free_after() { # NAME: QEMU is gone; every device on vfio-pci, its group free (an open succeeds)
  local d g bad=
  for d in "${devs[@]}"; do
    g=$(basename "$(readlink /sys/bus/pci/devices/$d/iommu_group)")
    [ "$(basename "$(readlink /sys/bus/pci/devices/$d/driver)")" = vfio-pci ] || bad+=" $d:driver"
    (exec 8<>/dev/vfio/$g) 2>/dev/null || bad+=" $d:group-$g-busy"
  done
  [ -z "$bad" ] || echo "   held or moved:$bad"
  [ -z "$bad" ]
}
span() { # NAME PHASE: "first start -> last end (sum of durations)" of the phase's resets
  awk -v p="$2" '$1 == p { if (s == "" || $4 < s) s = $4; if (e == "" || $5 > e) e = $5; sum += $5 - $4 }
                 END { if (s != "") printf "%.3f s from the first start to the last end, %.3f s summed", e - s, sum }' "$work/$1.resets"
}
serial() { # NAME: n close-time resets, not overlapping
  [ "$(count "$1" quit)" -eq $n ] && ! overlap "$1" quit
}
# NAME KILL QEMU [ARGS...]: start with every device, end it by KILL (TERM, KILL or quit)
end_run() {
  local name=$1 how=$2 rc; shift 2
  local kill=(--kill "$how"); [ "$how" = quit ] && kill=()
  trace_qemu "$name" "${kill[@]}" -- "$@" -machine q35,accel=tcg -m 128 -nodefaults -display none \
    "${all_devices[@]}"; rc=$?
  check "$name: starts with $n devices and ends by $how" [ $rc -eq 0 ]
  # Each close resets its device once, with the result 0
  [ "$(count "$name" quit)" -eq $n ] && [ "$(distinct "$name" quit)" -eq $n ] &&
    [ "$(awk '$1 == "quit" && $6 != 0' "$work/$name.resets" | wc -l)" -eq 0 ]
  verdict "$name: $n close-time resets, one per device, each returning 0"
  echo "   $name: close-time resets: $(span "$name" quit)"
  check "$name: afterwards no process holds a device, every device on vfio-pci" free_after "$name"
}

# The kernel closes the devices at process exit: one after another.
end_run stock-term TERM "$stock"
serial stock-term; verdict "Debian's QEMU, SIGTERM: the $n resets run one after another"
end_run fastpass-off-term TERM "$fpq" "${on[@]}" -global vfio-pci.x-parallel-close=off
serial fastpass-off-term; verdict "fastpass, x-parallel-close off, SIGTERM: the $n resets run one after another"
end_run fastpass-kill KILL "$fpq" "${on[@]}"
serial fastpass-kill; verdict "fastpass, x-parallel-close on, SIGKILL: the kernel closes, one after another"
# QEMU closes them at once; each start after such a close shows the devices usable.
end_run fastpass-term TERM "$fpq" "${on[@]}"
overlap fastpass-term quit; verdict "fastpass, x-parallel-close on, SIGTERM: the $n close-time resets overlap"
end_run fastpass-quit quit "$fpq" "${on[@]}"
overlap fastpass-quit quit; verdict "fastpass, x-parallel-close on, QMP quit: the $n close-time resets overlap"
# The devices closed at once are usable: a last start with all of them runs, the kernel
# resetting each at open.
trace_qemu fastpass-next -- "$fpq" "${on[@]}" -machine q35,accel=tcg -m 128 -nodefaults -display none \
  "${all_devices[@]}"
check "the next QEMU starts with all $n devices" [ $? -eq 0 ]
check "the next QEMU: $n open-time resets, one per device" [ "$(distinct fastpass-next exec)" -eq $n ]

echo 0 > $T/events/fp/enable
echo > $T/kprobe_events
finish
