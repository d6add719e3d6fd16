#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs inside the lab booted on the Debian 13 root (ctest lab/trixie-smoke):
#   lab-run -R "$(tests/lab/trixie-root)" -n 1 -- bash tests/lab/trixie-smoke.sh
# Checks that the guest is trixie's stack, not this machine's: the root is trixie, the kernel
# is 6.12 with its modules from that root, QEMU 10.0, libvirt 11.3; then that vfio-pci takes one
# of the lab's e1000e (driver_override, unbind, drivers_probe: the Debian 12 lab's steps), in
# its IOMMU group, with /dev/vfio/GROUP viable, and that the device goes back to e1000e.
# Prints "ok ..." / "FAIL ..." lines; exits 1 if anything failed.
# Overrides, to show that it can fail: TRIXIE_KERNEL, TRIXIE_QEMU, TRIXIE_LIBVIRT (the versions
# expected, as regular expressions matched from the start: default 6\.12\., 10\.0\., 11\.3\.).
set -uo pipefail
failures=0
ok() { echo "ok   $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
want_kernel=${TRIXIE_KERNEL:-6\.12\.} want_qemu=${TRIXIE_QEMU:-10\.0\.} want_libvirt=${TRIXIE_LIBVIRT:-11\.3\.}

[[ ${LAB:-} = 1 ]] || { echo "FAIL not in the lab (run it under tests/lab/lab-run -R)"; exit 1; }
codename=$(. /etc/os-release; echo "${VERSION_CODENAME:-?}")
check "root filesystem: Debian $(cat /etc/debian_version) ($codename)" [ "$codename" = trixie ]
kver=$(uname -r)
check "kernel $kver is ${want_kernel//\\/}x" eval '[[ $kver =~ ^$want_kernel ]]'
check "its modules are the root's (/lib/modules/$kver)" [ -d "/lib/modules/$kver" ]
check "the lab's modules loaded: vfio_pci, e1000e" eval '[[ -d /sys/module/vfio_pci && -d /sys/module/e1000e ]]'
qv=$(qemu-system-x86_64 --version 2>&1 | head -n 1)
check "QEMU is ${want_qemu//\\/}x: $qv" eval '[[ $qv =~ ^QEMU\ emulator\ version\ $want_qemu ]]'
lv=$(libvirtd --version 2>&1 | head -n 1)
check "libvirtd is ${want_libvirt//\\/}x: $lv" eval '[[ $lv =~ ^libvirtd\ \(libvirt\)\ $want_libvirt ]]'
check "the fastpass tree at the same path: $PWD" [ -f "$PWD/tests/lab/trixie-smoke.sh" ]

# vfio-pci takes one e1000e, as libvirt (virpci.c) and fastpass do it.
bdf=${LAB_DEVICES%% *}
dev=/sys/bus/pci/devices/$bdf
driver_of() { local l; l=$(readlink "$dev/driver" 2>/dev/null) && echo "${l##*/}" || echo none; }
if [[ -z $bdf || ! -d $dev ]]; then
  fail "no e1000e in LAB_DEVICES ('${LAB_DEVICES:-}')"
else
  check "$bdf starts on e1000e" [ "$(driver_of)" = e1000e ]
  group=$(readlink "$dev/iommu_group" 2>/dev/null); group=${group##*/}
  check "$bdf has an IOMMU group (${group:-none})" [ -n "$group" -a -d "/sys/kernel/iommu_groups/$group" ]
  echo vfio-pci > "$dev/driver_override"
  [[ -e $dev/driver ]] && echo "$bdf" > "$dev/driver/unbind"
  echo "$bdf" > /sys/bus/pci/drivers_probe
  check "$bdf bound to vfio-pci (it is on $(driver_of))" [ "$(driver_of)" = vfio-pci ]
  check "/dev/vfio/$group appeared" [ -n "$group" -a -c "/dev/vfio/$group" ]
  viable=$(python3 - "$group" 2>&1 <<'EOF'
import fcntl, os, struct, sys
VFIO_GROUP_GET_STATUS, VFIO_GROUP_FLAGS_VIABLE = 0x3b67, 1   # _IO(';', 100 + 3)
fd = os.open("/dev/vfio/" + sys.argv[1], os.O_RDWR | os.O_CLOEXEC)
status = bytearray(struct.pack("II", 8, 0))
fcntl.ioctl(fd, VFIO_GROUP_GET_STATUS, status)
print("viable" if struct.unpack("II", status)[1] & VFIO_GROUP_FLAGS_VIABLE else "not viable")
EOF
)
  check "group $group: VFIO_GROUP_GET_STATUS says '$viable' (python3 $(python3 -c 'import platform; print(platform.python_version())' 2>&1))" [ "$viable" = viable ]
  echo > "$dev/driver_override"
  echo "$bdf" > "$dev/driver/unbind"
  echo "$bdf" > /sys/bus/pci/drivers_probe
  check "$bdf back on e1000e, /dev/vfio/$group gone" eval '[[ $(driver_of) = e1000e && ! -e /dev/vfio/$group ]]'
fi

if ((failures > 0)); then echo "FAIL: $failures check(s) failed"; exit 1; fi
echo "ok: trixie's stack in the lab: kernel $kver, ${qv#QEMU emulator version }, ${lv#libvirtd (libvirt) }"
