#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The hook's QEMU capability probe runs QEMU as QEMU's user (qemu_user), never as root, as
# libvirt probes: a QEMU binary that records who runs it, and the answer root caches for the
# wrapper.
# usage: hook-probe.sh HOOK
set -u
hook=$(realpath "$1")
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root"; exit 77; fi
if ! id libvirt-qemu >/dev/null 2>&1; then echo "SKIP: needs the libvirt-qemu user (libvirt-daemon-system)"; exit 77; fi
work=$(mktemp -d); chmod 0755 "$work"
trap 'rm -rf "$work"' EXIT
mkdir -m 1777 "$work/out"
cat > "$work/qemu" <<EOF
#!/bin/sh
echo "\$(id -u) \$(id -g) \$(id -G)" >> "$work/out/ids"
case "\$2" in
  memory-backend-ram,help) echo "  prealloc-threads=<uint32>" ;;
  vfio-pci,help) echo "  x-skip-first-reset=<bool>" ;;
esac
EOF
chmod 0755 "$work/qemu"
printf '{"run_dir": "%s/run", "qemu_binary": "%s/qemu", "qemu_user": "libvirt-qemu", "use_pool": false}\n' "$work" "$work" > "$work/cfg.json"
FASTPASS_CONFIG=$work/cfg.json "$hook" vm1 prepare begin - > /dev/null 2>&1 \
  <<< "<domain type='qemu'><name>vm1</name><memory unit='MiB'>256</memory><os><type>hvm</type></os></domain>"; rc=$?
want="$(id -u libvirt-qemu) $(id -g libvirt-qemu) $(id -G libvirt-qemu)"
echo "probe ran as (uid gid groups): $(sort -u "$work/out/ids" 2>/dev/null | tr '\n' ';'), libvirt-qemu is: $want"
check "prepare begin: exit 0" [ $rc -eq 0 ]
check "the probe ran QEMU twice" [ "$(wc -l < "$work/out/ids" 2>/dev/null)" -eq 2 ]
check "every probe ran as libvirt-qemu (uid, gid, its groups), none as root" [ "$(sort -u "$work/out/ids")" = "$want" ]
cache=$(ls "$work/run"/qemu-caps-*.json 2>/dev/null | head -1)
[ -n "$cache" ] && [ "$(stat -c '%U %a' "$cache")" = "root 644" ] && grep -q '"prealloc_threads": *true' "$cache"; verdict "the answer is cached by root (0644) with what the probe found"
finish
