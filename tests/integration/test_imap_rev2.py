"""IMAP4rev2 (RFC 9051) and LITERAL- (RFC 7888) against the real roostd:
capabilities, ENABLE IMAP4rev2, SELECT / EXAMINE answers (no RECENT, no UNSEEN,
a LIST line, [CLOSED]), no \\Recent, SEARCH answered with ESEARCH, STATUS items,
LIST attributes, response codes of the failure paths; an IMAP4rev1 session next
to it keeps the old behaviour. LITERAL-: the capability and the 4096-octet cap
on non-synchronising literals."""
import re

from conftest import make_message
from imap_util import ADDR, RawImap, raw_login, status_of


def caps(line):
    m = re.search(r"\[CAPABILITY ([^\]]*)\]", line) or re.search(r"^\* CAPABILITY (.*)$", line)
    return m.group(1).split()


def rev2_login(roost, n=0):
    for i in range(1, n + 1):
        roost.deliver(ADDR, make_message(i))
    c = raw_login(roost)
    r = c.ok("ENABLE IMAP4rev2")
    assert "* ENABLED IMAP4rev2" in r, r
    return c


def esearch(lines, tag):
    found = [l for l in lines if l.startswith(f'* ESEARCH (TAG "{tag}")')]
    assert len(found) == 1, lines
    assert not any(l.startswith("* SEARCH") for l in lines), lines
    return found[0][len(f'* ESEARCH (TAG "{tag}")'):].strip()


def test_capabilities(roost):
    c = RawImap(roost.ports["imaps"], tls=True)
    pre = caps(c.greeting)
    assert "IMAP4rev1" in pre and "IMAP4rev2" in pre and "LITERAL+" in pre
    assert "LITERAL-" not in pre
    r = c.login()
    post = caps(r[-1]) if "[CAPABILITY" in r[-1] else caps(c.cmd("CAPABILITY")[0])
    for cap in ("IMAP4rev1", "IMAP4rev2", "LITERAL+", "ENABLE", "NAMESPACE", "UIDPLUS",
                "UNSELECT", "MOVE", "ESEARCH", "SEARCHRES", "IDLE",
                "SPECIAL-USE", "LIST-EXTENDED", "LIST-STATUS", "BINARY", "STATUS=SIZE",
                "UTF8=ACCEPT"):
        assert cap in post, (cap, post)
    assert "LITERAL-" not in post


def test_enable(roost):
    c = raw_login(roost)
    r = c.ok("ENABLE IMAP4rev2")
    assert r[0] == "* ENABLED IMAP4rev2", r
    r = c.ok("ENABLE IMAP4rev2")
    assert r[0] == "* ENABLED", r
    # UTF-8 is on with it: quoted UTF-8 is accepted
    c.ok('CREATE "Entwürfe/日本"'.encode())
    r = c.ok('LIST "" "Entw*"')
    assert any('"Entwürfe/日本"' in l for l in r), r
    # and UTF8=ACCEPT is not listed again
    r = c.ok("ENABLE UTF8=ACCEPT")
    assert r[0] == "* ENABLED", r
    # both at once in a fresh session
    d = raw_login(roost)
    r = d.ok("ENABLE UTF8=ACCEPT IMAP4rev2 CONDSTORE")
    assert r[0] == "* ENABLED UTF8=ACCEPT IMAP4rev2 CONDSTORE", r


def test_select_answer(roost):
    c = rev2_login(roost, 3)
    r = c.ok("SELECT INBOX")
    assert "* 3 EXISTS" in r, r
    assert not any("RECENT" in l for l in r), r
    assert not any("[UNSEEN" in l for l in r), r
    assert '* LIST () "/" INBOX' in r, r
    assert any(l.startswith("* FLAGS (") for l in r), r
    for code in ("[UIDVALIDITY ", "[UIDNEXT 4]", "[PERMANENTFLAGS ("):
        assert any(code in l for l in r), (code, r)
    assert "[READ-WRITE]" in r[-1], r
    r = c.ok("EXAMINE Drafts")
    assert r[0] == "* OK [CLOSED] Previous mailbox closed", r
    assert '* LIST () "/" Drafts' in r and "[READ-ONLY]" in r[-1], r
    # a failing SELECT also closes the mailbox, after [CLOSED]
    r = c.cmd("SELECT Nowhere")
    assert r[0].startswith("* OK [CLOSED]"), r
    assert status_of(r) == "NO" and "[NONEXISTENT]" in r[-1], r
    r = c.cmd("FETCH 1 FLAGS")
    assert status_of(r) == "BAD", r
    # no [CLOSED] when nothing was selected
    r = c.ok("SELECT INBOX")
    assert not any("[CLOSED]" in l for l in r), r


def test_no_recent(roost):
    c = rev2_login(roost, 2)
    r = c.ok("SELECT INBOX")
    r = c.ok("FETCH 1:* (FLAGS)")
    assert len([l for l in r if " FETCH " in l]) == 2 and not any("\\Recent" in l for l in r), r
    roost.deliver(ADDR, make_message(3))
    r = c.ok("NOOP")
    assert "* 3 EXISTS" in r and not any("RECENT" in l for l in r), r
    r = c.ok("FETCH 3 (FLAGS)")
    assert "\\Recent" not in r[0], r
    # RECENT in STATUS is gone in IMAP4rev2
    r = c.cmd("STATUS INBOX (RECENT)")
    assert status_of(r) == "BAD", r
    r = c.ok("STATUS INBOX (MESSAGES DELETED SIZE UIDNEXT UNSEEN)")
    assert re.search(r"\(MESSAGES 3 DELETED 0 SIZE \d+ UIDNEXT 4 UNSEEN 3\)", r[0]), r
    # the search key RECENT matches nothing (no message is recent)
    tag = c.tag()
    r = c.cmd("SEARCH RECENT", tag=tag)
    assert esearch(r, tag) == "", r


def test_search_is_esearch(roost):
    c = rev2_login(roost, 4)
    c.ok("SELECT INBOX")
    c.ok("STORE 2,4 +FLAGS.SILENT (\\Flagged)")
    tag = c.tag()
    r = c.cmd("SEARCH ALL", tag=tag)
    assert esearch(r, tag) == "ALL 1:4", r
    tag = c.tag()
    r = c.cmd("UID SEARCH FLAGGED", tag=tag)
    assert esearch(r, tag) == "UID ALL 2,4", r
    tag = c.tag()
    r = c.cmd("SEARCH DELETED", tag=tag)
    assert esearch(r, tag) == "", r
    tag = c.tag()
    r = c.cmd("SEARCH RETURN (MIN COUNT) FLAGGED", tag=tag)
    assert esearch(r, tag) == "MIN 2 COUNT 2", r
    # CHARSET stays valid in IMAP4rev2
    tag = c.tag()
    r = c.cmd("SEARCH CHARSET UTF-8 SUBJECT message", tag=tag)
    assert status_of(r) == "OK" and esearch(r, tag) == "ALL 1:4", r
    r = c.cmd("SEARCH CHARSET X-NONE SUBJECT message")
    assert status_of(r) == "NO" and "[BADCHARSET" in r[-1], r
    # SEARCHRES still works
    c.ok("SEARCH RETURN (SAVE) FLAGGED")
    r = c.ok("FETCH $ (UID)")
    assert len([l for l in r if " FETCH " in l]) == 2, r


def test_rev1_session_unchanged(roost):
    for i in range(1, 3):
        roost.deliver(ADDR, make_message(i))
    c = raw_login(roost)
    r = c.ok("SELECT INBOX")
    assert "* 2 RECENT" in r and not any(l.startswith("* LIST") for l in r), r
    r = c.ok("SEARCH ALL")
    assert "* SEARCH 1 2" in r, r
    r = c.ok("FETCH 1 (FLAGS)")
    assert "\\Recent" in r[0], r
    r = c.ok("EXAMINE Drafts")
    assert not any("[CLOSED]" in l for l in r), r


def test_list_and_response_codes(roost):
    c = rev2_login(roost, 1)
    c.ok("SUBSCRIBE INBOX")
    c.ok("SUBSCRIBE Gone")
    r = c.ok('LIST (SUBSCRIBED) "" "*"')
    assert any(l.startswith("* LIST (\\NonExistent \\Subscribed)") and l.endswith("Gone")
               for l in r), r
    assert any("\\Subscribed" in l and l.endswith("INBOX") for l in r), r
    r = c.ok('LIST "" "*" RETURN (SUBSCRIBED CHILDREN)')
    assert any("\\Subscribed" in l and l.endswith("INBOX") for l in r), r
    assert all("\\HasNoChildren" in l or "\\HasChildren" in l for l in r[:-1]), r
    r = c.ok("NAMESPACE")
    assert r[0] == '* NAMESPACE (("" "/")) NIL NIL', r
    c.ok("SELECT INBOX")
    r = c.cmd("COPY 1 Nowhere")
    assert status_of(r) == "NO" and "[TRYCREATE]" in r[-1], r
    r = c.cmd("MOVE 1 Nowhere")
    assert status_of(r) == "NO" and "[TRYCREATE]" in r[-1], r
    r = c.cmd("CREATE Drafts")
    assert status_of(r) == "NO" and "[ALREADYEXISTS]" in r[-1], r
    r = c.cmd("DELETE Nowhere")
    assert status_of(r) == "NO" and "[NONEXISTENT]" in r[-1], r
    r = c.cmd("RENAME Nowhere Else")
    assert status_of(r) == "NO" and "[NONEXISTENT]" in r[-1], r
    r = c.cmd('CREATE "a/../b"')
    assert status_of(r) == "NO" and "[CANNOT]" in r[-1], r
    r = c.cmd("STATUS Nowhere (MESSAGES)")
    assert status_of(r) == "NO" and "[NONEXISTENT]" in r[-1], r
    msg = make_message(9)
    r = c.cmd(b"APPEND Nowhere {%d+}\r\n" % len(msg) + msg)
    assert status_of(r) == "NO" and "[TRYCREATE]" in r[-1], r
    # UID EXPUNGE, MOVE, UNSELECT, BINARY are there
    c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    r = c.ok("UID EXPUNGE 1")
    assert "* 1 EXPUNGE" in r, r
    c.ok("UNSELECT")


def test_literal_plus_by_default(roost):
    c = raw_login(roost)
    big = b"x" * 5000
    # LITERAL+: no cap on non-synchronising literals
    r = c.cmd(b'LIST "" {%d+}\r\n' % len(big) + big)
    assert status_of(r) == "OK", r


def test_literal_minus(roost_factory):
    roost = roost_factory(limits={"literal_minus": "true"}).start()
    roost.deliver(ADDR, make_message(1))
    c = RawImap(roost.ports["imaps"], tls=True)
    pre = caps(c.greeting)
    assert "LITERAL-" in pre and "LITERAL+" not in pre, pre
    r = c.login()
    post = caps(r[-1]) if "[CAPABILITY" in r[-1] else caps(c.cmd("CAPABILITY")[0])
    assert "LITERAL-" in post and "LITERAL+" not in post, post
    # up to 4096 octets a non-synchronising literal is fine
    name = b"a" * 4096
    r = c.cmd(b'LIST "" {4096+}\r\n' + name)
    assert status_of(r) == "OK", r
    # above: BAD [TOOBIG], the literal is skipped and the session goes on
    big = b"b" * 4097
    r = c.cmd(b'LIST "" {4097+}\r\n' + big)
    assert status_of(r) == "BAD" and "[TOOBIG]" in r[-1] and "LITERAL-" in r[-1], r
    c.ok("NOOP")
    # a synchronising literal of that size is fine
    tag = c.tag()
    c.send(tag.encode() + b' LIST "" {4097}\r\n')
    assert c.line().startswith("+ "), "no continuation"
    c.send(big + b"\r\n")
    r = c.until_tagged(tag)
    assert status_of(r) == "OK", r
    # APPEND with a large non-synchronising literal is refused, nothing saved
    msg = make_message(2, body_lines=400)
    assert len(msg) > 4096
    r = c.cmd(b"APPEND INBOX {%d+}\r\n" % len(msg) + msg)
    assert status_of(r) == "BAD" and "[TOOBIG]" in r[-1], r
    r = c.ok("STATUS INBOX (MESSAGES)")
    assert "MESSAGES 1" in r[0], r
    # ... and accepted with {n}
    tag = c.tag()
    c.send(tag.encode() + b" APPEND INBOX {%d}\r\n" % len(msg))
    assert c.line().startswith("+ ")
    c.send(msg + b"\r\n")
    r = c.until_tagged(tag)
    assert status_of(r) == "OK", r
    # a small APPEND with {n+} works
    small = make_message(3)
    r = c.cmd(b"APPEND INBOX {%d+}\r\n" % len(small) + small)
    assert status_of(r) == "OK", r
    r = c.ok("STATUS INBOX (MESSAGES)")
    assert "MESSAGES 3" in r[0], r
