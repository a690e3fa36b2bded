// FETCH PREVIEW text (see preview.h).
#include "imap/fetch/preview.h"

#include <algorithm>
#include <cstring>

#include "core/util/ascii.h"
#include "core/util/utf7.h"

namespace imap::fetch {

namespace {

// ASCII case-insensitive search of `needle` (lower case) from `from`.
size_t ifind(std::string_view hay, std::string_view needle, size_t from) {
  if (needle.empty() || hay.size() < needle.size()) return std::string_view::npos;
  for (size_t i = from; i + needle.size() <= hay.size(); ++i) {
    size_t k = 0;
    while (k < needle.size() && core::ascii_lower(hay[i + k]) == needle[k]) ++k;
    if (k == needle.size()) return i;
  }
  return std::string_view::npos;
}

bool is_attachment(const mime::Part& p) {
  return p.disposition && core::ascii_iequals(*p.disposition, "attachment");
}

// Depth-first: the first leaf of type text/<subtype> that is not an
// attachment. Attached messages are not entered.
const mime::Part* find_text(const mime::Part& p, std::string_view subtype) {
  if (p.kind == mime::PartKind::kMultipart) {
    for (const mime::Part& c : p.children) {
      if (const mime::Part* f = find_text(c, subtype)) return f;
    }
    return nullptr;
  }
  if (p.kind != mime::PartKind::kLeaf || is_attachment(p)) return nullptr;
  if (p.type == "text" && p.subtype == subtype) return &p;
  return nullptr;
}

// Invalid code points (and NUL) become U+FFFD: a preview is display text.
void append_utf8(std::string& out, uint32_t cp) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  core::append_utf8(out, cp);
}

// Decodes one UTF-8 character at s[i]; advances i. Invalid -> U+FFFD (one byte).
uint32_t next_code_point(std::string_view s, size_t& i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    ++i;
    return c;
  }
  int len = 0;
  uint32_t cp = 0;
  if ((c & 0xE0) == 0xC0) {
    len = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    cp = c & 0x07;
  } else {
    ++i;
    return 0xFFFD;
  }
  if (i + static_cast<size_t>(len) > s.size()) {
    ++i;
    return 0xFFFD;
  }
  for (int k = 1; k < len; ++k) {
    unsigned char d = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
    if ((d & 0xC0) != 0x80) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (d & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++i;
    return 0xFFFD;
  }
  i += static_cast<size_t>(len);
  return cp;
}

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    size_t at = i;
    // Only an invalid sequence gives U+FFFD after a single byte.
    if (next_code_point(s, i) == 0xFFFD && i - at == 1) return false;
  }
  return true;
}

bool is_space(uint32_t cp) {
  return cp <= 0x20 || (cp >= 0x7F && cp <= 0xA0) || (cp >= 0x2000 && cp <= 0x200B) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x3000 || cp == 0xFEFF;
}

// Named character references Roost decodes (others stay as written).
struct Entity {
  const char* name;
  uint32_t cp;
};
constexpr Entity kEntities[] = {
    {"amp", '&'},      {"lt", '<'},       {"gt", '>'},       {"quot", '"'},     {"apos", '\''},
    {"nbsp", 0xA0},    {"copy", 0xA9},    {"reg", 0xAE},     {"trade", 0x2122}, {"hellip", 0x2026},
    {"mdash", 0x2014}, {"ndash", 0x2013}, {"lsquo", 0x2018}, {"rsquo", 0x2019}, {"ldquo", 0x201C},
    {"rdquo", 0x201D}, {"laquo", 0xAB},   {"raquo", 0xBB},   {"euro", 0x20AC},  {"pound", 0xA3},
    {"yen", 0xA5},     {"cent", 0xA2},    {"deg", 0xB0},     {"middot", 0xB7},  {"bull", 0x2022},
    {"shy", 0xAD},     {"zwnj", 0x200C},  {"zwj", 0x200D},   {"eacute", 0xE9},  {"egrave", 0xE8},
    {"ecirc", 0xEA},   {"agrave", 0xE0},  {"aacute", 0xE1},  {"acirc", 0xE2},   {"ccedil", 0xE7},
    {"iacute", 0xED},  {"oacute", 0xF3},  {"uacute", 0xFA},  {"ntilde", 0xF1},  {"auml", 0xE4},
    {"ouml", 0xF6},    {"uuml", 0xFC},    {"Auml", 0xC4},    {"Ouml", 0xD6},    {"Uuml", 0xDC},
    {"szlig", 0xDF},   {"Eacute", 0xC9},  {"times", 0xD7},
};

// Decodes a character reference at html[i] ('&'); on success appends it and
// moves i past the ';'.
bool decode_entity(std::string_view html, size_t& i, std::string& out) {
  size_t semi = html.find(';', i + 1);
  if (semi == std::string_view::npos || semi - i > 12) return false;
  std::string_view body = html.substr(i + 1, semi - i - 1);
  if (body.empty()) return false;
  uint32_t cp = 0;
  if (body[0] == '#') {
    bool hex = body.size() > 1 && (body[1] == 'x' || body[1] == 'X');
    std::string_view digits = body.substr(hex ? 2 : 1);
    if (digits.empty() || digits.size() > 8) return false;
    for (char c : digits) {
      uint32_t d;
      if (c >= '0' && c <= '9') {
        d = static_cast<uint32_t>(c - '0');
      } else if (hex && core::ascii_lower(c) >= 'a' && core::ascii_lower(c) <= 'f') {
        d = static_cast<uint32_t>(core::ascii_lower(c) - 'a' + 10);
      } else {
        return false;
      }
      cp = cp * (hex ? 16 : 10) + d;
    }
  } else {
    bool found = false;
    for (const Entity& e : kEntities) {
      if (body == e.name) {
        cp = e.cp;
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  append_utf8(out, cp);
  i = semi + 1;
  return true;
}

bool is_tag_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == ':';
}

bool is_block_tag(std::string_view name) {
  static constexpr const char* kBlock[] = {
      "br",         "p",      "div",     "li",     "ul",    "ol",         "tr",      "td",
      "th",         "table",  "tbody",   "thead",  "tfoot", "h1",         "h2",      "h3",
      "h4",         "h5",     "h6",      "hr",     "pre",   "blockquote", "section", "article",
      "header",     "footer", "nav",     "aside",  "dl",    "dt",         "dd",      "figure",
      "figcaption", "main",   "address", "center", "body",  "html",       "caption", "img"};
  for (const char* b : kBlock) {
    if (core::ascii_iequals(name, b)) return true;
  }
  return false;
}

// The end of a tag that starts at html[i] ('<'): the index after its '>'
// (quoted attribute values may hold '>'), or the end of the input.
size_t tag_end(std::string_view html, size_t i) {
  char quote = 0;
  for (size_t k = i + 1; k < html.size(); ++k) {
    char c = html[k];
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '>') {
      return k + 1;
    }
  }
  return html.size();
}

std::string charset_text(const mime::Part& part, std::string_view bytes) {
  std::string out;
  const mime::Param* cs = part.param("charset");
  if (cs != nullptr && !cs->value.empty() && !core::ascii_iequals(cs->value, "us-ascii") &&
      mime::charset_to_utf8(cs->value, bytes, out)) {
    return out;
  }
  // No charset, US-ASCII or one Roost cannot convert: UTF-8 when the bytes
  // are valid UTF-8, else ISO-8859-1 (every byte is a character there).
  if (valid_utf8(bytes)) return std::string(bytes);
  out.clear();
  for (char c : bytes) append_utf8(out, static_cast<unsigned char>(c));
  return out;
}

}  // namespace

const mime::Part* preview_part(const mime::Part& root) {
  if (const mime::Part* p = find_text(root, "plain")) return p;
  return find_text(root, "html");
}

std::string html_to_text(std::string_view html) {
  std::string out;
  out.reserve(html.size());
  size_t i = 0;
  while (i < html.size()) {
    char c = html[i];
    if (c == '&') {
      if (!decode_entity(html, i, out)) {
        out += '&';
        ++i;
      }
      continue;
    }
    if (c != '<') {
      out += c;
      ++i;
      continue;
    }
    if (html.compare(i, 4, "<!--") == 0) {
      size_t end = html.find("-->", i + 4);
      i = end == std::string_view::npos ? html.size() : end + 3;
      continue;
    }
    char n = i + 1 < html.size() ? html[i + 1] : '\0';
    bool closing = n == '/';
    bool letter = (n >= 'a' && n <= 'z') || (n >= 'A' && n <= 'Z');
    if (!letter && !closing && n != '!' && n != '?') {
      out += '<';  // a lone '<' in text
      ++i;
      continue;
    }
    size_t name_at = i + (closing ? 2 : 1);
    size_t name_end = name_at;
    while (name_end < html.size() && is_tag_name_char(html[name_end])) ++name_end;
    std::string_view name = html.substr(name_at, name_end - name_at);
    i = tag_end(html, i);
    if (!closing && (core::ascii_iequals(name, "script") || core::ascii_iequals(name, "style") ||
                     core::ascii_iequals(name, "head") || core::ascii_iequals(name, "title") ||
                     core::ascii_iequals(name, "template"))) {
      // Drop everything up to the matching end tag.
      std::string close = "</";
      for (char ch : name) close += core::ascii_lower(ch);
      size_t end = ifind(html, close, i);
      i = end == std::string_view::npos ? html.size() : tag_end(html, end);
      out += ' ';
      continue;
    }
    if (is_block_tag(name)) out += ' ';
  }
  return out;
}

std::string collapse_text(std::string_view utf8, size_t max_chars) {
  std::string out;
  size_t chars = 0;
  bool pending_space = false;
  size_t i = 0;
  while (i < utf8.size() && chars < max_chars) {
    uint32_t cp = next_code_point(utf8, i);
    if (is_space(cp)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) {
      if (chars + 1 >= max_chars) break;  // a trailing space would be trimmed
      out += ' ';
      ++chars;
      pending_space = false;
    }
    append_utf8(out, cp);
    ++chars;
  }
  return out;
}

std::string preview_from_body(const mime::Part& part, std::string_view raw_body) {
  std::string decoded = mime::decode_transfer(mime::transfer_encoding(part.encoding), raw_body);
  std::string text = charset_text(part, decoded);
  if (part.subtype == "html") text = html_to_text(text);
  return collapse_text(text, kPreviewMaxChars);
}

std::string make_preview(std::string_view message) {
  mime::Part root = mime::parse_structure(message);
  const mime::Part* p = preview_part(root);
  if (p == nullptr || p->body_raw_offset >= message.size()) return std::string();
  uint64_t len = std::min<uint64_t>(p->body_raw_length, kPreviewMaxInput);
  return preview_from_body(
      *p, message.substr(static_cast<size_t>(p->body_raw_offset), static_cast<size_t>(len)));
}

}  // namespace imap::fetch
