#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Ten domains start and stop at once, again and again, for a bounded time, through the real hook
# binary: emulated devices (fakesys, 50 ms resets), the pool on (a real hugetlbfs pool of 4 MiB
# slots, scrubbed meanwhile by `fastpass pool scrub`), five domains that take slots and five
# whose hugepages the hook reserves on an emulated node. Afterwards: nr_hugepages (emulated and
# real) as before, no slot lost, none handed out dirty, no device left bound to vfio-pci without
# a claim, nothing left claimed or recorded.
# The kernel's AppArmor is emulated by a directory beside the emulated sysfs (the sysfs root is a
# directory of links into fakesys), virt-aa-helper by a script.
# usage: hook-stress.sh FASTPASS HOOK FAKESYS [SECONDS]
set -u
fp=$(realpath "$1"); hook=$(realpath "$2"); fakesys=$(realpath "$3"); seconds=${4:-20}
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" -ne 0 ] || [ ! -d /sys/kernel/mm/hugepages/hugepages-2048kB ] || [ ! -e /dev/fuse ]; then
  echo "SKIP: needs root, 2 MiB hugepages and /dev/fuse"; exit 77
fi
command -v python3 >/dev/null || { echo "SKIP: needs python3 (to map slots as a guest would)"; exit 77; }
real_nr=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
nr0=$(cat $real_nr)
work=$(mktemp -d); chmod 0711 "$work"
cleanup() {
  [ -n "${scrubber:-}" ] && kill "$scrubber" 2>/dev/null
  fusermount3 -u -z "$work/fsys" 2>/dev/null
  "$fp" pool drain --dir "$D" >/dev/null 2>&1
  umount -l "$work/huge" 2>/dev/null
  rm -rf "$work"
  [ "$(cat $real_nr)" -gt "$nr0" ] && echo "$nr0" > $real_nr
}
trap cleanup EXIT
mkdir -p "$work/huge" "$work/fsys" "$work/root/kernel/security/apparmor" "$work/run"
mount -t hugetlbfs -o pagesize=2M none "$work/huge" || { echo "SKIP: cannot mount hugetlbfs"; exit 77; }
D=$work/huge/pool

# Ten devices, each alone in its group, and one NUMA node of 16 GiB with 8 pages of 2 MiB.
{
  echo '{"devices": ['
  for i in $(seq 1 10); do
    printf '{"bdf": "0000:%02x:00.0", "vendor": "0x10de", "device": "0x20b0", "class": "0x030200", "numa_node": 0, "iommu_group": %d, "driver": "nvidia", "reset_method": "flr"}%s\n' \
      "$i" "$((10 + i))" "$([ "$i" -lt 10 ] && echo ,)"
  done
  echo '], "nodes": [{"id": 0, "cpulist": "0-1", "memory_mb": 16384, "hugepages": {"2048kB": 8}}]}'
} > "$work/topo.json"
"$fakesys" --topology "$work/topo.json" --reset-ms 50 "$work/fsys" || exit 1
for d in bus devices; do ln -s "$work/fsys/$d" "$work/root/$d"; done
ln -s "$work/fsys/kernel/iommu_groups" "$work/root/kernel/iommu_groups"
fake_nr=$work/fsys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages
fake0=$(cat "$fake_nr")
drv() { basename "$(readlink "$work/fsys/bus/pci/devices/$1/driver" 2>/dev/null)" 2>/dev/null || echo none; }

printf '#!/bin/sh\ncat > /dev/null\n' > "$work/aa-helper"; chmod 0755 "$work/aa-helper"
printf '{"sysfs_root": "%s/root", "run_dir": "%s/run", "log_file": "%s/hook.log", "pool_dir": "%s", "apparmor_helper": "%s/aa-helper", "libvirt_qemu_conf": "%s/no-qemu.conf", "use_pool": true, "device_timeout_ms": 5000}\n' \
  "$work" "$work" "$work" "$D" "$work" "$work" > "$work/cfg.json"
"$fp" pool fill --dir "$D" --size 4M --count 4 >/dev/null || { echo "FAIL: cannot fill a pool"; exit 1; }
pool_nr=$(cat $real_nr)
slots() { ls "$D" | grep -c '^slot-'; }
slots0=$(slots)

uuid() { printf '00000000-0000-4000-8000-%012d' "$1"; }
domain() { # I SECLABEL: d1-d5 take 4 MiB slots; d6-d10 hugepages on node 0, reserved by the hook
  local mem=4 numa=""
  if [ "$1" -gt 5 ]; then mem=$((16 * $1)); numa="<numatune><memory mode='strict' nodeset='0'/></numatune>"; fi
  printf "<domain type='kvm'><name>d%s</name><uuid>%s</uuid><metadata><fastpass:prepare xmlns:fastpass='https://fastpass.dev/xmlns/prepare/1'><fastpass:device address='0000:%02x:00.0'/></fastpass:prepare></metadata><memory unit='MiB'>%s</memory><memoryBacking><hugepages><page size='2048' unit='KiB'/></hugepages></memoryBacking>%s<os><type>hvm</type></os>%s</domain>\n" \
    "$1" "$(uuid "$1")" "$1" "$mem" "$numa" "$2"
}
for i in $(seq 1 10); do
  domain "$i" "" > "$work/d$i.xml"
  domain "$i" "<seclabel type='dynamic' model='apparmor' relabel='yes'><label>libvirt-$(uuid "$i")</label></seclabel>" > "$work/d$i.live.xml"
done
run_hook() { FASTPASS_CONFIG=$work/cfg.json FASTPASS_SYSFS_ROOT=$work/root "$hook" "$@"; }
# As the guest would: a slot handed out must read zero; then the guest writes all over it.
guest() {
  python3 - "$1" <<'PY'
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
size = os.fstat(fd).st_size
m = mmap.mmap(fd, size)
dirty = any(m[i] != 0 for i in range(0, size, 4096))
m[0:size] = b'\xab' * size
print("dirty" if dirty else "clean")
PY
}

( while :; do "$fp" pool scrub --dir "$D" >/dev/null 2>&1; sleep 0.3; done ) &
scrubber=$!
end=$(( $(date +%s) + seconds ))
for i in $(seq 1 10); do
  (
    while [ "$(date +%s)" -lt "$end" ]; do
      if run_hook "d$i" prepare begin - < "$work/d$i.xml" >/dev/null 2>&1; then
        echo prepared >> "$work/count.$i"
      else
        echo "d$i: prepare refused" >> "$work/problems"
      fi
      run_hook "d$i" start begin - < "$work/d$i.live.xml" >/dev/null 2>&1
      claim=$D/claim-$(uuid "$i")
      if [ -e "$claim" ]; then
        state=$(guest "$claim")
        echo "$state" >> "$work/slots.$i"
        [ "$state" = clean ] || echo "d$i: slot handed out dirty" >> "$work/problems"
      fi
      run_hook "d$i" release end - < "$work/d$i.live.xml" >/dev/null 2>&1
    done
  ) &
  workers+=" $!"
done
wait $workers
kill "$scrubber"; wait "$scrubber" 2>/dev/null; scrubber=
"$fp" pool scrub --dir "$D" >/dev/null 2>&1

starts=$(cat "$work"/count.* 2>/dev/null | wc -l)
given=$(cat "$work"/slots.* 2>/dev/null | wc -l)
echo "$seconds s: $starts starts and stops, $given slots handed out; emulated nr_hugepages $fake0 -> $(cat "$fake_nr"), real $pool_nr -> $(cat $real_nr); slots $slots0 -> $(slots)"
[ -s "$work/problems" ] && sort "$work/problems" | uniq -c | head
check "every start prepared (each domain has its own device)" bash -c "! grep -q 'prepare refused' '$work/problems' 2>/dev/null"
check "ran: at least one start and stop per domain" [ "$(ls "$work"/count.* 2>/dev/null | wc -l)" -eq 10 ]
check "slots were handed out" [ "$given" -gt 0 ]
check "no slot handed out dirty" bash -c "! grep -q dirty '$work/problems' 2>/dev/null"
check "emulated nr_hugepages back at its baseline ($(cat "$fake_nr") = $fake0)" [ "$(cat "$fake_nr")" -eq "$fake0" ]
check "real nr_hugepages as the pool left it ($(cat $real_nr) = $pool_nr)" [ "$(cat $real_nr)" -eq "$pool_nr" ]
check "no slot lost ($(slots) of $slots0)" [ "$(slots)" -eq "$slots0" ]
check "every slot clean again, none claimed" [ "$(ls "$D" | grep -c '\.clean$')" -eq "$slots0" ]
check "no claim-* name left" bash -c "! ls '$D' | grep -q '^claim-'"
check "no hugepage record left" bash -c "[ -z \"\$(ls '$work/run/hugepages' 2>/dev/null)\" ]"
bad=""
for i in $(seq 1 10); do
  bdf=$(printf '0000:%02x:00.0' "$i")
  state=$(cat "$work/run/devices/$bdf.json" 2>/dev/null)
  if [ "$(drv "$bdf")" = vfio-pci ] && [ -z "$state" ]; then bad+=" $bdf(unclaimed)"; fi
  if echo "$state" | grep -q '"owner": *"'; then bad+=" $bdf(still owned)"; fi
done
check "no device on vfio-pci without a claim, none still owned${bad:+:$bad}" [ -z "$bad" ]
finish
