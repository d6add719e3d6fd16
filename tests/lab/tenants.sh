#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs inside the lab guest (tests/lab/lab-run): tenants kept apart. Under Debian's qemu.conf as
# shipped (QEMU as libvirt-qemu, mount namespaces on) but without AppArmor (this lab guest has
# none), no profile of its own confines a domain, and every QEMU shares one uid: so the hook hands
# no pool slot to two domains A and B (issue 17, F2) and says why; as libvirt-qemu (setpriv) no
# slot opens and the pool cannot be listed; the slots stay clean and root's. (lab/apparmor shows
# slots handed out where libvirt confines each domain.) Then a domain C with a real VFIO <hostdev>: its
# /dev/vfio/N is QEMU's only inside QEMU's own /dev; after destroy the device stays warm on
# vfio-pci and its /dev/vfio/N refuses libvirt-qemu.
# usage: tenants.sh FASTPASS FASTPASS-HOOK FASTPASS-QEMU
set -u
fp=$(realpath "$1"); hook=$(realpath "$2"); wrapper=$(realpath "$3")
. "$(dirname "$0")/libvirt-lib.sh"
work=/tmp/fastpass-lab-tenants; mkdir -p "$work"; chmod 755 "$work"; log=$work/hook.log
pool=/dev/hugepages/fastpass
uA=3c1f7a2e-9d4b-4e8a-b6c5-0a1b2c3d4e5a
uB=3c1f7a2e-9d4b-4e8a-b6c5-0a1b2c3d4e5b
uC=3c1f7a2e-9d4b-4e8a-b6c5-0a1b2c3d4e5c
if [ "${#devs[@]}" -lt 1 ] || ! id libvirt-qemu >/dev/null 2>&1; then
  echo "SKIP: needs a lab device and the libvirt-qemu user"; exit 77
fi
qgid=$(id -g libvirt-qemu)
as_qemu() { setpriv --reuid=libvirt-qemu --regid="$qgid" --clear-groups "$@"; }
try() { # WANT WHAT COMMAND...: as libvirt-qemu
  local want=$1 what=$2 got err; shift 2
  err=$(as_qemu "$@" 2>&1 >/dev/null) && got=allowed || got=refused
  printf '     as libvirt-qemu: %-50s %s%s\n' "$what" "$got" "${err:+ ($err)}"
  check "libvirt-qemu: $what: $want" [ "$got" = "$want" ]
}
mode_of() { stat -c '%a %U:%G' "$1"; }

# The hooks a test on the host installed must not run in here; qemu.conf stays Debian's.
rm -rf /etc/libvirt/hooks/qemu.d /etc/libvirt/hooks/qemu
grep -Ev '^\s*(#|$)' /etc/libvirt/qemu.conf | sed 's/^/     qemu.conf: /'
echo 128 > /proc/sys/vm/nr_hugepages
printf '{"run_dir": "%s/run", "log_file": "%s", "pool_dir": "%s", "device_timeout_ms": 60000, "hook_deadline_ms": 120000}\n' \
  "$work" "$log" "$pool" > "$work/fastpass.json"
chmod 644 "$work/fastpass.json"
lab_install_hook "$hook" "$work/fastpass.json"
config_script "$work/fastpass.json" "$wrapper" "$work/qemu"
chmod 755 "$work/qemu"
libvirtd_up || { echo "libvirtd did not start"; exit 1; }

"$fp" pool fill --dir "$pool" --size 64M --count 3 > "$work/fill.out" 2>&1; rc=$?
check "pool fill: 3 clean 64 MiB slots (exit $rc)" [ $rc -eq 0 ]
check "pool directory root's, mode 711 ($(mode_of "$pool"))" [ "$(mode_of "$pool")" = "711 root:root" ]
hp="<memoryBacking><hugepages><page size='2048' unit='KiB'/></hugepages></memoryBacking>"

# --- part 1: Debian's qemu.conf as shipped (libvirt-qemu, mount namespaces): two domains ---------
lab_domain lab-a "<uuid>$uA</uuid>$hp" "$work/qemu" > "$work/a.xml"
lab_domain lab-b "<uuid>$uB</uuid>$hp" "$work/qemu" > "$work/b.xml"
for d in a b; do
  virsh create "$work/$d.xml" > "$work/create-$d.out" 2>&1; rc=$?
  check "virsh create lab-$d (qemu.conf as shipped, no AppArmor): exit 0" [ $rc -eq 0 ]
  [ $rc -eq 0 ] || sed 's/^/     /' "$work/create-$d.out"
done
echo "     hook log:"; sed 's/^/       /' "$log"
pidA=$(pgrep -f 'guest=lab-a' | head -1)
check "QEMU of A runs as libvirt-qemu ($(ps -o user= -p "${pidA:-1}"))" [ "$(ps -o user= -p "${pidA:-1}")" = libvirt-qemu ]
check "QEMU of A has its own mount namespace" [ "$(readlink /proc/${pidA:-1}/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ]
check "the hook gave A and B no slot, saying why" \
  bash -c "[ \"\$(grep -c 'pool: not used: the kernel has no AppArmor' '$log')\" = 2 ]"
check "no slot claimed" bash -c "! ls '$pool' | grep -q claimed"
check "QEMU of A maps nothing of the pool" bash -c "[ -n '$pidA' ] && ! grep -q '$pool/' /proc/${pidA:-1}/maps"
clean=$pool/$(ls "$pool" | grep '\.clean$' | head -1)
check "the 3 slots stay clean and root's ($(ls "$pool" | grep -c '\.clean$') clean; $(mode_of "$clean"))" \
  bash -c "[ \"\$(ls '$pool' | grep -c '\.clean\$')\" = 3 ] && [ '$(mode_of "$clean")' = '600 root:root' ]"
try refused "list the pool directory" ls "$pool"
try refused "open a clean slot" head -c1 "$clean"
try refused "open a claim name of A" head -c1 "$pool/claim-$uA"
virsh destroy lab-a > /dev/null 2>&1; rc=$?
check "virsh destroy lab-a: exit 0" [ $rc -eq 0 ]
virsh destroy lab-b > /dev/null 2>&1
"$fp" pool scrub --dir "$pool" > "$work/scrub.out" 2>&1; rc=$?
check "pool scrub: exit 0 ($(cat "$work/scrub.out"))" [ $rc -eq 0 ]

# --- part 2: a warm VFIO device, still under Debian's qemu.conf: libvirt gives QEMU its own
# /dev (mount namespace) and labels /dev/vfio/N there; the host's node stays root's. -------------
lab_domain lab-c "<uuid>$uC</uuid>$hp" "$work/qemu" "${devs[0]}" > "$work/c.xml"
virsh create "$work/c.xml" > "$work/create-c.out" 2>&1; rc=$?
check "virsh create lab-c (VFIO hostdev, QEMU as libvirt-qemu in its namespace): exit 0" [ $rc -eq 0 ]
[ $rc -eq 0 ] || sed 's/^/     /' "$work/create-c.out"
gC=$(group "${devs[0]}")
qpid=$(cat /run/libvirt/qemu/lab-c.pid 2>/dev/null)
inside=$(stat -c '%a %U:%G' "/proc/$qpid/root/dev/vfio/$gC" 2>&1)
echo "     /dev/vfio/$gC while C runs: host's $(mode_of /dev/vfio/$gC); in QEMU's /dev: $inside"
check "while C runs: /dev/vfio/$gC in QEMU's own /dev is libvirt-qemu's ($inside)" \
  bash -c "[ '${inside#* }' = libvirt-qemu:libvirt-qemu ] || [ '${inside#* }' = libvirt-qemu:kvm ]"
check "while C runs: the host's /dev/vfio/$gC stays root's, 600" [ "$(mode_of /dev/vfio/$gC)" = "600 root:root" ]
try refused "open the host's /dev/vfio/$gC while C runs" sh -c ": < /dev/vfio/$gC"
virsh destroy lab-c > /dev/null 2>&1; rc=$?
check "virsh destroy lab-c: exit 0" [ $rc -eq 0 ]
check "C's device stays warm on vfio-pci" [ "$(drv "${devs[0]}")" = vfio-pci ]
check "/dev/vfio/$gC after destroy: root's, 600 ($(mode_of /dev/vfio/$gC))" [ "$(mode_of /dev/vfio/$gC)" = "600 root:root" ]
try refused "open /dev/vfio/$gC (C's warm device, C gone)" sh -c ": < /dev/vfio/$gC"
try refused "write C's device's config space" sh -c "printf '\\0' | dd of=/sys/bus/pci/devices/${devs[0]}/config bs=1 seek=4 conv=notrunc status=none"
# As for every PCI device on Linux: the first 64 bytes of config space are world-readable.
try allowed "read C's device's config header (any user may, as for any device)" head -c 64 "/sys/bus/pci/devices/${devs[0]}/config"
check "after C: the 3 slots still clean, none claimed" \
  bash -c "[ \"\$(ls '$pool' | grep -c '\.clean\$')\" = 3 ] && ! ls '$pool' | grep -q claimed"
"$fp" pool drain --dir "$pool" > /dev/null 2>&1
finish
