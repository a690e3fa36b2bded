// `roost dns`: prints the zone-file lines an operator publishes so that mail
// clients find a served domain's servers (RFC 6186 / RFC 8314 SRV records)
// and its autoconfig and Autodiscover names.
#include "core/cli/dns.h"

#include <iostream>

#include "autoconfig/autoconfig.h"
#include "core/config/config.h"
#include "core/config/directory.h"

namespace core::cli {

namespace {

constexpr const char* kUsage = "usage: roost dns [-c CONFIG] DOMAIN\n";

int usage(const std::string& message) {
  std::cerr << "roost: " << message << '\n' << kUsage;
  return 64;
}

std::string diag(const config::Diagnostic& d) {
  std::string s = d.file;
  if (d.line > 0) s += ":" + std::to_string(d.line);
  return s + ": " + d.message;
}

}  // namespace

int cmd_dns(const std::vector<std::string>& args) {
  std::string config_path = "/etc/roost/roost.yaml";
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-c" || a == "--config") {
      if (i + 1 >= args.size()) return usage("option " + a + " needs a value");
      config_path = args[++i];
    } else if (a.starts_with("--config=")) {
      config_path = a.substr(9);
    } else if (a.starts_with("-c") && a.size() > 2) {
      config_path = a.substr(2);
    } else if (a.size() > 1 && a[0] == '-') {
      return usage("unknown option " + a);
    } else {
      positional.push_back(a);
    }
  }
  if (positional.size() != 1) return usage("dns needs one DOMAIN");
  const std::string& domain = positional.front();

  config::LoadResult loaded;
  try {
    loaded = config::load_config(config_path);
  } catch (const std::exception& e) {
    std::cerr << "roost: " << config_path << ": " << e.what() << '\n';
    return 1;
  }
  if (!loaded.config) {
    for (const auto& d : loaded.errors) std::cerr << diag(d) << '\n';
    if (loaded.errors.empty()) std::cerr << "roost: " << config_path << ": cannot be loaded\n";
    return 1;
  }
  std::vector<config::DomainFile> files;
  for (const auto& path : config::list_domain_files(loaded.config->domains_dir)) {
    try {
      files.push_back(config::load_domain_file(path));
    } catch (const std::exception& e) {
      config::DomainFile broken;
      broken.file = path;
      broken.errors.push_back(config::Diagnostic{path, 0, e.what()});
      files.push_back(std::move(broken));
    }
  }
  auto dir = config::Directory::build(*loaded.config, std::move(files), nullptr, nullptr);
  auto name = config::normalize_domain(domain);
  if (!name) {
    std::cerr << "roost: " << domain << ": not a valid domain name\n";
    return 1;
  }
  auto settings = dir ? autoconfig::settings_for(*dir, *name) : std::nullopt;
  if (!settings) {
    std::cerr << "roost: " << *name << ": not a domain this server serves (no loaded domain file "
              << "names it, as domain: or in alias_domains:)\n";
    return 1;
  }
  if (settings->domain != *name) {
    // An alias domain: its clients are told the main domain's servers, under its own names.
    std::cout << "; " << *name << " is an alias domain of " << settings->domain << "\n";
    settings->domain = *name;
  }
  bool has_listener = false;
  for (const auto& l : loaded.config->listeners) {
    if (l.protocol == config::Protocol::kAutoconfig) has_listener = true;
  }
  if (!has_listener) {
    std::cout << "; note: no autoconfig listener is configured; the autoconfig and autodiscover "
                 "names need one (docs/AUTOCONFIG.md)\n";
  }
  std::cout << autoconfig::dns_records(*settings, loaded.config->server.hostname);
  return 0;
}

}  // namespace core::cli
