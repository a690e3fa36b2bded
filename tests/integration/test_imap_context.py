"""CONTEXT=SEARCH (RFC 5267) against the real roostd: RETURN (PARTIAL m:n) for
SEARCH and SORT, RETURN (UPDATE) with the unsolicited ESEARCH ADDTO /
REMOVEFROM updates as another session (or this one) flags, delivers and
expunges, CANCELUPDATE, the end of contexts on SELECT / UNSELECT, and the
failure paths (bad ranges, unknown tags, too many contexts, programs that are
not kept up to date)."""
import re

from conftest import make_message
from imap_util import ADDR, raw_login, status_of


def esearch(lines, tag=None):
    out = [l for l in lines if l.startswith("* ESEARCH")]
    if tag is not None:
        out = [l for l in out if f'(TAG "{tag}")' in l]
    return out


def prepared(roost, n=6):
    for i in range(1, n + 1):
        roost.deliver(ADDR, make_message(i))
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    # UIDs 1..n, message numbers 1..n; 2, 4 and 5 flagged.
    c.ok("STORE 2,4,5 +FLAGS.SILENT (\\Flagged)")
    return c


def other(roost):
    o = raw_login(roost)
    o.ok("SELECT INBOX")
    return o


def test_capability(roost):
    c = raw_login(roost)
    caps = c.cmd("CAPABILITY")[0].split()
    assert "CONTEXT=SEARCH" in caps and "ESEARCH" in caps
    assert "CONTEXT=SORT" not in caps


# ---------------------------------------------------------------- PARTIAL

def test_partial_search(roost):
    c = prepared(roost)
    r = c.cmd("SEARCH RETURN (PARTIAL 2:4) ALL", tag="p1")
    assert esearch(r) == ['* ESEARCH (TAG "p1") PARTIAL (2:4 2:4)'], r
    r = c.cmd("SEARCH RETURN (PARTIAL 4:2) ALL", tag="p2")
    assert esearch(r) == ['* ESEARCH (TAG "p2") PARTIAL (2:4 2:4)'], r
    r = c.cmd("SEARCH RETURN (PARTIAL 1:10) ALL", tag="p3")
    assert esearch(r) == ['* ESEARCH (TAG "p3") PARTIAL (1:10 1:6)'], r
    r = c.cmd("SEARCH RETURN (PARTIAL 7:9) ALL", tag="p4")
    assert esearch(r) == ['* ESEARCH (TAG "p4") PARTIAL (7:9 NIL)'], r
    # RFC 9394: negative ranges count from the end.
    r = c.cmd("SEARCH RETURN (PARTIAL -1:-2) FLAGGED", tag="p5")
    assert esearch(r) == ['* ESEARCH (TAG "p5") PARTIAL (-1:-2 4:5)'], r
    r = c.cmd("SEARCH RETURN (COUNT PARTIAL 1:1) FLAGGED", tag="p6")
    assert esearch(r) == ['* ESEARCH (TAG "p6") COUNT 3 PARTIAL (1:1 2)'], r
    # UID SEARCH: positions in the result, UIDs in the answer.
    c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    c.ok("EXPUNGE")
    r = c.cmd("UID SEARCH RETURN (PARTIAL 1:2) ALL", tag="p7")
    assert esearch(r) == ['* ESEARCH (TAG "p7") UID PARTIAL (1:2 2:3)'], r
    r = c.cmd("SEARCH RETURN (PARTIAL 1:2) ALL", tag="p8")
    assert esearch(r) == ['* ESEARCH (TAG "p8") PARTIAL (1:2 1:2)'], r


def test_partial_bad_ranges(roost):
    c = prepared(roost)
    for opts in ("PARTIAL 0:5", "PARTIAL 1:*", "PARTIAL *:1", "PARTIAL 1", "PARTIAL -1:5",
                 "PARTIAL", "PARTIAL 1:2 PARTIAL 3:4", "PARTIAL 1:99999999999"):
        r = c.cmd(f"SEARCH RETURN ({opts}) ALL")
        assert status_of(r) == "BAD", (opts, r)
        assert not esearch(r), r
    c.ok("NOOP")
    r = c.cmd("SORT RETURN (PARTIAL 0:5) (ARRIVAL) UTF-8 ALL")
    assert status_of(r) == "BAD", r
    c.ok("NOOP")


def test_partial_sort(roost):
    c = prepared(roost)
    r = c.cmd("SORT RETURN (PARTIAL 2:4) (REVERSE SUBJECT) UTF-8 ALL", tag="s1")
    assert esearch(r) == ['* ESEARCH (TAG "s1") PARTIAL (2:4 5,4,3)'], r
    r = c.cmd("UID SORT RETURN (PARTIAL -1:-2 COUNT) (ARRIVAL) UTF-8 FLAGGED", tag="s2")
    assert esearch(r) == ['* ESEARCH (TAG "s2") UID COUNT 3 PARTIAL (-1:-2 4:5)'], r
    r = c.cmd("SORT RETURN (PARTIAL 9:10) (ARRIVAL) UTF-8 ALL", tag="s3")
    assert esearch(r) == ['* ESEARCH (TAG "s3") PARTIAL (9:10 NIL)'], r
    # CONTEXT is a hint; UPDATE would need CONTEXT=SORT.
    r = c.cmd("SORT RETURN (CONTEXT COUNT) (ARRIVAL) UTF-8 ALL", tag="s4")
    assert esearch(r) == ['* ESEARCH (TAG "s4") COUNT 6'], r
    r = c.cmd("SORT RETURN (UPDATE) (ARRIVAL) UTF-8 ALL")
    assert status_of(r) == "BAD" and "CONTEXT=SORT" in r[-1], r
    c.ok("NOOP")


# ---------------------------------------------------------------- UPDATE

def test_update_flags_from_another_session(roost):
    c = prepared(roost)
    o = other(roost)
    r = c.cmd("UID SEARCH RETURN (UPDATE ALL) FLAGGED", tag="u1")
    assert esearch(r) == ['* ESEARCH (TAG "u1") UID ALL 2,4:5'], r
    assert status_of(r) == "OK"
    o.ok("STORE 6 +FLAGS (\\Flagged)")
    r = c.ok("NOOP")
    assert esearch(r, "u1") == ['* ESEARCH (TAG "u1") UID ADDTO (4 6)'], r
    o.ok("STORE 2,5 -FLAGS (\\Flagged)")
    r = c.ok("NOOP")
    assert esearch(r, "u1") == ['* ESEARCH (TAG "u1") UID REMOVEFROM (3 5 1 2)'], r
    o.ok("STORE 1:3 +FLAGS (\\Flagged)")
    r = c.ok("NOOP")
    assert esearch(r, "u1") == ['* ESEARCH (TAG "u1") UID ADDTO (1 1:3)'], r
    # A change that does not change the match sends nothing.
    o.ok("STORE 1:6 +FLAGS (\\Seen)")
    r = c.ok("NOOP")
    assert not esearch(r), r


def test_update_own_store_and_message_numbers(roost):
    c = prepared(roost)
    r = c.cmd("SEARCH RETURN (UPDATE) FLAGGED", tag="u2")
    # UPDATE alone: ALL is implied, as for RETURN ().
    assert esearch(r) == ['* ESEARCH (TAG "u2") ALL 2,4:5'], r
    r = c.ok("STORE 1 +FLAGS (\\Flagged)")
    assert '* ESEARCH (TAG "u2") ADDTO (1 1)' in r, r
    # The update follows the FETCH of the STORE and precedes the tagged OK.
    assert r.index('* ESEARCH (TAG "u2") ADDTO (1 1)') > 0
    r = c.ok("UID STORE 4 -FLAGS (\\Flagged)")
    assert esearch(r, "u2") == ['* ESEARCH (TAG "u2") REMOVEFROM (3 4)'], r


def test_update_new_messages_and_expunge(roost):
    c = prepared(roost)
    o = other(roost)
    r = c.cmd("SEARCH RETURN (UPDATE) SUBJECT special", tag="u3")
    assert esearch(r) == ['* ESEARCH (TAG "u3")'], r
    roost.deliver(ADDR, make_message(7, subject="A special offer"))
    roost.deliver(ADDR, make_message(8, subject="ordinary"))
    r = c.ok("NOOP")
    assert "* 8 EXISTS" in r, r
    adds = esearch(r, "u3")
    assert adds == ['* ESEARCH (TAG "u3") ADDTO (1 7)'], r
    # ADDTO comes after EXISTS: the client knows the number.
    assert r.index(adds[0]) > r.index("* 8 EXISTS")
    # Expunged elsewhere: REMOVEFROM while the number is still valid, then EXPUNGE.
    o.ok("NOOP")
    o.ok("STORE 7 +FLAGS (\\Deleted)")
    o.ok("EXPUNGE")
    r = c.ok("NOOP")
    rem = esearch(r, "u3")
    assert rem == ['* ESEARCH (TAG "u3") REMOVEFROM (1 7)'], r
    assert r.index(rem[0]) < r.index("* 7 EXPUNGE"), r


def test_update_uid_context_expunge_and_idle(roost):
    c = prepared(roost)
    o = other(roost)
    r = c.cmd("UID SEARCH RETURN (UPDATE COUNT) FLAGGED", tag="u4")
    assert esearch(r) == ['* ESEARCH (TAG "u4") UID COUNT 3'], r
    o.ok("STORE 4 +FLAGS (\\Deleted)")
    o.ok("EXPUNGE")
    r = c.ok("UID FETCH 1 FLAGS")
    assert esearch(r, "u4") == ['* ESEARCH (TAG "u4") UID REMOVEFROM (2 4)'], r
    # Pushed during IDLE as well.
    c.send(b"i1 IDLE\r\n")
    assert c.line().startswith("+")
    o.ok("STORE 1 +FLAGS (\\Flagged)")
    seen = []
    while True:
        l = c.line()
        seen.append(l)
        if l.startswith('* ESEARCH (TAG "u4")'):
            break
        assert l, seen
    assert l == '* ESEARCH (TAG "u4") UID ADDTO (1 1)', seen
    c.send(b"DONE\r\n")
    r = c.until_tagged("i1")
    assert status_of(r) == "OK", r


def test_cancelupdate(roost):
    c = prepared(roost)
    o = other(roost)
    c.cmd("SEARCH RETURN (UPDATE) FLAGGED", tag="a1")
    c.cmd("SEARCH RETURN (UPDATE) UNFLAGGED", tag="a2")
    # Unknown tag: BAD, and no context ends.
    r = c.cmd('CANCELUPDATE "nope"')
    assert status_of(r) == "BAD", r
    r = c.cmd('CANCELUPDATE "a1" "nope"')
    assert status_of(r) == "BAD", r
    o.ok("STORE 1 +FLAGS (\\Flagged)")
    r = c.ok("NOOP")
    assert esearch(r, "a1") == ['* ESEARCH (TAG "a1") ADDTO (1 1)'], r
    assert esearch(r, "a2") == ['* ESEARCH (TAG "a2") REMOVEFROM (1 1)'], r
    c.ok('CANCELUPDATE "a1"')
    o.ok("STORE 3 +FLAGS (\\Flagged)")
    r = c.ok("NOOP")
    assert not esearch(r, "a1"), r
    assert esearch(r, "a2") == ['* ESEARCH (TAG "a2") REMOVEFROM (1 3)'], r
    c.ok('CANCELUPDATE "a2"')
    r = c.cmd('CANCELUPDATE "a2"')
    assert status_of(r) == "BAD", r
    o.ok("STORE 6 +FLAGS (\\Flagged)")
    r = c.ok("NOOP")
    assert not esearch(r), r
    # Syntax: at least one tag; only in the selected state.
    r = c.cmd("CANCELUPDATE")
    assert status_of(r) == "BAD", r
    c.ok("UNSELECT")
    r = c.cmd('CANCELUPDATE "a2"')
    assert status_of(r) == "BAD", r
    c.ok("NOOP")


def test_contexts_end_on_select_and_unselect(roost):
    c = prepared(roost)
    o = other(roost)
    for again in ("SELECT INBOX", "EXAMINE INBOX", "UNSELECT", "CLOSE"):
        c.ok("SELECT INBOX")
        c.cmd("SEARCH RETURN (UPDATE) FLAGGED", tag="e1")
        c.ok(again)
        if again in ("UNSELECT", "CLOSE"):
            c.ok("SELECT INBOX")
        o.ok("STORE 1 +FLAGS (\\Flagged)")
        r = c.ok("NOOP")
        assert not esearch(r), (again, r)
        r = c.cmd('CANCELUPDATE "e1"')
        assert status_of(r) == "BAD", (again, r)
        o.ok("STORE 1 -FLAGS (\\Flagged)")


def test_too_many_contexts(roost):
    c = prepared(roost)
    o = other(roost)
    for i in range(8):
        r = c.cmd("SEARCH RETURN (UPDATE) FLAGGED", tag=f"m{i}")
        assert status_of(r) == "OK" and not [l for l in r if "NOUPDATE" in l], r
    r = c.cmd("SEARCH RETURN (UPDATE) FLAGGED", tag="m8")
    assert status_of(r) == "OK", r
    assert esearch(r) == ['* ESEARCH (TAG "m8") ALL 2,4:5'], r
    assert '* NO [NOUPDATE "m8"]' in " ".join(r), r
    o.ok("STORE 1 +FLAGS (\\Flagged)")
    r = c.ok("NOOP")
    assert len(esearch(r)) == 8 and not esearch(r, "m8"), r
    # Cancelling one makes room again.
    c.ok('CANCELUPDATE "m0"')
    r = c.cmd("SEARCH RETURN (UPDATE) FLAGGED", tag="m9")
    assert not [l for l in r if "NOUPDATE" in l], r


def test_context_limit_is_a_config_key(roost_factory):
    r = roost_factory(limits={"search_contexts": 2}).start()
    c = prepared(r)
    for i in range(2):
        res = c.cmd("SEARCH RETURN (UPDATE) FLAGGED", tag=f"k{i}")
        assert not [l for l in res if "NOUPDATE" in l], res
    res = c.cmd("SEARCH RETURN (UPDATE) FLAGGED", tag="k2")
    assert '* NO [NOUPDATE "k2"]' in " ".join(res) and "(limit 2)" in " ".join(res), res


def test_programs_not_kept_up_to_date(roost):
    c = prepared(roost)
    for tag, keys in (("n1", "BODY message"), ("n2", "TEXT message"), ("n3", "1:3"),
                      ("n4", "YOUNGER 100000")):
        r = c.cmd(f"SEARCH RETURN (UPDATE COUNT) {keys}", tag=tag)
        assert status_of(r) == "OK", r
        assert [l for l in r if l.startswith(f'* NO [NOUPDATE "{tag}"]')], r
        assert esearch(r, tag), r
    # "$" is a fixed set of UIDs: kept up to date.
    c.ok("SEARCH RETURN (SAVE) 1:3")
    r = c.cmd("SEARCH RETURN (UPDATE) $ FLAGGED", tag="n5")
    assert not [l for l in r if "NOUPDATE" in l], r
    assert esearch(r) == ['* ESEARCH (TAG "n5") ALL 2'], r
    r = c.ok("STORE 3 +FLAGS (\\Flagged)")
    assert esearch(r, "n5") == ['* ESEARCH (TAG "n5") ADDTO (2 3)'], r


def test_update_with_save_and_partial(roost):
    c = prepared(roost)
    r = c.cmd("SEARCH RETURN (UPDATE PARTIAL 1:2) FLAGGED", tag="w1")
    assert esearch(r) == ['* ESEARCH (TAG "w1") PARTIAL (1:2 2,4)'], r
    r = c.ok("STORE 1 +FLAGS (\\Flagged)")
    assert esearch(r, "w1") == ['* ESEARCH (TAG "w1") ADDTO (1 1)'], r
    r = c.cmd("SEARCH RETURN (SAVE UPDATE) FLAGGED", tag="w2")
    assert not esearch(r), r
    r = c.ok("STORE 6 +FLAGS (\\Flagged)")
    assert esearch(r, "w2") == ['* ESEARCH (TAG "w2") ADDTO (5 6)'], r
