// SEARCH program compilation and evaluation.
#include "imap/search/search.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "core/util/ascii.h"
#include "imap/mime/mime.h"

namespace imap::search {

using Kind = proto::SearchKey::Kind;

struct Program::Node {
  Kind kind = Kind::kAll;
  std::string needle;  // casemap()ped UTF-8 search string
  std::string field;   // HEADER: field name; KEYWORD / UNKEYWORD: the keyword
  int64_t day = 0;     // date keys: days since 1970-01-01
  uint64_t number = 0;
  std::vector<std::pair<uint32_t, uint32_t>> ranges;  // UID / sequence set, resolved
  std::vector<Node> children;
  Cost cost = Cost::kMeta;
};

namespace {

using Node = Program::Node;

Cost key_cost(Kind k) {
  switch (k) {
    case Kind::kBcc:
    case Kind::kCc:
    case Kind::kFrom:
    case Kind::kHeader:
    case Kind::kSentBefore:
    case Kind::kSentOn:
    case Kind::kSentSince:
    case Kind::kSubject:
    case Kind::kTo:
      return Cost::kHeader;
    case Kind::kBody:
    case Kind::kText:
      return Cost::kBody;
    default:
      return Cost::kMeta;
  }
}

struct Compiler {
  std::string charset;  // empty: UTF-8
  Bounds bounds;
  CompileError* error;
  bool modseq = false;

  bool convert(const std::string& s, std::string* out) {
    std::string utf8;
    if (!mime::charset_to_utf8(charset.empty() ? "utf-8" : charset, s, utf8)) {
      error->kind = CompileError::Kind::kBadCharset;
      error->text = "Unknown charset";
      return false;
    }
    *out = casemap(utf8);
    return true;
  }

  bool compile(const proto::SearchKey& key, Node* out, int depth) {
    out->kind = key.kind;
    out->cost = key_cost(key.kind);
    if (depth > 200) {  // the parser bounds nesting far below this
      out->kind = Kind::kAll;
      return true;
    }
    switch (key.kind) {
      case Kind::kBcc:
      case Kind::kBody:
      case Kind::kCc:
      case Kind::kFrom:
      case Kind::kSubject:
      case Kind::kText:
      case Kind::kTo:
        return convert(key.text, &out->needle);
      case Kind::kHeader:
        out->field = key.text;
        return convert(key.value, &out->needle);
      case Kind::kKeyword:
      case Kind::kUnkeyword:
        out->field = key.text;
        return true;
      case Kind::kBefore:
      case Kind::kOn:
      case Kind::kSince:
      case Kind::kSentBefore:
      case Kind::kSentOn:
      case Kind::kSentSince:
      case Kind::kSavedBefore:
      case Kind::kSavedOn:
      case Kind::kSavedSince:
        out->day = days_from_civil(key.date.year, key.date.month, key.date.day);
        return true;
      case Kind::kEmailId:
      case Kind::kThreadId:
        out->field = key.text;
        return true;
      case Kind::kLarger:
      case Kind::kSmaller:
      case Kind::kOlder:
      case Kind::kYounger:
        out->number = key.number;
        return true;
      case Kind::kModSeq:
        out->number = key.number;
        modseq = true;
        return true;
      case Kind::kUid:
      case Kind::kSequenceSet:
        if (key.set.saved) {
          error->kind = CompileError::Kind::kSavedResult;
          error->text =
              "A saved search result ($) cannot be used here (SORT and THREAD do not take it)";
          return false;
        }
        out->ranges = key.set.resolve(key.kind == Kind::kUid ? bounds.max_uid : bounds.max_seq);
        return true;
      case Kind::kNot:
      case Kind::kOr:
      case Kind::kAnd: {
        out->children.resize(key.children.size());
        Cost cost = Cost::kMeta;
        for (size_t i = 0; i < key.children.size(); ++i) {
          if (!compile(key.children[i], &out->children[i], depth + 1)) return false;
          cost = std::max(cost, out->children[i].cost);
        }
        out->cost = cost;
        // The keys of a group (and the two sides of OR) are independent:
        // try the cheap ones first so the expensive ones often never run.
        if (key.kind != Kind::kNot) {
          std::stable_sort(out->children.begin(), out->children.end(),
                           [](const Node& a, const Node& b) { return a.cost < b.cost; });
        }
        return true;
      }
      default:
        return true;
    }
  }
};

bool in_ranges(const std::vector<std::pair<uint32_t, uint32_t>>& ranges, uint32_t n) {
  if (n == 0) return false;
  // Ranges are sorted and disjoint: find the last one starting at or before n.
  auto it = std::upper_bound(ranges.begin(), ranges.end(), n,
                             [](uint32_t v, const auto& r) { return v < r.first; });
  if (it == ranges.begin()) return false;
  --it;
  return n <= it->second;
}

bool has_keyword(const store::MessageMeta& meta, std::string_view kw) {
  for (const std::string& k : meta.keywords) {
    if (core::ascii_iequals(k, kw)) return true;
  }
  return false;
}

int64_t utc_day(int64_t t) {
  // Floor division: instants before 1970 belong to earlier days.
  return t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
}

// Per-message state: what has been read and decoded so far.
class Evaluation {
 public:
  Evaluation(const MessageContext& m, const Bounds& b) : m_(m), b_(b) {}

  bool eval(const Node& n) {
    const store::MessageMeta& meta = *m_.meta;
    switch (n.kind) {
      case Kind::kAll:
        return true;
      case Kind::kAnd:
        for (const Node& c : n.children) {
          if (!eval(c)) return false;
        }
        return true;
      case Kind::kOr:
        for (const Node& c : n.children) {
          if (eval(c)) return true;
        }
        return false;
      case Kind::kNot:
        return n.children.empty() || !eval(n.children[0]);
      case Kind::kAnswered:
        return (meta.flags & store::kAnswered) != 0;
      case Kind::kUnanswered:
        return (meta.flags & store::kAnswered) == 0;
      case Kind::kDeleted:
        return (meta.flags & store::kDeleted) != 0;
      case Kind::kUndeleted:
        return (meta.flags & store::kDeleted) == 0;
      case Kind::kDraft:
        return (meta.flags & store::kDraft) != 0;
      case Kind::kUndraft:
        return (meta.flags & store::kDraft) == 0;
      case Kind::kFlagged:
        return (meta.flags & store::kFlagged) != 0;
      case Kind::kUnflagged:
        return (meta.flags & store::kFlagged) == 0;
      case Kind::kSeen:
        return (meta.flags & store::kSeen) != 0;
      case Kind::kUnseen:
        return (meta.flags & store::kSeen) == 0;
      case Kind::kRecent:
        return m_.recent;
      case Kind::kOld:
        return !m_.recent;
      case Kind::kNew:
        return m_.recent && (meta.flags & store::kSeen) == 0;
      case Kind::kKeyword:
        return has_keyword(meta, n.field);
      case Kind::kUnkeyword:
        return !has_keyword(meta, n.field);
      case Kind::kLarger:
        return meta.size > n.number;
      case Kind::kSmaller:
        return meta.size < n.number;
      case Kind::kBefore:
        return utc_day(meta.internal_date) < n.day;
      case Kind::kOn:
        return utc_day(meta.internal_date) == n.day;
      case Kind::kSince:
        return utc_day(meta.internal_date) >= n.day;
      case Kind::kOlder:
        return b_.now - meta.internal_date >= static_cast<int64_t>(n.number);
      case Kind::kYounger:
        return b_.now - meta.internal_date < static_cast<int64_t>(n.number);
      case Kind::kModSeq:
        return meta.modseq >= n.number;
      // RFC 8514: a message without a save date matches none of these
      // (SAVEDATESUPPORTED is then false for it as well).
      case Kind::kSavedBefore:
        return meta.save_date != 0 && utc_day(meta.save_date) < n.day;
      case Kind::kSavedOn:
        return meta.save_date != 0 && utc_day(meta.save_date) == n.day;
      case Kind::kSavedSince:
        return meta.save_date != 0 && utc_day(meta.save_date) >= n.day;
      case Kind::kSaveDateSupported:
        return meta.save_date != 0;
      // RFC 8474: ids are compared exactly; Roost has no THREADID.
      case Kind::kEmailId:
        return !meta.email_id.empty() && meta.email_id == n.field;
      case Kind::kThreadId:
        return false;
      case Kind::kUid:
        return in_ranges(n.ranges, meta.uid);
      case Kind::kSequenceSet:
        return in_ranges(n.ranges, m_.seq);
      case Kind::kSentBefore:
        return sent() < n.day;
      case Kind::kSentOn:
        return sent() == n.day;
      case Kind::kSentSince:
        return sent() >= n.day;
      case Kind::kSubject:
        return field_contains("subject", n.needle, false);
      case Kind::kFrom:
        return field_contains("from", n.needle, false);
      case Kind::kTo:
        return field_contains("to", n.needle, false);
      case Kind::kCc:
        return field_contains("cc", n.needle, false);
      case Kind::kBcc:
        return field_contains("bcc", n.needle, false);
      case Kind::kHeader:
        return field_contains(n.field, n.needle, true);
      case Kind::kBody:
        return body_contains(n.needle);
      case Kind::kText:
        return header_contains(n.needle) || body_contains(n.needle);
    }
    return false;
  }

 private:
  // Views into the header block, which the message access keeps for the
  // whole evaluation; a value is unfolded and decoded only when a key
  // looks at that field.
  struct Field {
    std::string_view name;
    std::string_view raw;               // folded, still encoded
    std::optional<std::string> folded;  // unfolded, decoded and casemap()ped
  };

  const std::vector<Field>* fields() {
    if (!fields_) {
      fields_.emplace();
      const std::string* h = m_.access ? m_.access->header() : nullptr;
      if (h) {
        std::string_view block = *h, name, raw;
        while (mime::detail::next_header_field(block, name, raw)) {
          fields_->push_back(Field{name, raw, std::nullopt});
        }
      }
    }
    return &*fields_;
  }

  // `empty_matches`: HEADER with an empty string asks only for presence.
  bool field_contains(std::string_view name, const std::string& needle, bool empty_matches) {
    fields();
    for (Field& f : *fields_) {
      if (!core::ascii_iequals(f.name, name)) continue;
      if (needle.empty() && empty_matches) return true;
      if (!f.folded) f.folded = casemap(mime::decode_header_value(mime::detail::unfold(f.raw)));
      if (f.folded->find(needle) != std::string::npos) return true;
    }
    return false;
  }

  bool header_contains(const std::string& needle) {
    if (!header_text_) {
      const std::string* h = m_.access ? m_.access->header() : nullptr;
      header_text_ = h ? casemap(header_text(*h)) : std::string();
    }
    return header_text_->find(needle) != std::string::npos;
  }

  bool body_contains(const std::string& needle) {
    if (!body_text_) {
      const std::string* msg = m_.access ? m_.access->message() : nullptr;
      body_text_ = msg ? casemap(body_text(*msg)) : std::string();
    }
    return body_text_->find(needle) != std::string::npos;
  }

  // The Date: header's own day, or the internal date's UTC day when the
  // header is missing or cannot be read.
  int64_t sent() {
    if (!sent_) {
      std::optional<int64_t> d;
      fields();
      for (const Field& f : *fields_) {
        if (core::ascii_iequals(f.name, "date")) {
          d = sent_day(mime::detail::unfold(f.raw));
          break;
        }
      }
      sent_ = d ? *d : utc_day(m_.meta->internal_date);
    }
    return *sent_;
  }

  const MessageContext& m_;
  const Bounds& b_;
  std::optional<std::vector<Field>> fields_;
  std::optional<std::string> header_text_;
  std::optional<std::string> body_text_;
  std::optional<int64_t> sent_;
};

}  // namespace

std::optional<Program> Program::compile(const proto::SearchKey& root,
                                        const std::optional<std::string>& charset,
                                        const Bounds& bounds, CompileError* error) {
  CompileError scratch;
  if (error == nullptr) error = &scratch;
  *error = CompileError{};
  Compiler c{charset.value_or(std::string()), bounds, error};
  if (!c.charset.empty()) {
    std::string probe;
    if (!mime::charset_to_utf8(c.charset, "", probe)) {
      error->kind = CompileError::Kind::kBadCharset;
      error->text = "Unknown charset";
      return std::nullopt;
    }
  }
  auto node = std::make_shared<Node>();
  if (!c.compile(root, node.get(), 0)) return std::nullopt;
  Program p;
  p.root_ = std::move(node);
  p.bounds_ = bounds;
  p.modseq_ = c.modseq;
  return p;
}

bool Program::matches(const MessageContext& m) const {
  if (!root_ || m.meta == nullptr) return false;
  Evaluation e(m, bounds_);
  return e.eval(*root_);
}

Cost Program::cost() const {
  return root_ ? root_->cost : Cost::kMeta;
}

namespace {
bool only_cached_fields(const Node& n) {
  switch (n.kind) {
    case Kind::kBody:
    case Kind::kText:
      return false;
    case Kind::kHeader:
      if (!store::is_cached_header_field(n.field)) return false;
      break;
    default:
      break;  // SUBJECT, FROM, TO, CC, BCC and the SENT* keys' Date: are cached
  }
  for (const Node& c : n.children) {
    if (!only_cached_fields(c)) return false;
  }
  return true;
}
}  // namespace

bool Program::reads_only_cached_fields() const {
  return !root_ || only_cached_fields(*root_);
}

bool Program::uses_modseq() const {
  return modseq_;
}

}  // namespace imap::search
