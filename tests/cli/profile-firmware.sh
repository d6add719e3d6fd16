#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `fastpass profile --direct` boots the firmware the domain names, says which, and refuses what
# it cannot honour. Debian's ovmf (OVMF_CODE_4M.fd + OVMF_VARS_4M.fd, descriptors in
# /usr/share/qemu/firmware) and QEMU under TCG (never /dev/kvm: guests hang under it here).
#  - Refusals: exit 2, one line on stderr naming what, nothing on stdout, no QEMU started, no
#    file left (in TMPDIR, where the work directories go, nor the domain's nvram path).
#  - One real start of a UEFI domain with direct kernel boot (~15 s): the JSON names UEFI and
#    its image, the guest reaches "Linux version", QEMU was given the image read-only and a copy
#    of the variables store, and the console shows OVMF's own output before the kernel's (under
#    SeaBIOS, what --direct booted before, there is none), the template left as it was; OVMF's
#    milestones from QEMU's fw_cfg trace are in the JSON.
# No timing is asserted.
# usage: profile-firmware.sh FASTPASS SOURCE_DIR
set -u
fp=$(realpath "$1"); src=$2
. "$(dirname "$0")/lib.sh"
code=/usr/share/OVMF/OVMF_CODE_4M.fd vars=/usr/share/OVMF/OVMF_VARS_4M.fd
secboot=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd
kernel=$("$src/tests/debian-kernel")
qemu=$(command -v qemu-system-x86_64)
if [ ! -r "$code" ] || [ ! -r "$vars" ] || [ ! -r "$secboot" ] || [ -z "$kernel" ] || [ -z "$qemu" ] ||
   ! command -v jq >/dev/null; then
  echo "SKIP: needs Debian's ovmf, qemu-system-x86, a Debian kernel and jq"; exit 77
fi
work=$(mktemp -d); chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
mkdir "$work/tmp"

# A QEMU that records how it was run and keeps the guest's console: it runs the real one as a
# child (stdin/stdout stay the profiler's QMP) and copies the -serial file when it exits.
cat > "$work/qemu" <<EOF
#!/usr/bin/env bash
printf '%s\n' "\$@" > "$work/qemu.argv"
console=
prev=
for a in "\$@"; do
  [ "\$prev" = -serial ] && console=\${a#file:}
  prev=\$a
done
"$qemu" "\$@"; rc=\$?
[ -n "\$console" ] && cp "\${console//,,/,}" "$work/guest-console.log"
exit \$rc
EOF
chmod 755 "$work/qemu"

domain() { # NAME MACHINE OS-ATTRS OS-INSIDE [TOP]
  cat <<XML
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>256</memory>
  <vcpu placement='static'>1</vcpu>
  <os$3>
    <type arch='x86_64' machine='$2'>hvm</type>
    $4
    <kernel>$kernel</kernel>
    <cmdline>console=ttyS0 panic=-1</cmdline>
  </os>
  <features>
    <acpi/>
    ${5:-}
  </features>
  <on_reboot>destroy</on_reboot>
  <devices>
    <serial type='file'><source path='$work/serial.log'/><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>
XML
}
nvram="<nvram template='$vars'>$work/nvram/vm_VARS.fd</nvram>"
loader() { echo "<loader readonly='yes' type='pflash'${2:-}>$1</loader>"; }

# --- what --direct cannot honour ------------------------------------------------------------
domain missing-loader q35 "" "$(loader "$work/no/OVMF_CODE.fd")$nvram" > "$work/missing-loader.xml"
domain missing-template q35 "" "$(loader "$code")<nvram template='$work/no/VARS.fd'>$work/nvram/x.fd</nvram>" \
  > "$work/missing-template.xml"
domain efi-auto-none pc " firmware='efi'" \
  "<firmware><feature enabled='yes' name='secure-boot'/></firmware>" > "$work/efi-auto-none.xml"
domain secboot-i440fx pc "" "$(loader "$secboot" " secure='yes'")$nvram" > "$work/secboot-i440fx.xml"
domain secboot-smm-off q35 "" "$(loader "$secboot")$nvram" "<smm state='off'/>" \
  > "$work/secboot-smm-off.xml"
cases=(
  "missing-loader.xml|<loader> $work/no/OVMF_CODE.fd: no such file"
  "missing-template.xml|<nvram> template $work/no/VARS.fd: no such file"
  "efi-auto-none.xml|<os firmware='efi'>: no firmware descriptor in /usr/share/qemu/firmware fits"
  "secboot-i440fx.xml|$secboot needs SMM (secure boot), which a machine other than q35 cannot give"
  "secboot-smm-off.xml|$secboot needs SMM (secure boot), which <smm state='off'/> cannot give"
)
for c in "${cases[@]}"; do
  file=${c%%|*} want=${c#*|}
  rm -f "$work/qemu.argv"
  TMPDIR=$work/tmp "$fp" profile --direct --json --qemu "$work/qemu" "$work/$file" > "$work/out" 2> "$work/err"
  rc=$?
  # (the message is made first: a command substitution in verdict's argument would reset $?)
  said="refused: $file (exit $rc: $(head -n 3 "$work/err" | head -c 200))"
  [ $rc -eq 2 ] && [ "$(wc -l < "$work/err")" -eq 1 ] && grep -qF -- "$want" "$work/err" && [ ! -s "$work/out" ] &&
    [ ! -e "$work/qemu.argv" ] && [ -z "$(ls -A "$work/tmp")" ] && [ ! -e "$work/nvram" ]
  verdict "$said"
done

# --- one real start on OVMF -------------------------------------------------------------------
sum_before=$(md5sum < "$vars")
domain fp-uefi q35 "" "$(loader "$code")$nvram" > "$work/uefi.xml"
rm -f "$work/qemu.argv" "$work/guest-console.log"
TMPDIR=$work/tmp "$fp" profile --direct --json --timeout 90 --qemu "$work/qemu" "$work/uefi.xml" \
  > "$work/uefi.json" 2> "$work/uefi.err"; rc=$?
check "UEFI start: exit 0" [ $rc -eq 0 ]
[ $rc -eq 0 ] || sed 's/^/     /' "$work/uefi.err"
grep '^  firmware:' "$work/uefi.err" | sed 's/^/     /'
check "JSON names UEFI and the domain's image" \
  [ "$(jq -r '.runs[0].firmware | "\(.type) \(.code) \(.vars) \(.secure_boot)"' "$work/uefi.json")" = "uefi $code $vars false" ]
check "the text report names it" grep -qF "firmware: uefi: $code" "$work/uefi.err"
check "the guest reached its first kernel line" \
  [ "$(jq -r '.runs[0].kernel_line | startswith("Linux version")' "$work/uefi.json")" = true ]
check "OVMF's milestones seen in QEMU's fw_cfg trace (PEI, DXE's ACPI and kernel fetch, BDS)" \
  [ "$(jq -r '[.runs[0].firmware_marks[].id] | sort | join(",")' "$work/uefi.json")" = \
    "acpi-tables,boot-manager,fw-cfg-first,kernel-fetched" ]
check "QEMU got the image read-only as pflash unit 0" \
  grep -qxF "if=pflash,format=raw,unit=0,file=$code,readonly=on" "$work/qemu.argv"
unit1=$(sed -n 's/^if=pflash,format=raw,unit=1,file=//p' "$work/qemu.argv")
check "... and a per-start copy of the variables store as unit 1 ($unit1)" \
  [ "${unit1#"$work/tmp/"}" != "$unit1" ]
# What the firmware itself wrote: OVMF's terminal clears the screen (ESC [2J) on the serial
# console before the kernel prints anything; SeaBIOS writes nothing there.
before=$(sed -n '1,/Linux version/p' "$work/guest-console.log" 2>/dev/null | sed 's/Linux version.*//')
check "OVMF's output on the console before the kernel's" grep -q $'\e\\[2J' <<< "$before"
check "the template is unchanged, no nvram file made, no work directory left" \
  [ "$(md5sum < "$vars")" = "$sum_before" -a ! -e "$work/nvram" -a -z "$(ls -A "$work/tmp")" ]
finish
