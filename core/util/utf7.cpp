#include "core/util/utf7.h"

#include <cstdint>

namespace core {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == ',') return 63;
  return -1;
}

bool printable_ascii(uint32_t c) {
  return c >= 0x20 && c <= 0x7E;
}

// Reads one code point of well-formed UTF-8 at s[pos] and advances pos past
// it; returns -1 (pos unchanged) if the bytes there are not well-formed.
int32_t read_code_point(std::string_view s, size_t& pos) {
  const auto lead = static_cast<unsigned char>(s[pos]);
  if (lead < 0x80) {
    ++pos;
    return lead;
  }
  size_t extra;
  uint32_t cp;
  uint32_t min;
  if (lead >= 0xC2 && lead <= 0xDF) {
    extra = 1;
    cp = lead & 0x1F;
    min = 0x80;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    extra = 2;
    cp = lead & 0x0F;
    min = 0x800;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    extra = 3;
    cp = lead & 0x07;
    min = 0x10000;
  } else {
    return -1;  // continuation byte, C0/C1 (always overlong) or F5..FF
  }
  if (s.size() - pos <= extra) return -1;
  for (size_t k = 1; k <= extra; ++k) {
    const auto b = static_cast<unsigned char>(s[pos + k]);
    if ((b & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
  pos += extra + 1;
  return static_cast<int32_t>(cp);
}

// Accumulates UTF-16 units of one base64 run and writes its characters.
class RunEncoder {
 public:
  explicit RunEncoder(std::string& out) : out_(out) {}

  void add_code_point(uint32_t cp) {
    if (cp >= 0x10000) {
      const uint32_t v = cp - 0x10000;
      add_unit(0xD800 | (v >> 10));
      add_unit(0xDC00 | (v & 0x3FF));
    } else {
      add_unit(cp);
    }
  }

  // Closes the run if one is open.
  void close() {
    if (!open_) return;
    if (nbits_ > 0) out_ += kAlphabet[(bits_ << (6 - nbits_)) & 0x3F];
    out_ += '-';
    open_ = false;
    bits_ = 0;
    nbits_ = 0;
  }

 private:
  void add_unit(uint32_t unit) {
    if (!open_) {
      out_ += '&';
      open_ = true;
    }
    bits_ = (bits_ << 16) | unit;
    nbits_ += 16;
    while (nbits_ >= 6) {
      nbits_ -= 6;
      out_ += kAlphabet[(bits_ >> nbits_) & 0x3F];
    }
    bits_ &= (1u << nbits_) - 1;
  }

  std::string& out_;
  bool open_ = false;
  uint32_t bits_ = 0;  // fewer than 6 pending bits between calls
  int nbits_ = 0;
};

}  // namespace

bool valid_utf8(std::string_view s) {
  size_t pos = 0;
  while (pos < s.size()) {
    if (read_code_point(s, pos) < 0) return false;
  }
  return true;
}

std::optional<std::string> mutf7_encode(std::string_view utf8, std::string_view also_encode) {
  std::string out;
  out.reserve(utf8.size());
  RunEncoder run(out);
  size_t pos = 0;
  while (pos < utf8.size()) {
    const int32_t cp = read_code_point(utf8, pos);
    if (cp < 0) return std::nullopt;
    const auto c = static_cast<uint32_t>(cp);
    if (printable_ascii(c) &&
        (c == '&' || also_encode.find(static_cast<char>(c)) == std::string_view::npos)) {
      run.close();
      out += static_cast<char>(c);
      if (c == '&') out += '-';
    } else {
      run.add_code_point(c);
    }
  }
  run.close();
  return out;
}

std::optional<std::string> mutf7_decode(std::string_view enc, Mutf7Mode mode) {
  const bool strict = mode == Mutf7Mode::kStrict;
  std::string out;
  out.reserve(enc.size());
  size_t i = 0;
  size_t last_run_end = std::string_view::npos;  // index just past the latest base64 run
  while (i < enc.size()) {
    const char c = enc[i];
    if (!printable_ascii(static_cast<unsigned char>(c))) return std::nullopt;
    if (c != '&') {
      out += c;
      ++i;
      continue;
    }
    if (i + 1 < enc.size() && enc[i + 1] == '-') {  // "&-" is '&' itself
      out += '&';
      i += 2;
      continue;
    }
    // A base64 run. The canonical encoder never starts one right after another.
    if (strict && last_run_end == i) return std::nullopt;
    uint32_t bits = 0;
    int nbits = 0;
    uint32_t high = 0;  // a high surrogate waiting for its low half
    size_t j = i + 1;
    for (;; ++j) {
      if (j >= enc.size()) return std::nullopt;  // unterminated
      if (enc[j] == '-') break;
      const int v = sextet(enc[j]);
      if (v < 0) return std::nullopt;
      bits = (bits << 6) | static_cast<uint32_t>(v);
      nbits += 6;
      if (nbits < 16) continue;
      nbits -= 16;
      const uint32_t unit = (bits >> nbits) & 0xFFFF;
      bits &= (1u << nbits) - 1;
      if (high != 0) {
        if (unit < 0xDC00 || unit > 0xDFFF) return std::nullopt;
        append_utf8(out, 0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00));
        high = 0;
      } else if (unit >= 0xD800 && unit <= 0xDBFF) {
        high = unit;
      } else if (unit >= 0xDC00 && unit <= 0xDFFF) {
        return std::nullopt;  // low surrogate without a high one
      } else {
        if (strict && printable_ascii(unit)) return std::nullopt;
        append_utf8(out, unit);
      }
    }
    // What is left must be the zero padding of the last character (under 6
    // bits): a whole spare character, as in "&AO-" or "&AOkA-", is an odd
    // length. A run ending in a high surrogate is a lone surrogate.
    if (nbits >= 6 || bits != 0 || high != 0) return std::nullopt;
    i = j + 1;
    last_run_end = i;
  }
  return out;
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

}  // namespace core
