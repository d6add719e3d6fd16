# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced inside the lab guest (tests/lab/lab-run) by qemu-resets.sh and bench/vfio-init: the
# devices on vfio-pci, and kprobes on every PCI reset (function and bus) and every VFIO DMA map
# and unmap, cut into phases by qemu-init.py's trace markers.
# Needs: $here (tests/lab), $work, LAB_DEVICES; sets devs[] and n.
read -r -a devs <<<"$LAB_DEVICES"
n=${#devs[@]}
T=/sys/kernel/tracing
mountpoint -q $T || mount -t tracefs none $T
mkdir -p "$work"

modprobe vfio-pci
for d in "${devs[@]}"; do
  # QEMU 7.2's e1000e resets only on a bus reset (tests/lab/README.md, point 4)
  echo bus > /sys/bus/pci/devices/$d/reset_method
  # echo vfio-pci > driver_override; echo $d > driver/unbind; echo $d > drivers_probe
  echo vfio-pci > /sys/bus/pci/devices/$d/driver_override
  [ -e /sys/bus/pci/devices/$d/driver ] && echo "$d" > /sys/bus/pci/devices/$d/driver/unbind
  echo "$d" > /sys/bus/pci/drivers_probe
done

# Both ways the kernel resets a vfio-pci device: a function reset (at open, VFIO_DEVICE_RESET)
# and a bus reset (VFIO_DEVICE_PCI_HOT_RESET); entry and return, with the pci_dev pointer.
echo 0 > $T/tracing_on
echo > $T/kprobe_events
for fn in __pci_reset_function_locked pci_reset_bus; do
  echo "p:fp/in_$fn $fn dev=%di:x64" >> $T/kprobe_events
  echo "r:fp/out_$fn $fn ret=\$retval:s32" >> $T/kprobe_events
done
# VFIO type1 DMA map and unmap ioctls as the kernel sees them, at vfio_iommu_type1_ioctl (its
# map/unmap helpers are inlined): the command and the user's struct (vfio_iommu_type1_dma_map:
# iova at +16, size at +24; vfio_iommu_type1_dma_unmap: iova at +8, size at +16).
dma=1
echo "p:fp/dma vfio_iommu_type1_ioctl cmd=%si:x32 a8=+u8(%dx):x64 a16=+u16(%dx):x64 a24=+u24(%dx):x64" \
  >> $T/kprobe_events 2>/dev/null || { dma=0; echo "# vfio_iommu_type1_ioctl cannot be probed here: no DMA counts"; }
echo 1 > $T/events/fp/enable
echo 65536 > $T/buffer_size_kb

vfio_args() { # K: -device options for the first K devices
  local i
  for ((i = 0; i < $1; i++)); do printf -- '-device\nvfio-pci,host=%s\n' "${devs[$i]}"; done
}

trace_qemu() { # NAME [--system-reset] -- QEMU ARGS...: QEMU until it runs (and resets), traced
  # (by qemu-init.py, or by the driver named in $qemu_driver, which takes the same --marker/--timeout)
  local name=$1; shift
  echo > $T/trace
  echo 1 > $T/tracing_on
  python3 "$here/${qemu_driver:-qemu-init.py}" --marker $T/trace_marker --timeout 200 "$@" \
    > "$work/$name.json" 2> "$work/$name.err"
  local rc=$?
  echo 0 > $T/tracing_on
  # PHASE FUNCTION DEVICE START END RET, one line per reset, from entry/return pairs per thread
  python3 - $T/trace > "$work/$name.resets" 2> "$work/$name.dma" <<'PY'
import re, sys
phase, start = "-", {}
for line in open(sys.argv[1]):
    m = re.match(r"\s*(.*)-(\d+)\s+\[\d+\]\s+\S+\s+([\d.]+): (\S+): (.*)", line)
    if not m:
        continue
    pid, ts, event, rest = m.group(2), m.group(3), m.group(4), m.group(5)
    if event == "tracing_mark_write" and rest.startswith("fp: "):
        phase = rest[4:].strip()
    elif event.startswith("in_"):
        start[pid] = (event[3:], re.search(r"dev=(\S+)", rest).group(1), ts)
    elif event == "dma":
        f = dict(kv.split("=", 1) for kv in rest.split() if "=" in kv)
        cmd = int(f["cmd"], 16)
        if cmd == 0x3b71:  # VFIO_IOMMU_MAP_DMA
            print(phase, "dma_map", f["a16"], f["a24"], ts, ts, file=sys.stderr)
        elif cmd == 0x3b72:  # VFIO_IOMMU_UNMAP_DMA
            print(phase, "dma_unmap", f["a8"], f["a16"], ts, ts, file=sys.stderr)
    elif event.startswith("out_") and pid in start:
        fn, dev, t0 = start.pop(pid)
        print(phase, fn, dev, t0, ts, re.search(r"ret=(\S+)", rest).group(1))
PY
  echo "== $name: $(cat "$work/$name.json" 2>/dev/null)"
  [ $dma = 1 ] && echo "   VFIO DMA: $(dma_counts "$name")"
  sed 's/^/   /' "$work/$name.resets"
  [ $rc -eq 0 ] || { echo "   qemu-init.py failed:"; sed 's/^/   /' "$work/$name.err"; }
  return $rc
}
dma_counts() { # NAME: maps, unmaps, maps of an IOVA range mapped before, from exec to quit
  awk '$1 != "quit" && $2 == "dma_map" { m++; if (seen[$3 " " $4]++) r++ }
       $1 != "quit" && $2 == "dma_unmap" { u++ }
       END { printf "%d map, %d unmap, %d redundant map\n", m, u, r }' "$work/$1.dma"
}
count() { awk -v p="$2" '$1 == p' "$work/$1.resets" | wc -l; }
distinct() { awk -v p="$2" '$1 == p {print $3}' "$work/$1.resets" | sort -u | wc -l; }
overlap() { # NAME PHASE: the resets of the phase ran concurrently: from the first start to the
  # last end took under 3/4 of their summed durations (one after another it takes at least all)
  awk -v p="$2" '$1 == p { if (s == "" || $4 < s) s = $4; if (e == "" || $5 > e) e = $5; sum += $5 - $4 }
                 END { exit !(s != "" && e - s < 0.75 * sum) }' "$work/$1.resets"
}
busy() { # NAME PHASE: seconds during which at least one reset of the phase was running
  awk -v p="$2" '$1 == p { print $4, $5 }' "$work/$1.resets" | sort -n |
    awk '{ if (NR == 1 || $1 > e) { t += e - s; s = $1; e = $2 } else if ($2 > e) e = $2 }
         END { if (NR) t += e - s; printf "%.2f\n", t }'
}
