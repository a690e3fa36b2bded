#include "lmtp/proto/parser.h"

#include <algorithm>

#include "core/util/ascii.h"

namespace lmtp::proto {

namespace {

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_control(unsigned char c) {
  return c < 0x20 || c == 0x7f;
}

}  // namespace

// ---------------------------------------------------------------------------
// Parser

void Parser::feed(std::string_view bytes) {
  compact();
  buf_.append(bytes);
}

void Parser::compact() {
  if (pos_ == 0) return;
  if (pos_ >= buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ >= 4096 && pos_ * 2 >= buf_.size()) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
}

void Parser::begin_data() {
  mode_ = Mode::kData;
  data_state_ = DataState::kLineStart;
  prev_cr_ = false;
  end_pending_ = false;
}

void Parser::begin_chunk(uint64_t size) {
  mode_ = Mode::kChunk;
  chunk_left_ = size;
  end_pending_ = false;
}

std::optional<Parser::Event> Parser::next() {
  Event::Kind end_kind = Event::Kind::kDataEnd;
  if (mode_ == Mode::kData) {
    if (run_data()) {
      mode_ = Mode::kCommand;
      end_pending_ = true;
    }
  } else if (mode_ == Mode::kChunk) {
    run_chunk();
    if (chunk_left_ == 0) {
      mode_ = Mode::kCommand;
      end_pending_ = true;
      chunk_end_ = true;
    }
  }
  if (!out_.empty()) {
    Event e;
    e.kind = Event::Kind::kContent;
    e.bytes.swap(out_);
    return e;
  }
  if (end_pending_) {
    end_pending_ = false;
    if (chunk_end_) end_kind = Event::Kind::kChunkEnd;
    chunk_end_ = false;
    Event e;
    e.kind = end_kind;
    return e;
  }
  if (mode_ == Mode::kCommand) return next_line();
  return std::nullopt;
}

std::optional<Parser::Event> Parser::next_line() {
  while (pos_ < buf_.size()) {
    size_t nl = buf_.find('\n', pos_);
    if (discarding_) {
      if (nl == std::string::npos) {
        pos_ = buf_.size();
        return std::nullopt;
      }
      pos_ = nl + 1;
      discarding_ = false;
      continue;
    }
    if (nl == std::string::npos) {
      size_t content = buf_.size() - pos_;
      if (buf_.back() == '\r') --content;
      if (content > max_line_) {
        // Report it now: the client may never send the line end.
        discarding_ = true;
        pos_ = buf_.size();
        Event e;
        e.kind = Event::Kind::kTooLong;
        return e;
      }
      return std::nullopt;
    }
    size_t end = nl;
    if (end > pos_ && buf_[end - 1] == '\r') --end;
    Event e;
    if (end - pos_ > max_line_) {
      e.kind = Event::Kind::kTooLong;
    } else {
      e.kind = Event::Kind::kLine;
      e.bytes.assign(buf_, pos_, end - pos_);
    }
    pos_ = nl + 1;
    return e;
  }
  return std::nullopt;
}

void Parser::data_byte(char c) {
  if (c == '\n') {
    if (!prev_cr_) out_.push_back('\r');
    out_.push_back('\n');
    prev_cr_ = false;
    data_state_ = DataState::kLineStart;
  } else {
    out_.push_back(c);
    prev_cr_ = c == '\r';
    data_state_ = DataState::kMid;
  }
}

bool Parser::run_data() {
  const size_t n = buf_.size();
  while (pos_ < n) {
    char c = buf_[pos_++];
    switch (data_state_) {
      case DataState::kLineStart:
        if (c == '.') {
          data_state_ = DataState::kDot;
        } else {
          data_byte(c);
        }
        break;
      case DataState::kDot:
        if (c == '\n') {
          data_state_ = DataState::kLineStart;
          prev_cr_ = false;
          return true;
        }
        if (c == '\r') {
          data_state_ = DataState::kDotCr;
        } else {
          data_byte(c);  // the leading dot is dropped (transparency)
        }
        break;
      case DataState::kDotCr:
        if (c == '\n') {
          data_state_ = DataState::kLineStart;
          prev_cr_ = false;
          return true;
        }
        data_byte('\r');
        data_byte(c);
        break;
      case DataState::kMid:
        data_byte(c);
        break;
    }
  }
  return false;
}

void Parser::run_chunk() {
  size_t avail = buf_.size() - pos_;
  size_t take = chunk_left_ < avail ? static_cast<size_t>(chunk_left_) : avail;
  for (size_t i = 0; i < take; ++i) {
    char c = buf_[pos_ + i];
    if (c == '\n' && !chunk_prev_cr_) out_.push_back('\r');
    out_.push_back(c);
    chunk_prev_cr_ = c == '\r';
  }
  pos_ += take;
  chunk_left_ -= take;
}

// ---------------------------------------------------------------------------
// Commands

std::optional<Command> parse_command(std::string_view line) {
  size_t sp = line.find(' ');
  std::string_view kw = line.substr(0, sp);
  if (kw.empty()) return std::nullopt;
  Command c;
  for (char ch : kw) {
    if (!is_alnum(ch)) return std::nullopt;
    c.keyword.push_back(core::ascii_upper(ch));
  }
  if (sp != std::string_view::npos) {
    std::string_view arg = line.substr(sp + 1);
    while (!arg.empty() && (arg.back() == ' ' || arg.back() == '\t' || arg.back() == '\r'))
      arg.remove_suffix(1);
    c.arg.assign(arg);
  }
  static const std::pair<const char*, Verb> kVerbs[] = {
      {"LHLO", Verb::kLhlo}, {"HELO", Verb::kHelo},         {"EHLO", Verb::kEhlo},
      {"MAIL", Verb::kMail}, {"RCPT", Verb::kRcpt},         {"DATA", Verb::kData},
      {"BDAT", Verb::kBdat}, {"RSET", Verb::kRset},         {"NOOP", Verb::kNoop},
      {"QUIT", Verb::kQuit}, {"VRFY", Verb::kVrfy},         {"EXPN", Verb::kExpn},
      {"HELP", Verb::kHelp}, {"STARTTLS", Verb::kStartTls},
  };
  for (const auto& [name, verb] : kVerbs) {
    if (c.keyword == name) {
      c.verb = verb;
      break;
    }
  }
  return c;
}

namespace {

// Checks local@domain (a quoted local part may hold '@' and spaces).
bool valid_mailbox(std::string_view a) {
  if (a.empty() || a.size() > 1000) return false;
  size_t at = std::string_view::npos;
  bool quoted = false;
  for (size_t i = 0; i < a.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(a[i]);
    if (is_control(c)) return false;
    if (quoted) {
      if (c == '\\' && i + 1 < a.size()) {
        ++i;
      } else if (c == '"') {
        quoted = false;
      }
      continue;
    }
    if (c == '"' && (i == 0 || a[i - 1] == '.')) {
      quoted = true;
      continue;
    }
    if (c == ' ' || c == '<' || c == '>' || c == '(' || c == ')' || c == ',' || c == ';' ||
        c == ':' || c == '\\' || c == '"') {
      // ':' may appear inside an IPv6 address literal only.
      if (!(c == ':' && at != std::string_view::npos)) return false;
    }
    if (c == '@') at = i;
  }
  if (quoted || at == std::string_view::npos || at == 0 || at + 1 >= a.size()) return false;
  std::string_view domain = a.substr(at + 1);
  if (domain.front() == '[') return domain.back() == ']' && domain.size() > 2;
  if (domain.find(':') != std::string_view::npos) return false;
  if (domain.front() == '.' || domain.back() == '.' ||
      domain.find("..") != std::string_view::npos) {
    return false;
  }
  return true;
}

bool valid_param_key(std::string_view k) {
  if (k.empty() || !is_alnum(k[0])) return false;
  return std::all_of(k.begin(), k.end(), [](char c) { return is_alnum(c) || c == '-'; });
}

bool valid_param_value(std::string_view v) {
  if (v.empty()) return false;
  for (char ch : v) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c < 33 || c == '=' || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

PathResult parse_path_arg(std::string_view arg, std::string_view prefix, bool allow_null) {
  PathResult r;
  r.error = PathError::kSyntax;
  if (arg.size() < prefix.size() || !core::ascii_iequals(arg.substr(0, prefix.size()), prefix))
    return r;
  arg.remove_prefix(prefix.size());
  while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);
  if (arg.empty() || arg.front() != '<') return r;
  // The closing bracket outside any quoted string.
  size_t close = std::string_view::npos;
  bool quoted = false;
  for (size_t i = 1; i < arg.size(); ++i) {
    char c = arg[i];
    if (quoted) {
      if (c == '\\' && i + 1 < arg.size()) {
        ++i;
      } else if (c == '"') {
        quoted = false;
      }
      continue;
    }
    if (c == '"') {
      quoted = true;
    } else if (c == '>') {
      close = i;
      break;
    }
  }
  if (close == std::string_view::npos) return r;
  std::string_view path = arg.substr(1, close - 1);
  std::string_view rest = arg.substr(close + 1);
  if (!rest.empty() && rest.front() != ' ') return r;

  PathArg out;
  if (path.empty()) {
    if (!allow_null) {
      r.error = PathError::kBadAddress;
      return r;
    }
  } else {
    if (path.front() == '@') {  // a source route: "@a,@b:user@domain"
      size_t colon = path.find(':');
      if (colon == std::string_view::npos) {
        r.error = PathError::kBadAddress;
        return r;
      }
      path.remove_prefix(colon + 1);
    }
    if (!valid_mailbox(path)) {
      r.error = PathError::kBadAddress;
      return r;
    }
    out.address.assign(path);
  }

  while (!rest.empty()) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    if (rest.empty()) break;
    size_t sp = rest.find(' ');
    std::string_view p = rest.substr(0, sp);
    rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp);
    Param param;
    size_t eq = p.find('=');
    std::string_view key = p.substr(0, eq);
    if (!valid_param_key(key)) {
      r.error = PathError::kBadParameter;
      return r;
    }
    for (char c : key) param.key.push_back(core::ascii_upper(c));
    if (eq != std::string_view::npos) {
      std::string_view value = p.substr(eq + 1);
      if (!valid_param_value(value)) {
        r.error = PathError::kBadParameter;
        return r;
      }
      param.value.assign(value);
      param.has_value = true;
    }
    out.params.push_back(std::move(param));
  }
  r.value = std::move(out);
  return r;
}

std::optional<uint64_t> parse_size(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (n > (UINT64_MAX - d) / 10) return std::nullopt;
    n = n * 10 + d;
  }
  return n;
}

std::optional<BdatArg> parse_bdat(std::string_view arg) {
  size_t sp = arg.find(' ');
  auto size = parse_size(arg.substr(0, sp));
  if (!size) return std::nullopt;
  BdatArg b;
  b.size = *size;
  if (sp != std::string_view::npos) {
    if (!core::ascii_iequals(arg.substr(sp + 1), "LAST")) return std::nullopt;
    b.last = true;
  }
  return b;
}

bool has_non_ascii(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

}  // namespace lmtp::proto
