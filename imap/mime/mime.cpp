// Streaming MIME structure parser, header field helpers, Content-* parsing
// and the BODY / BODYSTRUCTURE writer.
#include "imap/mime/mime.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "imap/mime/internal.h"

namespace imap::mime {

using detail::ascii_iequals;
using detail::ascii_lower;
using detail::ascii_upper;
using detail::is_space;
using detail::is_wsp;
using detail::trim;

const Param* Part::param(std::string_view name) const {
  for (const Param& p : params) {
    if (ascii_iequals(p.name, name)) return &p;
  }
  return nullptr;
}

// --- header fields --------------------------------------------------------------

namespace detail {

namespace {
// Splits the first line off s (without its LF, CR kept).
std::string_view take_line(std::string_view& s) {
  size_t nl = s.find('\n');
  std::string_view line;
  if (nl == std::string_view::npos) {
    line = s;
    s = {};
  } else {
    line = s.substr(0, nl);
    s.remove_prefix(nl + 1);
  }
  return line;
}

std::string_view strip_cr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}
}  // namespace

bool next_header_field(std::string_view& block, std::string_view& name,
                       std::string_view& raw_value) {
  while (!block.empty()) {
    const char* line_begin = block.data();
    std::string_view line = strip_cr(take_line(block));
    if (line.empty()) {
      block = {};
      return false;
    }
    if (is_wsp(line[0])) continue;  // continuation without a field: ignored
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;  // not a field: ignored
    std::string_view n = line.substr(0, colon);
    while (!n.empty() && is_wsp(n.back())) n.remove_suffix(1);
    if (n.empty()) continue;
    // The value runs over continuation lines.
    const char* value_begin = line_begin + colon + 1;
    const char* value_end = line.data() + line.size();
    while (!block.empty() && is_wsp(block[0])) {
      std::string_view cont = strip_cr(take_line(block));
      value_end = cont.data() + cont.size();
    }
    name = n;
    raw_value = std::string_view(value_begin, static_cast<size_t>(value_end - value_begin));
    return true;
  }
  return false;
}

std::string unfold(std::string_view raw_value) {
  std::string r;
  r.reserve(raw_value.size());
  for (char c : raw_value) {
    if (c != '\r' && c != '\n') r += c;
  }
  return std::string(trim(r));
}

// --- parameterised fields (Content-Type, Content-Disposition) ------------------------

namespace {

struct RawParam {
  std::string name;
  std::string value;
};

// Reads up to the next top-level ';', skipping comments and keeping quoted
// strings' content.
std::string read_until_semicolon(std::string_view s, size_t& pos) {
  std::string r;
  while (pos < s.size() && s[pos] != ';') {
    char c = s[pos];
    if (c == '(') {
      skip_cfws(s, pos);
      r += ' ';
      continue;
    }
    if (c == '"') {
      r += read_quoted(s, pos);
      continue;
    }
    r += c;
    ++pos;
  }
  return r;
}

// Splits "charset'language'value" of an RFC 2231 extended first section.
void split_extended(std::string_view v, std::string& charset, std::string& language,
                    std::string_view& rest) {
  size_t q1 = v.find('\'');
  size_t q2 = q1 == std::string_view::npos ? q1 : v.find('\'', q1 + 1);
  if (q2 == std::string_view::npos) {
    rest = v;
    return;
  }
  charset = std::string(v.substr(0, q1));
  language = std::string(v.substr(q1 + 1, q2 - q1 - 1));
  rest = v.substr(q2 + 1);
}

struct Group {
  std::string name;  // base name as first written
  std::optional<std::string> simple;
  std::optional<std::string> extended;                        // name*=
  std::map<unsigned, std::pair<std::string, bool>> sections;  // N -> (value, extended)
};

}  // namespace

ParsedField parse_parameterized(std::string_view s) {
  ParsedField out;
  size_t pos = 0;
  out.value = std::string(trim(read_until_semicolon(s, pos)));
  std::vector<RawParam> raw;
  constexpr size_t kMaxParams = 256;
  while (pos < s.size() && raw.size() < kMaxParams) {
    ++pos;  // ';'
    skip_cfws(s, pos);
    size_t name_start = pos;
    while (pos < s.size() && s[pos] != '=' && s[pos] != ';' && !is_space(s[pos]) && s[pos] != '(' &&
           s[pos] != '"') {
      ++pos;
    }
    std::string name(s.substr(name_start, pos - name_start));
    skip_cfws(s, pos);
    if (pos >= s.size() || s[pos] != '=') {
      // No value: skip to the next parameter.
      while (pos < s.size() && s[pos] != ';') {
        if (s[pos] == '"') {
          read_quoted(s, pos);
        } else {
          ++pos;
        }
      }
      continue;
    }
    ++pos;  // '='
    skip_cfws(s, pos);
    std::string value;
    if (pos < s.size() && s[pos] == '"') {
      value = read_quoted(s, pos);
      // Whatever follows up to ';' is junk (or a comment).
      while (pos < s.size() && s[pos] != ';') {
        if (s[pos] == '"') {
          value += read_quoted(s, pos);
        } else {
          ++pos;
        }
      }
    } else {
      size_t v_start = pos;
      while (pos < s.size() && s[pos] != ';') ++pos;
      value = std::string(trim(s.substr(v_start, pos - v_start)));
    }
    if (name.empty()) continue;
    raw.push_back({std::move(name), std::move(value)});
  }

  // RFC 2231: join continuations, decode extended values.
  std::vector<Group> groups;
  auto group_for = [&](std::string_view base) -> Group& {
    for (Group& g : groups) {
      if (ascii_iequals(g.name, base)) return g;
    }
    groups.push_back(Group{std::string(base), {}, {}, {}});
    return groups.back();
  };
  for (RawParam& p : raw) {
    size_t star = p.name.find('*');
    if (star == std::string::npos || star == 0) {
      Group& g = group_for(p.name);
      if (!g.simple) g.simple = std::move(p.value);
      continue;
    }
    std::string_view base = std::string_view(p.name).substr(0, star);
    std::string_view rest = std::string_view(p.name).substr(star + 1);
    if (rest.empty()) {
      Group& g = group_for(base);
      if (!g.extended) g.extended = std::move(p.value);
      continue;
    }
    bool ext = false;
    if (rest.back() == '*') {
      ext = true;
      rest.remove_suffix(1);
    }
    bool digits = !rest.empty() && rest.size() <= 6;
    for (char c : rest) digits = digits && c >= '0' && c <= '9';
    if (!digits || (rest.size() > 1 && rest[0] == '0')) {
      Group& g = group_for(p.name);  // not RFC 2231 after all
      if (!g.simple) g.simple = std::move(p.value);
      continue;
    }
    unsigned n = static_cast<unsigned>(std::stoul(std::string(rest)));
    Group& g = group_for(base);
    g.sections.emplace(n, std::make_pair(std::move(p.value), ext));
  }

  for (Group& g : groups) {
    Param param;
    param.name = g.name;
    std::string bytes;
    std::string charset;
    bool decoded = false;
    if (g.extended) {
      std::string_view rest;
      split_extended(*g.extended, charset, param.language, rest);
      bytes = percent_decode(rest);
      decoded = true;
    } else if (!g.sections.empty() && g.sections.begin()->first == 0) {
      unsigned expect = 0;
      for (auto& [n, sec] : g.sections) {
        if (n != expect) break;
        ++expect;
        std::string_view v = sec.first;
        if (sec.second) {
          if (n == 0) split_extended(sec.first, charset, param.language, v);
          bytes += percent_decode(v);
          decoded = true;
        } else {
          bytes += v;
        }
      }
    } else if (g.simple) {
      bytes = std::move(*g.simple);
    } else {
      continue;
    }
    if (decoded && !charset.empty()) {
      std::string utf8;
      if (charset_to_utf8(charset, bytes, utf8)) {
        param.value = std::move(utf8);
      } else {
        param.value = std::move(bytes);
        param.charset = charset;
      }
    } else {
      param.value = std::move(bytes);
    }
    out.params.push_back(std::move(param));
  }
  return out;
}

}  // namespace detail

std::optional<std::string> header_value(std::string_view block, std::string_view name) {
  std::optional<std::string> r;
  for_each_header_field(block, [&](std::string_view n, std::string v) {
    if (!ascii_iequals(n, name)) return true;
    r = std::move(v);
    return false;
  });
  return r;
}

// --- structure parser ------------------------------------------------------------

namespace {

constexpr size_t kLineKeep = 1024;    // enough of a body line to see a delimiter
constexpr size_t kMaxBoundary = 512;  // longer boundary parameters are ignored

struct Pos {
  uint64_t raw = 0;
  uint64_t crlf = 0;
  uint64_t lf = 0;
};

// Where frames end: at a delimiter line (whose preceding line end belongs to
// the delimiter) or at the end of input.
struct Cut {
  Pos line_start;  // start of the delimiter line (or the end of input)
  Pos cut;         // line_start less the preceding line end
  // End of a range that started at `start`.
  Pos end_for(const Pos& start) const {
    if (start.raw < line_start.raw && cut.raw >= start.raw) return cut;
    return start.raw <= line_start.raw ? start : line_start;
  }
};

enum class State { kHeader, kBody, kPreamble, kChildren, kEpilogue };

struct Frame {
  Part part;
  State state = State::kHeader;
  std::string header;
  std::string delimiter;  // "--" + boundary for a multipart
  Pos header_start;
  Pos body_start;
  // End of the last closed child: a part never ends before its children
  // (an empty child body can end exactly where a delimiter line starts).
  Pos children_end;
  size_t depth = 0;
  bool digest = false;         // this part is multipart/digest
  bool parent_digest = false;  // its default type is message/rfc822
  bool message_root = false;
};

bool valid_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F || std::strchr("()<>@,;:\\\"/[]?=", c) != nullptr) return false;
  }
  return true;
}

void set_default_type(Part& p, bool digest_child) {
  p.params.clear();
  if (digest_child) {
    p.type = "message";
    p.subtype = "rfc822";
  } else {
    p.type = "text";
    p.subtype = "plain";
  }
}

void apply_header(Frame& f) {
  Part& p = f.part;
  bool have_type = false, have_cte = false, have_id = false, have_desc = false;
  bool have_md5 = false, have_disp = false, have_lang = false, have_loc = false;
  set_default_type(p, f.parent_digest);
  for_each_header_field(f.header, [&](std::string_view name, std::string value) {
    if (name.size() < 8 || !ascii_iequals(name.substr(0, 8), "content-")) return true;
    std::string_view n = name.substr(8);
    if (ascii_iequals(n, "type") && !have_type) {
      have_type = true;
      detail::ParsedField pf = detail::parse_parameterized(value);
      size_t slash = pf.value.find('/');
      if (slash != std::string::npos) {
        std::string type = ascii_lower(trim(std::string_view(pf.value).substr(0, slash)));
        std::string sub = ascii_lower(trim(std::string_view(pf.value).substr(slash + 1)));
        if (valid_token(type) && valid_token(sub)) {
          p.type = std::move(type);
          p.subtype = std::move(sub);
          p.params = std::move(pf.params);
        }
      }
    } else if (ascii_iequals(n, "transfer-encoding") && !have_cte) {
      have_cte = true;
      std::string v = detail::parse_parameterized(value).value;
      if (!v.empty()) p.encoding = std::move(v);
    } else if (ascii_iequals(n, "id") && !have_id) {
      have_id = true;
      p.id = std::move(value);
    } else if (ascii_iequals(n, "description") && !have_desc) {
      have_desc = true;
      p.description = std::move(value);
    } else if (ascii_iequals(n, "md5") && !have_md5) {
      have_md5 = true;
      p.md5 = std::move(value);
    } else if (ascii_iequals(n, "location") && !have_loc) {
      // RFC 2557: a URL, possibly quoted and folded; comments and blanks go.
      have_loc = true;
      std::string url;
      size_t pos = 0;
      while (pos < value.size()) {
        char c = value[pos];
        if (c == '(') {
          detail::skip_cfws(value, pos);
        } else if (c == '"') {
          for (char q : detail::read_quoted(value, pos)) {
            if (!is_space(q)) url += q;
          }
        } else {
          if (!is_space(c)) url += c;
          ++pos;
        }
      }
      p.location = std::move(url);
    } else if (ascii_iequals(n, "disposition") && !have_disp) {
      have_disp = true;
      detail::ParsedField pf = detail::parse_parameterized(value);
      if (!pf.value.empty()) {
        p.disposition = std::move(pf.value);
        p.disposition_params = std::move(pf.params);
      }
    } else if (ascii_iequals(n, "language") && !have_lang) {
      have_lang = true;
      size_t pos = 0;
      std::string cur;
      auto push = [&] {
        std::string_view t = trim(cur);
        if (!t.empty()) p.language.emplace_back(t);
        cur.clear();
      };
      while (pos < value.size()) {
        char c = value[pos];
        if (c == '(') {
          detail::skip_cfws(value, pos);
          continue;
        }
        if (c == ',') {
          push();
        } else if (!is_space(c)) {
          cur += c;
        }
        ++pos;
      }
      push();
    }
    return true;
  });
  if (f.message_root) p.envelope = std::make_shared<const Envelope>(parse_envelope(f.header));
}

}  // namespace

struct StructureParser::Impl {
  Limits limits;
  std::vector<Frame> stack;
  std::optional<Part> result;
  bool finished = false;

  std::string line;  // kept prefix of the current line
  uint64_t line_raw = 0;
  bool line_truncated = false;
  bool last_byte_cr = false;
  bool cr_before_lf = false;
  Pos pos;                     // start of the current line
  uint64_t prev_term_raw = 0;  // line-end length of the previous line
  size_t parts = 1;
  size_t open_multiparts = 0;

  explicit Impl(Limits l) : limits(l) {
    if (limits.max_parts == 0) limits.max_parts = 1;
    Frame root;
    root.message_root = true;
    stack.push_back(std::move(root));
  }

  size_t keep_limit() const {
    const Frame& top = stack.back();
    if (top.state != State::kHeader || top.part.header_truncated) return kLineKeep;
    size_t room = limits.max_header_bytes > top.header.size()
                      ? limits.max_header_bytes - top.header.size() + 2
                      : 0;
    return room > kLineKeep ? room : kLineKeep;
  }

  void append(std::string_view piece) {
    line_raw += piece.size();
    size_t keep = keep_limit();
    if (line.size() < keep) {
      size_t n = std::min(keep - line.size(), piece.size());
      line.append(piece.data(), n);
      if (n < piece.size()) line_truncated = true;
    } else if (!piece.empty()) {
      line_truncated = true;
    }
    if (!piece.empty() && piece.back() == '\n') {
      cr_before_lf = piece.size() >= 2 ? piece[piece.size() - 2] == '\r' : last_byte_cr;
    } else if (!piece.empty()) {
      last_byte_cr = piece.back() == '\r';
    }
  }

  void feed(std::string_view chunk) {
    if (finished) return;
    while (!chunk.empty()) {
      const void* nl = std::memchr(chunk.data(), '\n', chunk.size());
      size_t take = nl == nullptr
                        ? chunk.size()
                        : static_cast<size_t>(static_cast<const char*>(nl) - chunk.data()) + 1;
      append(chunk.substr(0, take));
      if (nl != nullptr) end_line(true);
      chunk.remove_prefix(take);
    }
  }

  void end_line(bool terminated) {
    uint64_t term_raw = terminated ? (cr_before_lf ? 2 : 1) : 0;
    uint64_t content_raw = line_raw - term_raw;
    uint64_t crlf_len = content_raw + (terminated ? 2 : 0);
    std::string_view content = line;
    if (!line_truncated) {
      content = content.substr(0, static_cast<size_t>(content_raw));
    } else if (content.size() > content_raw) {
      content = content.substr(0, static_cast<size_t>(content_raw));
    }
    Pos end{pos.raw + line_raw, pos.crlf + crlf_len, pos.lf + (terminated ? 1 : 0)};
    process_line(content, terminated, end);
    pos = end;
    prev_term_raw = term_raw;
    line.clear();
    line_raw = 0;
    line_truncated = false;
    last_byte_cr = false;
    cr_before_lf = false;
  }

  static int match_delimiter(std::string_view content, std::string_view delim) {
    if (content.size() < delim.size() || content.compare(0, delim.size(), delim) != 0) return 0;
    std::string_view rest = content.substr(delim.size());
    if (rest.size() >= 2 && rest[0] == '-' && rest[1] == '-') return 2;
    for (char c : rest) {
      if (!is_space(c)) return 0;
    }
    return 1;
  }

  Cut cut_here() const {
    Cut c;
    c.line_start = pos;
    c.cut = pos;
    if (prev_term_raw > 0) {
      c.cut.raw -= prev_term_raw;
      c.cut.crlf -= 2;
      c.cut.lf -= 1;
    }
    return c;
  }

  void process_line(std::string_view content, bool terminated, const Pos& end) {
    if (open_multiparts > 0 && !line_truncated && content.size() >= 2 && content[0] == '-' &&
        content[1] == '-') {
      for (size_t i = stack.size(); i-- > 0;) {
        Frame& f = stack[i];
        if (f.delimiter.empty() || f.state == State::kEpilogue) continue;
        int m = match_delimiter(content, f.delimiter);
        if (m == 0) continue;
        if (m == 1 && parts >= limits.max_parts) break;  // treated as a body line
        on_delimiter(i, m == 2, end);
        return;
      }
    }
    Frame& top = stack.back();
    if (top.state != State::kHeader) return;
    if (content.empty() && terminated) {
      finish_header(stack.size() - 1, end);
      return;
    }
    if (top.part.header_truncated) return;
    if (top.header.size() + content.size() + 1 > limits.max_header_bytes || line_truncated) {
      top.part.header_truncated = true;
      return;
    }
    top.header.append(content.data(), content.size());
    top.header += '\n';
  }

  void on_delimiter(size_t index, bool close, const Pos& end) {
    Cut cut = cut_here();
    while (stack.size() > index + 1) close_top(cut);
    Frame& m = stack[index];
    if (close) {
      m.state = State::kEpilogue;
      return;
    }
    m.state = State::kChildren;
    Frame child;
    child.depth = m.depth + 1;
    child.parent_digest = m.digest;
    child.header_start = end;
    child.part.header_raw_offset = end.raw;
    child.part.header_crlf_offset = end.crlf;
    ++parts;
    stack.push_back(std::move(child));
  }

  // The header of stack[index] ends at `end` (after its blank line, or where
  // it was cut short).
  void finish_header(size_t index, const Pos& end) {
    Frame& f = stack[index];
    Part& p = f.part;
    p.header_raw_length = end.raw - f.header_start.raw;
    p.header_size = end.crlf - f.header_start.crlf;
    p.body_raw_offset = end.raw;
    p.body_crlf_offset = end.crlf;
    f.body_start = end;
    apply_header(f);
    f.header.clear();
    f.header.shrink_to_fit();
    f.state = State::kBody;
    bool can_nest = f.depth < limits.max_depth;
    if (p.type == "multipart") {
      const Param* b = p.param("boundary");
      if (can_nest && b != nullptr && !b->value.empty() && b->value.size() <= kMaxBoundary) {
        p.kind = PartKind::kMultipart;
        f.delimiter = "--" + b->value;
        f.digest = p.subtype == "digest";
        f.state = State::kPreamble;
        ++open_multiparts;
      } else {
        set_default_type(p, false);
      }
      return;
    }
    if (p.type == "message" && (p.subtype == "rfc822" || p.subtype == "global")) {
      if (transfer_encoding(p.encoding) != TransferEncoding::kIdentity) {
        // An encoded message cannot be looked into: report it as opaque data.
        p.type = "application";
        p.subtype = "octet-stream";
        return;
      }
      if (!can_nest || parts >= limits.max_parts) {
        set_default_type(p, false);
        return;
      }
      p.kind = PartKind::kMessage;
      Frame inner;
      inner.depth = f.depth + 1;
      inner.message_root = true;
      inner.header_start = end;
      inner.part.header_raw_offset = end.raw;
      inner.part.header_crlf_offset = end.crlf;
      ++parts;
      stack.push_back(std::move(inner));  // f is invalid from here
    }
  }

  void close_top(const Cut& cut) {
    Frame& f = stack.back();
    if (f.state == State::kHeader) {
      finish_header(stack.size() - 1, cut.end_for(f.header_start));
      return;  // the caller closes whatever is on top now
    }
    Pos e = cut.end_for(f.body_start);
    if (f.children_end.raw > e.raw) e = f.children_end;
    Part& p = f.part;
    p.body_raw_length = e.raw - f.body_start.raw;
    p.body_size = e.crlf - f.body_start.crlf;
    p.body_lines = e.lf - f.body_start.lf;
    if (!f.delimiter.empty()) --open_multiparts;
    if (p.kind == PartKind::kMultipart && p.children.empty()) {
      // No delimiter ever seen: an opaque text body.
      p.kind = PartKind::kLeaf;
      set_default_type(p, false);
    }
    Part done = std::move(p);
    stack.pop_back();
    if (stack.empty()) {
      result = std::move(done);
    } else {
      Frame& parent = stack.back();
      parent.part.children.push_back(std::move(done));
      if (e.raw > parent.children_end.raw) parent.children_end = e;
    }
  }

  Part finish() {
    if (finished) return Part{};
    if (line_raw > 0) end_line(false);
    finished = true;
    Cut eof;
    eof.line_start = pos;
    eof.cut = pos;
    while (!stack.empty()) close_top(eof);
    return result ? std::move(*result) : Part{};
  }
};

StructureParser::StructureParser(Limits limits) : impl_(std::make_unique<Impl>(limits)) {}
StructureParser::~StructureParser() = default;
void StructureParser::feed(std::string_view chunk) {
  impl_->feed(chunk);
}
Part StructureParser::finish() {
  return impl_->finish();
}
uint64_t StructureParser::raw_size() const {
  return impl_->pos.raw + impl_->line_raw;
}
uint64_t StructureParser::crlf_size() const {
  return impl_->pos.crlf + impl_->line_raw;
}

Part parse_structure(std::string_view message, Limits limits) {
  StructureParser p(limits);
  p.feed(message);
  return p.finish();
}

// --- BODY / BODYSTRUCTURE writer ----------------------------------------------------

namespace {

bool attribute_char(unsigned char c) {
  if (c <= 0x20 || c >= 0x7F) return false;
  return std::strchr("*'%()<>@,;:\\\"/[]?=", c) == nullptr;
}

void write_param_list(std::string& out, const std::vector<Param>& params, bool add_charset) {
  if (params.empty() && !add_charset) {
    out += "NIL";
    return;
  }
  // Sorted by name (stable), as several servers and test suites expect.
  std::vector<const Param*> sorted;
  sorted.reserve(params.size());
  for (const Param& p : params) sorted.push_back(&p);
  static const Param kDefaultCharset{"charset", "US-ASCII", "", ""};
  if (add_charset) sorted.push_back(&kDefaultCharset);
  std::stable_sort(sorted.begin(), sorted.end(), [](const Param* a, const Param* b) {
    return detail::ascii_lower(a->name) < detail::ascii_lower(b->name);
  });
  out += '(';
  bool first = true;
  auto sep = [&] {
    if (!first) out += ' ';
    first = false;
  };
  for (const Param* pp : sorted) {
    const Param& p = *pp;
    sep();
    bool plain = p.charset.empty() && detail::is_ascii(p.value);
    if (plain) {
      write_string(out, p.name);
      out += ' ';
      write_string(out, p.value);
      continue;
    }
    // RFC 2231 extended form keeps the response 7-bit.
    write_string(out, p.name + "*");
    out += ' ';
    std::string v = p.charset.empty() ? "utf-8" : p.charset;
    v += '\'';
    v += p.language;
    v += '\'';
    static const char kHex[] = "0123456789ABCDEF";
    for (char c : p.value) {
      unsigned char u = static_cast<unsigned char>(c);
      if (attribute_char(u)) {
        v += c;
      } else {
        v += '%';
        v += kHex[u >> 4];
        v += kHex[u & 15];
      }
    }
    write_string(out, v);
  }
  out += ')';
}

void write_number(std::string& out, uint64_t n) {
  out += std::to_string(n);
}

void write_extension_tail(std::string& out, const Part& p) {
  out += ' ';
  if (p.disposition) {
    out += '(';
    write_string(out, *p.disposition);
    out += ' ';
    write_param_list(out, p.disposition_params, false);
    out += ')';
  } else {
    out += "NIL";
  }
  out += ' ';
  if (p.language.empty()) {
    out += "NIL";
  } else {
    out += '(';
    for (size_t i = 0; i < p.language.size(); ++i) {
      if (i > 0) out += ' ';
      write_string(out, p.language[i]);
    }
    out += ')';
  }
  out += ' ';
  write_nstring(out, p.location);
}

}  // namespace

void write_bodystructure(std::string& out, const Part& part, bool extended) {
  out += '(';
  if (part.kind == PartKind::kMultipart) {
    if (part.children.empty()) {
      out += "(\"TEXT\" \"PLAIN\" (\"charset\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0)";
    }
    for (const Part& c : part.children) write_bodystructure(out, c, extended);
    out += ' ';
    write_string(out, ascii_upper(part.subtype));
    if (extended) {
      out += ' ';
      write_param_list(out, part.params, false);
      write_extension_tail(out, part);
    }
    out += ')';
    return;
  }
  write_string(out, ascii_upper(part.type));
  out += ' ';
  write_string(out, ascii_upper(part.subtype));
  out += ' ';
  write_param_list(out, part.params, part.is_text() && part.param("charset") == nullptr);
  out += ' ';
  write_nstring(out, part.id);
  out += ' ';
  write_nstring(out, part.description);
  out += ' ';
  write_string(out, part.encoding ? ascii_upper(*part.encoding) : std::string("7BIT"));
  out += ' ';
  write_number(out, part.body_size);
  if (part.kind == PartKind::kMessage) {
    out += ' ';
    static const Envelope kEmpty;
    static const Part kEmptyPart;
    const Part& inner = part.children.empty() ? kEmptyPart : part.children[0];
    write_envelope(out, inner.envelope ? *inner.envelope : kEmpty);
    out += ' ';
    write_bodystructure(out, inner, extended);
    out += ' ';
    write_number(out, part.body_lines);
  } else if (part.is_text()) {
    out += ' ';
    write_number(out, part.body_lines);
  }
  if (extended) {
    out += ' ';
    write_nstring(out, part.md5);
    write_extension_tail(out, part);
  }
  out += ')';
}

}  // namespace imap::mime
