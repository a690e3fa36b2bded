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
  libsystemd-dev  # sd_notify for the systemd unit (Type=notify)
  # the Debian package (scripts/package.sh, scripts/test-package.sh)
  debhelper lintian ssl-cert fakeroot
  libboost-dev  # Boost.Beast: HTTP/1.1 parser for the admin API and autoconfig
  libexpat1-dev  # expat: reads Outlook's Autodiscover request XML (autoconfig)
  libcurl4-openssl-dev  # roost who/kick/status/reload: a well-kept HTTP client with unix-socket support
  # fuzzing (clang's libFuzzer)
  clang libclang-rt-14-dev
  # tests: outside clients and hash tools
  python3 python3-pytest curl openssl whois argon2 procps
  python3-prometheus-client  # test_metrics.py parses /metrics with the reference parser
  isync fetchmail
  # LMTP delivery test: a private Postfix instance started by the test itself
  postfix
  # the benchmark harness's smoke run compares against a private Dovecot
  dovecot-imapd dovecot-pop3d dovecot-lmtpd
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
  # Postfix and Dovecot must not start system instances on the standard
  # ports (the package test binds them, the tests run private instances):
  # a policy-rc.d that refuses every start, for the duration of the install.
  guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    guard=/usr/sbin/policy-rc.d
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" || { [ -z "$guard" ] || rm -f "$guard"; exit 1; }
  [ -z "$guard" ] || rm -f "$guard"
fi
