"""QUOTA (RFC 9208), read-only: one quota root "" per account with the
STORAGE (KiB) and MESSAGE resources of the account's policy, and the STATUS
item DELETED-STORAGE."""
import re

from conftest import make_message
from imap_util import ADDR, raw_login, status_of, untagged

QUOTA_ACCOUNTS = {
    "alice": {"password": "alice-secret",
              "policy": {"quota": "1MiB", "quota_messages": 10}},
    "bob": {"password": "bob-pw", "policy": {"quota": "unlimited",
                                              "quota_messages": "unlimited"}},
    "carol": {"password": "carol-pw", "policy": {"quota": "unlimited", "quota_messages": 5}},
    "erin": {"password": "erin-pw", "policy": {"quota": "2000"}},
}


def status_size(c, mailbox="INBOX"):
    r = c.ok(f"STATUS {mailbox} (SIZE)")
    return int(re.search(r"SIZE (\d+)", untagged(r, "STATUS")[0]).group(1))


def test_capability_after_login(roost_factory):
    r = roost_factory(accounts=QUOTA_ACCOUNTS).start()
    c = raw_login(r)
    caps = c.cmd("CAPABILITY")[0].split()
    for cap in ("QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE"):
        assert cap in caps
    assert not any(cap.startswith("QUOTASET") for cap in caps)


def test_getquotaroot_and_getquota(roost_factory):
    r = roost_factory(accounts=QUOTA_ACCOUNTS).start()
    r.deliver(ADDR, make_message(1))
    r.deliver(ADDR, make_message(2, body_lines=400))
    c = raw_login(r)
    size = status_size(c)
    kib = (size + 1023) // 1024
    assert kib >= 2
    expected = f'* QUOTA "" (STORAGE {kib} 1024 MESSAGE 2 10)'
    res = c.ok("GETQUOTAROOT INBOX")
    assert res[0] == '* QUOTAROOT INBOX ""', res
    assert res[1] == expected, res
    assert len(res) == 3
    # Case-insensitive INBOX, another mailbox, the same root.
    res = c.ok("GETQUOTAROOT inbox")
    assert res[0] == '* QUOTAROOT INBOX ""'
    res = c.ok("GETQUOTAROOT Sent")
    assert res[:2] == ['* QUOTAROOT Sent ""', expected], res
    res = c.ok('GETQUOTA ""')
    assert res[:-1] == [expected], res
    # Works in the selected state too, and follows deletions.
    c.ok("SELECT INBOX")
    c.ok("STORE 2 +FLAGS (\\Deleted)")
    c.ok("EXPUNGE")
    small = (status_size(c) + 1023) // 1024
    res = c.ok('GETQUOTA ""')
    assert res[0] == f'* QUOTA "" (STORAGE {small} 1024 MESSAGE 1 10)', res


def test_quota_errors(roost_factory):
    r = roost_factory(accounts=QUOTA_ACCOUNTS).start()
    c = raw_login(r)
    res = c.cmd('GETQUOTA "User quota"')
    assert status_of(res) == "NO" and "[NONEXISTENT]" in res[-1], res
    assert not untagged(res, "QUOTA")
    res = c.cmd("GETQUOTAROOT NoSuchBox")
    assert status_of(res) == "NO" and "[NONEXISTENT]" in res[-1], res
    assert not untagged(res, "QUOTAROOT")
    # Read-only: SETQUOTA is not a command of this server.
    res = c.cmd('SETQUOTA "" (STORAGE 512)')
    assert status_of(res) in ("BAD", "NO"), res
    assert status_of(c.cmd("GETQUOTA")) == "BAD"
    # Not before login.
    from imap_util import RawImap
    c2 = RawImap(r.ports["imap"])
    assert status_of(c2.cmd("GETQUOTAROOT INBOX")) == "BAD"
    assert status_of(c2.cmd('GETQUOTA ""')) == "BAD"


def test_unlimited_resources_are_left_out(roost_factory):
    r = roost_factory(accounts=QUOTA_ACCOUNTS).start()
    r.deliver("carol@example.test", make_message(1))
    r.deliver("erin@example.test", make_message(1))
    # Neither limited: no root at all.
    c = raw_login(r, "bob")
    res = c.ok("GETQUOTAROOT INBOX")
    assert res[0] == "* QUOTAROOT INBOX" and len(res) == 2, res
    res = c.cmd('GETQUOTA ""')
    assert status_of(res) == "NO" and "[NONEXISTENT]" in res[-1], res
    # Only MESSAGE limited.
    c = raw_login(r, "carol")
    res = c.ok("GETQUOTAROOT INBOX")
    assert res[:2] == ['* QUOTAROOT INBOX ""', '* QUOTA "" (MESSAGE 1 5)'], res
    # Only STORAGE limited: 2000 octets is 1 KiB (the limit rounds down).
    c = raw_login(r, "erin")
    kib = (status_size(c) + 1023) // 1024
    res = c.ok('GETQUOTA ""')
    assert res[0] == f'* QUOTA "" (STORAGE {kib} 1)', res


def test_status_deleted_storage(roost_factory):
    r = roost_factory(accounts=QUOTA_ACCOUNTS).start()
    for i in range(3):
        r.deliver(ADDR, make_message(i, body_lines=10 * (i + 1)))
    c = raw_login(r)
    c.ok("CREATE Other")
    res = c.ok("STATUS INBOX (DELETED DELETED-STORAGE)")
    assert untagged(res, "STATUS")[0] == "* STATUS INBOX (DELETED 0 DELETED-STORAGE 0)", res
    c.ok("SELECT INBOX")
    res = c.ok("FETCH 1:3 RFC822.SIZE")
    sizes = [int(x) for x in re.findall(r"RFC822\.SIZE (\d+)", " ".join(res))]
    assert len(sizes) == 3
    c.ok("STORE 1,3 +FLAGS.SILENT (\\Deleted)")
    res = c.ok("STATUS INBOX (MESSAGES DELETED-STORAGE DELETED)")
    assert untagged(res, "STATUS")[0] == (
        f"* STATUS INBOX (MESSAGES 3 DELETED-STORAGE {sizes[0] + sizes[2]} DELETED 2)"), res
    # From another session, and for an empty mailbox.
    c2 = raw_login(r)
    res = c2.ok("STATUS INBOX (DELETED-STORAGE)")
    assert untagged(res, "STATUS")[0] == f"* STATUS INBOX (DELETED-STORAGE {sizes[0] + sizes[2]})"
    res = c2.ok("STATUS Other (DELETED-STORAGE)")
    assert untagged(res, "STATUS")[0] == "* STATUS Other (DELETED-STORAGE 0)"
    res = c2.cmd("STATUS Nope (DELETED-STORAGE)")
    assert status_of(res) == "NO" and "[NONEXISTENT]" in res[-1], res
    c.ok("EXPUNGE")
    res = c2.ok("STATUS INBOX (DELETED-STORAGE MESSAGES)")
    assert untagged(res, "STATUS")[0] == "* STATUS INBOX (DELETED-STORAGE 0 MESSAGES 1)"
