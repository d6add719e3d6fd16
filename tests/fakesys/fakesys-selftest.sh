#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# fakesys-selftest.sh - functional check of the emulated sysfs itself.
#
#   bash tests/fakesys/fakesys-selftest.sh path/to/fakesys
#
# Mounts fakesys on temporary directories and checks kernel-like
# behaviour: binding through driver_override, native rebinding, errors,
# reset timing and overlap, fault injection, and that hung operations
# never prevent unmounting. Prints "ok NAME" / "FAIL NAME: why" per check
# and exits non-zero if any check failed; exits 77 (skipped) without root
# or /dev/fuse. Everything is unmounted on exit, whatever happens.

set -u -o pipefail

FAKESYS=${1:?usage: fakesys-selftest.sh PATH-TO-FAKESYS}
HERE=$(cd "$(dirname "$0")" && pwd)
FAILURES=0
MOUNTS=()
PIDS=()

if [[ $EUID -ne 0 || ! -c /dev/fuse ]] || ! command -v fusermount3 >/dev/null; then
	echo "skip: needs root, /dev/fuse and fusermount3"
	exit 77
fi
[[ -x $FAKESYS ]] || { echo "FAIL: $FAKESYS is not executable"; exit 1; }

TMP=$(mktemp -d /tmp/fakesys-selftest.XXXXXX)

cleanup() {
	local m p
	# Lazy unmount first: it works even while a hung write holds a file.
	for m in "${MOUNTS[@]}"; do
		mountpoint -q "$m" && fusermount3 -u -z "$m" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

ok() { echo "ok $1"; }
fail() {
	echo "FAIL $1: $2"
	FAILURES=$((FAILURES + 1))
}
# check NAME COMMAND...: ok when the command succeeds.
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else fail "$name" "'$*' failed"; fi
}
# check_eq NAME WANT GOT
check_eq() {
	if [[ $2 == "$3" ]]; then ok "$1"; else fail "$1" "want '$2', got '$3'"; fi
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# try_write FILE TEXT: "ok", or the strerror text of the failed open/write,
# the way a test of the consumer library would see it.
try_write() {
	local out
	if out=$( { printf '%s\n' "$2" >"$1"; } 2>&1); then
		echo ok
	else
		echo "${out##*: }"
	fi
}

# Basename of a symlink target, empty when the link does not exist.
link_name() {
	local t
	t=$(readlink "$1" 2>/dev/null) || return 0
	echo "${t##*/}"
}

# A process is gone once it is no longer listed or only a zombie.
gone() {
	local stat
	stat=$(ps -o stat= -p "$1" 2>/dev/null) || return 0
	[[ -z $stat || $stat == Z* ]]
}

wait_gone() { # PID TIMEOUT_MS
	local deadline=$(($(now_ms) + $2))
	while ! gone "$1"; do
		(($(now_ms) > deadline)) && return 1
		sleep 0.02
	done
}

# start_foreground TOPOLOGY MOUNTPOINT [ARGS...]: runs fakesys -f as our
# child (so its exit status can be checked) and waits for the mount.
start_foreground() {
	local topo=$1 mnt=$2 i
	shift 2
	mkdir -p "$mnt"
	MOUNTS+=("$mnt")
	"$FAKESYS" --topology "$topo" -f "$@" "$mnt" 2>>"$TMP/fakesys.stderr" &
	FG_PID=$!
	PIDS+=("$FG_PID")
	for ((i = 0; i < 250; i++)); do
		[[ -d $mnt/bus/pci/devices ]] && return 0
		sleep 0.02
	done
	return 1
}

# ---------------------------------------------------------------------------
# Topology errors are reported before anything is mounted.
echo '{"devices": [{"bdf": "0000:41:00.0", "vendr": "0x10de"}]}' >"$TMP/typo.json"
mkdir -p "$TMP/never"
"$FAKESYS" --topology "$TMP/typo.json" -f "$TMP/never" 2>"$TMP/typo.err"
check_eq "bad-topology-exit-code" 2 "$?"
check "bad-topology-message" grep -q 'unknown key "vendr"' "$TMP/typo.err"

# ---------------------------------------------------------------------------
# Four GPUs, daemon mode: the command returns only once the mount is live.
M=$TMP/gpu
mkdir -p "$M"
MOUNTS+=("$M")
"$FAKESYS" --topology "$HERE/topology-4gpu.json" --pidfile "$TMP/gpu.pid" "$M"
check_eq "daemon-mode-exit-code" 0 "$?"
# No polling here on purpose.
check_eq "daemon-mode-mounted-on-return" 0x10de "$(cat "$M/bus/pci/devices/0000:41:00.0/vendor" 2>&1)"
GPU_PID=$(cat "$TMP/gpu.pid" 2>/dev/null)
[[ -n $GPU_PID ]] && PIDS+=("$GPU_PID")

P=$M/bus/pci
D=$P/devices/0000:41:00.0

check_eq "device-link" "../../../devices/pci0000:41/0000:41:00.0" "$(readlink "$D")"
check_eq "class" 0x030200 "$(cat "$D/class")"
check_eq "numa-node" 1 "$(cat "$P/devices/0000:43:00.0/numa_node")"
check_eq "local-cpulist" "16-31,48-63" "$(cat "$P/devices/0000:44:00.0/local_cpulist")"
check_eq "driver-override-unset" "(null)" "$(cat "$D/driver_override")"
check_eq "initial-driver" nvidia "$(link_name "$D/driver")"
check_eq "iommu-group-link" 10 "$(link_name "$D/iommu_group")"
check "iommu-group-members" test -L "$M/kernel/iommu_groups/10/devices/0000:41:00.0"
check_eq "iommu-group-via-device" "0000:41:00.0" "$(ls "$D/iommu_group/devices/")"
check_eq "reset-mode" "200 644 444" \
	"$(stat -c %a "$D/reset") $(stat -c %a "$D/driver_override") $(stat -c %a "$D/vendor")"
check_eq "node-cpulist" "16-31,48-63" "$(cat "$M/devices/system/node/node1/cpulist")"
check_eq "nodes-online" "0-1" "$(cat "$M/devices/system/node/online")"

# The libvirt/driverctl sequence: override, unbind, reprobe.
check_eq "override-set" ok "$(try_write "$D/driver_override" vfio-pci)"
check_eq "override-read" vfio-pci "$(cat "$D/driver_override")"
check_eq "unbind-native" ok "$(try_write "$D/driver/unbind" 0000:41:00.0)"
check "unbound-has-no-driver-link" test ! -e "$D/driver"
check_eq "drivers-probe" ok "$(try_write "$P/drivers_probe" 0000:41:00.0)"
check_eq "bound-to-vfio" "../../../bus/pci/drivers/vfio-pci" "$(readlink "$D/driver")"
check "vfio-lists-device" test -L "$P/drivers/vfio-pci/0000:41:00.0"
check "nvidia-no-longer-lists-device" test ! -e "$P/drivers/nvidia/0000:41:00.0"

# Back to the native driver: clear the override ("\n" clears), unbind, reprobe.
check_eq "override-clear" ok "$(try_write "$D/driver_override" "")"
check_eq "override-cleared" "(null)" "$(cat "$D/driver_override")"
try_write "$P/drivers/vfio-pci/unbind" 0000:41:00.0 >/dev/null
check_eq "native-reprobe" ok "$(try_write "$P/drivers_probe" 0000:41:00.0)"
check_eq "rebound-native" nvidia "$(link_name "$D/driver")"

# An override naming a driver that does not exist leaves the device unbound
# and drivers_probe still succeeds, as in the kernel.
D2=$P/devices/0000:42:00.0
try_write "$D2/driver_override" no-such-driver >/dev/null
try_write "$P/drivers/nvidia/unbind" 0000:42:00.0 >/dev/null
check_eq "probe-missing-driver-succeeds" ok "$(try_write "$P/drivers_probe" 0000:42:00.0)"
check_eq "probe-missing-driver-unbound" "" "$(link_name "$D2/driver")"
try_write "$D2/driver_override" "" >/dev/null
try_write "$P/drivers_probe" 0000:42:00.0 >/dev/null
check_eq "probe-after-clear" nvidia "$(link_name "$D2/driver")"

# Bad writes fail the way the kernel fails them.
check_eq "bind-unknown-bdf" "No such device" "$(try_write "$P/drivers/vfio-pci/bind" 0000:99:00.0)"
check_eq "bind-without-match" "No such device" "$(try_write "$P/drivers/vfio-pci/bind" 0000:43:00.0)"
try_write "$P/devices/0000:43:00.0/driver_override" vfio-pci >/dev/null
check_eq "bind-when-bound-elsewhere" "Device or resource busy" \
	"$(try_write "$P/drivers/vfio-pci/bind" 0000:43:00.0)"
try_write "$P/devices/0000:43:00.0/driver_override" "" >/dev/null
check_eq "unbind-wrong-driver" "No such device" "$(try_write "$P/drivers/vfio-pci/unbind" 0000:43:00.0)"
check_eq "probe-unknown-bdf" "No such device" "$(try_write "$P/drivers_probe" 0000:99:00.0)"
check_eq "reset-rejects-2" "Invalid argument" "$(try_write "$D/reset" 2)"
check_eq "vendor-read-only" "Permission denied" "$(try_write "$D/vendor" 0x1234)"
check "reset-write-only" bash -c "! cat '$D/reset' 2>/dev/null"
check_eq "no-new-files" "Permission denied" "$(try_write "$D/newfile" x)"

# new_id binds every unbound matching device; remove_id forgets the id.
D4=$P/devices/0000:44:00.0
try_write "$P/drivers/nvidia/unbind" 0000:44:00.0 >/dev/null
check_eq "new-id" ok "$(try_write "$P/drivers/vfio-pci/new_id" "10de 20b0")"
check_eq "new-id-binds-unbound" vfio-pci "$(link_name "$D4/driver")"
check_eq "new-id-leaves-bound" nvidia "$(link_name "$D/driver")"
check_eq "new-id-twice" "File exists" "$(try_write "$P/drivers/vfio-pci/new_id" "10de 20b0")"
check_eq "remove-id" ok "$(try_write "$P/drivers/vfio-pci/remove_id" "10de 20b0")"
try_write "$P/drivers/vfio-pci/unbind" 0000:44:00.0 >/dev/null
try_write "$P/drivers_probe" 0000:44:00.0 >/dev/null
check_eq "remove-id-then-native" nvidia "$(link_name "$D4/driver")"

# reset_method: a supported subset, "" disables (reset -> ENOTTY), default restores.
check_eq "reset-method-subset" ok "$(try_write "$D/reset_method" bus)"
check_eq "reset-method-read" bus "$(cat "$D/reset_method")"
check_eq "reset-method-unsupported" "Invalid argument" "$(try_write "$D/reset_method" pm)"
try_write "$D/reset_method" "" >/dev/null
check_eq "reset-method-disabled" "" "$(cat "$D/reset_method")"
check_eq "reset-without-method" "Inappropriate ioctl for device" "$(try_write "$D/reset" 1)"
try_write "$D/reset_method" default >/dev/null
check_eq "reset-method-default" "flr bus" "$(cat "$D/reset_method")"

HP=$M/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages
try_write "$HP" 16 >/dev/null
check_eq "nr-hugepages" 16 "$(cat "$HP")"

# One reset takes about reset_ms (1000 ms in this topology).
before=$(cat "$D/fakesys_reset_count")
t0=$(now_ms)
r=$(try_write "$D/reset" 1)
single=$(($(now_ms) - t0))
check_eq "reset-succeeds" ok "$r"
# A lower bound only: the emulated reset sleeps reset_ms; how much longer a loaded machine
# takes says nothing about fakesys.
if ((single >= 950)); then ok "reset-takes-reset-ms (${single} ms)"; else fail "reset-takes-reset-ms" "took ${single} ms"; fi
check_eq "reset-count" $((before + 1)) "$(cat "$D/fakesys_reset_count")"

# Four resets on four devices at once overlap in wall time.
: >"$M/fakesys.log"
t0=$(now_ms)
writers=()
for b in 41 42 43 44; do
	printf '1\n' >"$P/devices/0000:$b:00.0/reset" &
	writers+=($!)
done
wait "${writers[@]}"
parallel=$(($(now_ms) - t0))
echo "  (4 resets at once took ${parallel} ms, one ${single} ms)"
# Proof from the event log, not the clock: every reset started before any ended.
overlap=$(awk '$2 == "reset-start" { n++; if ($1 > s) s = $1 }
	$2 == "reset-end" { e++; if (!m || $1 < m) m = $1 }
	END { print (n == 4 && e == 4 && s < m) ? "yes" : "no" }' "$M/fakesys.log")
check_eq "log-shows-overlap" yes "$overlap"

fusermount3 -u "$M"
check_eq "unmount" 0 "$?"
if [[ -n $GPU_PID ]] && wait_gone "$GPU_PID" 3000; then ok "daemon-exits-on-unmount"; else fail "daemon-exits-on-unmount" "pid ${GPU_PID:-?} still running"; fi

# ---------------------------------------------------------------------------
# Long unbinds through the same sysfs file still run in parallel.
cat >"$TMP/slow.json" <<'EOF'
{"reset_ms": 100, "unbind_ms": 400,
 "devices": [
  {"bdf": "0000:41:00.0", "vendor": "0x10de", "device": "0x20b0", "iommu_group": 1, "driver": "nvidia"},
  {"bdf": "0000:42:00.0", "vendor": "0x10de", "device": "0x20b0", "iommu_group": 2, "driver": "nvidia"},
  {"bdf": "0000:43:00.0", "vendor": "0x10de", "device": "0x20b0", "iommu_group": 3, "driver": "nvidia"},
  {"bdf": "0000:44:00.0", "vendor": "0x10de", "device": "0x20b0", "iommu_group": 4, "driver": "nvidia"}]}
EOF
M=$TMP/slow
if start_foreground "$TMP/slow.json" "$M"; then
	t0=$(now_ms)
	writers=()
	for b in 41 42 43 44; do
		printf '0000:%s:00.0\n' $b >"$M/bus/pci/drivers/nvidia/unbind" &
		writers+=($!)
	done
	# Not a bare wait: fakesys itself is one of our children.
	wait "${writers[@]}"
	took=$(($(now_ms) - t0))
	# One after another they cannot take less than 4 x 400 ms, however idle the machine.
	if ((took < 1600)); then ok "parallel-unbind-same-file (${took} ms, 400 ms each)"; else fail "parallel-unbind-same-file" "${took} ms for 4 x 400 ms: serialized"; fi
	check_eq "parallel-unbind-all-unbound" "bind new_id remove_id unbind" "$(echo $(ls "$M/bus/pci/drivers/nvidia"))"
	fusermount3 -u "$M"
	wait "$FG_PID"
	check_eq "foreground-exit-status" 0 "$?"
else
	fail "mount-slow" "fakesys did not mount"
fi

# ---------------------------------------------------------------------------
# Fault injection (reset_ms 200).
M=$TMP/faults
if ! start_foreground "$HERE/topology-faults.json" "$M" --event-log "$TMP/faults.log"; then
	fail "mount-faults" "fakesys did not mount"
	echo "$FAILURES check(s) failed"
	exit 1
fi
P=$M/bus/pci

t0=$(now_ms)
r=$(try_write "$P/devices/0000:02:00.0/reset" 1)
took=$(($(now_ms) - t0))
check_eq "reset-eio" "Input/output error" "$r"
if ((took >= 180)); then ok "reset-eio-after-delay (${took} ms)"; else fail "reset-eio-after-delay" "failed after ${took} ms"; fi
check_eq "reset-ok-before-fault" ok "$(try_write "$P/devices/0000:05:00.0/reset" 1)"
check_eq "reset-fault-after-first" "Connection timed out" "$(try_write "$P/devices/0000:05:00.0/reset" 1)"
check "no-reset-method-no-reset-file" test ! -e "$P/devices/0000:06:00.0/reset"

# A vfio-pci probe that fails: drivers_probe succeeds like the kernel's,
# the device stays unbound; bind reports the probe error.
D=$P/devices/0000:04:00.0
try_write "$D/driver_override" vfio-pci >/dev/null
try_write "$P/drivers/nvidia/unbind" 0000:04:00.0 >/dev/null
check_eq "failed-probe-drivers-probe" ok "$(try_write "$P/drivers_probe" 0000:04:00.0)"
check_eq "failed-probe-stays-unbound" "" "$(link_name "$D/driver")"
check_eq "failed-probe-bind-error" "Input/output error" "$(try_write "$P/drivers/vfio-pci/bind" 0000:04:00.0)"
check_eq "failed-probe-bind-unbound" "" "$(link_name "$D/driver")"

try_write "$P/devices/0000:00:01.0/driver_override" vfio-pci >/dev/null
try_write "$P/drivers/pcieport/unbind" 0000:00:01.0 >/dev/null
check_eq "vfio-refuses-bridge" "Invalid argument" "$(try_write "$P/drivers/vfio-pci/bind" 0000:00:01.0)"
try_write "$P/devices/0000:0b:00.0/driver_override" vfio-pci >/dev/null
try_write "$P/drivers/nvidia/unbind" 0000:0b:00.0 >/dev/null
check_eq "vfio-refuses-no-group" "Invalid argument" "$(try_write "$P/drivers/vfio-pci/bind" 0000:0b:00.0)"

check_eq "group-with-host-member" "0000:0a:00.0 0000:0a:00.1" "$(echo $(ls "$M/kernel/iommu_groups/30/devices"))"
check_eq "group-host-member-driver" e1000e "$(link_name "$M/kernel/iommu_groups/30/devices/0000:0a:00.1/driver")"

# A hung unbind holds nvidia/unbind open; other unbinds through the same
# file must not queue behind it; killing the writer releases it.
printf '0000:07:00.0\n' >"$P/drivers/nvidia/unbind" 2>/dev/null &
UNBIND_PID=$!
PIDS+=("$UNBIND_PID")
sleep 0.3
t0=$(now_ms)
r=$(timeout 5 bash -c "printf '0000:01:00.0\n' > '$P/drivers/nvidia/unbind'" 2>&1 && echo ok)
took=$(($(now_ms) - t0))
check_eq "unbind-beside-hung-unbind" ok "$r"
echo "  (the unbind beside the hung one took ${took} ms; queued behind it, it would have hit the 5 s timeout)"
if gone "$UNBIND_PID"; then fail "unbind-hangs" "returned early"; else ok "unbind-hangs"; fi
kill "$UNBIND_PID" 2>/dev/null
if wait_gone "$UNBIND_PID" 2000; then ok "hung-writer-killable"; else fail "hung-writer-killable" "still blocked"; fi
check_eq "hung-unbind-still-bound" nvidia "$(link_name "$P/devices/0000:07:00.0/driver")"

# A hung reset blocks its writer until unmount. A plain unmount is refused
# while the file is open, as for any busy mount; a lazy one ends the hang.
printf '1\n' >"$P/devices/0000:03:00.0/reset" 2>"$TMP/hang.err" &
HANG_PID=$!
PIDS+=("$HANG_PID")
sleep 0.6 # three times reset_ms
if gone "$HANG_PID"; then fail "reset-hangs" "returned early"; else ok "reset-hangs"; fi
check "hang-logged-start-only" bash -c "grep -q 'reset-start 0000:03:00.0' '$M/fakesys.log' && ! grep -q 'reset-end 0000:03:00.0' '$M/fakesys.log'"
fusermount3 -u -z "$M"
check_eq "lazy-unmount-with-hung-reset" 0 "$?"
if wait_gone "$HANG_PID" 3000; then ok "unmount-releases-hung-reset"; else fail "unmount-releases-hung-reset" "writer still blocked"; fi
check "hung-reset-writer-saw-error" grep -q "No such device" "$TMP/hang.err"
if wait_gone "$FG_PID" 3000; then
	wait "$FG_PID"
	check_eq "daemon-exits-after-lazy-unmount" 0 "$?"
else
	fail "daemon-exits-after-lazy-unmount" "still running"
fi
check "event-log-mirror" grep -q "reset-end 0000:02:00.0 result=EIO" "$TMP/faults.log"

# Same hang, ended by SIGTERM to the daemon instead.
M=$TMP/faults-term
if start_foreground "$HERE/topology-faults.json" "$M"; then
	printf '1\n' >"$M/bus/pci/devices/0000:03:00.0/reset" 2>/dev/null &
	HANG_PID=$!
	PIDS+=("$HANG_PID")
	sleep 0.3
	kill -TERM "$FG_PID"
	if wait_gone "$HANG_PID" 3000; then ok "sigterm-releases-hung-reset"; else fail "sigterm-releases-hung-reset" "writer still blocked"; fi
	if wait_gone "$FG_PID" 3000; then
		wait "$FG_PID"
		check_eq "sigterm-exit-status" 0 "$?"
	else
		fail "sigterm-exit-status" "daemon still running"
	fi
	if mountpoint -q "$M"; then fail "sigterm-unmounts" "still mounted"; else ok "sigterm-unmounts"; fi
else
	fail "mount-faults-term" "fakesys did not mount"
fi

if ((FAILURES)); then
	echo "$FAILURES check(s) failed"
	[[ -s $TMP/fakesys.stderr ]] && sed 's/^/fakesys stderr: /' "$TMP/fakesys.stderr"
	exit 1
fi
echo "all checks passed"
