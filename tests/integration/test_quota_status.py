"""The quota-status service (listener `protocol: quota_status`): Postfix's
policy delegation protocol spoken over a raw socket against a real roostd.
Requests are "name=value" lines and an empty line; every request gets one
"action=..." line and an empty line, in order, on a connection that stays
open. Malformed requests get "action=DEFER_IF_PERMIT Service temporarily
unavailable" (Postfix then answers 450 for that recipient and retries later),
and limits.bad_commands of them close the connection."""
import socket
import time

from conftest import crypt_hash, free_port, make_message

DUNNO = "action=DUNNO"
REJECT = "action=552 5.2.2 Mailbox is full"
DEFER = "action=452 4.2.2 Mailbox is full"
TEMP = "action=DEFER_IF_PERMIT Service temporarily unavailable"

ACCOUNTS = {
    "alice": {"password": "alice-pw", "policy": {"quota": "3000"}},
    "bob": {"password": "bob-pw", "policy": {"quota": "unlimited"}},
    "carol": {"password": "carol-pw",
              "policy": {"quota": "unlimited", "quota_messages": 1, "quota_exceeded": "defer"}},
}


def domain_text():
    lines = ["domain: example.test", "accounts:"]
    for user, spec in ACCOUNTS.items():
        lines.append(f"  {user}:")
        lines.append(f"    password: \"{crypt_hash(spec['password'])}\"")
        lines.append("    policy: " + __import__("json").dumps(spec["policy"]))
    lines += ["aliases:", "  team: [bob, alice]", "  pair: [bob, carol]",
              "  away: [someone@example.net]"]
    return "\n".join(lines) + "\n"


def start(roost_factory, **kw):
    r = roost_factory(accounts=ACCOUNTS, **kw)
    port = free_port()
    text = r.config_path.read_text().replace(
        "listeners:\n",
        f"listeners:\n  - {{ protocol: quota_status, address: 127.0.0.1, port: {port} }}\n", 1)
    r.config_path.write_text(text)
    r.ports["quota_status"] = port
    r.write_domain(text=domain_text())
    return r.start()


class Policy:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send(self, data: bytes):
        self.sock.sendall(data)

    def answer(self):
        while b"\n\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"closed; pending {self.buf!r}")
            self.buf += chunk
        text, self.buf = self.buf.split(b"\n\n", 1)
        return text.decode()

    def ask(self, recipient, size=None, **extra):
        self.send(request(recipient, size, **extra))
        return self.answer()

    def closed(self, timeout=5):
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (socket.timeout, ConnectionResetError):
            return False

    def close(self):
        self.sock.close()


def request(recipient, size=None, **extra):
    attrs = {"request": "smtpd_access_policy", "protocol_state": "RCPT",
             "protocol_name": "ESMTP", "client_address": "192.0.2.7",
             "helo_name": "mx.example.net", "sender": "someone@example.net",
             "recipient": recipient, "recipient_count": "0", "queue_id": "",
             "instance": "1a2b.5e6f7a8b.1.0"}
    if size is not None:
        attrs["size"] = str(size)
    attrs.update(extra)
    return "".join(f"{k}={v}\n" for k, v in attrs.items()).encode() + b"\n"


def test_under_and_over_quota(roost_factory):
    r = start(roost_factory)
    p = Policy(r.ports["quota_status"])
    assert p.ask("alice@example.test", 100) == DUNNO
    assert p.ask("alice@example.test", 3000) == DUNNO
    assert p.ask("alice@example.test", 3001) == REJECT
    assert p.ask("bob@example.test", 10 ** 9) == DUNNO
    # Fill alice with a delivery, then what is left decides.
    msg = make_message(1, body_lines=60)
    assert r.deliver("alice@example.test", msg).returncode == 0
    used = len(msg.replace(b"\n", b"\r\n"))
    assert used < 3000
    assert p.ask("alice@example.test", 3000 - used) == DUNNO
    assert p.ask("alice@example.test", 3000 - used + 1) == REJECT
    # Case, alias domain spelling and +detail resolve like delivery.
    assert p.ask("ALICE@Example.Test", 3000) == REJECT
    assert p.ask("alice+lists@example.test", 3000) == REJECT
    # No size (or 0: Postfix did not get SIZE) counts as one byte.
    assert p.ask("alice@example.test") == DUNNO
    assert p.ask("alice@example.test", 0) == DUNNO
    p.close()
    ev = r.wait_for_event("quota_status", recipient="alice@example.test")
    assert "action" in ev


def test_message_count_and_defer(roost_factory):
    r = start(roost_factory)
    p = Policy(r.ports["quota_status"])
    assert p.ask("carol@example.test") == DUNNO
    assert r.deliver("carol@example.test", make_message(1)).returncode == 0
    assert p.ask("carol@example.test") == DEFER
    assert p.ask("carol@example.test", 1) == DEFER


def test_alias_with_several_targets(roost_factory):
    r = start(roost_factory)
    p = Policy(r.ports["quota_status"])
    assert p.ask("team@example.test", 10) == DUNNO
    assert p.ask("team@example.test", 5000) == REJECT  # alice is too small
    assert p.ask("pair@example.test", 5000) == DUNNO
    assert r.deliver("carol@example.test", make_message(1)).returncode == 0
    assert p.ask("pair@example.test", 10) == DEFER  # carol is full
    # Unknown recipients and outside targets: Postfix decides.
    assert p.ask("nobody@example.test", 10 ** 9) == DUNNO
    assert p.ask("away@example.test", 10 ** 9) == DUNNO
    assert p.ask("alice@elsewhere.example", 10 ** 9) == DUNNO


def test_pipelined_requests_in_order(roost_factory):
    r = start(roost_factory)
    p = Policy(r.ports["quota_status"])
    batch = (request("alice@example.test", 5000) + request("bob@example.test", 5000) +
             request("team@example.test", 5000) + request("alice@example.test", 1))
    # Sent in small pieces and all at once: the same answers, in order.
    for i in range(0, len(batch), 7):
        p.send(batch[i:i + 7])
    assert [p.answer() for _ in range(4)] == [REJECT, DUNNO, REJECT, DUNNO]
    p.send(batch * 5)
    assert [p.answer() for _ in range(20)] == [REJECT, DUNNO, REJECT, DUNNO] * 5
    # Still open for more.
    assert p.ask("bob@example.test") == DUNNO


def test_malformed_input(roost_factory):
    r = start(roost_factory, limits={"bad_commands": 3, "quota_status_line": 200})
    p = Policy(r.ports["quota_status"])
    # A line without '=' spoils its request only; the next one is answered.
    p.send(b"request=smtpd_access_policy\nthis is not an attribute\nrecipient=alice@example.test\n\n")
    assert p.answer() == TEMP
    assert p.ask("alice@example.test", 5000) == REJECT
    # Not a request Roost answers.
    p.send(b"request=junk_policy\nrecipient=alice@example.test\n\n")
    assert p.answer() == TEMP
    assert p.ask("alice@example.test", 1) == DUNNO
    # A line over limits.quota_status_line: skipped to its end, then TEMP;
    # being the third bad request, it also closes the connection.
    p.send(b"request=smtpd_access_policy\nrecipient=" + b"x" * 5000 + b"\n\n")
    assert p.answer() == TEMP
    assert p.closed()
    r.wait_for_event("quota_status", reason="line too long")
    # An empty request is malformed too.
    p = Policy(r.ports["quota_status"])
    p.send(b"\n")
    assert p.answer() == TEMP
    assert p.ask("bob@example.test", 1) == DUNNO
    # Other connections are unaffected.
    p2 = Policy(r.ports["quota_status"])
    assert p2.ask("bob@example.test", 1) == DUNNO


def test_idle_timeout(roost_factory):
    r = start(roost_factory, limits={"idle_timeout": "{ quota_status: 1s }"})
    p = Policy(r.ports["quota_status"])
    assert p.ask("bob@example.test") == DUNNO
    t0 = time.time()
    assert p.closed(timeout=10)
    assert time.time() - t0 < 8
    # A half-sent request does not keep it open either.
    p = Policy(r.ports["quota_status"])
    p.send(b"request=smtpd_access_policy\n")
    assert p.closed(timeout=10)
