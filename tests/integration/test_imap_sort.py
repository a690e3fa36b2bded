"""SORT (RFC 5256, RFC 5957 DISPLAYFROM/DISPLAYTO), ESORT (RFC 5267) and THREAD
(ORDEREDSUBJECT, REFERENCES, REFS) against a running roostd."""
import re

from imap_util import ADDR, deliver_all, imap_login, raw_login, status_of


def body(n):
    return b"x" * n + b"\r\n"


SORT_MSGS = [
    b"From: Zoe Adams <zoe@example.net>\r\nTo: bob@example.test\r\nCc: carol@example.test\r\n"
    b"Subject: Re: Budget\r\nDate: Mon, 02 Jan 2023 10:00:00 +0000\r\n\r\n" + body(10),
    b"From: Ann <mike@example.net>\r\nTo: Alice <alice@example.test>\r\nSubject: Apples\r\n"
    b"Date: Sun, 01 Jan 2023 12:00:00 +0000\r\n\r\n" + body(3000),
    b"From: <bert@example.org>\r\nTo: zed@example.test\r\nCc: Abe <abe@example.test>\r\n"
    b"Subject: [list] budget\r\nDate: Tue, 03 Jan 2023 09:00:00 +0100\r\n\r\n" + body(1000),
    b"From: =?UTF-8?B?w5xsaQ==?= <uli@example.net>\r\nTo: Aaron <dora@example.test>\r\n"
    b"Subject: =?UTF-8?B?w5xiZXJ3ZWlzdW5n?=\r\nDate: Sat, 31 Dec 2022 23:00:00 -0200\r\n\r\n"
    + body(300),
]


def thread_msg(n, subject, time, extra=b""):
    return (b"From: a@example.net\r\nTo: alice@example.test\r\nMessage-ID: <%d@thread.test>\r\n"
            b"Subject: %s\r\nDate: Mon, 02 Jan 2023 %s +0000\r\n%s\r\nbody\r\n"
            % (n, subject, time, extra))


THREAD_MSGS = [
    thread_msg(1, b"Alpha", b"10:00:00"),
    thread_msg(2, b"Re: Alpha", b"11:00:00", b"References: <1@thread.test>\r\n"),
    thread_msg(3, b"Beta", b"10:30:00"),
    thread_msg(4, b"Re: Alpha", b"12:00:00",
               b"References: <1@thread.test>\r\n <2@thread.test>\r\n"),
    thread_msg(5, b"RE: alpha", b"11:30:00", b"In-Reply-To: <1@thread.test> (Ann)\r\n"),
    thread_msg(6, b"Re: Beta", b"13:00:00"),
    thread_msg(7, b"Gamma", b"09:00:00", b"References: <missing@thread.test>\r\n"),
    thread_msg(8, b"Re: Gamma", b"09:30:00", b"References: <missing@thread.test>\r\n"),
]


def box(roost, msgs):
    """Delivers a throw-away message and expunges it, then `msgs`: UID = number + 1."""
    deliver_all(roost, [b"Subject: junk\r\n\r\njunk\r\n"] + msgs, address=ADDR)
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    c.ok("EXPUNGE")
    return c


def sort(c, text):
    r = c.cmd(text)
    assert status_of(r) == "OK", (text, r)
    lines = [l for l in r if l.startswith("* SORT")]
    assert len(lines) == 1, r
    return [int(x) for x in lines[0].split()[2:]]


def thread(c, text):
    r = c.cmd(text)
    assert status_of(r) == "OK", (text, r)
    lines = [l for l in r if l.startswith("* THREAD")]
    assert len(lines) == 1, r
    return lines[0][len("* THREAD"):].strip()


def test_capabilities(roost):
    c = raw_login(roost)
    r = c.ok("CAPABILITY")
    caps = r[0].split()
    for cap in ("SORT", "SORT=DISPLAY", "ESORT", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES",
                "THREAD=REFS"):
        assert cap in caps, r


def test_sort_keys(roost):
    c = box(roost, SORT_MSGS)
    assert sort(c, "SORT (ARRIVAL) UTF-8 ALL") == [1, 2, 3, 4]
    assert sort(c, "SORT (SIZE) UTF-8 ALL") == [1, 4, 3, 2]
    assert sort(c, "SORT (REVERSE SIZE) UTF-8 ALL") == [2, 3, 4, 1]
    assert sort(c, "SORT (DATE) UTF-8 ALL") == [4, 2, 1, 3]
    assert sort(c, "SORT (REVERSE DATE) US-ASCII ALL") == [3, 1, 2, 4]
    assert sort(c, "SORT (SUBJECT) UTF-8 ALL") == [2, 1, 3, 4]
    assert sort(c, "SORT (REVERSE SUBJECT) UTF-8 ALL") == [4, 1, 3, 2]
    assert sort(c, "SORT (SUBJECT REVERSE DATE) UTF-8 ALL") == [2, 3, 1, 4]
    assert sort(c, "SORT (FROM) UTF-8 ALL") == [3, 2, 4, 1]
    # i;unicode-casemap (RFC 5051): "Üli" is U + U+0308 "LI", before "ZOE ADAMS".
    assert sort(c, "SORT (DISPLAYFROM) UTF-8 ALL") == [2, 3, 4, 1]
    assert sort(c, "SORT (REVERSE DISPLAYFROM) UTF-8 ALL") == [1, 4, 3, 2]
    assert sort(c, "SORT (TO) UTF-8 ALL") == [2, 1, 4, 3]
    assert sort(c, "SORT (DISPLAYTO) UTF-8 ALL") == [4, 2, 1, 3]
    assert sort(c, "SORT (CC) UTF-8 ALL") == [2, 4, 3, 1]
    # 2 and 4 tie on CC; 4 arrived in the same second as 2 or later
    assert sort(c, "sort (cc reverse arrival) utf-8 all") in ([4, 2, 3, 1], [2, 4, 3, 1])
    # the search program selects
    assert sort(c, "SORT (SUBJECT) UTF-8 FROM example.net") == [2, 1, 4]
    assert sort(c, "SORT (SIZE) UTF-8 2:3 LARGER 100") == [3, 2]
    assert sort(c, "SORT (SIZE) UTF-8 SUBJECT nothing-matches") == []


def test_uid_sort(roost):
    c = box(roost, SORT_MSGS)
    assert sort(c, "UID SORT (SIZE) UTF-8 ALL") == [2, 5, 4, 3]
    assert sort(c, "UID SORT (DATE) UTF-8 UID 2:4") == [3, 2, 4]
    c.close()
    m = imap_login(roost)
    m.select("INBOX")
    typ, data = m.uid("SORT", "(REVERSE DATE)", "UTF-8", "ALL")
    assert typ == "OK" and data[0].split() == [b"4", b"2", b"3", b"5"], data
    m.logout()


def test_sort_return(roost):
    c = box(roost, SORT_MSGS)
    r = c.cmd("SORT RETURN (MIN MAX COUNT ALL) (DATE) UTF-8 ALL", tag="s1")
    assert status_of(r) == "OK", r
    assert r[0] == '* ESEARCH (TAG "s1") MIN 4 MAX 3 COUNT 4 ALL 4,2,1,3', r
    r = c.cmd("UID SORT RETURN (ALL MIN) (SIZE) UTF-8 ALL", tag="s2")
    assert r[0] == '* ESEARCH (TAG "s2") UID MIN 2 ALL 2,5,4,3', r
    r = c.cmd("SORT RETURN () (ARRIVAL) UTF-8 ALL", tag="s3")
    assert r[0] == '* ESEARCH (TAG "s3") ALL 1:4', r
    r = c.cmd("SORT RETURN (COUNT MIN) (ARRIVAL) UTF-8 SUBJECT none", tag="s4")
    assert r[0] == '* ESEARCH (TAG "s4") COUNT 0', r
    assert not any(l.startswith("* SORT") for l in r), r


def test_thread_algorithms(roost):
    c = box(roost, THREAD_MSGS)
    assert thread(c, "THREAD REFERENCES UTF-8 ALL") == "((7)(8))(1 (2 4)(5))(3 6)"
    assert thread(c, "THREAD ORDEREDSUBJECT UTF-8 ALL") == "(7 8)(1 (2)(5)(4))(3 6)"
    assert thread(c, "THREAD REFS UTF-8 ALL") == "((7)(8))(3)(1 (2 4)(5))(6)"
    assert thread(c, "UID THREAD REFERENCES UTF-8 ALL") == "((8)(9))(2 (3 5)(6))(4 7)"
    assert thread(c, "uid thread orderedsubject us-ascii all") == "(8 9)(2 (3)(6)(5))(4 7)"
    assert thread(c, "THREAD REFERENCES UTF-8 SUBJECT alpha") == "(1 (2 4)(5))"
    assert thread(c, "THREAD REFERENCES UTF-8 SUBJECT nothing") == ""
    r = c.cmd("THREAD REFERENCES UTF-8 SUBJECT nothing")
    assert r[0] == "* THREAD", r
    c.close()
    m = imap_login(roost)
    m.select("INBOX")
    typ, data = m.thread("REFERENCES", "UTF-8", "ALL")
    assert typ == "OK" and data[0] == b"((7)(8))(1 (2 4)(5))(3 6)", data
    m.logout()


def test_failures(roost):
    deliver_all(roost, SORT_MSGS[:1], address=ADDR)
    c = raw_login(roost)
    # not selected
    assert status_of(c.cmd("SORT (DATE) UTF-8 ALL")) in ("BAD", "NO")
    assert status_of(c.cmd("THREAD REFERENCES UTF-8 ALL")) in ("BAD", "NO")
    c.ok("SELECT INBOX")
    r = c.cmd("SORT (FROB) UTF-8 ALL")
    assert status_of(r) == "BAD", r
    r = c.cmd("SORT (REVERSE) UTF-8 ALL")
    assert status_of(r) == "BAD", r
    r = c.cmd("SORT (DATE) ALL")
    assert status_of(r) == "BAD", r
    r = c.cmd("SORT DATE UTF-8 ALL")
    assert status_of(r) == "BAD", r
    r = c.cmd("SORT RETURN (SAVE) (DATE) UTF-8 ALL")
    assert status_of(r) == "BAD", r
    r = c.cmd("SORT (DATE) X-NO-SUCH-CHARSET ALL")
    assert status_of(r) == "NO" and "[BADCHARSET" in r[-1], r
    r = c.cmd("THREAD FROB UTF-8 ALL")
    assert status_of(r) == "BAD", r
    r = c.cmd("THREAD REFERENCES X-NO-SUCH-CHARSET ALL")
    assert status_of(r) == "NO" and "[BADCHARSET" in r[-1], r
    r = c.cmd("THREAD REFERENCES UTF-8")
    assert status_of(r) == "BAD", r
    r = c.cmd("UID THREAD REFERENCES UTF-8 FROB")
    assert status_of(r) == "BAD", r
    # the session is still fine
    assert sort(c, "SORT (DATE) UTF-8 ALL") == [1]
    assert thread(c, "THREAD REFS UTF-8 ALL") == "(1)"


def test_many_messages_streamed(roost):
    msgs = [b"Subject: m %d\r\nDate: Mon, 02 Jan 2023 10:%02d:00 +0000\r\n\r\nx\r\n"
            % (i, 59 - i) for i in range(40)]
    deliver_all(roost, msgs, address=ADDR)
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    assert sort(c, "SORT (DATE) UTF-8 ALL") == list(range(40, 0, -1))
    assert sort(c, "SORT (REVERSE DATE) UTF-8 ALL") == list(range(1, 41))
    t = thread(c, "THREAD REFS UTF-8 ALL")
    assert re.fullmatch(r"(\(\d+\))+", t) and t.startswith("(40)(39)"), t
