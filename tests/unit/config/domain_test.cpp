// Domain files: schema, names, passwords, aliases and their diagnostics.
#include <doctest/doctest.h>

#include "core/config/config.h"
#include "tests/unit/config/test_util.h"

using namespace core::config;
using test_util::TempDir;

namespace {

const char* kSpecDomain = R"(domain: example.test
alias_domains: [Example.ORG, bücher.example]
policy:
  quota: 2GiB
  special_use: { sent: "Éléments envoyés", trash: Corbeille }
public: { imap: { host: mail42.provider.example } }
accounts:
  alice:
    password: "$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA"
  bob:
    password: "{SHA512-CRYPT}$6$salt$hash"
    policy: { protocols: [pop3], pop3: { on_delete: hide } }
  carol:
    password: "$y$j9T$salt$hash"
    status: suspended
aliases:
  postmaster: alice
  sales: [alice, Bob, partner@Example.NET]
catch_all: null
)";

}  // namespace

TEST_CASE("the SPEC's domain example loads") {
  auto df = load_domain_text(kSpecDomain, "/etc/roost/domains.d/example.test.yaml");
  INFO(test_util::dump(df.errors));
  REQUIRE(df.domain);
  CHECK(df.errors.empty());
  CHECK(df.warnings.empty());
  CHECK(df.file == "/etc/roost/domains.d/example.test.yaml");
  const Domain& d = *df.domain;
  CHECK(d.name == "example.test");
  CHECK(d.file == df.file);
  CHECK(d.alias_domains == std::vector<std::string>{"example.org", "xn--bcher-kva.example"});
  CHECK(d.policy.quota == 2ull << 30);
  CHECK(d.policy.special_sent == "Éléments envoyés");
  CHECK(d.policy.special_trash == "Corbeille");
  CHECK_FALSE(d.policy.special_drafts);
  REQUIRE(d.public_settings.imap);
  CHECK(d.public_settings.imap->host == "mail42.provider.example");
  CHECK(d.public_settings.imap->port == 0);  // filled from the server's by the directory
  REQUIRE(d.accounts.size() == 3);
  CHECK(d.accounts.at("alice").password == "$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA");
  CHECK(d.accounts.at("alice").line == 8);
  CHECK(d.accounts.at("bob").password == "{SHA512-CRYPT}$6$salt$hash");
  CHECK(d.accounts.at("bob").policy.protocols == std::vector<Protocol>{Protocol::kPop3});
  CHECK(d.accounts.at("bob").policy.pop3_on_delete == OnDelete::kHide);
  CHECK(d.accounts.at("carol").status == AccountStatus::kSuspended);
  CHECK(d.accounts.at("alice").status == AccountStatus::kActive);
  CHECK(d.aliases.at("postmaster") == std::vector<std::string>{"alice"});
  CHECK(d.aliases.at("sales") == std::vector<std::string>{"alice", "bob", "partner@example.net"});
  CHECK_FALSE(d.catch_all);
}

TEST_CASE("the file name must match domain:") {
  auto bad = load_domain_text("domain: example.test\n", "/d/other.test.yaml");
  CHECK_FALSE(bad.domain);
  CHECK_DIAG(bad.errors, "does not match the file name other.test.yaml", 1);

  // UTF-8 and punycode spellings of the same name match each other.
  auto idn = load_domain_text("domain: Bücher.Example\n", "/d/xn--bcher-kva.example.yaml");
  INFO(test_util::dump(idn.errors));
  REQUIRE(idn.domain);
  CHECK(idn.domain->name == "xn--bcher-kva.example");
  auto idn2 = load_domain_text("domain: xn--bcher-kva.example\n", "/d/bücher.example.yaml");
  REQUIRE(idn2.domain);
  CHECK(idn2.domain->name == "xn--bcher-kva.example");

  // A file not (yet) named DOMAIN.yaml, as a panel checks it before the rename.
  auto tmp = load_domain_text("domain: example.test\n", "/d/example.test.yaml.tmp");
  REQUIRE(tmp.domain);
  CHECK_DIAG(tmp.warnings, "file name is not example.test.yaml", 1);

  auto invalid = load_domain_text("domain: bad_name.test\n", "/d/bad_name.test.yaml");
  CHECK_DIAG(invalid.errors, "domain: not a valid domain name", 1);
  auto missing = load_domain_text("accounts: {}\n", "/d/x.test.yaml");
  CHECK_DIAG(missing.errors, "domain: is missing", 1);
}

TEST_CASE("an unquoted {SCHEME} password gets a specific message") {
  // Followed by more text: a YAML syntax error, explained.
  auto r = load_domain_text(R"(domain: example.test
accounts:
  bob:
    password: {SHA512-CRYPT}$6$abc$def
)",
                            "/d/example.test.yaml");
  CHECK_FALSE(r.domain);
  CHECK_DIAG(r.errors, "password: unquoted {SHA512-CRYPT} is YAML flow syntax; quote the value", 4);
  // Inside a flow map.
  auto f = load_domain_text(
      "domain: example.test\naccounts:\n  bob: { password: {BLF-CRYPT}$2b$05$abc }\n",
      "/d/example.test.yaml");
  CHECK_FALSE(f.domain);
  CHECK_DIAG(f.errors, "password: unquoted {BLF-CRYPT} is YAML flow syntax; quote the value", 3);
  // Alone: a valid flow map where a string belongs.
  auto m = load_domain_text(R"(domain: example.test
accounts:
  bob:
    password: {PLAIN}
)",
                            "/d/example.test.yaml");
  CHECK_FALSE(m.domain);
  CHECK_DIAG(m.errors, "unquoted {PLAIN} is YAML flow syntax; quote the value", 4);
}

TEST_CASE("account checks") {
  auto r = load_domain_text(R"(domain: example.test
accounts:
  Alice:
    password: "$y$x"
  bob:
    status: active
  carol:
    password: ""
  dave:
    password: "$y$x"
    status: frozen
    shoe_size: 44
  eve: "$y$x"
  frank+x:
    password: "$y$x"
  gina:
    password: [a]
  hal:
    password: "$y$x"
    policy: { quota: huge, color: red }
  .ivan:
    password: "$y$x"
)",
                            "/d/example.test.yaml");
  CHECK_FALSE(r.domain);
  CHECK_DIAG(r.errors, "accounts.Alice: the account name must be written in lower case", 3);
  CHECK_DIAG(r.errors, "accounts.bob: password is missing", 5);
  CHECK_DIAG(r.errors, "accounts.carol.password: must not be empty", 8);
  CHECK_DIAG(r.errors, "accounts.dave.status: expected active | suspended", 11);
  CHECK_DIAG(r.errors, "accounts.dave.shoe_size: unknown key", 12);
  CHECK_DIAG(r.errors, "accounts.eve: expected a map", 13);
  CHECK_DIAG(r.errors, "accounts.frank+x: the account name must not contain '+'", 14);
  CHECK_DIAG(r.errors, "accounts.gina.password: expected a string, got a list", 17);
  CHECK_DIAG(r.errors, "accounts.hal.policy.quota: expected a size", 20);
  CHECK_DIAG(r.errors, "accounts.hal.policy.color: unknown key", 20);
  CHECK_DIAG(r.errors, "accounts..ivan: the account name has a misplaced '.'", 21);
  CHECK(r.errors.size() == 11);
}

TEST_CASE("{PLAIN} passwords load with a warning") {
  auto r =
      load_domain_text("domain: example.test\naccounts:\n  a:\n    password: \"{PLAIN}secret\"\n",
                       "/d/example.test.yaml");
  REQUIRE(r.domain);
  CHECK_DIAG(r.warnings, "{PLAIN} stores the password in clear text", 4);
}

TEST_CASE("aliases and catch_all") {
  auto r = load_domain_text(R"(domain: example.test
accounts:
  alice: { password: "$y$x" }
aliases:
  sales: [alice, ghost]
  info: nobody
  team: [sales, "Partner@Example.NET"]
  alice: bob@example.net
  empty: []
  odd: { a: b }
  Upper: alice
  bad: "@example.net"
  loop1: loop2
  loop2: loop1
catch_all: zed
unknown_top: 1
)",
                            "/d/example.test.yaml");
  CHECK_FALSE(r.domain);
  CHECK_DIAG(r.errors, "aliases.sales: dangling alias: \"ghost\"", 5);
  CHECK_DIAG(r.errors, "aliases.info: dangling alias: \"nobody\"", 6);
  CHECK_DIAG(r.errors, "aliases.alice: an account of the same name exists", 8);
  CHECK_DIAG(r.errors, "aliases.empty: needs at least one target", 9);
  CHECK_DIAG(r.errors, "aliases.odd: expected an account, an address or a list", 10);
  CHECK_DIAG(r.errors, "aliases.Upper: the alias name must be written in lower case", 11);
  CHECK_DIAG(r.errors, "aliases.bad: not an address", 12);
  CHECK_DIAG(r.errors, "aliases.loop1: alias loop", 13);
  CHECK_DIAG(r.errors, "aliases.loop2: alias loop", 14);
  CHECK_DIAG(r.errors, "catch_all: \"zed\" is not an account", 15);
  CHECK_DIAG(r.errors, "unknown_top: unknown key", 16);
  CHECK(r.errors.size() == 11);

  auto ok = load_domain_text(R"(domain: example.test
accounts:
  alice: { password: "$y$x" }
aliases:
  sales: alice
  team: [sales, "Partner@Example.NET"]
catch_all: alice
)",
                             "/d/example.test.yaml");
  INFO(test_util::dump(ok.errors));
  REQUIRE(ok.domain);
  CHECK(ok.domain->aliases.at("team") == std::vector<std::string>{"sales", "partner@example.net"});
  CHECK(ok.domain->catch_all == "alice");
}

TEST_CASE("alias_domains, public and policy checks") {
  auto r = load_domain_text(R"(domain: example.test
alias_domains: [example.org, EXAMPLE.org, example.test, "no domain"]
public: { imap: { host: x.test, port: 0 }, ftp: {} }
policy: { pop3: { on_delete: later }, special_use: { sent: INBOX } }
)",
                            "/d/example.test.yaml");
  CHECK_FALSE(r.domain);
  CHECK_DIAG(r.errors, "alias_domains: example.org is listed twice", 2);
  CHECK_DIAG(r.errors, "alias_domains: example.test is the domain itself", 1);
  CHECK_DIAG(r.errors, "alias_domains: not a valid domain name: \"no domain\"", 2);
  CHECK_DIAG(r.errors, "public.imap.port: must be at least 1", 3);
  CHECK_DIAG(r.errors, "public.ftp: unknown key", 3);
  CHECK_DIAG(r.errors, "policy.pop3.on_delete: expected expunge | hide | archive", 4);
  CHECK_DIAG(r.errors, "policy.special_use.sent: not usable as a mailbox name", 4);
}

TEST_CASE("broken YAML, empty and missing domain files") {
  auto r = load_domain_text("domain: example.test\naccounts:\n  a: [\n", "/d/example.test.yaml");
  CHECK_FALSE(r.domain);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].message.find("YAML syntax error") != std::string::npos);
  CHECK(r.errors[0].file == "/d/example.test.yaml");

  auto e = load_domain_text("", "/d/example.test.yaml");
  CHECK_FALSE(e.domain);
  CHECK_DIAG(e.errors, "the file is empty", 1);

  auto m = load_domain_file("/nonexistent/example.test.yaml");
  CHECK_FALSE(m.domain);
  CHECK(m.file == "/nonexistent/example.test.yaml");
  CHECK_DIAG(m.errors, "cannot read the domain file", 0);
}

TEST_CASE("relative quota_warning.message resolves against the domain file") {
  TempDir tmp;
  std::string file = tmp.write("domains.d/example.test.yaml", R"(domain: example.test
policy:
  quota_warning: { message: ../texts/warn.txt }
)");
  auto df = load_domain_file(file);
  INFO(test_util::dump(df.errors));
  REQUIRE(df.domain);
  REQUIRE(df.domain->policy.quota_warning_message);
  CHECK(*df.domain->policy.quota_warning_message == tmp.path() + "/texts/warn.txt");
}
