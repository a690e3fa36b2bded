// ID (RFC 2971): logs what the client says it is (name, version, os) and
// names the server. Valid in every state; clients such as Apple Mail send it
// before login.
#include "core/log/log.h"
#include "core/net/connection.h"
#include "core/net/proxy.h"
#include "imap/commands/commands.h"

namespace imap {

namespace {
std::string field(const proto::IdArgs& args, std::string_view key) {
  if (!args.fields) return {};
  for (const auto& [k, v] : *args.fields) {
    if (v && proto::to_upper(k) == proto::to_upper(key)) return v->substr(0, 100);
  }
  return {};
}

// x-originating-ip (and x-originating-port): a webmail in trusted_networks
// names the person it logs in for, so that throttling, connection caps, logs
// and the session list see that person rather than the webmail. Honoured
// before login only, and only from a trusted peer (after any PROXY header:
// the real peer). False when the connection was closed (that address is at
// its connection cap).
bool apply_origin(Session& s, const proto::IdArgs& args) {
  std::string ip = field(args, "x-originating-ip");
  if (ip.empty()) return true;
  auto& conn = s.conn();
  const std::string peer = conn.info().remote_ip;
  auto ignored = [&](core::log::Level level, std::string_view reason) {
    core::log::event(level, "client_origin", {{"proto", "imap"},
                                              {"session", s.id()},
                                              {"remote", peer},
                                              {"origin", ip},
                                              {"result", "ignored"},
                                              {"reason", reason}});
  };
  if (s.state() != State::kNotAuthenticated) {
    ignored(core::log::Level::kDebug, "after login");
    return true;
  }
  if (!conn.info().trusted) {
    ignored(core::log::Level::kDebug, "peer not in trusted_networks");
    return true;
  }
  std::string canon;
  if (!core::net::proxy::canonical_ip(ip, &canon)) {
    ignored(core::log::Level::kWarning, "not an IP address");
    return true;
  }
  uint16_t port = 0;
  std::string p = field(args, "x-originating-port");
  if (!p.empty() && p.size() <= 5 && p.find_first_not_of("0123456789") == std::string::npos &&
      std::stoul(p) <= 65535) {
    port = static_cast<uint16_t>(std::stoul(p));
  }
  if (!conn.set_remote(canon, port)) {
    core::log::warn("connect", {{"proto", "imap"},
                                {"session", s.id()},
                                {"remote", canon},
                                {"via", peer},
                                {"result", "refused"},
                                {"reason", "too many connections from this address"}});
    s.write("* BYE [UNAVAILABLE] Too many connections from your address\r\n");
    conn.close();
    return false;
  }
  s.services().registry().set_remote(s.id(), canon);
  core::log::info("client_origin", {{"proto", "imap"},
                                    {"session", s.id()},
                                    {"remote", canon},
                                    {"via", peer},
                                    {"result", "ok"}});
  return true;
}
}  // namespace

void cmd_id(Session& s, const proto::Command& c) {
  const auto& args = std::get<proto::IdArgs>(c.args);
  if (args.fields && args.fields->size() > 30) {
    return s.bad("ID takes at most 30 field-value pairs (RFC 2971)");
  }
  if (args.fields) {
    core::log::info("client_id", {{"proto", "imap"},
                                  {"session", s.id()},
                                  {"client_name", field(args, "name")},
                                  {"client_version", field(args, "version")},
                                  {"client_os", field(args, "os")},
                                  {"client_vendor", field(args, "vendor")}});
    // For the admin API's session list: "name/version" (either may be absent).
    std::string who = field(args, "name");
    if (std::string v = field(args, "version"); !v.empty()) who += (who.empty() ? "" : "/") + v;
    s.services().registry().set_client_id(s.id(), who);
    if (!apply_origin(s, args)) return;
  }
  s.write("* ID (\"name\" \"Roost\" \"vendor\" \"Roost\")\r\n");
  s.ok("ID completed");
}

}  // namespace imap
