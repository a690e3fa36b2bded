#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/tls/tls.h"

namespace fs = std::filesystem;
namespace config = core::config;
using core::tls::Context;
using core::tls::Engine;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/roost-tls-test-XXXXXX";
    char* p = mkdtemp(tmpl);
    REQUIRE(p != nullptr);
    path = p;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// Certificates shared by every test case, generated once.
struct Certs {
  TempDir dir;
  config::CertPair def;   // CN=mail.roost.test
  config::CertPair sni;   // CN=mail.example.fr
  config::CertPair star;  // CN=imap.example.org (served for *.example.org)
  Certs() {
    def = {(dir.path / "main/cert.pem").string(), (dir.path / "main/key.pem").string()};
    sni = {(dir.path / "sni/cert.pem").string(), (dir.path / "sni/key.pem").string()};
    star = {(dir.path / "star/cert.pem").string(), (dir.path / "star/key.pem").string()};
    REQUIRE(core::tls::make_self_signed(def.certificate, def.private_key, "mail.roost.test") == "");
    REQUIRE(core::tls::make_self_signed(sni.certificate, sni.private_key, "mail.example.fr") == "");
    REQUIRE(core::tls::make_self_signed(star.certificate, star.private_key, "imap.example.org") ==
            "");
  }
};

Certs& certs() {
  static Certs c;
  return c;
}

config::TlsSettings settings(std::string min_version = "1.2") {
  config::TlsSettings s;
  s.default_pair = certs().def;
  s.min_version = std::move(min_version);
  s.sni["mail.example.fr"] = certs().sni;
  s.sni["*.example.org"] = certs().star;
  return s;
}

std::shared_ptr<Context> server_ctx(std::string min_version = "1.2") {
  std::string err;
  auto ctx = Context::create_server(settings(std::move(min_version)), &err);
  REQUIRE_MESSAGE(ctx != nullptr, err);
  CHECK(err.empty());
  return ctx;
}

std::shared_ptr<Context> client_ctx(bool verify = false) {
  std::string err;
  auto ctx = Context::create_client(verify, &err);
  REQUIRE_MESSAGE(ctx != nullptr, err);
  return ctx;
}

// Moves ciphertext from one engine to the other, `chunk` bytes per feed (0: all at once).
size_t move(Engine& from, Engine& to, size_t chunk) {
  std::string bytes;
  from.take_ciphertext(&bytes);
  if (bytes.empty()) return 0;
  if (chunk == 0) chunk = bytes.size();
  for (size_t off = 0; off < bytes.size(); off += chunk) {
    to.feed(std::string_view(bytes).substr(off, chunk));
  }
  return bytes.size();
}

// Shuttles until neither side has anything to send.
void shuttle(Engine& client, Engine& server, size_t chunk = 0) {
  for (int i = 0; i < 10000; ++i) {
    size_t moved = move(client, server, chunk) + move(server, client, chunk);
    if (moved == 0) return;
  }
  FAIL("shuttle did not settle");
}

void handshake(Engine& client, Engine& server, size_t chunk = 0) {
  client.start();
  server.start();  // no-op for servers
  shuttle(client, server, chunk);
}

std::string read_all(Engine& e) {
  std::string out;
  e.read_plain(&out);
  return out;
}

std::string pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  unsigned x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    s[i] = static_cast<char>(x >> 16);
  }
  return s;
}

X509* read_cert(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  REQUIRE(f != nullptr);
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  REQUIRE(cert != nullptr);
  return cert;
}

EVP_PKEY* read_key(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  REQUIRE(f != nullptr);
  EVP_PKEY* key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  REQUIRE(key != nullptr);
  return key;
}

// Every SAN rendered as "DNS:x" or "IP:x", like `openssl x509 -text` prints them.
std::vector<std::string> san_list(X509* cert) {
  std::vector<std::string> out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  REQUIRE(names != nullptr);
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    if (gn->type == GEN_DNS) {
      const ASN1_IA5STRING* s = gn->d.dNSName;
      out.push_back("DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                         static_cast<size_t>(ASN1_STRING_length(s))));
    } else if (gn->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* s = gn->d.iPAddress;
      const unsigned char* d = ASN1_STRING_get0_data(s);
      int len = ASN1_STRING_length(s);
      char buf[64];
      if (len == 4) {
        std::snprintf(buf, sizeof buf, "IP:%d.%d.%d.%d", d[0], d[1], d[2], d[3]);
        out.push_back(buf);
      } else if (len == 16) {
        bool loopback6 = true;
        for (int k = 0; k < 15; ++k) loopback6 = loopback6 && d[k] == 0;
        out.push_back(loopback6 && d[15] == 1 ? "IP:::1" : "IP:(v6)");
      }
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  for (const auto& x : v) {
    if (x == s) return true;
  }
  return false;
}

std::string subject_cn(X509* cert) {
  char buf[256] = {0};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf);
  return buf;
}

// Trusts exactly the given certificate.
std::shared_ptr<Context> client_trusting(const std::string& cert_path) {
  auto ctx = client_ctx(false);
  auto* raw = static_cast<SSL_CTX*>(ctx->native());
  SSL_CTX_set_verify(raw, SSL_VERIFY_PEER, nullptr);
  REQUIRE(SSL_CTX_load_verify_locations(raw, cert_path.c_str(), nullptr) == 1);
  return ctx;
}

}  // namespace

TEST_CASE("make_self_signed writes a usable certificate and key") {
  TempDir dir;
  std::string cert_path = (dir.path / "a/b/cert.pem").string();
  std::string key_path = (dir.path / "c/key.pem").string();
  REQUIRE(core::tls::make_self_signed(cert_path, key_path, "Mail.Example.Test") == "");

  struct stat st {};
  REQUIRE(stat(key_path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(stat(cert_path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0644);
  // No temporary files left behind.
  CHECK(std::distance(fs::directory_iterator(dir.path / "c"), fs::directory_iterator()) == 1);

  X509* cert = read_cert(cert_path);
  EVP_PKEY* key = read_key(key_path);
  CHECK(X509_get_version(cert) == X509_VERSION_3);
  CHECK(X509_check_private_key(cert, key) == 1);
  CHECK(EVP_PKEY_is_a(key, "EC"));
  char group[64] = {0};
  size_t glen = 0;
  REQUIRE(EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof group, &glen) == 1);
  CHECK(std::string(group) == "prime256v1");

  CHECK(subject_cn(cert) == "mail.example.test");
  CHECK(X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)) == 0);

  auto sans = san_list(cert);
  CHECK(contains(sans, "DNS:localhost"));
  CHECK(contains(sans, "DNS:mail.example.test"));
  CHECK(contains(sans, "IP:127.0.0.1"));
  CHECK(contains(sans, "IP:::1"));
  CHECK(X509_check_host(cert, "localhost", 0, 0, nullptr) == 1);
  CHECK(X509_check_host(cert, "mail.example.test", 0, 0, nullptr) == 1);
  CHECK(X509_check_ip_asc(cert, "127.0.0.1", 0) == 1);
  CHECK(X509_check_ip_asc(cert, "::1", 0) == 1);

  // Extensions.
  CHECK(X509_check_ca(cert) >= 1);
  uint32_t ku = X509_get_key_usage(cert);
  CHECK((ku & KU_DIGITAL_SIGNATURE) != 0);
  CHECK((ku & KU_KEY_CERT_SIGN) != 0);
  CHECK((X509_get_extended_key_usage(cert) & XKU_SSL_SERVER) != 0);

  // About ten years of validity, starting now.
  int days = 0, secs = 0;
  REQUIRE(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert), X509_get0_notAfter(cert)) == 1);
  CHECK(days >= 3649);
  CHECK(days <= 3651);
  CHECK(X509_cmp_current_time(X509_get0_notBefore(cert)) < 0);

  // Self-signature verifies.
  CHECK(X509_verify(cert, key) == 1);

  // A second run gives another serial and replaces the files.
  ASN1_INTEGER* serial1 = ASN1_INTEGER_dup(X509_get0_serialNumber(cert));
  REQUIRE(core::tls::make_self_signed(cert_path, key_path, "mail.example.test") == "");
  X509* cert2 = read_cert(cert_path);
  CHECK(ASN1_INTEGER_cmp(serial1, X509_get0_serialNumber(cert2)) != 0);
  REQUIRE(stat(key_path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  ASN1_INTEGER_free(serial1);
  X509_free(cert2);
  X509_free(cert);
  EVP_PKEY_free(key);
}

TEST_CASE("make_self_signed reports errors") {
  TempDir dir;
  CHECK(core::tls::make_self_signed((dir.path / "c.pem").string(), (dir.path / "k.pem").string(),
                                    "bad,name") != "");
  // Parent "directory" is a regular file.
  std::string blocker = (dir.path / "file").string();
  FILE* f = std::fopen(blocker.c_str(), "w");
  REQUIRE(f != nullptr);
  std::fclose(f);
  std::string err =
      core::tls::make_self_signed(blocker + "/c.pem", blocker + "/k.pem", "localhost");
  CHECK(err != "");
  CHECK(err.find(blocker) != std::string::npos);
}

TEST_CASE("create_server reports file errors as PATH: reason") {
  config::TlsSettings s;
  std::string err;

  s.default_pair = {"/nonexistent/cert.pem", certs().def.private_key};
  CHECK(Context::create_server(s, &err) == nullptr);
  CHECK(err.rfind("/nonexistent/cert.pem: ", 0) == 0);
  MESSAGE(err);

  s.default_pair = {certs().def.certificate, "/nonexistent/key.pem"};
  CHECK(Context::create_server(s, &err) == nullptr);
  CHECK(err.rfind("/nonexistent/key.pem: ", 0) == 0);

  // A key that is not the certificate's.
  s.default_pair = {certs().def.certificate, certs().sni.private_key};
  CHECK(Context::create_server(s, &err) == nullptr);
  CHECK(err.rfind(certs().sni.private_key + ": ", 0) == 0);
  CHECK(err.find("does not match") != std::string::npos);

  // A certificate file that is not PEM.
  TempDir dir;
  std::string junk = (dir.path / "junk.pem").string();
  FILE* f = std::fopen(junk.c_str(), "w");
  REQUIRE(f != nullptr);
  std::fputs("not a certificate\n", f);
  std::fclose(f);
  s.default_pair = {junk, certs().def.private_key};
  CHECK(Context::create_server(s, &err) == nullptr);
  CHECK(err.rfind(junk + ": ", 0) == 0);
  MESSAGE(err);

  // A broken SNI entry fails the whole context.
  s = settings();
  s.sni["broken.test"] = {"/nonexistent/sni.pem", certs().def.private_key};
  CHECK(Context::create_server(s, &err) == nullptr);
  CHECK(err.rfind("/nonexistent/sni.pem: ", 0) == 0);

  s = settings("1.1");
  CHECK(Context::create_server(s, &err) == nullptr);
  CHECK(err.find("min_version") != std::string::npos);
}

TEST_CASE("handshake and data both ways at every chunk size") {
  auto sctx = server_ctx();
  auto cctx = client_ctx();
  for (size_t chunk : {0, 1000, 100, 10, 5, 2, 1}) {
    CAPTURE(chunk);
    Engine server(sctx, Engine::Role::kServer);
    Engine client(cctx, Engine::Role::kClient, "mail.roost.test");
    CHECK_FALSE(server.handshake_done());
    CHECK(server.version().empty());

    // Written before the handshake: queued, delivered after it.
    CHECK(client.write_plain("a1 CAPABILITY\r\n"));
    handshake(client, server, chunk);
    REQUIRE_MESSAGE(client.handshake_done(), client.error());
    REQUIRE_MESSAGE(server.handshake_done(), server.error());
    CHECK_FALSE(client.failed());
    CHECK_FALSE(server.failed());
    CHECK(server.version() == "TLSv1.3");
    CHECK(client.version() == "TLSv1.3");
    CHECK(!server.cipher().empty());
    CHECK(server.cipher() == client.cipher());
    CHECK(server.sni() == "mail.roost.test");
    CHECK(read_all(server) == "a1 CAPABILITY\r\n");

    CHECK(server.write_plain("* OK ready\r\n"));
    CHECK(server.write_plain("a1 OK done\r\n"));
    shuttle(client, server, chunk);
    CHECK(read_all(client) == "* OK ready\r\na1 OK done\r\n");

    std::string payload = pattern(50000, static_cast<unsigned>(chunk));
    CHECK(client.write_plain(payload));
    shuttle(client, server, chunk);
    CHECK(read_all(server) == payload);
    CHECK(read_all(server).empty());
  }
}

TEST_CASE("TLS 1.2 negotiates an ECDHE AEAD suite") {
  auto sctx = server_ctx();
  auto cctx = client_ctx();
  SSL_CTX_set_max_proto_version(static_cast<SSL_CTX*>(cctx->native()), TLS1_2_VERSION);
  Engine server(sctx, Engine::Role::kServer);
  Engine client(cctx, Engine::Role::kClient, "localhost");
  handshake(client, server);
  REQUIRE_MESSAGE(server.handshake_done(), server.error());
  CHECK(server.version() == "TLSv1.2");
  std::string c = server.cipher();
  CHECK(c.rfind("ECDHE-", 0) == 0);
  CHECK((c.find("GCM") != std::string::npos || c.find("CHACHA20") != std::string::npos));
  CHECK(client.write_plain("hello"));
  shuttle(client, server);
  CHECK(read_all(server) == "hello");
}

TEST_CASE("a 1.3-only server refuses a 1.2 client") {
  auto sctx = server_ctx("1.3");
  auto cctx = client_ctx();
  SSL_CTX_set_max_proto_version(static_cast<SSL_CTX*>(cctx->native()), TLS1_2_VERSION);
  Engine server(sctx, Engine::Role::kServer);
  Engine client(cctx, Engine::Role::kClient, "localhost");
  handshake(client, server);
  CHECK(server.failed());
  CHECK(client.failed());
  CHECK(server.error().rfind("handshake failed: ", 0) == 0);
  MESSAGE(server.error());
  MESSAGE(client.error());
}

TEST_CASE("no shared cipher is refused with a clear message") {
  auto sctx = server_ctx();
  auto cctx = client_ctx();
  auto* raw = static_cast<SSL_CTX*>(cctx->native());
  SSL_CTX_set_max_proto_version(raw, TLS1_2_VERSION);
  REQUIRE(SSL_CTX_set_cipher_list(raw, "AES128-SHA256") == 1);  // no forward secrecy
  Engine server(sctx, Engine::Role::kServer);
  Engine client(cctx, Engine::Role::kClient, "localhost");
  handshake(client, server);
  CHECK(server.failed());
  CHECK(server.error() == "handshake failed: no shared cipher");
  CHECK(client.failed());
  CHECK(!server.write_plain("x"));
  CHECK(!server.feed("more"));
}

TEST_CASE("large transfer, 1 MiB each way") {
  auto sctx = server_ctx();
  auto cctx = client_ctx();
  Engine server(sctx, Engine::Role::kServer);
  Engine client(cctx, Engine::Role::kClient, "localhost");
  handshake(client, server);
  REQUIRE(server.handshake_done());

  const std::string up = pattern(1 << 20, 1);
  const std::string down = pattern(1 << 20, 2);
  CHECK(client.write_plain(up));
  CHECK(server.write_plain(down));
  std::string got_up, got_down;
  // Shuttle in socket-sized chunks, draining plaintext as a connection would.
  for (int i = 0; i < 100000; ++i) {
    size_t moved = move(client, server, 65536) + move(server, client, 65536);
    server.read_plain(&got_up);
    client.read_plain(&got_down);
    if (moved == 0) break;
  }
  CHECK(got_up.size() == up.size());
  CHECK(got_up == up);
  CHECK(got_down == down);

  // Many small writes after each other.
  std::string expect;
  for (int i = 0; i < 1000; ++i) {
    std::string line = "* " + std::to_string(i) + " FETCH (FLAGS (\\Seen))\r\n";
    expect += line;
    CHECK(server.write_plain(line));
  }
  shuttle(client, server, 7);
  CHECK(read_all(client) == expect);
}

TEST_CASE("released buffers: the stream goes on after every release") {
  auto sctx = server_ctx();
  auto cctx = client_ctx();
  Engine server(sctx, Engine::Role::kServer);
  Engine client(cctx, Engine::Role::kClient, "localhost");
  handshake(client, server);
  REQUIRE(server.handshake_done());
  server.release_buffers();  // after the handshake, as an idle connection
  client.release_buffers();
  for (int round = 0; round < 20; ++round) {
    CAPTURE(round);
    // Sizes from one byte to several records, both ways.
    std::string up = pattern(1u << (round % 18), static_cast<unsigned>(round));
    std::string down = pattern(3u << (round % 17), static_cast<unsigned>(round + 100));
    CHECK(client.write_plain(up));
    CHECK(server.write_plain(down));
    // Released halfway as well: only empty buffers are given back.
    move(client, server, 1000);
    server.release_buffers();
    shuttle(client, server, 4096);
    server.release_buffers();
    client.release_buffers();
    CHECK(read_all(server) == up);
    CHECK(read_all(client) == down);
    CHECK_FALSE(server.failed());
    CHECK_FALSE(client.failed());
  }
  server.shutdown();
  shuttle(client, server);
  CHECK(client.peer_closed());
}

TEST_CASE("close_notify both ways") {
  auto sctx = server_ctx();
  auto cctx = client_ctx();
  Engine server(sctx, Engine::Role::kServer);
  Engine client(cctx, Engine::Role::kClient, "localhost");
  handshake(client, server);
  REQUIRE(server.handshake_done());

  CHECK(client.write_plain("a LOGOUT\r\n"));
  client.shutdown();
  CHECK_FALSE(client.write_plain("after"));  // nothing after close_notify
  shuttle(client, server, 3);
  CHECK(read_all(server) == "a LOGOUT\r\n");
  CHECK(server.peer_closed());
  CHECK_FALSE(server.failed());
  CHECK_FALSE(client.peer_closed());

  CHECK(server.write_plain("* BYE\r\n"));  // half-closed: server may still send
  server.shutdown();
  server.shutdown();  // idempotent
  shuttle(client, server);
  CHECK(read_all(client) == "* BYE\r\n");
  CHECK(client.peer_closed());
  CHECK_FALSE(client.failed());
}

TEST_CASE("shutdown before the handshake is harmless") {
  auto sctx = server_ctx();
  Engine server(sctx, Engine::Role::kServer);
  server.shutdown();
  std::string out;
  server.take_ciphertext(&out);
  CHECK(out.empty());
  CHECK_FALSE(server.failed());
}

namespace {

// Records the subject CN of the certificate the server presented, accepting any.
std::string g_seen_cn;
int record_peer(int /*ok*/, X509_STORE_CTX* store) {
  if (X509_STORE_CTX_get_error_depth(store) == 0) {
    g_seen_cn = subject_cn(X509_STORE_CTX_get_current_cert(store));
  }
  X509_STORE_CTX_set_error(store, X509_V_OK);
  return 1;
}

std::string served_cn(const std::shared_ptr<Context>& sctx, const std::string& name) {
  auto cctx = client_ctx(false);
  SSL_CTX_set_verify(static_cast<SSL_CTX*>(cctx->native()), SSL_VERIFY_PEER, record_peer);
  g_seen_cn.clear();
  Engine server(sctx, Engine::Role::kServer);
  Engine client(cctx, Engine::Role::kClient, name);
  handshake(client, server);
  CHECK_MESSAGE(client.handshake_done(), client.error());
  CHECK_MESSAGE(server.handshake_done(), server.error());
  return g_seen_cn + "|" + server.sni();
}

}  // namespace

TEST_CASE("SNI selects the certificate, case-insensitively, with fallback") {
  auto sctx = server_ctx();
  CHECK(served_cn(sctx, "mail.example.fr") == "mail.example.fr|mail.example.fr");
  CHECK(served_cn(sctx, "MAIL.Example.FR") == "mail.example.fr|mail.example.fr");
  CHECK(served_cn(sctx, "mail.example.fr.") == "mail.example.fr|mail.example.fr");
  CHECK(served_cn(sctx, "imap.example.org") == "imap.example.org|imap.example.org");
  CHECK(served_cn(sctx, "a.b.example.org") == "mail.roost.test|a.b.example.org");
  CHECK(served_cn(sctx, "example.org") == "mail.roost.test|example.org");
  CHECK(served_cn(sctx, "unknown.example.net") == "mail.roost.test|unknown.example.net");
  CHECK(served_cn(sctx, "127.0.0.1") == "mail.roost.test|");  // no SNI for addresses
  CHECK(served_cn(sctx, "") == "mail.roost.test|");
}

TEST_CASE("SNI with a verifying client") {
  auto sctx = server_ctx();
  SUBCASE("the SNI certificate verifies for its name") {
    Engine server(sctx, Engine::Role::kServer);
    Engine client(client_trusting(certs().sni.certificate), Engine::Role::kClient,
                  "Mail.Example.FR");
    handshake(client, server);
    CHECK_MESSAGE(client.handshake_done(), client.error());
  }
  SUBCASE("address literal checks the IP SAN of the default certificate") {
    Engine server(sctx, Engine::Role::kServer);
    Engine client(client_trusting(certs().def.certificate), Engine::Role::kClient, "127.0.0.1");
    handshake(client, server);
    CHECK_MESSAGE(client.handshake_done(), client.error());
  }
  SUBCASE("a name the certificate does not carry is rejected") {
    Engine server(sctx, Engine::Role::kServer);
    Engine client(client_trusting(certs().def.certificate), Engine::Role::kClient,
                  "unknown.example.net");
    handshake(client, server);
    CHECK(client.failed());
    CHECK(client.error().find("certificate verify failed") != std::string::npos);
    CHECK(server.failed());  // it received the client's alert
    MESSAGE(server.error());
  }
}

TEST_CASE("garbage input fails cleanly") {
  auto sctx = server_ctx();
  auto cctx = client_ctx();

  SUBCASE("before the handshake") {
    Engine server(sctx, Engine::Role::kServer);
    std::string junk = pattern(300, 9);
    junk[0] = 0x16;  // looks like a handshake record at first
    server.feed(junk);
    CHECK(server.failed());
    CHECK(server.error().rfind("handshake failed: ", 0) == 0);
    MESSAGE(server.error());
    CHECK_FALSE(server.feed("more"));
  }
  SUBCASE("after the handshake") {
    Engine server(sctx, Engine::Role::kServer);
    Engine client(cctx, Engine::Role::kClient, "localhost");
    handshake(client, server);
    REQUIRE(server.handshake_done());
    std::string junk = pattern(100, 3);
    junk[0] = 0x17;  // application data record
    junk[1] = 0x03;
    junk[2] = 0x03;
    junk[3] = 0x00;
    junk[4] = 0x50;
    CHECK_FALSE(server.feed(junk));
    CHECK(server.failed());
    CHECK(server.error().rfind("TLS error: ", 0) == 0);
    MESSAGE(server.error());
    // The alert still goes out, and the client learns about it.
    shuttle(client, server);
    CHECK(client.failed());
    CHECK_FALSE(server.write_plain("x"));
  }
}

TEST_CASE("a TLS 1.1-only client is refused") {
  auto sctx = server_ctx();
  auto cctx = client_ctx();
  auto* raw = static_cast<SSL_CTX*>(cctx->native());
  SSL_CTX_set_min_proto_version(raw, TLS1_VERSION);
  SSL_CTX_set_max_proto_version(raw, TLS1_1_VERSION);
  SSL_CTX_set_security_level(raw, 0);
  SSL_CTX_set_cipher_list(raw, "ALL:@SECLEVEL=0");
  Engine server(sctx, Engine::Role::kServer);
  Engine client(cctx, Engine::Role::kClient, "localhost");
  handshake(client, server);
  CHECK_FALSE(server.handshake_done());
  CHECK(client.failed());
  MESSAGE("client: " << client.error());
  if (server.failed()) {
    CHECK(server.error().rfind("handshake failed: ", 0) == 0);
    MESSAGE("server: " << server.error());
  }
}

TEST_CASE("a plaintext client on a TLS port fails cleanly") {
  auto sctx = server_ctx();
  for (size_t chunk : {0, 2, 1}) {
    CAPTURE(chunk);
    Engine server(sctx, Engine::Role::kServer);
    std::string input = "CAPA\r\n";
    size_t step = chunk == 0 ? input.size() : chunk;
    for (size_t off = 0; off < input.size(); off += step) {
      server.feed(std::string_view(input).substr(off, step));
    }
    CHECK(server.failed());
    CHECK(server.error().rfind("handshake failed: ", 0) == 0);
    MESSAGE(server.error());
    std::string plain;
    server.read_plain(&plain);
    CHECK(plain.empty());
    std::string alert;
    server.take_ciphertext(&alert);  // may hold an alert; must not crash
  }
  // HTTP on the wrong port too.
  Engine server(sctx, Engine::Role::kServer);
  CHECK_FALSE(server.feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(server.failed());
  MESSAGE(server.error());
}

TEST_CASE("verifying client against a trust anchor") {
  auto sctx = server_ctx();
  SUBCASE("trusted") {
    Engine server(sctx, Engine::Role::kServer);
    Engine client(client_trusting(certs().def.certificate), Engine::Role::kClient, "localhost");
    handshake(client, server);
    CHECK_MESSAGE(client.handshake_done(), client.error());
  }
  SUBCASE("create_client(true) with the system store does not trust it") {
    Engine server(sctx, Engine::Role::kServer);
    Engine client(client_ctx(true), Engine::Role::kClient, "localhost");
    handshake(client, server);
    CHECK(client.failed());
    CHECK(client.error().find("certificate verify failed") != std::string::npos);
  }
}

TEST_CASE("engines keep their context alive") {
  std::unique_ptr<Engine> server;
  std::unique_ptr<Engine> client;
  {
    auto sctx = server_ctx();
    auto cctx = client_ctx();
    server = std::make_unique<Engine>(sctx, Engine::Role::kServer);
    client = std::make_unique<Engine>(cctx, Engine::Role::kClient, "mail.example.fr");
  }
  handshake(*client, *server);
  CHECK(server->handshake_done());
  CHECK(server->sni() == "mail.example.fr");
}

TEST_CASE("an engine without a context fails instead of crashing") {
  Engine e(nullptr, Engine::Role::kServer);
  CHECK(e.failed());
  CHECK_FALSE(e.feed("x"));
  CHECK_FALSE(e.write_plain("x"));
  std::string out;
  e.take_ciphertext(&out);
  e.read_plain(&out);
  e.shutdown();
  e.start();
  CHECK(out.empty());
  CHECK(e.version().empty());
  CHECK(e.sni().empty());
}

TEST_CASE("plaintext queued before the handshake is bounded") {
  auto cctx = client_ctx();
  Engine client(cctx, Engine::Role::kClient, "localhost");
  CHECK(client.write_plain(std::string(1 << 20, 'a')));
  CHECK(client.write_plain(std::string(3 << 20, 'b')));
  CHECK_FALSE(client.write_plain("one byte too many"));
  CHECK(client.failed());
  CHECK(client.error().find("before the handshake") != std::string::npos);
}

TEST_CASE("data after close_notify is ignored") {
  auto sctx = server_ctx();
  auto cctx = client_ctx();
  Engine server(sctx, Engine::Role::kServer);
  Engine client(cctx, Engine::Role::kClient, "localhost");
  handshake(client, server);
  REQUIRE(server.handshake_done());
  client.shutdown();
  shuttle(client, server);
  REQUIRE(server.peer_closed());
  CHECK(server.feed("anything at all"));
  CHECK_FALSE(server.failed());
  CHECK(read_all(server).empty());
}
