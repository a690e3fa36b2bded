// quota_status::decide over a real directory (a domain file with accounts
// and aliases) and a memory store.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/config/directory.h"
#include "quota_status/session.h"

namespace {

namespace cfg = core::config;

std::shared_ptr<const cfg::Directory> make_directory() {
  auto loaded = cfg::load_config_text(
      "server: { hostname: mx.example.com, state_dir: /tmp/roost-qs-state }\n"
      "store: { backend: memory, path: \"/tmp/roost-qs/{domain}/{user}\" }\n"
      "listeners:\n  - { protocol: quota_status, address: 127.0.0.1, port: 10030 }\n"
      "domains_dir: /tmp/roost-qs-domains\n",
      "/tmp/roost-qs.yaml");
  for (const auto& e : loaded.errors) MESSAGE(e.str());
  REQUIRE(loaded.config);
  auto f = cfg::load_domain_text(
      "domain: example.com\n"
      "accounts:\n"
      "  small: { password: \"{PLAIN}x\", policy: { quota: 100 } }\n"
      "  later: { password: \"{PLAIN}x\", policy: { quota: 100, quota_exceeded: defer } }\n"
      "  few: { password: \"{PLAIN}x\", policy: { quota: unlimited, quota_messages: 1 } }\n"
      "  big: { password: \"{PLAIN}x\", policy: { quota: 1MiB } }\n"
      "aliases:\n"
      "  team: [big, small]\n"
      "  pair: [big, later]\n"
      "  outside: [someone@example.org]\n",
      "/tmp/roost-qs-domains/example.com.yaml");
  for (const auto& e : f.errors) MESSAGE(e.str());
  REQUIRE(f.domain);
  std::vector<cfg::DomainFile> files;
  files.push_back(std::move(f));
  std::vector<cfg::Diagnostic> problems;
  return cfg::Directory::build(*loaded.config, std::move(files), nullptr, &problems);
}

quota_status::Request ask(const std::string& rcpt, const std::string& size = "") {
  quota_status::Request r;
  r.attributes.emplace_back("request", "smtpd_access_policy");
  r.attributes.emplace_back("recipient", rcpt);
  if (!size.empty()) r.attributes.emplace_back("size", size);
  return r;
}

void fill(store::Store& s, const std::string& user, const std::string& body) {
  auto a = s.open_account("example.com", user);
  REQUIRE(a);
  auto tx = (*a)->begin_append("INBOX", 0, {}, 0);
  REQUIRE(tx);
  REQUIRE((*tx)->write(body));
  REQUIRE((*tx)->commit());
}

}  // namespace

TEST_CASE("quota-status decisions") {
  auto dir = make_directory();
  auto store = store::make_memory_store();
  using quota_status::decide;
  std::string fifty(50, 'x');
  fill(*store, "small", fifty);
  fill(*store, "later", fifty);
  fill(*store, "few", "one");

  CHECK(decide(*store, *dir, ask("small@example.com")) == quota_status::kDunno);
  CHECK(decide(*store, *dir, ask("small@example.com", "50")) == quota_status::kDunno);
  CHECK(decide(*store, *dir, ask("small@example.com", "51")) == quota_status::kReject);
  CHECK(decide(*store, *dir, ask("SMALL@Example.COM", "51")) == quota_status::kReject);
  CHECK(decide(*store, *dir, ask("small+news@example.com", "51")) == quota_status::kReject);
  CHECK(decide(*store, *dir, ask("later@example.com", "51")) == quota_status::kDefer);
  // size=0 (Postfix does not know it) counts as one byte.
  CHECK(decide(*store, *dir, ask("few@example.com", "0")) == quota_status::kReject);
  CHECK(decide(*store, *dir, ask("big@example.com", "1000")) == quota_status::kDunno);
  // Aliases: over when any target is; a permanent refusal wins.
  CHECK(decide(*store, *dir, ask("team@example.com", "10")) == quota_status::kDunno);
  CHECK(decide(*store, *dir, ask("team@example.com", "60")) == quota_status::kReject);
  CHECK(decide(*store, *dir, ask("pair@example.com", "60")) == quota_status::kDefer);
  // Unknown recipients, other domains, remote aliases, no recipient: DUNNO.
  CHECK(decide(*store, *dir, ask("nobody@example.com", "60")) == quota_status::kDunno);
  CHECK(decide(*store, *dir, ask("x@example.net", "60")) == quota_status::kDunno);
  CHECK(decide(*store, *dir, ask("outside@example.com", "60")) == quota_status::kDunno);
  CHECK(decide(*store, *dir, ask("")) == quota_status::kDunno);
  CHECK(decide(*store, *dir, ask("not an address")) == quota_status::kDunno);
}
