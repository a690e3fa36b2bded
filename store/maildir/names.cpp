#include "store/maildir/names.h"

#include <algorithm>
#include <cstring>

#include "store/store.h"
#include "store/store_util.h"

namespace store::maildir {

namespace {

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == ',') return 63;
  return -1;
}

// Decodes one UTF-8 code point at s[i]; advances i. -1 on invalid input.
int32_t next_code_point(std::string_view s, size_t& i) {
  auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  int len;
  int32_t cp;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    cp = b0 & 0x07;
  } else {
    return -1;
  }
  if (i + len > s.size()) return -1;
  for (int k = 1; k < len; ++k) {
    auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (b & 0x3F);
  }
  static constexpr int32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
  i += len;
  return cp;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

void flush_run(std::string& out, std::vector<uint16_t>& units) {
  if (units.empty()) return;
  out += '&';
  uint32_t bits = 0;
  int nbits = 0;
  for (uint16_t u : units) {
    for (int shift : {8, 0}) {
      bits = (bits << 8) | ((u >> shift) & 0xFF);
      nbits += 8;
      while (nbits >= 6) {
        nbits -= 6;
        out += kB64[(bits >> nbits) & 0x3F];
      }
    }
  }
  if (nbits > 0) out += kB64[(bits << (6 - nbits)) & 0x3F];
  out += '-';
  units.clear();
}

bool is_direct(int32_t cp) {
  return cp >= 0x20 && cp <= 0x7E && cp != '&' && cp != '.';
}

std::optional<uint64_t> parse_u64(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

bool is_flag_letter(char c) {
  return c == 'D' || c == 'F' || c == 'R' || c == 'S' || c == 'T';
}

}  // namespace

uint64_t fnv1a64(const void* data, size_t n, uint64_t seed) {
  auto* p = static_cast<const unsigned char*>(data);
  uint64_t h = seed;
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

std::optional<std::string> mutf7_encode(std::string_view utf8) {
  std::string out;
  std::vector<uint16_t> units;
  size_t i = 0;
  while (i < utf8.size()) {
    int32_t cp = next_code_point(utf8, i);
    if (cp < 0) return std::nullopt;
    if (is_direct(cp)) {
      flush_run(out, units);
      out += static_cast<char>(cp);
    } else if (cp == '&') {
      flush_run(out, units);
      out += "&-";
    } else if (cp >= 0x10000) {
      uint32_t v = static_cast<uint32_t>(cp) - 0x10000;
      units.push_back(static_cast<uint16_t>(0xD800 | (v >> 10)));
      units.push_back(static_cast<uint16_t>(0xDC00 | (v & 0x3FF)));
    } else {
      units.push_back(static_cast<uint16_t>(cp));
    }
  }
  flush_run(out, units);
  return out;
}

std::optional<std::string> mutf7_decode(std::string_view enc) {
  std::string out;
  size_t i = 0;
  while (i < enc.size()) {
    char c = enc[i];
    if (c != '&') {
      if (c < 0x20 || c > 0x7E) return std::nullopt;
      out += c;
      ++i;
      continue;
    }
    size_t end = enc.find('-', i + 1);
    if (end == std::string_view::npos) return std::nullopt;
    if (end == i + 1) {
      out += '&';
      i = end + 1;
      continue;
    }
    uint32_t bits = 0;
    int nbits = 0;
    std::vector<uint16_t> units;
    for (size_t k = i + 1; k < end; ++k) {
      int v = b64_value(enc[k]);
      if (v < 0) return std::nullopt;
      bits = (bits << 6) | static_cast<uint32_t>(v);
      nbits += 6;
      if (nbits >= 16) {
        nbits -= 16;
        units.push_back(static_cast<uint16_t>((bits >> nbits) & 0xFFFF));
      }
    }
    for (size_t k = 0; k < units.size(); ++k) {
      uint32_t u = units[k];
      if (u >= 0xD800 && u <= 0xDBFF) {
        if (k + 1 >= units.size() || units[k + 1] < 0xDC00 || units[k + 1] > 0xDFFF) {
          return std::nullopt;
        }
        uint32_t cp = 0x10000 + (((u - 0xD800) << 10) | (units[k + 1] - 0xDC00));
        append_utf8(out, cp);
        ++k;
      } else if (u >= 0xDC00 && u <= 0xDFFF) {
        return std::nullopt;
      } else {
        append_utf8(out, u);
      }
    }
    i = end + 1;
  }
  // Only the canonical form is accepted: encoding it again must give the input.
  auto again = mutf7_encode(out);
  if (!again || *again != enc) return std::nullopt;
  return out;
}

std::optional<std::string> folder_for_mailbox(std::string_view name) {
  std::string canon = canonical_mailbox_name(name);
  if (canon == "INBOX") return std::string();
  std::string out;
  std::string_view rest = canon;
  while (true) {
    size_t slash = rest.find('/');
    std::string_view comp = rest.substr(0, slash);
    if (comp.empty()) return std::nullopt;
    auto enc = mutf7_encode(comp);
    if (!enc) return std::nullopt;
    out += '.';
    out += *enc;
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  if (out.size() > kMaxFolderName || out == "." || out == "..") return std::nullopt;
  return out;
}

std::optional<std::string> mailbox_for_folder(std::string_view folder) {
  if (folder.size() < 2 || folder[0] != '.' || folder.size() > kMaxFolderName) {
    return std::nullopt;
  }
  std::string out;
  std::string_view rest = folder.substr(1);
  while (true) {
    size_t dot = rest.find('.');
    std::string_view comp = rest.substr(0, dot);
    if (comp.empty()) return std::nullopt;
    auto dec = mutf7_decode(comp);
    if (!dec || dec->find('/') != std::string::npos) return std::nullopt;
    if (!out.empty()) out += '/';
    out += *dec;
    if (dot == std::string_view::npos) break;
    rest = rest.substr(dot + 1);
  }
  if (!validate_mailbox_name(out)) return std::nullopt;
  // A folder "inbox" or ".Inbox.x" would not round-trip: not ours.
  auto back = folder_for_mailbox(out);
  if (!back || *back != folder) return std::nullopt;
  return out;
}

std::optional<uint64_t> MessageName::raw_size() const {
  for (const auto& f : fields) {
    if (f.size() > 2 && f[0] == 'S' && f[1] == '=') return parse_u64(std::string_view(f).substr(2));
  }
  return std::nullopt;
}

std::optional<uint64_t> MessageName::crlf_size() const {
  for (const auto& f : fields) {
    if (f.size() > 2 && f[0] == 'W' && f[1] == '=') return parse_u64(std::string_view(f).substr(2));
  }
  return std::nullopt;
}

std::optional<uint32_t> MessageName::uid() const {
  for (const auto& f : fields) {
    if (f.size() > 2 && f[0] == 'U' && f[1] == '=') {
      auto v = parse_u64(std::string_view(f).substr(2));
      if (!v || *v == 0 || *v > 0xFFFFFFFFull) return std::nullopt;
      return static_cast<uint32_t>(*v);
    }
  }
  return std::nullopt;
}

bool MessageName::hidden() const {
  return std::find(fields.begin(), fields.end(), "H") != fields.end();
}

void MessageName::set_field(char key, std::optional<std::string> value) {
  auto it = std::find_if(fields.begin(), fields.end(), [key](const std::string& f) {
    return f.size() >= 2 && f[0] == key && f[1] == '=';
  });
  if (!value) {
    if (it != fields.end()) fields.erase(it);
    return;
  }
  std::string f = std::string(1, key) + "=" + *value;
  if (it != fields.end()) {
    *it = std::move(f);
    return;
  }
  // Keep the conventional order S, W, U before anything else we add.
  static constexpr char kOrder[] = {'S', 'W', 'U'};
  auto rank = [](char k) {
    for (size_t i = 0; i < sizeof(kOrder); ++i) {
      if (kOrder[i] == k) return static_cast<int>(i);
    }
    return 99;
  };
  auto pos = fields.begin();
  while (pos != fields.end()) {
    char k = (pos->size() >= 2 && (*pos)[1] == '=') ? (*pos)[0] : 0;
    if (rank(k) > rank(key)) break;
    ++pos;
  }
  fields.insert(pos, std::move(f));
}

void MessageName::set_hidden(bool h) {
  auto it = std::find(fields.begin(), fields.end(), "H");
  if (h && it == fields.end()) fields.push_back("H");
  if (!h && it != fields.end()) fields.erase(it);
}

std::string MessageName::str() const {
  std::string out = base;
  for (const auto& f : fields) {
    out += ',';
    out += f;
  }
  out += ":2,";
  out += info;
  return out;
}

MessageName parse_message_name(std::string_view name) {
  MessageName m;
  std::string_view prefix = name;
  size_t colon = name.find(':');
  if (colon != std::string_view::npos) {
    prefix = name.substr(0, colon);
    std::string_view rest = name.substr(colon + 1);
    if (rest.size() >= 2 && rest[0] == '2' && rest[1] == ',') {
      m.has_info = true;
      m.info = std::string(rest.substr(2));
    }
  }
  size_t comma = prefix.find(',');
  m.base = std::string(prefix.substr(0, comma));
  while (comma != std::string_view::npos) {
    size_t next = prefix.find(',', comma + 1);
    std::string_view f = prefix.substr(
        comma + 1, next == std::string_view::npos ? std::string_view::npos : next - comma - 1);
    if (!f.empty()) m.fields.emplace_back(f);
    comma = next;
  }
  return m;
}

uint32_t flags_from_info(std::string_view info) {
  uint32_t f = 0;
  for (char c : info) {
    switch (c) {
      case 'D':
        f |= kDraft;
        break;
      case 'F':
        f |= kFlagged;
        break;
      case 'R':
        f |= kAnswered;
        break;
      case 'S':
        f |= kSeen;
        break;
      case 'T':
        f |= kDeleted;
        break;
      default:
        break;
    }
  }
  return f;
}

uint32_t keyword_bits_from_info(std::string_view info) {
  uint32_t bits = 0;
  for (char c : info) {
    if (c >= 'a' && c <= 'z') bits |= 1u << (c - 'a');
  }
  return bits;
}

std::string merge_info(std::string_view old_info, uint32_t flags, uint32_t keyword_bits,
                       uint32_t known_keyword_mask) {
  std::string out;
  for (char c : old_info) {
    if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7E) continue;
    if (is_flag_letter(c)) continue;
    if (c >= 'a' && c <= 'z' && (known_keyword_mask & (1u << (c - 'a')))) continue;
    out += c;
  }
  if (flags & kDraft) out += 'D';
  if (flags & kFlagged) out += 'F';
  if (flags & kAnswered) out += 'R';
  if (flags & kSeen) out += 'S';
  if (flags & kDeleted) out += 'T';
  for (int i = 0; i < 26; ++i) {
    if (keyword_bits & known_keyword_mask & (1u << i)) out += static_cast<char>('a' + i);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string uidl_for_base(std::string_view base) {
  bool ok = !base.empty() && base.size() <= 70;
  for (char c : base) {
    if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7E) ok = false;
  }
  if (ok) return std::string(base);
  uint64_t h1 = fnv1a64(base.data(), base.size());
  uint64_t h2 = fnv1a64(base.data(), base.size(), 0x84222325cbf29ce4ull);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "X";
  for (uint64_t h : {h1, h2}) {
    for (int s = 60; s >= 0; s -= 4) out += kHex[(h >> s) & 0xF];
  }
  return out;
}

std::string sanitize_host(std::string_view host) {
  std::string out;
  for (char c : host) {
    if (out.size() >= 32) break;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    out += ok ? c : '_';
  }
  if (out.empty()) out = "localhost";
  return out;
}

}  // namespace store::maildir
