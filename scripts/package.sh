#!/usr/bin/env bash
# Builds the Debian package from the work tree:
#   build-deb/roost_<version>_<arch>.deb  (and the dbgsym package, .buildinfo, .changes)
# dpkg-buildpackage wants debian/ at the top of the source, so the tracked and
# new (not ignored) files are copied to build-deb/src with packaging/debian as
# debian/. Needs the build dependencies (scripts/deps.sh installs them).
#   ROOST_DEB_DIR=DIR    where the results go (default build-deb)
#   DEB_BUILD_OPTIONS    passed through (e.g. "parallel=2 noddebs")
#   ROOST_UNITY=off      build without meson's unity build
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=${ROOST_DEB_DIR:-$top/build-deb}
src=$out/src

rm -rf "$src"
mkdir -p "$src"
rm -f "$out"/roost_*.deb "$out"/roost-dbgsym_*.deb "$out"/roost_*.buildinfo "$out"/roost_*.changes
(cd "$top" && git ls-files -z --cached --others --exclude-standard) |
  (cd "$top" && while IFS= read -r -d '' f; do
    [ -e "$f" ] && printf '%s\0' "$f"
  done) |
  (cd "$top" && tar --null -T - -cf -) | tar -C "$src" -xf -
cp -r "$top/packaging/debian" "$src/debian"

start=$(date +%s)
(cd "$src" && nice dpkg-buildpackage -us -uc -b)
# The copied tree and its objects are not reused by the next build: drop them
# (they would also show up in greps of the source tree).
rm -rf "$src"
echo "package.sh: built in $(( $(date +%s) - start ))s:"
ls -1 "$out"/*.deb
