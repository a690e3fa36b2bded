// libFuzzer target for lmtp/proto.
//
// Input layout: byte 0 picks the command line cap, byte 1 seeds the piece
// sizes; the rest is what a client sends. A driver plays the session (DATA
// and BDAT switch the parser's mode, as the session does after its answer)
// and checks that:
//  - fed in pieces of varying size, the events equal those of the whole
//    input fed at once (merged content, lines, ends);
//  - content never holds a bare LF (every line end is CRLF);
//  - memory stays bounded: after draining, at most one partial command line
//    (the cap plus a CR) is held;
//  - every command line goes through parse_command, parse_path_arg and
//    parse_bdat, whose results keep their invariants.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "lmtp/proto/parser.h"

namespace {

using lmtp::proto::Parser;

void require(bool ok) {
  if (!ok) abort();
}

class Splitter {
 public:
  explicit Splitter(uint32_t seed) : state_(seed * 2654435761u + 1) {}
  size_t next_size() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    return (state_ & 3) == 0 ? 1 + state_ % 512 : 1 + state_ % 7;
  }

 private:
  uint32_t state_;
};

void check_line(const std::string& line, size_t cap) {
  require(line.size() <= cap);
  require(line.find('\n') == std::string::npos);
  auto cmd = lmtp::proto::parse_command(line);
  if (!cmd) return;
  require(!cmd->keyword.empty());
  for (char c : cmd->keyword) require(!(c >= 'a' && c <= 'z'));
  for (bool null_ok : {true, false}) {
    auto r = lmtp::proto::parse_path_arg(cmd->arg, null_ok ? "FROM:" : "TO:", null_ok);
    if (!r.value) continue;
    const auto& a = r.value->address;
    require(null_ok || !a.empty());
    for (char c : a) require(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
    if (!a.empty()) require(a.find('@') != std::string::npos);
    for (const auto& p : r.value->params) {
      require(!p.key.empty());
      require(p.has_value || p.value.empty());
    }
  }
  if (auto b = lmtp::proto::parse_bdat(cmd->arg)) {
    require(std::to_string(b->size).size() <= 20);
  }
}

std::vector<std::string> run(std::string_view input, size_t cap, uint32_t seed, bool whole) {
  Parser p(cap);
  Splitter split(seed);
  std::vector<std::string> out;
  auto drain = [&] {
    while (auto ev = p.next()) {
      switch (ev->kind) {
        case Parser::Event::Kind::kLine: {
          check_line(ev->bytes, cap);
          out.push_back("L" + ev->bytes);
          auto cmd = lmtp::proto::parse_command(ev->bytes);
          if (cmd && cmd->verb == lmtp::proto::Verb::kData) p.begin_data();
          if (cmd && cmd->verb == lmtp::proto::Verb::kBdat) {
            // Keep chunks small so that the rest of the input stays commands.
            if (auto b = lmtp::proto::parse_bdat(cmd->arg)) p.begin_chunk(b->size % 4096);
          }
          break;
        }
        case Parser::Event::Kind::kTooLong:
          out.emplace_back("T");
          break;
        case Parser::Event::Kind::kContent: {
          require(!ev->bytes.empty());
          if (!out.empty() && out.back()[0] == 'C') {
            out.back() += ev->bytes;
          } else {
            out.push_back("C" + ev->bytes);
          }
          break;
        }
        case Parser::Event::Kind::kDataEnd:
          out.emplace_back("E");
          break;
        case Parser::Event::Kind::kChunkEnd:
          out.emplace_back("K");
          break;
      }
    }
    if (p.in_command_mode()) require(p.buffered() <= cap + 1);
  };
  if (whole) {
    p.feed(input);
    drain();
  } else {
    size_t pos = 0;
    while (pos < input.size()) {
      size_t n = split.next_size();
      if (n > input.size() - pos) n = input.size() - pos;
      p.feed(input.substr(pos, n));
      pos += n;
      drain();
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  size_t cap = data[0] % 100;
  uint32_t seed = data[1];
  std::string_view payload(reinterpret_cast<const char*>(data) + 2, size - 2);
  auto whole = run(payload, cap, seed, true);
  auto pieces = run(payload, cap, seed, false);
  require(whole == pieces);
  // Content, all chunks and messages in a row: every LF follows a CR.
  std::string content;
  for (const auto& e : whole)
    if (e[0] == 'C') content.append(e, 1);
  for (size_t i = 0; i < content.size(); ++i) {
    if (content[i] == '\n') require(i >= 1 && content[i - 1] == '\r');
  }
  return 0;
}
