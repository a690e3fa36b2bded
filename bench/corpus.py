"""Deterministic mail corpus for the benchmarks.

The same seed gives the same bytes on every machine, so Roost and Dovecot
are measured on identical Maildirs. The mix is what a hosting mailbox holds:
short plain notes, newsletters as multipart/alternative, messages with one
or two attachments (base64), headers with RFC 2047 encoded non-ASCII words,
and a long tail of sizes from 1 KiB to 5 MiB.
"""
import base64
import os
import random

WORDS = ("meeting invoice report project update weekly summary delivery order "
         "payment account holiday family photo travel contract review draft "
         "offer price budget schedule reminder question answer support ticket "
         "server backup release customer garden school football concert").split()
NAMES = ["Anna Becker", "Bruno Costa", "Chloé Dubois", "Dmitri Ivanov", "Eva Müller",
         "Frank Olsen", "Grace Kim", "Hiro Tanaka", "Inès Martin", "Jonas Weber"]
ENCODED = {"Chloé Dubois": "=?UTF-8?Q?Chlo=C3=A9_Dubois?=",
           "Eva Müller": "=?UTF-8?Q?Eva_M=C3=BCller?=",
           "Inès Martin": "=?ISO-8859-1?Q?In=E8s_Martin?="}
SUBJECT_EXTRA = ["=?UTF-8?B?w5xiZXJzaWNodA==?=", "=?UTF-8?Q?R=C3=A9union?=",
                 "=?UTF-8?B?0J7RgtGH0LXRgg==?=", ""]


def _addr(name, i):
    local = name.split()[0].lower().replace("é", "e").replace("è", "e").replace("ü", "u")
    return f"{ENCODED.get(name, name)} <{local}{i % 7}@example.net>"


def _text(rnd, size):
    out = []
    n = 0
    while n < size:
        line = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(6, 12)))
        out.append(line)
        n += len(line) + 2
    return "\r\n".join(out) + "\r\n"


def _size(rnd):
    """1 KiB to 5 MiB, most of them small (log-uniform with a heavy head)."""
    r = rnd.random()
    if r < 0.70:
        return rnd.randint(1024, 8 * 1024)
    if r < 0.93:
        return rnd.randint(8 * 1024, 100 * 1024)
    if r < 0.99:
        return rnd.randint(100 * 1024, 1024 * 1024)
    return rnd.randint(1024 * 1024, 5 * 1024 * 1024)


def message(seed, n, max_size=None):
    """The n-th message of a corpus, as CRLF bytes."""
    rnd = random.Random(seed * 1000003 + n)
    size = _size(rnd)
    if max_size:
        size = min(size, max_size)
    sender = rnd.choice(NAMES)
    subject = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(2, 6)))
    extra = rnd.choice(SUBJECT_EXTRA)
    if extra:
        subject = f"{subject} {extra}"
    day = 1 + n % 28
    hdr = [
        f"Return-Path: <bounce{n}@example.net>",
        f"From: {_addr(sender, n)}",
        f"To: user <user@example.test>",
        f"Subject: {subject}",
        f"Date: Mon, {day:02d} Sep 2025 {n % 24:02d}:{n % 60:02d}:00 +0200",
        f"Message-ID: <bench{seed}.{n}@example.net>",
        "MIME-Version: 1.0",
    ]
    if n > 3 and rnd.random() < 0.3:
        hdr.append(f"In-Reply-To: <bench{seed}.{rnd.randint(1, n - 1)}@example.net>")
    kind = rnd.random()
    if kind < 0.55 or size < 2048:
        hdr.append("Content-Type: text/plain; charset=utf-8")
        body = _text(rnd, size - 400)
    elif kind < 0.80:
        b = f"alt{n}"
        hdr.append(f'Content-Type: multipart/alternative; boundary="{b}"')
        t = _text(rnd, (size - 600) // 3)
        h = "<html><body><p>" + t.replace("\r\n", "</p>\r\n<p>") + "</p></body></html>\r\n"
        body = (f"--{b}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{t}"
                f"--{b}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{h}--{b}--\r\n")
    else:
        b = f"mix{n}"
        hdr.append(f'Content-Type: multipart/mixed; boundary="{b}"')
        t = _text(rnd, 600)
        raw = rnd.randbytes(max(256, (size - 1200) * 3 // 4))
        enc = base64.encodebytes(raw).decode().replace("\n", "\r\n")
        body = (f"--{b}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{t}"
                f"--{b}\r\nContent-Type: application/pdf; name=\"doc{n}.pdf\"\r\n"
                f"Content-Disposition: attachment; filename=\"doc{n}.pdf\"\r\n"
                f"Content-Transfer-Encoding: base64\r\n\r\n{enc}--{b}--\r\n")
    return ("\r\n".join(hdr) + "\r\n\r\n" + body).encode()


def write_maildir(root, seed, count, max_size=None, flags_every=3):
    """Writes `count` messages into root/cur with Maildir names; about one in
    `flags_every` is \\Seen. Files are named so both servers adopt them as
    delivered by an outside program."""
    for d in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    base = 1700000000
    for n in range(1, count + 1):
        data = message(seed, n, max_size)
        info = ":2,S" if n % flags_every == 0 else ":2,"
        name = f"{base + n}.M{n}P1.bench{info}"
        path = os.path.join(root, "cur", name)
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, (base + n, base + n))
