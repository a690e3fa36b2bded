"""IMAP NOTIFY (RFC 5465) against the real roostd: changes reach a session
that is simply waiting for its next command (no IDLE) within a second, for
the selected mailbox (EXISTS / FETCH / EXPUNGE) and for other mailboxes
(STATUS, LIST), NOTIFY NONE stops it, and bad requests get the RFC's
answers while the session goes on."""
import re
import socket
import time

from conftest import make_message
from imap_util import ADDR, raw_login, status_of

SUPPORTED = "(MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)"


def read_until(c, pred, timeout=1.0):
    """Lines the server sends on its own until one satisfies pred (or the timeout)."""
    c.s.settimeout(timeout)
    got = []
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            c.s.settimeout(max(0.01, deadline - time.time()))
            line = c.line()
            if not line:
                break
            got.append(line)
            if pred(line):
                return got
    except (socket.timeout, TimeoutError):
        # A timed-out file object refuses further reads: start a new one (the
        # server writes whole lines, so nothing half-read is lost).
        c.f = c.s.makefile("rb")
    finally:
        c.s.settimeout(10)
    return got


def quiet(c, timeout=0.7):
    """Whatever arrives unasked within the timeout (expected: nothing)."""
    return read_until(c, lambda l: False, timeout)


def append(c, mailbox, msg, flags=""):
    tag = c.tag()
    c.send(f"{tag} APPEND {mailbox} {flags}{{{len(msg)}+}}\r\n".encode() + msg + b"\r\n")
    r = c.until_tagged(tag)
    assert status_of(r) == "OK", r
    return r


def notify_ok(c, args):
    r = c.cmd("NOTIFY " + args)
    assert status_of(r) == "OK", r
    return r


def test_capability_lists_notify(roost):
    c = raw_login(roost)
    caps = [l for l in c.cmd("CAPABILITY") if l.startswith("* CAPABILITY")][0].split()
    assert "NOTIFY" in caps


def test_selected_changes_pushed_without_idle(roost):
    a = raw_login(roost)
    a.ok("SELECT INBOX")
    notify_ok(a, "SET (selected (MessageNew MessageExpunge FlagChange))")
    b = raw_login(roost)
    # A new message by another session's APPEND.
    t0 = time.time()
    append(b, "INBOX", make_message(1))
    got = read_until(a, lambda l: l == "* 1 EXISTS", 1.5)
    assert "* 1 EXISTS" in got, got
    assert time.time() - t0 < 1.5
    # One by roost deliver (another program writing the Maildir).
    t0 = time.time()
    assert roost.deliver(ADDR, make_message(2)).returncode == 0
    got = read_until(a, lambda l: l == "* 2 EXISTS", 1.5)
    assert "* 2 EXISTS" in got, got
    assert time.time() - t0 < 1.5
    # Flags changed elsewhere: FETCH with UID and FLAGS (RFC 5465 5.1).
    b.ok("SELECT INBOX")
    b.ok("STORE 1 +FLAGS (\\Flagged)")
    got = read_until(a, lambda l: " FETCH " in l, 1.5)
    fetches = [l for l in got if " FETCH " in l]
    assert fetches and fetches[0].startswith("* 1 FETCH ("), got
    assert "UID 1" in fetches[0] and "\\Flagged" in fetches[0], fetches
    # An expunge elsewhere: EXPUNGE at once (selected, not selected-delayed).
    b.ok("STORE 1 +FLAGS (\\Deleted)")
    b.ok("EXPUNGE")
    got = read_until(a, lambda l: l == "* 1 EXPUNGE", 1.5)
    assert "* 1 EXPUNGE" in got, got
    # The session goes on, and its view agrees.
    r = a.cmd("UID FETCH 1:* (UID)")
    assert status_of(r) == "OK", r
    assert [l for l in r if " FETCH " in l] == ["* 1 FETCH (UID 2)"], r


def test_message_new_fetch_attributes(roost):
    a = raw_login(roost)
    a.ok("SELECT INBOX")
    notify_ok(a, "SET (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (Subject)]) "
                 "MessageExpunge))")
    assert roost.deliver(ADDR, make_message(5, subject="Pushed subject")).returncode == 0
    got = read_until(a, lambda l: " FETCH " in l, 2.0)
    assert "* 1 EXISTS" in got, got
    fetch = [l for l in got if " FETCH " in l]
    assert fetch and fetch[0].startswith("* 1 FETCH (UID 1 BODY[HEADER.FIELDS (Subject)]"), got
    assert "Subject: Pushed subject" in fetch[0], fetch
    # PEEK: \Seen stays off.
    r = a.cmd("UID FETCH 1 (FLAGS)")
    assert "\\Seen" not in " ".join(r), r


def test_selected_delayed_keeps_expunges_for_a_command_that_allows_them(roost):
    for i in range(2):
        assert roost.deliver(ADDR, make_message(i)).returncode == 0
    a = raw_login(roost)
    a.ok("SELECT INBOX")
    notify_ok(a, "SET (selected-delayed (MessageNew MessageExpunge FlagChange))")
    b = raw_login(roost)
    b.ok("SELECT INBOX")
    b.ok("STORE 1 +FLAGS (\\Deleted)")
    b.ok("EXPUNGE")
    got = quiet(a, 1.0)
    assert not any("EXPUNGE" in l for l in got), got
    # FETCH by number does not allow it either (the message is gone: no data,
    # NO [EXPUNGEISSUED], docs/IMAP.md); NOOP does.
    r = a.cmd("FETCH 1 (UID)")
    assert status_of(r) == "NO" and "[EXPUNGEISSUED]" in r[-1], r
    assert not any("EXPUNGE " in l or l.endswith("EXPUNGE") for l in r), r
    r = a.cmd("NOOP")
    assert "* 1 EXPUNGE" in r, r
    # New messages still come at once.
    append(b, "INBOX", make_message(9))
    got = read_until(a, lambda l: l.endswith(" EXISTS"), 1.5)
    assert "* 2 EXISTS" in got, got


def test_status_for_other_subscribed_mailbox(roost):
    a = raw_login(roost)
    a.ok("CREATE Work")
    a.ok("SUBSCRIBE Work")
    a.ok("CREATE Other")
    a.ok("SELECT INBOX")
    notify_ok(a, "SET (selected (MessageNew MessageExpunge)) (subscribed (MessageNew MessageExpunge))")
    # roost deliver into the subscribed mailbox.
    t0 = time.time()
    assert roost.deliver(ADDR, make_message(1), mailbox="Work").returncode == 0
    got = read_until(a, lambda l: l.startswith("* STATUS"), 1.5)
    st = [l for l in got if l.startswith("* STATUS")]
    assert st, got
    assert time.time() - t0 < 1.5
    assert re.fullmatch(r"\* STATUS Work \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 1\)",
                        st[0]), st
    # APPEND by another session.
    b = raw_login(roost)
    append(b, "Work", make_message(2), flags="(\\Seen) ")
    got = read_until(a, lambda l: l.startswith("* STATUS"), 1.5)
    st = [l for l in got if l.startswith("* STATUS")]
    assert st and re.fullmatch(
        r"\* STATUS Work \(MESSAGES 2 UIDNEXT 3 UIDVALIDITY \d+ UNSEEN 1\)", st[0]), got
    # A mailbox no filter names stays silent.
    append(b, "Other", make_message(3))
    assert not any(l.startswith("* STATUS") for l in quiet(a)), "Other is not watched"
    # An expunge in Work.
    b.ok("SELECT Work")
    b.ok("STORE 1 +FLAGS (\\Deleted)")
    b.ok("EXPUNGE")
    got = read_until(a, lambda l: l.startswith("* STATUS"), 1.5)
    st = [l for l in got if l.startswith("* STATUS")]
    assert st and "MESSAGES 1 " in st[0], got
    # With CONDSTORE on, HIGHESTMODSEQ comes along.
    a.ok("ENABLE CONDSTORE")
    b.ok("STORE 1 +FLAGS (\\Flagged)")  # no FlagChange asked: nothing
    assert not any(l.startswith("* STATUS") for l in quiet(a))
    append(b, "Work", make_message(4))
    got = read_until(a, lambda l: l.startswith("* STATUS"), 1.5)
    st = [l for l in got if l.startswith("* STATUS")]
    assert st and "HIGHESTMODSEQ " in st[0], got


def test_notify_set_status_sends_initial_status(roost):
    a = raw_login(roost)
    a.ok("CREATE Lists")
    a.ok("CREATE Lists/one")
    a.ok("CREATE Lists/two")
    assert roost.deliver(ADDR, make_message(1), mailbox="Lists/one").returncode == 0
    r = a.cmd("NOTIFY SET STATUS (subtree Lists (MessageNew MessageExpunge FlagChange))")
    assert status_of(r) == "OK", r
    st = sorted(l for l in r if l.startswith("* STATUS"))
    assert len(st) == 3, r
    assert st[1].startswith("* STATUS Lists/one (MESSAGES 1 UIDNEXT 2 UIDVALIDITY "), st
    # Flag changes in a watched mailbox (FlagChange asked).
    b = raw_login(roost)
    b.ok("SELECT Lists/one")
    b.ok("STORE 1 +FLAGS (\\Seen)")
    got = read_until(a, lambda l: l.startswith("* STATUS"), 1.5)
    st = [l for l in got if l.startswith("* STATUS")]
    assert st and st[0].startswith("* STATUS Lists/one (MESSAGES 1 ") and "UNSEEN 0" in st[0], got


def test_list_on_create_rename_delete_and_subscription_change(roost):
    a = raw_login(roost)
    notify_ok(a, "SET (personal (MailboxName SubscriptionChange))")
    b = raw_login(roost)
    b.ok("CREATE Foo")
    got = read_until(a, lambda l: l.startswith("* LIST"), 1.5)
    assert '* LIST (\\HasNoChildren) "/" Foo' in got, got
    b.ok("RENAME Foo Bar")
    got = read_until(a, lambda l: l.startswith("* LIST"), 1.5)
    assert '* LIST (\\HasNoChildren) "/" Bar ("OLDNAME" (Foo))' in got, got
    b.ok("SUBSCRIBE Bar")
    got = read_until(a, lambda l: l.startswith("* LIST"), 1.5)
    assert '* LIST (\\HasNoChildren \\Subscribed) "/" Bar' in got, got
    b.ok("UNSUBSCRIBE Bar")
    got = read_until(a, lambda l: l.startswith("* LIST"), 1.5)
    assert '* LIST (\\HasNoChildren) "/" Bar' in got, got
    b.ok("DELETE Bar")
    got = read_until(a, lambda l: l.startswith("* LIST"), 1.5)
    assert '* LIST (\\NonExistent) "/" Bar' in got, got
    # The session's own changes are not reported back to it (RFC 5465 5).
    a.ok("CREATE Mine")
    assert not any(l.startswith("* LIST") for l in quiet(a)), "own CREATE"
    # Names outside the filter stay silent.
    notify_ok(a, "SET (mailboxes Watched (MailboxName))")
    b.ok("CREATE Unwatched")
    assert not any(l.startswith("* LIST") for l in quiet(a))
    b.ok("CREATE Watched")
    got = read_until(a, lambda l: l.startswith("* LIST"), 1.5)
    assert '* LIST (\\HasNoChildren) "/" Watched' in got, got


def test_notify_none_stops_notifications(roost):
    a = raw_login(roost)
    a.ok("SELECT INBOX")
    notify_ok(a, "SET (selected (MessageNew MessageExpunge)) (personal (MailboxName))")
    assert roost.deliver(ADDR, make_message(1)).returncode == 0
    assert "* 1 EXISTS" in read_until(a, lambda l: l == "* 1 EXISTS", 1.5)
    r = a.cmd("NOTIFY NONE")
    assert status_of(r) == "OK", r
    assert roost.deliver(ADDR, make_message(2)).returncode == 0
    b = raw_login(roost)
    b.ok("CREATE Later")
    assert quiet(a, 1.0) == []
    # Base IMAP still announces at the next command.
    r = a.cmd("NOOP")
    assert "* 2 EXISTS" in r, r


def test_failure_paths(roost):
    a = raw_login(roost)
    r = a.cmd("NOTIFY SET (personal (MessageNew MessageExpunge AnnotationChange))")
    assert r[-1].split(" ", 3)[1:3] == ["NO", "[BADEVENT"], r
    assert f"[BADEVENT {SUPPORTED}]" in r[-1], r
    r = a.cmd("NOTIFY SET (personal (MailboxMetadataChange))")
    assert status_of(r) == "NO" and "[BADEVENT " in r[-1], r
    for bad in ["NOTIFY", "NOTIFY SET", "NOTIFY SET STATUS", "NOTIFY NONE extra",
                "NOTIFY SET (personal)", "NOTIFY SET (everywhere (MailboxName))",
                "NOTIFY SET (personal (MessageNew))",
                "NOTIFY SET (personal (FlagChange))",
                "NOTIFY SET (selected (MailboxName))",
                "NOTIFY SET (selected NONE) (selected-delayed NONE)",
                "NOTIFY SET (personal (MessageNew (UID) MessageExpunge))",
                "NOTIFY SET (personal (MailboxName)"]:
        r = a.cmd(bad)
        assert status_of(r) == "BAD", (bad, r)
    # Not before login.
    c = raw_login(roost)
    c.ok("LOGOUT")
    from imap_util import RawImap
    pre = RawImap(roost.ports["imap"])
    r = pre.cmd("NOTIFY NONE")
    assert status_of(r) == "BAD", r
    # The session goes on normally.
    assert status_of(a.cmd("NOOP")) == "OK"
    notify_ok(a, "SET (inboxes (MessageNew MessageExpunge))")
    notify_ok(a, "NONE")


def test_idle_and_notify_together(roost):
    """IDLE still works with NOTIFY on; other mailboxes' STATUS arrives during IDLE."""
    a = raw_login(roost)
    a.ok("CREATE Work")
    a.ok("SELECT INBOX")
    notify_ok(a, "SET (selected (MessageNew MessageExpunge)) (mailboxes Work (MessageNew MessageExpunge))")
    tag = a.tag()
    a.send(f"{tag} IDLE\r\n".encode())
    assert a.line().startswith("+")
    assert roost.deliver(ADDR, make_message(1)).returncode == 0
    assert "* 1 EXISTS" in read_until(a, lambda l: l == "* 1 EXISTS", 1.5)
    assert roost.deliver(ADDR, make_message(2), mailbox="Work").returncode == 0
    got = read_until(a, lambda l: l.startswith("* STATUS"), 1.5)
    assert any(l.startswith("* STATUS Work (MESSAGES 1 ") for l in got), got
    a.send(b"DONE\r\n")
    assert status_of(a.until_tagged(tag)) == "OK"
    assert roost.deliver(ADDR, make_message(3)).returncode == 0
    assert "* 2 EXISTS" in read_until(a, lambda l: l == "* 2 EXISTS", 1.5)


def test_mailboxes_beyond_the_watch_cap_are_polled(roost_factory):
    """With no inotify watches allowed, other mailboxes are re-checked every idle_poll."""
    roost = roost_factory(limits={"notify_watch_mailboxes": 0, "idle_poll": "1s"}).start()
    a = raw_login(roost)
    a.ok("CREATE Work")
    notify_ok(a, "SET (mailboxes Work (MessageNew MessageExpunge))")
    assert roost.deliver(ADDR, make_message(1), mailbox="Work").returncode == 0
    got = read_until(a, lambda l: l.startswith("* STATUS"), 3.0)
    assert any(l.startswith("* STATUS Work (MESSAGES 1 ") for l in got), got
