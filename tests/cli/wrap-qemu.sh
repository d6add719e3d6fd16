#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# fastpass-wrap-qemu on a stand-in QEMU path (never the host's own QEMU): enable diverts the
# binary and puts the wrapper in its place, the wrapper then runs the diverted binary, status
# says so, list names it, disable puts every byte back; refusals for what it must not touch.
# usage: wrap-qemu.sh WRAP-SCRIPT WRAPPER
set -u
script=$1; wrapper=$(realpath "$2")
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" -ne 0 ] || ! command -v dpkg-divert >/dev/null; then echo "SKIP: needs root and dpkg-divert"; exit 77; fi
work=$(mktemp -d); q=$work/bin/qemu-system-x86_64
cleanup() { FASTPASS_QEMU_WRAPPER=$wrapper sh "$script" disable "$q" >/dev/null 2>&1; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/bin"
printf '#!/bin/sh\necho "real qemu: $*"\n' > "$q"; chmod 755 "$q"; cp "$q" "$work/orig"
printf '{"qemu_binary": "%s", "run_dir": "%s/run"}\n' "$q" "$work" > "$work/cfg.json"
wrap() { FASTPASS_QEMU_WRAPPER=$wrapper sh "$script" "$@"; }

out=$(wrap status "$q"); rc=$?
[ $rc -eq 0 ] && echo "$out" | grep -q "not wrapped"; verdict "status before: not wrapped"
out=$(wrap enable "$q" 2>&1); rc=$?
[ $rc -eq 0 ] && [ "$(readlink "$q")" = "$wrapper" ] && cmp -s "$q.distrib" "$work/orig"; verdict "enable: QEMU diverted to .distrib, the wrapper in its place"
dpkg-divert --list "$q" | grep -q "by fastpass"; verdict "enable: the diversion is dpkg's, owned by fastpass"
wrap list | grep -qxF "$q"; verdict "list: names $q (the package's removal disables every path listed)"
out=$(FASTPASS_CONFIG=$work/cfg.json "$q" -version 2>&1); rc=$?
[ $rc -eq 0 ] && [ "$out" = "real qemu: -version" ]; verdict "the wrapper runs the diverted QEMU (got: $out)"
out=$(wrap status "$q"); rc=$?
[ $rc -eq 0 ] && echo "$out" | grep -q "^wrapped: $q -> $wrapper -> $q.distrib"; verdict "status: wrapped"
out=$(wrap enable "$q"); rc=$?
[ $rc -eq 0 ] && echo "$out" | grep -q "already"; verdict "enable twice: says so, changes nothing"
out=$(wrap disable "$q"); rc=$?
[ $rc -eq 0 ] && [ ! -L "$q" ] && cmp -s "$q" "$work/orig" && [ ! -e "$q.distrib" ] && ! dpkg-divert --list "$q" | grep -q .; verdict "disable: the original binary back, no diversion left"
! wrap list | grep -qxF "$q"; verdict "list: no longer names $q"
out=$(wrap list extra 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q "^usage:"; verdict "list with an argument: usage, exit 2"

# Refusals: one line, nothing changed.
ln -s /bin/true "$work/bin/other"
out=$(wrap enable "$work/bin/other" 2>&1); rc=$?
[ $rc -eq 1 ] && [ "$(echo "$out" | wc -l)" -eq 1 ] && [ "$(readlink "$work/bin/other")" = /bin/true ] && ! dpkg-divert --list "$work/bin/other" | grep -q .; verdict "a symlink that is not the wrapper: refused, left alone"
out=$(wrap enable "$work/bin/absent" 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "does not exist"; verdict "a QEMU that does not exist: refused"
out=$(wrap enable relative/qemu 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q "not an absolute path"; verdict "a relative path: exit 2"
out=$(wrap frobnicate 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q "^usage:"; verdict "an unknown command: usage, exit 2"
finish
