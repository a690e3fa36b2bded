"""Small asyncio IMAP and POP3 clients for load generation.

They speak just enough of each protocol to drive the workloads, read
literals properly, and time every command. Any tagged NO/BAD or -ERR counts
as a protocol error; the benchmark reports them (zero is the target).
"""
import asyncio
import functools
import re
import ssl
import time

LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")


@functools.lru_cache(maxsize=None)
def tls_context():
    """One client context per process: a context per connection would load
    the system's CA store each time (about 1 MiB and milliseconds apiece),
    which at 10,000 idle connections measures the client, not the server."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Stats:
    def __init__(self):
        self.latencies = []  # seconds, one per command
        self.errors = 0
        self.bytes = 0
        self.samples = []  # a few failed commands with their answers, for the report

    def merge(self, other):
        self.latencies += other.latencies
        self.errors += other.errors
        self.samples = (self.samples + other.samples)[:10]
        self.bytes += other.bytes


class _Receiver(asyncio.Protocol):
    """Collects what a connection receives in one bytearray that the IMAP
    client scans in place (an asyncio StreamReader would copy it twice)."""

    def __init__(self):
        self.buf = bytearray()
        self.closed = False
        self.waiter = None
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.buf += data
        if len(self.buf) > (8 << 20):
            self.transport.pause_reading()  # the client catches up first
        self._wake()

    def connection_lost(self, exc):
        self.closed = True
        self._wake()

    def _wake(self):
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def wait(self):
        """Until more data arrives or the connection closes."""
        if self.closed:
            raise ConnectionError("closed")
        self.transport.resume_reading()
        self.waiter = asyncio.get_running_loop().create_future()
        await self.waiter
        self.waiter = None
        if self.closed and not self.buf:
            raise ConnectionError("closed")


class Imap:
    def __init__(self, stats):
        self.stats = stats
        self.n = 0
        self.transport = self.receiver = None
        self.buf = bytearray()
        self.lines = None  # a list: untagged lines of the next commands are kept there

    async def connect(self, port, tls, source=None):
        local = (source, 0) if source else None
        self.transport, self.receiver = await asyncio.get_running_loop().create_connection(
            _Receiver, "127.0.0.1", port, ssl=tls_context() if tls else None, local_addr=local)
        self.buf = self.receiver.buf  # received, not yet consumed
        await self.readline()

    async def _fill(self):
        await self.receiver.wait()

    async def readline(self):
        """One line, from what read_response left over first."""
        while True:
            nl = self.buf.find(b"\n")
            if nl >= 0:
                line = bytes(self.buf[:nl + 1])
                del self.buf[:nl + 1]
                return line
            await self._fill()

    async def read_response(self, tag):
        """Reads until the tagged line; returns its status.

        The response is scanned a chunk at a time for the two things that
        matter (a literal's "{n}" and the tagged line) instead of line by
        line: a line-at-a-time Python reader costs more CPU than the server
        spends answering FETCH 1:* of a 100,000-message mailbox, and on a
        two-core machine that CPU is taken from the server."""
        if self.lines is not None:
            return await self._read_response_lines(tag)
        buf = self.buf
        marker = b"\n" + tag + b" "
        pos = 0           # scanned up to here; buf[:pos] is not yet released
        line_start = True  # pos is the start of a line
        consumed = 0
        while True:
            lit = buf.find(b"}\r\n", pos)
            if line_start and buf.startswith(tag + b" ", pos):
                t = pos
            else:
                # Only up to the next literal: past it lies its content.
                t = buf.find(marker, max(pos - 1, 0), lit if lit >= 0 else len(buf))
                t = t + 1 if t >= 0 else -1
            if t >= 0 and (lit < 0 or t < lit):
                end = buf.find(b"\n", t)
                if end < 0:
                    await self._fill()
                    continue
                self.last = bytes(buf[t:end + 1])
                consumed += end + 1
                del buf[:end + 1]
                self.stats.bytes += consumed
                return self.last[len(tag) + 1:len(tag) + 3]
            if lit >= 0:
                start = buf.rfind(b"{", pos, lit)
                body = lit + 3
                n = int(bytes(buf[start + 1:lit]).rstrip(b"+")) if start >= 0 else 0
                if len(buf) < body + n:
                    await self._fill()
                    continue
                pos = body + n
                line_start = False
                continue
            # Neither yet: release whole lines, keep the partial last one.
            nl = buf.rfind(b"\n", pos)
            if nl >= 0:
                pos = nl + 1
                line_start = True
            consumed += pos
            del buf[:pos]
            pos = 0
            await self._fill()

    async def _read_response_lines(self, tag):
        """read_response that keeps every untagged line in self.lines."""
        size = 0
        while True:
            line = await self.readline()
            size += len(line)
            if line.startswith(b"* "):
                self.lines.append(line)
            m = LITERAL.search(line)
            if m:
                n = int(m.group(1))
                while len(self.buf) < n:
                    await self._fill()
                del self.buf[:n]
                size += n
                continue
            if line.startswith(tag):
                self.stats.bytes += size
                self.last = line
                return line[len(tag) + 1:len(tag) + 3]

    async def cmd(self, text, literal=None):
        self.n += 1
        tag = b"t%d" % self.n
        start = time.perf_counter()
        if literal is None:
            self.transport.write(tag + b" " + text.encode() + b"\r\n")
        else:
            self.transport.write(tag + b" " + text.encode() + b" {%d+}\r\n" % len(literal) +
                              literal + b"\r\n")
        status = await self.read_response(tag)
        self.stats.latencies.append(time.perf_counter() - start)
        if status != b"OK":
            self.stats.errors += 1
            if len(self.stats.samples) < 10:
                self.stats.samples.append(f"{text} -> {self.last.decode(errors='replace').strip()}")
        return status

    async def idle(self):
        self.transport.write(b"i IDLE\r\n")
        line = await self.readline()
        if not line.startswith(b"+"):
            self.stats.errors += 1

    def close(self):
        if self.transport:
            self.transport.close()


class Pop3:
    def __init__(self, stats):
        self.stats = stats
        self.reader = self.writer = None

    async def connect(self, port, tls):
        self.reader, self.writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=tls_context() if tls else None, limit=1 << 22)
        await self.reader.readline()

    async def cmd(self, text, multiline=False):
        start = time.perf_counter()
        self.writer.write(text.encode() + b"\r\n")
        first = await self.reader.readline()
        ok = first.startswith(b"+OK")
        if not ok:
            self.stats.errors += 1
        size = len(first)
        if ok and multiline:
            # Read in large chunks, not lines: a line-at-a-time Python client
            # tops out below either server's rate. Nothing is pipelined, so
            # the terminator is always the end of what has arrived (dot
            # stuffing keeps CRLF.CRLF out of the body).
            tail = b"\r\n"
            while True:
                chunk = await self.reader.read(1 << 18)
                if not chunk:
                    raise ConnectionError("closed")
                size += len(chunk)
                tail = (tail + chunk)[-5:]
                if tail == b"\r\n.\r\n":
                    size -= 3
                    break
        self.stats.bytes += size
        self.stats.latencies.append(time.perf_counter() - start)
        return first

    def close(self):
        if self.writer:
            self.writer.close()


class Lmtp:
    """LMTP (RFC 2033) with one recipient per transaction: the reply after
    DATA is that recipient's."""

    def __init__(self, stats):
        self.stats = stats
        self.reader = self.writer = None

    async def reply(self):
        while True:
            line = await self.reader.readline()
            if not line:
                raise ConnectionError("closed")
            if line[3:4] != b"-":
                return line

    async def connect(self, port):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        await self.reply()
        self.writer.write(b"LHLO bench.test\r\n")
        await self.reply()

    async def deliver(self, rcpt, message, on_data_end=None):
        """Returns True when the recipient's reply is 2xx. Pipelines MAIL
        and RCPT; `on_data_end` is called just before the final dot goes
        out (the moment the server can start storing)."""
        start = time.perf_counter()
        self.writer.write(b"MAIL FROM:<bench@bench.test>\r\nRCPT TO:<" + rcpt.encode() +
                          b">\r\nDATA\r\n")
        ok = (await self.reply()).startswith(b"250")
        ok = (await self.reply()).startswith(b"250") and ok
        go = (await self.reply()).startswith(b"354")
        if not go:
            self.stats.errors += 1
            return False
        body = message.replace(b"\r\n.", b"\r\n..")
        if body.startswith(b"."):
            body = b"." + body
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        self.writer.write(body)
        if on_data_end:
            on_data_end()
        self.writer.write(b".\r\n")
        ok = (await self.reply()).startswith(b"250") and ok
        self.stats.latencies.append(time.perf_counter() - start)
        if not ok:
            self.stats.errors += 1
        return ok

    def close(self):
        if self.writer:
            self.writer.write(b"QUIT\r\n")
            self.writer.close()
