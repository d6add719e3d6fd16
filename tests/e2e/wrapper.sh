#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# End to end: libvirt starts a domain through fastpass-qemu (its <emulator>), on this machine's
# real libvirtd and QEMU (TCG), with the hook installed. The guest must print its first kernel
# line; QEMU must run with the wrapper's changes; the domain's timeline must hold the hook's
# phases and the wrapper's exec. Also: the real QEMU taking the wrapper's thread-context and
# -boot change, and the wrapper's own refusals (a QEMU that is missing, itself as the real QEMU).
# usage: wrapper.sh WRAPPER HOOK SOURCE_DIR
set -u
wrapper=$(realpath "$1"); hook=$(realpath "$2"); src=$3
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cli/lib.sh"
. "$here/libvirtd-ctl.sh"
kernel=$(host_kernel)
if [ "$(id -u)" -ne 0 ] || ! command -v libvirtd >/dev/null || [ -z "$kernel" ]; then
  echo "SKIP: needs root, libvirtd and a kernel in /boot"; exit 77
fi
work=$(mktemp -d /tmp/fastpass-wrapper.XXXXXX); chmod 755 "$work"
run=$work/run
installed=/etc/libvirt/hooks/qemu.d/fastpass
hook_free "$installed" || exit 1
cleanup() {
  virsh -q -c qemu:///system destroy fp-e2e-wrapper >/dev/null 2>&1
  remove_hook "$installed"; libvirtd_restart >/dev/null 2>&1; rm -rf "$work"
}
trap cleanup EXIT
virsh() { command virsh -q -c qemu:///system "$@"; }

# A hook the host already has is never replaced or removed, by the tests or the benchmark.
mkdir -p "$(dirname "$installed")"
printf '#!/bin/sh\n# the host operator'"'"'s own hook\nexit 0\n' > "$installed"; cp "$installed" "$work/own-hook"
"$src/bench/creation-time" --out "$work/bench" > /dev/null 2> "$work/bench.err"; rc=$?
[ $rc -eq 1 ] && grep -qF "$installed is a hook this host already has" "$work/bench.err"; verdict "benchmark with the host's own hook in place: exit 1, says why"
cmp -s "$installed" "$work/own-hook" && [ ! -e "$work/bench" ]; verdict "benchmark: the host's hook untouched, nothing made"
install_hook "$work/fastpass.json" "$hook" "$installed" 2>/dev/null; rc=$?
remove_hook "$installed"
[ $rc -eq 1 ] && cmp -s "$installed" "$work/own-hook"; verdict "install_hook refuses it, remove_hook leaves it"
rm -f "$installed"

printf '{"run_dir": "%s", "log_file": "%s/hook.log"}\n' "$run" "$work" > "$work/fastpass.json"
chmod 644 "$work/fastpass.json"
install_hook "$work/fastpass.json" "$hook" "$installed" || exit 1
# libvirt gives QEMU a clean environment: the <emulator> is a two-line script naming the config.
config_script "$work/fastpass.json" "$wrapper" "$work/qemu"
libvirtd_restart || exit 1

boot_domain_xml fp-e2e-wrapper 0f4a3c2e-8b1d-4e6f-9a7b-5c3d2e1f0a9b "$work/console.log" \
  "<memoryBacking><allocation mode='immediate'/></memoryBacking>" "<emulator>$work/qemu</emulator>" \
  > "$work/dom.xml"
check "domain XML valid under libvirt's schema" valid "$work/dom.xml"
t0=$(date +%s%N)
virsh create "$work/dom.xml" > "$work/create.out" 2>&1; rc=$?
check "virsh create through the wrapper: exit 0" [ $rc -eq 0 ]
[ $rc -eq 0 ] || sed 's/^/     /' "$work/create.out"
[ $rc -eq 0 ] && for _ in $(seq 1 600); do grep -q "Linux version" "$work/console.log" 2>/dev/null && break; sleep 0.1; done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "guest printed its first kernel line (${ms} ms after virsh create)" grep -q "Linux version" "$work/console.log"
pid=$(pgrep -f 'guest=fp-e2e-wrapper' | head -1)
check "QEMU runs under the wrapper's pid with prealloc-threads added" \
  bash -c "tr '\\0' ' ' < /proc/${pid:-0}/cmdline | grep -q '\"prealloc\":true,\"size\":268435456,\"prealloc-threads\":'"
hookt=$run/timeline/0f4a3c2e-8b1d-4e6f-9a7b-5c3d2e1f0a9b.hook.json
qemut=$run/timeline/0f4a3c2e-8b1d-4e6f-9a7b-5c3d2e1f0a9b.qemu.json
check "timeline: hook phase recorded" grep -q '"ok":true,"event":"hook-prepare"' <(tr -d ' \n' < "$hookt")
check "timeline: wrapper's exec recorded with its change" grep -q '"changes":\["pc.ram:prealloc-threads=' <(tr -d ' \n' < "$qemut")
echo "     wrapper timeline:"; sed 's/^/       /' "$qemut"
check "domain log names the wrapper's change" grep -q "fastpass-qemu: pc.ram: prealloc-threads=" /var/log/libvirt/qemu/fp-e2e-wrapper.log
virsh destroy fp-e2e-wrapper > /dev/null 2>&1

# What older libvirt leaves to the wrapper, on the real QEMU: a node-bound preallocating backend
# without a prealloc-context gets a thread-context on that node's CPUs, -boot gets menu=off.
bound_args=(-name guest=fp-e2e-bound -uuid 1e5b4d3f-9c2e-4f70-8b8c-6d4e3f2a1b0c -machine none -nodefaults
  -display none -boot strict=on -qmp stdio
  -object '{"qom-type":"memory-backend-ram","id":"ram0","prealloc":true,"size":16777216,"host-nodes":[0],"policy":"bind"}')
printf '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n' |
  FASTPASS_CONFIG=$work/fastpass.json timeout 60 "$wrapper" "${bound_args[@]}" > "$work/out" 2> "$work/err"; rc=$?
[ $rc -eq 0 ] && grep -q '"event": "SHUTDOWN"' "$work/out"
verdict "real QEMU runs the wrapper's thread-context and -boot change (exit $rc, QMP quit)"
grep -q "ram0: prealloc-context fp-tc-ram0 on node 0's" "$work/err" && grep -q "boot: menu=off" "$work/err"
verdict "the wrapper says what it changed"
sed 's/^/     /' "$work/err"

# Refusals, without libvirt.
guest_args=(-name guest=x -uuid 0f4a3c2e-8b1d-4e6f-9a7b-5c3d2e1f0a9b -object '{"qom-type":"memory-backend-ram","id":"pc.ram","size":1048576}')
printf '{"run_dir": "%s", "qemu_binary": "/nonexistent/qemu"}\n' "$run" > "$work/missing.json"
FASTPASS_CONFIG=$work/missing.json "$wrapper" "${guest_args[@]}" > "$work/out" 2>&1; rc=$?
[ $rc -eq 1 ] && grep -q "QEMU binary /nonexistent/qemu is missing or not executable" "$work/out"; verdict "missing QEMU: exit 1 with a clear message"
printf '{"run_dir": "%s", "qemu_binary": "%s"}\n' "$run" "$wrapper" > "$work/self.json"
FASTPASS_CONFIG=$work/self.json "$wrapper" -version > "$work/out" 2>&1; rc=$?
[ $rc -eq 1 ] && grep -q "is this wrapper itself" "$work/out"; verdict "wrapper configured as its own QEMU: exit 1, says so"
FASTPASS_CONFIG=$work/fastpass.json "$wrapper" -version > "$work/out" 2>&1; rc=$?
[ $rc -eq 0 ] && grep -q "QEMU emulator version" "$work/out"; verdict "-version passes through to the real QEMU"

# Inside libvirt's sandbox the private /dev may lack even /dev/null: a guest start with no
# probe cached (the hook has not run) must need nothing there that QEMU itself does not.
printf '{"run_dir": "%s/nocache"}\n' "$work" > "$work/nocache.json"
unshare -m sh -c 'mount -t tmpfs none /dev && exec "$@"' sh \
  env FASTPASS_CONFIG="$work/nocache.json" "$wrapper" "${guest_args[@]}" -machine none -version \
  > "$work/out" 2> "$work/err"; rc=$?
[ $rc -eq 0 ] && grep -q "QEMU emulator version" "$work/out" && ! grep -q "remap file descriptor" "$work/err"; verdict "a /dev without null: the wrapper probes QEMU and runs it (exit $rc)"
[ $rc -eq 0 ] || sed 's/^/     /' "$work/err"
finish
