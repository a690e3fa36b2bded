#include "core/server/services.h"

#include <openssl/evp.h>

#include <algorithm>
#include <ctime>

#include "core/auth/password.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"
#include "core/net/worker.h"
#include "core/util/ascii.h"

namespace core::server {

// ---- Registry --------------------------------------------------------------

bool Registry::admit_ip(const std::string& ip, uint32_t cap) {
  std::lock_guard lock(mu_);
  auto& n = per_ip_[ip];
  if (n >= cap) {
    if (n == 0) per_ip_.erase(ip);
    return false;
  }
  ++n;
  return true;
}

void Registry::release_ip(const std::string& ip) {
  std::lock_guard lock(mu_);
  auto it = per_ip_.find(ip);
  if (it != per_ip_.end() && --it->second == 0) per_ip_.erase(it);
}

bool Registry::admit_user(const std::string& user, const std::string& ip, uint32_t cap) {
  std::lock_guard lock(mu_);
  auto& n = per_user_ip_[{user, ip}];
  if (n >= cap) return false;
  ++n;
  return true;
}

void Registry::release_user(const std::string& user, const std::string& ip) {
  std::lock_guard lock(mu_);
  auto it = per_user_ip_.find({user, ip});
  if (it != per_user_ip_.end() && --it->second == 0) per_user_ip_.erase(it);
}

void Registry::add(SessionEntry e) {
  std::lock_guard lock(mu_);
  sessions_[e.id] = std::move(e);
}

void Registry::set_account(const std::string& id, const std::string& account,
                           const std::string& password_hash) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  it->second.account = account;
  it->second.password_hash = password_hash;
}

void Registry::set_tls(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(id);
  if (it != sessions_.end()) it->second.tls = true;
}

void Registry::set_remote(const std::string& id, const std::string& remote) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(id);
  if (it != sessions_.end()) it->second.remote = remote;
}

void Registry::set_client_id(const std::string& id, const std::string& client_id) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(id);
  if (it != sessions_.end()) it->second.client_id = client_id;
}

void Registry::remove(const std::string& id) {
  std::lock_guard lock(mu_);
  sessions_.erase(id);
}

std::vector<SessionEntry> Registry::snapshot() const {
  std::lock_guard lock(mu_);
  std::vector<SessionEntry> out;
  out.reserve(sessions_.size());
  for (const auto& [id, e] : sessions_) out.push_back(e);
  return out;
}

// ---- LastLogins ------------------------------------------------------------

void LastLogins::record(const std::string& address, LastLogin l) {
  std::lock_guard lock(mu_);
  by_address_[address] = std::move(l);
  dirty_ = true;
}

std::optional<LastLogin> LastLogins::get(const std::string& address) const {
  std::lock_guard lock(mu_);
  auto it = by_address_.find(address);
  if (it == by_address_.end()) return std::nullopt;
  return it->second;
}

std::map<std::string, LastLogin> LastLogins::snapshot() const {
  std::lock_guard lock(mu_);
  return by_address_;
}

void LastLogins::load(std::map<std::string, LastLogin> entries) {
  std::lock_guard lock(mu_);
  // Logins recorded since start win over what was saved.
  for (auto& [k, v] : entries) by_address_.emplace(k, std::move(v));
}

bool LastLogins::take_dirty() {
  std::lock_guard lock(mu_);
  bool d = dirty_;
  dirty_ = false;
  return d;
}

// ---- Verification cache ----------------------------------------------------
//
// A phone that reconnects every few minutes should not cost an argon2 run each
// time. Successful checks are remembered for a short while under a digest of
// (stored hash, password); nothing reversible is kept. The cache is emptied on
// every reload, so a changed password never matches an old entry.

namespace {

std::mutex g_cache_mu;
std::map<std::string, std::chrono::steady_clock::time_point> g_cache;
std::atomic<int64_t> g_cache_ttl_ms{60000};
constexpr size_t kCacheMax = 100000;

std::string cache_key(std::string_view stored, std::string_view password) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx, stored.data(), stored.size());
  EVP_DigestUpdate(ctx, "\0", 1);
  EVP_DigestUpdate(ctx, password.data(), password.size());
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  return std::string(reinterpret_cast<char*>(md), len);
}

bool cached_verify(std::string_view stored, std::string_view password) {
  // auth_cache_ttl: 0s turns the cache off: every login pays the hash.
  if (g_cache_ttl_ms.load() <= 0) return auth::verify_password(stored, password);
  auto now = std::chrono::steady_clock::now();
  std::string key = cache_key(stored, password);
  {
    std::lock_guard lock(g_cache_mu);
    auto it = g_cache.find(key);
    if (it != g_cache.end()) {
      if (it->second > now) return true;
      g_cache.erase(it);
    }
  }
  if (!auth::verify_password(stored, password)) return false;
  std::lock_guard lock(g_cache_mu);
  if (g_cache.size() >= kCacheMax) g_cache.clear();
  g_cache[key] = now + std::chrono::milliseconds(g_cache_ttl_ms.load());
  return true;
}

// For the operator's log: unlike what a client is told, says which it was.
const char* log_reason(auth::LoginOutcome o) {
  switch (o) {
    case auth::LoginOutcome::kOk:
      return "";
    case auth::LoginOutcome::kUnknownAddress:
      return "unknown address";
    case auth::LoginOutcome::kWrongPassword:
      return "wrong password";
    case auth::LoginOutcome::kTlsRequired:
      return "plaintext login without TLS";
    case auth::LoginOutcome::kProtocolDenied:
      return "protocol not allowed for the account";
    case auth::LoginOutcome::kSuspended:
      return "account suspended";
  }
  return "?";
}

}  // namespace

// ---- AuthService -----------------------------------------------------------

AuthService::AuthService(Services& services) : services_(services), throttle_({}) {
  reconfigure(services.runtime()->config().limits);
}

void AuthService::reconfigure(const config::Limits& limits) {
  auth::Throttle::Settings s;
  s.first_delay = limits.auth_failure_delay;
  s.max_delay = limits.auth_failure_delay_max;
  s.failures_per_ip = limits.auth_failures_per_ip;
  throttle_.update_settings(s);
  failure_delay_ms_ = limits.auth_failure_delay.count();
  g_cache_ttl_ms = limits.auth_cache_ttl.count();
}

void AuthService::clear_cache() {
  std::lock_guard lock(g_cache_mu);
  g_cache.clear();
}

bool AuthService::plaintext_ok(std::string_view address, bool secure) const {
  if (secure) return true;
  auto rt = services_.runtime();
  config::Policy policy = rt->config().policy;
  if (!address.empty()) {
    if (auto acct = rt->directory->find_account(address)) {
      policy = acct->policy;
    } else {
      auto at = address.rfind('@');
      if (at != std::string_view::npos) {
        if (const auto* d = rt->directory->find_domain(address.substr(at + 1))) {
          d->policy.apply(policy);
        }
      }
    }
  }
  return auth::plaintext_allowed(rt->config(), policy, false);
}

void AuthService::login(const std::shared_ptr<net::Session>& session, Attempt attempt,
                        std::function<void(const Outcome&)> done) {
  auto conn = session->conn_ptr();
  auto rt = services_.runtime();
  const std::string ip = conn->info().remote_ip;
  const std::string user = core::ascii_lower(attempt.address);
  auto now = std::chrono::steady_clock::now();
  auto pre_delay = throttle_.delay_before(ip, user, now);
  auto result = std::make_shared<Outcome>();
  auto secure = conn->secure();

  auto finish = [this, session, conn, rt, ip, user, result, pre_delay, attempt,
                 done = std::move(done)]() mutable {
    Outcome& out = *result;
    std::chrono::milliseconds delay = pre_delay;
    const char* reason = nullptr;
    if (out.busy) {
      reason = "auth pool saturated";
    } else if (out.decision.outcome != auth::LoginOutcome::kOk) {
      reason = log_reason(out.decision.outcome);
      // Unknown users and wrong passwords are answered after the same delay.
      // The delay grows with this pair's failures, this one included.
      auto now = std::chrono::steady_clock::now();
      throttle_.record_failure(ip, user, now);
      delay = std::max({delay, throttle_.delay_before(ip, user, now),
                        std::chrono::milliseconds(failure_delay_ms_.load())});
    } else {
      throttle_.record_success(ip, user);
      const auto& limits = rt->config().limits;
      if (!services_.registry().admit_user(out.decision.account->address, ip,
                                           limits.connections_per_user_ip)) {
        out.too_many_sessions = true;
        reason = "too many connections for this user from this address";
      }
    }
    metrics::logins().with({config::to_string(attempt.protocol), out.ok() ? "ok" : "fail"}).inc();
    if (pre_delay.count() > 0) metrics::auth_throttled().inc();
    log::event(out.ok() ? log::Level::kInfo : log::Level::kWarning, "login",
               {{"proto", config::to_string(attempt.protocol)},
                {"session", conn->info().id},
                {"remote", ip},
                {"user", out.decision.account ? out.decision.account->address : user},
                {"mechanism", attempt.mechanism},
                {"tls", conn->tls_active()},
                {"result", out.ok() ? "ok" : "fail"},
                {"reason", reason ? reason : ""}});
    if (out.ok()) {
      services_.registry().set_account(conn->info().id, out.decision.account->address,
                                       out.decision.account->account->password);
      services_.last_logins().record(
          out.decision.account->address,
          LastLogin{static_cast<int64_t>(std::time(nullptr)), attempt.protocol, ip});
    }
    if (delay.count() > 0) {
      conn->after(delay, [done = std::move(done), result]() { done(*result); });
    } else {
      done(*result);
    }
  };

  auto work = [rt, result, attempt, secure]() {
    auth::LoginRequest req;
    req.address = attempt.address;
    req.password = attempt.password;
    req.protocol = attempt.protocol;
    req.secure = secure;
    result->decision = auth::decide_login(*rt->directory, req, &cached_verify);
  };
  if (!conn->offload(services_.auth_pool(), session, std::move(work), finish)) {
    result->busy = true;
    finish();
  }
}

// ---- Services --------------------------------------------------------------

Services::Services(std::shared_ptr<const Runtime> rt, std::unique_ptr<store::Store> store)
    : runtime_(std::move(rt)), store_(std::move(store)) {
  const auto& limits = runtime_->config().limits;
  store_pool_ = std::make_unique<net::Pool>("roost-store", limits.store_workers, 100000);
  auth_pool_ = std::make_unique<net::Pool>("roost-auth", limits.auth_workers, limits.auth_queue);
  auth_ = std::make_unique<AuthService>(*this);
}

Services::~Services() = default;

std::shared_ptr<const Runtime> Services::runtime() const {
  std::lock_guard lock(mu_);
  return runtime_;
}

void Services::set_runtime(std::shared_ptr<const Runtime> rt) {
  {
    std::lock_guard lock(mu_);
    runtime_ = std::move(rt);
  }
  auth_->reconfigure(runtime()->config().limits);
  auth_->clear_cache();
}

void Services::set_reload_hook(std::function<ReloadReport()> hook) {
  std::lock_guard lock(reload_mu_);
  reload_hook_ = std::move(hook);
}

ReloadReport Services::reload() {
  std::function<ReloadReport()> hook;
  {
    std::lock_guard lock(reload_mu_);
    hook = reload_hook_;
  }
  if (!hook) {
    ReloadReport r;
    r.main_errors.push_back(config::Diagnostic{"", 0, "reload is not available"});
    return r;
  }
  return hook();
}

}  // namespace core::server
