"""Integration tests for the `roost` operator tool: pw, deliver, check-config, auth test.

Run with:  ROOST_BUILD_DIR=/path/to/build /usr/bin/python3 -m pytest tests/integration/test_cli.py
The build dir defaults to <repo>/build; the binary is looked for at build/roost, then
build/core/cli/roost.
"""

import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("ROOST_BUILD_DIR", REPO / "build"))

PASSWORD = "correct horse"

CONFIG = """\
server:
  hostname: mail.example.test
  state_dir: var/state
log:
  format: text
  level: info
tls:
  certificate: var/tls/cert.pem
  private_key: var/tls/key.pem
listeners:
  - { protocol: imap, address: 127.0.0.1, port: 10143, tls: starttls }
  - { protocol: pop3, address: 127.0.0.1, port: 10110, tls: starttls }
store:
  backend: maildir
  path: var/mail/{domain}/{user}
policy:
  protocols: [imap, pop3]
  plaintext_auth: tls_only
  quota_exceeded: reject
domains_dir: domains.d
"""


def find_roost():
    for candidate in (BUILD / "roost", BUILD / "core" / "cli" / "roost"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    pytest.fail(f"no roost binary under {BUILD} (set ROOST_BUILD_DIR)")


ROOST = None


def roost(*args, stdin=b"", cwd=None):
    global ROOST
    if ROOST is None:
        ROOST = find_roost()
    if isinstance(stdin, str):
        stdin = stdin.encode()
    return subprocess.run([ROOST, *args], input=stdin, capture_output=True, cwd=cwd, timeout=120)


_hash_cache = {}


def sha512(password):
    if password not in _hash_cache:
        out = subprocess.run(["mkpasswd", "-m", "sha512crypt", "--stdin"], input=password.encode(),
                             capture_output=True, check=True)
        _hash_cache[password] = out.stdout.decode().strip()
    return _hash_cache[password]


def domain_file(hash_):
    return f"""\
domain: example.test
alias_domains: [example.org]
accounts:
  alice:
    password: "{hash_}"
  bob:
    password: "{hash_}"
    policy: {{ protocols: [imap] }}
  carol:
    password: "{hash_}"
    status: suspended
  dave:
    password: "{hash_}"
    policy: {{ quota: 1K, quota_exceeded: reject }}
  erin:
    password: "{hash_}"
    policy: {{ quota: 1K, quota_exceeded: defer }}
  frank:
    password: "{hash_}"
    policy: {{ quota_messages: 1 }}
  gina:
    password: "{hash_}"
    policy: {{ plaintext_auth: allowed }}
aliases:
  postmaster: alice
  sales: [alice, bob]
  ext: [alice, partner@elsewhere.example]
"""


class Setup:
    def __init__(self, root: Path):
        self.root = root
        self.config = root / "roost.yaml"
        self.domains = root / "domains.d"
        self.domains.mkdir()
        self.config.write_text(CONFIG)
        self.write_domain("example.test", domain_file(sha512(PASSWORD)))

    def write_domain(self, name, text):
        path = self.domains / f"{name}.yaml"
        path.write_text(text)
        return path

    def maildir(self, user, domain="example.test"):
        return self.root / "var" / "mail" / domain / user

    def deliver(self, to, message, *extra):
        return roost("deliver", "-c", str(self.config), "-t", to, *extra, stdin=message)

    def auth(self, address, password=PASSWORD):
        return roost("auth", "test", "-c", str(self.config), address, stdin=password + "\n")


@pytest.fixture
def env(tmp_path):
    return Setup(tmp_path)


def stored_messages(maildir: Path, folder=""):
    base = maildir / folder if folder else maildir
    files = []
    for sub in ("new", "cur"):
        d = base / sub
        if d.is_dir():
            files += sorted(p for p in d.iterdir() if p.is_file())
    return files


MESSAGE = (b"From: Sender <sender@elsewhere.example>\r\n"
           b"To: alice@example.test\r\n"
           b"Subject: hello\r\n"
           b"\r\n"
           b"Body line one\r\n"
           b"a bare LF line\n"
           b"8-bit \xe9\xe8 bytes and a stray CR\r here\r\n"
           b"no final newline")


def make_cert(directory: Path):
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-keyout", str(directory / "key.pem"),
                    "-out", str(directory / "cert.pem")],
                   check=True, capture_output=True)


# --------------------------------------------------------------------------- general


def test_version_and_help():
    r = roost("--version")
    assert r.returncode == 0
    assert r.stdout.decode().startswith("roost ")
    for args in (["--help"], ["help"]):
        r = roost(*args)
        assert r.returncode == 0
        assert "deliver" in r.stdout.decode()


def test_usage_errors_exit_64():
    assert roost().returncode == 64
    r = roost("frobnicate")
    assert r.returncode == 64
    assert "usage:" in r.stderr.decode()
    assert roost("pw", "--scheme", "md5").returncode == 64
    assert roost("pw", "--bogus").returncode == 64
    assert roost("deliver", "-c", "/nonexistent.yaml").returncode == 64  # no -t
    assert roost("auth", "test").returncode == 64
    assert roost("auth", "frob", "a@b").returncode == 64


# --------------------------------------------------------------------------- pw


@pytest.mark.parametrize("scheme,prefix", [
    ("argon2id", "$argon2id$"),
    ("yescrypt", "$y$"),
    ("sha512-crypt", "$6$"),
    ("bcrypt", "$2"),
])
def test_pw_hash_is_accepted_by_auth_test(env, scheme, prefix):
    r = roost("pw", "--scheme", scheme, stdin="s3cret pass\n")
    assert r.returncode == 0, r.stderr
    hash_ = r.stdout.decode().strip()
    assert hash_.startswith(prefix)
    assert "\n" not in hash_
    env.write_domain("example.test", domain_file(hash_))
    r = env.auth("alice@example.test", "s3cret pass")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "imap over TLS: ok" in r.stdout.decode()
    # The newline was stripped: the password with a trailing space is wrong.
    r = env.auth("alice@example.test", "s3cret pass ")
    assert r.returncode == 1


def test_pw_default_scheme_and_stdin_without_newline():
    r = roost("pw", stdin="abc")
    assert r.returncode == 0
    assert r.stdout.decode().startswith("$argon2id$")


def test_pw_refuses_empty_password():
    for stdin in ("", "\n"):
        r = roost("pw", stdin=stdin)
        assert r.returncode != 0
        assert r.stdout == b""
        assert "empty" in r.stderr.decode()


# --------------------------------------------------------------------------- check-config


def test_check_config_ok_with_missing_cert_warning(env):
    r = roost("check-config", "-c", str(env.config))
    out = r.stdout.decode()
    assert r.returncode == 0, out
    assert "configuration OK: 1 domains, 7 accounts" in out
    assert "warning:" in out and "first start" in out


def test_check_config_ok_with_cert(env):
    make_cert(env.root / "var" / "tls")
    r = roost("check-config", "-c", str(env.config))
    out = r.stdout.decode()
    assert r.returncode == 0, out
    assert "warning" not in out
    assert out.strip() == "configuration OK: 1 domains, 7 accounts"


def test_check_config_c_after_subcommand_forms(env):
    for args in (["check-config", f"--config={env.config}"], ["check-config", f"-c{env.config}"]):
        assert roost(*args).returncode == 0


def test_check_config_broken_cert_is_an_error(env):
    tls = env.root / "var" / "tls"
    tls.mkdir(parents=True)
    (tls / "cert.pem").write_text("not a certificate\n")
    (tls / "key.pem").write_text("not a key\n")
    r = roost("check-config", "-c", str(env.config))
    out = r.stdout.decode()
    assert r.returncode == 1
    assert re.search(r"roost\.yaml:\d+: ", out), out


def test_check_config_reports_every_problem_with_file_and_line(env):
    text = domain_file(sha512(PASSWORD)).replace(
        f'  carol:\n    password: "{sha512(PASSWORD)}"',
        '  carol:\n    password: "$6$broken"')
    env.write_domain("example.test", text)
    (env.domains / "other.test.yaml").write_text("domain: other.test\nbogus_key: 1\n")
    r = roost("check-config", "-c", str(env.config))
    out = r.stdout.decode()
    assert r.returncode == 1, out
    path = str(env.domains / "example.test.yaml")
    carol_line = text.splitlines().index("  carol:") + 1
    lines = out.splitlines()
    carol = [l for l in lines if l.startswith(f"{path}:") and "carol" in l]
    assert carol, out
    m = re.match(re.escape(path) + r":(\d+): ", carol[0])
    assert m and int(m.group(1)) in (carol_line, carol_line + 1), out
    assert any(re.match(re.escape(str(env.domains / "other.test.yaml")) + r":\d+: ", l)
               for l in lines), out
    assert "configuration OK" not in out


def test_check_config_duplicate_domain(env):
    env.write_domain("zz.test", f'domain: zz.test\nalias_domains: [example.org]\n'
                                f'accounts:\n  zed:\n    password: "{sha512(PASSWORD)}"\n')
    r = roost("check-config", "-c", str(env.config))
    assert r.returncode == 1
    assert "example.org" in r.stdout.decode()


def test_check_config_bad_store_template(env):
    env.config.write_text(CONFIG.replace("var/mail/{domain}/{user}", "var/mail/{domain}"))
    r = roost("check-config", "-c", str(env.config))
    out = r.stdout.decode()
    assert r.returncode == 1
    assert re.search(r"roost\.yaml:\d+: .*\{user\}", out), out


def test_check_config_broken_main_file(env):
    env.config.write_text(CONFIG + "no_such_section: 1\n")
    r = roost("check-config", "-c", str(env.config))
    assert r.returncode == 1
    assert re.search(re.escape(str(env.config)) + r":\d+: ", r.stdout.decode() + r.stderr.decode())


def test_check_config_missing_config_file(tmp_path):
    r = roost("check-config", "-c", str(tmp_path / "nope.yaml"))
    assert r.returncode == 1


# --------------------------------------------------------------------------- check-config --domain


def test_check_domain_alone(env):
    r = roost("check-config", "--domain", str(env.domains / "example.test.yaml"))
    assert r.returncode == 0, r.stdout
    bad = env.root / "bad.test.yaml"
    bad.write_text('domain: bad.test\naccounts:\n  x:\n    password: "nonsense"\n')
    r = roost("check-config", "--domain", str(bad))
    out = r.stdout.decode()
    assert r.returncode == 1
    assert re.search(re.escape(str(bad)) + r":\d+: ", out), out


def test_check_domain_candidate_before_rename(env):
    # A control panel writes the new version next to the old one, checks it, renames it.
    candidate = env.domains / "example.test.yaml.tmp"
    candidate.write_text(domain_file(sha512(PASSWORD)))
    r = roost("check-config", "-c", str(env.config), "--domain", str(candidate))
    assert r.returncode == 0, r.stdout + r.stderr


def test_check_domain_clash_with_config(env):
    other = env.root / "new.test.yaml"
    other.write_text(f'domain: new.test\nalias_domains: [example.org]\n'
                     f'accounts:\n  n:\n    password: "{sha512(PASSWORD)}"\n')
    assert roost("check-config", "--domain", str(other)).returncode == 0
    r = roost("check-config", "-c", str(env.config), "--domain", str(other))
    assert r.returncode == 1
    assert "example.org" in r.stdout.decode()


# --------------------------------------------------------------------------- deliver


def test_deliver_stores_bytes_exactly(env):
    r = env.deliver("alice@example.test", MESSAGE)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b""
    msgs = stored_messages(env.maildir("alice"))
    assert len(msgs) == 1
    assert msgs[0].read_bytes() == MESSAGE


def test_deliver_case_insensitive_and_alias_domain(env):
    assert env.deliver("Alice@EXAMPLE.org", MESSAGE).returncode == 0
    assert len(stored_messages(env.maildir("alice"))) == 1


def test_deliver_large_message_streams(env):
    body = b"".join(b"line %06d xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n" % i
                    for i in range(40000))
    message = b"Subject: big\r\n\r\n" + body
    r = env.deliver("alice@example.test", message)
    assert r.returncode == 0, r.stderr
    (stored,) = stored_messages(env.maildir("alice"))
    assert stored.read_bytes() == message


def test_deliver_unknown_recipient(env):
    r = env.deliver("nobody@example.test", MESSAGE)
    assert r.returncode == 67
    assert r.stderr
    assert env.deliver("alice@not-served.test", MESSAGE).returncode == 67


def test_deliver_alias_two_targets(env):
    r = env.deliver("sales@example.test", MESSAGE)
    assert r.returncode == 0, r.stderr
    for user in ("alice", "bob"):
        msgs = stored_messages(env.maildir(user))
        assert len(msgs) == 1, user
        assert msgs[0].read_bytes() == MESSAGE


def test_deliver_alias_outside_target_skipped(env):
    r = env.deliver("ext@example.test", MESSAGE)
    assert r.returncode == 0, r.stderr
    assert "partner@elsewhere.example" in r.stderr.decode()
    assert len(stored_messages(env.maildir("alice"))) == 1


def test_deliver_suspended_account_still_gets_mail(env):
    assert env.deliver("carol@example.test", MESSAGE).returncode == 0
    assert len(stored_messages(env.maildir("carol"))) == 1


def test_deliver_into_mailbox(env):
    r = env.deliver("alice@example.test", MESSAGE, "-m", "Archive")
    assert r.returncode == 0, r.stderr
    assert [m.read_bytes() for m in stored_messages(env.maildir("alice"), ".Archive")] == [MESSAGE]
    assert stored_messages(env.maildir("alice")) == []


def test_deliver_into_missing_mailbox_falls_back_to_inbox(env):
    r = env.deliver("alice@example.test", MESSAGE, "-m", "NoSuchFolder")
    assert r.returncode == 0, r.stderr
    assert len(stored_messages(env.maildir("alice"))) == 1


def test_deliver_detail_folder(env):
    assert env.deliver("alice@example.test", MESSAGE).returncode == 0  # creates the Maildir
    news = env.maildir("alice") / ".news"
    for sub in ("cur", "new", "tmp"):
        (news / sub).mkdir(parents=True)
    r = env.deliver("alice+news@example.test", MESSAGE)
    assert r.returncode == 0, r.stderr
    assert len(stored_messages(env.maildir("alice"), ".news")) == 1
    # No such folder: INBOX.
    r = env.deliver("alice+other@example.test", MESSAGE)
    assert r.returncode == 0, r.stderr
    assert len(stored_messages(env.maildir("alice"))) == 2


def test_deliver_over_quota_reject_73(env):
    small = b"Subject: s\r\n\r\nsmall\r\n"
    big = b"Subject: b\r\n\r\n" + b"x" * 2048 + b"\r\n"
    assert env.deliver("dave@example.test", small).returncode == 0
    r = env.deliver("dave@example.test", big)
    assert r.returncode == 73, r.stderr
    assert "quota" in r.stderr.decode()
    assert len(stored_messages(env.maildir("dave"))) == 1


def test_deliver_over_quota_defer_75(env):
    big = b"Subject: b\r\n\r\n" + b"x" * 2048 + b"\r\n"
    r = env.deliver("erin@example.test", big)
    assert r.returncode == 75, r.stderr
    assert stored_messages(env.maildir("erin")) == []


def test_deliver_over_message_count_quota(env):
    assert env.deliver("frank@example.test", MESSAGE).returncode == 0
    r = env.deliver("frank@example.test", MESSAGE)
    assert r.returncode == 73  # server default quota_exceeded: reject
    assert len(stored_messages(env.maildir("frank"))) == 1


def test_deliver_broken_config_is_temporary(env):
    env.config.write_text("server: [\n")
    assert env.deliver("alice@example.test", MESSAGE).returncode == 75


def test_deliver_broken_domain_file_is_temporary(env):
    # The domain is not served while its file is broken: retry rather than bounce.
    env.write_domain("example.test", "domain: example.test\naccounts: [oops\n")
    r = env.deliver("alice@example.test", MESSAGE)
    assert r.returncode == 75
    assert "example.test.yaml" in r.stderr.decode()


def test_deliver_missing_config_is_temporary(tmp_path):
    r = roost("deliver", "-c", str(tmp_path / "none.yaml"), "-t", "a@b.test", stdin=MESSAGE)
    assert r.returncode == 75


# --------------------------------------------------------------------------- auth test


def test_auth_ok_over_tls_only(env):
    r = env.auth("alice@example.test")
    out = r.stdout.decode()
    assert r.returncode == 0, out + r.stderr.decode()
    assert "imap over TLS: ok" in out
    assert "pop3 over TLS: ok" in out
    assert re.search(r"imap without TLS: refused: TLS required", out)
    assert re.search(r"pop3 without TLS: refused: TLS required", out)


def test_auth_plaintext_allowed(env):
    r = env.auth("gina@example.test")
    out = r.stdout.decode()
    assert r.returncode == 0
    assert "imap without TLS: ok" in out


def test_auth_wrong_password(env):
    r = env.auth("alice@example.test", "wrong")
    assert r.returncode == 1
    assert "imap over TLS: refused: wrong password" in r.stdout.decode()


def test_auth_suspended(env):
    r = env.auth("carol@example.test")
    assert r.returncode == 1
    assert "suspended" in r.stdout.decode()


def test_auth_protocol_denied(env):
    r = env.auth("bob@example.test")
    out = r.stdout.decode()
    assert r.returncode == 0, out
    assert "imap over TLS: ok" in out
    assert "pop3 over TLS: refused: protocol not allowed" in out
    assert "[imap]" in out


def test_auth_alias_hint(env):
    r = env.auth("postmaster@example.test")
    out = r.stdout.decode()
    assert r.returncode == 1
    assert "alias" in out and "log in as alice@example.test" in out
    assert "refused: unknown address" in out


def test_auth_unknown_address_and_domain(env):
    r = env.auth("nobody@example.test")
    assert r.returncode == 1
    assert "unknown address" in r.stdout.decode()
    r = env.auth("alice@not-served.test")
    assert r.returncode == 1
    assert "not served" in r.stdout.decode()


def test_auth_broken_domain_file(env):
    env.write_domain("example.test", "domain: example.test\naccounts: [oops\n")
    r = env.auth("alice@example.test")
    out = r.stdout.decode()
    assert r.returncode == 1
    assert "broken" in out and "example.test.yaml" in out


def test_auth_case_insensitive(env):
    assert env.auth("ALICE@Example.Test").returncode == 0


# --------------------------------------------------------------------------- terminal prompts


def run_on_tty(args, lines):
    """Runs roost with a pseudo-terminal as stdin and stderr; answers each prompt with a line.

    Returns (exit code, stdout bytes, everything shown on the terminal)."""
    import pty
    import select
    import time
    global ROOST
    if ROOST is None:
        ROOST = find_roost()
    master, slave = pty.openpty()
    proc = subprocess.Popen([ROOST, *args], stdin=slave, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    shown = b""
    pending = list(lines)
    deadline = time.time() + 60
    while time.time() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
            if pending and shown.rstrip().endswith(b":"):
                time.sleep(0.1)  # let the prompt's echo-off take effect first
                os.write(master, pending.pop(0).encode() + b"\n")
        elif proc.poll() is not None:
            break
    out = proc.stdout.read()
    proc.wait(timeout=30)
    os.close(master)
    return proc.returncode, out, shown


def test_pw_on_terminal_prompts_twice_without_echo():
    rc, out, shown = run_on_tty(["pw", "--scheme", "sha512-crypt"], ["tty secret", "tty secret"])
    assert rc == 0, shown
    assert out.decode().startswith("$6$")
    assert b"tty secret" not in shown
    assert shown.count(b":") >= 2


def test_pw_on_terminal_mismatch():
    rc, out, shown = run_on_tty(["pw", "--scheme", "sha512-crypt"], ["one", "two"])
    assert rc != 0
    assert out == b""
    assert b"match" in shown


def test_auth_test_on_terminal(env):
    rc, out, shown = run_on_tty(["auth", "test", "-c", str(env.config), "alice@example.test"],
                                [PASSWORD])
    assert rc == 0, shown
    assert b"imap over TLS: ok" in out
    assert PASSWORD.encode() not in shown
