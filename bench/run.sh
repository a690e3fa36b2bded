#!/usr/bin/env bash
# Roost against Dovecot on this machine, in one run: installs what it needs
# (Dovecot, matplotlib) from Debian, builds Roost in release mode, generates
# the corpus once, and writes bench/results/<date>.{json,md,png}.
#   bench/run.sh                 # the full run (5 rounds; about 55 minutes)
#   bench/run.sh --quick         # a small smoke run (minutes)
#   bench/run.sh --only pop3_retr_tls,idle_tls --rounds 7
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bash "$top/scripts/deps.sh"
if ! command -v dovecot >/dev/null || ! /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    dovecot-imapd dovecot-pop3d dovecot-lmtpd python3-matplotlib >/dev/null
fi
build=${ROOST_BENCH_BUILD:-$top/build-release}
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$top" --buildtype=release -Dtests=false >/dev/null
fi
ninja -C "$build" roostd roost
ulimit -n 20000 2>/dev/null || true
exec /usr/bin/python3 "$top/bench/bench.py" --build "$build" "$@"
