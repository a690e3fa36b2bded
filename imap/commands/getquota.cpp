// GETQUOTA (RFC 9208 4.1.1): the account's one quota root, named "" (the
// empty string), with the STORAGE (units of 1024 octets) and MESSAGE
// resources of the account's policy. A resource without a limit is left out;
// with neither limited the root does not exist. Quotas are read-only:
// SETQUOTA is not implemented (and QUOTASET not advertised), so it is an
// unknown command. GETQUOTAROOT (getquotaroot.cpp) shares quota_line().
// check_quota() is the enforcement APPEND, COPY and MOVE call before they
// store anything (NO [OVERQUOTA]); usage comes from Account::quota_usage()
// (Maildir: the maildirsize running total), see docs/QUOTA.md.
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

store::QuotaLimits quota_limits(const core::config::Policy& p) {
  store::QuotaLimits l;
  l.bytes = p.quota == core::config::kUnlimited ? 0 : p.quota;
  l.messages = p.quota_messages == core::config::kUnlimited ? 0 : p.quota_messages;
  return l;
}

store::Result<void> check_quota(store::Account& account, const store::QuotaLimits& limits,
                                uint64_t add_bytes, uint64_t add_messages) {
  account.set_quota_limits(limits);
  if (limits.bytes == 0 && limits.messages == 0) return {};
  auto used = account.quota_usage();
  if (!used) return core::fail(used.error());
  auto over = [](uint64_t now, uint64_t add, uint64_t limit) {
    return limit != 0 && now + add > limit;
  };
  if (over(used->bytes, add_bytes, limits.bytes)) {
    return core::fail(store::make_error(store::Errc::kOverQuota, "Over the storage quota"));
  }
  if (over(used->messages, add_messages, limits.messages)) {
    return core::fail(store::make_error(store::Errc::kOverQuota, "Over the message quota"));
  }
  return {};
}

void cmd_getquota(Session& s, const proto::Command& c) {
  const auto& a = std::get<proto::QuotaRootArgs>(c.args);
  if (!a.root.empty() || !has_quota_root(s.policy())) {
    return s.no("No such quota root", proto::code_name(proto::Code::kNonExistent));
  }
  auto account = s.account_ptr();
  auto result = std::make_shared<std::optional<store::Result<store::QuotaUsage>>>();
  s.run_store(
      [account, result, limits = quota_limits(s.policy())] {
        account->set_quota_limits(limits);
        result->emplace(account->quota_usage());
      },
      [&s, result] {
        const auto& r = **result;
        if (!r) return s.fail(r.error(), "GETQUOTA");
        s.write(quota_line(s.policy(), *r));
        s.ok("GETQUOTA completed");
      });
}

}  // namespace imap
