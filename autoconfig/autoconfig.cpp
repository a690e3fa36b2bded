// Client autoconfig documents and the HTTP handler (autoconfig.h).
#include "autoconfig/autoconfig.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <variant>

#include "core/util/ascii.h"

namespace autoconfig {

namespace config = core::config;
namespace http = roost::http;

namespace {

Endpoint endpoint(const std::optional<config::PublicEndpoint>& domain_ep,
                  const std::optional<config::PublicEndpoint>& server_ep,
                  const std::string& hostname, uint16_t implicit_port) {
  const auto& ep = domain_ep ? domain_ep : server_ep;
  if (ep) return Endpoint{ep->host.empty() ? hostname : ep->host, ep->port, ep->tls};
  return Endpoint{hostname, implicit_port, config::TlsMode::kImplicit};
}

// Thunderbird's socketType.
const char* socket_type(config::TlsMode t) {
  switch (t) {
    case config::TlsMode::kImplicit:
      return "SSL";
    case config::TlsMode::kStartTls:
      return "STARTTLS";
    case config::TlsMode::kNone:
      break;
  }
  return "plain";
}

}  // namespace

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::optional<DomainSettings> settings_for(const config::Directory& dir, std::string_view domain) {
  if (domain.empty() || domain.size() > 253 + 1) return std::nullopt;
  const config::Domain* d = dir.find_domain(domain);
  if (!d) return std::nullopt;
  const config::Config& c = dir.config();
  config::Policy policy = c.policy;
  d->policy.apply(policy);
  DomainSettings s;
  s.domain = d->name;
  s.alias_domains = d->alias_domains;
  const auto& own = d->public_settings;
  const auto& server = c.public_settings;
  const std::string& host = c.server.hostname;
  if (policy.allows(config::Protocol::kImap)) s.imap = endpoint(own.imap, server.imap, host, 993);
  if (policy.allows(config::Protocol::kPop3)) s.pop3 = endpoint(own.pop3, server.pop3, host, 995);
  s.smtp = endpoint(own.smtp, server.smtp, host, 465);
  return s;
}

std::optional<std::string> address_domain(std::string_view address) {
  if (address.empty() || address.size() > 320) return std::nullopt;
  auto at = address.find('@');
  if (at == 0 || at == std::string_view::npos || at + 1 == address.size()) return std::nullopt;
  if (address.find('@', at + 1) != std::string_view::npos) return std::nullopt;
  for (unsigned char c : address) {
    if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == '"' || c == '\\') {
      return std::nullopt;
    }
  }
  return std::string(address.substr(at + 1));
}

std::string thunderbird_xml(const DomainSettings& s) {
  auto server = [](const char* tag, const char* type, const Endpoint& ep) {
    std::string o = std::string("    <") + tag + " type=\"" + type + "\">\n";
    o += "      <hostname>" + xml_escape(ep.host) + "</hostname>\n";
    o += "      <port>" + std::to_string(ep.port) + "</port>\n";
    o += std::string("      <socketType>") + socket_type(ep.tls) + "</socketType>\n";
    o += "      <username>%EMAILADDRESS%</username>\n";
    o += "      <authentication>password-cleartext</authentication>\n";
    o += std::string("    </") + tag + ">\n";
    return o;
  };
  std::string d = xml_escape(s.domain);
  std::string o = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<clientConfig version=\"1.1\">\n";
  o += "  <emailProvider id=\"" + d + "\">\n";
  o += "    <domain>" + d + "</domain>\n";
  for (const auto& a : s.alias_domains) o += "    <domain>" + xml_escape(a) + "</domain>\n";
  o += "    <displayName>" + d + "</displayName>\n";
  o += "    <displayShortName>" + d + "</displayShortName>\n";
  if (s.imap) o += server("incomingServer", "imap", *s.imap);
  if (s.pop3) o += server("incomingServer", "pop3", *s.pop3);
  o += server("outgoingServer", "smtp", s.smtp);
  o += "  </emailProvider>\n</clientConfig>\n";
  return o;
}

std::string outlook_xml(const DomainSettings& s, std::string_view address) {
  std::string login = xml_escape(address);
  auto protocol = [&](const char* type, const Endpoint& ep) {
    std::string o = "      <Protocol>\n";
    o += std::string("        <Type>") + type + "</Type>\n";
    o += "        <Server>" + xml_escape(ep.host) + "</Server>\n";
    o += "        <Port>" + std::to_string(ep.port) + "</Port>\n";
    o += "        <DomainRequired>off</DomainRequired>\n";
    o += "        <LoginName>" + login + "</LoginName>\n";
    o += "        <SPA>off</SPA>\n";
    // SSL on with Encryption says which kind: SSL = TLS from the first byte,
    // TLS = STARTTLS.
    o += std::string("        <SSL>") + (ep.tls == config::TlsMode::kNone ? "off" : "on") +
         "</SSL>\n";
    o += std::string("        <Encryption>") +
         (ep.tls == config::TlsMode::kImplicit   ? "SSL"
          : ep.tls == config::TlsMode::kStartTls ? "TLS"
                                                 : "None") +
         "</Encryption>\n";
    o += "        <AuthRequired>on</AuthRequired>\n";
    o += "      </Protocol>\n";
    return o;
  };
  std::string o = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";
  o += "<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/responseschema/"
       "2006\">\n";
  o += "  <Response xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/"
       "responseschema/2006a\">\n";
  o += "    <Account>\n";
  o += "      <AccountType>email</AccountType>\n";
  o += "      <Action>settings</Action>\n";
  if (s.imap) o += protocol("IMAP", *s.imap);
  if (s.pop3) o += protocol("POP3", *s.pop3);
  o += protocol("SMTP", s.smtp);
  o += "    </Account>\n  </Response>\n</Autodiscover>\n";
  return o;
}

std::string stable_uuid(std::string_view name) {
  // Roost's namespace UUID for profile identifiers (random, fixed forever).
  static const unsigned char kNamespace[16] = {0x5b, 0x0e, 0x2c, 0x71, 0x93, 0x4a, 0x4f, 0x3d,
                                               0xa6, 0x18, 0xc2, 0x47, 0x0d, 0x9e, 0x61, 0xb3};
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), nullptr) == 1 &&
            EVP_DigestUpdate(ctx, kNamespace, sizeof kNamespace) == 1 &&
            EVP_DigestUpdate(ctx, name.data(), name.size()) == 1 &&
            EVP_DigestFinal_ex(ctx, digest, &len) == 1 && len >= 16;
  EVP_MD_CTX_free(ctx);
  if (!ok) std::fill(digest, digest + 16, 0);
  digest[6] = static_cast<unsigned char>((digest[6] & 0x0f) | 0x50);  // version 5
  digest[8] = static_cast<unsigned char>((digest[8] & 0x3f) | 0x80);  // RFC 4122 variant
  char out[37];
  std::snprintf(
      out, sizeof out, "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X",
      digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
      digest[8], digest[9], digest[10], digest[11], digest[12], digest[13], digest[14], digest[15]);
  return out;
}

std::string apple_mobileconfig(const DomainSettings& s, std::string_view address) {
  // IMAP if the domain allows it, else POP3 (the caller checks one is allowed).
  const Endpoint& in = s.imap ? *s.imap : *s.pop3;
  std::string addr = xml_escape(address);
  std::string d = xml_escape(s.domain);
  // Identifiers and UUIDs depend only on the domain and the address: the
  // same profile installed again replaces the old one, and two accounts of
  // one domain can live side by side.
  std::string key = core::ascii_lower(address);
  std::string id = "roost.autoconfig." + s.domain;
  auto kv = [](const char* k, const std::string& v) {
    return std::string("      <key>") + k + "</key>\n      " + v + "\n";
  };
  auto str = [](const std::string& v) { return "<string>" + v + "</string>"; };
  auto num = [](uint16_t v) { return "<integer>" + std::to_string(v) + "</integer>"; };
  auto boolean = [](bool v) { return std::string(v ? "<true/>" : "<false/>"); };
  std::string p;
  p += kv("EmailAccountDescription", str(d));
  p += kv("EmailAccountType", str(s.imap ? "EmailTypeIMAP" : "EmailTypePOP"));
  p += kv("EmailAddress", str(addr));
  p += kv("IncomingMailServerAuthentication", str("EmailAuthPassword"));
  p += kv("IncomingMailServerHostName", str(xml_escape(in.host)));
  p += kv("IncomingMailServerPortNumber", num(in.port));
  p += kv("IncomingMailServerUseSSL", boolean(in.tls != config::TlsMode::kNone));
  p += kv("IncomingMailServerUsername", str(addr));
  p += kv("OutgoingMailServerAuthentication", str("EmailAuthPassword"));
  p += kv("OutgoingMailServerHostName", str(xml_escape(s.smtp.host)));
  p += kv("OutgoingMailServerPortNumber", num(s.smtp.port));
  p += kv("OutgoingMailServerUseSSL", boolean(s.smtp.tls != config::TlsMode::kNone));
  p += kv("OutgoingMailServerUsername", str(addr));
  p += kv("OutgoingPasswordSameAsIncomingPassword", boolean(true));
  p += kv("PayloadDescription", str("Mail account " + addr));
  p += kv("PayloadDisplayName", str(addr));
  p += kv("PayloadIdentifier", str(xml_escape(id + ".account." + key)));
  p += kv("PayloadType", str("com.apple.mail.managed"));
  p += kv("PayloadUUID", str(stable_uuid("account:" + key)));
  p += kv("PayloadVersion", num(1));
  std::string o =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
      "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
      "<plist version=\"1.0\">\n<dict>\n  <key>PayloadContent</key>\n  <array>\n    <dict>\n";
  o += p;
  o += "    </dict>\n  </array>\n";
  auto top = [](const char* k, const std::string& v) {
    return std::string("  <key>") + k + "</key>\n  " + v + "\n";
  };
  o += top("PayloadDescription", str("Mail settings for " + d));
  o += top("PayloadDisplayName", str(d + " mail"));
  o += top("PayloadIdentifier", str(xml_escape(id + "." + key)));
  o += top("PayloadRemovalDisallowed", boolean(false));
  o += top("PayloadType", str("Configuration"));
  o += top("PayloadUUID", str(stable_uuid("profile:" + key)));
  o += top("PayloadVersion", num(1));
  o += "</dict>\n</plist>\n";
  return o;
}

std::string dns_records(const DomainSettings& s, std::string_view server_host) {
  std::string d = s.domain + ".";
  std::string host = std::string(server_host) + ".";
  auto srv = [&](const std::string& service, const Endpoint* ep) {
    std::string name = service + "._tcp." + d;
    std::string o = name + std::string(name.size() < 32 ? 32 - name.size() : 1, ' ');
    if (!ep) return o + "3600 IN SRV 0 0 0 .\n";  // RFC 6186: not offered
    return o + "3600 IN SRV 0 1 " + std::to_string(ep->port) + " " + ep->host + ".\n";
  };
  // One service, two names: the endpoint goes under the implicit-TLS name or
  // the plain/STARTTLS one, and the other says "not offered".
  auto pair = [&](const char* tls_name, const char* plain_name, const std::optional<Endpoint>& ep) {
    bool implicit = ep && ep->tls == config::TlsMode::kImplicit;
    return srv(tls_name, implicit ? &*ep : nullptr) +
           srv(plain_name, ep && !implicit ? &*ep : nullptr);
  };
  std::optional<Endpoint> smtp = s.smtp;
  std::string o = "; DNS records for " + s.domain + " (RFC 6186, RFC 8314; roost dns)\n";
  o += pair("_imaps", "_imap", s.imap);
  o += pair("_pop3s", "_pop3", s.pop3);
  o += pair("_submissions", "_submission", smtp);
  auto pad = [](std::string name) {
    return name + std::string(name.size() < 32 ? 32 - name.size() : 1, ' ');
  };
  o += "; client autoconfig (Thunderbird) and Autodiscover (Outlook)\n";
  o += pad("autoconfig." + d) + "3600 IN CNAME " + host + "\n";
  o += pad("autodiscover." + d) + "3600 IN CNAME " + host + "\n";
  o += pad("_autodiscover._tcp." + d) + "3600 IN SRV 0 1 443 " + host + "\n";
  return o;
}

// ---------------------------------------------------------------------------
// The handler

namespace {

http::Response not_found() {
  return http::text(404, "Not found\n");
}

http::Response no_such_domain() {
  return http::text(404, "This server has no mail settings for that domain\n");
}

http::Response bad_request(std::string why) {
  return http::text(400, std::move(why) + "\n");
}

http::Response wrong_method(const char* allow) {
  auto r = http::text(405, "Method not allowed\n");
  r.headers.emplace_back("Allow", allow);
  return r;
}

// The Host header without port or trailing dot, lower case; "" if absent or
// not a plausible host name.
std::string host_name(const http::Request& req, std::string* with_port = nullptr) {
  std::string h = core::ascii_lower(req.header("host"));
  for (char c : h) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
              c == ':' || c == '[' || c == ']';
    if (!ok) return {};
  }
  if (h.empty() || h.size() > 260) return {};
  if (with_port) *with_port = h;
  if (h.front() == '[') return {};  // an IP literal names no domain
  auto colon = h.find(':');
  if (colon != std::string::npos) h.resize(colon);
  while (!h.empty() && h.back() == '.') h.pop_back();
  return h;
}

// Resolves an address to its domain's settings, or the error response.
std::variant<DomainSettings, http::Response> settings_for_address(
    const config::Directory& dir, const std::optional<std::string>& address) {
  if (!address || address->empty()) return bad_request("An e-mail address is required");
  auto domain = address_domain(*address);
  if (!domain || !config::normalize_domain(*domain)) {
    return bad_request("Not a valid e-mail address");
  }
  auto s = settings_for(dir, *domain);
  if (!s) return no_such_domain();
  if (!s->imap && !s->pop3) return no_such_domain();  // no mail access offered
  return *s;
}

http::Response thunderbird(const config::Directory& dir, const http::Request& req) {
  auto address = req.param("emailaddress");
  if (!address) {
    // Thunderbird may ask autoconfig.DOMAIN (or DOMAIN for .well-known)
    // without the address: the Host names the domain.
    std::string h = host_name(req);
    std::optional<DomainSettings> s;
    if (h.starts_with("autoconfig.")) s = settings_for(dir, h.substr(11));
    if (!s && !h.empty()) s = settings_for(dir, h);
    if (!s) return bad_request("An e-mail address is required (?emailaddress=)");
    if (!s->imap && !s->pop3) return no_such_domain();
    auto r = http::Response{200, "application/xml; charset=utf-8", thunderbird_xml(*s), {}};
    return r;
  }
  auto s = settings_for_address(dir, address);
  if (auto* err = std::get_if<http::Response>(&s)) return *err;
  return http::Response{
      200, "application/xml; charset=utf-8", thunderbird_xml(std::get<DomainSettings>(s)), {}};
}

http::Response outlook_v1(const config::Directory& dir, const http::Request& req) {
  auto address = outlook_request_address(req.body);
  if (!address) return bad_request("Expected an Autodiscover request with EMailAddress");
  auto s = settings_for_address(dir, address);
  if (auto* err = std::get_if<http::Response>(&s)) return *err;
  return http::Response{200,
                        "application/xml; charset=utf-8",
                        outlook_xml(std::get<DomainSettings>(s), *address),
                        {}};
}

std::string json_string(std::string_view s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      o.push_back('\\');
      o.push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      o += buf;
    } else {
      o.push_back(static_cast<char>(c));
    }
  }
  return o + "\"";
}

http::Response outlook_v2(const config::Directory& dir, const http::Request& req,
                          std::optional<std::string> address) {
  if (!address) address = req.param("Email");
  if (!address) address = req.param("email");
  auto protocol = req.param("Protocol");
  if (!protocol) protocol = req.param("protocol");
  auto s = settings_for_address(dir, address);
  if (auto* err = std::get_if<http::Response>(&s)) {
    err->content_type = "application/json";
    std::string code = err->status == 404 ? "NotFound" : "InvalidRequest";
    std::string msg = err->body;
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    err->body =
        "{\"ErrorCode\":" + json_string(code) + ",\"ErrorMessage\":" + json_string(msg) + "}";
    return *err;
  }
  if (!protocol || !core::ascii_iequals(*protocol, "AutodiscoverV1")) {
    std::string given = protocol ? *protocol : std::string();
    return http::json(404, "{\"ErrorCode\":\"InvalidProtocol\",\"ErrorMessage\":" +
                               json_string("The protocol '" + given +
                                           "' is not offered here; supported: AutodiscoverV1") +
                               "}");
  }
  std::string authority;
  host_name(req, &authority);
  if (authority.empty()) authority = "autodiscover." + std::get<DomainSettings>(s).domain;
  return http::json(
      200, "{\"Protocol\":\"AutodiscoverV1\",\"Url\":" +
               json_string("https://" + authority + "/autodiscover/autodiscover.xml") + "}");
}

http::Response apple(const config::Directory& dir, const std::string& address) {
  auto s = settings_for_address(dir, address);
  if (auto* err = std::get_if<http::Response>(&s)) return *err;
  const auto& ds = std::get<DomainSettings>(s);
  http::Response r{200, "application/x-apple-aspen-config", apple_mobileconfig(ds, address), {}};
  r.headers.emplace_back("Content-Disposition",
                         "attachment; filename=\"" + ds.domain + ".mobileconfig\"");
  return r;
}

}  // namespace

http::Response handle(const config::Directory& dir, const http::Request& req) {
  const std::string path = core::ascii_lower(req.path);
  const bool get = req.method == "GET" || req.method == "HEAD";
  const bool post = req.method == "POST";
  if (path == "/mail/config-v1.1.xml" || path == "/.well-known/autoconfig/mail/config-v1.1.xml") {
    if (!get) return wrong_method("GET, HEAD");
    return thunderbird(dir, req);
  }
  if (path == "/autodiscover/autodiscover.xml") {
    if (!post) return wrong_method("POST");
    return outlook_v1(dir, req);
  }
  if (path == "/autodiscover/autodiscover.json") {
    if (!get) return wrong_method("GET, HEAD");
    return outlook_v2(dir, req, std::nullopt);
  }
  constexpr std::string_view kV2Prefix = "/autodiscover/autodiscover.json/v1.0/";
  if (path.starts_with(kV2Prefix) && path.size() > kV2Prefix.size()) {
    if (!get) return wrong_method("GET, HEAD");
    return outlook_v2(dir, req, req.path.substr(kV2Prefix.size()));
  }
  constexpr std::string_view kApplePrefix = "/apple/";
  constexpr std::string_view kAppleSuffix = ".mobileconfig";
  if (path.starts_with(kApplePrefix) && path.ends_with(kAppleSuffix) &&
      path.size() >= kApplePrefix.size() + kAppleSuffix.size()) {
    if (!get) return wrong_method("GET, HEAD");
    return apple(dir, req.path.substr(kApplePrefix.size(),
                                      req.path.size() - kApplePrefix.size() - kAppleSuffix.size()));
  }
  return not_found();
}

}  // namespace autoconfig
