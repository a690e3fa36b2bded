// libFuzzer target for imap/proto (the command parser).
//
// Input layout: byte 0 picks the line cap, byte 1 seeds the piece sizes,
// byte 2 seeds the literal decisions (accept / reject), byte 3 picks the
// APPEND literal cap; the rest is the payload. The payload is
//  - fed to a Parser in pieces of varying size, the continuation decisions
//    and expect_line() calls driven by the fuzz bytes; the events (literal
//    chunks merged) must match a whole-input run, buffering must stay within
//    the line cap, chunks within chunk_max, and APPEND events must be well
//    formed (chunks add up to the announced size);
//  - parsed directly by parse_command, with sequence-set checks on the result.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "imap/proto/parser.h"

namespace {

using namespace imap::proto;

void require(bool ok) {
  if (!ok) abort();
}

class Rng {
 public:
  explicit Rng(uint32_t seed) : state_(seed * 2654435761u + 1) {}
  uint32_t next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    return state_;
  }
  size_t piece() {
    uint32_t v = next();
    return (v & 3) == 0 ? 1 + v % 512 : 1 + v % 7;
  }

 private:
  uint32_t state_;
};

void check_set(const SequenceSet& s) {
  for (const SeqRange& r : s.ranges) require(r.lo >= 1 && r.lo <= r.hi);
  if (s.saved) require(s.ranges.empty());
  for (uint32_t max : {0u, 1u, 7u, 1000u}) {
    auto res = s.resolve(max);
    uint64_t prev_hi = 0;
    for (const auto& [lo, hi] : res) {
      require(lo >= 1 && lo <= hi && hi <= max);
      require(lo > prev_hi + 1 || prev_hi == 0);
      prev_hi = hi;
    }
  }
}

void check_search(const SearchKey& k, int depth) {
  require(depth < 64);
  if (k.kind == SearchKey::Kind::kNot) require(k.children.size() == 1);
  if (k.kind == SearchKey::Kind::kOr) require(k.children.size() == 2);
  if (k.kind == SearchKey::Kind::kAnd) require(!k.children.empty());
  if (k.kind == SearchKey::Kind::kUid || k.kind == SearchKey::Kind::kSequenceSet) check_set(k.set);
  for (const SearchKey& c : k.children) check_search(c, depth + 1);
}

void check_command(const Command& c) {
  require(!c.tag.empty());
  for (char ch : c.tag) require(ch != '+' && ch != ' ' && ch != '\0');
  require(!c.name.empty());
  for (char ch : c.name) require(!(ch >= 'a' && ch <= 'z'));
  if (auto* f = std::get_if<FetchArgs>(&c.args)) {
    check_set(f->set);
    require(!f->atts.empty());
    for (const FetchAtt& a : f->atts) {
      if (a.partial) require(a.partial->length > 0);
    }
  } else if (auto* s = std::get_if<StoreArgs>(&c.args)) {
    check_set(s->set);
  } else if (auto* cp = std::get_if<CopyArgs>(&c.args)) {
    check_set(cp->set);
  } else if (auto* se = std::get_if<SearchArgs>(&c.args)) {
    require(se->program.kind == SearchKey::Kind::kAnd);
    check_search(se->program, 0);
  } else if (auto* e = std::get_if<ExpungeArgs>(&c.args)) {
    require(e->set.has_value() == c.uid);
    if (e->set) check_set(*e->set);
  }
}

struct Result {
  std::vector<Event> events;
  bool dead = false;
};

Result run(std::string_view payload, const Limits& limits, bool auth, uint32_t piece_seed,
           uint32_t decide_seed, bool whole) {
  Parser p(limits);
  p.set_authenticated(auth);
  size_t cap = auth ? limits.line_max : limits.line_max_preauth;
  Rng pieces(piece_seed);
  Rng decide(decide_seed);
  Result r;
  // APPEND bookkeeping.
  bool in_append = false;
  bool accepted = false;
  uint64_t want = 0, got = 0;
  size_t pos = 0;
  while (pos < payload.size()) {
    size_t n = whole ? payload.size() : pieces.piece();
    if (n > payload.size() - pos) n = payload.size() - pos;
    p.feed(payload.substr(pos, n));
    pos += n;
    while (auto ev = p.next()) {
      if (auto* b = std::get_if<AppendBegin>(&*ev)) {
        require(!b->tag.empty());
        require(b->size <= limits.literal_max);
        require(in_append == (b->index > 0));
        require(b->form != AppendForm::kCatenate || b->size == 0);
        require(!b->replace || b->index == 0);
        // Only a literal form waits for a decision.
        require(p.awaiting_decision() == (b->form != AppendForm::kCatenate));
        in_append = true;
        want = b->size;
        got = 0;
        accepted = (decide.next() & 7) != 0;
        if (accepted) {
          p.accept_literal();
        } else {
          p.reject_literal();
          in_append = false;
        }
      } else if (auto* t = std::get_if<CatenateText>(&*ev)) {
        // CATENATE (RFC 4469): a TEXT part waits like a message literal.
        require(in_append);
        require(p.awaiting_decision());
        require(t->size <= limits.literal_max);
        want = t->size;
        got = 0;
        accepted = (decide.next() & 7) != 0;
        if (accepted) {
          p.accept_literal();
        } else {
          p.reject_literal();
          in_append = false;
        }
      } else if (std::get_if<CatenateUrl>(&*ev)) {
        require(in_append);
        // The session may end the APPEND at a URL it cannot resolve.
        if ((decide.next() & 15) == 0) {
          p.reject_literal();
          in_append = false;
        }
      } else if (std::get_if<NeedContinuation>(&*ev)) {
        // A mailbox name or CATENATE URL sent as a literal may come inside an APPEND.
        if ((decide.next() & 7) != 0) {
          p.accept_literal();
        } else {
          p.reject_literal();
        }
      } else if (auto* c = std::get_if<LiteralChunk>(&*ev)) {
        require(in_append && accepted);
        require(!c->bytes.empty() && c->bytes.size() <= limits.chunk_max);
        got += c->bytes.size();
        require(got <= want);
      } else if (auto* e = std::get_if<AppendEnd>(&*ev)) {
        require(in_append && got == want);
        in_append = !e->last;  // another AppendBegin follows
      } else if (auto* cmd = std::get_if<Command>(&*ev)) {
        require(!in_append);
        check_command(*cmd);
        if ((cmd->verb == Verb::kIdle || cmd->verb == Verb::kAuthenticate) && (decide.next() & 1)) {
          p.expect_line();
        }
      } else if (auto* big = std::get_if<LiteralTooBig>(&*ev)) {
        in_append = false;
        if (big->fatal) require(!big->synchronising && big->size > limits.discard_max);
      } else if (std::get_if<ParseError>(&*ev) || std::get_if<LineTooLong>(&*ev)) {
        in_append = false;
      } else if (auto* l = std::get_if<Line>(&*ev)) {
        require(l->text.size() <= cap);
      }
      require(!p.awaiting_decision());
      // Merge chunks so that runs with other splits compare equal.
      if (auto* c = std::get_if<LiteralChunk>(&*ev); c && !r.events.empty()) {
        if (auto* prev = std::get_if<LiteralChunk>(&r.events.back())) {
          prev->bytes += c->bytes;
          continue;
        }
      }
      r.events.push_back(std::move(*ev));
    }
    // Everything fed was consumed but a partial command within the cap.
    require(p.buffered() <= cap + 1);
  }
  r.dead = p.dead();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  Limits limits;
  limits.line_max_preauth = 8 + data[0] % 120;
  limits.line_max = limits.line_max_preauth + 64;
  limits.literal_max = data[3] % 64;
  limits.discard_max = 200;
  limits.chunk_max = 1 + data[1] % 16;
  bool auth = data[0] & 0x80;
  std::string_view payload(reinterpret_cast<const char*>(data) + 4, size - 4);

  Result whole = run(payload, limits, auth, data[1], data[2], true);
  Result split = run(payload, limits, auth, data[1], data[2], false);
  require(whole.events == split.events);
  require(whole.dead == split.dead);

  auto direct = parse_command(payload.substr(0, 4096));
  if (auto* c = std::get_if<Command>(&direct)) check_command(*c);
  return 0;
}
