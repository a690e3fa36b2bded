#!/usr/bin/env bash
# Builds Roost and runs every test: unit tests (doctest, via meson test), each
# fuzz target briefly, and the integration tests (the real roostd on loopback
# against Python's poplib/imaplib, curl and the roost CLI).
#   FUZZ_SECONDS=N  seconds per fuzz target (default 10)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bash "$top/scripts/deps.sh"
export ROOST_BUILD_DIR=${ROOST_BUILD_DIR:-$top/build}
bash "$top/scripts/build.sh"

echo "== unit tests"
meson test -C "$ROOST_BUILD_DIR" --print-errorlogs

echo "== Debian package (build, lintian, systemd-analyze, install test)"
# CI: installs the package on the (throwaway) machine; elsewhere it only
# extracts it into a temporary root (scripts/test-package.sh).
bash "$top/scripts/test-package.sh"

echo "== fuzz targets, ${FUZZ_SECONDS:-10}s each"
fuzz_build=${ROOST_FUZZ_BUILD_DIR:-$top/build-fuzz}
if [ ! -f "$fuzz_build/build.ninja" ]; then
  CXX=clang++ meson setup "$fuzz_build" "$top" -Dfuzz=true -Dtests=false >/dev/null
fi
ninja -C "$fuzz_build" $(cd "$top/tests/fuzz" && ls fuzz_*.cpp | sed 's/^fuzz_\(.*\)\.cpp$/tests\/fuzz\/fuzz-\1/')
sh "$top/tests/fuzz/run.sh" "$fuzz_build" "${FUZZ_SECONDS:-10}"

echo "== benchmark harness, smoke run (tiny corpus, one round; numbers not checked)"
# Runs every bench/ workload once against roostd and a private Dovecot so the
# harness never rots; fails on any protocol error or failed run.
smoke_work=$(mktemp -d /tmp/roost-bench-smoke.XXXXXX)
chmod 755 "$smoke_work"  # Dovecot's processes (an unprivileged user) must reach it
(ulimit -n 20000 2>/dev/null || true
 /usr/bin/python3 "$top/bench/bench.py" --smoke --build "$ROOST_BUILD_DIR" \
   --work "$smoke_work" --results "$smoke_work/results" > "$smoke_work/log" 2>&1) ||
  { tail -40 "$smoke_work/log"; echo "bench smoke failed (log: $smoke_work/log)"; exit 1; }
grep -E "^\[" "$smoke_work/log" | tail -3
rm -rf "$smoke_work"

echo "== integration tests"
cd "$top"
# -rs lists every skipped test with its reason (the James MPT scripts Roost
# does not run, and why).
/usr/bin/python3 -m pytest -q -rs -p no:cacheprovider tests/integration
