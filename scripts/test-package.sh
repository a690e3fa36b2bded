#!/usr/bin/env bash
# Builds the Debian package and tests it: lintian (errors fail), systemd-analyze
# verify on the unit, then the installed roostd with the packaged config
# against a POP3 and an IMAP login (and one LMTP delivery).
#
# With CI set (a throwaway machine, as root): the package is installed on the
# machine with apt-get, files/owners/conffiles are checked, roostd runs as root
# on the standard ports and drops to the roost user, then the package is
# purged and the mail must still be there.
#
# Without CI (a developer machine): the package is only extracted (dpkg-deb -x)
# into a throwaway root; that roostd runs with that config, adjusted in
# addresses, ports and paths only (see adjust_config below). Nothing under /etc
# and no system port is touched.
#
#   ROOST_DEB_DIR=DIR        where the package is built (default build-deb)
#   ROOST_PACKAGE_PREBUILT=1 test the .deb already in ROOST_DEB_DIR, do not build
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=${ROOST_DEB_DIR:-$top/build-deb}
export ROOST_DEB_DIR=$out
# Two cores in CI; no debug-symbol package (nothing uses it here); and
# "noopt" (-O0): this checks the packaging (files, scripts, unit, config, a
# working server), not the optimiser, and compiles in far less time. The
# release package comes from scripts/package.sh with optimisation on.
export DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-parallel=2 noddebs noopt}

fail() {
  echo "test-package: FAIL: $*" >&2
  exit 1
}
step() { echo "-- $*"; }

# Re-invoked inside the network namespace (see --netns-logins below): only
# the functions are wanted, not the build and the checks before it.
netns_mode=""
[ "${1:-}" = --netns-logins ] && netns_mode=1

if [ -z "${ROOST_PACKAGE_PREBUILT:-}" ] && [ -z "$netns_mode" ]; then
  step "dpkg-buildpackage (DEB_BUILD_OPTIONS=$DEB_BUILD_OPTIONS)"
  t0=$(date +%s)
  bash "$top/scripts/package.sh" > "$out.log" 2>&1 || {
    tail -50 "$out.log"
    fail "package build (log: $out.log)"
  }
  echo "   built in $(($(date +%s) - t0))s (log: $out.log)"
fi
deb=$(ls "$out"/roost_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || fail "no roost_*.deb in $out"
if [ -z "$netns_mode" ]; then
  echo "   $deb"
  step "lintian"
  # Errors fail the test; warnings and infos are printed. (The package has no
  # overrides: none were needed. Two infos remain: no init.d script, on
  # purpose, and a word lintian thinks misspelt inside a linked library's
  # strings.)
  lintian_out=$(lintian --fail-on error --display-info "$deb" 2>&1) || {
    echo "$lintian_out"
    fail "lintian reports errors"
  }
  [ -n "$lintian_out" ] && echo "$lintian_out" | sed 's/^/   /'
  echo "   no lintian errors"
fi

# A Python client for the login checks: POP3 STLS on the plain port, POP3 over
# implicit TLS, IMAP STARTTLS and implicit TLS, each logging in and reading
# the message delivered over LMTP first. The snakeoil (self-signed) certificate
# is not verified.
check_logins() { # HOST POP3 POP3S IMAP IMAPS LMTP_SOCKET ADDRESS PASSWORD
  /usr/bin/python3 - "$@" <<'EOF'
import imaplib, poplib, smtplib, ssl, sys
host, pop3, pop3s, imap, imaps, lmtp, addr, pw = sys.argv[1:]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE

msg = b"From: a@example.org\r\nTo: " + addr.encode() + b"\r\nSubject: package test\r\n\r\nhello\r\n"
lm = smtplib.LMTP(lmtp)
refused = lm.sendmail("a@example.org", [addr], msg)
lm.quit()
assert not refused, refused
print("   LMTP delivery over", lmtp, "ok")

p = poplib.POP3(host, int(pop3), timeout=10)
p.stls(context=ctx)
p.user(addr); p.pass_(pw)
count, _ = p.stat()
assert count == 1, count
assert b"hello" in b"\n".join(p.retr(1)[1])
p.quit()
print("   POP3 STLS login on port", pop3, "ok")

p = poplib.POP3_SSL(host, int(pop3s), timeout=10, context=ctx)
p.user(addr); p.pass_(pw)
assert p.stat()[0] == 1
p.quit()
print("   POP3 TLS login on port", pop3s, "ok")

# A wrong password must fail.
p = poplib.POP3_SSL(host, int(pop3s), timeout=30, context=ctx)
p.user(addr)
try:
    p.pass_(pw + "x")
    raise SystemExit("wrong password accepted")
except poplib.error_proto:
    pass
p.quit()
print("   POP3 wrong password refused")

m = imaplib.IMAP4_SSL(host, int(imaps), ssl_context=ctx, timeout=10)
m.login(addr, pw)
typ, data = m.select("INBOX")
assert typ == "OK" and data[0] == b"1", (typ, data)
m.logout()
print("   IMAP TLS login on port", imaps, "ok")

m = imaplib.IMAP4(host, int(imap), timeout=10)
m.starttls(ssl_context=ctx)
m.login(addr, pw)
assert m.select("INBOX")[0] == "OK"
m.logout()
print("   IMAP STARTTLS login on port", imap, "ok")
EOF
}

# The operations plane of the running server: /metrics with the package's
# admin token (and 401 without it), Thunderbird autoconfig for the test domain.
check_http() { # HOST ADMIN_PORT AUTOCONFIG_PORT TOKEN_FILE
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://$1:$2/metrics")
  [ "$code" = 401 ] || { echo "metrics without token: $code"; return 1; }
  curl -sf -H "Authorization: Bearer $(cat "$4")" "http://$1:$2/metrics" |
    grep -q '^roost_connections' || { echo "no roost_connections in /metrics"; return 1; }
  echo "   /metrics with the admin token ok (401 without)"
  curl -sf "http://$1:$3/mail/config-v1.1.xml?emailaddress=$address" |
    grep -q '<incomingServer type="imap">' || { echo "autoconfig answer without IMAP"; return 1; }
  echo "   Thunderbird autoconfig ok"
}

# Starts ROOSTD -c CONFIG in the background, logging to LOG; waits for "ready".
start_roostd() { # ROOSTD CONFIG LOG
  "$1" -c "$2" > "$3" 2>&1 &
  roostd_pid=$!
  for _ in $(seq 1 100); do
    grep -q '"event":"ready"' "$3" && return 0
    kill -0 "$roostd_pid" 2>/dev/null || { cat "$3"; fail "roostd exited at start"; }
    sleep 0.1
  done
  cat "$3"
  fail "roostd not ready after 10s"
}

stop_roostd() { # LOG
  kill -TERM "$roostd_pid"
  local rc=0
  wait "$roostd_pid" || rc=$?
  roostd_pid=""
  [ "$rc" -eq 0 ] || { cat "$1"; fail "roostd exited with $rc after SIGTERM"; }
  grep -q '"event":"stopped"' "$1" || fail "no stopped event"
}

password="pkg-test-$$-pass"
address="alice@pkgtest.example"

# The domain file of the test, with a hash made by the package's own roost pw.
write_domain() { # ROOST_BINARY DIR
  local hash
  hash=$(printf '%s\n' "$password" | "$1" pw) || fail "roost pw"
  cat > "$2/pkgtest.example.yaml" <<EOF
domain: pkgtest.example
accounts:
  alice:
    password: "$hash"
EOF
}

# The installed server's run, inside the private network namespace made by
# the CI path below (unshare --net): bring up lo, start, log in, stop.
if [ "${1:-}" = --netns-logins ]; then
  ip link set lo up
  password=$ROOST_PKG_PASSWORD
  log=$ROOST_PKG_LOG
  # A failed check below exits through fail(): never leave the installed
  # roostd running behind it (stop_roostd clears roostd_pid when it is done).
  trap '[ -n "${roostd_pid:-}" ] && kill "$roostd_pid" 2>/dev/null || true' EXIT
  start_roostd /usr/sbin/roostd /etc/roost/roost.yaml "$log"
  sleep 0.2
  [ "$(ps -o user= -p "$roostd_pid")" = roost ] || fail "roostd did not drop to roost"
  check_logins 127.0.0.1 110 995 143 993 /run/roost/lmtp.sock "$address" "$password" ||
    { cat "$log"; fail "logins"; }
  check_http 127.0.0.1 10080 10081 /etc/roost/admin.token || { cat "$log"; fail "metrics/autoconfig"; }
  stop_roostd "$log"
  exit 0
fi

if [ -n "${CI:-}" ]; then
  [ "$(id -u)" -eq 0 ] || fail "CI mode installs the package: run as root"
  # Mail of this test's own domain from an earlier run on this machine (purge
  # keeps mail, by design) would change the counts below.
  rm -rf /var/mail/roost/pkgtest.example
  step "apt-get install $deb"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$deb" > /dev/null

  step "installed files, owners, conffiles"
  for f in /usr/sbin/roostd /usr/bin/roost /etc/roost/roost.yaml /etc/roost/domains.d \
    /lib/systemd/system/roost.service /usr/share/man/man8/roostd.8.gz \
    /usr/share/man/man1/roost.1.gz /usr/share/man/man5/roost.yaml.5.gz; do
    [ -e "$f" ] || fail "$f is missing"
  done
  conffiles=$(dpkg-query -W -f='${Conffiles}\n' roost)
  echo "$conffiles" | grep -q ' /etc/roost/roost.yaml ' || fail "roost.yaml is not a conffile"
  getent passwd roost > /dev/null || fail "no roost user"
  [ "$(stat -c %U:%G /var/lib/roost)" = roost:roost ] || fail "/var/lib/roost owner"
  [ "$(stat -c %U:%G /var/mail/roost)" = roost:roost ] || fail "/var/mail/roost owner"
  [ "$(stat -c %U:%G:%a /etc/roost/admin.token)" = root:roost:640 ] || fail "admin.token owner/mode"
  id -nG roost | grep -qw ssl-cert || fail "roost is not in ssl-cert"
  [ -r /etc/ssl/private/ssl-cert-snakeoil.key ] || fail "no snakeoil key"
  echo "   ok"

  step "systemd-analyze verify (installed unit)"
  systemd-analyze verify --man="$(command -v man > /dev/null && echo yes || echo no)" \
    /lib/systemd/system/roost.service || fail "systemd-analyze verify"
  echo "   ok"

  step "roostd --check-config with the installed config and a test domain"
  write_domain /usr/bin/roost /etc/roost/domains.d
  chgrp roost /etc/roost/domains.d/pkgtest.example.yaml
  chmod 0640 /etc/roost/domains.d/pkgtest.example.yaml
  /usr/sbin/roostd --check-config -c /etc/roost/roost.yaml || fail "check-config"

  step "roostd as root on 110/143/993/995, dropping to roost (in a private network namespace)"
  # The packaged config listens on every address (0.0.0.0). The test runs
  # the server and its clients in a network namespace of its own, with only
  # a loopback interface, so nothing is ever reachable from outside.
  log=$(mktemp)
  ROOST_PKG_LOG=$log ROOST_PKG_PASSWORD=$password unshare --net -- bash "$0" --netns-logins ||
    fail "logins in the network namespace"
  n=$(find /var/mail/roost/pkgtest.example/alice -type f \( -path '*/cur/*' -o -path '*/new/*' \) \
    -user roost | wc -l)
  [ "$n" -eq 1 ] || fail "expected the message in alice's Maildir, owned by roost; found $n"
  echo "   ok"

  step "upgrade (reinstall): the operator's config and the mail stay"
  echo "# changed by the operator" >> /etc/roost/roost.yaml
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$deb" > /dev/null
  grep -q "changed by the operator" /etc/roost/roost.yaml || fail "the upgrade replaced roost.yaml"
  [ -e /etc/roost/domains.d/pkgtest.example.yaml ] || fail "the upgrade removed a domain file"
  n=$(find /var/mail/roost/pkgtest.example/alice -type f -path '*/cur/*' -o -type f -path '*/new/*' |
    wc -l)
  [ "$n" -eq 1 ] || fail "the upgrade touched the mail ($n files)"
  echo "   ok"

  step "apt-get purge: config gone, mail kept"
  DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq roost > /dev/null
  [ ! -e /etc/roost ] || fail "/etc/roost still there after purge"
  [ ! -e /usr/sbin/roostd ] || fail "roostd still there after purge"
  [ -d /var/mail/roost/pkgtest.example/alice ] || fail "purge removed the mail"
  echo "   ok"
  echo "test-package: all passed (installed on this machine)"
  exit 0
fi

# ---------------------------------------------------------------------------
# Developer machine: a throwaway root, no installation.
root=$(mktemp -d /tmp/roost-pkg.XXXXXX)
cleanup() {
  [ -n "${roostd_pid:-}" ] && kill "$roostd_pid" 2>/dev/null || true
  rm -rf "$root"
}
trap cleanup EXIT

step "dpkg-deb -x into $root"
dpkg-deb -x "$deb" "$root"
for f in usr/sbin/roostd usr/bin/roost etc/roost/roost.yaml etc/roost/domains.d \
  lib/systemd/system/roost.service usr/share/man/man8/roostd.8.gz \
  usr/share/man/man1/roost.1.gz usr/share/man/man5/roost.yaml.5.gz; do
  [ -e "$root/$f" ] || fail "/$f is missing from the package"
done
dpkg-deb -e "$deb" "$root/DEBIAN"
grep -qx /etc/roost/roost.yaml "$root/DEBIAN/conffiles" || fail "roost.yaml is not a conffile"
for s in postinst postrm; do sh -n "$root/DEBIAN/$s" || fail "$s: syntax"; done
echo "   files and conffiles ok"

step "systemd-analyze verify (extracted unit)"
# The unit names /usr/sbin/roostd: verify a copy that points into the throwaway root.
mkdir -p "$root/verify"
sed "s#/usr/sbin/roostd#$root/usr/sbin/roostd#" "$root/lib/systemd/system/roost.service" \
  > "$root/verify/roost.service"
systemd-analyze verify --man=no "$root/verify/roost.service" || fail "systemd-analyze verify"
echo "   ok"

if command -v man > /dev/null; then
  step "man pages render without warnings"
  for m in man8/roostd.8 man1/roost.1 man5/roost.yaml.5; do
    warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$root/usr/share/man/$m.gz" 2>&1 > /dev/null)
    [ -z "$warnings" ] || fail "$m: $warnings"
  done
  echo "   ok"
fi

# The packaged config, adjusted only where a developer machine needs it:
# - addresses 0.0.0.0 -> 127.0.0.1 and ports 110/143/993/995/10080 -> free
#   high ports (no system port, loopback only);
# - paths /etc/roost, /var/lib/roost, /var/mail/roost, /run/roost -> the same
#   paths under the throwaway root; the TLS pair -> a self-signed pair made
#   here (the machine's snakeoil key is not readable by every user);
# - the unix sockets' "group: postfix" and "group: roost" dropped (the groups
#   may not exist, and only root may give a socket to another group);
# - "user: roost" commented out (the machine has no roost user: roostd keeps
#   the identity that runs the test).
read -r p_pop3 p_pop3s p_imap p_imaps p_admin p_auto < <(/usr/bin/python3 -c '
import socket
socks = [socket.socket() for _ in range(6)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
etc=$root/etc/roost
mkdir -p "$etc/tls" "$root/run/roost"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
  -keyout "$etc/tls/key.pem" -out "$etc/tls/cert.pem" 2> /dev/null
sed -i \
  -e "s#0\.0\.0\.0#127.0.0.1#" \
  -e "s#port: 110,#port: $p_pop3,#" -e "s#port: 995,#port: $p_pop3s,#" \
  -e "s#port: 143,#port: $p_imap,#" -e "s#port: 993,#port: $p_imaps,#" \
  -e "s#port: 10080,#port: $p_admin,#" -e "s#port: 10081,#port: $p_auto,#" \
  -e "s#/etc/roost#$etc#" -e "s#/var/lib/roost#$root/var/lib/roost#" \
  -e "s#/etc/ssl/certs/ssl-cert-snakeoil.pem#$etc/tls/cert.pem#" \
  -e "s#/etc/ssl/private/ssl-cert-snakeoil.key#$etc/tls/key.pem#" \
  -e "s#/var/mail/roost#$root/var/mail/roost#" -e "s#/run/roost#$root/run/roost#" \
  -e 's#, group: [a-z]*\(.*\) }#\1 }#' \
  -e 's/^  user: roost/  # user: roost/' \
  "$etc/roost.yaml"
echo "   adjusted config:"
diff <(dpkg-deb --fsys-tarfile "$deb" | tar -xO ./etc/roost/roost.yaml) "$etc/roost.yaml" |
  sed 's/^/     /' || true
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$etc/admin.token"
chmod 0600 "$etc/admin.token"
write_domain "$root/usr/bin/roost" "$etc/domains.d"

step "roostd --check-config (extracted binary, adjusted config)"
"$root/usr/sbin/roostd" --check-config -c "$etc/roost.yaml" || fail "check-config"

step "roostd on 127.0.0.1: POP3 and IMAP logins"
log=$root/roostd.log
start_roostd "$root/usr/sbin/roostd" "$etc/roost.yaml" "$log"
check_logins 127.0.0.1 "$p_pop3" "$p_pop3s" "$p_imap" "$p_imaps" "$root/run/roost/lmtp.sock" \
  "$address" "$password" || { cat "$log"; fail "logins"; }
check_http 127.0.0.1 "$p_admin" "$p_auto" "$etc/admin.token" || { cat "$log"; fail "metrics/autoconfig"; }
stop_roostd "$log"
roostd_pid=
n=$(find "$root/var/mail/roost/pkgtest.example/alice" -type f \( -path '*/cur/*' -o -path '*/new/*' \) |
  wc -l)
[ "$n" -eq 1 ] || fail "expected the message in alice's Maildir, found $n"
echo "test-package: all passed (throwaway root; nothing installed)"
