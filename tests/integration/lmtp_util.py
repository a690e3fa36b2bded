"""LMTP test helpers: a roostd with LMTP listeners and a raw-socket LMTP client.

Python's smtplib.LMTP reads one reply after DATA and has no BDAT, so the raw
client reads exactly the replies a test expects (one per accepted recipient).
"""
import socket
import tempfile
import time
from pathlib import Path

from conftest import Roost, crypt_hash, free_port

LMTP_ACCOUNTS = {
    "alice": {"password": "alice-secret"},
    "bob": {"password": "bob-pw"},
    "carol": {"password": "carol-pw", "status": "suspended"},
    "dave": {"password": "dave-pw", "policy": {"protocols": ["pop3"]}},
    "tiny": {"password": "tiny-pw", "policy": {"quota": "1K", "quota_exceeded": "reject"}},
    "later": {"password": "later-pw", "policy": {"quota": "1K", "quota_exceeded": "defer"}},
    "few": {"password": "few-pw", "policy": {"quota_messages": 2}},
    "inboxonly": {"password": "io-pw", "policy": {"delivery": {"detail": "inbox"}}},
}


class LmtpRoost(Roost):
    """A Roost with an LMTP listener on TCP (and optionally a unix socket) and
    a domain file with aliases over two domains."""

    def __init__(self, root: Path, unix=False, socket_mode="0660", **kw):
        self.lmtp_port = free_port()
        self.sock_dir = Path(tempfile.mkdtemp(prefix="roost-lmtp-", dir="/tmp")) if unix else None
        self.lmtp_socket = self.sock_dir / "lmtp.sock" if unix else None
        self.socket_mode = socket_mode
        kw.setdefault("accounts", LMTP_ACCOUNTS)
        super().__init__(root, **kw)

    def write_config(self):
        super().write_config()
        text = self.config_path.read_text()
        extra = f"  - {{ protocol: lmtp, address: 127.0.0.1, port: {self.lmtp_port} }}\n"
        if self.lmtp_socket:
            extra += (f"  - {{ protocol: lmtp, path: {self.lmtp_socket}, "
                      f"mode: \"{self.socket_mode}\" }}\n")
        text = text.replace("listeners:\n", "listeners:\n" + extra, 1)
        self.config_path.write_text(text)

    def write_domain(self, accounts=None, name="example.test", text=None):
        if text is not None or name != "example.test":
            return super().write_domain(accounts=accounts, name=name, text=text)
        accounts = self.accounts if accounts is None else accounts
        import json
        lines = ["domain: example.test", "alias_domains: [example.org]"]
        if self.domain_policy:
            lines.append("policy: " + json.dumps(self.domain_policy))
        lines.append("accounts:")
        for user, spec in accounts.items():
            lines.append(f"  {user}:")
            lines.append(f"    password: \"{crypt_hash(spec['password'])}\"")
            if "status" in spec:
                lines.append(f"    status: {spec['status']}")
            if "policy" in spec:
                lines.append("    policy: " + json.dumps(spec["policy"]))
        lines += [
            "aliases:",
            "  postmaster: alice",
            "  sales: [alice, bob]",
            "  team: [alice, zed@other.test]",
            "  outside: [partner@elsewhere.example]",
            "  mixed: [bob, partner@elsewhere.example]",
        ]
        path = self.root / "domains.d" / "example.test.yaml"
        tmp = path.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        tmp.rename(path)
        other = self.root / "domains.d" / "other.test.yaml"
        other.write_text(
            "domain: other.test\n"
            "accounts:\n"
            f"  zed:\n    password: \"{crypt_hash('zed-pw')}\"\n"
            "catch_all: zed\n")
        return path

    def stored(self, user, folder="", domain="example.test"):
        """Every stored message of a mailbox as bytes, in delivery order."""
        base = self.maildir(user, domain)
        if folder:
            base = base / ("." + folder)
        files = []
        for sub in ("new", "cur"):
            d = base / sub
            if d.is_dir():
                files += [p for p in d.iterdir() if p.is_file()]
        files.sort(key=lambda p: (p.stat().st_mtime_ns, p.name))
        return [p.read_bytes() for p in files]

    def tmp_files(self, user, domain="example.test"):
        d = self.maildir(user, domain) / "tmp"
        return [p for p in d.iterdir()] if d.is_dir() else []

    def cleanup_socket_dir(self):
        if self.sock_dir and self.sock_dir.exists():
            for p in self.sock_dir.iterdir():
                p.unlink()
            self.sock_dir.rmdir()


class RawLmtp:
    """A line-level LMTP client over TCP or a unix socket."""

    def __init__(self, port=None, path=None, timeout=10):
        if path is not None:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            s.connect(str(path))
        else:
            s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.s = s
        self.f = s.makefile("rb")
        self.greeting = self.line()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(data)

    def line(self):
        return self.f.readline().decode("utf-8", errors="replace").rstrip("\r\n")

    def reply(self):
        """One (possibly multi-line) reply: the list of its lines."""
        lines = [self.line()]
        while len(lines[-1]) >= 4 and lines[-1][3] == "-":
            lines.append(self.line())
        return lines

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()[-1]

    def lhlo(self, name="mx.test"):
        self.send(f"LHLO {name}\r\n")
        return self.reply()

    def replies(self, n):
        return [self.reply()[-1] for _ in range(n)]

    def closed(self, timeout=3):
        self.s.settimeout(timeout)
        try:
            return self.f.read() == b"" or True
        except (socket.timeout, TimeoutError):
            return False

    def close(self):
        """Really closes the connection (the makefile holds the socket open too)."""
        for x in (self.f, self.s):
            try:
                x.close()
            except OSError:
                pass


def code(reply_line):
    """'250 2.1.5 ...' -> ('250', '2.1.5')"""
    parts = reply_line.split(" ")
    return parts[0], parts[1] if len(parts) > 1 else ""


def wait_for(fn, timeout=5, step=0.05):
    deadline = time.time() + timeout
    v = fn()
    while not v and time.time() < deadline:
        time.sleep(step)
        v = fn()
    return v
