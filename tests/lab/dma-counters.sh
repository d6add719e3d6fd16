#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs inside the lab guest (tests/lab/lab-run -n 1): `fastpass profile --trace-dma` on the same
# libvirt domain (a 256 MiB q35 guest booting the host's kernel, one managed='no' e1000e the
# hook prepares, emulator fastpass-qemu), once with Debian's QEMU and once with fastpass's QEMU
# (found where it is "installed", as lab/libvirt-fastpass-qemu does). Prints the VFIO DMA map,
# unmap and redundant-map counts the profile reports for each, beside what the kernel saw: a
# kprobe on vfio_iommu_type1_ioctl counts every VFIO_IOMMU_MAP_DMA / _UNMAP_DMA over QEMU's
# whole run, which must equal the events of QEMU's trace the profiler counted (Debian's QEMU:
# its memory listener's; fastpass's: its ioctls), over the same run.
# With DMA_FIRMWARE=uefi the domain boots OVMF (firmware='efi', as libvirt picks it from Debian's
# descriptors) and the profile also reads OVMF's milestones (--trace-firmware): the DMA counts
# under UEFI.
# usage: [DMA_FIRMWARE=uefi] dma-counters.sh FASTPASS FASTPASS-HOOK FASTPASS-QEMU-WRAPPER STOCK-QEMU FASTPASS_QEMU
set -u
fp=$(realpath "$1"); hook=$(realpath "$2"); wrapper=$(realpath "$3"); stock=$(realpath "$4")
fpq=$(realpath "$5")
. "$(dirname "$0")/libvirt-lib.sh"
[ -x "$fpq" ] || { echo "SKIP: no fastpass QEMU at $fpq (launcher/qemu/build-qemu builds it)"; exit 77; }
work=/tmp/fastpass-lab-dma; mkdir -p "$work"; chmod 755 "$work"
uefi=; [ "${DMA_FIRMWARE:-}" = uefi ] && uefi=1
if [ -n "$uefi" ] && [ ! -r /usr/share/qemu/firmware/60-edk2-x86_64.json ]; then
  echo "SKIP: no OVMF firmware descriptor (Debian's ovmf package) for firmware='efi'"; exit 77
fi
dev=${devs[0]}
uuid=5e1a7c3b-2d4f-4b6a-9c8e-7f0a1b2c3d4e

. "$(dirname "${BASH_SOURCE[0]}")/dma-kprobe.sh"
dma_kprobe_on

lab_libvirt_config
# QEMU 7.2's e1000e resets only on a bus reset (tests/lab/README.md, point 4)
echo bus > /sys/bus/pci/devices/$dev/reset_method
hookcfg='"run_dir": "'$work'/run", "log_file": "'$work'/hook.log", "release_mode": "restore", "device_timeout_ms": 60000, "hook_deadline_ms": 120000'
printf '{%s}\n' "$hookcfg" > "$work/hook.json"
printf '{%s, "qemu_binary": "%s"}\n' "$hookcfg" "$stock" > "$work/stock.json"
printf '{%s, "fastpass_qemu": "%s"}\n' "$hookcfg" "$fpq" > "$work/fastpass.json"
lab_install_hook "$hook" "$work/hook.json"
libvirtd_up || { echo "libvirtd did not start"; exit 1; }

# kernel NAME: "maps unmaps redundant-maps" the kprobe saw, and NAME.kmaps (iova size per map)
kernel_counts() {
  awk '/ dma: / { for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
         if (f["cmd"] == "0x3b71") { m++; print f["a16"], f["a24"] > "/dev/stderr"; if (seen[f["a16"] " " f["a24"]]++) r++ }
         else if (f["cmd"] == "0x3b72") u++ }
       END { printf "%d %d %d\n", m, u, r }' "$work/$1.ktrace" 2> "$work/$1.kmaps"
}
# trace NAME MAP-EVENT UNMAP-EVENT: "maps unmaps" of QEMU's trace in the domain's log, whole run
trace_counts() {
  printf '%d %d\n' "$(grep -c ":$2 " "$work/$1.qlog")" "$(grep -c ":$3 " "$work/$1.qlog")"
}

declare -A pm pu pr km ku kr
for q in stock fastpass; do
  config_script "$work/$q.json" "$wrapper" "$work/qemu-$q"
  if [ -n "$uefi" ]; then
    rm -f "$work/VARS-$q.fd"
    boot_domain_xml lab-dma-$q $uuid "$work/console-$q.log" "<features><acpi/></features>" \
      "<emulator>$work/qemu-$q</emulator>$(hostdev "$dev")" |
      sed "s|<os>|<os firmware='efi'>|; s|<kernel>|<nvram>$work/VARS-$q.fd</nvram><kernel>|" > "$work/$q.xml"
  else
    boot_domain_xml lab-dma-$q $uuid "$work/console-$q.log" "" \
      "<emulator>$work/qemu-$q</emulator>$(hostdev "$dev")" > "$work/$q.xml"
  fi
  log=/var/log/libvirt/qemu/lab-dma-$q.log
  off=$(stat -c %s "$log" 2>/dev/null || echo 0)
  echo > $T/trace
  echo 1 > $T/tracing_on
  FASTPASS_CONFIG=$work/$q.json "$fp" profile --trace-dma ${uefi:+--trace-firmware} --json \
    --timeout $((uefi ? 600 : 240)) "$work/$q.xml" > "$work/$q.json.out" 2> "$work/$q.err"; rc=$?
  sleep 1 # QEMU's last lines reach the log through virtlogd
  echo 0 > $T/tracing_on
  cp $T/trace "$work/$q.ktrace"
  tail -c +$((off + 1)) "$log" > "$work/$q.qlog"
  check "$q: profile through libvirt, the hook and the wrapper: exit 0" [ $rc -eq 0 ]
  [ $rc -eq 0 ] || { sed 's/^/     /' "$work/$q.err"; continue; }
  sed -n '/VFIO DMA calls/p' "$work/$q.err" | sed "s/^ */     $q: /"
  if [ -n "$uefi" ]; then
    check "$q: the guest booted OVMF ($(jq -r '.runs[0].firmware.code' "$work/$q.json.out"))" \
      [ "$(jq -r '.runs[0].firmware.type' "$work/$q.json.out")" = uefi ]
    jq -r '.runs[0] | "     '$q': creation \(.creation_ms) ms, init \(.init_ms) ms, BIOS \(.bios_ms) ms; OVMF marks: \([.firmware_marks[]? | "\(.id) +\(.ms_after_vcpu) ms"] | join(", "))"' "$work/$q.json.out"
  fi
  dma=$(jq -c '.runs[0].vfio_dma' "$work/$q.json.out")
  read -r pm[$q] pu[$q] pr[$q] <<<"$(jq -r '"\(.map) \(.unmap) \(.remap)"' <<<"$dma")"
  read -r km[$q] ku[$q] kr[$q] <<<"$(kernel_counts $q)"
  echo "     $q: profile (exec -> first kernel line) ${pm[$q]} map, ${pu[$q]} unmap, ${pr[$q]} redundant map;" \
    "kernel (whole run) ${km[$q]} map, ${ku[$q]} unmap, ${kr[$q]} redundant map"
  awk 'seen[$0]++ { print "     '$q': the kernel was asked again to map iova " $1 " size " $2 }' "$work/$q.kmaps"
  want=listener events="vfio_listener_region_add_ram vfio_listener_region_del"
  [ $q = fastpass ] && want=ioctl events="vfio_dma_map_ioctl vfio_dma_unmap_ioctl"
  check "$q: the profile counted QEMU's $want events ($dma)" \
    [ "$(jq -r .counted <<<"$dma")" = $want ]
  check "$q: DMA maps counted (${pm[$q]} > 0)" [ "${pm[$q]}" -gt 0 ]
  [ $q = fastpass ] && echo "     $q: its memory listener's events, for comparison:" \
    "$(trace_counts $q vfio_listener_region_add_ram vfio_listener_region_del | sed 's/ / region_add_ram, /') region_del"
  # shellcheck disable=SC2086
  t=$(trace_counts $q $events)
  check "$q: QEMU's trace ($t map/unmap) = the kernel's ioctls (${km[$q]} ${ku[$q]}) over the run" \
    [ "$t" = "${km[$q]} ${ku[$q]}" ]
done
if [ -n "${pm[fastpass]:-}" ] && [ -n "${pm[stock]:-}" ]; then
  check "fastpass's QEMU: fewer unmaps than Debian's (${pu[fastpass]} < ${pu[stock]})" \
    [ "${pu[fastpass]}" -lt "${pu[stock]}" ]
  check "fastpass's QEMU: fewer redundant maps than Debian's (${pr[fastpass]} < ${pr[stock]})" \
    [ "${pr[fastpass]}" -lt "${pr[stock]}" ]
  # x-keep-dma-maps: the RAM above 1 MiB is pinned once (the patch's promise), seen by the kernel
  above=$(while read -r iova size; do [ $((iova)) -ge $((1 << 20)) ] && echo "$iova $size"; done \
    < "$work/fastpass.kmaps" | sort | uniq -d)
  check "fastpass's QEMU: no IOVA range at or above 1 MiB mapped twice${above:+ ($above)}" [ -z "$above" ]
fi
check "$dev released back to e1000e (restore)" [ "$(drv $dev)" = e1000e ]
echo 0 > $T/events/fpdma/enable
echo > $T/kprobe_events
finish
