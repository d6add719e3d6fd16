#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs inside the lab guest (tests/lab/lab-run -n 2): a libvirt domain with one managed='no'
# hostdev (the hook prepares it) and one managed='yes' hostdev (libvirt detaches it) starts
# through the hook and the wrapper with fastpass's QEMU, found where it is "installed"
# (fastpass_qemu, no qemu_binary configured); the wrapper turns on its fast-boot properties and
# records them in the timeline; the guest kernel sees both devices.
# usage: libvirt-fastpass-qemu.sh FASTPASS-HOOK FASTPASS-QEMU-WRAPPER FASTPASS_QEMU
set -u
hook=$(realpath "$1"); wrapper=$(realpath "$2"); fpq=$(realpath "$3")
. "$(dirname "$0")/libvirt-lib.sh"
[ -x "$fpq" ] || { echo "SKIP: no fastpass QEMU at $fpq (launcher/qemu/build-qemu builds it)"; exit 77; }
work=/tmp/fastpass-lab-fpq; mkdir -p "$work"; chmod 755 "$work"
unmanaged=${devs[0]} managed=${devs[1]}
uuid=3c9e2b1a-7d4f-4e8a-9b6c-1f2e3d4c5b6a
lab_libvirt_config
for d in "${devs[@]}"; do echo bus > /sys/bus/pci/devices/$d/reset_method; done
printf '{"run_dir": "%s/run", "log_file": "%s/hook.log", "release_mode": "restore", "device_timeout_ms": 60000, "hook_deadline_ms": 120000, "fastpass_qemu": "%s"}\n' \
  "$work" "$work" "$fpq" > "$work/fastpass.json"
lab_install_hook "$hook" "$work/fastpass.json"
config_script "$work/fastpass.json" "$wrapper" "$work/qemu"
libvirtd_up || { echo "libvirtd did not start"; exit 1; }

managed_xml=$(hostdev "$managed" | sed "s/managed='no'/managed='yes'/")
boot_domain_xml lab-fpq $uuid "$work/console.log" "" \
  "<emulator>$work/qemu</emulator>$(hostdev "$unmanaged")$managed_xml" > "$work/dom.xml"
check "domain XML valid under libvirt's schema" valid "$work/dom.xml"
virsh create "$work/dom.xml" > "$work/create.out" 2>&1; rc=$?
check "virsh create (managed='no' and managed='yes' hostdevs): exit 0" [ $rc -eq 0 ]
[ $rc -eq 0 ] || { sed 's/^/     /' "$work/create.out"; tail -20 /var/log/libvirt/qemu/lab-fpq.log | sed 's/^/     /'; }
pid=$(pgrep -f 'guest=lab-fpq' | head -1)
check "QEMU is fastpass's ($(readlink /proc/${pid:-0}/exe))" [ "$(readlink /proc/${pid:-0}/exe)" = "$fpq" ]
for p in x-skip-first-reset x-parallel-open x-keep-dma-maps x-parallel-close; do
  check "QEMU runs with -global vfio-pci.$p=on" \
    bash -c "tr '\\0' ' ' < /proc/${pid:-0}/cmdline | grep -q -- '-global vfio-pci.$p=on'"
done
qemut=$work/run/timeline/$uuid.qemu.json
check "timeline: the wrapper's exec records the fast-boot properties" \
  grep -q 'vfio-pci: x-skip-first-reset=on' "$qemut"
for _ in $(seq 1 1200); do
  [ "$(grep -c '\[8086:10d3\]' "$work/console.log" 2>/dev/null)" -ge 2 ] && break
  sleep 0.25
done
grep '8086:10d3' "$work/console.log" | head -4 | sed 's/^/     guest: /'
check "the guest kernel sees both devices (8086:10d3 twice in its log)" \
  [ "$(grep -c '\[8086:10d3\]' "$work/console.log" 2>/dev/null)" -ge 2 ]
virsh destroy lab-fpq > /dev/null 2>&1
check "$unmanaged released back to e1000e by the hook (restore)" [ "$(drv $unmanaged)" = e1000e ]
finish
