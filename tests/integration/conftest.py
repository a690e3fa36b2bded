"""Fixtures that start the real roostd on loopback with a private config.

Every test gets its own directory with roost.yaml, a domains.d, Maildirs and
state, and ports picked free on 127.0.0.1. Clients are the ones nobody here
wrote: Python's poplib/imaplib/ssl, curl, and the roost CLI for delivery.
"""
import json
import os
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("ROOST_BUILD_DIR", REPO / "build"))
ROOSTD = BUILD / "roostd"
ROOST = BUILD / "roost"
if not ROOST.exists() and (BUILD / "core" / "cli" / "roost").exists():
    ROOST = BUILD / "core" / "cli" / "roost"

_HASH_CACHE = {}


def crypt_hash(password):
    """A sha512-crypt hash made by openssl (fast enough for tests)."""
    if password not in _HASH_CACHE:
        out = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password.encode(),
                             capture_output=True, check=True)
        _HASH_CACHE[password] = out.stdout.decode().strip()
    return _HASH_CACHE[password]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(n):
    """n distinct free ports: the sockets stay bound until all are chosen, so
    the kernel cannot hand out the same number twice."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def client_tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


DEFAULT_ACCOUNTS = {
    "alice": {"password": "alice-secret"},
    "bob": {"password": "bob secret with spaces", "policy": {"pop3": {"on_delete": "hide"}}},
    "carol": {"password": "carol-pw", "policy": {"pop3": {"on_delete": "archive"}}},
    "dave": {"password": "dave-pw", "status": "suspended"},
    "erin": {"password": "erin-pw", "policy": {"protocols": ["imap"]}},
}


class Roost:
    def __init__(self, root: Path, extra_config="", accounts=None, domain_policy=None,
                 plaintext_auth="allowed", limits=None):
        self.root = root
        names = ("pop3", "pop3s", "imap", "imaps")
        self.ports = dict(zip(names, free_ports(len(names))))
        self.accounts = dict(DEFAULT_ACCOUNTS if accounts is None else accounts)
        self.domain_policy = domain_policy
        self.plaintext_auth = plaintext_auth
        self.limits = {
            "auth_failure_delay": "200ms",
            "auth_failure_delay_max": "800ms",
        }
        self.limits.update(limits or {})
        self.extra_config = extra_config
        self.proc = None
        self.log_path = root / "roostd.log"
        self.config_path = root / "roost.yaml"
        (root / "domains.d").mkdir(parents=True, exist_ok=True)
        self.write_config()
        self.write_domain()

    # ---- files -----------------------------------------------------------
    def write_config(self):
        limits = "\n".join(f"  {k}: {v}" for k, v in self.limits.items())
        self.config_path.write_text(f"""
server:
  hostname: localhost
  state_dir: state
  shutdown_grace: 3s
  workers: 2
log:
  format: json
  level: debug
tls:
  certificate: tls/cert.pem
  private_key: tls/key.pem
listeners:
  - {{ protocol: pop3, address: 127.0.0.1, port: {self.ports['pop3']}, tls: starttls }}
  - {{ protocol: pop3, address: 127.0.0.1, port: {self.ports['pop3s']}, tls: implicit }}
  - {{ protocol: imap, address: 127.0.0.1, port: {self.ports['imap']}, tls: starttls }}
  - {{ protocol: imap, address: 127.0.0.1, port: {self.ports['imaps']}, tls: implicit }}
store:
  backend: maildir
  path: mail/{{domain}}/{{user}}
limits:
{limits}
policy:
  plaintext_auth: {self.plaintext_auth}
domains_dir: domains.d
{self.extra_config}
""")

    def write_domain(self, accounts=None, name="example.test", text=None):
        path = self.root / "domains.d" / f"{name}.yaml"
        if text is not None:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.rename(path)
            return path
        accounts = self.accounts if accounts is None else accounts
        lines = [f"domain: {name}", "alias_domains: [example.org]"]
        if self.domain_policy:
            lines.append("policy: " + json.dumps(self.domain_policy))
        lines.append("accounts:")
        for user, spec in accounts.items():
            lines.append(f"  {user}:")
            lines.append(f"    password: \"{crypt_hash(spec['password'])}\"")
            if "status" in spec:
                lines.append(f"    status: {spec['status']}")
            if "policy" in spec:
                lines.append("    policy: " + json.dumps(spec["policy"]))
        lines.append("aliases:")
        lines.append("  postmaster: alice")
        tmp = path.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        tmp.rename(path)
        return path

    def maildir(self, user, domain="example.test"):
        return self.root / "mail" / domain / user

    def password(self, user):
        return self.accounts[user]["password"]

    # ---- process ---------------------------------------------------------
    def start(self, wait=True):
        readies = self.count_events("ready")
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen([str(ROOSTD), "-c", str(self.config_path)],
                                     stdout=self.log_file, stderr=self.log_file)
        if wait:
            self.wait_for_event("ready", timeout=15, start_count=readies)
        return self

    def events(self):
        out = []
        if not self.log_path.exists():
            return out
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def wait_for_event(self, name, timeout=10, start_count=0, **match):
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = [e for e in self.events() if e.get("event") == name and
                     all(e.get(k) == v for k, v in match.items())]
            if len(found) > start_count:
                return found[-1]
            if self.proc and self.proc.poll() is not None:
                raise AssertionError(f"roostd exited {self.proc.returncode}:\n" +
                                     self.log_path.read_text(errors="replace")[-4000:])
            time.sleep(0.05)
        raise AssertionError(f"no {name} event {match} in log:\n" +
                             self.log_path.read_text(errors="replace")[-4000:])

    def count_events(self, name, **match):
        return len([e for e in self.events() if e.get("event") == name and
                    all(e.get(k) == v for k, v in match.items())])

    def reload(self):
        n = self.count_events("reload")
        self.proc.send_signal(signal.SIGHUP)
        return self.wait_for_event("reload", start_count=n)

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("roostd did not stop in time")
        if getattr(self, "log_file", None):
            self.log_file.close()
        return self.proc.returncode if self.proc else None

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.log_file.close()

    # ---- mail ------------------------------------------------------------
    def deliver(self, address, message: bytes, mailbox=None):
        cmd = [str(ROOST), "deliver", "-c", str(self.config_path), "-t", address]
        if mailbox:
            cmd += ["-m", mailbox]
        r = subprocess.run(cmd, input=message, capture_output=True)
        return r


def make_message(n, body_lines=3, subject=None, lf_only=True):
    subject = subject or f"Message {n}"
    lines = [f"From: sender{n}@example.net", "To: alice@example.test",
             f"Subject: {subject}", f"Message-ID: <m{n}@example.net>", ""]
    lines += [f"Line {i} of message {n}" for i in range(body_lines)]
    sep = "\n" if lf_only else "\r\n"
    return (sep.join(lines) + sep).encode()


@pytest.fixture
def roost_factory(tmp_path):
    started = []

    def make(**kw):
        r = Roost(tmp_path / f"r{len(started)}", **kw)
        started.append(r)
        return r

    yield make
    for r in started:
        try:
            r.stop()
        except Exception:
            if r.proc and r.proc.poll() is None:
                r.proc.kill()


@pytest.fixture
def roost(roost_factory):
    return roost_factory().start()
