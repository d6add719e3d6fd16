#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# lab-run's own contract, checked on the host: skips with 77 where it cannot run; passes the
# command's arguments, directory, stdout, stderr and exit status through unchanged; sets
# LAB_DEVICES / LAB_BRIDGED_DEVICES; keeps the guest's writes in the guest; stops a hung guest
# at the timeout (124) and on SIGTERM (143); leaves no temporary files and no QEMU behind.
# usage: lab-run-selftest.sh   (about 45 s; exits 77 if the lab cannot run here)
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cli/lib.sh"
lab=$here/lab-run
TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/lab-selftest.XXXXXX"); export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
leftovers() { # nothing of lab-run's in $TMPDIR, no QEMU using it
  [ -z "$(ls -A "$TMPDIR")" ] && ! pgrep -f "$TMPDIR" > /dev/null
}

LAB_KERNEL=/nonexistent/vmlinuz-0 "$lab" -- true 2> /dev/null
check "no kernel: skip (77)" [ $? -eq 77 ]
# One boot for the pass-through checks.
"$lab" -n 1 -b 2 -C "$here" -- bash -c '
    printf "<%s>" "$@"; echo
    echo "$PWD"; echo "$LAB_DEVICES|$LAB_BRIDGED_DEVICES"; uname -r
    echo to-stderr >&2
    touch lab-run-was-here
    exit 7' arg0 'a b' $'c\nd' '*' '$HOME' > "$TMPDIR/out" 2> "$TMPDIR/err"
rc=$?
if [ $rc -eq 77 ]; then cat "$TMPDIR/err" >&2; exit 77; fi
check "the command's exit status (7)" [ $rc -eq 7 ]
check "arguments unchanged (spaces, newline, glob, \$)" [ "$(sed -n 1,2p "$TMPDIR/out")" = "<a b><c
d><*><\$HOME>" ]
check "runs in -C DIR" [ "$(sed -n 3p "$TMPDIR/out")" = "$here" ]
check "LAB_DEVICES and LAB_BRIDGED_DEVICES: $(sed -n 4p "$TMPDIR/out")" \
  grep -Eqx '[0-9a-f:.]{12}\|[0-9a-f:.]{12} [0-9a-f:.]{12}' <(sed -n 4p "$TMPDIR/out")
want=$("$here/../debian-kernel"); want=${want#/boot/vmlinuz-}
check "the guest runs Debian's kernel $want (the host runs $(uname -r))" [ "$(sed -n 5p "$TMPDIR/out")" = "$want" ]
check "stderr kept apart from stdout" [ "$(cat "$TMPDIR/err")" = to-stderr ]
check "the guest's writes stay in the guest" [ ! -e "$here/lab-run-was-here" ]
rm -f "$TMPDIR/out" "$TMPDIR/err"
check "nothing left behind after a run" leftovers

start=$SECONDS
"$lab" -n 0 -t 20 -- sleep 600 > /dev/null 2>&1
rc=$?
[ $rc -eq 124 ] && [ $((SECONDS - start)) -lt 45 ]; verdict "a hung command is stopped at the timeout: exit 124 after $((SECONDS - start)) s"
check "nothing left behind after a timeout" leftovers

"$lab" -n 0 -- sleep 600 > /dev/null 2>&1 &
pid=$!
sleep 12
kill -TERM $pid
wait $pid
check "SIGTERM: exit 143" [ $? -eq 143 ]
sleep 1
check "nothing left behind after SIGTERM" leftovers
finish
