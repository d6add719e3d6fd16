#!/usr/bin/env bash
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
cleanup() {
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
prep() { "$fp" prepare --sysfs-root "$sys" --run-dir "$run" "$@"; }
rel() { "$fp" release --sysfs-root "$sys" --run-dir "$run" "$@"; }

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
rel --owner vm1 "${gpus[0]}" "${gpus[1]}" > /dev/null; rc=$?
check "release warm: exit 0" [ $rc -eq 0 ]
check "release warm: stays on vfio-pci" [ "$(drv ${gpus[0]})" = vfio-pci ]
check "release warm: reset for the next tenant" [ "$(resets ${gpus[0]})" -eq $((before + 1)) ]
before=$(resets ${gpus[0]})
prep --owner vm2 "${gpus[0]}" > "$work/out"; rc=$?
check "prepare a warm device by the next domain: exit 0" [ $rc -eq 0 ]
check "prepare a warm device: reset skipped (count unchanged)" [ "$(resets ${gpus[0]})" -eq "$before" ]
check "prepare a warm device: says why" grep -q "skipped: reset at its last release" "$work/out"

rel --owner vm2 --mode restore "${gpus[0]}" > /dev/null; rc=$?
check "release restore: exit 0" [ $rc -eq 0 ]
check "release restore: back on nvidia" [ "$(drv ${gpus[0]})" = nvidia ]
check "release restore: claim forgotten" [ ! -e "$run/devices/0000:41:00.0.json" ]
rel --mode restore "${gpus[2]}" "${gpus[3]}" "${gpus[1]}" > /dev/null
check "release restore of the rest: all on nvidia" \
  [ "$(drv ${gpus[1]}) $(drv ${gpus[2]}) $(drv ${gpus[3]})" = "nvidia nvidia nvidia" ]

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

finish
