#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs inside the lab guest (tests/lab/lab-run): tenants kept apart by libvirt's per-domain
# AppArmor confinement, with everything as a Debian host has it: the kernel's AppArmor, libvirt's
# own profiles loaded (libvirtd confined, as apparmor.service does at boot), libvirt's qemu.conf
# untouched, fastpass installed from its package. Two domains A (a VFIO hostdev) and B start
# through the hook and the wrapper with their RAM in pool slots; from A's confinement (its QEMU's
# profile, aa-exec), as root and as libvirt-qemu, which slots open; then A is destroyed and its
# slot is checked under the profile A had; then the package is removed.
# AppArmor's user space comes from Debian's apparmor package, installed in the guest (its writable
# overlay) when the host does not have it: a host whose kernel has AppArmor would otherwise load
# libvirt's profiles for every other test.
# usage: apparmor.sh DEB APPARMOR-DEB
set -u
deb=$(realpath "$1"); aa_deb=${2:-}
. "$(dirname "$0")/libvirt-lib.sh"
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
if ! command -v apparmor_parser >/dev/null && [ -f "$aa_deb" ]; then
  dpkg -i "$aa_deb" > /tmp/apparmor-install.out 2>&1 ||
    { echo "dpkg -i $aa_deb failed:"; cat /tmp/apparmor-install.out; exit 1; }
fi
if [ ! -d /sys/kernel/security/apparmor ] || ! command -v apparmor_parser >/dev/null ||
   ! command -v aa-exec >/dev/null || [ ! -f /etc/apparmor.d/usr.sbin.libvirtd ] ||
   [ "${#devs[@]}" -lt 1 ]; then
  echo "SKIP: needs AppArmor in the kernel, the apparmor package, libvirt's profiles and a lab device"
  exit 77
fi
work=/tmp/fastpass-lab-apparmor; mkdir -p "$work"; chmod 755 "$work"
pool=/dev/hugepages/fastpass
uA=4d2e8b3f-0e5c-4f9b-a7d6-1b2c3d4e5f0a
uB=4d2e8b3f-0e5c-4f9b-a7d6-1b2c3d4e5f0b
uD=4d2e8b3f-0e5c-4f9b-a7d6-1b2c3d4e5f0d
qgid=$(id -g libvirt-qemu)
label() { tr -d '\0' < "/proc/$1/attr/current" 2>/dev/null; }
mode_of() { stat -c '%a %U:%G' "$1"; }
# try WANT WHAT PROFILE USER COMMAND...: COMMAND under PROFILE ('' = unconfined), as USER
try() {
  local want=$1 what=$2 prof=$3 user=$4 got err run=(); shift 4
  [ "$user" = root ] || run=(setpriv --reuid=libvirt-qemu --regid="$qgid" --clear-groups)
  [ -z "$prof" ] || run+=(aa-exec -p "$prof" --)
  err=$("${run[@]}" "$@" 2>&1 >/dev/null) && got=allowed || got=refused
  local shown=unconfined; [ -z "$prof" ] || shown="${prof:0:17}..."
  printf '     %-12s %-20s %-40s %s%s\n' "$user" "$shown" "$what" "$got" "${err:+ ($err)}"
  check "$user, ${prof:-unconfined}: $what: $want" [ "$got" = "$want" ]
}

lab_libvirt_config
# What apparmor.service loads at boot on a Debian host with libvirt.
apparmor_parser -r /etc/apparmor.d/usr.sbin.libvirtd /etc/apparmor.d/usr.lib.libvirt.virt-aa-helper
check "libvirt's profiles loaded in enforce mode" \
  bash -c "grep -qx 'libvirtd (enforce)' /sys/kernel/security/apparmor/profiles && grep -qx 'virt-aa-helper (enforce)' /sys/kernel/security/apparmor/profiles"

dpkg -i "$deb" > "$work/install.out" 2>&1; rc=$?
check "dpkg -i: exit 0" [ $rc -eq 0 ]
[ $rc -eq 0 ] || sed 's/^/     /' "$work/install.out"
grep 'AppArmor' "$work/install.out" | sed 's/^/     /'
hook=/etc/libvirt/hooks/qemu.d/fastpass
check "the hook is a file in libvirt's hook directory, not a symlink (libvirtd's profile runs hooks from there only)" \
  bash -c "[ -f $hook ] && [ ! -L $hook ] && cmp -s $hook /usr/libexec/fastpass/fastpass-hook"
aa_local=/etc/apparmor.d/local/abstractions/libvirt-qemu
sed 's/^/     local\/abstractions\/libvirt-qemu: /' "$aa_local"
check "the site-local abstraction includes fastpass's rules" grep -qx '#include <abstractions/fastpass-qemu>' "$aa_local"
check "the shared rules name no pool slot" bash -c "! grep -v '^\s*#' /etc/apparmor.d/abstractions/fastpass-qemu | grep -q hugepages/fastpass"
# The shipped configuration, with a log file for this test's output.
printf '{"log_file": "%s/hook.log"}\n' "$work" > /etc/fastpass/fastpass.json

echo 160 > /proc/sys/vm/nr_hugepages
fastpass pool fill --size 64M --count 4 > "$work/fill.out" 2>&1; rc=$?
check "pool fill: 4 clean 64 MiB slots (exit $rc)" [ $rc -eq 0 ]
libvirtd_restart > /dev/null 2>&1 || { echo "libvirtd did not start"; exit 1; }
lpid=$(pgrep -x libvirtd | head -1)
echo "     libvirtd: $(label "$lpid")"
check "libvirtd runs confined by its profile" [ "$(label "$lpid")" = "libvirtd (enforce)" ]
virsh capabilities | grep -A1 '<secmodel>' | grep '<model>' | sed 's/^ */     virsh capabilities: /'
check "virsh capabilities names the AppArmor security driver" bash -c "virsh capabilities | grep -q '<model>apparmor</model>'"

hp="<memoryBacking><hugepages><page size='2048' unit='KiB'/></hugepages></memoryBacking>"
lab_domain lab-a "<uuid>$uA</uuid>$hp" /usr/bin/fastpass-qemu "${devs[0]}" > "$work/a.xml"
lab_domain lab-b "<uuid>$uB</uuid>$hp" /usr/bin/fastpass-qemu > "$work/b.xml"
for d in a b; do
  u=$(eval echo \$u${d^^})
  virsh create "$work/$d.xml" > "$work/create-$d.out" 2>&1; rc=$?
  check "virsh create lab-$d (pool slot$([ $d = a ] && echo ", VFIO hostdev"), the packaged wrapper): exit 0" [ $rc -eq 0 ]
  [ $rc -eq 0 ] || sed 's/^/     /' "$work/create-$d.out"
  p=$(cat /run/libvirt/qemu/lab-$d.pid 2>/dev/null)
  echo "     lab-$d: QEMU pid ${p:-none}, $(label "${p:-0}")"
  check "lab-$d's QEMU runs confined by its own profile" [ "$(label "${p:-0}")" = "libvirt-$u (enforce)" ]
  check "lab-$d's QEMU maps its pool slot" grep -q "$pool/claim-$u" "/proc/${p:-0}/maps"
done
grep -h 'fastpass' /etc/apparmor.d/libvirt/libvirt-*.files | sed 's/^ */     in a domain profile: /'
check "A's profile names A's own slot, and nothing else of fastpass's" \
  bash -c "[ \"\$(grep 'fastpass' /etc/apparmor.d/libvirt/libvirt-$uA.files | tr -d ' ')\" = '\"$pool/claim-$uA\"rwk,' ]"
# The wrapper's timeline file is not in the profile (one grant per start is one profile compile):
# its event went to the domain's log, where `fastpass profile` reads it.
grep -h 'fastpass-qemu: timeline event' /var/log/libvirt/qemu/lab-a.log | cut -c1-150 | sed 's/^/     lab-a.log: /'
check "the wrapper's exec event is in A's domain log" grep -q '^fastpass-qemu: timeline event: {.*"qemu-exec"' /var/log/libvirt/qemu/lab-a.log
check "no other AppArmor file names a slot" \
  bash -c "[ -z \"\$(grep -rl 'hugepages/fastpass' /etc/apparmor.d | grep -v '/libvirt/libvirt-\($uA\|$uB\)\.files$')\" ]"

# A third slot released dirty (a domain that was here before), the fourth left clean.
fastpass pool claim --size 64M --owner $uD --user libvirt-qemu > /dev/null 2>&1
fastpass pool release --owner $uD > /dev/null 2>&1
clean=$pool/$(ls "$pool" | grep '\.clean$' | head -1)
dirty=$pool/$(ls "$pool" | grep '\.dirty$' | head -1)
check "one clean and one dirty slot besides A's and B's" bash -c "[ -f '$clean' ] && [ -f '$dirty' ]"
for user in root libvirt-qemu; do
  try allowed "open A's own slot" "libvirt-$uA" $user head -c1 "$pool/claim-$uA"
  try refused "open B's slot (running neighbour)" "libvirt-$uA" $user head -c1 "$pool/claim-$uB"
  try refused "open a clean slot" "libvirt-$uA" $user head -c1 "$clean"
  try refused "open a dirty slot" "libvirt-$uA" $user head -c1 "$dirty"
  try refused "list the pool directory" "libvirt-$uA" $user ls "$pool"
done
# DAC alone (no profile), as QEMU's user: what only the pool's ownership refuses.
try refused "open a clean slot" '' libvirt-qemu head -c1 "$clean"
try refused "open a dirty slot" '' libvirt-qemu head -c1 "$dirty"
try refused "list the pool directory" '' libvirt-qemu ls "$pool"

# Destroy A: its slot is root's and dirty before any scrub, and the profile A had (saved while
# it ran, loaded again after libvirt removed it) opens neither the dirty slot nor the claim name.
cp "/etc/apparmor.d/libvirt/libvirt-$uA" "/etc/apparmor.d/libvirt/libvirt-$uA.files" "$work/"
virsh destroy lab-a > /dev/null 2>&1; rc=$?
check "virsh destroy lab-a: exit 0" [ $rc -eq 0 ]
check "A's profile unloaded by libvirt" bash -c "! grep -q 'libvirt-$uA ' /sys/kernel/security/apparmor/profiles"
dA=$pool/$(ls -t "$pool" | grep '\.dirty$' | head -1)
check "A's slot is dirty, root's, mode 0 before any scrub ($(mode_of "$dA"))" [ "$(mode_of "$dA")" = "0 root:root" ]
check "A's claim name is gone" [ ! -e "$pool/claim-$uA" ]
sed "s|#include <libvirt/libvirt-$uA.files>|#include \"$work/libvirt-$uA.files\"|" "$work/libvirt-$uA" > "$work/profile-A"
apparmor_parser -r -I /etc/apparmor.d "$work/profile-A" 2> "$work/parser.err"; rc=$?
check "A's profile as it was while A ran, loaded again (exit $rc)" [ $rc -eq 0 ]
[ $rc -eq 0 ] || sed 's/^/     /' "$work/parser.err"
for user in root libvirt-qemu; do
  try refused "open A's slot after destroy (dirty)" "libvirt-$uA" $user head -c1 "$dA"
  try refused "open A's claim name after destroy" "libvirt-$uA" $user head -c1 "$pool/claim-$uA"
done
try refused "open A's slot after destroy (dirty)" '' libvirt-qemu head -c1 "$dA"
apparmor_parser -R "$work/profile-A" > /dev/null 2>&1
echo "     hook log:"; grep 'AppArmor\|pool:' "$work/hook.log" | sed 's/^/       /'

virsh destroy lab-b > /dev/null 2>&1
fastpass pool scrub > /dev/null 2>&1
dpkg -r fastpass > "$work/remove.out" 2>&1; rc=$?
check "dpkg -r: exit 0" [ $rc -eq 0 ]
[ $rc -eq 0 ] || sed 's/^/     /' "$work/remove.out"
check "removed: no hook in libvirt's hook directory" [ ! -e "$hook" ]
check "removed: the site-local abstraction no longer includes fastpass's rules" \
  bash -c "! grep -q 'fastpass' '$aa_local'"
check "removed: ${devs[0]} back on e1000e" [ "$(drv "${devs[0]}")" = e1000e ]
finish
