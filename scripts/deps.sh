#!/usr/bin/env bash
# Installs everything Roost needs to build, run and test on Debian 12 (as root).
# Safe to run again: apt-get skips what is already there.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(
  # build
  g++ meson ninja-build pkg-config
  libuv1-dev libssl-dev libyaml-cpp-dev nlohmann-json3-dev doctest-dev
  libcrypt-dev libargon2-dev libidn2-dev zlib1g-dev
  libicu-dev  # i;unicode-casemap (RFC 5051) for IMAP SEARCH / SORT
  # fuzzing (clang's libFuzzer)
  clang libclang-rt-14-dev
  # tests: outside clients and hash tools
  python3 python3-pytest curl openssl whois argon2 procps
  isync fetchmail
  # LMTP delivery test: a private Postfix instance started by the test itself
  postfix
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing packages (${missing[*]}); run as root to install them" >&2
    exit 1
  fi
  # Postfix asks how to configure the system instance: not at all (the tests
  # run their own instance from a private config directory).
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
