#!/usr/bin/env bash
# Runs inside the lab guest (tests/lab/lab-run): a domain with a real VFIO <hostdev> starts
# through fastpass-qemu with its guest memory in a pre-zeroed pool slot. VFIO pins every page
# of the slot (QEMU's locked memory covers it); after destroy the slot is dirty, never handed
# out, and `fastpass pool scrub` makes it clean again.
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
slot=$(ls "$pool" | grep "claimed.$uuid" | head -1)
check "slot claimed for the domain ($slot)" [ -n "$slot" ]
check "QEMU's guest RAM is the slot (mem-path, share)" \
  bash -c "tr '\\0' ' ' < /proc/${pid:-0}/cmdline | grep -q '\"mem-path\":\"$pool/claim-$uuid\",\"share\":true'"
check "QEMU has the slot mapped" grep -q "$pool/claim-$uuid" /proc/${pid:-0}/maps
check "QEMU holds /dev/vfio/$(group $dev) open" bash -c "ls -l /proc/${pid:-0}/fd | grep -q '/dev/vfio/$(group $dev)\$'"
locked_kib=$(awk '/^VmLck:/{print $2}' /proc/${pid:-0}/status)
check "VFIO pinned the guest memory: QEMU's locked memory ${locked_kib:-0} KiB >= 65536 KiB" [ "${locked_kib:-0}" -ge 65536 ]
echo "     wrapper's change: $(grep -o 'fastpass-qemu: pc.ram[^"]*' /var/log/libvirt/qemu/lab-pool.log | head -1)"

virsh destroy lab-pool > /dev/null 2>&1; rc=$?
check "virsh destroy: exit 0" [ $rc -eq 0 ]
check "after destroy the slot is dirty" bash -c "ls '$pool' | grep -q '\\.dirty\$'"
"$fp" pool claim --dir "$pool" --size 64M --owner 11111111-2222-4333-8444-555555555555 > "$work/claim.out" 2>&1; rc=$?
check "a dirty slot is never handed out (claim before scrub fails)" [ $rc -ne 0 ]
"$fp" pool scrub --dir "$pool" > "$work/scrub.out" 2>&1; rc=$?
sed 's/^/     /' "$work/scrub.out"
[ $rc -eq 0 ] && ls "$pool" | grep -q '\.clean$'; verdict "pool scrub: exit 0, the slot is clean again"
check "device back on e1000e" [ "$(drv $dev)" = e1000e ]
"$fp" pool drain --dir "$pool" > /dev/null 2>&1
finish
