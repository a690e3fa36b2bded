"""IMAP IDLE (RFC 2177) against the real roostd: changes from every path reach
an idling session within a second, DONE ends it, keepalives and the idle
timeout follow the configuration."""
import poplib
import shutil
import socket
import time

from conftest import client_tls_context, make_message
from imap_util import ADDR, RawImap, raw_login, status_of


def idle_start(c):
    tag = c.tag()
    c.send(f"{tag} IDLE\r\n".encode())
    first = c.line()
    assert first.startswith("+"), first
    return tag


def read_until(c, pred, timeout=1.0):
    """Untagged lines read until one satisfies pred (or the timeout)."""
    c.s.settimeout(timeout)
    got = []
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            line = c.line()
            if not line:
                break
            got.append(line)
            if pred(line):
                return got
    except (socket.timeout, TimeoutError):
        pass
    finally:
        c.s.settimeout(10)
    return got


def idle_done(c, tag):
    c.send(b"DONE\r\n")
    lines = c.until_tagged(tag)
    assert status_of(lines) == "OK", lines
    return lines


def test_idle_sees_roost_deliver_within_a_second(roost):
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    tag = idle_start(c)
    t0 = time.time()
    r = roost.deliver(ADDR, make_message(1))
    assert r.returncode == 0, r.stderr
    got = read_until(c, lambda l: l == "* 1 EXISTS", timeout=1.5)
    assert "* 1 EXISTS" in got, got
    assert time.time() - t0 < 1.5
    idle_done(c, tag)
    # The session goes on normally afterwards.
    assert status_of(c.cmd("FETCH 1 (UID)")) == "OK"


def test_idle_sees_maildir_drop_from_another_program(roost):
    c = raw_login(roost)
    c.ok("SELECT INBOX")  # creates the Maildir
    tag = idle_start(c)
    md = roost.maildir("alice")
    tmp = md / "tmp" / "outside.1"
    tmp.write_bytes(make_message(7))
    shutil.move(str(tmp), str(md / "new" / "1700000000.outside.host"))
    got = read_until(c, lambda l: l.endswith(" EXISTS"), timeout=1.5)
    assert "* 1 EXISTS" in got, got
    idle_done(c, tag)


def test_idle_sees_other_sessions_flags_and_expunge(roost):
    for i in range(3):
        roost.deliver(ADDR, make_message(i))
    a = raw_login(roost)
    a.ok("SELECT INBOX")
    b = raw_login(roost)
    b.ok("SELECT INBOX")
    tag = idle_start(a)
    b.ok("STORE 2 +FLAGS (\\Flagged)")
    got = read_until(a, lambda l: "FETCH" in l, timeout=1.5)
    assert any(l.startswith("* 2 FETCH") and "\\Flagged" in l for l in got), got
    b.ok("STORE 1 +FLAGS (\\Deleted)")
    b.ok("EXPUNGE")
    got = read_until(a, lambda l: l == "* 1 EXPUNGE", timeout=1.5)
    assert "* 1 EXPUNGE" in got, got
    b.ok("NOOP")
    idle_done(a, tag)
    r = a.cmd("FETCH 1:* (UID)")
    assert len([l for l in r if " FETCH " in l]) == 2, r


def test_idle_sees_pop3_expunge(roost):
    for i in range(2):
        roost.deliver(ADDR, make_message(i))
    a = raw_login(roost)
    a.ok("SELECT INBOX")
    tag = idle_start(a)
    p = poplib.POP3_SSL("127.0.0.1", roost.ports["pop3s"], context=client_tls_context())
    p.user(ADDR)
    p.pass_(roost.password("alice"))
    p.dele(1)
    p.quit()
    got = read_until(a, lambda l: l == "* 1 EXPUNGE", timeout=1.5)
    assert "* 1 EXPUNGE" in got, got
    idle_done(a, tag)


def test_idle_in_authenticated_state_and_bad_continuation(roost):
    c = raw_login(roost)
    tag = idle_start(c)
    c.send(b"NOTDONE\r\n")
    lines = c.until_tagged(tag)
    assert status_of(lines) == "BAD", lines
    tag = idle_start(c)
    idle_done(c, tag)
    assert status_of(c.cmd("NOOP")) == "OK"


def test_idle_done_mid_burst(roost):
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    tag = idle_start(c)
    for i in range(5):
        roost.deliver(ADDR, make_message(i))
    c.send(b"DONE\r\n")
    lines = c.until_tagged(tag)
    assert status_of(lines) == "OK", lines
    r = c.cmd("NOOP")
    exists = [l for l in lines + r if l.endswith(" EXISTS")]
    assert exists and exists[-1] == "* 5 EXISTS", lines + r


def test_idle_keepalive_and_timeout(roost_factory):
    r = roost_factory(limits={"idle_keepalive": "300ms", "idle_poll": "10s",
                              "idle_timeout": "{ imap: 2s, pop3: 10m, lmtp: 5m, preauth: 1m }"}).start()
    c = raw_login(r)
    c.ok("SELECT INBOX")
    idle_start(c)
    got = read_until(c, lambda l: l.startswith("* OK Still here"), timeout=2)
    assert any(l.startswith("* OK Still here") for l in got), got
    # No DONE: the session is logged out after the idle timeout.
    got = read_until(c, lambda l: l.startswith("* BYE"), timeout=5)
    assert any(l.startswith("* BYE") for l in got), got
    assert c.closed()


def test_keepalive_sent_although_polls_are_more_frequent(roost_factory):
    # A quiet poll (nothing changed) must not postpone the keepalive: with
    # the defaults (poll 30 s, keepalive 2 min) it otherwise never came.
    r = roost_factory(limits={"idle_keepalive": "600ms", "idle_poll": "150ms"}).start()
    c = raw_login(r)
    c.ok("SELECT INBOX")
    idle_start(c)
    got = read_until(c, lambda l: l.startswith("* OK Still here"), timeout=3)
    assert any(l.startswith("* OK Still here") for l in got), got


def test_sigterm_ends_idling_sessions_at_once(roost):
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    idle_start(c)
    t0 = time.time()
    assert roost.stop() == 0
    # shutdown_grace is 3 s in the test config: an idling session must not
    # hold the shutdown that long.
    assert time.time() - t0 < 2.5
    got = read_until(c, lambda l: l.startswith("* BYE"), timeout=1)
    assert any(l.startswith("* BYE") for l in got), got
