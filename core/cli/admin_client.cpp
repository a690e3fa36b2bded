#include "core/cli/admin_client.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include <curl/curl.h>

#include <nlohmann/json.hpp>

#include "core/config/config.h"
#include "core/config/directory.h"
#include "store/maildir/reindex.h"

namespace core::cli {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* kDefaultConfig = "/etc/roost/roost.yaml";

// ---- Arguments -------------------------------------------------------------

struct Args {
  std::string config = kDefaultConfig;
  bool json = false;
  std::vector<std::string> positional;
  std::string error;
};

// -c CONFIG, -cCONFIG, --config CONFIG, --config=CONFIG, --json; "--" ends options.
Args parse_args(const std::vector<std::string>& in) {
  Args a;
  bool only_positional = false;
  for (size_t i = 0; i < in.size(); ++i) {
    const std::string& s = in[i];
    if (only_positional || s.size() < 2 || s[0] != '-') {
      a.positional.push_back(s);
    } else if (s == "--") {
      only_positional = true;
    } else if (s == "--json") {
      a.json = true;
    } else if (s == "-c" || s == "--config") {
      if (i + 1 >= in.size()) {
        a.error = "option " + s + " needs a value";
        return a;
      }
      a.config = in[++i];
    } else if (s.rfind("--config=", 0) == 0) {
      a.config = s.substr(9);
    } else if (s.rfind("-c", 0) == 0) {
      a.config = s.substr(2);
    } else {
      a.error = "unknown option " + s;
      return a;
    }
  }
  if (a.config.empty()) a.error = "-c needs a CONFIG file";
  return a;
}

int usage(const std::string& message, const char* line) {
  std::cerr << "roost: " << message << "\nusage: " << line << "\n";
  return kAdminUsage;
}

// ---- Finding the admin API -------------------------------------------------

struct Target {
  std::string url;        // "http://127.0.0.1:8080" (no trailing slash)
  std::string unix_path;  // set for a unix socket listener
  std::string token;
};

std::string strip_token(std::string s) {
  while (!s.empty() &&
         (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) {
    s.pop_back();
  }
  return s;
}

std::optional<config::Config> load_main(const std::string& path) {
  config::LoadResult loaded;
  try {
    loaded = config::load_config(path);
  } catch (const std::exception& e) {
    std::cerr << "roost: " << path << ": " << e.what() << "\n";
    return std::nullopt;
  }
  if (!loaded.config) {
    for (const auto& d : loaded.errors) std::cerr << d.str() << "\n";
    if (loaded.errors.empty()) std::cerr << "roost: " << path << ": cannot be loaded\n";
    return std::nullopt;
  }
  return std::move(loaded.config);
}

// The first admin listener of the configuration; a wildcard address is
// reached on loopback.
std::optional<Target> find_target(const config::Config& cfg, int* rc) {
  const config::Listener* l = nullptr;
  for (const auto& x : cfg.listeners) {
    if (x.protocol == config::Protocol::kAdmin) {
      l = &x;
      break;
    }
  }
  if (!l) {
    std::cerr << "roost: " << cfg.file
              << ": no admin listener (add one with protocol: admin and token_file)\n";
    *rc = kAdminConfig;
    return std::nullopt;
  }
  Target t;
  const char* scheme = l->tls == config::TlsMode::kImplicit ? "https://" : "http://";
  if (!l->path.empty()) {
    t.unix_path = l->path;
    t.url = std::string(scheme) + "localhost";
  } else {
    std::string host = l->address;
    if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
    if (host == "::") host = "::1";
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    t.url = std::string(scheme) + host + ":" + std::to_string(l->port);
  }
  std::ifstream in(l->token_file, std::ios::binary);
  if (!in) {
    std::cerr << l->where.file << ":" << l->where.line << ": token_file " << l->token_file << ": "
              << std::strerror(errno) << "\n";
    *rc = kAdminConfig;
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  t.token = strip_token(ss.str());
  if (t.token.empty()) {
    std::cerr << l->where.file << ":" << l->where.line << ": token_file " << l->token_file
              << " is empty\n";
    *rc = kAdminConfig;
    return std::nullopt;
  }
  return t;
}

// ---- HTTP (libcurl) --------------------------------------------------------

struct Reply {
  long status = 0;
  std::string body;
  std::string error;  // transport failure
};

size_t collect(char* data, size_t size, size_t n, void* user) {
  auto* out = static_cast<std::string*>(user);
  out->append(data, size * n);
  return size * n;
}

std::string url_encode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Reply request(const Target& t, const char* method, const std::string& path) {
  Reply r;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL* c = curl_easy_init();
  if (!c) {
    r.error = "libcurl could not start";
    return r;
  }
  char errbuf[CURL_ERROR_SIZE] = {0};
  std::string url = t.url + path;
  curl_slist* headers = nullptr;
  const std::string auth = "Authorization: Bearer " + t.token;
  headers = curl_slist_append(headers, auth.c_str());
  headers = curl_slist_append(headers, "Accept: application/json");
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  if (!t.unix_path.empty()) curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, t.unix_path.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  if (std::strcmp(method, "POST") == 0) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
  }
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");  // never send the token through a proxy
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
  // An https admin listener on this host usually has the server's own (often
  // self-signed) certificate; the token, not the certificate, authenticates.
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    r.error = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  } else {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  return r;
}

// Runs a request and parses the JSON answer. On failure prints why and
// sets *rc.
std::optional<json> call(const Args& a, const char* method, const std::string& path, int* rc,
                         long* status = nullptr) {
  auto cfg = load_main(a.config);
  if (!cfg) {
    *rc = kAdminConfig;
    return std::nullopt;
  }
  auto t = find_target(*cfg, rc);
  if (!t) return std::nullopt;
  Reply r = request(*t, method, path);
  if (!r.error.empty()) {
    std::cerr << "roost: cannot reach the admin API at "
              << (t->unix_path.empty() ? t->url : t->unix_path) << ": " << r.error
              << " (is roostd running?)\n";
    *rc = kAdminUnavailable;
    return std::nullopt;
  }
  if (status) *status = r.status;
  json j = json::parse(r.body, nullptr, false);
  if (r.status == 401) {
    std::cerr << "roost: the admin API refused the token (check token_file)\n";
    *rc = kAdminConfig;
    return std::nullopt;
  }
  if (j.is_discarded()) {
    std::cerr << "roost: the admin API answered " << r.status << " without JSON\n";
    *rc = kAdminFail;
    return std::nullopt;
  }
  return j;
}

void print_json(const json& j) {
  std::cout << j.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
}

std::string str(const json& j, const char* key, const std::string& fallback = "-") {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

// Columns padded to the widest cell.
void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w;
  for (const auto& r : rows) {
    if (w.size() < r.size()) w.resize(r.size(), 0);
    for (size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(w[i] - r[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
}

std::string human_bytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  }
  return buf;
}

}  // namespace

std::string group_thousands(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string progress_bar(uint64_t done, uint64_t total, size_t width) {
  size_t filled =
      total ? static_cast<size_t>(static_cast<unsigned __int128>(done) * width / total) : width;
  if (filled > width) filled = width;
  return "[" + std::string(filled, '#') + std::string(width - filled, ' ') + "] " +
         group_thousands(done) + "/" + group_thousands(total) + " messages";
}

// ---- roost who ---------------------------------------------------------------

int cmd_who(const std::vector<std::string>& in) {
  constexpr const char* kLine = "roost who [-c CONFIG] [--json]";
  Args a = parse_args(in);
  if (!a.error.empty()) return usage(a.error, kLine);
  if (!a.positional.empty()) return usage("who takes no arguments", kLine);
  int rc = kAdminOk;
  auto j = call(a, "GET", "/api/v1/sessions", &rc);
  if (!j) return rc;
  if (a.json) {
    print_json(*j);
    return kAdminOk;
  }
  std::vector<std::vector<std::string>> rows{
      {"SESSION", "ACCOUNT", "PROTO", "REMOTE", "SINCE", "TLS", "CLIENT"}};
  for (const auto& s : j->value("sessions", json::array())) {
    rows.push_back({str(s, "id"), str(s, "account"), str(s, "protocol"), str(s, "remote"),
                    str(s, "since"), s.value("tls", false) ? "yes" : "no", str(s, "client_id")});
  }
  print_table(rows);
  std::cout << (rows.size() - 1) << " session" << (rows.size() == 2 ? "" : "s") << "\n";
  return kAdminOk;
}

// ---- roost kick --------------------------------------------------------------

int cmd_kick(const std::vector<std::string>& in) {
  constexpr const char* kLine = "roost kick [-c CONFIG] [--json] ADDRESS";
  Args a = parse_args(in);
  if (!a.error.empty()) return usage(a.error, kLine);
  if (a.positional.size() != 1) return usage("kick needs one ADDRESS", kLine);
  int rc = kAdminOk;
  long status = 0;
  auto j =
      call(a, "DELETE", "/api/v1/sessions?account=" + url_encode(a.positional[0]), &rc, &status);
  if (!j) return rc;
  if (a.json) {
    print_json(*j);
    return status == 200 ? kAdminOk : kAdminFail;
  }
  if (status != 200) {
    std::cerr << "roost: " << str(*j, "error", "failed") << "\n";
    return kAdminFail;
  }
  int64_t n = j->value("ended", int64_t{0});
  std::cout << "ended " << n << " session" << (n == 1 ? "" : "s") << " of " << str(*j, "account")
            << "\n";
  return kAdminOk;
}

// ---- roost status ------------------------------------------------------------

int cmd_status(const std::vector<std::string>& in) {
  constexpr const char* kLine = "roost status [-c CONFIG] [--json] ADDRESS";
  Args a = parse_args(in);
  if (!a.error.empty()) return usage(a.error, kLine);
  if (a.positional.size() != 1) return usage("status needs one ADDRESS", kLine);
  int rc = kAdminOk;
  long status = 0;
  auto j = call(a, "GET", "/api/v1/accounts/" + url_encode(a.positional[0]), &rc, &status);
  if (!j) return rc;
  if (a.json) {
    print_json(*j);
    return status == 200 ? kAdminOk : kAdminFail;
  }
  if (status == 404) {
    std::cerr << "roost: " << a.positional[0] << ": no such account\n";
    return kAdminFail;
  }
  if (status != 200) {
    std::cerr << "roost: " << str(*j, "error", "failed") << "\n";
    return kAdminFail;
  }
  const json& q = (*j)["quota"];
  auto used_of = [&](const char* used, const char* limit, bool bytes) {
    std::string u = q[used].is_number() ? (bytes ? human_bytes(q[used].get<uint64_t>())
                                                 : group_thousands(q[used].get<uint64_t>()))
                                        : std::string("?");
    std::string l = q[limit].is_number() ? (bytes ? human_bytes(q[limit].get<uint64_t>())
                                                  : group_thousands(q[limit].get<uint64_t>()))
                                         : std::string("unlimited");
    return u + " of " + l;
  };
  std::string protocols;
  for (const auto& p : j->value("protocols", json::array())) {
    protocols += (protocols.empty() ? "" : ", ") + p.get<std::string>();
  }
  std::string last = "never (since last-login.json was started)";
  if ((*j)["last_login"].is_object()) {
    const auto& l = (*j)["last_login"];
    last = str(l, "time") + " over " + str(l, "protocol") + " from " + str(l, "remote");
  }
  std::vector<std::vector<std::string>> head{
      {"Account:", str(*j, "address")},
      {"Status:", str(*j, "status")},
      {"Defined in:", str(*j, "file") + ":" + str(*j, "line")},
      {"Protocols:", protocols},
      {"Storage:", used_of("used_bytes", "limit_bytes", true)},
      {"Messages:", used_of("used_messages", "limit_messages", false)},
      {"Last login:", last},
      {"Sessions now:", str(*j, "sessions", "0")}};
  print_table(head);
  if (j->contains("store_error")) std::cout << "Store error: " << str(*j, "store_error") << "\n";
  std::cout << "\n";
  std::vector<std::vector<std::string>> rows{{"MAILBOX", "MESSAGES", "UNSEEN", "SIZE"}};
  for (const auto& m : j->value("mailboxes", json::array())) {
    rows.push_back({str(m, "name"), group_thousands(m.value("messages", uint64_t{0})),
                    group_thousands(m.value("unseen", uint64_t{0})),
                    human_bytes(m.value("bytes", uint64_t{0}))});
  }
  print_table(rows);
  return kAdminOk;
}

// ---- roost reload ------------------------------------------------------------

int cmd_reload(const std::vector<std::string>& in) {
  constexpr const char* kLine = "roost reload [-c CONFIG] [--json]";
  Args a = parse_args(in);
  if (!a.error.empty()) return usage(a.error, kLine);
  if (!a.positional.empty()) return usage("reload takes no arguments", kLine);
  int rc = kAdminOk;
  long status = 0;
  auto j = call(a, "POST", "/api/v1/reload", &rc, &status);
  if (!j) return rc;
  bool broken = false;
  for (const auto& f : j->value("files", json::array()))
    broken |= f.value("status", "") != "loaded";
  const bool ok = j->value("result", "") == "ok";
  if (a.json) {
    print_json(*j);
    return ok && !broken ? kAdminOk : kAdminFail;
  }
  auto diag = [](const json& d) {
    std::string s = str(d, "file", "");
    if (d.value("line", 0) > 0) s += ":" + std::to_string(d.value("line", 0));
    return s + (s.empty() ? "" : ": ") + str(d, "message", "");
  };
  if (!ok) {
    std::cout << "reload failed; the old configuration stays in use\n";
    for (const auto& d : j->value("errors", json::array())) std::cout << "  " << diag(d) << "\n";
    return kAdminFail;
  }
  for (const auto& f : j->value("files", json::array())) {
    bool loaded = f.value("status", "") == "loaded";
    std::cout << (loaded ? "loaded  " : "BROKEN  ") << str(f, "file") << "\n";
    for (const auto& d : f.value("errors", json::array())) std::cout << "  " << diag(d) << "\n";
    for (const auto& d : f.value("warnings", json::array())) {
      std::cout << "  warning: " << diag(d) << "\n";
    }
  }
  for (const auto& d : j->value("problems", json::array())) std::cout << diag(d) << "\n";
  if (!str(*j, "tls_error", "").empty()) {
    std::cout << "certificates: " << str(*j, "tls_error") << " (old ones kept)\n";
  }
  std::cout << "reloaded (generation " << str(*j, "generation") << ")"
            << (broken ? "; broken files keep their last good version, if any" : "") << "\n";
  return broken ? kAdminFail : kAdminOk;
}

// ---- roost mailbox reindex -------------------------------------------------

int cmd_mailbox(const std::vector<std::string>& in) {
  constexpr const char* kLine = "roost mailbox reindex [-c CONFIG] [--json] ADDRESS";
  if (in.empty() || in.front() != "reindex") {
    return usage(in.empty() ? "mailbox needs a subcommand (reindex)"
                            : "unknown mailbox subcommand " + in.front(),
                 kLine);
  }
  Args a = parse_args(std::vector<std::string>(in.begin() + 1, in.end()));
  if (!a.error.empty()) return usage(a.error, kLine);
  if (a.positional.size() != 1) return usage("mailbox reindex needs one ADDRESS", kLine);
  const std::string address = a.positional[0];

  auto cfg = load_main(a.config);
  if (!cfg) return kAdminConfig;
  if (cfg->store.backend != "maildir") {
    std::cerr << "roost: store.backend " << cfg->store.backend << " has no index to rebuild\n";
    return kAdminConfig;
  }
  std::vector<config::DomainFile> files;
  for (const auto& path : config::list_domain_files(cfg->domains_dir)) {
    try {
      files.push_back(config::load_domain_file(path));
    } catch (const std::exception&) {
      // A broken file: its domain is not served, so its accounts are unknown.
    }
  }
  auto dir = config::Directory::build(*cfg, std::move(files), nullptr, nullptr);
  auto view = dir ? dir->find_account(address) : std::nullopt;
  if (!view || !view->domain || !view->account) {
    std::cerr << "roost: " << address << ": no such account\n";
    return kAdminFail;
  }
  // Run as the service user, so that the index files belong to it.
  if (geteuid() == 0 && cfg->server.user) {
    if (passwd* pw = getpwnam(cfg->server.user->c_str())) {
      if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
          setuid(pw->pw_uid) != 0) {
        std::cerr << "roost: could not switch to user " << pw->pw_name << "\n";
        return kAdminFail;
      }
    }
  }
  store::MaildirOptions options;
  options.path_template = cfg->store.path;
  options.index_dir = (fs::path(cfg->server.state_dir) / "index").string();
  options.fsync = cfg->store.fsync;
  options.exclusive = cfg->store.exclusive;
  options.expunge_memory_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(cfg->limits.expunge_memory).count();

  const bool tty = isatty(STDERR_FILENO);
  bool bar_drawn = false;
  auto progress = [&](const store::maildir::ReindexProgress& p) {
    if (tty) {
      std::cerr << "\r" << progress_bar(p.done_messages, p.total_messages, 30) << std::flush;
      bar_drawn = true;
    } else if (p.mailbox_number > 0) {
      std::cerr << p.mailbox << ": done (" << p.mailbox_number << "/" << p.mailboxes
                << " mailboxes, " << group_thousands(p.done_messages) << "/"
                << group_thousands(p.total_messages) << " messages)\n";
    } else {
      std::cerr << "reindexing " << p.mailboxes << " mailboxes, "
                << group_thousands(p.total_messages) << " messages\n";
    }
  };
  auto started = std::chrono::steady_clock::now();
  auto r =
      store::maildir::reindex_account(options, view->domain->name, view->account->name, progress);
  if (bar_drawn) std::cerr << "\n";
  if (!r) {
    std::cerr << "roost: " << view->address << ": " << r.error().message << "\n";
    return kAdminFail;
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (a.json) {
    json list = json::array();
    for (const auto& m : r->mailboxes) {
      list.push_back(json{{"name", m.name},
                          {"messages", m.messages},
                          {"uidvalidity", m.uidvalidity},
                          {"uidnext", m.uidnext},
                          {"had_index", m.had_index}});
    }
    print_json(json{{"address", view->address},
                    {"mailboxes", list},
                    {"messages", r->messages},
                    {"seconds", seconds}});
    return kAdminOk;
  }
  std::vector<std::vector<std::string>> rows{{"MAILBOX", "MESSAGES", "UIDVALIDITY", "UIDNEXT"}};
  for (const auto& m : r->mailboxes) {
    rows.push_back({m.name, group_thousands(m.messages), std::to_string(m.uidvalidity),
                    std::to_string(m.uidnext)});
  }
  print_table(rows);
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.1f", seconds);
  std::cout << "rebuilt " << r->mailboxes.size() << " index"
            << (r->mailboxes.size() == 1 ? "" : "es") << " of " << view->address << ": "
            << group_thousands(r->messages) << " messages in " << secs << " s\n";
  return kAdminOk;
}

}  // namespace core::cli
