#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# fastpass prepare/release against the emulated kernel (tests/fakesys): the normal path and
# every fault, each asserted on end states read back from the emulated sysfs (which driver a
# device is bound to), not only on exit codes.
# usage: prepare.sh FASTPASS FAKESYS SOURCE_DIR
set -u
fp=$1; fakesys=$2; src=$3
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" -ne 0 ] || [ ! -e /dev/fuse ] || ! command -v fusermount3 >/dev/null; then
  echo "SKIP: needs root, /dev/fuse and fusermount3"; exit 77
fi
work=$(mktemp -d)
mounts=()
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for m in "${mounts[@]}"; do fusermount3 -u -z "$m" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

mount_fakesys() { # TOPOLOGY DIR
  mkdir -p "$2"
  "$fakesys" --topology "$1" "$2" || { echo "cannot mount fakesys"; exit 1; }
  mounts+=("$2")
}
drv() { basename "$(readlink "$sys/bus/pci/devices/$1/driver" 2>/dev/null)" 2>/dev/null || echo none; }
resets() { cat "$sys/bus/pci/devices/$1/fakesys_reset_count"; }
# Who else uses a device is looked up under these (a fake /dev/vfio, libvirt's status
# directory); /proc is the real one.
dev=$work/dev; status=$work/status
mkdir -p "$dev/vfio" "$status"
printf '{"dev_root": "%s", "libvirt_status_dir": "%s"}\n' "$dev" "$status" > "$work/base.json"
export FASTPASS_CONFIG=$work/base.json
prep() { "$fp" prepare --sysfs-root "$sys" --run-dir "$run" "$@"; }
rel() { "$fp" release --sysfs-root "$sys" --run-dir "$run" "$@"; }
recover() { "$fp" recover --sysfs-root "$sys" --run-dir "$run" "$@"; }
override() { cat "$sys/bus/pci/devices/$1/driver_override"; }
claimed() { ls "$run/devices" 2>/dev/null | grep -F "$1"; }

# --- four GPUs, 1 s resets ---------------------------------------------------------------------
sys=$work/gpu; run=$work/run-gpu
mount_fakesys "$src/tests/fakesys/topology-4gpu.json" "$sys"
gpus=(0000:41:00.0 0000:42:00.0 0000:43:00.0 0000:44:00.0)

: > "$sys/fakesys.log"
prep --owner vm1 "${gpus[@]}" > "$work/out"; rc=$?
cat "$work/out" | sed 's/^/     /'
check "prepare 4 GPUs: exit 0" [ $rc -eq 0 ]
for g in "${gpus[@]}"; do
  check "prepare 4 GPUs: $g on vfio-pci" [ "$(drv $g)" = vfio-pci ]
  check "prepare 4 GPUs: $g reset once" [ "$(resets $g)" -eq 1 ]
done
# Overlap, from the emulator's event order: every reset started before the first one ended.
starts_before_first_end=$(awk '$2=="reset-end"{exit} $2=="reset-start"{n++} END{print n+0}' "$sys/fakesys.log")
check "prepare 4 GPUs: all 4 resets overlapped (started before the first ended: $starts_before_first_end)" \
  [ "$starts_before_first_end" -eq 4 ]

prep --owner vm1 "${gpus[0]}" > /dev/null; rc=$?
check "prepare again by the same domain: exit 0 (idempotent)" [ $rc -eq 0 ]
check "prepare again: still on vfio-pci" [ "$(drv ${gpus[0]})" = vfio-pci ]

prep --owner vm2 "${gpus[0]}" > /dev/null 2> "$work/err"; rc=$?
check "prepare by another domain: exit 1" [ $rc -eq 1 ]
check "prepare by another domain: says who holds it" grep -q "0000:41:00.0 is in use by domain vm1" "$work/err"

rel --owner vm2 "${gpus[0]}" > /dev/null 2> "$work/err"; rc=$?
[ $rc -eq 1 ] && grep -q "held by domain vm1" "$work/err"; verdict "release by another domain: refused"

before=$(resets ${gpus[0]})
rel --owner vm1 "${gpus[0]}" "${gpus[1]}" > "$work/out"; rc=$?
check "release warm: exit 0" [ $rc -eq 0 ]
check "release warm: stays on vfio-pci" [ "$(drv ${gpus[0]})" = vfio-pci ]
check "release warm: reset for the next tenant" [ "$(resets ${gpus[0]})" -eq $((before + 1)) ]
[ "$(grep -c "reset [0-9]* ms (reset again: the kernel does not report whether its reset at QEMU's close ran or worked)" "$work/out")" -eq 2 ]
verdict "release warm: each device's reset says why it is done again"
before=$(resets ${gpus[0]})
prep --owner vm2 "${gpus[0]}" > "$work/out"; rc=$?
check "prepare a warm device by the next domain: exit 0" [ $rc -eq 0 ]
check "prepare a warm device: reset skipped (count unchanged)" [ "$(resets ${gpus[0]})" -eq "$before" ]
check "prepare a warm device: says why" grep -q "skipped: reset at its last release" "$work/out"

rel --owner vm2 --mode restore "${gpus[0]}" > /dev/null; rc=$?
check "release restore: exit 0" [ $rc -eq 0 ]
check "release restore: back on nvidia" [ "$(drv ${gpus[0]})" = nvidia ]
check "release restore: claim forgotten" [ ! -e "$run/devices/0000:41:00.0.json" ]
check "release restore: no lock file left either (devices/ holds nothing for it)" [ -z "$(claimed 0000:41:00.0)" ]
rel --mode restore "${gpus[2]}" "${gpus[3]}" "${gpus[1]}" > /dev/null
check "release restore of the rest: all on nvidia" \
  [ "$(drv ${gpus[1]}) $(drv ${gpus[2]}) $(drv ${gpus[3]})" = "nvidia nvidia nvidia" ]

# PCI address fields of a domain file are read as libvirt reads them: bus='65' is decimal 65 =
# 0x41, the GPU at 0000:41:00.0 (not 0000:65:00.0).
cat > "$work/dec.xml" <<'XML'
<domain type='kvm'><name>vmdec</name><memory unit='MiB'>256</memory><os><type>hvm</type></os>
<devices><hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0' bus='65' slot='0' function='0'/></source></hostdev></devices></domain>
XML
prep --domain "$work/dec.xml" > /dev/null 2> "$work/err"; rc=$?
[ $rc -eq 0 ] && [ "$(drv 0000:41:00.0)" = vfio-pci ] && [ -e "$run/devices/0000:41:00.0.json" ]; verdict "--domain with bus='65': read as decimal, 0000:41:00.0 prepared"
rel --domain "$work/dec.xml" --mode restore > /dev/null
check "--domain with bus='65': released back to nvidia" [ "$(drv 0000:41:00.0)" = nvidia ]
sed "s/bus='65'/bus='16'/" "$work/dec.xml" > "$work/dec16.xml"
prep --domain "$work/dec16.xml" > /dev/null 2> "$work/err"; rc=$?
[ $rc -eq 1 ] && grep -q "0000:10:00.0: no such PCI device" "$work/err"; verdict "--domain with bus='16': bus 0x10 as libvirt reads it (not 0x16)"

# Without options the CLI takes sysfs_root, run_dir and release_mode from the hook's configuration.
printf '{"sysfs_root": "%s", "run_dir": "%s", "release_mode": "restore"}\n' "$sys" "$run" > "$work/fastpass.json"
FASTPASS_CONFIG=$work/fastpass.json "$fp" prepare --owner vm3 "${gpus[3]}" > /dev/null; rc=$?
[ $rc -eq 0 ] && [ "$(drv ${gpus[3]})" = vfio-pci ] && [ -e "$run/devices/${gpus[3]}.json" ]; verdict "config: prepare without options uses its sysfs_root and run_dir"
printf '{"run_dir": "%s", "device_timeout_ms": 0}\n' "$run" > "$work/bad.json"
"$fp" release --config "$work/bad.json" --sysfs-root "$sys" --owner vm3 "${gpus[3]}" > "$work/out" 2> "$work/err"; rc=$?
[ $rc -eq 2 ] && [ "$(wc -l < "$work/err")" -eq 1 ] \
  && grep -qF '"device_timeout_ms" must be' "$work/err"; verdict "bad config: exit 2, one line naming the key"
[ "$(drv ${gpus[3]})" = vfio-pci ] && [ -e "$run/devices/${gpus[3]}.json" ]; verdict "bad config: device left as it was"
"$fp" release --config "$work/fastpass.json" --owner vm3 "${gpus[3]}" > /dev/null; rc=$?
[ $rc -eq 0 ] && [ "$(drv ${gpus[3]})" = nvidia ]; verdict "config: release follows its release_mode (restore)"

rel "${gpus[0]}" > /dev/null 2> "$work/err"; rc=$?
check "release of a device never prepared: exit 1" [ $rc -eq 1 ]
check "release of a device never prepared: says so" grep -q "was not prepared by fastpass" "$work/err"

prep ../41:00.0 > "$work/out" 2> "$work/err"; rc=$?
check "bad address: exit 2" [ $rc -eq 2 ]
[ "$(wc -l < "$work/err")" -eq 1 ] && grep -q "'../41:00.0' is not a PCI address" "$work/err"; verdict "bad address: one line naming it"
prep 0000:99:00.0 > /dev/null 2> "$work/err"; rc=$?
check "device that does not exist: exit 1" [ $rc -eq 1 ]
check "device that does not exist: says so" grep -q "0000:99:00.0: no such PCI device" "$work/err"

# Two domains preparing one device at the same moment: exactly one wins.
( prep --owner race-a "${gpus[2]}" > /dev/null 2> "$work/race-a"; echo $? > "$work/rc-a" ) &
( prep --owner race-b "${gpus[2]}" > /dev/null 2> "$work/race-b"; echo $? > "$work/rc-b" ) &
wait
rcs="$(cat "$work/rc-a") $(cat "$work/rc-b")"
check "two prepares at once: one succeeds, one is refused (exit codes: $rcs)" [ "$rcs" = "0 1" -o "$rcs" = "1 0" ]
check "two prepares at once: the loser is told who holds it" \
  grep -qE "in use by domain race-(a|b)|being prepared or released by" "$work/race-a" "$work/race-b"
check "two prepares at once: device on vfio-pci" [ "$(drv ${gpus[2]})" = vfio-pci ]
rel --mode restore "${gpus[2]}" > /dev/null

# --- faults --------------------------------------------------------------------------------------
sys=$work/faults; run=$work/run-faults
mount_fakesys "$src/tests/fakesys/topology-faults.json" "$sys"

prep 0000:0a:00.0 > /dev/null 2> "$work/err"; rc=$?
check "group not viable: exit 1" [ $rc -eq 1 ]
check "group not viable: names the host-held member" \
  grep -q "IOMMU group 30 is not viable: 0000:0a:00.1 is held by host driver e1000e" "$work/err"
check "group not viable: nothing changed" [ "$(drv 0000:0a:00.0) $(drv 0000:0a:00.1)" = "nvidia e1000e" ]
prep 0000:0a:00.0 0000:0a:00.1 > /dev/null; rc=$?
[ $rc -eq 0 ] && [ "$(drv 0000:0a:00.0) $(drv 0000:0a:00.1)" = "vfio-pci vfio-pci" ]; verdict "whole group listed: exit 0, both on vfio-pci"
rel --mode restore 0000:0a:00.0 0000:0a:00.1 > /dev/null
check "whole group restored" [ "$(drv 0000:0a:00.0) $(drv 0000:0a:00.1)" = "nvidia e1000e" ]

prep 0000:0b:00.0 > /dev/null 2> "$work/err"; rc=$?
[ $rc -eq 1 ] && grep -q "has no IOMMU group" "$work/err"; verdict "no IOMMU group: refused"
check "no IOMMU group: untouched" [ "$(drv 0000:0b:00.0)" = nvidia ]

prep --json 0000:01:00.0 0000:04:00.0 > "$work/out" 2> "$work/err"; rc=$?
check "bind fails: exit 1" [ $rc -eq 1 ]
check "bind fails: says the device did not bind" grep -q "0000:04:00.0 did not bind to vfio-pci" "$work/err"
check "bind fails: failing device back on nvidia" [ "$(drv 0000:04:00.0)" = nvidia ]
check "bind fails: healthy device rolled back to nvidia" [ "$(drv 0000:01:00.0)" = nvidia ]
check "bind fails: report marks the healthy one rolled-back" grep -q '"status":"rolled-back"' "$work/out"

prep 0000:01:00.0 0000:02:00.0 > /dev/null 2> "$work/err"; rc=$?
check "reset fails: exit 1" [ $rc -eq 1 ]
check "reset fails: error names the reset" grep -q "0000:02:00.0/reset" "$work/err"
check "reset fails: both back on nvidia" [ "$(drv 0000:01:00.0) $(drv 0000:02:00.0)" = "nvidia nvidia" ]

start=$(date +%s%N)
timeout 60 "$fp" prepare --sysfs-root "$sys" --run-dir "$run" --timeout-ms 1500 0000:01:00.0 0000:03:00.0 \
  > /dev/null 2> "$work/err"; rc=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "reset hangs: prepare returns, exit 1 (took $elapsed_ms ms with a 1500 ms deadline)" [ $rc -eq 1 ]
check "reset hangs: returned within the deadline plus slack (< 6 s)" [ "$elapsed_ms" -lt 6000 ]
check "reset hangs: reported as not finishing in time" grep -q "did not finish within" "$work/err"
check "reset hangs: healthy device rolled back to nvidia" [ "$(drv 0000:01:00.0)" = nvidia ]
check "reset hangs: hung device not stranded unbound (on $(drv 0000:03:00.0))" [ "$(drv 0000:03:00.0)" != none ]

prep 0000:06:00.0 > "$work/out"; rc=$?
[ $rc -eq 0 ] && [ "$(drv 0000:06:00.0)" = vfio-pci ]; verdict "no reset method: prepared anyway, exit 0"
check "no reset method: noted" grep -q "no reset method" "$work/out"

# --- someone else uses the device (F1): never bound, unbound or reset; no claim written -------
# As another VM's libvirt leaves it: on vfio-pci, no fastpass claim, its group file open.
to_vfio_behind_our_back() { # BDF
  echo vfio-pci > "$sys/bus/pci/devices/$1/driver_override"
  echo "$1" > "$sys/bus/pci/drivers/$(drv "$1")/unbind"
  echo "$1" > "$sys/bus/pci/drivers_probe"
}
back_to_host() { # BDF
  echo > "$sys/bus/pci/devices/$1/driver_override"
  [ "$(drv "$1")" = none ] || echo "$1" > "$sys/bus/pci/drivers/$(drv "$1")/unbind"
  echo "$1" > "$sys/bus/pci/drivers_probe"
}
g=0000:01:00.0   # IOMMU group 20
to_vfio_behind_our_back $g
: > "$dev/vfio/20"
sleep 600 < "$dev/vfio/20" & holder=$!; pids+=($holder)
before=$(resets $g)
prep --owner vm2 $g > /dev/null 2> "$work/err"; rc=$?
check "group file held open: prepare refused (exit 1)" [ $rc -eq 1 ]
msg=$(cat "$work/err")
[ "$(wc -l < "$work/err")" -eq 1 ] && grep -q "$g is in use by pid $holder (sleep)" "$work/err"; verdict "group file held open: one line naming the device and its holder ($msg)"
check "group file held open: not reset" [ "$(resets $g)" -eq "$before" ]
check "group file held open: still on vfio-pci" [ "$(drv $g)" = vfio-pci ]
check "group file held open: no claim written" [ -z "$(claimed $g)" ]
rel --owner vm2 $g > /dev/null 2> "$work/err"; rc=$?
[ $rc -eq 1 ] && [ "$(resets $g)" -eq "$before" ] && [ "$(drv $g)" = vfio-pci ]; verdict "the release that follows the refused start touches nothing"
kill $holder; wait $holder 2>/dev/null

# Named by a running domain's live XML (libvirt's status file), whatever holds its files.
sleep 600 & qemu=$!; pids+=($qemu)
cat > "$status/vmA.xml" <<XML
<domstatus state='running' reason='booted' pid='$qemu'>
  <domain type='kvm' id='1'><name>vmA</name><uuid>6f1b4c5e-0000-4000-8000-00000000000a</uuid>
    <devices><hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source></hostdev></devices>
  </domain>
</domstatus>
XML
prep --owner vm2 $g > /dev/null 2> "$work/err"; rc=$?
[ $rc -eq 1 ] && [ "$(wc -l < "$work/err")" -eq 1 ] && grep -q "$g is in use by pid $qemu (sleep), domain vmA" "$work/err"; verdict "named by a running domain: refused, one line naming pid and domain"
check "named by a running domain: not reset, no claim" [ "$(resets $g)" -eq "$before" -a -z "$(claimed $g)" ]
prep --owner vmA --uuid 6f1b4c5e-0000-4000-8000-00000000000a $g > /dev/null 2> "$work/err"; rc=$?
check "the domain's own status file is not someone else: exit 0" [ $rc -eq 0 ]
rel --owner vmA --mode restore $g > /dev/null
echo garbage > "$status/bad.xml"
prep --owner vm2 $g > /dev/null 2> "$work/err"; rc=$?
[ $rc -eq 1 ] && grep -q "cannot read libvirt's status of a running domain" "$work/err" && [ -z "$(claimed $g)" ]; verdict "a status file it cannot parse: refused (fails closed), saying which"
rm -f "$status/bad.xml" "$status/vmA.xml"; kill $qemu; wait $qemu 2>/dev/null
printf '{"dev_root": "%s", "libvirt_status_dir": "%s", "proc_root": "%s/no-proc"}\n' "$dev" "$status" "$work" > "$work/noproc.json"
before=$(resets $g)
FASTPASS_CONFIG=$work/noproc.json prep --owner vm2 $g > /dev/null 2> "$work/err"; rc=$?
msg=$(cat "$work/err")
[ $rc -eq 1 ] && grep -q "cannot tell who holds the devices' VFIO files" "$work/err" && [ "$(resets $g)" -eq "$before" ]; verdict "/proc unreadable: refused (fails closed), saying why ($msg)"
back_to_host $g
check "(device back on nvidia for the next checks)" [ "$(drv $g)" = nvidia ]

# Release never resets a device someone holds open.
prep --owner vm1 $g > /dev/null
sleep 600 < "$dev/vfio/20" & holder=$!; pids+=($holder)
before=$(resets $g)
rel --owner vm1 $g > /dev/null 2> "$work/err"; rc=$?
[ $rc -eq 1 ] && grep -q "$g is in use by pid $holder (sleep)" "$work/err"; verdict "release of a device held open: refused naming the holder"
check "release of a device held open: not reset, claim kept" [ "$(resets $g)" -eq "$before" -a -n "$(claimed $g.json)" ]
kill $holder; wait $holder 2>/dev/null
rm -f "$dev/vfio/20"

# --- claims name the domain's UUID (F14): a later domain of the same name is someone else -------
rel --owner vm1 --mode restore $g > /dev/null
prep --owner vm7 --uuid 11111111-2222-4333-8444-555555555555 $g > /dev/null
prep --owner vm7 --uuid 99999999-2222-4333-8444-555555555555 $g > /dev/null 2> "$work/err"; rc=$?
[ $rc -eq 1 ] && grep -q "claimed by an earlier domain named vm7 (uuid 11111111-2222-4333-8444-555555555555)" "$work/err"; verdict "same name, other UUID: not adopted silently"
grep -Eq '"uuid": ?"11111111-2222-4333-8444-555555555555"' "$run/devices/$g.json"; verdict "the claim records the UUID"
rel --owner vm7 --uuid 11111111-2222-4333-8444-555555555555 --mode restore $g > /dev/null; rc=$?
check "release by the same name and UUID: exit 0, back on nvidia" [ $rc -eq 0 -a "$(drv $g)" = nvidia ]

# A device the host used when it was taken (allowed by host_devices_allowed; its claim says so)
# is never kept warm: a warm release gives it back to its driver.
prep --owner vmh $g > /dev/null
sed -i 's/"phase"/"host_use": "mounted filesystem \/data (sdb1)", "phase"/' "$run/devices/$g.json"
rel --owner vmh --mode warm $g > /dev/null; rc=$?
[ $rc -eq 0 ] && [ "$(drv $g)" = nvidia ] && [ -z "$(claimed $g)" ]; verdict "host's device at a warm release: back on nvidia, claim gone"
# A free warm device is not released by a domain that never held it (its start was refused).
prep --owner vmh $g > /dev/null && rel --owner vmh --mode warm $g > /dev/null
before=$(resets $g)
rel --owner vm-refused --mode warm $g > "$work/out"; rc=$?
[ $rc -eq 0 ] && [ "$(resets $g)" -eq "$before" ] && grep -q "left" "$work/out"; verdict "free warm device, release by a domain that never held it: left alone, not reset"
rel --mode restore $g > /dev/null

# --- an emptied reset_method (F8) ---------------------------------------------------------------
echo > "$sys/bus/pci/devices/$g/reset_method"
before=$(resets $g)
prep $g > /dev/null 2> "$work/err"; rc=$?
[ $rc -eq 1 ] && [ "$(wc -l < "$work/err")" -eq 1 ] && grep -q "$g: its reset_method is empty" "$work/err"; verdict "empty reset_method: refused, one line"
check "empty reset_method: nothing changed (nvidia, no claim, no reset)" [ "$(drv $g)" = nvidia -a -z "$(claimed $g)" -a "$(resets $g)" -eq "$before" ]
echo default > "$sys/bus/pci/devices/$g/reset_method"
prep $g > /dev/null
echo > "$sys/bus/pci/devices/$g/reset_method"
rel --mode warm $g > /dev/null; rc=$?
[ $rc -eq 0 ] && [ "$(drv $g)" = nvidia ] && [ -z "$(claimed $g)" ]; verdict "empty reset_method at a warm release: not kept warm (back on nvidia, claim gone)"
echo default > "$sys/bus/pci/devices/$g/reset_method"

# --- kill -9 at each step of prepare, then recover (F4) -----------------------------------------
sys=$work/crash; run=$work/run-crash
mount_fakesys "$src/tests/fakesys/topology-crash.json" "$sys"
c=0000:21:00.0; c2=0000:22:00.0
# Kills PID once one of its writer children holds FILE (a path suffix) open: mid-step.
kill_when_writing() { # PID FILE
  local t
  for t in $(seq 1 1000); do
    for ch in $(pgrep -P "$1"); do
      if ls -l "/proc/$ch/fd" 2>/dev/null | grep -q -- "$2\$"; then kill -9 "$1"; return 0; fi
    done
    kill -0 "$1" 2>/dev/null || return 1
    sleep 0.01
  done
  return 1
}
# The override write takes no time: killed once the emulator logged it (the unbind may be under
# way then).
kill_when_logged() { # PID EVENT
  local t
  for t in $(seq 1 1000); do
    if grep -q " $2 " "$sys/fakesys.log"; then kill -9 "$1"; return 0; fi
    kill -0 "$1" 2>/dev/null || return 1
    sleep 0.005
  done
  return 1
}
for stepfile in "$c/driver_override" "drivers/nvidia/unbind" "drivers_probe" "$c/reset"; do
  for how in recover restore; do
    : > "$sys/fakesys.log"
    "$fp" prepare --sysfs-root "$sys" --run-dir "$run" --owner vmk $c > /dev/null 2>&1 & p=$!
    if [ "$stepfile" = "$c/driver_override" ]; then kill_when_logged $p driver_override; killed=$?
    else kill_when_writing $p "$stepfile"; killed=$?; fi
    wait $p 2>/dev/null
    grep -Eq '"phase": ?"preparing"' "$run/devices/$c.json" 2>/dev/null; ahead=$?
    if [ $how = recover ]; then recover > "$work/out" 2> "$work/err"; rc=$?
    else rel --mode restore $c > "$work/out" 2> "$work/err"; rc=$?; fi
    msg="killed=$killed intent=$ahead rc=$rc $(head -c 200 "$work/err")"
    [ $killed -eq 0 ] && [ $ahead -eq 0 ] && [ $rc -eq 0 ] && [ "$(drv $c)" = nvidia ] && [ "$(override $c)" = "(null)" ] && [ -z "$(claimed $c)" ]
    verdict "kill -9 while writing ${stepfile##*/}, then $how: nvidia again, driver_override empty, no claim ($msg)"
  done
done
# Around the claim writes: the write-ahead one (1st rename) and the final one (2nd rename).
if command -v strace >/dev/null; then
  for when in 1 2; do
    ( strace -f -qq -o /dev/null -e trace=renameat,renameat2,rename -e inject=renameat,renameat2,rename:signal=SIGKILL:when=$when \
      "$fp" prepare --sysfs-root "$sys" --run-dir "$run" --owner vmk $c $c2 ) > /dev/null 2>&1
    recover > /dev/null 2> "$work/err"; rc=$?
    msg="rc=$rc $(head -c 200 "$work/err")"
    [ $rc -eq 0 ] && [ "$(drv $c) $(drv $c2)" = "nvidia nvidia" ] && [ "$(override $c)$(override $c2)" = "(null)(null)" ] && [ -z "$(claimed 0000:2)" ]
    verdict "kill -9 at claim write #$when, then recover: both on nvidia, no override, no claim ($msg)"
  done
else
  echo "note: no strace; the kills around the claim write are not run"
fi
# A claim save that fails: before the first sysfs write (nothing changes), or after the device
# moved (it goes back; the claim written ahead is what knew where to).
if command -v strace >/dev/null; then
  : > "$sys/fakesys.log"
  no_leak_check strace -f -qq -o /dev/null -e trace=renameat -e inject=renameat:error=ENOSPC:when=1 \
    "$fp" prepare --sysfs-root "$sys" --run-dir "$run" --owner vmk $c > /dev/null 2> "$work/err"; rc=$?
  msg=$(cat "$work/err")
  [ $rc -eq 1 ] && grep -q "cannot record the claim before moving it" "$work/err" && [ ! -s "$sys/fakesys.log" ] && [ "$(drv $c)" = nvidia ] && [ -z "$(claimed $c)" ]
  verdict "write-ahead save fails: refused, no sysfs write at all, no claim ($msg)"
  no_leak_check strace -f -qq -o /dev/null -e trace=renameat -e inject=renameat:error=ENOSPC:when=2 \
    "$fp" prepare --sysfs-root "$sys" --run-dir "$run" --owner vmk $c > /dev/null 2> "$work/err"; rc=$?
  msg=$(cat "$work/err")
  [ $rc -eq 1 ] && [ "$(drv $c)" = nvidia ] && [ "$(override $c)" = "(null)" ] && [ -z "$(claimed $c)" ]
  verdict "final claim save fails: refused, put back on nvidia, override cleared, no claim ($msg)"
fi
# A dead prepare's half-way claim is undone by the next prepare of any domain.
"$fp" prepare --sysfs-root "$sys" --run-dir "$run" --owner vmk $c > /dev/null 2>&1 & p=$!
kill_when_writing $p "drivers/nvidia/unbind"; killed=$?; wait $p 2>/dev/null
prep --owner other $c2 > /dev/null; rc=$?
msg="killed=$killed rc=$rc"
[ $killed -eq 0 ] && [ $rc -eq 0 ] && [ "$(drv $c)" = nvidia ] && [ -z "$(claimed $c)" ]; verdict "the next prepare (of another device) undoes a dead prepare's half-way claim ($msg)"
rel --mode restore $c2 > /dev/null
# Recover leaves free warm devices and running domains' devices alone; exit 1 when one is held.
prep --owner vmw $c > /dev/null && rel --owner vmw --mode warm $c > /dev/null
recover > "$work/out"; rc=$?
[ $rc -eq 0 ] && [ "$(drv $c)" = vfio-pci ] && grep -q "$c  left" "$work/out"; verdict "recover: a free warm device is left on vfio-pci"
prep --owner vmw $c > /dev/null
: > "$dev/vfio/40"; sleep 600 < "$dev/vfio/40" & holder=$!; pids+=($holder)
recover > /dev/null 2> "$work/err"; rc=$?
[ $rc -eq 1 ] && grep -q "$c is in use by pid $holder" "$work/err" && [ "$(drv $c)" = vfio-pci ] && [ -n "$(claimed $c.json)" ]; verdict "recover: a device held open is not touched, exit 1"
kill $holder; wait $holder 2>/dev/null; rm -f "$dev/vfio/40"
recover --json > "$work/out"; rc=$?
[ $rc -eq 0 ] && [ "$(drv $c)" = nvidia ] && [ -z "$(claimed $c)" ] && grep -Eq '"action": ?"recover"' "$work/out"; verdict "recover --json: the stopped domain's device back on nvidia"
# The lock file goes with the claim; a prepare that was waiting on it locks the new one.
prep --owner vmz $c > /dev/null
rel --owner vmz --mode restore $c > /dev/null & r=$!
sleep 0.5
prep --owner vmy $c > /dev/null 2> "$work/err"; rc=$?
wait $r
[ $rc -eq 0 ] && [ "$(drv $c)" = vfio-pci ] && grep -q '"vmy"' "$run/devices/$c.json" && [ -e "$run/devices/$c.lock" ]; verdict "a prepare waiting while a release removes the lock file: locks the new one (claim and lock file there)"
rel --mode restore $c > /dev/null
check "after the last restore release: devices/ is empty" [ -z "$(ls "$run/devices")" ]

# --- the host's own devices (F9) ----------------------------------------------------------------
# A disk controller whose disk carries the number of the filesystem this host has mounted on /.
read -r mm mp < <(awk '$5=="/" {print $3, $5; exit}' /proc/self/mountinfo)
printf '{"reset_ms": 200, "devices": [{"bdf": "0000:00:17.0", "class": "0x010601", "iommu_group": 3, "driver": "ahci", "reset_method": "flr", "block": "sda %s"}]}\n' "$mm" > "$work/topology-host.json"
sys=$work/host; run=$work/run-host; h=0000:00:17.0
mount_fakesys "$work/topology-host.json" "$sys"
: > "$sys/fakesys.log"
prep $h > /dev/null 2> "$work/err"; rc=$?
msg=$(cat "$work/err")
[ $rc -eq 1 ] && [ "$(wc -l < "$work/err")" -eq 1 ] && grep -qF "$h holds the host's mounted filesystem $mp (sda): refusing to unbind it; allow it with host_devices_allowed" "$work/err"; verdict "fakesys: controller of the host's / refused, one line ($msg)"
check "fakesys: host's controller untouched (ahci, no sysfs write, no claim)" [ "$(drv $h)" = ahci -a ! -s "$sys/fakesys.log" -a -z "$(claimed $h)" ]
printf '{"dev_root": "%s", "libvirt_status_dir": "%s", "host_devices_allowed": ["%s"]}\n' "$dev" "$status" "$h" > "$work/allow.json"
FASTPASS_CONFIG=$work/allow.json prep --owner vmh $h > /dev/null 2> "$work/err"; rc=$?
[ $rc -eq 0 ] && [ "$(drv $h)" = vfio-pci ] && grep -q '"host_use"' "$run/devices/$h.json"; verdict "fakesys: allowed by host_devices_allowed: prepared, the claim records the host's use"
FASTPASS_CONFIG=$work/allow.json rel --owner vmh --mode warm $h > /dev/null; rc=$?
[ $rc -eq 0 ] && [ "$(drv $h)" = ahci ] && [ -z "$(claimed $h)" ]; verdict "fakesys: the host's controller is never kept warm: back on ahci at a warm release"

# A plain directory stands for sysfs here: a refusal reads only, and the emulator has no disks.
# The disk below the controller carries the number of a filesystem this host has mounted.
plain=$work/plain; run=$work/run-plain; h=0000:00:17.0
read -r mm mp < <(awk '$5=="/" {print $3, $5; exit}' /proc/self/mountinfo)
mkdir -p "$plain/bus/pci/devices/$h/ata1/host0/target0:0:0/0:0:0:0/block/sda" "$plain/kernel/iommu_groups/3/devices" "$plain/class/block"
echo 0x010601 > "$plain/bus/pci/devices/$h/class"
echo '(null)' > "$plain/bus/pci/devices/$h/driver_override"
ln -s ../../../bus/pci/drivers/ahci "$plain/bus/pci/devices/$h/driver"
ln -s ../../../kernel/iommu_groups/3 "$plain/bus/pci/devices/$h/iommu_group"
: > "$plain/kernel/iommu_groups/3/devices/$h"
echo "$mm" > "$plain/bus/pci/devices/$h/ata1/host0/target0:0:0/0:0:0:0/block/sda/dev"
ln -s ../../../../../../../../../../class/block "$plain/bus/pci/devices/$h/ata1/host0/target0:0:0/0:0:0:0/block/sda/subsystem"
"$fp" prepare --sysfs-root "$plain" --run-dir "$run" $h > /dev/null 2> "$work/err"; rc=$?
msg=$(cat "$work/err")
[ $rc -eq 1 ] && [ "$(wc -l < "$work/err")" -eq 1 ] && grep -qF "$h holds the host's mounted filesystem $mp (sda): refusing to unbind it; allow it with host_devices_allowed" "$work/err"; verdict "disk controller with the host's / mounted behind it: refused, one line ($msg)"
check "host's disk: nothing written (driver_override as it was, no claim)" [ "$(cat "$plain/bus/pci/devices/$h/driver_override")" = "(null)" -a -z "$(ls "$run/devices" 2>/dev/null)" ]
printf '{"dev_root": "%s", "libvirt_status_dir": "%s", "host_devices_allowed": ["%s"]}\n' "$dev" "$status" "$h" > "$work/allow.json"
FASTPASS_CONFIG=$work/allow.json "$fp" prepare --sysfs-root "$plain" --run-dir "$run" $h > /dev/null 2> "$work/err"; rc=$?
msg=$(cat "$work/err")
! grep -q "holds the host's" "$work/err" && grep -q "drivers/ahci/unbind" "$work/err"; verdict "allowed by host_devices_allowed: goes past the check (here to the first write, which a plain tree cannot take: $msg)"
check "allowed, then failed: no claim left" [ -z "$(ls "$run/devices" 2>/dev/null)" ]

finish
