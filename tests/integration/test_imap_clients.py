"""Real IMAP clients against roostd: mbsync (isync) and fetchmail.

A few hundred varied messages (plain, multipart, attachments, RFC 2047 headers,
Latin-1/cp1252 bodies, LF and CRLF, one malformed MIME message) go into alice's
INBOX; the clients must pull all of them, resync without transferring anything,
and push local changes back.
"""
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import make_message
from imap_util import (ADDR, PASS, crlf, deliver_all, imap_login, varied_messages)

MBSYNC = shutil.which("mbsync")
FETCHMAIL = shutil.which("fetchmail")

N_MESSAGES = 300


def populate(r, n=N_MESSAGES):
    """Puts n varied messages into alice's INBOX: a few through `roost deliver`, a few by
    APPEND, the rest dropped into Maildir new/ the way an outside MTA would."""
    msgs = varied_messages(n)
    deliver_all(r, msgs[:5])
    m = imap_login(r)
    for msg in msgs[5:10]:
        typ, _ = m.append("INBOX", None, None, crlf(msg))
        assert typ == "OK"
    md = r.maildir("alice")
    for i, msg in enumerate(msgs[10:], start=10):
        name = f"{int(time.time())}.T{i}P{os.getpid()}.testhost"
        tmp = md / "tmp" / name
        tmp.write_bytes(msg)
        os.rename(tmp, md / "new" / name)
    typ, data = m.status("INBOX", "(MESSAGES)")
    assert typ == "OK" and b"MESSAGES %d" % n in data[0], data
    m.logout()
    return msgs


def cert(r):
    return r.root / "tls" / "cert.pem"


def test_certificate_names_localhost(roost):
    out = subprocess.run(["openssl", "x509", "-in", str(cert(roost)), "-noout", "-ext",
                          "subjectAltName"], capture_output=True, text=True)
    assert "DNS:localhost" in out.stdout, out.stdout + out.stderr


# ---- mbsync ---------------------------------------------------------------------

def mbsyncrc(r, tmp: Path, tls="IMAPS"):
    local = tmp / "local"
    local.mkdir(exist_ok=True)
    port = r.ports["imaps"] if tls == "IMAPS" else r.ports["imap"]
    rc = tmp / "mbsyncrc"
    rc.write_text(f"""
IMAPAccount roost
Host localhost
Port {port}
User {ADDR}
Pass {PASS}
SSLType {tls}
CertificateFile {cert(r)}
PipelineDepth 50

IMAPStore roost-remote
Account roost

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel roost
Far :roost-remote:
Near :local:
Patterns *
Sync All
Create Both
Remove None
Expunge Both
SyncState *
""")
    return rc, local


def run_mbsync(rc, tmp, check=True, flags="-V"):
    env = dict(os.environ, HOME=str(tmp))
    p = subprocess.run([MBSYNC, "-c", str(rc), flags, "-a"], capture_output=True, text=True,
                       env=env, timeout=120)
    if check:
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p


def local_files(box: Path):
    return sorted(p.name for d in ("cur", "new") if (box / d).exists()
                  for p in (box / d).iterdir())


def strip_cr(b: bytes) -> bytes:
    return b.replace(b"\r\n", b"\n")


@pytest.mark.skipif(not MBSYNC, reason="mbsync not installed")
def test_mbsync_imaps_full_cycle(roost, tmp_path):
    msgs = populate(roost)
    deliver_all(roost, [make_message(1001, subject="In a folder")], mailbox="Archive")
    rc, local = mbsyncrc(roost, tmp_path)

    # 1. first run pulls everything
    run_mbsync(rc, tmp_path)
    inbox = local / "INBOX"
    names = local_files(inbox)
    assert len(names) == N_MESSAGES
    assert len(local_files(local / "Archive")) == 1
    for box in ("Drafts", "Sent", "Trash", "Junk"):
        assert (local / box).is_dir(), box
    # bodies are the messages as stored (mbsync may store LF line ends)
    # (mbsync inserts its own X-TUID header line into messages it stores)
    got = sorted(re.sub(rb"(?m)^X-TUID: \S+\n", b"", strip_cr(p.read_bytes()), count=1)
                 for d in ("cur", "new") for p in (inbox / d).iterdir())
    assert got == sorted(strip_cr(crlf(m)) for m in msgs)

    # 2. second run transfers nothing
    before = {n: (inbox / ("cur" if (inbox / "cur" / n).exists() else "new") / n).stat().st_mtime
              for n in names}
    p = run_mbsync(rc, tmp_path, flags="-Dn")  # -Dn: the IMAP traffic on stdout
    assert local_files(inbox) == names
    sent = [l for l in (p.stdout + p.stderr).splitlines() if l.startswith(">>> ")]
    assert any("UID FETCH" in l for l in sent), sent
    assert not any(re.search(r"BODY|RFC822|APPEND|STORE|EXPUNGE", l) for l in sent), sent
    for n, mt in before.items():
        d = "cur" if (inbox / "cur" / n).exists() else "new"
        assert (inbox / d / n).stat().st_mtime == mt

    # 3. local changes go to the server
    cur = sorted((inbox / "cur").iterdir()) + sorted((inbox / "new").iterdir())
    flag_me, delete_me = cur[0], cur[1]
    flag_uid = int(re.search(r",U=(\d+)", flag_me.name).group(1))
    delete_uid = int(re.search(r",U=(\d+)", delete_me.name).group(1))
    base, _, flags = flag_me.name.partition(":2,")
    new_flags = "".join(sorted(set(flags) | {"F", "S"}))
    os.rename(flag_me, inbox / "cur" / f"{base}:2,{new_flags}")
    delete_me.unlink()
    new_msg = crlf(make_message(2000, subject="Written offline"))
    (inbox / "new" / f"{int(time.time())}.local2000.testhost").write_bytes(new_msg)
    (local / "Offline Folder" / "cur").mkdir(parents=True)
    (local / "Offline Folder" / "new").mkdir()
    (local / "Offline Folder" / "tmp").mkdir()
    run_mbsync(rc, tmp_path)

    m = imap_login(roost)
    m.select("INBOX")
    typ, data = m.uid("FETCH", str(flag_uid), "(FLAGS)")
    assert b"\\Flagged" in data[0] and b"\\Seen" in data[0], data
    typ, data = m.uid("SEARCH", f"UID {delete_uid}")
    assert data == [b""], data
    typ, data = m.search(None, "SUBJECT", '"Written offline"')
    assert typ == "OK" and len(data[0].split()) == 1, data
    typ, data = m.fetch(data[0], "(BODY.PEEK[])")
    assert re.sub(rb"(?m)^X-TUID: \S+\r\n", b"", crlf(data[0][1]), count=1) == new_msg
    typ, data = m.status("INBOX", "(MESSAGES)")
    assert b"MESSAGES %d" % N_MESSAGES in data[0]  # -1 deleted, +1 new
    typ, data = m.list()
    assert any(b'"Offline Folder"' in d or b"Offline Folder" in d for d in data), data

    # 4. a server-side change comes back down
    m.uid("STORE", str(flag_uid), "-FLAGS", "(\\Flagged)")
    m.logout()
    run_mbsync(rc, tmp_path)
    f = [n for n in local_files(inbox) if f",U={flag_uid}:" in n]
    assert f and "F" not in f[0].rpartition(":2,")[2], f
    assert len(local_files(inbox)) == N_MESSAGES


@pytest.mark.skipif(not MBSYNC, reason="mbsync not installed")
def test_mbsync_starttls_and_non_ascii_folders(roost, tmp_path):
    msgs = [make_message(i) for i in range(1, 21)]
    deliver_all(roost, msgs)
    m = imap_login(roost)
    assert m.create('"Entw&APw-rfe"')[0] == "OK"
    assert m.append('"Entw&APw-rfe"', "(\\Draft)", None, crlf(make_message(99)))[0] == "OK"
    m.logout()
    rc, local = mbsyncrc(roost, tmp_path, tls="STARTTLS")
    run_mbsync(rc, tmp_path)
    assert len(local_files(local / "INBOX")) == 20
    drafts = [p for p in local.iterdir() if p.name not in ("INBOX", "Drafts", "Sent", "Trash",
                                                            "Junk", "Archive")]
    assert len(drafts) == 1, list(local.iterdir())
    assert drafts[0].name in ("Entwürfe", "Entw&APw-rfe")
    files = local_files(drafts[0])
    assert len(files) == 1 and files[0].endswith(":2,D")
    # the login really happened over TLS on the plaintext (STARTTLS) port
    ev = roost.events()
    starttls_sessions = {e["session"] for e in ev if e.get("event") == "connect"
                         and e.get("port") == roost.ports["imap"]}
    logins = [e for e in ev if e.get("event") == "login" and e.get("session") in starttls_sessions
              and e.get("result") == "ok"]
    assert logins and all(e.get("tls") is True for e in logins), logins
    run_mbsync(rc, tmp_path)
    assert len(local_files(local / "INBOX")) == 20


# ---- fetchmail ------------------------------------------------------------------

def fetchmail_rc(r, tmp: Path, mode, keep=True):
    out = tmp / "out"
    out.mkdir(exist_ok=True)
    mda = tmp / "mda.sh"
    mda.write_text(f"#!/bin/sh\nn=$(ls {out} | wc -l)\ncat > {out}/msg-$n.eml\n")
    mda.chmod(0o755)
    if mode == "imaps":
        port, tls = r.ports["imaps"], f"ssl sslproto 'TLS1.2+' sslcertck sslcertfile '{cert(r)}'"
    elif mode == "starttls":
        port, tls = r.ports["imap"], f"sslproto 'TLS1.2+' sslcertck sslcertfile '{cert(r)}'"
    else:
        port, tls = r.ports["imap"], "sslproto ''"
    rc = tmp / "fetchmailrc"
    rc.write_text(f"""set no bouncemail
poll localhost with proto IMAP port {port} timeout 30
  user "{ADDR}" there with password "{PASS}" is "tester" here
  {tls}
  {'keep' if keep else 'nokeep'}
  fetchall
  mda "{mda}"
""".replace("fetchall\n", "" if keep else "fetchall\n"))
    rc.chmod(0o600)
    return rc, out


def run_fetchmail(rc, tmp: Path, extra=()):
    # as root fetchmail's lock is /var/run/fetchmail.pid: keep it private to the test
    env = dict(os.environ, HOME=str(tmp), FETCHMAILHOME=str(tmp))
    p = subprocess.run([FETCHMAIL, "-f", str(rc), "-N", "--nosyslog", "--idfile",
                        str(tmp / "fetchids"), "--pidfile", str(tmp / "fetchmail.pid"), "-v",
                        *extra], capture_output=True, text=True,
                       env=env, timeout=120)
    return p


def fetched(out: Path):
    files = sorted(out.iterdir(), key=lambda p: int(p.stem.split("-")[1]))
    return [p.read_bytes() for p in files]


def message_ids(blobs):
    ids = set()
    for b in blobs:
        head = b.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
        m = re.search(rb"^Message-ID: (<[^>]+>)", head, re.M | re.I)
        ids.add(m.group(1) if m else b"(none)")
    return ids


def expected_ids(msgs):
    return message_ids(msgs)


@pytest.mark.skipif(not FETCHMAIL, reason="fetchmail not installed")
def test_fetchmail_imaps_keep_then_nothing_new(roost, tmp_path):
    msgs = populate(roost, 100)
    rc, out = fetchmail_rc(roost, tmp_path, "imaps", keep=True)
    p = run_fetchmail(rc, tmp_path)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    got = fetched(out)
    assert len(got) == 100, p.stdout[-2000:]
    assert message_ids(got) == expected_ids(msgs)
    # every body arrived whole: each original's body is inside what was delivered
    for msg in msgs[:30]:
        body = strip_cr(crlf(msg)).split(b"\n\n", 1)[1]
        assert any(body in strip_cr(g) for g in got), msg[:200]
    # keep: the messages stay on the server, now \Seen
    m = imap_login(roost)
    typ, data = m.status("INBOX", "(MESSAGES UNSEEN)")
    assert b"MESSAGES 100" in data[0] and b"UNSEEN 0" in data[0], data
    m.logout()
    # second run: nothing new
    p = run_fetchmail(rc, tmp_path)
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-3000:]  # 1 = no mail
    assert len(fetched(out)) == 100
    # a new message is the only one fetched next time
    deliver_all(roost, [make_message(500, subject="Late arrival")])
    p = run_fetchmail(rc, tmp_path)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    got = fetched(out)
    assert len(got) == 101 and b"Subject: Late arrival" in got[-1]


@pytest.mark.skipif(not FETCHMAIL, reason="fetchmail not installed")
def test_fetchmail_starttls_nokeep(roost, tmp_path):
    msgs = populate(roost, 60)
    rc, out = fetchmail_rc(roost, tmp_path, "starttls", keep=False)
    p = run_fetchmail(rc, tmp_path)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "STARTTLS" in p.stdout + p.stderr
    got = fetched(out)
    assert len(got) == 60
    assert message_ids(got) == expected_ids(msgs)
    m = imap_login(roost)
    typ, data = m.status("INBOX", "(MESSAGES)")
    assert b"MESSAGES 0" in data[0], data
    m.logout()
    md = roost.maildir("alice")
    assert not list((md / "cur").iterdir()) and not list((md / "new").iterdir())
    p = run_fetchmail(rc, tmp_path)
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-3000:]
    assert len(fetched(out)) == 60


@pytest.mark.skipif(not FETCHMAIL, reason="fetchmail not installed")
def test_fetchmail_plaintext_refused_under_tls_only(roost_factory, tmp_path):
    r = roost_factory(plaintext_auth="tls_only").start()
    deliver_all(r, [make_message(1)])
    rc, out = fetchmail_rc(r, tmp_path, "plain", keep=True)
    p = run_fetchmail(rc, tmp_path)
    assert p.returncode != 0 and p.returncode != 1, p.stdout + p.stderr
    assert not list(out.iterdir())
    # with STARTTLS the same account works
    rc, out = fetchmail_rc(r, tmp_path, "starttls", keep=True)
    p = run_fetchmail(rc, tmp_path)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert len(fetched(out)) == 1
