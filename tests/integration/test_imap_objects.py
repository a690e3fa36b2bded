"""SAVEDATE (RFC 8514), OBJECTID (RFC 8474) and PREVIEW (RFC 8970) against the
real roostd over the Maildir store: FETCH SAVEDATE and the SAVED* search keys
(also after COPY), MAILBOXID on SELECT / EXAMINE / CREATE / STATUS / LIST-STATUS
across RENAME, restarts, index loss and DELETE + CREATE, EMAILID kept by COPY
and MOVE, THREADID NIL, PREVIEW of several message shapes, and the failure
paths (BAD / NO with the session going on)."""
import datetime
import re
import shutil

from imap_util import ADDR, parse_fetch, raw_login, status_of, untagged

OBJECT_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


def append(c, mailbox, message: bytes, extra=""):
    r = c.cmd(f"APPEND {mailbox} {extra}{{{len(message)}+}}\r\n".encode() + message)
    assert status_of(r) == "OK", r
    m = re.search(r"APPENDUID \d+ (\d+)", r[-1])
    return int(m.group(1))


def fetch_items(c, command):
    """{seq: {ITEM: value}} of the FETCH responses of `command` (bytes-safe)."""
    lines = c.bcmd(command)
    assert lines[-1].split(b" ")[1] == b"OK", lines
    out = {}
    for l in lines[:-1]:
        if re.match(rb"^\* \d+ FETCH ", l):
            n, items = parse_fetch(l)
            out[n] = items
    return out


def searched(lines):
    for l in lines:
        if l.startswith("* SEARCH"):
            return [int(x) for x in l.split()[2:] if x.isdigit()]
    raise AssertionError(lines)


def mailbox_id_of_select(lines):
    ids = [m.group(1) for l in lines for m in [re.match(r"\* OK \[MAILBOXID \((.+)\)\]", l)] if m]
    assert len(ids) == 1, lines
    assert OBJECT_ID.match(ids[0]), ids
    return ids[0]


def status_id(c, mailbox):
    r = c.ok(f"STATUS {mailbox} (MAILBOXID MESSAGES)")
    m = re.search(r"MAILBOXID \(([^)]+)\)", r[0])
    assert m, r
    assert OBJECT_ID.match(m.group(1)), r
    return m.group(1)


def today():
    return datetime.datetime.now(datetime.timezone.utc).date()


def imap_date(d):
    return f"{d.day}-{d.strftime('%b')}-{d.year}"


MSG = b"From: a@example.net\r\nSubject: hello\r\n\r\nHello there.\r\n"


# ---------------------------------------------------------------- capability

def test_capability(roost):
    c = raw_login(roost)
    caps = c.cmd("CAPABILITY")[0].split()
    for cap in ("SAVEDATE", "OBJECTID", "PREVIEW"):
        assert cap in caps, caps


# ---------------------------------------------------------------- SAVEDATE

def test_savedate_fetch_and_search(roost):
    c = raw_login(roost)
    append(c, "INBOX", MSG, '"01-Jan-2001 10:00:00 +0000" ')
    c.ok("SELECT INBOX")
    items = fetch_items(c, "FETCH 1 (SAVEDATE INTERNALDATE)")[1]
    assert items["INTERNALDATE"] == b" 1-Jan-2001 10:00:00 +0000"
    saved = datetime.datetime.strptime(items["SAVEDATE"].decode().strip(), "%d-%b-%Y %H:%M:%S %z")
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((now - saved).total_seconds()) < 120, items
    t = imap_date(saved.date())
    assert searched(c.ok(f"SEARCH SAVEDON {t}")) == [1]
    assert searched(c.ok(f"SEARCH SAVEDSINCE {t}")) == [1]
    assert searched(c.ok(f"SEARCH SAVEDBEFORE {t}")) == []
    assert searched(c.ok("SEARCH SAVEDATESUPPORTED")) == [1]
    # The internal date keys still use the internal date.
    assert searched(c.ok("SEARCH ON 1-Jan-2001")) == [1]
    assert searched(c.ok("SEARCH SAVEDON 1-Jan-2001")) == []
    r = c.ok("UID SEARCH RETURN (COUNT) SAVEDSINCE 1-Jan-2000")
    assert "COUNT 1" in r[0], r


def test_savedate_of_delivered_file_and_new_one_after_copy(roost):
    # A file an MTA delivered long ago: its save date is the time in its name.
    c = raw_login(roost)
    new = roost.maildir("alice") / "new"
    (new.parent / "tmp" / "x").write_bytes(MSG)
    (new.parent / "tmp" / "x").rename(new / "1000000000.M1P2.mx.example")
    c.ok("SELECT INBOX")
    items = fetch_items(c, "FETCH 1 (SAVEDATE EMAILID)")[1]
    assert items["SAVEDATE"] == b" 9-Sep-2001 01:46:40 +0000", items
    assert searched(c.ok("SEARCH SAVEDON 9-Sep-2001")) == [1]
    assert searched(c.ok("SEARCH SAVEDBEFORE 10-Sep-2001")) == [1]
    # COPY puts it into Drafts now: a new save date there, the same message id.
    c.ok("COPY 1 Drafts")
    c.ok("SELECT Drafts")
    copied = fetch_items(c, "FETCH 1 (SAVEDATE EMAILID)")[1]
    assert copied["EMAILID"] == items["EMAILID"]
    saved = datetime.datetime.strptime(copied["SAVEDATE"].decode().strip(), "%d-%b-%Y %H:%M:%S %z")
    assert saved.date() >= today() - datetime.timedelta(days=1)
    assert searched(c.ok("SEARCH SAVEDBEFORE 10-Sep-2001")) == []
    assert searched(c.ok(f"SEARCH SAVEDSINCE {imap_date(saved.date())}")) == [1]
    # MOVE too.
    c.ok("MOVE 1 Trash")
    c.ok("SELECT Trash")
    moved = fetch_items(c, "FETCH 1 (SAVEDATE EMAILID)")[1]
    assert moved["EMAILID"] == items["EMAILID"]
    assert moved["SAVEDATE"] != items["SAVEDATE"]


def test_savedate_failures(roost):
    c = raw_login(roost)
    append(c, "INBOX", MSG)
    c.ok("SELECT INBOX")
    for bad in ("SEARCH SAVEDBEFORE", "SEARCH SAVEDON 31-Foo-2024", "SEARCH SAVEDSINCE 2024-01-01",
                "SEARCH SAVEDATESUPPORTED 1-Jan-2024", "FETCH 1 SAVEDATE[]",
                "FETCH 1 (SAVEDATE"):
        r = c.cmd(bad)
        assert status_of(r) == "BAD", (bad, r)
    # Outside the selected state.
    c.ok("UNSELECT")
    r = c.cmd("FETCH 1 SAVEDATE")
    assert status_of(r) == "BAD", r
    c.ok("NOOP")
    c.ok("SELECT INBOX")
    assert searched(c.ok("SEARCH SAVEDATESUPPORTED")) == [1]


# ---------------------------------------------------------------- MAILBOXID

def test_mailboxid_select_create_status_list(roost):
    c = raw_login(roost)
    inbox = mailbox_id_of_select(c.ok("SELECT INBOX"))
    assert mailbox_id_of_select(c.ok("EXAMINE INBOX")) == inbox
    assert status_id(c, "INBOX") == inbox
    r = c.ok("CREATE Projects")
    m = re.match(r"\S+ OK \[MAILBOXID \(([A-Za-z0-9_-]+)\)\]", r[-1])
    assert m, r
    projects = m.group(1)
    assert projects != inbox
    assert status_id(c, "Projects") == projects
    assert mailbox_id_of_select(c.ok("SELECT Projects")) == projects
    r = c.ok('LIST "" "*" RETURN (STATUS (MAILBOXID))')
    ids = dict(re.findall(r'\* STATUS "?([^" ]+)"? \(MAILBOXID \(([^)]+)\)\)', "\n".join(r)))
    assert ids["INBOX"] == inbox and ids["Projects"] == projects, r
    assert len(set(ids.values())) == len(ids), ids


def test_mailboxid_rename_restart_index_loss_delete(roost):
    c = raw_login(roost)
    c.ok("CREATE Work/Sub")
    inbox = status_id(c, "INBOX")
    work = status_id(c, "Work")
    sub = status_id(c, "Work/Sub")
    c.ok("RENAME Work Job")
    assert status_id(c, "Job") == work
    assert status_id(c, "Job/Sub") == sub
    r = c.cmd("STATUS Work (MAILBOXID)")
    assert status_of(r) == "NO" and "[NONEXISTENT]" in r[-1], r
    c.close()

    roost.stop()
    roost.start()
    c = raw_login(roost)
    assert status_id(c, "INBOX") == inbox
    assert status_id(c, "Job") == work
    c.close()

    roost.stop()
    shutil.rmtree(roost.root / "state" / "index", ignore_errors=True)
    roost.start()
    c = raw_login(roost)
    assert mailbox_id_of_select(c.ok("SELECT INBOX")) == inbox
    assert status_id(c, "Job/Sub") == sub

    # DELETE + CREATE: a new mailbox, a new id.
    c.ok("DELETE Job/Sub")
    r = c.ok("CREATE Job/Sub")
    assert f"MAILBOXID ({sub})" not in r[-1]
    assert status_id(c, "Job/Sub") != sub
    # RENAME INBOX: INBOX keeps its id, the new mailbox gets a new one.
    append(c, "INBOX", MSG)
    c.ok("RENAME INBOX Saved")
    assert status_id(c, "INBOX") == inbox
    assert status_id(c, "Saved") not in (inbox, work, sub)


def test_mailboxid_failures(roost):
    c = raw_login(roost)
    r = c.cmd("STATUS Nope (MAILBOXID)")
    assert status_of(r) == "NO" and "[NONEXISTENT]" in r[-1], r
    r = c.cmd("STATUS INBOX (MAILBOXID BOGUS)")
    assert status_of(r) == "BAD", r
    r = c.cmd("STATUS INBOX ()")
    assert status_of(r) == "BAD", r
    r = c.cmd("CREATE INBOX")
    assert status_of(r) == "NO" and "MAILBOXID" not in r[-1], r
    c.ok("CREATE Dup")
    r = c.cmd("CREATE Dup")
    assert status_of(r) == "NO" and "[ALREADYEXISTS]" in r[-1] and "MAILBOXID" not in r[-1], r
    r = c.cmd("SELECT Nope")
    assert status_of(r) == "NO" and not any("MAILBOXID" in l for l in r), r
    r = c.cmd('LIST "" "*" RETURN (STATUS (MAILBOXID FOO))')
    assert status_of(r) == "BAD", r
    c.ok("NOOP")


# ---------------------------------------------------------------- EMAILID / THREADID

def test_emailid_kept_by_copy_and_move(roost):
    c = raw_login(roost)
    append(c, "INBOX", MSG)
    append(c, "INBOX", MSG.replace(b"hello", b"second"))
    c.ok("SELECT INBOX")
    got = fetch_items(c, "FETCH 1:2 (EMAILID THREADID)")
    e1, e2 = got[1]["EMAILID"], got[2]["EMAILID"]
    assert isinstance(e1, list) and len(e1) == 1 and OBJECT_ID.match(e1[0]), got
    assert e1 != e2
    assert got[1]["THREADID"] is None and got[2]["THREADID"] is None
    c.ok("COPY 1 Archive")
    c.ok("MOVE 2 Archive")
    c.ok("SELECT Archive")
    moved = fetch_items(c, "FETCH 1:2 (EMAILID)")
    assert moved[1]["EMAILID"] == e1 and moved[2]["EMAILID"] == e2, moved
    assert searched(c.ok(f"SEARCH EMAILID {e2[0]}")) == [2]
    assert searched(c.ok(f"SEARCH THREADID {e2[0]}")) == []
    assert searched(c.ok("SEARCH NOT THREADID T1")) == [1, 2]
    # The original is still there with the same id.
    c.ok("SELECT INBOX")
    assert searched(c.ok(f"UID SEARCH EMAILID {e1[0]}")) == [1]
    c.close()

    # Ids live in the file names: restart and index loss change nothing.
    roost.stop()
    shutil.rmtree(roost.root / "state" / "index", ignore_errors=True)
    roost.start()
    c = raw_login(roost)
    c.ok("SELECT Archive")
    again = fetch_items(c, "UID FETCH 1:* (EMAILID)")
    assert sorted(v["EMAILID"][0] for v in again.values()) == sorted([e1[0], e2[0]])


def test_emailid_failures(roost):
    c = raw_login(roost)
    append(c, "INBOX", MSG)
    c.ok("SELECT INBOX")
    for bad in ("SEARCH EMAILID", "SEARCH EMAILID bad.id", 'SEARCH EMAILID "quoted"',
                "SEARCH THREADID " + "x" * 256, "FETCH 1 (EMAILID[])", "FETCH 1 THREADID (X)"):
        r = c.cmd(bad)
        assert status_of(r) == "BAD", (bad, r)
    assert searched(c.ok("SEARCH EMAILID M0")) == []
    c.ok("NOOP")


# ---------------------------------------------------------------- PREVIEW

PLAIN = b"Subject: plain\r\n\r\nHello   world,\r\n\r\n  this is   the body.\r\n"
HTML = (b"Subject: html\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<html><head><style>p{color:red}</style></head><body>"
        b"<p>Hi&nbsp;<b>there</b> &amp; welcome</p><script>evil()</script></body></html>\r\n")
LATIN = (b"Subject: latin\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
         b"Content-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 cr=E8me br=FBl=E9e\r\n")
MIXED = (b"Subject: mixed\r\nMIME-Version: 1.0\r\n"
         b"Content-Type: multipart/mixed; boundary=\"xx\"\r\n\r\n"
         b"--xx\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment\r\n"
         b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"
         b"--xx\r\nContent-Type: multipart/alternative; boundary=\"yy\"\r\n\r\n"
         b"--yy\r\nContent-Type: text/plain; charset=utf-8\r\n"
         b"Content-Transfer-Encoding: base64\r\n\r\nVGhlIHBsYWluIHBhcnQ=\r\n"
         b"--yy\r\nContent-Type: text/html\r\n\r\n<p>The html part</p>\r\n"
         b"--yy--\r\n--xx--\r\n")
EMPTY = b"Subject: nothing\r\nContent-Type: image/png\r\n\r\niVBORw0K\r\n"
LONG = b"Subject: long\r\n\r\n" + ("\u00e9t\u00e9 " * 200).encode() + b"\r\n"


def test_preview_shapes(roost):
    c = raw_login(roost)
    for m in (PLAIN, HTML, LATIN, MIXED, EMPTY, LONG):
        append(c, "INBOX", m)
    c.ok("SELECT INBOX")
    got = fetch_items(c, "FETCH 1:6 (PREVIEW)")
    assert got[1]["PREVIEW"] == b"Hello world, this is the body."
    assert got[2]["PREVIEW"] == "Hi\u00a0there & welcome".replace("\u00a0", " ").encode()
    assert got[3]["PREVIEW"] == "Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e".encode()
    assert got[4]["PREVIEW"] == b"The plain part"
    assert got[5]["PREVIEW"] == b""
    long = got[6]["PREVIEW"].decode()
    assert len(long) <= 256 and long.startswith("\u00e9t\u00e9 \u00e9t\u00e9") and long[-1] != " "
    # Without UTF-8 mode non-ASCII previews come as literals; ASCII ones quoted.
    lines = c.bcmd("FETCH 3 PREVIEW")
    assert re.match(rb"^\* 3 FETCH \(PREVIEW \{\d+\}\r\n", lines[0]), lines
    lines = c.bcmd("FETCH 1 (PREVIEW (LAZY))")
    assert lines[0] == b'* 1 FETCH (PREVIEW "Hello world, this is the body.")', lines
    # PREVIEW does not set \Seen.
    assert not any(b"\\Seen" in l for l in c.bcmd("FETCH 1:6 FLAGS")[:-1])
    # In UTF-8 mode a quoted string may carry it.
    c.ok("ENABLE UTF8=ACCEPT")
    lines = c.bcmd("FETCH 3 PREVIEW")
    assert lines[0] == '* 3 FETCH (PREVIEW "Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e")'.encode(), lines
    # UID FETCH, and with other items.
    items = fetch_items(c, "UID FETCH 4 (PREVIEW (LAZY) EMAILID)")[4]
    assert items["UID"] == "4" and items["PREVIEW"] == b"The plain part"


def test_preview_failures(roost):
    c = raw_login(roost)
    append(c, "INBOX", PLAIN)
    c.ok("SELECT INBOX")
    for bad in ("FETCH 1 PREVIEW (FOO)", "FETCH 1 (PREVIEW (LAZY FOO))", "FETCH 1 (PREVIEW ())",
                "FETCH 1 (PREVIEW (LAZY)", "FETCH 1 PREVIEW[]", "FETCH 1 (PREVIEW LAZY)",
                "FETCH 0 PREVIEW", "FETCH 1 PREVIEW (CHANGEDSINCE 0)"):
        r = c.cmd(bad)
        assert status_of(r) == "BAD", (bad, r)
        assert not untagged(r, "FETCH"), (bad, r)
    # A FETCH modifier after a bare PREVIEW is still a FETCH modifier.
    r = c.ok("FETCH 1 PREVIEW (CHANGEDSINCE 1)")
    assert "PREVIEW" in r[0] and "MODSEQ" in r[0], r
    c.ok("NOOP")
    assert fetch_items(c, "FETCH 1 PREVIEW")[1]["PREVIEW"] == b"Hello world, this is the body."
