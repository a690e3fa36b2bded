#!/usr/bin/env bash
# Configures (once) and builds Roost into build/ (or $ROOST_BUILD_DIR).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${ROOST_BUILD_DIR:-$top/build}
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$top" "$@"
fi
ninja -C "$build"
