// LMTP wire protocol (RFC 2033 over RFC 5321 syntax), pure: bytes in, events
// out. No I/O, no store, no configuration: the session decides what each
// event means and answers it.
//
// The Parser runs in one of three modes:
//  - commands: CRLF- (or bare LF-) terminated lines, capped in length;
//  - DATA: message content up to the "." line, dot-unstuffed, every line end
//    (CRLF or a bare LF) written as CRLF; the session enters it after its 354;
//  - BDAT: exactly N octets of content (bare LF written as CRLF), entered by the
//    session after it has read a BDAT command.
// Input may be split anywhere; a pipelining client's next commands after a
// DATA terminator or a BDAT chunk stay buffered for the command mode.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lmtp::proto {

class Parser {
 public:
  explicit Parser(size_t max_line) : max_line_(max_line) {}

  struct Event {
    enum class Kind {
      kLine,      // a command line, without its line end
      kTooLong,   // a command line over the cap (its bytes were dropped)
      kContent,   // message content (DATA or BDAT), already converted
      kDataEnd,   // the "." line that ends DATA; back in command mode
      kChunkEnd,  // the last octet of a BDAT chunk was read; back in command mode
    } kind = Kind::kLine;
    std::string bytes;  // the line (kLine) or the content (kContent)
  };

  // Appends input.
  void feed(std::string_view bytes);
  // The next event, if one is complete. Content is handed out as soon as it
  // is known (a pending CR or a "." at a line start may wait for a byte).
  std::optional<Event> next();

  // Switches to DATA mode (after the session's 354).
  void begin_data();
  // Switches to BDAT mode for `size` octets (a size of 0 ends at once). The
  // line-end state carries over between the chunks of one message.
  void begin_chunk(uint64_t size);
  // Forgets the line-end state of BDAT content (a new message begins).
  void reset_message() { chunk_prev_cr_ = false; }

  bool in_command_mode() const { return mode_ == Mode::kCommand; }
  // Bytes held: unread input plus pending output.
  size_t buffered() const { return buf_.size() - pos_ + out_.size(); }
  void set_max_line(size_t n) { max_line_ = n; }

 private:
  enum class Mode { kCommand, kData, kChunk };
  // Where DATA is within a line.
  enum class DataState { kLineStart, kMid, kDot, kDotCr };

  std::optional<Event> next_line();
  // Consumes DATA input; true when the terminator was reached.
  bool run_data();
  void run_chunk();
  void data_byte(char c);
  void compact();

  size_t max_line_;
  Mode mode_ = Mode::kCommand;
  std::string buf_;
  size_t pos_ = 0;
  bool discarding_ = false;  // dropping the rest of an overlong command line
  // DATA / BDAT
  std::string out_;  // converted content not yet handed out
  DataState data_state_ = DataState::kLineStart;
  bool prev_cr_ = false;  // the last content octet written was a CR
  bool chunk_prev_cr_ = false;
  uint64_t chunk_left_ = 0;
  bool end_pending_ = false;  // kDataEnd / kChunkEnd after out_ is handed out
  bool chunk_end_ = false;    // the pending end is a kChunkEnd
};

enum class Verb {
  kLhlo,
  kHelo,
  kEhlo,
  kMail,
  kRcpt,
  kData,
  kBdat,
  kRset,
  kNoop,
  kQuit,
  kVrfy,
  kExpn,
  kHelp,
  kStartTls,
  kUnknown,
};

struct Command {
  Verb verb = Verb::kUnknown;
  std::string keyword;  // upper-cased
  std::string arg;      // everything after "KEYWORD " (may be empty)
};

// Splits a command line into its keyword and argument. nullopt for an empty
// or blank line.
std::optional<Command> parse_command(std::string_view line);

// An ESMTP parameter of MAIL or RCPT: KEY or KEY=VALUE.
struct Param {
  std::string key;  // upper-cased
  std::string value;
  bool has_value = false;
};

// "FROM:<path> params" / "TO:<path> params".
struct PathArg {
  std::string address;  // between the brackets, source route removed; empty for <>
  std::vector<Param> params;
};

enum class PathError {
  kSyntax,        // no "FROM:"/"TO:", no brackets, junk: 501 5.5.4 / 5.1.7 / 5.1.3
  kBadAddress,    // a path that is not local@domain (or <> where not allowed)
  kBadParameter,  // a malformed parameter: 501 5.5.4
};

// Parses the argument of MAIL (prefix "FROM:") or RCPT (prefix "TO:").
// Case-insensitive prefix; spaces after the colon are tolerated; `allow_null`
// permits "<>" (MAIL). Quoted local parts keep their quotes.
struct PathResult {
  std::optional<PathArg> value;
  PathError error = PathError::kSyntax;
};
PathResult parse_path_arg(std::string_view arg, std::string_view prefix, bool allow_null);

// "BDAT <size> [LAST]".
struct BdatArg {
  uint64_t size = 0;
  bool last = false;
};
std::optional<BdatArg> parse_bdat(std::string_view arg);

// A decimal number without sign or junk, at most 20 digits and not overflowing.
std::optional<uint64_t> parse_size(std::string_view s);

// Whether the text has any octet >= 0x80.
bool has_non_ascii(std::string_view s);

}  // namespace lmtp::proto
