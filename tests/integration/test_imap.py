"""IMAP end to end: the real roostd on loopback, Python's imaplib and raw sockets.

Every command and its failure paths, with assertions on the server's actual
responses (RFC 3501 / RFC 9051 and the extensions Roost announces).
"""
import base64
import imaplib
import re

import pytest

from conftest import client_tls_context, make_message
from imap_util import (ADDR, PASS, MALFORMED, RawImap, crlf, deliver_all, imap_login,
                       make_varied, parse_fetch, poll, raw_login, status_of, varied_messages)


def b64(s: bytes) -> str:
    return base64.b64encode(s).decode()


def caps_of(line):
    m = re.search(r"\[CAPABILITY ([^\]]*)\]", line) or re.search(r"^\* CAPABILITY (.*)$", line)
    assert m, line
    return set(m.group(1).upper().split())


def cap_line(lines):
    return [l for l in lines if l.startswith("* CAPABILITY")][0]


def deliver(r, *msgs, address=ADDR, mailbox=None):
    deliver_all(r, list(msgs), address=address, mailbox=mailbox)


def selected(r, mailbox="INBOX", examine=False):
    c = raw_login(r)
    c.ok(f"{'EXAMINE' if examine else 'SELECT'} {mailbox}")
    return c


# ---- greeting, capabilities, TLS --------------------------------------------

def test_greeting_and_capability_plaintext_allowed(roost):
    c = RawImap(roost.ports["imap"])
    assert c.greeting.startswith("* OK ")
    caps = caps_of(c.greeting)
    assert {"IMAP4REV1", "STARTTLS", "AUTH=PLAIN", "SASL-IR"} <= caps
    assert "LOGINDISABLED" not in caps
    r = c.cmd("CAPABILITY")
    assert status_of(r) == "OK"
    assert caps_of(cap_line(r)) == caps
    r = c.login()
    after = caps_of(r[-1]) if "[CAPABILITY" in r[-1] else caps_of(cap_line(c.cmd("CAPABILITY")))
    assert {"IMAP4REV1", "UIDPLUS", "MOVE", "NAMESPACE", "UNSELECT", "SPECIAL-USE",
            "LIST-EXTENDED", "CHILDREN", "BINARY"} <= after
    assert "STARTTLS" not in after and "LOGINDISABLED" not in after
    assert not any(x.startswith("AUTH=") for x in after)
    r = c.cmd("CAPABILITY")
    assert caps_of(cap_line(r)) == after
    assert c.cmd("LOGOUT")[0].startswith("* BYE")


def test_tls_only_plaintext_port(roost_factory):
    r = roost_factory(plaintext_auth="tls_only").start()
    c = RawImap(r.ports["imap"])
    caps = caps_of(c.greeting)
    assert "LOGINDISABLED" in caps and "STARTTLS" in caps
    assert not any(x.startswith("AUTH=") for x in caps)
    res = c.cmd(f'LOGIN {ADDR} {PASS}')
    assert status_of(res) == "NO" and "[PRIVACYREQUIRED]" in res[-1], res
    res = c.cmd("AUTHENTICATE PLAIN " + b64(f"\0{ADDR}\0{PASS}".encode()))
    assert status_of(res) == "NO" and "[PRIVACYREQUIRED]" in res[-1], res
    # STARTTLS: a fresh capability list shows AUTH= and no LOGINDISABLED/STARTTLS
    c.starttls()
    caps = caps_of(cap_line(c.cmd("CAPABILITY")))
    assert "AUTH=PLAIN" in caps and "LOGINDISABLED" not in caps and "STARTTLS" not in caps
    c.login()
    assert status_of(c.cmd("SELECT INBOX")) == "OK"


def test_starttls_with_imaplib_then_login(roost_factory):
    r = roost_factory(plaintext_auth="tls_only").start()
    m = imap_login(r, how="starttls")
    typ, data = m.select("INBOX")
    assert typ == "OK" and data == [b"0"]
    m.logout()


def test_starttls_twice_and_after_login_is_bad(roost):
    c = RawImap(roost.ports["imap"])
    c.starttls()
    assert status_of(c.cmd("STARTTLS")) == "BAD"
    c.login()
    assert status_of(c.cmd("STARTTLS")) == "BAD"


def test_starttls_command_pipelined_plaintext_is_discarded(roost):
    """Bytes sent after STARTTLS in the same packet must not be executed (command injection)."""
    c = RawImap(roost.ports["imap"])
    c.send(b"a STARTTLS\r\nb CAPABILITY\r\n")
    l = c.line()
    assert l.startswith("a OK"), l
    s = client_tls_context().wrap_socket(c.s)
    f = s.makefile("rb")
    s.sendall(b"c NOOP\r\n")
    line = f.readline().decode()
    # The first thing after the handshake must be our own NOOP's answer, not "b ..."
    assert line.startswith("c OK"), line
    s.close()


def test_imaps_port(roost):
    c = RawImap(roost.ports["imaps"], tls=True)
    caps = caps_of(c.greeting)
    assert "STARTTLS" not in caps and "AUTH=PLAIN" in caps and "LOGINDISABLED" not in caps
    c.login()
    m = imap_login(roost)
    assert m.select("INBOX")[0] == "OK"
    m.logout()


def test_login_wrong_password(roost):
    c = RawImap(roost.ports["imaps"], tls=True)
    r = c.cmd(f"LOGIN {ADDR} wrong")
    assert status_of(r) == "NO" and "[AUTHENTICATIONFAILED]" in r[-1], r
    r = c.cmd("LOGIN nobody@example.test wrong")
    assert status_of(r) == "NO" and "[AUTHENTICATIONFAILED]" in r[-1], r
    # the session continues in not-authenticated state
    assert status_of(c.cmd("SELECT INBOX")) == "BAD"
    c.login()
    m = imaplib.IMAP4_SSL("127.0.0.1", roost.ports["imaps"], ssl_context=client_tls_context())
    with pytest.raises(imaplib.IMAP4.error):
        m.login(ADDR, "nope")


def test_login_suspended(roost):
    c = RawImap(roost.ports["imaps"], tls=True)
    r = c.cmd("LOGIN dave@example.test dave-pw")
    assert status_of(r) == "NO" and "[CONTACTADMIN]" in r[-1], r


def test_login_imap_only_and_alias_domain(roost):
    c = RawImap(roost.ports["imaps"], tls=True)
    c.login("erin@example.test", "erin-pw")
    c = RawImap(roost.ports["imaps"], tls=True)
    c.login("ALICE@example.org", PASS)


def test_login_quoted_and_literal_password(roost):
    c = RawImap(roost.ports["imaps"], tls=True)
    pw = roost.password("bob").encode()
    c.send(b"a LOGIN bob@example.test {%d}\r\n" % len(pw))
    assert c.line().startswith("+")
    c.send(pw + b"\r\n")
    assert c.until_tagged("a")[-1].startswith("a OK")
    c = RawImap(roost.ports["imaps"], tls=True)
    c.send(b"a LOGIN bob@example.test {%d+}\r\n%s\r\n" % (len(pw), pw))
    assert c.until_tagged("a")[-1].startswith("a OK")


def test_authenticate_plain_sasl_ir(roost):
    c = RawImap(roost.ports["imaps"], tls=True)
    r = c.cmd("AUTHENTICATE PLAIN " + b64(f"\0{ADDR}\0{PASS}".encode()))
    assert status_of(r) == "OK", r
    assert status_of(c.cmd("SELECT INBOX")) == "OK"


def test_authenticate_plain_continuation(roost):
    c = RawImap(roost.ports["imaps"], tls=True)
    c.send(b"a AUTHENTICATE PLAIN\r\n")
    l = c.line()
    assert l.startswith("+"), l
    c.send(b64(f"\0{ADDR}\0{PASS}".encode()).encode() + b"\r\n")
    assert c.until_tagged("a")[-1].startswith("a OK")


def test_authenticate_plain_wrong_password(roost):
    c = RawImap(roost.ports["imaps"], tls=True)
    r = c.cmd("AUTHENTICATE PLAIN " + b64(f"\0{ADDR}\0bad".encode()))
    assert status_of(r) == "NO" and "[AUTHENTICATIONFAILED]" in r[-1], r


def test_authenticate_login(roost):
    c = RawImap(roost.ports["imaps"], tls=True)
    c.send(b"a AUTHENTICATE LOGIN\r\n")
    l = c.line()
    assert l.startswith("+ "), l
    c.send(b64(ADDR.encode()).encode() + b"\r\n")
    l = c.line()
    assert l.startswith("+ "), l
    c.send(b64(PASS.encode()).encode() + b"\r\n")
    assert c.until_tagged("a")[-1].startswith("a OK")
    # imaplib's own AUTHENTICATE PLAIN path
    m = imaplib.IMAP4_SSL("127.0.0.1", roost.ports["imaps"], ssl_context=client_tls_context())
    typ, _ = m.authenticate("PLAIN", lambda _: f"\0{ADDR}\0{PASS}".encode())
    assert typ == "OK"


def test_authenticate_cancel_and_bad_base64(roost):
    c = RawImap(roost.ports["imaps"], tls=True)
    c.send(b"a AUTHENTICATE PLAIN\r\n")
    assert c.line().startswith("+")
    c.send(b"*\r\n")
    r = c.until_tagged("a")
    assert r[-1].startswith("a BAD"), r
    c.send(b"b AUTHENTICATE PLAIN\r\n")
    assert c.line().startswith("+")
    c.send(b"%%%not-base64%%%\r\n")
    r = c.until_tagged("b")
    assert r[-1].startswith("b BAD") or r[-1].startswith("b NO"), r
    r = c.cmd("AUTHENTICATE X-UNKNOWN-MECH")
    assert status_of(r) == "NO", r
    c.login()


def test_wrong_state_commands_are_bad(roost):
    # fewer than limits.bad_commands (10) per connection
    c = RawImap(roost.ports["imap"])
    for cmd in ("SELECT INBOX", "LIST \"\" *", "FETCH 1 FLAGS", "EXPUNGE", "CREATE x",
                "STATUS INBOX (MESSAGES)"):
        assert status_of(c.cmd(cmd)) == "BAD", cmd
    assert status_of(c.cmd("NOOP")) == "OK"
    c = raw_login(roost, tls=False)
    for cmd in ("FETCH 1 FLAGS", "STORE 1 +FLAGS (\\Seen)", "EXPUNGE", "CLOSE", "SEARCH ALL",
                "UID FETCH 1 FLAGS", "COPY 1 Trash", "UNSELECT"):
        assert status_of(c.cmd(cmd)) == "BAD", cmd
    assert status_of(c.cmd("NOOP")) == "OK"
    c = raw_login(roost, tls=False)
    assert status_of(c.cmd(f"LOGIN {ADDR} {PASS}")) == "BAD"
    assert status_of(c.cmd("AUTHENTICATE PLAIN " + b64(f"\0{ADDR}\0{PASS}".encode()))) == "BAD"
    assert status_of(c.cmd("NOOP")) == "OK"


def test_unknown_command_and_syntax_errors(roost):
    c = RawImap(roost.ports["imaps"], tls=True)
    r = c.cmd("FROBNICATE now")
    assert status_of(r) == "BAD", r
    assert status_of(c.cmd("NOOP")) == "OK"
    c.login()
    for bad in ("SELECT", "FETCH 1:* (FLAGS", "FETCH x FLAGS", "STORE 1 FLAGS", "LIST \"\"",
                "STATUS INBOX MESSAGES", "SELECT \"unterminated", "FETCH 1 NOSUCHATT"):
        r = c.cmd(bad)
        assert status_of(r) == "BAD", (bad, r)
    # an empty line: ignored or answered with an untagged BAD; the session goes on
    c.send(b"\r\nn NOOP\r\n")
    r = c.until_tagged("n")
    assert r[-1].startswith("n OK") and all(l.startswith("* BAD") for l in r[:-1]), r


def test_too_many_bad_commands_disconnect(roost_factory):
    r = roost_factory(limits={"bad_commands": 3}).start()
    c = RawImap(r.ports["imap"])
    for _ in range(2):
        assert status_of(c.cmd("BOGUS")) == "BAD"
    c.send(b"x BOGUS\r\n")
    assert c.closed()


def test_line_too_long_then_disconnect(roost_factory):
    r = roost_factory(limits={"line_length": "1KiB", "line_length_preauth": "1KiB"}).start()
    c = raw_login(r)
    long = "a" * 3000
    res = c.cmd(f"SELECT {long}")
    assert status_of(res) == "BAD", res
    assert status_of(c.cmd("NOOP")) == "OK"
    c.send(f"z SELECT {long}\r\n".encode())
    lines = []
    while True:
        l = c.raw_line()
        if not l:
            break
        lines.append(l.decode(errors="replace"))
    assert any(l.startswith("* BYE") for l in lines), lines
    assert c.closed()


def test_literal_too_big(roost_factory):
    r = roost_factory(limits={"literal_size": "1KiB"}).start()
    c = raw_login(r)
    # synchronising: NO [TOOBIG] instead of the continuation
    c.send(b"a APPEND INBOX {5000}\r\n")
    l = c.line()
    assert l.startswith("a NO") and "[TOOBIG]" in l, l
    assert status_of(c.cmd("NOOP")) == "OK"
    # non-synchronising: BAD [TOOBIG], the literal's bytes are skipped, the session goes on
    c.send(b"b APPEND INBOX {2000+}\r\n" + b"x" * 2000 + b"\r\n")
    r2 = c.until_tagged("b")
    assert r2[-1].startswith("b BAD") and "[TOOBIG]" in r2[-1], r2
    assert status_of(c.cmd("NOOP")) == "OK"
    st = c.cmd("STATUS INBOX (MESSAGES)")
    assert "MESSAGES 0" in st[0], st
    # within the limit still works
    msg = crlf(make_message(1))
    c.send(b"c APPEND INBOX {%d+}\r\n%s\r\n" % (len(msg), msg))
    assert c.until_tagged("c")[-1].startswith("c OK")


def test_logout_and_noop(roost):
    c = raw_login(roost)
    assert status_of(c.cmd("NOOP")) == "OK"
    assert status_of(c.cmd("CHECK")) == "BAD"  # not selected
    c.ok("SELECT INBOX")
    assert status_of(c.cmd("CHECK")) == "OK"
    r = c.cmd("LOGOUT")
    assert r[0].startswith("* BYE") and status_of(r) == "OK"
    assert c.closed()


def test_id_and_enable(roost):
    c = RawImap(roost.ports["imaps"], tls=True)
    r = c.cmd('ID ("name" "pytest" "version" "1")')
    assert status_of(r) == "OK" and any(l.startswith("* ID ") for l in r), r
    c.login()
    r = c.cmd("ENABLE X-NOTHING")
    assert status_of(r) == "OK", r


# ---- SELECT / EXAMINE ---------------------------------------------------------

def test_select_responses(roost):
    deliver(roost, make_message(1), make_message(2))
    c = raw_login(roost)
    r = c.cmd("SELECT INBOX")
    assert status_of(r) == "OK" and "[READ-WRITE]" in r[-1], r
    flags = [l for l in r if l.startswith("* FLAGS")]
    assert flags and all(f in flags[0] for f in ("\\Seen", "\\Answered", "\\Flagged",
                                                  "\\Deleted", "\\Draft"))
    perm = [l for l in r if "[PERMANENTFLAGS" in l]
    assert perm and "\\*" in perm[0]
    assert "* 2 EXISTS" in r
    uv = [l for l in r if "[UIDVALIDITY " in l]
    assert uv and int(re.search(r"UIDVALIDITY (\d+)", uv[0]).group(1)) > 0
    assert any("[UIDNEXT 3]" in l for l in r), r
    r2 = c.cmd("EXAMINE INBOX")
    assert status_of(r2) == "OK" and "[READ-ONLY]" in r2[-1], r2
    assert "* 2 EXISTS" in r2
    assert [l for l in r2 if "[UIDVALIDITY " in l] == uv
    # UIDVALIDITY is stable across sessions
    c2 = raw_login(roost)
    r3 = c2.cmd("SELECT INBOX")
    assert [l for l in r3 if "[UIDVALIDITY " in l] == uv


def test_select_nonexistent(roost):
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    r = c.cmd("SELECT NoSuchBox")
    assert status_of(r) == "NO" and "[NONEXISTENT]" in r[-1], r
    # a failed SELECT leaves the authenticated state (RFC 3501 6.3.1)
    assert status_of(c.cmd("FETCH 1 FLAGS")) == "BAD"
    r = c.cmd("EXAMINE NoSuchBox")
    assert status_of(r) == "NO" and "[NONEXISTENT]" in r[-1], r


def test_select_inbox_case_insensitive(roost):
    deliver(roost, make_message(1))
    c = raw_login(roost)
    r = c.cmd("SELECT inbox")
    assert status_of(r) == "OK" and "* 1 EXISTS" in r


def test_select_other_mailbox_sends_closed(roost):
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    r = c.cmd("SELECT Trash")
    assert status_of(r) == "OK"
    # RFC 9051 / QRESYNC: [CLOSED] is optional in IMAP4rev1; the new mailbox is selected.
    assert "* 0 EXISTS" in r


# ---- mailbox management -------------------------------------------------------

def list_names(c, ref='""', pat='"*"'):
    r = c.cmd(f"LIST {ref} {pat}")
    assert status_of(r) == "OK", r
    out = {}
    for l in r[:-1]:
        m = re.match(r'^\* LIST \(([^)]*)\) (?:"/"|NIL) (.*)$', l)
        assert m, l
        name = m.group(2)
        if name.startswith('"'):
            name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        out[name] = set(m.group(1).split())
    return out


def test_list_special_use_on_new_account(roost):
    c = raw_login(roost)
    names = list_names(c)
    for box, attr in (("Drafts", "\\Drafts"), ("Sent", "\\Sent"), ("Trash", "\\Trash"),
                      ("Junk", "\\Junk"), ("Archive", "\\Archive")):
        assert box in names, names
        assert attr in names[box], (box, names[box])
    assert "INBOX" in names
    # these really exist: SELECT works
    for box in ("Drafts", "Sent", "Trash", "Junk", "Archive"):
        assert status_of(c.cmd(f"SELECT {box}")) == "OK"


def test_list_reference_and_empty_pattern(roost):
    c = raw_login(roost)
    r = c.cmd('LIST "" ""')
    assert status_of(r) == "OK"
    assert r[0] == '* LIST (\\Noselect) "/" ""', r
    c.ok("CREATE a/b/c")
    names = list_names(c, '""', '"a/%"')
    assert set(names) == {"a/b"}
    assert "\\HasChildren" in names["a/b"]
    names = list_names(c, '"a/"', '"%"')
    assert set(names) == {"a/b"}
    names = list_names(c, '""', '"a/*"')
    assert set(names) == {"a/b", "a/b/c"}
    assert "\\HasNoChildren" in names["a/b/c"]
    names = list_names(c, '""', '"%"')
    assert "a" in names and "a/b" not in names
    names = list_names(c, '""', "INBOX")
    assert set(names) == {"INBOX"}


def test_list_extended(roost):
    c = raw_login(roost)
    c.ok("CREATE Projects/One")
    c.ok("SUBSCRIBE Projects/One")
    r = c.cmd('LIST "" "*" RETURN (SPECIAL-USE)')
    assert status_of(r) == "OK"
    assert any("\\Sent" in l and "Sent" in l for l in r), r
    r = c.cmd('LIST (SPECIAL-USE) "" "*"')
    assert status_of(r) == "OK"
    names = [l for l in r if l.startswith("* LIST")]
    assert len(names) == 5, r  # only the special-use mailboxes
    assert not any("INBOX" in l or "Projects" in l for l in names)
    r = c.cmd('LIST (SUBSCRIBED) "" "*"')
    assert status_of(r) == "OK"
    sub = [l for l in r if l.startswith("* LIST")]
    assert any("Projects/One" in l and "\\Subscribed" in l for l in sub), r
    assert not any(l.endswith(" Junk") for l in sub) or all("\\Subscribed" in l for l in sub)
    r = c.cmd('LIST "" "*" RETURN (CHILDREN)')
    assert any("\\HasChildren" in l and l.endswith(" Projects") for l in r), r
    assert any("\\HasNoChildren" in l and l.endswith("Projects/One") for l in r), r
    r = c.cmd('LIST "" ("INBOX" "Projects/*") RETURN (CHILDREN SPECIAL-USE)')
    assert status_of(r) == "OK"
    got = sorted(l.rsplit(" ", 1)[1] for l in r if l.startswith("* LIST"))
    assert got == ["INBOX", "Projects/One"], r
    r = c.cmd('LIST "" "*" RETURN (SUBSCRIBED)')
    assert any("\\Subscribed" in l and "Projects/One" in l for l in r), r


def test_list_status(roost):
    """LIST-STATUS (RFC 5819): a STATUS line after each selectable mailbox."""
    deliver(roost, make_message(1), make_message(2))
    c = raw_login(roost)
    assert "LIST-STATUS" in caps_of(cap_line(c.cmd("CAPABILITY")))
    c.ok("CREATE Parent/Child")
    r = c.cmd('LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN UIDNEXT))')
    assert status_of(r) == "OK", r
    i = r.index(next(l for l in r if l.startswith("* LIST") and l.endswith(" INBOX")))
    assert r[i + 1] == "* STATUS INBOX (MESSAGES 2 UNSEEN 2 UIDNEXT 3)", r
    statuses = [l for l in r if l.startswith("* STATUS")]
    lists = [l for l in r if l.startswith("* LIST")]
    assert len(statuses) == len(lists), r  # every mailbox here is selectable
    assert "* STATUS Parent/Child (MESSAGES 0 UNSEEN 0 UIDNEXT 1)" in r, r
    r = c.cmd('LIST "" "nothing*" RETURN (STATUS (MESSAGES))')
    assert status_of(r) == "OK" and not any(l.startswith("* ") for l in r[:-1]), r
    assert status_of(c.cmd('LIST "" "*" RETURN (STATUS (BOGUS))')) == "BAD"


def test_create_delete_rename(roost):
    c = raw_login(roost)
    c.ok("CREATE Work")
    r = c.cmd("CREATE Work")
    assert status_of(r) == "NO" and "[ALREADYEXISTS]" in r[-1], r
    r = c.cmd("CREATE INBOX")
    assert status_of(r) == "NO", r
    c.ok("CREATE Work/2024/Q1/")  # trailing separator is allowed and dropped
    names = list_names(c)
    assert {"Work", "Work/2024", "Work/2024/Q1"} <= set(names)
    c.ok("RENAME Work/2024 Work/2025")
    names = list_names(c)
    assert "Work/2025/Q1" in names and "Work/2024" not in names and "Work/2024/Q1" not in names
    r = c.cmd("RENAME Nope Other")
    assert status_of(r) == "NO" and "[NONEXISTENT]" in r[-1], r
    r = c.cmd("RENAME Work Trash")
    assert status_of(r) == "NO" and "[ALREADYEXISTS]" in r[-1], r
    # DELETE of a mailbox with inferiors: RFC 3501 allows it (it becomes \Noselect) or NO
    r = c.cmd("DELETE Work/2025/Q1")
    assert status_of(r) == "OK"
    r = c.cmd("DELETE NoSuch")
    assert status_of(r) == "NO" and "[NONEXISTENT]" in r[-1], r
    r = c.cmd("DELETE INBOX")
    assert status_of(r) == "NO", r
    c.ok("DELETE Work/2025")
    c.ok("DELETE Work")
    assert not any(n.startswith("Work") for n in list_names(c))


def test_delete_selected_and_with_messages(roost):
    c = raw_login(roost)
    c.ok("CREATE Box")
    msg = crlf(make_message(1))
    c.send(b"a APPEND Box {%d+}\r\n%s\r\n" % (len(msg), msg))
    assert c.until_tagged("a")[-1].startswith("a OK")
    c.ok("DELETE Box")
    r = c.cmd("SELECT Box")
    assert status_of(r) == "NO"
    c.ok("CREATE Box")
    r = c.cmd("STATUS Box (MESSAGES)")
    assert "MESSAGES 0" in r[0], r


def test_rename_inbox_moves_messages(roost):
    deliver(roost, make_message(1), make_message(2), make_message(3))
    c = raw_login(roost)
    c.ok("RENAME INBOX Old-Inbox")
    r = c.cmd("STATUS INBOX (MESSAGES)")
    assert "MESSAGES 0" in r[0], r
    r = c.cmd("STATUS Old-Inbox (MESSAGES)")
    assert "MESSAGES 3" in r[0], r
    names = list_names(c)
    assert "INBOX" in names and "Old-Inbox" in names
    c.ok("SELECT Old-Inbox")
    r = c.cmd("FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert sum("Subject: Message" in l for l in r) == 3, r
    deliver(roost, make_message(4))
    r = c.cmd("STATUS INBOX (MESSAGES)")
    assert "MESSAGES 1" in r[0], r


def test_subscribe_unsubscribe_lsub(roost):
    c = raw_login(roost)
    c.ok("CREATE Lists/Rust")
    c.ok("SUBSCRIBE Lists/Rust")
    c.ok("SUBSCRIBE INBOX")
    r = c.cmd('LSUB "" "*"')
    assert status_of(r) == "OK"
    subs = [l for l in r if l.startswith("* LSUB")]
    assert any(l.endswith("Lists/Rust") for l in subs), r
    assert any(l.endswith("INBOX") for l in subs), r
    r = c.cmd('LSUB "" "%"')
    # RFC 3501 6.3.9: a non-subscribed parent of a subscribed child matching % is \Noselect
    lists = [l for l in r if l.startswith("* LSUB")]
    assert any(l.endswith(" Lists") and "\\Noselect" in l for l in lists), r
    c.ok("UNSUBSCRIBE Lists/Rust")
    r = c.cmd('LSUB "" "*"')
    assert not any(l.endswith("Lists/Rust") for l in r), r
    # subscribing a missing mailbox is allowed or NO, but never BAD
    assert status_of(c.cmd("SUBSCRIBE Ghost")) in ("OK", "NO")
    # subscriptions survive a new session
    c.ok("SUBSCRIBE Lists/Rust")
    c2 = raw_login(roost)
    r = c2.cmd('LSUB "" "*"')
    assert any(l.endswith("Lists/Rust") for l in r), r


def test_namespace(roost):
    c = raw_login(roost)
    r = c.cmd("NAMESPACE")
    assert status_of(r) == "OK"
    assert r[0] == '* NAMESPACE (("" "/")) NIL NIL', r


def test_status(roost):
    msgs = [make_message(i) for i in range(1, 4)]
    deliver(roost, *msgs)
    c = raw_login(roost)
    r = c.cmd("STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN SIZE)")
    assert status_of(r) == "OK", r
    st = r[0]
    assert st.startswith("* STATUS INBOX (")
    vals = dict(re.findall(r"([A-Z]+) (\d+)", st))
    assert vals["MESSAGES"] == "3" and vals["UIDNEXT"] == "4" and vals["UNSEEN"] == "3"
    assert int(vals["UIDVALIDITY"]) > 0
    assert int(vals["SIZE"]) == sum(len(crlf(m)) for m in msgs)
    r = c.cmd("STATUS NoSuch (MESSAGES)")
    assert status_of(r) == "NO" and "[NONEXISTENT]" in r[-1], r
    r = c.cmd("STATUS INBOX (BOGUS)")
    assert status_of(r) == "BAD", r
    # STATUS of the selected mailbox is allowed
    c.ok("SELECT INBOX")
    c.ok("STORE 1 +FLAGS.SILENT (\\Seen)")
    r = c.cmd("STATUS INBOX (UNSEEN MESSAGES)")
    assert "UNSEEN 2" in r[0] and "MESSAGES 3" in r[0], r


def test_mailbox_names_utf7(roost):
    c = raw_login(roost)
    c.ok('CREATE "Entw&APw-rfe"')
    names = list_names(c)
    assert "Entw&APw-rfe" in names, names
    r = c.cmd('STATUS "Entw&APw-rfe" (MESSAGES)')
    assert status_of(r) == "OK"
    # on disk as Maildir++ .Entw&APw-rfe
    assert (roost.maildir("alice") / ".Entw&APw-rfe").is_dir()
    c.ok('CREATE "&ZeVnLIqe-/&U,BTFw-"')  # Japanese, with hierarchy
    names = list_names(c)
    assert "&ZeVnLIqe-/&U,BTFw-" in names and "&ZeVnLIqe-" in names
    m = imap_login(roost)
    typ, data = m.list()
    assert any(b"Entw&APw-rfe" in d for d in data)
    assert m.select('"Entw&APw-rfe"')[0] == "OK"
    # invalid modified UTF-7 is refused
    r = c.cmd('CREATE "Bad&Jjo"')
    assert status_of(r) in ("NO", "BAD"), r


def test_mailbox_names_rejected(roost):
    c = raw_login(roost)
    for name in ('"a/../b"', '".."', '"x/./y"', '"with\\\\backslash/.."'):
        r = c.cmd(f"CREATE {name}")
        assert status_of(r) == "NO" and "[CANNOT]" in r[-1], (name, r)
    # a control character can only arrive in a literal
    c.send(b"z CREATE {5+}\r\nab\x01cd\r\n")
    r = c.until_tagged("z")
    assert r[-1].startswith("z NO") and "[CANNOT]" in r[-1], r
    r = c.cmd('RENAME Trash "a/../Trash2"')
    assert status_of(r) == "NO" and "[CANNOT]" in r[-1], r
    r = c.cmd('CREATE "/leading"')
    assert status_of(r) == "NO", r
    assert not any(".." in n for n in list_names(c))


# ---- APPEND ---------------------------------------------------------------------

def test_append_flags_date_appenduid(roost):
    c = raw_login(roost)
    r = c.cmd("SELECT INBOX")
    uidvalidity = re.search(r"UIDVALIDITY (\d+)", " ".join(r)).group(1)
    msg = crlf(make_message(1))
    c.send(b'a APPEND INBOX (\\Seen \\Flagged $Work) "05-Mar-2021 14:15:16 +0100" {%d}\r\n'
           % len(msg))
    assert c.line().startswith("+")
    c.send(msg + b"\r\n")
    r = c.until_tagged("a")
    assert r[-1].startswith("a OK"), r
    m = re.search(r"\[APPENDUID (\d+) (\d+)\]", r[-1])
    assert m and m.group(1) == uidvalidity and m.group(2) == "1", r
    # the selected session learns of it
    assert "* 1 EXISTS" in r or "* 1 EXISTS" in c.cmd("NOOP")
    r = c.cmd("FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE UID)")
    f = r[0]
    assert "\\Seen" in f and "\\Flagged" in f and "$Work" in f, f
    # the instant given in APPEND is kept (the zone the server shows it in is its choice)
    m = re.search(r'INTERNALDATE "([ \d]\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d [+-]\d{4})"', f)
    assert m, f
    assert imaplib.Internaldate2tuple(f'INTERNALDATE "{m.group(1)}"'.encode()) == \
        imaplib.Internaldate2tuple(b'INTERNALDATE "05-Mar-2021 14:15:16 +0100"'), f
    assert f"RFC822.SIZE {len(msg)}" in f and "UID 1" in f, f
    # a keyword used in APPEND becomes a FLAGS entry
    r = c.cmd("NOOP")
    r = c.cmd("SELECT INBOX")
    assert any("$Work" in l for l in r if l.startswith("* FLAGS")), r
    # APPEND to another mailbox, no flags, no date
    r = c.cmd(b"APPEND Drafts {%d+}\r\n%s" % (len(msg), msg))
    assert status_of(r) == "OK" and "[APPENDUID " in r[-1], r


def test_append_imaplib(roost):
    m = imap_login(roost)
    msg = crlf(make_message(9))
    typ, data = m.append("INBOX", "(\\Draft)", imaplib.Time2Internaldate(1600000000), msg)
    assert typ == "OK", data
    m.select("INBOX")
    typ, data = m.fetch("1", "(FLAGS BODY.PEEK[])")
    assert data[0][1] == msg
    assert b"\\Draft" in data[0][0]


def test_append_missing_mailbox_trycreate(roost):
    c = raw_login(roost)
    msg = crlf(make_message(1))
    c.send(b"a APPEND NoSuch {%d}\r\n" % len(msg))
    l = c.line()
    if l.startswith("+"):
        c.send(msg + b"\r\n")
        l = c.until_tagged("a")[-1]
    assert l.startswith("a NO") and "[TRYCREATE]" in l, l
    r = c.cmd(b"APPEND NoSuch {%d+}\r\n%s" % (len(msg), msg))
    assert status_of(r) == "NO" and "[TRYCREATE]" in r[-1], r
    assert status_of(c.cmd("NOOP")) == "OK"


def test_append_bad_flags_and_date(roost):
    c = raw_login(roost)
    msg = crlf(make_message(1))
    r = c.cmd(b'APPEND INBOX "99-Foo-2021 99:00:00 +0000" {%d+}\r\n%s' % (len(msg), msg))
    assert status_of(r) == "BAD", r
    r = c.cmd(b'APPEND INBOX (\\Recent) {%d+}\r\n%s' % (len(msg), msg))
    assert status_of(r) in ("BAD", "NO"), r
    r = c.cmd("STATUS INBOX (MESSAGES)")
    assert "MESSAGES 0" in r[0], r


def test_append_empty_message(roost):
    c = raw_login(roost)
    r = c.cmd(b"APPEND INBOX {0+}\r\n")
    # RFC 3501 does not forbid it, but an empty message is not a message: NO or OK only
    assert status_of(r) in ("OK", "NO"), r


def test_append_multiappend_style_literal_plus_pipelined(roost):
    c = raw_login(roost)
    msgs = [crlf(make_message(i)) for i in range(1, 4)]
    data = b""
    for i, m in enumerate(msgs):
        data += b"p%d APPEND INBOX {%d+}\r\n%s\r\n" % (i, len(m), m)
    c.send(data)
    for i in range(3):
        r = c.until_tagged(f"p{i}")
        assert r[-1].startswith(f"p{i} OK"), r
    r = c.cmd("STATUS INBOX (MESSAGES)")
    assert "MESSAGES 3" in r[0]


def test_append_5mb_streamed_and_fetch_back(roost):
    lines = []
    i = 0
    size = 0
    while size < 5 * 1024 * 1024:
        l = b"%08d " % i + b"0123456789abcdefghijklmnopqrstuvwxyz" * 2 + b"\r\n"
        lines.append(l)
        size += len(l)
        i += 1
    msg = b"From: big@example.net\r\nSubject: five megs\r\n\r\n" + b"".join(lines)
    c = raw_login(roost)
    c.send(b"a APPEND INBOX {%d}\r\n" % len(msg))
    assert c.line().startswith("+")
    view = memoryview(msg)
    for off in range(0, len(msg), 65536):
        c.send(bytes(view[off:off + 65536]))
    c.send(b"\r\n")
    r = c.until_tagged("a")
    assert r[-1].startswith("a OK"), r
    m = imap_login(roost)
    m.select("INBOX")
    typ, data = m.fetch("1", "(RFC822.SIZE BODY.PEEK[])")
    assert typ == "OK"
    assert int(re.search(rb"RFC822.SIZE (\d+)", data[0][0]).group(1)) == len(msg)
    assert data[0][1] == msg
    typ, data = m.fetch("1", "(BODY.PEEK[]<5000000.100>)")
    assert data[0][1] == msg[5000000:5000100]
    assert b"<5000000>" in data[0][0]


def test_append_lf_only_becomes_crlf(roost):
    """A message delivered with bare LFs is served with CRLF; the size matches."""
    msg = make_message(1, lf_only=True)
    deliver(roost, msg)
    m = imap_login(roost)
    m.select("INBOX")
    typ, data = m.fetch("1", "(RFC822.SIZE BODY.PEEK[])")
    assert data[0][1] == crlf(msg)
    assert int(re.search(rb"RFC822.SIZE (\d+)", data[0][0]).group(1)) == len(crlf(msg))


# ---- FETCH ----------------------------------------------------------------------

MIME_MSG = (b"From: =?UTF-8?Q?Andr=C3=A9?= <andre@example.net>\r\n"
            b"To: Alice <alice@example.test>, bob@example.test\r\n"
            b"Cc: \"Team\" <team@example.net>\r\n"
            b"Subject: Report attached\r\n"
            b"Date: Tue, 14 Mar 2023 10:11:12 +0100\r\n"
            b"Message-ID: <rep1@example.net>\r\n"
            b"In-Reply-To: <orig@example.net>\r\n"
            b"MIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=\"XYZ\"\r\n"
            b"\r\n"
            b"preamble\r\n"
            b"--XYZ\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: quoted-printable\r\n"
            b"\r\n"
            b"Hello Andr=C3=A9 here.\r\n"
            b"--XYZ\r\n"
            b"Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename=\"data.bin\"\r\n"
            b"\r\n"
            b"AAECAwQFBgcICQ==\r\n"
            b"--XYZ--\r\n"
            b"epilogue\r\n")


def test_fetch_items(roost):
    deliver(roost, MIME_MSG)
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    r = c.cmd("FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE UID)")
    assert status_of(r) == "OK"
    f = r[0]
    assert f.startswith("* 1 FETCH (")
    assert re.search(r'INTERNALDATE "\d\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d [+-]\d{4}"', f), f
    assert f"RFC822.SIZE {len(MIME_MSG)}" in f and "UID 1" in f and "FLAGS (" in f
    r = c.cmd("FETCH 1 ENVELOPE")
    env = r[0]
    assert '"Tue, 14 Mar 2023 10:11:12 +0100" "Report attached"' in env, env
    assert '(("=?UTF-8?Q?Andr=C3=A9?=" NIL "andre" "example.net"))' in env, env
    assert '(("Alice" NIL "alice" "example.test")(NIL NIL "bob" "example.test"))' in env, env
    assert '(("Team" NIL "team" "example.net"))' in env, env
    assert '"<orig@example.net>" "<rep1@example.net>"' in env, env
    r = c.cmd("FETCH 1 BODYSTRUCTURE")
    bs = r[0]
    assert '("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 24 1' in bs.upper() \
        or '"QUOTED-PRINTABLE"' in bs.upper(), bs
    assert '"APPLICATION" "OCTET-STREAM" ("NAME" "data.bin")' in bs.upper().replace(
        '"DATA.BIN"', '"data.bin"'), bs
    assert '("ATTACHMENT" ("FILENAME" "data.bin"))' in bs.upper().replace(
        '"DATA.BIN"', '"data.bin"'), bs
    assert '"MIXED" ("BOUNDARY" "XYZ")' in bs.upper(), bs
    r = c.cmd("FETCH 1 BODY")
    assert "BODY ((" in r[0] and "BOUNDARY" not in r[0].upper(), r[0]
    # nothing so far set \Seen
    r = c.cmd("FETCH 1 FLAGS")
    assert "\\Seen" not in r[0]


def fetch_literal(c, item):
    """FETCH 1 <item>: returns (response line, literal bytes) of the first literal."""
    tag = c.tag()
    c.send(f"{tag} FETCH 1 ({item})\r\n".encode())
    first = c.f.readline()
    m = re.search(rb"\{(\d+)\}\r\n$", first)
    assert m, first
    data = c.f.read(int(m.group(1)))
    rest = c.until_tagged(tag)
    assert rest[-1].startswith(f"{tag} OK"), rest
    return first.decode() + "".join(rest), data


def test_fetch_sections(roost):
    deliver(roost, MIME_MSG)
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    hdr_end = MIME_MSG.index(b"\r\n\r\n") + 4
    _, d = fetch_literal(c, "BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
    assert d == b"Subject: Report attached\r\n\r\n"
    _, d = fetch_literal(c, "BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT DATE FROM TO CC)]")
    assert b"Subject:" not in d and b"Message-ID: <rep1@example.net>" in d and d.endswith(
        b"\r\n\r\n")
    _, d = fetch_literal(c, "BODY.PEEK[HEADER]")
    assert d == MIME_MSG[:hdr_end]
    _, d = fetch_literal(c, "BODY.PEEK[TEXT]")
    assert d == MIME_MSG[hdr_end:]
    _, d = fetch_literal(c, "BODY.PEEK[1]")
    assert d == b"Hello Andr=C3=A9 here."
    _, d = fetch_literal(c, "BODY.PEEK[1.MIME]")
    assert d == (b"Content-Type: text/plain; charset=utf-8\r\n"
                 b"Content-Transfer-Encoding: quoted-printable\r\n\r\n")
    _, d = fetch_literal(c, "BODY.PEEK[2]")
    assert d == b"AAECAwQFBgcICQ=="
    line, d = fetch_literal(c, "BODY.PEEK[]<0.10>")
    assert d == MIME_MSG[:10] and "BODY[]<0> " in line, line
    line, d = fetch_literal(c, "BODY.PEEK[TEXT]<2.5>")
    assert d == MIME_MSG[hdr_end + 2:hdr_end + 7] and "BODY[TEXT]<2>" in line
    line, d = fetch_literal(c, "BINARY.PEEK[2]")
    assert d == bytes(range(10)), d
    line, d = fetch_literal(c, "BINARY.PEEK[1]")
    assert d == "Hello André here.".encode()
    r = c.cmd("FETCH 1 (BINARY.SIZE[2] BINARY.SIZE[1])")
    assert "BINARY.SIZE[2] 10" in r[0] and "BINARY.SIZE[1] 18" in r[0], r
    _, d = fetch_literal(c, "RFC822.HEADER")
    assert d == MIME_MSG[:hdr_end]
    # past the end: a partial beyond the size is empty
    r = c.cmd("FETCH 1 BODY.PEEK[]<100000.10>")
    assert status_of(r) == "OK" and ('BODY[]<100000> ""' in r[0] or "{0}" in r[0]), r
    # nonexistent part: empty string (RFC 3501 allows) or NIL, not an error
    r = c.cmd("FETCH 1 BODY.PEEK[7]")
    assert status_of(r) == "OK", r
    r = c.cmd("FETCH 1 FLAGS")
    assert "\\Seen" not in r[0], r


def test_fetch_body_sets_seen_peek_does_not(roost):
    deliver(roost, make_message(1), make_message(2), make_message(3))
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    line, d = fetch_literal(c, "BODY[]")
    assert d == crlf(make_message(1))
    # RFC 3501 6.4.5: FLAGS reported when \Seen got set by the fetch
    assert "\\Seen" in line, line
    r = c.cmd("FETCH 1 FLAGS")
    assert "\\Seen" in r[0]
    r = c.cmd("FETCH 2 BODY.PEEK[]")
    r = c.cmd("FETCH 2 FLAGS")
    assert "\\Seen" not in r[0]
    r = c.cmd("FETCH 2 RFC822")
    assert "\\Seen" in " ".join(r) and "RFC822 {" in r[0], r
    r = c.cmd("FETCH 3 RFC822.HEADER")
    r = c.cmd("FETCH 3 (FLAGS RFC822.SIZE)")
    assert "\\Seen" not in r[0], r
    r = c.cmd("FETCH 3 BODY[TEXT]")
    assert "\\Seen" in " ".join(r), r
    # EXAMINE never sets \Seen
    c.ok("STORE 1:3 -FLAGS.SILENT (\\Seen)")
    c.ok("EXAMINE INBOX")
    r = c.cmd("FETCH 1:3 (BODY[] RFC822 BINARY[] BINARY[1] BODY[TEXT])")
    assert status_of(r) == "OK"
    r = c.cmd("FETCH 1:3 FLAGS")
    assert not any("\\Seen" in l for l in r), r
    # and STORE is refused in a read-only mailbox
    r = c.cmd("STORE 1 +FLAGS (\\Seen)")
    assert status_of(r) == "NO", r


def test_fetch_macros_and_uid_always_in_uid_fetch(roost):
    deliver(roost, MIME_MSG, make_message(2))
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    r = c.cmd("FETCH 1:2 FAST")
    assert all("FLAGS" in l and "INTERNALDATE" in l and "RFC822.SIZE" in l for l in r[:-1]), r
    r = c.cmd("FETCH 1 ALL")
    assert "ENVELOPE" in r[0]
    r = c.cmd("FETCH 1 FULL")
    assert "BODY (" in r[0]
    r = c.cmd("UID FETCH 1:* FLAGS")
    assert len(r) == 3 and all("UID " in l for l in r[:-1]), r
    r = c.cmd("UID FETCH 2 RFC822.SIZE")
    assert r[0].startswith("* 2 FETCH") and "UID 2" in r[0], r
    r = c.cmd("UID FETCH 99 FLAGS")
    assert status_of(r) == "OK" and len(r) == 1, r
    r = c.cmd("FETCH 3 FLAGS")
    assert status_of(r) == "BAD", r  # RFC 9051: invalid message sequence number
    r = c.cmd("FETCH 2:* UID")
    assert "* 2 FETCH (UID 2)" in r, r


def test_fetch_malformed_message(roost):
    deliver(roost, MALFORMED, make_message(2))
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    r = c.cmd("FETCH 1 (FLAGS ENVELOPE BODYSTRUCTURE RFC822.SIZE BODY.PEEK[1] BINARY.PEEK[1] "
              "BINARY.SIZE[1] BODY.PEEK[1.MIME])")
    assert status_of(r) in ("OK", "NO"), r
    assert r[0].startswith("* 1 FETCH") or status_of(r) == "NO"
    r = c.cmd("FETCH 1 (BODYSTRUCTURE ENVELOPE)")
    assert status_of(r) == "OK" and "BODYSTRUCTURE (" in r[0] and '"Malformed MIME"' in r[0], r
    _, d = fetch_literal(c, "BODY.PEEK[]")
    assert d == MALFORMED
    r = c.cmd("FETCH 2 BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
    assert "Subject: Message 2" in r[0], r


def test_fetch_binary_unknown_encoding(roost):
    msg = (b"Subject: weird\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n"
           b"Content-Transfer-Encoding: x-unknown\r\n\r\nbody\r\n")
    deliver(roost, msg)
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    r = c.cmd("FETCH 1 BINARY.PEEK[1]")
    # RFC 3516 4.3: NO [UNKNOWN-CTE]
    assert status_of(r) == "NO" and "[UNKNOWN-CTE]" in r[-1], r


# ---- STORE, COPY, MOVE, EXPUNGE ---------------------------------------------------

def test_store_flags(roost):
    deliver(roost, *[make_message(i) for i in range(1, 5)])
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    r = c.cmd("STORE 1 +FLAGS (\\Flagged \\Seen)")
    assert status_of(r) == "OK"
    assert any(l.startswith("* 1 FETCH") and "\\Flagged" in l and "\\Seen" in l for l in r), r
    r = c.cmd("STORE 1 -FLAGS (\\Seen)")
    f = [l for l in r if l.startswith("* 1 FETCH")][0]
    assert "\\Flagged" in f and "\\Seen" not in f
    r = c.cmd("STORE 1 FLAGS (\\Answered)")
    f = [l for l in r if l.startswith("* 1 FETCH")][0]
    assert "\\Answered" in f and "\\Flagged" not in f
    r = c.cmd("STORE 2:3 +FLAGS.SILENT (\\Deleted)")
    assert status_of(r) == "OK" and not any("FETCH" in l for l in r), r
    r = c.cmd("FETCH 2:3 FLAGS")
    assert all("\\Deleted" in l for l in r[:-1]), r
    r = c.cmd("UID STORE 4 +FLAGS (\\Draft)")
    assert any("UID 4" in l and "\\Draft" in l for l in r), r
    r = c.cmd("STORE 1 FLAGS (\\Recent)")
    assert status_of(r) in ("BAD", "NO") or not any("\\Recent" in l for l in r), r
    r = c.cmd("STORE 9 +FLAGS (\\Seen)")
    assert status_of(r) == "BAD", r
    r = c.cmd("STORE 1 +FLAGS (\\Bogus)")
    assert status_of(r) == "BAD", r
    # persisted in Maildir file names
    names = [p.name for p in (roost.maildir("alice") / "cur").iterdir()]
    # Maildir flags: R = replied (\\Answered), T = trashed (\\Deleted), D = draft
    assert sorted(n.rsplit(":2,", 1)[1] for n in names) == ["D", "R", "T", "T"], names
    # and seen by a new session
    c2 = raw_login(roost)
    c2.ok("EXAMINE INBOX")
    r = c2.cmd("FETCH 1:4 FLAGS")
    assert "\\Answered" in r[0] and "\\Deleted" in r[1] and "\\Draft" in r[3], r


def test_store_keywords(roost):
    deliver(roost, make_message(1), make_message(2))
    c = raw_login(roost)
    r = c.cmd("SELECT INBOX")
    assert any("[PERMANENTFLAGS" in l and "\\*" in l for l in r)
    r = c.cmd("STORE 1 +FLAGS ($Important Project-X)")
    assert status_of(r) == "OK"
    f = [l for l in r if l.startswith("* 1 FETCH")][0]
    assert "$Important" in f and "Project-X" in f
    c2 = raw_login(roost)
    r = c2.cmd("SELECT INBOX")
    assert any(l.startswith("* FLAGS") and "$Important" in l and "Project-X" in l
               for l in r), r
    r = c2.cmd("FETCH 1 FLAGS")
    assert "$Important" in r[0] and "Project-X" in r[0]
    r = c2.cmd("STORE 1 -FLAGS ($Important)")
    r = c2.cmd("FETCH 1 FLAGS")
    assert "$Important" not in r[0] and "Project-X" in r[0]


def test_store_new_keyword_announces_flags(roost):
    """RFC 3501 7.2.6 / 2.3.2: a keyword that the client's FLAGS list lacks is announced with
    an untagged FLAGS response (Roost's session design: complete() announces FLAGS changes)."""
    deliver(roost, make_message(1))
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    r = c.cmd("STORE 1 +FLAGS ($Important)")
    r += c.cmd("NOOP")
    flags_lines = [l for l in r if l.startswith("* FLAGS")]
    assert flags_lines and "$Important" in flags_lines[-1], r


def test_copy_move_copyuid(roost):
    deliver(roost, *[make_message(i) for i in range(1, 5)])
    c = raw_login(roost)
    r = c.cmd("SELECT Trash")
    trash_uv = re.search(r"UIDVALIDITY (\d+)", " ".join(r)).group(1)
    c.ok("SELECT INBOX")
    c.ok("STORE 1 +FLAGS (\\Flagged)")
    r = c.cmd("COPY 1:2 Trash")
    assert status_of(r) == "OK"
    m = re.search(r"\[COPYUID (\d+) (\S+) (\S+)\]", r[-1])
    assert m and m.group(1) == trash_uv and m.group(2) == "1:2" and m.group(3) == "1:2", r
    r = c.cmd("UID COPY 4 Trash")
    assert "[COPYUID " in r[-1] and r[-1].split("[COPYUID ")[1].split()[1:3] == ["4", "3]"], r
    r = c.cmd("COPY 1 NoSuch")
    assert status_of(r) == "NO" and "[TRYCREATE]" in r[-1], r
    r = c.cmd("MOVE 2 Archive")
    assert status_of(r) == "OK"
    assert any(l.startswith("* OK [COPYUID ") for l in r) or "[COPYUID" in r[-1], r
    assert "* 2 EXPUNGE" in r, r
    r = c.cmd("UID MOVE 3 Archive")
    assert "* 2 EXPUNGE" in r, r  # UID 3 was now seq 2
    r = c.cmd("MOVE 1 NoSuch")
    assert status_of(r) == "NO" and "[TRYCREATE]" in r[-1], r
    r = c.cmd("FETCH 1:* UID")
    assert [l for l in r[:-1]] == ["* 1 FETCH (UID 1)", "* 2 FETCH (UID 4)"], r
    st = c.cmd("STATUS Trash (MESSAGES)")
    assert "MESSAGES 3" in st[0]
    st = c.cmd("STATUS Archive (MESSAGES)")
    assert "MESSAGES 2" in st[0]
    c.ok("SELECT Trash")
    r = c.cmd("FETCH 1 FLAGS")
    assert "\\Flagged" in r[0]  # flags copied along
    r = c.cmd("COPY 1:* Trash")  # copy into the selected mailbox
    assert status_of(r) == "OK"
    r += c.cmd("NOOP")
    assert "* 6 EXISTS" in r, r


def apply_expunges(uids, lines):
    """The UID list a client holds after applying the EXPUNGE responses in `lines`."""
    uids = list(uids)
    for l in lines:
        m = re.match(r"^\* (\d+) EXPUNGE$", l)
        if m:
            del uids[int(m.group(1)) - 1]
    return uids


def test_expunge_uid_expunge_close_unselect(roost):
    deliver(roost, *[make_message(i) for i in range(1, 7)])
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    c.ok("STORE 2,4 +FLAGS.SILENT (\\Deleted)")
    r = c.cmd("EXPUNGE")
    assert apply_expunges([1, 2, 3, 4, 5, 6], r) == [1, 3, 5, 6], r
    r = c.cmd("FETCH 1:* UID")
    assert [re.search(r"UID (\d+)", l).group(1) for l in r[:-1]] == ["1", "3", "5", "6"]
    c.ok("STORE 1:* +FLAGS.SILENT (\\Deleted)")
    r = c.cmd("UID EXPUNGE 3,6")
    assert all(re.match(r"^\* \d+ EXPUNGE$", l) for l in r[:-1]), r
    assert apply_expunges([1, 3, 5, 6], r) == [1, 5], r
    r = c.cmd("FETCH 1:* UID")
    assert [re.search(r"UID (\d+)", l).group(1) for l in r[:-1]] == ["1", "5"]
    # UNSELECT does not expunge
    r = c.cmd("UNSELECT")
    assert status_of(r) == "OK" and not any("EXPUNGE" in l for l in r)
    assert status_of(c.cmd("FETCH 1 FLAGS")) == "BAD"
    r = c.cmd("STATUS INBOX (MESSAGES)")
    assert "MESSAGES 2" in r[0]
    # CLOSE expunges silently
    c.ok("SELECT INBOX")
    r = c.cmd("CLOSE")
    assert status_of(r) == "OK" and not any("EXPUNGE" in l for l in r), r
    r = c.cmd("STATUS INBOX (MESSAGES)")
    assert "MESSAGES 0" in r[0]
    # CLOSE after EXAMINE expunges nothing
    deliver(roost, make_message(7))
    c.ok("SELECT INBOX")
    c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    c.ok("EXAMINE INBOX")
    c.ok("CLOSE")
    r = c.cmd("STATUS INBOX (MESSAGES)")
    assert "MESSAGES 1" in r[0]
    # EXPUNGE in a read-only mailbox: NO
    c.ok("EXAMINE INBOX")
    assert status_of(c.cmd("EXPUNGE")) == "NO"


def test_expunged_files_gone_from_maildir(roost):
    deliver(roost, make_message(1), make_message(2))
    m = imap_login(roost)
    m.select("INBOX")
    m.store("1", "+FLAGS", "\\Deleted")
    typ, data = m.expunge()
    assert typ == "OK" and data == [b"1"]
    md = roost.maildir("alice")
    files = [p for d in ("cur", "new") for p in (md / d).iterdir()]
    assert len(files) == 1


# ---- SEARCH ----------------------------------------------------------------------

SEARCH_MSGS = [
    b"From: Ann <ann@example.net>\r\nTo: alice@example.test\r\nSubject: Lunch plans\r\n"
    b"Date: Mon, 02 Jan 2023 10:00:00 +0000\r\nX-Tag: green\r\n\r\nShall we meet at noon?\r\n",
    b"From: Bert <bert@example.org>\r\nTo: alice@example.test\r\n"
    b"Subject: =?ISO-8859-1?Q?Pr=FCfung_bestanden?=\r\n"
    b"Date: Wed, 15 Feb 2023 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=ISO-8859-1\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"Die Pr=FCfung war sch=F6n und gr=FCn.\r\n",
    b"From: Ann <ann@example.net>\r\nTo: alice@example.test\r\nCc: carol@example.test\r\n"
    b"Subject: Re: Lunch plans\r\nDate: Fri, 10 Mar 2023 10:00:00 +0000\r\n\r\n"
    b"Yes. " + b"padding " * 400 + b"\r\n",
    b"From: =?UTF-8?B?w5xsaQ==?= <uli@example.net>\r\nTo: alice@example.test\r\n"
    b"Subject: =?UTF-8?B?w5xiZXJ3ZWlzdW5n?=\r\nDate: Sat, 01 Apr 2023 10:00:00 +0000\r\n\r\n"
    b"Betrag erhalten\r\n",
]


def search(c, crit, charset=None, uid=False):
    cmd = ("UID " if uid else "") + "SEARCH " + (f"CHARSET {charset} " if charset else "") + crit
    r = c.cmd(cmd)
    assert status_of(r) == "OK", (crit, r)
    lines = [l for l in r if l.startswith("* SEARCH")]
    assert len(lines) == 1, r
    return [int(x) for x in lines[0].split()[2:]]


def search_box(roost):
    deliver(roost, *SEARCH_MSGS)
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    c.ok("STORE 1 +FLAGS (\\Seen \\Flagged)")
    c.ok("STORE 3 +FLAGS ($Later)")
    return c


def test_search_flags_sizes_headers(roost):
    c = search_box(roost)
    assert search(c, "ALL") == [1, 2, 3, 4]
    assert search(c, "SEEN") == [1]
    assert search(c, "UNSEEN") == [2, 3, 4]
    assert search(c, "FLAGGED") == [1]
    assert search(c, "KEYWORD $Later") == [3]
    assert search(c, "UNKEYWORD $Later") == [1, 2, 4]
    assert search(c, "LARGER 2000") == [3]
    assert search(c, "SMALLER 2000") == [1, 2, 4]
    assert search(c, "FROM ann") == [1, 3]
    assert search(c, "FROM EXAMPLE.ORG") == [2]
    assert search(c, "CC carol") == [3]
    assert search(c, "TO alice") == [1, 2, 3, 4]
    assert search(c, 'HEADER X-Tag green') == [1]
    assert search(c, 'HEADER X-Tag ""') == [1]
    assert search(c, 'SUBJECT "lunch"') == [1, 3]
    assert search(c, "TEXT noon") == [1]
    assert search(c, "BODY Betrag") == [4]
    assert search(c, "BODY Lunch") == []
    assert search(c, "NEW") == [] or search(c, "NEW") == [2, 3, 4]
    assert search(c, "ANSWERED") == []
    assert search(c, "DELETED") == []
    assert search(c, "UNDELETED") == [1, 2, 3, 4]


def test_search_dates(roost):
    c = search_box(roost)
    assert search(c, "SENTBEFORE 15-Feb-2023") == [1]
    assert search(c, "SENTON 15-Feb-2023") == [2]
    assert search(c, "SENTSINCE 15-Feb-2023") == [2, 3, 4]
    assert search(c, 'SENTSINCE "10-Mar-2023"') == [3, 4]
    # internal dates are the delivery time: today
    assert search(c, "SINCE 1-Jan-2020") == [1, 2, 3, 4]
    assert search(c, "BEFORE 1-Jan-2020") == []
    r = c.cmd("SEARCH SINCE 32-Foo-2020")
    assert status_of(r) == "BAD", r


def test_search_encoded_subject_and_charset_body(roost):
    c = search_box(roost)
    # RFC 2047 encoded subjects are matched decoded
    assert search(c, "CHARSET UTF-8 SUBJECT {7+}\r\nPrüfung".replace(
        "{7+}", "{%d+}" % len("Prüfung".encode()))) == [2]
    assert search(c, 'SUBJECT "bestanden"') == [2]
    assert search(c, "SUBJECT {%d+}\r\n%s" % (len("Überweisung".encode()), "Überweisung"),
                  charset="UTF-8") == [4]
    assert search(c, 'FROM "Üli"'.replace('"Üli"', "{%d+}\r\nÜli" % len("Üli".encode())),
                  charset="UTF-8") == [4]
    # a QP ISO-8859-1 body is decoded to UTF-8 before matching
    word = "schön"
    assert search(c, "BODY {%d+}\r\n%s" % (len(word.encode()), word), charset="UTF-8") == [2]
    assert search(c, "TEXT {%d+}\r\n%s" % (len("grün".encode()), "grün"), charset="UTF-8") == [2]
    # case-insensitive on non-ASCII too
    w = "PRÜFUNG"
    assert search(c, "BODY {%d+}\r\n%s" % (len(w.encode()), w), charset="UTF-8") == [2]
    assert search(c, "BODY Betrag", charset="US-ASCII") == [4]


def test_search_unknown_charset(roost):
    c = search_box(roost)
    r = c.cmd("SEARCH CHARSET X-NO-SUCH-CHARSET BODY foo")
    assert status_of(r) == "NO" and "[BADCHARSET" in r[-1], r


def test_search_or_not_nesting_uid_sets(roost):
    c = search_box(roost)
    assert search(c, "OR SEEN KEYWORD $Later") == [1, 3]
    assert search(c, "NOT SEEN") == [2, 3, 4]
    assert search(c, "NOT OR SEEN FLAGGED") == [2, 3, 4]
    assert search(c, "OR (SEEN FROM ann) (NOT FROM ann SMALLER 300)") == [1, 2, 4] or \
        search(c, "OR (SEEN FROM ann) (NOT FROM ann SMALLER 300)") == [1, 4]
    assert search(c, "(FROM ann) (NOT SEEN)") == [3]
    assert search(c, "OR OR SEEN FLAGGED NOT UNKEYWORD $Later") == [1, 3]
    assert search(c, "2:3") == [2, 3]
    assert search(c, "1,3:*") == [1, 3, 4]
    assert search(c, "*") == [4]
    assert search(c, "UID 2:3") == [2, 3]
    assert search(c, "2:* NOT 4") == [2, 3]
    c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    c.ok("EXPUNGE")
    # sequence numbers shift, UIDs do not
    assert search(c, "FROM ann") == [2]
    assert search(c, "FROM ann", uid=True) == [3]
    assert search(c, "UID 3:4", uid=True) == [3, 4]
    assert search(c, "ALL", uid=True) == [2, 3, 4]
    assert search(c, "UID 1") == []
    r = c.cmd("SEARCH FROB")
    assert status_of(r) == "BAD"
    r = c.cmd("SEARCH OR SEEN")
    assert status_of(r) == "BAD"


def test_search_imaplib(roost):
    deliver(roost, *SEARCH_MSGS)
    m = imap_login(roost)
    m.select("INBOX")
    typ, data = m.search(None, "FROM", "ann")
    assert typ == "OK" and data == [b"1 3"]
    typ, data = m.uid("SEARCH", "SUBJECT", '"Lunch"')
    assert data == [b"1 3"]


# ---- a varied set of messages, parsed strictly ---------------------------------------

def drop_into_maildir(r, msgs, user="alice"):
    """Writes messages into the Maildir's new/ as an outside MTA would (tmp, then rename)."""
    import os
    import time
    r.deliver(f"{user}@example.test", make_message(0))  # creates the Maildir
    md = r.maildir(user)
    for i, m in enumerate(msgs):
        name = f"{int(time.time())}.V{i}P{os.getpid()}.testhost"
        (md / "tmp" / name).write_bytes(m)
        os.rename(md / "tmp" / name, md / "new" / name)


def test_fetch_varied_messages_parse(roost):
    msgs = varied_messages(40)
    drop_into_maildir(roost, msgs)
    msgs = [make_message(0)] + msgs
    c = raw_login(roost)
    r = c.cmd("SELECT INBOX")
    assert f"* {len(msgs)} EXISTS" in r, r
    lines = c.bcmd("FETCH 1:* (UID RFC822.SIZE FLAGS ENVELOPE BODYSTRUCTURE BODY.PEEK[])")
    assert lines[-1].split()[1] == b"OK", lines[-1]
    fetches = {}
    for l in lines[:-1]:
        n, items = parse_fetch(l)
        fetches[n] = items
    assert sorted(fetches) == list(range(1, len(msgs) + 1))
    # the order of files dropped into new/ together is the server's choice: match by content
    index = {crlf(m): k for k, m in enumerate(msgs)}
    assert len(index) == len(msgs)
    assert sorted(index[it["BODY[]"]] for it in fetches.values()) == list(range(len(msgs)))
    for n, it in fetches.items():
        k = index[it["BODY[]"]]
        msg = msgs[k]
        assert int(it["RFC822.SIZE"]) == len(crlf(msg)), n
        env, bs = it["ENVELOPE"], it["BODYSTRUCTURE"]
        assert len(env) == 10, (n, env)
        kind = (k - 1) % 10 if 1 <= k < len(msgs) - 1 else None
        if kind == 0 or kind == 8:
            assert bs[0].upper() == b"TEXT" and bs[1].upper() == b"PLAIN", (n, bs)
            body = crlf(msg).split(b"\r\n\r\n", 1)[1]
            assert int(bs[6]) == len(body), (n, bs)
            assert int(bs[7]) == body.count(b"\r\n"), (n, bs)
        elif kind == 1:
            assert isinstance(bs[0], list) and isinstance(bs[1], list), (n, bs)
            assert bs[2].upper() == b"ALTERNATIVE", (n, bs)
        elif kind == 2:
            assert next(x for x in bs if not isinstance(x, list)).upper() == b"MIXED", (n, bs)
            att = bs[1]
            assert att[0].upper() == b"APPLICATION" and att[5].upper() == b"BASE64", (n, att)
        elif kind == 3:
            assert env[1] == re.search(rb"^Subject: (.*?)\r?$", msg, re.M).group(1)
        elif kind == 6:
            assert isinstance(bs[0], list) and isinstance(bs[0][0], list), (n, bs)
            assert bs[1][0].upper() == b"IMAGE"
        elif kind == 7:
            inner = bs[1]
            assert inner[0].upper() == b"MESSAGE" and inner[1].upper() == b"RFC822", (n, inner)
            # body-type-msg: ... envelope body lines
            assert isinstance(inner[7], list) and inner[7][1] == f"Inner {k - 1}".encode(), inner
            assert isinstance(inner[8], list) and int(inner[9]) >= 1, inner
    # the malformed one still answers every item
    last = [it for it in fetches.values() if it["BODY[]"] == MALFORMED]
    assert last and last[0]["ENVELOPE"][1] == b"Malformed MIME"


def test_binary_of_varied_parts(roost):
    blob = bytes((i * 37 + i // 256) % 256 for i in range(1800))
    att = base64.encodebytes(blob).decode()
    msg = ("Subject: bin\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
           "--b\nContent-Type: text/plain; charset=ISO-8859-1\n"
           "Content-Transfer-Encoding: quoted-printable\n\nCaf=E9 cr=E8me=\n soft\n"
           "--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
           + att + "--b--\n").encode()
    deliver(roost, msg)
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    lines = c.bcmd("FETCH 1 (BINARY.PEEK[1] BINARY.PEEK[2] BINARY.SIZE[1] BINARY.SIZE[2])")
    assert lines[-1].split()[1] == b"OK", lines
    _, it = parse_fetch(lines[0])
    assert it["BINARY[1]"] == b"Caf\xe9 cr\xe8me soft"
    assert it["BINARY[2]"] == blob
    assert int(it["BINARY.SIZE[1]"]) == len(b"Caf\xe9 cr\xe8me soft")
    assert int(it["BINARY.SIZE[2]"]) == len(blob)
    # a partial of the decoded part
    lines = c.bcmd("FETCH 1 BINARY.PEEK[2]<256.16>")
    _, it = parse_fetch(lines[0])
    # RFC 3516 4.2 prose shows the origin "<256>", its ABNF (and RFC 9051's) omits it: either
    key = "BINARY[2]<256>" if "BINARY[2]<256>" in it else "BINARY[2]"
    assert it[key] == blob[256:272], lines
    # RFC 3516: the binary content may be sent as a literal8 (~{n}) when it holds NUL
    assert b"~{" in lines[0] or b"{" in lines[0]


def test_search_cp1252_and_latin1_bodies(roost):
    msgs = [make_varied(i) for i in range(4, 6)] + [make_varied(i) for i in range(14, 16)]
    deliver(roost, *msgs)
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    # kind 4: QP ISO-8859-1 "crème"; kind 5: 8bit windows-1252 with U+201C and the euro sign
    for word, want in (("crème", [1, 3]), ("€", [2, 4]), ("\u201cquoted\u201d", [2, 4])):
        b = word.encode()
        assert search(c, "BODY {%d+}\r\n%s" % (len(b), word), charset="UTF-8") == want, word
    assert search(c, "BODY num=E9ro") == []  # matches decoded text, not the QP source


def test_pipelined_commands(roost):
    deliver(roost, make_message(1))
    c = raw_login(roost)
    c.send(b"p1 SELECT INBOX\r\np2 FETCH 1 FLAGS\r\np3 STORE 1 +FLAGS (\\Seen)\r\n"
           b"p4 FETCH 1 FLAGS\r\np5 NOOP\r\n")
    out = []
    for t in ("p1", "p2", "p3", "p4", "p5"):
        r = c.until_tagged(t)
        assert r[-1].startswith(t + " OK"), r
        out.append(r)
    assert "\\Seen" not in out[1][0] and "\\Seen" in out[3][0]


def test_authenticate_plain_other_authzid_refused(roost):
    c = RawImap(roost.ports["imaps"], tls=True)
    r = c.cmd("AUTHENTICATE PLAIN " + b64(f"bob@example.test\0{ADDR}\0{PASS}".encode()))
    assert status_of(r) == "NO", r
    r = c.cmd("AUTHENTICATE PLAIN " + b64(f"{ADDR}\0{ADDR}\0{PASS}".encode()))
    assert status_of(r) == "OK", r


def test_delete_parent_keeps_children(roost):
    c = raw_login(roost)
    c.ok("CREATE Parent/Child")
    r = c.cmd("DELETE Parent")
    # RFC 3501 6.3.4: OK (Parent stays as \Noselect or vanishes) or NO [HASCHILDREN]
    assert status_of(r) == "OK" or "[HASCHILDREN]" in r[-1], r
    names = list_names(c)
    assert "Parent/Child" in names, names
    if status_of(r) == "OK" and "Parent" in names:
        assert "\\Noselect" in names["Parent"] or "\\NonExistent" in names["Parent"], names
    assert status_of(c.cmd("SELECT Parent/Child")) == "OK"


def test_rename_creates_superiors_and_moves_children(roost):
    c = raw_login(roost)
    c.ok("CREATE Src/Kid")
    msg = crlf(make_message(1))
    assert status_of(c.cmd(b"APPEND Src/Kid {%d+}\r\n%s" % (len(msg), msg))) == "OK"
    c.ok("RENAME Src Deep/Er/Dst")
    names = list_names(c)
    assert {"Deep", "Deep/Er", "Deep/Er/Dst", "Deep/Er/Dst/Kid"} <= set(names), names
    assert "Src" not in names and "Src/Kid" not in names
    r = c.cmd("STATUS Deep/Er/Dst/Kid (MESSAGES)")
    assert "MESSAGES 1" in r[0], r
    r = c.cmd("RENAME Deep Deep/Inside")
    assert status_of(r) == "NO", r  # a mailbox cannot move under itself


def test_empty_mailbox_edges(roost):
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    r = c.cmd("UID FETCH 1:* FLAGS")
    assert status_of(r) == "OK" and len(r) == 1, r
    r = c.cmd("SEARCH ALL")
    assert r[0] == "* SEARCH" and status_of(r) == "OK", r
    r = c.cmd("EXPUNGE")
    assert status_of(r) == "OK" and len(r) == 1, r
    r = c.cmd("UID SEARCH ALL")
    assert r[0] == "* SEARCH", r


def test_move_and_store_in_read_only(roost):
    deliver(roost, make_message(1))
    c = raw_login(roost)
    c.ok("EXAMINE INBOX")
    r = c.cmd("MOVE 1 Trash")
    assert status_of(r) == "NO", r
    r = c.cmd("COPY 1 Trash")
    assert status_of(r) == "OK", r  # copying out of a read-only mailbox is fine
    r = c.cmd("STATUS INBOX (MESSAGES)")
    assert "MESSAGES 1" in r[0]


def test_fetch_header_fields_non_peek_sets_seen(roost):
    deliver(roost, make_message(1))
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    r = c.cmd("FETCH 1 BODY[HEADER.FIELDS (SUBJECT)]")
    assert status_of(r) == "OK"
    r = c.cmd("FETCH 1 FLAGS")
    assert "\\Seen" in r[0], r


def test_dot_in_mailbox_name_is_not_hierarchy(roost):
    c = raw_login(roost)
    c.ok("CREATE a.b")
    c.ok("CREATE a/b")
    names = list_names(c)
    assert "a.b" in names and "a/b" in names and "a" in names, names
    msg = crlf(make_message(1))
    assert status_of(c.cmd(b"APPEND a.b {%d+}\r\n%s" % (len(msg), msg))) == "OK"
    assert "MESSAGES 1" in c.cmd("STATUS a.b (MESSAGES)")[0]
    assert "MESSAGES 0" in c.cmd("STATUS a/b (MESSAGES)")[0]
    c.ok("DELETE a.b")
    names = list_names(c)
    assert "a.b" not in names and "a/b" in names, names
    r = c.cmd('CREATE "x*y"')
    assert status_of(r) == "NO", r


def test_uids_survive_restart_and_index_loss(roost):
    import shutil
    deliver(roost, *[make_message(i) for i in range(1, 5)])
    c = raw_login(roost)
    r = c.cmd("SELECT INBOX")
    uv = re.search(r"UIDVALIDITY (\d+)", " ".join(r)).group(1)
    c.ok("STORE 4 +FLAGS.SILENT (\\Deleted)")
    c.ok("EXPUNGE")
    c.ok("STORE 2 +FLAGS.SILENT (\\Flagged $Kw)")
    before = c.cmd("FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    c.cmd("LOGOUT")
    roost.stop()
    shutil.rmtree(roost.root / "state" / "index")
    roost.start()
    c = raw_login(roost)
    r = c.cmd("SELECT INBOX")
    assert re.search(r"UIDVALIDITY (\d+)", " ".join(r)).group(1) == uv, r
    # UID 4 was expunged: UIDNEXT must not go back to 4 (RFC 3501 2.3.1.1)
    assert any("[UIDNEXT 5]" in l for l in r), r
    after = c.cmd("FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    strip = lambda ls: [l.replace("\\Recent ", "").replace(" \\Recent", "").replace(
        "(\\Recent)", "()") for l in ls[:-1]]
    assert strip(after) == strip(before)
    msg = crlf(make_message(9))
    r = c.cmd(b"APPEND INBOX {%d+}\r\n%s" % (len(msg), msg))
    assert re.search(r"\[APPENDUID \d+ 5\]", r[-1]), r


def test_outside_maildir_changes_seen_after_noop(roost):
    deliver(roost, make_message(1))
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    md = roost.maildir("alice")
    # an outside MTA drops a message into new/
    (md / "tmp" / "999.outside.host").write_bytes(make_message(2))
    (md / "tmp" / "999.outside.host").rename(md / "new" / "999.outside.host")
    r = poll(lambda: (lambda x: x if "* 2 EXISTS" in x else None)(c.cmd("NOOP")), timeout=5)
    assert r and "* 2 EXISTS" in r, r
    # an outside Maildir tool flags message 1 by renaming its file
    f = [p for d in ("cur", "new") for p in (md / d).iterdir()
         if b"Message 1" in p.read_bytes()][0]
    base = f.name.split(":2,")[0]
    f.rename(md / "cur" / (base + ":2,FS"))
    r = poll(lambda: (lambda x: x if any(l.startswith("* 1 FETCH") for l in x) else None)(
        c.cmd("NOOP")), timeout=5)
    assert r, "no FETCH FLAGS for a flag change made in the Maildir"
    f1 = [l for l in r if l.startswith("* 1 FETCH")][0]
    assert "\\Flagged" in f1 and "\\Seen" in f1, r


def test_copy_keeps_internaldate_and_rfc822_text(roost):
    c = raw_login(roost)
    msg = crlf(make_message(1))
    r = c.cmd(b'APPEND INBOX "01-Feb-2020 10:00:00 +0000" {%d+}\r\n%s' % (len(msg), msg))
    assert status_of(r) == "OK"
    c.ok("SELECT INBOX")
    c.ok("COPY 1 Archive")
    c.ok("EXAMINE Archive")
    r = c.cmd("FETCH 1 (INTERNALDATE RFC822.TEXT)")
    assert imaplib.Internaldate2tuple(r[0].encode()) == imaplib.Internaldate2tuple(
        b'INTERNALDATE "01-Feb-2020 10:00:00 +0000"'), r
    body = msg.split(b"\r\n\r\n", 1)[1]
    assert body.decode() in "\n".join(r), r
