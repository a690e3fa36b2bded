"""CONDSTORE (RFC 7162) against the real roostd: HIGHESTMODSEQ, MODSEQ in
FETCH, CHANGEDSINCE, UNCHANGEDSINCE with [MODIFIED], SEARCH MODSEQ, STATUS
HIGHESTMODSEQ, ENABLE, and mod-sequences kept across a restart."""
import re

from conftest import make_message
from imap_util import ADDR, raw_login, status_of


def highestmodseq(lines):
    for l in lines:
        m = re.search(r"\[HIGHESTMODSEQ (\d+)\]", l)
        if m:
            return int(m.group(1))
    raise AssertionError(lines)


def modseqs(lines):
    return {int(m.group(1)): int(m.group(2)) for l in lines
            for m in [re.match(r"\* (\d+) FETCH \(.*MODSEQ \((\d+)\)", l)] if m}


def test_condstore_basics(roost):
    for i in range(3):
        roost.deliver(ADDR, make_message(i))
    c = raw_login(roost)
    assert "CONDSTORE" in c.cmd("CAPABILITY")[0]
    r = c.ok("SELECT INBOX (CONDSTORE)")
    hms = highestmodseq(r)
    r = c.ok("FETCH 1:* (MODSEQ)")
    ms = modseqs(r)
    assert sorted(ms) == [1, 2, 3] and max(ms.values()) <= hms, r
    # A flag change raises the message's MODSEQ above the old HIGHESTMODSEQ.
    r = c.ok("STORE 2 +FLAGS (\\Seen)")
    assert "MODSEQ (" in r[0], r
    new = modseqs(r)[2]
    assert new > hms
    # CHANGEDSINCE: only message 2 changed since hms.
    r = c.ok(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {hms})")
    got = [l for l in r if " FETCH " in l]
    assert len(got) == 1 and got[0].startswith("* 2 FETCH") and "MODSEQ" in got[0], r
    # UNCHANGEDSINCE: message 2 changed after hms, so it is reported MODIFIED.
    r = c.cmd(f"STORE 1:2 (UNCHANGEDSINCE {hms}) +FLAGS (\\Flagged)")
    assert status_of(r) == "OK" and "[MODIFIED 2]" in r[-1], r
    r = c.ok("FETCH 1:2 (FLAGS)")
    assert "\\Flagged" in r[0] and "\\Flagged" not in r[1], r
    # SEARCH MODSEQ.
    r = c.ok(f"SEARCH MODSEQ {hms + 1}")
    assert r[0].startswith("* SEARCH 1 2") and "(MODSEQ " in r[0], r
    # STATUS HIGHESTMODSEQ follows.
    c.ok("UNSELECT")
    r = c.ok("STATUS INBOX (HIGHESTMODSEQ)")
    assert int(re.search(r"HIGHESTMODSEQ (\d+)", r[0]).group(1)) >= new, r


def test_enable_condstore_and_unsolicited_modseq(roost):
    roost.deliver(ADDR, make_message(1))
    a = raw_login(roost)
    r = a.ok("ENABLE CONDSTORE FOOBAR")
    assert r[0] == "* ENABLED CONDSTORE", r
    a.ok("SELECT INBOX")
    b = raw_login(roost)
    b.ok("SELECT INBOX")
    b.ok("STORE 1 +FLAGS (\\Answered)")
    r = a.ok("NOOP")
    assert any(l.startswith("* 1 FETCH") and "MODSEQ (" in l and "\\Answered" in l for l in r), r


def test_highestmodseq_survives_restart_and_never_goes_back(roost):
    roost.deliver(ADDR, make_message(1))
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    r = c.ok("STORE 1 +FLAGS (\\Seen)")
    before = highestmodseq(c.ok("SELECT INBOX"))
    c.close()
    roost.stop()
    roost.start()
    c = raw_login(roost)
    after = highestmodseq(c.ok("SELECT INBOX"))
    assert after >= before
    r = c.ok("STORE 1 -FLAGS (\\Seen)")
    assert modseqs(c.ok("FETCH 1 (MODSEQ)"))[1] > after


def test_condstore_failure_paths(roost):
    roost.deliver(ADDR, make_message(1))
    c = raw_login(roost)
    assert status_of(c.cmd("SELECT INBOX (FOO)")) == "BAD"
    c.ok("SELECT INBOX")
    assert status_of(c.cmd("FETCH 1:* (FLAGS) (CHANGEDSINCE 0)")) == "BAD"
    assert status_of(c.cmd("FETCH 1:* (FLAGS) (VANISHED)")) == "BAD"  # QRESYNC only
    assert status_of(c.cmd("FETCH 1 (FLAGS) (CHANGEDSINCE 1)")) == "OK"
