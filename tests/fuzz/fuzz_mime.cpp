// libFuzzer target for imap/mime.
//
// The whole input is a stored message (the seeds are plain .eml files). It is
//  - parsed whole and in pieces of pseudo-random sizes (seeded from the
//    input), with default and with tiny limits: the trees must be identical;
//  - checked for consistent offsets: header and body contiguous, children
//    inside their parent's body, everything inside the input, CRLF sizes
//    equal to the raw sizes plus the bare LFs in the range;
//  - written as BODYSTRUCTURE, BODY and ENVELOPE, read back with a small
//    s-expression reader, and the shape compared with the part tree;
//  - used for section resolution, header filtering, RFC 2047 decoding and
//    transfer decoding (whole vs. pieces must agree).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "imap/mime/mime.h"

namespace {

using namespace imap::mime;

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

void dump(std::string& out, const Part& p) {
  out += std::to_string(int(p.kind)) + p.type + "/" + p.subtype + "[";
  for (uint64_t v :
       {p.header_raw_offset, p.header_raw_length, p.header_crlf_offset, p.header_size,
        p.body_raw_offset, p.body_raw_length, p.body_crlf_offset, p.body_size, p.body_lines}) {
    out += std::to_string(v) + ",";
  }
  out += p.header_truncated ? "T]" : "]";
  write_bodystructure(out, p, true);
  if (p.envelope) write_envelope(out, *p.envelope);
  out += "{";
  for (const Part& c : p.children) dump(out, c);
  out += "}";
}

std::string dump(const Part& p) {
  std::string s;
  dump(s, p);
  return s;
}

Part parse_pieces(std::string_view in, uint32_t seed, Limits limits) {
  StructureParser parser(limits);
  Splitter split(seed);
  size_t pos = 0;
  while (pos < in.size()) {
    size_t n = std::min(split.next_size(), in.size() - pos);
    parser.feed(in.substr(pos, n));
    pos += n;
  }
  return parser.finish();
}

uint64_t bare_lfs(std::string_view s) {
  uint64_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) ++n;
  }
  return n;
}

uint64_t lfs(std::string_view s) {
  uint64_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

void check_offsets(std::string_view in, const Part& p, uint64_t lo, uint64_t hi) {
  require(p.header_raw_offset >= lo);
  require(p.header_raw_offset + p.header_raw_length == p.body_raw_offset);
  require(p.body_raw_offset + p.body_raw_length <= hi);
  require(p.header_crlf_offset + p.header_size == p.body_crlf_offset);
  std::string_view header = in.substr(p.header_raw_offset, p.header_raw_length);
  std::string_view body = in.substr(p.body_raw_offset, p.body_raw_length);
  // A CR that ends one range and an LF that starts the next cannot happen:
  // ranges split only at line starts or before a line end as a whole.
  require(p.header_size == header.size() + bare_lfs(header));
  require(p.body_size == body.size() + bare_lfs(body));
  require(p.body_lines == lfs(body));
  if (p.kind == PartKind::kMultipart) require(!p.children.empty());
  if (p.kind == PartKind::kMessage) {
    require(p.children.size() == 1);
    require(p.children[0].envelope != nullptr);
  }
  if (p.kind == PartKind::kLeaf) require(p.children.empty());
  uint64_t prev = p.body_raw_offset;
  for (const Part& c : p.children) {
    require(c.header_raw_offset >= prev);
    check_offsets(in, c, p.body_raw_offset, p.body_raw_offset + p.body_raw_length);
    prev = c.body_raw_offset + c.body_raw_length;
  }
}

// --- a tiny reader for the IMAP output ------------------------------------------

struct Node {
  enum Kind { kList, kString, kNil, kNumber } kind = kNil;
  std::string text;
  uint64_t number = 0;
  std::vector<Node> items;
};

bool read_node(std::string_view s, size_t& pos, Node& out, int depth) {
  if (depth > 2000 || pos >= s.size()) return false;
  char c = s[pos];
  if (c == '(') {
    out.kind = Node::kList;
    ++pos;
    while (true) {
      if (pos >= s.size()) return false;
      if (s[pos] == ')') {
        ++pos;
        return true;
      }
      if (!out.items.empty()) {
        // Items are separated by one space, except lists that follow a list
        // (the body parts of a multipart).
        if (s[pos] == ' ') {
          ++pos;
        } else if (s[pos] != '(' || out.items.back().kind != Node::kList) {
          return false;
        }
      }
      Node item;
      if (!read_node(s, pos, item, depth + 1)) return false;
      out.items.push_back(std::move(item));
    }
  }
  if (c == '"') {
    out.kind = Node::kString;
    ++pos;
    while (pos < s.size() && s[pos] != '"') {
      if (s[pos] == '\\') {
        ++pos;
        if (pos >= s.size() || (s[pos] != '"' && s[pos] != '\\')) return false;
      }
      unsigned char u = static_cast<unsigned char>(s[pos]);
      if (u >= 0x80 || u == '\r' || u == '\n' || u == 0) return false;
      out.text += s[pos++];
    }
    if (pos >= s.size()) return false;
    ++pos;
    return true;
  }
  if (c == '{') {
    size_t close = s.find("}\r\n", pos);
    if (close == std::string_view::npos || close == pos + 1) return false;
    uint64_t n = 0;
    for (size_t i = pos + 1; i < close; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      n = n * 10 + static_cast<uint64_t>(s[i] - '0');
    }
    pos = close + 3;
    if (n > s.size() - pos) return false;
    out.kind = Node::kString;
    out.text = std::string(s.substr(pos, n));
    require(out.text.find('\0') == std::string::npos);
    pos += n;
    return true;
  }
  if (s.compare(pos, 3, "NIL") == 0) {
    out.kind = Node::kNil;
    pos += 3;
    return true;
  }
  if (c >= '0' && c <= '9') {
    out.kind = Node::kNumber;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      out.number = out.number * 10 + static_cast<uint64_t>(s[pos] - '0');
      ++pos;
    }
    return true;
  }
  return false;
}

Node read_all(std::string_view s) {
  size_t pos = 0;
  Node n;
  require(read_node(s, pos, n, 0));
  require(pos == s.size());
  return n;
}

bool is_nstring(const Node& n) {
  return n.kind == Node::kString || n.kind == Node::kNil;
}

void check_address_list(const Node& n) {
  if (n.kind == Node::kNil) return;
  require(n.kind == Node::kList && !n.items.empty());
  for (const Node& a : n.items) {
    require(a.kind == Node::kList && a.items.size() == 4);
    for (const Node& f : a.items) require(is_nstring(f));
  }
}

void check_envelope(const Node& n) {
  require(n.kind == Node::kList && n.items.size() == 10);
  require(is_nstring(n.items[0]) && is_nstring(n.items[1]));
  for (int i = 2; i < 8; ++i) check_address_list(n.items[i]);
  require(is_nstring(n.items[8]) && is_nstring(n.items[9]));
}

void check_params(const Node& n) {
  if (n.kind == Node::kNil) return;
  require(n.kind == Node::kList && !n.items.empty() && n.items.size() % 2 == 0);
  for (const Node& i : n.items) require(i.kind == Node::kString);
}

void check_body(const Node& n, const Part& p, bool extended) {
  require(n.kind == Node::kList && !n.items.empty());
  if (p.kind == PartKind::kMultipart) {
    size_t k = 0;
    while (k < n.items.size() && n.items[k].kind == Node::kList) ++k;
    require(k == p.children.size());
    for (size_t i = 0; i < k; ++i) check_body(n.items[i], p.children[i], extended);
    require(k < n.items.size() && n.items[k].kind == Node::kString);
    size_t rest = n.items.size() - k - 1;
    require(rest == (extended ? 4u : 0u));
    if (extended) check_params(n.items[k + 1]);
    return;
  }
  require(n.items.size() >= 7);
  require(n.items[0].kind == Node::kString && n.items[1].kind == Node::kString);
  check_params(n.items[2]);
  require(is_nstring(n.items[3]) && is_nstring(n.items[4]));
  require(n.items[5].kind == Node::kString);
  require(n.items[6].kind == Node::kNumber && n.items[6].number == p.body_size);
  size_t next = 7;
  if (p.kind == PartKind::kMessage) {
    require(n.items.size() >= 10);
    check_envelope(n.items[7]);
    check_body(n.items[8], p.children[0], extended);
    require(n.items[9].kind == Node::kNumber && n.items[9].number == p.body_lines);
    next = 10;
  } else if (p.is_text()) {
    require(n.items.size() >= 8);
    require(n.items[7].kind == Node::kNumber && n.items[7].number == p.body_lines);
    next = 8;
  }
  require(n.items.size() == next + (extended ? 4u : 0u));
}

void check_sections(std::string_view in, const Part& root) {
  // Walk a few part-number paths that exist and must resolve.
  std::vector<std::pair<std::vector<uint32_t>, const Part*>> todo = {{{}, &root}};
  size_t budget = 64;
  while (!todo.empty() && budget-- > 0) {
    auto [path, part] = todo.back();
    todo.pop_back();
    for (SectionText t : {SectionText::kNone, SectionText::kHeader, SectionText::kText,
                          SectionText::kMime, SectionText::kHeaderFields}) {
      SectionSpec spec{path, t, {"subject", "from"}};
      auto r = resolve_section(root, spec);
      if (!r) continue;
      require(r->raw_offset + r->raw_length <= in.size());
      if (r->filter) {
        std::string f = filter_header_fields(in.substr(r->raw_offset, r->raw_length), spec.fields,
                                             r->filter_not);
        require(f.size() >= 2 && f.compare(f.size() - 2, 2, "\r\n") == 0);
      }
    }
    const Part* inner = part;
    if (!path.empty() && part->kind == PartKind::kMessage) inner = &part->children[0];
    if (inner->kind == PartKind::kMultipart) {
      for (uint32_t i = 0; i < inner->children.size() && i < 8; ++i) {
        auto next = path;
        next.push_back(i + 1);
        require(resolve_section(root, {next, SectionText::kNone, {}}).has_value());
        todo.push_back({next, &inner->children[i]});
      }
    } else if (path.empty() || inner != part) {
      auto next = path;
      next.push_back(1);
      require(resolve_section(root, {next, SectionText::kNone, {}}).has_value());
    }
  }
}

void check_decoders(std::string_view in, const Part& p, uint32_t seed, int& budget) {
  if (budget-- <= 0) return;
  if (p.kind == PartKind::kLeaf) {
    std::string_view body = in.substr(p.body_raw_offset, p.body_raw_length);
    for (TransferEncoding e : {TransferEncoding::kBase64, TransferEncoding::kQuotedPrintable,
                               TransferEncoding::kIdentity}) {
      std::string whole = decode_transfer(e, body);
      TransferDecoder d(e);
      std::string pieces;
      Splitter split(seed);
      size_t pos = 0;
      while (pos < body.size()) {
        size_t n = std::min(split.next_size(), body.size() - pos);
        d.feed(body.substr(pos, n), pieces);
        pos += n;
      }
      d.finish(pieces);
      require(whole == pieces);
    }
  }
  for (const Part& c : p.children) check_decoders(in, c, seed, budget);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  uint32_t seed = static_cast<uint32_t>(size);
  for (size_t i = 0; i < size && i < 4; ++i) seed = seed * 31 + data[i];

  Part root = parse_structure(in);
  Part pieces = parse_pieces(in, seed, {});
  require(dump(root) == dump(pieces));
  require(root.raw_length() == size);
  require(root.size() == size + bare_lfs(in));
  require(root.envelope != nullptr);
  check_offsets(in, root, 0, size);

  Limits tiny{4, 300, 12};
  Part small = parse_structure(in, tiny);
  require(dump(small) == dump(parse_pieces(in, seed + 1, tiny)));
  require(small.raw_length() == size);
  check_offsets(in, small, 0, size);

  for (bool extended : {true, false}) {
    std::string out;
    write_bodystructure(out, root, extended);
    check_body(read_all(out), root, extended);
  }
  std::string env;
  write_envelope(env, *root.envelope);
  check_envelope(read_all(env));

  check_sections(in, root);
  if (root.envelope->subject) decode_header_value(*root.envelope->subject);
  decode_header_value(in.substr(0, std::min<size_t>(size, 512)));
  int budget = 16;
  check_decoders(in, root, seed, budget);
  return 0;
}
