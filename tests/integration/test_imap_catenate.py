"""CATENATE (RFC 4469), URL-PARTIAL (RFC 5550) and the UTF8 APPEND data form
(RFC 6855) against the real roostd: messages built from TEXT literals and
IMAP URLs (whole messages, sections, ranges), the exact bytes they give, URLs
to other mailboxes, CATENATE inside MULTIAPPEND, every BADURL case and
TOOBIG, each failure leaving nothing saved and the session usable."""
import re

from imap_util import crlf, parse_fetch, raw_login, status_of

# LF line ends on purpose: URL data is served with CRLF, like FETCH BODY[].
SRC = (b"From: a@example.net\nTo: alice@example.test\nSubject: Source\nMIME-Version: 1.0\n"
       b"Content-Type: multipart/mixed; boundary=b1\n\n"
       b"--b1\nContent-Type: text/plain\n\nfirst part\nline two\n"
       b"--b1\nContent-Type: text/html\n\n<p>second</p>\n--b1--\n")


def append(c, mailbox, msg):
    """APPENDs msg, returns (uidvalidity, uid)."""
    tag = c.tag()
    c.send(b"%s APPEND %s {%d+}\r\n%s\r\n" % (tag.encode(), mailbox.encode(), len(msg), msg))
    r = c.until_tagged(tag)
    m = re.search(r"\[APPENDUID (\d+) (\d+)\]", r[-1])
    assert status_of(r) == "OK" and m, r
    return int(m.group(1)), int(m.group(2))


def messages_in(c, mailbox="INBOX"):
    r = c.ok(f"STATUS {mailbox} (MESSAGES)")
    return int(re.search(r"MESSAGES (\d+)", r[0]).group(1))


def fetch(c, mailbox, uid, item="BODY.PEEK[]"):
    """The data of one FETCH item of a message, as bytes."""
    c.ok(f"EXAMINE {mailbox}")
    lines = c.bcmd(f"UID FETCH {uid} ({item})")
    assert lines[-1].split(b" ")[1] == b"OK", lines
    _, items = parse_fetch([l for l in lines if b" FETCH " in l][0])
    key = [k for k in items if k.startswith(item.replace(".PEEK", "").split("<")[0])][0]
    v = items[key]
    return b"" if v is None else (v if isinstance(v, bytes) else v.encode())


def cat(c, mailbox, parts, flags=""):
    """APPEND ... CATENATE (parts) with non-synchronising TEXT literals; returns the lines."""
    data = b""
    for kind, v in parts:
        if kind == "TEXT":
            data += b" TEXT {%d+}\r\n%s" % (len(v), v)
        else:
            data += b' URL "%s"' % v.encode()
    tag = c.tag()
    c.send(b"%s APPEND %s %sCATENATE (%s)\r\n" % (tag.encode(), mailbox.encode(),
                                                  flags.encode(), data[1:]))
    return c.until_tagged(tag)


def appenduid(lines):
    m = re.search(r"\[APPENDUID (\d+) ([0-9:,]+)\]", lines[-1])
    assert status_of(lines) == "OK" and m, lines
    return int(m.group(1)), m.group(2)


def test_capability(roost):
    c = raw_login(roost)
    caps = c.cmd("CAPABILITY")[0].split()
    for cap in ("CATENATE", "URL-PARTIAL", "REPLACE"):
        assert cap in caps, caps


def test_text_url_section_partial_exact_bytes(roost):
    c = raw_login(roost)
    v, src = append(c, "INBOX", SRC)
    whole = fetch(c, "INBOX", src)
    part1 = fetch(c, "INBOX", src, "BODY.PEEK[1]")
    mime2 = fetch(c, "INBOX", src, "BODY.PEEK[2.MIME]")
    assert whole == crlf(SRC)
    assert part1 == b"first part\r\nline two"
    c.ok("UNSELECT")
    head = b"From: me@example.test\r\nSubject: Built\r\n\r\n"
    r = cat(c, "Drafts", [("TEXT", head),
                          ("URL", f"/INBOX;UIDVALIDITY={v}/;UID={src}/;SECTION=1"),
                          ("TEXT", b"\r\n--\r\n"),
                          ("URL", f"/INBOX;UIDVALIDITY={v}/;UID={src}/;PARTIAL=6.15"),
                          ("URL", f"/INBOX/;UID={src}/;SECTION=2.MIME"),
                          ("URL", f"/INBOX/;UID={src}/;SECTION=1/;PARTIAL=6"),
                          ("TEXT", b"\r\n")],
            flags="(\\Draft) ")
    _, new = appenduid(r)
    got = fetch(c, "Drafts", new)
    expect = (head + part1 + b"\r\n--\r\n" + whole[6:21] + mime2 + part1[6:] + b"\r\n")
    assert got == expect
    assert whole[6:21] == b"a@example.net\r\n"
    c.ok("EXAMINE Drafts")
    assert "\\Draft" in c.ok(f"UID FETCH {new} FLAGS")[0]


def test_headers_fields_and_relative_urls(roost):
    c = raw_login(roost)
    v, src = append(c, "INBOX", SRC)
    c.ok("SELECT INBOX")
    # Relative to the selected mailbox; a section with a field list; UTF-8 and
    # modified UTF-7 names of the same mailbox; imap:// naming this user.
    c.ok("CREATE Entw&APw-rfe")
    _, other = append(c, "Entw&APw-rfe", b"Subject: umlaut\r\n\r\nbody\r\n")
    c.ok("SELECT INBOX")
    r = cat(c, "INBOX", [
        ("URL", f";UID={src}/;SECTION=HEADER.FIELDS%20(Subject%20To)"),
        ("URL", f"/Entw%C3%BCrfe/;UID={other}/;SECTION=TEXT"),
        ("URL", f"/Entw&APw-rfe/;UID={other}/;SECTION=TEXT"),
        ("URL", f"imap://alice@localhost/INBOX;UIDVALIDITY={v}/;UID={src}/;SECTION=1"),
        ("URL", f"imap://alice%40example.test;AUTH=*@LOCALHOST:143/INBOX/;UID={src}"
                "/;SECTION=1/;PARTIAL=0.5"),
    ])
    _, new = appenduid(r)
    got = fetch(c, "INBOX", new)
    assert got == (b"To: alice@example.test\r\nSubject: Source\r\n\r\n" + b"body\r\n" * 2 +
                   b"first part\r\nline two" + b"first")


def test_partial_edges(roost):
    c = raw_login(roost)
    v, src = append(c, "INBOX", SRC)
    # Offset past the end: nothing; a length past the end: up to the end.
    r = cat(c, "INBOX", [("TEXT", b"Subject: edge\r\n\r\n"),
                         ("URL", f"/INBOX/;UID={src}/;PARTIAL=100000.5"),
                         ("URL", f"/INBOX/;UID={src}/;SECTION=1/;PARTIAL=12.1000"),
                         ("URL", f"/INBOX/;UID={src}/;SECTION=1/;PARTIAL=20")])
    _, new = appenduid(r)
    assert fetch(c, "INBOX", new) == b"Subject: edge\r\n\r\nline two"
    # A message made of URLs only, nothing but an empty range: NO, nothing saved.
    before = messages_in(c)
    r = cat(c, "INBOX", [("URL", f"/INBOX/;UID={src}/;PARTIAL=99999")])
    assert status_of(r) == "NO", r
    r = cat(c, "INBOX", [("TEXT", b"")])
    assert status_of(r) == "NO", r
    assert messages_in(c) == before


def test_synchronising_text_literals(roost):
    c = raw_login(roost)
    v, src = append(c, "INBOX", SRC)
    c.send(b"s1 APPEND INBOX CATENATE (TEXT {17}\r\n")
    assert c.line().startswith("+")
    c.send(b"Subject: sync\r\n\r\n URL \"/INBOX/;UID=%d/;SECTION=1\" TEXT {2}\r\n" % src)
    assert c.line().startswith("+")
    c.send(b"!!)\r\n")
    r = c.until_tagged("s1")
    _, new = appenduid(r)
    assert fetch(c, "INBOX", new) == b"Subject: sync\r\n\r\nfirst part\r\nline two!!"


def test_multiappend_with_catenate(roost):
    c = raw_login(roost)
    v, src = append(c, "INBOX", SRC)
    plain = crlf(b"Subject: plain\n\nplain body\n")
    t = b"Subject: cat\r\n\r\n"
    data = (b'm1 APPEND Drafts {%d+}\r\n%s (\\Seen) CATENATE (TEXT {%d+}\r\n%s URL "/INBOX/;UID=%d'
            b'/;SECTION=1") CATENATE (URL "/INBOX/;UID=%d")\r\n'
            % (len(plain), plain, len(t), t, src, src))
    c.send(data)
    r = c.until_tagged("m1")
    _, uids = appenduid(r)
    first, last = (int(x) for x in uids.split(":"))
    assert last - first == 2
    assert fetch(c, "Drafts", first) == plain
    assert fetch(c, "Drafts", first + 1) == t + b"first part\r\nline two"
    assert fetch(c, "Drafts", last) == crlf(SRC)
    # A bad URL in a later message: none of them is saved.
    before = messages_in(c, "Drafts")
    data = (b'm2 APPEND Drafts {%d+}\r\n%s CATENATE (URL "/INBOX/;UID=%d") '
            b'CATENATE (URL "/INBOX/;UID=999")\r\n' % (len(plain), plain, src))
    c.send(data)
    r = c.until_tagged("m2")
    assert status_of(r) == "NO" and "[BADURL /INBOX/;UID=999]" in r[-1], r
    assert messages_in(c, "Drafts") == before


def test_every_badurl_case(roost):
    c = raw_login(roost)
    v, src = append(c, "INBOX", SRC)
    before = messages_in(c)
    cases = [
        "/Nonexistent/;UID=1",                               # unknown mailbox
        f"/INBOX;UIDVALIDITY={v + 1}/;UID={src}",            # wrong UIDVALIDITY
        f"/INBOX/;UID={src + 50}",                           # missing UID
        f"/INBOX/;UID={src}/;SECTION=7",                     # no such part
        f"/INBOX/;UID={src}/;SECTION=1.2.3",                 # no such part
        f"/INBOX/;UID={src}/;SECTION=BOGUS",                 # malformed section
        f"/INBOX/;UID={src}/;PARTIAL=5.0",                   # zero length
        f"imap://bob@localhost/INBOX/;UID={src}",            # another user
        f"imap://localhost/INBOX/;UID={src}",                # anonymous
        f"imap://alice@mail.elsewhere.test/INBOX/;UID={src}",  # another server
        f"/INBOX/;UID={src};URLAUTH=anonymous:internal:0123",  # URLAUTH
        f"/INBOX/;UID={src};EXPIRE=2030-01-01T00:00:00Z;URLAUTH=submit+alice:internal:01",
        f";UID={src}",                                       # relative, nothing selected
        "INBOX/;UID=1",                                      # unsupported relative form
        "http://localhost/INBOX/;UID=1",
        "/INBOX?SUBJECT%20x",
        "/IN%ZZBOX/;UID=1",
    ]
    for url in cases:
        r = cat(c, "INBOX", [("TEXT", b"Subject: x\r\n\r\n"), ("URL", url), ("TEXT", b"tail")])
        assert status_of(r) == "NO", (url, r)
        assert f"[BADURL {url}]" in r[-1], (url, r)
        assert status_of(c.cmd("NOOP")) == "OK"
    assert messages_in(c) == before
    # The BADURL code never holds ']' or spaces unencoded.
    r = cat(c, "INBOX", [("URL", "/IN]BOX/;UID=1")])
    assert "[BADURL /IN%5DBOX/;UID=1]" in r[-1], r
    # A synchronising TEXT after a bad URL: the NO comes instead of "+".
    c.send(b'b1 APPEND INBOX CATENATE (URL "/Nope/;UID=1" TEXT {5}\r\n')
    line = c.line()
    assert line.startswith("b1 NO [BADURL /Nope/;UID=1]"), line
    assert status_of(c.cmd("NOOP")) == "OK"
    assert messages_in(c) == before


def test_too_big(roost_factory):
    r0 = roost_factory(limits={"literal_size": "1KiB"}).start()
    c = raw_login(r0)
    src_msg = b"Subject: big\r\n\r\n" + b"x" * 580 + b"\r\n"
    v, src = append(c, "INBOX", src_msg)
    before = messages_in(c)
    # Two URLs of 600 octets: over 1024.
    r = cat(c, "INBOX", [("URL", f"/INBOX/;UID={src}"), ("URL", f"/INBOX/;UID={src}")])
    assert status_of(r) == "NO" and "[TOOBIG]" in r[-1], r
    # A TEXT literal that would take the total over: NO before "+".
    c.send(b'b2 APPEND INBOX CATENATE (URL "/INBOX/;UID=%d" TEXT {500}\r\n' % src)
    line = c.line()
    assert line.startswith("b2 NO [TOOBIG]"), line
    # One literal over the cap by itself.
    c.send(b"b3 APPEND INBOX CATENATE (TEXT {2000}\r\n")
    line = c.line()
    assert line.startswith("b3 NO [TOOBIG]"), line
    # Non-synchronising: BAD [TOOBIG], its bytes skipped, the session goes on.
    c.send(b'b4 APPEND INBOX CATENATE (URL "/INBOX/;UID=%d" TEXT {500+}\r\n%s)\r\n'
           % (src, b"y" * 500))
    r = c.until_tagged("b4")
    assert status_of(r) == "BAD" and "[TOOBIG]" in r[-1], r
    assert status_of(c.cmd("NOOP")) == "OK"
    # Up to the limit is fine: a PARTIAL keeps it under.
    r = cat(c, "INBOX", [("URL", f"/INBOX/;UID={src}"),
                         ("URL", f"/INBOX/;UID={src}/;SECTION=TEXT/;PARTIAL=0.100")])
    appenduid(r)
    assert messages_in(c) == before + 1


def test_utf8_append_data(roost):
    c = raw_login(roost)
    msg = "Subject: Grüße\r\nFrom: jörg@example.test\r\n\r\nschön\r\n".encode()
    before = messages_in(c)
    c.send(b"u1 APPEND INBOX UTF8 (~{%d+}\r\n%s)\r\n" % (len(msg), msg))
    r = c.until_tagged("u1")
    assert status_of(r) == "BAD", r
    assert status_of(c.cmd("NOOP")) == "OK"
    c.send(b"u2 APPEND INBOX CATENATE (UTF8 (~{%d+}\r\n%s))\r\n" % (len(msg), msg))
    assert status_of(c.until_tagged("u2")) == "BAD"
    assert messages_in(c) == before
    r = c.ok("ENABLE UTF8=ACCEPT")
    assert "* ENABLED UTF8=ACCEPT" in r, r
    c.send(b"u3 APPEND INBOX UTF8 (~{%d+}\r\n%s)\r\n" % (len(msg), msg))
    _, uid = appenduid(c.until_tagged("u3"))
    assert fetch(c, "INBOX", uid) == msg
    c.ok("UNSELECT")
    c.send(b"u4 APPEND INBOX CATENATE (UTF8 (~{%d}\r\n" % len(msg))
    assert c.line().startswith("+")
    c.send(msg + b') URL "/INBOX/;UID=%s/;SECTION=TEXT")\r\n' % uid.encode())
    _, uid2 = appenduid(c.until_tagged("u4"))
    assert fetch(c, "INBOX", uid2) == msg + b"sch\xc3\xb6n\r\n"
    # A UTF8 form without a literal8: BAD.
    c.send(b"u5 APPEND INBOX UTF8 ({3+}\r\nabc)\r\n")
    assert status_of(c.until_tagged("u5")) == "BAD"
    assert status_of(c.cmd("NOOP")) == "OK"
