#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# launcher/qemu/build-qemu picks the patch series by the QEMU version of the source it builds
# (launcher/qemu/patches/MAJOR.MINOR), refuses a version it has no series for with one line
# naming it, refuses bad options the same way, and fetches another Debian release's source
# (--suite trixie) through an apt configuration of its own: the machine's apt sources and lists
# are the same afterwards. Nothing is built (--series-for, --print-source).
# usage: build-qemu-series.sh SOURCE_DIR
set -u
src=$1
. "$(dirname "$0")/lib.sh"
bq=$src/launcher/qemu/build-qemu
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

# The series for a version: its upstream MAJOR.MINOR, epoch, revision and repack suffix dropped.
out=$("$bq" --series-for 1:7.2+dfsg-7+deb12u18 2>&1); rc=$?
[ $rc -eq 0 ] && [ "$out" = "$src/launcher/qemu/patches/7.2" ]; verdict "Debian 12's 1:7.2+dfsg-7+deb12u18 takes patches/7.2 ($out)"
out=$("$bq" --series-for 1:10.0.13+ds-0+deb13u1 2>&1); rc=$?
[ $rc -eq 0 ] && [ "$out" = "$src/launcher/qemu/patches/10.0" ]; verdict "Debian 13's 1:10.0.13+ds-0+deb13u1 takes patches/10.0 ($out)"

# A version without a series: one line naming it, exit 1.
"$bq" --series-for 1:9.2.0+ds-1 > "$work/out" 2>&1; rc=$?
sed 's/^/    /' "$work/out"
[ $rc -eq 1 ] && [ "$(wc -l < "$work/out")" -eq 1 ] &&
  grep -qx 'build-qemu: no patch series for qemu 1:9.2.0+ds-1: launcher/qemu/patches/9.2 does not exist' "$work/out"
verdict "a version without a series (1:9.2.0+ds-1): one line naming it and the missing directory, exit 1"
"$bq" --series-for 10 > "$work/out" 2>&1; rc=$?
[ $rc -eq 1 ] && [ "$(wc -l < "$work/out")" -eq 1 ] && grep -q "^build-qemu: qemu version '10' is not a Debian QEMU version" "$work/out"
verdict "a version without MAJOR.MINOR ('10'): one line naming it, exit 1"
"$bq" --suite 'Trixie!' > "$work/out" 2>&1; rc=$?
[ $rc -eq 1 ] && [ "$(cat "$work/out")" = "build-qemu: --suite needs a Debian release name (e.g. trixie)" ]
verdict "--suite with a bad name: one line, exit 1"
"$bq" --nonsense > "$work/out" 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q '^usage: build-qemu' "$work/out"; verdict "an unknown option: usage, exit 2"

# Another release through build-qemu's own apt configuration: the machine's is untouched.
own=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
[ "$own" = bookworm ] || { echo "SKIP (rest): the machine is $own, not Debian 12; trixie is not another release here"; finish; exit; }
# /etc/apt: every file and its content; /var/lib/apt/lists: which lists there are (their
# contents change with any apt-get update on the machine).
snapshot() { { find /etc/apt -type f -print0 | sort -z | xargs -0 sha256sum
  find /var/lib/apt/lists -maxdepth 1 -type f -printf '%p\n' | sort; } > "$1"; }
snapshot "$work/apt.before"
"$bq" --suite trixie -B "$work/root" --print-source > "$work/out" 2> "$work/err"; rc=$?
snapshot "$work/apt.after"
sed 's/^/    /' "$work/out" "$work/err"
if [ $rc -ne 0 ] && grep -q 'apt-get update for trixie failed' "$work/err"; then
  sed 's/^/    /' "$work/root/apt/update.log" | tail -5
  echo "SKIP (rest): the Debian archive cannot be reached (apt-get update failed)"
  finish; exit
fi
[ $rc -eq 0 ] && grep -Eq "^qemu 10\.0\.[0-9]+\+ds-[^ ]* \(trixie\): series $src/launcher/qemu/patches/10.0$" "$work/out"
verdict "--suite trixie --print-source: Debian 13's QEMU 10.0 source, series patches/10.0"
cmp -s "$work/apt.before" "$work/apt.after"; verdict "the machine's /etc/apt (contents) and /var/lib/apt/lists (names) are unchanged"
diff "$work/apt.before" "$work/apt.after" | head -5 | sed 's/^/    /'
grep -rqs trixie /etc/apt; [ $? -ne 0 ]; verdict "no file in /etc/apt names trixie"
ls "$work/root/apt/sources.list.d/"* > /dev/null 2>&1 && grep -q '^deb-src\|Types: deb deb-src' "$work/root/apt/sources.list.d/"*
verdict "build-qemu's own sources (BUILD_ROOT/apt) have deb-src entries for trixie"
[ "$(ls "$work/root")" = apt ]; verdict "--print-source downloads and builds nothing (only BUILD_ROOT/apt)"
finish
