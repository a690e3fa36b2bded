#include "imap/notify/notify.h"

#include <algorithm>
#include <utility>
#include <variant>

#include "core/util/ascii.h"
#include "imap/mailbox/pattern.h"
#include "imap/proto/parser.h"

namespace imap::notify {

namespace {

struct EventName {
  const char* name;
  Event bit;
};
constexpr EventName kEventNames[] = {
    {"MessageNew", kMessageNew},
    {"MessageExpunge", kMessageExpunge},
    {"FlagChange", kFlagChange},
    {"AnnotationChange", kAnnotationChange},
    {"MailboxName", kMailboxName},
    {"SubscriptionChange", kSubscriptionChange},
    {"MailboxMetadataChange", kMailboxMetadataChange},
    {"ServerMetadataChange", kServerMetadataChange},
};

bool is_atom_char(char ch) {
  auto c = static_cast<unsigned char>(ch);
  if (c <= 0x20 || c >= 0x7f) return false;
  switch (ch) {
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

bool is_astring_char(char ch) {
  return is_atom_char(ch) || ch == ']';
}

// A reader over the argument text; every method returns false on a syntax
// error with the first message kept.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}

  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[pos_]; }
  size_t pos() const { return pos_; }
  std::string_view text() const { return s_; }
  bool eat(char c) {
    if (at_end() || s_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  bool fail(std::string msg) {
    if (error_.empty()) error_ = std::move(msg);
    return false;
  }
  const std::string& error() const { return error_; }
  bool sp() { return eat(' ') || fail("expected a space"); }
  bool expect(char c, const char* what) { return eat(c) || fail(std::string("expected ") + what); }

  std::string_view atom() {
    size_t start = pos_;
    while (!at_end() && is_atom_char(s_[pos_])) ++pos_;
    return s_.substr(start, pos_ - start);
  }

  // Consumes `kw` (any case) when it is next and not followed by an atom char.
  bool try_keyword(std::string_view kw) {
    if (s_.size() - pos_ < kw.size()) return false;
    if (!core::ascii_iequals(s_.substr(pos_, kw.size()), kw)) return false;
    if (pos_ + kw.size() < s_.size() && is_atom_char(s_[pos_ + kw.size()])) return false;
    pos_ += kw.size();
    return true;
  }

  bool quoted(std::string* out) {
    ++pos_;  // the opening quote
    out->clear();
    while (true) {
      if (at_end()) return fail("unterminated quoted string");
      char c = s_[pos_++];
      if (c == '"') return true;
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

  // "{n}\n" or "{n+}\n" followed by n bytes (the parser's command form).
  bool literal(std::string* out) {
    ++pos_;  // '{'
    size_t start = pos_;
    while (!at_end() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    if (pos_ == start || pos_ - start > 19) return fail("bad literal size");
    uint64_t n = 0;
    for (size_t i = start; i < pos_; ++i) n = n * 10 + static_cast<uint64_t>(s_[i] - '0');
    eat('+');
    if (!eat('}') || !eat('\n')) return fail("bad literal");
    if (n > s_.size() - pos_) return fail("truncated literal");
    *out = std::string(s_.substr(pos_, static_cast<size_t>(n)));
    pos_ += static_cast<size_t>(n);
    return true;
  }

  bool mailbox(proto::Mailbox* out) {
    char c = peek();
    if (c == '"') {
      out->form = proto::Mailbox::Form::kQuoted;
      return quoted(&out->name);
    }
    if (c == '{') {
      out->form = proto::Mailbox::Form::kLiteral;
      return literal(&out->name);
    }
    size_t start = pos_;
    while (!at_end() && is_astring_char(s_[pos_])) ++pos_;
    if (pos_ == start) return fail("expected a mailbox name");
    out->form = proto::Mailbox::Form::kAtom;
    out->name = std::string(s_.substr(start, pos_ - start));
    return true;
  }

  // Skips a balanced "(...)" list (strings and literals inside are skipped
  // whole) and returns its text, parentheses included.
  bool balanced_list(std::string_view* out) {
    size_t start = pos_;
    if (!expect('(', "'('")) return false;
    int depth = 1;
    std::string ignored;
    while (depth > 0) {
      if (at_end()) return fail("unterminated list");
      char c = peek();
      if (c == '"') {
        if (!quoted(&ignored)) return false;
      } else if (c == '{') {
        if (!literal(&ignored)) return false;
      } else {
        ++pos_;
        if (c == '(') ++depth;
        if (c == ')') --depth;
        if (depth > 8) return fail("nesting too deep");
      }
    }
    *out = s_.substr(start, pos_ - start);
    return true;
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
  std::string error_;
};

bool read_filter(Reader& r, Group* g) {
  using F = FilterKind;
  static const std::pair<const char*, F> kPlain[] = {
      {"selected-delayed", F::kSelectedDelayed},
      {"selected", F::kSelected},
      {"inboxes", F::kInboxes},
      {"personal", F::kPersonal},
      {"subscribed", F::kSubscribed},
  };
  for (const auto& [name, kind] : kPlain) {
    if (r.try_keyword(name)) {
      g->filter = kind;
      return true;
    }
  }
  bool subtree = r.try_keyword("subtree");
  if (!subtree && !r.try_keyword("mailboxes")) {
    std::string_view a = r.atom();
    if (a.empty()) return r.fail("expected a mailbox filter");
    return r.fail("unknown mailbox filter " + std::string(a.substr(0, 40)));
  }
  g->filter = subtree ? F::kSubtree : F::kMailboxes;
  if (!r.sp()) return false;
  if (r.eat('(')) {
    while (true) {
      proto::Mailbox m;
      if (!r.mailbox(&m)) return false;
      g->names.push_back(std::move(m));
      if (r.eat(')')) break;
      if (!r.sp()) return false;
    }
    return true;
  }
  proto::Mailbox m;
  if (!r.mailbox(&m)) return false;
  g->names.push_back(std::move(m));
  return true;
}

// MessageNew's "(" fetch-att *(SP fetch-att) ")": read with the command
// parser's FETCH grammar.
bool read_fetch_atts(Reader& r, std::vector<proto::FetchAtt>* out) {
  std::string_view list;
  if (!r.balanced_list(&list)) return false;
  if (list == "()") return r.fail("empty fetch attribute list");
  std::string text = "x FETCH 1 ";
  text += list;
  auto parsed = proto::parse_command(text);
  if (auto* e = std::get_if<proto::ParseError>(&parsed)) {
    return r.fail("bad MessageNew fetch attributes: " + e->message);
  }
  const auto& cmd = std::get<proto::Command>(parsed);
  *out = std::get<proto::FetchArgs>(cmd.args).atts;
  return true;
}

bool read_events(Reader& r, Group* g) {
  if (r.try_keyword("NONE")) {
    g->events = 0;
    return true;
  }
  if (!r.expect('(', "an event list or NONE")) return false;
  bool fetch_given = false;
  while (true) {
    std::string_view a = r.atom();
    if (a.empty()) return r.fail("expected an event name");
    uint32_t bit = kUnknownEvent;
    for (const auto& e : kEventNames) {
      if (core::ascii_iequals(a, e.name)) bit = e.bit;
    }
    g->events |= bit;
    if (bit == kMessageNew && r.peek() == ' ' && r.text().substr(r.pos()).size() > 1 &&
        r.text()[r.pos() + 1] == '(') {
      r.eat(' ');
      if (!read_fetch_atts(r, &g->fetch_atts)) return false;
      fetch_given = true;
    }
    if (r.eat(')')) break;
    if (!r.sp()) return false;
  }
  bool selected = g->filter == FilterKind::kSelected || g->filter == FilterKind::kSelectedDelayed;
  if (fetch_given && !selected) {
    return r.fail("MessageNew fetch attributes are only allowed with selected or selected-delayed");
  }
  uint32_t ev = g->events;
  if (((ev & kMessageNew) != 0) != ((ev & kMessageExpunge) != 0)) {
    return r.fail("MessageNew and MessageExpunge must be given together");
  }
  if ((ev & (kFlagChange | kAnnotationChange)) != 0 && (ev & kMessageNew) == 0) {
    return r.fail("FlagChange and AnnotationChange need MessageNew and MessageExpunge");
  }
  if (selected && (ev & ~kMessageEvents) != 0) {
    return r.fail("only message events are allowed with selected and selected-delayed");
  }
  return true;
}

}  // namespace

std::string event_names(uint32_t events) {
  std::string out;
  for (const auto& e : kEventNames) {
    if ((events & e.bit) == 0) continue;
    if (!out.empty()) out += ' ';
    out += e.name;
  }
  return out;
}

std::string supported_events_list() {
  return "(" + event_names(kSupportedEvents) + ")";
}

ParseResult parse(std::string_view args) {
  ParseResult res;
  Reader r(args);
  auto bad = [&](std::string fallback) {
    res.kind = ParseResult::Kind::kBad;
    res.error = r.error().empty() ? std::move(fallback) : r.error();
    res.spec = Spec{};
    return res;
  };
  if (!r.sp()) return bad("NOTIFY needs SET or NONE");
  if (r.try_keyword("NONE")) {
    if (!r.at_end()) return bad("unexpected characters after NOTIFY NONE");
    res.spec.none = true;
    return res;
  }
  if (!r.try_keyword("SET")) return bad("NOTIFY needs SET or NONE");
  if (!r.sp()) return bad("NOTIFY SET needs event groups");
  if (r.try_keyword("STATUS")) {
    res.spec.status = true;
    if (!r.sp()) return bad("NOTIFY SET STATUS needs event groups");
  }
  bool have_selected = false;
  while (true) {
    Group g;
    if (!r.expect('(', "an event group") || !read_filter(r, &g) || !r.sp() || !read_events(r, &g) ||
        !r.expect(')', "')' after the events")) {
      return bad("bad event group");
    }
    bool selected = g.filter == FilterKind::kSelected || g.filter == FilterKind::kSelectedDelayed;
    if (selected && have_selected) {
      r.fail("only one selected or selected-delayed group is allowed");
      return bad("");
    }
    have_selected = have_selected || selected;
    res.spec.groups.push_back(std::move(g));
    if (r.at_end()) break;
    if (!r.sp()) return bad("expected a space");
  }
  uint32_t unsupported = 0;
  for (const auto& g : res.spec.groups) unsupported |= g.events & ~kSupportedEvents;
  if (unsupported != 0) {
    res.kind = ParseResult::Kind::kBadEvent;
    std::string names = event_names(unsupported);
    if ((unsupported & kUnknownEvent) != 0) names += names.empty() ? "unknown" : " and unknown";
    res.error = "Events not supported: " + names;
  }
  return res;
}

SelectedPart selected_part(const Spec& spec) {
  SelectedPart p;
  for (const auto& g : spec.groups) {
    if (g.filter != FilterKind::kSelected && g.filter != FilterKind::kSelectedDelayed) continue;
    p.events = g.events;
    p.delayed = g.filter == FilterKind::kSelectedDelayed;
    p.fetch_atts = g.fetch_atts;
  }
  return p;
}

uint32_t events_for(std::span<const Resolved> groups, std::string_view name,
                    const MatchContext& ctx) {
  // rank: mailboxes 1000000, subtree 1000 + depth of the named ancestor,
  // inboxes 3, subscribed 2, personal 1.
  size_t best = 0;
  uint32_t events = 0;
  auto take = [&](size_t rank, uint32_t ev) {
    if (rank > best) {
      best = rank;
      events = ev;
    } else if (rank == best) {
      events |= ev;
    }
  };
  for (const auto& g : groups) {
    switch (g.filter) {
      case FilterKind::kSelected:
      case FilterKind::kSelectedDelayed:
        break;
      case FilterKind::kPersonal:
        take(1, g.events);
        break;
      case FilterKind::kSubscribed:
        if (ctx.subscribed && ctx.subscribed->count(std::string(name))) take(2, g.events);
        break;
      case FilterKind::kInboxes:
        if (ctx.inboxes_all || name == "INBOX") take(3, g.events);
        break;
      case FilterKind::kSubtree:
        for (const auto& n : g.names) {
          if (name == n || mailbox::is_below(name, n)) {
            take(1000 + static_cast<size_t>(std::count(n.begin(), n.end(), '/')) + 1, g.events);
          }
        }
        break;
      case FilterKind::kMailboxes:
        for (const auto& n : g.names) {
          if (name == n) take(1000000, g.events);
        }
        break;
    }
  }
  return events;
}

bool needs_subscriptions(std::span<const Resolved> groups) {
  for (const auto& g : groups) {
    if (g.filter == FilterKind::kSubscribed || (g.events & kSubscriptionChange) != 0) return true;
  }
  return false;
}

}  // namespace imap::notify
