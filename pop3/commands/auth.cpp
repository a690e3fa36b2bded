// AUTH (RFC 5034) with SASL PLAIN and LOGIN, initial responses included.
// "AUTH" alone lists the mechanisms (what Outlook probes with).
#include <algorithm>

#include "core/util/sasl.h"
#include "pop3/commands/commands.h"

namespace pop3 {

namespace {

void login_plain(Session& s, std::string_view b64) {
  if (b64 == "*") {
    s.err("Authentication cancelled");
    return;
  }
  auto decoded = b64 == "=" ? std::optional<std::string>("") : core::base64_decode(b64);
  auto creds = decoded ? core::parse_sasl_plain(*decoded) : std::nullopt;
  if (!creds) {
    s.err("[AUTH] Malformed SASL PLAIN response");
    s.count_bad_command();
    return;
  }
  if (!creds->authzid.empty() && creds->authzid != creds->authcid) {
    s.err("[AUTH] Logging in as another user is not allowed");
    return;
  }
  s.login(std::move(creds->authcid), std::move(creds->password), "PLAIN");
}

void login_password(Session& s, std::string user, std::string_view b64) {
  if (b64 == "*") {
    s.err("Authentication cancelled");
    return;
  }
  auto pass = core::base64_decode(b64);
  if (!pass) {
    s.err("[AUTH] Malformed SASL response");
    s.count_bad_command();
    return;
  }
  s.login(std::move(user), std::move(*pass), "LOGIN");
}

void login_user(Session& s, std::string_view b64) {
  if (b64 == "*") {
    s.err("Authentication cancelled");
    return;
  }
  auto user = core::base64_decode(b64);
  if (!user || user->empty()) {
    s.err("[AUTH] Malformed SASL response");
    s.count_bad_command();
    return;
  }
  s.write("+ UGFzc3dvcmQ6\r\n");  // "Password:"
  s.expect_sasl_line([&s, u = std::move(*user)](std::string_view line) mutable {
    login_password(s, std::move(u), line);
  });
}

}  // namespace

void cmd_auth(Session& s, const proto::Command& c) {
  if (c.args.empty()) {
    if (s.plaintext_ok("")) {
      s.multiline("Mechanisms follow", {"PLAIN", "LOGIN"});
    } else {
      s.multiline("Mechanisms follow (after STLS)", {});
    }
    return;
  }
  std::string mech = c.args[0];
  std::transform(mech.begin(), mech.end(), mech.begin(), ::toupper);
  if (mech != "PLAIN" && mech != "LOGIN") {
    s.err("[AUTH] Unsupported mechanism; use PLAIN or LOGIN");
    return;
  }
  if (!s.plaintext_ok("")) {
    s.err("[AUTH] Plaintext login is not allowed without TLS; use STLS or port 995");
    return;
  }
  if (c.args.size() > 2) {
    s.err("Too many arguments");
    s.count_bad_command();
    return;
  }
  if (mech == "PLAIN") {
    if (c.args.size() == 2) return login_plain(s, c.args[1]);
    s.write("+ \r\n");
    s.expect_sasl_line([&s](std::string_view line) { login_plain(s, line); });
    return;
  }
  if (c.args.size() == 2) return login_user(s, c.args[1]);
  s.write("+ VXNlcm5hbWU6\r\n");  // "Username:"
  s.expect_sasl_line([&s](std::string_view line) { login_user(s, line); });
}

}  // namespace pop3
