// BODY[section] resolution (RFC 9051 6.4.5) and HEADER.FIELDS filtering.
#include "core/util/header_fields.h"
#include "imap/mime/internal.h"
#include "imap/mime/mime.h"

namespace imap::mime {

namespace {

ResolvedSection header_of(const Part& p) {
  ResolvedSection r;
  r.raw_offset = p.header_raw_offset;
  r.raw_length = p.header_raw_length;
  r.crlf_offset = p.header_crlf_offset;
  r.size = p.header_size;
  r.part = &p;
  return r;
}

ResolvedSection body_of(const Part& p) {
  ResolvedSection r;
  r.raw_offset = p.body_raw_offset;
  r.raw_length = p.body_raw_length;
  r.crlf_offset = p.body_crlf_offset;
  r.size = p.body_size;
  r.part = &p;
  return r;
}

ResolvedSection whole(const Part& p) {
  ResolvedSection r;
  r.raw_offset = p.header_raw_offset;
  r.raw_length = p.header_raw_length + p.body_raw_length;
  r.crlf_offset = p.header_crlf_offset;
  r.size = p.header_size + p.body_size;
  r.part = &p;
  return r;
}

}  // namespace

std::optional<ResolvedSection> resolve_section(const Part& root, const SectionSpec& spec) {
  // `message` is the message whose header HEADER/TEXT refer to; `node` the
  // part the numbers have reached so far.
  const Part* message = &root;
  const Part* node = &root;
  // Only a message (the root, or one encapsulated in message/rfc822) whose
  // body is not multipart has a part 1 that is its own body (RFC 9051
  // 6.4.5); a leaf inside a multipart has no sub-parts.
  bool at_message = true;
  for (size_t k = 0; k < spec.parts.size(); ++k) {
    uint32_t n = spec.parts[k];
    if (n == 0) return std::nullopt;
    if (k > 0 && node->kind == PartKind::kMessage) {
      // Numbers after a message/rfc822 part index its encapsulated message.
      if (node->children.empty()) return std::nullopt;
      node = &node->children[0];
      at_message = true;
    }
    if (node->kind == PartKind::kMultipart) {
      if (n > node->children.size()) return std::nullopt;
      node = &node->children[n - 1];
    } else if (n != 1 || !at_message) {
      return std::nullopt;
    }
    at_message = false;
    message = nullptr;
  }

  const bool numbered = !spec.parts.empty();
  if (numbered && spec.text != SectionText::kNone && spec.text != SectionText::kMime) {
    // HEADER / TEXT after numbers: only for an encapsulated message.
    if (node->kind != PartKind::kMessage || node->children.empty()) return std::nullopt;
    message = &node->children[0];
  }

  switch (spec.text) {
    case SectionText::kNone:
      return numbered ? body_of(*node) : whole(root);
    case SectionText::kMime:
      if (!numbered) return std::nullopt;
      return header_of(*node);
    case SectionText::kHeader:
      return header_of(*message);
    case SectionText::kHeaderFields:
    case SectionText::kHeaderFieldsNot: {
      ResolvedSection r = header_of(*message);
      r.filter = true;
      r.filter_not = spec.text == SectionText::kHeaderFieldsNot;
      return r;
    }
    case SectionText::kText:
      return body_of(*message);
  }
  return std::nullopt;
}

std::string filter_header_fields(std::string_view header, const std::vector<std::string>& names,
                                 bool negate) {
  return core::filter_header_fields(header, [&](std::string_view name) {
    bool listed = false;
    for (const std::string& want : names) {
      if (detail::ascii_iequals(want, name)) {
        listed = true;
        break;
      }
    }
    return listed != negate;
  });
}

}  // namespace imap::mime
