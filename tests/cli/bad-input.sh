#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Every unusable input: exit 2, one line on stderr naming the problem, nothing on stdout,
# no output file created, an existing output file left as it was, the input untouched.
# usage: bad-input.sh FASTPASS
set -u
fp=$1
. "$(dirname "$0")/lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

dom_with_bus() {
  printf "<domain type='kvm'><name>x</name><memory>1048576</memory><devices><hostdev mode='subsystem' type='pci'><source><address domain='0x0000' bus='%s' slot='0x00' function='0x0'/></source></hostdev></devices></domain>\n" "$1"
}

# name | file content producer | what stderr must name
printf "<domain type='kvm'><name>x</name>\n<devices>\n</domain>\n" > "$work/malformed.xml"
printf "<capabilities><host/></capabilities>\n" > "$work/not-domain.xml"
cat > "$work/xxe.xml" <<'X'
<?xml version="1.0"?>
<!DOCTYPE domain [ <!ENTITY secret SYSTEM "file:///etc/passwd"> ]>
<domain type='kvm'><name>&secret;</name></domain>
X
{
  echo '<?xml version="1.0"?>'
  echo '<!DOCTYPE lolz ['
  echo ' <!ENTITY lol "lol">'
  for i in 1 2 3 4 5 6 7 8 9; do
    prev=$([ $i -eq 1 ] && echo lol || echo lol$((i - 1)))
    printf ' <!ENTITY lol%d "' $i; for _ in 1 2 3 4 5 6 7 8 9 10; do printf '&%s;' "$prev"; done; echo '">'
  done
  echo ']>'
  echo "<domain type='kvm'><name>&lol9;</name></domain>"
} > "$work/bomb.xml"
truncate -s 100M "$work/huge.xml"
dom_with_bus '../' > "$work/dotdot-address.xml"
dom_with_bus '0x41/../../x' > "$work/slash-address.xml"
dom_with_bus '0x100' > "$work/bus-too-big.xml"
dom_with_bus '256' > "$work/bus-decimal-too-big.xml"
dom_with_bus '0x1g' > "$work/bus-bad-hex.xml"
printf "<domain type='kvm'><name>x</name><devices><hostdev mode='subsystem' type='pci'><source/></hostdev></devices></domain>\n" > "$work/no-address.xml"
: > "$work/empty.xml"
mkdir "$work/a-directory.xml"

cases=(
  "malformed.xml|malformed XML at line"
  "not-domain.xml|root element is <capabilities>, not a libvirt <domain>"
  "xxe.xml|DOCTYPE"
  "bomb.xml|DOCTYPE"
  "huge.xml|over the 16 MiB limit"
  "dotdot-address.xml|PCI address bus '../'"
  "slash-address.xml|PCI address bus '0x41/../../x'"
  "bus-too-big.xml|PCI address bus '0x100'"
  "bus-decimal-too-big.xml|PCI address bus '256'"
  "bus-bad-hex.xml|PCI address bus '0x1g'"
  "no-address.xml|has no <source><address>"
  "empty.xml|input is empty"
  "a-directory.xml|is a directory"
  "missing.xml|cannot open"
)

for c in "${cases[@]}"; do
  f=${c%%|*}; want=${c#*|}
  in=$work/$f
  before=$( [ -f "$in" ] && md5sum < "$in" )
  for cmd in tune lint; do
    out=$work/out-$cmd-$f
    rm -f "$out" "$work/stdout" "$work/stderr"
    if [ $cmd = tune ]; then
      timeout 20 "$fp" tune "$in" -o "$out" >"$work/stdout" 2>"$work/stderr"
    else
      timeout 20 "$fp" lint "$in" >"$work/stdout" 2>"$work/stderr"
    fi
    rc=$?
    lines=$(wc -l < "$work/stderr")
    check "$cmd $f: exit 2 (got $rc)" [ "$rc" -eq 2 ]
    check "$cmd $f: one stderr line (got $lines)" [ "$lines" -eq 1 ]
    check "$cmd $f: stderr names the problem" grep -qF -- "$want" "$work/stderr"
    check "$cmd $f: nothing on stdout" [ ! -s "$work/stdout" ]
    check "$cmd $f: no output file" [ ! -e "$out" ]
  done
  check "$f: input untouched" [ "$before" = "$( [ -f "$in" ] && md5sum < "$in" )" ]
  head -c 300 "$work/stderr" | sed 's/^/     stderr: /'
done

# The XXE never read the file it names.
"$fp" tune "$work/xxe.xml" 2>&1 | grep -q 'root:' && fail "xxe: /etc/passwd content leaked" || ok "xxe: /etc/passwd content not leaked"

# Device commands: refused before anything is read from sysfs or written anywhere.
printf '{"host_devices_allowed": ["0000:00:17.0", "00:17.0"]}\n' > "$work/bad-allowed.json"
dev_cases=(
  "prepare --uuid not-a-uuid --run-dir $work/run 0000:41:00.0|--uuid 'not-a-uuid' is not a UUID"
  "prepare --domain $work/bus-decimal-too-big.xml --run-dir $work/run|PCI address bus '256'"
  "recover --run-dir $work/run extra|unexpected argument 'extra'"
  "recover --config $work/bad-allowed.json --run-dir $work/run|\"host_devices_allowed\" item 2 is not a PCI address"
)
for c in "${dev_cases[@]}"; do
  args=${c%%|*}; want=${c#*|}
  # shellcheck disable=SC2086
  timeout 20 "$fp" $args >"$work/stdout" 2>"$work/stderr"; rc=$?
  lines=$(wc -l < "$work/stderr")
  [ "$rc" -eq 2 ] && [ "$lines" -eq 1 ] && grep -qF -- "$want" "$work/stderr" && [ ! -e "$work/run" ]; verdict "fastpass ${args%% *} ($want): exit 2 (got $rc), one line ($lines), nothing created"
done

# A failing run leaves an existing OUT exactly as it was.
echo "previous content" > "$work/existing.xml"
"$fp" tune "$work/malformed.xml" -o "$work/existing.xml" 2>/dev/null
check "failed tune leaves existing -o file untouched" grep -qx "previous content" "$work/existing.xml"

finish
