# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by the lab's libvirt tests (inside the lab guest): libvirt set up for the lab, the
# fastpass hook installed with a config, and domain XML with managed='no' PCI hostdevs.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../cli/lib.sh"
. "$here/../e2e/libvirtd-ctl.sh"
drv() { basename "$(readlink /sys/bus/pci/devices/$1/driver 2>/dev/null)" 2>/dev/null || echo none; }
group() { basename "$(readlink /sys/bus/pci/devices/$1/iommu_group)"; }
virsh() { command virsh -q -c qemu:///system "$@"; }
read -r -a devs <<< "${LAB_DEVICES:-}"
read -r -a bridged <<< "${LAB_BRIDGED_DEVICES:-}"

# libvirt as Debian ships it: qemu.conf untouched (QEMU as libvirt-qemu in its own mount
# namespace with a private /dev, under seccomp, dynamic ownership; AppArmor where the kernel has
# it and its profiles are loaded). A test that needs to look inside QEMU's /dev does it through
# /proc/PID/root. Only the hooks are reset: the guest sees the host's /etc through its overlay,
# and hooks a test on the host installed at the same time must not run in here. /etc is the
# guest's writable overlay, so nothing here touches the host.
lab_libvirt_config() {
  rm -rf /etc/libvirt/hooks/qemu.d /etc/libvirt/hooks/qemu
  grep -Ev '^\s*(#|$)' /etc/libvirt/qemu.conf | sed 's/^/     qemu.conf: /'
  return 0
}

lab_install_hook() { # HOOK CONFIG-JSON
  mkdir -p /etc/libvirt/hooks/qemu.d
  config_script "$2" "$1" /etc/libvirt/hooks/qemu.d/fastpass
}

hostdev() { # BDF -> <hostdev managed='no'>
  local b=${1#*:}
  printf "<hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0000' bus='0x%s' slot='0x%s' function='0x%s'/></source></hostdev>" \
    "${b%%:*}" "$(echo "$b" | cut -d: -f2 | cut -d. -f1)" "${b##*.}"
}
lab_domain() { # NAME EXTRA-TOP-LEVEL-XML EMULATOR BDF...
  local h="" d
  for d in "${@:4}"; do h+=$(hostdev "$d"); done
  printf "<domain type='qemu'><name>%s</name>%s<memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='q35'>hvm</type><bootmenu enable='no'/></os><devices><emulator>%s</emulator>%s<memballoon model='none'/></devices></domain>\n" \
    "$1" "$2" "$3" "$h"
}
