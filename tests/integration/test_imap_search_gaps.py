"""Small SEARCH / SORT / QUOTA gaps against the real roostd: the MODSEQ search
key in SORT and THREAD (RFC 7162), "$" (SEARCHRES, RFC 5182) inside SORT and
THREAD programs, and SETQUOTA refused with NO [NOPERM] (RFC 9208)."""
import re

from conftest import make_message
from imap_util import ADDR, raw_login, status_of


def prepared(roost, n=5):
    for i in range(1, n + 1):
        roost.deliver(ADDR, make_message(i))
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    return c


def modseq_of(c, n):
    r = c.ok(f"FETCH {n} (MODSEQ)")
    return int(re.search(r"MODSEQ \((\d+)\)", " ".join(r)).group(1))


def test_sort_with_modseq_key(roost):
    c = prepared(roost)
    c.ok("STORE 2,4 +FLAGS (\\Flagged)")
    high = max(modseq_of(c, 2), modseq_of(c, 4))
    base = min(modseq_of(c, 2), modseq_of(c, 4))
    r = c.ok(f"SORT (REVERSE SUBJECT) UTF-8 MODSEQ {base}")
    assert f"* SORT 4 2 (MODSEQ {high})" in r, r
    r = c.ok(f"UID SORT RETURN (ALL COUNT) (SUBJECT) UTF-8 MODSEQ {base}")
    assert f'* ESEARCH (TAG "{r[-1].split()[0]}") UID COUNT 2 ALL 2,4 MODSEQ {high}' in r, r
    # Nothing matches: no MODSEQ item (RFC 7162 sort-data).
    r = c.ok(f"SORT (SUBJECT) UTF-8 MODSEQ {high + 1000}")
    assert "* SORT" in r, r
    r = c.ok(f"THREAD ORDEREDSUBJECT UTF-8 MODSEQ {base}")
    assert "* THREAD (2)(4)" in r, r


def test_saved_result_in_sort_and_thread(roost):
    c = prepared(roost)
    c.ok("SEARCH RETURN (SAVE) 2:4")
    r = c.ok("SORT (REVERSE SUBJECT) UTF-8 $")
    assert "* SORT 4 3 2" in r, r
    r = c.ok("UID SORT (SUBJECT) UTF-8 NOT $")
    assert "* SORT 1 5" in r, r
    r = c.ok("THREAD ORDEREDSUBJECT UTF-8 $")
    assert "* THREAD (2)(3)(4)" in r, r
    r = c.ok("SORT (SUBJECT) UTF-8 OR $ 5")
    assert "* SORT 2 3 4 5" in r, r
    # Empty "$" (after SELECT) matches nothing.
    c.ok("SELECT INBOX")
    r = c.ok("SORT (SUBJECT) UTF-8 $")
    assert "* SORT" in r, r


def test_setquota_is_refused(roost):
    c = raw_login(roost)
    r = c.cmd('SETQUOTA "" (STORAGE 512)')
    assert status_of(r) == "NO" and "[NOPERM]" in r[-1], r
    r = c.cmd('SETQUOTA "" ()')
    assert status_of(r) == "NO" and "[NOPERM]" in r[-1], r
    # Syntax errors stay BAD; the session goes on.
    for bad in ("SETQUOTA", 'SETQUOTA ""', 'SETQUOTA "" STORAGE'):
        r = c.cmd(bad)
        assert status_of(r) == "BAD", (bad, r)
    c.ok("NOOP")
    c.ok("SELECT INBOX")
    r = c.cmd('SETQUOTA "" (STORAGE 1)')
    assert status_of(r) == "NO" and "[NOPERM]" in r[-1], r
