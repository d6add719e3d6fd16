#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs inside the lab guest, by hand (not a ctest): what an empty sysfs reset_method while QEMU
# opens a device changes, the idea behind "devices trusted warm" (launcher/qemu/README.md).
# usage: tests/lab/lab-run -n 3 -- tests/lab/reset-method-empty.sh STOCK_QEMU FASTPASS_QEMU
# For each QEMU, one device: reset_method "bus" as usual; empty for the whole run; empty until
# QEMU holds the device's fd, then "bus" again. Then fastpass's QEMU with 3 devices, usual and
# empty until open. Prints every PCI reset per phase: exec (until the vCPUs run), system_reset
# (QMP system_reset, and the guest's own resets while SeaBIOS finds nothing to boot), quit
# (QEMU closing the devices), as qemu-trace.sh records them (START END in seconds).
set -u
stock=$1 fpq=$2
here=$(cd "$(dirname "$0")" && pwd)
[ "${LAB:-}" = 1 ] || { echo "reset-method-empty.sh: run it inside the lab (tests/lab/lab-run)" >&2; exit 2; }
work=/tmp/reset-method-empty
. "$here/qemu-trace.sh" > /dev/null
methods() { local d; for d in "$@"; do echo "$method" > /sys/bus/pci/devices/$d/reset_method; done; }
restore_after_open() { # K: put "bus" back once QEMU holds K device fds ("[vfio-device]")
  local i p
  for ((i = 0; i < 1500; i++)); do
    p=$(pgrep -x qemu-system-x86 | head -1)
    if [ -n "$p" ] && [ "$(ls -l /proc/$p/fd 2>/dev/null | grep -c vfio-device)" -ge "$1" ]; then
      method=bus methods "${devs[@]}"; echo "   reset_method back to bus once QEMU held $1 device fd(s)"
      return 0
    fi
    sleep 0.01
  done
  echo "   QEMU never held $1 device fd(s): reset_method left empty until the run ended"
}
run() { # NAME QEMU K MODE (bus | empty | empty-at-open)
  local name=$1 bin=$2 k=$3 mode=$4 w= ph devargs
  mapfile -t devargs < <(vfio_args "$k")
  method=bus methods "${devs[@]}"
  [ "$mode" = bus ] || method= methods "${devs[@]::$k}"
  [ "$mode" = empty-at-open ] && { restore_after_open "$k" > "$work/$name.watch" & w=$!; }
  trace_qemu "$name" --system-reset -- "$bin" -machine q35,accel=tcg -m 128 -nodefaults \
    -display none "${devargs[@]}"
  [ -n "$w" ] && { wait "$w"; cat "$work/$name.watch"; }
  for ph in exec system_reset quit; do
    echo "   $name, $ph: $(count "$name" $ph) resets ($(awk -v p=$ph '$1 == p {print $2}' "$work/$name.resets" | sort | uniq -c | xargs))"
  done
  method=bus methods "${devs[@]}"
}
run warm-up "$fpq" 1 bus > /dev/null
for q in fastpass stock; do
  bin=$fpq; [ $q = stock ] && bin=$stock
  for mode in bus empty empty-at-open; do run "$q-1-$mode" "$bin" 1 $mode; done
done
for mode in bus empty-at-open; do run "fastpass-$n-$mode" "$fpq" "$n" $mode; done
