// The account directory: every loaded domain, indexed for lookups by address.
// Immutable once built; a reload builds a new one and swaps a shared_ptr.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config/config.h"

namespace core::config {

// An account found by address, with its effective policy.
struct AccountView {
  const Domain* domain = nullptr;
  const Account* account = nullptr;
  std::string address;  // canonical "user@domain" (primary domain, lower case)
  Policy policy;        // server defaults <- domain <- account
};

// Where a message for an address goes (delivery).
struct Recipient {
  std::string address;  // canonical account address, or an outside address
  bool local = true;    // false: an alias target outside our domains
  std::string folder;   // "+detail" folder requested, may be empty
};

class Directory {
 public:
  // Takes the config's defaults and the domain files. A broken file's domain
  // is not served, unless `previous` (the directory before a reload) had a
  // good version of the same file: that version stays. Domains claimed twice
  // (as a name or alias domain) keep the first in file order and add a
  // diagnostic to `problems`.
  static std::shared_ptr<const Directory> build(const Config& config, std::vector<DomainFile> files,
                                                const Directory* previous,
                                                std::vector<Diagnostic>* problems);

  // Login lookup: "user@domain" (case-insensitive, alias domains resolved,
  // IDN domains in UTF-8 or punycode). Aliases are not logins.
  std::optional<AccountView> find_account(std::string_view address) const;

  // Delivery lookup: accounts, aliases (recursively, with a depth limit),
  // "+detail" sub-addresses and the catch-all. Empty when unknown.
  std::vector<Recipient> resolve_recipient(std::string_view address) const;

  bool serves_domain(std::string_view domain) const;
  const Domain* find_domain(std::string_view domain) const;

  const std::vector<DomainFile>& files() const { return files_; }
  const Config& config() const { return config_; }

 private:
  Config config_;
  std::vector<DomainFile> files_;
  std::map<std::string, size_t> by_domain_;  // name or alias domain -> index in files_
};

}  // namespace core::config
