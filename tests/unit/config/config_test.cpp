// roost.yaml: sizes, durations, domain names, the schema and its diagnostics.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "core/config/config.h"
#include "tests/unit/config/test_util.h"

using namespace core::config;
using namespace std::chrono_literals;
using test_util::TempDir;

TEST_CASE("parse_size") {
  CHECK(parse_size("0") == 0u);
  CHECK(parse_size("1024") == 1024u);
  CHECK(parse_size("64KiB") == 65536u);
  CHECK(parse_size("64K") == 65536u);
  CHECK(parse_size("64k") == 65536u);
  CHECK(parse_size("8 KiB") == 8192u);
  CHECK(parse_size("64MiB") == 64ull << 20);
  CHECK(parse_size("10GiB") == 10ull << 30);
  CHECK(parse_size("2T") == 2ull << 40);
  CHECK(parse_size("10KB") == 10000u);
  CHECK(parse_size("10MB") == 10000000u);
  CHECK(parse_size("3GB") == 3000000000ull);
  CHECK(parse_size("1TB") == 1000000000000ull);
  CHECK(parse_size("1.5K") == 1536u);
  CHECK(parse_size("0.5GiB") == 512ull << 20);
  CHECK(parse_size("unlimited") == kUnlimited);
  CHECK(parse_size("Unlimited") == kUnlimited);
  CHECK(parse_size("100B") == 100u);
  CHECK_FALSE(parse_size(""));
  CHECK_FALSE(parse_size("K"));
  CHECK_FALSE(parse_size("-1"));
  CHECK_FALSE(parse_size("1.5"));  // a fraction of a byte
  CHECK_FALSE(parse_size("12XB"));
  CHECK_FALSE(parse_size("1."));
  CHECK_FALSE(parse_size("99999999999999999999"));
  CHECK_FALSE(parse_size("16777216TiB"));  // 2^64: overflow
  CHECK(parse_size("16777215TiB") == 16777215ull << 40);
}

TEST_CASE("parse_duration") {
  CHECK(parse_duration("30s") == Duration(30s));
  CHECK(parse_duration("10m") == Duration(10min));
  CHECK(parse_duration("2h") == Duration(2h));
  CHECK(parse_duration("7d") == Duration(7 * 24h));
  CHECK(parse_duration("1w") == Duration(7 * 24h));
  CHECK(parse_duration("500ms") == Duration(500ms));
  CHECK(parse_duration("1h30m") == Duration(90min));
  CHECK(parse_duration("1m 5s") == Duration(65s));
  CHECK(parse_duration("0") == Duration(0));
  CHECK(parse_duration("0s") == Duration(0));
  CHECK_FALSE(parse_duration(""));
  CHECK_FALSE(parse_duration("10"));  // a unit is required
  CHECK_FALSE(parse_duration("5x"));
  CHECK_FALSE(parse_duration("s"));
  CHECK_FALSE(parse_duration("-5s"));
  CHECK_FALSE(parse_duration("1.5h"));
  CHECK_FALSE(parse_duration("99999999999999999999d"));
  CHECK_FALSE(parse_duration("9223372036854775807d"));
}

TEST_CASE("normalize_domain") {
  CHECK(normalize_domain("example.test") == "example.test");
  CHECK(normalize_domain("Example.TEST") == "example.test");
  CHECK(normalize_domain("example.test.") == "example.test");
  CHECK(normalize_domain("localhost") == "localhost");
  CHECK(normalize_domain("bücher.example") == "xn--bcher-kva.example");
  CHECK(normalize_domain("Bücher.Example") == "xn--bcher-kva.example");
  CHECK(normalize_domain("xn--bcher-kva.example") == "xn--bcher-kva.example");
  CHECK(normalize_domain("XN--BCHER-KVA.example") == "xn--bcher-kva.example");
  CHECK(normalize_domain("münchen.de") == "xn--mnchen-3ya.de");
  CHECK_FALSE(normalize_domain(""));
  CHECK_FALSE(normalize_domain("."));
  CHECK_FALSE(normalize_domain("a_b.test"));
  CHECK_FALSE(normalize_domain("ex ample.test"));
  CHECK_FALSE(normalize_domain("-a.test"));
  CHECK_FALSE(normalize_domain("a..test"));
  CHECK_FALSE(normalize_domain("user@example.test"));
  CHECK_FALSE(normalize_domain("xn--zz.example"));  // broken punycode
  CHECK_FALSE(normalize_domain(std::string(64, 'a') + ".test"));
  CHECK(normalize_domain(std::string(63, 'a') + ".test"));
}

TEST_CASE("Diagnostic::str") {
  CHECK(Diagnostic{"/etc/roost/roost.yaml", 12, "bad"}.str() == "/etc/roost/roost.yaml:12: bad");
  CHECK(Diagnostic{"/etc/roost/roost.yaml", 0, "bad"}.str() == "/etc/roost/roost.yaml: bad");
  CHECK(Diagnostic{"", 0, "bad"}.str() == "bad");
}

TEST_CASE("to_string(Protocol)") {
  CHECK(std::string(to_string(Protocol::kImap)) == "imap");
  CHECK(std::string(to_string(Protocol::kPop3)) == "pop3");
  CHECK(std::string(to_string(Protocol::kLmtp)) == "lmtp");
  CHECK(std::string(to_string(Protocol::kQuotaStatus)) == "quota_status");
  CHECK(std::string(to_string(Protocol::kAdmin)) == "admin");
  CHECK(std::string(to_string(Protocol::kAutoconfig)) == "autoconfig");
}

TEST_CASE("an empty file gives every default") {
  auto r = load_config_text("", "/srv/roost/roost.yaml");
  REQUIRE(r.config);
  CHECK(r.errors.empty());
  const Config& c = *r.config;
  CHECK(c.file == "/srv/roost/roost.yaml");
  CHECK(c.domains_dir == "/srv/roost/domains.d");
  CHECK(c.listeners.empty());
  CHECK(c.server.hostname == "localhost");
  CHECK(c.limits.line_length == 64 * 1024);
  CHECK(c.policy.quota == 10ull << 30);
  CHECK(c.policy.allows(Protocol::kImap));
  CHECK(c.policy.allows(Protocol::kPop3));
  CHECK_FALSE(c.policy.allows(Protocol::kLmtp));
  CHECK(c.log.json);
}

const char* kSpecExample = R"(server:
  hostname: mail.example.test
  state_dir: var/state
  user: roost
  shutdown_grace: 10s
log:
  format: json
  level: info
tls:
  certificate: var/tls/cert.pem
  private_key: var/tls/key.pem
  min_version: "1.2"
  sni:
    mail.example.fr: { certificate: fr/cert.pem, private_key: /abs/fr/key.pem }
listeners:
  - { protocol: imap, address: 127.0.0.1, port: 10143, tls: starttls }
  - { protocol: imap, address: 127.0.0.1, port: 10993, tls: implicit }
  - { protocol: pop3, address: 127.0.0.1, port: 10110, tls: starttls }
  - { protocol: pop3, address: 127.0.0.1, port: 10995, tls: implicit }
  - { protocol: lmtp, address: 127.0.0.1, port: 10024 }
  - { protocol: lmtp, path: var/run/lmtp.sock, mode: "0660", group: postfix }
  - { protocol: quota_status, address: 127.0.0.1, port: 10030 }
  - { protocol: admin, address: 127.0.0.1, port: 10080, token_file: admin.token }
  - { protocol: autoconfig, address: 127.0.0.1, port: 10081, tls: none }
  - { protocol: imap, address: "::1", port: 10143, proxy_protocol: true }
public:
  imap: { host: mail.example.test, port: 993, tls: implicit }
  pop3: { host: mail.example.test, port: 995, tls: implicit }
  smtp: { host: smtp.example.test, port: 465, tls: implicit }
store:
  backend: maildir
  path: var/mail/{domain}/{user}
limits:
  connections_per_user_ip: 50
  connections_per_ip: 1000
  line_length: 64KiB
  line_length_preauth: 8KiB
  literal_size: 64MiB
  auth_failure_delay: 2s
  auth_failure_delay_max: 15s
  idle_timeout: { imap: 30m, pop3: 10m, lmtp: 5m, preauth: 1m }
trusted_networks: [10.0.0.5/32, 192.168.0.0/16, "2001:db8::/32"]
policy:
  protocols: [imap, pop3]
  plaintext_auth: tls_only
  quota: 10GiB
  quota_messages: unlimited
  quota_exceeded: reject
  quota_warning: { at: 90%, message: null }
  pop3:
    on_delete: expunge
    mark_seen: true
  delivery:
    detail: folder
  special_use:
    drafts: Drafts
    sent: Sent
    trash: Trash
    junk: Junk
    archive: Archive
domains_dir: domains.d
)";

TEST_CASE("the SPEC's example loads, with relative paths made absolute") {
  auto r = load_config_text(kSpecExample, "/etc/roost/roost.yaml");
  INFO(test_util::dump(r.errors));
  REQUIRE(r.config);
  CHECK(r.errors.empty());
  const Config& c = *r.config;
  CHECK(c.server.hostname == "mail.example.test");
  CHECK(c.server.state_dir == "/etc/roost/var/state");
  CHECK(c.server.user == "roost");
  CHECK(c.tls.default_pair.certificate == "/etc/roost/var/tls/cert.pem");
  CHECK(c.tls.default_pair.private_key == "/etc/roost/var/tls/key.pem");
  REQUIRE(c.tls.sni.count("mail.example.fr"));
  CHECK(c.tls.sni.at("mail.example.fr").certificate == "/etc/roost/fr/cert.pem");
  CHECK(c.tls.sni.at("mail.example.fr").private_key == "/abs/fr/key.pem");
  REQUIRE(c.listeners.size() == 10);
  CHECK(c.listeners[0].protocol == Protocol::kImap);
  CHECK(c.listeners[0].address == "127.0.0.1");
  CHECK(c.listeners[0].port == 10143);
  CHECK(c.listeners[0].tls == TlsMode::kStartTls);
  CHECK(c.listeners[0].where.line == 16);
  CHECK(c.listeners[1].tls == TlsMode::kImplicit);
  CHECK(c.listeners[5].protocol == Protocol::kLmtp);
  CHECK(c.listeners[5].path == "/etc/roost/var/run/lmtp.sock");
  CHECK(c.listeners[5].mode == 0660);
  CHECK(c.listeners[5].group == "postfix");
  CHECK(c.listeners[5].address.empty());
  CHECK(c.listeners[6].protocol == Protocol::kQuotaStatus);
  CHECK(c.listeners[7].token_file == "/etc/roost/admin.token");
  CHECK(c.listeners[8].protocol == Protocol::kAutoconfig);
  CHECK(c.listeners[9].address == "::1");
  CHECK(c.listeners[9].proxy_protocol);
  REQUIRE(c.public_settings.smtp);
  CHECK(c.public_settings.smtp->host == "smtp.example.test");
  CHECK(c.public_settings.smtp->port == 465);
  CHECK(c.store.path == "/etc/roost/var/mail/{domain}/{user}");
  CHECK(c.limits.idle_timeout.imap == Duration(30min));
  CHECK(c.limits.idle_timeout.preauth == Duration(1min));
  CHECK(c.limits.literal_size == 64ull << 20);
  CHECK(c.domains_dir == "/etc/roost/domains.d");
  CHECK(c.policy.quota_messages == kUnlimited);
  CHECK(c.policy.quota_warning.at_percent == 90);
  CHECK_FALSE(c.policy.quota_warning.message_file);
  REQUIRE(c.trusted_networks.size() == 3);
  CHECK(c.trusted_networks[0].contains("10.0.0.5"));
  CHECK_FALSE(c.trusted_networks[0].contains("10.0.0.6"));
  CHECK(c.trusted_networks[1].contains("192.168.44.1"));
  CHECK(c.trusted_networks[1].contains("::ffff:192.168.1.1"));
  CHECK_FALSE(c.trusted_networks[1].contains("192.169.0.1"));
  CHECK(c.trusted_networks[2].contains("2001:db8:1::5"));
  CHECK_FALSE(c.trusted_networks[2].contains("2001:db9::1"));
  CHECK_FALSE(c.trusted_networks[2].contains("10.0.0.5"));
  CHECK_FALSE(c.trusted_networks[0].contains("not an ip"));
}

TEST_CASE("extension keys") {
  auto r = load_config_text(R"(server:
  workers: 3
store:
  backend: memory
  fsync: false
  exclusive: true
limits:
  auth_failures_per_ip: 7
  bad_commands: 3
  auth_workers: 1
  store_workers: 2
  auth_queue: 10
  auth_cache_ttl: 500ms
  output_buffer: 1MiB
policy:
  quota_messages: 5000
  quota_warning: { at: 80, message: warn.txt }
  pop3: { on_delete: hide, mark_seen: false }
  delivery: { detail: inbox }
)",
                            "/x/roost.yaml");
  INFO(test_util::dump(r.errors));
  REQUIRE(r.config);
  const Config& c = *r.config;
  CHECK(c.server.workers == 3);
  CHECK(c.store.backend == "memory");
  CHECK_FALSE(c.store.fsync);
  CHECK(c.store.exclusive);
  CHECK(c.limits.auth_failures_per_ip == 7);
  CHECK(c.limits.bad_commands == 3);
  CHECK(c.limits.auth_workers == 1);
  CHECK(c.limits.store_workers == 2);
  CHECK(c.limits.auth_queue == 10);
  CHECK(c.limits.auth_cache_ttl == Duration(500ms));
  CHECK(c.limits.output_buffer == 1u << 20);
  CHECK(c.policy.quota_messages == 5000);
  CHECK(c.policy.quota_warning.at_percent == 80);
  CHECK(c.policy.quota_warning.message_file == "/x/warn.txt");
  CHECK(c.policy.pop3.on_delete == OnDelete::kHide);
  CHECK_FALSE(c.policy.pop3.mark_seen);
  CHECK(c.policy.detail == DetailDelivery::kInbox);
}

TEST_CASE("relative paths resolve against the file's directory") {
  TempDir tmp;
  std::string file = tmp.write("conf/roost.yaml", R"(server:
  state_dir: ../state/./x/
tls:
  certificate: tls/cert.pem
  private_key: ./tls/../tls/key.pem
store:
  path: ../mail/{domain}/{user}
domains_dir: /abs/domains
)");
  auto r = load_config(file);
  INFO(test_util::dump(r.errors));
  REQUIRE(r.config);
  const Config& c = *r.config;
  CHECK(c.file == file);
  CHECK(c.server.state_dir == tmp.path() + "/state/x");
  CHECK(c.tls.default_pair.certificate == tmp.path() + "/conf/tls/cert.pem");
  CHECK(c.tls.default_pair.private_key == tmp.path() + "/conf/tls/key.pem");
  CHECK(c.store.path == tmp.path() + "/mail/{domain}/{user}");
  CHECK(c.domains_dir == "/abs/domains");
}

TEST_CASE("every problem is reported with its line, not just the first") {
  auto r = load_config_text(R"(server:
  hostname: mail.example.test
  shutdown_grace: soon
  colour: blue
log:
  format: xml
limits:
  line_length: 64QiB
  connections_per_ip: many
  idle_timeout: { imap: 30m, smtp: 5m }
policy:
  quota: lots
  protocols: [imap, smtp]
  pop3: { on_delete: shred }
  plaintext_auth: [yes]
  quota_warning: { at: 150% }
frobnicate: true
store:
  fsync: maybe
)",
                            "/etc/roost/roost.yaml");
  CHECK_FALSE(r.config);
  CHECK_DIAG(r.errors, "server.shutdown_grace: expected a duration", 3);
  CHECK_DIAG(r.errors, "server.colour: unknown key", 4);
  CHECK_DIAG(r.errors, "log.format: expected json | text, got \"xml\"", 6);
  CHECK_DIAG(r.errors, "limits.line_length: expected a size", 8);
  CHECK_DIAG(r.errors, "limits.connections_per_ip: expected a whole number", 9);
  CHECK_DIAG(r.errors, "limits.idle_timeout.smtp: unknown key", 10);
  CHECK_DIAG(r.errors, "policy.quota: expected a size", 12);
  CHECK_DIAG(r.errors, "policy.protocols: expected imap or pop3, got \"smtp\"", 13);
  CHECK_DIAG(r.errors, "policy.pop3.on_delete: expected expunge | hide | archive", 14);
  CHECK_DIAG(r.errors, "policy.plaintext_auth: expected a string, got a list", 15);
  CHECK_DIAG(r.errors, "policy.quota_warning.at: expected a percentage", 16);
  CHECK_DIAG(r.errors, "frobnicate: unknown key", 17);
  CHECK_DIAG(r.errors, "store.fsync: expected true or false", 19);
  CHECK(r.errors.size() == 13);
  for (const auto& d : r.errors) CHECK(d.file == "/etc/roost/roost.yaml");
}

TEST_CASE("wrong types of sections") {
  auto r = load_config_text("server: [a, b]\nlisteners: {}\npolicy: 3\n", "/r.yaml");
  CHECK_FALSE(r.config);
  CHECK_DIAG(r.errors, "server: expected a map, got a list", 1);
  CHECK_DIAG(r.errors, "listeners: expected a list", 2);
  CHECK_DIAG(r.errors, "policy: expected a map", 3);
  auto top = load_config_text("- a\n- b\n", "/r.yaml");
  CHECK_FALSE(top.config);
  CHECK_DIAG(top.errors, "expected a map, got a list", 1);
}

TEST_CASE("duplicate keys are errors") {
  auto r = load_config_text("server:\n  hostname: a.test\n  hostname: b.test\n", "/r.yaml");
  CHECK_FALSE(r.config);
  CHECK_DIAG(r.errors, "server.hostname: duplicate key", 3);
}

TEST_CASE("YAML syntax errors and missing files") {
  auto r = load_config_text("server:\n  hostname: [unclosed\nlog: {}\n", "/r.yaml");
  CHECK_FALSE(r.config);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].message.find("YAML syntax error") != std::string::npos);
  CHECK(r.errors[0].line >= 2);

  auto m = load_config("/nonexistent/dir/roost.yaml");
  CHECK_FALSE(m.config);
  REQUIRE(m.errors.size() == 1);
  CHECK(m.errors[0].file == "/nonexistent/dir/roost.yaml");
  CHECK(m.errors[0].message.find("cannot read") != std::string::npos);
}

TEST_CASE("listener validation") {
  auto r = load_config_text(R"(tls: { certificate: c.pem, private_key: k.pem }
listeners:
  - { protocol: smtp, address: 127.0.0.1, port: 25 }
  - { protocol: imap, address: localhost, port: 143 }
  - { protocol: imap, path: /run/imap.sock }
  - { protocol: lmtp, address: 127.0.0.1, port: 24, tls: starttls }
  - { protocol: pop3, address: 127.0.0.1, port: 110, tls: sometimes }
  - { protocol: imap, address: 127.0.0.1, port: 143 }
  - { protocol: pop3, address: 127.0.0.1, port: 143 }
  - { protocol: imap, address: 127.0.0.1 }
  - { protocol: admin, address: 127.0.0.1, port: 8080 }
  - { protocol: imap, address: 127.0.0.1, port: 70000 }
  - { address: 127.0.0.1, port: 1 }
  - { protocol: imap, address: 127.0.0.1, port: 2, mode: "0600" }
  - { protocol: lmtp, path: s.sock, mode: "999" }
  - { protocol: pop3, address: 127.0.0.1, port: 3, token_file: t }
  - { protocol: imap, address: 0.0.0.0, port: 143 }
  - imap
)",
                            "/etc/roost/roost.yaml");
  CHECK_FALSE(r.config);
  CHECK_DIAG(r.errors, "listeners[0].protocol: expected imap | pop3", 3);
  CHECK_DIAG(r.errors, "listeners[1].address: must be an IP address", 4);
  CHECK_DIAG(r.errors, "listeners[2]: path (a unix socket) is only for lmtp", 5);
  CHECK_DIAG(r.errors, "listeners[3]: tls: starttls is only for imap and pop3", 6);
  CHECK_DIAG(r.errors, "listeners[4].tls: expected none | starttls | implicit", 7);
  CHECK_DIAG(r.errors, "listeners[6]: 127.0.0.1:143 is already used by the listener on line 8", 9);
  CHECK_DIAG(r.errors, "listeners[7]: port is missing", 10);
  CHECK_DIAG(r.errors, "listeners[8]: an admin listener needs token_file", 11);
  CHECK_DIAG(r.errors, "listeners[9].port: must be 1 to 65535", 12);
  CHECK_DIAG(r.errors, "listeners[10]: protocol is missing", 13);
  CHECK_DIAG(r.errors, "listeners[11]: mode and group are only for unix socket", 14);
  CHECK_DIAG(r.errors, "listeners[12].mode: expected octal permissions", 15);
  CHECK_DIAG(r.errors, "listeners[13]: token_file is only for admin", 16);
  CHECK_DIAG(r.errors, "listeners[14]: 0.0.0.0:143 overlaps the listener on line 8", 17);
  CHECK_DIAG(r.errors, "listeners[15]: expected a map", 18);
}

TEST_CASE("TLS listeners need a certificate") {
  auto r = load_config_text(
      "listeners:\n  - { protocol: imap, address: 127.0.0.1, port: 993, tls: implicit }\n",
      "/r.yaml");
  CHECK_FALSE(r.config);
  CHECK_DIAG(r.errors, "needs tls.certificate and tls.private_key", 2);
  auto half = load_config_text("tls:\n  certificate: c.pem\n", "/r.yaml");
  CHECK_FALSE(half.config);
  CHECK_DIAG(half.errors, "tls: private_key is missing", 2);
  auto v = load_config_text("tls:\n  min_version: 1.1\n", "/r.yaml");
  CHECK_DIAG(v.errors, "tls.min_version: expected 1.2 | 1.3", 2);
}

TEST_CASE("IPv6 listeners and canonical addresses") {
  auto r = load_config_text(R"(listeners:
  - { protocol: imap, address: "[::1]", port: 143 }
  - { protocol: imap, address: "0:0:0:0:0:0:0:1", port: 143 }
  - { protocol: pop3, address: "::", port: 110 }
  - { protocol: pop3, address: 0.0.0.0, port: 110 }
)",
                            "/r.yaml");
  CHECK_FALSE(r.config);
  CHECK_DIAG(r.errors, "[::1]:143 is already used by the listener on line 2", 3);
  CHECK(r.errors.size() == 1);  // "::" and "0.0.0.0" are different families
}

TEST_CASE("trusted_networks") {
  auto r = load_config_text("trusted_networks: [10.0.0.0/33, bogus, 10.1.2.3/8]\n", "/r.yaml");
  CHECK_FALSE(r.config);
  CHECK_DIAG(r.errors, "10.0.0.0/33", 1);
  CHECK_DIAG(r.errors, "bogus", 1);
  CHECK(r.errors.size() == 2);
  CHECK_DIAG(r.warnings, "host bits set", 1);

  auto ok = load_config_text("trusted_networks:\n  - 10.1.2.3/8\n  - fe80::1\n", "/r.yaml");
  REQUIRE(ok.config);
  CHECK(ok.config->trusted_networks[0].contains("10.200.0.1"));
  CHECK(ok.config->trusted_networks[1].contains("fe80::1"));
  CHECK_FALSE(ok.config->trusted_networks[1].contains("fe80::2"));
}

TEST_CASE("public endpoints get default hosts and ports") {
  auto r = load_config_text(R"(server: { hostname: Mail.Example.Test }
public:
  imap: { tls: starttls }
  pop3: { host: pop.example.test }
  smtp: { host: smtp.example.test, tls: starttls, port: 2525 }
)",
                            "/r.yaml");
  INFO(test_util::dump(r.errors));
  REQUIRE(r.config);
  const auto& p = r.config->public_settings;
  REQUIRE(p.imap);
  CHECK(p.imap->host == "mail.example.test");
  CHECK(p.imap->port == 143);
  CHECK(p.pop3->port == 995);
  CHECK(p.smtp->port == 2525);
  CHECK(p.smtp->tls == TlsMode::kStartTls);
}

TEST_CASE("store.path needs {user}") {
  auto r = load_config_text("store:\n  path: /var/mail/all\n", "/r.yaml");
  CHECK_FALSE(r.config);
  CHECK_DIAG(r.errors, "store.path: must contain {user}", 2);
}

TEST_CASE("policy override order: server, then domain, then account") {
  Policy p;
  PolicyOverride domain;
  domain.quota = 2ull << 30;
  domain.special_sent = "Envoyés";
  domain.pop3_on_delete = OnDelete::kArchive;
  PolicyOverride account;
  account.quota = 5ull << 30;
  account.protocols = std::vector<Protocol>{Protocol::kPop3};
  account.quota_warning_message = std::optional<std::string>("/x/warn.txt");
  domain.apply(p);
  account.apply(p);
  CHECK(p.quota == 5ull << 30);
  CHECK(p.special_use.sent == "Envoyés");
  CHECK(p.special_use.trash == "Trash");
  CHECK(p.pop3.on_delete == OnDelete::kArchive);
  CHECK(p.allows(Protocol::kPop3));
  CHECK_FALSE(p.allows(Protocol::kImap));
  CHECK(p.quota_warning.message_file == "/x/warn.txt");
  PolicyOverride reset;
  reset.quota_warning_message = std::optional<std::string>();
  reset.apply(p);
  CHECK_FALSE(p.quota_warning.message_file);
}

TEST_CASE("list_domain_files") {
  TempDir tmp;
  tmp.write("b.test.yaml", "");
  tmp.write("a.test.yaml", "");
  tmp.write(".hidden.yaml", "");
  tmp.write("c.test.yaml~", "");
  tmp.write("c.test.yaml.swp", "");
  tmp.write("c.test.yaml.tmp", "");
  tmp.write("notes.txt", "");
  std::filesystem::create_directories(tmp.path() + "/dir.yaml");
  auto files = list_domain_files(tmp.path());
  REQUIRE(files.size() == 2);
  CHECK(files[0] == tmp.path() + "/a.test.yaml");
  CHECK(files[1] == tmp.path() + "/b.test.yaml");
  CHECK(list_domain_files(tmp.path() + "/missing").empty());
}

TEST_CASE("the shipped etc/roost.yaml and etc/domains.d load without problems") {
  std::string etc = std::string(ROOST_SOURCE_DIR) + "/etc";
  auto r = load_config(etc + "/roost.yaml");
  INFO(test_util::dump(r.errors));
  REQUIRE(r.config);
  CHECK(r.errors.empty());
  CHECK(r.warnings.empty());
  const Config& c = *r.config;
  CHECK(c.server.hostname == "localhost");
  CHECK(c.server.state_dir == std::string(ROOST_SOURCE_DIR) + "/var/state");
  CHECK(c.tls.default_pair.certificate == std::string(ROOST_SOURCE_DIR) + "/var/tls/cert.pem");
  CHECK(c.tls.default_pair.private_key == std::string(ROOST_SOURCE_DIR) + "/var/tls/key.pem");
  CHECK(c.store.path == std::string(ROOST_SOURCE_DIR) + "/var/mail/{domain}/{user}");
  CHECK(c.domains_dir == etc + "/domains.d");
  // IMAP and POP3 with STARTTLS and implicit TLS, LMTP and quota-status,
  // all on loopback (the demo config serves nothing beyond it).
  REQUIRE(c.listeners.size() == 6);
  int lmtp = 0, quota_status = 0;
  for (const auto& l : c.listeners) {
    CHECK(l.address == "127.0.0.1");
    lmtp += l.protocol == Protocol::kLmtp;
    quota_status += l.protocol == Protocol::kQuotaStatus;
  }
  CHECK(lmtp == 1);
  CHECK(quota_status == 1);
  // SPEC defaults for limits and policy.
  Limits defaults;
  CHECK(c.limits.connections_per_user_ip == defaults.connections_per_user_ip);
  CHECK(c.limits.line_length == defaults.line_length);
  CHECK(c.limits.auth_failure_delay_max == defaults.auth_failure_delay_max);
  CHECK(c.limits.idle_timeout.imap == defaults.idle_timeout.imap);
  CHECK(c.policy.quota == Policy().quota);
  CHECK(c.policy.plaintext_auth == PlaintextAuth::kTlsOnly);

  auto files = list_domain_files(c.domains_dir);
  REQUIRE(files.size() == 1);
  auto df = load_domain_file(files[0]);
  INFO(test_util::dump(df.errors));
  REQUIRE(df.domain);
  CHECK(df.errors.empty());
  CHECK(df.warnings.empty());
  CHECK(df.domain->name == "example.test");
  REQUIRE(df.domain->accounts.count("demo"));
  CHECK(df.domain->accounts.at("demo").password.rfind("$y$", 0) == 0);
  CHECK(df.domain->aliases.at("postmaster") == std::vector<std::string>{"demo"});
}
