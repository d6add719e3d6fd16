#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The Debian package, built from the tree with the standard tools (dpkg-buildpackage -us -uc -b)
# in a copy of it: what it installs where, its conffile, maintainer scripts that never start or
# restart a daemon, its manual pages, and lintian with nothing above "info" and no override.
# Then its removal scripts, run as dpkg runs them in a private mount namespace
# (package-removal.sh): only what fastpass made goes, the hook first, every wrapped QEMU path.
# usage: package.sh SOURCE_DIR
set -u
src=$1
. "$(dirname "$0")/lib.sh"
for t in dpkg-buildpackage dh lintian fakeroot; do
  command -v $t >/dev/null || { echo "SKIP: needs $t (.ci/install-deps package)"; exit 77; }
done
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
"$src/tests/build-deb" "$work"; rc=$?
[ $rc -eq 0 ]; verdict "dpkg-buildpackage -us -uc -b: exit 0"
[ $rc -eq 0 ] || tail -20 "$work/build.log"
deb=$(ls "$work"/fastpass_*_*.deb 2>/dev/null | head -1)
check "the fastpass package was built" [ -f "$deb" ]
[ -f "$deb" ] || finish

dpkg-deb -c "$deb" | awk '{print $6 ($7 ? " " $7 " " $8 : "")}' | sed 's|^\./|/|' > "$work/files"
echo "  files:"; sed 's/^/    /' "$work/files" | grep -v '/$'
for f in /usr/bin/fastpass /usr/bin/fastpass-qemu /usr/sbin/fastpass-wrap-qemu \
         /usr/libexec/fastpass/fastpass-hook /usr/libexec/fastpass/fastpass-hook-run.so \
         /etc/fastpass/fastpass.json /lib/systemd/system/fastpass-pool.service \
         /etc/apparmor.d/abstractions/fastpass-qemu; do
  check "ships $f" grep -qx "$f" "$work/files"
done
# A page for every program (docs/man, built by scdoc): no lintian override says there is none.
for f in /usr/share/man/man1/fastpass.1.gz /usr/share/man/man1/fastpass-qemu.1.gz \
         /usr/share/man/man8/fastpass-wrap-qemu.8.gz /usr/share/man/man8/fastpass-hook.8.gz \
         /usr/share/man/man5/fastpass.json.5.gz; do
  check "ships the manual page $f" grep -qx "$f" "$work/files"
done
check "ships no lintian overrides" bash -c "! grep -q '^/usr/share/lintian/overrides/' '$work/files'"
# A hook file dpkg shipped in /etc would be a conffile that dpkg -r leaves behind without its
# module: the postinst copies it, prerm and postrm remove it.
check "no hook file shipped in libvirt's hook directory (the maintainer scripts copy it)" \
  bash -c "! grep -q '^/etc/libvirt/hooks/qemu.d/fastpass' '$work/files'"
check "nothing under /usr/local, /tmp or a build path" bash -c "! grep -Eq '^/(usr/local|tmp|build)' '$work/files'"
check "the configuration is a conffile" bash -c "dpkg-deb -I '$deb' conffiles | grep -qx /etc/fastpass/fastpass.json"
mkdir -p "$work/x"; dpkg-deb -x "$deb" "$work/x"; dpkg-deb -e "$deb" "$work/x/DEBIAN"
grep -q '^ExecStart=/usr/bin/fastpass pool serve ' "$work/x/lib/systemd/system/fastpass-pool.service"; verdict "the unit runs the packaged CLI"
check "the shipped configuration is the documented defaults (the packaged CLI reads it)" \
  bash -c "FASTPASS_CONFIG='$work/x/etc/fastpass/fastpass.json' '$work/x/usr/bin/fastpass' config run_dir | grep -qx /run/fastpass"
# Commands only: the postinst's messages tell the operator what to run.
scripts=$(cat "$work"/x/DEBIAN/{postinst,prerm,postrm} 2>/dev/null | grep -v '^[[:space:]]*\(#\|echo \)')
! echo "$scripts" | grep -v 'systemctl --system daemon-reload' | grep -Eq 'systemctl|invoke-rc.d|deb-systemd-invoke|service '; verdict "no maintainer script starts, stops or restarts a daemon (libvirtd is the operator's)"
grep -q 'systemctl restart libvirtd' "$work/x/DEBIAN/postinst"; verdict "postinst says what to restart"
grep -q 'install -m 0755 "$binary" "$hook.dpkg-new"' "$work/x/DEBIAN/postinst" &&
  grep -q 'rm -f "$hook"' "$work/x/DEBIAN/prerm" && grep -q 'rm -f "$hook"' "$work/x/DEBIAN/postrm"
verdict "postinst copies the hook into libvirt's hook directory, prerm and postrm remove it"
# dh_installsystemd keeps an operator's own enabling across upgrades; the package enables nothing.
! echo "$scripts" | grep -B3 'deb-systemd-helper enable' | grep -q . || echo "$scripts" | grep -B3 'deb-systemd-helper enable' | grep -q 'was-enabled'; verdict "the pool's unit is enabled only where the operator had enabled it"

# Removal by the package's own maintainer scripts, in a private mount namespace (package-removal.sh).
if [ "$(id -u)" -ne 0 ] || ! command -v dpkg-divert >/dev/null || [ ! -d /etc/libvirt ] ||
   ! unshare -m --propagation private true 2>/dev/null; then
  echo "  SKIP (part): the removal checks need root, dpkg-divert, /etc/libvirt and a mount namespace (unshare -m)"
else
  bash "$(dirname "$0")/package-removal.sh" "$work/x"; verdict "removal: prerm and postinst abort-remove (above)"
fi

lintian --tag-display-limit 0 "$work"/fastpass_*.changes > "$work/lintian" 2>&1
grep -v 'running with root privileges' "$work/lintian" | sed 's/^/  lintian: /'
! grep -Eq '^(E|W): ' "$work/lintian"; verdict "lintian: no error or warning"
finish
