"""UTF8=ACCEPT (RFC 6855) against the real roostd: ENABLE, UTF-8 mailbox names in
and out (seen as modified UTF-7 by a session that did not enable it), quoted
strings with UTF-8 before and after ENABLE, SEARCH with CHARSET after ENABLE,
and invalid UTF-8."""
import re

from conftest import make_message
from imap_util import ADDR, RawImap, raw_login, status_of

NAME = "Entwürfe/日本"
NAME_MUTF7 = "Entw&APw-rfe/&ZeVnLA-"


def q(s: str) -> bytes:
    """A quoted string of UTF-8 text, as bytes."""
    return b'"' + s.encode() + b'"'


def enable_utf8(c):
    r = c.ok("ENABLE UTF8=ACCEPT")
    assert "* ENABLED UTF8=ACCEPT" in r, r
    return r


def listed(lines):
    """Mailbox names of the LIST lines (quoted or atom), as str."""
    out = []
    for l in lines:
        m = re.match(r'^\* LIST \([^)]*\) (?:"[^"]*"|NIL) (?:"((?:[^"\\]|\\.)*)"|(\S+))', l)
        if m:
            out.append(m.group(1) if m.group(1) is not None else m.group(2))
    return out


def test_capability_and_enable(roost):
    c = RawImap(roost.ports["imaps"], tls=True)
    assert "UTF8=ACCEPT" not in c.greeting
    # ENABLE is not valid before login
    r = c.cmd("ENABLE UTF8=ACCEPT")
    assert status_of(r) == "BAD", r
    c.login()
    caps = c.cmd("CAPABILITY")[0].split()
    assert "UTF8=ACCEPT" in caps
    enable_utf8(c)
    # a second ENABLE enables nothing new
    r = c.ok("ENABLE UTF8=ACCEPT")
    assert r[0] == "* ENABLED", r
    # unknown names are ignored, CONDSTORE still works alongside
    r = c.ok("ENABLE X-UNKNOWN CONDSTORE")
    assert r[0] == "* ENABLED CONDSTORE", r


def test_quoted_8bit_before_enable_is_bad(roost):
    c = raw_login(roost)
    r = c.cmd(b"CREATE " + q("Entwürfe"))
    assert status_of(r) == "BAD" and "UTF8=ACCEPT" in r[-1], r
    r = c.cmd(b"SELECT " + q("Entwürfe"))
    assert status_of(r) == "BAD", r
    # the session goes on, and the same name in a literal is decoded as
    # modified UTF-7, which it is not: NO [CANNOT]
    c.ok("NOOP")
    data = "Entwürfe".encode()
    r = c.cmd(b"CREATE {%d+}\r\n" % len(data) + data)
    assert status_of(r) == "NO" and "[CANNOT]" in r[-1], r
    # 7-bit names with modified UTF-7 work as before
    c.ok('CREATE "Entw&APw-rfe"')


def test_utf8_names_in_and_out(roost):
    c = raw_login(roost)
    enable_utf8(c)
    c.ok(b"CREATE " + q(NAME))
    r = c.ok(b'LIST "" ' + q("Entwürfe*"))
    names = listed(r)
    assert "Entwürfe" in names and NAME in names, r
    # names go out as UTF-8, never in modified UTF-7
    assert not any("&" in l for l in r), r
    r = c.ok(b"SELECT " + q(NAME))
    assert "* 0 EXISTS" in r, r
    msg = make_message(1, subject="Grüße")
    r = c.cmd(b"APPEND " + q(NAME) + b" (\\Seen) {%d+}\r\n" % len(msg) + msg)
    assert status_of(r) == "OK" and "[APPENDUID" in r[-1], r
    r = c.ok(b"STATUS " + q(NAME) + b" (MESSAGES)")
    assert ("* STATUS \"%s\" (MESSAGES 1)" % NAME) in r, r
    # LIST-STATUS uses the same spelling
    r = c.ok(b'LIST "" ' + q(NAME) + b" RETURN (STATUS (MESSAGES))")
    assert ("* STATUS \"%s\" (MESSAGES 1)" % NAME) in r, r

    # a session without UTF8=ACCEPT sees the same mailbox in modified UTF-7
    o = raw_login(roost)
    r = o.ok('LIST "" "Entw*"')
    assert NAME_MUTF7 in listed(r) and "Entw&APw-rfe" in listed(r), r
    r = o.ok(f'SELECT "{NAME_MUTF7}"')
    assert "* 1 EXISTS" in r, r
    r = o.ok("FETCH 1 (FLAGS)")
    assert "\\Seen" in r[0], r
    # and what it creates in modified UTF-7 is UTF-8 for the first session
    o.ok('CREATE "Caf&AOk-"')
    r = c.ok(b'LIST "" ' + q("Café"))
    assert listed(r) == ["Café"], r
    # RENAME and DELETE in UTF-8
    c.ok(b"RENAME " + q("Café") + b" " + q("Entwürfe/Küche"))
    r = o.ok('LIST "" "Entw*"')
    assert "Entw&APw-rfe/K&APw-che" in listed(r), r
    c.ok(b"DELETE " + q("Entwürfe/Küche"))
    c.ok(b"SUBSCRIBE " + q(NAME))
    r = c.ok(b'LSUB "" ' + q("Entw*"))
    assert any(NAME in l for l in r), r


def test_mutf7_lookalike_is_taken_as_utf8(roost):
    c = raw_login(roost)
    enable_utf8(c)
    # valid modified UTF-7 and valid UTF-8: after ENABLE it is a UTF-8 name
    c.ok('CREATE "A&AOk-"')
    r = c.ok('LIST "" "A*"')
    assert "A&AOk-" in listed(r), r
    o = raw_login(roost)
    r = o.ok('LIST "" "A*"')
    # "&" itself is written "&-" in modified UTF-7
    assert "A&-AOk-" in listed(r) and "A&AOk-" not in listed(r), r


def test_invalid_utf8_names(roost):
    c = raw_login(roost)
    enable_utf8(c)
    # in a quoted string the parser refuses it
    r = c.cmd(b'CREATE "Entw\xfcrfe"')
    assert status_of(r) == "BAD" and "not valid UTF-8" in r[-1], r
    # in a literal it reaches the mailbox name check
    bad = b"Entw\xfcrfe"
    r = c.cmd(b"CREATE {%d+}\r\n" % len(bad) + bad)
    assert status_of(r) == "NO" and "[CANNOT]" in r[-1] and "UTF-8" in r[-1], r
    for cmd in (b"SELECT", b"STATUS", b"DELETE"):
        tail = b" (MESSAGES)" if cmd == b"STATUS" else b""
        r = c.cmd(cmd + b" {%d+}\r\n" % len(bad) + bad + tail)
        assert status_of(r) == "NO" and "[CANNOT]" in r[-1], (cmd, r)
    # a LIST pattern that is not UTF-8 matches nothing
    r = c.ok(b'LIST "" {%d+}\r\n' % len(bad) + bad)
    assert not listed(r), r
    c.ok("NOOP")


def test_search_after_enable(roost):
    roost.deliver(ADDR, make_message(1, subject="=?UTF-8?Q?Gr=C3=BC=C3=9Fe?="))
    roost.deliver(ADDR, make_message(2, subject="Hello"))
    c = raw_login(roost)
    # before ENABLE: CHARSET with a literal, as RFC 3501 wants
    c.ok("SELECT INBOX")
    data = "grüße".encode()
    r = c.ok(b"SEARCH CHARSET UTF-8 SUBJECT {%d+}\r\n" % len(data) + data)
    assert "* SEARCH 1" in r, r
    r = c.cmd(b"SEARCH SUBJECT " + q("grüße"))
    assert status_of(r) == "BAD", r
    enable_utf8(c)
    # after: a quoted UTF-8 string, no CHARSET
    r = c.ok(b"SEARCH SUBJECT " + q("grüße"))
    assert "* SEARCH 1" in r, r
    r = c.ok(b"UID SEARCH SUBJECT " + q("GRÜSSE") + b" OR SUBJECT hello ALL")
    assert status_of(r) == "OK", r
    # RFC 6855 3: a CHARSET now conflicts with UTF-8 strings
    for cs in (b"UTF-8", b"US-ASCII"):
        r = c.cmd(b"SEARCH CHARSET " + cs + b" SUBJECT hello")
        assert status_of(r) == "BAD" and "CHARSET" in r[-1], r
    c.ok("NOOP")


def test_envelope_and_headers_utf8(roost):
    raw = ("From: Jörg <joerg@example.net>\nTo: alice@example.test\n"
           "Subject: Grüße aus Köln\nMessage-ID: <u1@example.net>\n\nHallo\n").encode()
    roost.deliver(ADDR, raw)
    c = raw_login(roost)
    enable_utf8(c)
    c.ok("SELECT INBOX")
    r = c.bcmd("FETCH 1 (ENVELOPE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert r[-1].split()[1] == b"OK", r
    joined = b"\n".join(r)
    assert "Grüße aus Köln".encode() in joined and "Jörg".encode() in joined, r


def test_unauthenticate_resets_utf8(roost):
    c = raw_login(roost)
    enable_utf8(c)
    c.ok(b"CREATE " + q("Ünïcode"))
    c.ok("UNAUTHENTICATE")
    c.login()
    r = c.cmd(b"SELECT " + q("Ünïcode"))
    assert status_of(r) == "BAD", r
    r = c.ok('LIST "" "*code"')
    assert "&ANw-n&AO8-code" in listed(r), r
