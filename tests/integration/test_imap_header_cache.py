"""The store's header cache seen through IMAP: ENVELOPE, HEADER.FIELDS of
cached fields, SEARCH, SORT and THREAD on those fields answer exactly as when
the message itself is read, before the cache holds a message, once it does,
and after a restart that reads the cache file back."""
from imap_util import deliver_all, parse_fetch, raw_login, status_of, varied_messages

FIELDS = "BODY[HEADER.FIELDS (SUBJECT FROM DATE MESSAGE-ID REFERENCES)]"
CACHED = f"FETCH 1:* (ENVELOPE BODY.PEEK{FIELDS[4:]})"
# BODY.PEEK[TEXT] is not a cached item: the same FETCH then reads every message.
UNCACHED = f"FETCH 1:* (ENVELOPE BODY.PEEK{FIELDS[4:]} BODY.PEEK[TEXT]<0.1>)"


def fetch_items(c, text):
    r = c.bcmd(text)
    assert r[-1].split()[1] == b"OK", r[-1]
    out = {}
    for line in r[:-1]:
        n, items = parse_fetch(line)
        out[n] = (items["ENVELOPE"], items[FIELDS])
    return out


def answer(c, text):
    r = c.cmd(text)
    assert status_of(r) == "OK", (text, r)
    return [l for l in r if l.startswith("* ")]


QUERIES = [
    "SEARCH SUBJECT attachment",
    "SEARCH FROM joerg",
    "SEARCH OR SUBJECT nested HEADER MESSAGE-ID gen1",
    "SEARCH SENTSINCE 1-Jan-2020",
    "SORT (SUBJECT) UTF-8 ALL",
    "SORT (REVERSE DATE FROM) UTF-8 ALL",
    "THREAD REFERENCES UTF-8 ALL",
]


def answers(c):
    got = {}
    for q in QUERIES:
        cached = answer(c, q)
        # TEXT "" matches every message but makes the search read it whole.
        assert cached == answer(c, q + ' TEXT ""'), q
        got[q] = cached
    return got


def test_header_cache_answers_as_the_messages_do(roost):
    deliver_all(roost, varied_messages(40))
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    first = fetch_items(c, CACHED)  # reads each message and fills the cache
    assert len(first) == 40
    assert first == fetch_items(c, UNCACHED)
    assert first == fetch_items(c, CACHED)  # from the cache
    queries = answers(c)
    assert any(len(a[0].split()) > 2 for a in queries.values())
    index = roost.root / "state" / "index" / "example.test" / "alice"
    assert (index / "INBOX.hdr").stat().st_size > 0
    c.close()

    roost.stop()
    roost.start()
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    assert first == fetch_items(c, CACHED)
    assert queries == answers(c)
    c.ok("LOGOUT")


def test_header_cache_after_expunge_and_new_mail(roost):
    deliver_all(roost, varied_messages(10))
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    before = fetch_items(c, CACHED)
    c.ok("STORE 1:5 +FLAGS.SILENT (\\Deleted)")
    c.ok("EXPUNGE")
    deliver_all(roost, [b"From: new@example.net\r\nSubject: fresh one\r\n\r\nbody\r\n"])
    c.ok("NOOP")
    after = fetch_items(c, CACHED)
    assert len(after) == 6
    for n in range(1, 6):
        assert after[n] == before[n + 5]
    assert b"fresh one" in after[6][1]
    assert after == fetch_items(c, UNCACHED)
