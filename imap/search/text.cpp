// Text helpers of the SEARCH engine: the i;unicode-casemap comparator
// (RFC 5051), Date: header reading and the decoded text of headers and
// bodies.
//
// i;unicode-casemap needs the Unicode character database (titlecase
// mappings and decompositions); Roost takes it from ICU (libicu, a Debian
// package) rather than keeping tables of its own.
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/utf16.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/ascii.h"
#include "core/util/utf7.h"
#include "imap/mime/mime.h"
#include "imap/search/search.h"

namespace imap::search {

namespace {

// Decodes one UTF-8 sequence at s[i]; returns its length, 0 when invalid.
size_t decode_utf8(std::string_view s, size_t i, uint32_t* cp) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  size_t len;
  uint32_t v;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
    v = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    v = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    v = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((b(k) & 0xc0) != 0x80) return 0;
    v = (v << 6) | (b(k) & 0x3f);
  }
  if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10ffff)) ||
      (v >= 0xd800 && v <= 0xdfff)) {
    return 0;
  }
  *cp = v;
  return len;
}

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    size_t n = decode_utf8(s, i, &cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// ICU's NFKD data: its raw decomposition of a code point is the mapping
// UnicodeData.txt gives (compatibility or canonical). Created once, read only.
const UNormalizer2* nfkd() {
  static const UNormalizer2* n = [] {
    UErrorCode e = U_ZERO_ERROR;
    const UNormalizer2* r = unorm2_getNFKDInstance(&e);
    return U_FAILURE(e) ? nullptr : r;
  }();
  return n;
}

bool hangul_syllable(uint32_t cp) {
  return cp >= 0xac00 && cp <= 0xd7a3;
}

// RFC 5051 2, for one code point: its titlecase mapping, then (when it has
// one) its decomposition, each resulting code point mapped the same way.
void append_casemapped(std::string& out, uint32_t cp, int depth) {
  if (cp < 0x80) {
    out += static_cast<char>(cp >= 'a' && cp <= 'z' ? cp - 32 : cp);
    return;
  }
  const uint32_t title = static_cast<uint32_t>(u_totitle(static_cast<UChar32>(cp)));
  const UNormalizer2* n = nfkd();
  // UnicodeData.txt lists no decomposition for Hangul syllables (they are
  // algorithmic), so RFC 5051 keeps them whole.
  if (n == nullptr || depth > 16 || hangul_syllable(title)) {
    core::append_utf8(out, title);
    return;
  }
  UChar buf[32];
  UErrorCode e = U_ZERO_ERROR;
  const int32_t len = unorm2_getRawDecomposition(n, static_cast<UChar32>(title), buf, 32, &e);
  if (U_FAILURE(e) || len <= 0) {
    core::append_utf8(out, title);
    return;
  }
  for (int32_t i = 0; i < len;) {
    UChar32 c;
    U16_NEXT(buf, i, len, c);
    append_casemapped(out, static_cast<uint32_t>(c), depth + 1);
  }
}

}  // namespace

// ---------------------------------------------------------- i;unicode-casemap

std::string casemap(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out += static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
      ++i;
      continue;
    }
    uint32_t cp;
    size_t n = decode_utf8(s, i, &cp);
    if (n == 0) {
      // Not UTF-8: compared as it is (RFC 5051 2: treated as binary).
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    append_casemapped(out, cp, 0);
    i += n;
  }
  return out;
}

// ------------------------------------------------------------------ dates

int64_t days_from_civil(int64_t y, int m, int d) {
  // Shifts the year to start in March so the leap day is the last day.
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t mp = (m + 9) % 12;
  const int64_t doy = (153 * mp + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

namespace {

int month_number(std::string_view token) {
  static constexpr std::string_view kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                                 "jul", "aug", "sep", "oct", "nov", "dec"};
  if (token.size() < 3) return 0;
  for (int i = 0; i < 12; ++i) {
    if (core::ascii_iequals(token.substr(0, 3), kMonths[i])) {
      // "Jul", "July", "Jul." all name July; "Julius" does not.
      static constexpr std::string_view kFull[] = {"january",   "february", "march",    "april",
                                                   "may",       "june",     "july",     "august",
                                                   "september", "october",  "november", "december"};
      std::string_view t = token;
      if (!t.empty() && t.back() == '.') t.remove_suffix(1);
      if (t.size() == 3 ||
          (t.size() <= kFull[i].size() && core::ascii_iequals(t, kFull[i].substr(0, t.size())))) {
        return i + 1;
      }
      return 0;
    }
  }
  return 0;
}

bool all_digits(std::string_view t) {
  if (t.empty() || t.size() > 9) return false;
  for (char c : t) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

int to_int(std::string_view t) {
  int v = 0;
  for (char c : t) v = v * 10 + (c - '0');
  return v;
}

bool leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int days_in_month(int64_t y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : kDays[m - 1];
}

}  // namespace

std::optional<int64_t> sent_day(std::string_view value) {
  // Tokens: comments dropped; blanks, ',' and '-' separate.
  std::vector<std::string_view> tokens;
  int depth = 0;
  size_t start = std::string_view::npos;
  auto flush = [&](size_t end) {
    if (start != std::string_view::npos && end > start)
      tokens.push_back(value.substr(start, end - start));
    start = std::string_view::npos;
  };
  for (size_t i = 0; i < value.size() && tokens.size() < 32; ++i) {
    char c = value[i];
    if (depth > 0) {
      if (c == '\\') {
        ++i;
      } else if (c == '(') {
        ++depth;
      } else if (c == ')') {
        --depth;
      }
      continue;
    }
    if (c == '(') {
      flush(i);
      depth = 1;
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' || c == '-') {
      flush(i);
    } else if (start == std::string_view::npos) {
      start = i;
    }
  }
  flush(value.size());

  // The month name anchors the date: "1 Jul 2003" (RFC 5322) or
  // "Jul 1 2003" / "Tue Jul  1 10:52:37 2003" (asctime-like).
  for (size_t mi = 0; mi < tokens.size(); ++mi) {
    int month = month_number(tokens[mi]);
    if (month == 0) continue;
    size_t next = mi + 1;
    std::optional<int> day;
    if (mi > 0 && all_digits(tokens[mi - 1]) && tokens[mi - 1].size() <= 2) {
      day = to_int(tokens[mi - 1]);
    } else if (next < tokens.size() && all_digits(tokens[next]) && tokens[next].size() <= 2) {
      day = to_int(tokens[next]);
      ++next;
    }
    if (!day) continue;
    // The year: the next all-digit token (times have ':' and are skipped).
    std::optional<int64_t> year;
    for (size_t k = next; k < tokens.size(); ++k) {
      std::string_view t = tokens[k];
      if (all_digits(t)) {
        if (t.size() < 2 || t.size() > 4) break;
        int64_t y = to_int(t);
        if (t.size() == 2) {
          y += y < 50 ? 2000 : 1900;
        } else if (t.size() == 3) {
          y += 1900;
        }
        year = y;
        break;
      }
      if (t.find(':') == std::string_view::npos) break;
    }
    if (!year || *year < 1 || *year > 9999) return std::nullopt;
    if (*day < 1 || *day > days_in_month(*year, month)) return std::nullopt;
    return days_from_civil(*year, month, *day);
  }
  return std::nullopt;
}

// ------------------------------------------------------------ decoded text

std::string header_text(std::string_view header_block) {
  std::string out;
  mime::for_each_header_field(header_block, [&](std::string_view name, std::string value) {
    out.append(name);
    out += ": ";
    out += mime::decode_header_value(value);
    out += '\n';
    return true;
  });
  return out;
}

namespace {

void append_part_text(const mime::Part& part, std::string_view msg, std::string& out) {
  if (part.body_raw_offset > msg.size()) return;
  std::string_view raw = msg.substr(part.body_raw_offset, part.body_raw_length);
  mime::TransferEncoding enc = mime::transfer_encoding(part.encoding);
  if (enc == mime::TransferEncoding::kUnknown) enc = mime::TransferEncoding::kIdentity;
  std::string decoded = mime::decode_transfer(enc, raw);
  const mime::Param* cs = part.param("charset");
  if (cs == nullptr || cs->value.empty()) {
    // No charset: UTF-8 when it is valid, else the common 8-bit default.
    if (valid_utf8(decoded) || !mime::charset_to_utf8("iso-8859-1", decoded, out)) {
      out += decoded;
    }
  } else if (!mime::charset_to_utf8(cs->value, decoded, out)) {
    out += decoded;  // unknown charset: the bytes as they are
  }
  out += '\n';
}

void collect_body(const mime::Part& part, std::string_view msg, std::string& out, int depth) {
  if (depth > 200) return;
  switch (part.kind) {
    case mime::PartKind::kLeaf:
      if (part.is_text()) append_part_text(part, msg, out);
      break;
    case mime::PartKind::kMultipart:
      for (const mime::Part& child : part.children) collect_body(child, msg, out, depth + 1);
      break;
    case mime::PartKind::kMessage:
      for (const mime::Part& inner : part.children) {
        if (inner.header_raw_offset < msg.size()) {
          out += header_text(msg.substr(inner.header_raw_offset, inner.header_raw_length));
        }
        collect_body(inner, msg, out, depth + 1);
      }
      break;
  }
}

}  // namespace

std::string body_text(std::string_view message) {
  mime::Part root = mime::parse_structure(message);
  std::string out;
  collect_body(root, message, out, 0);
  return out;
}

}  // namespace imap::search
