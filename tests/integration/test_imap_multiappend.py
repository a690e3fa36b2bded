"""MULTIAPPEND (RFC 3502) against the real roostd: several messages in one
APPEND, saved all or none, visible only once the last one has arrived, with
APPENDUID naming them all."""
import re
import socket
import time

from conftest import make_message
from imap_util import RawImap, crlf, raw_login, status_of


def messages_in(c, mailbox="INBOX"):
    r = c.ok(f"STATUS {mailbox} (MESSAGES)")
    return int(re.search(r"MESSAGES (\d+)", r[0]).group(1))


def leftover_tmp_files(roost):
    return [p for p in roost.maildir("alice").rglob("tmp/*") if p.is_file()]


def test_capability(roost):
    c = raw_login(roost)
    assert "MULTIAPPEND" in c.cmd("CAPABILITY")[0].split()


def test_three_messages_literal_plus(roost):
    c = raw_login(roost)
    m = [crlf(make_message(i)) for i in range(1, 4)]
    data = (b'a APPEND INBOX (\\Seen) {%d+}\r\n%s (\\Flagged $Work) "05-Mar-2021 14:15:16 +0100"'
            b' {%d+}\r\n%s {%d+}\r\n%s\r\n' % (len(m[0]), m[0], len(m[1]), m[1], len(m[2]), m[2]))
    c.send(data)
    r = c.until_tagged("a")
    assert status_of(r) == "OK", r
    code = re.search(r"\[APPENDUID (\d+) ([0-9:,]+)\]", r[-1])
    assert code and code.group(2) == "1:3", r
    c.ok("SELECT INBOX")
    r = c.ok("FETCH 1:3 (UID FLAGS INTERNALDATE BODY.PEEK[])")
    joined = "\n".join(r)
    assert "\\Seen" in r[0] and "\\Flagged" in joined and "$Work" in joined, r
    assert re.search(r"INTERNALDATE \" ?5-Mar-2021", joined), r
    for i in range(1, 4):
        assert f"Subject: Message {i}" in joined
    assert not leftover_tmp_files(roost)


def test_synchronising_literals_and_nothing_visible_before_the_end(roost):
    c = raw_login(roost)
    watcher = raw_login(roost)
    m1, m2 = crlf(make_message(1)), crlf(make_message(2))
    c.send(b"a APPEND INBOX {%d}\r\n" % len(m1))
    assert c.line().startswith("+")
    c.send(m1 + b" {%d}\r\n" % len(m2))
    assert c.line().startswith("+")
    # The first message is complete but must not be visible yet.
    assert messages_in(watcher) == 0
    c.send(m2 + b"\r\n")
    r = c.until_tagged("a")
    assert status_of(r) == "OK" and "[APPENDUID " in r[-1], r
    assert messages_in(watcher) == 2


def test_bad_second_message_saves_nothing(roost):
    c = raw_login(roost)
    m1, m2 = crlf(make_message(1)), crlf(make_message(2))
    # \Recent may not be set by APPEND: BAD, and the first message is dropped too.
    c.send(b"a APPEND INBOX {%d+}\r\n%s (\\Recent) {%d+}\r\n%s\r\n" % (len(m1), m1, len(m2), m2))
    r = c.until_tagged("a")
    assert status_of(r) == "BAD", r
    assert status_of(c.cmd("NOOP")) == "OK"
    assert messages_in(c) == 0
    # An empty third message: NO, nothing saved.
    c.send(b"b APPEND INBOX {%d+}\r\n%s {%d+}\r\n%s {0+}\r\n\r\n" % (len(m1), m1, len(m2), m2))
    r = c.until_tagged("b")
    assert status_of(r) == "NO", r
    assert status_of(c.cmd("NOOP")) == "OK"
    assert messages_in(c) == 0
    assert not leftover_tmp_files(roost)


def test_too_big_later_message_saves_nothing(roost_factory):
    roost = roost_factory(limits={"literal_size": "2KiB"}).start()
    c = raw_login(roost)
    m1 = crlf(make_message(1))
    c.send(b"a APPEND INBOX {%d+}\r\n%s {5000}\r\n" % (len(m1), m1))
    r = c.until_tagged("a")
    assert status_of(r) == "NO" and "[TOOBIG]" in r[-1], r
    assert status_of(c.cmd("NOOP")) == "OK"
    assert messages_in(c) == 0
    assert not leftover_tmp_files(roost)


def test_missing_mailbox_and_disconnect(roost):
    c = raw_login(roost)
    m1 = crlf(make_message(1))
    r = c.cmd(b"APPEND NoSuch {%d+}\r\n%s {%d+}\r\n%s" % (len(m1), m1, len(m1), m1))
    assert status_of(r) == "NO" and "[TRYCREATE]" in r[-1], r
    # The connection drops after the first message: nothing is saved.
    c.send(b"b APPEND INBOX {%d+}\r\n%s {%d}\r\n" % (len(m1), m1, len(m1)))
    assert c.line().startswith("+")
    c.s.shutdown(socket.SHUT_RDWR)
    c.close()
    w = raw_login(roost)
    assert messages_in(w) == 0
    deadline = time.time() + 5
    while leftover_tmp_files(roost) and time.time() < deadline:
        time.sleep(0.05)
    assert not leftover_tmp_files(roost)


def test_selected_mailbox_sees_all_at_once(roost):
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    m = [crlf(make_message(i)) for i in range(1, 3)]
    r = c.cmd(b"APPEND INBOX {%d+}\r\n%s {%d+}\r\n%s" % (len(m[0]), m[0], len(m[1]), m[1]))
    assert status_of(r) == "OK", r
    assert "* 2 EXISTS" in r, r
    assert "[APPENDUID " in r[-1] and " 1:2]" in r[-1], r
