// GETQUOTA (RFC 9208 4.1.1): the account's one quota root, named "" (the
// empty string), with the STORAGE (units of 1024 octets) and MESSAGE
// resources of the account's policy. A resource without a limit is left out;
// with neither limited the root does not exist. Quotas are read-only:
// SETQUOTA is not implemented (and QUOTASET not advertised), so it is an
// unknown command. GETQUOTAROOT (getquotaroot.cpp) shares quota_line().
#include "imap/commands/commands.h"

#include <memory>
#include <optional>
#include <string>

#include "core/config/config.h"
#include "imap/proto/writer.h"

namespace imap {

bool has_quota_root(const core::config::Policy& p) {
  return p.quota != core::config::kUnlimited || p.quota_messages != core::config::kUnlimited;
}

std::string quota_line(const core::config::Policy& p, const store::QuotaUsage& used) {
  std::string out = "* QUOTA \"\" (";
  bool first = true;
  if (p.quota != core::config::kUnlimited) {
    // Usage rounds up (a byte over is a unit used); the limit rounds down
    // (never promise room there is not).
    uint64_t used_kib = used.bytes / 1024 + (used.bytes % 1024 != 0 ? 1 : 0);
    out += "STORAGE " + std::to_string(used_kib) + ' ' + std::to_string(p.quota / 1024);
    first = false;
  }
  if (p.quota_messages != core::config::kUnlimited) {
    if (!first) out += ' ';
    out += "MESSAGE " + std::to_string(used.messages) + ' ' + std::to_string(p.quota_messages);
  }
  out += ")\r\n";
  return out;
}

void cmd_getquota(Session& s, const proto::Command& c) {
  const auto& a = std::get<proto::QuotaRootArgs>(c.args);
  if (!a.root.empty() || !has_quota_root(s.policy())) {
    return s.no("No such quota root", proto::code_name(proto::Code::kNonExistent));
  }
  auto account = s.account_ptr();
  auto result = std::make_shared<std::optional<store::Result<store::QuotaUsage>>>();
  s.run_store([account, result] { result->emplace(account->quota_usage()); },
              [&s, result] {
                const auto& r = **result;
                if (!r) return s.fail(r.error(), "GETQUOTA");
                s.write(quota_line(s.policy(), *r));
                s.ok("GETQUOTA completed");
              });
}

}  // namespace imap
