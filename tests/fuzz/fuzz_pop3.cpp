// libFuzzer target for pop3/proto.
//
// Input layout: byte 0 picks the line cap, byte 1 seeds the piece sizes,
// byte 2 picks the TOP line count; the rest is the payload. The payload is
//  - fed to a LineReader in pieces of varying size; the events must match a
//    whole-input reference split, memory must stay bounded by the cap, and
//    every line goes through parse_command (and its arguments through
//    parse_number) with consistency checks on the result;
//  - treated as a stored message: the DotStuffer output, un-stuffed, must be
//    the message with CRLF line ends, its size must match CrlfSizer, and a
//    TOP rendering must be the expected line prefix of the full one.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pop3/proto/parser.h"

namespace {

using pop3::proto::CrlfSizer;
using pop3::proto::DotStuffer;
using pop3::proto::LineReader;

void require(bool ok) {
  if (!ok) abort();
}

// Piece sizes from a small xorshift generator.
class Splitter {
 public:
  explicit Splitter(uint32_t seed) : state_(seed * 2654435761u + 1) {}
  size_t next_size() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    // Mostly tiny pieces, sometimes large ones.
    return (state_ & 3) == 0 ? 1 + state_ % 512 : 1 + state_ % 7;
  }

 private:
  uint32_t state_;
};

constexpr const char* kTooLongMark = "\x01<too long>";

// Whole-input reference for LineReader.
std::vector<std::string> reference_lines(std::string_view in, size_t cap) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t nl = in.find('\n', start);
    if (nl == std::string_view::npos) break;
    size_t end = nl;
    if (end > start && in[end - 1] == '\r') --end;
    if (end - start > cap) {
      out.emplace_back(kTooLongMark);
    } else {
      out.emplace_back(in.substr(start, end - start));
    }
    start = nl + 1;
  }
  // An unterminated tail is reported only once it cannot fit any more.
  std::string_view tail = in.substr(start);
  size_t content = tail.size() - (!tail.empty() && tail.back() == '\r' ? 1 : 0);
  if (content > cap) out.emplace_back(kTooLongMark);
  return out;
}

void check_command(const std::string& line) {
  auto cmd = pop3::proto::parse_command(line);
  if (!cmd) return;
  require(!line.empty());
  require(line.find('\0') == std::string::npos);
  require(cmd->keyword.size() >= 3 && cmd->keyword.size() <= 4);
  for (char c : cmd->keyword) require(c > ' ' && c <= '~' && !(c >= 'a' && c <= 'z'));
  // The line is the keyword, optionally followed by a space and `rest`.
  size_t sp = line.find(' ');
  if (sp == std::string::npos) {
    require(line.size() == cmd->keyword.size());
    require(cmd->rest.empty() && cmd->args.empty());
  } else {
    require(sp == cmd->keyword.size());
    require(line.substr(sp + 1) == cmd->rest);
    std::string joined;
    for (size_t i = 0; i < cmd->args.size(); ++i) {
      if (i > 0) joined.push_back(' ');
      joined += cmd->args[i];
    }
    require(joined == cmd->rest);
  }
  for (const std::string& a : cmd->args) {
    auto n = pop3::proto::parse_number(a);
    if (!n) continue;
    require(*n >= 1 && *n <= 2147483647u);
    std::string digits = a.substr(a.find_first_not_of('0'));
    require(digits == std::to_string(*n));
  }
}

void fuzz_line_reader(std::string_view payload, size_t cap, uint32_t seed) {
  LineReader reader(cap);
  Splitter split(seed);
  std::vector<std::string> got;
  size_t pos = 0;
  while (pos < payload.size()) {
    size_t n = split.next_size();
    if (n > payload.size() - pos) n = payload.size() - pos;
    reader.feed(payload.substr(pos, n));
    pos += n;
    while (auto ev = reader.next()) {
      if (ev->kind == LineReader::Event::Kind::kTooLong) {
        require(ev->line.empty());
        got.emplace_back(kTooLongMark);
      } else {
        require(ev->line.size() <= cap);
        require(ev->line.find('\n') == std::string::npos);
        check_command(ev->line);
        got.push_back(std::move(ev->line));
      }
    }
    // What remains is at most one partial line: the cap plus a pending CR.
    require(reader.buffered() <= cap + 1);
  }
  require(got == reference_lines(payload, cap));
}

// Converts to CRLF line ends, as the multi-line response carries the message.
std::string to_crlf(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) out.push_back('\r');
    out.push_back(in[i]);
  }
  return out;
}

// Splits a CRLF body into lines (each must end with CRLF).
std::vector<std::string_view> crlf_lines(std::string_view body) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < body.size()) {
    size_t nl = body.find('\n', start);
    require(nl != std::string_view::npos);
    require(nl > start && body[nl - 1] == '\r');
    lines.push_back(body.substr(start, nl - 1 - start));
    start = nl + 1;
  }
  return lines;
}

std::string run_stuffer(std::string_view payload, std::optional<uint64_t> top, uint32_t seed) {
  DotStuffer stuffer = top ? DotStuffer(*top) : DotStuffer();
  Splitter split(seed);
  std::string out;
  size_t pos = 0;
  bool more = true;
  while (pos < payload.size()) {
    size_t n = split.next_size();
    if (n > payload.size() - pos) n = payload.size() - pos;
    size_t before = out.size();
    bool ok = stuffer.feed(payload.substr(pos, n), &out);
    if (!more) require(!ok && out.size() == before);  // ignored after the limit
    if (!ok) {
      require(top.has_value());
      more = false;
    }
    pos += n;
  }
  stuffer.finish(&out);
  require(out.size() >= 3 && out.compare(out.size() - 3, 3, ".\r\n") == 0);
  out.resize(out.size() - 3);
  return out;
}

void fuzz_stuffer(std::string_view payload, uint64_t top, uint32_t seed) {
  std::string body = run_stuffer(payload, std::nullopt, seed);

  // Un-stuff and compare with the message in CRLF form.
  std::vector<std::string_view> lines = crlf_lines(body);
  std::string unstuffed;
  for (std::string_view l : lines) {
    if (!l.empty() && l[0] == '.') {
      require(l.size() >= 2 && l[1] == '.');  // never a lone "." or an unstuffed dot
      l.remove_prefix(1);
    }
    unstuffed.append(l);
    unstuffed.append("\r\n");
  }
  std::string want = to_crlf(payload);
  CrlfSizer sizer;
  Splitter split(seed ^ 0x5a5a5a5au);
  size_t pos = 0;
  while (pos < payload.size()) {
    size_t n = split.next_size();
    if (n > payload.size() - pos) n = payload.size() - pos;
    sizer.feed(payload.substr(pos, n));
    pos += n;
  }
  require(sizer.total() == want.size());
  bool terminated = !payload.empty() && payload.back() == '\n';
  if (!payload.empty() && !terminated) want.append("\r\n");
  require(unstuffed == want);

  // TOP: the header, the blank line and `top` body lines of the full rendering.
  std::string top_body = run_stuffer(payload, top, seed + 1);
  size_t keep = lines.size();
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) {
      uint64_t limit = i + 1 + top;
      if (limit < keep) keep = static_cast<size_t>(limit);
      break;
    }
  }
  size_t prefix = 0;
  for (size_t i = 0; i < keep; ++i) prefix += lines[i].size() + 2;
  require(top_body == std::string_view(body).substr(0, prefix));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  size_t cap = data[0] % 80;
  uint32_t seed = data[1];
  uint64_t top = data[2] % 8;
  std::string_view payload(reinterpret_cast<const char*>(data) + 3, size - 3);

  fuzz_line_reader(payload, cap, seed);
  fuzz_stuffer(payload, top, seed);
  for (size_t i = 0; i < payload.size() && i < 64; i += 16) {
    pop3::proto::parse_command(payload.substr(i, 64));
    pop3::proto::parse_number(payload.substr(i, 12));
  }
  return 0;
}
