#!/usr/bin/env bash
# Builds Roost and starts roostd in the foreground on the embedded demo config
# (etc/roost.yaml): POP3 and IMAP on 127.0.0.1 high ports, Maildirs and a
# self-signed certificate under var/. Ctrl-C stops it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bash "$top/scripts/deps.sh"
bash "$top/scripts/build.sh"
build=${ROOST_BUILD_DIR:-$top/build}
cat <<MSG

Roost demo: account demo@example.test, password demo-password
  POP3 with TLS:   127.0.0.1:10995   (or 10110 with STLS)
  try:  curl -k -u demo@example.test:demo-password pop3s://127.0.0.1:10995/
  deliver a test message:
        printf 'Subject: hi\n\nhello\n' | $build/roost deliver -c $top/etc/roost.yaml -t demo@example.test
  the certificate is self-signed: tell your client to accept it.

MSG
exec "$build/roostd" -c "$top/etc/roost.yaml"
