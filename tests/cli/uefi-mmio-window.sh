#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The mmio64 rule, from lint to the firmware's PCI resource assignment:
#  - lint finds it on a UEFI domain whose passed-through device has a 256 GiB 64-bit BAR (sysfs's
#    resource file, in a redirected sysfs root), and not on the same domain booting SeaBIOS nor
#    with a 128 GiB BAR (within Debian 12's OVMF's default window at 40 physical address bits);
#  - tune writes the fw_cfg entry as <qemu:commandline>, schema-valid, lint-clean;
#  - the effect: Debian's OVMF under TCG with direct kernel boot of Debian's kernel, and
#    ivshmem-plain with a 256 GiB memory backend standing in for the large BAR. Without the
#    entry the firmware leaves the BAR unassigned (the kernel finds it at address 0); with the
#    -fw_cfg argument taken from tune's output the firmware has mapped it (~10 s per boot).
# usage: uefi-mmio-window.sh FASTPASS SOURCE_DIR
set -u
fp=$(realpath "$1"); src=$2
. "$(dirname "$0")/lib.sh"
code=/usr/share/OVMF/OVMF_CODE_4M.fd vars=/usr/share/OVMF/OVMF_VARS_4M.fd
kernel=$("$src/tests/debian-kernel")
if [ ! -r "$code" ] || [ ! -r "$vars" ] || [ -z "$kernel" ] || ! command -v qemu-system-x86_64 >/dev/null; then
  echo "SKIP: needs Debian's ovmf, qemu-system-x86 and a Debian kernel"; exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# sysfs as the kernel shows a GPU with a 256 GiB BAR1: BAR 0 32-bit, BAR 1 and BAR 3 64-bit.
dev=$work/sys/bus/pci/devices/0000:41:00.0
mkdir -p "$dev"
printf '%s\n' "0x00000000fd000000 0x00000000fdffffff 0x0000000000040200" \
  "0x0000004000000000 0x0000007fffffffff 0x000000000014220c" \
  "0x0000000000000000 0x0000000000000000 0x0000000000000000" \
  "0x0000008000000000 0x0000008001ffffff 0x000000000014220c" > "$dev/resource"
domain() { # OS-FIRMWARE-XML
  cat <<XML
<domain type='kvm'>
  <name>large-bar</name>
  <memory unit='GiB'>4</memory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    $1
  </os>
  <features>
    <acpi/>
  </features>
  <devices>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <source>
        <address domain='0x0000' bus='0x41' slot='0x00' function='0x0'/>
      </source>
    </hostdev>
  </devices>
</domain>
XML
}
domain "<loader readonly='yes' type='pflash'>$code</loader>
    <nvram template='$vars'/>" > "$work/uefi.xml"
domain "" > "$work/seabios.xml"
sys=(--sysfs-root "$work/sys")

"$fp" lint "${sys[@]}" --only mmio64 "$work/uefi.xml" > "$work/lint.txt"; rc=$?
check "lint, UEFI, 256 GiB BAR: exit 1" [ $rc -eq 1 ]
check "lint, UEFI, 256 GiB BAR: mmio64 names the fix" \
  grep -q "mmio64 at /domain/devices/hostdev: .*name=opt/ovmf/X-PciMmio64Mb,string=524288" "$work/lint.txt"
"$fp" lint "${sys[@]}" --only mmio64 "$work/seabios.xml" > "$work/lint-seabios.txt"; rc=$?
check "lint, SeaBIOS, same device: clean" [ $rc -eq 0 ]
sed -i 's/0x0000007fffffffff/0x0000005fffffffff/; /^0x0000008000000000/d' "$dev/resource"
"$fp" lint "${sys[@]}" --only mmio64 "$work/uefi.xml" >/dev/null; rc=$?
check "lint, UEFI, 128 GiB BAR: within OVMF's window, clean" [ $rc -eq 0 ]
sed -i 's/0x0000005fffffffff/0x0000007fffffffff/' "$dev/resource"

"$fp" tune "${sys[@]}" --only mmio64 "$work/uefi.xml" -o "$work/tuned.xml"
check "tune: output schema-valid" valid "$work/tuned.xml"
check "tune: output lint-clean" "$fp" lint "${sys[@]}" "$work/tuned.xml" --only mmio64
arg=$(grep -o "name=opt/ovmf/X-PciMmio64Mb,string=[0-9]*" "$work/tuned.xml")
check "tune: the entry as a -fw_cfg argument" grep -q "<qemu:arg value='-fw_cfg'/>" "$work/tuned.xml"

# boot NAME QEMU-ARGS...: the guest kernel's lines about the ivshmem device (00:01.0).
boot() {
  local name=$1 pid; shift
  cp "$vars" "$work/$name.fd"; : > "$work/$name.console"
  qemu-system-x86_64 -nodefaults -display none -no-user-config -machine q35,accel=tcg -m 1G \
    -drive "if=pflash,format=raw,unit=0,file=$code,readonly=on" \
    -drive "if=pflash,format=raw,unit=1,file=$work/$name.fd" \
    -kernel "$kernel" -append "console=ttyS0 panic=-1" -serial "file:$work/$name.console" \
    -object memory-backend-memfd,id=bar,size=256G,share=on -device ivshmem-plain,memdev=bar,addr=01.0 \
    "$@" &
  pid=$!
  for _ in $(seq 1 900); do
    grep -qa 'PCI: CLS\|Kernel panic' "$work/$name.console" && break
    sleep 0.2
  done
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  grep -a "pci 0000:00:01.0: BAR 2" "$work/$name.console" | head -1
}
without=$(boot without)
with=$(boot with -fw_cfg "$arg")
echo "without the entry: $without"
echo "with $arg: $with"
[[ $without == *"[mem 0x00000000-0x3fffffffff 64bit pref]"* ]]
verdict "OVMF without the entry: the 256 GiB BAR left unassigned"
[[ $with =~ \[mem\ 0x[0-9a-f]*[1-9a-f][0-9a-f]*-0x[0-9a-f]+\ 64bit\ pref\] ]]
verdict "OVMF with tune's -fw_cfg entry: the BAR mapped by the firmware"
finish
