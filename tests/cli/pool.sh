#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# fastpass pool on a real hugetlbfs mount made here: bad input, the claim/release/scrub cycle
# read back from `status --json`, claimers racing as separate processes, a pool that cannot
# fill, `serve` keeping the pool stocked and stopping on SIGTERM, a slot a real QEMU maps (never
# scrubbed under it) and stale claims taken back, and every hugepage given back.
# usage: pool.sh FASTPASS [SOURCE_DIR]
set -u
fp=$1; src=${2:-}
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" -ne 0 ] || [ ! -d /sys/kernel/mm/hugepages/hugepages-2048kB ]; then
  echo "SKIP: needs root and 2 MiB hugepages"; exit 77
fi
nr_file=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
nr0=$(cat $nr_file)
work=$(mktemp -d)
mounts=()
serve_pid=; qemu_pid=
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  [ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null && wait "$qemu_pid" 2>/dev/null
  for m in "${mounts[@]}"; do
    for d in "$m"/*/; do [ -d "$d" ] && "$fp" pool drain --dir "${d%/}" >/dev/null 2>&1; done
    umount -l "$m" 2>/dev/null
  done
  rm -rf "$work"
  # A pool that failed midway may not have given its pages back: put nr_hugepages as it was.
  [ "$(cat $nr_file)" -gt "$nr0" ] && echo "$nr0" > $nr_file
}
trap cleanup EXIT
mount_huge() { # DIR [SIZE-LIMIT]
  mkdir -p "$1"
  mount -t hugetlbfs -o "pagesize=2M${2:+,size=$2}" none "$1" || { echo "SKIP: cannot mount hugetlbfs"; exit 77; }
  mounts+=("$1")
}
mount_huge "$work/huge"
D=$work/huge/pool
mkdir -p "$work/plain"
U1=0f8fad5b-d9cb-469f-a165-70867728950e
U2=1c4a3a3e-7b6b-4d0f-9d39-0e2b1c0c6a01

count() { # DIR STATE: slots in that state, from status --json
  "$fp" pool status --dir "$1" --json | jq -r ".counts.$2"
}

# --- bad input: exit 2 (1 for a directory that is not a pool), one line naming it, no stdout -----
cases=(
  "2|unknown pool subcommand 'frobnicate'|frobnicate"
  "2|fill needs --size|fill --dir $D --count 1"
  "2|--size 'banana' is not a size|fill --dir $D --size banana --count 1"
  "2|--size '-4M' is not a size|fill --dir $D --size -4M --count 1"
  "2|not a whole number of the 2048 KiB pages|fill --dir $D --size 3M --count 1"
  "2|fill needs --count 1..100000|fill --dir $D --size 4M --count 0"
  "2|fill needs --count 1..100000|fill --dir $D --size 4M"
  "2|--node 0..1023|fill --dir $D --size 4M --count 1 --node -5"
  "2|NUMA node 999 has no 2048 KiB hugepages (/sys/devices/system/node/node999/hugepages/hugepages-2048kB is missing: no such node?)|fill --dir $D --size 4M --count 1 --node 999"
  "2|--reserve-pages must be >= 0|status --dir $D --reserve-pages -1"
  "2|claim needs --owner UUID (got '../../etc/passwd')|claim --dir $D --size 4M --owner ../../etc/passwd"
  "2|release needs --owner UUID (got '$U1.clean')|release --dir $D --owner $U1.clean"
  "2|unexpected argument 'extra'|status --dir $D extra"
  "2|Unknown option --bogus|status --bogus"
  "2|serve needs --keep 0..100000 and --interval 1..86400|serve --dir $D --size 4M --keep 1 --interval 0"
  "2|--threads must be 0..1024|fill --dir $D --size 4M --count 1 --threads 5000"
  "1|$work/plain is not on hugetlbfs (it is on |status --dir $work/plain"
  "1|$work/plain is not on hugetlbfs (it is on |fill --dir $work/plain --size 4M --count 1"
  "1|$work/plain is not on hugetlbfs (it is on |claim --dir $work/plain --size 4M --owner $U1"
  "1|$work/plain/pool does not exist and $work/plain is not on hugetlbfs|fill --dir $work/plain/pool --size 4M --count 1"
  "1|$work/nowhere/pool does not exist, nor does $work/nowhere|status --dir $work/nowhere/pool"
)
for c in "${cases[@]}"; do
  want_rc=${c%%|*}; rest=${c#*|}; want=${rest%%|*}; args=${rest#*|}
  # shellcheck disable=SC2086
  "$fp" pool $args >"$work/stdout" 2>"$work/stderr"; rc=$?
  check "pool $args: exit $want_rc (got $rc)" [ "$rc" -eq "$want_rc" ]
  check "pool $args: one stderr line" [ "$(wc -l < "$work/stderr")" -eq 1 ]
  check "pool $args: names the problem" grep -qF -- "$want" "$work/stderr"
  check "pool $args: nothing on stdout" [ ! -s "$work/stdout" ]
  head -c 300 "$work/stderr" | sed 's/^/     stderr: /'
done
check "no slot made in a plain directory" [ -z "$(ls -A "$work/plain")" ]
check "no pool directory made by bad input" [ ! -e "$D" ]
"$fp" pool --help > "$work/out"; rc=$?
[ $rc -eq 0 ] && grep -q serve "$work/out"; verdict "pool --help: exit 0, lists serve"
"$fp" --help | grep -q '^  pool ' && ok "fastpass --help lists pool" || fail "fastpass --help lists pool"

# --- the cycle, read back from status --json ----------------------------------------------------
out=$("$fp" pool fill --dir "$D" --size 4M --count 2); rc=$?
check "fill 2: exit 0" [ $rc -eq 0 ]
check "fill 2: says so" [ "$out" = "made 2 4 MiB slots in $D" ]
check "fill 2: 2 clean" [ "$(count "$D" clean)" = 2 ]
check "fill 2: each slot fully allocated" [ "$(find "$D" -name '*.clean' -size 4096k | wc -l)" = 2 ]
p=$("$fp" pool claim --dir "$D" --size 4M --owner $U1); rc=$?
[ $rc -eq 0 ] && [ -f "$p" ]; verdict "claim: exit 0, prints the slot's path"
check "claim: status says claimed by the owner" \
  [ "$("$fp" pool status --dir "$D" --json | jq -r '.slots[] | select(.state=="claimed") | .owner')" = $U1 ]
"$fp" pool release --dir "$D" --owner $U1; rc=$?
check "release: exit 0" [ $rc -eq 0 ]
check "release: 1 dirty, 1 clean, 0 claimed" [ "$(count "$D" dirty)/$(count "$D" clean)/$(count "$D" claimed)" = 1/1/0 ]
check "release: the old path is gone" [ ! -e "$p" ]
"$fp" pool status --dir "$D" | sed 's/^/     /'
out=$("$fp" pool scrub --dir "$D"); rc=$?
[ $rc -eq 0 ] && [ "$out" = "scrubbed 1 slot" ]; verdict "scrub: exit 0, scrubbed 1"
check "scrub: 2 clean, 0 dirty" [ "$(count "$D" clean)/$(count "$D" dirty)" = 2/0 ]

# --- claimers racing as processes: 2 slots, 6 claimers -> 2 win with different slots, 4 told no ---
uuids=(2b0d8f4e-51a9-4c8e-8a53-3f6a2d7e9b12 3e9f1a2b-6c7d-4e8f-9a0b-1c2d3e4f5a6b 4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c7d
       5f4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c 6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d 7d6c5b4a-3f2e-4d1c-9b0a-8f7e6d5c4b3a)
for i in "${!uuids[@]}"; do
  ( "$fp" pool claim --dir "$D" --size 4M --owner "${uuids[$i]}" >"$work/claim$i.out" 2>"$work/claim$i.err"
    echo $? >"$work/claim$i.rc" ) &
done
wait
won=0; lost=0
for i in "${!uuids[@]}"; do
  case $(cat "$work/claim$i.rc") in
    0) won=$((won + 1)) ;;
    1) grep -q "no clean 4 MiB slot in $D" "$work/claim$i.err" && lost=$((lost + 1)) ;;
  esac
done
[ $won = 2 ] && [ $lost = 4 ]; verdict "race: 2 claimers won, 4 told there is no clean slot ($won/$lost)"
check "race: the winners hold different slots" [ "$(cat "$work"/claim*.out | sort -u | wc -l)" = 2 ]
check "race: status shows 2 claimed, 0 clean" [ "$(count "$D" claimed)/$(count "$D" clean)" = 2/0 ]
# --- without --dir the pool is the configuration's pool_dir, the one the hook and wrapper use -----
printf '{"pool_dir": "%s"}\n' "$D" > "$work/fastpass.json"
check "config: status without --dir shows the configured pool" \
  [ "$(FASTPASS_CONFIG=$work/fastpass.json "$fp" pool status --json | jq -r '.dir, .counts.claimed' | paste -sd/)" = "$D/2" ]
check "config: --config FILE names it too" \
  [ "$("$fp" pool status --config "$work/fastpass.json" --json | jq -r .dir)" = "$D" ]
check "config: --dir still wins over it" \
  [ "$(FASTPASS_CONFIG=$work/fastpass.json "$fp" pool status --dir "$work/huge" --json 2>/dev/null | jq -r .dir)" = "$work/huge" ]
printf '{"pool_dir": "relative/pool"}\n' > "$work/bad.json"
FASTPASS_CONFIG=$work/bad.json "$fp" pool release --owner "${uuids[0]}" >"$work/stdout" 2>"$work/stderr"; rc=$?
[ $rc -eq 2 ] && [ "$(wc -l < "$work/stderr")" -eq 1 ] \
  && grep -qF '"pool_dir" must be an absolute path' "$work/stderr"; verdict "bad config: exit 2, one line naming the key"
check "bad config: nothing released" [ "$(count "$D" claimed)" = 2 ]

for u in "${uuids[@]}"; do "$fp" pool release --dir "$D" --owner "$u"; done

# --- drain gives back every hugepage the pool added ---------------------------------------------
"$fp" pool drain --dir "$D" >/dev/null; rc=$?
[ $rc -eq 0 ] && [ -z "$(ls -A "$D")" ]; verdict "drain: exit 0, no slot left"

# --- the pages faulted in by one fallocate or by several threads: the same clean slot ----------
for t in 1 3; do
  "$fp" pool fill --dir "$D" --size 6M --count 1 --threads $t >/dev/null; rc=$?
  [ $rc -eq 0 ] && [ "$(count "$D" clean)" = 1 ] && [ "$(find "$D" -name '*.clean' -size 6144k | wc -l)" = 1 ] \
    && [ "$(stat -c %b "$(ls "$D"/*.clean)")" -ge 12288 ]
  verdict "fill --threads $t: one clean slot, every page allocated"
  "$fp" pool drain --dir "$D" >/dev/null
done

# --- a slot a process still uses: a real QEMU maps it (as a guest's RAM) -------------------------
# Scrub never pulls the pages from under a running guest; a claim nobody uses is taken back.
qemu=$(command -v qemu-system-x86_64)
if [ -z "$qemu" ]; then
  echo "     (no qemu-system-x86_64: slot-in-use checks skipped)"
else
  "$fp" pool fill --dir "$D" --size 4M --count 2 >/dev/null
  p=$("$fp" pool claim --dir "$D" --size 4M --owner $U1)
  "$fp" pool claim --dir "$D" --size 4M --owner $U2 >/dev/null
  "$qemu" -machine none -nodefaults -display none -S \
    -object "memory-backend-file,id=ram,size=4M,mem-path=$p,share=on,prealloc=on" & qemu_pid=$!
  ino=$(stat -c %i "$p")
  for _ in $(seq 1 100); do grep -q " $ino " /proc/$qemu_pid/maps 2>/dev/null && break; sleep 0.1; done
  check "in use: QEMU maps one claimed slot" grep -q " $ino " /proc/$qemu_pid/maps
  check "in use: status --json names QEMU as the slot's user" \
    [ "$("$fp" pool status --dir "$D" --json | jq -r ".slots[] | select(.owner == \"$U1\") | .user_pid")" = "$qemu_pid" ]
  "$fp" pool status --dir "$D" | sed "s/^/     /"
  check "in use: status says so" grep -q "claimed  *$U1; in use by pid $qemu_pid" <("$fp" pool status --dir "$D")
  check "in use: status shows no user for the other claim" \
    [ "$("$fp" pool status --dir "$D" --json | jq -r ".slots[] | select(.owner == \"$U2\") | .user_pid")" = null ]
  out=$("$fp" pool reclaim --dir "$D" --stale-after 0); rc=$?
  [ $rc -eq 0 ] \
    && [ "$out" = "reclaimed 1 slot" ] && [ -e "$p" ] && [ "$(count "$D" claimed)/$(count "$D" dirty)" = 1/1 ]; verdict "in use: reclaim takes back only the claim nobody maps ($out)"
  "$fp" pool release --dir "$D" --owner $U1
  out=$("$fp" pool scrub --dir "$D"); rc=$?
  [ $rc -eq 0 ] && [ "$out" = "scrubbed 1 slot
left 1 dirty slot: still mapped or open by a process (scrubbed once free)" ] \
    && [ "$(count "$D" clean)/$(count "$D" dirty)" = 1/1 ]
  verdict "in use: scrub leaves the dirty slot QEMU still maps, and says so"
  check "in use: the guest's pages are still there" [ "$(stat -c %b "$(ls "$D"/*.dirty)")" -ge 8192 ]
  kill $qemu_pid; wait $qemu_pid 2>/dev/null; qemu_pid=
  out=$("$fp" pool scrub --dir "$D"); rc=$?
  [ $rc -eq 0 ] && [ "$out" = "scrubbed 1 slot" ] \
    && [ "$(count "$D" clean)" = 2 ]; verdict "in use: once QEMU is gone, scrubbed clean"

  p=$("$fp" pool claim --dir "$D" --size 4M --owner $U2)
  out=$("$fp" pool reclaim --dir "$D" --stale-after 3600)
  [ "$out" = "reclaimed 0 slots" ] && [ -e "$p" ]; verdict "stale claim: one made just now is kept ($out)"
  exec {held}<"$p"
  out=$("$fp" pool reclaim --dir "$D" --stale-after 0)
  [ "$out" = "reclaimed 0 slots" ] && [ -e "$p" ]; verdict "stale claim: one a process holds open is kept ($out)"
  exec {held}<&-
  out=$("$fp" pool reclaim --dir "$D" --stale-after 0)
  [ "$out" = "reclaimed 1 slot" ] \
    && [ "$(count "$D" claimed)/$(count "$D" dirty)" = 0/1 ]; verdict "stale claim: one nobody uses is taken back, dirty ($out)"
  "$fp" pool reclaim --dir "$D" --stale-after -1 >"$work/stdout" 2>"$work/stderr"; rc=$?
  [ $rc -eq 2 ] && grep -q "stale-after must be >= 0" "$work/stderr"; verdict "stale claim: --stale-after -1 refused"
  "$fp" pool drain --dir "$D" >/dev/null
  check "in use: drained" [ -z "$(ls -A "$D")" ]
fi

# --- capacity: an 8 MiB mount cannot hold three 4 MiB slots --------------------------------------
mount_huge "$work/small" 8M
S=$work/small/pool
before=$(cat $nr_file)
"$fp" pool fill --dir "$S" --size 4M --count 3 --reserve-pages 100000 >"$work/stdout" 2>"$work/stderr"; rc=$?
sed 's/^/     stderr: /' "$work/stderr"
[ $rc -eq 1 ] && [ "$(wc -l < "$work/stderr")" -eq 1 ]; verdict "cannot fill: exit 1, one line"
check "cannot fill: says how many and why" grep -q "made 2 of 3 4 MiB slots in $S, then stopped: .*size= limit" "$work/stderr"
check "cannot fill: the 2 it made are clean" [ "$(count "$S" clean)" = 2 ]
check "cannot fill: it added exactly the pages its slots hold (reserve kept)" [ "$(cat $nr_file)" -eq $((before + 4)) ]
"$fp" pool drain --dir "$S" >/dev/null
check "cannot fill: drain gives them back" [ "$(cat $nr_file)" -eq "$before" ]
"$fp" pool fill --dir "$S" --size 4M --count 1 --no-grow --reserve-pages 100000 2>"$work/stderr"; rc=$?
[ $rc -eq 1 ] && grep -q "raising nr_hugepages is off" "$work/stderr"; verdict "no-grow below the reserve: exit 1, says growing is off"
check "no-grow below the reserve: nothing made" [ -z "$(ls -A "$S")" ]

# --- serve: keeps 2 clean, scrubs what comes back, stops on SIGTERM ------------------------------
V=$work/huge/served
wait_for() { # SECONDS COMMAND...: polls until COMMAND succeeds
  local n=$(($1 * 5)); shift
  while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.2; n=$((n - 1)); done
  return 1
}
states_are() { [ "$(count "$V" clean)/$(count "$V" claimed)/$(count "$V" dirty)/$(count "$V" scrubbing)" = "$1" ]; }
"$fp" pool serve --dir "$V" --size 4M --keep 2 --interval 1 2>"$work/serve.err" &
serve_pid=$!
check "serve: fills to 2 clean" wait_for 10 states_are 2/0/0/0
p=$("$fp" pool claim --dir "$V" --size 4M --owner $U2)
check "serve: tops up after a claim (2 clean + 1 claimed)" wait_for 10 states_are 2/1/0/0
"$fp" pool release --dir "$V" --owner $U2
check "serve: scrubs the returned slot (3 clean)" wait_for 10 states_are 3/0/0/0
kill -TERM $serve_pid
n=0; while kill -0 $serve_pid 2>/dev/null && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
wait $serve_pid; rc=$?; serve_pid=
check "serve: exits 0 on SIGTERM (got $rc)" [ $rc -eq 0 ]
check "serve: logged what it did" grep -q "scrubbed 1 slot$" "$work/serve.err"
check "serve: logged why it stopped" grep -q "stopping on signal 15" "$work/serve.err"
sed 's/^/     serve: /' "$work/serve.err"
# A claim nobody uses (its domain never started): serve takes it back, then scrubs it.
"$fp" pool claim --dir "$V" --size 4M --owner $U1 >/dev/null
"$fp" pool serve --dir "$V" --size 4M --keep 0 --interval 1 --stale-after 0 2>"$work/serve.err" &
serve_pid=$!
check "serve: takes back a stale claim and scrubs it (3 clean)" wait_for 10 states_are 3/0/0/0
kill -TERM $serve_pid; wait $serve_pid; serve_pid=
check "serve: logged the stale claim" grep -q "reclaimed 1 claimed slot no process used for 0 s" "$work/serve.err"
"$fp" pool drain --dir "$V" >/dev/null

if ! command -v strace >/dev/null; then
  echo "     (no strace: the race and kill -9 checks skipped)"
else
  grown() { # DIR: hugepages the pool's names say it added
    local t=0 g; for f in "$1"/slot-*; do [ -e "$f" ] || continue; g=${f##*.g}; g=${g%%.*}; t=$((t + g)); done; echo $t
  }
  leftovers() { ls -A "$1" | grep -E '\.(filling|scrubbing)$' || true; }
  # LeakSanitizer cannot run under ptrace: off for the runs under strace (sanitizer builds).
  export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
  # --- a claim during scrub's /proc scan: the slot claimed is not scrub's any more ---------------
  R=$work/huge/race
  "$fp" pool fill --dir "$R" --size 2M --count 2 --reserve-pages 100000 >/dev/null
  "$fp" pool claim --dir "$R" --size 2M --owner $U1 >/dev/null
  "$fp" pool release --dir "$R" --owner $U1
  cleanR=$(ls "$R" | grep '\.clean$')
   [ "$(count "$R" dirty)/$(count "$R" clean)" = 1/1 ] && [ "$(grown "$R")" -ge 2 ]; verdict "race: one dirty slot and one clean one the pool grew for ($cleanR)"
  nrR=$(cat $nr_file); surR=$(cat ${nr_file%/*}/surplus_hugepages)
  # The scan's first readlinkat (a process's fd) waits 3 s: the claim lands in that window.
  strace -f -qq -o /dev/null -e trace=readlinkat -e inject=readlinkat:delay_enter=3000000:when=1 \
    "$fp" pool scrub --dir "$R" >"$work/scrubR.out" 2>"$work/scrubR.err" &
  scrub_pid=$!
  sleep 1
  pR=$("$fp" pool claim --dir "$R" --size 2M --owner $U2)
  wait $scrub_pid; rc=$?
  sed 's/^/     scrub: /' "$work/scrubR.out" "$work/scrubR.err"
  check "race: the claim made during the scan got the clean slot" [ "$(basename "$pR")" = "${cleanR%.clean}.claimed.$U2" ]
  [ $rc -eq 0 ] && grep -qx "scrubbed 1 slot" "$work/scrubR.out"; verdict "race: scrub exit 0, scrubbed the dirty slot only (rc $rc)"
  check "race: no 'removed'" bash -c "! grep -q removed '$work/scrubR.err'"
   [ -f "$pR" ] && [ "$(stat -c %b "$pR")" -ge 4096 ] && [ "$(count "$R" claimed)/$(count "$R" clean)" = 1/1 ]; verdict "race: the claimed slot is intact (claimed, every page there)"
  check "race: nr_hugepages unchanged ($(cat $nr_file), was $nrR)" [ "$(cat $nr_file)" -eq "$nrR" ]
  # Pages given back while a slot holds them show as surplus until it lets go.
  check "race: none of the claimed slot's pages given back (surplus $(cat ${nr_file%/*}/surplus_hugepages), was $surR)" \
    [ "$(cat ${nr_file%/*}/surplus_hugepages)" -eq "$surR" ]
  "$fp" pool release --dir "$R" --owner $U2
  "$fp" pool scrub --dir "$R" >/dev/null; "$fp" pool drain --dir "$R" >/dev/null

  # --- a claim while drain removes: the slot claimed is not drain's to give back ----------------
  "$fp" pool fill --dir "$R" --size 2M --count 1 --reserve-pages 100000 >/dev/null
  nrR=$(cat $nr_file); surR=$(cat ${nr_file%/*}/surplus_hugepages)
  # Drain's first unlinkat (the clean slot) waits 3 s: the claim renames it first.
  strace -f -qq -o /dev/null -e trace=unlinkat -e inject=unlinkat:delay_enter=3000000:when=1 \
    "$fp" pool drain --dir "$R" >"$work/drainR.out" 2>"$work/drainR.err" &
  drain_pid=$!
  sleep 1
  pR=$("$fp" pool claim --dir "$R" --size 2M --owner $U2)
  wait $drain_pid; rc=$?
  sed 's/^/     drain: /' "$work/drainR.out" "$work/drainR.err"
   [ $rc -eq 0 ] && [ -f "$pR" ] && [ "$(stat -c %b "$pR")" -ge 4096 ]; verdict "drain race: exit 0 (rc $rc); the claimed slot intact"
   if [ "$(cat $nr_file)" -eq "$nrR" ] && [ "$(cat ${nr_file%/*}/surplus_hugepages)" -eq "$surR" ]; then ok "drain race: none of its pages given back (nr $(cat $nr_file) was $nrR, surplus $(cat ${nr_file%/*}/surplus_hugepages) was $surR)"; else fail "drain race: none of its pages given back (nr $(cat $nr_file) was $nrR, surplus $(cat ${nr_file%/*}/surplus_hugepages) was $surR)"; fi
  "$fp" pool release --dir "$R" --owner $U2
  "$fp" pool scrub --dir "$R" >/dev/null; "$fp" pool drain --dir "$R" >/dev/null

  # --- kill -9 at the nr_hugepages write (the parent killed in its wait for the writer) ---------
  # Then one scrub, one drain: every page back, no name left.
  K=$work/huge/killed
  killed() { # WHAT ARGS...: runs `fastpass pool ARGS` killed at its first wait4
    local what=$1; shift
    (strace -f -qq -o /dev/null -e trace=wait4 -e inject=wait4:signal=SIGKILL:when=1 "$fp" pool "$@" \
      >/dev/null 2>&1; exit $?) 2>/dev/null; local rc=$?
    check "kill -9 $what: killed (exit $rc)" [ $rc -eq 137 ]
  }
  recovered() { # WHAT NR-BEFORE
    "$fp" pool scrub --dir "$K" >/dev/null 2>&1
    check "kill -9 $1: after one scrub, no .filling/.scrubbing left ($(leftovers "$K" | paste -sd' '))" [ -z "$(leftovers "$K")" ]
    check "kill -9 $1: after one scrub, the names count every page added ($(($(cat $nr_file) - $2)) added, $(grown "$K") named)" \
      [ "$(($(cat $nr_file) - $2))" -eq "$(grown "$K")" ]
    "$fp" pool drain --dir "$K" >/dev/null
    if [ "$(cat $nr_file)" -eq "$2" ] && [ -z "$(ls -A "$K")" ]; then ok "kill -9 $1: drained, nr_hugepages back ($(cat $nr_file), was $2)"; else fail "kill -9 $1: drained, nr_hugepages back ($(cat $nr_file), was $2)"; fi
  }
  nrK=$(cat $nr_file)
  killed "fill" fill --dir "$K" --size 2M --count 1 --reserve-pages 100000 --threads 1
  recovered "fill" "$nrK"
  "$fp" pool fill --dir "$K" --size 2M --count 1 --reserve-pages 100000 >/dev/null
  "$fp" pool claim --dir "$K" --size 2M --owner $U1 >/dev/null; "$fp" pool release --dir "$K" --owner $U1
  killed "scrub" scrub --dir "$K" --reserve-pages 100000 --threads 1
  recovered "scrub" "$nrK"
  killed "serve" serve --dir "$K" --size 2M --keep 1 --interval 1 --reserve-pages 100000 --threads 1
  recovered "serve" "$nrK"
  "$fp" pool fill --dir "$K" --size 2M --count 2 --reserve-pages 100000 >/dev/null
  killed "drain" drain --dir "$K"
  recovered "drain" "$nrK"
fi

if [ -n "$src" ]; then
  unit=$src/launcher/fastpass-pool.service
  check "systemd unit runs pool serve" grep -q '^ExecStart=.*fastpass pool serve ' "$unit"
  # Hardened, but never blind: the in-use scan needs CAP_SYS_PTRACE and every process in /proc.
  check "systemd unit: a bounding set that keeps CAP_SYS_PTRACE" grep -q '^CapabilityBoundingSet=.*CAP_SYS_PTRACE' "$unit"
  check "systemd unit: no ProtectProc, ProcSubset, PrivateUsers or ProtectKernelTunables" \
    bash -c "! grep -qE '^(ProtectProc|ProcSubset|PrivateUsers|PrivatePIDs|ProtectKernelTunables)=' '$unit'"
   bash -c "grep -qx 'ProtectSystem=strict' '$unit' && grep -qx 'SystemCallFilter=@system-service' '$unit'"; verdict "systemd unit: ProtectSystem=strict, SystemCallFilter=@system-service"
  if command -v systemd-analyze >/dev/null; then
    # Only the binary's install path may be missing here.
    errs=$(systemd-analyze verify "$unit" 2>&1 | grep -v 'is not executable\|man:\|Command .man' || true)
    check "systemd unit: systemd-analyze verify is clean" [ -z "$errs" ]
    [ -n "$errs" ] && echo "$errs" | sed 's/^/     /'
  fi
fi

check "every hugepage given back (nr_hugepages $(cat $nr_file), was $nr0)" [ "$(cat $nr_file)" -eq "$nr0" ]
finish
