#!/bin/sh
# Runs every libFuzzer target of a fuzz build for a while each.
#
#   tests/fuzz/run.sh <build dir> [seconds]
#
# The build dir comes from `CXX=clang++ meson setup <dir> -Dfuzz=true`.
# Seconds per target: the argument, else $FUZZ_SECONDS, else 20.
# Each target <dir>/tests/fuzz/fuzz-NAME starts from a copy of
# tests/fuzz/corpus/NAME (the checked-in seeds are never modified).
# Exits non-zero if any target finds a crash, leak or timeout; the failing
# input is kept and its path printed.
set -u

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 <build dir> [seconds]" >&2
  exit 2
fi
build_dir=$1
seconds=${2:-${FUZZ_SECONDS:-20}}
case $seconds in
  '' | *[!0-9]*) echo "$0: seconds must be a number: $seconds" >&2; exit 2 ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
fuzz_dir=$build_dir/tests/fuzz
if [ ! -d "$fuzz_dir" ]; then
  echo "$0: no $fuzz_dir (was the build set up with -Dfuzz=true?)" >&2
  exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/roost-fuzz.XXXXXX") || exit 2
found=0
failed=0
for bin in "$fuzz_dir"/fuzz-*; do
  [ -f "$bin" ] && [ -x "$bin" ] || continue
  name=$(basename "$bin")
  target=${name#fuzz-}
  found=$((found + 1))
  corpus=$work/$target/corpus
  artifacts=$work/$target/artifacts
  mkdir -p "$corpus" "$artifacts"
  if [ -d "$here/corpus/$target" ]; then
    cp -R "$here/corpus/$target/." "$corpus/"
  fi
  echo "== $name: ${seconds}s"
  if "$bin" -max_total_time="$seconds" -max_len=4096 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$artifacts/" "$corpus" >"$work/$target/log" 2>&1; then
    grep -E '^(Done|stat::number_of_executed_units)' "$work/$target/log" || true
    echo "== $name: ok"
  else
    failed=$((failed + 1))
    tail -n 60 "$work/$target/log"
    echo "== $name: FAILED; log and inputs kept in $work/$target" >&2
  fi
done

if [ "$found" -eq 0 ]; then
  echo "$0: no fuzz-* executables in $fuzz_dir (build them first)" >&2
  exit 2
fi
if [ "$failed" -ne 0 ]; then
  echo "$failed of $found fuzz targets failed" >&2
  exit 1
fi
rm -rf "$work"
echo "all $found fuzz targets ok"
