// Configuration checks for `roost check-config` and `roostd --check-config`.
//
// Every check reports and carries on, so one run lists every problem. The
// loaders (core/config) already give file and line for what they find; the
// checks added here (password hashes, certificates, paths, domain clashes)
// find their line either from the account entry or by looking for the key in
// the main file's text.
#include "core/cli/check.h"

#include <unistd.h>

#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "core/auth/password.h"
#include "core/config/config.h"
#include "core/config/directory.h"
#include "core/tls/tls.h"

namespace core::cli {
namespace {

namespace fs = std::filesystem;
using config::Diagnostic;

// Collects and prints problems as they are found.
class Report {
 public:
  explicit Report(std::ostream& out) : out_(out) {}

  void error(const Diagnostic& d) {
    print(d, false);
    ++errors_;
  }
  void warning(const Diagnostic& d) { print(d, true); }
  void error(const std::string& file, int line, const std::string& message) {
    error(Diagnostic{file, line, message});
  }
  void warning(const std::string& file, int line, const std::string& message) {
    warning(Diagnostic{file, line, message});
  }

  int errors() const { return errors_; }

 private:
  void print(const Diagnostic& d, bool is_warning) {
    out_ << (d.file.empty() ? std::string("(unknown file)") : d.file);
    if (d.line > 0) out_ << ':' << d.line;
    out_ << ": ";
    if (is_warning) out_ << "warning: ";
    out_ << d.message << '\n';
  }

  std::ostream& out_;
  int errors_ = 0;
};

std::optional<std::string> read_file(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec(errno, std::generic_category());
    if (error) *error = "cannot read: " + ec.message();
    return std::nullopt;
  }
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The line where a key sits, found by looking for each needle in turn (each
// on the same line as the previous one or below). Returns the line of the
// last needle found, 0 when not even the first one is there. Good enough to
// point an operator at "tls: ... certificate:" in a hand-written file.
int find_line(const std::string& file, std::initializer_list<std::string_view> needles) {
  auto text = read_file(file, nullptr);
  if (!text) return 0;
  std::vector<std::string> lines;
  std::istringstream in(*text);
  for (std::string l; std::getline(in, l);) lines.push_back(std::move(l));
  size_t from = 0;
  int found = 0;
  for (std::string_view needle : needles) {
    bool hit = false;
    for (size_t i = from; i < lines.size(); ++i) {
      std::string_view l = lines[i];
      // Skip comments so "# tls:" in an explanation does not count.
      auto hash = l.find('#');
      if (hash != std::string_view::npos) l = l.substr(0, hash);
      if (l.find(needle) != std::string_view::npos) {
        from = i;
        found = static_cast<int>(i) + 1;
        hit = true;
        break;
      }
    }
    if (!hit) break;
  }
  return found;
}

bool exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

// Checks that `path` is a directory or can be created: its nearest existing
// ancestor must be a writable directory. Returns an error message or "".
std::string check_creatable_dir(const std::string& path) {
  std::error_code ec;
  fs::path p(path);
  if (fs::exists(p, ec)) {
    if (!fs::is_directory(p, ec)) return path + " exists and is not a directory";
    return "";
  }
  fs::path ancestor = p.parent_path();
  while (!ancestor.empty() && !fs::exists(ancestor, ec)) {
    if (ancestor == ancestor.parent_path()) break;
    ancestor = ancestor.parent_path();
  }
  if (ancestor.empty()) return "";  // relative leftovers: nothing sensible to check
  if (!fs::is_directory(ancestor, ec)) {
    return path + " cannot be created: " + ancestor.string() + " is not a directory";
  }
  if (::access(ancestor.c_str(), W_OK | X_OK) != 0) {
    return path + " cannot be created: " + ancestor.string() + " is not writable";
  }
  return "";
}

// Prints a domain file's diagnostics and checks every account's password
// hash. Returns the number of accounts (0 when the file did not load).
size_t check_domain_file(const config::DomainFile& f, Report& r) {
  for (const auto& d : f.errors) r.error(d);
  for (const auto& d : f.warnings) r.warning(d);
  if (!f.domain) return 0;
  const auto& domain = *f.domain;
  const std::string& file = domain.file.empty() ? f.file : domain.file;
  for (const auto& [name, account] : domain.accounts) {
    const std::string key = "accounts." + name + ".password";
    std::string warning;
    auto problem = auth::check_stored_hash(account.password, &warning);
    if (problem) {
      r.error(file, account.line, key + ": " + *problem);
    } else if (!warning.empty()) {
      // The loader may have said it already (it warns about {PLAIN}).
      bool said = false;
      for (const auto& d : f.warnings) said = said || d.message.starts_with(key);
      if (!said) r.warning(file, account.line, key + ": " + warning);
    }
  }
  return domain.accounts.size();
}

void check_cert_pair(const config::Config& cfg, const config::CertPair& pair,
                     const std::string& what, int line, bool may_be_created, Report& r) {
  bool have_cert = exists(pair.certificate);
  bool have_key = exists(pair.private_key);
  if (!have_cert && !have_key) {
    if (may_be_created) {
      r.warning(cfg.file, line,
                what + ": " + pair.certificate + " and " + pair.private_key +
                    " do not exist yet: a self-signed pair will be created on first start");
    } else {
      r.error(cfg.file, line,
              what + ": " + pair.certificate + " and " + pair.private_key + " do not exist");
    }
    return;
  }
  if (!have_cert) {
    r.error(cfg.file, line, what + ": certificate " + pair.certificate + " does not exist");
    return;
  }
  if (!have_key) {
    r.error(cfg.file, line, what + ": private key " + pair.private_key + " does not exist");
    return;
  }
  // Each pair is loaded on its own, so one broken pair does not hide another.
  config::TlsSettings one;
  one.default_pair = pair;
  one.min_version = cfg.tls.min_version;
  std::string error;
  auto ctx = tls::Context::create_server(one, &error);
  if (!ctx) r.error(cfg.file, line, what + ": " + (error.empty() ? "cannot be loaded" : error));
}

void check_tls(const config::Config& cfg, Report& r) {
  bool needs_tls = false;
  for (const auto& l : cfg.listeners) {
    if (l.tls != config::TlsMode::kNone) needs_tls = true;
  }
  const auto& pair = cfg.tls.default_pair;
  if (pair.certificate.empty() || pair.private_key.empty()) {
    if (needs_tls) {
      r.error(cfg.file, find_line(cfg.file, {"tls:"}),
              "a listener uses TLS but tls.certificate and tls.private_key are not both set");
    }
  } else {
    check_cert_pair(cfg, pair, "tls certificate", find_line(cfg.file, {"tls:", "certificate:"}),
                    true, r);
  }
  for (const auto& [host, sni_pair] : cfg.tls.sni) {
    check_cert_pair(cfg, sni_pair, "tls.sni " + host, find_line(cfg.file, {"tls:", "sni:", host}),
                    false, r);
  }
}

void check_paths(const config::Config& cfg, Report& r) {
  const std::string& tpl = cfg.store.path;
  int store_line = find_line(cfg.file, {"store:", "path:"});
  if (cfg.store.backend == "memory") {
    r.warning(cfg.file, find_line(cfg.file, {"store:", "backend:"}),
              "store.backend memory keeps mail in memory only: it is lost at every stop");
  } else if (tpl.empty()) {
    r.error(cfg.file, store_line, "store.path is not set");
  } else if (tpl.find("{user}") == std::string::npos) {
    r.error(cfg.file, store_line,
            "store.path must contain {user} (and {domain}): every account would share one "
            "Maildir");
  } else {
    if (tpl.find("{domain}") == std::string::npos) {
      r.warning(cfg.file, store_line,
                "store.path has no {domain}: accounts with the same name in different domains "
                "share one Maildir");
    }
    // The fixed part of the template, up to the first placeholder, must be
    // a directory or creatable.
    std::string fixed = tpl.substr(0, tpl.find('{'));
    // "/srv/mail/" and "/srv/mail/x-" both mean the directory /srv/mail.
    fs::path dir = fs::path(fixed).parent_path();
    if (!dir.empty()) {
      std::string problem = check_creatable_dir(dir.string());
      if (!problem.empty()) r.error(cfg.file, store_line, "store.path: " + problem);
    }
  }

  int state_line = find_line(cfg.file, {"state_dir:"});
  if (cfg.server.state_dir.empty()) {
    r.error(cfg.file, state_line, "server.state_dir is not set");
  } else {
    std::string problem = check_creatable_dir(cfg.server.state_dir);
    if (!problem.empty()) r.error(cfg.file, state_line, "server.state_dir: " + problem);
  }

  for (const auto& l : cfg.listeners) {
    if (l.protocol == config::Protocol::kAdmin && !l.token_file.empty() && !exists(l.token_file)) {
      const std::string& f = l.where.file.empty() ? cfg.file : l.where.file;
      r.error(f, l.where.line, "admin listener: token_file " + l.token_file + " does not exist");
    }
    if (!l.path.empty()) {
      std::string problem = check_creatable_dir(fs::path(l.path).parent_path().string());
      if (!problem.empty()) {
        const std::string& f = l.where.file.empty() ? cfg.file : l.where.file;
        r.error(f, l.where.line, "listener socket " + l.path + ": " + problem);
      }
    }
  }
}

// The names a domain claims: its own and its alias domains.
std::set<std::string> claimed_names(const config::Domain& d) {
  std::set<std::string> names{d.name};
  names.insert(d.alias_domains.begin(), d.alias_domains.end());
  return names;
}

}  // namespace

int run_check_config(const std::string& config_path, std::ostream& out) {
  Report r(out);
  config::LoadResult loaded;
  try {
    loaded = config::load_config(config_path);
  } catch (const std::exception& e) {
    r.error(config_path, 0, e.what());
    return 1;
  }
  for (const auto& d : loaded.errors) r.error(d);
  for (const auto& d : loaded.warnings) r.warning(d);
  if (!loaded.config) {
    if (r.errors() == 0) r.error(config_path, 0, "the configuration could not be loaded");
    return 1;
  }
  const config::Config& cfg = *loaded.config;

  // Domain files.
  std::vector<config::DomainFile> files;
  std::error_code ec;
  int domains_line = find_line(cfg.file, {"domains_dir:"});
  if (!fs::exists(cfg.domains_dir, ec)) {
    r.error(cfg.file, domains_line, "domains_dir " + cfg.domains_dir + " does not exist");
  } else if (!fs::is_directory(cfg.domains_dir, ec)) {
    r.error(cfg.file, domains_line, "domains_dir " + cfg.domains_dir + " is not a directory");
  } else {
    for (const auto& path : config::list_domain_files(cfg.domains_dir)) {
      try {
        files.push_back(config::load_domain_file(path));
      } catch (const std::exception& e) {
        config::DomainFile broken;
        broken.file = path;
        broken.errors.push_back(Diagnostic{path, 0, e.what()});
        files.push_back(std::move(broken));
      }
    }
    if (files.empty()) {
      r.warning(cfg.file, domains_line,
                "no domain files in " + cfg.domains_dir + ": no address is served");
    }
  }
  size_t accounts = 0;
  for (const auto& f : files) accounts += check_domain_file(f, r);

  // The directory finds domains claimed by two files.
  std::vector<Diagnostic> problems;
  auto dir = config::Directory::build(cfg, files, nullptr, &problems);
  for (const auto& d : problems) r.error(d);
  size_t domains = 0;
  if (dir) {
    for (const auto& f : files) {
      if (f.domain && dir->find_domain(f.domain->name) &&
          dir->find_domain(f.domain->name)->file == f.domain->file) {
        ++domains;
      }
    }
  }

  check_tls(cfg, r);
  check_paths(cfg, r);

  if (r.errors() > 0) return 1;
  out << "configuration OK: " << domains << " domains, " << accounts << " accounts\n";
  return 0;
}

int run_check_domain(const std::string& domain_file, std::ostream& out,
                     const std::string& config_path) {
  Report r(out);
  std::error_code ec;
  fs::path abs = fs::absolute(domain_file, ec).lexically_normal();
  const std::string path = abs.string();

  // A candidate written next to the file it replaces under a name that does
  // not count (".example.test.yaml", "example.test.yaml.tmp") only gets the
  // loader's warning that it must be renamed before it is loaded.
  config::DomainFile f;
  try {
    f = config::load_domain_file(path);
  } catch (const std::exception& e) {
    r.error(path, 0, e.what());
    return 1;
  }
  size_t accounts = check_domain_file(f, r);

  if (!config_path.empty() && f.domain) {
    config::LoadResult loaded;
    try {
      loaded = config::load_config(config_path);
    } catch (const std::exception&) {
    }
    if (!loaded.config) {
      r.warning(config_path, 0,
                "the main config does not load (see roost check-config): clashes with other "
                "domains were not checked");
    } else {
      const auto& cfg = *loaded.config;
      auto mine = claimed_names(*f.domain);
      int line = find_line(path, {"domain:"});
      for (const auto& other_path : config::list_domain_files(cfg.domains_dir)) {
        fs::path other(other_path);
        if (fs::equivalent(other, abs, ec)) continue;
        // The file this candidate replaces.
        auto stem = config::normalize_domain(other.stem().string());
        if (stem && *stem == f.domain->name) continue;
        config::DomainFile of;
        try {
          of = config::load_domain_file(other_path);
        } catch (const std::exception&) {
          continue;
        }
        if (!of.domain) continue;
        for (const auto& name : claimed_names(*of.domain)) {
          if (mine.count(name)) {
            r.error(path, line, "domain " + name + " is already served by " + other_path);
          }
        }
      }
    }
  }

  if (r.errors() > 0) return 1;
  if (!f.domain) {
    r.error(path, 0, "the domain file could not be loaded");
    return 1;
  }
  out << "domain file OK: " << f.domain->name << ", " << accounts << " accounts\n";
  return 0;
}

}  // namespace core::cli
