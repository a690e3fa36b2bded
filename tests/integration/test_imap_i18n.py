"""I18NLEVEL=1 (RFC 5255) against the real roostd: SEARCH SUBJECT / BODY /
TEXT and SORT SUBJECT use the i;unicode-casemap comparator (RFC 5051):
titlecase mapping plus decomposition, so case and precomposed / decomposed
forms and compatibility ligatures meet, while the German sharp s stays apart
from "SS"."""
import base64

from imap_util import ADDR, raw_login, status_of


def encoded(text):
    return "=?UTF-8?B?" + base64.b64encode(text.encode()).decode() + "?="


def message(n, subject, body):
    return (f"From: sender{n}@example.net\r\nTo: {ADDR}\r\n"
            f"Subject: {encoded(subject)}\r\nMessage-ID: <i{n}@example.net>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n" + body + "\r\n").encode()


MESSAGES = [
    ("ÄPFEL kaufen", "Die \ufb01nale Liste"),          # 1: ligature fi
    ("äpfel essen", "Gr\u00fc\u00dfe aus \u00c5re"),   # 2: precomposed A-ring
    ("Straße", "Gru\u0308sse aus A\u030are"),          # 3: decomposed A-ring, u-umlaut
    ("ΣΟΦΙΑΣ", "η σοφιας"),                            # 4: Greek, final sigma in the body
    ("Zebra", "nothing"),                              # 5
    ("Apfel", "plain"),                                # 6
    ("\ufb01sh", "more"),                              # 7: ligature in the subject
]


def lit(text):
    b = text.encode()
    return b"{%d+}\r\n" % len(b) + b


def search(c, key, value):
    r = c.cmd(b"SEARCH CHARSET UTF-8 " + key.encode() + b" " + lit(value))
    assert status_of(r) == "OK", r
    for l in r:
        if l.startswith("* SEARCH"):
            return [int(x) for x in l.split()[2:]]
    raise AssertionError(r)


def prepared(roost):
    for i, (subject, body) in enumerate(MESSAGES, 1):
        r = roost.deliver(ADDR, message(i, subject, body))
        assert r.returncode == 0, r
    c = raw_login(roost)
    c.ok("SELECT INBOX")
    return c


def test_capability(roost):
    c = raw_login(roost)
    caps = c.cmd("CAPABILITY")[0].split()
    assert "I18NLEVEL=1" in caps


def test_case_and_umlauts_in_subject(roost):
    c = prepared(roost)
    assert search(c, "SUBJECT", "äpfel") == [1, 2]
    assert search(c, "SUBJECT", "ÄPFEL") == [1, 2]
    assert search(c, "SUBJECT", "A\u0308pfel") == [1, 2]   # decomposed form
    assert search(c, "SUBJECT", "apfel") == [6]            # the diaeresis counts


def test_ligature(roost):
    c = prepared(roost)
    assert search(c, "BODY", "FINALE") == [1]
    assert search(c, "TEXT", "finale") == [1]
    assert search(c, "BODY", "\ufb01nale") == [1]
    assert search(c, "SUBJECT", "FISH") == [7]


def test_precomposed_and_decomposed(roost):
    c = prepared(roost)
    assert search(c, "BODY", "\u00e5re") == [2, 3]
    assert search(c, "BODY", "A\u030aRE") == [2, 3]
    assert search(c, "TEXT", "\u212bre") == [2, 3]       # the Angstrom sign
    assert search(c, "BODY", "gr\u00fcsse") == [3]
    assert search(c, "BODY", "GRÜßE") == [2]


def test_sharp_s(roost):
    c = prepared(roost)
    assert search(c, "SUBJECT", "STRAßE") == [3]
    assert search(c, "SUBJECT", "strasse") == []
    assert search(c, "BODY", "grüsse") == [3]  # only the message that spells it so


def test_greek_sigma(roost):
    c = prepared(roost)
    assert search(c, "SUBJECT", "σοφιας") == [4]
    assert search(c, "SUBJECT", "σοφιασ") == [4]
    assert search(c, "BODY", "ΣΟΦΙΑΣ") == [4]
    assert search(c, "TEXT", "Σοφιας") == [4]


def test_sort_subject_order(roost):
    c = prepared(roost)
    r = c.ok("SORT (SUBJECT) UTF-8 ALL")
    line = [l for l in r if l.startswith("* SORT")][0]
    # APFEL < A+U+0308 PFEL ESSEN < A+U+0308 PFEL KAUFEN < FISH < STRAßE < ZEBRA < ΣΟΦΙΑΣ
    assert [int(x) for x in line.split()[2:]] == [6, 2, 1, 7, 3, 5, 4], r
    r = c.ok("SORT (REVERSE SUBJECT) UTF-8 ALL")
    line = [l for l in r if l.startswith("* SORT")][0]
    assert [int(x) for x in line.split()[2:]] == [4, 5, 3, 7, 1, 2, 6], r
