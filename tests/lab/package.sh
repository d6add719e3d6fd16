#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs inside the lab guest (tests/lab/lab-run), on the real kernel: the fastpass package
# installed with dpkg as an operator would, and every state it leaves on the way.
#  1. dpkg -i: the hook libvirt runs is a copy of the package's, the configuration is in /etc;
#     libvirtd restarted as the package says.
#  2. With libvirt's qemu.conf as Debian ships it (QEMU as libvirt-qemu in its own mount
#     namespace, under seccomp): a domain with a managed='no' hostdev and 2 MiB hugepages, QEMU
#     through the packaged wrapper: the hook prepares the device. This lab guest has no AppArmor,
#     so no profile of its own confines the domain: the hook hands out no pool slot (issue 17,
#     F2) and QEMU allocates its own RAM; the slot stays clean (lab/apparmor shows one in use).
#  3. destroy: the device stays warm on vfio-pci, the slot still clean.
#  4. dpkg -r while a process holds the device's VFIO group: refused, naming it; nothing changed.
#  4b. With a second device: the shape Nova writes (managed='yes', <numatune>, hugepages) on a
#     host wrapped with fastpass-wrap-qemu: starts (no slot, as above), stops with the
#     device back on e1000e.
#  5. dpkg -r: the device back on e1000e, no claim, no slot, nr_hugepages as before the
#     install, no hook, QEMU unwrapped; the conffile stays. dpkg -P: /etc/fastpass gone.
# With QEMU_DEB (fastpass-qemu-system, launcher/qemu/build-deb) it is installed together with
# fastpass's package: the wrapper then runs it for both domains (no qemu_binary configured: the
# package's fastpass_qemu default), and removing it removes it, Debian's QEMU unchanged throughout.
# Without it those checks are skipped, saying so, and the domains run Debian's QEMU.
# usage: package.sh DEB [QEMU_DEB]
set -u
deb=$(realpath "$1")
qdeb=${2:+$(realpath "$2")}
. "$(dirname "$0")/libvirt-lib.sh"
work=/tmp/fastpass-lab; mkdir -p "$work"
lab_libvirt_config
check "libvirt's qemu.conf as Debian ships it (no setting)" \
  bash -c "! grep -Eq '^[[:space:]]*[a-z_]+[[:space:]]*=' /etc/libvirt/qemu.conf"
dev=${devs[0]}; g=$(group "$dev")
nr=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
nr0=$(cat $nr)
state() { echo "     [$1] $dev: $(drv $dev); claims: $(ls /run/fastpass/devices 2>/dev/null | tr '\n' ' '); pool: $(ls /dev/hugepages/fastpass 2>/dev/null | sed 's/slot-[0-9]*\.n-\?[0-9]*\.s[0-9]*\.g[0-9]*\.//' | tr '\n' ' '); nr_hugepages: $(cat $nr)"; }
state "before install"
fpq=/usr/libexec/fastpass/qemu-system-x86_64
debian_qemu_sum=$(md5sum < /usr/bin/qemu-system-x86_64)
if [ -n "$qdeb" ]; then
  want_qemu=$fpq
  echo "     fastpass's QEMU: $(basename "$qdeb"), installed with fastpass's package"
else
  want_qemu=/usr/bin/qemu-system-x86_64
  echo "     SKIP (part): no fastpass-qemu-system package (launcher/qemu/build-deb; lab/debs builds it when launcher/qemu/build-qemu has built QEMU): the domains run Debian's QEMU"
fi
# PID NAME UUID [DEBIAN_QEMU]: QEMU of domain NAME is the one the wrapper should run (fastpass's
# when installed, else DEBIAN_QEMU, by default $want_qemu) and, when that is fastpass's, runs
# with its fast-boot properties, recorded in the domain's timeline.
qemu_is_wanted() {
  local exe want=$want_qemu; exe=$(readlink /proc/${1:-0}/exe)
  [ -n "$qdeb" ] || want=${4:-$want_qemu}
  [ "$exe" = "$want" ]; verdict "$2: QEMU is $want ($exe)"
  [ -n "$qdeb" ] || return 0
  tr '\0' ' ' < /proc/${1:-0}/cmdline | grep -q -- '-global vfio-pci.x-skip-first-reset=on'; verdict "$2: fastpass's QEMU runs with -global vfio-pci.x-skip-first-reset=on (the wrapper's capability probe)"
  grep -q 'vfio-pci: x-skip-first-reset=on' "/run/fastpass/timeline/$3.qemu.json" 2>/dev/null; verdict "$2: the domain's timeline records the fast-boot properties"
}
# NAME XML UUID DEV WHAT: virsh create; the domain runs, the hook put DEV on vfio-pci and QEMU's
# RAM is no pool slot (nothing confines the domain per domain here). $pid: its QEMU.
start_in_slot() {
  local name=$1 xml=$2 uuid=$3 d=$4 what=$5 rc
  virsh create "$xml" > "$work/$name.out" 2>&1; rc=$?
  [ $rc -eq 0 ] && [ "$(virsh domstate "$name" 2>/dev/null)" = running ]; verdict "$what: running"
  [ $rc -eq 0 ] || sed 's/^/     /' "$work/$name.out"
  pid=$(pgrep -f "guest=$name" | head -1)
  check "$d prepared by the hook: on vfio-pci" [ "$(drv "$d")" = vfio-pci ]
  [ -n "$pid" ] && ! tr '\0' ' ' < /proc/${pid:-0}/cmdline | grep -q "/dev/hugepages/fastpass/"; verdict "$name: QEMU's RAM is no pool slot (unconfined domain)"
  ! ls /dev/hugepages/fastpass | grep -q claimed; verdict "$name: no slot claimed"
}

dpkg -i "$deb" $qdeb > "$work/install.out" 2>&1; rc=$?
names="${deb##*/}${qdeb:+ ${qdeb##*/}}"
[ $rc -eq 0 ]; verdict "dpkg -i $names: exit 0"
if [ -n "$qdeb" ]; then
  dpkg -s fastpass-qemu-system 2>/dev/null | grep -q '^Status: install ok installed' && [ -x $fpq ]
  verdict "fastpass-qemu-system installed: $fpq"
  $fpq -version | grep -qx 'fastpass QEMU patch series [0-9]*'; verdict "$fpq -version names the fastpass series"
  [ "$(fastpass config qemu_binary 2>/dev/null)" = $fpq ]; verdict "fastpass config qemu_binary: $fpq (the package's fastpass_qemu default, nothing configured)"
fi
[ $rc -eq 0 ] || sed 's/^/     /' "$work/install.out"
grep -q "systemctl restart libvirtd" "$work/install.out"; verdict "the package says to restart libvirtd"
[ -f /etc/libvirt/hooks/qemu.d/fastpass ] && [ ! -L /etc/libvirt/hooks/qemu.d/fastpass ] &&
  cmp -s /etc/libvirt/hooks/qemu.d/fastpass /usr/libexec/fastpass/fastpass-hook; verdict "libvirt's hook is a copy of the package's (not a symlink: libvirtd's AppArmor profile)"
check "the configuration is in /etc" [ -f /etc/fastpass/fastpass.json ]
fastpass pool fill --size 64M --count 1 > /dev/null 2>&1; verdict "a 64 MiB pool slot (the configuration's pool_dir)"
state "installed, pool filled"
libvirtd_restart > /dev/null || { echo "libvirtd did not start"; exit 1; }

uuid=6b1c9e2a-3f4d-4a5b-8c6d-7e8f9a0b1c2d
lab_domain lab-pkg "<uuid>$uuid</uuid><memoryBacking><hugepages><page size='2048' unit='KiB'/></hugepages></memoryBacking>" \
  /usr/bin/fastpass-qemu "$dev" > "$work/pkg.xml"
start_in_slot lab-pkg "$work/pkg.xml" "$uuid" "$dev" "virsh create (hostdev, hugepages, the packaged wrapper)"
[ "$(ps -o user= -p "${pid:-0}")" = libvirt-qemu ]; verdict "QEMU runs as libvirt-qemu"
[ -n "$pid" ] && ! grep -q "/dev/hugepages/fastpass/" /proc/${pid:-0}/maps; verdict "QEMU (as libvirt-qemu) maps nothing of the pool"
qemu_is_wanted "$pid" lab-pkg "$uuid"
state "running"

virsh destroy lab-pkg > /dev/null 2>&1
[ "$(drv $dev)" = vfio-pci ] && [ -f /run/fastpass/devices/$dev.json ]; verdict "destroy: $dev kept warm on vfio-pci"
ls /dev/hugepages/fastpass | grep -q '\.clean$'; verdict "destroy: the slot is still clean"
fastpass pool scrub > /dev/null 2>&1 && ls /dev/hugepages/fastpass | grep -q '\.clean$'; verdict "scrub: clean again"
state "destroyed, scrubbed"

# The shape Nova writes, on a host wrapped host-wide: managed='yes' hostdev, <numatune>,
# hugepages from hw:mem_page_size, a guest NUMA cell, and the distribution's QEMU path as
# <emulator>, which fastpass-wrap-qemu turned into the wrapper.
nova=${devs[1]:-}
if [ -n "$nova" ]; then
  qemu=/usr/bin/qemu-system-x86_64
  fastpass-wrap-qemu enable > "$work/wrap.out" 2>&1; rc=$?
  [ $rc -eq 0 ] && [ "$(readlink $qemu)" = /usr/bin/fastpass-qemu ] && [ -x $qemu.distrib ]; verdict "fastpass-wrap-qemu enable: $qemu is the wrapper, Debian's QEMU diverted"
  nuuid=0c9d8e7f-6a5b-4c3d-9e2f-1a0b9c8d7e6f
  b=${nova#*:}
  printf "<domain type='qemu'><name>instance-00000001</name><uuid>%s</uuid><memory unit='KiB'>65536</memory><memoryBacking><hugepages><page size='2048' unit='KiB' nodeset='0'/></hugepages></memoryBacking><vcpu placement='static'>1</vcpu><cputune><vcpupin vcpu='0' cpuset='0'/></cputune><numatune><memory mode='strict' nodeset='0'/><memnode cellid='0' mode='strict' nodeset='0'/></numatune><os><type arch='x86_64' machine='q35'>hvm</type><boot dev='hd'/></os><cpu><numa><cell id='0' cpus='0' memory='65536' unit='KiB'/></numa></cpu><devices><emulator>%s</emulator><hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x%s' slot='0x%s' function='0x%s'/></source></hostdev><memballoon model='virtio'/></devices></domain>\n" \
    "$nuuid" "$qemu" "${b%%:*}" "$(echo "$b" | cut -d: -f2 | cut -d. -f1)" "${b##*.}" > "$work/nova.xml"
  fastpass pool fill --size 64M --count 1 --node 0 > /dev/null 2>&1
  state "Nova-shaped domain, before start"
  start_in_slot instance-00000001 "$work/nova.xml" "$nuuid" "$nova" \
    "Nova-shaped domain (managed='yes', numatune, hugepages) through the host-wide wrapper"
  # Host-wide wrapping without fastpass's QEMU runs Debian's under its diverted name.
  qemu_is_wanted "$pid" instance-00000001 "$nuuid" $qemu.distrib
  state "Nova-shaped domain, running"
  virsh destroy instance-00000001 > /dev/null 2>&1
  [ "$(drv $nova)" = e1000e ] && [ ! -e /run/fastpass/devices/$nova.json ]; verdict "destroy: the managed device is back on e1000e, no claim"
  fastpass pool scrub > /dev/null 2>&1
  state "Nova-shaped domain, destroyed"
fi

( exec 9<>/dev/vfio/$g; sleep 300 ) & holder=$!
for _ in $(seq 1 50); do ls -l /proc/$holder/fd 2>/dev/null | grep -q "/dev/vfio/$g" && break; sleep 0.1; done
dpkg -r fastpass > "$work/remove1.out" 2>&1; rc=$?
[ $rc -ne 0 ] && grep -q "fastpass: not removed: running VMs still use .*$dev" "$work/remove1.out"; verdict "dpkg -r while /dev/vfio/$g is held: refused, naming $dev"
grep "fastpass: not removed" "$work/remove1.out" | sed 's/^/     /'
dpkg -s fastpass 2>/dev/null | grep -Eq '^Status: (install|deinstall) ok installed' && [ "$(drv $dev)" = vfio-pci ] && [ -f /etc/libvirt/hooks/qemu.d/fastpass ]; verdict "refused: the package, hook and device as they were"
kill $holder; wait $holder 2>/dev/null

dpkg -r fastpass ${qdeb:+fastpass-qemu-system} > "$work/remove2.out" 2>&1; rc=$?
[ $rc -eq 0 ]; verdict "dpkg -r fastpass${qdeb:+ fastpass-qemu-system}: exit 0"
[ $rc -eq 0 ] || sed 's/^/     /' "$work/remove2.out"
state "removed"
check "$dev back on e1000e" [ "$(drv $dev)" = e1000e ]
check "no claim, no run directory" [ ! -e /run/fastpass ]
check "no slot left" [ -z "$(ls -A /dev/hugepages/fastpass 2>/dev/null)" ]
check "nr_hugepages back to $nr0" [ "$(cat $nr)" -eq "$nr0" ]
[ ! -e /etc/libvirt/hooks/qemu.d/fastpass ] && [ ! -e /usr/bin/fastpass-qemu ]; verdict "no hook, no wrapper"
if [ -n "$nova" ]; then
  [ ! -L $qemu ] && [ -x $qemu ] && [ ! -e $qemu.distrib ] && ! dpkg-divert --list $qemu | grep -q .; verdict "host-wide wrapping undone: $qemu is Debian's binary again, no diversion"
fi
if [ -n "$qdeb" ]; then
  ! dpkg -s fastpass-qemu-system 2>/dev/null | grep -q '^Status: install ok installed' && [ ! -e $fpq ] && [ ! -e /usr/libexec/fastpass ]
  verdict "fastpass-qemu-system removed: no $fpq, no /usr/libexec/fastpass"
fi
[ "$(md5sum < /usr/bin/qemu-system-x86_64)" = "$debian_qemu_sum" ]; verdict "Debian's /usr/bin/qemu-system-x86_64 as it was before the install"
check "the conffile stays after remove" [ -f /etc/fastpass/fastpass.json ]
dpkg -P fastpass ${qdeb:+fastpass-qemu-system} > /dev/null 2>&1; rc=$?
[ $rc -eq 0 ] && [ ! -e /etc/fastpass ]; verdict "dpkg -P: /etc/fastpass gone"
finish
