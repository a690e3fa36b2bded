"""LMTP (RFC 2033) against the real roostd: Python's smtplib.LMTP where it is
enough, a raw-socket client where it is not (one reply per recipient after
DATA, BDAT, pipelining, bad input). Every stored message is checked on disk
and, for IDLE, through a watching IMAP session."""
import os
import smtplib
import socket
import stat
import time

import pytest

from conftest import make_message
from imap_util import RawImap, status_of
from lmtp_util import LmtpRoost, RawLmtp, code, wait_for

SENDER = "sender@example.net"


@pytest.fixture
def lmtp_factory(tmp_path):
    made = []

    def make(**kw):
        r = LmtpRoost(tmp_path / f"r{len(made)}", **kw)
        made.append(r)
        return r.start()

    yield make
    for r in made:
        try:
            r.stop()
        except Exception:
            if r.proc and r.proc.poll() is None:
                r.proc.kill()
        r.cleanup_socket_dir()


@pytest.fixture
def roost(lmtp_factory):
    return lmtp_factory()


def client(r):
    c = RawLmtp(r.lmtp_port)
    assert c.greeting.startswith("220 "), c.greeting
    assert c.lhlo()[-1].startswith("250 ")
    return c


def transaction(c, rcpts, sender=SENDER, mail_params=""):
    assert code(c.cmd(f"MAIL FROM:<{sender}>{mail_params}"))[0] == "250"
    return [c.cmd(f"RCPT TO:<{a}>") for a in rcpts]


def data(c, message: bytes, accepted: int):
    r = c.cmd("DATA")
    assert r.startswith("354 "), r
    body = message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    body = b"\r\n".join(b"." + l if l.startswith(b".") else l for l in body.split(b"\r\n"))
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    c.send(body + b".\r\n")
    return c.replies(accepted)


def body_of(stored: bytes) -> bytes:
    """The message after the trace headers Roost prepends."""
    marker = b"\r\n\t"
    head, _, rest = stored.partition(b"Received: ")
    assert head.startswith(b"Return-Path: "), stored[:200]
    # Received: is folded over three lines; the message starts after it.
    lines = rest.split(b"\r\n")
    i = 1
    while i < len(lines) and lines[i].startswith(b"\t"):
        i += 1
    assert marker in rest
    return b"\r\n".join(lines[i:])


# ---------------------------------------------------------------- greeting, smtplib

def test_lhlo_extensions_with_smtplib(roost):
    with smtplib.LMTP("127.0.0.1", roost.lmtp_port, timeout=10) as s:
        c, _ = s.ehlo("mx.test")  # smtplib.LMTP sends LHLO
        assert c == 250
        feats = s.esmtp_features
        for ext in ("pipelining", "enhancedstatuscodes", "8bitmime", "chunking", "smtputf8"):
            assert ext in feats, feats
        assert feats["size"] == str(64 * 1024 * 1024)


def test_smtplib_single_recipient_stored_with_trace_headers(roost):
    msg = make_message(1, lf_only=False)
    with smtplib.LMTP("127.0.0.1", roost.lmtp_port, timeout=10) as s:
        refused = s.sendmail(SENDER, ["alice@example.test"], msg)
        assert refused == {}
    stored = roost.stored("alice")
    assert len(stored) == 1
    m = stored[0]
    assert m.startswith(b"Return-Path: <sender@example.net>\r\nDelivered-To: alice@example.test\r\n")
    assert b"Received: from " in m and b"(127.0.0.1)" in m
    assert b"by localhost (Roost) with LMTP id " in m
    assert body_of(m) == msg
    ev = roost.wait_for_event("delivery", recipient="alice@example.test")
    assert ev["result"] == "stored" and ev["size"] == len(m)
    assert "duration_ms" in ev and ev["code"] == "250 2.0.0"


def test_smtplib_unknown_recipient_refused(roost):
    with smtplib.LMTP("127.0.0.1", roost.lmtp_port, timeout=10) as s:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
            s.sendmail(SENDER, ["nobody@example.test"], make_message(1))
        c, text = e.value.recipients["nobody@example.test"]
        assert c == 550 and text.startswith(b"5.1.1")


# ---------------------------------------------------------------- recipients

def test_multi_recipient_partial_failure_one_reply_each(roost):
    c = client(roost)
    r = transaction(c, ["alice@example.test", "nobody@example.test", "Bob@Example.ORG",
                        "x@not-served.test"])
    assert code(r[0]) == ("250", "2.1.5")
    assert code(r[1]) == ("550", "5.1.1")
    assert code(r[2]) == ("250", "2.1.5")
    assert code(r[3]) == ("550", "5.1.2")
    replies = data(c, make_message(2), 2)
    assert [code(x) for x in replies] == [("250", "2.0.0")] * 2
    assert "<alice@example.test>" in replies[0] and "<Bob@Example.ORG>" in replies[1]
    assert len(roost.stored("alice")) == 1 and len(roost.stored("bob")) == 1
    assert b"Delivered-To: Bob@Example.ORG\r\n" in roost.stored("bob")[0]
    # The session goes on: a second transaction on the same connection.
    transaction(c, ["alice@example.test"])
    assert code(data(c, make_message(3), 1)[0])[0] == "250"
    assert code(c.cmd("QUIT"))[0] == "221"
    assert len(roost.stored("alice")) == 2


def test_recipient_cap_is_a_config_key(lmtp_factory):
    r = lmtp_factory(limits={"lmtp_recipients": 2})
    c = client(r)
    replies = transaction(c, ["alice@example.test", "bob@example.test", "alice@example.test"])
    assert [code(x) for x in replies] == [("250", "2.1.5"), ("250", "2.1.5"), ("452", "4.5.3")]
    # The two accepted recipients still get their message, one reply each.
    assert [code(x)[0] for x in data(c, make_message(5), 2)] == ["250", "250"]
    assert len(r.stored("alice")) == 1 and len(r.stored("bob")) == 1


def test_aliases_several_targets_other_domain_and_catch_all(roost):
    c = client(roost)
    r = transaction(c, ["sales@example.test", "team@example.test", "anything@other.test",
                        "outside@example.test", "mixed@example.test"])
    assert [code(x)[0] for x in r] == ["250", "250", "250", "550", "250"]
    replies = data(c, make_message(4), 4)
    assert all(code(x)[0] == "250" for x in replies), replies
    assert len(roost.stored("alice")) == 2          # sales + team
    assert len(roost.stored("bob")) == 2            # sales + mixed
    assert len(roost.stored("zed", domain="other.test")) == 2  # team + catch-all


def test_suspended_and_pop3_only_accounts_still_receive(roost):
    c = client(roost)
    r = transaction(c, ["carol@example.test", "dave@example.test"])
    assert [code(x)[0] for x in r] == ["250", "250"]
    assert [code(x)[0] for x in data(c, make_message(5), 2)] == ["250", "250"]
    assert len(roost.stored("carol")) == 1 and len(roost.stored("dave")) == 1


def test_plus_detail_into_existing_folder_else_inbox(roost):
    im = RawImap(roost.ports["imap"])
    im.login("alice@example.test", "alice-secret")
    assert status_of(im.cmd("CREATE news")) == "OK"
    c = client(roost)
    r = transaction(c, ["alice+news@example.test", "alice+nofolder@example.test",
                        "inboxonly+news@example.test"])
    assert [code(x)[0] for x in r] == ["250"] * 3
    assert [code(x)[0] for x in data(c, make_message(6), 3)] == ["250"] * 3
    assert len(roost.stored("alice", "news")) == 1
    assert len(roost.stored("alice")) == 1
    assert len(roost.stored("inboxonly")) == 1
    assert b"Delivered-To: alice+news@example.test" in roost.stored("alice", "news")[0]


def test_utf8_addresses_need_smtputf8(roost):
    c = client(roost)
    assert code(c.cmd("MAIL FROM:<jos\u00e9@example.net>")) == ("553", "5.6.7")
    assert code(c.cmd("MAIL FROM:<jos\u00e9@example.net> SMTPUTF8"))[0] == "250"
    # A UTF-8 local part that is no account: unknown like any other.
    assert code(c.cmd("RCPT TO:<j\u00f6rg@example.test>")) == ("550", "5.1.1")
    assert code(c.cmd("RCPT TO:<alice@example.test>"))[0] == "250"
    assert code(data(c, "Subject: caf\u00e9\r\n\r\nna\u00efve\r\n".encode(), 1)[0])[0] == "250"
    m = roost.stored("alice")[0]
    assert "Return-Path: <jos\u00e9@example.net>".encode() in m
    assert b"with UTF8LMTP id" in m
    assert "na\u00efve".encode() in m


# ---------------------------------------------------------------- quota and size

def test_over_quota_reject_and_defer_per_recipient(roost):
    big = b"Subject: big\r\n\r\n" + b"x" * 2000 + b"\r\n"
    c = client(roost)
    r = transaction(c, ["alice@example.test", "tiny@example.test", "later@example.test"])
    assert [code(x)[0] for x in r] == ["250"] * 3  # no SIZE: checked after DATA
    replies = data(c, big, 3)
    assert code(replies[0]) == ("250", "2.0.0")
    assert code(replies[1]) == ("552", "5.2.2")
    assert code(replies[2]) == ("452", "4.2.2")
    assert len(roost.stored("alice")) == 1
    assert roost.stored("tiny") == [] and roost.stored("later") == []
    ev = roost.wait_for_event("delivery", recipient="tiny@example.test")
    assert ev["result"] == "over_quota"


def test_size_parameter_checked_per_recipient_at_rcpt(roost):
    c = client(roost)
    r = transaction(c, ["alice@example.test", "tiny@example.test", "later@example.test"],
                    mail_params=" SIZE=5000")
    assert code(r[0])[0] == "250"
    assert code(r[1]) == ("552", "5.2.2")
    assert code(r[2]) == ("452", "4.2.2")
    assert code(data(c, make_message(7), 1)[0])[0] == "250"
    # A SIZE over the server's limit is refused at MAIL FROM.
    c.cmd("RSET")
    assert code(c.cmd(f"MAIL FROM:<{SENDER}> SIZE={64 * 1024 * 1024 + 1}")) == ("552", "5.3.4")
    assert code(c.cmd(f"MAIL FROM:<{SENDER}> SIZE=abc")) == ("501", "5.5.4")


def test_message_count_quota_and_warning_once(lmtp_factory):
    r = lmtp_factory()
    c = client(r)
    # few: quota_messages 2, warning at 90%: the first message (50%) passes,
    # the second reaches 100%, and a warning would exceed the quota: none.
    for i in range(2):
        transaction(c, ["few@example.test"])
        assert code(data(c, make_message(i), 1)[0])[0] == "250"
    # Already full: refused at RCPT (the server default quota_exceeded: reject).
    assert code(transaction(c, ["few@example.test"])[0]) == ("552", "5.2.2")
    assert len(r.stored("few")) == 2


def test_quota_warning_delivered_once(lmtp_factory, tmp_path):
    accounts = {"alice": {"password": "alice-secret"},
                "bob": {"password": "bob-pw"},
                "w": {"password": "w-pw", "policy": {"quota": "10K", "quota_warning":
                                                     {"at": "50%"}}}}
    r = lmtp_factory(accounts=accounts)
    c = client(r)
    half = b"Subject: half\r\n\r\n" + b"y" * 5200 + b"\r\n"
    transaction(c, ["w@example.test"])
    assert code(data(c, half, 1)[0])[0] == "250"
    msgs = r.stored("w")
    assert len(msgs) == 2, [m[:80] for m in msgs]
    warning = [m for m in msgs if b"Auto-Submitted: auto-generated" in m]
    assert len(warning) == 1 and b"Subject: Your mailbox is" in warning[0]
    # Above the threshold still: no second warning.
    transaction(c, ["w@example.test"])
    assert code(data(c, b"Subject: s\r\n\r\nsmall\r\n", 1)[0])[0] == "250"
    assert len(r.stored("w")) == 3


def test_message_over_size_limit_552_nothing_stored(lmtp_factory):
    r = lmtp_factory(limits={"literal_size": "4K"})
    c = client(r)
    transaction(c, ["alice@example.test", "bob@example.test"])
    big = b"Subject: big\r\n\r\n" + (b"z" * 70 + b"\r\n") * 100
    replies = data(c, big, 2)
    assert [code(x) for x in replies] == [("552", "5.3.4")] * 2
    assert r.stored("alice") == [] and r.stored("bob") == []
    # The session goes on.
    transaction(c, ["alice@example.test"])
    assert code(data(c, make_message(8), 1)[0])[0] == "250"


# ---------------------------------------------------------------- pipelining and BDAT

def test_pipelined_commands(roost):
    c = RawLmtp(roost.lmtp_port)
    c.send("LHLO mx.test\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<alice@example.test>\r\n"
           "RCPT TO:<nobody@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
    assert c.reply()[-1].startswith("250 SMTPUTF8")
    assert [code(x)[0] for x in c.replies(5)] == ["250", "250", "550", "250", "354"]
    c.send(b"Subject: p\r\n\r\n..dot line\r\n.\r\nRSET\r\nMAIL FROM:<>\r\n"
           b"RCPT TO:<alice@example.test>\r\nDATA\r\n")
    assert [code(x)[0] for x in c.replies(6)] == ["250", "250", "250", "250", "250", "354"]
    c.send(b"second\r\n.\r\nQUIT\r\n")
    assert [code(x)[0] for x in c.replies(2)] == ["250", "221"]
    msgs = roost.stored("alice")
    assert sorted(body_of(m) for m in msgs) == [b"Subject: p\r\n\r\n.dot line\r\n", b"second\r\n"]
    second = [m for m in msgs if m.endswith(b"\r\nsecond\r\n")][0]
    assert b"Return-Path: <>\r\n" in second


def test_bdat_chunks_last_and_per_recipient_replies(roost):
    c = client(roost)
    transaction(c, ["alice@example.test", "bob@example.test"])
    part1 = b"Subject: chunked\r\n\r\n.not stuffed\r\n"
    part2 = b"DATA\r\n.\r\nend\r\n"
    c.send(b"BDAT %d\r\n" % len(part1) + part1)
    assert code(c.reply()[-1]) == ("250", "2.0.0")
    c.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
    assert [code(x)[0] for x in c.replies(2)] == ["250", "250"]
    assert body_of(roost.stored("alice")[0]) == part1 + part2
    # DATA after BDAT in one transaction is refused; BDAT 0 LAST ends an empty chunk run.
    transaction(c, ["alice@example.test"])
    c.send(b"BDAT 3\r\nabc")
    assert code(c.reply()[-1])[0] == "250"
    assert code(c.cmd("DATA")) == ("503", "5.5.1")
    c.send(b"BDAT 0 LAST\r\n")
    assert code(c.reply()[-1])[0] == "250"
    assert sorted(body_of(m) for m in roost.stored("alice")) == sorted([part1 + part2, b"abc"])


def test_bdat_without_recipients_is_read_and_refused(roost):
    c = client(roost)
    c.send(b"BDAT 10 LAST\r\nRCPT TO:<>")  # the chunk is 10 octets, not a command
    assert code(c.reply()[-1]) == ("503", "5.5.1")
    assert code(c.cmd("NOOP"))[0] == "250"
    c.cmd(f"MAIL FROM:<{SENDER}>")
    c.send(b"BDAT 4 LAST\r\nabcd")
    assert code(c.reply()[-1]) == ("503", "5.5.1")
    assert code(c.cmd("RSET"))[0] == "250"


# ---------------------------------------------------------------- IDLE

def test_imap_idle_sees_lmtp_delivery_within_a_second(roost):
    im = RawImap(roost.ports["imap"])
    im.login("alice@example.test", "alice-secret")
    im.ok("SELECT INBOX")
    tag = im.tag()
    im.send(f"{tag} IDLE\r\n".encode())
    assert im.line().startswith("+")
    c = client(roost)
    transaction(c, ["alice@example.test"])
    t0 = time.time()
    assert code(data(c, make_message(9), 1)[0])[0] == "250"
    im.s.settimeout(1.5)
    line = im.line()
    assert line == "* 1 EXISTS", line
    assert time.time() - t0 < 1.0 + 0.2
    im.s.settimeout(10)
    im.send(b"DONE\r\n")
    assert status_of(im.until_tagged(tag)) == "OK"


# ---------------------------------------------------------------- unix socket

def test_unix_socket_listener(lmtp_factory):
    r = lmtp_factory(unix=True, socket_mode="0600")
    st = os.stat(r.lmtp_socket)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600
    c = RawLmtp(path=r.lmtp_socket)
    assert c.greeting.startswith("220 ")
    c.lhlo()
    transaction(c, ["alice@example.test"])
    assert code(data(c, make_message(10), 1)[0])[0] == "250"
    m = r.stored("alice")[0]
    assert b"(unix)" in m
    with smtplib.LMTP(str(r.lmtp_socket), timeout=10) as s:
        assert s.sendmail(SENDER, ["bob@example.test"], make_message(11)) == {}
    assert len(r.stored("bob")) == 1
    r.stop()
    assert not r.lmtp_socket.exists()  # removed at exit


# ---------------------------------------------------------------- bad input

def test_sequence_errors(roost):
    c = RawLmtp(roost.lmtp_port)
    assert code(c.cmd(f"MAIL FROM:<{SENDER}>")) == ("503", "5.5.1")  # before LHLO
    assert code(c.cmd("HELO mx.test")) == ("500", "5.5.1")
    assert code(c.cmd("EHLO mx.test")) == ("500", "5.5.1")
    assert code(c.cmd("LHLO"))[0] == "501"
    c.lhlo()
    assert code(c.cmd("RCPT TO:<alice@example.test>")) == ("503", "5.5.1")
    assert code(c.cmd("DATA")) == ("503", "5.5.1")
    assert code(c.cmd(f"MAIL FROM:<{SENDER}>"))[0] == "250"
    assert code(c.cmd(f"MAIL FROM:<{SENDER}>")) == ("503", "5.5.1")  # nested
    assert code(c.cmd("DATA")) == ("503", "5.5.1")  # no recipient yet
    assert code(c.cmd("RCPT TO:<nobody@example.test>")) == ("550", "5.1.1")
    assert code(c.cmd("DATA")) == ("503", "5.5.1")  # no accepted recipient
    assert code(c.cmd("VRFY alice@example.test")) == ("252", "2.5.0")
    assert code(c.cmd("NOOP")) == ("250", "2.0.0")
    assert code(c.cmd("RSET")) == ("250", "2.0.0")
    assert code(c.cmd("RCPT TO:<alice@example.test>")) == ("503", "5.5.1")  # reset


def test_syntax_errors_and_unknown_commands(roost):
    c = client(roost)
    assert code(c.cmd("FROB"))[0] == "500"
    assert code(c.cmd("STARTTLS"))[0] == "502"
    assert code(c.cmd("MAIL FROM:alice@example.net")) == ("501", "5.5.4")
    assert code(c.cmd("MAIL FROM:<no-at-sign>")) == ("501", "5.1.7")
    assert code(c.cmd("MAIL FROM:<a@example.net> BODY=BINARYMIME")) == ("555", "5.5.4")
    assert code(c.cmd("MAIL FROM:<a@example.net> NOTIFY=NEVER")) == ("555", "5.5.4")
    assert code(c.cmd("MAIL FROM:<a@example.net> BODY=8BITMIME"))[0] == "250"
    assert code(c.cmd("RCPT TO:<>")) == ("501", "5.1.3")
    assert code(c.cmd("RCPT TO:<alice@example.test> NOTIFY=NEVER")) == ("555", "5.5.4")
    assert code(c.cmd("RCPT TO:<alice@example.test>"))[0] == "250"
    assert code(c.cmd("BDAT x")) == ("501", "5.5.4")
    assert code(c.cmd("DATA now")) == ("501", "5.5.4")
    assert code(data(c, make_message(12), 1)[0])[0] == "250"


def test_command_line_too_long(roost):
    c = client(roost)
    c.send(b"NOOP " + b"x" * 9000 + b"\r\n")
    assert code(c.reply()[-1]) == ("500", "5.5.2")
    assert code(c.cmd("NOOP"))[0] == "250"


def test_long_lines_and_bare_lf_in_data_stored_normalised(roost):
    c = client(roost)
    transaction(c, ["alice@example.test"])
    assert c.cmd("DATA").startswith("354")
    long_line = b"L" * 3000
    c.send(b"Subject: lf\n\n" + long_line + b"\nbare lf line\r\n..x\n.\n")
    assert code(c.reply()[-1])[0] == "250"
    m = roost.stored("alice")[0]
    assert body_of(m) == b"Subject: lf\r\n\r\n" + long_line + b"\r\nbare lf line\r\n.x\r\n"


def test_disconnect_mid_data_leaves_nothing(roost):
    c = client(roost)
    transaction(c, ["alice@example.test"])
    assert c.cmd("DATA").startswith("354")
    c.send(b"Subject: half\r\n\r\n" + b"partial line\r\n" * 1000)
    time.sleep(0.2)
    c.close()
    roost.wait_for_event("logout", proto="lmtp", aborted_message=True)
    assert roost.stored("alice") == []
    assert roost.tmp_files("alice") == []
    # BDAT mid-chunk too.
    c = client(roost)
    transaction(c, ["alice@example.test"])
    c.send(b"BDAT 100000 LAST\r\n" + b"q" * 5000)
    time.sleep(0.2)
    c.close()
    assert wait_for(lambda: roost.count_events("logout", proto="lmtp", aborted_message=True) >= 2)
    assert roost.stored("alice") == []


def test_too_many_bad_commands_closes(roost):
    c = client(roost)
    for _ in range(9):
        assert code(c.cmd("FROB"))[0] == "500"
    assert code(c.cmd("FROB"))[0] == "500"  # the tenth is answered, then:
    last = c.line()
    assert code(last) == ("421", "4.7.0"), last
    assert c.f.readline() == b""


def test_idle_timeout(lmtp_factory):
    r = lmtp_factory(limits={"idle_timeout": "{ lmtp: 1s }"})
    c = client(r)
    transaction(c, ["alice@example.test"])
    assert c.cmd("DATA").startswith("354")
    c.send(b"Subject: slow\r\n")
    c.s.settimeout(5)
    line = c.line()
    assert code(line) == ("421", "4.4.2"), line
    assert c.f.readline() == b""
    assert r.stored("alice") == []


def test_shutdown_says_421(lmtp_factory):
    r = lmtp_factory()
    c = client(r)
    r.proc.send_signal(15)
    c.s.settimeout(5)
    assert code(c.line()) == ("421", "4.3.2")
    r.proc.wait(timeout=10)
