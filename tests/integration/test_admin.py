"""The admin API and the operator CLI against a real roostd.

The server has an admin listener (TCP, or a unix socket in one test) with a
token file, and an LMTP listener for deliveries. Clients: Python's
http.client, imaplib/poplib and raw sockets, and the `roost` CLI.
"""
import http.client
import imaplib
import json
import os
import poplib
import re
import secrets
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

# imaplib has no ID command (RFC 2971); allow it through xatom().
imaplib.Commands.setdefault("ID", ("NONAUTH", "AUTH", "SELECTED"))

from conftest import ROOST, ROOSTD, make_message
from imap_util import RawImap, poll
from lmtp_util import LmtpRoost, RawLmtp


class AdminRoost(LmtpRoost):
    """LmtpRoost plus an admin listener on TCP or on a unix socket."""

    def __init__(self, root: Path, admin_unix=False, **kw):
        root.mkdir(parents=True, exist_ok=True)
        self.token = secrets.token_hex(24)
        self.token_file = root / "admin.token"
        self.token_file.write_text(self.token + "\n")
        os.chmod(self.token_file, 0o600)
        self.admin_port = None
        self.admin_sock_dir = None
        self.admin_socket = None
        if admin_unix:
            self.admin_sock_dir = Path(tempfile.mkdtemp(prefix="roost-admin-", dir="/tmp"))
            self.admin_socket = self.admin_sock_dir / "admin.sock"
        else:
            import conftest
            self.admin_port = conftest.free_port()
        super().__init__(root, **kw)

    def write_config(self):
        super().write_config()
        text = self.config_path.read_text()
        if self.admin_socket:
            line = (f"  - {{ protocol: admin, path: {self.admin_socket}, mode: \"0600\", "
                    f"token_file: {self.token_file} }}\n")
        else:
            line = (f"  - {{ protocol: admin, address: 127.0.0.1, port: {self.admin_port}, "
                    f"token_file: {self.token_file} }}\n")
        text = text.replace("listeners:\n", "listeners:\n" + line, 1)
        self.config_path.write_text(text)

    # ---- HTTP ------------------------------------------------------------
    def connection(self):
        if self.admin_socket:
            return UnixHTTPConnection(str(self.admin_socket))
        return http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=15)

    def request(self, method, path, token=None, headers=None):
        """(status, headers dict, body bytes). token=None: the right one;
        token="": no Authorization header."""
        h = dict(headers or {})
        tok = self.token if token is None else token
        if tok != "":
            h["Authorization"] = f"Bearer {tok}"
        c = self.connection()
        try:
            c.request(method, path, headers=h)
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            c.close()

    def api(self, method, path, expect=200):
        status, headers, body = self.request(method, path)
        assert status == expect, (status, body)
        assert headers["content-type"].startswith("application/json")
        return json.loads(body)

    # ---- CLI -------------------------------------------------------------
    def cli(self, *args, expect=0):
        r = subprocess.run([str(ROOST), *args, "-c", str(self.config_path)],
                           capture_output=True, timeout=60)
        assert r.returncode == expect, (r.returncode, r.stdout, r.stderr)
        return r.stdout.decode(), r.stderr.decode()

    def cli_json(self, *args, expect=0):
        out, _ = self.cli(*args, "--json", expect=expect)
        return json.loads(out)

    def cleanup(self):
        self.cleanup_socket_dir()
        if self.admin_sock_dir and self.admin_sock_dir.exists():
            for p in self.admin_sock_dir.iterdir():
                p.unlink()
            self.admin_sock_dir.rmdir()


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=15)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(15)
        s.connect(self.path)
        self.sock = s


@pytest.fixture
def admin_factory(tmp_path):
    made = []

    def make(start=True, **kw):
        r = AdminRoost(tmp_path / f"r{len(made)}", **kw)
        made.append(r)
        return r.start() if start else r

    yield make
    for r in made:
        try:
            r.stop()
        except Exception:
            if r.proc and r.proc.poll() is None:
                r.proc.kill()
        r.cleanup()


@pytest.fixture
def roost(admin_factory):
    return admin_factory()


def lmtp_deliver(r, rcpt, message: bytes):
    c = RawLmtp(r.lmtp_port)
    assert c.greeting.startswith("220 ")
    c.lhlo()
    assert c.cmd("MAIL FROM:<sender@example.net>").startswith("250")
    assert c.cmd(f"RCPT TO:<{rcpt}>").startswith("250")
    assert c.cmd("DATA").startswith("354")
    c.send(message.replace(b"\n", b"\r\n") + b".\r\n")
    reply = c.line()
    c.cmd("QUIT")
    return reply


def imap_session(r, user="alice", password="alice-secret", client_id=None):
    m = imaplib.IMAP4("127.0.0.1", r.ports["imap"], timeout=10)
    if client_id:
        m.xatom("ID", f'("name" "{client_id[0]}" "version" "{client_id[1]}")')
    m.login(f"{user}@example.test", password)
    return m


def pop3_session(r, user="bob", password="bob-pw"):
    p = poplib.POP3("127.0.0.1", r.ports["pop3"], timeout=10)
    p.user(f"{user}@example.test")
    p.pass_(password)
    return p


def sessions_of(r, account):
    return [s for s in r.api("GET", "/api/v1/sessions")["sessions"] if s["account"] == account]


# ---- authentication --------------------------------------------------------

def test_missing_or_wrong_token_is_401_and_says_nothing(roost):
    paths = [("GET", "/api/v1/sessions"), ("DELETE", "/api/v1/sessions?account=alice@example.test"),
             ("GET", "/api/v1/accounts/alice@example.test"), ("POST", "/api/v1/reload"),
             ("GET", "/metrics"), ("GET", "/does/not/exist")]
    bodies = set()
    for method, path in paths:
        for token in ("", "wrong", roost.token + "x", roost.token[:-1]):
            status, headers, body = roost.request(method, path, token=token)
            assert status == 401
            bodies.add(body)
        status, _, body = roost.request(method, path, token="",
                                        headers={"Authorization": f"Basic {roost.token}"})
        assert status == 401
        bodies.add(body)
    assert bodies == {b'{"error":"unauthorized"}\n'}
    # Nothing was done: no reload happened.
    assert roost.count_events("reload") == 0
    metrics = roost.request("GET", "/metrics")[2].decode()
    m = re.search(r"^roost_admin_unauthorized_total (\d+)$", metrics, re.M)
    assert m and int(m.group(1)) >= 5 * len(paths)


def test_unknown_path_404_wrong_method_405_bad_request_400(roost):
    assert roost.request("GET", "/api/v1/nothing")[0] == 404
    assert roost.request("GET", "/")[0] == 404
    status, headers, _ = roost.request("PUT", "/api/v1/sessions")
    assert status == 405 and "GET" in headers["allow"]
    assert roost.request("GET", "/api/v1/reload")[0] == 405
    assert roost.request("POST", "/metrics")[0] == 405
    assert roost.request("DELETE", "/api/v1/sessions")[0] == 400
    assert roost.request("DELETE", "/api/v1/sessions?account=")[0] == 400
    assert roost.request("GET", "/api/v1/accounts/nobody@example.test")[0] == 404
    assert roost.request("GET", "/api/v1/accounts/%ff")[0] == 404


# ---- sessions and kick ----------------------------------------------------

def test_sessions_list_and_kick_ends_only_that_account(roost):
    alice = imap_session(roost, client_id=("TestMail", "9.1"))
    bob = pop3_session(roost)
    try:
        sessions = roost.api("GET", "/api/v1/sessions")["sessions"]
        by_account = {}
        for s in sessions:
            by_account.setdefault(s["account"], []).append(s)
        a = by_account["alice@example.test"][0]
        assert a["protocol"] == "imap"
        assert a["remote"] == "127.0.0.1"
        assert a["tls"] is False
        assert a["client_id"] == "TestMail/9.1"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", a["since"])
        b = by_account["bob@example.test"][0]
        assert b["protocol"] == "pop3" and b["client_id"] is None
        # The admin connection itself is a session without an account.
        assert any(s["protocol"] == "admin" and s["account"] is None for s in sessions)

        out = roost.api("DELETE", "/api/v1/sessions?account=alice%40example.test")
        assert out == {"account": "alice@example.test", "ended": 1}
        # The IMAP client is told BYE and the connection closes.
        with pytest.raises((imaplib.IMAP4.abort, OSError, EOFError)):
            for _ in range(20):
                alice.noop()
                time.sleep(0.1)
        assert poll(lambda: not sessions_of(roost, "alice@example.test"))
        # Bob's POP3 session is untouched.
        assert bob.stat()[0] >= 0
        assert len(sessions_of(roost, "bob@example.test")) == 1
        # Nobody left to kick.
        assert roost.api("DELETE", "/api/v1/sessions?account=alice@example.test")["ended"] == 0
    finally:
        try:
            bob.quit()
        except Exception:
            pass
        try:
            alice.logout()
        except Exception:
            pass


def test_kick_pop3_client_sees_close_and_imap_raw_sees_bye(roost):
    raw = RawImap(roost.ports["imap"])
    assert raw.ok("LOGIN bob@example.test bob-pw")
    pop = pop3_session(roost)
    # An alias domain and other case name the same account.
    assert roost.api("DELETE", "/api/v1/sessions?account=BOB@example.org")["ended"] == 2
    raw.s.settimeout(5)
    lines = []
    try:
        while True:
            line = raw.raw_line()
            if not line:
                break
            lines.append(line)
    except OSError:
        pass
    assert any(l.startswith(b"* BYE") for l in lines), lines
    with pytest.raises((poplib.error_proto, OSError, EOFError)):
        for _ in range(20):
            pop.noop()
            time.sleep(0.1)


# ---- accounts --------------------------------------------------------------

def test_account_status_matches_deliveries_and_last_login(roost):
    sizes = []
    for i in range(3):
        msg = make_message(i, body_lines=5 + i)
        assert lmtp_deliver(roost, "alice@example.test", msg).startswith("250")
    before = roost.api("GET", "/api/v1/accounts/alice%40example.test")
    assert before["last_login"] is None
    inbox = [m for m in before["mailboxes"] if m["name"] == "INBOX"][0]
    assert inbox["messages"] == 3 and inbox["unseen"] == 3
    assert before["quota"]["used_messages"] == 3
    # The sizes the store reports are what IMAP reports (RFC822.SIZE).
    m = imap_session(roost)
    m.select("INBOX")
    typ, data = m.fetch("1:*", "(RFC822.SIZE)")
    sizes = [int(re.search(rb"RFC822.SIZE (\d+)", d).group(1)) for d in data]
    assert sum(sizes) == inbox["bytes"] == before["quota"]["used_bytes"]
    m.store("1", "+FLAGS", "\\Seen")
    m.logout()
    after = roost.api("GET", "/api/v1/accounts/alice@example.test")
    inbox = [m for m in after["mailboxes"] if m["name"] == "INBOX"][0]
    assert inbox["unseen"] == 2
    assert after["status"] == "active"
    assert after["protocols"] == ["imap", "pop3"]
    assert after["quota"]["limit_bytes"] == 10 * 1024 ** 3
    assert after["quota"]["limit_messages"] is None
    assert after["last_login"]["protocol"] == "imap"
    assert after["last_login"]["remote"] == "127.0.0.1"
    # Other accounts' policies and status.
    carol = roost.api("GET", "/api/v1/accounts/carol@example.test")
    assert carol["status"] == "suspended"
    dave = roost.api("GET", "/api/v1/accounts/dave@example.test")
    assert dave["protocols"] == ["pop3"]
    tiny = roost.api("GET", "/api/v1/accounts/tiny@example.test")
    assert tiny["quota"]["limit_bytes"] in (1000, 1024)


def test_last_login_survives_restart(roost):
    p = pop3_session(roost)
    p.quit()
    first = roost.api("GET", "/api/v1/accounts/bob@example.test")["last_login"]
    assert first["protocol"] == "pop3"
    roost.stop()
    saved = json.loads((roost.root / "state" / "last-login.json").read_text())
    assert saved["bob@example.test"]["protocol"] == "pop3"
    roost.start()
    again = roost.api("GET", "/api/v1/accounts/bob@example.test")["last_login"]
    assert again == first


# ---- domains and reload ----------------------------------------------------

def test_domains_and_reload_with_good_and_broken_file(roost):
    doms = roost.api("GET", "/api/v1/domains")["domains"]
    assert sorted(d["domain"] for d in doms) == ["example.test", "other.test"]
    assert all(d["status"] == "loaded" and d["errors"] == [] for d in doms)

    # A new account via an edited file.
    accounts = dict(roost.accounts)
    accounts["newbie"] = {"password": "newbie-pw"}
    roost.write_domain(accounts=accounts)
    rep = roost.api("POST", "/api/v1/reload")
    assert rep["result"] == "ok"
    assert all(f["status"] == "loaded" for f in rep["files"])
    assert roost.api("GET", "/api/v1/accounts/newbie@example.test")["status"] == "active"

    # A broken file: reported with file and line, the old version kept.
    path = roost.root / "domains.d" / "other.test.yaml"
    path.write_text("domain: other.test\naccounts:\n  zed: [unclosed\n")
    status, _, body = roost.request("POST", "/api/v1/reload")
    assert status == 200
    rep = json.loads(body)
    assert rep["result"] == "ok"
    broken = [f for f in rep["files"] if f["file"].endswith("other.test.yaml")][0]
    assert broken["status"] == "broken"
    assert broken["errors"] and broken["errors"][0]["line"] >= 1
    doms = {d["file"]: d for d in roost.api("GET", "/api/v1/domains")["domains"]}
    d = doms[str(path)]
    assert d["status"] == "broken" and d["serving_previous"] is True
    assert d["domain"] == "other.test"
    # The old version still delivers.
    assert lmtp_deliver(roost, "zed@other.test", make_message(1)).startswith("250")
    assert roost.api("GET", "/api/v1/stats")["domains_broken"] == 1

    # A broken main file: 422, nothing changes.
    good = roost.config_path.read_text()
    roost.config_path.write_text(good + "\nnot_a_key: 1\n")
    status, _, body = roost.request("POST", "/api/v1/reload")
    assert status == 422
    rep = json.loads(body)
    assert rep["result"] == "fail" and rep["errors"]
    roost.config_path.write_text(good)


def test_reload_reloads_the_token(roost):
    old = roost.token
    roost.token = secrets.token_hex(8)
    roost.token_file.write_text(roost.token + "\n")
    assert roost.request("POST", "/api/v1/reload", token=old)[0] == 200
    assert roost.request("GET", "/api/v1/stats", token=old)[0] == 401
    assert roost.request("GET", "/api/v1/stats")[0] == 200


# ---- stats -----------------------------------------------------------------

def test_stats_counts_what_happened(roost):
    before = roost.api("GET", "/api/v1/stats")
    m = imap_session(roost)
    m.select("INBOX")
    m.logout()
    with pytest.raises(imaplib.IMAP4.error):
        imap_session(roost, password="wrong")
    assert lmtp_deliver(roost, "bob@example.test", make_message(2)).startswith("250")
    after = roost.api("GET", "/api/v1/stats")
    assert after["version"]
    assert after["uptime_seconds"] >= 0
    assert after["logins"]["ok"] == before["logins"]["ok"] + 1
    assert after["logins"]["fail"] == before["logins"]["fail"] + 1
    assert after["connections"]["total"]["imap"] >= before["connections"]["total"].get("imap", 0) + 2
    assert after["commands"]["imap"] > before["commands"].get("imap", 0)
    assert after["bytes"]["in"]["imap"] > 0 and after["bytes"]["out"]["imap"] > 0
    assert after["deliveries"]["stored"] == before["deliveries"].get("stored", 0) + 1


# ---- unix socket -------------------------------------------------------------

def test_admin_on_unix_socket_and_cli(admin_factory):
    r = admin_factory(admin_unix=True)
    assert oct(os.stat(r.admin_socket).st_mode & 0o777) == "0o600"
    assert r.request("GET", "/api/v1/stats", token="")[0] == 401
    m = imap_session(r)
    try:
        assert len(sessions_of(r, "alice@example.test")) == 1
        who = r.cli_json("who")
        assert any(s["account"] == "alice@example.test" for s in who["sessions"])
        out, _ = r.cli("who")
        assert "alice@example.test" in out and "SESSION" in out
    finally:
        m.logout()
    r.stop()
    assert not r.admin_socket.exists()


# ---- start-up checks ---------------------------------------------------------

def test_missing_or_empty_token_file_stops_start_with_file_and_line(admin_factory):
    r = admin_factory(start=False)
    r.token_file.unlink()
    p = subprocess.run([str(ROOSTD), "-c", str(r.config_path)], capture_output=True, timeout=20)
    assert p.returncode != 0
    err = p.stderr.decode()
    assert re.search(re.escape(str(r.config_path)) + r":\d+: token_file", err), err
    r.token_file.write_text("\n")
    p = subprocess.run([str(ROOSTD), "-c", str(r.config_path)], capture_output=True, timeout=20)
    assert p.returncode != 0 and "empty" in p.stderr.decode()


def test_world_readable_token_file_warns(admin_factory):
    r = admin_factory(start=False)
    os.chmod(r.token_file, 0o644)
    r.start()
    ev = r.wait_for_event("listener", proto="admin")
    assert "readable" in ev["reason"]
    assert r.request("GET", "/api/v1/stats")[0] == 200


# ---- CLI -------------------------------------------------------------------

def test_cli_commands_human_and_json(roost):
    assert lmtp_deliver(roost, "alice@example.test", make_message(1)).startswith("250")
    m = imap_session(roost, client_id=("Cli", "1"))
    try:
        out, _ = roost.cli("who")
        assert "alice@example.test" in out and "Cli/1" in out
        who = roost.cli_json("who")
        assert [s["client_id"] for s in who["sessions"] if s["account"]] == ["Cli/1"]

        out, _ = roost.cli("status", "alice@example.test")
        assert "Account:" in out and "alice@example.test" in out and "INBOX" in out
        st = roost.cli_json("status", "alice@example.test")
        assert st["quota"]["used_messages"] == 1
        out, err = roost.cli("status", "nobody@example.test", expect=1)
        assert "no such account" in err
        st = roost.cli_json("status", "nobody@example.test", expect=1)
        assert st["error"]

        out, _ = roost.cli("kick", "alice@example.test")
        assert "ended 1 session of alice@example.test" in out
        assert poll(lambda: not sessions_of(roost, "alice@example.test"))
        assert roost.cli_json("kick", "alice@example.test") == {
            "account": "alice@example.test", "ended": 0}
    finally:
        try:
            m.logout()
        except Exception:
            pass

    out, _ = roost.cli("reload")
    assert "loaded" in out and "example.test.yaml" in out
    rep = roost.cli_json("reload")
    assert rep["result"] == "ok"
    (roost.root / "domains.d" / "broken.test.yaml").write_text("domain: broken.test\nx: [\n")
    out, _ = roost.cli("reload", expect=1)
    assert "BROKEN" in out and "broken.test.yaml" in out
    rep = roost.cli_json("reload", expect=1)
    assert any(f["status"] == "broken" for f in rep["files"])


def test_cli_failures(admin_factory, tmp_path):
    r = admin_factory()
    # Wrong token in the file: refused, exit 78.
    r.token_file.write_text("not-the-token\n")
    _, err = r.cli("who", expect=78)
    assert "refused the token" in err
    r.token_file.write_text(r.token + "\n")
    # Usage errors.
    r.cli("kick", expect=64)
    r.cli("status", "a@b", "c@d", expect=64)
    r.cli("who", "--bogus", expect=64)
    r.cli("mailbox", "frobnicate", "x", expect=64)
    # Server not running: 69.
    r.stop()
    _, err = r.cli("who", expect=69)
    assert "is roostd running" in err
    # No admin listener at all: 78.
    cfg = r.config_path.read_text()
    r.config_path.write_text(re.sub(r"  - \{ protocol: admin[^\n]*\n", "", cfg))
    _, err = r.cli("who", expect=78)
    assert "no admin listener" in err


# ---- reindex -----------------------------------------------------------------

def uids_and_flags(r, mailbox="INBOX"):
    m = imap_session(r)
    try:
        typ, _ = m.select(mailbox)
        assert typ == "OK"
        typ, data = m.fetch("1:*", "(UID FLAGS)")
        out = []
        for d in data:
            if not d:
                continue
            s = d.decode() if isinstance(d, bytes) else d
            uid = int(re.search(r"UID (\d+)", s).group(1))
            # \Recent belongs to the first session that sees a message.
            flags = " ".join(f for f in re.search(r"FLAGS \(([^)]*)\)", s).group(1).split()
                             if f != "\\Recent")
            out.append((uid, flags))
        typ, st = m.status(mailbox, "(UIDVALIDITY UIDNEXT)")
        return out, st[0]
    finally:
        m.logout()


def test_reindex_after_deleting_the_index_keeps_uids(roost):
    for i in range(6):
        assert lmtp_deliver(roost, "alice@example.test", make_message(i)).startswith("250")
    m = imap_session(roost)
    m.select("INBOX")
    m.store("2", "+FLAGS", "\\Flagged")
    m.store("3", "+FLAGS", "\\Deleted")
    m.expunge()
    m.create("Work")
    m.copy("1", "Work")
    m.logout()
    before_inbox = uids_and_flags(roost)
    before_work = uids_and_flags(roost, "Work")
    index = roost.root / "state" / "index" / "example.test" / "alice"
    assert poll(lambda: (index / "INBOX.idx").exists())
    (index / "INBOX.idx").unlink()

    stats_before = roost.api("GET", "/api/v1/stats")["index_rebuilds"]
    out, err = roost.cli("mailbox", "reindex", "alice@example.test")
    assert "rebuilt" in out and "alice@example.test" in out
    assert "INBOX" in out and "Work" in out
    # Not a tty: plain progress lines.
    assert "INBOX: done" in err and "[" not in err
    assert (index / "INBOX.idx").exists()
    assert uids_and_flags(roost) == before_inbox
    assert uids_and_flags(roost, "Work") == before_work

    rep = roost.cli_json("mailbox", "reindex", "alice@example.test")
    names = {mb["name"]: mb for mb in rep["mailboxes"]}
    assert names["INBOX"]["messages"] == 5 and names["INBOX"]["had_index"] is True
    assert names["Work"]["messages"] == 1
    assert rep["messages"] == sum(mb["messages"] for mb in rep["mailboxes"])
    assert uids_and_flags(roost) == before_inbox
    # The running server sees the same mailbox and can still deliver.
    assert lmtp_deliver(roost, "alice@example.test", make_message(99)).startswith("250")
    after, _ = uids_and_flags(roost)
    assert after[:-1] == before_inbox[0] and after[-1][0] > before_inbox[0][-1][0]
    assert roost.api("GET", "/api/v1/stats")["index_rebuilds"] >= stats_before

    _, err = roost.cli("mailbox", "reindex", "nobody@example.test", expect=1)
    assert "no such account" in err


def test_reindex_progress_bar_on_a_tty(roost):
    for i in range(3):
        assert lmtp_deliver(roost, "bob@example.test", make_message(i)).startswith("250")
    import pty
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execv(str(ROOST), [str(ROOST), "mailbox", "reindex", "-c",
                                  str(roost.config_path), "bob@example.test"])
        finally:
            os._exit(127)
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    text = out.decode()
    assert re.search(r"\[#+\] 3/3 messages", text), text
