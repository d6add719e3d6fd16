#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs inside the lab guest (tests/lab/lab-run -n 3): what a warm release costs per device, next
# to the kernel's own reset of each device when QEMU closes it (docs/security.md, "Reset at
# release": fastpass keeps its reset, since the kernel does not say whether its own ran).
# The devices are prepared (vfio-pci, claimed), Debian's QEMU opens them all, runs and quits; the
# kprobes of qemu-trace.sh time every function and bus reset, cut into phases by qemu-init.py's
# markers (the close-time resets fall in "quit"); then `fastpass release --mode warm` resets each
# again, traced the same way ("release") and timed by its own steps.
# Prints each reset as PHASE FUNCTION DEVICE(pci_dev) START END RET (seconds, trace clock) and
# each device's release step times. Asserted: the kernel reset each device at close, and the
# release reset each once more and kept it on vfio-pci. No timing is asserted.
# usage: release-cost.sh FASTPASS [QEMU]
set -u
fp=$(realpath "$1"); qemu=${2:-/usr/bin/qemu-system-x86_64}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cli/lib.sh"
[ "${LAB:-}" = 1 ] || { echo "release-cost.sh: run it inside the lab (tests/lab/lab-run)" >&2; exit 2; }
work=/tmp/release-cost run=/run/fastpass-lab
. "$here/qemu-trace.sh"
drv() { basename "$(readlink /sys/bus/pci/devices/$1/driver 2>/dev/null)" 2>/dev/null || echo none; }

"$fp" prepare --run-dir "$run" --owner lab-vm --timeout-ms 60000 "${devs[@]}" > "$work/prepare.txt"; rc=$?
check "prepare the $n devices for lab-vm: exit 0" [ $rc -eq 0 ]

mapfile -t args < <(vfio_args $n)
trace_qemu close -- "$qemu" -machine q35,accel=tcg -m 128 -nodefaults -display none "${args[@]}"; rc=$?
check "Debian's QEMU opens the $n devices, runs and quits" [ $rc -eq 0 ]
at_close=$(awk '$1 == "quit"' "$work/close.resets" | wc -l)
close_devs=$(awk '$1 == "quit" && $6 == 0 {print $3}' "$work/close.resets" | sort -u | wc -l)
[ "$close_devs" -eq $n ]; verdict "the kernel reset each of the $n devices when QEMU closed it ($at_close resets, $close_devs devices, return 0)"

# The release, in a trace window of its own.
echo > $T/trace
echo 1 > $T/tracing_on
echo "fp: release" > $T/trace_marker
"$fp" release --run-dir "$run" --owner lab-vm --mode warm --timeout-ms 60000 --json "${devs[@]}" \
  > "$work/release.json"; rc=$?
echo 0 > $T/tracing_on
python3 - $T/trace > "$work/release.resets" <<'PY'
import re, sys
start = {}
for line in open(sys.argv[1]):
    m = re.match(r"\s*(.*)-(\d+)\s+\[\d+\]\s+\S+\s+([\d.]+): (\S+): (.*)", line)
    if not m:
        continue
    pid, ts, event, rest = m.group(2), m.group(3), m.group(4), m.group(5)
    if event.startswith("in_"):
        start[pid] = (event[3:], re.search(r"dev=(\S+)", rest).group(1), ts)
    elif event.startswith("out_") and pid in start:
        fn, dev, t0 = start.pop(pid)
        print("release", fn, dev, t0, ts, re.search(r"ret=(\S+)", rest).group(1))
PY
check "warm release of the $n devices: exit 0" [ $rc -eq 0 ]
echo "== release: $(tr -d '\n' < "$work/release.json" | grep -o '"total_ms": *[0-9.]*')"
sed 's/^/   /' "$work/release.resets"
rel_devs=$(awk '$6 == 0 {print $3}' "$work/release.resets" | sort -u | wc -l)
rel_n=$(wc -l < "$work/release.resets")
[ "$rel_n" -eq $n ] && [ "$rel_devs" -eq $n ]; verdict "the release reset each device once more ($rel_n resets, $rel_devs devices)"
python3 - "$work/release.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for d in r["devices"]:
    steps = ", ".join("%s %.1f ms" % (s["step"], s["ms"]) for s in d["steps"])
    print("   %s %s: %s" % (d["bdf"], d["status"], steps))
PY
# Per reset, from the kprobes: the kernel's time for each, at close and at the release.
awk '$1 == "quit" || $1 == "release" { d = ($5 - $4) * 1000; n[$1]++; s[$1] += d; if (d > m[$1]) m[$1] = d }
     END { for (p in n) printf "   %s: %d resets, mean %.1f ms, max %.1f ms\n", p == "quit" ? "at QEMU close" : "at release", n[p], s[p] / n[p], m[p] }' \
  "$work/close.resets" "$work/release.resets"
for d in "${devs[@]}"; do
  check "$d stays on vfio-pci after the warm release" [ "$(drv $d)" = vfio-pci ]
done
grep -q "reset again: the kernel does not report" "$work/release.json"
verdict "the release's JSON says why each device was reset again"
echo 0 > $T/events/fp/enable
echo > $T/kprobe_events
finish
