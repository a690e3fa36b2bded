"""Roost and Dovecot, set up side by side on loopback with the same users,
the same passwords (sha512-crypt) and copies of the same Maildir content.

Every Dovecot setting chosen here, and why, is listed in bench/README.md.
"""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

DOMAIN = "example.test"
PASSWORD = "bench-pw"
SYSUSER = "roostbench"


def free_ports(n):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def crypt_hash(password):
    out = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password.encode(),
                         capture_output=True, check=True)
    return out.stdout.decode().strip()


def ensure_sysuser():
    try:
        pwd.getpwnam(SYSUSER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        SYSUSER], check=True)
    pw = pwd.getpwnam(SYSUSER)
    return pw.pw_uid, pw.pw_gid


def make_cert(d: Path):
    d.mkdir(parents=True, exist_ok=True)
    cert, key = d / "cert.pem", d / "key.pem"
    if not cert.exists():
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                        "-keyout", str(key), "-out", str(cert)], check=True,
                       capture_output=True)
    os.chmod(key, 0o644)
    return cert, key


def process_tree(pid):
    """pid and all its descendants."""
    children = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(p))
        except (OSError, IndexError):
            pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def memory_kib(pid):
    """Sum of PSS over the server's processes (shared pages split fairly
    between Dovecot's many processes; equals RSS for Roost's one)."""
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


def cpu_seconds(pid):
    """User + system CPU of the server's processes, including reaped children."""
    tck = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15])
        except (OSError, IndexError):
            pass
    return total / tck


class Server:
    name = "?"

    def __init__(self, root: Path, users, cert, key):
        self.root = root
        self.users = users
        self.cert, self.key = cert, key
        self.proc = None
        p = free_ports(5)
        self.ports = {"imap": p[0], "imaps": p[1], "pop3": p[2], "pop3s": p[3], "lmtp": p[4]}
        self.has_lmtp = True

    def maildir(self, user):
        return self.root / "mail" / DOMAIN / user

    def index_dirs(self):
        return []

    def pid(self):
        return self.proc.pid

    def wait_port(self, port, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited: see {self.root}")
                time.sleep(0.1)
        raise RuntimeError(f"{self.name}: port {port} never opened")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def drop_indexes(self):
        for d in self.index_dirs():
            if d.exists():
                trash = d.with_name(f".trash-{d.name}-{time.time_ns()}")
                d.rename(trash)
                subprocess.Popen(["rm", "-rf", str(trash)])


class Roost(Server):
    name = "roost"

    def __init__(self, root, users, cert, key, build):
        super().__init__(root, users, cert, key)
        self.build = Path(build)
        self.has_lmtp = self._supports_lmtp()

    def _supports_lmtp(self):
        # The LMTP listener is part of the daemon only from the version that
        # serves it; an older build is measured without the delivery workload.
        try:
            data = (self.build / "roostd").read_bytes()
        except OSError:
            return False
        return b"LHLO" in data

    def index_dirs(self):
        return [self.root / "state" / "index"]

    def write(self):
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "domains.d").mkdir(exist_ok=True)
        lmtp = (f"  - {{ protocol: lmtp, address: 127.0.0.1, port: {self.ports['lmtp']} }}\n"
                if self.has_lmtp else "")
        (self.root / "roost.yaml").write_text(f"""
server:
  hostname: localhost
  state_dir: state
  shutdown_grace: 5s
log:
  format: json
  level: warning
tls:
  certificate: {self.cert}
  private_key: {self.key}
listeners:
  - {{ protocol: imap, address: 127.0.0.1, port: {self.ports['imap']}, tls: starttls }}
  - {{ protocol: imap, address: 127.0.0.1, port: {self.ports['imaps']}, tls: implicit }}
  - {{ protocol: pop3, address: 127.0.0.1, port: {self.ports['pop3']}, tls: starttls }}
  - {{ protocol: pop3, address: 127.0.0.1, port: {self.ports['pop3s']}, tls: implicit }}
{lmtp}store:
  backend: maildir
  path: mail/{{domain}}/{{user}}
  exclusive: true  # only Roost writes these Maildirs, as Dovecot's maildir_very_dirty_syncs
limits:
  connections_per_ip: 100000
  connections_per_user_ip: 100000
  auth_cache_ttl: 0s  # every login verifies the hash, as Dovecot without auth_cache
  auth_queue: 20000   # 10,000 idle sessions log in at once; Dovecot queues them all too
policy:
  plaintext_auth: allowed
  quota: unlimited
domains_dir: domains.d
""")
        h = crypt_hash(PASSWORD)
        lines = [f"domain: {DOMAIN}", "accounts:"]
        for u in self.users:
            lines += [f"  {u}:", f"    password: \"{h}\""]
        (self.root / "domains.d" / f"{DOMAIN}.yaml").write_text("\n".join(lines) + "\n")

    def start(self):
        log = open(self.root / "roostd.log", "ab")
        self.proc = subprocess.Popen([str(self.build / "roostd"), "-c",
                                      str(self.root / "roost.yaml")], stdout=log, stderr=log)
        for p in ("imap", "imaps", "pop3s"):
            self.wait_port(self.ports[p])


def raise_inotify_limit(instances=65536):
    """Each Dovecot imap process of the benchmark user takes an inotify
    instance for IDLE; past the kernel's per-user limit (128 by default) it
    logs "Inotify instance limit ... exceeded, disabling", falls back to
    polling and cannot hibernate. Its documentation says to raise the limit,
    so the harness does (Roost is one process and needs one instance)."""
    knob = Path("/proc/sys/fs/inotify/max_user_instances")
    try:
        if int(knob.read_text()) < instances:
            knob.write_text(f"{instances}\n")
    except OSError as e:
        print(f"warning: cannot raise {knob}: {e}", file=sys.stderr)


class Dovecot(Server):
    name = "dovecot"

    def index_dirs(self):
        return [self.root / "index"]

    def drop_indexes(self):
        super().drop_indexes()
        uid, gid = ensure_sysuser()
        (self.root / "index").mkdir(exist_ok=True)
        os.chown(self.root / "index", uid, gid)

    def write(self):
        uid, gid = ensure_sysuser()
        self.root.mkdir(parents=True, exist_ok=True)
        # Dovecot's auth and mail processes run as SYSUSER: every directory
        # above its files must let others through (mktemp -d makes 0700).
        for d in [self.root.resolve(), *self.root.resolve().parents]:
            if not os.stat(d).st_mode & 0o001:
                raise RuntimeError(f"{d} is not traversable by others; Dovecot's processes "
                                   f"run as {SYSUSER} and could not read their files")
        for d in ("run", "state", "index", "mail"):
            (self.root / d).mkdir(exist_ok=True)
        h = crypt_hash(PASSWORD)
        (self.root / "users").write_text(
            "".join(f"{u}@{DOMAIN}:{{SHA512-CRYPT}}{h}\n" for u in self.users))
        r = self.root
        (r / "dovecot.conf").write_text(f"""
protocols = imap pop3 lmtp
listen = 127.0.0.1
base_dir = {r}/run
state_dir = {r}/state
instance_name = roost-bench-dovecot
default_internal_user = {SYSUSER}
default_internal_group = {SYSUSER}
default_login_user = dovenull
log_path = {r}/dovecot.log
ssl = yes
ssl_cert = <{self.cert}
ssl_key = <{self.key}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=SHA512-CRYPT {r}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={r}/mail/%d/%n
}}
mail_location = maildir:{r}/mail/%d/%n:INDEX={r}/index/%d/%n
mail_fsync = optimized
maildir_very_dirty_syncs = yes
mail_max_userip_connections = 100000
default_process_limit = 20000
default_client_limit = 40000
default_vsz_limit = 1G
imap_hibernate_timeout = 5s
mail_plugins = $mail_plugins
protocol imap {{
  mail_max_userip_connections = 100000
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.ports['imap']}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.ports['imaps']}
    ssl = yes
  }}
  service_count = 0
  process_min_avail = 2
  client_limit = 20000
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {self.ports['pop3']}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {self.ports['pop3s']}
    ssl = yes
  }}
  service_count = 0
  process_min_avail = 2
  client_limit = 20000
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.ports['lmtp']}
  }}
}}
service imap {{
  process_limit = 20000
  # imap-hibernate hands a woken client back through this socket; it runs
  # as the internal user, so the socket must be theirs (Dovecot's
  # hibernation documentation).
  unix_listener imap-master {{
    user = {SYSUSER}
  }}
}}
service imap-hibernate {{
  unix_listener imap-hibernate {{
    mode = 0660
    user = {SYSUSER}
    group = {SYSUSER}
  }}
  client_limit = 20000
}}
service auth {{
  client_limit = 40000
}}
service anvil {{
  client_limit = 40000
}}
lmtp_save_to_detail_mailbox = no
""")
        for dirpath, dirnames, filenames in os.walk(r / "mail"):
            os.chown(dirpath, uid, gid)
            for f in filenames:
                os.chown(os.path.join(dirpath, f), uid, gid)
        os.chown(r / "index", uid, gid)

    def start(self):
        raise_inotify_limit()
        log = open(self.root / "dovecot-stdout.log", "ab")
        self.proc = subprocess.Popen(["dovecot", "-F", "-c", str(self.root / "dovecot.conf")],
                                     stdout=log, stderr=log)
        for p in ("imap", "imaps", "pop3s"):
            self.wait_port(self.ports[p])
