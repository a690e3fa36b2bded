// Character sets, RFC 2047 encoded-words, Content-Transfer-Encoding
// decoders and the IMAP string writer used by the other imap/mime sources.
#include <iconv.h>

#include <cerrno>
#include <cstring>

#include "imap/mime/internal.h"
#include "imap/mime/mime.h"

namespace imap::mime {
namespace detail {

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool is_ascii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

void skip_cfws(std::string_view s, size_t& pos, std::string* comment) {
  while (pos < s.size()) {
    char c = s[pos];
    if (is_space(c)) {
      ++pos;
      continue;
    }
    if (c != '(') return;
    // Comment, possibly nested, with quoted-pairs.
    int depth = 0;
    std::string text;
    while (pos < s.size()) {
      char d = s[pos++];
      if (d == '\\' && pos < s.size()) {
        text += s[pos++];
        continue;
      }
      if (d == '(') {
        if (depth++ > 0) text += d;
        continue;
      }
      if (d == ')') {
        if (--depth == 0) break;
        text += d;
        continue;
      }
      text += d;
    }
    if (comment != nullptr) *comment = std::string(trim(text));
  }
}

std::string read_quoted(std::string_view s, size_t& pos) {
  std::string r;
  ++pos;  // opening quote
  while (pos < s.size()) {
    char c = s[pos++];
    if (c == '"') return r;
    if (c == '\\' && pos < s.size()) {
      r += s[pos++];
      continue;
    }
    if (c == '\r' || c == '\n') continue;  // folding inside a quoted string
    r += c;
  }
  return r;
}

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string percent_decode(std::string_view s) {
  std::string r;
  r.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      r += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      r += s[i];
    }
  }
  return r;
}

}  // namespace detail

using detail::ascii_iequals;
using detail::ascii_lower;
using detail::is_wsp;

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Length of the valid UTF-8 sequence at the start of s, or 0.
size_t utf8_sequence(std::string_view s) {
  auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char c = b(0);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  for (size_t i = 1; i < n; ++i) {
    if ((b(i) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i) & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

void append_latin1(std::string& out, unsigned char c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

// Valid UTF-8 is copied; each invalid byte becomes `bad` (U+FFFD) or, with
// latin1_fallback, its ISO-8859-1 reading.
void append_utf8_checked(std::string& out, std::string_view s, bool latin1_fallback) {
  while (!s.empty()) {
    size_t n = utf8_sequence(s);
    if (n == 0) {
      if (latin1_fallback) {
        append_latin1(out, static_cast<unsigned char>(s[0]));
      } else {
        out += kReplacement;
      }
      s.remove_prefix(1);
    } else {
      out.append(s.data(), n);
      s.remove_prefix(n);
    }
  }
}

std::string normalise_charset(std::string_view charset) {
  charset = detail::trim(charset);
  // RFC 2231 section 5: "charset*language" in encoded-words.
  size_t star = charset.find('*');
  if (star != std::string_view::npos) charset = charset.substr(0, star);
  return detail::ascii_lower(charset);
}

bool is_utf8_name(std::string_view c) {
  return c == "utf-8" || c == "utf8";
}
bool is_ascii_name(std::string_view c) {
  return c == "us-ascii" || c == "ascii" || c == "ansi_x3.4-1968" || c == "us";
}
bool is_latin1_name(std::string_view c) {
  return c == "iso-8859-1" || c == "iso8859-1" || c == "iso_8859-1" || c == "latin1" || c == "l1" ||
         c == "latin-1";
}

bool plausible_charset_name(std::string_view c) {
  if (c.empty() || c.size() > 64) return false;
  for (char ch : c) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
              ch == '.' || ch == ':' || ch == '+';
    if (!ok) return false;
  }
  return true;
}

bool iconv_to_utf8(const std::string& charset, std::string_view bytes, std::string& out) {
  iconv_t cd = iconv_open("UTF-8", charset.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return false;
  char* in = const_cast<char*>(bytes.data());
  size_t in_left = bytes.size();
  char buf[4096];
  while (in_left > 0) {
    char* o = buf;
    size_t o_left = sizeof(buf);
    size_t r = iconv(cd, &in, &in_left, &o, &o_left);
    out.append(buf, static_cast<size_t>(o - buf));
    if (r == static_cast<size_t>(-1)) {
      if (errno == E2BIG) continue;
      // Invalid or incomplete sequence: mark it and resynchronise.
      out += kReplacement;
      ++in;
      --in_left;
    }
  }
  char* o = buf;
  size_t o_left = sizeof(buf);
  iconv(cd, nullptr, nullptr, &o, &o_left);
  out.append(buf, static_cast<size_t>(o - buf));
  iconv_close(cd);
  return true;
}

bool decode_b(std::string_view text, std::string& out) {
  TransferDecoder d(TransferEncoding::kBase64);
  d.feed(text, out);
  d.finish(out);
  return !d.had_errors();
}

void decode_q(std::string_view text, std::string& out) {
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '_') {
      out += ' ';
    } else if (c == '=' && i + 2 < text.size() && hex_digit(text[i + 1]) >= 0 &&
               hex_digit(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit(text[i + 1]) * 16 + hex_digit(text[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
}

// Parses an encoded-word at s[pos] ("=?cs?e?text?="); on success sets end
// (one past "?=") and the pieces.
bool parse_encoded_word(std::string_view s, size_t pos, size_t& end, std::string_view& charset,
                        char& enc, std::string_view& text) {
  // Bounded scans keep a header full of "=?" linear.
  constexpr size_t kMaxCharset = 100;
  constexpr size_t kMaxText = 4096;
  if (s.compare(pos, 2, "=?") != 0) return false;
  size_t q1 = pos + 2;
  while (q1 < s.size() && q1 - pos - 2 <= kMaxCharset && s[q1] != '?') {
    if (is_wsp(s[q1]) || s[q1] == '=') return false;
    ++q1;
  }
  if (q1 >= s.size() || s[q1] != '?' || q1 == pos + 2) return false;
  charset = s.substr(pos + 2, q1 - pos - 2);
  if (q1 + 2 >= s.size() || s[q1 + 2] != '?') return false;
  enc = ascii_lower(s[q1 + 1]);
  if (enc != 'b' && enc != 'q') return false;
  size_t start = q1 + 3;
  size_t i = start;
  while (i < s.size() && i - start <= kMaxText) {
    char c = s[i];
    if (is_wsp(c)) return false;
    if (c == '?' && i + 1 < s.size() && s[i + 1] == '=') {
      text = s.substr(start, i - start);
      end = i + 2;
      return true;
    }
    ++i;
  }
  return false;
}

}  // namespace

bool charset_to_utf8(std::string_view charset, std::string_view bytes, std::string& out) {
  std::string cs = normalise_charset(charset);
  if (is_utf8_name(cs) || is_ascii_name(cs)) {
    append_utf8_checked(out, bytes, false);
    return true;
  }
  if (is_latin1_name(cs)) {
    for (char c : bytes) append_latin1(out, static_cast<unsigned char>(c));
    return true;
  }
  if (!plausible_charset_name(cs)) return false;
  return iconv_to_utf8(cs, bytes, out);
}

std::string decode_header_value(std::string_view value) {
  // Unfold first: line ends vanish, their continuation blanks stay.
  std::string unfolded;
  unfolded.reserve(value.size());
  for (char c : value) {
    if (c != '\r' && c != '\n') unfolded += c;
  }
  std::string_view s = unfolded;
  std::string out;
  std::string run_bytes;    // decoded octets of adjacent words in one charset
  std::string run_charset;  // normalised
  auto flush_run = [&] {
    if (run_bytes.empty()) return;
    if (!charset_to_utf8(run_charset, run_bytes, out)) append_utf8_checked(out, run_bytes, true);
    run_bytes.clear();
  };
  size_t pos = 0;
  size_t plain_start = 0;
  bool last_was_word = false;
  while (pos < s.size()) {
    size_t end;
    std::string_view cs, text;
    char enc;
    if (s[pos] == '=' && parse_encoded_word(s, pos, end, cs, enc, text)) {
      std::string charset = normalise_charset(cs);
      std::string decoded;
      bool ok = true;
      if (enc == 'b') {
        ok = decode_b(text, decoded);
      } else {
        decode_q(text, decoded);
      }
      std::string probe;
      if (ok && !is_utf8_name(charset) && !is_ascii_name(charset) && !is_latin1_name(charset)) {
        ok = charset_to_utf8(charset, "", probe);  // can this charset be converted at all?
      }
      if (ok) {
        std::string_view between = s.substr(plain_start, pos - plain_start);
        bool blank = true;
        for (char c : between) blank = blank && is_wsp(c);
        if (!(last_was_word && blank)) {
          flush_run();
          append_utf8_checked(out, between, true);
        }
        if (charset != run_charset) flush_run();
        run_charset = charset;
        run_bytes += decoded;
        pos = end;
        plain_start = end;
        last_was_word = true;
        continue;
      }
    }
    ++pos;
  }
  std::string_view tail = s.substr(plain_start);
  if (!tail.empty()) {
    flush_run();
    append_utf8_checked(out, tail, true);
  }
  flush_run();
  return out;
}

TransferEncoding transfer_encoding(const std::optional<std::string>& cte) {
  if (!cte) return TransferEncoding::kIdentity;
  std::string_view v = detail::trim(*cte);
  if (v.empty() || ascii_iequals(v, "7bit") || ascii_iequals(v, "8bit") ||
      ascii_iequals(v, "binary")) {
    return TransferEncoding::kIdentity;
  }
  if (ascii_iequals(v, "base64")) return TransferEncoding::kBase64;
  if (ascii_iequals(v, "quoted-printable")) return TransferEncoding::kQuotedPrintable;
  return TransferEncoding::kUnknown;
}

// --- TransferDecoder -----------------------------------------------------------

TransferDecoder::TransferDecoder(TransferEncoding encoding) : encoding_(encoding) {}

void TransferDecoder::feed(std::string_view in, std::string& out) {
  switch (encoding_) {
    case TransferEncoding::kBase64:
      feed_base64(in, out);
      break;
    case TransferEncoding::kQuotedPrintable:
      feed_qp(in, out);
      break;
    default:
      feed_identity(in, out);
      break;
  }
}

namespace {
int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}
}  // namespace

void TransferDecoder::feed_base64(std::string_view in, std::string& out) {
  for (char c : in) {
    int v = base64_value(c);
    if (v >= 0) {
      quantum_ = (quantum_ << 6) | static_cast<uint32_t>(v);
      if (++quantum_chars_ == 4) {
        out += static_cast<char>((quantum_ >> 16) & 0xFF);
        out += static_cast<char>((quantum_ >> 8) & 0xFF);
        out += static_cast<char>(quantum_ & 0xFF);
        quantum_ = 0;
        quantum_chars_ = 0;
      }
    } else if (c == '=') {
      if (quantum_chars_ == 2) {
        out += static_cast<char>((quantum_ >> 4) & 0xFF);
      } else if (quantum_chars_ == 3) {
        out += static_cast<char>((quantum_ >> 10) & 0xFF);
        out += static_cast<char>((quantum_ >> 2) & 0xFF);
      } else if (quantum_chars_ == 1) {
        errors_ = true;
      }
      quantum_ = 0;
      quantum_chars_ = 0;
    } else if (!detail::is_space(c)) {
      errors_ = true;
    }
  }
}

void TransferDecoder::qp_line_end(std::string& out) {
  if (!pending_.empty() && pending_[0] == '=') {
    bool soft = true;
    for (size_t i = 1; i < pending_.size(); ++i) soft = soft && is_wsp(pending_[i]);
    if (!soft) {
      errors_ = true;
      out += pending_;
      out += "\r\n";
    }
  } else {
    out += "\r\n";  // pending blanks are trailing: dropped
  }
  pending_.clear();
}

void TransferDecoder::feed_qp(std::string_view in, std::string& out) {
  constexpr size_t kMaxPending = 4096;
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (pending_cr_) {
      pending_cr_ = false;
      if (c == '\n') {
        qp_line_end(out);
        continue;
      }
      // A bare CR is ordinary data: flush what waited before it.
      if (!pending_.empty()) {
        if (pending_[0] == '=') errors_ = true;
        out += pending_;
        pending_.clear();
      }
      out += '\r';
    }
    if (c == '\r') {
      pending_cr_ = true;
      continue;
    }
    if (c == '\n') {
      qp_line_end(out);
      continue;
    }
    if (!pending_.empty() && pending_[0] == '=') {
      if (pending_.size() == 1 && hex_digit(c) >= 0) {
        pending_ += c;
        continue;
      }
      if (pending_.size() == 2 && hex_digit(pending_[1]) >= 0 && hex_digit(c) >= 0) {
        out += static_cast<char>(hex_digit(pending_[1]) * 16 + hex_digit(c));
        pending_.clear();
        continue;
      }
      bool only_blanks_after = pending_.size() == 1 || is_wsp(pending_.back());
      if (is_wsp(c) && only_blanks_after && pending_.size() < kMaxPending) {
        pending_ += c;  // maybe a soft break with trailing blanks
        continue;
      }
      errors_ = true;
      out += pending_;
      pending_.clear();
    }
    if (is_wsp(c)) {
      pending_ += c;
      if (pending_.size() >= kMaxPending) {
        out += pending_;
        pending_.clear();
      }
      continue;
    }
    out += pending_;
    pending_.clear();
    if (c == '=') {
      pending_.push_back('=');  // pending_ is empty here
    } else {
      out += c;
    }
  }
}

void TransferDecoder::feed_identity(std::string_view in, std::string& out) {
  size_t start = 0;
  while (start < in.size()) {
    const void* p = std::memchr(in.data() + start, '\n', in.size() - start);
    if (p == nullptr) {
      out.append(in.data() + start, in.size() - start);
      last_cr_ = in.back() == '\r';
      return;
    }
    size_t nl = static_cast<size_t>(static_cast<const char*>(p) - in.data());
    out.append(in.data() + start, nl - start);
    bool cr = nl > start ? in[nl - 1] == '\r' : last_cr_;
    if (!cr) out += '\r';
    out += '\n';
    last_cr_ = false;
    start = nl + 1;
  }
}

void TransferDecoder::finish(std::string& out) {
  switch (encoding_) {
    case TransferEncoding::kBase64:
      if (quantum_chars_ > 0) feed_base64("=", out);
      break;
    case TransferEncoding::kQuotedPrintable:
      if (pending_cr_) {
        pending_cr_ = false;
        if (!pending_.empty() && pending_[0] == '=') {
          errors_ = true;
          out += pending_;
        } else {
          out += pending_;
        }
        pending_.clear();
        out += '\r';
      }
      if (!pending_.empty() && pending_[0] == '=') {
        // A lone "=" (plus blanks) at the very end is a soft break.
        bool soft = true;
        for (size_t i = 1; i < pending_.size(); ++i) soft = soft && is_wsp(pending_[i]);
        if (!soft) {
          errors_ = true;
          out += pending_;
        }
      }
      pending_.clear();  // trailing blanks of the last line are dropped
      break;
    default:
      break;
  }
}

std::string decode_transfer(TransferEncoding encoding, std::string_view in) {
  std::string out;
  TransferDecoder d(encoding);
  d.feed(in, out);
  d.finish(out);
  return out;
}

// --- IMAP strings ----------------------------------------------------------------

void write_string(std::string& out, std::string_view s) {
  bool literal = false;
  bool has_nul = false;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u == 0) has_nul = true;
    if (u >= 0x80 || c == '\r' || c == '\n') literal = true;
  }
  std::string cleaned;
  if (has_nul) {
    for (char c : s) {
      if (c != '\0') cleaned += c;
    }
    s = cleaned;
  }
  if (literal) {
    out += '{';
    out += std::to_string(s.size());
    out += "}\r\n";
    out.append(s.data(), s.size());
    return;
  }
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

void write_nstring(std::string& out, const std::optional<std::string>& s) {
  if (!s) {
    out += "NIL";
  } else {
    write_string(out, *s);
  }
}

}  // namespace imap::mime
