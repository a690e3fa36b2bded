"""IMAP ID x-originating-ip: a trusted webmail names the person it logs in for.

The webmail is this test, connecting from 127.0.0.1; 192.0.2.x addresses are
only data inside the ID command.
"""
import time

from imap_util import RawImap


def webmail_roost(roost_factory, trusted=("127.0.0.1/32",), limits=None):
    nets = ", ".join(f'"{n}"' for n in trusted)
    return roost_factory(extra_config=f"trusted_networks: [{nets}]\n", limits=limits).start()


def id_cmd(c, tag, origin, port=None, name="webmail"):
    fields = f'"name" "{name}" "x-originating-ip" "{origin}"'
    if port is not None:
        fields += f' "x-originating-port" "{port}"'
    c.send(f"{tag} ID ({fields})\r\n".encode())
    lines = []
    while True:
        line = c.line()
        lines.append(line)
        if not line or line.startswith(tag + " "):
            return lines


def login(c, tag, password):
    c.send(f'{tag} LOGIN alice@example.test "{password}"\r\n'.encode())
    while True:
        line = c.line()
        if not line or line.startswith(tag + " "):
            return line


def test_trusted_webmail_origin_is_logged_and_registered(roost_factory):
    r = webmail_roost(roost_factory)
    c = RawImap(r.ports["imap"])
    lines = id_cmd(c, "a1", "192.0.2.7", port=51515)
    assert lines[-1].startswith("a1 OK")
    ev = r.wait_for_event("client_origin", result="ok")
    assert ev["remote"] == "192.0.2.7" and ev["via"] == "127.0.0.1"
    assert login(c, "a2", "wrong").startswith("a2 NO")
    r.wait_for_event("login", proto="imap", remote="192.0.2.7", result="fail")
    assert login(c, "a3", r.password("alice")).startswith("a3 OK")
    r.wait_for_event("login", proto="imap", remote="192.0.2.7", result="ok")
    c.send(b"a4 LOGOUT\r\n")
    r.wait_for_event("logout", proto="imap", remote="192.0.2.7")


def test_throttle_keys_on_the_originating_client(roost_factory):
    # Failed logins of client A through the webmail slow client A only.
    r = webmail_roost(roost_factory, limits={"auth_failure_delay": "1s",
                                             "auth_failure_delay_max": "2s"})

    def attempt(origin, password):
        c = RawImap(r.ports["imap"], timeout=10)
        assert id_cmd(c, "a1", origin)[-1].startswith("a1 OK")
        t0 = time.monotonic()
        answer = login(c, "a2", password)
        took = time.monotonic() - t0
        c.s.close()
        return answer, took

    answer, _ = attempt("192.0.2.7", "wrong")
    assert answer.startswith("a2 NO")
    answer, took_a = attempt("192.0.2.7", r.password("alice"))
    assert answer.startswith("a2 OK")
    assert took_a >= 0.9, took_a
    answer, took_b = attempt("192.0.2.8", r.password("alice"))
    assert answer.startswith("a2 OK")
    assert took_b < 0.6, took_b


def test_connection_cap_counts_the_originating_client(roost_factory):
    r = webmail_roost(roost_factory, limits={"connections_per_ip": 2})
    held = []
    for i in range(2):
        c = RawImap(r.ports["imap"])
        assert id_cmd(c, "a1", "192.0.2.7")[-1].startswith("a1 OK")
        held.append(c)
    # A third connection for the same person: refused when ID names it.
    c = RawImap(r.ports["imap"])
    lines = id_cmd(c, "a1", "192.0.2.7")
    assert any(l.startswith("* BYE [UNAVAILABLE] Too many connections") for l in lines), lines
    assert c.raw_line() == b""  # closed
    r.wait_for_event("connect", result="refused", remote="192.0.2.7")
    # Someone else through the same webmail (now 4 connections from it) is fine.
    c = RawImap(r.ports["imap"])
    assert id_cmd(c, "a1", "192.0.2.8")[-1].startswith("a1 OK")
    assert login(c, "a2", r.password("alice")).startswith("a2 OK")
    held.append(c)
    for c in held:
        c.s.close()


def test_untrusted_peer_origin_ignored(roost_factory):
    r = webmail_roost(roost_factory, trusted=())
    c = RawImap(r.ports["imap"])
    assert id_cmd(c, "a1", "192.0.2.7")[-1].startswith("a1 OK")
    ev = r.wait_for_event("client_origin", result="ignored")
    assert ev["reason"] == "peer not in trusted_networks" and ev["level"] == "debug"
    assert login(c, "a2", "wrong").startswith("a2 NO")
    ev = r.wait_for_event("login", proto="imap", result="fail")
    assert ev["remote"] == "127.0.0.1"
    assert r.count_events("login", remote="192.0.2.7") == 0


def test_origin_after_login_and_malformed_origin_ignored(roost_factory):
    r = webmail_roost(roost_factory)
    c = RawImap(r.ports["imap"])
    assert id_cmd(c, "a1", "not-an-address")[-1].startswith("a1 OK")
    ev = r.wait_for_event("client_origin", result="ignored", reason="not an IP address")
    assert ev["level"] == "warning"
    assert id_cmd(c, "a2", "192.0.2.7/24")[-1].startswith("a2 OK")
    r.wait_for_event("client_origin", result="ignored", reason="not an IP address",
                     start_count=1)
    assert login(c, "a3", r.password("alice")).startswith("a3 OK")
    r.wait_for_event("login", proto="imap", remote="127.0.0.1", result="ok")
    assert id_cmd(c, "a4", "192.0.2.7")[-1].startswith("a4 OK")
    r.wait_for_event("client_origin", result="ignored", reason="after login")
    c.send(b"a5 LOGOUT\r\n")
    ev = r.wait_for_event("logout", proto="imap")
    assert ev["remote"] == "127.0.0.1"


def test_ipv6_origin(roost_factory):
    r = webmail_roost(roost_factory)
    c = RawImap(r.ports["imap"])
    assert id_cmd(c, "a1", "2001:DB8::7")[-1].startswith("a1 OK")
    assert login(c, "a2", "wrong").startswith("a2 NO")
    r.wait_for_event("login", proto="imap", remote="2001:db8::7", result="fail")
