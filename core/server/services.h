// What every protocol session shares, owned by the daemon: the current
// configuration snapshot (swapped atomically on reload), the store, the
// blocking pools, authentication and the live-session registry.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/auth/login.h"
#include "core/auth/throttle.h"
#include "core/config/directory.h"
#include "core/net/connection.h"
#include "core/net/pool.h"
#include "store/store.h"

namespace core::tls {
class Context;
}

namespace core::server {

// An immutable view of the configuration; sessions keep the one they started
// with for framing decisions and ask for the current one at login.
struct Runtime {
  std::shared_ptr<const config::Directory> directory;
  std::shared_ptr<tls::Context> tls;
  uint64_t generation = 0;
  const config::Config& config() const { return directory->config(); }
};

// A live session as the registry sees it (admin API, reload kicks, limits).
struct SessionEntry {
  std::string id;
  std::string account;  // empty before login
  config::Protocol protocol = config::Protocol::kPop3;
  std::string remote;
  int64_t since = 0;
  bool tls = false;
  std::string password_hash;  // to notice a changed password on reload
  std::weak_ptr<net::Session> session;
  net::Worker* worker = nullptr;
  std::string client_id;  // IMAP ID name/version when the client sent them
};

class Registry {
 public:
  // Per-IP cap at accept time.
  bool admit_ip(const std::string& ip, uint32_t cap);
  void release_ip(const std::string& ip);
  // Per (user, IP) cap at login time.
  bool admit_user(const std::string& user, const std::string& ip, uint32_t cap);
  void release_user(const std::string& user, const std::string& ip);

  void add(SessionEntry e);
  void set_account(const std::string& id, const std::string& account,
                   const std::string& password_hash);
  void set_tls(const std::string& id);
  // The client's address changed (IMAP ID x-originating-ip from a trusted webmail).
  void set_remote(const std::string& id, const std::string& remote);
  void set_client_id(const std::string& id, const std::string& client_id);
  void remove(const std::string& id);
  std::vector<SessionEntry> snapshot() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, uint32_t> per_ip_;
  std::map<std::pair<std::string, std::string>, uint32_t> per_user_ip_;
  std::map<std::string, SessionEntry> sessions_;
};

class Services;

// The last successful login of each account (admin API). Kept in memory;
// the daemon loads and saves it as state_dir/last-login.json (admin/).
struct LastLogin {
  int64_t time = 0;  // unix seconds
  config::Protocol protocol = config::Protocol::kImap;
  std::string remote;
};

class LastLogins {
 public:
  void record(const std::string& address, LastLogin l);
  std::optional<LastLogin> get(const std::string& address) const;
  std::map<std::string, LastLogin> snapshot() const;
  void load(std::map<std::string, LastLogin> entries);
  // True once after any record() since the last call (what to save).
  bool take_dirty();

 private:
  mutable std::mutex mu_;
  std::map<std::string, LastLogin> by_address_;
  bool dirty_ = false;
};

// What a reload did (SIGHUP or POST /api/v1/reload), per file.
struct ReloadReport {
  bool ok = false;  // the main file loaded; false: every old setting kept
  std::vector<config::Diagnostic> main_errors;
  struct File {
    std::string file;
    bool loaded = false;  // false: broken (a previous good version may still be served)
    std::vector<config::Diagnostic> errors;
    std::vector<config::Diagnostic> warnings;
  };
  std::vector<File> files;
  std::vector<config::Diagnostic> problems;  // e.g. a domain claimed twice
  std::string tls_error;                     // certificates kept when set
  uint64_t generation = 0;
};

// Logins for every protocol: throttling, the auth pool, a short cache of
// successful verifications (dropped on reload), uniform failure delays and
// the login log event.
class AuthService {
 public:
  explicit AuthService(Services& services);
  void reconfigure(const config::Limits& limits);
  void clear_cache();

  struct Attempt {
    std::string address;
    std::string password;
    config::Protocol protocol = config::Protocol::kPop3;
    std::string mechanism;  // "USER/PASS", "PLAIN", "LOGIN"
  };
  struct Outcome {
    auth::LoginDecision decision;
    bool busy = false;               // auth pool saturated: "try again later"
    bool too_many_sessions = false;  // connections_per_user_ip reached
    bool ok() const {
      return decision.outcome == auth::LoginOutcome::kOk && !busy && !too_many_sessions;
    }
  };
  // Runs the whole login; `done` runs on the connection's loop (if it is still
  // open) after any throttling delay. On ok() the session holds one slot of
  // connections_per_user_ip and must call Registry::release_user when it ends.
  void login(const std::shared_ptr<net::Session>& session, Attempt attempt,
             std::function<void(const Outcome&)> done);

  // Whether plaintext credentials may be sent now (POP3 USER/AUTH, IMAP
  // LOGIN/AUTHENTICATE/LOGINDISABLED): always over a secure connection,
  // else per the policy of `address` (its account, else its domain, else
  // the server's; empty address: the server's).
  bool plaintext_ok(std::string_view address, bool secure) const;

 private:
  Services& services_;
  auth::Throttle throttle_;
  std::atomic<int64_t> failure_delay_ms_{2000};
};

class Services {
 public:
  Services(std::shared_ptr<const Runtime> rt, std::unique_ptr<store::Store> store);
  ~Services();

  std::shared_ptr<const Runtime> runtime() const;
  void set_runtime(std::shared_ptr<const Runtime> rt);

  store::Store& store() { return *store_; }
  net::Pool& store_pool() { return *store_pool_; }
  net::Pool& auth_pool() { return *auth_pool_; }
  AuthService& auth() { return *auth_; }
  Registry& registry() { return registry_; }
  LastLogins& last_logins() { return last_logins_; }

  // The daemon's reload, callable from any thread (admin API); the daemon
  // serialises it with SIGHUP. Without a hook: a report with ok = false.
  void set_reload_hook(std::function<ReloadReport()> hook);
  ReloadReport reload();

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Runtime> runtime_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<net::Pool> store_pool_;
  std::unique_ptr<net::Pool> auth_pool_;
  std::unique_ptr<AuthService> auth_;
  Registry registry_;
  LastLogins last_logins_;
  std::mutex reload_mu_;
  std::function<ReloadReport()> reload_hook_;
};

}  // namespace core::server
