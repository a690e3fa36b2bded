// SORT keys, base subjects, dates and header fields (RFC 5256, RFC 5957).
#include "imap/sort/sort.h"

#include <algorithm>
#include <cctype>

#include "core/util/ascii.h"
#include "imap/mime/mime.h"
#include "imap/search/search.h"

namespace imap::sort {

namespace {

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && core::ascii_iequals(s.substr(0, prefix.size()), prefix);
}

bool is_wsp(char c) {
  return c == ' ' || c == '\t';
}

// subj-blob = "[" *BLOBCHAR "]" *WSP at `pos`; returns the length, or 0.
// BLOBCHAR is any character but the brackets (8-bit text allowed: the
// subject has already been decoded to UTF-8).
size_t match_blob(std::string_view s, size_t pos) {
  if (pos >= s.size() || s[pos] != '[') return 0;
  size_t i = pos + 1;
  while (i < s.size() && s[i] != '[' && s[i] != ']') ++i;
  if (i >= s.size() || s[i] != ']') return 0;
  ++i;
  while (i < s.size() && is_wsp(s[i])) ++i;
  return i - pos;
}

// subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":" at `pos`; returns
// the length, or 0.
size_t match_refwd(std::string_view s, size_t pos) {
  size_t i = pos;
  std::string_view rest = s.substr(pos);
  if (istarts_with(rest, "fwd")) {
    i += 3;
  } else if (istarts_with(rest, "fw") || istarts_with(rest, "re")) {
    i += 2;
  } else {
    return 0;
  }
  while (i < s.size() && is_wsp(s[i])) ++i;
  i += match_blob(s, i);
  if (i >= s.size() || s[i] != ':') return 0;
  return i + 1 - pos;
}

// subj-leader = (*subj-blob subj-refwd) / WSP at the start; returns the
// length (0: none) and whether it was a reply marker.
size_t match_leader(std::string_view s, bool* refwd) {
  *refwd = false;
  size_t i = 0;
  while (size_t b = match_blob(s, i)) i += b;
  if (size_t r = match_refwd(s, i)) {
    *refwd = true;
    return i + r;
  }
  if (!s.empty() && is_wsp(s[0])) return 1;
  return 0;
}

bool has_non_wsp(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return !is_wsp(c); });
}

void trim(std::string_view* s) {
  while (!s->empty() && std::isspace(static_cast<unsigned char>(s->front()))) s->remove_prefix(1);
  while (!s->empty() && std::isspace(static_cast<unsigned char>(s->back()))) s->remove_suffix(1);
}

// ---- date parsing ---------------------------------------------------------------

std::vector<std::string_view> date_tokens(std::string_view v, std::string* storage) {
  // Comments (nested) become spaces; commas separate tokens.
  storage->clear();
  int depth = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (c == '\\' && depth > 0) {
      ++i;
      continue;
    }
    if (c == '(') {
      ++depth;
      storage->push_back(' ');
    } else if (c == ')' && depth > 0) {
      --depth;
    } else if (depth == 0) {
      storage->push_back(c == ',' || c == '\t' || c == '\r' || c == '\n' ? ' ' : c);
    }
  }
  std::vector<std::string_view> toks;
  std::string_view s = *storage;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    size_t start = i;
    while (i < s.size() && s[i] != ' ') ++i;
    if (i > start) toks.push_back(s.substr(start, i - start));
  }
  return toks;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int to_int(std::string_view s) {
  int n = 0;
  for (char c : s) n = n * 10 + (c - '0');
  return n;
}

int month_of(std::string_view t) {
  static constexpr const char* kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                            "jul", "aug", "sep", "oct", "nov", "dec"};
  if (t.size() < 3) return 0;
  for (int i = 0; i < 12; ++i) {
    if (core::ascii_iequals(t.substr(0, 3), kMonths[i])) return i + 1;
  }
  return 0;
}

// Zone offset in minutes east of UTC; nullopt when `t` is no zone.
std::optional<int> zone_of(std::string_view t) {
  if ((t[0] == '+' || t[0] == '-') && t.size() == 5 && all_digits(t.substr(1))) {
    int hh = to_int(t.substr(1, 2)), mm = to_int(t.substr(3, 2));
    if (mm > 59) return std::nullopt;
    int m = hh * 60 + mm;
    return t[0] == '-' ? -m : m;
  }
  static const std::pair<const char*, int> kNamed[] = {
      {"UT", 0},        {"UTC", 0},       {"GMT", 0},       {"Z", 0},
      {"EST", -5 * 60}, {"EDT", -4 * 60}, {"CST", -6 * 60}, {"CDT", -5 * 60},
      {"MST", -7 * 60}, {"MDT", -6 * 60}, {"PST", -8 * 60}, {"PDT", -7 * 60}};
  for (const auto& [name, off] : kNamed) {
    if (core::ascii_iequals(t, name)) return off;
  }
  // Other alphabetic zones (military letters, unknown names) mean -0000.
  if (std::all_of(t.begin(), t.end(),
                  [](char c) { return std::isalpha(static_cast<unsigned char>(c)); })) {
    return 0;
  }
  return std::nullopt;
}

// The first address of a list that is a mailbox (group markers skipped).
const mime::Address* first_mailbox(const std::vector<mime::Address>& list) {
  for (const mime::Address& a : list) {
    if (a.host) return &a;
  }
  return nullptr;
}

std::string address_key(const std::optional<std::string>& value, bool display) {
  if (!value) return "";
  std::vector<mime::Address> list = mime::parse_address_list(*value);
  const mime::Address* a = first_mailbox(list);
  if (a == nullptr) return "";
  std::string mailbox =
      a->mailbox && *a->mailbox != mime::kMissingMailbox ? *a->mailbox : std::string();
  if (!display) return collation_key(mailbox);
  if (a->name) {
    std::string name = mime::decode_header_value(*a->name);
    std::string_view n = name;
    trim(&n);
    if (!n.empty()) return collation_key(n);
  }
  // No display name: the addr-spec.
  std::string spec = mailbox;
  if (a->host && *a->host != mime::kMissingDomain && !a->host->empty()) spec += "@" + *a->host;
  return collation_key(spec);
}

}  // namespace

// ---- base subject ---------------------------------------------------------------

BaseSubject base_subject(std::string_view raw_subject) {
  BaseSubject out;
  // (1) decode, whitespace to single spaces.
  std::string decoded = mime::decode_header_value(raw_subject);
  std::string s;
  s.reserve(decoded.size());
  for (char c : decoded) {
    if (c == '\t' || c == '\r' || c == '\n') c = ' ';
    if (c == ' ' && !s.empty() && s.back() == ' ') continue;
    s.push_back(c);
  }
  std::string_view v = s;
  while (true) {
    // (2) trailers: "(fwd)" and WSP.
    while (true) {
      if (!v.empty() && is_wsp(v.back())) {
        v.remove_suffix(1);
      } else if (v.size() >= 5 && core::ascii_iequals(v.substr(v.size() - 5), "(fwd)")) {
        v.remove_suffix(5);
        out.reply = true;
      } else {
        break;
      }
    }
    // (3)-(5) leaders and blobs.
    while (true) {
      bool refwd = false;
      if (size_t n = match_leader(v, &refwd)) {
        v.remove_prefix(n);
        if (refwd) out.reply = true;
        continue;
      }
      if (size_t b = match_blob(v, 0); b > 0 && has_non_wsp(v.substr(b))) {
        v.remove_prefix(b);
        continue;
      }
      break;
    }
    // (6) "[fwd: ... ]" wrapper.
    if (v.size() >= 6 && istarts_with(v, "[fwd:") && v.back() == ']') {
      v.remove_prefix(5);
      v.remove_suffix(1);
      out.reply = true;
      continue;
    }
    break;
  }
  out.text = std::string(v);
  return out;
}

std::string collation_key(std::string_view utf8) {
  return search::casemap(utf8);
}

// ---- dates ----------------------------------------------------------------------

std::optional<int64_t> parse_rfc5322_date(std::string_view value) {
  std::string storage;
  std::vector<std::string_view> t = date_tokens(value, &storage);
  size_t i = 0;
  // Optional day of week.
  if (i < t.size() && !t[i].empty() && std::isalpha(static_cast<unsigned char>(t[i][0])) &&
      month_of(t[i]) == 0) {
    ++i;
  }
  int day = 0, month = 0, year = 0;
  // "2 Jan 2023", also the "Jan 2 2023" some writers use.
  if (i + 2 < t.size() && all_digits(t[i]) && t[i].size() <= 2) {
    day = to_int(t[i]);
    month = month_of(t[i + 1]);
    if (!all_digits(t[i + 2]) || t[i + 2].size() > 4) return std::nullopt;
    year = to_int(t[i + 2]);
    if (t[i + 2].size() < 4 && year < 50)
      year += 2000;
    else if (t[i + 2].size() < 4)
      year += 1900;
    i += 3;
  } else if (i + 2 < t.size() && month_of(t[i]) != 0 && all_digits(t[i + 1]) &&
             t[i + 1].size() <= 2 && all_digits(t[i + 2]) && t[i + 2].size() == 4) {
    month = month_of(t[i]);
    day = to_int(t[i + 1]);
    year = to_int(t[i + 2]);
    i += 3;
  } else {
    return std::nullopt;
  }
  if (month == 0 || day < 1 || day > 31 || year < 1900 || year > 9999) return std::nullopt;
  int hour = 0, minute = 0, second = 0;
  int zone = 0;
  if (i < t.size()) {
    std::string_view tm = t[i];
    // hh:mm[:ss], possibly with the zone glued on ("10:00:00+0000").
    size_t zpos = tm.find_first_of("+-");
    std::string_view glued;
    if (zpos != std::string_view::npos) {
      glued = tm.substr(zpos);
      tm = tm.substr(0, zpos);
    }
    size_t c1 = tm.find(':');
    if (c1 == std::string_view::npos) return std::nullopt;
    size_t c2 = tm.find(':', c1 + 1);
    std::string_view hh = tm.substr(0, c1);
    std::string_view mm = tm.substr(c1 + 1, c2 == std::string_view::npos ? tm.npos : c2 - c1 - 1);
    std::string_view ss = c2 == std::string_view::npos ? std::string_view("0") : tm.substr(c2 + 1);
    if (!all_digits(hh) || !all_digits(mm) || !all_digits(ss) || hh.size() > 2 || mm.size() > 2 ||
        ss.size() > 2) {
      return std::nullopt;
    }
    hour = to_int(hh);
    minute = to_int(mm);
    second = to_int(ss);
    if (hour > 23 || minute > 59 || second > 60) return std::nullopt;
    ++i;
    std::optional<int> z;
    if (!glued.empty()) {
      z = zone_of(glued);
    } else if (i < t.size()) {
      z = zone_of(t[i]);
    }
    zone = z.value_or(0);
  }
  int64_t days = search::days_from_civil(year, month, day);
  return days * 86400 + hour * 3600 + minute * 60 + second - static_cast<int64_t>(zone) * 60;
}

// ---- header fields --------------------------------------------------------------

Fields read_fields(std::string_view header_block) {
  Fields f;
  mime::for_each_header_field(header_block, [&f](std::string_view name, std::string value) {
    std::optional<std::string>* slot = nullptr;
    if (core::ascii_iequals(name, "subject")) {
      slot = &f.subject;
    } else if (core::ascii_iequals(name, "from")) {
      slot = &f.from;
    } else if (core::ascii_iequals(name, "to")) {
      slot = &f.to;
    } else if (core::ascii_iequals(name, "cc")) {
      slot = &f.cc;
    } else if (core::ascii_iequals(name, "date")) {
      slot = &f.date;
    } else if (core::ascii_iequals(name, "message-id")) {
      slot = &f.message_id;
    } else if (core::ascii_iequals(name, "in-reply-to")) {
      slot = &f.in_reply_to;
    } else if (core::ascii_iequals(name, "references")) {
      slot = &f.references;
    }
    if (slot != nullptr && !*slot) *slot = std::move(value);
    return true;
  });
  return f;
}

std::vector<std::string> message_ids(std::string_view value) {
  std::vector<std::string> out;
  size_t i = 0;
  while (true) {
    size_t open = value.find('<', i);
    if (open == std::string_view::npos) break;
    size_t close = value.find('>', open + 1);
    if (close == std::string_view::npos) break;
    size_t reopen = value.find('<', open + 1);
    if (reopen != std::string_view::npos && reopen < close) {
      i = reopen;  // "<a <b>": the inner one
      continue;
    }
    std::string id;
    for (char c : value.substr(open + 1, close - open - 1)) {
      if (!std::isspace(static_cast<unsigned char>(c))) id.push_back(c);
    }
    if (!id.empty()) out.push_back(std::move(id));
    i = close + 1;
  }
  return out;
}

// ---- SORT -----------------------------------------------------------------------

std::optional<Key> key_from_name(std::string_view upper) {
  static const std::pair<const char*, Key> kKeys[] = {{"ARRIVAL", Key::kArrival},
                                                      {"CC", Key::kCc},
                                                      {"DATE", Key::kDate},
                                                      {"FROM", Key::kFrom},
                                                      {"SIZE", Key::kSize},
                                                      {"SUBJECT", Key::kSubject},
                                                      {"TO", Key::kTo},
                                                      {"DISPLAYFROM", Key::kDisplayFrom},
                                                      {"DISPLAYTO", Key::kDisplayTo}};
  for (const auto& [name, key] : kKeys) {
    if (upper == name) return key;
  }
  return std::nullopt;
}

bool key_needs_header(Key key) {
  return key != Key::kArrival && key != Key::kSize;
}

std::string string_key(Key key, const Fields& fields) {
  switch (key) {
    case Key::kFrom:
      return address_key(fields.from, false);
    case Key::kTo:
      return address_key(fields.to, false);
    case Key::kCc:
      return address_key(fields.cc, false);
    case Key::kDisplayFrom:
      return address_key(fields.from, true);
    case Key::kDisplayTo:
      return address_key(fields.to, true);
    case Key::kSubject:
      return fields.subject ? collation_key(base_subject(*fields.subject).text) : std::string();
    default:
      return "";
  }
}

SortRecord make_sort_record(const std::vector<Criterion>& criteria, const store::MessageMeta& meta,
                            uint32_t seq, uint32_t number, const std::string* header) {
  SortRecord r;
  r.seq = seq;
  r.number = number;
  r.numbers.resize(criteria.size());
  r.strings.resize(criteria.size());
  std::optional<Fields> fields;
  for (size_t i = 0; i < criteria.size(); ++i) {
    const Key key = criteria[i].key;
    if (key_needs_header(key) && !fields) {
      fields = header ? read_fields(*header) : Fields{};
    }
    switch (key) {
      case Key::kArrival:
        r.numbers[i] = meta.internal_date;
        break;
      case Key::kSize:
        r.numbers[i] = static_cast<int64_t>(meta.size);
        break;
      case Key::kDate: {
        std::optional<int64_t> d;
        if (fields->date) d = parse_rfc5322_date(*fields->date);
        r.numbers[i] = d.value_or(meta.internal_date);
        break;
      }
      default:
        r.strings[i] = string_key(key, *fields);
        break;
    }
  }
  return r;
}

std::vector<uint32_t> sort_records(const std::vector<Criterion>& criteria,
                                   std::vector<SortRecord> records) {
  auto less = [&criteria](const SortRecord& a, const SortRecord& b) {
    for (size_t i = 0; i < criteria.size(); ++i) {
      int c = 0;
      if (key_needs_header(criteria[i].key) && criteria[i].key != Key::kDate) {
        int k = a.strings[i].compare(b.strings[i]);
        c = k < 0 ? -1 : (k > 0 ? 1 : 0);
      } else if (a.numbers[i] != b.numbers[i]) {
        c = a.numbers[i] < b.numbers[i] ? -1 : 1;
      }
      if (criteria[i].reverse) c = -c;
      if (c != 0) return c < 0;
    }
    return a.seq < b.seq;
  };
  std::sort(records.begin(), records.end(), less);
  std::vector<uint32_t> out;
  out.reserve(records.size());
  for (const SortRecord& r : records) out.push_back(r.number);
  return out;
}

void write_ordered_set(std::string& out, const std::vector<uint32_t>& numbers) {
  size_t i = 0;
  bool first = true;
  while (i < numbers.size()) {
    size_t j = i;
    while (j + 1 < numbers.size() && numbers[j + 1] == numbers[j] + 1) ++j;
    if (!first) out += ',';
    first = false;
    out += std::to_string(numbers[i]);
    if (j > i) {
      out += ':';
      out += std::to_string(numbers[j]);
    }
    i = j + 1;
  }
}

}  // namespace imap::sort
