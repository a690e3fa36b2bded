"""GET /metrics after real IMAP, POP3 and LMTP traffic, read with the
Prometheus client library's own parser (python3-prometheus-client)."""
import imaplib
import poplib

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import make_message
from imap_util import poll
from test_admin import AdminRoost, lmtp_deliver


@pytest.fixture
def roost(tmp_path):
    r = AdminRoost(tmp_path / "r0")
    r.start()
    yield r
    try:
        r.stop()
    finally:
        r.cleanup()


def scrape(r):
    """{"types": {metric name: type}, "samples": {sample name: [Sample]}}.
    The parser names a counter family without its _total suffix (OpenMetrics
    style), so types are keyed by the name as exposed."""
    status, headers, body = r.request("GET", "/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    out = {"types": {}, "samples": {}}
    for f in text_string_to_metric_families(body.decode()):
        key = f.name + "_total" if f.type == "counter" else f.name
        out["types"][key] = f.type
        for s in f.samples:
            out["samples"].setdefault(s.name, []).append(s)
    return out


def value(m, sample_name, **labels):
    """The sample with exactly these labels (0 when absent)."""
    for s in m["samples"].get(sample_name, []):
        if s.labels == labels:
            return s.value
    return 0


def histogram_buckets(m, family, **labels):
    out = []
    for s in m["samples"].get(family + "_bucket", []):
        rest = {k: v for k, v in s.labels.items() if k != "le"}
        if rest == labels:
            out.append((float(s.labels["le"]), s.value))
    return sorted(out)


def test_counters_move_with_traffic(roost):
    before = scrape(roost)
    # Types as documented.
    types = before["types"]
    assert types["roost_connections"] == "gauge"
    assert types["roost_connections_total"] == "counter"
    assert types["roost_logins_total"] == "counter"
    assert types["roost_commands_total"] == "counter"
    assert types["roost_command_duration_seconds"] == "histogram"
    assert types["roost_bytes_received_total"] == "counter"
    assert types["roost_bytes_sent_total"] == "counter"
    assert types["roost_deliveries_total"] == "counter"
    assert types["roost_quota_refusals_total"] == "counter"
    assert types["roost_index_rebuilds_total"] == "counter"
    assert types["roost_auth_throttled_total"] == "counter"
    assert types["roost_domains_broken"] == "gauge"
    build = before["samples"]["roost_build_info"][0]
    assert build.value == 1 and build.labels["version"]

    # LMTP: two stored, one over quota (tiny has a 1 KiB quota).
    assert lmtp_deliver(roost, "alice@example.test", make_message(1)).startswith("250")
    assert lmtp_deliver(roost, "bob@example.test", make_message(2)).startswith("250")
    big = make_message(3, body_lines=200)
    from lmtp_util import RawLmtp
    c = RawLmtp(roost.lmtp_port)
    c.lhlo()
    c.cmd("MAIL FROM:<s@example.net>")
    rcpt = c.cmd("RCPT TO:<tiny@example.test>")
    if rcpt.startswith("250"):
        c.cmd("DATA")
        c.send(big.replace(b"\n", b"\r\n") + b".\r\n")
        c.line()
    c.cmd("QUIT")

    # IMAP: a login, SELECT, FETCH, an unknown command, a failed login.
    m = imaplib.IMAP4("127.0.0.1", roost.ports["imap"], timeout=10)
    m.login("alice@example.test", "alice-secret")
    m.select("INBOX")
    m.fetch("1", "(FLAGS)")
    try:
        m.xatom("XYZZY")
    except imaplib.IMAP4.error:
        pass
    # While connected: the gauge shows it.
    during = scrape(roost)
    assert value(during, "roost_connections", protocol="imap", tls="no") >= 1
    m.logout()
    bad = imaplib.IMAP4("127.0.0.1", roost.ports["imap"], timeout=10)
    with pytest.raises(imaplib.IMAP4.error):
        bad.login("alice@example.test", "wrong")
    bad.logout()

    # POP3: login, STAT, RETR, QUIT.
    p = poplib.POP3("127.0.0.1", roost.ports["pop3"], timeout=10)
    p.user("bob@example.test")
    p.pass_("bob-pw")
    p.stat()
    p.retr(1)
    p.quit()

    after = scrape(roost)

    def moved(name, by=1, **labels):
        a = value(after, name, **labels)
        b = value(before, name, **labels)
        assert a - b >= by, (name, labels, b, a)
        return a - b

    assert moved("roost_logins_total", protocol="imap", result="ok") == 1
    assert moved("roost_logins_total", protocol="imap", result="fail") == 1
    assert moved("roost_logins_total", protocol="pop3", result="ok") == 1
    moved("roost_connections_total", protocol="imap", by=2)
    moved("roost_connections_total", protocol="pop3")
    moved("roost_connections_total", protocol="lmtp", by=3)
    for cmd in ("LOGIN", "SELECT", "FETCH", "LOGOUT"):
        moved("roost_commands_total", protocol="imap", command=cmd)
    # The unknown command folds into "other", never its own series.
    moved("roost_commands_total", protocol="imap", command="other")
    commands = {s.labels["command"] for s in after["samples"]["roost_commands_total"]}
    assert "XYZZY" not in commands
    for cmd in ("USER", "PASS", "STAT", "RETR", "QUIT"):
        moved("roost_commands_total", protocol="pop3", command=cmd)
    moved("roost_bytes_received_total", protocol="imap", by=50)
    moved("roost_bytes_sent_total", protocol="pop3", by=100)
    moved("roost_bytes_received_total", protocol="lmtp", by=100)
    assert moved("roost_deliveries_total", result="stored") == 2
    moved("roost_quota_refusals_total")
    # Connections closed again: the gauge is back (the server may see the
    # last close a moment after the client).
    for proto in ("imap", "pop3"):
        assert poll(lambda: value(scrape(roost), "roost_connections", protocol=proto,
                                  tls="no") == 0), proto

    # Histogram: cumulative buckets, +Inf == _count, _sum > 0.
    buckets = histogram_buckets(after, "roost_command_duration_seconds", protocol="imap",
                                command="SELECT")
    assert len(buckets) == 15
    counts = [c for _, c in buckets]
    assert counts == sorted(counts)
    assert buckets[-1][0] == float("inf")
    total = value(after, "roost_command_duration_seconds_count", protocol="imap",
                  command="SELECT")
    assert buckets[-1][1] == total >= 1
    assert value(after, "roost_command_duration_seconds_sum", protocol="imap",
                 command="SELECT") > 0


def test_throttled_logins_and_index_rebuilds_are_counted(roost):
    before = scrape(roost)
    for _ in range(2):
        bad = imaplib.IMAP4("127.0.0.1", roost.ports["imap"], timeout=10)
        with pytest.raises(imaplib.IMAP4.error):
            bad.login("bob@example.test", "wrong")
        bad.logout()
    # The second failure from the same pair waits: counted as throttled.
    after = scrape(roost)
    assert value(after, "roost_auth_throttled_total") > \
        value(before, "roost_auth_throttled_total")

    # A mailbox opened without an index is rebuilt from the Maildir.
    assert lmtp_deliver(roost, "alice@example.test", make_message(1)).startswith("250")
    index = roost.root / "state" / "index" / "example.test" / "alice" / "INBOX.idx"
    rebuilt_before = value(scrape(roost), "roost_index_rebuilds_total")
    roost.stop()
    if index.exists():
        index.unlink()
    roost.start()
    m = imaplib.IMAP4("127.0.0.1", roost.ports["imap"], timeout=10)
    m.login("alice@example.test", "alice-secret")
    m.select("INBOX")
    m.logout()
    assert value(scrape(roost), "roost_index_rebuilds_total") >= 1
    assert rebuilt_before >= 0


def test_metrics_need_the_token(roost):
    status, _, body = roost.request("GET", "/metrics", token="")
    assert status == 401 and b"roost_" not in body
    status, _, body = roost.request("GET", "/metrics", token="nope")
    assert status == 401 and b"roost_" not in body
