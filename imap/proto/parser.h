// IMAP command parser, pure: bytes in, events out. No I/O, no store.
//
// The session feeds whatever arrived and drains next() until it returns
// nullopt. Events:
//
//  - Command: a complete command (APPEND excepted, see below).
//  - NeedContinuation: a synchronising literal {n} inside a command. The
//    session either sends "+ ..." and calls accept_literal(), or answers the
//    tag itself and calls reject_literal() (the client will not send the
//    literal; the parser drops the command).
//  - LiteralTooBig: an APPEND message literal over Limits::literal_max, or
//    any other literal that does not fit in the command line cap. For {n}
//    the session answers NO [TOOBIG] and the command is over; for {n+} (and
//    ~{n+}) it answers BAD [TOOBIG] and the parser discards exactly n bytes,
//    then the rest of that line. `fatal` means n is past Limits::discard_max:
//    the session should close the connection; the parser stops.
//  - AppendBegin / LiteralChunk* / AppendEnd: APPEND is streamed. At the
//    message literal the parser emits AppendBegin and waits: the session calls
//    accept_literal() (after sending "+ ..." if `synchronising`) or
//    reject_literal() (e.g. NO [TRYCREATE]; a non-synchronising literal is
//    then discarded). Accepted data arrives as LiteralChunk events that
//    concatenate to the literal exactly; after the literal, AppendEnd{last}
//    says whether the command ended (last) or another message follows
//    (MULTIAPPEND, RFC 3502: a new AppendBegin comes next). Any ParseError,
//    LineTooLong or LiteralTooBig between AppendBegin and the final
//    AppendEnd cancels the whole APPEND.
//    The message's data may also be `UTF8 (~{n})` (RFC 6855; AppendBegin form
//    kUtf8, otherwise as a literal) or `CATENATE (...)` (RFC 4469): then
//    AppendBegin (form kCatenate) awaits no decision; each TEXT part comes as
//    CatenateText, which awaits one like AppendBegin, then its LiteralChunks;
//    each URL part as CatenateUrl; AppendEnd follows the ")". An APPEND made
//    only of URLs has no literal at all. REPLACE / UID REPLACE (RFC 8508) are
//    streamed the same way (AppendBegin::replace, one message only). The
//    session may end an APPEND between its events with reject_literal() (e.g.
//    a URL it cannot resolve): the rest of the command is dropped.
//  - ParseError: bad syntax. `tag` is empty when no valid tag was read (the
//    session answers "* BAD"). The rest of the command was skipped.
//  - LineTooLong: the command text (literals included) passed the line cap.
//    The rest of the line is skipped (a {n+} literal at its end is skipped
//    too). Memory stays bounded by the cap.
//  - Line: after expect_line(), the next raw line (AUTHENTICATE responses,
//    the DONE that ends IDLE).
//
// While a decision is pending next() returns nullopt and feed() only
// buffers: the session decides before reading more (or pauses input).
// Rejecting a later MULTIAPPEND message ends the whole APPEND.
//
// Empty lines are ignored. Bare LF is accepted as a line end. NUL is
// rejected everywhere except in literal8 (~{n}) data. APPEND message bytes
// are passed through unchecked (the store decides).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "imap/proto/command.h"

namespace imap::proto {

struct NeedContinuation {
  std::string tag;
  uint64_t size = 0;
  bool operator==(const NeedContinuation&) const = default;
};

struct LiteralTooBig {
  std::string tag;
  uint64_t size = 0;
  bool synchronising = true;
  bool fatal = false;
  bool operator==(const LiteralTooBig&) const = default;
};

// How one APPEND message's data is given.
enum class AppendForm {
  kLiteral,   // a literal or literal8: the message literal (decision, chunks)
  kUtf8,      // UTF8 (~{n}) (RFC 6855): a literal8, handled as kLiteral
  kCatenate,  // CATENATE (...) (RFC 4469): no literal and no decision here;
              // CatenateText / CatenateUrl events follow, then AppendEnd
};

struct AppendBegin {
  std::string tag;
  Mailbox mailbox;
  std::vector<std::string> flags;
  std::optional<DateTime> date;
  uint64_t size = 0;    // kLiteral / kUtf8; 0 for kCatenate
  bool binary = false;  // literal8 ~{n} (RFC 3516)
  bool synchronising = true;
  uint32_t index = 0;  // 0 for the first message, 1.. for MULTIAPPEND
  AppendForm form = AppendForm::kLiteral;
  // REPLACE / UID REPLACE (RFC 8508): the message to replace, a message
  // number (or a UID when `uid`); kStar for "*". One message only.
  bool replace = false;
  bool uid = false;
  uint32_t replace_number = 0;
  bool operator==(const AppendBegin&) const = default;
};

// A TEXT part of a CATENATE message (or a UTF8 (~{n}) part, `utf8`): like
// AppendBegin it waits for accept_literal() / reject_literal(); accepted data
// arrives as LiteralChunk events.
struct CatenateText {
  uint64_t size = 0;
  bool binary = false;  // literal8
  bool utf8 = false;    // UTF8 (~{n}) (RFC 6855)
  bool synchronising = true;
  bool operator==(const CatenateText&) const = default;
};

// A URL part of a CATENATE message: the astring as sent (not decoded).
struct CatenateUrl {
  std::string url;
  bool operator==(const CatenateUrl&) const = default;
};

struct LiteralChunk {
  std::string bytes;
  bool operator==(const LiteralChunk&) const = default;
};

struct AppendEnd {
  bool last = true;
  bool operator==(const AppendEnd&) const = default;
};

struct ParseError {
  std::string tag;
  std::string message;
  bool operator==(const ParseError&) const = default;
};

struct LineTooLong {
  std::string tag;
  bool operator==(const LineTooLong&) const = default;
};

struct Line {
  std::string text;  // without the line end
  bool operator==(const Line&) const = default;
};

using Event = std::variant<Command, NeedContinuation, LiteralTooBig, AppendBegin, LiteralChunk,
                           AppendEnd, ParseError, LineTooLong, Line, CatenateText, CatenateUrl>;

// Where a streamed APPEND / REPLACE stands between two data literals
// (Parser internals; see parser.cpp).
struct AppendScan {
  int at = 0;
  std::string tag;
  Mailbox mailbox;
  uint32_t index = 0;
  bool replace = false;
  bool uid = false;
  uint32_t number = 0;
};

struct Limits {
  size_t line_max_preauth = 8 * 1024;  // command text incl. literals, before login
  size_t line_max = 64 * 1024;         // after login
  uint64_t literal_max = 64ull << 20;  // APPEND message literal
  uint64_t discard_max = 1ull << 30;   // past this a {n+} is fatal, not skipped
  size_t chunk_max = 64 * 1024;        // largest LiteralChunk
  // LITERAL- (RFC 7888): a non-synchronising literal larger than this is
  // LiteralTooBig (BAD [TOOBIG], its bytes skipped). 0: no such cap (LITERAL+).
  uint64_t nonsync_max = 0;
};

// What a quoted string may carry besides 7-bit text (RFC 9051 / RFC 6855):
// any 8-bit byte (before login: UTF-8 user names in LOGIN), 7-bit only
// (after login until UTF8=ACCEPT is enabled), or valid UTF-8 only (enabled).
enum class QuotedText { kAny, kAscii, kUtf8 };

class Parser {
 public:
  explicit Parser(Limits limits = Limits{}) : limits_(limits) {}

  void set_limits(const Limits& limits) { limits_ = limits; }
  const Limits& limits() const { return limits_; }
  // Switches between the pre- and post-login line caps.
  void set_authenticated(bool yes) { authenticated_ = yes; }
  // UTF8=ACCEPT (RFC 6855) or IMAP4rev2 enabled: quoted strings may carry
  // UTF-8 after login. Without it 8-bit in a quoted string is a ParseError
  // after login (send a literal).
  void set_utf8(bool yes) { utf8_ = yes; }
  QuotedText quoted_text() const {
    return !authenticated_ ? QuotedText::kAny : (utf8_ ? QuotedText::kUtf8 : QuotedText::kAscii);
  }

  // Appends input. Nothing is parsed until next().
  void feed(std::string_view bytes);
  // The next event, or nullopt when more input (or a literal decision) is needed.
  std::optional<Event> next();

  // Answers the last NeedContinuation / AppendBegin.
  void accept_literal();
  void reject_literal();
  bool awaiting_decision() const { return awaiting_; }

  // The next line is delivered raw as a Line event (then back to commands).
  void expect_line();

  // Drops all buffered input and any partial command (STARTTLS).
  void clear();
  // Bytes held: unparsed input plus the partial command.
  size_t buffered() const { return in_.size() - pos_ + cmd_.size(); }
  // After a fatal LiteralTooBig: nothing more will be parsed.
  bool dead() const { return dead_; }

 private:
  enum class Mode { kLine, kLiteral, kAppendData, kDiscard, kSkipLine, kRawLine };

  size_t line_cap() const { return authenticated_ ? limits_.line_max : limits_.line_max_preauth; }
  std::optional<Event> on_line_end();
  std::optional<Event> start_skip(Event ev, bool has_marker, bool sync, uint64_t n);
  std::string current_tag() const;
  void reset_command();

  Limits limits_;
  bool authenticated_ = false;
  bool utf8_ = false;
  std::string in_;
  size_t pos_ = 0;
  Mode mode_ = Mode::kLine;
  std::string cmd_;       // the command so far: text, "{n}\n" markers, literal data
  size_t seg_start_ = 0;  // where the current line starts in cmd_
  uint64_t left_ = 0;     // literal / discard bytes still to come
  bool awaiting_ = false;
  bool pending_sync_ = false;  // the literal awaiting a decision is synchronising
  Mode after_accept_ = Mode::kLine;
  // APPEND / REPLACE in progress (past its first data literal): the tag and
  // where the command stands.
  bool in_append_ = false;
  std::string append_tag_;
  AppendScan scan_;
  // Events of one scanned APPEND line, delivered one by one; the last one
  // awaits a decision when `queue_decision_` (a data literal follows).
  std::deque<Event> queue_;
  bool queue_decision_ = false;
  bool queue_sync_ = true;
  uint64_t queue_size_ = 0;
  std::string tail_;  // last bytes of a skipped line (to spot a literal marker)
  bool dead_ = false;
};

// Parses one complete command (text with "{n}\n" + data literals, no final
// line end). Exposed for tests and the fuzzer; the Parser uses it.
// `quoted`: what quoted strings may carry (the Parser passes quoted_text()).
std::variant<Command, ParseError> parse_command(std::string_view text,
                                                QuotedText quoted = QuotedText::kAny);

// True for "DONE" (any case), the line that ends IDLE.
bool is_done(std::string_view line);

}  // namespace imap::proto
