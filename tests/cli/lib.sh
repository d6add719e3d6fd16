# SPDX-License-Identifier: GPL-2.0-or-later
# Shared by the CLI tests: counters and assertions that print one line per check.
fails=0
checks=0
ok()   { checks=$((checks + 1)); printf 'ok   %s\n' "$1"; }
fail() { checks=$((checks + 1)); fails=$((fails + 1)); printf 'FAIL %s\n' "$1"; }
check() { # NAME COMMAND...: passes when COMMAND succeeds
  local name=$1; shift
  if "$@"; then ok "$name"; else fail "$name"; fi
}
# verdict NAME: passes when the command list just before it succeeded. For checks of several
# conditions: `[ $rc -eq 0 ] && grep -q x out; verdict NAME` (`check NAME A && B` would check A
# alone).
verdict() { if [ $? -eq 0 ]; then ok "$1"; else fail "$1"; fi; }
# LeakSanitizer cannot run under ptrace: an ASan build run under strace exits without a leak check.
no_leak_check() { ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" "$@"; }
finish() {
  printf '%d checks, %d failed\n' "$checks" "$fails"
  [ "$fails" -eq 0 ]
}
valid() { virt-xml-validate "$1" domain >/dev/null 2>&1; }
