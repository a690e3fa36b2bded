"""PROXY protocol on listeners with proxy_protocol: true.

The "proxy" is this test: it connects from 127.0.0.1 (or 127.0.0.2) and sends
a PROXY header naming a client such as 192.0.2.7. Those documentation
addresses only ever appear as data inside the header; nothing connects to them.
"""
import socket
import ssl
import struct
import time

import pytest

from conftest import client_tls_context

SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2_header(src, sport, dst=None, dport=143, tlvs=b""):
    """A version 2 PROXY header for a TCP client src:sport."""
    if ":" in src:
        fam, af, dst = 0x21, socket.AF_INET6, dst or "::1"
    else:
        fam, af, dst = 0x11, socket.AF_INET, dst or "127.0.0.1"
    block = socket.inet_pton(af, src) + socket.inet_pton(af, dst)
    block += struct.pack("!HH", sport, dport) + tlvs
    return SIG + bytes([0x21, fam]) + struct.pack("!H", len(block)) + block


LOCAL = SIG + b"\x20\x00\x00\x00"  # the proxy speaks for itself (health check)


def proxied(roost_factory, trusted=("127.0.0.1/32",), **kw):
    """A roostd whose four listeners all expect a PROXY header."""
    nets = ", ".join(f'"{n}"' for n in trusted)
    r = roost_factory(extra_config=f"trusted_networks: [{nets}]\n", **kw)
    text = r.config_path.read_text()
    text = text.replace("tls: starttls }", "tls: starttls, proxy_protocol: true }")
    text = text.replace("tls: implicit }", "tls: implicit, proxy_protocol: true }")
    assert text.count("proxy_protocol: true") == 4
    r.config_path.write_text(text)
    return r.start()


def connect(port, source="127.0.0.1", timeout=5):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def read_line(s):
    buf = b""
    while not buf.endswith(b"\r\n"):
        c = s.recv(1)
        if not c:
            break
        buf += c
    return buf


def read_all_until_closed(s):
    """Everything the server sends before it closes (b"" when it said nothing)."""
    out = b""
    while True:
        try:
            c = s.recv(4096)
        except ConnectionResetError:
            return out
        if not c:
            return out
        out += c


def pop3_login(s, user, password):
    s.sendall(f"USER {user}\r\n".encode())
    assert read_line(s).startswith(b"+OK")
    s.sendall(f"PASS {password}\r\n".encode())
    return read_line(s)


# ---- the real client everywhere ------------------------------------------------


def test_pop3_plain_logs_and_login_show_real_client(roost_factory):
    r = proxied(roost_factory)
    s = connect(r.ports["pop3"])
    s.sendall(v2_header("192.0.2.7", 40001, dport=110))
    assert read_line(s).startswith(b"+OK")
    ev = r.wait_for_event("connect", proto="pop3", remote="192.0.2.7")
    assert ev["remote"] == "192.0.2.7"
    assert pop3_login(s, "alice@example.test", r.password("alice")).startswith(b"+OK")
    r.wait_for_event("login", proto="pop3", remote="192.0.2.7", result="ok")
    p = r.wait_for_event("proxy", result="ok", remote="192.0.2.7")
    assert p["proxy"] == "127.0.0.1"
    s.sendall(b"QUIT\r\n")
    assert read_line(s).startswith(b"+OK")
    r.wait_for_event("logout", proto="pop3", remote="192.0.2.7")
    s.close()


def test_imap_plain_header_and_command_in_one_segment(roost_factory):
    r = proxied(roost_factory)
    s = connect(r.ports["imap"])
    # The header and the first command arrive together: the command must
    # still be read as IMAP, after the greeting.
    s.sendall(v2_header("192.0.2.7", 40002) + b"a1 CAPABILITY\r\n")
    assert read_line(s).startswith(b"* OK")
    assert read_line(s).startswith(b"* CAPABILITY")
    assert read_line(s).startswith(b"a1 OK")
    s.sendall(b'a2 LOGIN alice@example.test "alice-secret"\r\n')
    assert read_line(s).startswith(b"a2 OK")
    r.wait_for_event("connect", proto="imap", remote="192.0.2.7")
    r.wait_for_event("login", proto="imap", remote="192.0.2.7", result="ok")
    s.close()


@pytest.mark.parametrize("which", ["imaps", "pop3s"])
def test_implicit_tls_header_comes_before_the_handshake(roost_factory, which):
    r = proxied(roost_factory)
    s = connect(r.ports[which])
    s.sendall(v2_header("192.0.2.7", 40003, dport=993))
    t = client_tls_context().wrap_socket(s, server_hostname="localhost")
    greeting = read_line(t)
    assert greeting.startswith(b"* OK" if which == "imaps" else b"+OK")
    proto = "imap" if which == "imaps" else "pop3"
    r.wait_for_event("tls", proto=proto, remote="192.0.2.7")
    r.wait_for_event("connect", proto=proto, remote="192.0.2.7")
    t.close()


def test_implicit_tls_header_and_client_hello_in_one_segment(roost_factory):
    r = proxied(roost_factory)
    s = connect(r.ports["imaps"])
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = client_tls_context().wrap_bio(inc, out, server_hostname="localhost")
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    s.sendall(v2_header("192.0.2.9", 40004, dport=993) + out.read())
    plain = b""
    deadline = time.time() + 5
    while b"\r\n" not in plain and time.time() < deadline:
        data = s.recv(16384)
        assert data, "server closed during the handshake"
        inc.write(data)
        try:
            tls.do_handshake()
            plain += tls.read(4096)
        except ssl.SSLWantReadError:
            pass
        pending = out.read()
        if pending:
            s.sendall(pending)
    assert plain.startswith(b"* OK")
    r.wait_for_event("tls", proto="imap", remote="192.0.2.9")
    s.close()


def test_ipv6_real_client(roost_factory):
    r = proxied(roost_factory)
    s = connect(r.ports["imap"])
    s.sendall(v2_header("2001:db8::7", 50000))
    assert read_line(s).startswith(b"* OK")
    s.sendall(b"a1 LOGIN alice@example.test wrong\r\n")
    assert read_line(s).startswith(b"a1 NO")
    r.wait_for_event("connect", proto="imap", remote="2001:db8::7")
    r.wait_for_event("login", proto="imap", remote="2001:db8::7", result="fail")
    s.close()


def test_v1_text_header_and_tlvs_accepted(roost_factory):
    r = proxied(roost_factory)
    s = connect(r.ports["pop3"])
    s.sendall(b"PROXY TCP4 192.0.2.11 127.0.0.1 5555 110\r\n")
    assert read_line(s).startswith(b"+OK")
    r.wait_for_event("connect", proto="pop3", remote="192.0.2.11")
    s.close()
    # HAProxy sends extensions (ALPN, unique id, ...); they are skipped.
    tlvs = b"\x01\x00\x04imap" + b"\x05\x00\x08abcdefgh" + b"\x04\x00\x03\x00\x00\x00"
    s = connect(r.ports["pop3"])
    s.sendall(v2_header("192.0.2.12", 5556, dport=110, tlvs=tlvs))
    assert read_line(s).startswith(b"+OK")
    r.wait_for_event("connect", proto="pop3", remote="192.0.2.12")
    s.close()


def test_trust_is_re_evaluated_for_the_real_client(roost_factory):
    # The proxy is trusted (its connections count as secure); the customer it
    # names is not: without TLS, plaintext login stays disabled for it.
    r = proxied(roost_factory, plaintext_auth="tls_only")
    s = connect(r.ports["imap"])
    s.sendall(v2_header("192.0.2.7", 40005))
    greeting = read_line(s)
    assert b"LOGINDISABLED" in greeting
    s.close()
    # LOCAL: the proxy itself (a health check) keeps its own address and trust.
    s = connect(r.ports["imap"])
    s.sendall(LOCAL)
    greeting = read_line(s)
    assert greeting.startswith(b"* OK") and b"LOGINDISABLED" not in greeting
    r.wait_for_event("connect", proto="imap", remote="127.0.0.1")
    r.wait_for_event("proxy", result="ok", command="local", remote="127.0.0.1")
    s.close()


# ---- caps and throttling count the real client ------------------------------------


def test_connection_cap_counts_real_clients_not_the_proxy(roost_factory):
    r = proxied(roost_factory, limits={"connections_per_ip": 2})
    port = r.ports["pop3"]
    held = []
    for i in range(2):
        s = connect(port)
        s.sendall(v2_header("192.0.2.7", 41000 + i, dport=110))
        assert read_line(s).startswith(b"+OK")
        held.append(s)
    # The same real client a third time: refused with POP3's refusal text.
    s = connect(port)
    s.sendall(v2_header("192.0.2.7", 41002, dport=110))
    refused = read_all_until_closed(s)
    assert refused.startswith(b"-ERR [SYS/TEMP] Too many connections"), refused
    s.close()
    ev = r.wait_for_event("connect", result="refused", remote="192.0.2.7")
    assert ev["proxy"] == "127.0.0.1"
    # Other customers behind the same proxy are not capped with it, although
    # the proxy now has five connections open.
    for i in range(3):
        s = connect(port)
        s.sendall(v2_header(f"192.0.2.{20 + i}", 42000, dport=110))
        assert read_line(s).startswith(b"+OK")
        held.append(s)
    # Closing one frees a slot of the real client's.
    held[0].sendall(b"QUIT\r\n")
    assert read_line(held[0]).startswith(b"+OK")
    held[0].close()
    deadline = time.time() + 5
    while True:
        s = connect(port)
        s.sendall(v2_header("192.0.2.7", 41003, dport=110))
        line = read_line(s)
        if line.startswith(b"+OK") or time.time() > deadline:
            break
        s.close()
        time.sleep(0.1)
    assert line.startswith(b"+OK")
    held.append(s)
    for s in held:
        s.close()


def test_auth_throttle_keys_on_the_real_client(roost_factory):
    r = proxied(roost_factory, limits={"auth_failure_delay": "1s",
                                       "auth_failure_delay_max": "2s"})
    port = r.ports["pop3"]

    def attempt(client, password):
        s = connect(port, timeout=10)
        s.sendall(v2_header(client, 43000, dport=110))
        assert read_line(s).startswith(b"+OK")
        t0 = time.monotonic()
        answer = pop3_login(s, "alice@example.test", password)
        took = time.monotonic() - t0
        s.close()
        return answer, took

    answer, _ = attempt("192.0.2.7", "wrong")
    assert answer.startswith(b"-ERR")
    # Client A's failure slows client A's next attempt, even a right one ...
    answer, took_a = attempt("192.0.2.7", r.password("alice"))
    assert answer.startswith(b"+OK")
    assert took_a >= 0.9, took_a
    # ... but not client B's, although both come through the same proxy.
    answer, took_b = attempt("192.0.2.8", r.password("alice"))
    assert answer.startswith(b"+OK")
    assert took_b < 0.6, took_b


# ---- refused and broken headers -----------------------------------------------


def test_untrusted_peer_closed_without_greeting(roost_factory):
    r = proxied(roost_factory, trusted=())
    s = connect(r.ports["imap"])
    s.sendall(v2_header("192.0.2.7", 40006))
    assert read_all_until_closed(s) == b""
    ev = r.wait_for_event("proxy", result="refused")
    assert ev["remote"] == "127.0.0.1"
    assert "trusted_networks" in ev["reason"]
    assert r.count_events("connect", proto="imap") == 0
    s.close()


def test_only_the_listed_proxy_address_is_trusted(roost_factory):
    r = proxied(roost_factory)  # 127.0.0.1/32 only
    s = connect(r.ports["pop3"], source="127.0.0.2")
    s.sendall(v2_header("192.0.2.7", 40007, dport=110))
    assert read_all_until_closed(s) == b""
    r.wait_for_event("proxy", result="refused", remote="127.0.0.2")
    s.close()
    s = connect(r.ports["pop3"], source="127.0.0.1")
    s.sendall(v2_header("192.0.2.7", 40008, dport=110))
    assert read_line(s).startswith(b"+OK")
    s.close()


@pytest.mark.parametrize("garbage, reason", [
    (b"USER alice@example.test\r\n", "not a PROXY protocol header"),
    (b"a1 CAPABILITY\r\n", "not a PROXY protocol header"),
    (SIG + b"\x31\x11\x00\x0c", "version"),
    (SIG + b"\x21\x11\x00\x04" + b"\x01\x02\x03\x04", "too short"),
    (SIG + b"\x21\x11\xea\x60", "too long"),  # 60000 bytes declared
])
def test_malformed_header_closed(roost_factory, garbage, reason):
    r = proxied(roost_factory)
    s = connect(r.ports["pop3"])
    s.sendall(garbage)
    assert read_all_until_closed(s) == b""
    ev = r.wait_for_event("proxy", result="fail")
    assert reason in ev["reason"], ev
    assert r.count_events("connect", proto="pop3") == 0
    s.close()


def test_slow_header_closed_after_preauth_timeout(roost_factory):
    r = proxied(roost_factory, limits={"idle_timeout": "{ preauth: 1s }"})
    s = connect(r.ports["imap"], timeout=10)
    s.sendall(v2_header("192.0.2.7", 40009)[:10])
    t0 = time.monotonic()
    assert read_all_until_closed(s) == b""
    took = time.monotonic() - t0
    assert 0.7 <= took <= 5, took
    ev = r.wait_for_event("proxy", result="fail")
    assert "no complete PROXY header" in ev["reason"]
    s.close()
    # A proxy that connects and says nothing at all is closed the same way.
    s = connect(r.ports["pop3"], timeout=10)
    assert read_all_until_closed(s) == b""
    s.close()


def test_shutdown_does_not_wait_for_a_pending_header(roost_factory):
    # shutdown_grace is 3s in these tests; a connection still waiting for its
    # header has nothing to finish and must not hold the stop up.
    r = proxied(roost_factory)
    s = connect(r.ports["imap"])
    s.sendall(v2_header("192.0.2.7", 40010)[:5])
    time.sleep(0.3)
    t0 = time.monotonic()
    assert r.stop() == 0
    assert time.monotonic() - t0 < 2.0
    assert read_all_until_closed(s) == b""
    s.close()


def test_proxy_header_max_is_configurable(roost_factory):
    r = proxied(roost_factory, limits={"proxy_header_max": 512})
    tlvs = b"\x04" + struct.pack("!H", 600) + bytes(600)  # NOOP padding
    s = connect(r.ports["pop3"])
    s.sendall(v2_header("192.0.2.7", 40011, dport=110, tlvs=tlvs))
    assert read_all_until_closed(s) == b""
    ev = r.wait_for_event("proxy", result="fail")
    assert "at most 512" in ev["reason"]
    s.close()
    s = connect(r.ports["pop3"])
    s.sendall(v2_header("192.0.2.7", 40012, dport=110,
                        tlvs=b"\x04" + struct.pack("!H", 400) + bytes(400)))
    assert read_line(s).startswith(b"+OK")
    s.close()


def test_proxy_header_max_below_minimum_is_a_config_error(roost_factory):
    r = roost_factory(limits={"proxy_header_max": 100})
    r.start(wait=False)
    assert r.proc.wait(timeout=15) != 0
    assert "proxy_header_max: must be at least 256" in r.log_path.read_text()
