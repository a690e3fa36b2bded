// The login decision over a directory built by hand.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/auth/login.h"
#include "core/auth/password.h"

using core::auth::decide_login;
using core::auth::describe;
using core::auth::LoginOutcome;
using core::auth::LoginRequest;
using core::auth::plaintext_allowed;
namespace config = core::config;

namespace {

// openssl passwd -6 -salt roostsalt01 'correct horse'
const char* kAliceHash =
    "$6$roostsalt01$ofAlHv5Zuy9u3/7ouvr4caYwMK8WbazvwzhEQvnN6hshFORrzBDGDnMEwx512x5drHYH6fIRmjWnS3"
    "rkbVUNT1";
// openssl passwd -5 -salt roostsalt02 'correct horse', behind a Dovecot prefix
const char* kBobHash = "{SHA256-CRYPT}$5$roostsalt02$ST3gaguai6Y9DwQOsyx6GPHQqWvHaqb5Km4mfTqs3U4";

config::Account account(const std::string& name, const std::string& hash) {
  config::Account a;
  a.name = name;
  a.password = hash;
  return a;
}

std::shared_ptr<const config::Directory> make_directory() {
  config::Config cfg;
  cfg.file = "/etc/roost/roost.yaml";
  cfg.domains_dir = "/etc/roost/domains";

  config::Domain org;
  org.name = "example.org";
  org.alias_domains = {"example.net"};
  org.file = "/etc/roost/domains/example.org.yaml";
  org.accounts["alice"] = account("alice", kAliceHash);
  org.accounts["bob"] = account("bob", kBobHash);
  auto carol = account("carol", kAliceHash);
  carol.status = config::AccountStatus::kSuspended;
  org.accounts["carol"] = carol;
  auto dave = account("dave", kAliceHash);
  dave.policy.protocols = std::vector<config::Protocol>{config::Protocol::kPop3};
  org.accounts["dave"] = dave;
  auto erin = account("erin", kAliceHash);
  erin.policy.plaintext_auth = config::PlaintextAuth::kAllowed;
  org.accounts["erin"] = erin;
  org.aliases["info"] = {"alice"};

  config::Domain lab;
  lab.name = "lab.test";
  lab.file = "/etc/roost/domains/lab.test.yaml";
  lab.policy.plaintext_auth = config::PlaintextAuth::kAllowed;
  lab.accounts["frank"] = account("frank", kAliceHash);
  auto gina = account("gina", kAliceHash);
  gina.policy.plaintext_auth = config::PlaintextAuth::kTlsOnly;
  lab.accounts["gina"] = gina;

  std::vector<config::DomainFile> files(2);
  files[0].file = org.file;
  files[0].domain = org;
  files[1].file = lab.file;
  files[1].domain = lab;
  std::vector<config::Diagnostic> problems;
  auto dir = config::Directory::build(cfg, std::move(files), nullptr, &problems);
  REQUIRE(problems.empty());
  return dir;
}

LoginRequest req(std::string_view address, std::string_view password, bool secure = true,
                 config::Protocol p = config::Protocol::kImap) {
  LoginRequest r;
  r.address = address;
  r.password = password;
  r.secure = secure;
  r.protocol = p;
  return r;
}

// A verify function that records its calls.
int g_calls = 0;
std::string g_last_stored;
bool counting_verify(std::string_view stored, std::string_view password) {
  ++g_calls;
  g_last_stored = std::string(stored);
  return core::auth::verify_password(stored, password);
}

}  // namespace

TEST_CASE("login: success, canonical address, effective policy") {
  auto dir = make_directory();
  const auto d = decide_login(*dir, req("alice@example.org", "correct horse"));
  CHECK(d.outcome == LoginOutcome::kOk);
  REQUIRE(d.account.has_value());
  CHECK(d.account->address == "alice@example.org");
  CHECK(d.account->policy.allows(config::Protocol::kPop3));

  // A Dovecot-prefixed hash logs in the same way.
  CHECK(decide_login(*dir, req("bob@example.org", "correct horse")).outcome == LoginOutcome::kOk);
}

TEST_CASE("login: case-insensitive addresses and alias domains") {
  auto dir = make_directory();
  for (const char* a :
       {"ALICE@EXAMPLE.ORG", "Alice@Example.Org", "alice@example.net", "ALICE@Example.NET"}) {
    CAPTURE(a);
    const auto d = decide_login(*dir, req(a, "correct horse"));
    CHECK(d.outcome == LoginOutcome::kOk);
    REQUIRE(d.account.has_value());
    CHECK(d.account->address == "alice@example.org");
  }
  // The password is case-sensitive.
  CHECK(decide_login(*dir, req("alice@example.net", "Correct Horse")).outcome ==
        LoginOutcome::kWrongPassword);
}

TEST_CASE("login: wrong password") {
  auto dir = make_directory();
  const auto d = decide_login(*dir, req("alice@example.org", "correct hors"));
  CHECK(d.outcome == LoginOutcome::kWrongPassword);
  CHECK(d.account.has_value());
  CHECK(decide_login(*dir, req("alice@example.org", "")).outcome == LoginOutcome::kWrongPassword);
}

TEST_CASE("login: unknown addresses still cost a password check") {
  auto dir = make_directory();
  for (const char* a : {"nobody@example.org", "alice@example.com", "info@example.org", "alice",
                        "@example.org", "alice@", ""}) {
    CAPTURE(a);
    g_calls = 0;
    g_last_stored.clear();
    const auto d = decide_login(*dir, req(a, "correct horse"), &counting_verify);
    CHECK(d.outcome == LoginOutcome::kUnknownAddress);
    CHECK_FALSE(d.account.has_value());
    // One real, slow verification against a valid hash of a production cost.
    CHECK(g_calls == 1);
    CHECK(core::auth::check_stored_hash(g_last_stored) == std::nullopt);
    CHECK(g_last_stored.rfind("$y$", 0) == 0);
  }
  // With the default verifier too.
  CHECK(decide_login(*dir, req("nobody@example.org", "x")).outcome ==
        LoginOutcome::kUnknownAddress);
  // Clients get the same text for both failures.
  CHECK(std::string(describe(LoginOutcome::kUnknownAddress)) ==
        describe(LoginOutcome::kWrongPassword));
}

TEST_CASE("login: suspended accounts are told so only after a correct password") {
  auto dir = make_directory();
  CHECK(decide_login(*dir, req("carol@example.org", "correct horse")).outcome ==
        LoginOutcome::kSuspended);
  CHECK(decide_login(*dir, req("carol@example.org", "wrong")).outcome ==
        LoginOutcome::kWrongPassword);
}

TEST_CASE("login: protocol denied") {
  auto dir = make_directory();
  CHECK(decide_login(*dir, req("dave@example.org", "correct horse", true, config::Protocol::kImap))
            .outcome == LoginOutcome::kProtocolDenied);
  CHECK(decide_login(*dir, req("dave@example.org", "correct horse", true, config::Protocol::kPop3))
            .outcome == LoginOutcome::kOk);
  CHECK(
      decide_login(*dir, req("dave@example.org", "nope", true, config::Protocol::kImap)).outcome ==
      LoginOutcome::kWrongPassword);
  // Suspension is reported before the protocol.
  CHECK(
      decide_login(*dir, req("carol@example.org", "correct horse", true, config::Protocol::kAdmin))
          .outcome == LoginOutcome::kSuspended);
}

TEST_CASE("login: TLS required comes before any password check") {
  auto dir = make_directory();
  for (const char* a : {"alice@example.org", "nobody@example.org", "carol@example.org",
                        "dave@example.org", "x@unknown.test"}) {
    CAPTURE(a);
    for (const char* pw : {"correct horse", "wrong"}) {
      g_calls = 0;
      const auto d = decide_login(*dir, req(a, pw, false), &counting_verify);
      CHECK(d.outcome == LoginOutcome::kTlsRequired);
      CHECK(g_calls == 0);
    }
  }
  // The account's policy allows plaintext: the login goes on.
  CHECK(decide_login(*dir, req("erin@example.org", "correct horse", false)).outcome ==
        LoginOutcome::kOk);
  CHECK(decide_login(*dir, req("erin@example.org", "bad", false)).outcome ==
        LoginOutcome::kWrongPassword);
  // A domain-wide policy, and an account overriding it back.
  CHECK(decide_login(*dir, req("frank@lab.test", "correct horse", false)).outcome ==
        LoginOutcome::kOk);
  CHECK(decide_login(*dir, req("gina@lab.test", "correct horse", false)).outcome ==
        LoginOutcome::kTlsRequired);
  CHECK(decide_login(*dir, req("gina@lab.test", "correct horse", true)).outcome ==
        LoginOutcome::kOk);
  // An unknown user of a domain that allows plaintext gets the same answer
  // as a known one with a wrong password.
  CHECK(decide_login(*dir, req("nobody@lab.test", "correct horse", false)).outcome ==
        LoginOutcome::kUnknownAddress);
}

TEST_CASE("plaintext_allowed") {
  config::Config cfg;
  config::Policy p;
  p.plaintext_auth = config::PlaintextAuth::kTlsOnly;
  CHECK(plaintext_allowed(cfg, p, true));
  CHECK_FALSE(plaintext_allowed(cfg, p, false));
  p.plaintext_auth = config::PlaintextAuth::kAllowed;
  CHECK(plaintext_allowed(cfg, p, true));
  CHECK(plaintext_allowed(cfg, p, false));
}

TEST_CASE("describe") {
  for (auto o :
       {LoginOutcome::kOk, LoginOutcome::kUnknownAddress, LoginOutcome::kWrongPassword,
        LoginOutcome::kTlsRequired, LoginOutcome::kProtocolDenied, LoginOutcome::kSuspended}) {
    REQUIRE(describe(o) != nullptr);
    CHECK(std::string(describe(o)).size() > 0);
  }
  CHECK(std::string(describe(LoginOutcome::kSuspended)) != describe(LoginOutcome::kWrongPassword));
  CHECK(std::string(describe(LoginOutcome::kProtocolDenied)) !=
        describe(LoginOutcome::kWrongPassword));
  CHECK(std::string(describe(LoginOutcome::kTlsRequired)) !=
        describe(LoginOutcome::kWrongPassword));
}
