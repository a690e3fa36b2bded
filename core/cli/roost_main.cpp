// `roost`: the operator's tool. Subcommands: pw (make a password hash),
// deliver (local delivery agent), check-config, auth test.
//
// Exit codes follow sysexits(3) where the contract names them (deliver);
// every usage error is 64 with a usage line on stderr.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/auth/login.h"
#include "core/auth/password.h"
#include "core/cli/admin_client.h"
#include "core/cli/check.h"
#include "core/cli/dns.h"
#include "core/config/config.h"
#include "core/config/directory.h"
#include "core/util/ascii.h"
#include "delivery/delivery.h"
#include "store/store.h"

#ifndef ROOST_VERSION
#define ROOST_VERSION "unknown"
#endif

namespace {

namespace fs = std::filesystem;
namespace config = core::config;
namespace auth = core::auth;

constexpr int kExOk = 0;
constexpr int kExFail = 1;
constexpr int kExUsage = 64;
constexpr int kExNoUser = 67;
constexpr int kExCantCreate = 73;
constexpr int kExTempFail = 75;

constexpr const char* kDefaultConfig = "/etc/roost/roost.yaml";
constexpr size_t kChunk = 64 * 1024;

constexpr const char* kUsage =
    "usage: roost pw [--scheme argon2id|yescrypt|sha512-crypt|bcrypt]\n"
    "       roost deliver [-c CONFIG] -t ADDRESS [-m MAILBOX]\n"
    "       roost check-config [-c CONFIG] [--domain FILE]\n"
    "       roost auth test [-c CONFIG] ADDRESS\n"
    "       roost dns [-c CONFIG] DOMAIN\n"
    "       roost who | reload [-c CONFIG] [--json]\n"
    "       roost kick | status [-c CONFIG] [--json] ADDRESS\n"
    "       roost mailbox reindex [-c CONFIG] [--json] ADDRESS\n"
    "       roost help | --help | --version\n";

constexpr const char* kHelp =
    "roost: the Roost mail server's operator tool\n"
    "\n"
    "  roost pw [--scheme SCHEME]\n"
    "      Reads a password (stdin, or prompted twice on a terminal) and prints a\n"
    "      hash for a domain file's password: key. SCHEME: argon2id (default),\n"
    "      yescrypt, sha512-crypt, bcrypt.\n"
    "\n"
    "  roost deliver [-c CONFIG] -t ADDRESS [-m MAILBOX]\n"
    "      Local delivery agent: stores the message on stdin, byte for byte, for\n"
    "      ADDRESS (aliases, +detail folders and catch-alls resolved) into INBOX or\n"
    "      MAILBOX (INBOX when MAILBOX does not exist). -f SENDER is accepted and\n"
    "      ignored. Exit: 0 stored, 67 unknown recipient, 73 over quota (policy\n"
    "      quota_exceeded: reject), 75 temporary failure (retry later).\n"
    "\n"
    "  roost check-config [-c CONFIG] [--domain FILE]\n"
    "      Validates the configuration, every domain file, the certificates and\n"
    "      the store paths; prints every problem as FILE:LINE: message. With\n"
    "      --domain, validates that one domain file alone (and, with -c, that its\n"
    "      domains are not served by another file). Exit 1 on any error.\n"
    "\n"
    "  roost auth test [-c CONFIG] ADDRESS\n"
    "      Reads a password and says, per protocol, with and without TLS, whether\n"
    "      the login would succeed and if not why. Exit 0 when it would succeed\n"
    "      for at least one protocol.\n"
    "\n"
    "  roost dns [-c CONFIG] DOMAIN\n"
    "      Prints the DNS records to publish for a served domain: SRV records\n"
    "      (RFC 6186, RFC 8314) and the autoconfig/autodiscover names, as zone-file\n"
    "      lines. Exit 1 when the domain is not served.\n"
    "\n"
    "  roost who [-c CONFIG] [--json]\n"
    "      Lists the live sessions of the running roostd (admin API): id, account,\n"
    "      protocol, remote address, since, TLS, client id.\n"
    "\n"
    "  roost kick [-c CONFIG] [--json] ADDRESS\n"
    "      Ends every session of the account ADDRESS and says how many.\n"
    "\n"
    "  roost status [-c CONFIG] [--json] ADDRESS\n"
    "      The account's quota use, messages per mailbox, last login, protocols\n"
    "      and status. Exit 1 for an unknown account.\n"
    "\n"
    "  roost reload [-c CONFIG] [--json]\n"
    "      Reloads roostd like SIGHUP and prints the result per file. Exit 1 when\n"
    "      the main file or a domain file is broken.\n"
    "\n"
    "  roost mailbox reindex [-c CONFIG] [--json] ADDRESS\n"
    "      Rebuilds the Maildir index of every mailbox of ADDRESS from the\n"
    "      Maildir, without changing UIDs; safe while roostd runs.\n"
    "\n"
    "  who, kick, status and reload reach roostd through the admin listener of\n"
    "  CONFIG with its token_file (docs/ADMIN.md). Exit 69 when roostd cannot be\n"
    "  reached, 78 when there is no admin listener or the token is refused.\n"
    "\n"
    "CONFIG defaults to /etc/roost/roost.yaml.\n";

int usage_error(const std::string& message) {
  if (!message.empty()) std::cerr << "roost: " << message << '\n';
  std::cerr << kUsage;
  return kExUsage;
}

// ---------------------------------------------------------------------------
// Command-line options

struct OptSpec {
  const char* short_name;  // "-c" or nullptr
  const char* long_name;   // "--config"; the key in Parsed::values
  bool has_value;
};

struct Parsed {
  std::map<std::string, std::string> values;  // by long name
  std::vector<std::string> positional;
  std::string error;

  bool has(const char* long_name) const { return values.count(long_name) > 0; }
  std::string get(const char* long_name, const std::string& fallback = {}) const {
    auto it = values.find(long_name);
    return it == values.end() ? fallback : it->second;
  }
};

// Accepts "-c X", "-cX", "--config X", "--config=X"; "--" ends the options.
Parsed parse_options(const std::vector<std::string>& args, std::initializer_list<OptSpec> specs) {
  Parsed p;
  bool only_positional = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (only_positional || a.size() < 2 || a[0] != '-') {
      p.positional.push_back(a);
      continue;
    }
    if (a == "--") {
      only_positional = true;
      continue;
    }
    const OptSpec* match = nullptr;
    std::optional<std::string> inline_value;
    for (const auto& s : specs) {
      if (a.starts_with("--")) {
        std::string_view name(a);
        auto eq = name.find('=');
        if (name.substr(0, eq) == s.long_name) {
          match = &s;
          if (eq != std::string_view::npos) inline_value = std::string(name.substr(eq + 1));
        }
      } else if (s.short_name && a.starts_with(s.short_name)) {
        match = &s;
        if (a.size() > 2) inline_value = a.substr(2);
      }
      if (match) break;
    }
    if (!match) {
      p.error = "unknown option " + a;
      return p;
    }
    if (!match->has_value) {
      if (inline_value) {
        p.error = "option " + std::string(match->long_name) + " takes no value";
        return p;
      }
      p.values[match->long_name] = "1";
      continue;
    }
    if (inline_value) {
      p.values[match->long_name] = *inline_value;
    } else if (i + 1 < args.size()) {
      p.values[match->long_name] = args[++i];
    } else {
      p.error = "option " + a + " needs a value";
      return p;
    }
  }
  return p;
}

// ---------------------------------------------------------------------------
// Passwords from a terminal or stdin

termios g_saved_termios;
volatile sig_atomic_t g_echo_off = 0;

void restore_echo_and_die(int sig) {
  if (g_echo_off) tcsetattr(STDIN_FILENO, TCSANOW, &g_saved_termios);
  signal(sig, SIG_DFL);
  raise(sig);
}

// Prompts on stderr and reads one line from the terminal on stdin, echo off.
std::optional<std::string> prompt_no_echo(const char* prompt) {
  termios t{};
  bool have_termios = tcgetattr(STDIN_FILENO, &t) == 0;
  if (have_termios) {
    g_saved_termios = t;
    signal(SIGINT, restore_echo_and_die);
    signal(SIGTERM, restore_echo_and_die);
    signal(SIGQUIT, restore_echo_and_die);
    termios quiet = t;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    g_echo_off = 1;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  std::cerr << prompt << std::flush;  // after echo is off: nothing typed is shown
  std::string line;
  bool ok = false;
  for (;;) {
    char c;
    ssize_t n = read(STDIN_FILENO, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // end of input without a newline
    if (c == '\n') {
      ok = true;
      break;
    }
    line.push_back(c);
  }
  if (have_termios) {
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_termios);
    g_echo_off = 0;
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGQUIT, SIG_DFL);
  }
  if (!ok && line.empty()) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// Reads all of stdin; strips one trailing newline (LF or CRLF).
std::optional<std::string> read_stdin_password() {
  std::string all;
  char buf[4096];
  for (;;) {
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    all.append(buf, static_cast<size_t>(n));
    if (all.size() > 64 * 1024) return std::nullopt;
  }
  if (!all.empty() && all.back() == '\n') {
    all.pop_back();
    if (!all.empty() && all.back() == '\r') all.pop_back();
  }
  return all;
}

// ---------------------------------------------------------------------------
// Loading the configuration and the directory

struct Env {
  config::Config config;
  std::vector<config::DomainFile> files;  // as loaded, broken ones included
  std::shared_ptr<const config::Directory> dir;
};

std::string diag_text(const config::Diagnostic& d) {
  std::string s = d.file;
  if (d.line > 0) s += ":" + std::to_string(d.line);
  return s + ": " + d.message;
}

// Loads config, domain files and directory. On a broken main config prints
// its errors to `err` and returns nullopt. Broken domain files are kept (their
// domains are not served) so callers can explain them.
std::optional<Env> load_env(const std::string& config_path, std::ostream& err) {
  config::LoadResult loaded;
  try {
    loaded = config::load_config(config_path);
  } catch (const std::exception& e) {
    err << "roost: " << config_path << ": " << e.what() << '\n';
    return std::nullopt;
  }
  if (!loaded.config) {
    for (const auto& d : loaded.errors) err << diag_text(d) << '\n';
    if (loaded.errors.empty()) err << "roost: " << config_path << ": cannot be loaded\n";
    return std::nullopt;
  }
  Env env;
  env.config = std::move(*loaded.config);
  for (const auto& path : config::list_domain_files(env.config.domains_dir)) {
    try {
      env.files.push_back(config::load_domain_file(path));
    } catch (const std::exception& e) {
      config::DomainFile broken;
      broken.file = path;
      broken.errors.push_back(config::Diagnostic{path, 0, e.what()});
      env.files.push_back(std::move(broken));
    }
  }
  std::vector<config::Diagnostic> problems;
  env.dir = config::Directory::build(env.config, env.files, nullptr, &problems);
  if (!env.dir) {
    err << "roost: the account directory could not be built\n";
    return std::nullopt;
  }
  return env;
}

// A domain file that failed to load and whose name says it is for `domain`.
const config::DomainFile* broken_file_for(const Env& env, const std::string& domain) {
  for (const auto& f : env.files) {
    if (f.domain) continue;
    auto stem = config::normalize_domain(fs::path(f.file).stem().string());
    if (stem && *stem == domain) return &f;
  }
  return nullptr;
}

std::string first_error(const config::DomainFile& f) {
  return f.errors.empty() ? std::string("unknown error") : diag_text(f.errors.front());
}

// ---------------------------------------------------------------------------
// roost pw

int cmd_pw(const std::vector<std::string>& args) {
  Parsed p = parse_options(args, {{nullptr, "--scheme", true}, {"-c", "--config", true}});
  if (!p.error.empty()) return usage_error(p.error);
  if (!p.positional.empty()) return usage_error("pw takes no arguments");
  auto scheme = auth::parse_scheme(p.get("--scheme", "argon2id"));
  if (!scheme) return usage_error("unknown scheme " + p.get("--scheme"));

  std::optional<std::string> password;
  if (isatty(STDIN_FILENO)) {
    password = prompt_no_echo("Password: ");
    if (!password) return kExFail;
    if (password->empty()) {
      std::cerr << "roost: refusing an empty password\n";
      return kExFail;
    }
    auto again = prompt_no_echo("Again: ");
    if (!again || *again != *password) {
      std::cerr << "roost: the passwords do not match\n";
      return kExFail;
    }
  } else {
    password = read_stdin_password();
    if (!password) {
      std::cerr << "roost: cannot read the password from stdin\n";
      return kExFail;
    }
  }
  if (password->empty()) {
    std::cerr << "roost: refusing an empty password\n";
    return kExFail;
  }
  std::string hash = auth::hash_password(*password, *scheme);
  if (hash.empty()) {
    std::cerr << "roost: hashing failed\n";
    return kExFail;
  }
  std::cout << hash << '\n';
  return std::cout.good() ? kExOk : kExFail;
}

// ---------------------------------------------------------------------------
// roost deliver

// The message goes through the shared delivery path (delivery/): the same
// recipient resolution, quota check and store write as LMTP. Unlike LMTP it
// adds no trace headers: the contract is "stored as received".

// Copies stdin into the spool. Returns "" or an error.
std::string fill_from_stdin(delivery::Spool& spool) {
  if (std::string e = spool.open(""); !e.empty()) return e;
  std::vector<char> buf(kChunk);
  for (;;) {
    ssize_t n = read(STDIN_FILENO, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return "reading the message: " + std::string(strerror(errno));
    if (n == 0) break;
    if (std::string e = spool.append(std::string_view(buf.data(), static_cast<size_t>(n)));
        !e.empty()) {
      return e;
    }
  }
  return "";
}

int over_quota_code(const delivery::Outcome& o) {
  return o.defer ? kExTempFail : kExCantCreate;
}

int cmd_deliver(const std::vector<std::string>& args) {
  Parsed p = parse_options(args, {{"-c", "--config", true},
                                  {"-t", "--to", true},
                                  {"-m", "--mailbox", true},
                                  {"-f", "--from", true}});
  if (!p.error.empty()) return usage_error(p.error);
  if (!p.positional.empty()) return usage_error("unexpected argument " + p.positional.front());
  if (!p.has("--to") || p.get("--to").empty()) return usage_error("deliver needs -t ADDRESS");
  const std::string to = p.get("--to");
  const std::string wanted_mailbox = p.get("--mailbox");
  if (p.has("--mailbox")) {
    if (wanted_mailbox.empty()) return usage_error("-m needs a mailbox name");
    if (!store::is_inbox(wanted_mailbox)) {
      auto valid = store::validate_mailbox_name(wanted_mailbox);
      if (!valid) return usage_error("invalid mailbox name: " + valid.error().message);
    }
  }

  auto env = load_env(p.get("--config", kDefaultConfig), std::cerr);
  if (!env) return kExTempFail;

  delivery::Resolution res = delivery::resolve(*env->dir, to);
  for (const auto& outside : res.remote) {
    std::cerr << "roost: warning: " << to << ": not forwarding to " << outside
              << " (outside address; roost does not relay)\n";
  }
  switch (res.status) {
    case delivery::Lookup::kFound:
      break;
    case delivery::Lookup::kDomainBroken:
      std::cerr << "roost: " << to << ": " << res.reason << "; try again later\n";
      return kExTempFail;
    case delivery::Lookup::kBadTarget:
      std::cerr << "roost: " << to << ": " << res.reason << '\n';
      return kExTempFail;
    case delivery::Lookup::kNoLocal:
      std::cerr << "roost: " << to << ": no local recipient\n";
      return kExNoUser;
    case delivery::Lookup::kUnknownUser:
    case delivery::Lookup::kUnknownDomain:
      std::cerr << "roost: " << to << ": unknown recipient\n";
      return kExNoUser;
  }

  const config::Config& cfg = env->config;
  if (cfg.store.backend != "maildir") {
    std::cerr << "roost: store.backend " << cfg.store.backend
              << " cannot be used for delivery (mail would be lost)\n";
    return kExTempFail;
  }
  store::MaildirOptions options;
  options.path_template = cfg.store.path;
  options.index_dir = (fs::path(cfg.server.state_dir) / "index").string();
  options.fsync = cfg.store.fsync;
  options.exclusive = cfg.store.exclusive;
  std::unique_ptr<store::Store> st = store::make_maildir_store(options);
  if (!st) {
    std::cerr << "roost: cannot open the message store\n";
    return kExTempFail;
  }

  delivery::Spool spool;
  if (std::string e = fill_from_stdin(spool); !e.empty()) {
    std::cerr << "roost: " << e << '\n';
    return kExTempFail;
  }

  // Open every account and check every quota before storing anything: a
  // message goes to all its local recipients or to none.
  std::vector<delivery::Prepared> prepared(res.targets.size());
  int quota_code = kExOk;
  for (size_t i = 0; i < res.targets.size(); ++i) {
    const auto& t = res.targets[i];
    auto o = delivery::prepare(*st, t, spool.size(), wanted_mailbox, &prepared[i]);
    if (o.status == delivery::Status::kStored) continue;
    std::cerr << "roost: " << t.view.address << ": " << o.reason << '\n';
    if (o.status != delivery::Status::kOverQuota) {
      return o.status == delivery::Status::kTooBig ? kExCantCreate : kExTempFail;
    }
    // One recipient that may have room later makes the whole delivery a retry.
    if (quota_code != kExTempFail) quota_code = over_quota_code(o);
  }
  if (quota_code != kExOk) return quota_code;

  delivery::Options dopts;
  dopts.state_dir = cfg.server.state_dir;
  dopts.hostname = cfg.server.hostname;
  std::vector<std::string> done;
  for (auto& pr : prepared) {
    auto o = delivery::store_message(pr, "", spool, dopts);
    if (o.status != delivery::Status::kStored) {
      std::cerr << "roost: " << pr.target.view.address << ": " << o.reason << '\n';
      if (!done.empty()) {
        std::cerr << "roost: already stored for:";
        for (const auto& a : done) std::cerr << ' ' << a;
        std::cerr << '\n';
      }
      if (o.status == delivery::Status::kOverQuota) return over_quota_code(o);
      if (o.status == delivery::Status::kTooBig) return kExCantCreate;
      return kExTempFail;
    }
    done.push_back(pr.target.view.address);
  }
  return kExOk;
}

// ---------------------------------------------------------------------------
// roost auth test

// decide_login is asked up to four times for the same password; the hash
// (argon2id: tens of milliseconds, 64 MiB) is verified once per stored hash.
bool verify_once(std::string_view stored, std::string_view password) {
  static std::map<std::string, bool, std::less<>> cache;
  auto it = cache.find(stored);
  if (it != cache.end()) return it->second;
  bool ok = auth::verify_password(stored, password);
  cache.emplace(std::string(stored), ok);
  return ok;
}

std::string protocol_list(const std::vector<config::Protocol>& ps) {
  std::string s = "[";
  for (size_t i = 0; i < ps.size(); ++i) {
    if (i) s += ", ";
    s += config::to_string(ps[i]);
  }
  return s + "]";
}

std::string qualify(const std::string& target, const std::string& domain) {
  return target.find('@') == std::string::npos ? target + "@" + domain : target;
}

// Why an address is no login: not an address, domain not served (or its file
// broken), an alias, a +detail address, or simply no such account.
std::string explain_unknown(const Env& env, const std::string& address) {
  auto at = address.rfind('@');
  if (at == std::string::npos || at == 0 || at + 1 == address.size()) {
    return "not an address (a login is user@domain)";
  }
  std::string local = core::ascii_lower(address.substr(0, at));
  auto domain = config::normalize_domain(address.substr(at + 1));
  if (!domain) return "not a valid domain name: " + address.substr(at + 1);
  const config::Domain* d = env.dir->find_domain(*domain);
  if (!d) {
    if (const auto* broken = broken_file_for(env, *domain)) {
      return "the domain file " + broken->file + " is broken, so " + *domain +
             " is not served: " + first_error(*broken);
    }
    return "the domain " + *domain + " is not served (no file for it in " + env.config.domains_dir +
           ")";
  }
  auto alias = d->aliases.find(local);
  if (alias != d->aliases.end()) {
    std::vector<std::string> locals, outside;
    for (const auto& t : alias->second) {
      std::string q = qualify(t, d->name);
      if (env.dir->find_account(q)) {
        locals.push_back(q);
      } else {
        outside.push_back(q);
      }
    }
    std::string who;
    for (const auto& a : alias->second) who += (who.empty() ? "" : ", ") + qualify(a, d->name);
    if (locals.size() == 1) {
      return local + "@" + d->name + " is an alias of " + who + ", log in as " + locals.front();
    }
    if (locals.size() > 1) {
      return local + "@" + d->name + " is an alias of " + who +
             ": aliases are not logins, log in as one of those accounts";
    }
    return local + "@" + d->name + " is an alias forwarding to " + who +
           ", which roost does not serve: aliases are not logins";
  }
  auto plus = local.find('+');
  if (plus != std::string::npos && d->accounts.count(local.substr(0, plus))) {
    return "+detail addresses are for delivery only, log in as " + local.substr(0, plus) + "@" +
           d->name;
  }
  if (d->catch_all) {
    return "no account " + local + " in " + d->name + " (" + d->file +
           "); mail to it goes to the catch-all " + qualify(*d->catch_all, d->name) +
           ", which is the login";
  }
  return "no account " + local + " in " + d->name + " (" + d->file + ")";
}

std::string describe_decision(const auth::LoginDecision& dec) {
  switch (dec.outcome) {
    case auth::LoginOutcome::kOk:
      return "ok";
    case auth::LoginOutcome::kUnknownAddress:
      return "refused: unknown address";
    case auth::LoginOutcome::kWrongPassword: {
      std::string s = "refused: wrong password";
      if (dec.account && dec.account->account) {
        if (auto bad = auth::check_stored_hash(dec.account->account->password)) {
          s += " (the stored hash is unusable: " + *bad + ")";
        }
      }
      return s;
    }
    case auth::LoginOutcome::kTlsRequired:
      return "refused: TLS required (policy plaintext_auth: tls_only)";
    case auth::LoginOutcome::kProtocolDenied: {
      std::string s = "refused: protocol not allowed for this account";
      if (dec.account)
        s += " (policy.protocols: " + protocol_list(dec.account->policy.protocols) + ")";
      return s;
    }
    case auth::LoginOutcome::kSuspended: {
      std::string s = "refused: account suspended";
      if (dec.account && dec.account->domain && dec.account->account) {
        s += " (status: suspended in " + dec.account->domain->file;
        if (dec.account->account->line > 0) s += ":" + std::to_string(dec.account->account->line);
        s += ")";
      }
      return s;
    }
  }
  return "refused";
}

int cmd_auth(const std::vector<std::string>& args) {
  if (args.empty() || args.front() != "test") {
    return usage_error(args.empty() ? "auth needs a subcommand (test)"
                                    : "unknown auth subcommand " + args.front());
  }
  Parsed p = parse_options(std::vector<std::string>(args.begin() + 1, args.end()),
                           {{"-c", "--config", true}});
  if (!p.error.empty()) return usage_error(p.error);
  if (p.positional.size() != 1) return usage_error("auth test needs one ADDRESS");
  const std::string address = p.positional.front();

  auto env = load_env(p.get("--config", kDefaultConfig), std::cerr);
  if (!env) return kExFail;

  std::optional<std::string> password;
  if (isatty(STDIN_FILENO)) {
    password = prompt_no_echo(("Password for " + address + ": ").c_str());
  } else {
    password = read_stdin_password();
  }
  if (!password) {
    std::cerr << "roost: cannot read the password\n";
    return kExFail;
  }

  if (auto view = env->dir->find_account(address)) {
    std::cout << address << ": account " << view->address;
    if (view->domain && view->account) {
      std::cout << " (" << view->domain->file;
      if (view->account->line > 0) std::cout << ':' << view->account->line;
      std::cout << ')';
    }
    std::cout << '\n';
  } else {
    std::cout << address << ": unknown address: " << explain_unknown(*env, address) << '\n';
  }

  bool any_ok = false;
  for (config::Protocol proto : {config::Protocol::kImap, config::Protocol::kPop3}) {
    for (bool secure : {true, false}) {
      auth::LoginRequest req;
      req.address = address;
      req.password = *password;
      req.protocol = proto;
      req.secure = secure;
      auth::LoginDecision dec = auth::decide_login(*env->dir, req, verify_once);
      if (dec.outcome == auth::LoginOutcome::kOk) any_ok = true;
      std::cout << config::to_string(proto) << (secure ? " over TLS: " : " without TLS: ")
                << describe_decision(dec) << '\n';
    }
  }
  return any_ok ? kExOk : kExFail;
}

// ---------------------------------------------------------------------------
// roost check-config

int cmd_check_config(const std::vector<std::string>& args) {
  Parsed p = parse_options(args, {{"-c", "--config", true}, {nullptr, "--domain", true}});
  if (!p.error.empty()) return usage_error(p.error);
  if (!p.positional.empty()) return usage_error("unexpected argument " + p.positional.front());
  if (p.has("--domain")) {
    if (p.get("--domain").empty()) return usage_error("--domain needs a FILE");
    // Without -c the domain file is checked alone.
    return core::cli::run_check_domain(p.get("--domain"), std::cout, p.get("--config"));
  }
  int rc = core::cli::run_check_config(p.get("--config", kDefaultConfig), std::cout);
  std::cout.flush();
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return usage_error("");
  const std::string cmd = args.front();
  std::vector<std::string> rest(args.begin() + 1, args.end());

  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::cout << kHelp;
    return kExOk;
  }
  if (cmd == "--version" || cmd == "-V" || cmd == "version") {
    std::cout << "roost " << ROOST_VERSION << '\n';
    return kExOk;
  }
  for (const auto& a : rest) {
    if (a == "--help" || a == "-h") {
      std::cout << kHelp;
      return kExOk;
    }
  }
  if (cmd == "pw") return cmd_pw(rest);
  if (cmd == "deliver") return cmd_deliver(rest);
  if (cmd == "check-config") return cmd_check_config(rest);
  if (cmd == "auth") return cmd_auth(rest);
  if (cmd == "dns") return core::cli::cmd_dns(rest);
  if (cmd == "who") return core::cli::cmd_who(rest);
  if (cmd == "kick") return core::cli::cmd_kick(rest);
  if (cmd == "status") return core::cli::cmd_status(rest);
  if (cmd == "reload") return core::cli::cmd_reload(rest);
  if (cmd == "mailbox") return core::cli::cmd_mailbox(rest);
  return usage_error("unknown command " + cmd);
}
