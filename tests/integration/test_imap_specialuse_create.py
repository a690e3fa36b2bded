"""CREATE-SPECIAL-USE (RFC 6154 3) against the real roostd: CREATE name
(USE (\\Drafts)) creates the mailbox with that special use, LIST shows it
(plain and with the SPECIAL-USE selection option), and the refusals: an
unknown or unsupported use, two uses, an existing name, a bad parameter."""
import re

from imap_util import raw_login, status_of


def list_attrs(c, pattern="*", extra=""):
    """{name: set of attributes} of LIST."""
    out = {}
    for l in c.ok(f'LIST {extra}"" "{pattern}"'):
        m = re.match(r'\* LIST \(([^)]*)\) (?:"/"|NIL) (.*)$', l)
        if not m:
            continue
        name = m.group(2)
        if name.startswith('"'):
            name = name[1:-1]
        out[name] = set(m.group(1).split())
    return out


def test_capability(roost):
    c = raw_login(roost)
    caps = c.cmd("CAPABILITY")[0].split()
    assert "CREATE-SPECIAL-USE" in caps and "SPECIAL-USE" in caps


def test_create_with_use_and_list(roost):
    c = raw_login(roost)
    c.ok("CREATE MyDrafts (USE (\\Drafts))")
    c.ok("CREATE Old/Stuff (USE (\\archive))")  # any case; parents are created
    attrs = list_attrs(c)
    assert "\\Drafts" in attrs["MyDrafts"], attrs
    assert "\\Archive" in attrs["Old/Stuff"], attrs
    assert not ({"\\Drafts", "\\Archive"} & attrs["Old"]), attrs
    special = list_attrs(c, extra="(SPECIAL-USE) ")
    assert "MyDrafts" in special and "Old/Stuff" in special, special
    assert "Old" not in special, special
    # The mailbox is real and the use is kept for other sessions.
    c.ok("SELECT MyDrafts")
    d = raw_login(roost)
    assert "\\Drafts" in list_attrs(d, "MyDrafts")["MyDrafts"]


def test_use_already_held_elsewhere_is_allowed(roost):
    # RFC 6154 lets several mailboxes share a use; the default Sent keeps it.
    c = raw_login(roost)
    c.ok("CREATE Sent2 (USE (\\Sent))")
    attrs = list_attrs(c)
    assert "\\Sent" in attrs["Sent"] and "\\Sent" in attrs["Sent2"], attrs


def test_refusals(roost):
    c = raw_login(roost)
    for cmd in ("CREATE A (USE (\\Flagged))",      # RFC 6154 use Roost cannot keep
                "CREATE A (USE (\\All))",
                "CREATE A (USE (\\Nonsense))",     # not a special use at all
                "CREATE A (USE (\\Drafts \\Sent))"):  # two uses
        r = c.cmd(cmd)
        assert status_of(r) == "NO" and "[USEATTR]" in r[-1], (cmd, r)
    assert "A" not in list_attrs(c)
    # An existing name: NO [ALREADYEXISTS], its use unchanged.
    r = c.cmd("CREATE Trash (USE (\\Junk))")
    assert status_of(r) == "NO" and "[ALREADYEXISTS]" in r[-1], r
    attrs = list_attrs(c)
    assert "\\Trash" in attrs["Trash"] and "\\Junk" not in attrs["Trash"], attrs
    # Syntax: USE needs a list; unknown parameters are BAD.
    for cmd in ("CREATE B (USE)", "CREATE B (FOO (\\Drafts))", "CREATE B (USE \\Drafts)"):
        r = c.cmd(cmd)
        assert status_of(r) == "BAD", (cmd, r)
    assert "B" not in list_attrs(c)
    # An empty USE list creates a plain mailbox.
    c.ok("CREATE Plain (USE ())")
    attrs = list_attrs(c)
    assert not ({"\\Drafts", "\\Sent", "\\Trash", "\\Junk", "\\Archive"} & attrs["Plain"])
    c.ok("NOOP")
