// IMAP URL parsing for CATENATE / URL-PARTIAL (see url.h).
#include "imap/url/url.h"

#include <utility>
#include <vector>

#include "core/util/ascii.h"
#include "core/util/utf7.h"

namespace imap::url {

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Consumes `prefix` (any case) from the front of `s`.
bool eat(std::string_view& s, std::string_view prefix) {
  if (s.size() < prefix.size() || !core::ascii_iequals(s.substr(0, prefix.size()), prefix))
    return false;
  s.remove_prefix(prefix.size());
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A decimal number of at most 32 bits from the front of `s`.
bool number(std::string_view& s, uint32_t* out) {
  size_t n = 0;
  uint64_t v = 0;
  while (n < s.size() && is_digit(s[n])) {
    v = v * 10 + static_cast<uint64_t>(s[n] - '0');
    if (v > 0xffffffffull) return false;
    ++n;
  }
  if (n == 0) return false;
  *out = static_cast<uint32_t>(v);
  s.remove_prefix(n);
  return true;
}

// Characters an IMAP URL may carry unencoded: RFC 3986 unreserved and
// sub-delims, and ':' '@' '/' (bchar); ';' '?' '#' and the rest must be
// %-encoded inside names and sections.
bool is_bchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c)) return true;
  switch (c) {
    case '-':
    case '.':
    case '_':
    case '~':
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case '=':
    case ':':
    case '@':
    case '/':
    case '%':
      return true;
    default:
      return false;
  }
}

// The leading run of bchars (up to the next ';' or anything not allowed).
std::string_view take_bchars(std::string_view& s) {
  size_t n = 0;
  while (n < s.size() && is_bchar(s[n])) ++n;
  std::string_view out = s.substr(0, n);
  s.remove_prefix(n);
  return out;
}

// Percent-decoded mailbox name as the store spells it (see url.h).
std::optional<std::string> decode_mailbox(std::string_view enc, std::string* why) {
  auto raw = percent_decode(enc);
  if (!raw || raw->empty()) {
    *why = "bad mailbox name encoding";
    return std::nullopt;
  }
  bool ascii = true;
  for (char c : *raw) {
    if (static_cast<unsigned char>(c) >= 0x80) ascii = false;
  }
  if (ascii && raw->find('&') != std::string::npos) {
    if (auto utf8 = core::mutf7_decode(*raw)) return utf8;
  }
  if (!ascii && !core::valid_utf8(*raw)) {
    *why = "mailbox name is not UTF-8";
    return std::nullopt;
  }
  return raw;
}

bool fail(std::string* why, std::string_view msg) {
  *why = std::string(msg);
  return false;
}

// "/mailbox[;UIDVALIDITY=v]/;UID=u[tail]" without the leading '/', or the
// ";UID=u[tail]" form (with_mailbox false).
bool parse_path(std::string_view s, bool with_mailbox, MessageUrl* u, std::string* why) {
  if (with_mailbox) {
    std::string_view enc = take_bchars(s);
    if (eat(s, ";UIDVALIDITY=")) {
      uint32_t v = 0;
      if (!number(s, &v) || v == 0) return fail(why, "bad UIDVALIDITY");
      u->uidvalidity = v;
      if (!eat(s, "/")) return fail(why, "expected /;UID= after UIDVALIDITY");
    } else {
      // The '/' before ";UID=" ends the name.
      if (enc.empty() || enc.back() != '/') return fail(why, "the URL names no message (;UID=)");
      enc.remove_suffix(1);
    }
    if (enc.empty()) return fail(why, "empty mailbox name");
    auto name = decode_mailbox(enc, why);
    if (!name) return false;
    u->mailbox = std::move(*name);
  }
  if (!eat(s, ";UID=")) return fail(why, "the URL names no message (;UID=)");
  if (!number(s, &u->uid) || u->uid == 0) return fail(why, "bad UID");
  if (eat(s, "/;SECTION=")) {
    std::string_view enc = take_bchars(s);
    // A '/' before a following ";PARTIAL=" belongs to that one.
    if (!s.empty() && !enc.empty() && enc.back() == '/') {
      enc.remove_suffix(1);
      s = std::string_view(s.data() - 1, s.size() + 1);
    }
    auto text = percent_decode(enc);
    if (!text || text->empty()) return fail(why, "bad SECTION");
    auto spec = parse_section(*text);
    if (!spec) return fail(why, "bad SECTION");
    u->section = std::move(*text);
    u->spec = std::move(*spec);
  }
  if (eat(s, "/;PARTIAL=")) {
    Partial p;
    if (!number(s, &p.offset)) return fail(why, "bad PARTIAL offset");
    if (eat(s, ".")) {
      uint32_t len = 0;
      if (!number(s, &len) || len == 0) return fail(why, "bad PARTIAL length");
      p.length = len;
    }
    u->partial = p;
  }
  if (s.empty()) return true;
  if (eat(s, ";EXPIRE=") || eat(s, ";URLAUTH=")) {
    return fail(why, "URLAUTH-authorised URLs are not supported");
  }
  return fail(why, "unexpected characters in the URL");
}

// "user[;AUTH=x]@host[:port]" up to the first '/'.
bool parse_server(std::string_view s, MessageUrl* u, std::string* why) {
  size_t at = s.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view info = s.substr(0, at);
    s.remove_prefix(at + 1);
    std::string_view user = info;
    size_t semi = info.find(';');
    if (semi != std::string_view::npos) {
      user = info.substr(0, semi);
      std::string_view auth = info.substr(semi);
      if (!eat(auth, ";AUTH=") || auth.empty()) return fail(why, "bad user information");
    }
    auto decoded = percent_decode(user);
    if (!decoded) return fail(why, "bad user name encoding");
    u->user = std::move(*decoded);
  }
  std::string_view host = s;
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos) return fail(why, "bad host");
    host = s.substr(0, close + 1);
    s.remove_prefix(close + 1);
  } else {
    size_t colon = s.find(':');
    host = s.substr(0, colon);
    s.remove_prefix(colon == std::string_view::npos ? s.size() : colon);
  }
  if (host.empty()) return fail(why, "no host");
  for (char c : host) {
    if (!is_bchar(c) && c != '[' && c != ']') return fail(why, "bad host");
  }
  auto h = percent_decode(host);
  if (!h) return fail(why, "bad host");
  for (char& c : *h) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  u->host = std::move(*h);
  if (!s.empty()) {
    s.remove_prefix(1);          // ':'
    if (s.empty()) return true;  // "host:" means the default port
    uint32_t port = 0;
    if (!number(s, &port) || port > 65535 || !s.empty()) return fail(why, "bad port");
    u->port = static_cast<uint16_t>(port);
  }
  return true;
}

// One astring of a HEADER.FIELDS list: an atom or a quoted string.
bool field_name(std::string_view& s, std::string* out) {
  out->clear();
  if (!s.empty() && s.front() == '"') {
    s.remove_prefix(1);
    while (!s.empty() && s.front() != '"') {
      char c = s.front();
      s.remove_prefix(1);
      if (c == '\\') {
        if (s.empty() || (s.front() != '"' && s.front() != '\\')) return false;
        c = s.front();
        s.remove_prefix(1);
      }
      if (c == '\r' || c == '\n' || c == '\0') return false;
      out->push_back(c);
    }
    if (s.empty()) return false;
    s.remove_prefix(1);
    return true;
  }
  while (!s.empty()) {
    unsigned char c = static_cast<unsigned char>(s.front());
    if (c <= 0x20 || c >= 0x7f || c == '(' || c == ')' || c == '{' || c == '"' || c == '\\' ||
        c == '%' || c == '*')
      break;
    out->push_back(s.front());
    s.remove_prefix(1);
  }
  return !out->empty();
}

// HEADER / HEADER.FIELDS[.NOT] (list) / TEXT, and MIME when `mime_ok`.
bool section_text(std::string_view& s, bool mime_ok, mime::SectionSpec* spec) {
  if (eat(s, "HEADER.FIELDS")) {
    spec->text = mime::SectionText::kHeaderFields;
    if (eat(s, ".NOT")) spec->text = mime::SectionText::kHeaderFieldsNot;
    if (!eat(s, " (")) return false;
    while (true) {
      std::string name;
      if (!field_name(s, &name)) return false;
      spec->fields.push_back(std::move(name));
      if (eat(s, ")")) return true;
      if (!eat(s, " ")) return false;
    }
  }
  if (eat(s, "HEADER")) {
    spec->text = mime::SectionText::kHeader;
    return true;
  }
  if (eat(s, "TEXT")) {
    spec->text = mime::SectionText::kText;
    return true;
  }
  if (mime_ok && eat(s, "MIME")) {
    spec->text = mime::SectionText::kMime;
    return true;
  }
  return false;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = hex_value(s[i + 1]);
    int lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::optional<mime::SectionSpec> parse_section(std::string_view s) {
  mime::SectionSpec spec;
  if (!s.empty() && is_digit(s.front())) {
    while (true) {
      uint32_t n = 0;
      if (!number(s, &n) || n == 0) return std::nullopt;
      spec.parts.push_back(n);
      if (s.empty()) return spec;
      if (!eat(s, ".")) return std::nullopt;
      if (!s.empty() && is_digit(s.front())) continue;
      if (!section_text(s, true, &spec)) return std::nullopt;
      break;
    }
  } else if (!section_text(s, false, &spec)) {
    return std::nullopt;
  }
  if (!s.empty()) return std::nullopt;
  return spec;
}

std::optional<MessageUrl> parse_message_url(std::string_view s, std::string* why) {
  MessageUrl u;
  std::string scratch;
  if (!why) why = &scratch;
  for (char c : s) {
    unsigned char b = static_cast<unsigned char>(c);
    if (b <= 0x20 || b >= 0x7f) {
      *why = "URLs may only hold printable US-ASCII; encode the rest with %XX";
      return std::nullopt;
    }
  }
  if (eat(s, "imap://")) {
    u.absolute = true;
    size_t slash = s.find('/');
    if (slash == std::string_view::npos) {
      *why = "the URL names no message";
      return std::nullopt;
    }
    if (!parse_server(s.substr(0, slash), &u, why)) return std::nullopt;
    s.remove_prefix(slash + 1);
    if (!parse_path(s, true, &u, why)) return std::nullopt;
    return u;
  }
  if (!s.empty() && s.front() == '/') {
    if (s.size() > 1 && s[1] == '/') {
      *why = "network-path references need the imap: scheme";
      return std::nullopt;
    }
    s.remove_prefix(1);
    if (!parse_path(s, true, &u, why)) return std::nullopt;
    return u;
  }
  if (!s.empty() && s.front() == ';') {
    if (!parse_path(s, false, &u, why)) return std::nullopt;
    return u;
  }
  *why = s.find(':') != std::string_view::npos && s.find(':') < s.find('/')
             ? "only imap: URLs are supported"
             : "unsupported relative URL; use /mailbox;UIDVALIDITY=n/;UID=n or ;UID=n";
  return std::nullopt;
}

std::string for_response_code(std::string_view url) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : url) {
    unsigned char b = static_cast<unsigned char>(c);
    if (b > 0x20 && b < 0x7f && c != ']') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 15]);
    }
  }
  return out;
}

}  // namespace imap::url
