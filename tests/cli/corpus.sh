#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Real-world regression inputs: libvirt's own test-suite domains (../shared/corpus).
# For every file libvirt's schema accepts: tune succeeds, the output is schema-valid, tuning it
# again changes nothing, and every changed line belongs to a rule. Files the schema rejects
# must get exit 0 or 2, never a crash.
# usage: corpus.sh FASTPASS CORPUS_DIR
set -u
fp=$1; corpus=$2
. "$(dirname "$0")/lib.sh"
if [ ! -d "$corpus" ]; then
  echo "SKIP: corpus folder $corpus is absent"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Lines a rule may add or remove: the elements the rules own, and the wrappers they create.
rule_line="^[+-] *(<memoryBacking>|</memoryBacking>|<memoryBacking/>|<hugepages>|</hugepages>|<page size='[0-9]+' unit='KiB'/>|<allocation mode='immediate'( threads='[0-9]+')?/>|<cputune>|</cputune>|<cputune/>|<vcpupin vcpu='[0-9]+' cpuset='[0-9,-]+'/>|<emulatorpin cpuset='[0-9,-]+'/>|<numatune>|</numatune>|<memory mode='strict' nodeset='[0-9]+'/>|<bootmenu [^>]*/>|<memballoon [^>]*/?>|</memballoon>|<rom bar='off'/>)$"
# Inside a balloon that becomes model='none', its children go too.
balloon_child="^- *(<address [^>]*/>|<stats [^>]*/>|<alias [^>]*/>|<driver [^>]*/>)$"

tried=0; accepted=0; changed=0; rejected=0
for f in "$corpus"/*.xml; do
  n=$(basename "$f")
  tried=$((tried + 1))
  if ! valid "$f"; then
    rejected=$((rejected + 1))
    "$fp" tune "$f" > /dev/null 2>&1; rc=$?
    check "$n (schema rejects it): exit 0 or 2, no crash (got $rc)" [ $rc -eq 0 -o $rc -eq 2 ]
    continue
  fi
  accepted=$((accepted + 1))
  "$fp" tune "$f" > "$work/out.xml" 2> "$work/err"; rc=$?
  check "$n: tune exit 0 (got $rc)" [ $rc -eq 0 ]
  check "$n: output schema-valid" valid "$work/out.xml"
  "$fp" tune "$work/out.xml" > "$work/again.xml" 2>/dev/null
  check "$n: idempotent" cmp -s "$work/out.xml" "$work/again.xml"
  cmp -s "$f" "$work/out.xml" || changed=$((changed + 1))
  diff -U0 "$f" "$work/out.xml" | grep -E '^[+-]' | grep -vE '^(\+\+\+|---) ' \
    | grep -vE "$rule_line" | grep -vE "$balloon_child" > "$work/foreign"
  if [ -s "$work/foreign" ]; then
    fail "$n: only rule-owned lines changed"; sed 's/^/     /' "$work/foreign"
  else
    ok "$n: only rule-owned lines changed"
  fi
  # With every rule off, the writer gives back the input byte for byte.
  "$fp" tune --skip bootmenu,hugepages,allocation,numa,memballoon,rom "$f" > "$work/none.xml" 2>/dev/null
  check "$n: round trip with all rules off is byte-identical" cmp -s "$f" "$work/none.xml"
done
echo "corpus: $tried files tried, $accepted accepted by libvirt's schema, $changed changed by tune, $rejected rejected by the schema"
finish
