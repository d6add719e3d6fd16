#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# End to end: `fastpass profile` on this machine's real libvirtd and QEMU (TCG). A small domain
# that boots the host's kernel is profiled twice, first as it is, then through the fastpass hook
# and emulator wrapper; the JSON must hold positive init/BIOS/creation times with creation =
# init + BIOS, the guest's kernel line, the hook's and wrapper's phases; the charts must parse.
# Also: the domain is gone afterwards and after Ctrl-C; --trace-dma makes QEMU's trace visible;
# --direct runs QEMU itself.
# usage: profile.sh FASTPASS SOURCE_DIR [WRAPPER HOOK]
# FASTPASS_E2E_KEEP=DIR keeps the JSON and SVG files there.
set -u
fastpass=$(realpath "$1"); src=$2
wrapper=${3:+$(realpath "$3")}; hook=${4:+$(realpath "$4")}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cli/lib.sh"
. "$here/libvirtd-ctl.sh"
kernel=$(host_kernel)
if [ "$(id -u)" -ne 0 ] || ! command -v libvirtd >/dev/null || [ -z "$kernel" ]; then
  echo "SKIP: needs root, libvirtd and a kernel in /boot"; exit 77
fi
for tool in jq xmllint; do
  command -v $tool >/dev/null || { echo "SKIP: needs $tool"; exit 77; }
done
libvirtd_up || exit 1
work=$(mktemp -d /tmp/fastpass-profile.XXXXXX); chmod 755 "$work"
installed=/etc/libvirt/hooks/qemu.d/fastpass-profile-e2e
name=fp-e2e-profile
cleanup() {
  virsh destroy $name >/dev/null 2>&1
  [ -n "${FASTPASS_E2E_KEEP:-}" ] && cp "$work"/*.json "$work"/*.svg "$FASTPASS_E2E_KEEP"/ 2>/dev/null
  remove_hook "$installed" && libvirtd_restart >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
virsh() { command virsh -q -c qemu:///system "$@"; }

domain_xml() { # EMULATOR-LINE
  boot_domain_xml "$name" 7d2e9a41-3b6c-4f08-9e15-a2c4b6d8e0f1 "$work/console.log" "" "$1"
}
domain_xml "" > "$work/plain.xml"
check "domain XML valid under libvirt's schema" valid "$work/plain.xml"

# jq programs over a profile's JSON.
times_ok='[.runs[] | .init_ms > 0 and .bios_ms > 0 and .creation_ms > 0
           and ((.creation_ms - .init_ms - .bios_ms) | fabs) < 0.01] | all'
line_ok='[.runs[] | .kernel_line | startswith("Linux version")] | all'

printf '{"run_dir": "%s"}\n' "$work/run" > "$work/fastpass.json"; chmod 644 "$work/fastpass.json"
FASTPASS_CONFIG=$work/fastpass.json "$fastpass" profile --repeat 2 --json --label stock \
  --svg "$work/chart.svg" "$work/plain.xml" > "$work/plain.json" 2> "$work/plain.err"; rc=$?
check "profile --repeat 2 --json: exit 0" [ $rc -eq 0 ]
[ $rc -eq 0 ] || sed 's/^/     /' "$work/plain.err"
sed -n '/^median/,$p' "$work/plain.err" | sed 's/^/     /'
check "two starts recorded" [ "$(jq '.runs | length' "$work/plain.json")" = 2 ]
check "positive init, BIOS, creation; creation = init + BIOS" [ "$(jq "$times_ok" "$work/plain.json")" = true ]
check "the guest's first kernel line seen in each start" [ "$(jq "$line_ok" "$work/plain.json")" = true ]
check "summary: median, min, max of creation time" \
  [ "$(jq '.summary.creation_ms | .min <= .median and .median <= .max and .n == 2' "$work/plain.json")" = true ]
check "vCPU start from QEMU's RESUME (through libvirt)" \
  [ "$(jq -r '[.runs[].sources.vcpu_start] | unique | join(",")' "$work/plain.json")" = qmp-resume ]
check "QEMU exec from its process start (no wrapper)" \
  [ "$(jq -r '[.runs[].sources.qemu_exec] | unique | join(",")' "$work/plain.json")" = proc-stat ]
check "DMA calls said to be not visible, not 0" [ "$(jq '.runs[0].vfio_dma.visible' "$work/plain.json")" = false ]
check "firmware named: SeaBIOS (no loader)" [ "$(jq -r '[.runs[].firmware.type] | unique | join(",")' "$work/plain.json")" = seabios ]
check "domain destroyed after profiling" bash -c "! command virsh -q -c qemu:///system list --name | grep -qx $name"
check "chart parses as XML" xmllint --noout "$work/chart.svg"
# The stop after each start (no hook here): the destroy call, QEMU's exit (pidfd), the call's
# return, in order; QEMU's exit and libvirt after it as stop phases.
stop=$(jq -c '[.runs[].points_us | [.stop_call, .qemu_gone, .stop_returned]]' "$work/plain.json")
jq -e 'length == 2 and all(.[]; all(.[]; . != null) and . == sort)' <<<"$stop" > /dev/null
verdict "each stop: call, QEMU gone, return, in order ($stop)"
phases=$(jq -c '[.runs[0].phases[] | select(.stop) | .id]' "$work/plain.json")
jq -e 'index("qemu-exit") != null and index("after-exit") != null' <<<"$phases" > /dev/null
verdict "the stop's phases without a hook: QEMU's exit, libvirt after it ($phases)"

if [ -n "$wrapper" ] && [ -n "$hook" ]; then
  config_script "$work/fastpass.json" "$wrapper" "$work/qemu"
  domain_xml "<emulator>$work/qemu</emulator>" > "$work/fast.xml"
  install_hook "$work/fastpass.json" "$hook" "$installed"
  libvirtd_restart || exit 1
  FASTPASS_CONFIG=$work/fastpass.json "$fastpass" profile --repeat 2 --json --label fastpass \
    --svg "$work/chart.svg" --append "$work/fast.xml" > "$work/fast.json" 2> "$work/fast.err"; rc=$?
  check "through hook and wrapper: exit 0" [ $rc -eq 0 ]
  [ $rc -eq 0 ] || sed 's/^/     /' "$work/fast.err"
  sed -n '/^median/,$p' "$work/fast.err" | sed 's/^/     /'
  check "through hook and wrapper: creation = init + BIOS" [ "$(jq "$times_ok" "$work/fast.json")" = true ]
  check "QEMU exec from the wrapper's timeline" \
    [ "$(jq -r '[.runs[].sources.qemu_exec] | unique | join(",")' "$work/fast.json")" = wrapper-timeline ]
  check "hook and wrapper phases, in time order" \
    [ "$(jq -r '[.runs[0].phases[] | select(.stop | not) | .id] | join(",")' "$work/fast.json")" = "before-hook,hook,before-exec,wrapper,init,bios" ]
  # The stop through the hook: its release end (no devices) between QEMU's exit and the return.
  stop=$(jq -c '[.runs[].points_us | [.stop_call, .qemu_gone, .release_begin, .release_end, .stop_returned]]' "$work/fast.json")
  jq -e 'length == 2 and all(.[]; all(.[]; . != null) and . == sort)' <<<"$stop" > /dev/null
  verdict "each stop through the hook: call, QEMU gone, release begin and end, return, in order ($stop)"
  phases=$(jq -c '[.runs[0].phases[] | select(.stop) | .id]' "$work/fast.json")
  jq -e 'index("qemu-exit") != null and index("before-release") != null and index("release") != null and index("after-release") != null' <<<"$phases" > /dev/null
  verdict "the stop's phases through the hook ($phases)"
  check "phases follow one another" \
    [ "$(jq '[.runs[0].phases | range(1; length) as $i | .[$i].start_ms >= .[$i-1].start_ms + .[$i-1].ms - 0.01] | all' "$work/fast.json")" = true ]
  check "appended chart parses, one row per configuration" \
    bash -c "xmllint --noout '$work/chart.svg' && [ \$(grep -c \"<g class='row'\" '$work/chart.svg') -eq 2 ]"
  remove_hook "$installed"; libvirtd_restart || exit 1
fi

"$fastpass" profile-chart -o "$work/both.svg" --title "e2e" "$work/plain.json" "$work/plain.json" 2> "$work/chart.err"
check "profile-chart from saved JSON: parses, two rows" \
  bash -c "xmllint --noout '$work/both.svg' && [ \$(grep -c \"<g class='row'\" '$work/both.svg') -eq 2 ]"

# --trace-dma: QEMU's trace reaches the domain log; this guest has no VFIO device, so 0 is real.
FASTPASS_CONFIG=$work/fastpass.json "$fastpass" profile --json --trace-dma "$work/plain.xml" > "$work/trace.json" 2> "$work/trace.err"; rc=$?
check "--trace-dma: DMA calls visible (0 map for a guest without VFIO devices)" \
  [ "$rc-$(jq -c '.runs[0].vfio_dma' "$work/trace.json")" = '0-{"visible":true,"map":0,"unmap":0,"remap":0,"counted":"listener"}' ]

# Ctrl-C while the guest boots: the domain must be destroyed, the exit status 130.
FASTPASS_CONFIG=$work/fastpass.json "$fastpass" profile "$work/plain.xml" > /dev/null 2> "$work/int.err" &
pid=$!
for _ in $(seq 1 100); do virsh list --name | grep -qx $name && break; sleep 0.1; done
sleep 1; kill -INT $pid; wait $pid; rc=$?
check "Ctrl-C: exit 130" [ $rc -eq 130 ]
check "Ctrl-C: domain destroyed" bash -c "! command virsh -q -c qemu:///system list --name | grep -qx $name"

# firmware='efi': libvirt picks the image from Debian's descriptors; the result says which.
if [ -r /usr/share/qemu/firmware/60-edk2-x86_64.json ]; then
  boot_domain_xml "$name" 7d2e9a41-3b6c-4f08-9e15-a2c4b6d8e0f1 "$work/console.log" "<features><acpi/></features>" |
    sed "s|<os>|<os firmware='efi'>|; s|<kernel>|<nvram>$work/uefi_VARS.fd</nvram><kernel>|" > "$work/uefi.xml"
  FASTPASS_CONFIG=$work/fastpass.json "$fastpass" profile --json --trace-firmware "$work/uefi.xml" > "$work/uefi.json" 2> "$work/uefi.err"; rc=$?
  grep '^  firmware:' "$work/uefi.err" | sed 's/^/     /'
  [ $rc -eq 0 ] && [ "$(jq -r '.runs[0].firmware | "\(.type) \(.nvram)"' "$work/uefi.json")" = "uefi $work/uefi_VARS.fd" ] &&
    [ "$(jq -r '.runs[0].firmware.code | startswith("/usr/share/OVMF/")' "$work/uefi.json")" = true ] &&
    [ "$(jq "$line_ok" "$work/uefi.json")" = true ]
  verdict "firmware='efi' through libvirt: the JSON names the UEFI image libvirt chose, the guest reaches Linux"
  # --trace-firmware: OVMF's milestones from the domain log, as --direct reads them from its trace.
  check "--trace-firmware through libvirt: OVMF's milestones (PEI, DXE's ACPI and kernel fetch)" \
    [ "$(jq -r '[.runs[0].firmware_marks[].id] | map(select(. != "boot-manager")) | sort | join(",")' "$work/uefi.json")" = \
      "acpi-tables,fw-cfg-first,kernel-fetched" ]
  check "--trace-firmware alone claims no DMA count" [ "$(jq -r '.runs[0].vfio_dma.visible' "$work/uefi.json")" = false ]
fi

"$fastpass" profile --direct --json --timeout 60 "$work/plain.xml" > "$work/direct.json" 2> "$work/direct.err"; rc=$?
[ $rc -eq 0 ] && [ "$(jq "$times_ok" "$work/direct.json")" = true ]; verdict "--direct: exit 0, creation = init + BIOS"
check "--direct: QMP greeting splits init" \
  [ "$(jq -r '[.runs[0].phases[].id] | join(",")' "$work/direct.json")" = "qemu-setup,init,bios" ]
check "--direct: firmware named: SeaBIOS" [ "$(jq -r '.runs[0].firmware.type' "$work/direct.json")" = seabios ]
finish
