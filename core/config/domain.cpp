// Loading and validating one domain file (domains.d/DOMAIN.yaml).
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "core/config/config.h"
#include "core/config/yaml_read.h"
#include "core/util/ascii.h"

namespace core::config {

namespace {

namespace fs = std::filesystem;
using core::ascii_lower;
using detail::describe;
using detail::Reader;

constexpr size_t kMaxLocalPart = 64;

// Characters of an unquoted RFC 5321 local part, minus '+', which separates a
// sub-address ("alice+news"), and upper case (names are written in lower case).
bool local_char(char c) {
  if (c >= 'a' && c <= 'z') return true;
  if (c >= '0' && c <= '9') return true;
  return std::strchr("!#$%&'*-/=?^_`{|}~.", c) != nullptr && c != '\0';
}

// nullopt when fine, else what is wrong.
std::optional<std::string> check_local_part(const std::string& name) {
  if (name.empty()) return "must not be empty";
  if (name.size() > kMaxLocalPart) return "is longer than 64 characters";
  for (char c : name) {
    if (c >= 'A' && c <= 'Z') return "must be written in lower case";
    if (c == '+') return "must not contain '+' (it separates a sub-address: alice+news@)";
    if (c == '@') return "is a local part: write it without '@' and the domain";
    if (!local_char(c)) {
      return std::string("contains a character not allowed in an address: '") + c + "'";
    }
  }
  if (name.front() == '.' || name.back() == '.' || name.find("..") != std::string::npos) {
    return "has a misplaced '.'";
  }
  return std::nullopt;
}

Account read_account(Reader& r, const std::string& name, const YAML::Node& node, int line) {
  Account a;
  a.name = name;
  a.line = line;
  std::string path = "accounts." + name;
  bool has_password = false;
  if (!node.IsMap()) {
    r.error(Reader::line_of(node, line),
            path + ": expected a map with password: (and status:, policy:), got " + describe(node));
    return a;
  }
  r.each(node, line, path, [&](const std::string& key, int l, const YAML::Node& v) {
    std::string p = path + "." + key;
    if (key == "password") {
      has_password = true;
      if (auto s = r.string(v, l, p)) {
        a.password = *s;
        if (ascii_lower(s->substr(0, 7)) == "{plain}") {
          r.warning(Reader::line_of(v, l), p + ": {PLAIN} stores the password in clear text; "
                                               "prefer a hash from `roost pw`");
        }
      }
    } else if (key == "status") {
      if (auto st = r.choice<AccountStatus>(
              v, l, p,
              {{"active", AccountStatus::kActive}, {"suspended", AccountStatus::kSuspended}})) {
        a.status = *st;
      }
    } else if (key == "policy") {
      a.policy = detail::read_policy(r, v, l, p);
    } else {
      r.unknown_key(path, key, l);
    }
  });
  if (!has_password) r.error(line, path + ": password is missing");
  return a;
}

// Whether `name`, a file's base name, names `domain` (both may be UTF-8 or punycode).
bool file_names_domain(const std::string& base, const std::string& domain) {
  auto n = normalize_domain(base);
  return n && *n == domain;
}

struct AliasEntry {
  std::vector<std::string> targets;
  int line = 0;
};

void read_domain(Reader& r, const YAML::Node& root, DomainFile& df) {
  Domain d;
  d.file = r.file();
  int domain_line = 0;
  std::map<std::string, AliasEntry> aliases;
  std::optional<std::pair<std::string, int>> catch_all;
  std::set<std::string> alias_domains_seen;
  bool ok = r.each(root, 1, "", [&](const std::string& key, int l, const YAML::Node& v) {
    if (key == "domain") {
      domain_line = l;
      if (auto s = r.string(v, l, key)) {
        if (auto n = normalize_domain(*s)) {
          d.name = *n;
        } else {
          r.error(Reader::line_of(v, l), "domain: not a valid domain name: \"" + *s + "\"");
        }
      }
    } else if (key == "alias_domains") {
      auto add = [&](const YAML::Node& item) {
        int il = Reader::line_of(item, l);
        auto s = r.string(item, l, key);
        if (!s) return;
        auto n = normalize_domain(*s);
        if (!n) {
          r.error(il, "alias_domains: not a valid domain name: \"" + *s + "\"");
        } else if (!alias_domains_seen.insert(*n).second) {
          r.error(il, "alias_domains: " + *n + " is listed twice");
        } else {
          d.alias_domains.push_back(*n);
        }
      };
      if (v.IsNull()) return;
      if (v.IsSequence()) {
        for (const auto& item : v) add(item);
      } else if (v.IsScalar()) {
        add(v);
      } else {
        r.error(Reader::line_of(v, l),
                "alias_domains: expected a list of domain names, got " + describe(v));
      }
    } else if (key == "policy") {
      d.policy = detail::read_policy(r, v, l, key);
    } else if (key == "public") {
      d.public_settings = detail::read_public(r, v, l, key);
    } else if (key == "accounts") {
      r.each(v, l, key, [&](const std::string& name, int al, const YAML::Node& av) {
        if (auto problem = check_local_part(name)) {
          r.error(al, "accounts." + name + ": the account name " + *problem);
          return;
        }
        d.accounts[name] = read_account(r, name, av, al);
      });
    } else if (key == "aliases") {
      r.each(v, l, key, [&](const std::string& name, int al, const YAML::Node& av) {
        std::string p = "aliases." + name;
        if (auto problem = check_local_part(name)) {
          r.error(al, p + ": the alias name " + *problem);
          return;
        }
        AliasEntry entry;
        entry.line = al;
        auto add = [&](const YAML::Node& item) {
          auto s = r.string(item, al, p);
          if (!s) return;
          std::string t = ascii_lower(*s);
          size_t at = t.rfind('@');
          if (at != std::string::npos) {
            if (at == 0 || at + 1 == t.size() ||
                t.find_first_of(" \t\r\n,<>") != std::string::npos) {
              r.error(Reader::line_of(item, al), p + ": not an address: \"" + *s + "\"");
              return;
            }
          }
          if (std::find(entry.targets.begin(), entry.targets.end(), t) == entry.targets.end()) {
            entry.targets.push_back(t);
          }
        };
        if (av.IsSequence()) {
          if (av.size() == 0) {
            r.error(Reader::line_of(av, al), p + ": needs at least one target");
            return;
          }
          for (const auto& item : av) add(item);
        } else if (av.IsScalar()) {
          add(av);
        } else {
          r.error(Reader::line_of(av, al),
                  p + ": expected an account, an address or a list of them, got " + describe(av));
          return;
        }
        aliases[name] = entry;
      });
    } else if (key == "catch_all") {
      if (v.IsNull()) return;
      if (auto s = r.string(v, l, key))
        catch_all = std::make_pair(ascii_lower(*s), Reader::line_of(v, l));
    } else {
      r.unknown_key("", key, l);
    }
  });
  if (!ok) return;
  if (!domain_line) {
    r.error(1, "domain: is missing (the domain this file serves)");
  } else if (!d.name.empty()) {
    fs::path p(r.file());
    std::string base = p.filename().string();
    if (base.size() > 5 && base.compare(base.size() - 5, 5, ".yaml") == 0 && base.front() != '.') {
      std::string stem = base.substr(0, base.size() - 5);
      if (!file_names_domain(stem, d.name)) {
        r.error(domain_line, "domain: " + d.name + " does not match the file name " + base +
                                 " (expected " + d.name + ".yaml)");
      }
    } else if (!base.empty()) {
      df.warnings.push_back(
          {r.file(), domain_line,
           "file name is not " + d.name + ".yaml: rename it to that before it is loaded"});
    }
    for (const auto& a : d.alias_domains) {
      if (a == d.name) r.error(domain_line, "alias_domains: " + a + " is the domain itself");
    }
  }
  // Aliases: shadowing, dangling targets, loops among local names.
  for (const auto& [name, entry] : aliases) {
    std::string p = "aliases." + name;
    if (d.accounts.count(name)) {
      r.error(entry.line, p + ": an account of the same name exists");
      continue;
    }
    for (const auto& t : entry.targets) {
      if (t.find('@') != std::string::npos) continue;
      if (!d.accounts.count(t) && !aliases.count(t)) {
        r.error(entry.line, p + ": dangling alias: \"" + t + "\" is not an account of " +
                                (d.name.empty() ? std::string("this domain") : d.name));
      }
    }
  }
  for (const auto& alias_entry : aliases) {
    const std::string& name = alias_entry.first;
    const AliasEntry& entry = alias_entry.second;
    // Depth-first walk over local targets; a path that comes back is a loop.
    std::vector<std::string> stack{name};
    std::set<std::string> on_path;
    std::function<bool(const std::string&)> loops = [&](const std::string& n) -> bool {
      if (on_path.count(n)) return n == name;
      auto it = aliases.find(n);
      if (it == aliases.end()) return false;
      on_path.insert(n);
      for (const auto& t : it->second.targets) {
        if (t.find('@') == std::string::npos && loops(t)) return true;
      }
      on_path.erase(n);
      return false;
    };
    on_path.insert(name);
    bool loop = false;
    for (const auto& t : entry.targets) {
      if (t.find('@') == std::string::npos && loops(t)) loop = true;
    }
    if (loop) r.error(entry.line, "aliases." + name + ": alias loop (it leads back to itself)");
  }
  for (auto& [name, entry] : aliases) d.aliases[name] = std::move(entry.targets);
  if (catch_all) {
    if (!d.accounts.count(catch_all->first)) {
      r.error(catch_all->second, "catch_all: \"" + catch_all->first + "\" is not an account of " +
                                     (d.name.empty() ? std::string("this domain") : d.name));
    } else {
      d.catch_all = catch_all->first;
    }
  }
  if (!r.failed()) df.domain = std::move(d);
}

}  // namespace

DomainFile load_domain_text(const std::string& text, const std::string& file) {
  DomainFile df;
  Reader r(file, &df.errors, &df.warnings);
  df.file = r.file();
  try {
    auto root = r.parse(text);
    if (root) {
      if (!root->IsDefined() || root->IsNull()) {
        r.error(1, "the file is empty (expected domain:, accounts:...)");
      } else {
        read_domain(r, *root, df);
      }
    }
  } catch (const std::exception& e) {
    r.error(0, std::string("cannot read the domain file: ") + e.what());
  }
  if (!df.errors.empty()) df.domain.reset();
  return df;
}

DomainFile load_domain_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    DomainFile df;
    Reader r(path, &df.errors, &df.warnings);
    df.file = r.file();
    r.error(0, std::string("cannot read the domain file: ") + std::strerror(err));
    return df;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return load_domain_text(ss.str(), path);
}

}  // namespace core::config
