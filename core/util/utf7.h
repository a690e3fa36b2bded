// Modified UTF-7 for IMAP mailbox names (RFC 3501 section 5.1.3) and a UTF-8
// validity check. Pure functions: no I/O, never throw.
//
// Encoding rules used here:
//  - printable US-ASCII (0x20-0x7E) stands for itself, except '&', which is
//    written "&-";
//  - every other character is written as UTF-16 in a base64 run
//    "&...-" using the alphabet A-Z a-z 0-9 + , (',' instead of '/'), without
//    '=' padding; characters above U+FFFF become a surrogate pair;
//  - a run is closed as soon as a printable ASCII character follows, so two
//    runs are never adjacent, and the unused bits of a run's last base64
//    character are zero.
//
// Roost sends mailbox names to IMAP4rev1 clients in this form and decodes
// what they send back. The IMAP layer should use the strict decoder: a
// non-canonical name would let one mailbox have several spellings. The
// Maildir store also spells folder names this way, with '.' moved into the
// base64 runs (see `also_encode`); it decodes leniently and then checks that
// the name re-encodes to what it read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace core {

// True if `s` is well-formed UTF-8: no overlong forms, no surrogates
// (U+D800-U+DFFF), nothing above U+10FFFF, no truncated sequence. The empty
// string is valid. NUL and other control characters are valid UTF-8.
bool valid_utf8(std::string_view s);

// Appends the UTF-8 encoding of `cp`, which must be a Unicode scalar value
// (at most U+10FFFF, not a surrogate); callers that take code points from
// untrusted input check or substitute first.
void append_utf8(std::string& out, uint32_t cp);

enum class Mutf7Mode {
  // Only the canonical encoding (the one mutf7_encode produces) decodes.
  kStrict,
  // Also accepts base64 runs that encode printable ASCII (e.g. "&AC4-" for
  // '.', as Maildir++ folder names on disk spell it) and adjacent runs
  // ("&AOk-&AOk-"). Several inputs then decode to the same name: never use it
  // for names that must be compared as given by a client.
  kLenient,
};

// Decodes a modified UTF-7 name to UTF-8. nullopt on: a byte outside
// 0x20-0x7E, an unterminated run ("&AOk"), a character outside the base64
// alphabet inside a run, a run whose length is not a whole number of UTF-16
// units ("&AO-") or whose padding bits are not zero, a lone or reversed
// surrogate, and (kStrict only) any non-canonical form. The output is always
// valid UTF-8 (it may contain control characters that a client encoded).
std::optional<std::string> mutf7_decode(std::string_view encoded,
                                        Mutf7Mode mode = Mutf7Mode::kStrict);

// Encodes a UTF-8 name; nullopt if `utf8` is not valid UTF-8. The result is
// printable US-ASCII and, when `also_encode` is empty, decodes back (strictly)
// to `utf8`.
//
// `also_encode` lists printable ASCII characters (other than '&') that go
// into base64 runs like non-ASCII ones instead of standing for themselves,
// e.g. "." for Maildir++ folder names: "a.b" -> "a&AC4-b", and "é.é" is the
// single run "&AOkALgDp-". Such a result only decodes in Mutf7Mode::kLenient.
std::optional<std::string> mutf7_encode(std::string_view utf8, std::string_view also_encode = {});

}  // namespace core
