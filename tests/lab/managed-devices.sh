#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs inside the lab guest: what the hook changes for managed='yes' hostdevs, the shape Nova
# writes by default (libvirt binds each device to vfio-pci at start and gives it back to its
# host driver at stop, one device after another). The same domain started and destroyed N times
# each way, taken in turn: without the hook, and with it (prepare begin binds and resets every
# device at once, so libvirt's own detach finds them done). Prints medians and the ratio.
# usage: managed-devices.sh HOOK [N]
set -u
hook=$(realpath "$1"); n=${2:-3}
. "$(dirname "$0")/libvirt-lib.sh"
work=/tmp/fastpass-lab; mkdir -p "$work"
lab_libvirt_config
managed() { # BDF -> <hostdev managed='yes'>
  local b=${1#*:}
  printf "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x%s' slot='0x%s' function='0x%s'/></source></hostdev>" \
    "${b%%:*}" "$(echo "$b" | cut -d: -f2 | cut -d. -f1)" "${b##*.}"
}
h=""; for d in "${devs[@]}"; do h+=$(managed "$d"); done
printf "<domain type='qemu'><name>lab-managed</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='q35'>hvm</type><bootmenu enable='no'/></os><devices><emulator>/usr/bin/qemu-system-x86_64</emulator>%s<memballoon model='none'/></devices></domain>\n" "$h" > "$work/managed.xml"
printf '{"run_dir": "%s/run", "log_file": "%s/hook.log", "device_timeout_ms": 60000, "hook_deadline_ms": 120000}\n' "$work" "$work" > "$work/fastpass.json"

ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END{print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
one() { # WAY: one start and stop, appending "WAY start|stop MS" lines
  local t rc
  t=$(date +%s%N); virsh create "$work/managed.xml" > "$work/create.out" 2>&1; rc=$?
  [ $rc -eq 0 ] || { echo "virsh create failed ($1):"; cat "$work/create.out"; return 1; }
  echo "$1 start $(ms_since $t)" >> "$work/times"
  for d in "${devs[@]}"; do [ "$(drv $d)" = vfio-pci ] || { echo "$d not on vfio-pci while running"; return 1; }; done
  t=$(date +%s%N); virsh destroy lab-managed > /dev/null 2>&1 || return 1
  echo "$1 stop $(ms_since $t)" >> "$work/times"
  for d in "${devs[@]}"; do [ "$(drv $d)" = e1000e ] || { echo "$d not back on e1000e after stop ($1): $(drv $d)"; return 1; }; done
}
way() { # WAY: libvirtd with or without the hook
  rm -rf /etc/libvirt/hooks/qemu.d
  [ "$1" = hook ] && lab_install_hook "$hook" "$work/fastpass.json"
  libvirtd_restart > /dev/null || { echo "libvirtd did not start"; exit 1; }
}
: > "$work/times"
for i in $(seq 1 "$n"); do
  for w in libvirt hook; do way $w; one $w || exit 1; done
done
med() { awk -v w="$1" -v p="$2" '$1 == w && $2 == p {print $3}' "$work/times" | median; }
echo "managed='yes' hostdevs: ${#devs[@]} e1000e (each its own IOMMU group, bus resets), median of $n, taken in turn"
printf '%-34s %12s %12s\n' "" "start ms" "stop ms"
printf '%-34s %12s %12s\n' "libvirt alone (one device at a time)" "$(med libvirt start)" "$(med libvirt stop)"
printf '%-34s %12s %12s\n' "with the fastpass hook" "$(med hook start)" "$(med hook stop)"
awk -v a="$(med libvirt start)" -v b="$(med hook start)" -v c="$(med libvirt stop)" -v d="$(med hook stop)" \
  'BEGIN{printf "start: %.2fx with the hook; stop: %.2fx with the hook\n", a/b, c/d}'
echo "hook log of the last start:"; grep -E "prepare|release" "$work/hook.log" | tail -8 | sed 's/^/  /'
