// Autoconfig documents and the handler over a real directory with two
// domains: one POP3-only (with an alias domain), one with its own public:
// override.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "autoconfig/autoconfig.h"
#include "core/config/config.h"
#include "core/config/directory.h"

namespace {

namespace cfg = core::config;
using roost::http::Request;

std::shared_ptr<const cfg::Directory> make_directory() {
  auto loaded = cfg::load_config_text(
      "server: { hostname: host.example.net, state_dir: /tmp/roost-ac-state }\n"
      "store: { backend: memory, path: \"/tmp/roost-ac/{domain}/{user}\" }\n"
      "listeners:\n  - { protocol: autoconfig, address: 127.0.0.1, port: 10081 }\n"
      "public:\n"
      "  imap: { host: imap.example.net, port: 993, tls: implicit }\n"
      "  smtp: { host: smtp.example.net, port: 587, tls: starttls }\n"
      "domains_dir: /tmp/roost-ac-domains\n",
      "/tmp/roost-ac.yaml");
  for (const auto& e : loaded.errors) MESSAGE(e.str());
  REQUIRE(loaded.config);
  std::vector<cfg::DomainFile> files;
  auto pop = cfg::load_domain_text(
      "domain: pop.test\n"
      "alias_domains: [pop-alias.test]\n"
      "policy: { protocols: [pop3] }\n"
      "accounts:\n  alice: { password: \"{PLAIN}x\" }\n",
      "/tmp/roost-ac-domains/pop.test.yaml");
  auto own = cfg::load_domain_text(
      "domain: own.test\n"
      "public:\n"
      "  imap: { host: mail42.provider.example, tls: starttls }\n"
      "  pop3: { host: pop.provider.example }\n"
      "accounts:\n  bob: { password: \"{PLAIN}x\" }\n",
      "/tmp/roost-ac-domains/own.test.yaml");
  for (auto* f : {&pop, &own}) {
    for (const auto& e : f->errors) MESSAGE(e.str());
    REQUIRE(f->domain);
    files.push_back(std::move(*f));
  }
  return cfg::Directory::build(*loaded.config, std::move(files), nullptr, nullptr);
}

Request get(std::string path, std::vector<std::pair<std::string, std::string>> query = {},
            std::string host = "autoconfig.example.net") {
  Request r;
  r.method = "GET";
  r.path = std::move(path);
  r.query = std::move(query);
  r.headers["host"] = std::move(host);
  return r;
}

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

size_t pos(const std::string& hay, const std::string& needle) {
  auto p = hay.find(needle);
  REQUIRE(p != std::string::npos);
  return p;
}

const char* kOutlookRequest =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n"
    "<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/"
    "requestschema/2006\">\r\n"
    "  <Request>\r\n"
    "    <EMailAddress>Bob@OWN.test</EMailAddress>\r\n"
    "    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/"
    "responseschema/2006a</AcceptableResponseSchema>\r\n"
    "  </Request>\r\n"
    "</Autodiscover>\r\n";

}  // namespace

TEST_CASE("settings: policy protocols, public overrides and fallbacks") {
  auto dir = make_directory();
  auto pop = autoconfig::settings_for(*dir, "POP-ALIAS.test");
  REQUIRE(pop);
  CHECK(pop->domain == "pop.test");
  CHECK_FALSE(pop->imap);
  REQUIRE(pop->pop3);
  // No public.pop3 anywhere: server.hostname, 995, implicit.
  CHECK(pop->pop3->host == "host.example.net");
  CHECK(pop->pop3->port == 995);
  CHECK(pop->pop3->tls == cfg::TlsMode::kImplicit);
  CHECK(pop->smtp.host == "smtp.example.net");
  CHECK(pop->smtp.port == 587);
  CHECK(pop->smtp.tls == cfg::TlsMode::kStartTls);

  auto own = autoconfig::settings_for(*dir, "own.test");
  REQUIRE(own);
  REQUIRE(own->imap);
  CHECK(own->imap->host == "mail42.provider.example");
  CHECK(own->imap->port == 143);
  CHECK(own->imap->tls == cfg::TlsMode::kStartTls);
  REQUIRE(own->pop3);
  CHECK(own->pop3->host == "pop.provider.example");
  CHECK(own->pop3->port == 995);

  CHECK_FALSE(autoconfig::settings_for(*dir, "example.org"));
  CHECK_FALSE(autoconfig::settings_for(*dir, ""));
}

TEST_CASE("Thunderbird: servers in order, socket types, alias domains") {
  auto dir = make_directory();
  auto r = autoconfig::handle(*dir,
                              get("/mail/config-v1.1.xml", {{"emailaddress", "whoever@own.test"}}));
  CHECK(r.status == 200);
  CHECK(contains(r.content_type, "xml"));
  const auto& x = r.body;
  CHECK(contains(x, "<clientConfig version=\"1.1\">"));
  CHECK(contains(x, "<emailProvider id=\"own.test\">"));
  size_t imap = pos(x, "<incomingServer type=\"imap\">");
  size_t pop3 = pos(x, "<incomingServer type=\"pop3\">");
  size_t smtp = pos(x, "<outgoingServer type=\"smtp\">");
  CHECK(imap < pop3);
  CHECK(pop3 < smtp);
  CHECK(contains(x.substr(imap, pop3 - imap), "<socketType>STARTTLS</socketType>"));
  CHECK(contains(x.substr(imap, pop3 - imap), "<port>143</port>"));
  CHECK(contains(x.substr(pop3, smtp - pop3), "<socketType>SSL</socketType>"));
  CHECK(contains(x, "<username>%EMAILADDRESS%</username>"));
  CHECK(contains(x, "<authentication>password-cleartext</authentication>"));

  auto p = autoconfig::handle(*dir, get("/.well-known/autoconfig/mail/config-v1.1.xml",
                                        {{"emailaddress", "a@pop-alias.test"}}));
  CHECK(p.status == 200);
  CHECK_FALSE(contains(p.body, "type=\"imap\""));
  CHECK(contains(p.body, "<incomingServer type=\"pop3\">"));
  CHECK(contains(p.body, "<domain>pop-alias.test</domain>"));
}

TEST_CASE("Thunderbird without an address: the Host header names the domain") {
  auto dir = make_directory();
  auto r = autoconfig::handle(*dir, get("/mail/config-v1.1.xml", {}, "autoconfig.own.test:8080"));
  CHECK(r.status == 200);
  CHECK(contains(r.body, "<emailProvider id=\"own.test\">"));
  CHECK(
      autoconfig::handle(*dir, get("/mail/config-v1.1.xml", {}, "autoconfig.example.org")).status ==
      400);
  CHECK(autoconfig::handle(*dir, get("/mail/config-v1.1.xml", {}, "")).status == 400);
}

TEST_CASE("errors: foreign domain, missing or malformed address, path, method") {
  auto dir = make_directory();
  CHECK(autoconfig::handle(*dir, get("/mail/config-v1.1.xml", {{"emailaddress", "a@example.org"}}))
            .status == 404);
  CHECK(
      autoconfig::handle(*dir, get("/mail/config-v1.1.xml", {{"emailaddress", "nobody"}})).status ==
      400);
  CHECK(autoconfig::handle(*dir, get("/mail/config-v1.1.xml", {{"emailaddress", "a b@own.test"}}))
            .status == 400);
  CHECK(autoconfig::handle(*dir, get("/mail/config-v1.1.xml", {{"emailaddress", "a@own..test"}}))
            .status == 400);
  CHECK(autoconfig::handle(*dir, get("/nothing/here")).status == 404);
  auto post = get("/mail/config-v1.1.xml", {{"emailaddress", "a@own.test"}});
  post.method = "POST";
  auto r = autoconfig::handle(*dir, post);
  CHECK(r.status == 405);
  REQUIRE(r.headers.size() == 1);
  CHECK(r.headers[0].first == "Allow");
  CHECK(autoconfig::handle(*dir, get("/autodiscover/autodiscover.xml")).status == 405);
}

TEST_CASE("the same answer for existing and unknown accounts") {
  auto dir = make_directory();
  auto a =
      autoconfig::handle(*dir, get("/mail/config-v1.1.xml", {{"emailaddress", "bob@own.test"}}));
  auto b =
      autoconfig::handle(*dir, get("/mail/config-v1.1.xml", {{"emailaddress", "nosuch@own.test"}}));
  CHECK(a.status == 200);
  CHECK(a.body == b.body);
}

TEST_CASE("Outlook v1: request parsed with expat, protocols in order") {
  auto dir = make_directory();
  CHECK(autoconfig::outlook_request_address(kOutlookRequest) ==
        std::optional<std::string>("Bob@OWN.test"));
  Request r;
  r.method = "POST";
  r.path = "/Autodiscover/Autodiscover.xml";
  r.body = kOutlookRequest;
  auto resp = autoconfig::handle(*dir, r);
  CHECK(resp.status == 200);
  const auto& x = resp.body;
  size_t imap = pos(x, "<Type>IMAP</Type>");
  size_t pop3 = pos(x, "<Type>POP3</Type>");
  size_t smtp = pos(x, "<Type>SMTP</Type>");
  CHECK(imap < pop3);
  CHECK(pop3 < smtp);
  CHECK(contains(x, "<LoginName>Bob@OWN.test</LoginName>"));
  CHECK(contains(x, "<Server>mail42.provider.example</Server>"));
  CHECK(contains(x, "<AccountType>email</AccountType>"));
  CHECK(contains(x, "<SPA>off</SPA>"));
  CHECK(contains(x, "<AuthRequired>on</AuthRequired>"));

  // Not XML, no address, a DOCTYPE (entity tricks): 400.
  for (const char* body : {"", "not xml", "<Autodiscover><Request></Request></Autodiscover>",
                           "<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY e \"x\">]>"
                           "<Autodiscover><Request><EMailAddress>&e;@own.test</EMailAddress>"
                           "</Request></Autodiscover>",
                           "<Autodiscover><Request><EMailAddress>a@own.test</EMailAddress>"}) {
    CAPTURE(body);
    CHECK_FALSE(autoconfig::outlook_request_address(body));
    r.body = body;
    CHECK(autoconfig::handle(*dir, r).status == 400);
  }
  r.body = std::string(kOutlookRequest);
  r.body.replace(r.body.find("Bob@OWN.test"), 12, "x@example.org");
  CHECK(autoconfig::handle(*dir, r).status == 404);
}

TEST_CASE("Outlook v2: JSON pointer to the v1 URL, other protocols 404") {
  auto dir = make_directory();
  auto r = autoconfig::handle(*dir, get("/autodiscover/autodiscover.json",
                                        {{"Email", "bob@own.test"}, {"Protocol", "AutodiscoverV1"}},
                                        "autodiscover.own.test"));
  CHECK(r.status == 200);
  CHECK(r.content_type == "application/json");
  CHECK(r.body ==
        "{\"Protocol\":\"AutodiscoverV1\",\"Url\":"
        "\"https://autodiscover.own.test/autodiscover/autodiscover.xml\"}");
  auto bad = autoconfig::handle(*dir, get("/autodiscover/autodiscover.json",
                                          {{"Email", "bob@own.test"}, {"Protocol", "Ews"}}));
  CHECK(bad.status == 404);
  CHECK(contains(bad.body, "\"ErrorCode\":\"InvalidProtocol\""));
  CHECK(autoconfig::handle(*dir,
                           get("/autodiscover/autodiscover.json", {{"Protocol", "AutodiscoverV1"}}))
            .status == 400);
  CHECK(autoconfig::handle(*dir, get("/autodiscover/autodiscover.json",
                                     {{"Email", "x@example.org"}, {"Protocol", "AutodiscoverV1"}}))
            .status == 404);
}

TEST_CASE("Apple: a mobileconfig with IMAP if allowed, else POP3; stable UUIDs") {
  auto dir = make_directory();
  auto r = autoconfig::handle(*dir, get("/apple/bob@own.test.mobileconfig"));
  CHECK(r.status == 200);
  CHECK(r.content_type == "application/x-apple-aspen-config");
  CHECK(contains(r.body, "<string>com.apple.mail.managed</string>"));
  CHECK(contains(r.body, "<string>EmailTypeIMAP</string>"));
  CHECK(contains(r.body, "<string>mail42.provider.example</string>"));
  auto again = autoconfig::handle(*dir, get("/apple/bob@own.test.mobileconfig"));
  CHECK(again.body == r.body);
  auto p = autoconfig::handle(*dir, get("/apple/alice@pop.test.mobileconfig"));
  CHECK(p.status == 200);
  CHECK(contains(p.body, "<string>EmailTypePOP</string>"));
  CHECK(contains(p.body, "<integer>995</integer>"));
  CHECK(autoconfig::handle(*dir, get("/apple/x@example.org.mobileconfig")).status == 404);
  CHECK(autoconfig::handle(*dir, get("/apple/.mobileconfig")).status == 400);

  auto u = autoconfig::stable_uuid("x");
  CHECK(u.size() == 36);
  CHECK(u[14] == '5');
  CHECK(u == autoconfig::stable_uuid("x"));
  CHECK(u != autoconfig::stable_uuid("y"));
}

TEST_CASE("XML output is escaped") {
  auto dir = make_directory();
  CHECK(autoconfig::xml_escape("a&b<c>\"'") == "a&amp;b&lt;c&gt;&quot;&apos;");
  auto r = autoconfig::handle(*dir, get("/apple/o'brien&co@own.test.mobileconfig"));
  CHECK(r.status == 200);
  CHECK(contains(r.body, "o&apos;brien&amp;co@own.test"));
  CHECK_FALSE(contains(r.body, "o'brien&co"));
  Request req;
  req.method = "POST";
  req.path = "/autodiscover/autodiscover.xml";
  req.body =
      "<Autodiscover><Request><EMailAddress>x&amp;y@own.test</EMailAddress></Request>"
      "</Autodiscover>";
  auto o = autoconfig::handle(*dir, req);
  CHECK(o.status == 200);
  CHECK(contains(o.body, "<LoginName>x&amp;y@own.test</LoginName>"));
}

TEST_CASE("DNS records: SRV per RFC 6186/8314, '.' for what is not offered") {
  auto dir = make_directory();
  auto pop = autoconfig::settings_for(*dir, "pop.test");
  REQUIRE(pop);
  auto z = autoconfig::dns_records(*pop, "host.example.net");
  CHECK(contains(z, "_imaps._tcp.pop.test."));
  auto line = [&](const std::string& name) {
    size_t p = z.find(name + " ");
    REQUIRE(p != std::string::npos);
    return z.substr(p, z.find('\n', p) - p);
  };
  CHECK(contains(line("_imaps._tcp.pop.test."), "IN SRV 0 0 0 ."));
  CHECK(contains(line("_imap._tcp.pop.test."), "IN SRV 0 0 0 ."));
  CHECK(contains(line("_pop3s._tcp.pop.test."), "IN SRV 0 1 995 host.example.net."));
  CHECK(contains(line("_pop3._tcp.pop.test."), "IN SRV 0 0 0 ."));
  CHECK(contains(line("_submissions._tcp.pop.test."), "IN SRV 0 0 0 ."));
  CHECK(contains(line("_submission._tcp.pop.test."), "IN SRV 0 1 587 smtp.example.net."));
  CHECK(contains(line("autoconfig.pop.test."), "IN CNAME host.example.net."));
  CHECK(contains(line("autodiscover.pop.test."), "IN CNAME host.example.net."));
  CHECK(contains(line("_autodiscover._tcp.pop.test."), "IN SRV 0 1 443 host.example.net."));
  auto own = autoconfig::settings_for(*dir, "own.test");
  auto z2 = autoconfig::dns_records(*own, "host.example.net");
  CHECK(
      contains(z2, "_imap._tcp.own.test.            3600 IN SRV 0 1 143 mail42.provider.example."));
}
