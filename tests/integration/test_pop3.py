"""POP3 end to end: the real roostd on loopback, Python's poplib, curl, raw sockets."""
import os
import poplib
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import client_tls_context, make_message

ADDR = "alice@example.test"


def pop_plain(r):
    return poplib.POP3("127.0.0.1", r.ports["pop3"], timeout=10)


def pop_login(r, user="alice", domain="example.test", tls="implicit"):
    if tls == "implicit":
        p = poplib.POP3_SSL("127.0.0.1", r.ports["pop3s"], context=client_tls_context(), timeout=10)
    elif tls == "stls":
        p = pop_plain(r)
        p.stls(context=client_tls_context())
    else:
        p = pop_plain(r)
    p.user(f"{user}@{domain}")
    p.pass_(r.password(user))
    return p


def deliver_n(r, n, address=ADDR, start=1, **kw):
    for i in range(start, start + n):
        res = r.deliver(address, make_message(i, **kw))
        assert res.returncode == 0, res.stderr


def files_in(maildir):
    out = []
    for sub in ("cur", "new"):
        d = maildir / sub
        if d.exists():
            out += [f for f in d.iterdir() if f.is_file()]
    return out


class Raw:
    """A raw POP3 line client for edge cases poplib hides."""

    def __init__(self, port, tls=False):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        if tls:
            s = client_tls_context().wrap_socket(s)
        self.s = s
        self.f = s.makefile("rb")
        self.greeting = self.line()

    def send(self, data: bytes):
        self.s.sendall(data)

    def line(self):
        return self.f.readline().decode(errors="replace").rstrip("\r\n")

    def cmd(self, text):
        self.send(text.encode() + b"\r\n")
        return self.line()

    def multi(self):
        lines = []
        while True:
            l = self.line()
            if l == ".":
                return lines
            lines.append(l)

    def closed(self):
        try:
            return self.f.readline() == b""
        except (ConnectionResetError, ssl.SSLError):
            return True

    def close(self):
        self.s.close()


# ---- download and delete over every door -----------------------------------

def test_pop3s_download_and_delete(roost):
    deliver_n(roost, 3)
    p = pop_login(roost)
    count, size = p.stat()
    assert count == 3
    resp, lines, octets = p.retr(1)
    assert resp.startswith(b"+OK")
    assert b"Subject: Message 1" in lines
    for i in (1, 2, 3):
        p.dele(i)
    assert p.quit().startswith(b"+OK")
    assert files_in(roost.maildir("alice")) == []
    p = pop_login(roost)
    assert p.stat() == (0, 0)
    p.quit()


def test_stls_then_login(roost):
    deliver_n(roost, 1)
    p = pop_plain(roost)
    caps = p.capa()
    assert "STLS" in caps
    p.stls(context=client_tls_context())
    caps = p.capa()
    assert "STLS" not in caps
    assert "USER" in caps
    p.user(ADDR)
    p.pass_(roost.password("alice"))
    assert p.stat()[0] == 1
    p.quit()
    assert roost.wait_for_event("tls")["version"].startswith("TLSv1.")


def test_curl_pop3s(roost):
    deliver_n(roost, 2)
    base = f"pop3s://127.0.0.1:{roost.ports['pop3s']}"
    auth = f"{ADDR}:{roost.password('alice')}"
    out = subprocess.run(["curl", "-sS", "-k", "--max-time", "20", "-u", auth, base + "/"],
                         capture_output=True, check=True).stdout.decode()
    assert out.split("\r\n")[0].startswith("1 ")
    out = subprocess.run(["curl", "-sS", "-k", "--max-time", "20", "-u", auth, base + "/2"],
                         capture_output=True, check=True).stdout.decode()
    assert "Subject: Message 2" in out


def test_capa_lists_rfc2449_items(roost):
    p = pop_login(roost)
    caps = p.capa()
    for c in ("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "IMPLEMENTATION"):
        assert c in caps
    p.quit()


def test_auth_plain_and_login(roost):
    import base64
    r = Raw(roost.ports["pop3s"], tls=True)
    blob = base64.b64encode(b"\0" + ADDR.encode() + b"\0" + roost.password("alice").encode())
    assert r.cmd("AUTH PLAIN " + blob.decode()).startswith("+OK")
    assert r.cmd("QUIT").startswith("+OK")
    r = Raw(roost.ports["pop3s"], tls=True)
    assert r.cmd("AUTH LOGIN") == "+ VXNlcm5hbWU6"
    assert r.cmd(base64.b64encode(ADDR.encode()).decode()) == "+ UGFzc3dvcmQ6"
    assert r.cmd(base64.b64encode(roost.password("alice").encode()).decode()).startswith("+OK")
    assert r.cmd("QUIT").startswith("+OK")
    r = Raw(roost.ports["pop3s"], tls=True)
    assert r.cmd("AUTH PLAIN").startswith("+")
    assert r.cmd("*").startswith("-ERR")
    r.cmd("QUIT")


def test_password_with_spaces_and_case_insensitive_login(roost):
    p = poplib.POP3_SSL("127.0.0.1", roost.ports["pop3s"], context=client_tls_context())
    p.user("Bob@EXAMPLE.Test")
    p.pass_(roost.password("bob"))
    p.quit()
    p = poplib.POP3_SSL("127.0.0.1", roost.ports["pop3s"], context=client_tls_context())
    p.user("alice@example.org")  # alias domain
    p.pass_(roost.password("alice"))
    p.quit()


# ---- sizes, UIDL, TOP ----------------------------------------------------------

def test_sizes_count_crlf_and_dot_stuffing(roost):
    msg = b"Subject: dots\n\n.leading dot\n..two\nlast line without newline"
    assert roost.deliver(ADDR, msg).returncode == 0
    expected_size = len(msg.replace(b"\n", b"\r\n"))
    p = pop_login(roost)
    assert p.stat() == (1, expected_size)
    assert p.list(1).split()[2] == str(expected_size).encode()
    resp, lines, octets = p.retr(1)
    assert lines == [b"Subject: dots", b"", b".leading dot", b"..two", b"last line without newline"]
    resp, lines, _ = p.top(1, 1)
    assert lines == [b"Subject: dots", b"", b".leading dot"]
    p.quit()


def test_uidl_stable_across_sessions_and_index_loss(roost_factory):
    r = roost_factory().start()
    deliver_n(r, 4)
    p = pop_login(r)
    first = p.uidl()[1]
    p.dele(2)
    p.quit()
    r.stop()
    import shutil
    shutil.rmtree(r.root / "state" / "index", ignore_errors=True)
    r.start()
    p = pop_login(r)
    second = p.uidl()[1]
    p.quit()
    before = [l.split()[1] for l in first]
    after = [l.split()[1] for l in second]
    assert after == [before[0]] + before[2:]
    assert len(set(before)) == 4


# ---- new mail: by hand and by roost deliver, during a session --------------------

def test_maildir_written_by_hand_is_served(roost):
    md = roost.maildir("alice")
    p = pop_login(roost)  # creates the Maildir
    p.quit()
    (md / "new" / "1700000000.hand1.host").write_bytes(make_message(1))
    (md / "cur" / "1700000001.hand2.host:2,S").write_bytes(make_message(2, body_lines=10))
    p = pop_login(roost)
    assert p.stat()[0] == 2
    subjects = []
    for i in (1, 2):
        _, lines, _ = p.retr(i)
        subjects += [l for l in lines if l.startswith(b"Subject:")]
    assert sorted(subjects) == [b"Subject: Message 1", b"Subject: Message 2"]
    p.quit()


def test_delivery_during_session_appears_in_next(roost):
    deliver_n(roost, 2)
    p = pop_login(roost)
    assert p.stat()[0] == 2
    deliver_n(roost, 1, start=3)
    assert p.stat()[0] == 2
    assert len(p.list()[1]) == 2
    p.dele(1)
    p.quit()
    p = pop_login(roost)
    assert p.stat()[0] == 2
    subjects = [l for l in p.retr(2)[1] if l.startswith(b"Subject")]
    assert subjects == [b"Subject: Message 3"]
    p.quit()


# ---- on_delete policies ----------------------------------------------------------

def test_on_delete_expunge_removes_file(roost):
    deliver_n(roost, 2)
    p = pop_login(roost)
    p.dele(1)
    p.quit()
    assert len(files_in(roost.maildir("alice"))) == 1


def test_on_delete_hide_keeps_file(roost):
    deliver_n(roost, 2, address="bob@example.test")
    p = pop_login(roost, user="bob")
    p.dele(1)
    p.quit()
    assert len(files_in(roost.maildir("bob"))) == 2
    p = pop_login(roost, user="bob")
    assert p.stat()[0] == 1
    p.quit()


def test_on_delete_archive_moves_to_archive(roost):
    deliver_n(roost, 2, address="carol@example.test")
    p = pop_login(roost, user="carol")
    p.dele(2)
    p.quit()
    md = roost.maildir("carol")
    assert len(files_in(md)) == 1
    assert len(files_in(md / ".Archive")) == 1
    p = pop_login(roost, user="carol")
    assert p.stat()[0] == 1
    p.quit()


def test_rset_unmarks(roost):
    deliver_n(roost, 2)
    p = pop_login(roost)
    p.dele(1)
    assert p.stat()[0] == 1
    p.rset()
    assert p.stat()[0] == 2
    p.quit()
    assert len(files_in(roost.maildir("alice"))) == 2


# ---- lock, states, bad input --------------------------------------------------------

def test_second_session_gets_in_use(roost):
    p = pop_login(roost)
    q = poplib.POP3_SSL("127.0.0.1", roost.ports["pop3s"], context=client_tls_context())
    q.user(ADDR)
    with pytest.raises(poplib.error_proto, match=r"\[IN-USE\]"):
        q.pass_(roost.password("alice"))
    p.quit()
    q.close()
    p = pop_login(roost)  # lock released at QUIT
    p.quit()


def test_commands_in_wrong_state(roost):
    r = Raw(roost.ports["pop3s"], tls=True)
    line = r.cmd("STAT")
    assert line.startswith("-ERR") and "AUTHORIZATION" in line
    assert r.cmd("PASS x").startswith("-ERR")
    assert r.cmd("FOO").startswith("-ERR")
    assert r.cmd("RETR 1").startswith("-ERR")
    r.cmd("QUIT")


def test_bad_message_numbers(roost):
    deliver_n(roost, 1)
    p = pop_login(roost)
    for bad in ("0", "2", "-1", "abc", "99999999999"):
        with pytest.raises(poplib.error_proto):
            p.retr(bad)
    p.dele(1)
    with pytest.raises(poplib.error_proto, match="deleted"):
        p.retr(1)
    p.quit()


def test_line_too_long_then_disconnect(roost):
    r = Raw(roost.ports["pop3s"], tls=True)
    r.send(b"NOOP " + b"x" * 20000 + b"\r\n")
    assert r.line().startswith("-ERR")
    r.send(b"NOOP " + b"x" * 20000 + b"\r\n")
    assert r.line().startswith("-ERR")
    assert r.closed()


def test_pipelining(roost):
    deliver_n(roost, 2)
    r = Raw(roost.ports["pop3s"], tls=True)
    r.send(f"USER {ADDR}\r\nPASS {roost.password('alice')}\r\nSTAT\r\nUIDL\r\nQUIT\r\n".encode())
    assert r.line().startswith("+OK")
    assert r.line().startswith("+OK")
    assert r.line() .startswith("+OK")
    assert r.line().startswith("+OK")
    assert len(r.multi()) == 2
    assert r.line().startswith("+OK")


def test_stls_discards_pipelined_plaintext(roost):
    r = Raw(roost.ports["pop3"])
    # A command injected after STLS in the same packet must not run.
    r.send(b"STLS\r\nUSER injected@example.test\r\n")
    assert r.line().startswith("+OK")
    s = client_tls_context().wrap_socket(r.s)
    f = s.makefile("rb")
    s.sendall(b"PASS whatever\r\n")
    assert f.readline().startswith(b"-ERR")  # no USER was recorded
    s.close()


# ---- plaintext policy and login refusals ----------------------------------------

def test_plaintext_refused_without_tls(roost_factory):
    r = roost_factory(plaintext_auth="tls_only").start()
    p = pop_plain(r)
    caps = p.capa()
    assert "USER" not in caps and "STLS" in caps
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\].*TLS"):
        p.user(ADDR)
    p.quit()
    p = pop_login(r, tls="stls")
    p.quit()
    r.wait_for_event("login", result="ok")


def test_refusals_say_why(roost):
    for user, pattern in (("dave", r"suspended"), ("erin", r"POP3 access is disabled")):
        p = poplib.POP3_SSL("127.0.0.1", roost.ports["pop3s"], context=client_tls_context())
        p.user(f"{user}@example.test")
        with pytest.raises(poplib.error_proto, match=pattern):
            p.pass_(roost.password(user))
        p.close()
    ev = roost.wait_for_event("login", user="dave@example.test")
    assert ev["result"] == "fail"


def test_unknown_user_and_wrong_password_look_the_same(roost):
    answers = []
    for user, pw in (("nobody@example.test", "x"), (ADDR, "wrong")):
        p = poplib.POP3_SSL("127.0.0.1", roost.ports["pop3s"], context=client_tls_context())
        p.user(user)
        t0 = time.monotonic()
        with pytest.raises(poplib.error_proto) as e:
            p.pass_(pw)
        answers.append((str(e.value), time.monotonic() - t0))
        p.close()
    assert answers[0][0] == answers[1][0]
    assert answers[0][1] >= 0.18 and answers[1][1] >= 0.18  # auth_failure_delay: 200ms


def test_brute_force_is_slowed_but_others_are_not(roost):
    delays = []
    p = poplib.POP3_SSL("127.0.0.1", roost.ports["pop3s"], context=client_tls_context())
    for i in range(4):
        p.user(ADDR)
        t0 = time.monotonic()
        with pytest.raises(poplib.error_proto):
            p.pass_(f"guess{i}")
        delays.append(time.monotonic() - t0)
    p.close()
    # 200ms, 400ms, 800ms (cap) ...: growing, capped
    assert delays[1] >= 0.38 and delays[2] >= 0.75
    # The right password for another user from the same address is answered at once.
    t0 = time.monotonic()
    q = pop_login(roost, user="bob")
    assert time.monotonic() - t0 < 0.75
    q.quit()
    # No password is ever logged.
    text = roost.log_path.read_text()
    assert "guess1" not in text and roost.password("alice") not in text


# ---- TLS failures and config errors ---------------------------------------------

def test_failed_handshake_is_logged_and_others_unaffected(roost):
    s = socket.create_connection(("127.0.0.1", roost.ports["pop3s"]))
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    s.settimeout(5)
    try:
        while s.recv(4096):
            pass
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    roost.wait_for_event("tls", result="fail")
    p = pop_login(roost)
    p.quit()


def test_malformed_config_exits_1_with_file_and_line(tmp_path):
    from conftest import ROOSTD
    cfg = tmp_path / "roost.yaml"
    cfg.write_text("server:\n  hostname: x\n  bogus_key: 1\nlimits:\n  line_length: many\n")
    r = subprocess.run([str(ROOSTD), "-c", str(cfg)], capture_output=True, text=True)
    assert r.returncode == 1
    assert f"{cfg}:3:" in r.stderr
    assert f"{cfg}:5:" in r.stderr
    r = subprocess.run([str(ROOSTD), "--check-config", "-c", str(cfg)], capture_output=True,
                       text=True)
    assert r.returncode == 1
    assert f"{cfg}:3:" in r.stdout + r.stderr


# ---- signals ----------------------------------------------------------------------

def test_sigterm_mid_session_deletes_nothing(roost):
    deliver_n(roost, 3)
    p = pop_login(roost)
    for i in (1, 2, 3):
        p.dele(i)
    assert roost.stop() == 0
    assert len(files_in(roost.maildir("alice"))) == 3
    roost.wait_for_event("stopped")


def test_sighup_reload_adds_account_and_kicks_changed(roost):
    p = pop_login(roost, user="bob")
    accounts = dict(roost.accounts)
    accounts["frank"] = {"password": "frank-pw"}
    accounts["bob"] = {"password": "bob-new-password"}
    roost.accounts = accounts
    roost.write_domain()
    ev = roost.reload()
    assert ev["result"] == "ok"
    # bob's session ends: his password changed.
    with pytest.raises((poplib.error_proto, OSError, EOFError)):
        p.stat()
        p.stat()
    q = pop_login(roost, user="frank")
    q.quit()
    # A broken domain file keeps the last good version.
    roost.write_domain(text="domain: example.test\naccounts: [this is: broken\n")
    ev = roost.reload()
    q = pop_login(roost, user="frank")
    q.quit()
    assert roost.count_events("domain") >= 1


def test_kill_9_during_quit_leaves_messages_whole_or_gone(roost_factory):
    r = roost_factory().start()
    deliver_n(r, 40, body_lines=200)
    originals = {f.name.split(",")[0]: f.read_bytes() for f in files_in(r.maildir("alice"))}
    p = pop_login(r)
    for i in range(1, 41):
        p.dele(i)
    p._putcmd("QUIT")
    r.kill9()
    remaining = files_in(r.maildir("alice"))
    for f in remaining:
        assert f.read_bytes() == originals[f.name.split(",")[0]] or \
            f.read_bytes() in originals.values()
    assert not list((r.maildir("alice") / "tmp").iterdir())
    r.start()
    p = pop_login(r)
    assert p.stat()[0] == len(remaining)
    p.quit()


def test_idle_timeout_closes_without_update(roost_factory):
    r = roost_factory(limits={"idle_timeout": "{ pop3: 1s, preauth: 1s }"}).start()
    deliver_n(r, 1)
    p = pop_login(r)
    p.dele(1)
    time.sleep(2.5)
    with pytest.raises((poplib.error_proto, OSError, EOFError)):
        p.stat()
    assert len(files_in(r.maildir("alice"))) == 1


def test_big_message_streams(roost):
    body = b"".join(b"%06d " % i + b"y" * 90 + b"\n" for i in range(60000))  # ~5.7 MB
    msg = b"Subject: big\n\n" + body
    assert roost.deliver(ADDR, msg).returncode == 0
    p = pop_login(roost)
    _, lines, octets = p.retr(1)
    assert len(lines) == 60002
    p.quit()


# ---- connection caps and certificate reload --------------------------------------

def test_connections_per_ip_cap(roost_factory):
    r = roost_factory(limits={"connections_per_ip": 3}).start()
    held = [Raw(r.ports["pop3"]) for _ in range(3)]
    assert all(h.greeting.startswith("+OK") for h in held)
    extra = Raw(r.ports["pop3"])
    assert extra.greeting.startswith("-ERR") and "Too many connections" in extra.greeting
    assert extra.closed()
    held[0].cmd("QUIT")
    held[0].close()
    time.sleep(0.3)
    again = Raw(r.ports["pop3"])
    assert again.greeting.startswith("+OK")


def test_connections_per_user_ip_cap(roost_factory):
    r = roost_factory(limits={"connections_per_user_ip": 1}).start()
    p = pop_login(r)
    q = poplib.POP3_SSL("127.0.0.1", r.ports["pop3s"], context=client_tls_context())
    q.user(ADDR)
    with pytest.raises(poplib.error_proto, match="Too many connections"):
        q.pass_(r.password("alice"))
    q.close()
    p.quit()
    time.sleep(0.3)
    p = pop_login(r)
    p.quit()


def served_certificate(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with client_tls_context().wrap_socket(s) as t:
            return t.getpeercert(binary_form=True)


def test_sighup_reloads_certificates(roost):
    before = served_certificate(roost.ports["pop3s"])
    tls = roost.root / "tls"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=reloaded",
                    "-keyout", str(tls / "key.new"), "-out", str(tls / "cert.new")],
                   check=True, capture_output=True)
    p = pop_login(roost)  # a session open across the reload keeps working
    os.replace(tls / "key.new", tls / "key.pem")
    os.replace(tls / "cert.new", tls / "cert.pem")
    assert roost.reload()["result"] == "ok"
    after = served_certificate(roost.ports["pop3s"])
    assert after != before
    assert p.stat() == (0, 0)
    p.quit()


def test_proxy_protocol_listener_without_trusted_networks_greets_nobody(tmp_path):
    # proxy_protocol is supported (tests/integration/test_proxy.py); with the
    # default trusted_networks (none) every connection is closed unanswered.
    from conftest import ROOSTD, free_port
    cfg = tmp_path / "roost.yaml"
    (tmp_path / "domains.d").mkdir()
    port = free_port()
    cfg.write_text("server: { state_dir: st }\nlisteners:\n"
                   f"  - {{ protocol: pop3, address: 127.0.0.1, port: {port}, "
                   "proxy_protocol: true }\nstore: { path: \"m/{domain}/{user}\" }\n")
    p = subprocess.Popen([str(ROOSTD), "-c", str(cfg)], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 15
        while True:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                assert p.poll() is None and time.time() < deadline
                time.sleep(0.1)
        with s:
            assert s.recv(100) == b""
    finally:
        p.terminate()
        p.wait(timeout=15)
