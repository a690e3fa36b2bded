// The login decision: TLS rule, password, status, protocol, in that order.
#include "core/auth/login.h"

#include "core/auth/password.h"
#include "core/util/ascii.h"

namespace core::auth {
namespace {

// Verified in place of a real hash when the address does not exist, so that
// an unknown address costs about as much time as a wrong password. A yescrypt
// hash at libxcrypt's default cost, the same cost as `roost pw --scheme yescrypt` uses.
// Made with: mkpasswd -m yescrypt 'roost-dummy-password-never-matches'
constexpr std::string_view kDummyHash =
    "$y$j9T$cUIH.BHbBdmqGCvk/2ZY1.$zgFqlFKdR/x86Kak2.DrDkDnZe6OZAbP8sTq/03UDn4";

// The policy that applies to an address with no account: the server's,
// overridden by its domain's when the domain is served.
config::Policy policy_for_unknown(const config::Directory& dir, std::string_view address) {
  config::Policy policy = dir.config().policy;
  const size_t at = address.rfind('@');
  if (at != std::string_view::npos) {
    if (const config::Domain* d = dir.find_domain(core::ascii_lower(address.substr(at + 1)))) {
      d->policy.apply(policy);
    }
  }
  return policy;
}

}  // namespace

const char* describe(LoginOutcome o) {
  // Client-facing text. The unknown-address and wrong-password cases are
  // deliberately identical.
  switch (o) {
    case LoginOutcome::kOk:
      return "Logged in";
    case LoginOutcome::kUnknownAddress:
    case LoginOutcome::kWrongPassword:
      return "Authentication failed";
    case LoginOutcome::kTlsRequired:
      return "Plaintext authentication is not allowed without TLS";
    case LoginOutcome::kProtocolDenied:
      return "This account may not use this protocol";
    case LoginOutcome::kSuspended:
      return "Account suspended";
  }
  return "Authentication failed";
}

bool plaintext_allowed(const config::Config& /*cfg*/, const config::Policy& policy, bool secure) {
  return secure || policy.plaintext_auth == config::PlaintextAuth::kAllowed;
}

LoginDecision decide_login(const config::Directory& dir, const LoginRequest& req, VerifyFn verify) {
  if (!verify) verify = &verify_password;
  LoginDecision d;
  d.account = dir.find_account(req.address);

  const config::Policy policy =
      d.account ? d.account->policy : policy_for_unknown(dir, req.address);
  if (!plaintext_allowed(dir.config(), policy, req.secure)) {
    d.outcome = LoginOutcome::kTlsRequired;
    return d;
  }

  if (!d.account) {
    (void)verify(kDummyHash, req.password);
    d.outcome = LoginOutcome::kUnknownAddress;
    return d;
  }
  if (!verify(d.account->account->password, req.password)) {
    d.outcome = LoginOutcome::kWrongPassword;
    return d;
  }
  if (d.account->account->status == config::AccountStatus::kSuspended) {
    d.outcome = LoginOutcome::kSuspended;
    return d;
  }
  if (!d.account->policy.allows(req.protocol)) {
    d.outcome = LoginOutcome::kProtocolDenied;
    return d;
  }
  d.outcome = LoginOutcome::kOk;
  return d;
}

}  // namespace core::auth
