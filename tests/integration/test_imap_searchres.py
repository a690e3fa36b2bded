"""SEARCHRES (RFC 5182) against the real roostd: SEARCH RETURN (SAVE), the "$"
marker in FETCH, STORE, COPY, MOVE, SEARCH, UID EXPUNGE and their UID forms,
SAVE with MIN / MAX, failed searches, resets and expunged messages."""
import re

from conftest import make_message
from imap_util import ADDR, raw_login, status_of


def fetched(lines):
    """{message number: uid} of the FETCH responses."""
    out = {}
    for l in lines:
        m = re.match(r"\* (\d+) FETCH \((.*)\)$", l)
        if m:
            u = re.search(r"UID (\d+)", m.group(2))
            out[int(m.group(1))] = int(u.group(1)) if u else None
    return out


def searched(lines):
    for l in lines:
        if l.startswith("* SEARCH"):
            return [int(x) for x in l.split()[2:] if x.isdigit()]
    raise AssertionError(lines)


def prepared(roost, n=6):
    for i in range(1, n + 1):
        roost.deliver(ADDR, make_message(i))
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    # UIDs 1..n, message numbers 1..n; 2, 4 and 5 flagged.
    c.ok("STORE 2,4,5 +FLAGS.SILENT (\\Flagged)")
    return c


def test_capability(roost):
    c = raw_login(roost)
    caps = c.cmd("CAPABILITY")[0].split()
    assert "SEARCHRES" in caps and "ESEARCH" in caps


def test_empty_before_any_save(roost):
    c = prepared(roost)
    for cmd in ("FETCH $ (FLAGS)", "UID FETCH $ (FLAGS)", "STORE $ +FLAGS (\\Seen)",
                "UID STORE $ +FLAGS (\\Seen)", "COPY $ Drafts", "UID COPY $ Drafts",
                "MOVE $ Drafts", "UID MOVE $ Drafts", "UID EXPUNGE $"):
        r = c.cmd(cmd)
        assert status_of(r) == "OK", (cmd, r)
        assert not fetched(r), (cmd, r)
    assert searched(c.ok("SEARCH $")) == []
    assert searched(c.ok("UID SEARCH UID $")) == []
    r = c.ok("STATUS Drafts (MESSAGES)")
    assert "MESSAGES 0" in r[0], r


def test_save_alone_is_silent_and_fetch_uses_it(roost):
    c = prepared(roost)
    r = c.ok("SEARCH RETURN (SAVE) FLAGGED")
    assert len(r) == 1, r  # no SEARCH / ESEARCH response
    r = c.ok("FETCH $ (UID)")
    assert fetched(r) == {2: 2, 4: 4, 5: 5}, r
    r = c.ok("UID FETCH $ (FLAGS)")
    assert fetched(r) == {2: 2, 4: 4, 5: 5}, r
    # "$" in SEARCH, alone and combined.
    assert searched(c.ok("SEARCH $")) == [2, 4, 5]
    assert searched(c.ok("UID SEARCH UID $ NOT 4")) == [2, 5]
    assert searched(c.ok("SEARCH OR $ 1")) == [1, 2, 4, 5]
    assert searched(c.ok("SEARCH NOT $")) == [1, 3, 6]


def test_uid_search_save_used_as_message_numbers(roost):
    c = prepared(roost)
    # Remove message 1 so numbers and UIDs differ.
    c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    c.ok("EXPUNGE")
    r = c.ok("UID SEARCH RETURN (SAVE) FLAGGED")
    assert len(r) == 1, r
    r = c.ok("FETCH $ (UID)")
    assert fetched(r) == {1: 2, 3: 4, 4: 5}, r
    assert searched(c.ok("SEARCH $")) == [1, 3, 4]
    assert searched(c.ok("UID SEARCH $")) == [2, 4, 5]


def test_save_with_other_return_options(roost):
    c = prepared(roost)
    r = c.ok("SEARCH RETURN (SAVE MIN) FLAGGED")
    assert any(re.search(r"ESEARCH \(TAG \"\w+\"\) MIN 2$", l) for l in r), r
    assert searched(c.ok("SEARCH $")) == [2]
    r = c.ok("SEARCH RETURN (MAX SAVE) FLAGGED")
    assert any(l.endswith("MAX 5") for l in r), r
    assert searched(c.ok("SEARCH $")) == [5]
    r = c.ok("SEARCH RETURN (MAX SAVE MIN) FLAGGED")
    assert any(l.endswith("MIN 2 MAX 5") for l in r), r
    assert searched(c.ok("SEARCH $")) == [2, 5]
    r = c.ok("SEARCH RETURN (MAX SAVE MIN COUNT) FLAGGED")
    assert any(l.endswith("MIN 2 MAX 5 COUNT 3") for l in r), r
    assert searched(c.ok("SEARCH $")) == [2, 4, 5]
    c.ok("SEARCH RETURN (SAVE MIN) FLAGGED")
    r = c.ok("UID SEARCH RETURN (ALL SAVE) UNFLAGGED")
    assert any(re.search(r"ESEARCH \(TAG \"\w+\"\) UID ALL 1,3,6$", l) for l in r), r
    assert searched(c.ok("SEARCH $")) == [1, 3, 6]
    # A SAVE MIN that finds nothing saves nothing.
    c.ok("SEARCH RETURN (SAVE MIN) KEYWORD nothere")
    assert searched(c.ok("SEARCH $")) == []


def test_failed_search_empties_bad_search_keeps(roost):
    c = prepared(roost)
    c.ok("SEARCH RETURN (SAVE) FLAGGED")
    # BAD (unknown return option, syntax): "$" unchanged.
    assert status_of(c.cmd("SEARCH RETURN (SAVE FOO) ALL")) == "BAD"
    assert status_of(c.cmd("SEARCH RETURN (SAVE) FOO")) == "BAD"
    assert searched(c.ok("SEARCH $")) == [2, 4, 5]
    # NO without SAVE: unchanged.
    r = c.cmd("SEARCH CHARSET X-NO-SUCH-CHARSET SUBJECT x")
    assert status_of(r) == "NO" and "BADCHARSET" in r[-1], r
    assert searched(c.ok("SEARCH $")) == [2, 4, 5]
    # NO with SAVE: empty.
    r = c.cmd("SEARCH RETURN (SAVE) CHARSET X-NO-SUCH-CHARSET SUBJECT x")
    assert status_of(r) == "NO", r
    assert searched(c.ok("SEARCH $")) == []
    assert not fetched(c.ok("FETCH $ (FLAGS)"))
    # A search without SAVE does not touch it.
    c.ok("SEARCH RETURN (SAVE) FLAGGED")
    c.ok("SEARCH UNFLAGGED")
    c.ok("SEARCH RETURN (ALL) UNFLAGGED")
    assert searched(c.ok("SEARCH $")) == [2, 4, 5]


def test_store_copy_move_expunge_with_dollar(roost):
    c = prepared(roost)
    c.ok("SEARCH RETURN (SAVE) FLAGGED")
    r = c.ok("STORE $ +FLAGS (\\Seen)")
    assert sorted(int(l.split()[1]) for l in r if " FETCH " in l) == [2, 4, 5], r
    assert searched(c.ok("SEARCH SEEN")) == [2, 4, 5]
    r = c.ok("UID STORE $ -FLAGS.SILENT (\\Seen)")
    assert searched(c.ok("SEARCH SEEN")) == []
    r = c.ok("COPY $ Drafts")
    assert "[COPYUID " in r[-1] and " 2,4:5 " in r[-1], r
    r = c.ok("UID COPY $ Drafts")
    assert "MESSAGES 6" in c.ok("STATUS Drafts (MESSAGES)")[0]
    # UID EXPUNGE $ removes only the \Deleted ones among the saved messages.
    c.ok("STORE 1,2 +FLAGS.SILENT (\\Deleted)")
    r = c.ok("UID EXPUNGE $")
    assert [l for l in r if l.endswith("EXPUNGE")] == ["* 2 EXPUNGE"], r
    # The expunged message left "$".
    assert searched(c.ok("UID SEARCH $")) == [4, 5]
    r = c.ok("FETCH $ (UID)")
    assert fetched(r) == {3: 4, 4: 5}, r
    # MOVE $: the saved messages go; "$" is then empty.
    r = c.ok("MOVE $ Trash")
    assert "MESSAGES 2" in c.ok("STATUS Trash (MESSAGES)")[0]
    assert searched(c.ok("SEARCH $")) == []
    assert searched(c.ok("UID SEARCH ALL")) == [1, 3, 6]


def test_pipelined_save_then_use(roost):
    c = prepared(roost)
    c.send(b"a SEARCH RETURN (SAVE) FLAGGED\r\nb FETCH $ (UID)\r\n"
           b"c UID STORE $ +FLAGS.SILENT (\\Answered)\r\nd UID SEARCH ANSWERED\r\n")
    r = c.until_tagged("a")
    assert r == ["a OK Search completed"] or (len(r) == 1 and r[0].startswith("a OK")), r
    r = c.until_tagged("b")
    assert fetched(r) == {2: 2, 4: 4, 5: 5}, r
    assert status_of(c.until_tagged("c")) == "OK"
    assert searched(c.until_tagged("d")) == [2, 4, 5]


def test_reset_on_select_unselect_close(roost):
    c = prepared(roost)
    for reset in ("SELECT INBOX", "EXAMINE INBOX", "UNSELECT", "CLOSE"):
        c.ok("SEARCH RETURN (SAVE) FLAGGED")
        assert searched(c.ok("SEARCH $")) == [2, 4, 5]
        c.ok(reset)
        if reset in ("UNSELECT", "CLOSE"):
            c.ok("SELECT INBOX")
        assert searched(c.ok("SEARCH $")) == [], reset
        assert not fetched(c.ok("FETCH $ (FLAGS)"))
    # A SEARCH with "$" and SAVE saves its own result.
    c.ok("SEARCH RETURN (SAVE) FLAGGED")
    c.ok("SEARCH RETURN (SAVE) $ NOT 4")
    assert searched(c.ok("SEARCH $")) == [2, 5]
    # Another mailbox: a fresh, empty "$".
    c.ok("SELECT Drafts")
    assert searched(c.ok("SEARCH $")) == []


def test_expunged_elsewhere(roost):
    c = prepared(roost)
    c.ok("SEARCH RETURN (SAVE) FLAGGED")
    other = raw_login(roost)
    other.ok("SELECT INBOX")
    other.ok("STORE 4 +FLAGS.SILENT (\\Deleted)")
    other.ok("EXPUNGE")
    # NOOP announces the EXPUNGE: message 4 (UID 4) leaves "$".
    r = c.ok("NOOP")
    assert "* 4 EXPUNGE" in r, r
    r = c.ok("FETCH $ (UID)")
    assert fetched(r) == {2: 2, 4: 5}, r
    assert searched(c.ok("UID SEARCH $")) == [2, 5]
    # New messages do not join "$".
    roost.deliver(ADDR, make_message(9))
    c.ok("NOOP")
    assert searched(c.ok("UID SEARCH $")) == [2, 5]
