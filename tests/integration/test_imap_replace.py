"""REPLACE and UID REPLACE (RFC 8508) against the real roostd: the new
message is saved (APPENDUID in an untagged OK and the tagged OK), the old one
is expunged and announced (to this session with the answer, to another
session at its next command), and every failure leaves the old message in
place with the session usable."""
import re

from imap_util import crlf, raw_login, status_of, untagged


def append(c, mailbox, msg, flags=""):
    tag = c.tag()
    c.send(b"%s APPEND %s %s{%d+}\r\n%s\r\n" % (tag.encode(), mailbox.encode(), flags.encode(),
                                                len(msg), msg))
    r = c.until_tagged(tag)
    m = re.search(r"\[APPENDUID (\d+) (\d+)\]", r[-1])
    assert status_of(r) == "OK" and m, r
    return int(m.group(1)), int(m.group(2))


def msg(n):
    return crlf(b"Subject: draft %d\nFrom: alice@example.test\n\nversion %d\n" % (n, n))


def uids(c, mailbox):
    c.ok(f"EXAMINE {mailbox}")
    r = c.ok("UID SEARCH ALL")
    found = [l for l in r if l.startswith("* SEARCH")][0].split()[2:]
    return [int(x) for x in found]


def replace(c, text, data, tag=None):
    tag = tag or c.tag()
    c.send(b"%s %s {%d+}\r\n%s\r\n" % (tag.encode(), text.encode(), len(data), data))
    return c.until_tagged(tag)


def test_replace_in_the_same_mailbox(roost):
    c = raw_login(roost)
    other = raw_login(roost)
    v, u1 = append(c, "Drafts", msg(1), "(\\Draft) ")
    _, u2 = append(c, "Drafts", msg(2))
    c.ok("SELECT Drafts")
    other.ok("SELECT Drafts")
    r = replace(c, "REPLACE 1 Drafts (\\Draft \\Seen)", msg(3))
    assert status_of(r) == "OK", r
    ok = [l for l in r if l.startswith("* OK [APPENDUID ")]
    assert ok, r
    new = int(re.search(r"APPENDUID (\d+) (\d+)", ok[0]).group(2))
    assert f"[APPENDUID {v} {new}]" in r[-1], r
    # The untagged OK comes before the EXPUNGE; the new message is announced.
    assert r.index(ok[0]) < r.index("* 1 EXPUNGE"), r
    assert "* 2 EXISTS" in r, r
    fl = c.ok(f"UID FETCH {new} (FLAGS BODY.PEEK[])")
    assert "\\Seen" in fl[0] and "\\Draft" in fl[0] and "version 3" in fl[0], fl
    assert uids(c, "Drafts") == [u2, new]
    # The other session sees the expunge and the new message.
    r = other.ok("NOOP")
    assert "* 1 EXPUNGE" in r, r
    assert untagged(r, "EXISTS"), r


def test_uid_replace_into_another_mailbox(roost):
    c = raw_login(roost)
    other = raw_login(roost)
    _, u1 = append(c, "Drafts", msg(1))
    _, u2 = append(c, "Drafts", msg(2))
    sv, _ = append(c, "Sent", msg(9))
    c.ok("SELECT Drafts")
    other.ok("SELECT Drafts")
    r = replace(c, f"UID REPLACE {u2} Sent", msg(4))
    assert status_of(r) == "OK", r
    m = re.search(r"\[APPENDUID (\d+) (\d+)\]", r[-1])
    assert m and int(m.group(1)) == sv, r
    assert "* 2 EXPUNGE" in r, r
    assert uids(c, "Drafts") == [u1]
    assert int(m.group(2)) in uids(c, "Sent")
    r = other.ok("NOOP")
    assert "* 2 EXPUNGE" in r, r
    # UID REPLACE * replaces the highest UID.
    c.ok("SELECT Drafts")
    r = replace(c, "UID REPLACE * Drafts", msg(5))
    assert status_of(r) == "OK" and "* 1 EXPUNGE" in r, r
    assert u1 not in uids(c, "Drafts")


def test_replace_with_catenate(roost):
    c = raw_login(roost)
    _, u1 = append(c, "Drafts", msg(1))
    c.ok("SELECT Drafts")
    c.send(b'r1 REPLACE 1 Drafts CATENATE (TEXT {17+}\r\nSubject: edited\r\n URL ";UID=%d/;SECTION=TEXT")'
           b"\r\n" % u1)
    r = c.until_tagged("r1")
    assert status_of(r) == "OK" and "* 1 EXPUNGE" in r, r
    new = int(re.search(r"APPENDUID \d+ (\d+)", r[-1]).group(1))
    body = c.ok(f"UID FETCH {new} BODY.PEEK[]")
    assert "Subject: edited" in "\n".join(body) and "version 1" in "\n".join(body), body
    # A bad URL: nothing saved, the old message stays.
    before = uids(c, "Drafts")
    c.ok("SELECT Drafts")
    c.send(b'r2 REPLACE 1 Drafts CATENATE (URL ";UID=999")\r\n')
    r = c.until_tagged("r2")
    assert status_of(r) == "NO" and "[BADURL ;UID=999]" in r[-1], r
    assert uids(c, "Drafts") == before


def test_failures_leave_the_old_message(roost):
    c = raw_login(roost)
    _, u1 = append(c, "Drafts", msg(1))
    # Not selected: BAD, and a synchronising literal is refused before "+".
    c.send(b"f1 REPLACE 1 Drafts {10}\r\n")
    line = c.line()
    assert line.startswith("f1 BAD"), line
    c.ok("SELECT Drafts")
    # Message number out of range: BAD before the literal.
    c.send(b"f2 REPLACE 5 Drafts {10}\r\n")
    assert c.line().startswith("f2 BAD"), "out of range"
    r = replace(c, "REPLACE 0 Drafts", msg(2))
    assert status_of(r) == "BAD", r
    # An unknown UID: NO.
    c.send(b"f3 UID REPLACE %d Drafts {10}\r\n" % (u1 + 10))
    line = c.line()
    assert line.startswith("f3 NO"), line
    # The destination does not exist: NO [TRYCREATE].
    c.send(b"f4 REPLACE 1 Nonexistent {10}\r\n")
    line = c.line()
    assert line.startswith("f4 NO [TRYCREATE]"), line
    # A bad flag: BAD; the message is untouched.
    r = replace(c, "REPLACE 1 Drafts (\\Recent)", msg(2))
    assert status_of(r) == "BAD", r
    # REPLACE takes one message only.
    c.send(b"f5 REPLACE 1 Drafts {3+}\r\nabc {3+}\r\ndef\r\n")
    r = c.until_tagged("f5")
    assert status_of(r) == "BAD", r
    assert status_of(c.cmd("NOOP")) == "OK"
    assert uids(c, "Drafts") == [u1]
    # Read-only (EXAMINE): NO [READ-ONLY].
    c.ok("EXAMINE Drafts")
    c.send(b"f6 REPLACE 1 Drafts {10}\r\n")
    line = c.line()
    assert line.startswith("f6 NO [READ-ONLY]"), line
    assert uids(c, "Drafts") == [u1]
    # Not authenticated: BAD.
    from imap_util import RawImap
    n = RawImap(roost.ports["imap"])
    r = n.cmd("REPLACE 1 INBOX {1+}\r\nx")
    assert status_of(r) == "BAD", r


def test_expunged_elsewhere(roost):
    c = raw_login(roost)
    other = raw_login(roost)
    _, u1 = append(c, "Drafts", msg(1))
    c.ok("SELECT Drafts")
    other.ok("SELECT Drafts")
    other.ok(f"UID STORE {u1} +FLAGS (\\Deleted)")
    other.ok("EXPUNGE")
    # The old message is gone already: the replacement is still saved, and
    # this session learns about the expunge with the answer.
    r = replace(c, f"UID REPLACE {u1} Drafts", msg(2))
    assert status_of(r) == "OK", r
    assert "* 1 EXPUNGE" in r, r
    new = int(re.search(r"APPENDUID \d+ (\d+)", r[-1]).group(1))
    assert uids(c, "Drafts") == [new]
    assert status_of(c.cmd("NOOP")) == "OK"
