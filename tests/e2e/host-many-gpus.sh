#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# End to end on this machine's real libvirtd and QEMU (TCG): fastpass's hook installed in
# /etc/libvirt/hooks/qemu.d, its sysfs root pointed at the emulated kernel (tests/fakesys) with
# four GPU-like devices that take 1 s to reset. `virsh create` must show the four resets
# overlapping in the hook's log and the guest must print its first kernel line; `virsh destroy`
# must release them (warm); a start whose QEMU fails after the hook prepared must leave the
# devices free again (libvirt runs the hook's release); a start whose device shares its IOMMU
# group with a host-used NIC must be refused with the hook's one-line reason, changing nothing.
# usage: host-many-gpus.sh HOOK FASTPASS FAKESYS SOURCE_DIR
set -u
hook=$(realpath "$1"); fp=$(realpath "$2"); fakesys=$(realpath "$3"); src=$4
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cli/lib.sh"
. "$here/libvirtd-ctl.sh"
kernel=$(host_kernel)
if [ "$(id -u)" -ne 0 ] || [ ! -e /dev/fuse ] || ! command -v libvirtd >/dev/null || [ -z "$kernel" ]; then
  echo "SKIP: needs root, /dev/fuse, libvirtd and a kernel in /boot"; exit 77
fi
work=$(mktemp -d /tmp/fastpass-e2e.XXXXXX)
chmod 755 "$work"
sys=$work/sys; run=$work/run; log=$work/hook.log
hookdir=/etc/libvirt/hooks/qemu.d; installed=$hookdir/fastpass
doms=()
hook_free "$installed" || exit 1
cleanup() {
  for d in "${doms[@]}"; do virsh -q -c qemu:///system destroy "$d" >/dev/null 2>&1; done
  remove_hook "$installed"
  libvirtd_restart >/dev/null 2>&1
  fusermount3 -u -z "$sys" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
virsh() { command virsh -q -c qemu:///system "$@"; }
drv() { basename "$(readlink "$sys/bus/pci/devices/$1/driver" 2>/dev/null)" 2>/dev/null || echo none; }

mkdir -p "$sys"
"$fakesys" --topology "$here/data/topology.json" -o allow_other "$sys" || { echo "cannot mount fakesys"; exit 1; }
cat > "$work/fastpass.json" <<JSON
{ "sysfs_root": "$sys", "run_dir": "$run", "log_file": "$log", "release_mode": "warm",
  "device_timeout_ms": 10000, "hook_deadline_ms": 30000 }
JSON
install_hook "$work/fastpass.json" "$hook" "$installed" || exit 1
libvirtd_restart || exit 1

make_domain() { # NAME DEVICES...
  local name=$1; shift
  local devs="" a
  for a in "$@"; do devs+="<fastpass:device address='$a'/>"; done
  sed -e "s|DOMAIN-NAME|$name|" -e "s|DEVICES|$devs|" -e "s|KERNEL|$kernel|" -e "s|CONSOLE|$work/$name.console|" \
    "$here/data/gpu-4x-scaled.xml" > "$work/$name.xml"
}

# --- a start with four GPUs ------------------------------------------------------------------
gpus=(0000:41:00.0 0000:42:00.0 0000:43:00.0 0000:44:00.0)
make_domain fp-e2e-gpu4 "${gpus[@]}"
check "scaled template is valid under libvirt's schema" valid "$work/fp-e2e-gpu4.xml"
t0=$(date +%s%N)
virsh create "$work/fp-e2e-gpu4.xml" > "$work/create.out" 2>&1; rc=$?
doms+=(fp-e2e-gpu4)
check "virsh create with the hook: exit 0" [ $rc -eq 0 ]
[ $rc -eq 0 ] || sed 's/^/     /' "$work/create.out"
[ $rc -eq 0 ] && for _ in $(seq 1 600); do grep -q "Linux version" "$work/fp-e2e-gpu4.console" 2>/dev/null && break; sleep 0.1; done
first_line_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "guest printed its first kernel line (${first_line_ms} ms after virsh create)" \
  grep -q "Linux version" "$work/fp-e2e-gpu4.console"
echo "     hook log:"; sed 's/^/       /' "$log"
for g in "${gpus[@]}"; do check "$g on vfio-pci while the domain runs" [ "$(drv $g)" = vfio-pci ]; done
# Overlap from the hook's own log: the latest reset start is before the earliest reset end.
read -r last_start first_end n <<<"$(grep 'prepare 0000:4' "$log" | sed -n 's/.*reset +\([0-9]*\)\.\.+\([0-9]*\) ms.*/\1 \2/p' \
  | awk 'NR==1{ls=$1; fe=$2} {if($1>ls)ls=$1; if($2<fe)fe=$2; n++} END{print ls, fe, n}')"
check "hook log: 4 resets (found $n)" [ "${n:-0}" -eq 4 ]
check "hook log: the 4 resets overlap (last start +$last_start ms < first end +$first_end ms)" \
  [ "${last_start:-1}" -lt "${first_end:-0}" ]

virsh destroy fp-e2e-gpu4 > /dev/null 2>&1; rc=$?
check "virsh destroy: exit 0" [ $rc -eq 0 ]
for g in "${gpus[@]}"; do
  check "$g kept on vfio-pci after release (warm)" [ "$(drv $g)" = vfio-pci ]
  check "$g reset again at release" [ "$(cat "$sys/bus/pci/devices/$g/fakesys_reset_count")" -eq 2 ]
  check "$g claim is free and warm" grep -q '"owner": null, "original_driver": "nvidia", "warm": true' "$run/devices/$g.json"
done

# --- QEMU fails after the hook prepared: libvirt's release gives the devices back ----------------
# The emulator passes libvirt's probes to the real QEMU and fails the guest start (emulated).
printf '#!/bin/sh\ncase "$*" in *guest=fp-e2e-qemu-fails*) echo "emulated QEMU failure" >&2; exit 1 ;; esac\nexec /usr/bin/qemu-system-x86_64 "$@"\n' \
  > "$work/failing-qemu"
chmod 755 "$work/failing-qemu"
make_domain fp-e2e-qemu-fails "${gpus[0]}" "${gpus[1]}"
sed -i "s|<emulator>[^<]*</emulator>|<emulator>$work/failing-qemu</emulator>|" "$work/fp-e2e-qemu-fails.xml"
virsh create "$work/fp-e2e-qemu-fails.xml" > "$work/fails.out" 2>&1; rc=$?
echo "     virsh said: $(tr '\n' ' ' < "$work/fails.out" | cut -c1-300)"
# (libvirt's words depend on when it notices: QEMU's message, or the monitor refusing.)
[ $rc -ne 0 ] && grep -q "Failed to create domain" "$work/fails.out"
verdict "QEMU fails after prepare: virsh create fails"
grep -q "fp-e2e-qemu-fails.*release" "$log"; verdict "QEMU fails after prepare: libvirt ran the hook's release"
for g in "${gpus[0]}" "${gpus[1]}"; do
  grep -q '"owner": null, "original_driver": "nvidia", "warm": true' "$run/devices/$g.json" && [ "$(drv $g)" = vfio-pci ]
  verdict "QEMU fails after prepare: $g free again, warm on vfio-pci"
done

# --- a start that must be refused --------------------------------------------------------------
make_domain fp-e2e-refused 0000:0a:00.0
virsh create "$work/fp-e2e-refused.xml" > "$work/refused.out" 2>&1; rc=$?
echo "     virsh said: $(tr '\n' ' ' < "$work/refused.out")"
check "refused start: virsh create fails" [ $rc -ne 0 ]
check "refused start: virsh shows the hook's one-line reason" \
  grep -q "fastpass: 0000:0a:00.0: IOMMU group 30 is not viable: 0000:0a:00.1 is held by host driver e1000e" "$work/refused.out"
check "refused start: nothing changed" [ "$(drv 0000:0a:00.0) $(drv 0000:0a:00.1)" = "nvidia e1000e" ]
check "refused start: domain not running" bash -c "! virsh -q -c qemu:///system domstate fp-e2e-refused >/dev/null 2>&1"

finish
