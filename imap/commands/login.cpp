// LOGIN (RFC 9051 6.2.3): full address and password. Refused with
// [PRIVACYREQUIRED] on a plaintext connection when policy says tls_only (the
// capability list then shows LOGINDISABLED).
#include "imap/commands/commands.h"

namespace imap {

void cmd_login(Session& s, const proto::Command& c) {
  const auto& args = std::get<proto::LoginArgs>(c.args);
  if (!s.plaintext_ok(args.user)) {
    return s.no("Plaintext login is not allowed without TLS; use STARTTLS on port 143 or port 993",
                proto::code_name(proto::Code::kPrivacyRequired));
  }
  s.login(args.user, args.password, "LOGIN");
}

}  // namespace imap
