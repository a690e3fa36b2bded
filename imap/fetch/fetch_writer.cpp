// FetchWriter: one message's FETCH response, streamed (see fetch_writer.h).
#include "imap/fetch/fetch_writer.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "imap/fetch/preview.h"
#include "imap/mime/mime.h"

namespace imap::fetch {

// --- readers -------------------------------------------------------------------

bool StringReader::seek(uint64_t offset) {
  pos_ = std::min<uint64_t>(offset, bytes_.size());
  return true;
}

int64_t StringReader::read(char* buf, size_t n) {
  ++reads_;
  size_t take = static_cast<size_t>(std::min<uint64_t>(n, bytes_.size() - pos_));
  if (take > 0) std::memcpy(buf, bytes_.data() + pos_, take);
  pos_ += take;
  return static_cast<int64_t>(take);
}

bool StreamReader::seek(uint64_t offset) {
  return stream_.seek(offset).ok();
}

int64_t StreamReader::read(char* buf, size_t n) {
  auto r = stream_.read(buf, n);
  if (!r) return -1;
  return static_cast<int64_t>(*r);
}

// --- attribute classes -----------------------------------------------------------

namespace {

using K = proto::FetchAtt::Kind;

// Sections up to this many stored bytes are read and transformed in memory;
// bigger ones stream (and are transformed twice when their output size is
// not known beforehand).
constexpr uint64_t kInMemory = 256 * 1024;
// HEADER.FIELDS(.NOT) filters at most this much of a header (a header that
// big is junk; the parser itself keeps only 256 KiB of it).
constexpr size_t kMaxFilterInput = 1024 * 1024;

bool whole_message(const proto::Section& s) {
  return s.part.empty() && s.text == proto::Section::Text::kNone;
}

}  // namespace

bool sets_seen(const proto::FetchAtt& att) {
  switch (att.kind) {
    case K::kBodySection:
    case K::kBinary:
      return !att.peek;
    case K::kRfc822:
    case K::kRfc822Text:
      return true;
    default:
      return false;
  }
}

bool needs_message(const proto::FetchAtt& att) {
  switch (att.kind) {
    case K::kFlags:
    case K::kInternalDate:
    case K::kRfc822Size:
    case K::kUid:
    case K::kModSeq:
    case K::kSaveDate:
    case K::kEmailId:
    case K::kThreadId:
      return false;
    default:
      return true;
  }
}

bool needs_structure(const proto::FetchAtt& att) {
  switch (att.kind) {
    case K::kEnvelope:
    case K::kBody:
    case K::kBodyStructure:
    case K::kRfc822Header:
    case K::kRfc822Text:
    case K::kPreview:
      return true;
    case K::kBodySection:
      return !whole_message(att.section);
    case K::kBinary:
    case K::kBinarySize:
      return !att.section.part.empty();
    default:
      return false;
  }
}

bool answered_by_cached_header(const proto::FetchAtt& att) {
  if (att.kind == K::kEnvelope) return true;
  if (att.kind != K::kBodySection || !att.section.part.empty() ||
      att.section.text != proto::Section::Text::kHeaderFields) {
    return false;
  }
  return std::all_of(att.section.fields.begin(), att.section.fields.end(),
                     [](const std::string& f) { return store::is_cached_header_field(f); });
}

namespace {

// --- section data ------------------------------------------------------------------

enum class TransformKind { kCrlf, kFilter, kDecode };

// Turns the stored bytes of a section into what the client receives.
class Transform {
 public:
  Transform(TransformKind kind, mime::TransferEncoding encoding,
            const std::vector<std::string>* fields, bool negate)
      : kind_(kind), decoder_(encoding), fields_(fields), negate_(negate) {}

  void feed(std::string_view in, std::string& out) {
    switch (kind_) {
      case TransformKind::kCrlf:
        crlf(in, out);
        break;
      case TransformKind::kDecode:
        decoder_.feed(in, out);
        break;
      case TransformKind::kFilter:
        if (buffer_.size() < kMaxFilterInput) {
          buffer_.append(in.substr(0, kMaxFilterInput - buffer_.size()));
        }
        break;
    }
  }

  void finish(std::string& out) {
    if (kind_ == TransformKind::kDecode) decoder_.finish(out);
    if (kind_ == TransformKind::kFilter) {
      static const std::vector<std::string> kNone;
      out += mime::filter_header_fields(buffer_, fields_ ? *fields_ : kNone, negate_);
      buffer_.clear();
    }
  }

 private:
  // A LF not preceded by CR becomes CRLF (the counting rule of the MIME
  // parser and the store's RFC822.SIZE).
  void crlf(std::string_view in, std::string& out) {
    while (!in.empty()) {
      size_t nl = in.find('\n');
      if (nl == std::string_view::npos) {
        out.append(in);
        last_cr_ = in.back() == '\r';
        return;
      }
      out.append(in.data(), nl);
      bool cr = nl > 0 ? in[nl - 1] == '\r' : last_cr_;
      if (!cr) out += '\r';
      out += '\n';
      last_cr_ = false;
      in.remove_prefix(nl + 1);
    }
  }

  TransformKind kind_;
  mime::TransferDecoder decoder_;
  const std::vector<std::string>* fields_;
  bool negate_;
  bool last_cr_ = false;
  std::string buffer_;
};

// Where a section's data comes from and how it is transformed.
struct Source {
  bool exists = false;
  uint64_t raw_offset = 0;
  uint64_t raw_length = 0;
  TransformKind kind = TransformKind::kCrlf;
  mime::TransferEncoding encoding = mime::TransferEncoding::kIdentity;
  const std::vector<std::string>* fields = nullptr;
  bool negate = false;
  std::optional<uint64_t> size;  // the output size when known beforehand
  bool binary = false;           // BINARY: a literal8 when the data has NUL
};

// Appends section data for a non-binary literal: NUL is not allowed there.
void append_text(std::string& out, std::string_view data, bool binary) {
  size_t at = out.size();
  out.append(data);
  if (binary) return;
  for (size_t i = at; i < out.size(); ++i) {
    if (out[i] == '\0') out[i] = '\x80';
  }
}

// One section's literal: sized first, then streamed in pieces.
class SectionStream {
 public:
  SectionStream(Reader* reader, Source source, std::optional<proto::Partial> partial)
      : reader_(reader),
        src_(source),
        partial_(partial),
        transform_(src_.kind, src_.encoding, src_.fields, src_.negate) {}

  // Works out the output size (and for BINARY whether the window holds a
  // NUL). Returns the full size of the section's data.
  uint64_t measure() {
    if (measured_) return total_;
    measured_ = true;
    if (!src_.exists || reader_ == nullptr) {
      if (src_.exists) failed_ = true;
      total_ = 0;
      return total_;
    }
    if (src_.kind == TransformKind::kFilter || src_.raw_length <= kInMemory) {
      std::string raw;
      if (!read_range(src_.raw_offset, src_.raw_length, raw)) failed_ = true;
      Transform t(src_.kind, src_.encoding, src_.fields, src_.negate);
      t.feed(raw, mem_);
      t.finish(mem_);
      // The stored size wins when the file disagrees (it was announced as
      // RFC822.SIZE already).
      if (src_.size && mem_.size() != *src_.size) mem_.resize(*src_.size, ' ');
      in_memory_ = true;
      total_ = mem_.size();
    } else if (src_.size && !src_.binary) {
      total_ = *src_.size;
    } else {
      total_ = count_pass();
      if (src_.size) total_ = *src_.size;
    }
    begin_ = partial_ ? std::min<uint64_t>(partial_->offset, total_) : 0;
    len_ = partial_ ? std::min<uint64_t>(partial_->length, total_ - begin_) : total_;
    if (in_memory_ && src_.binary && len_ > 0) {
      has_nul_ = std::memchr(mem_.data() + begin_, 0, static_cast<size_t>(len_)) != nullptr;
    }
    return total_;
  }

  // Writes the literal announcement, or "" for empty data. False when there
  // is nothing more to write.
  bool begin(std::string& out) {
    measure();
    if (len_ == 0) {
      out += "\"\"";
      return false;
    }
    proto::write_literal_header(out, len_, src_.binary && has_nul_);
    if (in_memory_) return true;
    bool direct = src_.kind == TransformKind::kCrlf && src_.size && *src_.size == src_.raw_length;
    if (direct) {
      // No bare LF in the range: output offsets are stored offsets.
      raw_pos_ = src_.raw_offset + begin_;
      raw_left_ = src_.raw_length - begin_;
      out_pos_ = begin_;
    } else {
      raw_pos_ = src_.raw_offset;
      raw_left_ = src_.raw_length;
      out_pos_ = 0;
    }
    if (!reader_->seek(raw_pos_)) {
      failed_ = true;
      raw_left_ = 0;
    }
    return true;
  }

  // Appends up to about `budget` bytes of data; true while more remains.
  bool pump(std::string& out, size_t budget) {
    size_t start = out.size();
    if (in_memory_) {
      uint64_t n = std::min<uint64_t>(len_ - emitted_, std::max<size_t>(budget, 1));
      append_text(out, std::string_view(mem_).substr(begin_ + emitted_, n), src_.binary);
      emitted_ += n;
      return emitted_ < len_;
    }
    while (emitted_ < len_ && out.size() - start < budget) {
      size_t room = budget - (out.size() - start);
      if (pending_pos_ >= pending_.size()) {
        pending_.clear();
        pending_pos_ = 0;
        if (raw_left_ > 0) {
          if (!read_some(pending_)) raw_left_ = 0;
        } else if (!finished_) {
          finished_ = true;
          transform_.finish(pending_);
        } else {
          // The stored bytes ended before the announced size: pad.
          uint64_t n = std::min<uint64_t>(len_ - emitted_, room);
          out.append(static_cast<size_t>(n), ' ');
          emitted_ += n;
        }
        continue;
      }
      uint64_t want = begin_ + emitted_;
      size_t avail = pending_.size() - pending_pos_;
      if (out_pos_ < want) {
        size_t skip = static_cast<size_t>(std::min<uint64_t>(want - out_pos_, avail));
        pending_pos_ += skip;
        out_pos_ += skip;
        continue;
      }
      size_t n = static_cast<size_t>(std::min<uint64_t>({avail, len_ - emitted_, room}));
      append_text(out, std::string_view(pending_).substr(pending_pos_, n), src_.binary);
      pending_pos_ += n;
      out_pos_ += n;
      emitted_ += n;
    }
    return emitted_ < len_;
  }

  bool failed() const { return failed_; }

 private:
  bool read_range(uint64_t offset, uint64_t length, std::string& dst) {
    if (!reader_->seek(offset)) return false;
    dst.resize(static_cast<size_t>(length));
    size_t got = 0;
    while (got < dst.size()) {
      int64_t n = reader_->read(dst.data() + got, std::min(kReadChunk, dst.size() - got));
      if (n <= 0) {
        dst.resize(got);
        return n == 0;
      }
      got += static_cast<size_t>(n);
    }
    return true;
  }

  // Reads the next piece of the range through the transform into `dst`.
  // False at a read error or a premature end.
  bool read_some(std::string& dst) {
    buf_.resize(static_cast<size_t>(std::min<uint64_t>(kReadChunk, raw_left_)));
    int64_t n = reader_->read(buf_.data(), buf_.size());
    if (n <= 0) {
      if (n < 0) failed_ = true;
      return false;
    }
    raw_left_ -= static_cast<uint64_t>(n);
    transform_.feed(std::string_view(buf_.data(), static_cast<size_t>(n)), dst);
    return true;
  }

  // A pass over the whole range that only counts the output (and finds NUL
  // in the requested window).
  uint64_t count_pass() {
    Transform t(src_.kind, src_.encoding, src_.fields, src_.negate);
    uint64_t lo = partial_ ? partial_->offset : 0;
    uint64_t hi = partial_ ? lo + partial_->length : UINT64_MAX;
    uint64_t count = 0;
    std::string piece;
    auto take = [&](const std::string& p) {
      if (src_.binary && !has_nul_ && count + p.size() > lo && count < hi) {
        size_t a = static_cast<size_t>(lo > count ? lo - count : 0);
        size_t b = static_cast<size_t>(std::min<uint64_t>(p.size(), hi - count));
        if (a < b && std::memchr(p.data() + a, 0, b - a) != nullptr) has_nul_ = true;
      }
      count += p.size();
    };
    if (!reader_->seek(src_.raw_offset)) {
      failed_ = true;
      return 0;
    }
    uint64_t left = src_.raw_length;
    buf_.resize(kReadChunk);
    while (left > 0) {
      int64_t n =
          reader_->read(buf_.data(), static_cast<size_t>(std::min<uint64_t>(kReadChunk, left)));
      if (n <= 0) {
        if (n < 0) failed_ = true;
        break;
      }
      left -= static_cast<uint64_t>(n);
      piece.clear();
      t.feed(std::string_view(buf_.data(), static_cast<size_t>(n)), piece);
      take(piece);
    }
    piece.clear();
    t.finish(piece);
    take(piece);
    return count;
  }

  Reader* reader_;
  Source src_;
  std::optional<proto::Partial> partial_;
  Transform transform_;
  bool measured_ = false;
  bool failed_ = false;
  bool has_nul_ = false;
  bool in_memory_ = false;
  bool finished_ = false;
  std::string mem_;
  uint64_t total_ = 0;
  uint64_t begin_ = 0;    // window start in the output
  uint64_t len_ = 0;      // window length
  uint64_t emitted_ = 0;  // window bytes written so far
  uint64_t raw_pos_ = 0;
  uint64_t raw_left_ = 0;
  uint64_t out_pos_ = 0;  // output position of pending_[pending_pos_]
  std::string pending_;
  size_t pending_pos_ = 0;
  std::string buf_;
};

// --- names ------------------------------------------------------------------------------

void write_number(std::string& out, uint64_t n) {
  out += std::to_string(n);
}

void write_parts(std::string& out, const std::vector<uint32_t>& parts) {
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += '.';
    write_number(out, parts[i]);
  }
}

void write_section_spec(std::string& out, const proto::Section& s, proto::Utf8Mode utf8) {
  using T = proto::Section::Text;
  write_parts(out, s.part);
  if (s.text == T::kNone) return;
  if (!s.part.empty()) out += '.';
  switch (s.text) {
    case T::kHeader:
      out += "HEADER";
      return;
    case T::kText:
      out += "TEXT";
      return;
    case T::kMime:
      out += "MIME";
      return;
    case T::kHeaderFields:
    case T::kHeaderFieldsNot:
      out += s.text == T::kHeaderFields ? "HEADER.FIELDS (" : "HEADER.FIELDS.NOT (";
      for (size_t i = 0; i < s.fields.size(); ++i) {
        if (i > 0) out += ' ';
        proto::write_astring(out, s.fields[i], utf8);
      }
      out += ')';
      return;
    case T::kNone:
      return;
  }
}

// The name a section attribute is answered with.
void write_section_name(std::string& out, const proto::FetchAtt& att, proto::Utf8Mode utf8) {
  switch (att.kind) {
    case K::kRfc822:
      out += "RFC822";
      return;
    case K::kRfc822Header:
      out += "RFC822.HEADER";
      return;
    case K::kRfc822Text:
      out += "RFC822.TEXT";
      return;
    case K::kBodySection:
      out += "BODY[";
      write_section_spec(out, att.section, utf8);
      out += ']';
      if (att.partial) {
        out += '<';
        write_number(out, att.partial->offset);
        out += '>';
      }
      return;
    case K::kBinary:
      // RFC 9051's grammar gives the BINARY answer no origin octet.
      out += "BINARY[";
      write_parts(out, att.section.part);
      out += ']';
      return;
    case K::kBinarySize:
      out += "BINARY.SIZE[";
      write_parts(out, att.section.part);
      out += ']';
      return;
    default:
      return;
  }
}

mime::SectionText section_text(proto::Section::Text t) {
  using T = proto::Section::Text;
  switch (t) {
    case T::kNone:
      return mime::SectionText::kNone;
    case T::kHeader:
      return mime::SectionText::kHeader;
    case T::kHeaderFields:
      return mime::SectionText::kHeaderFields;
    case T::kHeaderFieldsNot:
      return mime::SectionText::kHeaderFieldsNot;
    case T::kText:
      return mime::SectionText::kText;
    case T::kMime:
      return mime::SectionText::kMime;
  }
  return mime::SectionText::kNone;
}

}  // namespace

// --- the writer ---------------------------------------------------------------------

namespace {

// Writes an attribute that needs only the message's metadata; false (and
// nothing written) for one that needs the stored bytes.
bool write_meta_item(const proto::FetchAtt& att, const store::MessageMeta& m, const Options& o,
                     std::string& out) {
  switch (att.kind) {
    case K::kUid:
      out += "UID ";
      write_number(out, m.uid);
      return true;
    case K::kFlags: {
      out += "FLAGS ";
      uint32_t flags = m.flags & store::kAllFlags;
      if (o.recent) flags |= proto::kFlagRecent;
      proto::write_flag_list(out, flags, m.keywords);
      return true;
    }
    case K::kInternalDate:
      out += "INTERNALDATE ";
      proto::write_date_time(out, m.internal_date, 0);
      return true;
    case K::kRfc822Size:
      out += "RFC822.SIZE ";
      write_number(out, m.size);
      return true;
    case K::kModSeq:
      out += "MODSEQ (";
      write_number(out, m.modseq);
      out += ')';
      return true;
    case K::kSaveDate:
      out += "SAVEDATE ";
      if (m.save_date == 0) {
        out += "NIL";
      } else {
        proto::write_date_time(out, m.save_date, 0);
      }
      return true;
    case K::kEmailId:
      out += "EMAILID ";
      if (m.email_id.empty()) {
        out += "NIL";
      } else {
        out += '(';
        out += m.email_id;
        out += ')';
      }
      return true;
    case K::kThreadId:
      out += "THREADID NIL";  // Roost computes no threads (RFC 8474 5.2)
      return true;
    default:
      return false;
  }
}

bool requested(const std::vector<proto::FetchAtt>& atts, K kind) {
  return std::any_of(atts.begin(), atts.end(),
                     [&](const proto::FetchAtt& a) { return a.kind == kind; });
}

}  // namespace

struct FetchWriter::Impl {
  store::MessageMeta meta;
  const std::vector<proto::FetchAtt>& atts;
  Options opt;
  Reader* reader;

  bool prepared = false;
  Problem problem = Problem::kNone;
  bool failed = false;
  std::optional<mime::Part> root;
  std::vector<proto::FetchAtt> extra;  // UID / FLAGS / MODSEQ added unrequested
  std::vector<const proto::FetchAtt*> items;
  size_t next = 0;
  bool opened = false;
  bool done = false;
  std::unique_ptr<SectionStream> active;

  Impl(const store::MessageMeta& m, const std::vector<proto::FetchAtt>& a, Options o, Reader* r)
      : meta(m), atts(a), opt(o), reader(r) {}

  bool requested(K kind) const { return fetch::requested(atts, kind); }

  void plan_items() {
    extra.reserve(3);
    auto add_extra = [&](K kind) {
      proto::FetchAtt a;
      a.kind = kind;
      extra.push_back(a);
      return &extra.back();
    };
    if (opt.uid && !requested(K::kUid)) items.push_back(add_extra(K::kUid));
    for (const proto::FetchAtt& a : atts) items.push_back(&a);
    if (opt.flags && !requested(K::kFlags)) items.push_back(add_extra(K::kFlags));
    if (opt.modseq && !requested(K::kModSeq)) items.push_back(add_extra(K::kModSeq));
  }

  void parse_structure() {
    mime::StructureParser parser;
    if (reader == nullptr || !reader->seek(0)) {
      failed = true;
    } else {
      std::string buf(kReadChunk, '\0');
      while (true) {
        int64_t n = reader->read(buf.data(), buf.size());
        if (n < 0) failed = true;
        if (n <= 0) break;
        parser.feed(std::string_view(buf.data(), static_cast<size_t>(n)));
      }
    }
    root = parser.finish();
  }

  // Where a section attribute's data comes from; sets `problem` for BINARY
  // items that cannot be answered.
  Source source_for(const proto::FetchAtt& att) {
    Source src;
    const bool binary = att.kind == K::kBinary || att.kind == K::kBinarySize;
    proto::Section section;
    const proto::Section* sec = &att.section;
    if (att.kind == K::kRfc822) {
      sec = &section;
    } else if (att.kind == K::kRfc822Header) {
      section.text = proto::Section::Text::kHeader;
      sec = &section;
    } else if (att.kind == K::kRfc822Text) {
      section.text = proto::Section::Text::kText;
      sec = &section;
    }
    src.binary = binary;
    if (whole_message(*sec)) {
      // BODY[], RFC822, BINARY[]: the message as it is.
      src.exists = true;
      src.raw_offset = 0;
      src.raw_length = reader ? reader->size() : 0;
      src.size = meta.size;
      return src;
    }
    if (!root) return src;
    mime::SectionSpec spec;
    spec.parts = sec->part;
    spec.text = binary ? mime::SectionText::kNone : section_text(sec->text);
    spec.fields = sec->fields;
    std::optional<mime::ResolvedSection> r = mime::resolve_section(*root, spec);
    if (!r) return src;
    src.exists = true;
    src.raw_offset = r->raw_offset;
    src.raw_length = r->raw_length;
    if (binary) {
      const mime::Part* part = r->part;
      if (part != nullptr && part->kind == mime::PartKind::kMultipart) {
        problem = Problem::kBinaryMultipart;
        return src;
      }
      mime::TransferEncoding enc =
          part ? mime::transfer_encoding(part->encoding) : mime::TransferEncoding::kIdentity;
      if (enc == mime::TransferEncoding::kUnknown) {
        if (problem == Problem::kNone) problem = Problem::kUnknownCte;
        return src;
      }
      src.kind = TransformKind::kDecode;
      src.encoding = enc;
    } else if (r->filter) {
      src.kind = TransformKind::kFilter;
      src.fields = &sec->fields;
      src.negate = r->filter_not;
    } else {
      src.size = r->size;
    }
    return src;
  }

  Problem prepare() {
    if (prepared) return problem;
    prepared = true;
    plan_items();
    bool structure = false, message = false;
    for (const proto::FetchAtt& a : atts) {
      structure = structure || needs_structure(a);
      message = message || needs_message(a);
    }
    if (message && reader == nullptr) failed = true;
    if (structure) parse_structure();
    for (const proto::FetchAtt& a : atts) {
      if (a.kind == K::kBinary || a.kind == K::kBinarySize) source_for(a);
    }
    if (problem != Problem::kNone) done = true;
    return problem;
  }

  const mime::Part& root_part() {
    if (!root) root = mime::parse_structure("");
    return *root;
  }

  // PREVIEW text, computed once (LAZY computes it as well).
  std::optional<std::string> preview_text;
  const std::string& preview() {
    if (preview_text) return *preview_text;
    preview_text.emplace();
    const mime::Part* part = preview_part(root_part());
    if (part == nullptr || reader == nullptr) return *preview_text;
    std::string raw;
    uint64_t len = std::min<uint64_t>(part->body_raw_length, kPreviewMaxInput);
    raw.resize(static_cast<size_t>(len));
    size_t got = 0;
    if (!reader->seek(part->body_raw_offset)) {
      failed = true;
      return *preview_text;
    }
    while (got < raw.size()) {
      int64_t n = reader->read(raw.data() + got, std::min(kReadChunk, raw.size() - got));
      if (n < 0) failed = true;
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    raw.resize(got);
    *preview_text = preview_from_body(*part, raw);
    return *preview_text;
  }

  // Writes one item; a section's data is left to `active`.
  void write_item(const proto::FetchAtt& att, std::string& out) {
    if (write_meta_item(att, meta, opt, out)) return;
    switch (att.kind) {
      case K::kUid:
      case K::kFlags:
      case K::kInternalDate:
      case K::kRfc822Size:
      case K::kModSeq:
      case K::kSaveDate:
      case K::kEmailId:
      case K::kThreadId:
        return;  // written above
      case K::kPreview:
        out += "PREVIEW ";
        proto::write_string(out, preview(), opt.utf8);
        return;
      case K::kEnvelope: {
        out += "ENVELOPE ";
        const mime::Part& r = root_part();
        static const mime::Envelope kEmpty;
        mime::write_envelope(out, r.envelope ? *r.envelope : kEmpty);
        return;
      }
      case K::kBody:
        out += "BODY ";
        mime::write_body(out, root_part());
        return;
      case K::kBodyStructure:
        out += "BODYSTRUCTURE ";
        mime::write_bodystructure(out, root_part(), true);
        return;
      case K::kBinarySize: {
        write_section_name(out, att, opt.utf8);
        out += ' ';
        SectionStream s(reader, source_for(att), std::nullopt);
        write_number(out, s.measure());
        failed = failed || s.failed();
        return;
      }
      case K::kRfc822:
      case K::kRfc822Header:
      case K::kRfc822Text:
      case K::kBodySection:
      case K::kBinary: {
        write_section_name(out, att, opt.utf8);
        out += ' ';
        std::optional<proto::Partial> partial;
        if (att.kind == K::kBodySection || att.kind == K::kBinary) partial = att.partial;
        auto s = std::make_unique<SectionStream>(reader, source_for(att), partial);
        if (s->begin(out)) {
          active = std::move(s);
        } else {
          failed = failed || s->failed();
        }
        return;
      }
    }
  }

  bool write(std::string& out, size_t budget) {
    prepare();
    if (done) return false;
    const size_t start = out.size();
    auto used = [&] { return out.size() - start; };
    if (!opened) {
      opened = true;
      out += "* ";
      write_number(out, opt.seq);
      out += " FETCH (";
    }
    while (true) {
      if (active) {
        if (used() >= budget) return true;
        if (active->pump(out, budget - used())) return true;
        failed = failed || active->failed();
        active.reset();
      }
      if (next >= items.size()) break;
      if (used() >= budget) return true;
      if (next > 0) out += ' ';
      write_item(*items[next++], out);
    }
    out += ")\r\n";
    done = true;
    return false;
  }
};

FetchWriter::FetchWriter(const store::MessageMeta& meta, const std::vector<proto::FetchAtt>& atts,
                         Options options, Reader* reader)
    : impl_(std::make_unique<Impl>(meta, atts, options, reader)) {}

FetchWriter::~FetchWriter() = default;

Problem FetchWriter::prepare() {
  return impl_->prepare();
}

bool FetchWriter::write(std::string& out, size_t budget) {
  return impl_->write(out, budget);
}

Problem FetchWriter::problem() const {
  return impl_->problem;
}

bool FetchWriter::read_failed() const {
  return impl_->failed;
}

MetaItems::MetaItems(const std::vector<proto::FetchAtt>& atts) : atts_(atts) {
  uid_ = requested(atts, K::kUid);
  flags_ = requested(atts, K::kFlags);
  modseq_ = requested(atts, K::kModSeq);
}

void MetaItems::write(std::string& out, const store::MessageMeta& m, const Options& o) const {
  out += "* ";
  write_number(out, o.seq);
  out += " FETCH (";
  const size_t open = out.size();
  auto item = [&](const proto::FetchAtt& a) {
    if (out.size() != open) out += ' ';
    write_meta_item(a, m, o, out);
  };
  auto att = [](K kind) {
    proto::FetchAtt a;
    a.kind = kind;
    return a;
  };
  static const proto::FetchAtt kUid = att(K::kUid), kFlags = att(K::kFlags),
                               kModSeq = att(K::kModSeq);
  if (o.uid && !uid_) item(kUid);
  for (const proto::FetchAtt& a : atts_) item(a);
  if (o.flags && !flags_) item(kFlags);
  if (o.modseq && !modseq_) item(kModSeq);
  out += ")\r\n";
}

}  // namespace imap::fetch
