"""Quota enforcement in IMAP (RFC 9208): APPEND (and MULTIAPPEND), COPY and
MOVE into an account over its quota answer NO [OVERQUOTA] and store nothing;
GETQUOTA agrees with the STATUS SIZE of every mailbox; the Maildir's
maildirsize (docs/QUOTA.md) is present and exact after `roost deliver` and
after an IMAP expunge."""
import re

from conftest import make_message
from imap_util import ADDR, raw_login, status_of, untagged

ACCOUNTS = {
    "alice": {"password": "alice-secret", "policy": {"quota": "3000", "quota_messages": 5}},
    "bob": {"password": "bob-pw", "policy": {"quota": "unlimited", "quota_messages": 2}},
}


def status(c, mailbox, items="MESSAGES SIZE"):
    line = untagged(c.ok(f"STATUS {mailbox} ({items})"), "STATUS")[0]
    return {k: int(v) for k, v in re.findall(r"([A-Z-]+) (\d+)", line.split("(", 1)[1])}


def all_sizes(c):
    total, count = 0, 0
    for line in untagged(c.ok('LIST "" "*"'), "LIST"):
        if "\\Noselect" in line or "\\NonExistent" in line:
            continue
        name = line.rsplit(" ", 1)[1]
        st = status(c, name)
        total += st["SIZE"]
        count += st["MESSAGES"]
    return total, count


def quota(c):
    line = c.ok('GETQUOTA ""')[0]
    m = re.search(r"STORAGE (\d+) (\d+)", line)
    n = re.search(r"MESSAGE (\d+) (\d+)", line)
    return (int(m.group(1)) if m else None, int(n.group(1)) if n else None)


def maildirsize(r, user="alice"):
    text = (r.maildir(user) / "maildirsize").read_text()
    lines = text.split("\n")
    assert text.endswith("\n")
    total = [0, 0]
    for line in lines[1:-1]:
        if line.strip():
            b, n = line.split()
            total[0] += int(b)
            total[1] += int(n)
    return lines[0], total[0], total[1]


def on_disk(r, user="alice"):
    """What the Maildir holds: the W= (CRLF) sizes of every message file."""
    total, count = 0, 0
    root = r.maildir(user)
    for d in [root] + [p for p in root.iterdir() if p.name.startswith(".") and p.is_dir()]:
        for sub in ("cur", "new"):
            if not (d / sub).is_dir():
                continue
            for f in (d / sub).iterdir():
                m = re.search(r",W=(\d+)", f.name)
                total += int(m.group(1)) if m else len(f.read_bytes().replace(b"\n", b"\r\n"))
                count += 1
    return total, count


def append(c, mailbox, data: bytes):
    return c.cmd(f"APPEND {mailbox} {{{len(data)}+}}\r\n".encode() + data)


def test_append_over_quota(roost_factory):
    r = roost_factory(accounts=ACCOUNTS).start()
    c = raw_login(r)
    msg = make_message(1, lf_only=False)
    res = append(c, "INBOX", msg)
    assert status_of(res) == "OK", res
    before = status(c, "INBOX")
    big = make_message(2, body_lines=200, lf_only=False)
    assert len(big) > 3000
    res = append(c, "INBOX", big)
    assert status_of(res) == "NO" and "[OVERQUOTA]" in res[-1], res
    assert status(c, "INBOX") == before
    # A message that fits still goes in; the session goes on.
    assert status_of(append(c, "INBOX", make_message(3, lf_only=False))) == "OK"
    assert status_of(c.cmd("NOOP")) == "OK"
    # Exactly up to the limit is fine, one byte over is not.
    used, _ = all_sizes(c)
    head = b"Subject: f\r\n\r\n"
    filler = head + b"x" * (3000 - used - len(head) - 2) + b"\r\n"
    assert len(filler) == 3000 - used
    assert status_of(append(c, "Drafts", filler)) == "OK"
    used, _ = all_sizes(c)
    assert used == 3000
    res = append(c, "INBOX", b"S: y\r\n\r\n")
    assert status_of(res) == "NO" and "[OVERQUOTA]" in res[-1], res


def test_multiappend_all_or_nothing(roost_factory):
    r = roost_factory(accounts=ACCOUNTS).start()
    c = raw_login(r)
    one = make_message(1, body_lines=45, lf_only=False)
    assert 1000 < len(one) < 1500
    data = (f"APPEND INBOX {{{len(one)}+}}\r\n".encode() + one +
            f" {{{len(one)}+}}\r\n".encode() + one + f" {{{len(one)}+}}\r\n".encode() + one)
    res = c.cmd(data)
    assert status_of(res) == "NO" and "[OVERQUOTA]" in res[-1], res
    assert status(c, "INBOX")["MESSAGES"] == 0
    assert status_of(c.cmd("NOOP")) == "OK"
    # Two of them fit.
    res = c.cmd(f"APPEND INBOX {{{len(one)}+}}\r\n".encode() + one +
                 f" {{{len(one)}+}}\r\n".encode() + one)
    assert status_of(res) == "OK", res
    assert status(c, "INBOX")["MESSAGES"] == 2


def test_message_count_limit(roost_factory):
    r = roost_factory(accounts=ACCOUNTS).start()
    c = raw_login(r, user="bob")
    for i in range(2):
        assert status_of(append(c, "INBOX", make_message(i, lf_only=False))) == "OK"
    res = append(c, "Sent", make_message(9, lf_only=False))
    assert status_of(res) == "NO" and "[OVERQUOTA]" in res[-1], res
    assert status(c, "Sent")["MESSAGES"] == 0
    c.ok("SELECT INBOX")
    res = c.cmd("COPY 1 Sent")
    assert status_of(res) == "NO" and "[OVERQUOTA]" in res[-1], res
    assert status(c, "Sent")["MESSAGES"] == 0
    # MOVE stays within the account: allowed at the limit.
    res = c.cmd("MOVE 1 Sent")
    assert status_of(res) == "OK", res
    assert status(c, "Sent")["MESSAGES"] == 1


def test_copy_and_move_over_quota(roost_factory):
    r = roost_factory(accounts=ACCOUNTS).start()
    for i in range(2):
        assert r.deliver(ADDR, make_message(i, body_lines=35)).returncode == 0
    c = raw_login(r)
    c.ok("SELECT INBOX")
    used, _ = all_sizes(c)
    assert 1500 < used <= 2000  # one more copy of one fits, of both not
    res = c.cmd("COPY 1:2 Archive")
    assert status_of(res) == "NO" and "[OVERQUOTA]" in res[-1], res
    assert status(c, "Archive")["MESSAGES"] == 0
    res = c.cmd("UID COPY 1:* Archive")
    assert status_of(res) == "NO" and "[OVERQUOTA]" in res[-1], res
    # One fits.
    assert status_of(c.cmd("COPY 1 Archive")) == "OK"
    assert status(c, "Archive")["MESSAGES"] == 1
    # Lower the quota below the usage: now the account is over it, and a
    # MOVE into it is refused too, with nothing moved.
    used, count = all_sizes(c)
    ACC = dict(ACCOUNTS)
    ACC["alice"] = {"password": "alice-secret", "policy": {"quota": str(used - 100)}}
    r.write_domain(accounts=ACC)
    r.reload()
    c2 = raw_login(r)
    c2.ok("SELECT INBOX")
    res = c2.cmd("MOVE 1 Trash")
    assert status_of(res) == "NO" and "[OVERQUOTA]" in res[-1], res
    assert status(c2, "Trash")["MESSAGES"] == 0
    assert status(c2, "INBOX")["MESSAGES"] == 2
    # Expunging brings it back under; then MOVE works.
    c2.ok("STORE 2 +FLAGS (\\Deleted)")
    c2.ok("EXPUNGE")
    assert status_of(c2.cmd("MOVE 1 Trash")) == "OK"
    assert status(c2, "Trash")["MESSAGES"] == 1


def test_getquota_matches_status_and_maildirsize(roost_factory):
    r = roost_factory(accounts=ACCOUNTS).start()
    for i in range(3):
        assert r.deliver(ADDR, make_message(i, body_lines=5)).returncode == 0
    # After `roost deliver`: present and exact (CRLF sizes).
    definition, b, n = maildirsize(r)
    assert (b, n) == on_disk(r)
    assert n == 3
    assert definition in ("0S,0C", "3000S,5C")
    c = raw_login(r)
    c.ok("SELECT INBOX")
    assert status_of(c.cmd("COPY 1 Archive")) == "OK"
    used, count = all_sizes(c)
    assert quota(c) == ((used + 1023) // 1024, count)
    # The policy's limits are now the definition line.
    definition, b, n = maildirsize(r)
    assert definition == "3000S,5C"
    assert (b, n) == (used, count) == on_disk(r)
    # After an IMAP expunge.
    c.ok("STORE 1:2 +FLAGS (\\Deleted)")
    c.ok("EXPUNGE")
    used, count = all_sizes(c)
    assert count == 2
    definition, b, n = maildirsize(r)
    assert (b, n) == (used, count) == on_disk(r)
    assert quota(c) == ((used + 1023) // 1024, count)
    # DELETED-STORAGE and MESSAGES are STATUS items (RFC 9208 for
    # QUOTA=RES-STORAGE and QUOTA=RES-MESSAGE).
    st = status(c, "Archive", "MESSAGES DELETED-STORAGE SIZE")
    assert st["MESSAGES"] == 1 and st["DELETED-STORAGE"] == 0
    # A damaged file is recalculated.
    (r.maildir("alice") / "maildirsize").write_text("3000S,5C\nnonsense\n")
    assert quota(c) == ((used + 1023) // 1024, count)
    assert maildirsize(r)[1:] == (used, count)
