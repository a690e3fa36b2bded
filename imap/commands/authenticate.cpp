// AUTHENTICATE (RFC 9051 6.2.2) with SASL PLAIN and LOGIN, and initial
// responses (SASL-IR, RFC 4959). "*" cancels.
#include "core/util/sasl.h"
#include "imap/commands/commands.h"

namespace imap {

namespace {

using proto::Code;

void malformed(Session& s) {
  s.bad("Malformed SASL response");
  s.count_bad_command();
}

void plain(Session& s, std::string_view b64) {
  if (b64 == "*") return s.bad("Authentication cancelled");
  auto decoded = b64 == "=" ? std::optional<std::string>("") : core::base64_decode(b64);
  auto creds = decoded ? core::parse_sasl_plain(*decoded) : std::nullopt;
  if (!creds) return malformed(s);
  if (!creds->authzid.empty() && creds->authzid != creds->authcid) {
    return s.no("Logging in as another user is not allowed",
                proto::code_name(Code::kAuthorizationFailed));
  }
  s.login(std::move(creds->authcid), std::move(creds->password), "PLAIN");
}

void password(Session& s, std::string user, std::string_view b64) {
  if (b64 == "*") return s.bad("Authentication cancelled");
  auto pass = core::base64_decode(b64);
  if (!pass) return malformed(s);
  s.login(std::move(user), std::move(*pass), "LOGIN");
}

void username(Session& s, std::string_view b64) {
  if (b64 == "*") return s.bad("Authentication cancelled");
  auto user = core::base64_decode(b64);
  if (!user || user->empty()) return malformed(s);
  s.write("+ UGFzc3dvcmQ6\r\n");  // "Password:"
  s.expect_line([&s, u = std::move(*user)](std::string_view line) mutable {
    password(s, std::move(u), line);
  });
}

}  // namespace

void cmd_authenticate(Session& s, const proto::Command& c) {
  const auto& args = std::get<proto::AuthenticateArgs>(c.args);
  if (args.mechanism != "PLAIN" && args.mechanism != "LOGIN") {
    return s.no("Unsupported mechanism; use PLAIN or LOGIN", proto::code_name(Code::kCannot));
  }
  if (!s.plaintext_ok()) {
    return s.no("Plaintext authentication is not allowed without TLS; use STARTTLS or port 993",
                proto::code_name(Code::kPrivacyRequired));
  }
  if (args.mechanism == "PLAIN") {
    if (args.initial_response) return plain(s, *args.initial_response);
    s.write("+ \r\n");
    s.expect_line([&s](std::string_view line) { plain(s, line); });
    return;
  }
  if (args.initial_response) return username(s, *args.initial_response);
  s.write("+ VXNlcm5hbWU6\r\n");  // "Username:"
  s.expect_line([&s](std::string_view line) { username(s, line); });
}

}  // namespace imap
