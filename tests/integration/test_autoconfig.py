"""Client autoconfig (listener `protocol: autoconfig`) against the real roostd:
Thunderbird's config-v1.1.xml, Outlook's Autodiscover (v1 XML POST and the v2
JSON pointer), Apple's mobileconfig, over plain HTTP and over implicit TLS
with the test certificate; the HTTP layer's keep-alive, limits and idle
timeout; garbage never gets a 500 nor stops the server; `roost dns`.

Two served domains: example.test (IMAP and POP3; its own public: moves IMAP
to mail42.provider.example with STARTTLS) with alias domain example.org, and
pop.test (POP3 only). The server's public: names imaps and smtp; POP3 falls
back to server.hostname (localhost) on 995."""
import http.client
import json
import plistlib
import random
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import ROOST, crypt_hash, free_ports

PUBLIC = """
public:
  imap: { host: imap.example.test, port: 993, tls: implicit }
  smtp: { host: smtp.example.test, port: 465, tls: implicit }
"""

OUTLOOK_NS = "{http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a}"

OUTLOOK_REQUEST = """<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>{address}</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>
"""


def domain_texts():
    pw = crypt_hash("pw")
    main = (
        "domain: example.test\n"
        "alias_domains: [example.org]\n"
        "public: { imap: { host: mail42.provider.example, tls: starttls } }\n"
        f"accounts:\n  alice: {{ password: \"{pw}\" }}\n")
    pop = (
        "domain: pop.test\n"
        "policy: { protocols: [pop3] }\n"
        f"accounts:\n  paul: {{ password: \"{pw}\" }}\n")
    return main, pop


def start(roost_factory, limits=None):
    lim = {"idle_timeout": "{ http: 1s }", "http_header_size": "2KiB", "http_body_size": "64KiB"}
    lim.update(limits or {})
    r = roost_factory(extra_config=PUBLIC, limits=lim)
    http_port, https_port = free_ports(2)
    text = r.config_path.read_text().replace(
        "listeners:\n",
        "listeners:\n"
        f"  - {{ protocol: autoconfig, address: 127.0.0.1, port: {http_port}, tls: none }}\n"
        f"  - {{ protocol: autoconfig, address: 127.0.0.1, port: {https_port}, tls: implicit }}\n",
        1)
    r.config_path.write_text(text)
    r.ports["http"] = http_port
    r.ports["https"] = https_port
    main, pop = domain_texts()
    r.write_domain(text=main)
    r.write_domain(name="pop.test", text=pop)
    return r.start()


@pytest.fixture
def ac(roost_factory):
    return start(roost_factory)


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def fetch(r, path, method="GET", body=None, headers=None, tls=False):
    """(status, headers, body) through urllib; errors are answers too."""
    scheme, port = ("https", r.ports["https"]) if tls else ("http", r.ports["http"])
    req = urllib.request.Request(f"{scheme}://127.0.0.1:{port}{path}", data=body, method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10, context=tls_ctx() if tls else None) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def servers(xml_bytes):
    """Thunderbird config: [(type, hostname, port, socketType)] in document order."""
    root = ET.fromstring(xml_bytes)
    assert root.tag == "clientConfig" and root.get("version") == "1.1"
    out = []
    for s in root.find("emailProvider"):
        if s.tag in ("incomingServer", "outgoingServer"):
            assert s.findtext("username") == "%EMAILADDRESS%"
            assert s.findtext("authentication") == "password-cleartext"
            out.append((s.get("type"), s.findtext("hostname"), int(s.findtext("port")),
                        s.findtext("socketType")))
    return out


EXAMPLE_SERVERS = [("imap", "mail42.provider.example", 143, "STARTTLS"),
                   ("pop3", "localhost", 995, "SSL"),
                   ("smtp", "smtp.example.test", 465, "SSL")]


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
@pytest.mark.parametrize("path", ["/mail/config-v1.1.xml",
                                  "/.well-known/autoconfig/mail/config-v1.1.xml"])
def test_thunderbird(ac, path, tls):
    status, headers, body = fetch(ac, path + "?emailaddress=alice%40example.test", tls=tls)
    assert status == 200
    assert "xml" in headers["Content-Type"]
    root = ET.fromstring(body)
    provider = root.find("emailProvider")
    assert provider.get("id") == "example.test"
    assert [d.text for d in provider.findall("domain")] == ["example.test", "example.org"]
    assert servers(body) == EXAMPLE_SERVERS
    # POP3-only domain: no IMAP offered.
    status, _, body = fetch(ac, path + "?emailaddress=paul%40POP.test", tls=tls)
    assert status == 200
    assert servers(body) == [("pop3", "localhost", 995, "SSL"),
                             ("smtp", "smtp.example.test", 465, "SSL")]


def test_same_answer_for_any_address_of_a_domain(ac):
    known = fetch(ac, "/mail/config-v1.1.xml?emailaddress=alice@example.test")
    unknown = fetch(ac, "/mail/config-v1.1.xml?emailaddress=nobody-here@example.test")
    alias = fetch(ac, "/mail/config-v1.1.xml?emailaddress=alice@EXAMPLE.org")
    assert known[0] == unknown[0] == alias[0] == 200
    assert known[2] == unknown[2] == alias[2]


def test_thunderbird_host_header_without_address(ac):
    status, _, body = fetch(ac, "/.well-known/autoconfig/mail/config-v1.1.xml",
                            headers={"Host": "autoconfig.pop.test"})
    assert status == 200
    assert ET.fromstring(body).find("emailProvider").get("id") == "pop.test"
    status, _, _ = fetch(ac, "/mail/config-v1.1.xml", headers={"Host": "autoconfig.other.test"})
    assert status == 400


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_outlook_autodiscover_v1(ac, tls):
    port = ac.ports["https" if tls else "http"]
    conn = (http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=tls_ctx())
            if tls else http.client.HTTPConnection("127.0.0.1", port, timeout=10))
    body = OUTLOOK_REQUEST.format(address="Alice@Example.test").encode()
    conn.request("POST", "/Autodiscover/Autodiscover.xml", body=body,
                 headers={"Content-Type": "text/xml", "User-Agent": "Microsoft Office/16.0"})
    resp = conn.getresponse()
    data = resp.read()
    assert resp.status == 200, data
    root = ET.fromstring(data)
    account = root.find(f"{OUTLOOK_NS}Response/{OUTLOOK_NS}Account")
    assert account.findtext(f"{OUTLOOK_NS}AccountType") == "email"
    assert account.findtext(f"{OUTLOOK_NS}Action") == "settings"
    protos = [(p.findtext(f"{OUTLOOK_NS}Type"), p.findtext(f"{OUTLOOK_NS}Server"),
               int(p.findtext(f"{OUTLOOK_NS}Port")), p.findtext(f"{OUTLOOK_NS}SSL"),
               p.findtext(f"{OUTLOOK_NS}LoginName"), p.findtext(f"{OUTLOOK_NS}SPA"),
               p.findtext(f"{OUTLOOK_NS}AuthRequired"))
              for p in account.findall(f"{OUTLOOK_NS}Protocol")]
    assert protos == [
        ("IMAP", "mail42.provider.example", 143, "on", "Alice@Example.test", "off", "on"),
        ("POP3", "localhost", 995, "on", "Alice@Example.test", "off", "on"),
        ("SMTP", "smtp.example.test", 465, "on", "Alice@Example.test", "off", "on"),
    ]
    # A request body that is not the Autodiscover XML, and a foreign domain.
    conn.request("POST", "/autodiscover/autodiscover.xml", body=b"<nope/>")
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 400
    conn.request("POST", "/autodiscover/autodiscover.xml",
                 body=OUTLOOK_REQUEST.format(address="x@foreign.test").encode())
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 404
    conn.close()


def test_outlook_v2_json(ac):
    status, headers, body = fetch(
        ac, "/autodiscover/autodiscover.json?Email=alice%40example.test&Protocol=AutodiscoverV1",
        headers={"Host": "autodiscover.example.test"})
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {
        "Protocol": "AutodiscoverV1",
        "Url": "https://autodiscover.example.test/autodiscover/autodiscover.xml"}
    status, _, body = fetch(
        ac, "/autodiscover/autodiscover.json?Email=alice%40example.test&Protocol=ActiveSync")
    assert status == 404
    assert json.loads(body)["ErrorCode"] == "InvalidProtocol"
    status, _, _ = fetch(ac, "/autodiscover/autodiscover.json?Protocol=AutodiscoverV1")
    assert status == 400


def test_apple_mobileconfig(ac):
    status, headers, body = fetch(ac, "/apple/alice@example.test.mobileconfig", tls=True)
    assert status == 200
    assert headers["Content-Type"] == "application/x-apple-aspen-config"
    profile = plistlib.loads(body)
    assert profile["PayloadType"] == "Configuration"
    (mail,) = profile["PayloadContent"]
    assert mail["PayloadType"] == "com.apple.mail.managed"
    assert mail["EmailAccountType"] == "EmailTypeIMAP"
    assert mail["EmailAddress"] == "alice@example.test"
    assert mail["IncomingMailServerHostName"] == "mail42.provider.example"
    assert mail["IncomingMailServerPortNumber"] == 143
    assert mail["IncomingMailServerUseSSL"] is True
    assert mail["IncomingMailServerUsername"] == "alice@example.test"
    assert mail["OutgoingMailServerHostName"] == "smtp.example.test"
    assert mail["OutgoingMailServerPortNumber"] == 465
    # Installed again: the same identifiers, so it replaces the old profile.
    again = plistlib.loads(fetch(ac, "/apple/alice@example.test.mobileconfig")[2])
    assert again["PayloadUUID"] == profile["PayloadUUID"]
    assert again["PayloadContent"][0]["PayloadUUID"] == mail["PayloadUUID"]
    pop = plistlib.loads(fetch(ac, "/apple/paul%40pop.test.mobileconfig")[2])
    assert pop["PayloadContent"][0]["EmailAccountType"] == "EmailTypePOP"
    assert pop["PayloadContent"][0]["IncomingMailServerPortNumber"] == 995


def test_errors(ac):
    assert fetch(ac, "/mail/config-v1.1.xml?emailaddress=a@foreign.test")[0] == 404
    assert fetch(ac, "/apple/a@foreign.test.mobileconfig")[0] == 404
    assert fetch(ac, "/mail/config-v1.1.xml?emailaddress=not-an-address")[0] == 400
    assert fetch(ac, "/mail/config-v1.1.xml", headers={"Host": "127.0.0.1"})[0] == 400
    status, headers, _ = fetch(ac, "/mail/config-v1.1.xml?emailaddress=a@example.test",
                               method="POST", body=b"x")
    assert status == 405
    assert "GET" in headers["Allow"]
    assert fetch(ac, "/autodiscover/autodiscover.xml")[0] == 405
    assert fetch(ac, "/no/such/path")[0] == 404
    assert fetch(ac, "/")[0] == 404


def test_curl_head_and_tls(ac):
    port = ac.ports["https"]
    out = subprocess.run(
        ["curl", "-sS", "-k", "-I", "--resolve", f"autoconfig.example.test:{port}:127.0.0.1",
         f"https://autoconfig.example.test:{port}/mail/config-v1.1.xml?emailaddress=a%40example.test"],
        capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "HTTP/1.1 200 OK"
    length = [l for l in lines if l.lower().startswith("content-length:")]
    assert length and int(length[0].split(":")[1]) > 100
    full = subprocess.run(
        ["curl", "-sS", "-k", "--resolve", f"autoconfig.example.test:{port}:127.0.0.1",
         f"https://autoconfig.example.test:{port}/mail/config-v1.1.xml"],
        capture_output=True, timeout=20)
    assert full.returncode == 0
    assert servers(full.stdout) == EXAMPLE_SERVERS  # domain from the Host header
    assert int(length[0].split(":")[1]) == len(full.stdout)
    ev = ac.wait_for_event("http", method="HEAD")
    assert ev["status"] == 200 and ev["path"] == "/mail/config-v1.1.xml"
    assert "emailaddress" not in json.dumps(ev)  # never the query string


def read_response(sock, buf=b""):
    """One response from a raw socket: (status, headers dict, body, rest)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError(buf)
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError(rest)
        rest += chunk
    return status, headers, rest[:n], rest[n:]


def test_keep_alive_two_requests_one_connection(ac):
    sock = socket.create_connection(("127.0.0.1", ac.ports["http"]), timeout=10)
    sock.sendall(b"GET /mail/config-v1.1.xml?emailaddress=a@example.test HTTP/1.1\r\n"
                 b"Host: autoconfig.example.test\r\n\r\n")
    status, headers, body, rest = read_response(sock)
    assert status == 200 and "connection" not in headers
    # The second one pipelined with a third that asks to close.
    sock.sendall(b"GET /apple/a@pop.test.mobileconfig HTTP/1.1\r\nHost: h\r\n\r\n"
                 b"GET /nothing HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    status, headers, body, rest = read_response(sock, rest)
    assert status == 200
    assert plistlib.loads(body)["PayloadContent"][0]["EmailAccountType"] == "EmailTypePOP"
    status, headers, body, rest = read_response(sock, rest)
    assert status == 404 and headers["connection"] == "close"
    assert sock.recv(100) == b""
    sock.close()
    events = [e for e in ac.events() if e.get("event") == "http"]
    assert len({e["session"] for e in events[-3:]}) == 1


def test_http_client_keep_alive(ac):
    conn = http.client.HTTPConnection("127.0.0.1", ac.ports["http"], timeout=10)
    conn.request("GET", "/mail/config-v1.1.xml?emailaddress=a@example.test")
    r1 = conn.getresponse()
    r1.read()
    sock = conn.sock
    conn.request("GET", "/mail/config-v1.1.xml?emailaddress=b@pop.test")
    r2 = conn.getresponse()
    r2.read()
    assert r1.status == r2.status == 200
    assert conn.sock is sock  # not reopened
    conn.close()


def test_over_long_header_gets_431_and_close(ac):
    sock = socket.create_connection(("127.0.0.1", ac.ports["http"]), timeout=10)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: h\r\nX-Filler: " + b"a" * 4000 + b"\r\n\r\n")
    status, headers, _, _ = read_response(sock)
    assert status == 431
    assert headers["connection"] == "close"
    assert sock.recv(100) == b""


def test_body_too_large_gets_413(ac):
    sock = socket.create_connection(("127.0.0.1", ac.ports["http"]), timeout=10)
    sock.sendall(b"POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: h\r\n"
                 b"Content-Length: 100000\r\n\r\n")
    status, headers, _, _ = read_response(sock)
    assert status == 413 and headers["connection"] == "close"


def test_half_request_closed_after_idle_timeout(ac):
    sock = socket.create_connection(("127.0.0.1", ac.ports["http"]), timeout=10)
    sock.sendall(b"GET /mail/config-v1.1.xml HTTP/1.1\r\nHost: autocon")
    started = time.time()
    assert sock.recv(100) == b""
    took = time.time() - started
    assert 0.5 < took < 5, took
    ac.wait_for_event("timeout", proto="autoconfig", mid_request=True)


def mutate(rng, base: bytes) -> bytes:
    data = bytearray(base)
    for _ in range(rng.randint(1, 8)):
        op = rng.randint(0, 3)
        pos = rng.randrange(len(data) + 1)
        if op == 0 and data:
            data[min(pos, len(data) - 1)] = rng.randrange(256)
        elif op == 1:
            data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 20)))
        elif op == 2 and data:
            del data[pos:pos + rng.randint(1, 10)]
        else:
            data[pos:pos] = rng.choice([b"\r\n", b"%", b"%00", b"?", b"@", b"&", b"<", b":",
                                        b"Content-Length: 5\r\n", b"Transfer-Encoding: chunked\r\n",
                                        b"\x00", b"\xff\xfe", b" HTTP/1.1", b"\r\n\r\n"])
    return bytes(data) + b"\r\n\r\n"


BASES = [
    b"GET /mail/config-v1.1.xml?emailaddress=a%40example.test HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET /apple/a@example.test.mobileconfig HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET /autodiscover/autodiscover.json?Email=a@pop.test&Protocol=AutodiscoverV1 HTTP/1.1\r\n"
    b"Host: h\r\n\r\n",
    b"POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: h\r\nContent-Length: 93\r\n\r\n"
    b"<Autodiscover><Request><EMailAddress>a@example.test</EMailAddress></Request></Autodiscover>",
]


def garbage_exchange(port, payload):
    """Sends payload; returns every status line the server answered with."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    got = b""
    try:
        s.sendall(payload)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except (ConnectionResetError, BrokenPipeError, socket.timeout):
        pass
    finally:
        s.close()
    return [int(l.split()[1]) for l in got.split(b"\r\n")
            if l.startswith(b"HTTP/1.1 ") and len(l.split()) > 1 and l.split()[1].isdigit()]


def test_garbage_never_500_never_kills(ac):
    rng = random.Random(20261126)
    payloads = []
    for i in range(200):
        if i % 4 == 0:
            payloads.append(bytes(rng.randrange(256) for _ in range(rng.randint(1, 300)))
                            + b"\r\n\r\n")
        else:
            payloads.append(mutate(rng, rng.choice(BASES)))
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda p: garbage_exchange(ac.ports["http"], p), payloads))
    statuses = [s for r in results for s in r]
    assert statuses, "no answers at all"
    assert 500 not in statuses
    assert ac.proc.poll() is None
    assert not [e for e in ac.events() if e.get("event") == "http" and e.get("status") == 500]
    # Still serving.
    assert fetch(ac, "/mail/config-v1.1.xml?emailaddress=a@example.test")[0] == 200


def test_reload_applies_to_next_request(ac):
    main, _ = domain_texts()
    ac.write_domain(text=main.replace("mail42.provider.example", "mail43.provider.example"))
    ac.reload()
    _, _, body = fetch(ac, "/mail/config-v1.1.xml?emailaddress=a@example.test")
    assert servers(body)[0][1] == "mail43.provider.example"


def test_starttls_autoconfig_listener_is_rejected(roost_factory):
    r = roost_factory()
    (port,) = free_ports(1)
    text = r.config_path.read_text().replace(
        "listeners:\n",
        f"listeners:\n  - {{ protocol: autoconfig, address: 127.0.0.1, port: {port}, "
        "tls: starttls }\n", 1)
    r.config_path.write_text(text)
    out = subprocess.run([str(ROOST), "check-config", "-c", str(r.config_path)],
                         capture_output=True, text=True)
    assert out.returncode == 1
    assert f"{r.config_path}:" in out.stdout + out.stderr
    assert "starttls" in out.stdout + out.stderr


def dns(r, domain):
    return subprocess.run([str(ROOST), "dns", "-c", str(r.config_path), domain],
                          capture_output=True, text=True)


def record(out, name):
    for line in out.splitlines():
        if line.split() and line.split()[0] == name:
            return " ".join(line.split()[1:])
    raise AssertionError(f"no {name} in\n{out}")


def test_roost_dns(roost_factory):
    r = roost_factory(extra_config=PUBLIC)
    main, pop = domain_texts()
    r.write_domain(text=main)
    r.write_domain(name="pop.test", text=pop)
    out = dns(r, "example.test")
    assert out.returncode == 0, out.stderr
    z = out.stdout
    assert record(z, "_imaps._tcp.example.test.") == "3600 IN SRV 0 0 0 ."
    assert record(z, "_imap._tcp.example.test.") == "3600 IN SRV 0 1 143 mail42.provider.example."
    assert record(z, "_pop3s._tcp.example.test.") == "3600 IN SRV 0 1 995 localhost."
    assert record(z, "_pop3._tcp.example.test.") == "3600 IN SRV 0 0 0 ."
    assert record(z, "_submissions._tcp.example.test.") == "3600 IN SRV 0 1 465 smtp.example.test."
    assert record(z, "_submission._tcp.example.test.") == "3600 IN SRV 0 0 0 ."
    assert record(z, "autoconfig.example.test.") == "3600 IN CNAME localhost."
    assert record(z, "autodiscover.example.test.") == "3600 IN CNAME localhost."
    assert record(z, "_autodiscover._tcp.example.test.") == "3600 IN SRV 0 1 443 localhost."
    assert "no autoconfig listener" in z
    z = dns(r, "POP.test").stdout
    assert record(z, "_imaps._tcp.pop.test.") == "3600 IN SRV 0 0 0 ."
    assert record(z, "_pop3s._tcp.pop.test.") == "3600 IN SRV 0 1 995 localhost."
    z = dns(r, "example.org").stdout
    assert record(z, "_imap._tcp.example.org.") == "3600 IN SRV 0 1 143 mail42.provider.example."
    bad = dns(r, "foreign.test")
    assert bad.returncode == 1
    assert "foreign.test" in bad.stderr and "not a domain this server serves" in bad.stderr
    assert bad.stdout == ""
    usage = subprocess.run([str(ROOST), "dns"], capture_output=True, text=True)
    assert usage.returncode == 64
