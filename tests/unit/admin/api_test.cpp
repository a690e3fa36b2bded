// The admin API's handler functions over a real directory and a memory
// store: authentication, routing (404/405/400), and each endpoint's JSON.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "admin/api.h"
#include "core/config/config.h"
#include "core/config/directory.h"
#include "core/server/services.h"

namespace {

namespace cfg = core::config;
namespace fs = std::filesystem;
using nlohmann::json;

std::shared_ptr<core::server::Runtime> make_runtime() {
  auto loaded = cfg::load_config_text(
      "server: { hostname: mx.example.com, state_dir: /tmp/roost-admin-state }\n"
      "store: { backend: memory, path: \"/tmp/roost-admin/{domain}/{user}\" }\n"
      "listeners:\n"
      "  - { protocol: admin, address: 127.0.0.1, port: 8080, token_file: /tmp/t }\n"
      "domains_dir: /tmp/roost-admin-domains\n",
      "/tmp/roost-admin.yaml");
  for (const auto& e : loaded.errors) MESSAGE(e.str());
  REQUIRE(loaded.config);
  auto good = cfg::load_domain_text(
      "domain: example.com\n"
      "accounts:\n"
      "  alice: { password: \"{PLAIN}x\", policy: { quota: 1000, protocols: [imap] } }\n"
      "  bob: { password: \"{PLAIN}x\", status: suspended }\n",
      "/tmp/roost-admin-domains/example.com.yaml");
  REQUIRE(good.domain);
  auto bad = cfg::load_domain_text("domain: broken.test\naccounts: [\n",
                                   "/tmp/roost-admin-domains/broken.test.yaml");
  REQUIRE_FALSE(bad.domain);
  std::vector<cfg::DomainFile> files;
  files.push_back(std::move(good));
  files.push_back(std::move(bad));
  auto rt = std::make_shared<core::server::Runtime>();
  rt->directory = cfg::Directory::build(*loaded.config, std::move(files), nullptr, nullptr);
  rt->generation = 7;
  return rt;
}

struct Fixture {
  core::server::Services services{make_runtime(), store::make_memory_store()};
  roost::admin::Api api{services};
  Fixture() { api.set_token("s3cret-token"); }

  roost::http::Response call(std::string method, std::string path,
                             std::string auth = "Bearer s3cret-token",
                             std::vector<std::pair<std::string, std::string>> query = {}) {
    roost::http::Request r;
    r.method = std::move(method);
    r.path = std::move(path);
    r.target = r.path;
    r.query = std::move(query);
    if (!auth.empty()) r.headers["authorization"] = std::move(auth);
    r.remote = "127.0.0.1";
    return api.handle(r);
  }
};

json body(const roost::http::Response& r) {
  auto j = json::parse(r.body, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  return j;
}

void append(store::Store& s, const std::string& user, const std::string& mailbox,
            const std::string& text, uint32_t flags = 0) {
  auto a = s.open_account("example.com", user);
  REQUIRE(a);
  if (mailbox != "INBOX") (void)(*a)->create_mailbox(mailbox);
  auto tx = (*a)->begin_append(mailbox, flags, {}, 0);
  REQUIRE(tx);
  REQUIRE((*tx)->write(text));
  REQUIRE((*tx)->commit());
}

}  // namespace

TEST_CASE("every path needs the token; a refusal says nothing more") {
  Fixture f;
  for (const auto& auth :
       {std::string(), std::string("Bearer wrong"), std::string("Bearer s3cret-token-x"),
        std::string("Basic czNjcmV0LXRva2Vu"), std::string("s3cret-token"), std::string("Bearer "),
        std::string("Bearer s3cret-toke")}) {
    for (const auto& path : {"/api/v1/sessions", "/metrics", "/nope", "/api/v1/accounts/x"}) {
      auto r = f.call("GET", path, auth);
      CHECK(r.status == 401);
      CHECK(r.body == "{\"error\":\"unauthorized\"}\n");
    }
  }
  // Scheme names are case-insensitive.
  CHECK(f.call("GET", "/api/v1/sessions", "bearer s3cret-token").status == 200);
  CHECK(f.call("GET", "/api/v1/sessions", "Bearer s3cret-token").status == 200);
}

TEST_CASE("no token configured: everything is refused") {
  Fixture f;
  f.api.set_token("");
  CHECK(f.call("GET", "/api/v1/sessions", "Bearer ").status == 401);
  CHECK(f.call("GET", "/api/v1/sessions", "Bearer x").status == 401);
}

TEST_CASE("unknown paths 404, wrong methods 405 with Allow") {
  Fixture f;
  CHECK(f.call("GET", "/").status == 404);
  CHECK(f.call("GET", "/api/v1").status == 404);
  CHECK(f.call("GET", "/api/v1/accounts/").status == 404);
  CHECK(f.call("GET", "/api/v2/sessions").status == 404);
  auto r = f.call("POST", "/api/v1/sessions");
  CHECK(r.status == 405);
  REQUIRE(r.headers.size() == 1);
  CHECK(r.headers[0].second == "GET, DELETE");
  CHECK(f.call("GET", "/api/v1/reload").status == 405);
  CHECK(f.call("PUT", "/metrics").status == 405);
  CHECK(f.call("DELETE", "/api/v1/accounts/alice@example.com").status == 405);
  CHECK(f.call("POST", "/api/v1/domains").status == 405);
  CHECK(f.call("POST", "/api/v1/stats").status == 405);
  CHECK(body(f.call("GET", "/nothing"))["error"] == "not found");
}

TEST_CASE("DELETE sessions needs an account; counts none when nobody is logged in") {
  Fixture f;
  CHECK(f.call("DELETE", "/api/v1/sessions").status == 400);
  CHECK(f.call("DELETE", "/api/v1/sessions", "Bearer s3cret-token", {{"account", ""}}).status ==
        400);
  auto r = f.call("DELETE", "/api/v1/sessions", "Bearer s3cret-token",
                  {{"account", "Alice@Example.com"}});
  CHECK(r.status == 200);
  CHECK(body(r)["ended"] == 0);
  CHECK(body(r)["account"] == "alice@example.com");
}

TEST_CASE("sessions list the registry, client id included") {
  Fixture f;
  core::server::SessionEntry e;
  e.id = "s1";
  e.protocol = cfg::Protocol::kImap;
  e.remote = "192.0.2.1";
  e.since = 0;
  f.services.registry().add(e);
  f.services.registry().set_account("s1", "alice@example.com", "");
  f.services.registry().set_client_id("s1", "Thunderbird/115\xff");  // bad UTF-8: replaced
  auto r = f.call("GET", "/api/v1/sessions");
  REQUIRE(r.status == 200);
  CHECK(r.content_type == "application/json");
  auto j = body(r);
  REQUIRE(j["sessions"].size() == 1);
  auto s = j["sessions"][0];
  CHECK(s["id"] == "s1");
  CHECK(s["account"] == "alice@example.com");
  CHECK(s["protocol"] == "imap");
  CHECK(s["since"] == "1970-01-01T00:00:00Z");
  CHECK(s["tls"] == false);
  CHECK(s["client_id"].get<std::string>().rfind("Thunderbird/115", 0) == 0);
}

TEST_CASE("account status: quota, mailboxes, protocols, last login; 404 when unknown") {
  Fixture f;
  append(f.services.store(), "alice", "INBOX", "Subject: a\r\n\r\nhello\r\n");
  append(f.services.store(), "alice", "INBOX", "Subject: b\r\n\r\nworld\r\n", store::kSeen);
  append(f.services.store(), "alice", "Archive", "Subject: c\r\n\r\nx\r\n");
  f.services.last_logins().record("alice@example.com",
                                  {1700000000, cfg::Protocol::kImap, "198.51.100.7"});

  CHECK(f.call("GET", "/api/v1/accounts/nobody@example.com").status == 404);
  CHECK(f.call("GET", "/api/v1/accounts/alice@elsewhere.test").status == 404);
  CHECK(f.call("GET", "/api/v1/accounts/not an address").status == 404);

  auto r = f.call("GET", "/api/v1/accounts/ALICE@example.com");
  REQUIRE(r.status == 200);
  auto j = body(r);
  CHECK(j["address"] == "alice@example.com");
  CHECK(j["status"] == "active");
  CHECK(j["protocols"] == json::array({"imap"}));
  CHECK(j["quota"]["limit_bytes"] == 1000);
  CHECK(j["quota"]["limit_messages"].is_null());
  CHECK(j["quota"]["used_messages"] == 3);
  uint64_t total = 0;
  bool inbox = false;
  for (const auto& m : j["mailboxes"]) {
    total += m["bytes"].get<uint64_t>();
    if (m["name"] == "INBOX") {
      inbox = true;
      CHECK(m["messages"] == 2);
      CHECK(m["unseen"] == 1);
    }
  }
  CHECK(inbox);
  CHECK(j["quota"]["used_bytes"] == total);
  CHECK(j["last_login"]["time"] == "2023-11-14T22:13:20Z");
  CHECK(j["last_login"]["protocol"] == "imap");
  CHECK(j["last_login"]["remote"] == "198.51.100.7");

  auto b = body(f.call("GET", "/api/v1/accounts/bob@example.com"));
  CHECK(b["status"] == "suspended");
  CHECK(b["last_login"].is_null());
}

TEST_CASE("domains: loaded and broken files with file and line") {
  Fixture f;
  auto j = body(f.call("GET", "/api/v1/domains"));
  CHECK(j["generation"] == 7);
  REQUIRE(j["domains"].size() == 2);
  bool saw_broken = false;
  for (const auto& d : j["domains"]) {
    if (d["status"] == "broken") {
      saw_broken = true;
      CHECK(d["domain"].is_null());
      REQUIRE(d["errors"].size() >= 1);
      CHECK(d["errors"][0]["file"] == "/tmp/roost-admin-domains/broken.test.yaml");
      CHECK(d["errors"][0]["line"].get<int>() >= 1);
    } else {
      CHECK(d["domain"] == "example.com");
      CHECK(d["accounts"] == 2);
    }
  }
  CHECK(saw_broken);
}

TEST_CASE("reload: without a hook 422; with one, the report per file") {
  Fixture f;
  CHECK(f.call("POST", "/api/v1/reload").status == 422);
  f.services.set_reload_hook([] {
    core::server::ReloadReport r;
    r.ok = true;
    r.generation = 9;
    core::server::ReloadReport::File file;
    file.file = "/d/a.yaml";
    file.loaded = false;
    file.errors.push_back({"/d/a.yaml", 3, "bad key"});
    r.files.push_back(file);
    return r;
  });
  auto r = f.call("POST", "/api/v1/reload");
  CHECK(r.status == 200);
  auto j = body(r);
  CHECK(j["result"] == "ok");
  CHECK(j["generation"] == 9);
  CHECK(j["files"][0]["status"] == "broken");
  CHECK(j["files"][0]["errors"][0]["line"] == 3);
}

TEST_CASE("stats and metrics") {
  Fixture f;
  auto j = body(f.call("GET", "/api/v1/stats"));
  CHECK(j.contains("version"));
  CHECK(j["uptime_seconds"].is_number());
  CHECK(j["connections"]["current"].is_object());
  CHECK(j["logins"]["ok"].is_number());
  auto m = f.call("GET", "/metrics");
  CHECK(m.status == 200);
  CHECK(m.content_type.rfind("text/plain; version=0.0.4", 0) == 0);
  CHECK(m.body.find("# TYPE roost_admin_unauthorized_total counter") != std::string::npos);
}

TEST_CASE("token files") {
  auto dir = fs::temp_directory_path() / ("roost-admin-token-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto p = (dir / "token").string();
  CHECK_FALSE(roost::admin::read_token_file(p).token);  // missing
  CHECK(roost::admin::read_token_file(p).error.find(p) != std::string::npos);
  std::ofstream(p) << "\n";
  ::chmod(p.c_str(), 0600);
  CHECK_FALSE(roost::admin::read_token_file(p).token);  // empty
  std::ofstream(p) << "abc123\r\n";
  auto t = roost::admin::read_token_file(p);
  REQUIRE(t.token);
  CHECK(*t.token == "abc123");
  CHECK_FALSE(t.world_readable);
  ::chmod(p.c_str(), 0644);
  CHECK(roost::admin::read_token_file(p).world_readable);
  fs::remove_all(dir);
}

TEST_CASE("token comparison") {
  CHECK(roost::admin::token_equals("abc", "abc"));
  CHECK_FALSE(roost::admin::token_equals("abc", "abd"));
  CHECK_FALSE(roost::admin::token_equals("abc", "abcd"));
  CHECK_FALSE(roost::admin::token_equals("", "a"));
}

TEST_CASE("last-login file round trip; damaged file ignored") {
  auto dir = fs::temp_directory_path() / ("roost-admin-ll-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto p = (dir / "last-login.json").string();
  std::string err;
  CHECK(roost::admin::load_last_logins(p, &err).empty());
  CHECK(err.empty());
  std::map<std::string, core::server::LastLogin> m;
  m["a@b.test"] = {1700000000, cfg::Protocol::kPop3, "::1"};
  CHECK(roost::admin::save_last_logins(p, m) == "");
  auto back = roost::admin::load_last_logins(p, &err);
  REQUIRE(back.size() == 1);
  CHECK(back["a@b.test"].time == 1700000000);
  CHECK(back["a@b.test"].protocol == cfg::Protocol::kPop3);
  CHECK(back["a@b.test"].remote == "::1");
  std::ofstream(p) << "{not json";
  CHECK(roost::admin::load_last_logins(p, &err).empty());
  CHECK_FALSE(err.empty());
  fs::remove_all(dir);
}
