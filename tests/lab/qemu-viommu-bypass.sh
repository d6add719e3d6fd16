#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs inside the lab guest (tests/lab/lab-run -n 2): a q35 guest with an Intel vIOMMU whose
# default PCI bus bypasses it (default_bus_bypass_iommu=on) and a pxb-pcie bus that does not
# (bypass_iommu=off), one vfio-pci device on each (the bypassing one first on the command line),
# starts with Debian's QEMU and with fastpass's QEMU with every option on, and fastpass's guest
# kernel lists both devices. Series 2 opened every device ahead of realize in the system memory
# address space and failed the translated one's realize ("group N used in multiple address
# spaces"); series 3 opens nothing ahead when a vIOMMU is present (its trace says so).
# usage: qemu-viommu-bypass.sh STOCK_QEMU FASTPASS_QEMU
set -u
stock=$(realpath "$1"); fpq=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cli/lib.sh"
[ "${LAB:-}" = 1 ] || { echo "qemu-viommu-bypass.sh: run it inside the lab (tests/lab/lab-run -n 2)" >&2; exit 2; }
[ -x "$fpq" ] || { echo "SKIP: no fastpass QEMU at $fpq (launcher/qemu/build-qemu builds it)"; exit 77; }
read -r -a devs <<<"${LAB_DEVICES:-}"
[ ${#devs[@]} -ge 2 ] || { echo "qemu-viommu-bypass.sh: needs two devices (lab-run -n 2)" >&2; exit 2; }
work=/tmp/qemu-viommu-bypass; mkdir -p "$work"
kernel=$("$here/../debian-kernel")
modprobe vfio-pci
for d in "${devs[@]:0:2}"; do
  # QEMU 7.2's e1000e resets only on a bus reset (tests/lab/README.md, point 4)
  echo bus > /sys/bus/pci/devices/$d/reset_method
  # echo vfio-pci > driver_override; echo $d > driver/unbind; echo $d > drivers_probe
  echo vfio-pci > /sys/bus/pci/devices/$d/driver_override
  [ -e /sys/bus/pci/devices/$d/driver ] && echo "$d" > /sys/bus/pci/devices/$d/driver/unbind
  echo "$d" > /sys/bus/pci/drivers_probe
done
on=()
for p in x-skip-first-reset x-parallel-open x-keep-dma-maps x-parallel-close; do
  grep -q "$p=" <("$fpq" -device vfio-pci,help 2>&1) && on+=(-global "vfio-pci.$p=on")
done
echo "# fastpass's options: ${on[*]}"
# aw-bits=39: the lab's own vIOMMU (the host's, for the guest QEMU) has 39 address bits; QEMU 7.2's
# intel-iommu defaults to 39, 10.0's to 48, which VFIO then refuses ("aw-bits 48 > host aw-bits 39").
machine=(-machine q35,accel=tcg,default_bus_bypass_iommu=on -m 256 -nodefaults -display none
  -device intel-iommu,intremap=off,caching-mode=on,aw-bits=39
  -device pcie-root-port,id=rp0,bus=pcie.0,chassis=1
  -device "vfio-pci,host=${devs[0]},bus=rp0"
  -device pxb-pcie,id=pxb1,bus_nr=0x80,bypass_iommu=off
  -device pcie-root-port,id=rp1,bus=pxb1,chassis=2
  -device "vfio-pci,host=${devs[1]},bus=rp1")

python3 "$here/qemu-init.py" --timeout 200 -- "$stock" "${machine[@]}" > "$work/stock.json" 2> "$work/stock.err"
check "Debian's QEMU starts with a device on a bypassing and one on a translated bus" [ $? -eq 0 ]
sed 's/^/     /' "$work/stock.err"

# fastpass's QEMU: until its guest kernel has listed both devices ([8086:10d3] twice)
rm -f "$work/console"
"$fpq" "${on[@]}" -trace 'vfio_preopen*' "${machine[@]}" -kernel "$kernel" -append console=ttyS0 \
  -serial "file:$work/console" > "$work/fastpass.out" 2> "$work/fastpass.err" &
pid=$!
for _ in $(seq 1 800); do
  [ "$(cat "$work/console" 2>/dev/null | grep -c '\[8086:10d3\]')" -ge 2 ] && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.25
done
kill -0 $pid 2>/dev/null; alive=$?
seen=$(cat "$work/console" 2>/dev/null | grep -c '\[8086:10d3\]')
kill $pid 2>/dev/null; wait $pid 2>/dev/null
grep -v 'vfio_preopen' "$work/fastpass.err" | head -20 | sed 's/^/     /'
check "fastpass's QEMU with every option on starts with both (still running after the guest's PCI scan)" \
  [ $alive -eq 0 ]
grep '8086:10d3' "$work/console" | head -2 | sed 's/^/     guest: /'
check "fastpass's guest kernel lists both devices (8086:10d3 twice)" [ "${seen:-0}" -ge 2 ]
grep -h 'vfio_preopen' "$work/fastpass.err" | head -3 | sed 's/^/     trace: /'
finish
