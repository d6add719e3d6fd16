#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Removal of the built package, by its own maintainer scripts run as dpkg runs them (`prerm
# remove`, and `postinst abort-remove` when prerm refuses), inside a private mount namespace
# where libvirt's configuration directory, /run and /dev/hugepages (if any) are empty tmpfs and
# /usr/libexec holds the package's files: the host's own hook directory and run directory are
# never touched. The QEMU diversions are dpkg's own, made on a stand-in QEMU path.
#  - run_dir set to a directory that also holds other files: those survive, fastpass's go (F10);
#  - the hook goes first: gone before the busy check and before any state is removed (F11 a);
#  - every QEMU path fastpass-wrap-qemu wrapped is unwrapped, not only the default one (F11 b);
#  - a hugepage record counts as busy only while its domain runs (F11 c), and so does a claimed
#    pool slot, whatever the /proc scan of `pool status` saw;
#  - an unreadable configuration: the teardown runs with the defaults and says so (F11 d).
# usage: package-removal.sh EXTRACTED   (package.sh runs it; EXTRACTED: dpkg-deb -x of the
# package, with its control files in EXTRACTED/DEBIAN)
set -u
# The script runs itself again in a mount namespace of its own, and checks that it is in one.
if [ "${1:-}" != --outer-ns ]; then
  exec unshare -m --propagation private bash "$0" --outer-ns "$(readlink /proc/self/ns/mnt)" "$@"
fi
outer=$2; shift 2
if [ -z "$outer" ] || [ "$(readlink /proc/self/ns/mnt)" = "$outer" ]; then
  echo "FAIL not in a mount namespace of its own: nothing done"; exit 1
fi
x=$(realpath "$1")
. "$(dirname "$0")/lib.sh"
work=$(mktemp -d)
q=$work/bin/qemu-system-fastpasstest
holder=
cleanup() {
  [ -z "$holder" ] || kill "$holder" 2>/dev/null
  fastpass-wrap-qemu disable "$q" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
# (no /dev/hugepages: the default pool directory does not exist, and none is made on the host)
mount -t tmpfs tmpfs /etc/libvirt && mount -t tmpfs tmpfs /run &&
  { [ ! -d /dev/hugepages ] || mount -t tmpfs tmpfs /dev/hugepages; } &&
  { mount -t overlay overlay -o "lowerdir=$x/usr/libexec:/usr/libexec" /usr/libexec 2>/dev/null ||
    mount --bind "$x/usr/libexec" /usr/libexec; }
verdict "namespace: /etc/libvirt, /run, /dev/hugepages empty; /usr/libexec/fastpass the package's"
[ $fails -eq 0 ] || { echo "     the namespace could not be set up: nothing done"; finish; exit 1; }
export PATH=$x/usr/bin:$x/usr/sbin:$PATH FASTPASS_QEMU_WRAPPER=$x/usr/bin/fastpass-qemu
export FASTPASS_CONFIG=$work/fastpass.json
hook=/etc/libvirt/hooks/qemu.d/fastpass
put_hook() { mkdir -p "${hook%/*}" && install -m 0755 /usr/libexec/fastpass/fastpass-hook "$hook"; }

# A. run_dir is a directory other programs use too; a second QEMU path is wrapped, as an
# operator wraps one beside the default.
shared=$work/shared; mkdir -p "$shared/theirs" "$work/sys" "$work/pool"; chmod 0755 "$work" "$shared"
echo canary > "$shared/canary"; echo canary > "$shared/theirs/canary"
printf '{"run_dir": "%s", "pool_dir": "%s", "sysfs_root": "%s"}\n' "$shared" "$work/pool" "$work/sys" > "$FASTPASS_CONFIG"
running=6b1c9e2a-3f4d-4a5b-8c6d-7e8f9a0b1c2d stale=0c9d8e7f-6a5b-4c3d-9e2f-1a0b9c8d7e6f
fastpass_files() { # what fastpass makes in run_dir: claims, their locks, a write's temporary file, timelines, the QEMU capability cache
  mkdir -p "$shared/devices" "$shared/timeline"
  echo '{"bdf": "0000:00:1f.7", "original_driver": "e1000e"}' > "$shared/devices/0000:00:1f.7.json"
  : > "$shared/devices/0000:00:1f.7.lock"; : > "$shared/devices/.0000:00:1f.7.json.1a2b3c4d"
  echo '[]' > "$shared/timeline/$running.hook.json"; echo '{}' > "$shared/qemu-caps-0123456789abcdef.json"
}
fastpass_files; put_hook
mkdir -p "$work/bin"; printf '#!/bin/sh\necho "real qemu: $*"\n' > "$q"; chmod 755 "$q"; cp "$q" "$work/orig"
fastpass-wrap-qemu enable "$q" >/dev/null 2>&1 && [ "$(readlink "$q")" = "$FASTPASS_QEMU_WRAPPER" ] &&
  [ "$(fastpass-wrap-qemu list)" = "$q" ]
verdict "fastpass-wrap-qemu enable $q: wrapped, and list names it"
sh "$x/DEBIAN/prerm" remove > "$work/remove1.out" 2>&1; rc=$?
sed 's/^/     /' "$work/remove1.out"
[ $rc -eq 0 ]; verdict "prerm remove: exit 0"
[ "$(cat "$shared/canary" 2>/dev/null)" = canary ] && [ "$(cat "$shared/theirs/canary" 2>/dev/null)" = canary ]
verdict "run_dir's other files survive (a canary file and a canary directory)"
left=$(ls -A "$shared" 2>/dev/null | grep -vx -e canary -e theirs | tr '\n' ' ')
[ -z "$left" ]; verdict "fastpass's files in run_dir gone${left:+ (left: $left)}"
h=$(grep -n "removed libvirt's hook" "$work/remove1.out" | cut -d: -f1)
s=$(grep -n "removed what fastpass made under $shared" "$work/remove1.out" | cut -d: -f1)
[ -n "$h" ] && [ -n "$s" ] && [ "$h" -lt "$s" ] && [ ! -e "$hook" ]
verdict "the hook went first (log line ${h:-none}), fastpass's state after it (line ${s:-none})"
[ ! -L "$q" ] && cmp -s "$q" "$work/orig" && [ ! -e "$q.distrib" ] && ! dpkg-divert --list "$q" | grep -q .
verdict "$q (not the default QEMU path) is the distribution's binary again, no diversion left"

# B. Hugepage records: of a domain whose QEMU runs (libvirt starts it with -uuid UUID), of two
# domains libvirt's status files name, and of a domain stopped without its release.
fastpass_files; put_hook; mkdir -p "$shared/hugepages"
for u in $running $stale; do echo '{"node": 0, "page_kib": 2048, "added": 4}' > "$shared/hugepages/$u.json"; done
: > "$work/pool/slot-1.n0.s64M.g0.claimed.$running"   # its pool slot (named as lib/pool.c names it)
# Two more, known by libvirt's status file alone: one by its UUID, one by its name's digest.
byuuid=3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7 byname=$(printf %s vm-by-name | sha256sum | cut -d' ' -f1)
mkdir -p /run/libvirt/qemu
status_file() { # NAME [UUID]: as libvirt writes /run/libvirt/qemu/NAME.xml for a running domain
  printf "<domstatus state='running' reason='booted' pid='1'>\n  <domain type='kvm' id='1'>\n    <name>%s</name>\n" "$1"
  [ -z "${2:-}" ] || printf "    <uuid>%s</uuid>\n" "$2"
  printf "  </domain>\n</domstatus>\n"
}
status_file vm-by-uuid "$(echo $byuuid | tr a-f A-F)" > /run/libvirt/qemu/vm-by-uuid.xml
status_file vm-by-name > /run/libvirt/qemu/vm-by-name.xml
for k in $byuuid $byname; do echo '{"node": 0, "page_kib": 2048, "added": 4}' > "$shared/hugepages/$k.json"; done
mkfifo "$work/fifo"; sh -c 'exec 3<>"$1"; read -r _ <&3' qemu "$work/fifo" -uuid "$running" & holder=$!
for _ in $(seq 1 50); do grep -q -- "$running" /proc/$holder/cmdline 2>/dev/null && break; sleep 0.1; done
sh "$x/DEBIAN/prerm" remove > "$work/remove2.out" 2>&1; rc=$?
sed 's/^/     /' "$work/remove2.out"
[ $rc -ne 0 ] && grep -q "not removed: .*hugepages-of-domain-$running" "$work/remove2.out" &&
  grep -q "not removed: .*pool-slot-of-domain-$running" "$work/remove2.out" && ! grep -q "not removed: .*$stale" "$work/remove2.out"
verdict "prerm remove while domain $running runs: refused, naming its hugepages and its slot, not the stopped domain's"
grep -q "not removed: .*hugepages-of-domain-$byuuid" "$work/remove2.out" && grep -q "not removed: .*hugepages-of-domain-$byname" "$work/remove2.out"
verdict "refused as well for the domains libvirt's status files name (by UUID, by the name's digest)"
[ ! -e "$hook" ] && grep -q "removed libvirt's hook" "$work/remove2.out"; verdict "the hook went before the busy check"
missing=""; for f in devices timeline hugepages/$running.json hugepages/$stale.json canary theirs/canary; do
  [ -e "$shared/$f" ] || missing="$missing $f"
done
[ -z "$missing" ]; verdict "refused: run_dir as it was${missing:+ (missing:$missing)}"
sh "$x/DEBIAN/postinst" abort-remove > "$work/abort.out" 2>&1; rc=$?
[ $rc -eq 0 ] && cmp -s "$hook" /usr/libexec/fastpass/fastpass-hook && [ -x "$hook" ]; verdict "postinst abort-remove: the hook is back"
kill $holder; wait $holder 2>/dev/null; holder=; rm -f /run/libvirt/qemu/*.xml
sh "$x/DEBIAN/prerm" remove > "$work/remove3.out" 2>&1; rc=$?
sed 's/^/     /' "$work/remove3.out"
[ $rc -eq 0 ]; verdict "prerm remove once the domain stopped: exit 0 (a stopped domain's record is stale, not busy)"
grep -q "not given back.*$running.json: {" "$work/remove3.out" && grep -q "not given back.*$stale.json: {" "$work/remove3.out" &&
  [ ! -e "$shared/hugepages" ] && [ "$(cat "$shared/canary" 2>/dev/null)" = canary ]
verdict "the stale records are named with what they held, then removed; the canary stays"

# C. An unreadable configuration: the default run_dir (/run/fastpass, this namespace's) is torn down.
echo '{"run_dir": ' > "$FASTPASS_CONFIG"; put_hook
mkdir -p /run/fastpass/devices /run/fastpass/timeline; chmod 0755 /run/fastpass
: > /run/fastpass/devices/0000:00:1f.7.lock; echo '[]' > "/run/fastpass/timeline/$running.hook.json"
sh "$x/DEBIAN/prerm" remove > "$work/remove4.out" 2>&1; rc=$?
sed 's/^/     /' "$work/remove4.out"
[ $rc -eq 0 ] && grep -q "configuration is not usable.*removing with the defaults (run_dir /run/fastpass)" "$work/remove4.out"
verdict "prerm remove with a bad configuration: says so, uses the defaults"
[ ! -e /run/fastpass ] && [ ! -e "$hook" ]; verdict "the default run_dir torn down, the hook gone"
finish
