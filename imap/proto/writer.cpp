#include "imap/proto/writer.h"

#include <chrono>
#include <cstdio>

#include "core/util/ascii.h"
#include "core/util/utf7.h"

namespace imap::proto {

namespace {

// ATOM-CHAR: any CHAR (0x01-0x7F) except atom-specials: "(" ")" "{" SP CTL
// "%" "*" '"' "\" "]".
bool atom_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u >= 0x7F) return false;
  switch (c) {
    case '(':
    case ')':
    case '{':
    case '%':
    case '*':
    case '"':
    case '\\':
    case ']':
      return false;
    default:
      return true;
  }
}

bool astring_char(char c) {
  return atom_char(c) || c == ']';
}

bool quotable(std::string_view s, Utf8Mode utf8) {
  bool eight_bit = false;
  for (char c : s) {
    if (c == '\0' || c == '\r' || c == '\n') return false;
    if (static_cast<unsigned char>(c) >= 0x80) eight_bit = true;
  }
  if (!eight_bit) return true;
  return utf8 == Utf8Mode::kOn && core::valid_utf8(s);
}

void write_quoted(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

void append_number(std::string& out, uint64_t n) {
  out += std::to_string(n);
}

// Appends `text` made safe for resp-text / a continuation.
void append_text(std::string& out, std::string_view text, Utf8Mode utf8, bool guard_bracket) {
  const bool keep_8bit = utf8 == Utf8Mode::kOn && core::valid_utf8(text);
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) {
      out += ' ';
    } else if (u >= 0x80 && !keep_8bit) {
      out += '?';
    } else if (i == 0 && guard_bracket && c == '[') {
      out += '(';
    } else {
      out += c;
    }
  }
}

std::string_view default_text(Status s) {
  switch (s) {
    case Status::kOk:
      return "Completed";
    case Status::kNo:
      return "Failed";
    case Status::kBad:
      return "Invalid";
    case Status::kPreauth:
      return "Logged in";
    case Status::kBye:
      return "Closing";
  }
  return "Completed";
}

void append_resp_text(std::string& out, Status status, std::optional<std::string_view> code,
                      std::string_view text, Utf8Mode utf8) {
  bool have_code = false;
  if (code) {
    std::string clean;
    for (char c : *code) {
      const auto u = static_cast<unsigned char>(c);
      if (u >= 0x20 && u < 0x7F && c != ']') clean += c;
    }
    // Trim spaces so neither "[ X]" nor "[X ]" appears.
    const size_t first = clean.find_first_not_of(' ');
    if (first != std::string::npos) {
      const size_t last = clean.find_last_not_of(' ');
      out += '[';
      out.append(clean, first, last - first + 1);
      out += "] ";
      have_code = true;
    }
  }
  if (text.empty()) text = default_text(status);
  append_text(out, text, utf8, !have_code);
  out += "\r\n";
}

bool valid_tag(std::string_view tag) {
  if (tag.empty()) return false;
  for (char c : tag) {
    if (!astring_char(c) || c == '+') return false;
  }
  return true;
}

constexpr std::string_view kMonths[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

constexpr int64_t kSecondsPerDay = 86400;

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t days_from_civil(int year, int month, int day) {
  const std::chrono::sys_days d{std::chrono::year{year} /
                                std::chrono::month{static_cast<unsigned>(month)} /
                                std::chrono::day{static_cast<unsigned>(day)}};
  return d.time_since_epoch().count();
}

// A small cursor over the text being parsed.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}

  bool done() const { return pos_ == s_.size(); }
  bool eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool peek_digit() const { return pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9'; }
  // Exactly n digits.
  std::optional<int> digits(size_t n) {
    if (s_.size() - pos_ < n) return std::nullopt;
    int v = 0;
    for (size_t k = 0; k < n; ++k) {
      const char c = s_[pos_ + k];
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + (c - '0');
    }
    pos_ += n;
    return v;
  }
  // 1 or 2 digits.
  std::optional<int> one_or_two_digits() {
    auto v = digits(1);
    if (!v) return std::nullopt;
    if (peek_digit()) return *v * 10 + *digits(1);
    return v;
  }
  // A three-letter month name, any case; 1..12.
  std::optional<int> month() {
    if (s_.size() - pos_ < 3) return std::nullopt;
    const std::string_view name = s_.substr(pos_, 3);
    for (int m = 0; m < 12; ++m) {
      if (core::ascii_iequals(name, kMonths[m])) {
        pos_ += 3;
        return m + 1;
      }
    }
    return std::nullopt;
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

std::string_view strip_quotes(std::string_view s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') return s.substr(1, s.size() - 2);
  return s;
}

// "-Mon-yyyy" after the day; checks the day exists.
std::optional<CalendarDay> rest_of_date(Cursor& c, int day) {
  if (!c.eat('-')) return std::nullopt;
  const auto month = c.month();
  if (!month || !c.eat('-')) return std::nullopt;
  const auto year = c.digits(4);
  if (!year || *year == 0) return std::nullopt;  // years 0001-9999, as the writer shows
  const std::chrono::year_month_day ymd{std::chrono::year{*year},
                                        std::chrono::month{static_cast<unsigned>(*month)},
                                        std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok()) return std::nullopt;
  return CalendarDay{*year, *month, day};
}

}  // namespace

// ---------------------------------------------------------------- strings

bool is_atom(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!atom_char(c)) return false;
  }
  return true;
}

bool is_astring_atom(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!astring_char(c)) return false;
  }
  return true;
}

void write_string(std::string& out, std::string_view s, Utf8Mode utf8) {
  if (quotable(s, utf8)) {
    write_quoted(out, s);
  } else {
    write_literal(out, s);
  }
}

void write_astring(std::string& out, std::string_view s, Utf8Mode utf8) {
  if (is_astring_atom(s) && !core::ascii_iequals(s, "NIL")) {
    out += s;
  } else {
    write_string(out, s, utf8);
  }
}

void write_nstring(std::string& out, std::optional<std::string_view> s, Utf8Mode utf8) {
  if (!s) {
    out += "NIL";
  } else {
    write_string(out, *s, utf8);
  }
}

void write_literal(std::string& out, std::string_view bytes) {
  write_literal_header(out, bytes.size());
  out += bytes;
}

void write_literal_header(std::string& out, uint64_t size, bool binary) {
  if (binary) out += '~';
  out += '{';
  append_number(out, size);
  out += "}\r\n";
}

bool write_mailbox(std::string& out, std::string_view name, Utf8Mode utf8) {
  if (core::ascii_iequals(name, "INBOX")) {
    out += "INBOX";
    return true;
  }
  if (utf8 == Utf8Mode::kOn) {
    if (!core::valid_utf8(name)) {
      write_literal(out, name);
      return false;
    }
    write_astring(out, name, utf8);
    return true;
  }
  const auto encoded = core::mutf7_encode(name);
  if (!encoded) {
    write_literal(out, name);
    return false;
  }
  write_astring(out, *encoded, Utf8Mode::kOff);
  return true;
}

// ------------------------------------------------------------------ flags

void write_flag_list(std::string& out, uint32_t flags, std::span<const std::string> keywords) {
  static constexpr struct {
    uint32_t bit;
    std::string_view name;
  } kSystem[] = {{kFlagSeen, "\\Seen"},       {kFlagAnswered, "\\Answered"},
                 {kFlagFlagged, "\\Flagged"}, {kFlagDeleted, "\\Deleted"},
                 {kFlagDraft, "\\Draft"},     {kFlagRecent, "\\Recent"}};
  out += '(';
  bool first = true;
  auto item = [&](std::string_view name) {
    if (!first) out += ' ';
    first = false;
    out += name;
  };
  for (const auto& f : kSystem) {
    if (flags & f.bit) item(f.name);
  }
  for (const auto& k : keywords) {
    if (is_atom(k)) item(k);
  }
  if (flags & kFlagWildcard) item("\\*");
  out += ')';
}

// ---------------------------------------------------------- sequence sets

void write_sequence_set(std::string& out, std::span<const uint32_t> numbers) {
  bool first = true;
  size_t i = 0;
  while (i < numbers.size()) {
    const uint32_t start = numbers[i];
    if (start == 0) {
      ++i;
      continue;
    }
    uint32_t end = start;
    size_t j = i + 1;
    while (j < numbers.size() && end != UINT32_MAX && numbers[j] == end + 1) {
      end = numbers[j];
      ++j;
    }
    if (!first) out += ',';
    first = false;
    append_number(out, start);
    if (end != start) {
      out += ':';
      append_number(out, end);
    }
    i = j;
  }
}

// ------------------------------------------------------------------ dates

void write_date_time(std::string& out, int64_t unix_seconds, int offset_minutes) {
  if (offset_minutes < -(23 * 60 + 59) || offset_minutes > 23 * 60 + 59) offset_minutes = 0;
  // Local time, clamped to what four year digits can show.
  static const int64_t kMin = days_from_civil(1, 1, 1) * kSecondsPerDay;
  static const int64_t kMax = (days_from_civil(9999, 12, 31) + 1) * kSecondsPerDay - 1;
  int64_t local;
  if (__builtin_add_overflow(unix_seconds, int64_t{offset_minutes} * 60, &local)) {
    local = unix_seconds < 0 ? kMin : kMax;
  }
  if (local < kMin) local = kMin;
  if (local > kMax) local = kMax;
  const int64_t days = floor_div(local, kSecondsPerDay);
  const int64_t secs = local - days * kSecondsPerDay;
  const std::chrono::year_month_day ymd{
      std::chrono::sys_days{std::chrono::days{static_cast<int>(days)}}};
  const unsigned month = static_cast<unsigned>(ymd.month());
  const int zone = offset_minutes < 0 ? -offset_minutes : offset_minutes;
  char buf[64];
  const int n = std::snprintf(buf, sizeof buf, "\"%2u-%s-%04d %02d:%02d:%02d %c%02d%02d\"",
                              static_cast<unsigned>(ymd.day()), kMonths[month - 1].data(),
                              static_cast<int>(ymd.year()), static_cast<int>(secs / 3600),
                              static_cast<int>(secs / 60 % 60), static_cast<int>(secs % 60),
                              offset_minutes < 0 ? '-' : '+', zone / 60, zone % 60);
  out.append(buf, static_cast<size_t>(n));
}

std::optional<Timestamp> parse_date_time(std::string_view s) {
  Cursor c(strip_quotes(s));
  std::optional<int> day;
  if (c.eat(' ')) {
    day = c.digits(1);
  } else {
    day = c.one_or_two_digits();
  }
  if (!day) return std::nullopt;
  const auto date = rest_of_date(c, *day);
  if (!date || !c.eat(' ')) return std::nullopt;
  const auto hh = c.digits(2);
  if (!hh || !c.eat(':')) return std::nullopt;
  const auto mm = c.digits(2);
  if (!mm || !c.eat(':')) return std::nullopt;
  const auto ss = c.digits(2);
  if (!ss || !c.eat(' ')) return std::nullopt;
  if (*hh > 23 || *mm > 59 || *ss > 60) return std::nullopt;
  // Unix time has no leap seconds: 23:59:60 counts as 23:59:59 of that day.
  const int second = *ss == 60 ? 59 : *ss;
  int sign;
  if (c.eat('+')) {
    sign = 1;
  } else if (c.eat('-')) {
    sign = -1;
  } else {
    return std::nullopt;
  }
  const auto zh = c.digits(2);
  const auto zm = c.digits(2);
  if (!zh || !zm || *zh > 23 || *zm > 59 || !c.done()) return std::nullopt;
  Timestamp dt;
  dt.offset_minutes = sign * (*zh * 60 + *zm);
  dt.unix_seconds = date->epoch_day() * kSecondsPerDay + *hh * 3600 + *mm * 60 + second -
                    int64_t{dt.offset_minutes} * 60;
  return dt;
}

int64_t CalendarDay::epoch_day() const {
  return days_from_civil(year, month, day);
}

std::optional<CalendarDay> parse_date(std::string_view s) {
  Cursor c(strip_quotes(s));
  const auto day = c.one_or_two_digits();
  if (!day) return std::nullopt;
  auto date = rest_of_date(c, *day);
  if (!date || !c.done()) return std::nullopt;
  return date;
}

int64_t epoch_day(int64_t unix_seconds, int offset_minutes) {
  int64_t local;
  if (__builtin_add_overflow(unix_seconds, int64_t{offset_minutes} * 60, &local)) {
    local = unix_seconds;
  }
  return floor_div(local, kSecondsPerDay);
}

// -------------------------------------------------------------- responses

std::string_view status_name(Status s) {
  switch (s) {
    case Status::kOk:
      return "OK";
    case Status::kNo:
      return "NO";
    case Status::kBad:
      return "BAD";
    case Status::kPreauth:
      return "PREAUTH";
    case Status::kBye:
      return "BYE";
  }
  return "BAD";
}

std::string_view code_name(Code c) {
  switch (c) {
    case Code::kAlert:
      return "ALERT";
    case Code::kParse:
      return "PARSE";
    case Code::kReadOnly:
      return "READ-ONLY";
    case Code::kReadWrite:
      return "READ-WRITE";
    case Code::kTryCreate:
      return "TRYCREATE";
    case Code::kUidNotSticky:
      return "UIDNOTSTICKY";
    case Code::kClosed:
      return "CLOSED";
    case Code::kHasChildren:
      return "HASCHILDREN";
    case Code::kUnknownCte:
      return "UNKNOWN-CTE";
    case Code::kUnavailable:
      return "UNAVAILABLE";
    case Code::kAuthenticationFailed:
      return "AUTHENTICATIONFAILED";
    case Code::kAuthorizationFailed:
      return "AUTHORIZATIONFAILED";
    case Code::kExpired:
      return "EXPIRED";
    case Code::kPrivacyRequired:
      return "PRIVACYREQUIRED";
    case Code::kContactAdmin:
      return "CONTACTADMIN";
    case Code::kNoPerm:
      return "NOPERM";
    case Code::kInUse:
      return "INUSE";
    case Code::kExpungeIssued:
      return "EXPUNGEISSUED";
    case Code::kCorruption:
      return "CORRUPTION";
    case Code::kServerBug:
      return "SERVERBUG";
    case Code::kClientBug:
      return "CLIENTBUG";
    case Code::kCannot:
      return "CANNOT";
    case Code::kLimit:
      return "LIMIT";
    case Code::kOverQuota:
      return "OVERQUOTA";
    case Code::kAlreadyExists:
      return "ALREADYEXISTS";
    case Code::kNonExistent:
      return "NONEXISTENT";
  }
  return "SERVERBUG";
}

std::string code_uidvalidity(uint32_t uidvalidity) {
  return "UIDVALIDITY " + std::to_string(uidvalidity);
}

std::string code_uidnext(uint32_t uidnext) {
  return "UIDNEXT " + std::to_string(uidnext);
}

std::string code_unseen(uint32_t seq) {
  return "UNSEEN " + std::to_string(seq);
}

std::string code_highestmodseq(uint64_t modseq) {
  return "HIGHESTMODSEQ " + std::to_string(modseq);
}

std::string code_appenduid(uint32_t uidvalidity, uint32_t uid) {
  return "APPENDUID " + std::to_string(uidvalidity) + " " + std::to_string(uid);
}

std::string code_copyuid(uint32_t uidvalidity, std::span<const uint32_t> source_uids,
                         std::span<const uint32_t> dest_uids) {
  std::string out = "COPYUID " + std::to_string(uidvalidity) + " ";
  write_sequence_set(out, source_uids);
  out += ' ';
  write_sequence_set(out, dest_uids);
  return out;
}

std::string code_permanentflags(uint32_t flags, std::span<const std::string> keywords) {
  std::string out = "PERMANENTFLAGS ";
  write_flag_list(out, flags & ~kFlagRecent, keywords);
  return out;
}

std::string code_capability(std::string_view capabilities) {
  std::string out = "CAPABILITY ";
  out += capabilities;
  return out;
}

void tagged(std::string& out, std::string_view tag, Status status,
            std::optional<std::string_view> code, std::string_view text, Utf8Mode utf8) {
  if (status != Status::kOk && status != Status::kNo) status = Status::kBad;
  if (valid_tag(tag)) {
    out += tag;
  } else {
    out += '*';
  }
  out += ' ';
  out += status_name(status);
  out += ' ';
  append_resp_text(out, status, code, text, utf8);
}

std::string tagged(std::string_view tag, Status status, std::optional<std::string_view> code,
                   std::string_view text, Utf8Mode utf8) {
  std::string out;
  tagged(out, tag, status, code, text, utf8);
  return out;
}

void untagged(std::string& out, Status status, std::optional<std::string_view> code,
              std::string_view text, Utf8Mode utf8) {
  out += "* ";
  out += status_name(status);
  out += ' ';
  append_resp_text(out, status, code, text, utf8);
}

std::string untagged(Status status, std::optional<std::string_view> code, std::string_view text,
                     Utf8Mode utf8) {
  std::string out;
  untagged(out, status, code, text, utf8);
  return out;
}

void untagged_number(std::string& out, uint64_t n, std::string_view word) {
  out += "* ";
  append_number(out, n);
  out += ' ';
  out += word;
  out += "\r\n";
}

void continuation(std::string& out, std::string_view text) {
  out += "+ ";
  append_text(out, text, Utf8Mode::kOff, true);
  out += "\r\n";
}

std::string continuation(std::string_view text) {
  std::string out;
  continuation(out, text);
  return out;
}

}  // namespace imap::proto
