#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Pool slots go only to domains that libvirt confines with a profile of their own, and a departed
# tenant's slot is root's at once. The real hook binary on a real hugetlbfs pool, tried as the
# real QEMU user (libvirt-qemu): prepare begin claims a slot only on an AppArmor host whose
# qemu.conf keeps AppArmor on, and leaves it root's; start begin gives it to QEMU's user only
# when the live XML carries the domain's own AppArmor profile, else takes it back; release end
# takes it back first, even when the device release then runs into the hook's deadline, and
# whatever use_pool says. This host's kernel AppArmor is emulated by a directory under the
# sysfs root (and FASTPASS_SYSFS_ROOT for the hook binary); virt-aa-helper by a script that
# records its arguments.
# usage: hook-pool.sh FASTPASS HOOK FAKESYS
set -u
fp=$(realpath "$1"); hook=$(realpath "$2"); fakesys=$(realpath "$3")
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" -ne 0 ] || [ ! -d /sys/kernel/mm/hugepages/hugepages-2048kB ] || [ ! -e /dev/fuse ]; then
  echo "SKIP: needs root, 2 MiB hugepages and /dev/fuse"; exit 77
fi
if ! id libvirt-qemu >/dev/null 2>&1 || ! command -v setpriv >/dev/null; then
  echo "SKIP: needs the libvirt-qemu user (libvirt-daemon-system) and setpriv"; exit 77
fi
nr_file=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
nr0=$(cat $nr_file)
work=$(mktemp -d); chmod 0711 "$work"
cleanup() {
  fusermount3 -u -z "$work/fsys" 2>/dev/null
  "$fp" pool drain --dir "$D" >/dev/null 2>&1
  umount -l "$work/huge" 2>/dev/null
  rm -rf "$work"
  [ "$(cat $nr_file)" -gt "$nr0" ] && echo "$nr0" > $nr_file
}
trap cleanup EXIT
mkdir -p "$work/huge" "$work/sys/kernel/security/apparmor" "$work/run"
mount -t hugetlbfs -o pagesize=2M none "$work/huge" || { echo "SKIP: cannot mount hugetlbfs"; exit 77; }
D=$work/huge/pool
U=0a0a0a0a-0000-4000-8000-00000000000a
qgid=$(id -g libvirt-qemu)
as_qemu() { setpriv --reuid=libvirt-qemu --regid="$qgid" --clear-groups "$@"; }
can_open() { as_qemu sh -c 'exec 3<>"$1"' _ "$1" 2>/dev/null; }
mode_of() { stat -c '%a %U' "$1" 2>/dev/null || echo absent; }
scrub() { "$fp" pool scrub --dir "$D" >/dev/null 2>&1; } # returned slots -> clean again
held() { ls -a "$D" | grep -i "claimed\.$U\$"; } # the slot U holds, by its pool name
cat > "$work/aa-helper" <<EOF
#!/bin/sh
echo "\$*" >> "$work/aa.log"
cat > /dev/null
EOF
chmod 0755 "$work/aa-helper"
echo '# security_driver = "selinux"' > "$work/qemu.conf"
config() { # SYSFS-ROOT JSON-FRAGMENT
  printf '{"sysfs_root": "%s", "run_dir": "%s/run", "log_file": "%s/hook.log", "pool_dir": "%s", "apparmor_helper": "%s/aa-helper", "libvirt_qemu_conf": "%s/qemu.conf", "qemu_user": "libvirt-qemu"%s}\n' \
    "$1" "$work" "$work" "$D" "$work" "$work" "${2:+, $2}" > "$work/cfg.json"
}
run_hook() { FASTPASS_CONFIG=$work/cfg.json FASTPASS_SYSFS_ROOT=$sysroot "$hook" "$@"; }
domain() { # SECLABELS [DEVICE]: the domain as libvirt passes it (live XML with SECLABELS)
  local dev=""
  [ -n "${2:-}" ] && dev="<metadata><fastpass:prepare xmlns:fastpass='https://fastpass.dev/xmlns/prepare/1'><fastpass:device address='$2'/></fastpass:prepare></metadata>"
  printf "<domain type='kvm'><name>vm</name><uuid>%s</uuid>%s<memory unit='KiB'>2048</memory><memoryBacking><hugepages><page size='2048' unit='KiB'/></hugepages></memoryBacking><os><type>hvm</type></os>%s</domain>\n" "$U" "$dev" "$1"
}
own="<seclabel type='dynamic' model='apparmor' relabel='yes'><label>libvirt-$U</label><imagelabel>libvirt-$U</imagelabel></seclabel>"
selinux="<seclabel type='dynamic' model='selinux' relabel='yes'><label>system_u:system_r:svirt_t:s0:c1,c2</label></seclabel>"

"$fp" pool fill --dir "$D" --size 2M --count 4 >/dev/null || { echo "FAIL: cannot fill a pool"; exit 1; }
sysroot=$work/sys
config "$sysroot"
domain "" > "$work/inactive.xml"

# An AppArmor host, the domain confined by its own profile: claimed at prepare (still root's:
# QEMU's user cannot open it yet), given at start begin and added to that profile alone.
run_hook vm prepare begin - < "$work/inactive.xml" >/dev/null 2>&1; rc=$?
slot=$(held)
mode=$(mode_of "$D/$slot")
[ $rc -eq 0 ] && [ -n "$slot" ] && [ "$mode" = "600 root" ]; verdict "AppArmor host: prepare begin claims a slot, still root's ($mode)"
can_open "$D/claim-$U"; [ $? -ne 0 ]; verdict "after prepare begin: libvirt-qemu cannot open claim-$U"
domain "$own" > "$work/live.xml"
run_hook vm start begin - < "$work/live.xml" >/dev/null 2>&1; rc=$?
mode=$(mode_of "$D/claim-$U")
[ $rc -eq 0 ] && [ "$mode" = "600 libvirt-qemu" ]; verdict "own AppArmor profile: start begin gives the slot to libvirt-qemu ($mode)"
check "own AppArmor profile: virt-aa-helper adds claim-$U to libvirt-$U alone" grep -qx -- "-r -u libvirt-$U -F $D/claim-$U" "$work/aa.log"
check "own AppArmor profile: libvirt-qemu opens claim-$U" can_open "$D/claim-$U"
FASTPASS_CONFIG=$work/cfg.json "$fp" pool status --dir "$D" 2>&1 | grep -q '^slots to domains: given'; verdict "AppArmor host: pool status says slots are given"
run_hook vm release end - < "$work/live.xml" >/dev/null 2>&1
[ -z "$(held)" ] && ! can_open "$D/claim-$U"; verdict "release end: the slot is taken back (libvirt-qemu cannot open claim-$U)"

# Live XML without the domain's own AppArmor profile: the slot is taken back at start begin.
for case in none type-none selinux other; do
  case $case in
    none) labels="" ;;
    type-none) labels="<seclabel type='none'/>" ;;
    selinux) labels=$selinux ;;
    other) labels="<seclabel type='static' model='apparmor'><label>libvirt-0b0b0b0b-0000-4000-8000-00000000000b</label></seclabel>" ;;
  esac
  : > "$work/hook.log"; : > "$work/aa.log"
  scrub
  run_hook vm prepare begin - < "$work/inactive.xml" >/dev/null 2>&1
  claimed=$(held)
  domain "$labels" > "$work/live.xml"
  run_hook vm start begin - < "$work/live.xml" >/dev/null 2>&1; rc=$?
  now=$(mode_of "$D/$(held)")
  [ -n "$claimed" ] && [ $rc -eq 0 ] && [ -z "$(held)" ]; verdict "live XML '$case': start begin exit 0, the slot is no longer the domain's (claimed $claimed, now ${now})"
  mode=$(mode_of "$D/claim-$U")
  can_open "$D/claim-$U"; [ $? -ne 0 ]; verdict "live XML '$case': libvirt-qemu cannot open claim-$U ($mode)"
  [ "$(grep -c 'slot taken back' "$work/hook.log")" -eq 1 ] && [ ! -s "$work/aa.log" ]; verdict "live XML '$case': said once, no AppArmor rule written"
  run_hook vm release end - < "$work/live.xml" >/dev/null 2>&1
done

# No per-domain confinement on the host: prepare begin claims nothing.
echo 'security_driver = "none"' > "$work/qemu.conf"
: > "$work/hook.log"
run_hook vm prepare begin - < "$work/inactive.xml" >/dev/null 2>&1
[ -z "$(held)" ] && grep -q 'pool: not used: .*security_driver to "none"' "$work/hook.log"; verdict "qemu.conf security_driver = \"none\": prepare begin claims no slot, says why"
status=$(FASTPASS_CONFIG=$work/cfg.json "$fp" pool status --dir "$D" 2>&1)
said=$(grep '^slots' <<<"$status")
grep -q '^slots to domains: none: .*security_driver to "none"' <<<"$status"; verdict "security_driver = \"none\": pool status says why no domain gets a slot ($said)"
FASTPASS_CONFIG=$work/cfg.json "$fp" pool status --json --dir "$D" 2>/dev/null | grep -Eq '"slots_given": ?false'; verdict "security_driver = \"none\": pool status --json: slots_given false"
run_hook vm release end - < "$work/inactive.xml" >/dev/null 2>&1
echo '# security_driver = "selinux"' > "$work/qemu.conf"
rmdir "$work/sys/kernel/security/apparmor"
: > "$work/hook.log"
run_hook vm prepare begin - < "$work/inactive.xml" >/dev/null 2>&1
[ -z "$(held)" ] && grep -q 'pool: not used: the kernel has no AppArmor' "$work/hook.log"; verdict "kernel without AppArmor: prepare begin claims no slot, says why"
FASTPASS_CONFIG=$work/cfg.json "$fp" pool status --dir "$D" 2>&1 | grep -q '^slots to domains: none: the kernel has no AppArmor'; verdict "kernel without AppArmor: pool status says why no domain gets a slot"
run_hook vm release end - < "$work/inactive.xml" >/dev/null 2>&1
mkdir "$work/sys/kernel/security/apparmor"

# release end takes the slot back whatever use_pool says now.
scrub
run_hook vm prepare begin - < "$work/inactive.xml" >/dev/null 2>&1
domain "$own" > "$work/live.xml"
run_hook vm start begin - < "$work/live.xml" >/dev/null 2>&1
given=$(mode_of "$D/claim-$U")
config "$sysroot" '"use_pool": false'
run_hook vm release end - < "$work/live.xml" >/dev/null 2>&1
[ "$given" = "600 libvirt-qemu" ] && [ -z "$(held)" ] && ! can_open "$D/claim-$U"; verdict "use_pool switched off before release end: the slot given ($given) is still taken back"

# release end takes the slot back before the devices: a hook killed (kill -9, or its own
# deadline) during a device release (a reset of 2.5 s) leaves no slot with QEMU's user.
mkdir -p "$work/fsys"
cat > "$work/topo.json" <<'EOF'
{"devices": [{"bdf": "0000:01:00.0", "vendor": "0x8086", "device": "0x10d3", "class": "0x020000",
              "numa_node": 0, "iommu_group": 1, "driver": "e1000e", "reset_method": "flr"}]}
EOF
"$fakesys" --topology "$work/topo.json" --reset-ms 2500 "$work/fsys" || exit 1
sysroot=$work/fsys
config "$sysroot"
domain "$own" 0000:01:00.0 > "$work/dev.xml"
run_hook vm prepare begin - < "$work/dev.xml" >/dev/null 2>&1; rc=$?
scrub
"$fp" pool claim --dir "$D" --size 2M --owner $U --user libvirt-qemu >/dev/null
given=$(mode_of "$D/claim-$U")
run_hook vm release end - < "$work/dev.xml" >/dev/null 2>&1 &
hookpid=$!
sleep 1.2
resets=$(cat "$work/fsys/bus/pci/devices/0000:01:00.0/fakesys_reset_count")
kill -9 $hookpid; wait $hookpid 2>/dev/null
echo "killed the hook during its device release (resets so far: $resets)"
[ $rc -eq 0 ] && [ "$given" = "600 libvirt-qemu" ] && [ -z "$(held)" ] && ! can_open "$D/claim-$U"; verdict "hook killed during the device release: the slot given ($given) was taken back first"
finish
