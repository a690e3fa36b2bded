"""What this machine can do at all, measured without either mail server:
the bounds the issue's targets are relative to.

- fsync rate of the disk the mail lives on (one small file written and
  fsynced per message, as a durable delivery needs at the least);
- TLS bulk transfer through `openssl s_server` on loopback, read by the same
  Python client code the POP3 workload uses (so the client's own cost is in
  both figures);
- TLS handshakes per second against `openssl s_server`, and sha512-crypt
  verifications per second (the login storm's two costs).

FsyncCounter counts fsync/fdatasync system calls machine-wide with perf
while a workload runs (nothing else on the machine fsyncs meanwhile).
"""
import asyncio
import crypt  # deprecated in 3.11 but present; the same libcrypt the servers use
import os
import signal
import subprocess
import time
from pathlib import Path

from clients import tls_context
from servers import free_ports


class FsyncCounter:
    EVENTS = "syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync"

    def __init__(self):
        try:
            self.proc = subprocess.Popen(["perf", "stat", "-a", "-x", ",", "-e", self.EVENTS],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                         text=True)
            time.sleep(0.3)  # perf needs a moment before it counts
        except OSError:
            self.proc = None

    def stop(self):
        """Total fsync + fdatasync calls since start, or None without perf."""
        if not self.proc:
            return None
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=30)
        total, seen = 0, False
        for line in err.splitlines():
            fields = line.split(",")
            if len(fields) > 2 and fields[2].startswith("syscalls:") and fields[0].isdigit():
                total += int(fields[0])
                seen = True
        return total if seen else None


def fsync_rate(directory: Path, seconds=3.0):
    """Files of 4 KiB created, written, fsynced and renamed per second, with
    the directory fsynced too: the least a durable Maildir delivery does."""
    directory.mkdir(parents=True, exist_ok=True)
    data = os.urandom(4096)
    n = 0
    dfd = os.open(directory, os.O_RDONLY)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        tmp = directory / f"t{n}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, data)
        os.fsync(fd)
        os.close(fd)
        os.rename(tmp, directory / f"f{n}")
        os.fsync(dfd)
        n += 1
    elapsed = time.perf_counter() - t0
    os.close(dfd)
    for f in directory.iterdir():
        f.unlink()
    return n / elapsed


class SServer:
    def __init__(self, cert, key, www_dir=None):
        self.port = free_ports(1)[0]
        args = ["openssl", "s_server", "-quiet", "-accept", f"127.0.0.1:{self.port}",
                "-cert", str(cert), "-key", str(key)]
        if www_dir:
            args.append("-WWW")
        self.proc = subprocess.Popen(args, cwd=www_dir, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                import socket
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def tls_bulk_mb_per_s(cert, key, work: Path, total_bytes):
    """MB/s of one TLS stream from s_server to the asyncio client."""
    www = work / "www"
    www.mkdir(parents=True, exist_ok=True)
    blob = www / "blob"
    if not blob.exists() or blob.stat().st_size != total_bytes:
        blob.write_bytes(os.urandom(1 << 20) * max(1, total_bytes >> 20))
    srv = SServer(cert, key, www)

    async def fetch():
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port, ssl=tls_context(),
                                                       limit=1 << 22)
        writer.write(b"GET /blob HTTP/1.0\r\n\r\n")
        t0 = time.perf_counter()
        n = 0
        while True:
            chunk = await reader.read(1 << 20)
            if not chunk:
                break
            n += len(chunk)
        writer.close()
        return n / (time.perf_counter() - t0) / 1e6

    try:
        return asyncio.run(fetch())
    finally:
        srv.stop()


def tls_handshakes_per_s(cert, key, seconds=3.0, concurrency=8):
    """Full handshakes per second against one s_server process (one core)."""
    srv = SServer(cert, key)

    async def main():
        n = 0
        deadline = time.time() + seconds

        async def one():
            nonlocal n
            while time.time() < deadline:
                try:
                    _, w = await asyncio.open_connection("127.0.0.1", srv.port, ssl=tls_context())
                    w.close()
                    n += 1
                except (OSError, ConnectionError):
                    await asyncio.sleep(0.01)

        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(concurrency)))
        return n / (time.perf_counter() - t0)

    try:
        return asyncio.run(main())
    finally:
        srv.stop()


def crypt_per_s(hashed, password, seconds=2.0):
    """sha512-crypt verifications per second on one core."""
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        crypt.crypt(password, hashed)
        n += 1
    return n / (time.perf_counter() - t0)


def measure(cert, key, work: Path, pop_bytes, hashed, password, quick):
    secs = 1.0 if quick else 4.0
    hs = tls_handshakes_per_s(cert, key, secs)
    cr = crypt_per_s(hashed, password, secs)
    return {
        "disk_durable_files_per_s": fsync_rate(work / "fsync-probe", secs),
        "tls_bulk_MB_per_s": tls_bulk_mb_per_s(cert, key, work, pop_bytes),
        "tls_handshakes_per_s_one_core": hs,
        "sha512_crypt_per_s_one_core": cr,
        # A login needs both, serially; two cores shared with the client.
        "login_ceiling_per_s_one_core": 1.0 / (1.0 / hs + 1.0 / cr),
    }
