"""APPENDLIMIT (RFC 7889): the capability, the STATUS item, LIST-STATUS, and
an APPEND above the limit refused before its data is sent."""
from imap_util import raw_login, status_of


def test_appendlimit(roost_factory):
    r = roost_factory(limits={"literal_size": "100KiB"}).start()
    c = raw_login(r)
    caps = c.cmd("CAPABILITY")[0].split()
    assert "APPENDLIMIT=102400" in caps, caps
    lines = c.ok("STATUS INBOX (APPENDLIMIT MESSAGES)")
    assert lines[0] == "* STATUS INBOX (APPENDLIMIT 102400 MESSAGES 0)", lines
    lines = c.ok('LIST "" "INBOX" RETURN (STATUS (APPENDLIMIT))')
    assert "* STATUS INBOX (APPENDLIMIT 102400)" in lines, lines
    # Just above the limit: refused instead of the continuation.
    tag = c.tag()
    c.send(f"{tag} APPEND INBOX {{102401}}\r\n".encode())
    line = c.line()
    assert line.startswith(f"{tag} NO [TOOBIG]"), line
    # At the limit: accepted.
    body = b"Subject: x\r\n\r\n" + b"y" * (102400 - 16) + b"\r\n"
    assert len(body) == 102400
    tag = c.tag()
    c.send(f"{tag} APPEND INBOX {{{len(body)}}}\r\n".encode())
    assert c.line().startswith("+")
    c.send(body + b"\r\n")
    assert status_of(c.until_tagged(tag)) == "OK"
