// POP3 wire protocol pieces (RFC 1939, RFC 2449, RFC 5034): line splitting,
// command parsing, multi-line response encoding and CRLF size counting.
#include "pop3/proto/parser.h"

#include <array>
#include <limits>

#include "core/util/ascii.h"

namespace pop3::proto {

// ---------------------------------------------------------------------------
// LineReader
//
// buf_[pos_, end) holds complete lines not yet handed out, followed by at most
// one partial line (the "tail"). The tail never grows beyond the cap plus one
// byte (a CR that may be the first half of a CRLF). When a line is found to be
// too long, its bytes are replaced by a placeholder line of max_line_ + 1 NUL
// bytes that next() reports as kTooLong; if the line has not ended yet,
// discarding_ drops everything up to its LF. A placeholder is never mistaken
// for a command even if the cap is raised meanwhile: parse_command rejects NUL.

namespace {

size_t tail_start_of(const std::string& buf, size_t pos) {
  size_t nl = buf.rfind('\n');
  if (nl == std::string::npos || nl < pos) return pos;
  return nl + 1;
}

}  // namespace

void LineReader::feed(std::string_view in) {
  // Compact: consumed bytes never accumulate.
  if (pos_ > 0) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  while (!in.empty()) {
    if (discarding_) {
      size_t nl = in.find('\n');
      if (nl == std::string_view::npos) return;  // all of it belongs to the long line
      in.remove_prefix(nl + 1);
      discarding_ = false;
      continue;
    }
    size_t nl = in.find('\n');
    bool complete = nl != std::string_view::npos;
    std::string_view piece = complete ? in.substr(0, nl + 1) : in;
    in.remove_prefix(piece.size());

    size_t unconsumed = buf_.size() - pos_;
    if (unconsumed <= max_line_ && piece.size() <= max_line_ - unconsumed) {
      // Cannot exceed the cap even if everything buffered belonged to this line.
      buf_.append(piece);
      continue;
    }
    size_t tail_start = tail_start_of(buf_, pos_);
    size_t tail_len = buf_.size() - tail_start;
    size_t total = tail_len + piece.size();  // raw bytes of the line so far
    bool too_long;
    if (complete) {
      // Content excludes the LF and a CR right before it.
      char before_lf = piece.size() >= 2 ? piece[piece.size() - 2]
                       : tail_len > 0    ? buf_.back()
                                         : '\0';
      size_t content = total - 1 - (before_lf == '\r' ? 1 : 0);
      too_long = content > max_line_;
    } else {
      // A final CR may still become part of a CRLF, so it does not count yet.
      size_t content = total - (piece.back() == '\r' ? 1 : 0);
      too_long = content > max_line_;
    }
    if (!too_long) {
      buf_.append(piece);
      continue;
    }
    buf_.resize(tail_start);
    buf_.append(max_line_ + 1, '\0');
    buf_.push_back('\n');
    if (!complete) discarding_ = true;
  }
}

std::optional<LineReader::Event> LineReader::next() {
  if (pos_ >= buf_.size()) {
    buf_.clear();
    pos_ = 0;
    return std::nullopt;
  }
  size_t nl = buf_.find('\n', pos_);
  if (nl == std::string::npos) return std::nullopt;
  size_t end = nl;
  if (end > pos_ && buf_[end - 1] == '\r') --end;
  Event ev;
  if (end - pos_ > max_line_) {
    ev.kind = Event::Kind::kTooLong;
  } else {
    ev.line.assign(buf_, pos_, end - pos_);
  }
  pos_ = nl + 1;
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  return ev;
}

void LineReader::clear() {
  buf_.clear();
  buf_.shrink_to_fit();
  pos_ = 0;
  discarding_ = false;
}

size_t LineReader::buffered() const {
  return buf_.size() - pos_;
}

// ---------------------------------------------------------------------------
// Commands

namespace {

struct VerbName {
  const char* name;
  Verb verb;
};

constexpr std::array<VerbName, 15> kVerbs = {{
    {"USER", Verb::kUser},
    {"PASS", Verb::kPass},
    {"APOP", Verb::kApop},
    {"AUTH", Verb::kAuth},
    {"STLS", Verb::kStls},
    {"CAPA", Verb::kCapa},
    {"QUIT", Verb::kQuit},
    {"STAT", Verb::kStat},
    {"LIST", Verb::kList},
    {"RETR", Verb::kRetr},
    {"DELE", Verb::kDele},
    {"NOOP", Verb::kNoop},
    {"RSET", Verb::kRset},
    {"TOP", Verb::kTop},
    {"UIDL", Verb::kUidl},
}};

}  // namespace

std::optional<Command> parse_command(std::string_view line) {
  if (line.empty()) return std::nullopt;
  if (line.find('\0') != std::string_view::npos) return std::nullopt;

  size_t sp = line.find(' ');
  std::string_view keyword = line.substr(0, sp);
  if (keyword.size() < 3 || keyword.size() > 4) return std::nullopt;

  Command cmd;
  for (char c : keyword) {
    // Keywords are printable ASCII (RFC 1939 section 3).
    if (c < 0x21 || c > 0x7e) return std::nullopt;
    cmd.keyword.push_back(core::ascii_upper(c));
  }
  for (const VerbName& v : kVerbs) {
    if (cmd.keyword == v.name) {
      cmd.verb = v.verb;
      break;
    }
  }
  if (sp == std::string_view::npos) return cmd;

  std::string_view rest = line.substr(sp + 1);
  cmd.rest.assign(rest);
  if (rest.empty()) return cmd;  // "LIST " has no argument
  size_t start = 0;
  while (true) {
    size_t next_sp = rest.find(' ', start);
    if (next_sp == std::string_view::npos) {
      cmd.args.emplace_back(rest.substr(start));
      break;
    }
    cmd.args.emplace_back(rest.substr(start, next_sp - start));
    start = next_sp + 1;
  }
  return cmd;
}

std::optional<uint32_t> parse_number(std::string_view s) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  uint64_t value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (value < 1 || value > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
    return std::nullopt;
  }
  return static_cast<uint32_t>(value);
}

// ---------------------------------------------------------------------------
// DotStuffer
//
// A CR is held back (prev_cr_) until the next byte shows whether it starts a
// CRLF line end or is a lone CR, which is passed through as data.

bool DotStuffer::feed(std::string_view in, std::string* out) {
  if (done_) return false;
  size_t i = 0;
  const size_t n = in.size();
  while (i < n) {
    if (prev_cr_) {
      prev_cr_ = false;
      if (in[i] == '\n') {
        ++i;
        // Line end (handled below).
      } else {
        // Lone CR: data.
        at_line_start_ = false;
        header_line_empty_ = false;
        out->push_back('\r');
        continue;
      }
    } else if (in[i] == '\r') {
      prev_cr_ = true;
      ++i;
      continue;
    } else if (in[i] == '\n') {
      ++i;
    } else {
      // A run of data bytes up to the next CR or LF.
      size_t j = i;
      while (j < n && in[j] != '\r' && in[j] != '\n') ++j;
      if (at_line_start_ && in[i] == '.') out->push_back('.');
      at_line_start_ = false;
      header_line_empty_ = false;
      out->append(in.data() + i, j - i);
      i = j;
      continue;
    }

    // A line just ended.
    out->append("\r\n");
    bool was_empty = header_line_empty_;
    at_line_start_ = true;
    header_line_empty_ = true;
    if (!in_body_) {
      if (was_empty) {
        in_body_ = true;
        if (limit_ && body_lines_ == 0) done_ = true;
      }
    } else if (limit_) {
      ++emitted_body_lines_;
      if (emitted_body_lines_ >= body_lines_) done_ = true;
    }
    if (done_) return false;
  }
  return true;
}

void DotStuffer::finish(std::string* out) {
  if (prev_cr_) {
    // The message ended with a lone CR: data.
    prev_cr_ = false;
    at_line_start_ = false;
    out->push_back('\r');
  }
  if (!at_line_start_) out->append("\r\n");
  out->append(".\r\n");
  at_line_start_ = true;
  done_ = true;
}

// ---------------------------------------------------------------------------
// CrlfSizer

void CrlfSizer::feed(std::string_view in) {
  for (char c : in) {
    if (c == '\n') {
      total_ += prev_cr_ ? 1 : 2;  // CRLF: the CR was counted already
    } else {
      total_ += 1;
    }
    prev_cr_ = c == '\r';
  }
}

}  // namespace pop3::proto
