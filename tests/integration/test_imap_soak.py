"""A bounded soak of IMAP IDLE: a few thousand TLS sessions, logged in with
INBOX selected and idling, while mail arrives for their accounts through
`roost deliver`. Every session must be told of every new message exactly
once (its EXISTS counts rise one step at a time or in coalesced jumps, never
repeat, and end at the number delivered), and the mailbox it then fetches
holds exactly those messages.

The test command runs it briefly (ROOST_SOAK_SESSIONS, default 2000, over
ROOST_SOAK_ACCOUNTS accounts); the long run is documented in docs/TESTING.md.
Sessions connect from several loopback source addresses, as a carrier NAT
would spread them.
"""
import asyncio
import os
import re
import time

import pytest

from conftest import client_tls_context, make_message

SESSIONS = int(os.environ.get("ROOST_SOAK_SESSIONS", "2000"))
ACCOUNTS = int(os.environ.get("ROOST_SOAK_ACCOUNTS", "20"))
MESSAGES = int(os.environ.get("ROOST_SOAK_MESSAGES", "3"))
SOURCES = [f"127.0.{i // 250}.{i % 250 + 2}" for i in range(8)]
PASSWORD = "soak-pw"


class IdleClient:
    def __init__(self, index, user, port, ctx):
        self.index = index
        self.user = user
        self.port = port
        self.ctx = ctx
        self.exists = []     # EXISTS counts heard while idling, in order
        self.other = []      # any other untagged line heard while idling
        self.reader = None
        self.writer = None

    async def line(self, timeout=60):
        data = await asyncio.wait_for(self.reader.readline(), timeout)
        if not data:
            raise ConnectionError(f"{self.user}#{self.index}: connection closed")
        return data.decode("utf-8", "replace").rstrip("\r\n")

    async def command(self, tag, text):
        self.writer.write(f"{tag} {text}\r\n".encode())
        await self.writer.drain()
        untagged = []
        while True:
            l = await self.line()
            if l.startswith(tag + " "):
                assert l.startswith(tag + " OK"), (self.user, text, l)
                return untagged
            untagged.append(l)

    async def connect_and_idle(self):
        source = SOURCES[self.index % len(SOURCES)]
        self.reader, self.writer = await asyncio.open_connection(
            "127.0.0.1", self.port, ssl=self.ctx, local_addr=(source, 0))
        greeting = await self.line()
        assert greeting.startswith("* OK"), greeting
        await self.command("a", f"LOGIN {self.user}@example.test {PASSWORD}")
        selected = await self.command("b", "SELECT INBOX")
        assert "* 0 EXISTS" in selected, selected
        self.writer.write(b"c IDLE\r\n")
        await self.writer.drain()
        cont = await self.line()
        assert cont.startswith("+"), cont

    async def listen(self, until):
        """Collects EXISTS lines until `until` messages were announced."""
        while not self.exists or self.exists[-1] < until:
            l = await self.line(timeout=90)
            m = re.match(r"\* (\d+) EXISTS$", l)
            if m:
                self.exists.append(int(m.group(1)))
            elif l.startswith("* OK") or re.match(r"\* \d+ RECENT$", l):
                continue  # keepalive; \Recent counts (one session claims each)
            else:
                self.other.append(l)

    async def finish(self):
        self.writer.write(b"DONE\r\n")
        await self.writer.drain()
        while True:
            l = await self.line()
            if l.startswith("c "):
                assert l.startswith("c OK"), l
                break
            m = re.match(r"\* (\d+) EXISTS$", l)
            if m:
                self.exists.append(int(m.group(1)))
        fetched = await self.command("d", "UID FETCH 1:* (UID)")
        uids = [int(m.group(1)) for m in (re.search(r"UID (\d+)", l) for l in fetched) if m]
        await self.command("e", "LOGOUT")
        self.writer.close()
        return uids


def rss_kib(pid):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS:"):
            return int(l.split()[1])
    return 0


def sources_usable():
    import socket
    for s in SOURCES:
        try:
            with socket.socket() as sock:
                sock.bind((s, 0))
        except OSError:
            return False
    return True


def test_thousands_of_idlers_hear_every_delivery_once(roost_factory):
    if not sources_usable():
        pytest.skip("loopback source addresses 127.0.0.x are not bindable here")
    users = [f"soak{i:02d}" for i in range(ACCOUNTS)]
    roost = roost_factory(
        accounts={"alice": {"password": PASSWORD}, **{u: {"password": PASSWORD} for u in users}},
        limits={"connections_per_ip": SESSIONS + 100,
                "connections_per_user_ip": SESSIONS + 100})
    roost.start()
    ctx = client_tls_context()
    idle_rss = [rss_kib(roost.proc.pid)]
    clients = [IdleClient(i, users[i % ACCOUNTS], roost.ports["imaps"], ctx)
               for i in range(SESSIONS)]

    async def run():
        # Connect in waves so the accept backlog is never the test's limit.
        started = time.time()
        wave = 200
        for i in range(0, SESSIONS, wave):
            await asyncio.gather(*(c.connect_and_idle() for c in clients[i:i + wave]))
        connected = time.time() - started
        idle_rss.append(rss_kib(roost.proc.pid))

        listeners = [asyncio.ensure_future(c.listen(MESSAGES)) for c in clients]
        delivered_at = time.time()
        loop = asyncio.get_running_loop()
        for n in range(1, MESSAGES + 1):
            for u in users:
                r = await loop.run_in_executor(
                    None, lambda u=u, n=n: roost.deliver(f"{u}@example.test", make_message(n)))
                assert r.returncode == 0, r.stderr
        await asyncio.wait_for(asyncio.gather(*listeners), timeout=120)
        heard = time.time() - delivered_at
        uids = await asyncio.gather(*(c.finish() for c in clients))
        return connected, heard, uids

    connected, heard, uids = asyncio.run(run())
    print(f"soak: {SESSIONS} TLS idlers connected in {connected:.1f}s; "
          f"{ACCOUNTS * MESSAGES} deliveries heard by all within {heard:.1f}s; "
          f"server RSS {idle_rss[0]} KiB before, {idle_rss[1]} KiB with all idling "
          f"(~{(idle_rss[1] - idle_rss[0]) / SESSIONS:.1f} KiB per session; the bench "
          f"measures this properly)")
    for c, got in zip(clients, uids):
        # Told of every message: the counts rise and end at MESSAGES ...
        assert c.exists and c.exists[-1] == MESSAGES, (c.user, c.index, c.exists)
        # ... exactly once: no count is announced twice or goes backwards.
        assert all(a < b for a, b in zip(c.exists, c.exists[1:])), (c.user, c.exists)
        assert not c.other, (c.user, c.other[:5])
        assert got == list(range(1, MESSAGES + 1)), (c.user, got)
    assert roost.proc.poll() is None
