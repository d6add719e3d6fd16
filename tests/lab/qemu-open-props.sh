#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs inside the lab guest (tests/lab/lab-run -n 10): which devices fastpass's QEMU opens ahead of
# their realize (x-parallel-open), read from its own trace (vfio_preopen: "DEVICE group N: opening
# ahead of realize"), for the command-line forms qdev accepts: host= unpadded and without a
# domain, host= in upper case (the tenth device is on bus 0x0a), -global
# vfio-pci.x-parallel-open=off with one device turning it on, x-parallel-open=n, and a failover
# primary (failover_pair_id: virtio-net may hide it, so it must not be opened ahead). Each start
# must also work. Series 2 parsed the command line itself and got each of these wrong.
# usage: qemu-open-props.sh FASTPASS_QEMU
set -u
fpq=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cli/lib.sh"
[ "${LAB:-}" = 1 ] || { echo "qemu-open-props.sh: run it inside the lab (tests/lab/lab-run -n 10)" >&2; exit 2; }
[ -x "$fpq" ] || { echo "SKIP: no fastpass QEMU at $fpq (launcher/qemu/build-qemu builds it)"; exit 77; }
grep -q 'x-parallel-open=' <("$fpq" -device vfio-pci,help 2>&1) ||
  { echo "qemu-open-props.sh: $fpq has no x-parallel-open" >&2; exit 1; }
read -r -a devs <<<"${LAB_DEVICES:-}"
[ ${#devs[@]} -ge 10 ] || { echo "qemu-open-props.sh: needs ten devices (lab-run -n 10)" >&2; exit 2; }
d1=${devs[0]} d2=${devs[1]} d3=${devs[2]} d10=${devs[9]}
[ "$d1" = 0000:01:00.0 ] && [ "$d10" = 0000:0a:00.0 ] ||
  { echo "qemu-open-props.sh: expected devices 0000:01:00.0 .. 0000:0a:00.0, got $d1 .. $d10" >&2; exit 2; }
work=/tmp/qemu-open-props; mkdir -p "$work"
modprobe vfio-pci
for d in $d1 $d2 $d3 $d10; do
  # QEMU 7.2's e1000e resets only on a bus reset (tests/lab/README.md, point 4)
  echo bus > /sys/bus/pci/devices/$d/reset_method
  # echo vfio-pci > driver_override; echo $d > driver/unbind; echo $d > drivers_probe
  echo vfio-pci > /sys/bus/pci/devices/$d/driver_override
  [ -e /sys/bus/pci/devices/$d/driver ] && echo "$d" > /sys/bus/pci/devices/$d/driver/unbind
  echo "$d" > /sys/bus/pci/drivers_probe
done
on=(-global vfio-pci.x-parallel-open=on)
opened() { # CASE: the devices its start opened ahead of realize, sorted, space-separated
  sed -n 's/.*vfio_preopen \([0-9a-f:.]*\) group .*/\1/p' "$work/$1.err" | sort | tr '\n' ' ' | sed 's/ $//'
}
start() { # CASE EXPECTED-OPENED QEMU-ARGS...: start it until it runs; compare what it opened ahead
  # (EXPECTED-OPENED sorted, space-separated)
  local name=$1 want=$2; shift 2
  python3 "$here/qemu-init.py" --timeout 200 -- "$fpq" -trace 'vfio_preopen*' \
    -machine q35,accel=tcg -m 128 -nodefaults -display none "$@" > "$work/$name.json" 2> "$work/$name.err"
  check "$name: starts" [ $? -eq 0 ]
  grep -v 'vfio_preopen' "$work/$name.err" | head -5 | sed 's/^/     /'
  check "$name: opened ahead: '$(opened "$name")', want '$want'" [ "$(opened "$name")" = "$want" ]
  grep -q 'vfio_preopen_discard' "$work/$name.err" && echo "     closed unused: $(grep -o 'vfio_preopen_discard [0-9a-f:.]*' "$work/$name.err" | tr '\n' ' ')"
  return 0
}

start "host= unpadded, no domain (1:0.0)" "$d1 $d2" "${on[@]}" \
  -device vfio-pci,host=1:0.0 -device "vfio-pci,host=$d2"
start "host= upper case (0000:0A:00.0)" "$d2 $d10" "${on[@]}" \
  -device vfio-pci,host=0000:0A:00.0 -device "vfio-pci,host=$d2"
start "-global ...=off, only the first device on: fewer than two, none opened ahead" "" \
  -global vfio-pci.x-parallel-open=off -device "vfio-pci,host=$d1,x-parallel-open=on" \
  -device "vfio-pci,host=$d2" -device "vfio-pci,host=$d3"
start "x-parallel-open=n on the second device" "$d1 $d3" "${on[@]}" \
  -device "vfio-pci,host=$d1" -device "vfio-pci,host=$d2,x-parallel-open=n" -device "vfio-pci,host=$d3"
start "a failover primary (failover_pair_id) is not opened ahead" "$d1 $d3" "${on[@]}" \
  -netdev user,id=hostnet0,restrict=on -device virtio-net-pci,netdev=hostnet0,id=net1,failover=on \
  -device "vfio-pci,host=$d1" -device pcie-root-port,id=rpf,chassis=9 \
  -device "vfio-pci,host=$d2,bus=rpf,id=hostdev0,failover_pair_id=net1" -device "vfio-pci,host=$d3"
finish
