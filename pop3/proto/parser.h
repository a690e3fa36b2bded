// POP3 wire protocol, pure: bytes in, events out. No I/O, no store.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pop3::proto {

// Splits the input into CRLF- (or bare LF-) terminated lines with a hard cap.
class LineReader {
 public:
  explicit LineReader(size_t max_line) : max_line_(max_line) {}
  void set_max_line(size_t n) { max_line_ = n; }

  struct Event {
    enum class Kind { kLine, kTooLong } kind = Kind::kLine;
    std::string line;  // without the line end; empty for kTooLong
  };

  // Appends input. Bytes are buffered until a line end; a line over the cap is
  // reported once as kTooLong and its bytes are discarded up to its line end.
  void feed(std::string_view bytes);
  // Next complete event, if any.
  std::optional<Event> next();
  // Drops everything buffered (used at STLS: no plaintext crosses the upgrade).
  void clear();
  size_t buffered() const;

 private:
  size_t max_line_;
  std::string buf_;
  size_t pos_ = 0;
  bool discarding_ = false;
};

enum class Verb {
  kUser, kPass, kApop, kAuth, kStls, kCapa, kQuit,
  kStat, kList, kRetr, kDele, kNoop, kRset, kTop, kUidl,
  kUnknown,
};

struct Command {
  Verb verb = Verb::kUnknown;
  std::string keyword;            // as sent, upper-cased
  std::vector<std::string> args;  // split on single spaces
  std::string rest;               // everything after "KEYWORD " (PASS keeps spaces)
};

// Parses one line (without its line end). Keywords are case-insensitive.
// nullopt for an empty line or a keyword longer than 4 characters.
std::optional<Command> parse_command(std::string_view line);

// Parses a message number argument: decimal, 1..2^31-1, no sign or junk.
std::optional<uint32_t> parse_number(std::string_view s);

// Streams a stored message (LF or CRLF line ends) into POP3 multi-line form:
// CRLF line ends, leading '.' doubled. Chunks may split anywhere. With a line
// limit (TOP), stops after the header, the blank line and `body_lines` lines.
class DotStuffer {
 public:
  DotStuffer() = default;
  explicit DotStuffer(uint64_t body_lines) : limit_(true), body_lines_(body_lines) {}
  // Appends converted bytes to *out. Returns false once the TOP limit is
  // reached (the rest of the message need not be read).
  bool feed(std::string_view in, std::string* out);
  // Terminates the response: a CRLF if the message did not end with one, then ".\r\n".
  void finish(std::string* out);

 private:
  bool at_line_start_ = true;
  bool prev_cr_ = false;
  bool in_body_ = false;
  bool header_line_empty_ = true;  // current line is empty so far
  bool limit_ = false;
  bool done_ = false;
  uint64_t body_lines_ = 0;
  uint64_t emitted_body_lines_ = 0;
};

// Size of a message with CRLF line ends (what LIST/STAT count): every bare LF
// counts as two octets. Streaming: feed chunks, read total().
class CrlfSizer {
 public:
  void feed(std::string_view in);
  uint64_t total() const { return total_; }

 private:
  uint64_t total_ = 0;
  bool prev_cr_ = false;
};

}  // namespace pop3::proto
