#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The hook binary and its module are installed apart (the binary copied into libvirt's hook
# directory at configure, the module replaced at unpack): a module of another interface version
# is refused like a missing one. prepare begin refused with one line and the module's code never
# run; restore begin passes the XML through; other phases still cost nothing.
# usage: hook-abi.sh HOOK
set -u
hook=$(realpath "$1")
. "$(dirname "$0")/lib.sh"
cc=$(command -v cc || command -v gcc) || { echo "SKIP: needs a C compiler to build a module of another version"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A module of interface version 999 (and one from before versions existed: no symbol) whose
# entry would leave a mark if it ran.
for v in 999 none; do
  mkdir -p "$work/$v"
  cp "$hook" "$work/$v/fastpass"
  {
    [ "$v" = none ] || echo "const unsigned fp_hook_abi = $v;"
    echo "#include <stdio.h>"
    echo "int fp_hook_run(int op, int argc, char **argv) { FILE *f = fopen(\"$work/ran\", \"w\"); (void)op, (void)argc, (void)argv; if (f) fclose(f); return 0; }"
  } > "$work/$v/m.c"
  "$cc" -shared -fPIC -o "$work/$v/fastpass-hook-run.so" "$work/$v/m.c" || { echo "FAIL: cannot build the module"; exit 1; }
done
xml="<domain type='qemu'><name>vm1</name><memory unit='MiB'>256</memory><os><type>hvm</type></os></domain>"
for v in 999 none; do
  want=$([ "$v" = none ] && echo 1 || echo 999)
  rm -f "$work/ran"
  "$work/$v/fastpass" vm1 prepare begin - <<< "$xml" > "$work/out" 2> "$work/err"; rc=$?
  echo "module version $v: exit $rc: $(cat "$work/err")"
  [ $rc -eq 1 ] && [ "$(wc -l < "$work/err")" -eq 1 ] && grep -q "interface version $want, this hook needs" "$work/err"; verdict "module version $v: prepare begin refused (exit 1), one line naming the versions"
  check "module version $v: its code never ran" [ ! -e "$work/ran" ]
  "$work/$v/fastpass" vm1 restore begin - <<< "$xml" > "$work/xml" 2>/dev/null; rc=$?
  [ $rc -eq 0 ] && [ "$(cat "$work/xml")" = "$xml" ] && [ ! -e "$work/ran" ]; verdict "module version $v: restore begin passes the XML on unchanged"
  "$work/$v/fastpass" vm1 started begin - <<< "$xml" > "$work/out" 2>&1; rc=$?
  [ $rc -eq 0 ] && [ ! -s "$work/out" ]; verdict "module version $v: started begin exit 0, silent"
done
# The module built with this hook speaks its version.
module=$(dirname "$hook")/fastpass-hook-run.so
check "the built module exports fp_hook_abi" bash -c "nm -D '$module' | grep -q ' fp_hook_abi\$'"
finish
