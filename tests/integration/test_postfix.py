"""A real Postfix (Debian's package) delivering through Roost's LMTP.

The test starts a private Postfix instance: its own config_directory and
queue_directory under a temporary directory, listening for SMTP on loopback
only, with `virtual_transport = lmtp:inet:127.0.0.1:<roost's LMTP port>`. A
message accepted by SMTP from smtplib must reach the mailbox that an IMAP IDLE
session is watching. The test stops Postfix itself and leaves nothing running.
Skipped, with the reason, when postfix is not installed or cannot start here.
"""
import os
import pwd
import shutil
import signal
import smtplib
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import free_port
from imap_util import RawImap, status_of
from lmtp_util import LmtpRoost, wait_for

POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"


def _master_cf(smtp_port):
    """Debian's master.cf with smtpd on a private loopback port and no chroot
    (a chroot would need a copy of /etc files inside the private queue)."""
    src = Path("/etc/postfix/master.cf")
    if not src.exists():
        src = Path("/usr/share/postfix/master.cf.dist")
    out = []
    for line in src.read_text().splitlines():
        if line.startswith("#") or not line.strip() or line[0].isspace():
            out.append(line)
            continue
        cols = line.split()
        if len(cols) >= 8:
            if cols[0] == "smtp" and cols[1] == "inet":
                cols[0] = f"127.0.0.1:{smtp_port}"
            cols[4] = "n"
            line = "  ".join(cols[:7]) + "  " + " ".join(cols[7:])
        out.append(line)
    return "\n".join(out) + "\n"


class Postfix:
    def __init__(self, lmtp_port):
        self.base = Path(tempfile.mkdtemp(prefix="roost-postfix-", dir="/tmp"))
        os.chmod(self.base, 0o755)  # the postfix user must traverse it
        self.etc = self.base / "etc"
        self.queue = self.base / "queue"
        self.data = self.base / "data"
        for d in (self.etc, self.queue, self.data):
            d.mkdir()
            os.chmod(d, 0o755)
        # Postfix keeps its lock and caches in data_directory, as mail_owner.
        try:
            owner = pwd.getpwnam("postfix")
            os.chown(self.data, owner.pw_uid, owner.pw_gid)
        except (KeyError, PermissionError):
            pass  # start() then fails and the test says why
        self.smtp_port = free_port()
        self.log = self.base / "maillog"
        (self.etc / "main.cf").write_text(f"""\
compatibility_level = 3.6
queue_directory = {self.queue}
data_directory = {self.data}
maillog_file_prefixes = {self.base}
maillog_file = {self.log}
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = mx.roost-test.example
mydomain = roost-test.example
mydestination =
relay_domains =
mynetworks = 127.0.0.0/8
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_reject_unlisted_recipient = no
virtual_mailbox_domains = example.test
virtual_transport = lmtp:inet:127.0.0.1:{lmtp_port}
lmtp_destination_recipient_limit = 50
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
biff = no
smtputf8_enable = yes
""")
        (self.etc / "master.cf").write_text(_master_cf(self.smtp_port))
        self.started = False

    def run(self, *args, timeout=60):
        return subprocess.run([POSTFIX, "-c", str(self.etc), *args], capture_output=True,
                              text=True, timeout=timeout)

    def start(self):
        r = self.run("check")
        if r.returncode != 0:
            return f"postfix check failed: {r.stdout}{r.stderr}"
        r = self.run("start")
        if r.returncode != 0:
            return f"postfix start failed: {r.stdout}{r.stderr}"
        self.started = True
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=5) as s:
                    s.noop()
                return ""
            except OSError:
                time.sleep(0.2)
        return "postfix smtpd did not answer on its port:\n" + self.log_text()

    def master_pid(self):
        try:
            return int((self.queue / "pid" / "master.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self):
        if self.started:
            pid = self.master_pid()
            self.run("stop")
            deadline = time.time() + 15
            while pid and time.time() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                if pid:
                    try:
                        os.kill(pid, signal.SIGKILL)  # our own master, by its pid
                    except ProcessLookupError:
                        pass
            self.started = False
        shutil.rmtree(self.base, ignore_errors=True)

    def log_text(self):
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else "(no log)"


def test_postfix_delivers_through_roost_lmtp_to_an_idling_client(tmp_path):
    if not Path(POSTFIX).exists():
        pytest.skip("postfix is not installed (scripts/deps.sh installs it)")
    roost = LmtpRoost(tmp_path / "roost").start()
    pf = Postfix(roost.lmtp_port)
    try:
        why = pf.start()
        if why:
            pytest.skip("postfix cannot start here: " + why)
        master = pf.master_pid()
        assert master, "no master.pid:\n" + pf.log_text()

        im = RawImap(roost.ports["imap"])
        im.login("alice@example.test", "alice-secret")
        im.ok("SELECT INBOX")
        tag = im.tag()
        im.send(f"{tag} IDLE\r\n".encode())
        assert im.line().startswith("+")

        msg = (b"From: Someone <someone@example.net>\r\nTo: alice@example.test\r\n"
               b"Subject: through postfix\r\nMessage-ID: <pf1@example.net>\r\n\r\n"
               b"Hello via Postfix and LMTP.\r\n.leading dot\r\n")
        with smtplib.SMTP("127.0.0.1", pf.smtp_port, timeout=20) as s:
            s.ehlo("client.example.net")
            refused = s.sendmail("someone@example.net", ["alice@example.test", "bob@example.test"],
                                 msg)
            assert refused == {}

        im.s.settimeout(30)
        line = im.line()
        assert line == "* 1 EXISTS", line + "\n" + pf.log_text()
        im.s.settimeout(10)
        im.send(b"DONE\r\n")
        assert status_of(im.until_tagged(tag)) == "OK"

        stored = roost.stored("alice")
        assert len(stored) == 1
        m = stored[0]
        assert m.startswith(b"Return-Path: <someone@example.net>\r\n"), m[:300]
        assert b"Delivered-To: alice@example.test\r\n" in m
        assert b"(Roost) with LMTP id " in m
        assert b"Subject: through postfix" in m and b"\r\n.leading dot\r\n" in m
        # Postfix's own Received: header comes after Roost's.
        assert m.index(b"(Roost)") < m.index(b"by mx.roost-test.example (Postfix)")
        # bob's copy is stored right after alice's (one LMTP transaction, in RCPT order).
        assert wait_for(lambda: len(roost.stored("bob")) == 1)
        ev = roost.wait_for_event("delivery", recipient="alice@example.test")
        assert ev["result"] == "stored"
        assert "status=sent" in pf.log_text()
    finally:
        pf.stop()
        roost.stop()
    # Nothing of Postfix is left running: its master (and so its children) ended.
    assert not Path("/proc", str(master)).exists()
    assert not pf.base.exists()
