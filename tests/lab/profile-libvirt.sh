#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs inside the lab guest (tests/lab/lab-run): the whole chain on the real kernel. `fastpass
# profile --trace-dma` starts, through a real libvirtd, a domain whose managed='no' PCI hostdev
# (an e1000e) the fastpass hook prepares and whose emulator is fastpass-qemu; the guest boots
# the host's kernel. The profile must hold the hook's phase, QEMU's exec from the wrapper's
# timeline, creation = init + BIOS, and VFIO DMA maps counted from QEMU's trace; afterwards the
# domain is gone and the device back on e1000e (release_mode restore).
# usage: profile-libvirt.sh FASTPASS FASTPASS-HOOK FASTPASS-QEMU
set -u
fp=$(realpath "$1"); hook=$(realpath "$2"); wrapper=$(realpath "$3")
. "$(dirname "$0")/libvirt-lib.sh"
work=/tmp/fastpass-lab-profile; mkdir -p "$work"; chmod 755 "$work"
dev=${devs[0]}

lab_libvirt_config
printf '{"run_dir": "%s/run", "log_file": "%s/hook.log", "release_mode": "restore", "device_timeout_ms": 60000, "hook_deadline_ms": 120000}\n' \
  "$work" "$work" > "$work/fastpass.json"
lab_install_hook "$hook" "$work/fastpass.json"
config_script "$work/fastpass.json" "$wrapper" "$work/qemu"
libvirtd_up || { echo "libvirtd did not start"; exit 1; }

boot_domain_xml lab-profile 6b2d1f0e-3a4c-4e5f-8a9b-0c1d2e3f4a5b "$work/console.log" "" \
  "<emulator>$work/qemu</emulator>$(hostdev "$dev")" > "$work/dom.xml"
check "domain XML valid under libvirt's schema" valid "$work/dom.xml"
check "$dev starts on e1000e" [ "$(drv $dev)" = e1000e ]

FASTPASS_CONFIG=$work/fastpass.json "$fp" profile --trace-dma --json --timeout 240 "$work/dom.xml" \
  > "$work/profile.json" 2> "$work/profile.err"; rc=$?
sed -n '/^times/,$p' "$work/profile.err" | sed 's/^/     /'
check "profile through libvirt, hook and wrapper, with a VFIO hostdev: exit 0" [ $rc -eq 0 ]
[ $rc -eq 0 ] || sed 's/^/     /' "$work/profile.err"
run='.runs[0]'
[ "$(jq "$run | .creation_ms > 0 and ((.creation_ms - .init_ms - .bios_ms) | fabs) < 0.01" "$work/profile.json")" = true ]
verdict "creation = init + BIOS, positive"
check "QEMU exec taken from the wrapper's timeline" \
  [ "$(jq -r "$run.sources.qemu_exec" "$work/profile.json")" = wrapper-timeline ]
check "the hook's device preparation and the wrapper are phases of the profile, in order" \
  [ "$(jq -r "[$run.phases[] | select(.stop | not) | .id] | join(\",\")" "$work/profile.json")" = \
    "before-hook,hook-setup,devices,hugepages,before-exec,wrapper,init,bios" ]
# The stop (issue 20): the destroy call, QEMU's exit (pidfd), the hook's release end (timeline),
# the call's return, in that order; the device release (restore) among its phases.
stop=$(jq -c "$run.points_us | [.stop_call, .qemu_signaled, .qemu_gone, .release_begin, .release_devices_begin, .release_devices_end, .release_end, .stop_returned]" "$work/profile.json")
jq -e 'map(select(. != null)) as $p | ($p | length) >= 7 and $p == ($p | sort) and .[0] != null and .[2] != null and .[3] != null and .[6] != null and .[7] != null' <<<"$stop" > /dev/null
verdict "the stop's points, in order: call, QEMU's signal and exit, release begin/devices/end, return ($stop)"
phases=$(jq -c "[$run.phases[] | select(.stop) | [.id, .ms]]" "$work/profile.json")
jq -e 'map(.[0]) | index("qemu-exit") != null and index("release-devices") != null and index("after-release") != null' <<<"$phases" > /dev/null
verdict "the stop's phases: QEMU's exit, the hook's device release, libvirt after it ($phases)"
dma=$(jq -c "$run.vfio_dma" "$work/profile.json")
[ "$(jq '.visible and .map > 0 and .remap <= .map' <<<"$dma")" = true ]; verdict "VFIO DMA maps counted through libvirt ($dma)"
! virsh domstate lab-profile > /dev/null 2>&1; verdict "domain gone after profiling"
[ "$(drv $dev)" = e1000e ]; verdict "$dev back on e1000e (the hook's release, restore)"
finish
