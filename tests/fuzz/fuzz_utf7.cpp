// libFuzzer target for core/util/utf7 (and the string and date parts of the
// response writer, which are pure functions of the same kind of input).
//
// The input, as arbitrary bytes:
//  - strict modified-UTF-7 decode: a result must be valid UTF-8 and encode
//    back to exactly the input (only canonical forms decode);
//  - lenient decode: a result must be valid UTF-8, and its canonical encoding
//    must decode strictly to it;
//  - as UTF-8: encode succeeds exactly when valid_utf8 says so, the result is
//    printable ASCII and decodes (strictly) back to the input; encoded with
//    '.' in the base64 runs (the Maildir store's rule), it has no '.' and
//    decodes leniently back to the input;
//  - write_string / write_astring / write_mailbox output is read back with a
//    small independent reader and must give the input (or its encoding);
//  - parse_date_time / parse_date: whatever parses is written and parsed back
//    to the same instant and zone.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "core/util/utf7.h"
#include "imap/proto/writer.h"

namespace {

using core::Mutf7Mode;
using imap::proto::Utf8Mode;

void require(bool ok) {
  if (!ok) abort();
}

bool printable(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7E) return false;
  }
  return true;
}

// Reads one quoted string, literal or bare astring; the whole of `s` must be
// consumed. nullopt if it is none of those.
std::optional<std::string> read_back(std::string_view s) {
  if (s.empty()) return std::nullopt;
  if (s[0] == '"') {
    std::string out;
    size_t i = 1;
    while (i < s.size() && s[i] != '"') {
      if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0') return std::nullopt;
      if (s[i] == '\\') {
        if (++i == s.size() || (s[i] != '"' && s[i] != '\\')) return std::nullopt;
      }
      out += s[i++];
    }
    if (i + 1 != s.size()) return std::nullopt;  // closing quote must be last
    return out;
  }
  if (s[0] == '{') {
    size_t close = s.find("}\r\n");
    if (close == std::string_view::npos || close == 1) return std::nullopt;
    uint64_t n = 0;
    for (size_t i = 1; i < close; ++i) {
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
      n = n * 10 + static_cast<uint64_t>(s[i] - '0');
    }
    std::string_view body = s.substr(close + 3);
    if (body.size() != n) return std::nullopt;
    return std::string(body);
  }
  if (!imap::proto::is_astring_atom(s)) return std::nullopt;
  return std::string(s);
}

void check_utf7(std::string_view in) {
  if (auto strict = core::mutf7_decode(in)) {
    require(core::valid_utf8(*strict));
    auto again = core::mutf7_encode(*strict);
    require(again && *again == in);
    require(core::mutf7_decode(in, Mutf7Mode::kLenient) == strict);
  }
  if (auto lenient = core::mutf7_decode(in, Mutf7Mode::kLenient)) {
    require(core::valid_utf8(*lenient));
    auto canon = core::mutf7_encode(*lenient);
    require(canon.has_value());
    require(core::mutf7_decode(*canon) == lenient);
  }
  const bool valid = core::valid_utf8(in);
  auto enc = core::mutf7_encode(in);
  require(enc.has_value() == valid);
  if (enc) {
    require(printable(*enc));
    require(core::mutf7_decode(*enc) == in);
  }
  auto dotted = core::mutf7_encode(in, ".");
  require(dotted.has_value() == valid);
  if (dotted) {
    require(printable(*dotted) && dotted->find('.') == std::string::npos);
    require(core::mutf7_decode(*dotted, Mutf7Mode::kLenient) == in);
  }
}

void check_writer(std::string_view in) {
  for (Utf8Mode m : {Utf8Mode::kOff, Utf8Mode::kOn}) {
    std::string out;
    imap::proto::write_string(out, in, m);
    require(out[0] == '"' || out[0] == '{');
    require(read_back(out) == in);
    out.clear();
    imap::proto::write_astring(out, in, m);
    require(read_back(out) == in);
    out.clear();
    const bool ok = imap::proto::write_mailbox(out, in, m);
    require(ok == core::valid_utf8(in));
    auto back = read_back(out);
    require(back.has_value());
    if (out == "INBOX") {
      require(back->size() == 5);
    } else if (ok && m == Utf8Mode::kOff) {
      require(core::mutf7_decode(*back) == in);
    } else {
      require(*back == in);
    }
    // A response line is exactly one line whatever the text.
    out.clear();
    imap::proto::tagged(out, in.substr(0, 8), imap::proto::Status::kNo, in, in, m);
    require(out.size() >= 2 && out.find('\n') == out.size() - 1 &&
            out.find('\r') == out.size() - 2);
  }
}

void check_dates(std::string_view in) {
  if (auto dt = imap::proto::parse_date_time(in)) {
    std::string out;
    imap::proto::write_date_time(out, dt->unix_seconds, dt->offset_minutes);
    auto back = imap::proto::parse_date_time(out);
    require(back && back->unix_seconds == dt->unix_seconds &&
            back->offset_minutes == dt->offset_minutes);
  }
  if (auto d = imap::proto::parse_date(in)) {
    require(d->month >= 1 && d->month <= 12 && d->day >= 1 && d->day <= 31);
    std::string out;
    imap::proto::write_date_time(out, d->epoch_day() * 86400, 0);
    // "\"dd-Mon-yyyy ..." -> the date part parses back to the same day.
    auto back = imap::proto::parse_date(std::string_view(out).substr(1, 11));
    if (out[1] == ' ') back = imap::proto::parse_date(std::string_view(out).substr(2, 10));
    require(back && back->epoch_day() == d->epoch_day());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  check_utf7(in);
  check_writer(in);
  check_dates(in);
  return 0;
}
