// libFuzzer target for imap/url (IMAP URLs for CATENATE / URL-PARTIAL).
//
// The input is a URL. It is parsed; on success the result must be coherent
// (a UID, a length > 0 in PARTIAL, a mailbox that is valid UTF-8, a section
// spec that parses again from its text). The response-code form must hold
// no ']' and nothing outside printable ASCII, and percent_decode must never
// produce more octets than it was given.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/util/utf7.h"
#include "imap/url/url.h"

namespace {

void require(bool ok) {
  if (!ok) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string why;
  auto u = imap::url::parse_message_url(in, &why);
  if (u) {
    require(u->uid != 0);
    if (u->partial && u->partial->length) require(*u->partial->length > 0);
    if (u->uidvalidity) require(*u->uidvalidity != 0);
    if (u->mailbox) require(!u->mailbox->empty() && core::valid_utf8(*u->mailbox));
    if (u->section) {
      auto again = imap::url::parse_section(*u->section);
      require(again.has_value());
      require(again->parts == u->spec.parts && again->text == u->spec.text &&
              again->fields == u->spec.fields);
      for (uint32_t p : u->spec.parts) require(p != 0);
    }
    require(!u->absolute || !u->host.empty());
  } else {
    require(!why.empty());
  }
  std::string code = imap::url::for_response_code(in);
  for (char c : code) {
    auto b = static_cast<unsigned char>(c);
    require(b > 0x20 && b < 0x7f && c != ']');
  }
  if (auto d = imap::url::percent_decode(in)) require(d->size() <= in.size());
  (void)imap::url::parse_section(in);
  return 0;
}
