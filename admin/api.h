// The admin API (listener `protocol: admin`): a router over plain handler
// functions, bearer-token authentication and GET /metrics. Every handler
// runs on the store pool (core/http/session.h) and may block on the store.
// JSON is built only in admin/*.cpp; this header is plain.
//
// Endpoints (docs/ADMIN.md):
//   GET    /api/v1/sessions
//   DELETE /api/v1/sessions?account=ADDRESS
//   GET    /api/v1/accounts/ADDRESS
//   GET    /api/v1/domains
//   POST   /api/v1/reload
//   GET    /api/v1/stats
//   GET    /metrics
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/http/http.h"
#include "core/server/services.h"

namespace roost::admin {

// The content of a listener's token_file.
struct TokenFile {
  std::optional<std::string> token;  // set when usable: read, not empty
  std::string error;                 // why not (missing, unreadable, empty)
  bool world_readable = false;       // usable, but anyone on the host can read it
};
// Reads the file and strips trailing line ends (LF or CRLF) and spaces.
TokenFile read_token_file(const std::string& path);

// Equal in time independent of where the strings differ (both are hashed
// first, so their lengths do not show either).
bool token_equals(std::string_view a, std::string_view b);

// RFC 3339 UTC, e.g. "2026-11-26T19:37:33Z".
std::string rfc3339(int64_t unix_seconds);

class Api {
 public:
  explicit Api(core::server::Services& services);

  // The bearer token every request must carry. Empty: every request is
  // refused (401). Thread-safe; called at start and on reload.
  void set_token(std::string token);

  // The http::Handler: authenticates, routes, never throws.
  http::Response handle(const http::Request& req);
  http::Handler handler();

  // The handlers, after authentication (exposed for tests).
  http::Response list_sessions(const http::Request& req);
  http::Response kick_sessions(const http::Request& req);
  http::Response account(const http::Request& req, const std::string& address);
  http::Response domains(const http::Request& req);
  http::Response reload(const http::Request& req);
  http::Response stats(const http::Request& req);
  http::Response metrics(const http::Request& req);

 private:
  http::Response route(const http::Request& req);
  bool authorized(const http::Request& req) const;

  core::server::Services& services_;
  mutable std::mutex mu_;
  std::string token_;
};

// The reload report as the API answers it (also used for logs and the CLI).
std::string reload_report_json(const core::server::ReloadReport& r);

// state_dir/last-login.json: {"address": {"time": RFC3339, "unix": N,
// "protocol": "imap", "remote": "IP"}, ...}. Loading a missing file gives an
// empty map; a damaged one gives an empty map and `error`.
std::map<std::string, core::server::LastLogin> load_last_logins(const std::string& path,
                                                                std::string* error);
// Writes to a temporary name and renames. "" or the error.
std::string save_last_logins(const std::string& path,
                             const std::map<std::string, core::server::LastLogin>& entries);

}  // namespace roost::admin
