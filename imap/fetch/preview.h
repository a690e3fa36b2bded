// FETCH PREVIEW (RFC 8970): a short plain-text view of a message.
//
// Pure code. The preview is made from one part: the first text/plain part
// in depth-first order that is not an attachment (Content-Disposition
// "attachment") and not inside an attached message; when there is none, the
// first such text/html part with its markup removed. The part is
// transfer-decoded, converted to UTF-8 (its charset; without a usable one,
// UTF-8 when the bytes are valid UTF-8, else ISO-8859-1), every run of
// whitespace and control characters becomes one space, the ends are trimmed,
// and the text is cut to at most kPreviewMaxChars Unicode characters (never
// inside a character). A message without such a part has the empty preview.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "imap/mime/mime.h"

namespace imap::fetch {

// RFC 8970 3.1: at most 256 characters.
inline constexpr size_t kPreviewMaxChars = 256;
// At most this many stored bytes of the chosen part's body are read.
inline constexpr uint64_t kPreviewMaxInput = 256 * 1024;

// The part a preview is made from, or nullptr when the message has none.
const mime::Part* preview_part(const mime::Part& root);

// The preview of `part` (a preview_part() result) from its stored body
// bytes (the range body_raw_offset / body_raw_length, possibly cut short).
std::string preview_from_body(const mime::Part& part, std::string_view raw_body);

// The preview of a whole message held in memory.
std::string make_preview(std::string_view message);

// ---- helpers, exposed for the unit tests -------------------------------------

// The text of an HTML document: tags and comments removed, the content of
// script, style, head, title and template elements dropped, block-level tags
// read as a space, character references (named ones Roost knows, decimal
// and hex) decoded. Whitespace is left for collapse_text().
std::string html_to_text(std::string_view html);

// Collapses every run of whitespace and control characters (ASCII, C1,
// U+00A0, U+2000-U+200B, U+2028, U+2029, U+3000, U+FEFF) into one space, trims
// both ends and keeps at most `max_chars` characters. Invalid UTF-8 becomes
// U+FFFD.
std::string collapse_text(std::string_view utf8, size_t max_chars);

}  // namespace imap::fetch
