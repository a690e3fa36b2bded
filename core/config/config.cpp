// Loading and validating roost.yaml, plus the small parsers shared with the
// domain files (sizes, durations, domain names, policies).
#include "core/config/config.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "core/config/yaml_read.h"
#include "core/util/ascii.h"

namespace core::config {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------
// Small public helpers

std::string Diagnostic::str() const {
  std::string out;
  if (!file.empty()) {
    out = file;
    if (line > 0) out += ":" + std::to_string(line);
    out += ": ";
  }
  out += message;
  return out;
}

const char* to_string(Protocol p) {
  switch (p) {
    case Protocol::kImap:
      return "imap";
    case Protocol::kPop3:
      return "pop3";
    case Protocol::kLmtp:
      return "lmtp";
    case Protocol::kQuotaStatus:
      return "quota_status";
    case Protocol::kAdmin:
      return "admin";
    case Protocol::kAutoconfig:
      return "autoconfig";
  }
  return "unknown";
}

bool Policy::allows(Protocol p) const {
  return std::find(protocols.begin(), protocols.end(), p) != protocols.end();
}

void PolicyOverride::apply(Policy& p) const {
  if (protocols) p.protocols = *protocols;
  if (plaintext_auth) p.plaintext_auth = *plaintext_auth;
  if (quota) p.quota = *quota;
  if (quota_messages) p.quota_messages = *quota_messages;
  if (quota_exceeded) p.quota_exceeded = *quota_exceeded;
  if (quota_warning_at) p.quota_warning.at_percent = *quota_warning_at;
  if (quota_warning_message) p.quota_warning.message_file = *quota_warning_message;
  if (pop3_on_delete) p.pop3.on_delete = *pop3_on_delete;
  if (pop3_mark_seen) p.pop3.mark_seen = *pop3_mark_seen;
  if (detail) p.detail = *detail;
  if (special_drafts) p.special_use.drafts = *special_drafts;
  if (special_sent) p.special_use.sent = *special_sent;
  if (special_trash) p.special_use.trash = *special_trash;
  if (special_junk) p.special_use.junk = *special_junk;
  if (special_archive) p.special_use.archive = *special_archive;
}

namespace {

// Parses an IPv4 or IPv6 literal (IPv6 optionally in brackets) into 16 bytes.
bool parse_ip(std::string text, uint8_t* out, uint8_t* family) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    std::memset(out, 0, 16);
    std::memcpy(out, &v4, 4);
    *family = 4;
    return true;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    std::memcpy(out, &v6, 16);
    *family = 6;
    return true;
  }
  return false;
}

bool prefix_equal(const uint8_t* a, const uint8_t* b, unsigned bits) {
  unsigned full = bits / 8;
  if (std::memcmp(a, b, full) != 0) return false;
  unsigned rest = bits % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

}  // namespace

bool CidrRange::contains(const std::string& ip) const {
  uint8_t addr_ip[16];
  uint8_t fam = 0;
  if (!parse_ip(ip, addr_ip, &fam)) return false;
  if (fam == 6 && family == 4) {
    // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) matches IPv4 ranges.
    static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(addr_ip, kMapped, 12) != 0) return false;
    std::memmove(addr_ip, addr_ip + 12, 4);
    fam = 4;
  }
  if (fam != family) return false;
  return prefix_equal(addr_ip, addr, bits);
}

// ---------------------------------------------------------------------------
// Sizes, durations, domain names

namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

std::optional<uint64_t> parse_size(const std::string& input) {
  std::string text = trim(input);
  if (core::ascii_lower(text) == "unlimited") return kUnlimited;
  size_t i = 0;
  unsigned __int128 whole = 0;
  size_t digits = 0;
  while (i < text.size() && is_digit(text[i])) {
    whole = whole * 10 + static_cast<unsigned>(text[i] - '0');
    if (whole > UINT64_MAX) return std::nullopt;
    ++i;
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  unsigned __int128 frac = 0;
  unsigned __int128 frac_scale = 1;
  bool has_frac = false;
  if (i < text.size() && text[i] == '.') {
    has_frac = true;
    ++i;
    size_t frac_digits = 0;
    while (i < text.size() && is_digit(text[i])) {
      if (frac_digits < 18) {
        frac = frac * 10 + static_cast<unsigned>(text[i] - '0');
        frac_scale *= 10;
      }
      ++frac_digits;
      ++i;
    }
    if (frac_digits == 0) return std::nullopt;
  }
  while (i < text.size() && text[i] == ' ') ++i;
  std::string unit = core::ascii_lower(text.substr(i));
  static const std::map<std::string, uint64_t> kUnits = {
      {"", 1},
      {"b", 1},
      {"k", 1ull << 10},
      {"kib", 1ull << 10},
      {"m", 1ull << 20},
      {"mib", 1ull << 20},
      {"g", 1ull << 30},
      {"gib", 1ull << 30},
      {"t", 1ull << 40},
      {"tib", 1ull << 40},
      {"kb", 1000ull},
      {"mb", 1000ull * 1000},
      {"gb", 1000ull * 1000 * 1000},
      {"tb", 1000ull * 1000 * 1000 * 1000},
  };
  auto it = kUnits.find(unit);
  if (it == kUnits.end()) return std::nullopt;
  uint64_t mult = it->second;
  if (has_frac && mult == 1) return std::nullopt;  // fractions of a byte
  unsigned __int128 value = whole * mult + frac * mult / frac_scale;
  if (value > UINT64_MAX) return std::nullopt;
  return static_cast<uint64_t>(value);
}

std::optional<Duration> parse_duration(const std::string& input) {
  std::string text = trim(input);
  if (text.empty()) return std::nullopt;
  if (text == "0") return Duration(0);
  __int128 total_ms = 0;
  size_t i = 0;
  bool any = false;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    if (i == text.size()) break;
    __int128 n = 0;
    size_t digits = 0;
    while (i < text.size() && is_digit(text[i])) {
      n = n * 10 + (text[i] - '0');
      if (n > INT64_MAX) return std::nullopt;
      ++i;
      ++digits;
    }
    if (digits == 0) return std::nullopt;
    while (i < text.size() && text[i] == ' ') ++i;
    size_t u = i;
    while (i < text.size() && text[i] >= 'a' && text[i] <= 'z') ++i;
    std::string unit = text.substr(u, i - u);
    int64_t ms;
    if (unit == "ms") {
      ms = 1;
    } else if (unit == "s") {
      ms = 1000;
    } else if (unit == "m") {
      ms = 60 * 1000;
    } else if (unit == "h") {
      ms = 3600 * 1000;
    } else if (unit == "d") {
      ms = 86400 * 1000;
    } else if (unit == "w") {
      ms = 7ll * 86400 * 1000;
    } else {
      return std::nullopt;
    }
    total_ms += n * ms;
    if (total_ms > INT64_MAX) return std::nullopt;
    any = true;
  }
  if (!any) return std::nullopt;
  return Duration(static_cast<int64_t>(total_ms));
}

namespace {

bool valid_ldh_name(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = name.find('.', start);
    std::string label =
        name.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
      if (!ok) return false;
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return true;
}

}  // namespace

std::optional<std::string> normalize_domain(const std::string& input) {
  std::string name = input;
  if (name.size() > 1 && name.back() == '.') name.pop_back();  // the root label
  if (name.empty() || name.size() > 1024) return std::nullopt;
  bool ascii = true;
  for (unsigned char c : name) {
    if (c >= 0x80) {
      ascii = false;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.';
    if (!ok) return std::nullopt;  // spaces, '_', '@' ...: never part of a mail domain
  }
  name = core::ascii_lower(name);
  bool has_ace = name.rfind("xn--", 0) == 0 || name.find(".xn--") != std::string::npos;
  if (!ascii || has_ace) {
    // UTS #46 processing: maps case and compatibility forms, checks A-labels.
    char* out = nullptr;
    int rc = idn2_to_ascii_8z(name.c_str(), &out, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
    if (rc != IDN2_OK || out == nullptr) {
      if (out) idn2_free(out);
      return std::nullopt;
    }
    name = core::ascii_lower(out);
    idn2_free(out);
  }
  if (!valid_ldh_name(name)) return std::nullopt;
  return name;
}

// ---------------------------------------------------------------------------
// The YAML reading helpers (declared in yaml_read.h)

namespace detail {

std::string describe(const YAML::Node& v) {
  switch (v.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return "nothing (null)";
    case YAML::NodeType::Scalar: {
      std::string s = v.Scalar();
      if (s.size() > 60) s = s.substr(0, 57) + "...";
      return "\"" + s + "\"";
    }
  }
  return "?";
}

std::optional<Protocol> protocol_from_name(const std::string& name) {
  static const std::pair<const char*, Protocol> kNames[] = {
      {"imap", Protocol::kImap},   {"pop3", Protocol::kPop3},
      {"lmtp", Protocol::kLmtp},   {"quota_status", Protocol::kQuotaStatus},
      {"admin", Protocol::kAdmin}, {"autoconfig", Protocol::kAutoconfig},
  };
  for (const auto& [n, p] : kNames) {
    if (name == n) return p;
  }
  return std::nullopt;
}

std::optional<TlsMode> tls_mode_from_name(const std::string& name) {
  if (name == "none") return TlsMode::kNone;
  if (name == "starttls") return TlsMode::kStartTls;
  if (name == "implicit") return TlsMode::kImplicit;
  return std::nullopt;
}

Reader::Reader(std::string file, std::vector<Diagnostic>* errors, std::vector<Diagnostic>* warnings)
    : errors_(errors), warnings_(warnings), errors_at_start_(errors->size()) {
  std::error_code ec;
  fs::path p = file.empty() ? fs::path("roost.yaml") : fs::path(file);
  fs::path abs = fs::absolute(p, ec);
  if (ec) abs = p;
  abs = abs.lexically_normal();
  file_ = file.empty() ? file : abs.string();
  base_dir_ = abs.parent_path().string();
}

void Reader::error(int line, std::string message) {
  constexpr size_t kMaxErrors = 500;
  if (errors_->size() - errors_at_start_ >= kMaxErrors) {
    if (!capped_) {
      capped_ = true;
      errors_->push_back({file_, line, "too many errors; the rest are not shown"});
    }
    return;
  }
  errors_->push_back({file_, line, std::move(message)});
}

void Reader::warning(int line, std::string message) {
  if (warnings_->size() < 500) warnings_->push_back({file_, line, std::move(message)});
}

std::string Reader::resolve(const std::string& path) const {
  fs::path p(path);
  if (p.is_relative()) p = fs::path(base_dir_) / p;
  std::string out = p.lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

int Reader::line_of(const YAML::Node& v, int fallback) {
  if (!v.IsDefined() || v.IsNull()) return fallback;
  int line = v.Mark().line;
  return line >= 0 ? line + 1 : fallback;
}

namespace {

// "key: {SCHEME}rest" written without quotes: yaml-cpp reads a flow map.
std::optional<std::string> flow_syntax_hint(const std::string& text, int line0) {
  if (line0 < 0) return std::nullopt;
  std::istringstream in(text);
  std::string line;
  for (int i = 0; i <= line0; ++i) {
    if (!std::getline(in, line)) return std::nullopt;
  }
  static const std::regex kPattern(R"(([A-Za-z0-9_.-]+)\s*:\s*\{([A-Za-z0-9._-]+)\})");
  std::smatch m;
  if (!std::regex_search(line, m, kPattern)) return std::nullopt;
  return m[1].str() + ": unquoted {" + m[2].str() + "} is YAML flow syntax; quote the value (" +
         m[1].str() + ": \"{" + m[2].str() + "}...\")";
}

}  // namespace

std::optional<YAML::Node> Reader::parse(const std::string& text) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    int line = e.mark.is_null() ? 0 : e.mark.line + 1;
    if (auto hint = flow_syntax_hint(text, e.mark.is_null() ? -1 : e.mark.line)) {
      error(line, *hint);
    } else {
      error(line, "YAML syntax error: " + e.msg);
    }
  } catch (const std::exception& e) {
    error(0, std::string("YAML syntax error: ") + e.what());
  }
  return std::nullopt;
}

bool Reader::each(const YAML::Node& node, int line, const std::string& path,
                  const std::function<void(const std::string&, int, const YAML::Node&)>& f) {
  if (!node.IsDefined() || node.IsNull()) return true;
  if (!node.IsMap()) {
    error(line_of(node, line), (path.empty() ? std::string("the file") : path) +
                                   ": expected a map, got " + describe(node));
    return false;
  }
  std::set<std::string> seen;
  for (const auto& kv : node) {
    int key_line = line_of(kv.first, line);
    if (!kv.first.IsScalar()) {
      error(key_line, (path.empty() ? std::string("the file") : path) +
                          ": keys must be plain names, got " + describe(kv.first));
      continue;
    }
    const std::string& key = kv.first.Scalar();
    std::string full = path.empty() ? key : path + "." + key;
    if (!seen.insert(key).second) {
      error(key_line, full + ": duplicate key");
      continue;
    }
    f(key, key_line, kv.second);
  }
  return true;
}

void Reader::unknown_key(const std::string& path, const std::string& key, int line) {
  std::string where = path.empty() ? key : path + "." + key;
  error(line, where + ": unknown key");
}

std::optional<std::string> Reader::string(const YAML::Node& v, int line, const std::string& path,
                                          bool allow_empty) {
  if (v.IsScalar()) {
    if (!allow_empty && v.Scalar().empty()) {
      error(line_of(v, line), path + ": must not be empty");
      return std::nullopt;
    }
    return v.Scalar();
  }
  if (v.IsMap() && v.size() == 1) {
    auto kv = *v.begin();
    if (kv.first.IsScalar() && kv.second.IsNull()) {
      std::string leaf =
          path.substr(path.rfind('.') == std::string::npos ? 0 : path.rfind('.') + 1);
      error(line_of(v, line), path + ": unquoted {" + kv.first.Scalar() +
                                  "} is YAML flow syntax; quote the value (" + leaf + ": \"{" +
                                  kv.first.Scalar() + "}...\")");
      return std::nullopt;
    }
  }
  error(line_of(v, line), path + ": expected a string, got " + describe(v));
  return std::nullopt;
}

std::optional<bool> Reader::boolean(const YAML::Node& v, int line, const std::string& path) {
  if (v.IsScalar()) {
    std::string s = core::ascii_lower(v.Scalar());
    if (s == "true") return true;
    if (s == "false") return false;
  }
  error(line_of(v, line), path + ": expected true or false, got " + describe(v));
  return std::nullopt;
}

std::optional<uint32_t> Reader::count(const YAML::Node& v, int line, const std::string& path,
                                      bool allow_unlimited, uint32_t min) {
  if (v.IsScalar()) {
    const std::string& s = v.Scalar();
    if (allow_unlimited && core::ascii_lower(s) == "unlimited") return UINT32_MAX;
    if (!s.empty() && s.size() <= 10 &&
        std::all_of(s.begin(), s.end(), [](char c) { return is_digit(c); })) {
      uint64_t n = std::stoull(s);
      if (n <= UINT32_MAX) {
        if (n < min) {
          error(line_of(v, line), path + ": must be at least " + std::to_string(min));
          return std::nullopt;
        }
        return static_cast<uint32_t>(n);
      }
    }
  }
  error(line_of(v, line), path + ": expected a whole number" +
                              std::string(allow_unlimited ? " or unlimited" : "") + ", got " +
                              describe(v));
  return std::nullopt;
}

std::optional<uint64_t> Reader::size(const YAML::Node& v, int line, const std::string& path) {
  if (v.IsScalar()) {
    if (auto n = parse_size(v.Scalar())) return n;
  }
  error(line_of(v, line),
        path + ": expected a size (bytes, 64KiB, 10MB, 2GiB, unlimited), got " + describe(v));
  return std::nullopt;
}

std::optional<Duration> Reader::duration(const YAML::Node& v, int line, const std::string& path) {
  if (v.IsScalar()) {
    if (auto d = parse_duration(v.Scalar())) return d;
  }
  error(line_of(v, line),
        path + ": expected a duration (500ms, 30s, 10m, 2h, 7d), got " + describe(v));
  return std::nullopt;
}

std::optional<std::string> Reader::path(const YAML::Node& v, int line, const std::string& path) {
  auto s = string(v, line, path);
  if (!s) return std::nullopt;
  if (s->find('\0') != std::string::npos) {
    error(line_of(v, line), path + ": contains a NUL byte");
    return std::nullopt;
  }
  return resolve(*s);
}

uint16_t default_public_port(const std::string& service, TlsMode tls) {
  bool implicit = tls == TlsMode::kImplicit;
  if (service == "imap") return implicit ? 993 : 143;
  if (service == "pop3") return implicit ? 995 : 110;
  if (service == "smtp") return implicit ? 465 : 587;
  return 0;
}

PublicSettings read_public(Reader& r, const YAML::Node& node, int line, const std::string& path) {
  PublicSettings out;
  r.each(node, line, path, [&](const std::string& service, int kline, const YAML::Node& v) {
    std::string p = path + "." + service;
    std::optional<PublicEndpoint>* slot = nullptr;
    if (service == "imap") {
      slot = &out.imap;
    } else if (service == "pop3") {
      slot = &out.pop3;
    } else if (service == "smtp") {
      slot = &out.smtp;
    } else {
      r.unknown_key(path, service, kline);
      return;
    }
    if (v.IsNull()) return;  // "imap: null": not offered
    PublicEndpoint ep;
    bool ok = r.each(v, kline, p, [&](const std::string& key, int l, const YAML::Node& val) {
      std::string kp = p + "." + key;
      if (key == "host") {
        if (auto s = r.string(val, l, kp)) {
          if (auto d = normalize_domain(*s)) {
            ep.host = *d;
          } else {
            r.error(Reader::line_of(val, l), kp + ": not a valid host name: \"" + *s + "\"");
          }
        }
      } else if (key == "port") {
        if (auto n = r.count(val, l, kp, false, 1)) {
          if (*n > 65535) {
            r.error(Reader::line_of(val, l), kp + ": must be 1 to 65535");
          } else {
            ep.port = static_cast<uint16_t>(*n);
          }
        }
      } else if (key == "tls") {
        if (auto t = r.choice<TlsMode>(val, l, kp,
                                       {{"none", TlsMode::kNone},
                                        {"starttls", TlsMode::kStartTls},
                                        {"implicit", TlsMode::kImplicit}})) {
          ep.tls = *t;
        }
      } else {
        r.unknown_key(p, key, l);
      }
    });
    if (ok) *slot = ep;
  });
  return out;
}

PolicyOverride read_policy(Reader& r, const YAML::Node& node, int line, const std::string& path) {
  PolicyOverride o;
  r.each(node, line, path, [&](const std::string& key, int kline, const YAML::Node& v) {
    std::string p = path + "." + key;
    if (key == "protocols") {
      if (!v.IsSequence()) {
        r.error(Reader::line_of(v, kline),
                p + ": expected a list like [imap, pop3], got " + describe(v));
        return;
      }
      std::vector<Protocol> list;
      bool ok = true;
      for (const auto& item : v) {
        auto s = r.string(item, kline, p);
        if (!s) {
          ok = false;
          continue;
        }
        auto proto = protocol_from_name(*s);
        if (!proto || (*proto != Protocol::kImap && *proto != Protocol::kPop3)) {
          r.error(Reader::line_of(item, kline), p + ": expected imap or pop3, got \"" + *s + "\"");
          ok = false;
          continue;
        }
        if (std::find(list.begin(), list.end(), *proto) == list.end()) list.push_back(*proto);
      }
      if (ok) o.protocols = list;
    } else if (key == "plaintext_auth") {
      o.plaintext_auth = r.choice<PlaintextAuth>(
          v, kline, p,
          {{"tls_only", PlaintextAuth::kTlsOnly}, {"allowed", PlaintextAuth::kAllowed}});
    } else if (key == "quota") {
      o.quota = r.size(v, kline, p);
    } else if (key == "quota_messages") {
      if (v.IsScalar() && core::ascii_lower(v.Scalar()) == "unlimited") {
        o.quota_messages = kUnlimited;
      } else if (auto n = r.count(v, kline, p, true)) {
        o.quota_messages = *n;
      }
    } else if (key == "quota_exceeded") {
      o.quota_exceeded = r.choice<QuotaExceeded>(
          v, kline, p, {{"reject", QuotaExceeded::kReject}, {"defer", QuotaExceeded::kDefer}});
    } else if (key == "quota_warning") {
      r.each(v, kline, p, [&](const std::string& k2, int l2, const YAML::Node& v2) {
        std::string p2 = p + "." + k2;
        if (k2 == "at") {
          std::string s = v2.IsScalar() ? trim(v2.Scalar()) : "";
          if (!s.empty() && s.back() == '%') s = trim(s.substr(0, s.size() - 1));
          bool digits = !s.empty() && s.size() <= 3 &&
                        std::all_of(s.begin(), s.end(), [](char c) { return is_digit(c); });
          int n = digits ? std::stoi(s) : -1;
          if (n < 1 || n > 100) {
            r.error(Reader::line_of(v2, l2),
                    p2 + ": expected a percentage from 1% to 100%, got " + describe(v2));
          } else {
            o.quota_warning_at = static_cast<uint32_t>(n);
          }
        } else if (k2 == "message") {
          if (v2.IsNull()) {
            o.quota_warning_message = std::optional<std::string>();
          } else if (auto f = r.path(v2, l2, p2)) {
            o.quota_warning_message = std::optional<std::string>(*f);
          }
        } else {
          r.unknown_key(p, k2, l2);
        }
      });
    } else if (key == "pop3") {
      r.each(v, kline, p, [&](const std::string& k2, int l2, const YAML::Node& v2) {
        std::string p2 = p + "." + k2;
        if (k2 == "on_delete") {
          o.pop3_on_delete = r.choice<OnDelete>(v2, l2, p2,
                                                {{"expunge", OnDelete::kExpunge},
                                                 {"hide", OnDelete::kHide},
                                                 {"archive", OnDelete::kArchive}});
        } else if (k2 == "mark_seen") {
          o.pop3_mark_seen = r.boolean(v2, l2, p2);
        } else {
          r.unknown_key(p, k2, l2);
        }
      });
    } else if (key == "delivery") {
      r.each(v, kline, p, [&](const std::string& k2, int l2, const YAML::Node& v2) {
        std::string p2 = p + "." + k2;
        if (k2 == "detail") {
          o.detail = r.choice<DetailDelivery>(
              v2, l2, p2, {{"folder", DetailDelivery::kFolder}, {"inbox", DetailDelivery::kInbox}});
        } else {
          r.unknown_key(p, k2, l2);
        }
      });
    } else if (key == "special_use") {
      r.each(v, kline, p, [&](const std::string& k2, int l2, const YAML::Node& v2) {
        std::string p2 = p + "." + k2;
        std::optional<std::string>* slot = nullptr;
        if (k2 == "drafts") {
          slot = &o.special_drafts;
        } else if (k2 == "sent") {
          slot = &o.special_sent;
        } else if (k2 == "trash") {
          slot = &o.special_trash;
        } else if (k2 == "junk") {
          slot = &o.special_junk;
        } else if (k2 == "archive") {
          slot = &o.special_archive;
        } else {
          r.unknown_key(p, k2, l2);
          return;
        }
        auto s = r.string(v2, l2, p2);
        if (!s) return;
        if (core::ascii_lower(*s) == "inbox" || s->front() == '/' || s->back() == '/' ||
            s->find("//") != std::string::npos || std::any_of(s->begin(), s->end(), [](char c) {
              return static_cast<unsigned char>(c) < 0x20 || c == '*' || c == '%' || c == 0x7f;
            })) {
          r.error(Reader::line_of(v2, l2), p2 + ": not usable as a mailbox name: \"" + *s + "\"");
          return;
        }
        *slot = *s;
      });
    } else {
      r.unknown_key(path, key, kline);
    }
  });
  return o;
}

}  // namespace detail

// ---------------------------------------------------------------------------
// roost.yaml

namespace {

using detail::describe;
using detail::Reader;

std::optional<std::string> read_file(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = std::strerror(errno);
    return std::nullopt;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    *error = "read error";
    return std::nullopt;
  }
  return ss.str();
}

std::optional<std::string> host_name(Reader& r, const YAML::Node& v, int line,
                                     const std::string& path, bool allow_wildcard) {
  auto s = r.string(v, line, path);
  if (!s) return std::nullopt;
  std::string name = *s;
  std::string prefix;
  if (allow_wildcard && name.rfind("*.", 0) == 0) {
    prefix = "*.";
    name = name.substr(2);
  }
  auto d = normalize_domain(name);
  if (!d) {
    r.error(Reader::line_of(v, line), path + ": not a valid host name: \"" + *s + "\"");
    return std::nullopt;
  }
  return prefix + *d;
}

std::optional<CertPair> read_cert_pair(Reader& r, const YAML::Node& node, int line,
                                       const std::string& path, bool required) {
  CertPair pair;
  int cert_line = 0, key_line = 0;
  bool ok = r.each(node, line, path, [&](const std::string& key, int l, const YAML::Node& v) {
    std::string p = path.empty() ? key : path + "." + key;
    if (key == "certificate") {
      cert_line = l;
      if (auto f = r.path(v, l, p)) pair.certificate = *f;
    } else if (key == "private_key") {
      key_line = l;
      if (auto f = r.path(v, l, p)) pair.private_key = *f;
    } else if (path == "tls" && (key == "min_version" || key == "sni")) {
      // read by the caller
    } else {
      r.unknown_key(path, key, l);
    }
  });
  if (!ok) return std::nullopt;
  if (required || cert_line || key_line) {
    if (!cert_line) r.error(key_line ? key_line : line, path + ": certificate is missing");
    if (!key_line) r.error(cert_line ? cert_line : line, path + ": private_key is missing");
  }
  return pair;
}

void read_server(Reader& r, const YAML::Node& node, int line, ServerSettings& s) {
  r.each(node, line, "server", [&](const std::string& key, int l, const YAML::Node& v) {
    std::string p = "server." + key;
    if (key == "hostname") {
      if (auto h = host_name(r, v, l, p, false)) s.hostname = *h;
    } else if (key == "state_dir") {
      if (auto f = r.path(v, l, p)) s.state_dir = *f;
    } else if (key == "user") {
      if (v.IsNull()) {
        s.user.reset();
      } else if (auto u = r.string(v, l, p)) {
        s.user = *u;
      }
    } else if (key == "shutdown_grace") {
      if (auto d = r.duration(v, l, p)) s.shutdown_grace = *d;
    } else if (key == "workers") {
      if (auto n = r.count(v, l, p, false)) {
        if (*n > 1024) {
          r.error(Reader::line_of(v, l), p + ": at most 1024");
        } else {
          s.workers = *n;
        }
      }
    } else {
      r.unknown_key("server", key, l);
    }
  });
}

void read_log(Reader& r, const YAML::Node& node, int line, LogSettings& s) {
  r.each(node, line, "log", [&](const std::string& key, int l, const YAML::Node& v) {
    std::string p = "log." + key;
    if (key == "format") {
      if (auto j = r.choice<bool>(v, l, p, {{"json", true}, {"text", false}})) s.json = *j;
    } else if (key == "level") {
      if (auto lv = r.choice<std::string>(
              v, l, p,
              {{"debug", "debug"}, {"info", "info"}, {"warning", "warning"}, {"error", "error"}})) {
        s.level = *lv;
      }
    } else {
      r.unknown_key("log", key, l);
    }
  });
}

void read_tls(Reader& r, const YAML::Node& node, int line, TlsSettings& s) {
  if (auto pair = read_cert_pair(r, node, line, "tls", false)) s.default_pair = *pair;
  if (!node.IsMap()) return;
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) continue;
    const std::string& key = kv.first.Scalar();
    int l = Reader::line_of(kv.first, line);
    const YAML::Node& v = kv.second;
    if (key == "min_version") {
      if (auto mv =
              r.choice<std::string>(v, l, "tls.min_version", {{"1.2", "1.2"}, {"1.3", "1.3"}})) {
        s.min_version = *mv;
      }
    } else if (key == "sni") {
      r.each(v, l, "tls.sni", [&](const std::string& host, int hl, const YAML::Node& hv) {
        std::string p = "tls.sni." + host;
        auto name = host_name(r, YAML::Node(host), hl, p, true);
        auto pair = read_cert_pair(r, hv, hl, p, true);
        if (!name || !pair) return;
        if (s.sni.count(*name)) {
          r.error(hl, p + ": host name listed twice");
          return;
        }
        s.sni[*name] = *pair;
      });
    }
  }
}

std::optional<unsigned> parse_mode(const YAML::Node& v) {
  if (!v.IsScalar()) return std::nullopt;
  std::string s = v.Scalar();
  if (s.rfind("0o", 0) == 0) s = s.substr(2);
  if (s.empty() || s.size() > 4) return std::nullopt;
  unsigned mode = 0;
  for (char c : s) {
    if (c < '0' || c > '7') return std::nullopt;
    mode = mode * 8 + static_cast<unsigned>(c - '0');
  }
  if (mode > 0777) return std::nullopt;
  return mode;
}

void read_listeners(Reader& r, const YAML::Node& node, int line, Config& config) {
  if (node.IsNull()) return;
  if (!node.IsSequence()) {
    r.error(Reader::line_of(node, line), "listeners: expected a list, got " + describe(node));
    return;
  }
  std::map<std::pair<std::string, uint16_t>, int> tcp_seen;  // (address, port) -> line
  std::map<std::string, int> unix_seen;
  size_t index = 0;
  for (const auto& item : node) {
    std::string p = "listeners[" + std::to_string(index++) + "]";
    int l0 = Reader::line_of(item, line);
    Listener ln;
    ln.where = {r.file(), l0, p};
    bool has_protocol = false, has_address = false, has_port = false, has_path = false;
    bool has_mode = false, has_group = false, has_token = false, has_tls = false;
    bool has_proxy = false;
    bool bad = false;
    std::set<std::string> present;
    int tls_line = l0, path_line = l0, token_line = l0, mode_line = l0, proxy_line = l0;
    if (!item.IsMap()) {
      r.error(l0, p +
                      ": expected a map like { protocol: imap, address: 127.0.0.1, port: 143 }, "
                      "got " +
                      describe(item));
      continue;
    }
    r.each(item, l0, p, [&](const std::string& key, int l, const YAML::Node& v) {
      std::string kp = p + "." + key;
      present.insert(key);
      if (key == "protocol") {
        auto s = r.string(v, l, kp);
        if (!s) {
          bad = true;
          return;
        }
        auto proto = detail::protocol_from_name(*s);
        if (!proto) {
          r.error(Reader::line_of(v, l), kp +
                                             ": expected imap | pop3 | lmtp | quota_status | "
                                             "admin | autoconfig, got \"" +
                                             *s + "\"");
          bad = true;
          return;
        }
        ln.protocol = *proto;
        has_protocol = true;
      } else if (key == "address") {
        auto s = r.string(v, l, kp);
        if (!s) {
          bad = true;
          return;
        }
        uint8_t addr[16];
        uint8_t fam = 0;
        if (!parse_ip(*s, addr, &fam)) {
          r.error(Reader::line_of(v, l),
                  kp + ": must be an IP address (127.0.0.1, ::1, 0.0.0.0, ::), got \"" + *s + "\"");
          bad = true;
          return;
        }
        char buf[INET6_ADDRSTRLEN] = {};
        inet_ntop(fam == 4 ? AF_INET : AF_INET6, addr, buf, sizeof buf);
        ln.address = buf;
        has_address = true;
      } else if (key == "port") {
        auto n = r.count(v, l, kp, false, 1);
        if (n && *n > 65535) {
          r.error(Reader::line_of(v, l), kp + ": must be 1 to 65535");
          n.reset();
        }
        if (!n) {
          bad = true;
          return;
        }
        ln.port = static_cast<uint16_t>(*n);
        has_port = true;
      } else if (key == "path") {
        path_line = l;
        auto f = r.path(v, l, kp);
        if (!f) {
          bad = true;
          return;
        }
        ln.path = *f;
        has_path = true;
      } else if (key == "mode") {
        mode_line = l;
        auto m = parse_mode(v);
        if (!m) {
          r.error(Reader::line_of(v, l),
                  kp + ": expected octal permissions like \"0660\", got " + describe(v));
          bad = true;
          return;
        }
        ln.mode = *m;
        has_mode = true;
      } else if (key == "group") {
        auto s = r.string(v, l, kp);
        if (!s) {
          bad = true;
          return;
        }
        ln.group = *s;
        has_group = true;
      } else if (key == "tls") {
        tls_line = l;
        auto t = r.choice<TlsMode>(v, l, kp,
                                   {{"none", TlsMode::kNone},
                                    {"starttls", TlsMode::kStartTls},
                                    {"implicit", TlsMode::kImplicit}});
        if (!t) {
          bad = true;
          return;
        }
        ln.tls = *t;
        has_tls = true;
      } else if (key == "proxy_protocol") {
        proxy_line = l;
        auto b = r.boolean(v, l, kp);
        if (!b) {
          bad = true;
          return;
        }
        ln.proxy_protocol = *b;
        has_proxy = true;
      } else if (key == "token_file") {
        token_line = l;
        auto f = r.path(v, l, kp);
        if (!f) {
          bad = true;
          return;
        }
        ln.token_file = *f;
        has_token = true;
      } else {
        r.unknown_key(p, key, l);
        bad = true;
      }
    });
    if (!has_protocol) {
      if (!present.count("protocol")) r.error(l0, p + ": protocol is missing");
      continue;
    }
    std::string name = std::string(to_string(ln.protocol)) + " listener";
    ln.where.message = name;
    if (present.count("path")) {
      ln.where.message += " " + ln.path;
      if (ln.protocol != Protocol::kLmtp && ln.protocol != Protocol::kAdmin) {
        r.error(path_line, p + ": path (a unix socket) is only for lmtp and admin listeners");
        bad = true;
      }
      if (has_address || has_port) {
        r.error(path_line, p + ": give either path or address and port, not both");
        bad = true;
      }
      if (has_tls && ln.tls != TlsMode::kNone) {
        r.error(tls_line, p + ": a unix socket listener cannot use TLS");
        bad = true;
      }
      if (has_proxy && ln.proxy_protocol) {
        r.error(proxy_line, p + ": proxy_protocol is only for TCP listeners");
        bad = true;
      }
      auto [it, fresh] = unix_seen.emplace(ln.path, l0);
      if (has_path && !fresh) {
        r.error(l0, p + ": socket " + ln.path + " is already used by the listener on line " +
                        std::to_string(it->second));
        bad = true;
      }
    } else {
      if (!has_address) {
        if (!present.count("address")) {
          r.error(l0, p + ": address is missing (or path, for an lmtp unix socket)");
        }
        bad = true;
      }
      if (!has_port) {
        if (!present.count("port")) r.error(l0, p + ": port is missing");
        bad = true;
      }
      if (has_mode || has_group) {
        r.error(mode_line, p + ": mode and group are only for unix socket listeners (path)");
        bad = true;
      }
      if (has_address && has_port) {
        std::string shown =
            (ln.address.find(':') != std::string::npos ? "[" + ln.address + "]" : ln.address) +
            ":" + std::to_string(ln.port);
        ln.where.message += " " + shown;
        auto [it, fresh] = tcp_seen.emplace(std::make_pair(ln.address, ln.port), l0);
        if (!fresh) {
          r.error(l0, p + ": " + shown + " is already used by the listener on line " +
                          std::to_string(it->second));
          bad = true;
        } else {
          // A wildcard address and a specific one of the same family and port clash at bind().
          bool v6 = ln.address.find(':') != std::string::npos;
          for (const auto& [key, other_line] : tcp_seen) {
            if (key.second != ln.port || key.first == ln.address) continue;
            bool other_v6 = key.first.find(':') != std::string::npos;
            if (v6 != other_v6) continue;
            bool wildcard = ln.address == "0.0.0.0" || ln.address == "::" ||
                            key.first == "0.0.0.0" || key.first == "::";
            if (wildcard) {
              r.error(l0, p + ": " + shown + " overlaps the listener on line " +
                              std::to_string(other_line) + " (same port, wildcard address)");
              bad = true;
              break;
            }
          }
        }
      }
    }
    if (ln.tls == TlsMode::kStartTls && ln.protocol != Protocol::kImap &&
        ln.protocol != Protocol::kPop3) {
      r.error(tls_line, p + ": tls: starttls is only for imap and pop3 listeners");
      bad = true;
    }
    if (ln.tls == TlsMode::kImplicit && ln.protocol == Protocol::kQuotaStatus) {
      r.error(tls_line, p + ": a quota_status listener speaks plain text (tls: none)");
      bad = true;
    }
    if (has_token && ln.protocol != Protocol::kAdmin) {
      r.error(token_line, p + ": token_file is only for admin listeners");
      bad = true;
    }
    if (!has_token && ln.protocol == Protocol::kAdmin) {
      r.error(l0, p + ": an admin listener needs token_file");
      bad = true;
    }
    if (!bad) config.listeners.push_back(ln);
  }
}

void read_limits(Reader& r, const YAML::Node& node, int line, Limits& s) {
  int delay_line = 0, delay_max_line = 0;
  r.each(node, line, "limits", [&](const std::string& key, int l, const YAML::Node& v) {
    std::string p = "limits." + key;
    auto count = [&](uint32_t& out, bool unlimited, uint32_t min) {
      if (auto n = r.count(v, l, p, unlimited, min)) out = *n;
    };
    auto size = [&](uint64_t& out, uint64_t min) {
      if (auto n = r.size(v, l, p)) {
        if (*n < min) {
          r.error(Reader::line_of(v, l), p + ": must be at least " + std::to_string(min));
        } else {
          out = *n;
        }
      }
    };
    auto dur = [&](Duration& out) {
      if (auto d = r.duration(v, l, p)) out = *d;
    };
    if (key == "connections_per_user_ip") {
      count(s.connections_per_user_ip, true, 1);
    } else if (key == "connections_per_ip") {
      count(s.connections_per_ip, true, 1);
    } else if (key == "line_length") {
      size(s.line_length, 1024);
    } else if (key == "line_length_preauth") {
      size(s.line_length_preauth, 512);
    } else if (key == "literal_size") {
      size(s.literal_size, 1);
    } else if (key == "auth_failure_delay") {
      delay_line = l;
      dur(s.auth_failure_delay);
    } else if (key == "auth_failure_delay_max") {
      delay_max_line = l;
      dur(s.auth_failure_delay_max);
    } else if (key == "idle_timeout") {
      r.each(v, l, p, [&](const std::string& k2, int l2, const YAML::Node& v2) {
        std::string p2 = p + "." + k2;
        Duration* slot = nullptr;
        if (k2 == "imap") {
          slot = &s.idle_timeout.imap;
        } else if (k2 == "pop3") {
          slot = &s.idle_timeout.pop3;
        } else if (k2 == "lmtp") {
          slot = &s.idle_timeout.lmtp;
        } else if (k2 == "preauth") {
          slot = &s.idle_timeout.preauth;
        } else if (k2 == "quota_status") {
          slot = &s.idle_timeout.quota_status;
        } else if (k2 == "http") {
          slot = &s.idle_timeout.http;
        } else {
          r.unknown_key(p, k2, l2);
          return;
        }
        if (auto d = r.duration(v2, l2, p2)) {
          if (d->count() <= 0) {
            r.error(Reader::line_of(v2, l2), p2 + ": must be more than 0");
          } else {
            *slot = *d;
          }
        }
      });
    } else if (key == "auth_failures_per_ip") {
      count(s.auth_failures_per_ip, true, 1);
    } else if (key == "bad_commands") {
      count(s.bad_commands, true, 1);
    } else if (key == "auth_workers") {
      count(s.auth_workers, false, 1);
    } else if (key == "store_workers") {
      count(s.store_workers, false, 1);
    } else if (key == "auth_queue") {
      count(s.auth_queue, false, 1);
    } else if (key == "auth_cache_ttl") {
      dur(s.auth_cache_ttl);
    } else if (key == "output_buffer") {
      size(s.output_buffer, 4096);
    } else if (key == "proxy_header_max") {
      size(s.proxy_header_max, 256);
    } else if (key == "idle_keepalive") {
      dur(s.idle_keepalive);
    } else if (key == "idle_poll") {
      dur(s.idle_poll);
    } else if (key == "quota_status_line") {
      size(s.quota_status_line, 64);
    } else if (key == "quota_status_request") {
      size(s.quota_status_request, 64);
    } else if (key == "http_header_size") {
      size(s.http_header_size, 1024);
    } else if (key == "http_body_size") {
      size(s.http_body_size, 1024);
    } else if (key == "expunge_memory") {
      dur(s.expunge_memory);
    } else if (key == "mailbox_cache") {
      count(s.mailbox_cache, false, 0);
    } else if (key == "lmtp_recipients") {
      count(s.lmtp_recipients, false, 1);
    } else if (key == "search_contexts") {
      count(s.search_contexts, false, 0);
    } else if (key == "notify_watch_mailboxes") {
      count(s.notify_watch_mailboxes, false, 0);
    } else if (key == "notify_backlog") {
      dur(s.notify_backlog);
    } else if (key == "literal_minus") {
      if (auto b = r.boolean(v, l, p)) s.literal_minus = *b;
    } else {
      r.unknown_key("limits", key, l);
    }
  });
  if (s.auth_failure_delay_max < s.auth_failure_delay) {
    r.error(delay_max_line ? delay_max_line : (delay_line ? delay_line : line),
            "limits.auth_failure_delay_max: must not be less than auth_failure_delay");
  }
  if (s.line_length_preauth > s.line_length) {
    r.error(line, "limits.line_length_preauth: must not be more than line_length");
  }
}

void read_trusted(Reader& r, const YAML::Node& node, int line, std::vector<CidrRange>& out) {
  if (node.IsNull()) return;
  if (!node.IsSequence()) {
    r.error(Reader::line_of(node, line),
            "trusted_networks: expected a list like [10.0.0.5/32], got " + describe(node));
    return;
  }
  for (const auto& item : node) {
    int l = Reader::line_of(item, line);
    auto s = r.string(item, line, "trusted_networks");
    if (!s) continue;
    CidrRange range;
    range.text = *s;
    std::string ip = *s;
    int bits = -1;
    size_t slash = s->find('/');
    bool ok = true;
    if (slash != std::string::npos) {
      ip = s->substr(0, slash);
      std::string b = s->substr(slash + 1);
      if (b.empty() || b.size() > 3 ||
          !std::all_of(b.begin(), b.end(), [](char c) { return is_digit(c); })) {
        ok = false;
      } else {
        bits = std::stoi(b);
      }
    }
    if (ok) ok = parse_ip(ip, range.addr, &range.family);
    int max_bits = range.family == 4 ? 32 : 128;
    if (ok && bits < 0) bits = max_bits;
    if (!ok || bits > max_bits) {
      r.error(l, "trusted_networks: expected an address or CIDR range like 10.0.0.0/8, got \"" +
                     *s + "\"");
      continue;
    }
    range.bits = static_cast<uint8_t>(bits);
    // Clear host bits so contains() compares prefixes only.
    uint8_t masked[16] = {};
    for (int i = 0; i < 16; ++i) {
      int keep = std::clamp(bits - 8 * i, 0, 8);
      masked[i] = static_cast<uint8_t>(range.addr[i] & (keep == 0 ? 0 : 0xff << (8 - keep)));
    }
    if (std::memcmp(masked, range.addr, 16) != 0) {
      r.warning(l, "trusted_networks: " + *s + " has host bits set; it means the whole /" +
                       std::to_string(bits) + " network");
      std::memcpy(range.addr, masked, 16);
    }
    out.push_back(range);
  }
}

void read_store(Reader& r, const YAML::Node& node, int line, StoreSettings& s) {
  int path_line = line;
  bool has_path = false;
  r.each(node, line, "store", [&](const std::string& key, int l, const YAML::Node& v) {
    std::string p = "store." + key;
    if (key == "backend") {
      if (auto b = r.choice<std::string>(v, l, p, {{"maildir", "maildir"}, {"memory", "memory"}})) {
        s.backend = *b;
      }
    } else if (key == "path") {
      path_line = l;
      if (auto f = r.path(v, l, p)) {
        s.path = *f;
        has_path = true;
      }
    } else if (key == "fsync") {
      if (auto b = r.boolean(v, l, p)) s.fsync = *b;
    } else if (key == "exclusive") {
      if (auto b = r.boolean(v, l, p)) s.exclusive = *b;
    } else {
      r.unknown_key("store", key, l);
    }
  });
  if (has_path && s.backend == "maildir" && s.path.find("{user}") == std::string::npos) {
    r.error(path_line,
            "store.path: must contain {user} (and usually {domain}), or every "
            "account would share one mailbox");
  }
}

Config read_config(Reader& r, const YAML::Node& root) {
  Config c;
  c.file = r.file();
  c.domains_dir = r.resolve("domains.d");
  YAML::Node public_node;
  int public_line = 0;
  r.each(root, 1, "", [&](const std::string& key, int l, const YAML::Node& v) {
    if (key == "server") {
      read_server(r, v, l, c.server);
    } else if (key == "log") {
      read_log(r, v, l, c.log);
    } else if (key == "tls") {
      read_tls(r, v, l, c.tls);
    } else if (key == "listeners") {
      read_listeners(r, v, l, c);
    } else if (key == "public") {
      public_node = v;
      public_line = l;
    } else if (key == "store") {
      read_store(r, v, l, c.store);
    } else if (key == "limits") {
      read_limits(r, v, l, c.limits);
    } else if (key == "trusted_networks") {
      read_trusted(r, v, l, c.trusted_networks);
    } else if (key == "policy") {
      detail::read_policy(r, v, l, "policy").apply(c.policy);
    } else if (key == "domains_dir") {
      if (auto f = r.path(v, l, key)) c.domains_dir = *f;
    } else {
      r.unknown_key("", key, l);
    }
  });
  if (public_line) {
    c.public_settings = detail::read_public(r, public_node, public_line, "public");
  }
  for (auto* ep : {&c.public_settings.imap, &c.public_settings.pop3, &c.public_settings.smtp}) {
    if (!*ep) continue;
    std::string service = ep == &c.public_settings.imap   ? "imap"
                          : ep == &c.public_settings.pop3 ? "pop3"
                                                          : "smtp";
    if ((*ep)->host.empty()) (*ep)->host = c.server.hostname;
    if ((*ep)->port == 0) (*ep)->port = detail::default_public_port(service, (*ep)->tls);
  }
  if (c.tls.default_pair.certificate.empty()) {
    for (const auto& ln : c.listeners) {
      if (ln.tls != TlsMode::kNone) {
        r.error(ln.where.line, ln.where.message + ": tls: " +
                                   (ln.tls == TlsMode::kImplicit ? "implicit" : "starttls") +
                                   " needs tls.certificate and tls.private_key");
      }
    }
  }
  return c;
}

}  // namespace

LoadResult load_config_text(const std::string& text, const std::string& file) {
  LoadResult result;
  Reader r(file, &result.errors, &result.warnings);
  try {
    auto root = r.parse(text);
    if (!root) return result;
    if (!root->IsDefined() || root->IsNull()) {
      // An empty file: every default. Allowed, though rarely useful.
      Config c;
      c.file = r.file();
      c.domains_dir = r.resolve("domains.d");
      result.config = c;
      return result;
    }
    Config c = read_config(r, *root);
    if (!r.failed()) result.config = std::move(c);
  } catch (const std::exception& e) {
    r.error(0, std::string("cannot read the configuration: ") + e.what());
    result.config.reset();
  }
  return result;
}

LoadResult load_config(const std::string& path) {
  std::string err;
  auto text = read_file(path, &err);
  if (!text) {
    LoadResult result;
    Reader r(path, &result.errors, &result.warnings);
    r.error(0, "cannot read the configuration file: " + err);
    return result;
  }
  return load_config_text(*text, path);
}

std::vector<std::string> list_domain_files(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return out;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    std::string name = it->path().filename().string();
    if (name.empty() || name.front() == '.') continue;
    if (name.size() <= 5 || name.compare(name.size() - 5, 5, ".yaml") != 0) continue;
    std::error_code ec2;
    if (!it->is_regular_file(ec2)) continue;  // follows symlinks
    out.push_back(fs::absolute(it->path(), ec2).lexically_normal().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace core::config
