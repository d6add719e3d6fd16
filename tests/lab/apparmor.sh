#!/usr/bin/env bash
# Runs inside the lab guest (tests/lab/lab-run): libvirt's per-domain AppArmor confinement on the
# Debian kernel's AppArmor. Two domains' profiles are made by libvirt's own virt-aa-helper from
# their XML (what libvirt does at start); A's pool slot goes into A's rules file alone the way
# the hook does it at start begin (virt-aa-helper -r -F). From A's confinement (aa-exec -p
# libvirt-A), as root and as libvirt-qemu, which slots open. libvirtd itself is not run here.
# usage: apparmor.sh FASTPASS
set -u
fp=$(realpath "$1")
. "$(dirname "$0")/libvirt-lib.sh"
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
helper=/usr/lib/libvirt/virt-aa-helper
if [ ! -d /sys/kernel/security/apparmor ] || ! command -v apparmor_parser >/dev/null ||
   ! command -v aa-exec >/dev/null || [ ! -x $helper ] || ! id libvirt-qemu >/dev/null 2>&1; then
  echo "SKIP: needs AppArmor in the kernel, apparmor_parser, aa-exec, $helper and libvirt-qemu"; exit 77
fi
work=/tmp/fastpass-lab-apparmor; mkdir -p "$work"
pool=/dev/hugepages/fastpass
uA=4d2e8b3f-0e5c-4f9b-a7d6-1b2c3d4e5f0a
uB=4d2e8b3f-0e5c-4f9b-a7d6-1b2c3d4e5f0b
uD=4d2e8b3f-0e5c-4f9b-a7d6-1b2c3d4e5f0d
qgid=$(id -g libvirt-qemu)
# try WANT WHAT PROFILE USER COMMAND...: COMMAND under PROFILE, as USER (root or libvirt-qemu)
try() {
  local want=$1 what=$2 prof=$3 user=$4 got err; shift 4
  if [ "$user" = root ]; then
    err=$(aa-exec -p "$prof" -- "$@" 2>&1 >/dev/null) && got=allowed || got=refused
  else
    err=$(setpriv --reuid=libvirt-qemu --regid="$qgid" --clear-groups aa-exec -p "$prof" -- "$@" 2>&1 >/dev/null) &&
      got=allowed || got=refused
  fi
  printf '     %-12s in %s: %-34s %s%s\n' "$user" "${prof:0:16}..." "$what" "$got" "${err:+ ($err)}"
  check "$user confined as ${prof:0:16}...: $what: $want" [ "$got" = "$want" ]
}
domxml() { # UUID NAME
  printf "<domain type='qemu'><name>%s</name><uuid>%s</uuid><memory unit='MiB'>2</memory><memoryBacking><hugepages/></memoryBacking><os><type arch='x86_64'>hvm</type></os><devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>\n" "$2" "$1"
}

echo 16 > /proc/sys/vm/nr_hugepages
"$fp" pool fill --dir "$pool" --size 2M --count 4 > /dev/null; rc=$?
check "pool fill: 4 clean 2 MiB slots (exit $rc)" [ $rc -eq 0 ]
"$fp" pool claim --dir "$pool" --size 2M --owner $uA --user libvirt-qemu > /dev/null
"$fp" pool claim --dir "$pool" --size 2M --owner $uB --user libvirt-qemu > /dev/null
"$fp" pool claim --dir "$pool" --size 2M --owner $uD --user libvirt-qemu > /dev/null
"$fp" pool release --dir "$pool" --owner $uD
clean=$pool/$(ls "$pool" | grep '\.clean$' | head -1)
dirty=$pool/$(ls "$pool" | grep '\.dirty$' | head -1)

for d in A B; do
  u=$(eval echo \$u$d)
  domxml "$u" "lab-$d" > "$work/$d.xml"
  $helper -c -u "libvirt-$u" < "$work/$d.xml" > "$work/$d.helper" 2>&1; rc=$?
  check "virt-aa-helper -c: libvirt-$u made and loaded (exit $rc)" bash -c "[ $rc -eq 0 ] && grep -q 'libvirt-$u ' /sys/kernel/security/apparmor/profiles"
  [ $rc -eq 0 ] || sed 's/^/     /' "$work/$d.helper"
done
grep "libvirt-$uA\|libvirt-$uB" /sys/kernel/security/apparmor/profiles | sed 's/^/     loaded: /'
# What the hook does at start begin (fp_hook_start -> fp_apparmor_allow), for A only.
$helper -r -u "libvirt-$uA" -F "$pool/claim-$uA" < "$work/A.xml" > "$work/A.add" 2>&1; rc=$?
check "virt-aa-helper -r -F: A's slot added to A's profile (exit $rc)" [ $rc -eq 0 ]
sed 's/^/     libvirt-A.files: /' "/etc/apparmor.d/libvirt/libvirt-$uA.files"
check "the rule is in A's rules file" grep -q "\"$pool/claim-$uA\" rwk," "/etc/apparmor.d/libvirt/libvirt-$uA.files"
check "and in no other file under /etc/apparmor.d" \
  bash -c "[ \$(grep -rl 'fastpass' /etc/apparmor.d | grep -v 'libvirt-$uA.files' | wc -l) -eq 0 ]"

# AppArmor names files from the real root; the lab runs its command chrooted into an overlay
# (/host), where a confined process cannot even load libc. Then only the profiles and where the
# rule went can be checked here, not the opens.
if ! aa-exec -p "libvirt-$uA" -- true 2> "$work/control"; then
  echo "     NOT CHECKED: opens under the profiles: confined, even true(1) fails here ($(head -1 "$work/control"))"
  echo "     (the lab's root is a chroot; AppArmor sees /host/... paths that libvirt's profiles do not name)"
  opens=no
else
  opens=yes
fi
for user in root libvirt-qemu; do
  [ $opens = yes ] || break
  try allowed "open A's own slot" "libvirt-$uA" $user head -c1 "$pool/claim-$uA"
  try refused "open B's slot (running neighbour)" "libvirt-$uA" $user head -c1 "$pool/claim-$uB"
  try refused "open a clean slot" "libvirt-$uA" $user head -c1 "$clean"
  try refused "open a dirty slot" "libvirt-$uA" $user head -c1 "$dirty"
  try refused "open B's slot from B's profile (no rule)" "libvirt-$uB" $user head -c1 "$pool/claim-$uB"
done
"$fp" pool release --dir "$pool" --owner $uA
dA=$pool/$(ls -t "$pool" | grep '\.dirty$' | head -1)
for user in root libvirt-qemu; do
  [ $opens = yes ] || break
  try refused "open A's slot after release" "libvirt-$uA" $user head -c1 "$pool/claim-$uA"
done
for u in $uA $uB; do $helper -D -u "libvirt-$u" 2>&1 | sed 's/^/     virt-aa-helper -D: /'; done
ls /etc/apparmor.d/libvirt/ | sed 's/^/     left in \/etc\/apparmor.d\/libvirt: /'
check "at stop (virt-aa-helper -D, as libvirt): A's rules file gone, its profile unloaded" \
  bash -c "[ ! -e /etc/apparmor.d/libvirt/libvirt-$uA.files ] && ! grep -q 'libvirt-$uA ' /sys/kernel/security/apparmor/profiles"
"$fp" pool release --dir "$pool" --owner $uB
"$fp" pool drain --dir "$pool" > /dev/null 2>&1
finish
