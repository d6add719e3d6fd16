#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# fastpass's QEMU as a Debian package (launcher/qemu/build-deb: build-qemu's cached binary,
# dpkg-buildpackage -b with a small debian/ directory): what it installs where, its version and
# Depends, the packaged binary naming the series and starting with Debian's firmware, nothing
# of Debian's QEMU replaced, and lintian with nothing above "info".
# usage: package-qemu.sh SOURCE_DIR FASTPASS_QEMU_BUILT
set -u
src=$1 built=$2
. "$(dirname "$0")/lib.sh"
for t in dpkg-buildpackage dh lintian fakeroot; do
  command -v $t >/dev/null || { echo "SKIP: needs $t (.ci/install-deps package)"; exit 77; }
done
[ -x "$built" ] || { echo "SKIP: fastpass's QEMU was not built at $built (launcher/qemu/build-qemu; tests/run builds it first)"; exit 77; }
root=$(dirname "$(dirname "$built")")
# The series build-qemu applied to that tree: the one for its QEMU version (patches/7.2, 10.0)
series_dir=$("$src/launcher/qemu/build-qemu" --series-for "$(dpkg-parsechangelog -l "$root/src/debian/changelog" -S Version)") ||
  { echo "FAIL: no series for the QEMU in $root/src"; exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

# Bad input: one clear line, non-zero exit, nothing built.
"$src/launcher/qemu/build-deb" > "$work/usage.out" 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q '^usage: build-deb' "$work/usage.out"; verdict "build-deb without OUTDIR: usage, exit 2"
"$src/launcher/qemu/build-deb" -P "$work/none" "$work/bad" > "$work/bad.out" 2>&1; rc=$?
[ $rc -ne 0 ] && [ "$(cat "$work/bad.out")" = "build-deb: -P needs a directory of patches" ] && [ ! -e "$work/bad" ]
verdict "build-deb -P with no such directory: one line naming it, nothing made"

# The Debian release whose QEMU the root holds (build-qemu records it; none: the machine's)
suite_args=(); [ ! -f "$root/suite" ] || suite_args=(--suite "$(cat "$root/suite")")
deb=$("$src/launcher/qemu/build-deb" "${suite_args[@]}" -B "$root" "$work/out" 2> "$work/build.err"); rc=$?
[ $rc -eq 0 ] && [ -f "$deb" ]; verdict "launcher/qemu/build-deb -B $root: exit 0, a .deb"
[ $rc -eq 0 ] || { cat "$work/build.err"; tail -20 "$work/out/fastpass-qemu-build.log" 2>/dev/null; }
[ -f "$deb" ] || finish

dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' > "$work/files"
echo "  files:"; grep -v '/$' "$work/files" | sed 's/^/    /'
check "ships /usr/libexec/fastpass/qemu-system-x86_64 (fastpass_qemu's default for the package)" \
  grep -qx /usr/libexec/fastpass/qemu-system-x86_64 "$work/files"
check "nothing in /usr/bin, /usr/local or /etc (Debian's /usr/bin/qemu-system-x86_64 is never touched)" \
  bash -c "! grep -Eq '^/(usr/bin|usr/local|etc|usr/sbin)/.' '$work/files'"
check "ships its manual page fastpass-qemu-system(1)" grep -qx /usr/share/man/man1/fastpass-qemu-system.1.gz "$work/files"
check "ships no lintian overrides" bash -c "! grep -q '^/usr/share/lintian/overrides/' '$work/files'"
for p in "$series_dir"/[0-9][0-9][0-9][0-9]-*.patch; do
  check "ships the series: ${p##*/}" grep -qx "/usr/share/doc/fastpass-qemu-system/patches/${p##*/}" "$work/files"
done

field() { dpkg-deb -f "$deb" "$1"; }
dpkg-deb -I "$deb" | grep -E '^ (Package|Version|Depends|Suggests):' | sed 's/^ /  /'
check "package name fastpass-qemu-system" [ "$(field Package)" = fastpass-qemu-system ]
base=$(dpkg-parsechangelog -l "$root/src/debian/changelog" -S Version)
series=$("$built" -version | sed -n 's/^fastpass QEMU patch series \([0-9]*\)$/\1/p')
check "version = Debian's QEMU source version + fastpass series ($base+fastpass$series)" \
  [ "$(field Version)" = "$base+fastpass$series" ]
check "the version sorts above the Debian version it was built from" dpkg --compare-versions "$(field Version)" gt "$base"
field Depends | tr ',' '\n' | sed 's/^ *//' > "$work/depends"
check "Depends: qemu-system-data (Debian's firmware)" grep -q '^qemu-system-data\b' "$work/depends"
check "Depends: seabios and ipxe-qemu (the firmware path's other two)" bash -c "grep -q '^seabios' '$work/depends' && grep -q '^ipxe-qemu' '$work/depends'"
check "Depends from dpkg-shlibdeps (libc6, libglib2.0-0 with versions)" \
  bash -c "grep -q '^libc6 (>= ' '$work/depends' && grep -q '^libglib2.0-0 (>= ' '$work/depends'"
check "no Replaces, Conflicts, Breaks, Provides or Pre-Depends (Debian's QEMU stays as it is)" \
  bash -c "! dpkg-deb -f '$deb' Replaces Conflicts Breaks Provides Pre-Depends | grep -q ."

mkdir -p "$work/x"; dpkg-deb -x "$deb" "$work/x"
q=$work/x/usr/libexec/fastpass/qemu-system-x86_64
"$q" -version > "$work/version" 2>&1
sed 's/^/    -version: /' "$work/version"
check "the packaged binary's -version names the fastpass series on a line of its own" grep -qx "fastpass QEMU patch series $series" "$work/version"
check "and names Debian's QEMU version it was built from" grep -q "(Debian ${base#*:}, fastpass " "$work/version"
"$q" -device vfio-pci,help 2>&1 | grep -q 'x-skip-first-reset='; verdict "-device vfio-pci,help lists x-skip-first-reset"
check "stripped" bash -c "! readelf -S '$q' | grep -q '\.debug_info'"
# Started paused, it has loaded SeaBIOS from Debian's firmware path: still running when timeout
# ends it (124); a missing firmware file makes it exit at once.
timeout 5 "$q" -machine q35 -accel tcg -display none -nodefaults -S > "$work/start.out" 2>&1; rc=$?
[ $rc -eq 124 ]; verdict "the packaged binary starts a q35 machine with Debian's firmware (paused until timeout)"
[ $rc -eq 124 ] || sed 's/^/     /' "$work/start.out"
check "the copyright names QEMU's licence, GPL-2" grep -q 'GNU General Public License version 2' "$work/x/usr/share/doc/fastpass-qemu-system/copyright"
for p in "$series_dir"/[0-9][0-9][0-9][0-9]-*.patch; do
  check "the copyright lists ${p##*/}" grep -q "^  ${p##*/}$" "$work/x/usr/share/doc/fastpass-qemu-system/copyright"
done
zcat "$work/x/usr/share/doc/fastpass-qemu-system/changelog.Debian.gz" | head -1 | grep -qF "($base+fastpass$series)"; verdict "changelog entry for the version"

lintian --tag-display-limit 0 -I "$work"/out/fastpass-qemu_*.changes > "$work/lintian" 2>&1
grep -v 'running with root privileges' "$work/lintian" | sed 's/^/  lintian: /'
! grep -Eq '^(E|W): ' "$work/lintian"; verdict "lintian: no error or warning"
finish
