// ID (RFC 2971): logs what the client says it is (name, version, os) and
// names the server. Valid in every state; clients such as Apple Mail send it
// before login.
#include "core/log/log.h"
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
  }
  s.write("* ID (\"name\" \"Roost\" \"vendor\" \"Roost\")\r\n");
  s.ok("ID completed");
}

}  // namespace imap
