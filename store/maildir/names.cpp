#include "store/maildir/names.h"

#include <algorithm>
#include <cstring>

#include "core/util/utf7.h"
#include "store/store.h"
#include "store/store_util.h"

namespace store::maildir {

namespace {

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

// Printable ASCII that a folder name component spells in base64 rather than
// literally: '.' is the Maildir++ hierarchy separator.
constexpr std::string_view kFolderEncoded = ".";

std::optional<std::string> encode_component(std::string_view utf8) {
  return core::mutf7_encode(utf8, kFolderEncoded);
}

// Decodes leniently (the store's own spelling has "&AC4-" for '.'), then
// accepts only what encode_component would have written: one folder, one name.
std::optional<std::string> decode_component(std::string_view encoded) {
  auto out = core::mutf7_decode(encoded, core::Mutf7Mode::kLenient);
  if (!out) return std::nullopt;
  auto again = encode_component(*out);
  if (!again || *again != encoded) return std::nullopt;
  return out;
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

std::optional<std::string> folder_for_mailbox(std::string_view name) {
  std::string canon = canonical_mailbox_name(name);
  if (canon == "INBOX") return std::string();
  std::string out;
  std::string_view rest = canon;
  while (true) {
    size_t slash = rest.find('/');
    std::string_view comp = rest.substr(0, slash);
    if (comp.empty()) return std::nullopt;
    auto enc = encode_component(comp);
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
    auto dec = decode_component(comp);
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

std::string MessageName::email_id() const {
  for (const auto& f : fields) {
    if (f.size() > 2 && f[0] == 'E' && f[1] == '=') {
      std::string_view v = std::string_view(f).substr(2);
      if (is_valid_object_id(v)) return std::string(v);
    }
  }
  return email_id_for_base(base);
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

bool is_valid_object_id(std::string_view id) {
  if (id.empty() || id.size() > 255) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::string email_id_for_base(std::string_view base) {
  uint64_t h1 = fnv1a64(base.data(), base.size(), 0x9e3779b97f4a7c15ull);
  uint64_t h2 = fnv1a64(base.data(), base.size(), 0xc2b2ae3d27d4eb4full);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "M";
  for (int s = 60; s >= 0; s -= 4) out += kHex[(h1 >> s) & 0xF];
  for (int s = 28; s >= 0; s -= 4) out += kHex[(h2 >> s) & 0xF];
  return out;
}

std::string email_id_for_file(std::string_view file_name) {
  std::string_view prefix = file_name.substr(0, file_name.find(':'));
  size_t comma = prefix.find(',');
  std::string_view base = prefix.substr(0, comma);
  while (comma != std::string_view::npos) {
    size_t next = prefix.find(',', comma + 1);
    std::string_view f = prefix.substr(
        comma + 1, next == std::string_view::npos ? std::string_view::npos : next - comma - 1);
    if (f.size() > 2 && f[0] == 'E' && f[1] == '=' && is_valid_object_id(f.substr(2))) {
      return std::string(f.substr(2));
    }
    comma = next;
  }
  return email_id_for_base(base);
}

std::optional<int64_t> save_date_from_base(std::string_view base) {
  size_t dot = base.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 12) return std::nullopt;
  int64_t v = 0;
  for (size_t i = 0; i < dot; ++i) {
    char c = base[i];
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v == 0) return std::nullopt;
  return v;
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

std::string account_root(std::string_view tmpl, std::string_view domain, std::string_view user) {
  std::string out;
  for (size_t i = 0; i < tmpl.size();) {
    if (tmpl.compare(i, 8, "{domain}") == 0) {
      out += domain;
      i += 8;
    } else if (tmpl.compare(i, 6, "{user}") == 0) {
      out += user;
      i += 6;
    } else {
      out += tmpl[i++];
    }
  }
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

}  // namespace store::maildir
