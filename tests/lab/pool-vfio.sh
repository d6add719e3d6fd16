#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs inside the lab guest (tests/lab/lab-run): a domain with a real VFIO <hostdev> starts
# through the hook and fastpass-qemu on a host where no per-domain MAC confines QEMU (this lab
# guest has no AppArmor: securityfs is not mounted). Pool slots go only to domains confined by a
# profile of their own (issue 17, F2): the hook hands out no slot and says why, QEMU allocates its
# own guest memory, which VFIO pins (QEMU's locked memory covers it), and the clean slot stays
# root's and clean. lab/apparmor shows the slot in use where libvirt confines the domain.
# usage: pool-vfio.sh FASTPASS FASTPASS-HOOK FASTPASS-QEMU
set -u
fp=$(realpath "$1"); hook=$(realpath "$2"); wrapper=$(realpath "$3")
. "$(dirname "$0")/libvirt-lib.sh"
work=/tmp/fastpass-lab-pool; mkdir -p "$work"; chmod 755 "$work"; log=$work/hook.log
pool=/dev/hugepages/fastpass
uuid=3c1f7a2e-9d4b-4e8a-b6c5-0a1b2c3d4e5f
dev=${devs[0]}

lab_libvirt_config
echo 64 > /proc/sys/vm/nr_hugepages
printf '{"run_dir": "%s/run", "log_file": "%s", "release_mode": "restore", "pool_dir": "%s", "device_timeout_ms": 60000, "hook_deadline_ms": 120000}\n' \
  "$work" "$log" "$pool" > "$work/fastpass.json"
lab_install_hook "$hook" "$work/fastpass.json"
config_script "$work/fastpass.json" "$wrapper" "$work/qemu"
libvirtd_up || { echo "libvirtd did not start"; exit 1; }

"$fp" pool fill --dir "$pool" --size 64M --count 1 > "$work/fill.out" 2>&1; rc=$?
sed 's/^/     /' "$work/fill.out"
[ $rc -eq 0 ] && ls "$pool" | grep -q '\.clean$'; verdict "pool fill: one clean 64 MiB slot"

lab_domain lab-pool "<uuid>$uuid</uuid><memoryBacking><hugepages><page size='2048' unit='KiB'/></hugepages></memoryBacking>" \
  "$work/qemu" "$dev" > "$work/lab-pool.xml"
virsh create "$work/lab-pool.xml" > "$work/create.out" 2>&1; rc=$?
check "virsh create through the wrapper with a VFIO hostdev: exit 0" [ $rc -eq 0 ]
[ $rc -eq 0 ] || sed 's/^/     /' "$work/create.out"
echo "     hook log:"; sed 's/^/       /' "$log"
pid=$(pgrep -f 'guest=lab-pool' | head -1)
check "QEMU runs (pid ${pid:-none})" [ -n "$pid" ]
check "no slot claimed for an unconfined domain" bash -c "! ls '$pool' | grep -q 'claimed'"
check "the hook says why, once" [ "$(grep -c 'pool: not used: the kernel has no AppArmor' "$log")" = 1 ]
check "QEMU's guest RAM is not a pool slot" \
  bash -c "! tr '\\0' ' ' < /proc/${pid:-0}/cmdline | grep -q '$pool/'"
check "QEMU maps nothing of the pool" bash -c "! grep -q '$pool/' /proc/${pid:-0}/maps"
check "the clean slot is root's, mode 0600" [ "$(stat -c '%U %a' "$pool"/*.clean 2>/dev/null)" = "root 600" ]
check "QEMU holds /dev/vfio/$(group $dev) open" bash -c "ls -l /proc/${pid:-0}/fd | grep -q '/dev/vfio/$(group $dev)\$'"
locked_kib=$(awk '/^VmLck:/{print $2}' /proc/${pid:-0}/status)
check "VFIO pinned the guest memory: QEMU's locked memory ${locked_kib:-0} KiB >= 65536 KiB" [ "${locked_kib:-0}" -ge 65536 ]

virsh destroy lab-pool > /dev/null 2>&1; rc=$?
check "virsh destroy: exit 0" [ $rc -eq 0 ]
check "after destroy the slot is still clean" bash -c "ls '$pool' | grep -q '\.clean\$'"
check "device back on e1000e" [ "$(drv $dev)" = e1000e ]
"$fp" pool drain --dir "$pool" > /dev/null 2>&1
finish
