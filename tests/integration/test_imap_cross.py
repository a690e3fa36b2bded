"""Several sessions on one account: two IMAP sessions on one mailbox, POP3 next to IMAP.

What one session changes, the other learns at its next command that may announce it
(NOOP here), never during FETCH/STORE/SEARCH by sequence number (RFC 3501 7.4.1).
"""
import poplib
import re

from conftest import client_tls_context, make_message
from imap_util import ADDR, crlf, deliver_all, poll, raw_login, status_of


def pop_login(r, user="alice"):
    p = poplib.POP3_SSL("127.0.0.1", r.ports["pop3s"], context=client_tls_context(), timeout=10)
    p.user(f"{user}@example.test")
    p.pass_(r.password(user))
    return p


def deliver_n(r, n, address=ADDR, start=1):
    deliver_all(r, [make_message(i) for i in range(start, start + n)], address=address)


def expunges(lines):
    return [int(m.group(1)) for l in lines for m in [re.match(r"^\* (\d+) EXPUNGE$", l)] if m]


def uids(c):
    r = c.cmd("FETCH 1:* UID")
    return [int(re.search(r"UID (\d+)", l).group(1)) for l in r if "FETCH" in l and "UID" in l]


def noop_until(c, pred, timeout=5):
    """NOOPs until pred(lines of one NOOP) is true; returns those lines (or the last ones)."""
    seen = []

    def step():
        r = c.cmd("NOOP")
        seen.append(r)
        return r if pred(r) else None

    got = poll(step, timeout=timeout, step=0.1)
    return got or seen[-1]


# ---- two IMAP sessions on one mailbox ---------------------------------------

def test_two_sessions_flags_expunge_append(roost):
    deliver_n(roost, 3)
    a = raw_login(roost)
    b = raw_login(roost)
    a.ok("SELECT INBOX")
    r = b.cmd("SELECT INBOX")
    assert "* 3 EXISTS" in r
    # a flag set by A shows up in B as an unsolicited FETCH FLAGS
    a.ok("STORE 1 +FLAGS.SILENT (\\Flagged)")
    r = noop_until(b, lambda r: any(l.startswith("* 1 FETCH") for l in r))
    f = [l for l in r if l.startswith("* 1 FETCH")]
    assert f and "\\Flagged" in f[0], r
    # an expunge by A is an EXPUNGE in B
    a.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    r = a.cmd("EXPUNGE")
    assert expunges(r) == [2], r
    r = noop_until(b, lambda r: expunges(r))
    assert expunges(r) == [2], r
    assert uids(b) == [1, 3]
    # an APPEND by A is an EXISTS in B
    msg = crlf(make_message(10))
    r = a.cmd(b"APPEND INBOX {%d+}\r\n%s" % (len(msg), msg))
    assert status_of(r) == "OK" and "[APPENDUID " in r[-1], r
    r = noop_until(b, lambda r: "* 3 EXISTS" in r)
    assert "* 3 EXISTS" in r, r
    assert uids(b) == [1, 3, 4]
    # a delivery by the MDA likewise, to both
    deliver_n(roost, 1, start=20)
    r = noop_until(b, lambda r: "* 4 EXISTS" in r)
    assert "* 4 EXISTS" in r, r
    r = noop_until(a, lambda r: "* 4 EXISTS" in r)
    assert "* 4 EXISTS" in r, r
    # \Recent goes to one session only (IMAP4rev1)
    ra = [l for l in a.cmd("FETCH 4 FLAGS") if "FETCH" in l][0]
    rb = [l for l in b.cmd("FETCH 4 FLAGS") if "FETCH" in l][0]
    assert ("\\Recent" in ra) + ("\\Recent" in rb) <= 1, (ra, rb)


def test_read_only_session_sees_changes(roost):
    deliver_n(roost, 2)
    a = raw_login(roost)
    b = raw_login(roost)
    a.ok("SELECT INBOX")
    b.ok("EXAMINE INBOX")
    a.ok("STORE 2 +FLAGS.SILENT (\\Seen \\Answered)")
    r = noop_until(b, lambda r: any(l.startswith("* 2 FETCH") for l in r))
    f = [l for l in r if l.startswith("* 2 FETCH")]
    assert f and "\\Seen" in f[0] and "\\Answered" in f[0], r
    a.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    a.ok("CLOSE")
    r = noop_until(b, lambda r: expunges(r))
    assert expunges(r) == [1], r


def test_no_expunge_during_fetch_store_search(roost):
    deliver_n(roost, 4)
    a = raw_login(roost)
    b = raw_login(roost)
    a.ok("SELECT INBOX")
    b.ok("SELECT INBOX")
    a.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    r = a.cmd("EXPUNGE")
    assert expunges(r) == [2], r
    # B still counts 4 messages; FETCH by sequence number must not send EXPUNGE
    r = b.cmd("FETCH 1:* FLAGS")
    assert status_of(r) in ("OK", "NO"), r
    assert not expunges(r), r
    assert any(l.startswith("* 1 FETCH") for l in r) and any(l.startswith("* 4 FETCH") for l in r)
    r = b.cmd("STORE 3 +FLAGS (\\Flagged)")
    assert not expunges(r), r
    assert any(l.startswith("* 3 FETCH") and "\\Flagged" in l for l in r), r
    r = b.cmd("SEARCH ALL")
    assert not expunges(r), r
    assert status_of(r) == "OK"
    # the following NOOP does announce it
    r = b.cmd("NOOP")
    assert expunges(r) == [2], r
    r = b.cmd("FETCH 1:* UID")
    assert [l for l in r if "FETCH" in l] == ["* 1 FETCH (UID 1)", "* 2 FETCH (UID 3)",
                                               "* 3 FETCH (UID 4)"], r
    r = b.cmd("FETCH 2 FLAGS")
    assert "\\Flagged" in r[0], r  # the STORE by sequence number hit UID 3


def test_fetch_of_message_expunged_elsewhere(roost):
    """RFC 2180 4.1: a FETCH of a message expunged by another session answers without an
    EXPUNGE. Roost sends the messages that still exist, nothing made up for the gone one,
    and a tagged NO [EXPUNGEISSUED] (RFC 5530)."""
    deliver_n(roost, 3)
    a = raw_login(roost)
    b = raw_login(roost)
    a.ok("SELECT INBOX")
    b.ok("SELECT INBOX")
    a.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    a.ok("EXPUNGE")
    r = b.cmd("FETCH 2 (BODY.PEEK[] FLAGS)")
    assert status_of(r) == "NO" and "[EXPUNGEISSUED]" in r[-1] and not expunges(r), r
    assert not any(l.startswith("* 2 FETCH") for l in r), r
    r = b.cmd("FETCH 1:3 BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
    assert not expunges(r), r
    assert "Subject: Message 1" in " ".join(r) and "Subject: Message 3" in " ".join(r), r
    assert not any(l.startswith("* 2 FETCH") for l in r), r
    assert "[EXPUNGEISSUED]" in r[-1], r
    r = b.cmd("UID FETCH 1:* FLAGS")  # UID commands may announce the expunge
    assert status_of(r) == "OK"
    r += b.cmd("NOOP")
    assert expunges(r) == [2], r


def test_uid_store_and_copy_of_expunged_uid(roost):
    deliver_n(roost, 2)
    a = raw_login(roost)
    b = raw_login(roost)
    a.ok("SELECT INBOX")
    b.ok("SELECT INBOX")
    a.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    a.ok("EXPUNGE")
    r = b.cmd("UID STORE 1 +FLAGS (\\Seen)")
    assert status_of(r) in ("OK", "NO"), r
    r = b.cmd("UID COPY 1:2 Trash")
    assert status_of(r) in ("OK", "NO"), r
    r = b.cmd("STATUS Trash (MESSAGES)")
    assert re.search(r"MESSAGES [01]\)", r[0]), r
    r = b.cmd("NOOP")
    assert uids(b) == [2]


def test_mailbox_deleted_under_selected_session(roost):
    a = raw_login(roost)
    b = raw_login(roost)
    a.ok("CREATE Shared")
    b.ok("SELECT Shared")
    a.ok("DELETE Shared")
    r = b.cmd("NOOP")
    # the session either stays usable or says BYE; it must not crash the server
    assert status_of(r) in ("OK", "NO") or r[0].startswith("* BYE"), r
    c = raw_login(roost)
    assert status_of(c.cmd("NOOP")) == "OK"


# ---- POP3 and IMAP on one account ---------------------------------------------

def test_pop3_dele_expunge_shows_in_imap(roost):
    deliver_n(roost, 3)
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    p = pop_login(roost)
    assert p.stat()[0] == 3
    p.dele(1)
    p.quit()
    r = noop_until(c, lambda r: expunges(r))
    assert expunges(r) == [1], r
    assert uids(c) == [2, 3]
    r = c.cmd("STATUS INBOX (MESSAGES)")
    assert "MESSAGES 2" in r[0]


def test_pop3_without_quit_deletes_nothing_in_imap(roost):
    deliver_n(roost, 2)
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    p = pop_login(roost)
    p.dele(1)
    p.sock.close()
    r = c.cmd("NOOP")
    r += c.cmd("NOOP")
    assert not expunges(r), r
    assert uids(c) == [1, 2]


def test_pop3_dele_hide_keeps_message_in_imap(roost):
    deliver_n(roost, 3, address="bob@example.test")
    c = raw_login(roost, user="bob")
    c.ok("SELECT INBOX")
    p = pop_login(roost, "bob")
    p.dele(1)
    p.quit()
    r = c.cmd("NOOP")
    r += c.cmd("NOOP")
    assert not expunges(r), r
    assert uids(c) == [1, 2, 3]
    r = c.cmd("STATUS INBOX (MESSAGES)")
    assert "MESSAGES 3" in r[0]
    p = pop_login(roost, "bob")
    assert p.stat()[0] == 2
    p.quit()


def test_pop3_dele_archive_moves_for_imap(roost):
    deliver_n(roost, 2, address="carol@example.test")
    c = raw_login(roost, user="carol")
    c.ok("SELECT INBOX")
    p = pop_login(roost, "carol")
    p.dele(2)
    p.quit()
    r = noop_until(c, lambda r: expunges(r))
    assert expunges(r) == [2], r
    r = c.cmd("STATUS Archive (MESSAGES)")
    assert "MESSAGES 1" in r[0], r
    c.ok("EXAMINE Archive")
    r = c.cmd("FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
    assert "Subject: Message 2" in " ".join(r), r


def test_imap_expunge_removes_from_pop3(roost):
    deliver_n(roost, 3)
    p = pop_login(roost)
    uidls_before = [l.split()[1] for l in p.uidl()[1]]
    p.quit()
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    c.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    c.ok("EXPUNGE")
    p = pop_login(roost)
    assert p.stat()[0] == 2
    uidls = [l.split()[1] for l in p.uidl()[1]]
    assert uidls == [uidls_before[0], uidls_before[2]]
    assert b"Subject: Message 3" in b"\n".join(p.retr(2)[1])
    p.quit()


def test_imap_deleted_flag_without_expunge_stays_in_pop3(roost):
    deliver_n(roost, 2)
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    p = pop_login(roost)
    assert p.stat()[0] == 2
    p.quit()


def test_pop3_retr_sets_seen_in_imap(roost):
    deliver_n(roost, 2)
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    r = c.cmd("FETCH 1:2 FLAGS")
    assert not any("\\Seen" in l for l in r)
    p = pop_login(roost)
    p.retr(1)
    p.quit()
    r = noop_until(c, lambda r: any(l.startswith("* 1 FETCH") for l in r))
    f = [l for l in r if l.startswith("* 1 FETCH")]
    assert f and "\\Seen" in f[0], r
    r = c.cmd("FETCH 2 FLAGS")
    assert "\\Seen" not in r[0]
    c2 = raw_login(roost)
    r = c2.cmd("STATUS INBOX (UNSEEN)")
    assert "UNSEEN 1" in r[0], r


def test_imap_append_visible_to_pop3(roost):
    c = raw_login(roost)
    msg = crlf(make_message(5))
    r = c.cmd(b"APPEND INBOX {%d+}\r\n%s" % (len(msg), msg))
    assert status_of(r) == "OK"
    p = pop_login(roost)
    assert p.stat() == (1, len(msg))
    lines = p.retr(1)[1]
    assert b"\r\n".join(lines) + b"\r\n" == msg
    p.quit()
