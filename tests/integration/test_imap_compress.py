"""IMAP COMPRESS=DEFLATE (RFC 4978) end to end, over plain TCP and over TLS.

The client here is a raw socket with Python's zlib in raw DEFLATE mode
(wbits=-15): after the tagged OK of COMPRESS every byte each way is
compressed, and every server response must decode at once (sync flush).
"""
import random
import re
import socket
import time
import zlib

import pytest

from conftest import client_tls_context
from imap_util import ADDR, PASS, RawImap, deliver_all, status_of

_LITERAL = re.compile(rb"\{(\d+)\}\r\n$")


class ZImap:
    """A raw IMAP client that can switch on DEFLATE both ways."""

    def __init__(self, port, tls=False, timeout=20):
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls:
            s = client_tls_context().wrap_socket(s)
        self.s = s
        self.buf = b""
        self.comp = None
        self.decomp = None
        self.wire_in = 0   # bytes read from the socket after COMPRESS
        self.plain_in = 0  # what they inflated to
        self.wire_out = 0
        self.plain_out = 0
        self._n = 0
        self.greeting = self.line()

    # ---- transport -------------------------------------------------------
    def send_raw(self, data: bytes):
        self.s.sendall(data)

    def send(self, data: bytes):
        if self.comp:
            self.plain_out += len(data)
            data = self.comp.compress(data) + self.comp.flush(zlib.Z_SYNC_FLUSH)
            self.wire_out += len(data)
        self.s.sendall(data)

    def _fill(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError("server closed the connection")
        if self.decomp:
            self.wire_in += len(d)
            d = self.decomp.decompress(d)
            self.plain_in += len(d)
        self.buf += d

    def _read_line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n") + 2
        l, self.buf = self.buf[:i], self.buf[i:]
        return l

    def _read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def line(self) -> bytes:
        """One response with literals inlined, CRLF stripped."""
        out = b""
        while True:
            l = self._read_line()
            m = _LITERAL.search(l)
            if m:
                out += l + self._read_exact(int(m.group(1)))
                continue
            return out + l[:-2]

    def tag(self):
        self._n += 1
        return f"z{self._n}"

    def until_tagged(self, tag):
        lines = []
        while True:
            l = self.line()
            lines.append(l)
            if l.startswith(tag.encode() + b" "):
                return lines

    def cmd(self, text):
        tag = self.tag()
        data = text if isinstance(text, bytes) else text.encode()
        self.send(tag.encode() + b" " + data + b"\r\n")
        return self.until_tagged(tag)

    def ok(self, text):
        r = self.cmd(text)
        assert st(r) == "OK", r
        return r

    def login(self):
        return self.ok(f'LOGIN "{ADDR}" "{PASS}"')

    def compress(self):
        r = self.cmd("COMPRESS DEFLATE")
        assert st(r) == "OK", r
        assert r[-1].endswith(b"OK DEFLATE active"), r
        # Nothing may follow the OK before the next command.
        assert self.buf == b""
        self.comp = zlib.compressobj(wbits=-15)
        self.decomp = zlib.decompressobj(wbits=-15)
        return r

    def closed(self, timeout=5):
        """True once the server has closed the connection."""
        self.s.settimeout(timeout)
        try:
            while True:
                self._fill()
        except EOFError:
            return True
        except zlib.error:
            return True
        except OSError:
            return True

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def st(lines):
    return lines[-1].split(b" ", 2)[1].decode()


def caps(lines):
    for l in lines:
        if l.startswith(b"* CAPABILITY "):
            return set(l.decode().split()[2:])
    raise AssertionError(lines)


def connect(roost, how):
    if how == "tls":
        return ZImap(roost.ports["imaps"], tls=True)
    return ZImap(roost.ports["imap"])


def big_message(size=1024 * 1024, seed=5):
    """About `size` bytes of CRLF mail: text lines plus a base64 attachment."""
    rng = random.Random(seed)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    head = (b"From: big@example.net\r\nTo: alice@example.test\r\nSubject: Big one\r\n"
            b"Message-ID: <big@example.net>\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: text/plain; charset=us-ascii\r\n\r\n")
    body = []
    n = len(head)
    k = 0
    while n < size:
        if k % 50 == 49:
            l = bytes(rng.randrange(33, 127) for _ in range(76))
        else:
            l = (f"{k:06d} " + " ".join(rng.choice(words) for _ in range(10))).encode()
        body.append(l + b"\r\n")
        n += len(l) + 2
        k += 1
    return head + b"".join(body)


MODES = ["plain", "tls"]


# ---- the command ------------------------------------------------------------

@pytest.mark.parametrize("how", MODES)
def test_capability_and_states(roost, how):
    c = connect(roost, how)
    assert "COMPRESS=DEFLATE" not in c.greeting.decode()
    # Not valid before login.
    r = c.cmd("COMPRESS DEFLATE")
    assert st(r) == "BAD", r
    r = c.login()
    after = caps(c.cmd("CAPABILITY"))
    assert "COMPRESS=DEFLATE" in after
    # An unknown mechanism is BAD and changes nothing.
    r = c.cmd("COMPRESS FOO")
    assert st(r) == "BAD", r
    c.ok("NOOP")
    c.compress()
    r = c.ok("CAPABILITY")
    assert "IMAP4rev1" in caps(r)
    assert "COMPRESS=DEFLATE" not in caps(r)
    # A second COMPRESS: NO [COMPRESSIONACTIVE], still compressed afterwards.
    r = c.cmd("COMPRESS DEFLATE")
    assert st(r) == "NO", r
    assert b"[COMPRESSIONACTIVE]" in r[-1], r
    r = c.cmd("COMPRESS FOO")
    assert st(r) == "BAD", r
    c.ok("NOOP")
    r = c.cmd("LOGOUT")
    assert r[0].startswith(b"* BYE"), r
    assert st(r) == "OK"
    assert c.closed()
    c.close()


def test_compress_after_starttls(roost):
    c = ZImap(roost.ports["imap"])
    r = c.cmd("STARTTLS")
    assert st(r) == "OK", r
    c.s = client_tls_context().wrap_socket(c.s)
    c.login()
    c.compress()
    c.ok("SELECT INBOX")
    r = c.cmd("LOGOUT")
    assert st(r) == "OK"


@pytest.mark.parametrize("how", MODES)
def test_select_fetch_big_message_byte_exact(roost, how):
    big = big_message()
    small = b"From: a@example.net\r\nSubject: small\r\n\r\nhello\r\n"
    deliver_all(roost, [small, big, small])
    c = connect(roost, how)
    c.login()
    c.compress()
    r = c.ok("SELECT INBOX")
    assert b"* 3 EXISTS" in r, r
    c.wire_in = c.plain_in = 0
    r = c.ok("FETCH 2 (RFC822.SIZE BODY.PEEK[])")
    fetch = [l for l in r if l.startswith(b"* 2 FETCH")]
    assert len(fetch) == 1
    assert f"RFC822.SIZE {len(big)}".encode() in fetch[0]
    m = re.search(rb"BODY\[\] \{(\d+)\}\r\n", fetch[0])
    assert m and int(m.group(1)) == len(big)
    body = fetch[0][m.end():m.end() + len(big)]
    assert body == big
    # The text compresses: the wire carried well under the plain size.
    assert c.plain_in > len(big)
    assert c.wire_in < c.plain_in * 0.7, (c.wire_in, c.plain_in)
    # Partial fetches and the other messages stay right after the big one.
    r = c.ok("FETCH 2 BODY.PEEK[]<1000.5000>")
    assert big[1000:6000] in r[0]
    r = c.ok("UID FETCH 1:* (BODY.PEEK[TEXT])")
    assert sum(1 for l in r if b" FETCH " in l) == 3
    c.ok("LOGOUT")
    c.close()


@pytest.mark.parametrize("how", MODES)
def test_many_pipelined_commands(roost, how):
    deliver_all(roost, [f"Subject: m{i}\r\n\r\nbody {i}\r\n".encode() for i in range(20)])
    c = connect(roost, how)
    c.login()
    c.compress()
    c.ok("SELECT INBOX")
    # 300 commands in one compressed burst, then read every answer in order.
    tags = []
    burst = b""
    for i in range(300):
        tag = f"p{i}"
        tags.append(tag)
        kind = i % 5
        if kind == 0:
            burst += f"{tag} NOOP\r\n".encode()
        elif kind == 1:
            burst += f"{tag} FETCH {1 + i % 20} (UID FLAGS BODY.PEEK[])\r\n".encode()
        elif kind == 2:
            burst += f"{tag} STATUS INBOX (MESSAGES UIDNEXT)\r\n".encode()
        elif kind == 3:
            burst += f"{tag} UID SEARCH ALL\r\n".encode()
        else:
            burst += f"{tag} STORE {1 + i % 20} +FLAGS.SILENT (\\Seen)\r\n".encode()
    c.send(burst)
    for tag in tags:
        r = c.until_tagged(tag)
        assert st(r) == "OK", r
        if tag.endswith("1") and int(tag[1:]) % 5 == 1:
            n = 1 + int(tag[1:]) % 20
            assert any(f"body {n - 1}".encode() in l for l in r), r
    # A burst that inflates to far more than one piece (64 KiB): the rest waits
    # in the inflater while the session is busy and must still arrive, in order.
    burst = b"".join(f"s{i} STATUS INBOX (MESSAGES)\r\n".encode() for i in range(4000))
    assert len(burst) > 64 * 1024
    c.send(burst)
    for i in range(4000):
        r = c.until_tagged(f"s{i}")
        assert st(r) == "OK", r
        assert r[0] == b"* STATUS INBOX (MESSAGES 20)", r
    assert c.buf == b""
    # The same burst split into many small compressed writes.
    for i in range(100):
        c.send(f"q{i} NOOP\r\n".encode())
    for i in range(100):
        assert st(c.until_tagged(f"q{i}")) == "OK"
    c.ok("LOGOUT")
    c.close()


@pytest.mark.parametrize("how", MODES)
def test_byte_at_a_time_and_literal_append(roost, how):
    c = connect(roost, how)
    c.login()
    c.compress()
    # One command, one compressed byte per TCP write.
    tag = c.tag()
    z = c.comp.compress(f"{tag} SELECT INBOX\r\n".encode()) + c.comp.flush(zlib.Z_SYNC_FLUSH)
    for b in z:
        c.send_raw(bytes([b]))
        time.sleep(0.001)
    r = c.until_tagged(tag)
    assert st(r) == "OK", r
    # APPEND with a synchronising literal through the compressed stream.
    msg = b"Subject: appended\r\n\r\n" + b"x" * 200000 + b"\r\n"
    tag = c.tag()
    c.send(f"{tag} APPEND INBOX {{{len(msg)}}}\r\n".encode())
    assert c.line().startswith(b"+")
    c.send(msg + b"\r\n")
    r = c.until_tagged(tag)
    assert st(r) == "OK", r
    r = c.ok("FETCH * BODY.PEEK[]")
    assert msg in r[0]
    c.ok("LOGOUT")
    c.close()


@pytest.mark.parametrize("how", MODES)
def test_corrupt_stream_closes_only_that_connection(roost, how):
    other = connect(roost, how)
    other.login()
    other.compress()
    other.ok("SELECT INBOX")

    c = connect(roost, how)
    c.login()
    c.compress()
    c.ok("NOOP")
    # Bytes that are no valid DEFLATE (a block of the reserved type 3).
    c.send_raw(b"\x07\xff\xfe garbage \x00\x01")
    assert c.closed()
    c.close()
    roost.wait_for_event("compress", result="fail")

    # The other session is unaffected; so are new ones.
    other.ok("NOOP")
    r = other.ok("STATUS INBOX (MESSAGES)")
    assert b"MESSAGES" in r[0]
    plain = RawImap(roost.ports["imap"])
    plain.login()
    assert status_of(plain.cmd("NOOP")) == "OK"
    plain.close()
    other.ok("LOGOUT")
    other.close()


def test_plaintext_after_compress_is_rejected(roost):
    # A client that keeps talking plain after the OK: the server inflates it,
    # finds no valid stream, and closes.
    c = ZImap(roost.ports["imap"])
    c.login()
    c.compress()
    c.send_raw(b"z9 NOOP\r\n")
    assert c.closed()
    c.close()


def test_pipelined_after_compress_is_discarded(roost):
    # Anything sent in the same packet after COMPRESS, before the OK, is dropped
    # (as after STARTTLS); the compressed commands that follow work.
    c = ZImap(roost.ports["imap"])
    c.login()
    c.send(b"c1 COMPRESS DEFLATE\r\nc2 NOOP\r\n")
    r = c.until_tagged("c1")
    assert st(r) == "OK", r
    c.comp = zlib.compressobj(wbits=-15)
    c.decomp = zlib.decompressobj(wbits=-15)
    r = c.cmd("NOOP")
    assert st(r) == "OK", r
    assert all(not l.startswith(b"c2 ") for l in r), r
    c.close()


def test_many_compressed_sessions_at_once(roost):
    deliver_all(roost, [b"Subject: x\r\n\r\n" + b"line of text\r\n" * 2000])
    clients = []
    for i in range(30):
        c = connect(roost, "tls" if i % 2 else "plain")
        c.login()
        c.compress()
        c.ok("SELECT INBOX")
        clients.append(c)
    for c in clients:
        c.send(b"f1 FETCH 1 BODY.PEEK[]\r\n")
    for c in clients:
        r = c.until_tagged("f1")
        assert st(r) == "OK", r
        assert r[0].count(b"line of text\r\n") == 2000
    for c in clients:
        c.ok("LOGOUT")
        c.close()
