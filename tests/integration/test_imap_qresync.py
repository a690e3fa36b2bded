"""QRESYNC (RFC 7162) against the real roostd: ENABLE QRESYNC, SELECT / EXAMINE
with (QRESYNC (...)) after changes made by another session, across a restart,
with the expunge memory (roost-expunged) gone, known-uids and seq-match-data,
UID FETCH (CHANGEDSINCE .. VANISHED), VANISHED instead of EXPUNGE, [CLOSED],
HIGHESTMODSEQ on EXPUNGE, and the BAD answers."""
import re
import time

from conftest import make_message
from imap_util import ADDR, raw_login, status_of


def code_value(lines, name):
    for l in lines:
        m = re.search(r"\[" + name + r" (\d+)\]", l)
        if m:
            return int(m.group(1))
    raise AssertionError(f"no {name} in {lines}")


def vanished(lines, earlier):
    prefix = "* VANISHED (EARLIER) " if earlier else "* VANISHED "
    got = [l for l in lines if l.startswith("* VANISHED ")]
    got = [l for l in got if l.startswith("* VANISHED (EARLIER) ") == earlier]
    assert len(got) <= 1, lines
    return expand(got[0][len(prefix):]) if got else []


def expand(text):
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition(":")
        lo, hi = int(lo), int(hi or lo)
        out.extend(range(min(lo, hi), max(lo, hi) + 1))
    return out


def fetches(lines):
    """{uid: (flags text, modseq)} of '* n FETCH (UID u FLAGS (...) MODSEQ (m))' lines."""
    out = {}
    for l in lines:
        m = re.match(r"\* \d+ FETCH \(UID (\d+) FLAGS \(([^)]*)\) MODSEQ \((\d+)\)\)$", l)
        if m:
            out[int(m.group(1))] = (m.group(2), int(m.group(3)))
        else:
            assert " FETCH " not in l, l
    return out


def qresync_session(roost):
    c = raw_login(roost)
    r = c.ok("ENABLE QRESYNC")
    assert r[0] == "* ENABLED QRESYNC", r
    return c


def setup_mailbox(roost, n):
    for i in range(n):
        roost.deliver(ADDR, make_message(i))
    c = qresync_session(roost)
    r = c.ok("SELECT INBOX")
    uv, hms = code_value(r, "UIDVALIDITY"), code_value(r, "HIGHESTMODSEQ")
    c.ok("LOGOUT")
    return uv, hms


def expunge_by_other(roost, uids):
    b = raw_login(roost)
    b.ok("SELECT INBOX")
    b.ok(f"UID STORE {','.join(map(str, uids))} +FLAGS.SILENT (\\Deleted)")
    r = b.ok(f"UID EXPUNGE {','.join(map(str, uids))}")
    assert len([l for l in r if l.endswith(" EXPUNGE")]) == len(uids), r  # no QRESYNC here
    b.ok("LOGOUT")


def test_capability_and_enable(roost):
    c = raw_login(roost)
    assert " QRESYNC" in c.cmd("CAPABILITY")[0]
    r = c.ok("ENABLE CONDSTORE QRESYNC")
    assert r[0] == "* ENABLED CONDSTORE QRESYNC", r
    r = c.ok("ENABLE QRESYNC")
    assert r[0] == "* ENABLED", r  # already on
    # QRESYNC implies CONDSTORE: SELECT reports HIGHESTMODSEQ, FETCH of a
    # STORE carries MODSEQ.
    roost.deliver(ADDR, make_message(1))
    c.ok("SELECT INBOX")
    r = c.ok("STORE 1 +FLAGS (\\Seen)")
    assert "MODSEQ (" in r[0], r


def test_select_qresync_after_changes_by_another_session(roost):
    uv, hms = setup_mailbox(roost, 6)
    b = raw_login(roost)
    b.ok("SELECT INBOX")
    b.ok("STORE 2 +FLAGS (\\Flagged)")
    b.ok("LOGOUT")
    expunge_by_other(roost, [4, 5])

    c = qresync_session(roost)
    r = c.ok(f"SELECT INBOX (QRESYNC ({uv} {hms}))")
    assert vanished(r, earlier=True) == [4, 5], r
    f = fetches(r)
    assert list(f) == [2] and "\\Flagged" in f[2][0] and f[2][1] > hms, r
    # Order: HIGHESTMODSEQ, then VANISHED (EARLIER), then FETCH, then the tagged OK.
    i_hms = next(i for i, l in enumerate(r) if "[HIGHESTMODSEQ" in l)
    i_van = next(i for i, l in enumerate(r) if l.startswith("* VANISHED"))
    i_fetch = next(i for i, l in enumerate(r) if " FETCH " in l)
    assert i_hms < i_van < i_fetch < len(r) - 1, r
    assert "[READ-WRITE]" in r[-1], r
    new_hms = code_value(r, "HIGHESTMODSEQ")
    assert new_hms > f[2][1]  # the expunges raised HIGHESTMODSEQ past the flag change
    # Nothing changed since the current HIGHESTMODSEQ.
    r = c.ok(f"EXAMINE INBOX (QRESYNC ({uv} {new_hms}))")
    assert r[0].startswith("* OK [CLOSED]"), r
    assert vanished(r, True) == [] and fetches(r) == {}, r
    assert "[READ-ONLY]" in r[-1], r
    # known-uids limits both parts.
    r = c.ok(f"SELECT INBOX (QRESYNC ({uv} {hms} 1,3:4,6))")
    assert vanished(r, True) == [4] and fetches(r) == {}, r
    r = c.ok(f"SELECT INBOX (QRESYNC ({uv} {hms} 2,5))")
    assert vanished(r, True) == [5] and list(fetches(r)) == [2], r
    # The selected mailbox works as usual afterwards.
    r = c.ok("UID FETCH 1:* (FLAGS)")
    assert len([l for l in r if " FETCH " in l]) == 4, r


def test_qresync_survives_restart_and_memory_loss(roost):
    uv, hms = setup_mailbox(roost, 8)
    # UID 2 goes before the client's snapshot.
    expunge_by_other(roost, [2])
    c = qresync_session(roost)
    r = c.ok("SELECT INBOX")
    snap = code_value(r, "HIGHESTMODSEQ")
    c.ok("LOGOUT")
    expunge_by_other(roost, [6, 7])
    b = raw_login(roost)
    b.ok("SELECT INBOX")
    b.ok("UID STORE 3 +FLAGS (\\Answered)")
    b.ok("LOGOUT")

    roost.stop()
    roost.start()
    c = qresync_session(roost)
    r = c.ok(f"SELECT INBOX (QRESYNC ({uv} {snap} 1:8))")
    assert vanished(r, True) == [6, 7], r  # remembered across the restart: not 2
    assert list(fetches(r)) == [3], r
    # From before UID 2 went, 2 is reported too.
    r = c.ok(f"SELECT INBOX (QRESYNC ({uv} {hms}))")
    assert vanished(r, True) == [2, 6, 7], r
    c.ok("LOGOUT")

    # The memory file is lost while roostd is stopped: the answer is still
    # complete, worked out from the UIDs that exist.
    roost.stop()
    path = roost.maildir("alice") / "roost-expunged"
    assert path.exists()
    path.unlink()
    roost.start()
    c = qresync_session(roost)
    r = c.ok(f"SELECT INBOX (QRESYNC ({uv} {snap}))")
    assert vanished(r, True) == [2, 6, 7], r  # every missing UID below UIDNEXT
    assert list(fetches(r)) == [3], r
    r = c.ok(f"SELECT INBOX (QRESYNC ({uv} {snap} 1:8))")
    assert vanished(r, True) == [2, 6, 7], r
    r = c.ok(f"SELECT INBOX (QRESYNC ({uv} {snap} 5:8))")
    assert vanished(r, True) == [6, 7], r
    # seq-match-data: UIDs 3 and 4 are still at the numbers the client saw
    # them at (2 and 3), so nothing below 4 can have gone since.
    r = c.ok(f"SELECT INBOX (QRESYNC ({uv} {snap} 1:8 (1:3 1,3,4)))")
    assert vanished(r, True) == [6, 7], r
    # A pair that no longer matches narrows nothing.
    r = c.ok(f"SELECT INBOX (QRESYNC ({uv} {snap} 1:8 (3 5)))")
    assert vanished(r, True) == [2, 6, 7], r
    # The file is back, and new expunges are remembered again.
    assert path.exists()
    r = c.ok("SELECT INBOX")
    now = code_value(r, "HIGHESTMODSEQ")
    c.ok("UID STORE 8 +FLAGS.SILENT (\\Deleted)")
    r = c.ok("UID EXPUNGE 8")
    assert vanished(r, False) == [8], r
    r = c.ok(f"SELECT INBOX (QRESYNC ({uv} {now}))")
    assert vanished(r, True) == [8], r


def test_outside_deletion_is_an_expunge(roost):
    uv, hms = setup_mailbox(roost, 3)
    cur = roost.maildir("alice") / "cur"
    victim = [p for p in cur.iterdir() if ",U=2" in p.name]
    assert len(victim) == 1
    victim[0].unlink()
    c = qresync_session(roost)
    r = c.ok(f"SELECT INBOX (QRESYNC ({uv} {hms}))")
    assert vanished(r, True) == [2], r
    assert code_value(r, "HIGHESTMODSEQ") > hms


def test_uid_fetch_vanished(roost):
    uv, hms = setup_mailbox(roost, 5)
    c = qresync_session(roost)
    c.ok("SELECT INBOX")
    c.ok("UID STORE 2,4 +FLAGS.SILENT (\\Deleted)")
    r = c.ok("EXPUNGE")
    assert vanished(r, False) == [2, 4], r
    assert not [l for l in r if l.endswith(" EXPUNGE")], r
    after = code_value(r[-1:], "HIGHESTMODSEQ")  # EXPUNGE's tagged OK
    assert after > hms
    c.ok("UID STORE 5 +FLAGS (\\Seen)")
    r = c.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {hms} VANISHED)")
    assert vanished(r, True) == [2, 4], r
    assert r[0].startswith("* VANISHED (EARLIER)"), r  # before the FETCH responses
    got = [l for l in r if " FETCH " in l]
    assert len(got) == 1 and "UID 5" in got[0] and "MODSEQ" in got[0], r
    # Only UIDs of the set.
    r = c.ok(f"UID FETCH 3:5 (FLAGS) (CHANGEDSINCE {hms} VANISHED)")
    assert vanished(r, True) == [4], r
    r = c.ok(f"UID FETCH 1 (FLAGS) (CHANGEDSINCE {hms} VANISHED)")
    assert not [l for l in r if "VANISHED" in l], r
    # Nothing expunged since `after`.
    r = c.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {after} VANISHED)")
    assert not [l for l in r if "VANISHED" in l], r
    # From before the mailbox's memory began: every UID of the set that is gone.
    r = c.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")
    assert vanished(r, True) == [2, 4], r


def test_vanished_announcements(roost):
    for i in range(5):
        roost.deliver(ADDR, make_message(i))
    a = qresync_session(roost)
    a.ok("SELECT INBOX")
    plain = raw_login(roost)
    plain.ok("SELECT INBOX")
    expunge_by_other(roost, [2, 3])
    r = a.ok("NOOP")
    assert vanished(r, False) == [2, 3], r
    assert not [l for l in r if l.endswith(" EXPUNGE")], r
    r = plain.ok("NOOP")
    assert [l for l in r if l.endswith(" EXPUNGE")] == ["* 3 EXPUNGE", "* 2 EXPUNGE"], r
    # Not during a FETCH by message number: held back until allowed.
    expunge_by_other(roost, [4])
    r = a.ok("FETCH 1 (FLAGS)")
    assert not [l for l in r if "VANISHED" in l], r
    r = a.ok("NOOP")
    assert vanished(r, False) == [4], r
    # IDLE.
    tag = a.tag()
    a.send(f"{tag} IDLE\r\n".encode())
    assert a.line().startswith("+ ")
    expunge_by_other(roost, [5])
    deadline = time.time() + 10
    line = ""
    while time.time() < deadline:
        line = a.line()
        if line.startswith("* VANISHED"):
            break
    assert line == "* VANISHED 5", line
    a.send(b"DONE\r\n")
    r = a.until_tagged(tag)
    assert status_of(r) == "OK", r
    r = a.ok("UID FETCH 1:* (UID)")
    assert [l for l in r if " FETCH " in l] == ["* 1 FETCH (UID 1)"], r


def test_closed_and_close(roost):
    roost.deliver(ADDR, make_message(1))
    roost.deliver(ADDR, make_message(2))
    plain = raw_login(roost)
    plain.ok("SELECT INBOX")
    r = plain.ok("SELECT INBOX")
    assert not [l for l in r if "[CLOSED]" in l], r  # neither QRESYNC nor IMAP4rev2
    c = qresync_session(roost)
    r = c.ok("EXAMINE INBOX")
    assert not [l for l in r if "[CLOSED]" in l], r  # nothing was selected
    uv, hms = code_value(r, "UIDVALIDITY"), code_value(r, "HIGHESTMODSEQ")
    r = c.ok("SELECT INBOX")
    assert r[0].startswith("* OK [CLOSED]"), r
    # CLOSE expunges silently; the next QRESYNC SELECT reports it.
    c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    r = c.ok("CLOSE")
    assert len(r) == 1, r
    r = c.ok(f"SELECT INBOX (QRESYNC ({uv} {hms}))")
    assert not [l for l in r if "[CLOSED]" in l], r  # CLOSE already closed it
    assert vanished(r, True) == [1], r


def test_failures(roost):
    uv, hms = setup_mailbox(roost, 3)
    c = raw_login(roost)
    # QRESYNC parameter without ENABLE QRESYNC.
    r = c.cmd(f"SELECT INBOX (QRESYNC ({uv} {hms}))")
    assert status_of(r) == "BAD" and "ENABLE QRESYNC" in r[-1], r
    c.ok("SELECT INBOX (CONDSTORE)")
    # VANISHED without QRESYNC enabled.
    r = c.cmd(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {hms} VANISHED)")
    assert status_of(r) == "BAD", r
    c.ok("NOOP")

    q = qresync_session(roost)
    # Another UIDVALIDITY: the QRESYNC data is ignored, the SELECT succeeds.
    q.ok("SELECT INBOX")
    q.ok("STORE 1 +FLAGS (\\Seen)")
    r = q.ok(f"SELECT INBOX (QRESYNC ({uv + 1} 1 1:3))")
    assert not [l for l in r if "VANISHED" in l or " FETCH " in l], r
    assert "[READ-WRITE]" in r[-1], r
    for bad in ["(QRESYNC)", "(QRESYNC 1 2)", "(QRESYNC ())", f"(QRESYNC ({uv}))",
                "(QRESYNC (0 1))", f"(QRESYNC ({uv} x))", f"(QRESYNC ({uv} 1 1:*))",
                f"(QRESYNC ({uv} 1 1:3 (1:2 1)))", f"(QRESYNC ({uv} 1 1:3 (1)))",
                f"(QRESYNC ({uv} 1 1:3 (1 1) 7))", f"(QRESYNC ({uv} 1) QRESYNC ({uv} 1))",
                "(FOO)"]:
        # Fresh sessions: ten BADs in one session close it (limits.bad_commands).
        b = qresync_session(roost)
        b.ok("SELECT INBOX")
        r = b.cmd(f"SELECT INBOX {bad}")
        assert status_of(r) == "BAD", (bad, r)
        r = b.ok("UID FETCH 1 (UID)")  # the session goes on, INBOX still selected
        assert r[0] == "* 1 FETCH (UID 1)", r
        b.ok("LOGOUT")
    r = q.ok(f"SELECT INBOX (QRESYNC ({uv} {hms}))")
    q.ok("NOOP")
    # VANISHED needs CHANGEDSINCE, and UID FETCH.
    r = q.cmd("UID FETCH 1:* (FLAGS) (VANISHED)")
    assert status_of(r) == "BAD" and "CHANGEDSINCE" in r[-1], r
    r = q.cmd(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {hms} VANISHED)")
    assert status_of(r) == "BAD" and "UID FETCH" in r[-1], r
    r = q.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {hms} VANISHED)")
    # A SELECT of a missing mailbox with QRESYNC: NO [NONEXISTENT].
    r = q.cmd(f"SELECT Nope (QRESYNC ({uv} {hms}))")
    assert status_of(r) == "NO" and "[NONEXISTENT]" in r[-1], r
    q.ok("NOOP")
