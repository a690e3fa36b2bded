// Text helpers of the SEARCH engine: case folding, Date: header reading and
// the decoded text of headers and bodies.
#include <locale.h>
#include <wctype.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "imap/mime/mime.h"
#include "imap/search/search.h"

namespace imap::search {

namespace {

// The C.UTF-8 locale for scripts outside the table; created once
// (function-local statics are initialised thread-safely) and only read.
locale_t utf8_locale() {
  static const locale_t loc = [] {
    locale_t l = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
    if (l == static_cast<locale_t>(nullptr)) {
      l = newlocale(LC_CTYPE_MASK, "C.utf8", static_cast<locale_t>(nullptr));
    }
    return l;
  }();
  return loc;
}

bool in(uint32_t cp, uint32_t lo, uint32_t hi) {
  return cp >= lo && cp <= hi;
}

// Pairs where the capital is the even (or odd) code point and the small
// letter follows it.
uint32_t pair_even(uint32_t cp) {
  return (cp % 2 == 0) ? cp + 1 : cp;
}
uint32_t pair_odd(uint32_t cp) {
  return (cp % 2 == 1) ? cp + 1 : cp;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

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

char lower_ascii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower_ascii(a[i]) != lower_ascii(b[i])) return false;
  }
  return true;
}

}  // namespace

// ------------------------------------------------------------ case folding

uint32_t fold_code_point(uint32_t cp) {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  if (cp < 0x100) {
    if (cp == 0xb5) return 0x3bc;  // micro sign -> Greek mu
    if (in(cp, 0xc0, 0xde) && cp != 0xd7) return cp + 32;
    return cp;
  }
  if (cp < 0x180) {  // Latin Extended-A
    if (cp == 0x130) return 'i';
    if (cp == 0x178) return 0xff;
    if (cp == 0x17f) return 's';
    if (in(cp, 0x100, 0x137) || in(cp, 0x14a, 0x177)) return pair_even(cp);
    if (in(cp, 0x139, 0x148) || in(cp, 0x179, 0x17e)) return pair_odd(cp);
    return cp;
  }
  if (in(cp, 0x370, 0x3ff)) {  // Greek
    if (cp == 0x386) return 0x3ac;
    if (in(cp, 0x388, 0x38a)) return cp + 37;
    if (cp == 0x38c) return 0x3cc;
    if (in(cp, 0x38e, 0x38f)) return cp + 63;
    if (in(cp, 0x391, 0x3a1) || in(cp, 0x3a3, 0x3ab)) return cp + 32;
    if (cp == 0x3c2) return 0x3c3;  // final sigma
    if (cp == 0x3d0) return 0x3b2;
    if (cp == 0x3d1) return 0x3b8;
    if (cp == 0x3d5) return 0x3c6;
    if (cp == 0x3d6) return 0x3c0;
    if (cp == 0x3f0) return 0x3ba;
    if (cp == 0x3f1) return 0x3c1;
    if (cp == 0x3f5) return 0x3b5;
    if (in(cp, 0x3d8, 0x3ef)) return pair_even(cp);
    return cp;
  }
  if (in(cp, 0x400, 0x52f)) {  // Cyrillic and its supplement
    if (in(cp, 0x400, 0x40f)) return cp + 80;
    if (in(cp, 0x410, 0x42f)) return cp + 32;
    if (in(cp, 0x460, 0x481) || in(cp, 0x48a, 0x4bf) || in(cp, 0x4d0, 0x52f)) {
      return pair_even(cp);
    }
    if (cp == 0x4c0) return 0x4cf;
    if (in(cp, 0x4c1, 0x4ce)) return pair_odd(cp);
    return cp;
  }
  if (in(cp, 0x531, 0x556)) return cp + 48;  // Armenian
  if (in(cp, 0x1e00, 0x1eff)) {              // Latin Extended Additional
    if (cp == 0x1e9e) return 0xdf;           // capital sharp s
    if (in(cp, 0x1e00, 0x1e95) || in(cp, 0x1ea0, 0x1eff)) return pair_even(cp);
    return cp;
  }
  if (cp == 0x212a) return 'k';                // Kelvin sign
  if (cp == 0x212b) return 0xe5;               // Angstrom sign
  if (in(cp, 0x2160, 0x216f)) return cp + 16;  // Roman numerals
  if (in(cp, 0x24b6, 0x24cf)) return cp + 26;  // circled letters
  if (in(cp, 0xff21, 0xff3a)) return cp + 32;  // full-width Latin
  locale_t loc = utf8_locale();
  if (loc != static_cast<locale_t>(nullptr) && cp <= 0x10ffff) {
    wint_t r = towlower_l(static_cast<wint_t>(cp), loc);
    if (r != WEOF) return static_cast<uint32_t>(r);
  }
  return cp;
}

std::string fold_case(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out += lower_ascii(static_cast<char>(c));
      ++i;
      continue;
    }
    uint32_t cp;
    size_t n = decode_utf8(s, i, &cp);
    if (n == 0) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    append_utf8(out, fold_code_point(cp));
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
    if (iequals(token.substr(0, 3), kMonths[i])) {
      // "Jul", "July", "Jul." all name July; "Julius" does not.
      static constexpr std::string_view kFull[] = {"january",   "february", "march",    "april",
                                                   "may",       "june",     "july",     "august",
                                                   "september", "october",  "november", "december"};
      std::string_view t = token;
      if (!t.empty() && t.back() == '.') t.remove_suffix(1);
      if (t.size() == 3 ||
          (t.size() <= kFull[i].size() && iequals(t, kFull[i].substr(0, t.size())))) {
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
