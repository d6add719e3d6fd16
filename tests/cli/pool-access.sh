#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Who may open pool slots, tried as the real QEMU user (libvirt-qemu, with setpriv) on a real
# hugetlbfs mount: the pool directory, a clean, a claimed and a dirty slot, another domain's
# claim, the wrapper finding its own slot without listing the pool; then a release killed
# between taking the slot back and renaming it dirty (strace fault injection) and what status,
# claim, reclaim and scrub make of it.
# usage: pool-access.sh FASTPASS WRAPPER
set -u
fp=$(realpath "$1"); wrapper=$(realpath "$2")
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" -ne 0 ] || [ ! -d /sys/kernel/mm/hugepages/hugepages-2048kB ]; then
  echo "SKIP: needs root and 2 MiB hugepages"; exit 77
fi
if ! id libvirt-qemu >/dev/null 2>&1 || ! command -v setpriv >/dev/null || ! command -v strace >/dev/null; then
  echo "SKIP: needs the libvirt-qemu user (libvirt-daemon-system), setpriv and strace"; exit 77
fi
nr_file=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
nr0=$(cat $nr_file)
work=$(mktemp -d); chmod 0711 "$work"
cleanup() {
  "$fp" pool drain --dir "$D" >/dev/null 2>&1
  umount -l "$work/huge" 2>/dev/null
  rm -rf "$work"
  [ "$(cat $nr_file)" -gt "$nr0" ] && echo "$nr0" > $nr_file
}
trap cleanup EXIT
mkdir -p "$work/huge"
mount -t hugetlbfs -o pagesize=2M none "$work/huge" || { echo "SKIP: cannot mount hugetlbfs"; exit 77; }
D=$work/huge/pool
UA=0a0a0a0a-0000-4000-8000-00000000000a
UB=0b0b0b0b-0000-4000-8000-00000000000b
UC=0c0c0c0c-0000-4000-8000-00000000000c
UD=0d0d0d0d-0000-4000-8000-00000000000d
qgid=$(id -g libvirt-qemu)
as_qemu() { setpriv --reuid=libvirt-qemu --regid="$qgid" --clear-groups "$@"; }
# try WANT WHAT COMMAND...: runs COMMAND as libvirt-qemu; WANT allowed|refused; prints the outcome
try() {
  local want=$1 what=$2 got err; shift 2
  err=$(as_qemu "$@" 2>&1 >/dev/null) && got=allowed || got=refused
  printf '     as libvirt-qemu: %-44s %s%s\n' "$what" "$got" "${err:+ ($err)}"
  check "libvirt-qemu: $what: $want" [ "$got" = "$want" ]
}
mode_of() { stat -c '%a %U:%G' "$1"; }
slot_of() { # STATE-SUFFIX: the one slot whose name ends so
  ls "$D" | grep -E "$1\$" | head -1
}

"$fp" pool fill --dir "$D" --size 2M --count 5 >/dev/null; rc=$?
check "fill 5 slots of 2 MiB: exit 0" [ $rc -eq 0 ]
check "pool directory: root's, mode 711 ($(mode_of "$D"))" [ "$(mode_of "$D")" = "711 root:root" ]
clean=$D/$(slot_of '\.clean')
check "clean slot: root's, mode 600 ($(mode_of "$clean"))" [ "$(mode_of "$clean")" = "600 root:root" ]

pA=$("$fp" pool claim --dir "$D" --size 2M --owner $UA --user libvirt-qemu); rc=$?
check "claim for A, given to libvirt-qemu: exit 0" [ $rc -eq 0 ]
check "A's slot: libvirt-qemu's, mode 600 ($(mode_of "$pA"))" [ "$(mode_of "$pA")" = "600 libvirt-qemu:$(id -gn libvirt-qemu)" ]
pB=$("$fp" pool claim --dir "$D" --size 2M --owner $UB --user libvirt-qemu)
pC=$("$fp" pool claim --dir "$D" --size 2M --owner $UC)
clean=$D/$(slot_of '\.clean')

try refused "list the pool directory" ls "$D"
try allowed "open A's claimed slot" head -c1 "$pA"
try allowed "open A's slot by its claim name claim-$UA" head -c1 "$D/claim-$UA"
try refused "open a clean slot" head -c1 "$clean"
try refused "open C's claim (not given to QEMU)" head -c1 "$pC"
try refused "create a file in the pool" touch "$D/planted"
try refused "plant claim-$UD" ln -s "$(basename "$clean")" "$D/claim-$UD"
try refused "rename A's slot" mv "$pA" "$D/x"
# Under DAC alone every QEMU is the same uid: B's claimed slot opens too; only the per-domain
# AppArmor profile (libvirt's sVirt) keeps A's QEMU out of it.
try allowed "open B's claimed slot (same uid: DAC cannot refuse)" head -c1 "$pB"

# The wrapper, as libvirt-qemu, finds A's slot without listing the pool.
cat > "$work/qemu" <<'QEMU'
#!/bin/sh
case "$*" in *memory-backend-ram,help*) echo "  prealloc-threads=<uint32>"; exit 0 ;; esac
printf '%s\n' "$@"
QEMU
chmod 755 "$work/qemu"
mkdir -p "$work/run"; chmod 755 "$work/run"
printf '{"qemu_binary": "%s", "pool_dir": "%s", "run_dir": "%s/run"}\n' "$work/qemu" "$D" "$work" > "$work/cfg.json"
chmod 644 "$work/cfg.json"
FASTPASS_CONFIG=$work/cfg.json as_qemu "$wrapper" -name guest=vmA -uuid $UA \
  -object '{"qom-type":"memory-backend-ram","id":"pc.ram","size":2097152}' -m 2 > "$work/wrapped" 2> "$work/wrapper.err"
grep -q "\"mem-path\":\"$D/claim-$UA\"" "$work/wrapped"; verdict "wrapper as libvirt-qemu: A's RAM backend is A's slot (by its claim name)"
sed 's/^/     wrapper: /' "$work/wrapper.err"
FASTPASS_CONFIG=$work/cfg.json as_qemu "$wrapper" -name guest=vmD -uuid $UD \
  -object '{"qom-type":"memory-backend-ram","id":"pc.ram","size":2097152}' -m 2 > "$work/wrapped" 2>/dev/null
! grep -q "mem-path" "$work/wrapped"; verdict "wrapper for a domain with no claim: QEMU allocates itself"

# A slot QEMU's user cannot open (here: never given to it; under AppArmor: no rule in the
# domain's profile): the wrapper says why and leaves QEMU to allocate.
UE=0e0e0e0e-0000-4000-8000-00000000000e
pE=$("$fp" pool claim --dir "$D" --size 2M --owner $UE)
ln "$pE" "$D/claim-$UE"
FASTPASS_CONFIG=$work/cfg.json as_qemu "$wrapper" -name guest=vmE -uuid $UE \
  -object '{"qom-type":"memory-backend-ram","id":"pc.ram","size":2097152}' -m 2 > "$work/wrapped" 2> "$work/wrapper.err"
! grep -q "mem-path" "$work/wrapped" && grep -q "pool: cannot use the slot $D/claim-$UE: not given to this user; QEMU allocates guest memory itself" "$work/wrapper.err"
verdict "wrapper with a slot it may not open: QEMU allocates, the reason logged"
sed 's/^/     wrapper: /' "$work/wrapper.err"
"$fp" pool release --dir "$D" --owner $UE >/dev/null

"$fp" pool release --dir "$D" --owner $UA; rc=$?
check "release A: exit 0" [ $rc -eq 0 ]
dirty=$D/$(slot_of '\.dirty')
check "A's slot is dirty, root's, mode 0 ($(mode_of "$dirty"))" [ "$(mode_of "$dirty")" = "0 root:root" ]
check "claim-$UA is gone" [ ! -L "$D/claim-$UA" ]
try refused "open the dirty slot (A's departed memory)" head -c1 "$dirty"
try refused "open A's old path" head -c1 "$pA"

# --- a release killed between taking the slot back and renaming it dirty --------------------
pD=$("$fp" pool claim --dir "$D" --size 2M --owner $UD --user libvirt-qemu)
# glibc's renameat2() with no flags is the renameat system call: kill at either.
strace -f -qq -o "$work/strace" -e trace=renameat,renameat2 -e inject=renameat,renameat2:error=EINTR:signal=SIGKILL \
  "$fp" pool release --dir "$D" --owner $UD 2>/dev/null; rc=$?
check "release of D killed at its rename (exit $rc: SIGKILL)" [ $rc -eq 137 ]
sed 's/^/     strace: /' "$work/strace"
check "D's slot still has its claimed name" [ -e "$pD" ]
check "D's slot is root's, mode 0 ($(mode_of "$pD"))" [ "$(mode_of "$pD")" = "0 root:root" ]
try refused "open D's half-released slot" head -c1 "$pD"
"$fp" pool status --dir "$D" --json > "$work/status.json"
st=$(jq -r --arg n "$(basename "$pD")" '.slots[] | select(.path | endswith($n)) | .state + ": " + (.problem // "")' "$work/status.json")
echo "     status: $st"
check "status lists D's slot as dirty, saying why" bash -c "grep -q '^dirty: taken back from QEMU' <<< '$st'"
"$fp" pool claim --dir "$D" --size 2M --owner $UA > "$work/claim.out" 2>&1; rc=$?
check "the next claim gets a clean slot, never D's (exit $rc)" [ $rc -ne 0 ] || [ "$(cat "$work/claim.out")" != "$pD" ]
"$fp" pool release --dir "$D" --owner $UA >/dev/null 2>&1
out=$("$fp" pool reclaim --dir "$D" --stale-after 3600); rc=$?
echo "     reclaim: $out"
[ $rc -eq 0 ] && [ ! -e "$pD" ]; verdict "reclaim (stale after an hour) takes D's slot at once"
out=$("$fp" pool scrub --dir "$D"); rc=$?
echo "     scrub: $out"
[ $rc -eq 0 ] && [ -z "$(slot_of '\.dirty')" ]; verdict "scrub: exit 0, nothing dirty left"

# --- a stale claim reclaimed: the departed tenant's memory is root's, mode 0, before it is dirty --
UG=0a0a0a0a-0000-4000-8000-00000000001a
pG=$("$fp" pool claim --dir "$D" --size 2M --owner $UG --user libvirt-qemu)
ino=$(stat -c %i "$pG")
check "stale claim G: given to libvirt-qemu ($(mode_of "$pG"))" [ "$(stat -c %U "$pG")" = libvirt-qemu ]
check "stale claim G: claim-$UG names it" [ "$(stat -c %i "$D/claim-$UG")" = "$ino" ]
out=$("$fp" pool reclaim --dir "$D" --stale-after 0); rc=$?
echo "     reclaim: $out"
gdirty=$(find "$D" -maxdepth 1 -inum "$ino" -name '*.dirty')
[ $rc -eq 0 ] && [ -n "$gdirty" ]; verdict "reclaim of G: exit 0, G's inode is dirty now"
check "reclaim of G: the dirty file is root 0 ($(stat -c '%U %a' "$gdirty" 2>/dev/null))" \
  [ "$(stat -c '%U %a' "$gdirty")" = "root 0" ]
check "reclaim of G: claim-$UG is gone" [ ! -e "$D/claim-$UG" ]
try refused "open G's reclaimed memory" head -c1 "$gdirty"
"$fp" pool scrub --dir "$D" >/dev/null

# --- the in-use scan fails closed: a guest's memory, mapped by libvirt-qemu, with /proc unusable --
# A holder as libvirt-qemu maps its claimed slot, writes a pattern and closes the file (as QEMU
# keeps only the mapping); reclaim and scrub with a procfs they cannot use leave it alone and say
# why; the holder then reads its pattern back.
UH=0a0a0a0a-0000-4000-8000-00000000001b
pH=$("$fp" pool claim --dir "$D" --size 2M --owner $UH --user libvirt-qemu)
inoH=$(stat -c %i "$pH")
cat > "$work/holder.py" <<'PY'
import mmap, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, 2 << 20, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
os.close(fd)
pattern = bytes([0x5A]) * 4096
for off in range(0, 2 << 20, 4096):
    m[off:off + 4096] = pattern
print("mapped", flush=True)
while not os.path.exists(sys.argv[2]):
    time.sleep(0.05)
ok = all(m[off:off + 4096] == pattern for off in range(0, 2 << 20, 4096))
print("intact" if ok else "changed", flush=True)
PY
chmod 644 "$work/holder.py"
mkdir -p "$work/emptyproc" "$work/flag"; chmod 777 "$work/flag"
as_qemu /usr/bin/python3 "$work/holder.py" "$D/claim-$UH" "$work/flag/done" > "$work/holder.out" 2>&1 &
holder=$!
for _ in $(seq 1 100); do grep -q mapped "$work/holder.out" && break; sleep 0.1; done
check "holder as libvirt-qemu maps H and writes its pattern" grep -q mapped "$work/holder.out"
for proc in /nonexistent "$work/emptyproc"; do
  "$fp" pool reclaim --dir "$D" --stale-after 0 --proc-root "$proc" >"$work/stdout" 2>"$work/stderr"; rc=$?
  sed 's/^/     stderr: /' "$work/stderr"
   [ $rc -eq 1 ] && [ "$(wc -l < "$work/stderr")" -eq 1 ] && grep -q "cannot tell whether a process maps slot-" "$work/stderr"; verdict "reclaim --proc-root $proc: refused (exit $rc), one line saying it cannot tell"
   [ -e "$pH" ] && [ "$(stat -c %U "$pH")" = libvirt-qemu ] && [ -e "$D/claim-$UH" ]; verdict "reclaim --proc-root $proc: H still claimed, libvirt-qemu's"
  "$fp" pool status --dir "$D" --proc-root "$proc" > "$work/status"
   grep -q "claimed  *$UH; in use: .*$([ "$proc" = /nonexistent ] && echo 'No such file' || echo 'emptyproc')" "$work/status"; verdict "status --proc-root $proc: H is in use, saying why"
  grep "$UH" "$work/status" | sed 's/^/     status: /'
done
"$fp" pool status --dir "$D" --proc-root /nonexistent --json > "$work/status.json"
check "status --json: H has no user pid and the reason" \
  [ "$(jq -r ".slots[] | select(.owner == \"$UH\") | (.user_pid|tostring) + \" \" + (.in_use|tostring)" "$work/status.json")" = "null true" ]
"$fp" pool release --dir "$D" --owner $UH
hdirty=$(find "$D" -maxdepth 1 -inum "$inoH" -name '*.dirty')
check "H released: dirty, still mapped" [ -n "$hdirty" ]
for proc in /nonexistent "$work/emptyproc"; do
  "$fp" pool scrub --dir "$D" --proc-root "$proc" >"$work/stdout" 2>"$work/stderr"; rc=$?
  sed 's/^/     stderr: /' "$work/stderr"
   [ $rc -eq 1 ] && grep -q "left 1 dirty, as in use: cannot tell whether a process maps slot-" "$work/stderr"; verdict "scrub --proc-root $proc: refused (exit $rc), says it cannot tell"
   [ -e "$hdirty" ] && [ "$(stat -c %b "$hdirty")" -ge 4096 ]; verdict "scrub --proc-root $proc: H's file is the same, fully allocated"
done
out=$("$fp" pool scrub --dir "$D"); rc=$?
[ $rc -eq 0 ] && [ -e "$hdirty" ] && grep -q "left 1 dirty slot: still mapped" <<< "$out"; verdict "scrub with /proc: H left, its holder found ($out)"
touch "$work/flag/done"; wait $holder
check "the holder reads its pattern back intact ($(tail -1 "$work/holder.out"))" [ "$(tail -1 "$work/holder.out")" = intact ]
out=$("$fp" pool scrub --dir "$D"); rc=$?
[ $rc -eq 0 ] && [ ! -e "$hdirty" ]; verdict "once the holder is gone, H is scrubbed ($out)"

# --- a pool directory that is not root's alone is refused --------------------------------------
chmod 0755 "$D"; "$fp" pool status --dir "$D" >/dev/null
check "an older 0755 pool directory is closed to 711 on use" [ "$(mode_of "$D")" = "711 root:root" ]
chmod 0777 "$D"; "$fp" pool claim --dir "$D" --size 2M --owner $UC > /dev/null 2> "$work/err"; rc=$?
[ $rc -ne 0 ] && grep -q "not root's alone" "$work/err"; verdict "a pool directory others may write: refused (exit $rc)"
sed 's/^/     stderr: /' "$work/err"
chmod 0711 "$D"
ln -s "$D" "$work/link"
"$fp" pool status --dir "$work/link" > /dev/null 2> "$work/err"; rc=$?
check "a symlink as the pool directory: refused (exit $rc)" [ $rc -ne 0 ]
sed 's/^/     stderr: /' "$work/err"
finish
