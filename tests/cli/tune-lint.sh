#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tune and lint from the command line: output files, exit statuses, formats, and the shipped
# templates. usage: tune-lint.sh FASTPASS SOURCE_DIR
set -u
fp=$1; src=$2
. "$(dirname "$0")/lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
host=(--host-caps "$src/domain-templates/host/caps.xml" --device-topology "$src/domain-templates/host/topology.json")
slow=$src/tests/data/slow-gpu.xml

# -o writes the tuned domain; IN stays byte-identical; stdout and -o agree.
cp "$slow" "$work/in.xml"; sum=$(md5sum < "$work/in.xml")
"$fp" tune "${host[@]}" "$work/in.xml" -o "$work/out.xml"; rc=$?
check "tune -o: exit 0" [ $rc -eq 0 ]
check "tune -o: input unchanged" [ "$sum" = "$(md5sum < "$work/in.xml")" ]
"$fp" tune "${host[@]}" "$work/in.xml" > "$work/stdout.xml"
check "tune: stdout equals -o output" cmp -s "$work/stdout.xml" "$work/out.xml"
check "tune -o: no temp file left beside OUT" [ "$(ls "$work" | wc -l)" -eq 3 ]
check "tune -o: output is schema-valid" valid "$work/out.xml"
"$fp" tune "${host[@]}" "$work/out.xml" > "$work/again.xml"
check "tune: idempotent from the command line" cmp -s "$work/again.xml" "$work/out.xml"

# -o pointing at IN (even through another name) is refused.
ln -s in.xml "$work/alias.xml"
"$fp" tune "$work/in.xml" -o "$work/alias.xml" 2>"$work/err"; rc=$?
check "tune -o IN: refused with exit 2" [ $rc -eq 2 ]
check "tune -o IN: says why" grep -q "is the input file" "$work/err"
check "tune -o IN: input unchanged" [ "$sum" = "$(md5sum < "$work/in.xml")" ]

# Rule switches.
"$fp" tune --skip nosuchrule "$slow" >/dev/null 2>"$work/err"; rc=$?
check "unknown rule: exit 2" [ $rc -eq 2 ]
check "unknown rule: named" grep -q "unknown rule 'nosuchrule'" "$work/err"
"$fp" tune "${host[@]}" --skip bootmenu,rom "$slow" > "$work/skip.xml"
check "--skip bootmenu,rom: boot menu left on" grep -q "<bootmenu enable='yes' timeout='2500'/>" "$work/skip.xml"
check "--skip bootmenu,rom: no rom element" bash -c "! grep -q '<rom' '$work/skip.xml'"
check "--skip bootmenu,rom: other rules applied" grep -q "<memballoon model='none'/>" "$work/skip.xml"
"$fp" tune "${host[@]}" --only hugepages "$slow" > "$work/only.xml"
check "--only hugepages: hugepages added" grep -q "<page size='1048576' unit='KiB'/>" "$work/only.xml"
check "--only hugepages: balloon left alone" grep -q "<memballoon model='virtio'/>" "$work/only.xml"
"$fp" tune "${host[@]}" --boot-display 0000:41:00.0 "$slow" > "$work/display.xml"
check "--boot-display keeps the device's ROM" bash -c "! grep -q '<rom' '$work/display.xml'"
"$fp" tune --boot-display ../41:00.0 "$slow" >/dev/null 2>"$work/err"; rc=$?
check "--boot-display with a bad address: exit 2" [ $rc -eq 2 ]

# lint: 1 with findings (each rule of the slow domain), 0 clean, 2 unusable.
"$fp" lint "${host[@]}" "$slow" > "$work/lint.txt"; rc=$?
check "lint slow domain: exit 1" [ $rc -eq 1 ]
for rule in bootmenu hugepages allocation numa memballoon rom; do
  check "lint slow domain: finding $rule" grep -q "slow-gpu.xml: $rule at /domain" "$work/lint.txt"
done
check "lint slow domain: exactly six findings" [ "$(wc -l < "$work/lint.txt")" -eq 6 ]
"$fp" lint "${host[@]}" "$work/out.xml" > "$work/lint-clean.txt"; rc=$?
[ $rc -eq 0 ] && [ ! -s "$work/lint-clean.txt" ]; verdict "lint of tuned output: exit 0, nothing printed"
"$fp" lint --format json "${host[@]}" "$slow" > "$work/lint.json"; rc=$?
check "lint --format json: exit 1" [ $rc -eq 1 ]
check "lint --format json: six rule entries" [ "$(grep -c '"rule":' "$work/lint.json")" -eq 6 ]
check "lint --format json: paths and fixes" grep -q '"path":"/domain/devices/memballoon"' "$work/lint.json"
"$fp" lint --format yaml "$slow" >/dev/null 2>&1; rc=$?
check "lint --format yaml: exit 2" [ $rc -eq 2 ]
echo "<domain" > "$work/broken.xml"
"$fp" lint "$work/out.xml" "$work/broken.xml" >/dev/null 2>&1; rc=$?
check "lint with one unusable file: exit 2" [ $rc -eq 2 ]
"$fp" lint --format json "$work/broken.xml" 2>/dev/null | grep -q '"error":'
check "lint --format json reports the unusable file" [ $? -eq 0 ]

# The shipped templates: schema-valid, lint-clean with and without the reference host, and
# fixed points of tune on the reference host (they are tuned).
for t in "$src"/domain-templates/*.xml; do
  n=$(basename "$t")
  check "template $n: schema-valid" valid "$t"
  check "template $n: lint-clean on the reference host" "$fp" lint "${host[@]}" "$t"
  check "template $n: lint-clean without host facts" "$fp" lint --sysfs-root "$work/empty-sysfs" "$t"
  "$fp" tune "${host[@]}" "$t" > "$work/t.xml" 2>/dev/null
  check "template $n: already tuned" cmp -s "$work/t.xml" "$t"
done

# The UEFI variants: one per GPU template, checked by the loop above, tuned exactly as their
# SeaBIOS twin: they differ in the name, the comment and OVMF's code + vars in <os> only.
for t in "$src"/domain-templates/gpu-*.xml; do
  case $t in *-uefi.xml) continue ;; esac
  u=${t%.xml}-uefi.xml; n=$(basename "$u")
  check "template $n: exists" [ -f "$u" ]
  check "template $n: OVMF code read-only as pflash, its vars template, q35" \
    grep -qzF "<type arch='x86_64' machine='q35'>hvm</type>
    <loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>
    <nvram template='/usr/share/OVMF/OVMF_VARS_4M.fd'/>" "$u"
  check "template $n: tuned as $(basename "$t")" \
    cmp -s <(grep -v '<loader\|<nvram\|<name>\|<!--' "$u") <(grep -v '<name>\|<!--' "$t")
done

# bootmenu on a UEFI domain gives OVMF's figure, on its SeaBIOS twin SeaBIOS's; mmio64 never
# fires without host facts for the device (tests/cli/uefi-mmio-window.sh has them).
small_vm() { # OS-FIRMWARE-XML
  cat <<XML
<domain type='kvm'>
  <name>small-vm</name>
  <memory unit='KiB'>1048576</memory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    $1
    <boot dev='hd'/>
    <bootmenu enable='yes'/>
  </os>
  <features>
    <acpi/>
  </features>
  <devices>
    <interface type='network'>
      <source network='default'/>
      <model type='virtio'/>
    </interface>
  </devices>
</domain>
XML
}
small_vm "<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>
    <nvram template='/usr/share/OVMF/OVMF_VARS_4M.fd'/>" > "$work/uefi-vm.xml"
small_vm "" > "$work/seabios-vm.xml"
"$fp" lint "${host[@]}" --only bootmenu,mmio64 "$work/uefi-vm.xml" > "$work/uefi-lint.txt" 2>/dev/null; rc=$?
[ $rc -eq 1 ] && [ "$(wc -l < "$work/uefi-lint.txt")" -eq 1 ]
verdict "UEFI disk-boot VM: lint exit 1, one finding"
check "UEFI disk-boot VM: bootmenu with OVMF's figure" \
  grep -q "bootmenu at /domain/os/bootmenu: boot menu is on: OVMF counts down its boot timeout before booting a disk (+3.3 s measured" "$work/uefi-lint.txt"
"$fp" lint "${host[@]}" --only bootmenu,mmio64 "$work/seabios-vm.xml" > "$work/seabios-lint.txt"
check "SeaBIOS twin: bootmenu with SeaBIOS's figure" grep -q "bootmenu at /domain/os/bootmenu: boot menu is on: SeaBIOS waits" "$work/seabios-lint.txt"
"$fp" tune "${host[@]}" "$work/uefi-vm.xml" -o "$work/uefi-vm-tuned.xml"
check "UEFI disk-boot VM tuned: schema-valid" valid "$work/uefi-vm-tuned.xml"
check "UEFI disk-boot VM tuned: lint-clean" "$fp" lint "${host[@]}" --only bootmenu,mmio64 "$work/uefi-vm-tuned.xml"

finish
