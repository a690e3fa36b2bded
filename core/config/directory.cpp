// The account directory: lookups by address over the loaded domain files.
#include "core/config/directory.h"

#include <algorithm>
#include <functional>
#include <set>

#include "core/config/yaml_read.h"
#include "core/util/ascii.h"

namespace core::config {

namespace {

constexpr int kMaxAliasDepth = 8;

struct Address {
  std::string local;   // lower case
  std::string domain;  // as written (not yet normalised)
};

std::optional<Address> split_address(std::string_view address) {
  size_t at = address.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == address.size()) return std::nullopt;
  return Address{core::ascii_lower(address.substr(0, at)), std::string(address.substr(at + 1))};
}

Policy effective_policy(const Config& config, const Domain& d, const Account& a) {
  Policy p = config.policy;
  d.policy.apply(p);
  a.policy.apply(p);
  return p;
}

// A domain's public: entries name what differs from the server's; fill the rest.
void fill_public(const PublicSettings& server, PublicSettings& domain) {
  auto fill = [](const std::optional<PublicEndpoint>& base, std::optional<PublicEndpoint>& ep,
                 const char* service) {
    if (!ep) return;
    if (ep->host.empty() && base) ep->host = base->host;
    if (ep->port == 0) {
      ep->port =
          base && base->tls == ep->tls ? base->port : detail::default_public_port(service, ep->tls);
    }
  };
  fill(server.imap, domain.imap, "imap");
  fill(server.pop3, domain.pop3, "pop3");
  fill(server.smtp, domain.smtp, "smtp");
}

}  // namespace

std::shared_ptr<const Directory> Directory::build(const Config& config,
                                                  std::vector<DomainFile> files,
                                                  const Directory* previous,
                                                  std::vector<Diagnostic>* problems) {
  auto dir = std::make_shared<Directory>();
  dir->config_ = config;
  dir->files_ = std::move(files);
  for (size_t i = 0; i < dir->files_.size(); ++i) {
    DomainFile& df = dir->files_[i];
    if (!df.domain && previous) {
      // A broken file on reload: its last good version stays in service.
      for (const auto& old : previous->files_) {
        if (old.file == df.file && old.domain) {
          df.domain = old.domain;
          if (problems) {
            problems->push_back(
                {df.file, 0, "broken; domain " + df.domain->name + " keeps its last good version"});
          }
          break;
        }
      }
    }
    if (!df.domain) continue;
    Domain& d = *df.domain;
    fill_public(config.public_settings, d.public_settings);
    auto claimed = dir->by_domain_.find(d.name);
    if (claimed != dir->by_domain_.end()) {
      if (problems) {
        problems->push_back({df.file, 0,
                             "domain " + d.name + " is already served by " +
                                 dir->files_[claimed->second].file + "; this file is ignored"});
      }
      continue;
    }
    dir->by_domain_[d.name] = i;
    for (const auto& alias : d.alias_domains) {
      auto [it, fresh] = dir->by_domain_.emplace(alias, i);
      if (!fresh && problems) {
        problems->push_back({df.file, 0,
                             "alias domain " + alias + " is already served by " +
                                 dir->files_[it->second].file + "; ignored here"});
      }
    }
  }
  return dir;
}

const Domain* Directory::find_domain(std::string_view domain) const {
  auto name = normalize_domain(std::string(domain));
  if (!name) return nullptr;
  auto it = by_domain_.find(*name);
  if (it == by_domain_.end()) return nullptr;
  const auto& df = files_[it->second];
  return df.domain ? &*df.domain : nullptr;
}

bool Directory::serves_domain(std::string_view domain) const {
  return find_domain(domain) != nullptr;
}

std::optional<AccountView> Directory::find_account(std::string_view address) const {
  auto a = split_address(address);
  if (!a) return std::nullopt;
  const Domain* d = find_domain(a->domain);
  if (!d) return std::nullopt;
  auto it = d->accounts.find(a->local);
  if (it == d->accounts.end()) return std::nullopt;
  AccountView v;
  v.domain = d;
  v.account = &it->second;
  v.address = it->first + "@" + d->name;
  v.policy = effective_policy(config_, *d, it->second);
  return v;
}

std::vector<Recipient> Directory::resolve_recipient(std::string_view address) const {
  std::vector<Recipient> out;
  std::set<std::string> visited;  // canonical addresses already expanded
  auto add = [&](Recipient r) {
    for (const auto& o : out) {
      if (o.address == r.address && o.folder == r.folder && o.local == r.local) return;
    }
    out.push_back(std::move(r));
  };
  std::function<void(std::string_view, int)> resolve = [&](std::string_view addr, int depth) {
    if (depth > kMaxAliasDepth) return;
    auto a = split_address(addr);
    if (!a) return;
    const Domain* d = find_domain(a->domain);
    if (!d) {
      // Only alias targets may leave our domains; an unknown domain asked
      // directly is an unknown recipient.
      if (depth > 0) add({core::ascii_lower(addr), false, ""});
      return;
    }
    std::string canonical = a->local + "@" + d->name;
    if (!visited.insert(canonical).second) return;  // a loop through other domains' aliases
    if (d->accounts.count(a->local)) {
      add({canonical, true, ""});
      return;
    }
    if (auto al = d->aliases.find(a->local); al != d->aliases.end()) {
      for (const auto& target : al->second) {
        if (target.find('@') != std::string::npos) {
          resolve(target, depth + 1);
        } else {
          resolve(target + "@" + d->name, depth + 1);
        }
      }
      return;
    }
    size_t plus = a->local.find('+');
    if (plus != std::string::npos && plus > 0) {
      std::string base = a->local.substr(0, plus);
      std::string detail = a->local.substr(plus + 1);
      if (auto acc = d->accounts.find(base); acc != d->accounts.end()) {
        Policy p = effective_policy(config_, *d, acc->second);
        std::string folder = p.detail == DetailDelivery::kFolder ? detail : "";
        add({base + "@" + d->name, true, folder});
        return;
      }
      if (d->aliases.count(base)) {
        resolve(base + "@" + d->name, depth);
        return;
      }
    }
    if (d->catch_all && d->accounts.count(*d->catch_all)) {
      add({*d->catch_all + "@" + d->name, true, ""});
    }
  };
  resolve(address, 0);
  return out;
}

}  // namespace core::config
