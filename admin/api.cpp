#include "admin/api.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/metrics/metrics.h"
#include "core/net/worker.h"

namespace roost::admin {

using json = nlohmann::json;
namespace config = core::config;
namespace server = core::server;

// ---- Helpers ---------------------------------------------------------------

namespace {

// Strings from clients (IMAP ID) or files may be invalid UTF-8: replaced,
// never an exception.
std::string dump(const json& j) {
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

http::Response answer(int status, const json& j) {
  return http::json(status, dump(j));
}

http::Response error(int status, const std::string& message) {
  return answer(status, json{{"error", message}});
}

http::Response method_not_allowed(const char* allow) {
  auto r = error(405, "method not allowed");
  r.headers.emplace_back("Allow", allow);
  return r;
}

json diagnostic(const config::Diagnostic& d) {
  return json{{"file", d.file}, {"line", d.line}, {"message", d.message}};
}

json diagnostics(const std::vector<config::Diagnostic>& ds) {
  json a = json::array();
  for (const auto& d : ds) a.push_back(diagnostic(d));
  return a;
}

std::optional<config::Protocol> protocol_from(std::string_view s) {
  using P = config::Protocol;
  for (P p : {P::kImap, P::kPop3, P::kLmtp, P::kQuotaStatus, P::kAdmin, P::kAutoconfig}) {
    if (s == config::to_string(p)) return p;
  }
  return std::nullopt;
}

json limit_or_null(uint64_t v) {
  return v == config::kUnlimited ? json(nullptr) : json(v);
}

}  // namespace

std::string rfc3339(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool token_equals(std::string_view a, std::string_view b) {
  unsigned char da[EVP_MAX_MD_SIZE], db[EVP_MAX_MD_SIZE];
  unsigned int la = 0, lb = 0;
  if (!EVP_Digest(a.data(), a.size(), da, &la, EVP_sha256(), nullptr) ||
      !EVP_Digest(b.data(), b.size(), db, &lb, EVP_sha256(), nullptr) || la != lb) {
    return false;
  }
  return CRYPTO_memcmp(da, db, la) == 0;
}

TokenFile read_token_file(const std::string& path) {
  TokenFile out;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    out.error = path + ": " + std::strerror(errno);
    return out;
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0) out.world_readable = (st.st_mode & S_IROTH) != 0;
  std::string content;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      out.error = path + ": " + std::strerror(errno);
      ::close(fd);
      return out;
    }
    if (n == 0) break;
    content.append(buf, static_cast<size_t>(n));
    if (content.size() > 64 * 1024) {
      out.error = path + ": too long for a token";
      ::close(fd);
      return out;
    }
  }
  ::close(fd);
  while (!content.empty() && (content.back() == '\n' || content.back() == '\r' ||
                              content.back() == ' ' || content.back() == '\t')) {
    content.pop_back();
  }
  if (content.empty()) {
    out.error = path + ": the token file is empty";
    return out;
  }
  out.token = std::move(content);
  return out;
}

// ---- Api -------------------------------------------------------------------

Api::Api(server::Services& services) : services_(services) {}

void Api::set_token(std::string token) {
  std::lock_guard lock(mu_);
  token_ = std::move(token);
}

http::Handler Api::handler() {
  return [this](const http::Request& req) { return handle(req); };
}

bool Api::authorized(const http::Request& req) const {
  std::string token;
  {
    std::lock_guard lock(mu_);
    token = token_;
  }
  const std::string h = req.header("authorization");
  constexpr std::string_view kScheme = "bearer ";
  bool scheme_ok = h.size() > kScheme.size();
  for (size_t i = 0; scheme_ok && i < kScheme.size(); ++i) {
    char c = h[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    scheme_ok = c == kScheme[i];
  }
  std::string_view presented = scheme_ok ? std::string_view(h).substr(kScheme.size()) : "";
  while (!presented.empty() && presented.front() == ' ') presented.remove_prefix(1);
  // Compared even when something is missing, so timing says nothing.
  bool equal = token_equals(presented, token);
  return scheme_ok && !token.empty() && !presented.empty() && equal;
}

http::Response Api::handle(const http::Request& req) {
  http::Response r;
  try {
    if (!authorized(req)) {
      core::metrics::admin_unauthorized().inc();
      r = http::json(401, "{\"error\":\"unauthorized\"}\n");
      r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"roost\"");
    } else {
      r = route(req);
    }
  } catch (const std::exception&) {
    // Handlers do not throw on bad input; this is a server fault.
    r = error(500, "internal error");
  }
  core::metrics::admin_requests().with({std::to_string(r.status)}).inc();
  return r;
}

http::Response Api::route(const http::Request& req) {
  const std::string& p = req.path;
  const std::string& m = req.method;
  if (p == "/api/v1/sessions") {
    if (m == "GET") return list_sessions(req);
    if (m == "DELETE") return kick_sessions(req);
    return method_not_allowed("GET, DELETE");
  }
  constexpr std::string_view kAccounts = "/api/v1/accounts/";
  if (p.size() > kAccounts.size() && p.compare(0, kAccounts.size(), kAccounts) == 0) {
    if (m != "GET") return method_not_allowed("GET");
    return account(req, p.substr(kAccounts.size()));
  }
  if (p == "/api/v1/domains") {
    if (m != "GET") return method_not_allowed("GET");
    return domains(req);
  }
  if (p == "/api/v1/reload") {
    if (m != "POST") return method_not_allowed("POST");
    return reload(req);
  }
  if (p == "/api/v1/stats") {
    if (m != "GET") return method_not_allowed("GET");
    return stats(req);
  }
  if (p == "/metrics") {
    if (m != "GET") return method_not_allowed("GET");
    return metrics(req);
  }
  return error(404, "not found");
}

// ---- Sessions --------------------------------------------------------------

http::Response Api::list_sessions(const http::Request&) {
  json list = json::array();
  for (const auto& e : services_.registry().snapshot()) {
    json s{{"id", e.id},
           {"account", e.account.empty() ? json(nullptr) : json(e.account)},
           {"protocol", config::to_string(e.protocol)},
           {"remote", e.remote},
           {"since", rfc3339(e.since)},
           {"tls", e.tls},
           {"client_id", e.client_id.empty() ? json(nullptr) : json(e.client_id)}};
    list.push_back(std::move(s));
  }
  return answer(200, json{{"sessions", std::move(list)}});
}

http::Response Api::kick_sessions(const http::Request& req) {
  auto account = req.param("account");
  if (!account || account->empty()) return error(400, "the account parameter is required");
  // The canonical address, so that an alias domain or other case matches.
  std::string wanted = *account;
  if (auto view = services_.runtime()->directory->find_account(wanted)) wanted = view->address;
  std::string lower = wanted;
  for (auto& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  int64_t count = 0;
  for (const auto& e : services_.registry().snapshot()) {
    if (e.account.empty() || e.account != lower || !e.worker) continue;
    auto weak = e.session;
    e.worker->post([weak] {
      if (auto s = weak.lock()) s->on_kick("ended by the administrator");
    });
    ++count;
  }
  return answer(200, json{{"account", lower}, {"ended", count}});
}

// ---- Accounts --------------------------------------------------------------

http::Response Api::account(const http::Request&, const std::string& address) {
  auto rt = services_.runtime();
  auto view = rt->directory->find_account(address);
  if (!view || !view->domain || !view->account) return error(404, "no such account");
  const config::Policy& pol = view->policy;

  json protocols = json::array();
  for (auto p : pol.protocols) protocols.push_back(config::to_string(p));
  json out{{"address", view->address},
           {"domain", view->domain->name},
           {"file", view->domain->file},
           {"line", view->account->line},
           {"status",
            view->account->status == config::AccountStatus::kSuspended ? "suspended" : "active"},
           {"protocols", protocols}};

  json quota{{"used_bytes", nullptr},
             {"limit_bytes", limit_or_null(pol.quota)},
             {"used_messages", nullptr},
             {"limit_messages", limit_or_null(pol.quota_messages)}};
  json mailboxes = json::array();
  json store_error = nullptr;
  auto acct = services_.store().open_account(view->domain->name, view->account->name);
  if (!acct) {
    store_error = acct.error().message;
  } else {
    store::QuotaLimits limits;
    limits.bytes = pol.quota == config::kUnlimited ? 0 : pol.quota;
    limits.messages = pol.quota_messages == config::kUnlimited ? 0 : pol.quota_messages;
    (*acct)->set_quota_limits(limits);
    if (auto usage = (*acct)->quota_usage()) {
      quota["used_bytes"] = usage->bytes;
      quota["used_messages"] = usage->messages;
    } else {
      store_error = usage.error().message;
    }
    if (auto list = (*acct)->list_mailboxes()) {
      for (const auto& info : *list) {
        if (info.noselect) continue;
        auto st = (*acct)->mailbox_status(info.name);
        if (!st) continue;  // removed meanwhile
        mailboxes.push_back(json{{"name", info.name},
                                 {"messages", st->messages},
                                 {"unseen", st->unseen},
                                 {"bytes", st->size}});
      }
    } else {
      store_error = list.error().message;
    }
  }
  out["quota"] = std::move(quota);
  out["mailboxes"] = std::move(mailboxes);
  if (auto ll = services_.last_logins().get(view->address)) {
    out["last_login"] = json{{"time", rfc3339(ll->time)},
                             {"protocol", config::to_string(ll->protocol)},
                             {"remote", ll->remote}};
  } else {
    out["last_login"] = nullptr;
  }
  int64_t live = 0;
  for (const auto& e : services_.registry().snapshot()) live += e.account == view->address;
  out["sessions"] = live;
  if (!store_error.is_null()) out["store_error"] = store_error;
  return answer(200, out);
}

// ---- Domains and reload ----------------------------------------------------

http::Response Api::domains(const http::Request&) {
  auto rt = services_.runtime();
  json list = json::array();
  for (const auto& f : rt->directory->files()) {
    const bool broken = !f.errors.empty() || !f.domain;
    json d{{"file", f.file},
           {"status", broken ? "broken" : "loaded"},
           {"domain", f.domain ? json(f.domain->name) : json(nullptr)},
           // A broken file whose last good version is still served.
           {"serving_previous", broken && f.domain.has_value()},
           {"accounts", f.domain ? f.domain->accounts.size() : 0},
           {"errors", diagnostics(f.errors)},
           {"warnings", diagnostics(f.warnings)}};
    list.push_back(std::move(d));
  }
  return answer(200, json{{"generation", rt->generation}, {"domains", std::move(list)}});
}

std::string reload_report_json(const server::ReloadReport& r) {
  json files = json::array();
  for (const auto& f : r.files) {
    files.push_back(json{{"file", f.file},
                         {"status", f.loaded ? "loaded" : "broken"},
                         {"errors", diagnostics(f.errors)},
                         {"warnings", diagnostics(f.warnings)}});
  }
  json j{{"result", r.ok ? "ok" : "fail"},
         {"generation", r.generation},
         {"errors", diagnostics(r.main_errors)},
         {"files", std::move(files)},
         {"problems", diagnostics(r.problems)},
         {"tls_error", r.tls_error.empty() ? json(nullptr) : json(r.tls_error)}};
  return dump(j);
}

http::Response Api::reload(const http::Request&) {
  auto report = services_.reload();
  // A broken main file is the caller's to fix: 422 with the errors; broken
  // domain files are a successful reload that reports them.
  return http::json(report.ok ? 200 : 422, reload_report_json(report));
}

// ---- Stats and metrics -----------------------------------------------------

namespace {

json sum_by_first(const core::metrics::Family<core::metrics::Counter>& f) {
  json out = json::object();
  f.for_each([&](const std::vector<std::string>& v, const core::metrics::Counter& c) {
    if (v.empty()) return;
    out[v[0]] = out.value(v[0], uint64_t{0}) + c.value();
  });
  return out;
}

}  // namespace

http::Response Api::stats(const http::Request&) {
  namespace m = core::metrics;
  json current = json::object();
  m::connections().for_each([&](const std::vector<std::string>& v, const m::Gauge& g) {
    if (v.empty()) return;
    current[v[0]] = current.value(v[0], int64_t{0}) + g.value();
  });
  json logins = json::object();
  uint64_t ok = 0, fail = 0;
  m::logins().for_each([&](const std::vector<std::string>& v, const m::Counter& c) {
    if (v.size() != 2) return;
    logins[v[0]][v[1]] = c.value();
    (v[1] == "ok" ? ok : fail) += c.value();
  });
  json deliveries = json::object();
  m::deliveries().for_each([&](const std::vector<std::string>& v, const m::Counter& c) {
    if (!v.empty()) deliveries[v[0]] = c.value();
  });
  json out{{"version", m::version()},
           {"uptime_seconds", static_cast<int64_t>(m::uptime_seconds())},
           {"sessions", services_.registry().snapshot().size()},
           {"connections", {{"current", current}, {"total", sum_by_first(m::connections_total())}}},
           {"logins", {{"ok", ok}, {"fail", fail}, {"by_protocol", logins}}},
           {"commands", sum_by_first(m::commands())},
           {"bytes",
            {{"in", sum_by_first(m::bytes_received())}, {"out", sum_by_first(m::bytes_sent())}}},
           {"deliveries", deliveries},
           {"quota_refusals", m::quota_refusals().value()},
           {"index_rebuilds", m::index_rebuilds().value()},
           {"auth_throttled", m::auth_throttled().value()},
           {"domains_broken", m::domains_broken().value()}};
  return answer(200, out);
}

http::Response Api::metrics(const http::Request&) {
  http::Response r;
  r.status = 200;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = core::metrics::render();
  return r;
}

// ---- Last logins -----------------------------------------------------------

std::map<std::string, server::LastLogin> load_last_logins(const std::string& path,
                                                          std::string* error) {
  std::map<std::string, server::LastLogin> out;
  std::ifstream in(path, std::ios::binary);
  if (!in) return out;  // none yet
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    if (error) *error = path + ": not a JSON object; ignored";
    return out;
  }
  for (const auto& [address, v] : j.items()) {
    if (!v.is_object()) continue;
    server::LastLogin l;
    if (auto it = v.find("unix"); it != v.end() && it->is_number_integer()) {
      l.time = it->get<int64_t>();
    } else {
      continue;
    }
    if (auto it = v.find("protocol"); it != v.end() && it->is_string()) {
      auto p = protocol_from(it->get<std::string>());
      if (p) l.protocol = *p;
    }
    if (auto it = v.find("remote"); it != v.end() && it->is_string()) {
      l.remote = it->get<std::string>();
    }
    out[address] = std::move(l);
  }
  return out;
}

std::string save_last_logins(const std::string& path,
                             const std::map<std::string, server::LastLogin>& entries) {
  json j = json::object();
  for (const auto& [address, l] : entries) {
    j[address] = json{{"time", rfc3339(l.time)},
                      {"unix", l.time},
                      {"protocol", config::to_string(l.protocol)},
                      {"remote", l.remote}};
  }
  const std::string text = dump(j);
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return tmp + ": " + std::strerror(errno);
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string e = tmp + ": " + std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return e;
    }
    off += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string e = path + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return e;
  }
  return "";
}

}  // namespace roost::admin
