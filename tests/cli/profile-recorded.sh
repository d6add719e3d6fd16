#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `fastpass profile --recorded UUID`: a start and its stop as the hook and the wrapper recorded
# them (timelines written here, in the hook's own format), nothing started.
#  - A whole start and stop: the JSON has the stop's points and phases ("stop": true) with the
#    recorded figures, the waterfall draws them after a gap under their own bracket, and the
#    creation bracket ends before it; exit 0, nothing on stderr.
#  - Bad timelines (a release that began and has no end, times out of order, an end before its
#    begin, no hook file, not JSON): exit 1, each one line on stderr saying what, no release_end
#    point and no stop phase in the JSON (never a figure made from half a record).
#  - --recorded with options that start something: exit 2, one line.
# No timing is asserted: every figure comes from the files written here.
# usage: profile-recorded.sh FASTPASS
set -u
fp=$(realpath "$1")
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { echo "SKIP: needs jq"; exit 77; }
work=$(mktemp -d); chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
uuid=0f4a3c2e-8b1d-4e6f-9a7b-5c3d2e1f0a9b
# The run directory is read as root reads it: every component root's (or the caller's) and
# writable by its owner alone.
run=$work/run; mkdir -p "$run/timeline"; chmod 711 "$run/timeline"

prepare='{"begin_us": 1700000000010000, "devices_begin_us": 1700000000030000, "devices_end_us": 1700000001030000, "ok": true, "event": "hook-prepare", "time_us": 1700000001100000}'
begin='{"begin_us": 1700000100000000, "event": "hook-release-begin", "time_us": 1700000100000400}'
release='{"begin_us": 1700000100000000, "devices_begin_us": 1700000100002000, "devices_end_us": 1700000100125000, "devices": [], "ok": true, "event": "hook-release", "time_us": 1700000100127000}'
hook() { printf '{"domain": "vm", "events": [%s]}\n' "$(IFS=,; echo "$*")" > "$run/timeline/$uuid.hook.json"; }
printf '%s\n' '{"domain": "vm", "events": [{"wrapper_start_us": 1700000001150000, "event": "qemu-exec", "time_us": 1700000001160000}]}' \
  > "$run/timeline/$uuid.qemu.json"
profile() { # NAME: profile --recorded into NAME.json, NAME.svg, NAME.err; sets rc
  "$fp" profile --recorded --run-dir "$run" --json --svg "$work/$1.svg" "$uuid" \
    > "$work/$1.json" 2> "$work/$1.err"
  rc=$?
}
warnings() { grep -c '^fastpass: warning: ' "$work/$1.err"; }

# --- a whole start and stop ---------------------------------------------------------------------
hook "$prepare" "$begin" "$release"
profile whole
msg="exit $rc, $(warnings whole) warnings"
[ $rc -eq 0 ] && [ "$(warnings whole)" -eq 0 ]; verdict "a whole start and stop: exit 0, no warning ($msg)"
j=$work/whole.json
points=$(jq -c '.runs[0].points_us | [.release_begin, .release_devices_begin, .release_devices_end, .release_end]' "$j")
[ "$points" = '[1700000100000000,1700000100002000,1700000100125000,1700000100127000]' ]
verdict "JSON: the release's four points as recorded ($points)"
stops=$(jq -c '[.runs[0].phases[] | select(.stop) | [.id, .ms]]' "$j")
[ "$stops" = '[["release-setup",2],["release-devices",123],["release-hugepages",2]]' ]
verdict "JSON: the stop phases, marked stop, with the recorded durations ($stops)"
starts=$(jq -c '[.runs[0].phases[] | select(.stop | not) | .id]' "$j")
[ "$starts" = '["hook-setup","devices","hugepages","before-exec","wrapper"]' ]
verdict "JSON: the start's phases unchanged and not marked stop ($starts)"
sum=$(jq -c '[.summary.phases_ms[] | select(.stop) | .id]' "$j")
[ "$sum" = '["release-setup","release-devices","release-hugepages"]' ]; verdict "JSON summary: the stop phases ($sum)"
svg=$work/whole.svg
for ph in release-setup release-devices release-hugepages; do
  check "waterfall: a bar for $ph" grep -q "class='phase' data-phase='$ph'" "$svg"
done
check "waterfall: the gap before the stop, and its bracket" \
  bash -c "grep -q \"class='stop-gap'\" '$svg' && grep -q \"class='stop-bracket'\" '$svg'"
# The stop's bars start right of the gap: after the end of the start's last bar.
last_start_end=$(grep -o "x='[0-9.]*' y='[0-9.]*' width='[0-9.]*' height='24' fill='[^']*' class='phase' data-phase='wrapper'" "$svg" |
  sed -E "s/x='([0-9.]*)' y='[0-9.]*' width='([0-9.]*)'.*/\1 \2/" | awk '{print $1 + $2}')
first_stop_x=$(grep -o "x='[0-9.]*' y='[0-9.]*' width='[0-9.]*' height='24' fill='[^']*' class='phase' data-phase='release-setup'" "$svg" |
  sed -E "s/x='([0-9.]*)'.*/\1/")
msg="start ends at ${last_start_end:-?}, stop starts at ${first_stop_x:-?}"
awk -v a="${last_start_end:-0}" -v b="${first_stop_x:-0}" 'BEGIN { exit !(a > 0 && b > a + 10) }'
verdict "waterfall: the stop drawn after a gap ($msg)"
check "text report: the device release among the phases" grep -q 'stop: hook: device release *123.0 ms' "$work/whole.err"

# --- bad timelines: one line each, no figure ----------------------------------------------------
bad() { # NAME EXPECTED-TEXT: the hook file as set up, then the checks
  profile "$1"
  local j=$work/$1.json line
  line=$(grep '^fastpass: warning: .*hook timeline' "$work/$1.err")
  msg="exit $rc: ${line:-no warning}"
  [ $rc -eq 1 ] && [ "$(grep -c '^fastpass: warning: .*hook timeline' "$work/$1.err")" -eq 1 ] &&
    grep -q "^fastpass: warning: .*$2" "$work/$1.err"
  verdict "$1: exit 1 and one line saying '$2' ($msg)"
  msg="release_end: $(jq -c '.runs[0].points_us.release_end' "$j"), stop phases: $(jq -c '[.runs[0].phases[] | select(.stop)] | length' "$j")"
  [ "$(jq '.runs[0].points_us.release_end' "$j")" = null ] &&
    [ "$(jq '[.runs[0].phases[] | select(.stop)] | length' "$j")" -eq 0 ] &&
    ! grep -q "class='stop-bracket'" "$work/$1.svg"
  verdict "$1: no release end, no stop phase, no stop in the chart ($msg)"
}
hook "$prepare" "$begin"
bad begin-without-end "the release began and has no end"
hook "$prepare" "$begin" "${release/1700000100127000/1700000099000000}"
bad end-before-begin "out of order"
hook "$prepare" "$begin" "${release/\"devices_end_us\": 1700000100125000, /}"
bad devices-begin-without-end "out of order"
# A stop that began after an earlier whole one, and did not end: not the earlier one's figures.
hook "$prepare" "$begin" "$release" "${begin//17000001000/17000002000}"
bad second-stop-without-end "the release began and has no end"
hook "$prepare"
bad no-release "no release for this stop"
printf '{"events": [tru' > "$run/timeline/$uuid.hook.json"
bad not-json "is not JSON"
rm "$run/timeline/$uuid.hook.json"
bad no-hook-file "no hook timeline"

# --- usage ----------------------------------------------------------------------------------------
"$fp" profile --recorded --repeat 2 --run-dir "$run" "$uuid" > "$work/usage.out" 2> "$work/usage.err"; rc=$?
msg="exit $rc: $(head -1 "$work/usage.err")"
[ $rc -eq 2 ] && [ "$(wc -l < "$work/usage.err")" -eq 1 ] && [ ! -s "$work/usage.out" ]
verdict "--recorded --repeat 2: exit 2, one line ($msg)"
finish
