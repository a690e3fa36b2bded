"""UNAUTHENTICATE (RFC 8437): the same TLS connection logs in again as
another account, and nothing of the first account's session remains."""
from conftest import make_message
from imap_util import ADDR, raw_login, status_of


def test_unauthenticate_then_login_as_another_account(roost):
    roost.deliver(ADDR, make_message(1))
    roost.deliver(ADDR, make_message(2))
    c = raw_login(roost)
    assert "UNAUTHENTICATE" in c.cmd("CAPABILITY")[0]
    r = c.ok("SELECT INBOX")
    assert "* 2 EXISTS" in r
    c.ok("UNAUTHENTICATE")
    assert status_of(c.cmd("SELECT INBOX")) == "BAD"  # not authenticated any more
    assert status_of(c.cmd("UNAUTHENTICATE")) == "BAD"
    caps = c.cmd("CAPABILITY")[0]
    assert "AUTH=PLAIN" in caps and "UNAUTHENTICATE" not in caps
    c.login("bob@example.test", roost.password("bob"))
    r = c.ok("SELECT INBOX")
    assert "* 0 EXISTS" in r, r
    ev = roost.wait_for_event("unauthenticate", user=ADDR)
    assert ev["proto"] == "imap"
