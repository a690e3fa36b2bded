// The login decision shared by roostd (POP3, IMAP) and `roost auth test`:
// given the directory, an address, a password and how the client connected,
// say whether the login succeeds and, if not, exactly why.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/config/directory.h"

namespace core::auth {

enum class LoginOutcome {
  kOk,
  kUnknownAddress,  // no such account (aliases are not logins)
  kWrongPassword,
  kTlsRequired,     // plaintext credentials without TLS, not trusted, policy tls_only
  kProtocolDenied,  // the account's policy.protocols excludes this protocol
  kSuspended,       // status: suspended
};

// A client must not learn whether an address exists: kUnknownAddress and
// kWrongPassword produce the same answer. The reasons after a correct
// password (protocol, suspended) are told to the client.
const char* describe(LoginOutcome o);

struct LoginRequest {
  std::string_view address;
  std::string_view password;
  config::Protocol protocol = config::Protocol::kImap;
  bool secure = false;  // TLS on, or the client is in trusted_networks
};

struct LoginDecision {
  LoginOutcome outcome = LoginOutcome::kUnknownAddress;
  std::optional<config::AccountView> account;  // set when the address exists
};

// The TLS check comes first (no password is verified on an insecure channel
// when policy forbids it), then the password (slow: run on the auth pool),
// then status and protocol. `verify` defaults to verify_password; tests and
// the auth cache may pass their own.
using VerifyFn = bool (*)(std::string_view stored, std::string_view password);
LoginDecision decide_login(const config::Directory& dir, const LoginRequest& req,
                           VerifyFn verify = nullptr);

// Checks only the TLS rule, for protocols that must answer before seeing a
// password (POP3 USER, IMAP LOGINDISABLED).
bool plaintext_allowed(const config::Config& cfg, const config::Policy& policy, bool secure);

}  // namespace core::auth
