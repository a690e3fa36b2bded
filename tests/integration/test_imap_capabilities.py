"""The post-login CAPABILITY list covers what Dovecot 2.3 lists by default
(less LOGIN-REFERRALS and the pre-RFC SNIPPET=FUZZY / PREVIEW=FUZZY names),
plus IMAP4rev2, QUOTA, COMPRESS=DEFLATE and UTF8=ACCEPT; before login only
what a client needs to log in."""
from imap_util import raw_login, RawImap

DOVECOT_DEFAULTS = """IMAP4rev1 SASL-IR ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES
THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE
UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN
CONTEXT=SEARCH LIST-STATUS BINARY MOVE PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY
SPECIAL-USE""".split()
ALSO = ["IMAP4rev2", "QUOTA", "COMPRESS=DEFLATE", "UTF8=ACCEPT"]


def caps_of(lines):
    for l in lines:
        if l.startswith("* CAPABILITY "):
            return set(l.split()[2:])
    raise AssertionError(lines)


def test_after_login_at_least_dovecots_list(roost):
    c = raw_login(roost)
    caps = caps_of(c.ok("CAPABILITY"))
    missing = [x for x in DOVECOT_DEFAULTS + ALSO if x not in caps]
    assert not missing, missing
    assert not ("LITERAL+" in caps and "LITERAL-" in caps)


def test_before_login_only_what_login_needs(roost):
    c = RawImap(roost.ports["imap"])
    caps = caps_of(c.ok("CAPABILITY"))
    assert caps <= {"IMAP4rev1", "IMAP4rev2", "SASL-IR", "LITERAL+", "ID", "ENABLE", "STARTTLS",
                    "AUTH=PLAIN", "AUTH=LOGIN", "LOGINDISABLED"}, caps
