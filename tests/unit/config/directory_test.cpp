// The directory: login lookups, delivery resolution, reload behaviour.
#include <doctest/doctest.h>

#include "core/config/directory.h"
#include "tests/unit/config/test_util.h"

using namespace core::config;

namespace {

Config test_config() {
  auto r = load_config_text(R"(public:
  imap: { host: mail.provider.test, port: 10993, tls: implicit }
policy:
  quota: 10GiB
  special_use: { junk: Spam }
)",
                            "/etc/roost/roost.yaml");
  REQUIRE(r.config);
  return *r.config;
}

DomainFile domain(const std::string& name, const std::string& text) {
  auto df = load_domain_text(text, "/etc/roost/domains.d/" + name + ".yaml");
  INFO(test_util::dump(df.errors));
  return df;
}

const char* kExample = R"(domain: example.test
alias_domains: [example.org, bücher.example]
policy:
  quota: 2GiB
  special_use: { sent: Envoyés }
public: { imap: { host: mail42.provider.example } }
accounts:
  alice: { password: "$y$a" }
  bob:
    password: "$y$b"
    policy: { quota: 5GiB, protocols: [pop3], delivery: { detail: inbox } }
  carol: { password: "$y$c", status: suspended }
aliases:
  postmaster: alice
  sales: [alice, bob, partner@example.net]
  team: [sales, carol@example.test, info@other.test]
  ring: ring2@other.test
catch_all: carol
)";

const char* kOther = R"(domain: other.test
accounts:
  dan: { password: "$y$d" }
aliases:
  info: [dan, alice@example.org]
  ring2: ring@example.test
)";

std::vector<std::string> addresses(const std::vector<Recipient>& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs)
    out.push_back(r.address + (r.local ? "" : " (outside)") +
                  (r.folder.empty() ? "" : " [" + r.folder + "]"));
  return out;
}

std::shared_ptr<const Directory> build(std::vector<DomainFile> files,
                                       const Directory* previous = nullptr,
                                       std::vector<Diagnostic>* problems = nullptr) {
  std::vector<Diagnostic> local;
  return Directory::build(test_config(), std::move(files), previous, problems ? problems : &local);
}

}  // namespace

TEST_CASE("find_account: case, alias domains, IDN spellings") {
  auto dir = build({domain("example.test", kExample), domain("other.test", kOther)});
  auto a = dir->find_account("alice@example.test");
  REQUIRE(a);
  CHECK(a->address == "alice@example.test");
  CHECK(a->domain->name == "example.test");
  CHECK(a->account->name == "alice");
  CHECK(dir->find_account("ALICE@Example.TEST")->address == "alice@example.test");
  CHECK(dir->find_account("alice@example.org")->address == "alice@example.test");
  CHECK(dir->find_account("alice@bücher.example")->address == "alice@example.test");
  CHECK(dir->find_account("alice@BÜCHER.example")->address == "alice@example.test");
  CHECK(dir->find_account("alice@xn--bcher-kva.example")->address == "alice@example.test");
  CHECK(dir->find_account("dan@other.test")->address == "dan@other.test");
  CHECK_FALSE(dir->find_account("postmaster@example.test"));  // aliases are not logins
  CHECK_FALSE(dir->find_account("alice+news@example.test"));
  CHECK_FALSE(dir->find_account("alice@unknown.test"));
  CHECK_FALSE(dir->find_account("alice"));
  CHECK_FALSE(dir->find_account("@example.test"));
  CHECK_FALSE(dir->find_account("alice@"));
  CHECK_FALSE(dir->find_account(""));
  CHECK(dir->find_account("carol@example.test")->account->status == AccountStatus::kSuspended);
}

TEST_CASE("effective policy: server, then domain, then account") {
  auto dir = build({domain("example.test", kExample)});
  auto alice = dir->find_account("alice@example.test");
  REQUIRE(alice);
  CHECK(alice->policy.quota == 2ull << 30);            // domain over server
  CHECK(alice->policy.special_use.sent == "Envoyés");  // domain
  CHECK(alice->policy.special_use.junk == "Spam");     // server
  CHECK(alice->policy.special_use.trash == "Trash");   // built-in default
  CHECK(alice->policy.allows(Protocol::kImap));
  auto bob = dir->find_account("bob@example.test");
  REQUIRE(bob);
  CHECK(bob->policy.quota == 5ull << 30);  // account over domain
  CHECK(bob->policy.special_use.sent == "Envoyés");
  CHECK_FALSE(bob->policy.allows(Protocol::kImap));
  CHECK(bob->policy.allows(Protocol::kPop3));
}

TEST_CASE("resolve_recipient: accounts, aliases, detail, catch-all") {
  auto dir = build({domain("example.test", kExample), domain("other.test", kOther)});
  using V = std::vector<std::string>;
  CHECK(addresses(dir->resolve_recipient("alice@example.test")) == V{"alice@example.test"});
  CHECK(addresses(dir->resolve_recipient("Alice@EXAMPLE.org")) == V{"alice@example.test"});
  CHECK(addresses(dir->resolve_recipient("postmaster@example.test")) == V{"alice@example.test"});
  CHECK(addresses(dir->resolve_recipient("sales@example.test")) ==
        V{"alice@example.test", "bob@example.test", "partner@example.net (outside)"});
  // Recursively, across domains, without duplicates.
  CHECK(addresses(dir->resolve_recipient("team@example.test")) ==
        V{"alice@example.test", "bob@example.test", "partner@example.net (outside)",
          "carol@example.test", "dan@other.test"});
  // A loop across two domains ends.
  CHECK(addresses(dir->resolve_recipient("ring@example.test")).empty());
  // +detail: a folder when the account's policy says so.
  CHECK(addresses(dir->resolve_recipient("alice+news@example.test")) ==
        V{"alice@example.test [news]"});
  CHECK(addresses(dir->resolve_recipient("bob+news@example.test")) == V{"bob@example.test"});
  CHECK(addresses(dir->resolve_recipient("postmaster+x@example.test")) == V{"alice@example.test"});
  // Unknown local parts go to the catch-all, unknown domains nowhere.
  CHECK(addresses(dir->resolve_recipient("nobody@example.test")) == V{"carol@example.test"});
  CHECK(addresses(dir->resolve_recipient("nobody+x@example.test")) == V{"carol@example.test"});
  CHECK(dir->resolve_recipient("nobody@other.test").empty());
  CHECK(dir->resolve_recipient("alice@elsewhere.test").empty());
  CHECK(dir->resolve_recipient("garbage").empty());
}

TEST_CASE("alias chains deeper than the limit stop") {
  std::string text = "domain: deep.test\naccounts:\n  end: { password: \"$y$x\" }\naliases:\n";
  for (int i = 0; i < 12; ++i) {
    text += "  a" + std::to_string(i) + ": " +
            (i == 11 ? std::string("end") : "a" + std::to_string(i + 1)) + "\n";
  }
  auto dir = build({domain("deep.test", text)});
  CHECK(dir->resolve_recipient("a11@deep.test").size() == 1);
  CHECK(dir->resolve_recipient("a4@deep.test").size() == 1);  // 8 hops
  CHECK(dir->resolve_recipient("a0@deep.test").empty());      // 12 hops
}

TEST_CASE("serves_domain and find_domain") {
  auto dir = build({domain("example.test", kExample)});
  CHECK(dir->serves_domain("example.test"));
  CHECK(dir->serves_domain("EXAMPLE.ORG"));
  CHECK(dir->serves_domain("bücher.example"));
  CHECK(dir->serves_domain("xn--bcher-kva.example"));
  CHECK_FALSE(dir->serves_domain("other.test"));
  CHECK_FALSE(dir->serves_domain("not a domain"));
  const Domain* d = dir->find_domain("example.org");
  REQUIRE(d);
  CHECK(d->name == "example.test");
  // public: the domain's host, the server's port for the same TLS mode.
  REQUIRE(d->public_settings.imap);
  CHECK(d->public_settings.imap->host == "mail42.provider.example");
  CHECK(d->public_settings.imap->port == 10993);
}

TEST_CASE("a broken domain file: not served at start, last good version on reload") {
  std::vector<Diagnostic> problems;
  auto good = domain("example.test", kExample);
  REQUIRE(good.domain);
  auto broken = domain("example.test", "domain: example.test\naccounts:\n  alice: {pasword: x}\n");
  REQUIRE_FALSE(broken.domain);

  auto at_start = build({broken}, nullptr, &problems);
  CHECK_FALSE(at_start->serves_domain("example.test"));
  CHECK_FALSE(at_start->find_account("alice@example.test"));
  REQUIRE(at_start->files().size() == 1);
  CHECK_FALSE(at_start->files()[0].errors.empty());

  auto v1 = build({good, domain("other.test", kOther)});
  REQUIRE(v1->find_account("bob@example.test"));
  problems.clear();
  auto v2 = build({broken, domain("other.test", kOther)}, v1.get(), &problems);
  CHECK(v2->serves_domain("example.test"));
  CHECK(v2->find_account("bob@example.test"));
  REQUIRE(v2->files().size() == 2);
  CHECK_FALSE(v2->files()[0].errors.empty());  // still reported as broken
  CHECK_DIAG(problems, "keeps its last good version", 0);
  // And across a second reload, still the same good version.
  auto v3 = build({broken, domain("other.test", kOther)}, v2.get(), &problems);
  CHECK(v3->find_account("bob@example.test"));
  // A fixed file replaces it; a removed file is gone.
  auto v4 = build({domain("other.test", kOther)}, v3.get(), &problems);
  CHECK_FALSE(v4->serves_domain("example.test"));
}

TEST_CASE("a domain claimed twice keeps the first file") {
  std::vector<Diagnostic> problems;
  auto first = domain("example.test", kExample);
  auto second = load_domain_text(
      "domain: example.org\nalias_domains: [fresh.test]\naccounts:\n  zed: { password: \"$y$z\" "
      "}\n",
      "/etc/roost/domains.d/example.org.yaml");
  REQUIRE(second.domain);
  auto third = load_domain_text(
      "domain: third.test\nalias_domains: [example.org, third.example]\naccounts:\n  "
      "x: { password: \"$y$z\" }\n",
      "/etc/roost/domains.d/third.test.yaml");
  REQUIRE(third.domain);
  auto dir = build({first, second, third}, nullptr, &problems);
  CHECK(dir->find_account("alice@example.org"));
  CHECK_FALSE(dir->find_account("zed@example.org"));
  CHECK_FALSE(dir->serves_domain("fresh.test"));  // the second file is not served at all
  CHECK(dir->find_account("x@third.example"));
  CHECK(dir->find_account("x@third.test"));
  REQUIRE(problems.size() == 2);
  CHECK(problems[0].file == "/etc/roost/domains.d/example.org.yaml");
  CHECK(problems[0].message.find("already served by /etc/roost/domains.d/example.test.yaml") !=
        std::string::npos);
  CHECK(problems[1].file == "/etc/roost/domains.d/third.test.yaml");
}
