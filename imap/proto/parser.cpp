// IMAP command parser: framing (lines, literals, APPEND streaming) and a
// recursive-descent parser over one complete command.
//
// A command is collected in `cmd_` exactly as it will be parsed: the line
// text, each literal marker followed by "\n" and the literal's bytes, then
// the rest of the line. Line ends are stripped (CRLF or bare LF).
#include "imap/proto/parser.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "core/util/ascii.h"
#include "core/util/utf7.h"

namespace imap::proto {

namespace {

constexpr int kMaxDepth = 32;        // nesting of lists and search keys
constexpr size_t kTailKeep = 32;     // bytes of a skipped line kept to spot "{n+}"
constexpr size_t kTagWindow = 1024;  // a tag is looked for in this many leading bytes

bool is_ctl(unsigned char c) {
  return c < 0x20 || c == 0x7f;
}

// ATOM-CHAR: any 7-bit char except atom-specials.
bool is_atom_char(char ch) {
  unsigned char c = static_cast<unsigned char>(ch);
  if (c >= 0x80 || is_ctl(c)) return false;
  switch (c) {
    case '(':
    case ')':
    case '{':
    case ' ':
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
bool is_astring_char(char c) {
  return is_atom_char(c) || c == ']';
}
bool is_tag_char(char c) {
  return is_astring_char(c) && c != '+';
}
bool is_list_char(char c) {
  return is_astring_char(c) || c == '%' || c == '*';
}
// Atoms of generic parameter lists: also flags ("\Drafts") and sets with '*'.
bool is_value_char(char c) {
  return is_list_char(c) || c == '\\';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

std::string canonical_flag(std::string_view name) {
  static constexpr const char* kSystem[] = {"\\Answered", "\\Flagged", "\\Deleted",
                                            "\\Seen",     "\\Draft",   "\\Recent"};
  for (const char* f : kSystem) {
    if (core::ascii_iequals(name, f)) return f;
  }
  return std::string(name);
}

// A literal marker at the end of a line: "{n}", "{n+}", "~{n}", "~{n+}".
struct Marker {
  size_t start = 0;  // offset of '{' or '~' in the line
  uint64_t size = 0;
  bool sync = true;
  bool binary = false;
};

std::optional<Marker> find_marker(std::string_view line) {
  if (line.empty() || line.back() != '}') return std::nullopt;
  size_t end = line.size() - 1;  // at '}'
  Marker m;
  if (end > 0 && line[end - 1] == '+') {
    m.sync = false;
    --end;
  }
  size_t digits_end = end;
  while (end > 0 && is_digit(line[end - 1])) --end;
  if (end == digits_end || end == 0 || line[end - 1] != '{') return std::nullopt;
  std::string_view digits = line.substr(end, digits_end - end);
  uint64_t n = 0;
  for (char c : digits) {
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (n > (UINT64_MAX - d) / 10) {
      n = UINT64_MAX;  // absurd: reported as too big
      break;
    }
    n = n * 10 + d;
  }
  m.size = n;
  m.start = end - 1;
  if (m.start > 0 && line[m.start - 1] == '~') {
    m.binary = true;
    --m.start;
  }
  return m;
}

int month_number(std::string_view m) {
  static constexpr const char* kMonths[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                            "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
  for (int i = 0; i < 12; ++i) {
    if (core::ascii_iequals(m, kMonths[i])) return i + 1;
  }
  return 0;
}

// Recursive-descent reader over one complete command. Every method returns
// false on a syntax error, with the first error message kept.
class Cursor {
 public:
  explicit Cursor(std::string_view s, QuotedText quoted = QuotedText::kAny)
      : s_(s), quoted_(quoted) {}

  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[pos_]; }
  char peek_at(size_t k) const { return pos_ + k < s_.size() ? s_[pos_ + k] : '\0'; }
  bool eat(char c) {
    if (at_end() || s_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  bool fail(std::string_view msg) {
    if (error_.empty()) error_ = msg;
    return false;
  }
  const std::string& error() const { return error_; }
  size_t pos() const { return pos_; }

  bool sp() { return eat(' ') || fail("expected a space"); }
  bool expect(char c, std::string_view msg) { return eat(c) || fail(msg); }

  template <typename Pred>
  std::string_view take_while(Pred pred) {
    size_t start = pos_;
    while (!at_end() && pred(s_[pos_])) ++pos_;
    return s_.substr(start, pos_ - start);
  }

  // The next atom, upper-cased (for keywords and names).
  bool keyword(std::string* out) {
    std::string_view a = take_while(is_atom_char);
    if (a.empty()) return fail("expected a keyword");
    *out = to_upper(a);
    return true;
  }

  // Consumes the atom `kw` (any case) if it is next, followed by a non-atom char.
  bool try_keyword(std::string_view kw) {
    if (s_.size() - pos_ < kw.size()) return false;
    if (!core::ascii_iequals(s_.substr(pos_, kw.size()), kw)) return false;
    if (pos_ + kw.size() < s_.size() && is_atom_char(s_[pos_ + kw.size()])) return false;
    pos_ += kw.size();
    return true;
  }

  bool tag(std::string* out) {
    std::string_view t = take_while(is_tag_char);
    if (t.empty()) return fail("missing or invalid tag");
    *out = std::string(t);
    return true;
  }

  bool quoted(std::string* out) {
    if (!eat('"')) return fail("expected a quoted string");
    out->clear();
    bool eight_bit = false;
    while (true) {
      if (at_end()) return fail("unterminated quoted string");
      char c = s_[pos_++];
      if (c == '"') return eight_bit ? check_8bit(*out) : true;
      if (static_cast<unsigned char>(c) >= 0x80) eight_bit = true;
      if (c == '\\') {
        char e = peek();
        if (e != '"' && e != '\\') return fail("bad escape in quoted string");
        out->push_back(e);
        ++pos_;
        continue;
      }
      if (c == '\r' || c == '\n' || c == '\0') return fail("bad character in quoted string");
      out->push_back(c);
    }
  }

  // 8-bit text in a quoted string (RFC 9051 4.3, RFC 6855 3).
  bool check_8bit(std::string_view text) {
    switch (quoted_) {
      case QuotedText::kAny:
        return true;
      case QuotedText::kAscii:
        return fail(
            "8-bit characters in a quoted string need ENABLE UTF8=ACCEPT; send them as a "
            "literal");
      case QuotedText::kUtf8:
        return core::valid_utf8(text) || fail("quoted string is not valid UTF-8");
    }
    return true;
  }

  bool literal(std::string* out) {
    if (peek() == '~') return fail("literal8 is not allowed here");
    if (!eat('{')) return fail("expected a literal");
    std::string_view digits = take_while(is_digit);
    if (digits.empty() || digits.size() > 19) return fail("bad literal size");
    uint64_t n = 0;
    for (char c : digits) n = n * 10 + static_cast<uint64_t>(c - '0');
    eat('+');
    if (!eat('}') || !eat('\n')) return fail("bad literal");
    if (n > s_.size() - pos_) return fail("truncated literal");
    std::string_view data = s_.substr(pos_, static_cast<size_t>(n));
    if (data.find('\0') != std::string_view::npos) return fail("NUL in literal");
    *out = std::string(data);
    pos_ += static_cast<size_t>(n);
    return true;
  }

  bool string(std::string* out, Mailbox::Form* form = nullptr) {
    if (peek() == '"') {
      if (form) *form = Mailbox::Form::kQuoted;
      return quoted(out);
    }
    if (peek() == '{' || (peek() == '~' && peek_at(1) == '{')) {
      if (form) *form = Mailbox::Form::kLiteral;
      return literal(out);
    }
    return fail("expected a string");
  }

  bool astring(std::string* out, Mailbox::Form* form = nullptr) {
    char c = peek();
    if (c == '"' || c == '{' || (c == '~' && peek_at(1) == '{')) return string(out, form);
    std::string_view a = take_while(is_astring_char);
    if (a.empty()) return fail("expected an atom or string");
    if (form) *form = Mailbox::Form::kAtom;
    *out = std::string(a);
    return true;
  }

  // nstring: NIL or a string.
  bool nstring(std::optional<std::string>* out) {
    if (try_keyword("NIL")) {
      out->reset();
      return true;
    }
    std::string s;
    if (!string(&s)) return false;
    *out = std::move(s);
    return true;
  }

  bool mailbox(Mailbox* out) { return astring(&out->name, &out->form); }

  bool list_mailbox(Mailbox* out) {
    char c = peek();
    if (c == '"' || c == '{' || (c == '~' && peek_at(1) == '{')) {
      return string(&out->name, &out->form);
    }
    std::string_view a = take_while(is_list_char);
    if (a.empty()) return fail("expected a mailbox pattern");
    out->form = Mailbox::Form::kAtom;
    out->name = std::string(a);
    return true;
  }

  bool number64(uint64_t* out, uint64_t max = 0x7fffffffffffffffull) {
    std::string_view d = take_while(is_digit);
    if (d.empty()) return fail("expected a number");
    uint64_t n = 0;
    for (char c : d) {
      uint64_t v = static_cast<uint64_t>(c - '0');
      if (n > (max - v) / 10) return fail("number out of range");
      n = n * 10 + v;
    }
    *out = n;
    return true;
  }
  bool number(uint32_t* out) {
    uint64_t n = 0;
    if (!number64(&n, 0xffffffffull)) return false;
    *out = static_cast<uint32_t>(n);
    return true;
  }
  bool nz_number(uint32_t* out) {
    if (!number(out)) return false;
    return *out != 0 || fail("zero is not allowed here");
  }

  bool flag(std::string* out) {
    if (eat('\\')) {
      std::string_view a = take_while(is_atom_char);
      if (a.empty()) return fail("bad flag");
      *out = canonical_flag("\\" + std::string(a));
      return true;
    }
    std::string_view a = take_while(is_atom_char);
    if (a.empty()) return fail("expected a flag");
    *out = std::string(a);
    return true;
  }

  bool flag_list(std::vector<std::string>* out) {
    if (!expect('(', "expected a flag list")) return false;
    out->clear();
    if (eat(')')) return true;
    while (true) {
      std::string f;
      if (!flag(&f)) return false;
      out->push_back(std::move(f));
      if (eat(')')) return true;
      if (!sp()) return false;
    }
  }

  // "(" atom *(SP atom) ")", upper-cased; empty allowed when `allow_empty`.
  bool keyword_list(std::vector<std::string>* out, bool allow_empty) {
    if (!expect('(', "expected a list")) return false;
    out->clear();
    if (eat(')')) return allow_empty || fail("empty list");
    while (true) {
      std::string k;
      if (!keyword(&k)) return false;
      out->push_back(std::move(k));
      if (eat(')')) return true;
      if (!sp()) return false;
    }
  }

  bool date_text(Date* out) {
    std::string_view day = take_while(is_digit);
    if (day.empty() || day.size() > 2) return fail("bad date");
    out->day = std::stoi(std::string(day));
    if (!eat('-')) return fail("bad date");
    std::string_view mon = s_.substr(pos_, std::min<size_t>(3, s_.size() - pos_));
    out->month = month_number(mon);
    if (out->month == 0) return fail("bad month");
    pos_ += 3;
    if (!eat('-')) return fail("bad date");
    std::string_view year = take_while(is_digit);
    if (year.size() != 4) return fail("bad year");
    out->year = std::stoi(std::string(year));
    if (out->day < 1 || out->day > 31) return fail("bad day");
    return true;
  }

  // date = date-text / DQUOTE date-text DQUOTE
  bool date(Date* out) {
    bool q = eat('"');
    if (!date_text(out)) return false;
    if (q && !eat('"')) return fail("bad date");
    return true;
  }

  bool two_digits(int* out) {
    if (!is_digit(peek()) || !is_digit(peek_at(1))) return fail("bad time");
    *out = (peek() - '0') * 10 + (peek_at(1) - '0');
    pos_ += 2;
    return true;
  }

  // DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE
  bool date_time(DateTime* out) {
    if (!expect('"', "expected a date-time")) return false;
    eat(' ');  // date-day-fixed: " 1" for single-digit days
    if (!date_text(&out->date)) return fail("bad date-time");
    if (!eat(' ')) return fail("bad date-time");
    if (!two_digits(&out->hour) || !eat(':') || !two_digits(&out->minute) || !eat(':') ||
        !two_digits(&out->second)) {
      return fail("bad time");
    }
    if (!eat(' ')) return fail("bad date-time");
    int sign = 0;
    if (eat('+')) {
      sign = 1;
    } else if (eat('-')) {
      sign = -1;
    } else {
      return fail("bad zone");
    }
    int hh = 0, mm = 0;
    if (!two_digits(&hh) || !two_digits(&mm)) return fail("bad zone");
    if (!eat('"')) return fail("bad date-time");
    if (out->hour > 23 || out->minute > 59 || out->second > 60 || mm > 59) {
      return fail("bad date-time");
    }
    out->zone_minutes = sign * (hh * 60 + mm);
    return true;
  }

  bool seq_number(uint32_t* out) {
    if (eat('*')) {
      *out = kStar;
      return true;
    }
    return nz_number(out);
  }

  bool seq_set(SequenceSet* out) {
    out->ranges.clear();
    out->saved = false;
    if (eat('$')) {
      out->saved = true;
      return true;
    }
    while (true) {
      uint32_t a = 0, b = 0;
      if (!seq_number(&a)) return fail("bad sequence set");
      b = a;
      if (eat(':') && !seq_number(&b)) return fail("bad sequence set");
      out->ranges.push_back(SeqRange{std::min(a, b), std::max(a, b)});
      if (!eat(',')) return true;
    }
  }

  bool value(Value* out, int depth) {
    if (depth > kMaxDepth) return fail("nesting too deep");
    char c = peek();
    if (c == '(') {
      out->kind = Value::Kind::kList;
      return value_list(&out->items, depth + 1);
    }
    if (c == '"' || c == '{' || (c == '~' && peek_at(1) == '{')) {
      out->kind = Value::Kind::kString;
      return string(&out->text);
    }
    std::string_view a = take_while(is_value_char);
    if (a.empty()) return fail("expected a value");
    if (core::ascii_iequals(a, "NIL")) {
      out->kind = Value::Kind::kNil;
      return true;
    }
    out->kind = Value::Kind::kAtom;
    out->text = std::string(a);
    return true;
  }

  bool value_list(std::vector<Value>* out, int depth) {
    if (!expect('(', "expected a list")) return false;
    out->clear();
    if (eat(')')) return true;
    while (true) {
      Value v;
      if (!value(&v, depth)) return false;
      out->push_back(std::move(v));
      if (eat(')')) return true;
      if (!sp()) return false;
    }
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
  std::string error_;
  QuotedText quoted_ = QuotedText::kAny;
};

// ------------------------------------------------------------ QRESYNC

// A sequence set inside a QRESYNC parameter: numbers only (no "*", no "$").
bool qresync_set(const Value& v, SequenceSet* out) {
  if (v.kind != Value::Kind::kAtom) return false;
  Cursor c(v.text);
  if (!c.seq_set(out) || !c.at_end() || out->saved) return false;
  for (const auto& r : out->ranges) {
    if (r.lo == kStar || r.hi == kStar) return false;
  }
  return true;
}

// Expands a set in the order sent ("5:3" counts down, as the client wrote
// it; the normalised set has lo <= hi, so the text is read again).
bool qresync_expand(const Value& v, std::vector<uint32_t>* out) {
  std::string_view t = v.text;
  while (!t.empty()) {
    size_t comma = t.find(',');
    std::string_view part = t.substr(0, comma);
    t = comma == std::string_view::npos ? std::string_view() : t.substr(comma + 1);
    size_t colon = part.find(':');
    uint64_t a = 0, b = 0;
    for (char ch : part.substr(0, colon)) a = a * 10 + static_cast<uint64_t>(ch - '0');
    b = a;
    if (colon != std::string_view::npos) {
      b = 0;
      for (char ch : part.substr(colon + 1)) b = b * 10 + static_cast<uint64_t>(ch - '0');
    }
    uint64_t n = (a <= b ? b - a : a - b) + 1;
    if (out->size() + n > kMaxSeqMatch) return false;
    if (a <= b) {
      for (uint64_t x = a; x <= b; ++x) out->push_back(static_cast<uint32_t>(x));
    } else {
      for (uint64_t x = a; x >= b; --x) out->push_back(static_cast<uint32_t>(x));
    }
  }
  return true;
}

bool qresync_number(const Value& v, uint64_t max, uint64_t* out) {
  if (v.kind != Value::Kind::kAtom || v.text.empty() || v.text.size() > 19) return false;
  uint64_t n = 0;
  for (char ch : v.text) {
    if (ch < '0' || ch > '9') return false;
    n = n * 10 + static_cast<uint64_t>(ch - '0');
  }
  if (n > max) return false;
  *out = n;
  return true;
}

bool qresync_params(const std::vector<Value>& items, QresyncParams* q, std::string* why) {
  if (items.size() < 2 || items.size() > 4) {
    *why = "QRESYNC needs (uidvalidity modseq [known-uids] [seq-match-data])";
    return false;
  }
  uint64_t n = 0;
  if (!qresync_number(items[0], 0xffffffffull, &n) || n == 0) {
    *why = "QRESYNC: bad UIDVALIDITY";
    return false;
  }
  q->uidvalidity = static_cast<uint32_t>(n);
  if (!qresync_number(items[1], 0x7fffffffffffffffull, &q->modseq)) {
    *why = "QRESYNC: bad mod-sequence";
    return false;
  }
  size_t i = 2;
  if (i < items.size() && items[i].kind == Value::Kind::kAtom) {
    SequenceSet s;
    if (!qresync_set(items[i], &s)) {
      *why = "QRESYNC: bad known-uids (a UID set without *)";
      return false;
    }
    q->known_uids = std::move(s);
    ++i;
  }
  if (i < items.size()) {
    const Value& m = items[i];
    SequenceSet s1, s2;
    if (m.kind != Value::Kind::kList || m.items.size() != 2 || !qresync_set(m.items[0], &s1) ||
        !qresync_set(m.items[1], &s2)) {
      *why = "QRESYNC: bad seq-match-data (needs (message-numbers UIDs), without *)";
      return false;
    }
    if (!qresync_expand(m.items[0], &q->match_seqs) ||
        !qresync_expand(m.items[1], &q->match_uids)) {
      *why = "QRESYNC: seq-match-data too large";
      return false;
    }
    if (q->match_seqs.size() != q->match_uids.size()) {
      *why = "QRESYNC: seq-match-data sets differ in size";
      return false;
    }
    ++i;
  }
  if (i != items.size()) {
    *why = "QRESYNC: unexpected parameter";
    return false;
  }
  return true;
}

// ------------------------------------------------------------ SEARCH keys

bool search_key(Cursor& c, SearchKey* out, int depth);

bool search_group(Cursor& c, SearchKey* out, int depth, char close) {
  out->kind = SearchKey::Kind::kAnd;
  while (true) {
    SearchKey k;
    if (!search_key(c, &k, depth + 1)) return false;
    out->children.push_back(std::move(k));
    if (close != '\0' && c.eat(close)) return true;
    if (close == '\0' && c.at_end()) return true;
    if (!c.sp()) return false;
  }
}

bool search_key(Cursor& c, SearchKey* out, int depth) {
  using K = SearchKey::Kind;
  if (depth > kMaxDepth) return c.fail("search program too deep");
  char ch = c.peek();
  if (ch == '(') {
    c.eat('(');
    return search_group(c, out, depth, ')');
  }
  if (is_digit(ch) || ch == '*' || ch == '$') {
    out->kind = K::kSequenceSet;
    return c.seq_set(&out->set);
  }
  std::string name;
  if (!c.keyword(&name)) return c.fail("expected a search key");
  static const std::pair<const char*, K> kNoArg[] = {{"ALL", K::kAll},
                                                     {"ANSWERED", K::kAnswered},
                                                     {"DELETED", K::kDeleted},
                                                     {"DRAFT", K::kDraft},
                                                     {"FLAGGED", K::kFlagged},
                                                     {"NEW", K::kNew},
                                                     {"OLD", K::kOld},
                                                     {"RECENT", K::kRecent},
                                                     {"SEEN", K::kSeen},
                                                     {"UNANSWERED", K::kUnanswered},
                                                     {"UNDELETED", K::kUndeleted},
                                                     {"UNDRAFT", K::kUndraft},
                                                     {"UNFLAGGED", K::kUnflagged},
                                                     {"UNSEEN", K::kUnseen}};
  for (const auto& [n, k] : kNoArg) {
    if (name == n) {
      out->kind = k;
      return true;
    }
  }
  static const std::pair<const char*, K> kString[] = {
      {"BCC", K::kBcc},         {"BODY", K::kBody}, {"CC", K::kCc}, {"FROM", K::kFrom},
      {"SUBJECT", K::kSubject}, {"TEXT", K::kText}, {"TO", K::kTo}};
  for (const auto& [n, k] : kString) {
    if (name == n) {
      out->kind = k;
      return c.sp() && c.astring(&out->text);
    }
  }
  static const std::pair<const char*, K> kDate[] = {
      {"BEFORE", K::kBefore},         {"ON", K::kOn},         {"SINCE", K::kSince},
      {"SENTBEFORE", K::kSentBefore}, {"SENTON", K::kSentOn}, {"SENTSINCE", K::kSentSince}};
  for (const auto& [n, k] : kDate) {
    if (name == n) {
      out->kind = k;
      return c.sp() && c.date(&out->date);
    }
  }
  if (name == "KEYWORD" || name == "UNKEYWORD") {
    out->kind = name == "KEYWORD" ? K::kKeyword : K::kUnkeyword;
    if (!c.sp()) return false;
    std::string_view a = c.take_while(is_atom_char);
    if (a.empty()) return c.fail("expected a keyword");
    out->text = std::string(a);
    return true;
  }
  if (name == "HEADER") {
    out->kind = K::kHeader;
    return c.sp() && c.astring(&out->text) && c.sp() && c.astring(&out->value);
  }
  if (name == "LARGER" || name == "SMALLER") {
    out->kind = name == "LARGER" ? K::kLarger : K::kSmaller;
    return c.sp() && c.number64(&out->number);
  }
  if (name == "OLDER" || name == "YOUNGER") {
    out->kind = name == "OLDER" ? K::kOlder : K::kYounger;
    uint32_t n = 0;
    if (!c.sp() || !c.nz_number(&n)) return false;
    out->number = n;
    return true;
  }
  if (name == "UID") {
    out->kind = K::kUid;
    return c.sp() && c.seq_set(&out->set);
  }
  if (name == "NOT") {
    out->kind = K::kNot;
    out->children.resize(1);
    return c.sp() && search_key(c, &out->children[0], depth + 1);
  }
  if (name == "OR") {
    out->kind = K::kOr;
    out->children.resize(2);
    return c.sp() && search_key(c, &out->children[0], depth + 1) && c.sp() &&
           search_key(c, &out->children[1], depth + 1);
  }
  if (name == "MODSEQ") {
    out->kind = K::kModSeq;
    if (!c.sp()) return false;
    if (c.peek() == '"') {
      std::string entry;
      if (!c.quoted(&entry)) return false;
      constexpr std::string_view kPrefix = "/flags/";
      if (entry.size() <= kPrefix.size() ||
          !core::ascii_iequals(entry.substr(0, kPrefix.size()), kPrefix)) {
        return c.fail("bad MODSEQ entry name");
      }
      out->text = canonical_flag(entry.substr(kPrefix.size()));
      std::string type;
      if (!c.sp() || !c.keyword(&type)) return false;
      if (type != "PRIV" && type != "SHARED" && type != "ALL") {
        return c.fail("bad MODSEQ entry type");
      }
      for (char& t : type) t = static_cast<char>(t - 'A' + 'a');
      out->value = type;
      if (!c.sp()) return false;
    }
    return c.number64(&out->number);
  }
  static const std::pair<const char*, K> kSaved[] = {
      {"SAVEDBEFORE", K::kSavedBefore}, {"SAVEDON", K::kSavedOn}, {"SAVEDSINCE", K::kSavedSince}};
  for (const auto& [n, k] : kSaved) {
    if (name == n) {
      out->kind = k;
      return c.sp() && c.date(&out->date);
    }
  }
  if (name == "SAVEDATESUPPORTED") {
    out->kind = K::kSaveDateSupported;
    return true;
  }
  if (name == "EMAILID" || name == "THREADID") {
    // RFC 8474 objectid: 1*255 of ALPHA / DIGIT / "_" / "-".
    out->kind = name == "EMAILID" ? K::kEmailId : K::kThreadId;
    if (!c.sp()) return false;
    std::string_view id = c.take_while(is_atom_char);
    bool ok = !id.empty() && id.size() <= 255;
    for (char ch : id) {
      ok = ok && (is_digit(ch) || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                  ch == '_' || ch == '-');
    }
    if (!ok) return c.fail("bad object id");
    out->text = std::string(id);
    return true;
  }
  return c.fail("unknown search key " + name);
}

// ------------------------------------------------------------ FETCH

bool section(Cursor& c, Section* out, bool binary) {
  if (!c.expect('[', "expected a section")) return false;
  if (c.eat(']')) return true;
  bool has_part = false;
  if (is_digit(c.peek())) {
    has_part = true;
    while (true) {
      uint32_t n = 0;
      if (!c.nz_number(&n)) return false;
      out->part.push_back(n);
      if (c.peek() == '.' && is_digit(c.peek_at(1))) {
        c.eat('.');
        continue;
      }
      break;
    }
    if (binary || c.peek() == ']') return c.expect(']', "expected ]");
    if (!c.expect('.', "bad section")) return false;
  } else if (binary) {
    return c.fail("bad binary section");
  }
  std::string_view text = c.take_while(
      [](char ch) { return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '.'; });
  std::string t = to_upper(text);
  if (t == "HEADER") {
    out->text = Section::Text::kHeader;
  } else if (t == "HEADER.FIELDS" || t == "HEADER.FIELDS.NOT") {
    out->text =
        t == "HEADER.FIELDS" ? Section::Text::kHeaderFields : Section::Text::kHeaderFieldsNot;
    if (!c.sp() || !c.expect('(', "expected a header list")) return false;
    while (true) {
      std::string f;
      if (!c.astring(&f)) return false;
      out->fields.push_back(std::move(f));
      if (c.eat(')')) break;
      if (!c.sp()) return false;
    }
  } else if (t == "TEXT") {
    out->text = Section::Text::kText;
  } else if (t == "MIME" && has_part) {
    out->text = Section::Text::kMime;
  } else {
    return c.fail("bad section");
  }
  return c.expect(']', "expected ]");
}

bool partial(Cursor& c, std::optional<Partial>* out) {
  if (!c.eat('<')) return true;
  Partial p;
  if (!c.number(&p.offset) || !c.expect('.', "bad partial") || !c.nz_number(&p.length) ||
      !c.expect('>', "bad partial")) {
    return c.fail("bad partial");
  }
  *out = p;
  return true;
}

bool fetch_att(Cursor& c, FetchAtt* out) {
  using K = FetchAtt::Kind;
  std::string_view raw = c.take_while([](char ch) { return is_atom_char(ch) && ch != '['; });
  std::string name = to_upper(raw);
  static const std::pair<const char*, K> kSimple[] = {{"ENVELOPE", K::kEnvelope},
                                                      {"FLAGS", K::kFlags},
                                                      {"INTERNALDATE", K::kInternalDate},
                                                      {"RFC822", K::kRfc822},
                                                      {"RFC822.HEADER", K::kRfc822Header},
                                                      {"RFC822.SIZE", K::kRfc822Size},
                                                      {"RFC822.TEXT", K::kRfc822Text},
                                                      {"BODYSTRUCTURE", K::kBodyStructure},
                                                      {"UID", K::kUid},
                                                      {"MODSEQ", K::kModSeq},
                                                      {"SAVEDATE", K::kSaveDate},
                                                      {"EMAILID", K::kEmailId},
                                                      {"THREADID", K::kThreadId}};
  for (const auto& [n, k] : kSimple) {
    if (name == n) {
      out->kind = k;
      return true;
    }
  }
  if (name == "PREVIEW") {
    out->kind = K::kPreview;
    // RFC 8970 modifiers: " (LAZY)". A list that starts with a FETCH
    // modifier (CHANGEDSINCE, VANISHED) belongs to the command instead.
    if (c.peek() != ' ' || c.peek_at(1) != '(') return true;
    std::string first;
    for (size_t k = 2; is_atom_char(c.peek_at(k)); ++k) first += c.peek_at(k);
    first = to_upper(first);
    if (first == "CHANGEDSINCE" || first == "VANISHED") return true;
    c.eat(' ');
    c.eat('(');
    while (true) {
      std::string m;
      if (!c.keyword(&m)) return false;
      if (m != "LAZY") return c.fail("unknown PREVIEW modifier " + m);
      out->lazy = true;
      if (c.eat(')')) return true;
      if (!c.sp()) return false;
    }
  }
  if (name == "BODY" && c.peek() != '[') {
    out->kind = K::kBody;
    return true;
  }
  if (name == "BODY" || name == "BODY.PEEK") {
    out->kind = K::kBodySection;
    out->peek = name == "BODY.PEEK";
    return section(c, &out->section, false) && partial(c, &out->partial);
  }
  if (name == "BINARY" || name == "BINARY.PEEK") {
    out->kind = K::kBinary;
    out->peek = name == "BINARY.PEEK";
    return section(c, &out->section, true) && partial(c, &out->partial);
  }
  if (name == "BINARY.SIZE") {
    out->kind = K::kBinarySize;
    return section(c, &out->section, true);
  }
  return c.fail(name.empty() ? "expected a fetch attribute" : "unknown fetch attribute " + name);
}

void add_atts(FetchArgs* a, std::initializer_list<FetchAtt::Kind> kinds) {
  for (FetchAtt::Kind k : kinds) {
    FetchAtt att;
    att.kind = k;
    a->atts.push_back(att);
  }
}

bool fetch_args(Cursor& c, FetchArgs* a) {
  using K = FetchAtt::Kind;
  if (!c.sp() || !c.seq_set(&a->set) || !c.sp()) return false;
  if (c.try_keyword("ALL")) {
    a->macro = FetchArgs::Macro::kAll;
    add_atts(a, {K::kFlags, K::kInternalDate, K::kRfc822Size, K::kEnvelope});
  } else if (c.try_keyword("FAST")) {
    a->macro = FetchArgs::Macro::kFast;
    add_atts(a, {K::kFlags, K::kInternalDate, K::kRfc822Size});
  } else if (c.try_keyword("FULL")) {
    a->macro = FetchArgs::Macro::kFull;
    add_atts(a, {K::kFlags, K::kInternalDate, K::kRfc822Size, K::kEnvelope, K::kBody});
  } else if (c.eat('(')) {
    while (true) {
      // A macro inside the list is outside the RFC grammar, but clients and
      // other servers use "(ALL)"; it means the same as the bare macro.
      if (c.try_keyword("ALL")) {
        add_atts(a, {K::kFlags, K::kInternalDate, K::kRfc822Size, K::kEnvelope});
      } else if (c.try_keyword("FAST")) {
        add_atts(a, {K::kFlags, K::kInternalDate, K::kRfc822Size});
      } else if (c.try_keyword("FULL")) {
        add_atts(a, {K::kFlags, K::kInternalDate, K::kRfc822Size, K::kEnvelope, K::kBody});
      } else {
        FetchAtt att;
        if (!fetch_att(c, &att)) return false;
        a->atts.push_back(std::move(att));
      }
      if (c.eat(')')) break;
      if (!c.sp()) return false;
    }
  } else {
    FetchAtt att;
    if (!fetch_att(c, &att)) return false;
    a->atts.push_back(std::move(att));
  }
  if (c.at_end()) return true;
  if (!c.sp() || !c.expect('(', "expected fetch modifiers")) return false;
  while (true) {
    std::string m;
    if (!c.keyword(&m)) return false;
    if (m == "CHANGEDSINCE") {
      uint64_t n = 0;
      if (!c.sp() || !c.number64(&n)) return false;
      if (n == 0) return c.fail("CHANGEDSINCE needs a non-zero mod-sequence");
      a->changed_since = n;
    } else if (m == "VANISHED") {
      a->vanished = true;
    } else {
      return c.fail("unknown fetch modifier " + m);
    }
    if (c.eat(')')) return true;
    if (!c.sp()) return false;
  }
}

// ------------------------------------------------------------ others

bool store_args(Cursor& c, StoreArgs* a) {
  if (!c.sp() || !c.seq_set(&a->set) || !c.sp()) return false;
  if (c.eat('(')) {
    while (true) {
      std::string m;
      if (!c.keyword(&m)) return false;
      if (m != "UNCHANGEDSINCE") return c.fail("unknown store modifier " + m);
      uint64_t n = 0;
      if (!c.sp() || !c.number64(&n)) return false;
      a->unchanged_since = n;
      if (c.eat(')')) break;
      if (!c.sp()) return false;
    }
    if (!c.sp()) return false;
  }
  if (c.eat('+')) {
    a->op = StoreArgs::Op::kAdd;
  } else if (c.eat('-')) {
    a->op = StoreArgs::Op::kRemove;
  }
  std::string item;
  if (!c.keyword(&item)) return false;
  if (item == "FLAGS.SILENT") {
    a->silent = true;
  } else if (item != "FLAGS") {
    return c.fail("expected FLAGS");
  }
  if (!c.sp()) return false;
  if (c.peek() == '(') return c.flag_list(&a->flags);
  while (true) {
    std::string f;
    if (!c.flag(&f)) return false;
    a->flags.push_back(std::move(f));
    if (c.at_end()) return true;
    if (!c.sp()) return false;
  }
}

bool list_args(Cursor& c, ListArgs* a) {
  if (!c.sp()) return false;
  if (c.peek() == '(') {
    a->extended = true;
    if (!c.keyword_list(&a->selection, true) || !c.sp()) return false;
  }
  if (!c.mailbox(&a->reference) || !c.sp()) return false;
  if (c.eat('(')) {
    a->extended = true;
    while (true) {
      Mailbox m;
      if (!c.list_mailbox(&m)) return false;
      a->patterns.push_back(std::move(m));
      if (c.eat(')')) break;
      if (!c.sp()) return false;
    }
  } else {
    Mailbox m;
    if (!c.list_mailbox(&m)) return false;
    a->patterns.push_back(std::move(m));
  }
  if (c.at_end()) return true;
  if (!c.sp()) return false;
  if (!c.try_keyword("RETURN")) return c.fail("expected RETURN");
  a->extended = true;
  if (!c.sp() || !c.expect('(', "expected return options")) return false;
  if (c.eat(')')) return true;
  while (true) {
    std::string opt;
    if (!c.keyword(&opt)) return false;
    a->return_opts.push_back(opt);
    if (opt == "STATUS") {
      if (!c.sp() || !c.keyword_list(&a->status_items, false)) return false;
    }
    if (c.eat(')')) return true;
    if (!c.sp()) return false;
  }
}

bool search_args(Cursor& c, SearchArgs* a) {
  if (!c.sp()) return false;
  if (c.try_keyword("RETURN")) {
    a->has_return = true;
    if (!c.sp() || !c.keyword_list(&a->return_opts, true) || !c.sp()) return false;
  }
  if (c.try_keyword("CHARSET")) {
    std::string cs;
    if (!c.sp() || !c.astring(&cs) || !c.sp()) return false;
    a->charset = std::move(cs);
  }
  return search_group(c, &a->program, 0, '\0');
}

// SORT: [SP "RETURN" SP "(" opts ")"] SP "(" criteria ")" SP charset SP keys
bool sort_args(Cursor& c, SortArgs* a) {
  if (!c.sp()) return false;
  if (c.try_keyword("RETURN")) {
    a->has_return = true;
    if (!c.sp() || !c.keyword_list(&a->return_opts, true) || !c.sp()) return false;
  }
  if (!c.expect('(', "expected sort criteria")) return false;
  while (true) {
    SortCriterion k;
    if (!c.keyword(&k.key)) return false;
    if (k.key == "REVERSE") {
      k.reverse = true;
      if (!c.sp() || !c.keyword(&k.key)) return false;
    }
    a->criteria.push_back(std::move(k));
    if (c.eat(')')) break;
    if (!c.sp()) return false;
  }
  if (!c.sp() || !c.astring(&a->charset) || !c.sp()) return false;
  return search_group(c, &a->program, 0, '\0');
}

// THREAD: SP algorithm SP charset SP keys
bool thread_args(Cursor& c, ThreadArgs* a) {
  if (!c.sp() || !c.keyword(&a->algorithm) || !c.sp() || !c.astring(&a->charset) || !c.sp()) {
    return false;
  }
  return search_group(c, &a->program, 0, '\0');
}

bool id_args(Cursor& c, IdArgs* a) {
  if (!c.sp()) return false;
  if (c.try_keyword("NIL")) return true;
  if (!c.expect('(', "expected NIL or a list")) return false;
  a->fields.emplace();
  if (c.eat(')')) return true;
  while (true) {
    std::string field;
    std::optional<std::string> value;
    if (!c.string(&field) || !c.sp() || !c.nstring(&value)) return false;
    a->fields->emplace_back(std::move(field), std::move(value));
    if (c.eat(')')) return true;
    if (!c.sp()) return false;
  }
}

bool is_base64ish(std::string_view s) {
  if (s == "=") return true;
  for (char ch : s) {
    bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || is_digit(ch) || ch == '+' ||
              ch == '/' || ch == '=';
    if (!ok) return false;
  }
  return !s.empty();
}

struct Dispatch {
  const char* name;
  Verb verb;
};
constexpr Dispatch kVerbs[] = {
    {"CAPABILITY", Verb::kCapability},
    {"NOOP", Verb::kNoop},
    {"LOGOUT", Verb::kLogout},
    {"STARTTLS", Verb::kStartTls},
    {"LOGIN", Verb::kLogin},
    {"AUTHENTICATE", Verb::kAuthenticate},
    {"ENABLE", Verb::kEnable},
    {"SELECT", Verb::kSelect},
    {"EXAMINE", Verb::kExamine},
    {"CREATE", Verb::kCreate},
    {"DELETE", Verb::kDelete},
    {"RENAME", Verb::kRename},
    {"SUBSCRIBE", Verb::kSubscribe},
    {"UNSUBSCRIBE", Verb::kUnsubscribe},
    {"LIST", Verb::kList},
    {"LSUB", Verb::kLsub},
    {"NAMESPACE", Verb::kNamespace},
    {"STATUS", Verb::kStatus},
    {"CHECK", Verb::kCheck},
    {"CLOSE", Verb::kClose},
    {"UNSELECT", Verb::kUnselect},
    {"EXPUNGE", Verb::kExpunge},
    {"SEARCH", Verb::kSearch},
    {"FETCH", Verb::kFetch},
    {"STORE", Verb::kStore},
    {"COPY", Verb::kCopy},
    {"MOVE", Verb::kMove},
    {"IDLE", Verb::kIdle},
    {"ID", Verb::kId},
    {"GETQUOTA", Verb::kGetQuota},
    {"GETQUOTAROOT", Verb::kGetQuotaRoot},
    {"COMPRESS", Verb::kCompress},
    {"UNAUTHENTICATE", Verb::kUnauthenticate},
    {"SORT", Verb::kSort},
    {"THREAD", Verb::kThread},
    {"NOTIFY", Verb::kNotify},
    {"CANCELUPDATE", Verb::kCancelUpdate},
    {"SETQUOTA", Verb::kSetQuota},
};

// Parses the arguments of `cmd` (name and verb set) from `c`, positioned
// right after the command name. Returns false with c.error() set.
bool parse_args(Cursor& c, Command* cmd) {
  switch (cmd->verb) {
    case Verb::kCapability:
    case Verb::kNoop:
    case Verb::kLogout:
    case Verb::kStartTls:
    case Verb::kNamespace:
    case Verb::kCheck:
    case Verb::kClose:
    case Verb::kUnselect:
    case Verb::kIdle:
    case Verb::kUnauthenticate:
      cmd->args = NoArgs{};
      return true;
    case Verb::kSort: {
      SortArgs a;
      if (!sort_args(c, &a)) return false;
      cmd->args = std::move(a);
      return true;
    }
    case Verb::kThread: {
      ThreadArgs a;
      if (!thread_args(c, &a)) return false;
      cmd->args = std::move(a);
      return true;
    }
    case Verb::kCompress: {
      CompressArgs a;
      if (!c.sp() || !c.keyword(&a.mechanism)) return false;
      cmd->args = std::move(a);
      return true;
    }
    case Verb::kExpunge: {
      ExpungeArgs a;
      if (cmd->uid) {
        SequenceSet s;
        if (!c.sp() || !c.seq_set(&s)) return false;
        a.set = std::move(s);
      }
      cmd->args = std::move(a);
      return true;
    }
    case Verb::kLogin: {
      LoginArgs a;
      if (!c.sp() || !c.astring(&a.user) || !c.sp() || !c.astring(&a.password)) return false;
      cmd->args = std::move(a);
      return true;
    }
    case Verb::kAuthenticate: {
      AuthenticateArgs a;
      if (!c.sp() || !c.keyword(&a.mechanism)) return false;
      if (c.eat(' ')) {
        std::string_view ir = c.take_while([](char ch) { return ch != ' '; });
        if (!is_base64ish(ir)) return c.fail("bad initial response");
        a.initial_response = std::string(ir);
      }
      cmd->args = std::move(a);
      return true;
    }
    case Verb::kEnable: {
      EnableArgs a;
      do {
        std::string k;
        if (!c.sp() || !c.keyword(&k)) return false;
        a.capabilities.push_back(std::move(k));
      } while (!c.at_end());
      cmd->args = std::move(a);
      return true;
    }
    case Verb::kSelect:
    case Verb::kExamine: {
      SelectArgs a;
      if (!c.sp() || !c.mailbox(&a.mailbox)) return false;
      if (!c.at_end() && (!c.sp() || !c.value_list(&a.params, 1))) return false;
      for (size_t i = 0; i < a.params.size(); ++i) {
        const Value& v = a.params[i];
        if (v.kind != Value::Kind::kAtom) continue;
        if (core::ascii_iequals(v.text, "CONDSTORE")) a.condstore = true;
        if (!core::ascii_iequals(v.text, "QRESYNC")) continue;
        if (a.qresync) return c.fail("QRESYNC given twice");
        if (i + 1 >= a.params.size() || a.params[i + 1].kind != Value::Kind::kList) {
          return c.fail("QRESYNC needs a parenthesised list");
        }
        QresyncParams q;
        std::string why;
        if (!qresync_params(a.params[i + 1].items, &q, &why)) return c.fail(why);
        a.qresync = std::move(q);
        ++i;
      }
      cmd->args = std::move(a);
      return true;
    }
    case Verb::kCreate: {
      CreateArgs a;
      if (!c.sp() || !c.mailbox(&a.mailbox)) return false;
      if (!c.at_end() && (!c.sp() || !c.value_list(&a.params, 1))) return false;
      for (size_t i = 0; i < a.params.size(); ++i) {
        const Value& v = a.params[i];
        if (v.kind == Value::Kind::kAtom && core::ascii_iequals(v.text, "USE")) {
          if (i + 1 >= a.params.size() || a.params[i + 1].kind != Value::Kind::kList) {
            return c.fail("USE needs a list");
          }
          for (const Value& u : a.params[i + 1].items) {
            if (u.kind != Value::Kind::kAtom) return c.fail("bad USE attribute");
            a.use.push_back(canonical_flag(u.text));
          }
        }
      }
      cmd->args = std::move(a);
      return true;
    }
    case Verb::kDelete:
    case Verb::kSubscribe:
    case Verb::kUnsubscribe:
    case Verb::kGetQuotaRoot: {
      MailboxArgs a;
      if (!c.sp() || !c.mailbox(&a.mailbox)) return false;
      cmd->args = std::move(a);
      return true;
    }
    case Verb::kRename: {
      RenameArgs a;
      if (!c.sp() || !c.mailbox(&a.from) || !c.sp() || !c.mailbox(&a.to)) return false;
      cmd->args = std::move(a);
      return true;
    }
    case Verb::kList: {
      ListArgs a;
      if (!list_args(c, &a)) return false;
      cmd->args = std::move(a);
      return true;
    }
    case Verb::kLsub: {
      ListArgs a;
      Mailbox m;
      if (!c.sp() || !c.mailbox(&a.reference) || !c.sp() || !c.list_mailbox(&m)) return false;
      a.patterns.push_back(std::move(m));
      cmd->args = std::move(a);
      return true;
    }
    case Verb::kStatus: {
      StatusArgs a;
      if (!c.sp() || !c.mailbox(&a.mailbox) || !c.sp() || !c.keyword_list(&a.items, false)) {
        return false;
      }
      cmd->args = std::move(a);
      return true;
    }
    case Verb::kSearch: {
      SearchArgs a;
      if (!search_args(c, &a)) return false;
      cmd->args = std::move(a);
      return true;
    }
    case Verb::kFetch: {
      FetchArgs a;
      if (!fetch_args(c, &a)) return false;
      cmd->args = std::move(a);
      return true;
    }
    case Verb::kStore: {
      StoreArgs a;
      if (!store_args(c, &a)) return false;
      cmd->args = std::move(a);
      return true;
    }
    case Verb::kCopy:
    case Verb::kMove: {
      CopyArgs a;
      if (!c.sp() || !c.seq_set(&a.set) || !c.sp() || !c.mailbox(&a.mailbox)) return false;
      cmd->args = std::move(a);
      return true;
    }
    case Verb::kId: {
      IdArgs a;
      if (!id_args(c, &a)) return false;
      cmd->args = std::move(a);
      return true;
    }
    case Verb::kGetQuota: {
      QuotaRootArgs a;
      if (!c.sp() || !c.astring(&a.root)) return false;
      cmd->args = std::move(a);
      return true;
    }
    case Verb::kCancelUpdate: {
      // RFC 5267: "CANCELUPDATE" 1*(SP quoted); atoms and literals accepted too.
      CancelUpdateArgs a;
      do {
        std::string t;
        if (!c.sp() || !c.astring(&t)) return false;
        a.tags.push_back(std::move(t));
      } while (!c.at_end());
      cmd->args = std::move(a);
      return true;
    }
    case Verb::kSetQuota: {
      // RFC 9208: "SETQUOTA" SP quota-root-name SP "(" [resource limits] ")".
      QuotaRootArgs a;
      std::vector<Value> limits;
      if (!c.sp() || !c.astring(&a.root) || !c.sp() || !c.value_list(&limits, 1)) return false;
      cmd->args = std::move(a);
      return true;
    }
    case Verb::kNotify: {
      // RFC 5465: the arguments are read by imap/notify (the session).
      NotifyArgs a;
      a.text = std::string(c.take_while([](char) { return true; }));
      cmd->args = std::move(a);
      return true;
    }
    case Verb::kUnknown:
      break;
  }
  // Unknown: the session answers BAD; arguments are not examined.
  cmd->args = UnknownArgs{};
  while (!c.at_end()) c.eat(c.peek());
  return true;
}

std::string leading_tag(std::string_view text) {
  text = text.substr(0, std::min(text.size(), kTagWindow));
  size_t n = 0;
  while (n < text.size() && is_tag_char(text[n])) ++n;
  if (n == 0 || n >= text.size() || text[n] != ' ') return "";
  return std::string(text.substr(0, n));
}

// A literal marker ends `before` (not an APPEND / REPLACE): false, with the
// error, when the command already lacks a valid tag or name.
bool literal_head_ok(std::string_view before, std::string* error) {
  Cursor c(before);
  std::string tag, name;
  if (!c.tag(&tag) || !c.sp() || !c.keyword(&name)) {
    *error = c.error();
    return false;
  }
  return true;
}

// APPEND, REPLACE and UID REPLACE are streamed (AppendBegin ...), not parsed
// as a whole.
bool is_streamed(std::string_view text) {
  Cursor c(text);
  std::string tag, name;
  if (!c.tag(&tag) || !c.sp() || !c.keyword(&name)) return false;
  if (name == "APPEND" || name == "REPLACE") return true;
  return name == "UID" && c.sp() && c.keyword(&name) && name == "REPLACE";
}

// The APPEND grammar Roost reads (RFC 3501, RFC 3502 MULTIAPPEND, RFC 4469
// CATENATE, RFC 6855 UTF8, RFC 8508 REPLACE):
//
//   APPEND SP mailbox 1*(SP message)
//   [UID SP] REPLACE SP (nz-number / "*") SP mailbox SP message
//   message  = [flag-list SP] [date-time SP] data
//   data     = literal / literal8 / "UTF8 (" literal8 ")"
//            / "CATENATE (" part *(SP part) ")"
//   part     = "TEXT" SP (literal / literal8) / "URL" SP astring
//            / "UTF8 (" literal8 ")"
//
// The command is scanned one line (up to a data literal) at a time; AppendAt
// says where the previous line left it.
enum AppendAt : int {
  kAtHead = 0,       // nothing read yet
  kAtMessage,        // after the SP that starts a message
  kAtAfterMessage,   // a message is complete: the line end, or SP + message
  kAtFirstPart,      // after "CATENATE ("
  kAtNextPart,       // after a part: SP + part, or ")"
  kAtUtf8Close,      // after UTF8 (~{n}...: ")" ends the message
  kAtPartUtf8Close,  // after a UTF8 part: ")" ends the part
};

enum class ScanEnd {
  kError,
  kOrdinaryLiteral,  // the marker is an astring (mailbox name, URL): collect it
  kDataLiteral,      // the marker is message data: the last event awaits a decision
  kLineEnd,          // the command is complete
};

// Scans `text` (the command since the last data literal, ending where the
// marker `m` starts, or at the line end when m is null) from `st`, appending
// the events it gives. `st` and `out` are only meaningful for kDataLiteral
// and kLineEnd.
ScanEnd scan_append(std::string_view text, const Marker* m, QuotedText quoted, AppendScan& st,
                    std::vector<Event>* out, std::string* error) {
  Cursor c(text, quoted);
  auto fail = [&](std::string_view msg) {
    c.fail(msg);
    *error = c.error();
    return ScanEnd::kError;
  };
  auto err = [&]() { return fail("syntax error in APPEND"); };
  auto begin = [&]() {
    AppendBegin b;
    b.tag = st.tag;
    b.mailbox = st.mailbox;
    b.index = st.index;
    b.replace = st.replace;
    b.uid = st.uid;
    b.replace_number = st.number;
    return b;
  };
  // A data literal must start exactly here.
  auto data_here = [&](bool binary_only) { return c.at_end() && m && (!binary_only || m->binary); };
  while (true) {
    switch (st.at) {
      case kAtHead: {
        std::string name;
        if (!c.tag(&st.tag) || !c.sp() || !c.keyword(&name)) return err();
        if (name == "UID") {
          st.uid = true;
          if (!c.sp() || !c.keyword(&name)) return err();
        }
        if (name == "REPLACE") {
          st.replace = true;
          if (!c.sp()) return err();
          if (c.eat('*')) {
            st.number = kStar;
          } else if (!c.nz_number(&st.number)) {
            return err();
          }
        } else if (name != "APPEND" || st.uid) {
          return fail("unknown command " + name);
        }
        if (!c.sp()) return err();
        if (c.at_end() && m) return ScanEnd::kOrdinaryLiteral;  // the mailbox name is the literal
        if (!c.mailbox(&st.mailbox) || !c.sp()) return err();
        st.at = kAtMessage;
        break;
      }
      case kAtMessage: {
        AppendBegin b = begin();
        if (c.peek() == '(' && (!c.flag_list(&b.flags) || !c.sp())) return err();
        if (c.peek() == '"') {
          DateTime dt;
          if (!c.date_time(&dt) || !c.sp()) return err();
          b.date = dt;
        }
        if (c.at_end()) {
          if (!m) return fail("expected the message literal");
          b.size = m->size;
          b.binary = m->binary;
          b.synchronising = m->sync;
          out->push_back(std::move(b));
          st.at = kAtAfterMessage;
          return ScanEnd::kDataLiteral;
        }
        if (c.try_keyword("CATENATE")) {
          if (!c.sp() || !c.expect('(', "expected ( after CATENATE")) return err();
          b.form = AppendForm::kCatenate;
          out->push_back(std::move(b));
          st.at = kAtFirstPart;
          break;
        }
        if (c.try_keyword("UTF8")) {
          if (!c.sp() || !c.expect('(', "expected ( after UTF8")) return err();
          if (!data_here(true)) return fail("UTF8 needs a literal8 (~{n})");
          b.form = AppendForm::kUtf8;
          b.size = m->size;
          b.binary = true;
          b.synchronising = m->sync;
          out->push_back(std::move(b));
          st.at = kAtUtf8Close;
          return ScanEnd::kDataLiteral;
        }
        return fail(st.replace ? "unexpected REPLACE argument" : "unexpected APPEND argument");
      }
      case kAtAfterMessage:
        if (c.at_end()) {
          if (m) return fail("expected a space before the next message");
          out->push_back(AppendEnd{true});
          return ScanEnd::kLineEnd;
        }
        if (st.replace) return fail("unexpected characters after the REPLACE message");
        if (!c.eat(' ')) return fail("unexpected characters after the APPEND message");
        out->push_back(AppendEnd{false});
        ++st.index;
        st.at = kAtMessage;
        break;
      case kAtFirstPart:
      case kAtNextPart:
        if (st.at == kAtNextPart) {
          if (c.eat(')')) {
            st.at = kAtAfterMessage;
            break;
          }
          if (!c.sp()) return err();
        }
        if (c.try_keyword("TEXT")) {
          if (!c.sp()) return err();
          if (!data_here(false)) return fail("TEXT needs a literal");
          out->push_back(CatenateText{m->size, m->binary, false, m->sync});
          st.at = kAtNextPart;
          return ScanEnd::kDataLiteral;
        }
        if (c.try_keyword("URL")) {
          if (!c.sp()) return err();
          if (c.at_end() && m) return ScanEnd::kOrdinaryLiteral;
          std::string url;
          if (!c.astring(&url)) return err();
          out->push_back(CatenateUrl{std::move(url)});
          st.at = kAtNextPart;
          break;
        }
        if (c.try_keyword("UTF8")) {
          if (!c.sp() || !c.expect('(', "expected ( after UTF8")) return err();
          if (!data_here(true)) return fail("UTF8 needs a literal8 (~{n})");
          out->push_back(CatenateText{m->size, true, true, m->sync});
          st.at = kAtPartUtf8Close;
          return ScanEnd::kDataLiteral;
        }
        return fail("expected TEXT, URL or UTF8 in CATENATE");
      case kAtUtf8Close:
      case kAtPartUtf8Close:
        if (!c.expect(')', "expected ) after the UTF8 literal")) return err();
        st.at = st.at == kAtUtf8Close ? kAtAfterMessage : kAtNextPart;
        break;
      default:
        return fail("syntax error in APPEND");
    }
  }
}

}  // namespace

// ------------------------------------------------------------ parse_command

std::variant<Command, ParseError> parse_command(std::string_view text, QuotedText quoted) {
  Cursor c(text, quoted);
  Command cmd;
  if (!c.tag(&cmd.tag) || !c.sp()) return ParseError{"", c.error()};
  if (text.find('\0') != std::string_view::npos) return ParseError{cmd.tag, "NUL in command"};
  if (!c.keyword(&cmd.name)) return ParseError{cmd.tag, "missing command name"};
  if (cmd.name == "UID") {
    cmd.uid = true;
    if (!c.sp() || !c.keyword(&cmd.name)) return ParseError{cmd.tag, c.error()};
    if (cmd.name != "FETCH" && cmd.name != "SEARCH" && cmd.name != "STORE" && cmd.name != "COPY" &&
        cmd.name != "MOVE" && cmd.name != "EXPUNGE" && cmd.name != "SORT" && cmd.name != "THREAD") {
      return ParseError{cmd.tag, "unknown UID command " + cmd.name};
    }
  }
  if (cmd.name == "APPEND") return ParseError{cmd.tag, "APPEND needs a message literal"};
  for (const Dispatch& d : kVerbs) {
    if (cmd.name == d.name) cmd.verb = d.verb;
  }
  if (!parse_args(c, &cmd)) return ParseError{cmd.tag, c.error()};
  if (!c.at_end()) return ParseError{cmd.tag, "unexpected characters after " + cmd.name};
  return cmd;
}

bool is_done(std::string_view line) {
  return core::ascii_iequals(line, "DONE");
}

// ------------------------------------------------------------ Parser

void Parser::feed(std::string_view bytes) {
  if (dead_) return;
  if (pos_ == in_.size()) {
    in_.clear();
    pos_ = 0;
  } else if (pos_ > 4096 && pos_ > in_.size() / 2) {
    in_.erase(0, pos_);
    pos_ = 0;
  }
  in_.append(bytes);
}

void Parser::accept_literal() {
  if (!awaiting_) return;
  awaiting_ = false;
  mode_ = after_accept_;
}

void Parser::reject_literal() {
  if (awaiting_) {
    awaiting_ = false;
    reset_command();
    // A synchronising literal will not be sent; a non-synchronising one is on
    // its way and is skipped with the rest of its line.
    mode_ = pending_sync_ ? Mode::kLine : Mode::kDiscard;
    return;
  }
  // An APPEND answered between its events (e.g. a CATENATE URL that cannot
  // be resolved): the rest of the command is dropped.
  if (!in_append_ && queue_.empty()) return;
  bool queued = !queue_.empty();
  bool decision = queue_decision_;
  bool sync = queue_sync_;
  uint64_t size = queue_size_;
  bool streaming = mode_ == Mode::kAppendData;
  uint64_t left = left_;
  queue_.clear();
  queue_decision_ = false;
  reset_command();
  mode_ = Mode::kLine;
  if (queued) {
    // Events of a line still queued: the line ended at a data literal (skip
    // it when the client sends it anyway) or the command is complete.
    if (decision && !sync) {
      mode_ = Mode::kDiscard;
      left_ = size;
    }
  } else if (streaming) {
    // Inside or right after a data literal: the rest of it, then the line.
    mode_ = Mode::kDiscard;
    left_ = left;
  }
}

void Parser::expect_line() {
  if (mode_ == Mode::kLine && cmd_.empty() && !in_append_) mode_ = Mode::kRawLine;
}

void Parser::clear() {
  in_.clear();
  pos_ = 0;
  reset_command();
  mode_ = Mode::kLine;
  awaiting_ = false;
  queue_.clear();
  queue_decision_ = false;
  tail_.clear();
  left_ = 0;
}

void Parser::reset_command() {
  cmd_.clear();
  seg_start_ = 0;
  in_append_ = false;
  append_tag_.clear();
  scan_ = AppendScan{};
}

std::string Parser::current_tag() const {
  return in_append_ ? append_tag_ : leading_tag(cmd_);
}

std::optional<Event> Parser::start_skip(Event ev, bool has_marker, bool sync, uint64_t n) {
  reset_command();
  mode_ = Mode::kLine;
  if (has_marker && !sync) {
    if (auto* big = std::get_if<LiteralTooBig>(&ev); big && big->fatal) {
      dead_ = true;
      in_.clear();
      pos_ = 0;
    } else {
      mode_ = Mode::kDiscard;
      left_ = n;
    }
  }
  return ev;
}

std::optional<Event> Parser::next() {
  while (true) {
    if (dead_ || awaiting_) return std::nullopt;
    if (!queue_.empty()) {
      Event ev = std::move(queue_.front());
      queue_.pop_front();
      if (queue_.empty() && queue_decision_) {
        queue_decision_ = false;
        awaiting_ = true;
        pending_sync_ = queue_sync_;
        left_ = queue_size_;
        after_accept_ = Mode::kAppendData;
      }
      return ev;
    }
    std::string_view avail(in_.data() + pos_, in_.size() - pos_);
    switch (mode_) {
      case Mode::kLine:
      case Mode::kRawLine: {
        if (avail.empty()) return std::nullopt;
        size_t nl = avail.find('\n');
        std::string_view piece = nl == std::string_view::npos ? avail : avail.substr(0, nl);
        size_t cap = line_cap();
        bool too_long = cmd_.size() + piece.size() > cap + 1;  // +1: a CR before the LF
        if (!too_long) {
          cmd_.append(piece);
          pos_ += piece.size();
          if (nl == std::string_view::npos) continue;
          ++pos_;
          if (cmd_.size() > seg_start_ && cmd_.back() == '\r') cmd_.pop_back();
          too_long = cmd_.size() > cap;
          if (!too_long) {
            if (mode_ == Mode::kRawLine) {
              Line line{std::move(cmd_)};
              reset_command();
              mode_ = Mode::kLine;
              return line;
            }
            if (auto ev = on_line_end()) return ev;
            continue;
          }
          // The whole line is consumed; only a marker at its end matters.
          std::string tag = mode_ == Mode::kRawLine ? "" : current_tag();
          std::optional<Marker> m;
          if (mode_ == Mode::kLine) m = find_marker(std::string_view(cmd_).substr(seg_start_));
          reset_command();
          mode_ = Mode::kLine;
          if (m && !m->sync) {
            mode_ = Mode::kDiscard;
            left_ = m->size;
          }
          return LineTooLong{tag};
        }
        // Over the cap with the line still open: skip the rest of it. The tag
        // is looked for in the first bytes of the command, wherever they are.
        std::string tag;
        if (in_append_) {
          tag = append_tag_;
        } else if (mode_ == Mode::kLine) {
          // Only cap + 1 bytes: what a run fed byte by byte could hold.
          size_t window = std::min(kTagWindow, cap + 1);
          std::string head = cmd_.substr(0, window);
          head.append(piece.substr(0, window - head.size()));
          tag = leading_tag(head);
        }
        tail_.assign(std::string_view(cmd_).substr(seg_start_));
        if (tail_.size() > kTailKeep) tail_.erase(0, tail_.size() - kTailKeep);
        reset_command();
        mode_ = Mode::kSkipLine;
        return LineTooLong{tag};
      }
      case Mode::kLiteral: {
        size_t k = static_cast<size_t>(std::min<uint64_t>(left_, avail.size()));
        cmd_.append(avail.substr(0, k));
        pos_ += k;
        left_ -= k;
        if (left_ > 0) return std::nullopt;
        mode_ = Mode::kLine;
        seg_start_ = cmd_.size();
        continue;
      }
      case Mode::kAppendData: {
        if (left_ == 0) {
          mode_ = Mode::kLine;
          cmd_.clear();
          seg_start_ = 0;
          continue;
        }
        if (avail.empty()) return std::nullopt;
        size_t k = static_cast<size_t>(
            std::min<uint64_t>({left_, avail.size(), std::max<size_t>(1, limits_.chunk_max)}));
        LiteralChunk chunk{std::string(avail.substr(0, k))};
        pos_ += k;
        left_ -= k;
        return chunk;
      }
      case Mode::kDiscard: {
        size_t k = static_cast<size_t>(std::min<uint64_t>(left_, avail.size()));
        pos_ += k;
        left_ -= k;
        if (left_ > 0) return std::nullopt;
        mode_ = Mode::kSkipLine;
        tail_.clear();
        continue;
      }
      case Mode::kSkipLine: {
        if (avail.empty()) return std::nullopt;
        size_t nl = avail.find('\n');
        std::string_view piece = nl == std::string_view::npos ? avail : avail.substr(0, nl);
        if (piece.size() >= kTailKeep) {
          tail_.assign(piece.substr(piece.size() - kTailKeep));
        } else {
          tail_.append(piece);
          if (tail_.size() > kTailKeep) tail_.erase(0, tail_.size() - kTailKeep);
        }
        pos_ += piece.size();
        if (nl == std::string_view::npos) return std::nullopt;
        ++pos_;
        if (!tail_.empty() && tail_.back() == '\r') tail_.pop_back();
        std::optional<Marker> m = find_marker(tail_);
        tail_.clear();
        mode_ = Mode::kLine;
        // After "{n}" the client waits for a continuation that never comes.
        if (m && !m->sync) {
          mode_ = Mode::kDiscard;
          left_ = m->size;
        }
        continue;
      }
    }
  }
}

std::optional<Event> Parser::on_line_end() {
  std::string_view seg = std::string_view(cmd_).substr(seg_start_);
  std::optional<Marker> m = find_marker(seg);
  // LITERAL- (RFC 7888 4): a larger non-synchronising literal is refused,
  // APPEND's message literal included; its bytes are skipped.
  if (m && !m->sync && limits_.nonsync_max > 0 && m->size > limits_.nonsync_max) {
    std::string tag = current_tag();
    return start_skip(LiteralTooBig{tag, m->size, false, m->size > limits_.discard_max}, true,
                      false, m->size);
  }
  bool streamed = in_append_ || is_streamed(cmd_);
  if (!m && !streamed) {
    if (cmd_.empty()) return std::nullopt;  // empty lines are ignored
    auto r = parse_command(cmd_, quoted_text());
    reset_command();
    if (auto* cmd = std::get_if<Command>(&r)) return Event(std::move(*cmd));
    return Event(std::move(std::get<ParseError>(r)));
  }
  std::string tag = current_tag();
  if (streamed) {
    // APPEND / REPLACE: scan up to the data literal or the line end; the
    // events are queued (next() hands them out).
    std::string_view text =
        std::string_view(cmd_).substr(0, m ? seg_start_ + m->start : cmd_.size());
    AppendScan st = in_append_ ? scan_ : AppendScan{};
    std::vector<Event> events;
    std::string error;
    switch (scan_append(text, m ? &*m : nullptr, quoted_text(), st, &events, &error)) {
      case ScanEnd::kError:
        if (!m) {
          reset_command();
          return ParseError{tag, error};
        }
        return start_skip(ParseError{tag, error}, true, m->sync, m->size);
      case ScanEnd::kDataLiteral:
        if (m->size > limits_.literal_max) {
          return start_skip(
              LiteralTooBig{tag, m->size, m->sync, !m->sync && m->size > limits_.discard_max}, true,
              m->sync, m->size);
        }
        cmd_.clear();
        seg_start_ = 0;
        in_append_ = true;
        append_tag_ = st.tag;
        scan_ = std::move(st);
        queue_decision_ = true;
        queue_sync_ = m->sync;
        queue_size_ = m->size;
        for (Event& e : events) queue_.push_back(std::move(e));
        return std::nullopt;
      case ScanEnd::kLineEnd:
        reset_command();
        queue_decision_ = false;
        for (Event& e : events) queue_.push_back(std::move(e));
        return std::nullopt;
      case ScanEnd::kOrdinaryLiteral:
        break;  // a mailbox name or URL sent as a literal: collected below
    }
  } else {
    std::string error;
    if (!literal_head_ok(std::string_view(cmd_).substr(0, seg_start_ + m->start), &error)) {
      return start_skip(ParseError{tag, error}, true, m->sync, m->size);
    }
  }
  if (m->binary) {
    return start_skip(ParseError{tag, "literal8 is only allowed in APPEND"}, true, m->sync,
                      m->size);
  }
  size_t cap = line_cap();
  if (m->size > cap - std::min(cap, cmd_.size())) {
    return start_skip(
        LiteralTooBig{tag, m->size, m->sync, !m->sync && m->size > limits_.discard_max}, true,
        m->sync, m->size);
  }
  cmd_.push_back('\n');
  left_ = m->size;
  if (m->sync) {
    awaiting_ = true;
    pending_sync_ = true;
    after_accept_ = Mode::kLiteral;
    return NeedContinuation{tag, m->size};
  }
  mode_ = Mode::kLiteral;
  return std::nullopt;
}

}  // namespace imap::proto
