#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The manual pages (docs/man/*.scd, built by scdoc) are complete and current: every program
# `cmake --install` installs has its page installed beside it; every command `fastpass --help`
# lists has its section in fastpass(1), and every option that command's --help prints (every
# `fastpass pool` subcommand's too) appears in that section; fastpass-wrap-qemu(8) names every
# command of its usage line; fastpass.json(5) every key `fastpass config` prints;
# fastpass-qemu-system(1) every vfio-pci property and trace event the QEMU series adds; every
# page renders without a warning from man, and names only pages that exist. Cheap, no root.
# usage: manpages.sh SOURCE_DIR BUILD_DIR FASTPASS
set -u
src=$1 build=$2 fastpass=$3
. "$(dirname "$0")/lib.sh"
man=$src/docs/man
[ -f "$build/docs/man/fastpass.1" ] ||
  { echo "SKIP: the manual pages were not built (no scdoc: .ci/install-deps build installs it)"; exit 77; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

# What is installed, and where: the pages sit in share/man/manN beside the programs.
DESTDIR=$work/root cmake --install "$build" > "$work/install.log" 2>&1; verdict "cmake --install into a DESTDIR"
root=$work/root
page_for() { # PROGRAM SECTION: the installed page of PROGRAM, in section SECTION
  local p
  p=$(find "$root" -path "*/share/man/man$2/$1.$2" -type f | head -1)
  [ -n "$p" ] && [ -s "$p" ]
}
progs=$(find "$root" -type f \( -path '*/bin/*' -o -path '*/sbin/*' -o -path '*/libexec/*' \) ! -name '*.so' | sort)
msg="programs installed: $(echo $progs | sed "s|$root||g")"
[ -n "$progs" ]; verdict "$msg"
for p in $progs; do
  name=${p##*/}
  case $p in */bin/*) s=1 ;; *) s=8 ;; esac   # sbin and the hook libvirt runs: administration
  check "installed program $name has its page $name($s) installed" page_for "$name" $s
done
conf=$(find "$root" -name fastpass.json -path '*/etc/*' | head -1)
[ -n "$conf" ] && page_for fastpass.json 5; verdict "installed configuration fastpass.json has its page fastpass.json(5) installed"

# section FILE HEADING: the lines of FILE's "## HEADING" section (to the next heading)
section() { awk -v h="## $2" '$0 == h {on = 1; next} on && /^#/ {exit} on' "$1"; }
# long and short options a GOption --help prints ("  -o, --output=OUT   ...", "  --json   ...")
options() { sed -n 's/^  \(-[a-zA-Z], \)\{0,1\}\(--[a-z][a-z0-9-]*\).*/\1\2/p' | tr -d ',' | tr ' ' '\n' | grep -v '^--help$\|^-h$\|^$' | sort -u; }

# fastpass(1): a section per command, each option of its --help in it.
"$fastpass" --help > "$work/help"; verdict "fastpass --help: exit 0"
commands=$(sed -n '/^commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p' "$work/help")
msg="fastpass --help lists the commands: $(echo $commands)"
[ "$(echo "$commands" | wc -w)" -ge 5 ]; verdict "$msg"
for c in $commands; do
  section "$man/fastpass.1.scd" "fastpass $c" > "$work/sec-$c"
  check "fastpass(1) has a section '## fastpass $c'" [ -s "$work/sec-$c" ]
  "$fastpass" $c --help > "$work/help-$c" 2>&1
  missing=
  for o in $(options < "$work/help-$c"); do grep -qF -- "*$o*" "$work/sec-$c" || missing="$missing $o"; done
  [ -z "$missing" ]; verdict "fastpass(1) '## fastpass $c' names every option of 'fastpass $c --help'${missing:+ (missing:$missing)}"
done
subs=$(sed -n '/^subcommands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p' "$work/help-pool")
msg="fastpass pool --help lists the subcommands: $(echo $subs)"
[ "$(echo "$subs" | wc -w)" -ge 5 ]; verdict "$msg"
for s in $subs; do
  grep -qF "*fastpass pool $s*" "$work/sec-pool"; verdict "fastpass(1) describes 'fastpass pool $s'"
  "$fastpass" pool $s --help > "$work/help-pool-$s" 2>&1
  missing=
  for o in $(options < "$work/help-pool-$s"); do grep -qF -- "*$o*" "$work/sec-pool" || missing="$missing $o"; done
  [ -z "$missing" ]; verdict "fastpass(1) '## fastpass pool' names every option of 'fastpass pool $s --help'${missing:+ (missing:$missing)}"
done

# fastpass-wrap-qemu(8): each command of its usage line.
usage=$(sh "$build/launcher/fastpass-wrap-qemu" 2>&1)
for c in $(echo "$usage" | sed 's/^usage: fastpass-wrap-qemu //; s/\[QEMU\]//' | tr '|' ' '); do
  grep -qF "*$c*" "$man/fastpass-wrap-qemu.8.scd"; verdict "fastpass-wrap-qemu(8) describes '$c'"
done

# fastpass.json(5): every key of the configuration.
keys=$(FASTPASS_CONFIG=$work/none.json "$fastpass" config | sed -n 's/^\([a-z_]*\) = .*/\1/p')
msg="fastpass config prints the keys ($(echo "$keys" | wc -w))"
[ "$(echo "$keys" | wc -w)" -ge 10 ]; verdict "$msg"
missing=
for k in $keys; do grep -q "^\*$k\* " "$man/fastpass.json.5.scd" || missing="$missing $k"; done
[ -z "$missing" ]; verdict "fastpass.json(5) describes every key${missing:+ (missing:$missing)}"

# fastpass-qemu-system(1): what the series adds (every series: patches/VERSION/).
props=$(sed -n 's/^+ *DEFINE_PROP_[A-Z0-9_]*("\([a-z0-9-]*\)".*/\1/p' "$src"/launcher/qemu/patches/*/*.patch | sort -u)
events=$(sed -n 's/^+\(vfio_[a-z0-9_]*\)(.*/\1/p' "$src"/launcher/qemu/patches/*/*.patch | sort -u)
msg="the series adds properties ($(echo $props)) and trace events ($(echo $events))"
[ -n "$props" ] && [ -n "$events" ]; verdict "$msg"
missing=
for p in $props $events; do grep -qF "*$p*" "$man/fastpass-qemu-system.1.scd" || missing="$missing $p"; done
[ -z "$missing" ]; verdict "fastpass-qemu-system(1) describes every property and trace event the series adds${missing:+ (missing:$missing)}"
# and each property's default as the patch defines it: DEFINE_PROP_BOOL("NAME", ..., true|false),
# possibly over two lines
defaults=$(cat "$src"/launcher/qemu/patches/*/*.patch | awk '
  /^\+ *DEFINE_PROP_BOOL\(/ {d = $0; while (d !~ /\)/ && (getline l) > 0) d = d l; gsub(/[+ ]/, "", d)
    if (match(d, /"[a-z0-9-]*"/)) { n = substr(d, RSTART + 1, RLENGTH - 2); v = d; sub(/\).*/, "", v); sub(/.*,/, "", v)
      print n "=" (v == "true" ? "on" : "off") } }')
wrong=
for nd in $defaults; do
  grep -qF "*${nd%=*}* (default ${nd#*=})" "$man/fastpass-qemu-system.1.scd" || wrong="$wrong $nd"
done
msg="fastpass-qemu-system(1) gives each property's default as the series does ($(echo $defaults))${wrong:+ (wrong or missing:$wrong)}"
[ -n "$defaults" ] && [ -z "$wrong" ]; verdict "$msg"

# Every page: built from its current source, renders without warnings, names existing pages.
for scd in "$man"/*.scd; do
  page=${scd##*/}; page=${page%.scd}
  check "$page: a source has its built page" [ -s "$build/docs/man/$page" ]
  scdoc < "$scd" > "$work/$page" 2>&1 && cmp -s "$work/$page" "$build/docs/man/$page"
  verdict "$page: the built page is its source's (rebuild: cmake --build)"
  if command -v man >/dev/null; then
    LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$work/$page" 2>&1 >/dev/null | sed 's/^/    /' > "$work/warn"
    check "$page: man --warnings says nothing (as lintian runs it)" [ ! -s "$work/warn" ]
    cat "$work/warn"
  fi
  missing=
  for ref in $(grep -o '\*fastpass[a-z.-]*\*([0-9])' "$scd" | tr -d '*' | sort -u); do
    n=${ref%(*}; s=${ref#*(}; s=${s%)}
    [ -f "$man/$n.$s.scd" ] || missing="$missing $ref"
  done
  [ -z "$missing" ]; verdict "$page: every fastpass page it names exists${missing:+ (missing:$missing)}"
done
finish
