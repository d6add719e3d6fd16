#!/usr/bin/env bash
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

run fastpass "$fpq"; rc=$?
check "fastpass QEMU runs with $n devices" [ $rc -eq 0 ]
[ "$(count fastpass exec)" -eq $n ] && [ "$(distinct fastpass exec)" -eq $n ]
verdict "fastpass: $n resets before its vCPUs run, one per device"
check "fastpass: system_reset still resets each device" [ "$(distinct fastpass system_reset)" -eq $n ]
grep -q 'x-parallel-open' <("$fpq" -device vfio-pci,help 2>&1) && {
  overlap fastpass exec; verdict "fastpass: the $n open-time resets overlap in time"
}

off=(-global vfio-pci.x-skip-first-reset=off)
grep -q 'x-parallel-open' <("$fpq" -device vfio-pci,help 2>&1) && off+=(-global vfio-pci.x-parallel-open=off)
run fastpass-off "$fpq" "${off[@]}"; rc=$?
check "fastpass QEMU with its options off runs" [ $rc -eq 0 ]
check "fastpass, options off: $((2 * n)) resets before running, as stock" \
  [ "$(count fastpass-off exec)" -eq $((2 * n)) ]
check "fastpass, options off: system_reset resets each device" \
  [ "$(distinct fastpass-off system_reset)" -eq $n ]

# A device whose open fails (its group held by another process): the start fails naming that
# device, and every device stays on vfio-pci, usable by the next start.
if [ $n -ge 2 ]; then
  held=${devs[1]}
  group=$(basename "$(readlink /sys/bus/pci/devices/$held/iommu_group)")
  exec 7<>/dev/vfio/$group
  timeout 120 "$fpq" -machine q35,accel=tcg -m 128 -nodefaults -display none "${all_devices[@]}" \
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
  run fastpass-again "$fpq"; rc=$?
  check "fastpass: the next start with all devices runs" [ $rc -eq 0 ]
fi

echo 0 > $T/events/fp/enable
echo > $T/kprobe_events
finish
