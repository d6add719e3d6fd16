#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vfio-by-hand.sh: the sysfs steps fastpass automates, done by hand on a real kernel, one device
# at a time, checking the end state after every step. Runs inside the lab guest, as root:
#   tests/lab/lab-run -b 2 -- tests/lab/vfio-by-hand.sh [BDF...]
# Default: every e1000e (8086:10d3) device. For each device:
#   1. echo vfio-pci > driver_override; unbind; drivers_probe  -> bound to vfio-pci, /dev/vfio/GROUP
#   2. echo 1 > reset (default method) -> succeeds; then each method of reset_method alone,
#      and whether it reaches the device: a marker written into a register must be gone
#   3. echo > driver_override; unbind; drivers_probe -> bound to e1000e again
#   4. echo 1 > reset while e1000e is bound -> succeeds, e1000e stays bound
# Then, for an IOMMU group holding several of them (-b): bind them all to vfio-pci -> the group
# becomes viable (while one is still on e1000e it is not: checked in 1.), and back.
# Prints "ok ..." / "FAIL ..." lines and "# ..." observations (with times under TCG);
# exits 1 if anything failed. Changes nothing it does not put back.
set -uo pipefail

sys=/sys
failures=0
ok() { echo "ok   $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
note() { echo "#    $*"; }
ms() { printf '%d.%03d ms' $(($1 / 1000)) $(($1 % 1000)); }

# sysw FILE VALUE: write VALUE to a sysfs attribute (one write(2), no fork, so that $took, the
# time the write took in microseconds, is the kernel's); on failure sets $err to the errno text.
errf=$(mktemp)
trap 'rm -f "$errf"' EXIT
err='' took=0
sysw() {
  local t0=${EPOCHREALTIME/./}
  { printf '%s\n' "$2" > "$1"; } 2> "$errf"
  local rc=$?
  took=$(( ${EPOCHREALTIME/./} - t0 ))
  ((rc == 0)) && return 0
  err=$(< "$errf"); err=${err##*: }
  return 1
}
driver_of() { local l; l=$(readlink "$sys/bus/pci/devices/$1/driver" 2>/dev/null) && echo "${l##*/}" || echo none; }
group_of() { local l; l=$(readlink "$sys/bus/pci/devices/$1/iommu_group") && echo "${l##*/}"; }
# viability GROUP: what VFIO_GROUP_GET_STATUS says (the ioctl QEMU's first step depends on):
# "viable" only if every device in the group is on vfio-pci or has no driver.
viability() {
  python3 - "$1" 2>&1 <<'EOF'
import fcntl, os, struct, sys
VFIO_GROUP_GET_STATUS, VFIO_GROUP_FLAGS_VIABLE = 0x3b67, 1   # _IO(';', 100 + 3)
fd = os.open("/dev/vfio/" + sys.argv[1], os.O_RDWR | os.O_CLOEXEC)
status = bytearray(struct.pack("II", 8, 0))
fcntl.ioctl(fd, VFIO_GROUP_GET_STATUS, status)
print("viable" if struct.unpack("II", status)[1] & VFIO_GROUP_FLAGS_VIABLE else "not viable")
EOF
}
# regs BDF METHOD...: for each method alone, write a marker into the e1000e's RDBAL register
# (BAR0 + 0x2800, through the sysfs BAR mmap), reset, read it back. Prints one line per method:
# METHOD ok|unselectable|failed BEFORE AFTER|ERRNO-TEXT. Leaves reset_method at "default".
regs() {
  python3 - "$@" 2>&1 <<'EOF'
import mmap, os, sys
bdf, methods = sys.argv[1], sys.argv[2:]
dev = "/sys/bus/pci/devices/" + bdf
RDBAL, MARK = 0x2800, 0x5A5A0000
def sysw(attr, value):
    with open(dev + "/" + attr, "w") as f:
        f.write(value)
fd = os.open(dev + "/resource0", os.O_RDWR | os.O_SYNC | os.O_CLOEXEC)
reg = memoryview(mmap.mmap(fd, 0x3000)).cast("I")   # 32-bit accesses, as the device wants
for m in methods:
    try:
        sysw("reset_method", m)
    except OSError as e:
        print(m, "unselectable", e.strerror.replace(" ", "_")); continue
    reg[RDBAL // 4] = MARK
    before = reg[RDBAL // 4]
    try:
        sysw("reset", "1")
    except OSError as e:
        print(m, "failed", e.strerror.replace(" ", "_")); continue
    print(m, "ok", "0x%08x" % before, "0x%08x" % reg[RDBAL // 4])
sysw("reset_method", "default")
EOF
}
power_of() { cat "$sys/bus/pci/devices/$1/power_state" 2>/dev/null || echo '?'; }

# bind BDF DRIVER-OVERRIDE: the libvirt/virpci.c sequence; DRIVER-OVERRIDE "" means "no override".
rebind() {
  local bdf=$1 override=$2 dev=$sys/bus/pci/devices/$1
  # echo vfio-pci > /sys/bus/pci/devices/$BDF/driver_override   (or: echo > ... to clear)
  sysw "$dev/driver_override" "$override" || { fail "$bdf: write '$override' to driver_override: $err"; return 1; }
  # echo $BDF > /sys/bus/pci/devices/$BDF/driver/unbind
  if [[ -e $dev/driver ]]; then
    local from; from=$(driver_of "$bdf")
    sysw "$dev/driver/unbind" "$bdf" || { fail "$bdf: unbind from $from: $err"; return 1; }
    note "$bdf: unbind from $from took $(ms $took)"
  fi
  # echo $BDF > /sys/bus/pci/drivers_probe
  sysw "$sys/bus/pci/drivers_probe" "$bdf" || { fail "$bdf: drivers_probe: $err"; return 1; }
  note "$bdf: drivers_probe (-> $(driver_of "$bdf")) took $(ms $took)"
}

# reset BDF WHAT: echo 1 > reset, timed; WHAT says which method(s) reset_method allowed.
reset_dev() {
  local bdf=$1 what=$2 dev=$sys/bus/pci/devices/$1 before
  before=$(power_of "$bdf")
  # echo 1 > /sys/bus/pci/devices/$BDF/reset
  if sysw "$dev/reset" 1; then
    ok "$bdf: reset ($what) on $(driver_of "$bdf") took $(ms $took) (power_state $before -> $(power_of "$bdf"))"
    return 0
  fi
  err_reset="$err after $(ms $took)"
  return 1
}

if [[ $# -gt 0 ]]; then
  devices=("$@")
else
  devices=()
  for d in "$sys"/bus/pci/devices/*; do
    [[ $(cat "$d/vendor"):$(cat "$d/device") = 0x8086:0x10d3 ]] && devices+=("${d##*/}")
  done
fi
[[ ${#devices[@]} -gt 0 ]] || { fail "no e1000e devices found"; exit 1; }
[[ -d $sys/bus/pci/drivers/vfio-pci ]] || { fail "vfio-pci is not loaded"; exit 1; }
[[ -d $sys/bus/pci/drivers/e1000e ]] || { fail "e1000e is not loaded"; exit 1; }
note "kernel $(uname -r); devices: ${devices[*]}"

for bdf in "${devices[@]}"; do
  dev=$sys/bus/pci/devices/$bdf
  [[ $bdf =~ ^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$ && -d $dev ]] || { fail "$bdf: no such PCI device"; continue; }
  group=$(group_of "$bdf") || { fail "$bdf: no IOMMU group (is intel_iommu=on?)"; continue; }
  members=$(ls "$sys/kernel/iommu_groups/$group/devices" | tr '\n' ' ')
  methods=$(cat "$dev/reset_method" 2>/dev/null)
  note "$bdf: driver $(driver_of "$bdf"), IOMMU group $group (${members% }), reset_method '${methods}', power_state $(power_of "$bdf")"
  [[ $(driver_of "$bdf") = e1000e ]] || fail "$bdf: starts on $(driver_of "$bdf"), not e1000e"

  # 1. to vfio-pci
  if rebind "$bdf" vfio-pci; then
    if [[ $(driver_of "$bdf") = vfio-pci ]]; then ok "$bdf: bound to vfio-pci"; else fail "$bdf: bound to $(driver_of "$bdf"), not vfio-pci"; fi
    if [[ -c /dev/vfio/$group ]]; then ok "$bdf: /dev/vfio/$group exists"; else fail "$bdf: no /dev/vfio/$group"; fi
    note "$bdf: on vfio-pci, power_state $(power_of "$bdf") (vfio-pci runtime-suspends an unused device)"
    # The group is viable only if no other member is on a host driver (bridges without a driver
    # are fine): two NICs behind one conventional bridge make the group non-viable until both
    # are on vfio-pci, the case fastpass must refuse.
    others=
    for m in $members; do
      [[ $m = "$bdf" ]] && continue
      case $(driver_of "$m") in none|vfio-pci|pci-stub) ;; *) others="$others $m($(driver_of "$m"))" ;; esac
    done
    if command -v python3 >/dev/null; then
      want=viable; [[ -n $others ]] && want="not viable"
      got=$(viability "$group")
      if [[ $got = "$want" ]]; then ok "$bdf: group $group is $got${others:+ (on host drivers:$others)}"
      else fail "$bdf: group $group: VFIO_GROUP_GET_STATUS says '$got', expected '$want'${others:+ (on host drivers:$others)}"; fi
    else
      note "$bdf: no python3, group viability not checked"
    fi
  fi

  # 2. resets while on vfio-pci: the default order, then each method on its own
  if [[ ! -e $dev/reset ]]; then
    fail "$bdf: no reset attribute (the kernel found no reset method)"
  else
    reset_dev "$bdf" "default: $methods" || fail "$bdf: reset on $(driver_of "$bdf"): $err_reset"
    # A bus reset needs the device alone on its bus. reset_method was filled in when the device
    # was found, possibly before its siblings were, so it may still list "bus"; selecting it
    # re-checks and is refused (EINVAL), as is "echo 1 > reset" with "bus" (ENOTTY).
    on_bus=("$sys/bus/pci/devices/${bdf%:*}:"*)
    siblings=$(( ${#on_bus[@]} - 1 ))
    for m in $methods; do
      # echo $METHOD > /sys/bus/pci/devices/$BDF/reset_method
      if ! sysw "$dev/reset_method" "$m"; then
        if [[ $m = bus && $siblings -gt 0 ]]; then
          ok "$bdf: selecting bus reset refused ($err): $siblings other device(s) on its bus"
        else
          fail "$bdf: select reset method $m: $err"
        fi
        continue
      fi
      if reset_dev "$bdf" "$m only"; then
        [[ $m = bus && $siblings -gt 0 ]] && fail "$bdf: bus reset worked although $siblings other device(s) share its bus"
      elif [[ $m = bus && $siblings -gt 0 ]]; then
        ok "$bdf: bus reset refused ($err_reset): $siblings other device(s) on its bus"
      else
        fail "$bdf: reset ($m only): $err_reset"
      fi
    done
    # echo default > /sys/bus/pci/devices/$BDF/reset_method   (probes every method again)
    sysw "$dev/reset_method" default || fail "$bdf: restore reset_method: $err"
    now=$(cat "$dev/reset_method")
    if [[ $now != "$methods" ]]; then
      if [[ $siblings -gt 0 && " $methods " = *" bus "* && $now = "$(echo $methods | sed 's/ *\bbus\b//')" ]]; then
        note "$bdf: reset_method was '$methods', is '$now' once re-probed: the stale 'bus' is gone"
      else
        fail "$bdf: reset_method is '$now' after 'default', was '$methods'"
      fi
    fi
  fi

  # 2b. does the reset reach the device? (the kernel cannot tell: it only sees the reset succeed)
  if [[ -e $dev/reset && $(driver_of "$bdf") = vfio-pci ]] && command -v python3 >/dev/null; then
    results=0
    while read -r m verdict before after; do
      results=$((results + 1))
      case $verdict in
        ok)
          if [[ $before != 0x5a5a0000 ]]; then fail "$bdf: could not write a marker into RDBAL (read $before)"
          elif [[ $after = 0x00000000 ]]; then ok "$bdf: $m reset clears the device's registers (RDBAL $before -> $after)"
          elif [[ $m = bus ]]; then fail "$bdf: bus reset left RDBAL at $after"
          else note "$bdf: $m reset succeeded but the device kept its registers (RDBAL $before -> $after): QEMU's e1000e does not reset on D3hot->D0"
          fi ;;
        unselectable) [[ $m = bus && $siblings -gt 0 ]] || fail "$bdf: select $m: ${before//_/ }" ;;
        *) fail "$bdf: register check with $m: $verdict $before $after" ;;
      esac
    done < <(read -r -a now_methods < "$dev/reset_method"; regs "$bdf" "${now_methods[@]}")
    ((results > 0)) || fail "$bdf: the register check printed nothing"
  fi

  # 3. back to e1000e (no remove/rescan: clearing the override and re-probing is enough)
  if rebind "$bdf" ""; then
    if [[ $(driver_of "$bdf") = e1000e ]]; then ok "$bdf: back on e1000e"; else fail "$bdf: on $(driver_of "$bdf") after clearing the override, not e1000e"; fi
    [[ -z $(cat "$dev/driver_override" | sed 's/^(null)$//') ]] || fail "$bdf: driver_override is still '$(cat "$dev/driver_override")'"
  fi

  # 4. reset with the host driver bound: the kernel allows it (it saves/restores config space
  #    around the reset and tells the driver through its reset_prepare/reset_done, if any)
  if [[ -e $dev/reset ]]; then
    reset_dev "$bdf" "default: $(cat "$dev/reset_method")" || fail "$bdf: reset on e1000e: $err_reset"
    [[ $(driver_of "$bdf") = e1000e ]] || fail "$bdf: on $(driver_of "$bdf") after a reset, not e1000e"
  fi
done

# 5. groups holding several of the devices: viable once all of them are on vfio-pci
declare -A in_group=()
for bdf in "${devices[@]}"; do
  g=$(group_of "$bdf" 2>/dev/null) && in_group[$g]+=" $bdf"
done
for g in "${!in_group[@]}"; do
  set -- ${in_group[$g]}
  (($# > 1)) || continue
  all=1
  for bdf; do rebind "$bdf" vfio-pci && [[ $(driver_of "$bdf") = vfio-pci ]] || all=; done
  if [[ -z $all ]]; then fail "group $g: could not put all of $* on vfio-pci"
  elif command -v python3 >/dev/null; then
    got=$(viability "$g")
    if [[ $got = viable ]]; then ok "group $g: viable with all of $* on vfio-pci"; else fail "group $g: '$got' with all of $* on vfio-pci"; fi
  fi
  for bdf; do rebind "$bdf" "" && [[ $(driver_of "$bdf") = e1000e ]] || fail "$bdf: not back on e1000e"; done
  [[ -e /dev/vfio/$g ]] && fail "group $g: /dev/vfio/$g still exists with no device on vfio-pci"
  ok "group $g: all of $* back on e1000e, /dev/vfio/$g gone"
done

if ((failures > 0)); then echo "FAIL: $failures check(s) failed"; exit 1; fi
echo "ok: all checks passed on ${#devices[@]} device(s)"
