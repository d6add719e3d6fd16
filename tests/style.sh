#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The declared style of every source file git tracks: the license line (SPDX) in each, and
# the declared clang-format (.clang-format) on every C file, so a change that breaks either
# fails here rather than in review.
# usage: style.sh SOURCE-DIR
set -u
. "$(dirname "$0")/cli/lib.sh"
cd "$1" || exit 1
if ! git rev-parse --git-dir >/dev/null 2>&1; then echo "SKIP: not a git checkout"; exit 77; fi
tag="SPDX-License-Identifier: GPL-2.0-or-later"
missing=()
while IFS= read -r f; do
  [ -f "$f" ] && [ ! -L "$f" ] || continue
  case $f in
    *.c|*.h|*.sh|*.py|*/CMakeLists.txt|CMakeLists.txt) ;;
    *) head -c 2 "$f" | grep -q '#!' || continue ;;
  esac
  head -c 2000 "$f" | grep -qF "$tag" || missing+=("$f")
done < <(git ls-files)
[ ${#missing[@]} -eq 0 ]; verdict "every source file carries '$tag' (${#missing[@]} without: ${missing[*]:0:5})"
# verdict reads $? after its arguments are expanded: a $(...) in its message would be judged
# in place of the check before it.
subst=$(git ls-files '*.sh' | xargs grep -nE '(^|[;&|] *)verdict .*\$\([^(]' 2>/dev/null | cut -d: -f1,2 | tr '\n' ' ')
[ -z "$subst" ]; verdict "no command substitution in a verdict's message${subst:+ (at: $subst)}"
if command -v clang-format >/dev/null; then
  bad=$(git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror 2>&1 | grep -o '^[^:]*\.[ch]:' | sort -u | tr -d ':' | tr '\n' ' ')
  [ -z "$bad" ]; verdict "clang-format (.clang-format) leaves every C file as it is${bad:+ (not: $bad)}"
else
  echo "note: no clang-format; the format is not checked"
fi
finish
