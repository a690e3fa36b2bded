"""TLS certificates per host name (tls.sni) on the implicit-TLS listeners.

Certificates are made here with openssl: the default one for
mail.example.test, one for a customer's mail.example.fr and a wildcard for
*.example.de. The test compares the exact certificate the server presents.
"""
import socket
import ssl
import subprocess

from conftest import client_tls_context


def make_cert(directory, stem, cn, key_name=None):
    key, cert = directory / (key_name or f"{stem}.key"), directory / f"{stem}.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", f"/CN={cn}", "-addext", f"subjectAltName=DNS:{cn}",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def der(cert_path):
    return ssl.PEM_cert_to_DER_cert(cert_path.read_text())


def served(port, name):
    """The certificate (DER) presented for server name `name` (None: no SNI)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        with client_tls_context().wrap_socket(s, server_hostname=name) as t:
            return t.getpeercert(binary_form=True)


def sni_roost(roost_factory):
    r = roost_factory()
    tls = r.root / "tls"
    tls.mkdir(parents=True, exist_ok=True)
    make_cert(tls, "cert", "mail.example.test", key_name="key.pem")
    make_cert(tls, "fr", "mail.example.fr")
    make_cert(tls, "de", "*.example.de")
    text = r.config_path.read_text()
    anchor = "  private_key: tls/key.pem\n"
    assert anchor in text
    text = text.replace(anchor, anchor + """  sni:
    mail.example.fr: { certificate: tls/fr.pem, private_key: tls/fr.key }
    "*.example.de": { certificate: tls/de.pem, private_key: tls/de.key }
""")
    r.config_path.write_text(text)
    return r.start()


def test_certificate_chosen_by_server_name(roost_factory):
    r = sni_roost(roost_factory)
    tls = r.root / "tls"
    default, fr, de = der(tls / "cert.pem"), der(tls / "fr.pem"), der(tls / "de.pem")
    assert len({default, fr, de}) == 3
    for port in (r.ports["imaps"], r.ports["pop3s"]):
        assert served(port, "mail.example.fr") == fr
        assert served(port, "MAIL.Example.FR") == fr
        assert served(port, "mail.example.test") == default
        assert served(port, "unknown.example.net") == default
        assert served(port, None) == default
        assert served(port, "imap.example.de") == de
        # One label only: a deeper name falls back to the default.
        assert served(port, "a.b.example.de") == default
    ev = r.wait_for_event("tls", sni="mail.example.fr")
    assert ev["proto"] in ("imap", "pop3")


def test_sighup_swaps_certificates_and_keeps_sessions(roost_factory):
    r = sni_roost(roost_factory)
    tls = r.root / "tls"
    old_fr = der(tls / "fr.pem")

    # An IMAP session made with the old certificate, logged in and selected.
    s = socket.create_connection(("127.0.0.1", r.ports["imaps"]), timeout=5)
    t = client_tls_context().wrap_socket(s, server_hostname="mail.example.fr")
    assert t.getpeercert(binary_form=True) == old_fr
    f = t.makefile("rb")
    assert f.readline().startswith(b"* OK")
    t.sendall(b'a1 LOGIN alice@example.test "alice-secret"\r\na2 SELECT INBOX\r\n')
    while not (line := f.readline()).startswith(b"a2 "):
        assert line
    assert line.startswith(b"a2 OK")

    # Replace the customer's certificate (new key too) the way an ACME client
    # does: new files renamed into place, then SIGHUP.
    new = tls / "new"
    new.mkdir()
    make_cert(new, "fr", "mail.example.fr")
    (new / "fr.pem").rename(tls / "fr.pem")
    (new / "fr.key").rename(tls / "fr.key")
    new_fr = der(tls / "fr.pem")
    assert new_fr != old_fr
    r.reload()
    assert served(r.ports["imaps"], "mail.example.fr") == new_fr
    assert served(r.ports["pop3s"], "mail.example.fr") == new_fr

    # The session opened before the reload goes on.
    t.sendall(b"a3 NOOP\r\na4 STATUS INBOX (MESSAGES)\r\n")
    while not (line := f.readline()).startswith(b"a4 "):
        assert line
    assert line.startswith(b"a4 OK")

    # A broken replacement is refused: the certificates in use stay, logged.
    (tls / "fr.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64\n")
    errors_before = len([e for e in r.events()
                         if e.get("event") == "reload" and e.get("level") == "error"])
    r.reload()
    errors = [e for e in r.events() if e.get("event") == "reload" and e.get("level") == "error"]
    assert len(errors) > errors_before
    assert "certificates" in errors[-1]["reason"] and "kept" in errors[-1]["reason"]
    assert served(r.ports["imaps"], "mail.example.fr") == new_fr
    assert served(r.ports["imaps"], "mail.example.test") == der(tls / "cert.pem")
    t.sendall(b"a5 LOGOUT\r\n")
    t.close()
