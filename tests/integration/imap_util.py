"""IMAP test helpers: a raw-socket client, imaplib logins and a message generator.

The raw client sends exactly the bytes a test gives it and returns the server's
lines as they came (literals inlined), so tests can assert on responses that
imaplib would hide or refuse to produce.
"""
import base64
import imaplib
import random
import re
import socket
import time

from conftest import client_tls_context

ADDR = "alice@example.test"
PASS = "alice-secret"

_LITERAL_AT_END = re.compile(rb"\{(\d+)\}\r\n$")


class RawImap:
    """A line-level IMAP client on a plain or TLS socket."""

    def __init__(self, port, tls=False, timeout=10):
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls:
            s = client_tls_context().wrap_socket(s)
        self.s = s
        self.f = s.makefile("rb")
        self.greeting = self.line()
        self._n = 0

    # ---- transport -------------------------------------------------------
    def send(self, data: bytes):
        self.s.sendall(data)

    def raw_line(self):
        """One line including CRLF, bytes; b'' at EOF."""
        return self.f.readline()

    def line(self):
        """One response line with its literals inlined, CRLF stripped, as str."""
        return self.bline().decode("utf-8", errors="replace")

    def bline(self):
        out = b""
        while True:
            l = self.f.readline()
            if not l:
                return out
            m = _LITERAL_AT_END.search(l)
            if m:
                n = int(m.group(1))
                out += l + self.f.read(n)
                continue
            return out + l.rstrip(b"\r\n")

    def starttls(self):
        tag = self.tag()
        r = self.cmd("STARTTLS", tag=tag)
        assert r[-1].startswith(f"{tag} OK"), r
        self.s = client_tls_context().wrap_socket(self.s)
        self.f = self.s.makefile("rb")
        return r

    def closed(self, timeout=3):
        """True once the server has closed the connection (reads to EOF)."""
        self.s.settimeout(timeout)
        try:
            while True:
                if not self.f.readline():
                    return True
        except (OSError, ValueError):
            return True

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass

    # ---- commands --------------------------------------------------------
    def tag(self):
        self._n += 1
        return f"t{self._n}"

    def until_tagged(self, tag):
        lines = []
        while True:
            l = self.line()
            if not l:
                lines.append("")
                return lines
            lines.append(l)
            if l.startswith(tag + " "):
                return lines

    def cmd(self, text, tag=None):
        """Sends `TAG text`, returns every line up to and including the tagged one."""
        tag = tag or self.tag()
        data = text if isinstance(text, bytes) else text.encode()
        self.send(tag.encode() + b" " + data + b"\r\n")
        return self.until_tagged(tag)

    def bcmd(self, text):
        """As cmd(), but the lines are bytes (literals inlined, binary-safe)."""
        tag = self.tag()
        data = text if isinstance(text, bytes) else text.encode()
        self.send(tag.encode() + b" " + data + b"\r\n")
        lines = []
        while True:
            l = self.bline()
            lines.append(l)
            if not l or l.startswith(tag.encode() + b" "):
                return lines

    def ok(self, text):
        r = self.cmd(text)
        assert status_of(r) == "OK", r
        return r

    def login(self, user=ADDR, password=PASS):
        r = self.cmd(f'LOGIN "{user}" "{password}"')
        assert r[-1].split()[1] == "OK", r
        return r


def status_of(lines):
    """OK/NO/BAD of the tagged line."""
    return lines[-1].split(" ", 2)[1]


def untagged(lines, word):
    """Untagged lines whose first word after '*' (or after the number) is `word`."""
    out = []
    for l in lines:
        if not l.startswith("* "):
            continue
        parts = l.split(" ", 3)
        if parts[1].upper() == word.upper() or (len(parts) > 2 and parts[2].upper() == word.upper()):
            out.append(l)
    return out


def raw_login(r, user="alice", tls=True):
    """A RawImap on the implicit-TLS port, logged in."""
    c = RawImap(r.ports["imaps"], tls=True) if tls else RawImap(r.ports["imap"])
    c.login(f"{user}@example.test", r.password(user))
    return c


def imap_login(r, user="alice", how="imaps"):
    if how == "imaps":
        m = imaplib.IMAP4_SSL("127.0.0.1", r.ports["imaps"], ssl_context=client_tls_context(),
                              timeout=15)
    elif how == "starttls":
        m = imaplib.IMAP4("127.0.0.1", r.ports["imap"], timeout=15)
        m.starttls(ssl_context=client_tls_context())
    else:
        m = imaplib.IMAP4("127.0.0.1", r.ports["imap"], timeout=15)
    m.login(f"{user}@example.test", r.password(user))
    return m


def poll(fn, timeout=5, step=0.05):
    """Calls fn until it returns something truthy; returns it or the last value."""
    deadline = time.time() + timeout
    v = fn()
    while not v and time.time() < deadline:
        time.sleep(step)
        v = fn()
    return v


# ---- messages ---------------------------------------------------------------

def crlf(msg: bytes) -> bytes:
    """The CRLF form of a message (as IMAP serves it)."""
    return re.sub(rb"\r?\n", b"\r\n", msg)


def _date(rng, i):
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    return (f"{days[i % 7]}, {1 + i % 28:02d} {months[i % 12]} {2015 + i % 10} "
            f"{i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d} {'+0200' if i % 2 else '-0500'}")


def _headers(i, rng, subject, extra=()):
    h = [f"From: Sender {i} <sender{i}@example.net>", "To: Alice <alice@example.test>",
         f"Subject: {subject}", f"Date: {_date(rng, i)}", f"Message-ID: <gen{i}@example.net>",
         "MIME-Version: 1.0"]
    h += list(extra)
    return h


def make_varied(i, rng=None):
    """Message number i of a deterministic, varied set (LF-only or CRLF)."""
    rng = rng or random.Random(i)
    kind = i % 10
    words = " ".join(rng.choice(["alpha", "bravo", "charlie", "delta", "echo", "fox", "golf"])
                     for _ in range(8 + rng.randrange(40)))
    eol = "\r\n" if i % 3 == 0 else "\n"
    if kind == 0:
        lines = _headers(i, rng, f"Plain note {i}", ["Content-Type: text/plain; charset=us-ascii"])
        lines += [""] + [f"{words} line {k}" for k in range(1 + rng.randrange(30))]
    elif kind == 1:
        b = f"alt{i}"
        lines = _headers(i, rng, f"Alternative {i}",
                         [f'Content-Type: multipart/alternative; boundary="{b}"'])
        lines += ["", "This is a multi-part message.", f"--{b}",
                  "Content-Type: text/plain; charset=utf-8", "", f"Plain {words}", f"--{b}",
                  "Content-Type: text/html; charset=utf-8", "",
                  f"<html><body><p>{words}</p></body></html>", f"--{b}--", ""]
    elif kind == 2:
        b = f"mix{i}"
        blob = bytes(rng.randrange(256) for _ in range(200 + rng.randrange(6000)))
        enc = base64.encodebytes(blob).decode().rstrip("\n").split("\n")
        lines = _headers(i, rng, f"Attachment {i}", [f'Content-Type: multipart/mixed; boundary="{b}"'])
        lines += ["", f"--{b}", "Content-Type: text/plain", "", f"See attached {i}.", f"--{b}",
                  f'Content-Type: application/octet-stream; name="file{i}.bin"',
                  "Content-Transfer-Encoding: base64",
                  f'Content-Disposition: attachment; filename="file{i}.bin"', ""] + enc + [
                  f"--{b}--", ""]
    elif kind == 3:
        subj = "=?UTF-8?B?" + base64.b64encode(f"Grüße aus Köln {i}".encode()).decode() + "?="
        lines = _headers(i, rng, subj, ["Content-Type: text/plain; charset=utf-8",
                                         "Content-Transfer-Encoding: 8bit"])
        lines[0] = f"From: =?ISO-8859-1?Q?J=F6rg_M=FCller?= <joerg{i}@example.net>"
        lines += ["", f"Schöne Grüße {words}"]
    elif kind == 4:
        lines = _headers(i, rng, f"Latin-1 QP {i}", ["Content-Type: text/plain; charset=ISO-8859-1",
                                                      "Content-Transfer-Encoding: quoted-printable"])
        lines += ["", f"Caf=E9 cr=E8me br=FBl=E9e num=E9ro {i}", words]
    elif kind == 5:
        body = f"Windows quotes \x93quoted\x94 and euro \x80 {i} {words}"
        lines = _headers(i, rng, f"cp1252 {i}", ["Content-Type: text/plain; charset=windows-1252",
                                                  "Content-Transfer-Encoding: 8bit"])
        text = eol.join(lines + [""]) + eol
        return text.encode() + body.encode("latin-1") + eol.encode()
    elif kind == 6:
        b1, b2 = f"outer{i}", f"inner{i}"
        lines = _headers(i, rng, f"Nested {i}", [f'Content-Type: multipart/mixed; boundary="{b1}"'])
        lines += ["", f"--{b1}", f'Content-Type: multipart/alternative; boundary="{b2}"', "",
                  f"--{b2}", "Content-Type: text/plain", "", f"nested plain {i}", f"--{b2}",
                  "Content-Type: text/html", "", f"<b>nested {i}</b>", f"--{b2}--", f"--{b1}",
                  "Content-Type: image/png", "Content-Transfer-Encoding: base64", "",
                  base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(40)).decode(), f"--{b1}--", ""]
    elif kind == 7:
        b = f"fwd{i}"
        lines = _headers(i, rng, f"Forwarded {i}", [f'Content-Type: multipart/mixed; boundary="{b}"'])
        lines += ["", f"--{b}", "Content-Type: text/plain", "", "Forwarding.", f"--{b}",
                  "Content-Type: message/rfc822", "", "From: inner@example.net",
                  f"Subject: Inner {i}", "", f"inner body {i}", f"--{b}--", ""]
    elif kind == 8:
        lines = _headers(i, rng, f"Long {i}", [])
        lines += [""] + [f"{k:05d} {words}" for k in range(50 + rng.randrange(400))]
    else:
        subj = "=?ISO-8859-1?Q?R=E9sum=E9_" + str(i) + "?="
        lines = _headers(i, rng, subj, ["Content-Type: text/plain; charset=utf-8"])
        lines += ["", f"Résumé {words}"]
    return (eol.join(lines) + eol).encode()


MALFORMED = (b"From: broken@example.net\r\nTo: alice@example.test\r\nSubject: Malformed MIME\r\n"
             b"MIME-Version: 1.0\r\n"
             b"Content-Type: multipart/mixed; boundary=\"never-closed\"\r\n"
             b"Content-Transfer-Encoding: base64\r\n\r\n"
             b"preamble without any boundary line\r\n--never-closed\r\n"
             b"Content-Type: text/plain; charset=\"unterminated\r\n"
             b"Content-Transfer-Encoding: base64\r\n\r\n"
             b"!!!! not base64 @@@@\r\n")


def varied_messages(n, seed=7):
    """n varied messages; the last one is malformed MIME."""
    rng = random.Random(seed)
    msgs = [make_varied(i, random.Random(rng.random())) for i in range(n - 1)]
    msgs.append(MALFORMED)
    return msgs


def deliver_all(r, msgs, address=ADDR, mailbox=None):
    for m in msgs:
        res = r.deliver(address, m, mailbox=mailbox)
        assert res.returncode == 0, res.stderr


# ---- response parsing ---------------------------------------------------------

class _P:
    def __init__(self, data: bytes):
        self.d = data
        self.i = 0


def _skip_sp(p):
    while p.i < len(p.d) and p.d[p.i:p.i + 1] == b" ":
        p.i += 1


def _value(p):
    _skip_sp(p)
    c = p.d[p.i:p.i + 1]
    if c == b"(":
        p.i += 1
        out = []
        while True:
            _skip_sp(p)
            if p.i >= len(p.d):
                raise ValueError("unbalanced list")
            if p.d[p.i:p.i + 1] == b")":
                p.i += 1
                return out
            out.append(_value(p))
    if c == b'"':
        p.i += 1
        out = bytearray()
        while True:
            ch = p.d[p.i:p.i + 1]
            if not ch:
                raise ValueError("unterminated string")
            p.i += 1
            if ch == b"\\":
                out += p.d[p.i:p.i + 1]
                p.i += 1
            elif ch == b'"':
                return bytes(out)
            else:
                out += ch
    if c in (b"{", b"~"):
        if c == b"~":
            p.i += 1
        m = re.match(rb"\{(\d+)\+?\}\r\n", p.d[p.i:])
        if not m:
            raise ValueError("bad literal at %d" % p.i)
        p.i += m.end()
        n = int(m.group(1))
        out = p.d[p.i:p.i + n]
        p.i += n
        return out
    # atom, possibly with a [section] that holds spaces and <partial>
    start = p.i
    depth = 0
    while p.i < len(p.d):
        ch = p.d[p.i:p.i + 1]
        if ch == b"[":
            depth += 1
        elif ch == b"]":
            depth -= 1
        elif depth == 0 and ch in (b" ", b")", b"("):
            break
        p.i += 1
    atom = p.d[start:p.i]
    if not atom:
        raise ValueError("empty atom at %d" % p.i)
    return None if atom.upper() == b"NIL" else atom.decode("latin-1")


def parse_fetch(line):
    """'* N FETCH (...)' (bytes or str, literals inlined) -> (N, {ITEM: value})."""
    if isinstance(line, str):
        line = line.encode("utf-8", errors="surrogateescape")
    m = re.match(rb"^\* (\d+) FETCH ", line)
    assert m, line[:200]
    p = _P(line)
    p.i = m.end()
    items = _value(p)
    assert p.i == len(line), ("trailing bytes", line[p.i:p.i + 100])
    assert len(items) % 2 == 0, items
    return int(m.group(1)), {items[k].upper(): items[k + 1] for k in range(0, len(items), 2)}
