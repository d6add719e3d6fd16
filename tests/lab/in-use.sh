#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs inside the lab guest (tests/lab/lab-run -n 3 -d SIZE): fastpass never touches a device
# that someone else uses (issue 17, items 1 and 7; review findings F1, F14, F9).
# - Domain A, started by libvirt before fastpass's hook was installed, holds X0 on vfio-pci; X1
#   is hot-plugged into it afterwards (virsh attach-device, no hook involved). Domains naming X0
#   (managed='no') and X1 (managed='yes') then start through the hook: each start is refused,
#   the error names the holder (A's QEMU pid, domain lab-a), and the kernel resets neither
#   device during the attempt and the `release end` after it. A keeps both devices.
# - A plain process holds X2's VFIO group open: `fastpass prepare X2` and a domain naming X2
#   are refused naming that pid, with no reset of X2. Once it has closed it, prepare goes ahead.
# - The host's own devices: an e1000e whose interface is up with an IPv4 address, and a disk
#   with a mounted filesystem: `fastpass prepare` refuses each with one line naming the device
#   and the use, and changes nothing; named in host_devices_allowed, the NIC is taken (and given
#   back).
# Resets are counted with kprobes on the kernel's reset functions (qemu-trace.sh), per device:
# each device's pci_dev pointer is learnt from a sysfs reset of it first.
# usage: in-use.sh FASTPASS FASTPASS-HOOK
set -u
fp=$(realpath "$1"); hook=$(realpath "$2")
. "$(dirname "$0")/libvirt-lib.sh"
work=/tmp/fastpass-lab-in-use; mkdir -p "$work"
log=$work/hook.log
if [ "${#devs[@]}" -lt 3 ]; then echo "SKIP: needs 3 lab devices behind root ports (-n 3)"; exit 77; fi
x0=${devs[0]} x1=${devs[1]} x2=${devs[2]}
one_line() { [ "$(grep -c . "$1")" -eq 1 ]; }
claimed() { [ -e "$1/devices/$2.json" ]; } # RUN-DIR BDF: fastpass wrote a claim for it

# --- the host's own devices (before anything else binds X2) -----------------------------------
hrun=$work/run-host
printf '{"run_dir": "%s", "device_timeout_ms": 60000}\n' "$hrun" > "$work/host.json"
printf '{"run_dir": "%s", "device_timeout_ms": 60000, "host_devices_allowed": ["%s"]}\n' \
  "$hrun" "$x2" > "$work/host-allowed.json"
nic=$(ls /sys/bus/pci/devices/$x2/net 2>/dev/null | head -1)
[ "$(drv $x2)" = e1000e ] && [ -n "$nic" ]; verdict "$x2 is on e1000e with an interface ($nic)"
ip addr add 192.0.2.1/24 dev "$nic" && ip link set "$nic" up
addr_there() { ip -4 -o addr show dev "$nic" 2>/dev/null | grep -q '192\.0\.2\.1/24'; }
check "$nic is up with 192.0.2.1/24" addr_there
"$fp" prepare --config "$work/host.json" --owner lab-host "$x2" > /dev/null 2> "$work/nic.err"; rc=$?
echo "     fastpass said: $(cat "$work/nic.err")"
check "prepare the NIC whose $nic is up with an address: refused" [ $rc -ne 0 ]
one_line "$work/nic.err" && grep -q "$x2" "$work/nic.err" && grep -q "$nic" "$work/nic.err"
verdict "prepare the NIC: one line naming $x2 and $nic"
[ "$(drv $x2)" = e1000e ] && addr_there && ! claimed "$hrun" "$x2"
verdict "prepare the NIC: nothing changed (still on e1000e, address there, no claim)"
"$fp" prepare --config "$work/host-allowed.json" --owner lab-host "$x2" > /dev/null 2> "$work/nic-allowed.err"; rc=$?
now=$(drv $x2)
[ $rc -eq 0 ] && [ "$now" = vfio-pci ]
verdict "named in host_devices_allowed: prepare takes it (exit $rc, on $now)"
"$fp" release --config "$work/host-allowed.json" --mode restore "$x2" > /dev/null 2>&1
check "released with --mode restore: back on e1000e" [ "$(drv $x2)" = e1000e ]

modprobe virtio_blk; modprobe ext4
disk=$(readlink -f /sys/block/vda/device 2>/dev/null)
disk=${disk%/*}; disk=${disk##*/}
if [ -n "$disk" ] && [ -e "/sys/bus/pci/devices/$disk" ]; then
  mkdir -p /mnt/lab-disk
  mkfs.ext4 -q -E nodiscard /dev/vda && mount /dev/vda /mnt/lab-disk && echo kept > /mnt/lab-disk/f
  check "disk $disk ($(drv $disk)): /dev/vda mounted on /mnt/lab-disk" mountpoint -q /mnt/lab-disk
  "$fp" prepare --config "$work/host.json" --owner lab-host "$disk" > /dev/null 2> "$work/disk.err"; rc=$?
  echo "     fastpass said: $(cat "$work/disk.err")"
  check "prepare the disk with a mounted filesystem: refused" [ $rc -ne 0 ]
  one_line "$work/disk.err" && grep -q "$disk" "$work/disk.err" && grep -q "/mnt/lab-disk" "$work/disk.err"
  verdict "prepare the disk: one line naming $disk and /mnt/lab-disk"
  [ "$(drv $disk)" = virtio-pci ] && mountpoint -q /mnt/lab-disk && [ "$(cat /mnt/lab-disk/f 2>/dev/null)" = kept ] &&
    ! claimed "$hrun" "$disk"
  verdict "prepare the disk: nothing changed (still on virtio-pci, mounted, its file readable, no claim)"
else
  echo "     no virtio-blk disk here (lab-run -d): the mounted-filesystem case is not run"
fi

# --- reset counting: every X on vfio-pci (reset_method bus), kprobes on the reset functions ----
# qemu-trace.sh binds the devices of LAB_DEVICES and sets `devs` to them: all three here.
. "$here/qemu-trace.sh"
declare -A ptr
window_begin() { echo > $T/trace; echo 1 > $T/tracing_on; }
resets() { # BDF: function and bus resets of BDF since window_begin
  echo 0 > $T/tracing_on
  grep -c " in_.* dev=${ptr[$1]}\$" $T/trace
}
for d in "${devs[@]}"; do
  window_begin
  echo 1 > /sys/bus/pci/devices/$d/reset # echo 1 > /sys/bus/pci/devices/$d/reset
  echo 0 > $T/tracing_on
  ptr[$d]=$(sed -n 's/.* in___pci_reset_function_locked: .* dev=\(0x[0-9a-f]*\)$/\1/p' $T/trace | sort -u)
  [ "$(echo "${ptr[$d]}" | wc -w)" -eq 1 ]
  verdict "$d on vfio-pci; the kprobes see a sysfs reset of it (pci_dev ${ptr[$d]:-none})"
done

# --- a domain started before the hook, and a hot-plugged device --------------------------------
lab_libvirt_config
printf '{"run_dir": "%s/run", "log_file": "%s", "device_timeout_ms": 60000, "hook_deadline_ms": 120000}\n' \
  "$work" "$log" > "$work/fastpass.json"
# q35's root complex and two root ports: one for X0, one left free for the hot-plug (no USB
# controller, which would take it).
ports="<controller type='usb' model='none'/><controller type='pci' index='0' model='pcie-root'/><controller type='pci' index='1' model='pcie-root-port'/><controller type='pci' index='2' model='pcie-root-port'/>"
lab_domain lab-a "" /usr/bin/qemu-system-x86_64 "$x0" | sed "s|<memballoon|$ports<memballoon|" > "$work/a.xml"
libvirtd_up || { echo "libvirtd did not start"; exit 1; }
virsh create "$work/a.xml" > "$work/create-a.out" 2>&1; rc=$?
check "virsh create lab-a with $x0 (managed='no', no fastpass hook): exit 0" [ $rc -eq 0 ]
[ $rc -eq 0 ] || sed 's/^/     /' "$work/create-a.out"
lab_install_hook "$hook" "$work/fastpass.json"
libvirtd_restart || { echo "libvirtd did not restart"; exit 1; }
check "fastpass's hook installed, libvirtd restarted: lab-a still running" [ "$(virsh domstate lab-a 2>/dev/null)" = running ]
hostdev "$x1" | sed "s/managed='no'/managed='yes'/" > "$work/x1.xml"
virsh attach-device lab-a "$work/x1.xml" --live > "$work/attach.out" 2>&1; rc=$?
check "virsh attach-device $x1 (managed='yes') to lab-a: exit 0" [ $rc -eq 0 ]
[ $rc -eq 0 ] || sed 's/^/     /' "$work/attach.out"
pidA=$(cat /run/libvirt/qemu/lab-a.pid 2>/dev/null)
holds() { # PID BDF: PID has BDF's VFIO group open
  local f node
  node=$(stat -c %t:%T "/dev/vfio/$(group "$2")" 2>/dev/null) || return 1
  for f in /proc/$1/fd/*; do
    [ "$(stat -L -c %t:%T "$f" 2>/dev/null)" = "$node" ] && return 0
  done
  return 1
}
seen_by_a() { # BDF count in A's machine (QEMU's own PCI tree)
  virsh qemu-monitor-command lab-a --hmp 'info pci' 2>/dev/null | grep -c 'Ethernet controller: PCI device 8086:10d3'
}
for d in "$x0" "$x1"; do
  [ "$(drv $d)" = vfio-pci ] && holds "${pidA:-0}" "$d"; verdict "$d on vfio-pci, its group held by A's QEMU (pid ${pidA:-none})"
done
check "A's machine has both devices (QEMU's info pci)" [ "$(seen_by_a)" -eq 2 ]
! claimed "$work/run" "$x0" && ! claimed "$work/run" "$x1"
verdict "fastpass holds no claim on either"

refused_start() { # NAME BDF MANAGED HOLDER-PID HOLDER-DOMAIN: a start through the hook
  local name=$1 d=$2 n
  lab_domain "$name" "" /usr/bin/qemu-system-x86_64 "$d" | sed "s/managed='no'/managed='$3'/" > "$work/$name.xml"
  : > "$log"
  window_begin
  virsh create "$work/$name.xml" > "$work/$name.out" 2>&1; rc=$?
  n=$(resets "$d")
  echo "     virsh said: $(tr '\n' ' ' < "$work/$name.out" | cut -c1-400)"
  echo "     hook log:"; sed 's/^/       /' "$log"
  check "$name naming $d (managed='$3'): start refused" [ $rc -ne 0 ]
  grep -q "$d is in use by pid $4\b" "$work/$name.out" && { [ -z "$5" ] || grep -q "domain $5" "$work/$name.out"; }
  verdict "$name: the error names the holder ($d, pid $4${5:+, domain $5})"
  check "$name: no reset of $d during the attempt and the release after it ($n)" [ "$n" -eq 0 ]
  [ "$(drv $d)" = vfio-pci ] && ! claimed "$work/run" "$d"; verdict "$name: $d still on vfio-pci, no claim written"
  check "$name: not running" [ "$(virsh domstate "$name" 2>/dev/null)" != running ]
}
refused_start lab-b0 "$x0" no "$pidA" lab-a
refused_start lab-b1 "$x1" yes "$pidA" lab-a
check "lab-a still running" [ "$(virsh domstate lab-a 2>/dev/null)" = running ]
for d in "$x0" "$x1"; do
  check "A's QEMU still holds $d's group" holds "${pidA:-0}" "$d"
done
check "A's machine still has both devices" [ "$(seen_by_a)" -eq 2 ]

# --- a plain process holds X2's VFIO group open --------------------------------------------------
bash -c "exec 3<>/dev/vfio/$(group $x2); exec sleep 600" & holder=$!
for _ in $(seq 1 50); do holds $holder "$x2" && break; sleep 0.1; done
check "pid $holder ($(cat /proc/$holder/comm)) holds /dev/vfio/$(group $x2) open" holds $holder "$x2"
window_begin
"$fp" prepare --config "$work/fastpass.json" --owner lab-c "$x2" > /dev/null 2> "$work/held.err"; rc=$?
n=$(resets "$x2")
echo "     fastpass said: $(cat "$work/held.err")"
check "fastpass prepare $x2: refused" [ $rc -ne 0 ]
one_line "$work/held.err" && grep -q "$x2 is in use by pid $holder\b" "$work/held.err"
verdict "fastpass prepare $x2: one line naming it and pid $holder"
check "fastpass prepare $x2: no reset of it ($n)" [ "$n" -eq 0 ]
[ "$(drv $x2)" = vfio-pci ] && ! claimed "$work/run" "$x2"; verdict "fastpass prepare $x2: nothing changed (vfio-pci, no claim)"
refused_start lab-c "$x2" no "$holder" ""
check "pid $holder still holds /dev/vfio/$(group $x2)" holds $holder "$x2"
kill $holder; wait $holder 2> /dev/null
window_begin
"$fp" prepare --config "$work/fastpass.json" --owner lab-c "$x2" > /dev/null 2> "$work/free.err"; rc=$?
n=$(resets "$x2")
[ $rc -eq 0 ] && [ "$n" -ge 1 ]
verdict "once nobody holds it: fastpass prepare $x2 goes ahead, and the kprobes see its reset (exit $rc, $n)"


# --- the mounted disk through the hook: refused at prepare begin --------------------------------
if [ -n "$disk" ] && mountpoint -q /mnt/lab-disk; then
  lab_domain lab-d "" /usr/bin/qemu-system-x86_64 "$disk" > "$work/lab-d.xml"
  : > "$log"
  virsh create "$work/lab-d.xml" > "$work/lab-d.out" 2>&1; rc=$?
  echo "     virsh said: $(tr '\n' ' ' < "$work/lab-d.out" | cut -c1-400)"
  check "lab-d naming the mounted disk $disk: start refused" [ $rc -ne 0 ]
  grep -q "$disk holds the host's mounted filesystem /mnt/lab-disk" "$work/lab-d.out"
  verdict "lab-d: the error names $disk and /mnt/lab-disk"
  [ "$(drv "$disk")" = virtio-pci ] && mountpoint -q /mnt/lab-disk && [ "$(cat /mnt/lab-disk/f 2>/dev/null)" = kept ] &&
    ! claimed "$work/run" "$disk"
  verdict "lab-d: nothing changed (still on virtio-pci, mounted, its file readable, no claim)"
fi

virsh destroy lab-a > /dev/null 2>&1
echo 0 > $T/events/fp/enable
echo > $T/kprobe_events
finish
