#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs inside the lab guest (tests/lab/lab-run): the fastpass hook in a real libvirtd, with real
# VFIO. A domain whose PCI hostdevs are managed='no' starts only because the hook prepared them
# (libvirt checks they are on vfio-pci and QEMU opens them through /dev/vfio); destroy releases
# them as configured (restore: back to e1000e); a device whose IOMMU group has a member on a
# host driver is refused with the hook's one-line reason in virsh's error, changing nothing.
# usage: libvirt-vfio.sh FASTPASS-HOOK
set -u
hook=$(realpath "$1")
. "$(dirname "$0")/libvirt-lib.sh"
work=/tmp/fastpass-lab; mkdir -p "$work"
log=$work/hook.log
lab_libvirt_config
pair=("${devs[0]}" "${devs[1]}")
domain() { lab_domain "$1" "" /usr/bin/qemu-system-x86_64 "${@:2}"; }
domain lab-vfio "${pair[@]}" > "$work/lab-vfio.xml"

# Control: without the hook, libvirt refuses managed='no' devices that are not on vfio-pci.
libvirtd_up || { echo "libvirtd did not start"; exit 1; }
virsh create "$work/lab-vfio.xml" > "$work/control.out" 2>&1; rc=$?
echo "     without the hook, virsh said: $(tr '\n' ' ' < "$work/control.out" | cut -c1-200)"
check "control: without the hook the same domain does not start" [ $rc -ne 0 ]
virsh destroy lab-vfio > /dev/null 2>&1

printf '{"run_dir": "%s/run", "log_file": "%s", "release_mode": "restore", "device_timeout_ms": 60000, "hook_deadline_ms": 120000}\n' "$work" "$log" > "$work/fastpass.json"
lab_install_hook "$hook" "$work/fastpass.json"
libvirtd_restart || { echo "libvirtd did not restart"; exit 1; }

for d in "${pair[@]}"; do check "$d starts on e1000e" [ "$(drv $d)" = e1000e ]; done
virsh create "$work/lab-vfio.xml" > "$work/create.out" 2>&1; rc=$?
check "virsh create (managed='no' hostdevs, prepared by the hook): exit 0" [ $rc -eq 0 ]
[ $rc -eq 0 ] || sed 's/^/     /' "$work/create.out"
echo "     hook log:"; sed 's/^/       /' "$log" 2>/dev/null
check "domain is running" [ "$(virsh domstate lab-vfio 2>/dev/null)" = running ]
pid=$(pgrep -f 'guest=lab-vfio' | head -1)
for d in "${pair[@]}"; do
  check "$d on vfio-pci while the domain runs" [ "$(drv $d)" = vfio-pci ]
  check "QEMU (pid ${pid:-none}) holds /dev/vfio/$(group $d) open" \
    bash -c "ls -l /proc/${pid:-0}/fd 2>/dev/null | grep -q '/dev/vfio/$(group $d)\$'"
done
check "hook log: both devices prepared in one run" [ "$(grep -c 'prepare 0000:0[12]:00.0: done' "$log")" -eq 2 ]

virsh destroy lab-vfio > /dev/null 2>&1; rc=$?
check "virsh destroy: exit 0" [ $rc -eq 0 ]
for d in "${pair[@]}"; do check "$d released back to e1000e (release_mode restore)" [ "$(drv $d)" = e1000e ]; done

if [ ${#bridged[@]} -ge 2 ]; then
  b=${bridged[0]}
  before="$(drv ${bridged[0]}) $(drv ${bridged[1]})"
  domain lab-refused "$b" > "$work/lab-refused.xml"
  virsh create "$work/lab-refused.xml" > "$work/refused.out" 2>&1; rc=$?
  echo "     virsh said: $(tr '\n' ' ' < "$work/refused.out")"
  check "refused start: virsh create fails" [ $rc -ne 0 ]
  check "refused start: virsh shows the hook's reason" \
    grep -q "fastpass: $b: IOMMU group $(group $b) is not viable: ${bridged[1]} is held by host driver e1000e" "$work/refused.out"
  check "refused start: nothing changed" [ "$(drv ${bridged[0]}) $(drv ${bridged[1]})" = "$before" ]
fi
finish
