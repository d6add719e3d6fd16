#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A diagnostic, not a test: which PCI resets the real kernel does, and who asks for them, when
# fastpass prepares a device and QEMU then opens it, traced with ftrace inside the lab guest.
# Run it as:  tests/lab/lab-run -n 1 -- tests/lab/reset-sequence.sh [FASTPASS]
# Prints, for each step, every reset with the call chain that led to it:
#   A. `fastpass prepare`                      (the hook's pre-reset, through sysfs `reset`)
#   B. QEMU opens the device, resets the machine (-S), quits
#   C. the same with the device's reset_method emptied after prepare
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
fp=${1:-$top/build/werror/launcher/fastpass}
[ "${LAB:-}" = 1 ] || { echo "reset-sequence.sh: run it inside the lab (tests/lab/lab-run)" >&2; exit 2; }
dev=${LAB_DEVICES%% *}
T=/sys/kernel/tracing
mountpoint -q $T || mount -t tracefs none $T
modprobe vfio-pci
# QEMU 7.2's e1000e has no working FLR or PM reset: a bus reset, as the lab tests use.
echo bus > /sys/bus/pci/devices/$dev/reset_method
echo 0 > $T/tracing_on
echo function > $T/current_tracer
echo '__pci_reset_function_locked pci_reset_bus vfio_pci_core_enable vfio_pci_core_disable' \
  > $T/set_ftrace_filter
echo 1 > $T/options/func_stack_trace

traced() { # COMMAND...: runs it, then prints each traced call and its callers
  echo > $T/trace
  echo 1 > $T/tracing_on
  "$@"
  echo 0 > $T/tracing_on
  grep -v '^#' $T/trace | sed 's/^ *//' |
    awk '/<-/ {sub(/^.*\] [^ ]+ +/, ""); print "  " $0; n = 0; next}
         /^=> / && $2 !~ /^0x/ && n++ < 4 {print "        " $0}'
}
qemu_open() { # QEMU with the device, paused after its machine reset; quit after 5 s
  timeout 30 qemu-system-x86_64 -machine q35,accel=tcg -m 64 -nodefaults -display none -S \
    -device vfio-pci,host=$dev &
  sleep 5
  kill %1
  wait
}

echo "device $dev, IOMMU group $(basename "$(readlink /sys/bus/pci/devices/$dev/iommu_group)")"
echo "== A. fastpass prepare"
traced "$fp" prepare --run-dir /run/fastpass-reset-sequence "$dev"
echo "== B. QEMU opens it, resets the machine, quits"
traced qemu_open
echo "== C. reset_method emptied after prepare; QEMU opens it, resets the machine, quits"
echo "" > /sys/bus/pci/devices/$dev/reset_method
traced qemu_open
echo bus > /sys/bus/pci/devices/$dev/reset_method
