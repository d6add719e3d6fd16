#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs inside the lab guest (tests/lab/lab-run): fastpass prepare and release on the real
# kernel's vfio-pci, asserted from the guest's own sysfs.
# - every device ends on vfio-pci, has its /dev/vfio/GROUP node, and was reset: a value written
#   into one of its registers (e1000e RDBAL, BAR0 + 0x2800) before prepare is gone after it;
# - release --mode restore gives each back to e1000e; warm release keeps vfio-pci and resets;
# - devices behind one conventional bridge share an IOMMU group: preparing one of them while
#   the others stay on e1000e is refused and changes nothing.
# usage: prepare-release.sh FASTPASS LAB-MMIO
set -u
fp=$1; mmio=$2
. "$(dirname "$0")/../cli/lib.sh"
run=/run/fastpass-lab
drv() { basename "$(readlink /sys/bus/pci/devices/$1/driver 2>/dev/null)" 2>/dev/null || echo none; }
group() { basename "$(readlink /sys/bus/pci/devices/$1/iommu_group)"; }
marker=0x5a5a0000

read -r -a devs <<< "${LAB_DEVICES:-}"
read -r -a bridged <<< "${LAB_BRIDGED_DEVICES:-}"
sysw() { printf '%s' "$2" > "$1"; }
check "lab has 3 devices behind root ports (${devs[*]})" [ ${#devs[@]} -eq 3 ]
for d in "${devs[@]}"; do
  check "$d starts on e1000e, IOMMU group $(group $d), reset_method '$(cat /sys/bus/pci/devices/$d/reset_method)'" [ "$(drv $d)" = e1000e ]
  # Each device is alone on its root port's bus: make the kernel use a bus reset, which QEMU
  # carries out on the device model (QEMU 7.2 does not reset it on a PM D3hot->D0 cycle).
  sysw /sys/bus/pci/devices/$d/reset_method bus
done

# 1. From the host driver to vfio-pci and back.
"$fp" prepare --run-dir "$run" --owner lab-vm --timeout-ms 60000 --json "${devs[@]}" > /tmp/prepare.json; rc=$?
check "prepare ${#devs[@]} devices: exit 0" [ $rc -eq 0 ]
grep -E '"(bdf|status|step|start_ms|ms)"' /tmp/prepare.json | tr -d ' \n' | sed 's/"bdf"/\n     "bdf"/g'; echo
for d in "${devs[@]}"; do
  check "$d on vfio-pci" [ "$(drv $d)" = vfio-pci ]
  check "$d has /dev/vfio/$(group $d)" [ -c /dev/vfio/$(group $d) ]
done
"$fp" release --run-dir "$run" --mode restore --timeout-ms 60000 "${devs[@]}" > /tmp/release.txt; rc=$?
sed 's/^/     /' /tmp/release.txt
check "restore release: exit 0" [ $rc -eq 0 ]
for d in "${devs[@]}"; do
  check "$d back on e1000e" [ "$(drv $d)" = e1000e ]
  check "$d: driver_override cleared" [ "$(cat /sys/bus/pci/devices/$d/driver_override)" = "(null)" ]
done

# 2. The reset, seen in the device's own registers. e1000e claims its BAR exclusively, so the
#    marker goes in while the device sits on vfio-pci (bound by hand, as an operator might).
for d in "${devs[@]}"; do
  sysw /sys/bus/pci/devices/$d/driver_override vfio-pci
  sysw /sys/bus/pci/drivers/e1000e/unbind "$d"
  sysw /sys/bus/pci/drivers_probe "$d"
  "$mmio" "$d" 0 0x2800 $marker > /dev/null
  check "$d: marker written into RDBAL (BAR0 + 0x2800)" [ "$("$mmio" "$d" 0 0x2800)" = "$(printf '0x%08x' $marker)" ]
done
"$fp" prepare --run-dir "$run" --owner lab-vm --timeout-ms 60000 "${devs[@]}" > /dev/null; rc=$?
check "prepare devices already on vfio-pci: exit 0" [ $rc -eq 0 ]
for d in "${devs[@]}"; do
  v=$("$mmio" "$d" 0 0x2800)
  check "$d was reset by prepare: marker gone (RDBAL now $v)" [ "$v" = 0x00000000 ]
done
d=${devs[0]}
"$mmio" "$d" 0 0x2800 $marker > /dev/null
"$fp" release --run-dir "$run" --owner lab-vm --timeout-ms 60000 "$d" > /dev/null; rc=$?
[ $rc -eq 0 ] && [ "$(drv $d)" = vfio-pci ]; verdict "warm release of $d: exit 0, still on vfio-pci"
v=$("$mmio" "$d" 0 0x2800)
check "warm release of $d: reset for the next tenant (RDBAL now $v)" [ "$v" = 0x00000000 ]
"$fp" release --run-dir "$run" --mode restore "${devs[@]}" > /dev/null; rc=$?
[ $rc -eq 0 ] && [ "$(drv ${devs[1]})" = vfio-pci ]; verdict "restore release of devices found on vfio-pci: they stay there"
for d in "${devs[@]}"; do
  sysw /sys/bus/pci/devices/$d/driver_override $'\n'; sysw /sys/bus/pci/drivers/vfio-pci/unbind "$d"; sysw /sys/bus/pci/drivers_probe "$d"
done

# Refusal: devices behind one conventional bridge share a group.
if [ ${#bridged[@]} -ge 2 ]; then
  b=${bridged[0]}
  check "bridged devices share IOMMU group $(group $b)" [ "$(group ${bridged[0]})" = "$(group ${bridged[1]})" ]
  before="$(drv ${bridged[0]}) $(drv ${bridged[1]})"
  "$fp" prepare --run-dir "$run" --owner lab-vm "$b" > /dev/null 2> /tmp/err; rc=$?
  echo "     fastpass said: $(cat /tmp/err)"
  check "prepare one device of a shared group: refused (exit 1)" [ $rc -eq 1 ]
  check "prepare one device of a shared group: names the member on e1000e" \
    grep -q "is not viable: ${bridged[1]} is held by host driver e1000e" /tmp/err
  check "prepare one device of a shared group: nothing changed" [ "$(drv ${bridged[0]}) $(drv ${bridged[1]})" = "$before" ]
  "$fp" prepare --run-dir "$run" --owner lab-vm --timeout-ms 60000 "${bridged[@]}" > /dev/null 2>&1; rc=$?
  [ $rc -eq 0 ] && [ "$(drv ${bridged[0]}) $(drv ${bridged[1]})" = "vfio-pci vfio-pci" ]; verdict "prepare the whole shared group: exit 0, all on vfio-pci"
  "$fp" release --run-dir "$run" --mode restore "${bridged[@]}" > /dev/null 2>&1
  check "restore the shared group: back on e1000e" [ "$(drv ${bridged[0]}) $(drv ${bridged[1]})" = "e1000e e1000e" ]
fi
finish
