#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The hook's rules, without libvirtd: it never talks to libvirt, every other operation is free,
# a hung device cannot hold it (or libvirt's pipes) past its deadline, a bad config is named
# and survived, optional speed-ups that fail let the VM start, restore/migrate XML is never empty.
# usage: hook.sh HOOK FAKESYS SOURCE_DIR [FASTPASS_CLI]
set -u
hook=$(realpath "$1"); fakesys=$(realpath "$2"); src=$3
fp=${4:-$(dirname "$hook")/../launcher/fastpass}
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" -ne 0 ] || [ ! -e /dev/fuse ]; then echo "SKIP: needs root and /dev/fuse"; exit 77; fi
work=$(mktemp -d); sys=$work/sys
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; fusermount3 -u -z "$sys" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$sys"
"$fakesys" --topology "$src/tests/fakesys/topology-faults.json" "$sys" || exit 1
drv() { basename "$(readlink "$sys/bus/pci/devices/$1/driver" 2>/dev/null)" 2>/dev/null || echo none; }

mkdir -p "$work/dev/vfio" "$work/status"
config() { # JSON-FRAGMENT
  printf '{"sysfs_root": "%s", "run_dir": "%s/run", "log_file": "%s/hook.log", "dev_root": "%s/dev", "libvirt_status_dir": "%s/status"%s}\n' "$sys" "$work" "$work" "$work" "$work" "${1:+, $1}" > "$work/cfg.json"
}
domain() { # NAME DEVICE... (declared in the fastpass metadata); $uuid when set
  local d=""; for a in "${@:2}"; do d+="<fastpass:device address='$a'/>"; done
  printf "<domain type='qemu'><name>%s</name>${uuid:+<uuid>$uuid</uuid>}<metadata><fastpass:prepare xmlns:fastpass='https://fastpass.dev/xmlns/prepare/1'>%s</fastpass:prepare></metadata><memory unit='MiB'>256</memory><os><type>hvm</type></os></domain>\n" "$1" "$d"
}
run_hook() { FASTPASS_CONFIG=$work/cfg.json "$hook" "$@"; }
resets() { cat "$sys/bus/pci/devices/$1/fakesys_reset_count"; }
claimed() { ls "$work/run/devices" 2>/dev/null | grep -F "$1"; }
uuid=

config
# Never calls back into libvirt: the binary does not even link it, and it opens no socket.
module=$(dirname "$hook")/fastpass-hook-run.so
check "hook binary and its module do not link libvirt" bash -c "[ -f '$module' ] && ! ldd '$hook' '$module' | grep -q libvirt"
domain vm1 0000:01:00.0 > "$work/vm1.xml"
if command -v strace >/dev/null; then
  FASTPASS_CONFIG=$work/cfg.json strace -f -qq -e trace=connect,socket -o "$work/strace" "$hook" vm1 prepare begin - < "$work/vm1.xml" >/dev/null 2>&1
  check "hook opens no socket during prepare (strace)" bash -c "! grep -q 'AF_UNIX\|AF_INET' '$work/strace' || ! grep -v journal '$work/strace' | grep -q 'connect('"
  FASTPASS_CONFIG=$work/cfg.json "$hook" vm1 release end - < "$work/vm1.xml" >/dev/null 2>&1
fi

# Other operations: exit 0, no output, nothing read.
for op in "start begin" "started begin" "stopped end" "reconnect begin" "attach begin" "migrate end"; do
  out=$(run_hook vm1 $op - < "$work/vm1.xml" 2>&1); rc=$?
  check "operation '$op': exit 0, no output" [ $rc -eq 0 -a -z "$out" ]
done

# The phases with nothing to do load nothing but libc (libvirt runs the hook at every phase of
# every domain); prepare begin loads the module and the libraries it needs.
heavy='libxml2|libicu|libjson-c|libglib|libgio'
libs_loaded() { LD_DEBUG=libs FASTPASS_CONFIG=$work/cfg.json "$hook" "$@" < "$work/vm1.xml" 2>&1 >/dev/null | grep -o 'calling init: [^ ]*' || true; }
# (start begin has work where the kernel has AppArmor: libvirt writes the domain's profile then.)
nothing=("started begin" "stopped end" "release begin")
[ -e /sys/kernel/security/apparmor ] || nothing+=("start begin")
for op in "${nothing[@]}"; do
  loaded=$(libs_loaded vm1 $op -)
  n=$(echo "$loaded" | grep -c init)
  ! echo "$loaded" | grep -Eq "$heavy" && echo "$loaded" | grep -q libc.so; verdict "operation '$op' loads no library but libc ($n loaded)"
done
loaded=$(libs_loaded vm1 prepare begin -)
echo "$loaded" | grep -q libxml2 && echo "$loaded" | grep -q fastpass-hook-run.so; verdict "prepare begin loads the module and libxml2"
run_hook vm1 release end - < "$work/vm1.xml" >/dev/null 2>&1

# The hook binary without its module (a copy elsewhere, nothing installed): a start it cannot
# prepare is refused with one line, restore XML passes through, other phases still cost nothing.
mkdir -p "$work/alone"; cp "$hook" "$work/alone/fastpass"
if [ ! -e /usr/local/libexec/fastpass/fastpass-hook-run.so ] && [ ! -e /usr/libexec/fastpass/fastpass-hook-run.so ]; then
  FASTPASS_CONFIG=$work/cfg.json "$work/alone/fastpass" vm1 prepare begin - < "$work/vm1.xml" > "$work/out" 2> "$work/err"; rc=$?
  [ $rc -eq 1 ] && [ "$(wc -l < "$work/err")" -eq 1 ] && grep -q "fastpass: cannot load the hook's code: .*fastpass-hook-run.so" "$work/err"; verdict "module missing: prepare begin refused (exit 1), one line naming it"
  check "module missing: the device was not touched (still warm on vfio-pci)" [ "$(drv 0000:01:00.0)" = vfio-pci ]
  FASTPASS_CONFIG=$work/cfg.json "$work/alone/fastpass" vm1 restore begin - < "$work/vm1.xml" > "$work/xml" 2>/dev/null; rc=$?
  [ $rc -eq 0 ] && cmp -s "$work/xml" "$work/vm1.xml"; verdict "module missing: restore begin passes the XML on unchanged"
  FASTPASS_CONFIG=$work/cfg.json "$work/alone/fastpass" vm1 started begin - < "$work/vm1.xml" > "$work/out" 2>&1; rc=$?
  [ $rc -eq 0 ] && [ ! -s "$work/out" ]; verdict "module missing: started begin exit 0, silent"
else
  echo "note: a fastpass hook module is installed on this host; the module-missing checks need a host without one"
fi

# prepare begin / release end with a healthy device.
run_hook vm1 prepare begin - < "$work/vm1.xml" > "$work/out" 2>&1; rc=$?
[ $rc -eq 0 ] && [ "$(drv 0000:01:00.0)" = vfio-pci ]; verdict "prepare begin: exit 0, device on vfio-pci"
check "prepare begin: every log line names the domain" bash -c "! grep -v 'fastpass\[vm1\]' '$work/hook.log' | grep -q ."
before=$(resets 0000:01:00.0)
: > "$work/hook.log"
run_hook vm1 release end - < "$work/vm1.xml" > /dev/null 2>&1; rc=$?
[ $rc -eq 0 ] && [ "$(drv 0000:01:00.0)" = vfio-pci ]; verdict "release end: exit 0, kept warm on vfio-pci"
# The kernel reset it when QEMU closed it, or did not: it does not say (docs/security.md, "Reset
# at release"). So the release resets it again, and its log says so and why, once for the set.
msg="resets $before -> $(resets 0000:01:00.0)"
[ "$(resets 0000:01:00.0)" -eq $((before + 1)) ] &&
  [ "$(grep -c 'release: 1 device kept on vfio-pci and reset again for the next tenant: the kernel does not report whether its reset at QEMU.s close ran or worked' "$work/hook.log")" -eq 1 ]
verdict "release end: reset again, one log line saying why ($msg)"
# The stop in the hook's timeline, as the profiler reads it (the domain has no UUID: its name).
if command -v jq > /dev/null; then
  "$fp" profile --recorded --run-dir "$work/run" --json vm1 > "$work/rec.json" 2> /dev/null
  msg=$(jq -c '.runs[0].points_us | [.release_begin, .release_devices_begin, .release_devices_end, .release_end] | map(. != null)' "$work/rec.json" 2>&1)
  [ "$msg" = '[true,true,true,true]' ] &&
    jq -e '.runs[0].points_us | .release_begin <= .release_devices_begin and .release_devices_begin <= .release_devices_end and .release_devices_end <= .release_end' "$work/rec.json" > /dev/null &&
    jq -e '[.runs[0].phases[] | select(.stop) | .id] == ["release-setup", "release-devices", "release-hugepages"]' "$work/rec.json" > /dev/null
  verdict "release end: its begin, device release and end in the timeline, in order, as stop phases ($msg)"
else
  echo "note: no jq; the release's timeline is not checked"
fi

# A device another domain holds: refused with one line, nothing changed.
run_hook vm1 prepare begin - < "$work/vm1.xml" > /dev/null 2>&1
domain vm2 0000:01:00.0 > "$work/vm2.xml"
run_hook vm2 prepare begin - < "$work/vm2.xml" > "$work/out" 2> "$work/err"; rc=$?
check "device held by another domain: exit 1" [ $rc -eq 1 ]
[ "$(wc -l < "$work/err")" -eq 1 ] && grep -q "0000:01:00.0 is in use by domain vm1" "$work/err"; verdict "device held by another domain: one stderr line naming the holder"
run_hook vm1 release end - < "$work/vm1.xml" > /dev/null 2>&1

# A device another VM holds (its VFIO group open, no fastpass claim): the start is refused with
# one line naming the holder, the device is not reset, and the release end libvirt runs after the
# refused start touches nothing either.
config
echo vfio-pci > "$sys/bus/pci/devices/0000:01:00.0/driver_override"
[ "$(drv 0000:01:00.0)" = vfio-pci ] || { echo 0000:01:00.0 > "$sys/bus/pci/drivers/$(drv 0000:01:00.0)/unbind"; echo 0000:01:00.0 > "$sys/bus/pci/drivers_probe"; }
: > "$work/dev/vfio/20"; sleep 600 < "$work/dev/vfio/20" & holder=$!; pids+=($holder)
before=$(resets 0000:01:00.0)
domain vm8 0000:01:00.0 > "$work/vm8.xml"
run_hook vm8 prepare begin - < "$work/vm8.xml" > "$work/out" 2> "$work/err"; rc=$?
msg=$(cat "$work/err")
[ $rc -eq 1 ] && [ "$(wc -l < "$work/err")" -eq 1 ] && grep -q "0000:01:00.0 is in use by pid $holder (sleep)" "$work/err"; verdict "device held by a VM without a claim: start refused, one line naming pid ($msg)"
run_hook vm8 release end - < "$work/vm8.xml" > /dev/null 2>&1
msg="resets $before -> $(resets 0000:01:00.0), $(drv 0000:01:00.0)"
[ "$(resets 0000:01:00.0)" -eq "$before" ] && [ "$(drv 0000:01:00.0)" = vfio-pci ] && ! grep -q vm8 "$work/run/devices/0000:01:00.0.json" 2>/dev/null; verdict "device held by a VM: not reset at prepare begin nor at the release end after it, no claim for vm8 ($msg)"
kill $holder; wait $holder 2>/dev/null; rm -f "$work/dev/vfio/20"
echo > "$sys/bus/pci/devices/0000:01:00.0/driver_override"

# Hot-unplug: a device claimed at start and gone from the live XML at stop is released too (by
# the domain's UUID), back to its host driver; the claims name the UUID.
uuid=7a1c0c9e-1111-4222-8333-444444444444
domain vm9 0000:01:00.0 0000:06:00.0 > "$work/vm9.xml"
run_hook vm9 prepare begin - < "$work/vm9.xml" > /dev/null 2>&1; rc=$?
[ $rc -eq 0 ] && grep -q "$uuid" "$work/run/devices/0000:06:00.0.json"; verdict "hot-unplug: both prepared, claims carry the UUID"
domain vm9 0000:01:00.0 > "$work/vm9-live.xml"
run_hook vm9 release end - < "$work/vm9-live.xml" > /dev/null 2>&1
[ "$(drv 0000:06:00.0)" = nvidia ] && [ -z "$(claimed 0000:06:00.0)" ]; verdict "hot-unplug: the unplugged device's claim released at release end (back on nvidia, no claim)"
check "hot-unplug: the device still in the XML released as usual (warm, free)" grep -q '"owner": null' "$work/run/devices/0000:01:00.0.json"
uuid=

# The hook's own deadline (SIGALRM) in the middle of a reset: the claims written ahead let
# `fastpass recover` put every device back on its original driver.
config '"device_timeout_ms": 60000, "hook_deadline_ms": 20000'
"$fp" release --config "$work/cfg.json" --mode restore 0000:01:00.0 > /dev/null 2>&1
domain vm10 0000:01:00.0 0000:03:00.0 > "$work/vm10.xml"
FASTPASS_CONFIG=$work/cfg.json "$hook" vm10 prepare begin - < "$work/vm10.xml" > /dev/null 2>&1 & h=$!
for i in $(seq 1 500); do [ "$(resets 0000:03:00.0)" -gt 0 ] 2>/dev/null && grep -q reset-start "$sys/fakesys.log" && break; sleep 0.02; done
sleep 0.3; kill -ALRM $h; wait $h; rc=$?
[ $rc -ne 0 ] && grep -q '"phase": "preparing"' "$work/run/devices/0000:03:00.0.json"; verdict "hook deadline mid-reset: hook gone, the intent is on record"
# The kernel finishes (here: the writer stuck in the hung reset is released), then recovery.
for p in $(ls /proc | grep -E '^[0-9]+$'); do ls -l /proc/$p/fd 2>/dev/null | grep -q "0000:03:00.0/reset$" && kill $p; done
sleep 0.5
"$fp" recover --config "$work/cfg.json" > "$work/out" 2> "$work/err"; rc=$?
msg=$(cat "$work/err")
[ $rc -eq 0 ] && [ "$(drv 0000:01:00.0) $(drv 0000:03:00.0)" = "nvidia nvidia" ] && [ -z "$(claimed 0000:0)" ]; verdict "hook deadline, then fastpass recover: both on nvidia, no claim left ($msg)"

# The host's own device named in a domain's metadata: refused with one line, nothing written. (A
# plain directory stands for sysfs: the emulator has no disks.)
plain=$work/plain; h=0000:00:17.0
read -r mm mp < <(awk '$5=="/" {print $3, $5; exit}' /proc/self/mountinfo)
blk=$plain/bus/pci/devices/$h/ata1/host0/target0:0:0/0:0:0:0/block/sda
mkdir -p "$blk" "$plain/kernel/iommu_groups/3/devices"
echo '(null)' > "$plain/bus/pci/devices/$h/driver_override"
ln -s ../../../bus/pci/drivers/ahci "$plain/bus/pci/devices/$h/driver"
ln -s ../../../kernel/iommu_groups/3 "$plain/bus/pci/devices/$h/iommu_group"
: > "$plain/kernel/iommu_groups/3/devices/$h"
echo "$mm" > "$blk/dev"; ln -s ../../../../../../../../../../class/block "$blk/subsystem"
printf '{"sysfs_root": "%s", "run_dir": "%s/run-plain", "dev_root": "%s/dev", "libvirt_status_dir": "%s/status"}\n' "$plain" "$work" "$work" "$work" > "$work/cfg.json"
domain vm11 $h > "$work/vm11.xml"
run_hook vm11 prepare begin - < "$work/vm11.xml" > /dev/null 2> "$work/err"; rc=$?
msg=$(cat "$work/err")
[ $rc -eq 1 ] && [ "$(wc -l < "$work/err")" -eq 1 ] && grep -qF "$h holds the host's mounted filesystem $mp (sda): refusing to unbind it" "$work/err" && [ "$(cat "$plain/bus/pci/devices/$h/driver_override")" = "(null)" ]; verdict "host's disk controller in the metadata: start refused, one line, nothing written ($msg)"

# A hung reset: bounded by the deadline, and nothing keeps libvirt's pipe open afterwards.
config '"device_timeout_ms": 1500'
domain vm3 0000:01:00.0 0000:03:00.0 > "$work/vm3.xml"
found=$(drv 0000:01:00.0)
start=$(date +%s%N)
( run_hook vm3 prepare begin - < "$work/vm3.xml" 2>&1; echo "rc=$?" ) | cat > "$work/out"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "hung reset: hook and its pipe finished within deadline + slack ($ms ms, deadline 1500 ms)" [ "$ms" -lt 6000 ]
check "hung reset: start refused (exit 1)" grep -q "rc=1" "$work/out"
check "hung reset: reason says it did not finish" grep -q "did not finish within" "$work/out"
check "hung reset: the healthy device left as found ($found)" [ "$(drv 0000:01:00.0)" = "$found" ]

# The hook's own total deadline, below the per-device one.
config '"device_timeout_ms": 60000, "hook_deadline_ms": 1000'
start=$(date +%s%N)
( run_hook vm3 prepare begin - < "$work/vm3.xml" 2>&1; echo "rc=$?" ) | cat > "$work/out"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "hook_deadline_ms bounds the whole hook ($ms ms for a 1000 ms deadline)" [ "$ms" -lt 5000 ]
check "hook_deadline_ms: refused, exit 1" grep -q "rc=1" "$work/out"

# Bad configuration: named, and the hook goes on with safe defaults.
echo '{"max_workers": "many"}' > "$work/bad.json"
FASTPASS_CONFIG=$work/bad.json "$hook" vm4 prepare begin - < <(echo "<domain type='qemu'><name>vm4</name><memory>1024</memory><os><type>hvm</type></os></domain>") > "$work/out" 2>&1; rc=$?
check "bad config: exit 0 for a domain with nothing to do" [ $rc -eq 0 ]
check "bad config: the message names the key" grep -q '"max_workers" must be a whole number' "$work/out"
echo '{"sysfs_root": "relative/path"}' > "$work/bad.json"
FASTPASS_CONFIG=$work/bad.json "$hook" vm4 restore begin - < "$work/vm1.xml" > "$work/xml" 2> "$work/err"
check "bad config on restore: XML passed on unchanged" cmp -s "$work/xml" "$work/vm1.xml"
check "bad config on restore: key named" grep -q '"sysfs_root" must be an absolute path' "$work/err"

# Optional speed-up that fails (no hugepages to be had here): a warning, and the start goes on.
config
printf "<domain type='qemu'><name>vm5</name><memory unit='GiB'>2</memory><memoryBacking><hugepages><page size='1048576' unit='KiB'/></hugepages></memoryBacking><numatune><memory mode='strict' nodeset='0'/></numatune><os><type>hvm</type></os></domain>\n" > "$work/vm5.xml"
run_hook vm5 prepare begin - < "$work/vm5.xml" > "$work/out" 2>&1; rc=$?
check "hugepages unavailable: exit 0 (VM may start)" [ $rc -eq 0 ]
check "hugepages unavailable: a warning says so" grep -q "fastpass\[vm5\]: hugepages:" "$work/hook.log"

# migrate/restore begin: tuned XML (host-side rules only), never empty.
printf "<domain type='qemu'>\n  <name>vm6</name>\n  <memory unit='KiB'>2097152</memory>\n  <os>\n    <type>hvm</type>\n  </os>\n  <devices>\n    <memballoon model='virtio'/>\n  </devices>\n</domain>\n" > "$work/vm6.xml"
run_hook vm6 restore begin - < "$work/vm6.xml" > "$work/xml" 2>/dev/null
check "restore begin: XML out is not empty" [ -s "$work/xml" ]
check "restore begin: host-side rules applied (hugepages)" grep -q "<hugepages>" "$work/xml"
check "restore begin: guest-visible devices untouched" grep -q "<memballoon model='virtio'/>" "$work/xml"
run_hook vm6 migrate begin - < <(echo "not xml") > "$work/xml" 2>/dev/null; rc=$?
[ $rc -eq 0 ] && [ "$(cat "$work/xml")" = "not xml" ]; verdict "migrate begin with unparsable XML: exit 0, input passed on"

finish
