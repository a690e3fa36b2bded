// Client autoconfig (listener `protocol: autoconfig`): what a mail client is
// told when it asks how to reach a mailbox. Everything here is pure: the
// config and directory in, an http::Response (or text) out; no I/O.
//
// Answers are per domain, never per account: any address of a served domain
// gets that domain's settings, so the answers reveal no account's existence.
// Settings come from `public:` (the domain file's overriding the server's key
// by key), falling back to server.hostname with implicit TLS on 993 (IMAP),
// 995 (POP3) and 465 (SMTP submission); IMAP first, then POP3, as the
// domain's policy `protocols` allows. See docs/AUTOCONFIG.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/config/config.h"
#include "core/config/directory.h"
#include "core/http/http.h"

namespace autoconfig {

struct Endpoint {
  std::string host;  // punycode, lower case
  uint16_t port = 0;
  core::config::TlsMode tls = core::config::TlsMode::kImplicit;
};

// What clients of one served domain are told.
struct DomainSettings {
  std::string domain;                      // the main domain (alias domains answer as it)
  std::vector<std::string> alias_domains;  // also covered
  std::optional<Endpoint> imap, pop3;      // unset: the domain's policy does not allow it
  Endpoint smtp;                           // submission
};

// The settings for a served domain (main or alias; any case; UTF-8 or
// punycode), or nullopt when Roost does not serve it.
std::optional<DomainSettings> settings_for(const core::config::Directory& dir,
                                           std::string_view domain);

// The domain part of a plausible e-mail address ("local@domain": one '@'
// with text on both sides, no spaces or control characters, at most 320
// octets), or nullopt.
std::optional<std::string> address_domain(std::string_view address);

// The documents (exposed for tests and the CLI).
std::string thunderbird_xml(const DomainSettings& s);
std::string outlook_xml(const DomainSettings& s, std::string_view address);
std::string apple_mobileconfig(const DomainSettings& s, std::string_view address);
// The zone-file lines to publish for the domain (RFC 6186 / RFC 8314 SRV
// records, the autoconfig and autodiscover names); `server_host` is where
// the autoconfig listener is reached.
std::string dns_records(const DomainSettings& s, std::string_view server_host);

// The address in an Outlook (v1) Autodiscover request body:
// Autodiscover/Request/EMailAddress, parsed with expat. nullopt when the body
// is not well-formed XML, has a DOCTYPE, or has no such element.
std::optional<std::string> outlook_request_address(std::string_view xml);

// Escapes & < > " ' for XML text and attribute values.
std::string xml_escape(std::string_view s);

// A name-based UUID (version 5, SHA-1, in Roost's own namespace) for `name`:
// the same name always gives the same UUID. Upper case, as Apple writes them.
std::string stable_uuid(std::string_view name);

// The HTTP handler for the autoconfig listener. Never throws; never answers
// 500: unknown path 404, wrong method 405, missing or malformed address 400,
// a domain Roost does not serve 404.
roost::http::Response handle(const core::config::Directory& dir, const roost::http::Request& req);

}  // namespace autoconfig
