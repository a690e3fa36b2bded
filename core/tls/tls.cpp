// TLS engine over OpenSSL 3 memory BIOs. See tls.h for the model.
//
// Buffers and their bounds:
//  - in_bio_ holds ciphertext fed by the connection until OpenSSL consumes it;
//    every feed() pumps it dry, so between calls it holds at most one partial
//    record (~18 KiB) or a partial handshake message (OpenSSL caps those).
//    Bytes arriving after the peer's close_notify are dropped.
//  - plain_in_ holds decrypted bytes until read_plain(). Plaintext is never
//    longer than the ciphertext it came from, so it is bounded by what the
//    caller feeds between two read_plain() calls; the connection reads the
//    socket in bounded chunks and drains after each feed.
//  - pending_plain_ holds plaintext written before the handshake finished.
//    It is capped at kMaxPendingPlain; going past that fails the stream.
//  - out_bio_ holds ciphertext until take_ciphertext(); it grows by what the
//    caller writes between two take_ciphertext() calls.
#include "core/tls/tls.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <utility>

namespace core::tls {

namespace {

constexpr size_t kMaxPendingPlain = 4 * 1024 * 1024;
constexpr size_t kReadChunk = 16 * 1024;

// TLS 1.2 suites: forward secret key exchange with AEAD ciphers only.
// TLS 1.3 suites keep OpenSSL's defaults (all of them are AEAD).
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:"
    "ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:"
    "ECDHE-RSA-CHACHA20-POLY1305";

SSL_CTX* as_ctx(void* p) {
  return static_cast<SSL_CTX*>(p);
}
SSL* as_ssl(void* p) {
  return static_cast<SSL*>(p);
}
BIO* as_bio(void* p) {
  return static_cast<BIO*>(p);
}

// Empties this thread's OpenSSL error queue into one readable line. The first
// entry is the one raised where things went wrong, so it leads.
std::string drain_errors(const char* fallback = "unknown error") {
  std::string out;
  const char* data = nullptr;
  int flags = 0;
  unsigned long e;
  while ((e = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) != 0) {
    std::string one;
    if (ERR_SYSTEM_ERROR(e)) {
      // errno from fopen() and friends; the data only repeats the path.
      one = std::strerror(static_cast<int>(ERR_GET_REASON(e)));
      data = nullptr;
    } else if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
      one = "no PEM data found";
      data = nullptr;
    } else if (const char* reason = ERR_reason_error_string(e)) {
      one = reason;
    } else {
      char buf[256];
      ERR_error_string_n(e, buf, sizeof buf);
      one = buf;
    }
    if (data != nullptr && (flags & ERR_TXT_STRING) != 0 && *data != '\0') {
      one += " (";
      one += data;
      one += ")";
    }
    if (out.find(one) != std::string::npos) continue;
    // Wrappers such as "PEM lib" or "system lib" add nothing after the cause.
    if (!out.empty() && one.size() > 4 && one.compare(one.size() - 4, 4, " lib") == 0) continue;
    if (!out.empty()) out += "; ";
    out += one;
  }
  if (out.empty()) out = fallback;
  return out;
}

// Only the first (most specific) reason: used for handshake and record errors.
std::string first_error(const char* fallback) {
  unsigned long e = ERR_get_error();
  std::string out;
  if (e != 0) {
    if (const char* reason = ERR_reason_error_string(e)) {
      out = reason;
    } else {
      char buf[256];
      ERR_error_string_n(e, buf, sizeof buf);
      out = buf;
    }
  }
  ERR_clear_error();
  return out.empty() ? std::string(fallback) : out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  while (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

bool is_ip_literal(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// Never prompt on a terminal for a key passphrase: an encrypted key simply
// fails to load.
int no_password(char*, int, int, void*) {
  return 0;
}

void set_common_modes(SSL_CTX* ctx) {
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_ENABLE_PARTIAL_WRITE);
  SSL_CTX_set_default_passwd_cb(ctx, no_password);
}

// One server SSL_CTX with protocol policy and a certificate pair loaded.
SSL_CTX* make_server_ctx(int min_version, const config::CertPair& pair, std::string* error) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) {
    *error = "SSL_CTX_new: " + drain_errors();
    return nullptr;
  }
  auto fail = [&](const std::string& what) {
    *error = what + ": " + drain_errors();
    SSL_CTX_free(ctx);
    return nullptr;
  };
  if (SSL_CTX_set_min_proto_version(ctx, min_version) != 1) return fail("min_version");
  if (SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1) return fail("cipher list");
  SSL_CTX_set_options(
      ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  set_common_modes(ctx);

  if (pair.certificate.empty()) {
    *error = "tls: certificate path is empty";
    SSL_CTX_free(ctx);
    return nullptr;
  }
  if (pair.private_key.empty()) {
    *error = "tls: private_key path is empty";
    SSL_CTX_free(ctx);
    return nullptr;
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, pair.certificate.c_str()) != 1) {
    return fail(pair.certificate);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, pair.private_key.c_str(), SSL_FILETYPE_PEM) != 1) {
    unsigned long last = ERR_peek_last_error();
    if (ERR_GET_LIB(last) == ERR_LIB_X509 && ERR_GET_REASON(last) == X509_R_KEY_VALUES_MISMATCH) {
      ERR_clear_error();
      *error = pair.private_key + ": private key does not match certificate " + pair.certificate;
      SSL_CTX_free(ctx);
      return nullptr;
    }
    return fail(pair.private_key);
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    *error = pair.private_key + ": private key does not match certificate " + pair.certificate;
    SSL_CTX_free(ctx);
    return nullptr;
  }
  return ctx;
}

}  // namespace

// Host name -> SSL_CTX for SNI. Keys are lower case without a trailing dot;
// a key "*.example.org" matches exactly one extra label.
struct Context::Sni {
  std::vector<std::pair<std::string, SSL_CTX*>> entries;

  ~Sni() {
    for (auto& e : entries) SSL_CTX_free(e.second);
  }

  SSL_CTX* find(const std::string& host) const {
    for (const auto& e : entries) {
      if (e.first == host) return e.second;
    }
    size_t dot = host.find('.');
    if (dot != std::string::npos && dot > 0) {
      std::string wild = "*" + host.substr(dot);
      for (const auto& e : entries) {
        if (e.first == wild) return e.second;
      }
    }
    return nullptr;
  }

  static int on_servername(SSL* ssl, int* /*alert*/, void* arg) {
    const auto* self = static_cast<const Sni*>(arg);
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (name == nullptr || self == nullptr) return SSL_TLSEXT_ERR_OK;  // default certificate
    if (SSL_CTX* ctx = self->find(lower(name))) {
      // Settings stay those of the default context; only the certificate changes.
      SSL_set_SSL_CTX(ssl, ctx);
    }
    return SSL_TLSEXT_ERR_OK;
  }
};

Context::~Context() {
  if (ctx_ != nullptr) SSL_CTX_free(as_ctx(ctx_));
}

std::shared_ptr<Context> Context::create_server(const config::TlsSettings& settings,
                                                std::string* error) {
  std::string scratch;
  if (error == nullptr) error = &scratch;
  int min_version;
  if (settings.min_version.empty() || settings.min_version == "1.2") {
    min_version = TLS1_2_VERSION;
  } else if (settings.min_version == "1.3") {
    min_version = TLS1_3_VERSION;
  } else {
    *error = "tls: min_version must be \"1.2\" or \"1.3\", not \"" + settings.min_version + "\"";
    return nullptr;
  }

  std::shared_ptr<Context> out(new Context());
  SSL_CTX* ctx = make_server_ctx(min_version, settings.default_pair, error);
  if (ctx == nullptr) return nullptr;
  out->ctx_ = ctx;

  out->sni_ = std::make_unique<Sni>();
  for (const auto& [host, pair] : settings.sni) {
    SSL_CTX* one = make_server_ctx(min_version, pair, error);
    if (one == nullptr) return nullptr;
    out->sni_->entries.emplace_back(lower(host), one);
  }
  SSL_CTX_set_tlsext_servername_callback(ctx, &Sni::on_servername);
  SSL_CTX_set_tlsext_servername_arg(ctx, out->sni_.get());
  error->clear();
  return out;
}

std::shared_ptr<Context> Context::create_client(bool verify, std::string* error) {
  std::string scratch;
  if (error == nullptr) error = &scratch;
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) {
    *error = "SSL_CTX_new: " + drain_errors();
    return nullptr;
  }
  std::shared_ptr<Context> out(new Context());
  out->ctx_ = ctx;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  set_common_modes(ctx);
  if (verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      *error = "default trust store: " + drain_errors();
      return nullptr;
    }
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  error->clear();
  return out;
}

// ---------------------------------------------------------------------------

Engine::Engine(std::shared_ptr<Context> ctx, Role role, std::string_view server_name)
    : ctx_(std::move(ctx)) {
  ERR_clear_error();
  SSL* ssl = ctx_ ? SSL_new(as_ctx(ctx_->native())) : nullptr;
  if (ssl == nullptr) {
    failed_ = true;
    error_ = ctx_ ? "TLS setup failed: " + drain_errors() : "TLS setup failed: no context";
    return;
  }
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  if (in == nullptr || out == nullptr) {
    BIO_free(in);
    BIO_free(out);
    SSL_free(ssl);
    failed_ = true;
    error_ = "TLS setup failed: " + drain_errors();
    return;
  }
  // An empty memory BIO means "try again later", not end of stream.
  BIO_set_mem_eof_return(in, -1);
  BIO_set_mem_eof_return(out, -1);
  SSL_set_bio(ssl, in, out);  // ssl owns both BIOs now
  ssl_ = ssl;
  in_bio_ = in;
  out_bio_ = out;

  if (role == Role::kServer) {
    SSL_set_accept_state(ssl);
    return;
  }
  SSL_set_connect_state(ssl);
  if (!server_name.empty()) {
    std::string name(server_name);
    if (is_ip_literal(name)) {
      // No SNI for address literals; still check the certificate's IP SAN.
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl, name.c_str());
      SSL_set1_host(ssl, name.c_str());
    }
  }
  ERR_clear_error();
}

Engine::~Engine() {
  if (ssl_ != nullptr) SSL_free(as_ssl(ssl_));  // frees both BIOs
}

bool Engine::handshake_done() const {
  return ssl_ != nullptr && SSL_is_init_finished(static_cast<const SSL*>(ssl_)) == 1;
}

bool Engine::feed(std::string_view ciphertext) {
  if (failed_) return false;
  if (peer_closed_) return true;  // nothing may follow close_notify; drop it
  size_t off = 0;
  while (off < ciphertext.size()) {
    int n = static_cast<int>(std::min<size_t>(ciphertext.size() - off, INT_MAX));
    int w = BIO_write(as_bio(in_bio_), ciphertext.data() + off, n);
    if (w <= 0) {
      failed_ = true;
      error_ = "TLS buffer error: " + drain_errors("out of memory");
      return false;
    }
    off += static_cast<size_t>(w);
  }
  pump();  // a re-entrant call returns at once; the running pump reads what we added
  return !failed_;
}

void Engine::read_plain(std::string* out) {
  if (out == nullptr || plain_in_.empty()) return;
  if (out->empty()) {
    out->swap(plain_in_);
  } else {
    out->append(plain_in_);
  }
  plain_in_.clear();
}

bool Engine::write_plain(std::string_view plaintext) {
  if (failed_) return false;
  if (SSL_get_shutdown(as_ssl(ssl_)) & SSL_SENT_SHUTDOWN) return false;  // after close_notify
  if (pending_plain_.size() + plaintext.size() > kMaxPendingPlain && !handshake_done()) {
    failed_ = true;
    error_ = "TLS error: too much data queued before the handshake finished";
    return false;
  }
  pending_plain_.append(plaintext);
  if (handshake_done()) pump();
  return !failed_;
}

void Engine::take_ciphertext(std::string* out) {
  if (out == nullptr || out_bio_ == nullptr) return;
  BIO* bio = as_bio(out_bio_);
  size_t pending = BIO_ctrl_pending(bio);
  if (pending == 0) return;
  size_t base = out->size();
  out->resize(base + pending);
  size_t got = 0;
  while (got < pending) {
    int n = static_cast<int>(std::min<size_t>(pending - got, INT_MAX));
    int r = BIO_read(bio, out->data() + base + got, n);
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  out->resize(base + got);
}

namespace {

// A new, empty memory BIO in place of `bio` when `bio` is empty but holds a
// buffer; null otherwise (or when out of memory).
BIO* smaller_bio(BIO* bio) {
  if (BIO_ctrl_pending(bio) != 0) return nullptr;
  BUF_MEM* mem = nullptr;
  BIO_get_mem_ptr(bio, &mem);
  if (mem == nullptr || mem->max == 0) return nullptr;
  BIO* fresh = BIO_new(BIO_s_mem());
  if (fresh != nullptr) BIO_set_mem_eof_return(fresh, -1);
  return fresh;
}

}  // namespace

void Engine::release_buffers() {
  if (ssl_ == nullptr || failed_) return;
  SSL* ssl = as_ssl(ssl_);
  if (BIO* in = smaller_bio(as_bio(in_bio_))) {
    SSL_set0_rbio(ssl, in);  // frees the old one
    in_bio_ = in;
  }
  if (BIO* out = smaller_bio(as_bio(out_bio_))) {
    SSL_set0_wbio(ssl, out);
    out_bio_ = out;
  }
  pending_plain_.shrink_to_fit();
}

void Engine::start() {
  if (failed_ || ssl_ == nullptr || SSL_is_server(as_ssl(ssl_))) return;
  pump();
}

void Engine::shutdown() {
  if (failed_ || ssl_ == nullptr || busy_) return;
  SSL* ssl = as_ssl(ssl_);
  if (!handshake_done()) return;  // nothing to close politely; the caller drops the socket
  if (SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN) return;
  pump();  // flush queued plaintext first
  if (failed_) return;
  ERR_clear_error();
  SSL_shutdown(ssl);  // 0: sent, waiting for the peer's; 1: both done; errors are moot
  ERR_clear_error();
}

void Engine::pump() {
  if (failed_ || ssl_ == nullptr || busy_) return;
  busy_ = true;
  SSL* ssl = as_ssl(ssl_);
  auto fail = [&](const char* stage, int ret) {
    int err = SSL_get_error(ssl, ret);
    std::string why;
    if (err == SSL_ERROR_SSL) {
      why = first_error("protocol error");
    } else if (err == SSL_ERROR_SYSCALL) {
      why = first_error("unexpected end of stream");
    } else {
      why = first_error("unexpected state");
    }
    failed_ = true;
    error_ = std::string(stage) + ": " + why;
    pending_plain_.clear();
  };
  auto can_write = [&] {
    return !failed_ && SSL_is_init_finished(ssl) && !(SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN);
  };

  // One round: advance the handshake, encrypt queued plaintext, decrypt all
  // complete records. Returns false when nothing more can happen now.
  auto round = [&]() -> bool {
    if (!SSL_is_init_finished(ssl)) {
      ERR_clear_error();
      int r = SSL_do_handshake(ssl);
      if (r != 1) {
        int err = SSL_get_error(ssl, r);
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
          fail("handshake failed", r);
        } else {
          ERR_clear_error();
        }
        return false;
      }
    }

    if (!pending_plain_.empty() && can_write()) {
      size_t off = 0;
      while (off < pending_plain_.size()) {
        ERR_clear_error();
        int n = static_cast<int>(std::min<size_t>(pending_plain_.size() - off, INT_MAX));
        int w = SSL_write(ssl, pending_plain_.data() + off, n);
        if (w <= 0) {
          int err = SSL_get_error(ssl, w);
          if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) break;
          fail("TLS error", w);
          return false;
        }
        off += static_cast<size_t>(w);
      }
      pending_plain_.erase(0, off);
    }

    if (!peer_closed_) {
      char buf[kReadChunk];
      for (;;) {
        ERR_clear_error();
        int r = SSL_read(ssl, buf, sizeof buf);
        if (r > 0) {
          plain_in_.append(buf, static_cast<size_t>(r));
          continue;
        }
        int err = SSL_get_error(ssl, r);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
          ERR_clear_error();
          break;
        }
        if (err == SSL_ERROR_ZERO_RETURN) {
          peer_closed_ = true;
          ERR_clear_error();
          break;
        }
        fail("TLS error", r);
        return false;
      }
    }
    // A call that re-entered while we were busy may have queued plaintext.
    return !pending_plain_.empty() && can_write();
  };

  for (int i = 0; i < 4 && round(); ++i) {
  }
  busy_ = false;
}

std::string Engine::version() const {
  if (!handshake_done()) return {};
  const char* v = SSL_get_version(static_cast<const SSL*>(ssl_));
  return v ? v : "";
}

std::string Engine::cipher() const {
  if (!handshake_done()) return {};
  const SSL_CIPHER* c = SSL_get_current_cipher(static_cast<const SSL*>(ssl_));
  const char* name = c ? SSL_CIPHER_get_name(c) : nullptr;
  return name ? name : "";
}

std::string Engine::sni() const {
  if (ssl_ == nullptr) return {};
  const char* name = SSL_get_servername(static_cast<const SSL*>(ssl_), TLSEXT_NAMETYPE_host_name);
  return name ? lower(name) : std::string();
}

// ---------------------------------------------------------------------------
// Self-signed certificate

namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
};
template <typename T>
using Ptr = std::unique_ptr<T, Free>;

bool valid_hostname(const std::string& h) {
  if (h.empty() || h.size() > 253) return false;
  if (is_ip_literal(h)) return true;
  for (char c : h) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '*';
    if (!ok) return false;
  }
  return true;
}

std::string bio_contents(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 && data ? std::string(data, static_cast<size_t>(n)) : std::string();
}

// Writes contents to path atomically: a fresh temporary file created with the
// given mode, synced, then renamed over path.
std::string write_file(const std::string& path, const std::string& contents, mode_t mode) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p(path);
  if (p.has_parent_path()) {
    fs::create_directories(p.parent_path(), ec);
    if (ec) return p.parent_path().string() + ": " + ec.message();
  }
  unsigned char rnd[8];
  if (RAND_bytes(rnd, sizeof rnd) != 1) return path + ": no randomness";
  static const char kHex[] = "0123456789abcdef";
  std::string tmp = path + ".tmp.";
  for (unsigned char b : rnd) {
    tmp += kHex[b >> 4];
    tmp += kHex[b & 15];
  }
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return tmp + ": " + std::strerror(errno);
  auto fail = [&](const std::string& what) {
    std::string msg = what + ": " + std::strerror(errno);
    ::close(fd);
    ::unlink(tmp.c_str());
    return msg;
  };
  if (::fchmod(fd, mode) != 0) return fail(tmp);  // exact mode, whatever the umask
  size_t off = 0;
  while (off < contents.size()) {
    ssize_t w = ::write(fd, contents.data() + off, contents.size() - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return fail(tmp);
    }
    off += static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0) return fail(tmp);
  if (::close(fd) != 0) {
    std::string msg = tmp + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return msg;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string msg = path + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return msg;
  }
  return {};
}

bool add_ext(X509* cert, X509V3_CTX* v3, int nid, const std::string& value) {
  Ptr<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, v3, nid, value.c_str()));
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

}  // namespace

std::string make_self_signed(const std::string& cert_path, const std::string& key_path,
                             const std::string& hostname) {
  std::string host = hostname.empty() ? std::string("localhost") : lower(hostname);
  if (!valid_hostname(host)) return "invalid host name for certificate: \"" + hostname + "\"";
  ERR_clear_error();

  Ptr<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (!key) return "key generation: " + drain_errors();

  Ptr<X509> cert(X509_new());
  if (!cert) return "certificate: " + drain_errors();
  X509_set_version(cert.get(), X509_VERSION_3);

  // Random positive serial of up to 159 bits (RFC 5280 allows 20 octets).
  Ptr<BIGNUM> serial(BN_new());
  if (!serial || BN_rand(serial.get(), 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      (BN_is_zero(serial.get()) && BN_one(serial.get()) != 1) ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return "certificate serial: " + drain_errors();
  }

  // Valid from an hour ago (clock skew) for ten years.
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), 3650, 0, nullptr) == nullptr) {
    return "certificate validity: " + drain_errors();
  }

  X509_NAME* name = X509_get_subject_name(cert.get());
  std::string cn = host.size() <= 64 ? host : std::string("localhost");
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1 || X509_set_pubkey(cert.get(), key.get()) != 1) {
    return "certificate name: " + drain_errors();
  }

  std::string san = "DNS:localhost";
  if (host != "localhost") {
    if (is_ip_literal(host)) {
      if (host != "127.0.0.1" && host != "::1") san += ",IP:" + host;
    } else {
      san += ",DNS:" + host;
    }
  }
  san += ",IP:127.0.0.1,IP:::1";

  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  // CA:TRUE like a classic self-signed certificate, so tests and cautious
  // clients can install it as a trust anchor.
  if (!add_ext(cert.get(), &v3, NID_basic_constraints, "critical,CA:TRUE") ||
      !add_ext(cert.get(), &v3, NID_key_usage, "critical,digitalSignature,keyCertSign") ||
      !add_ext(cert.get(), &v3, NID_ext_key_usage, "serverAuth") ||
      !add_ext(cert.get(), &v3, NID_subject_key_identifier, "hash") ||
      !add_ext(cert.get(), &v3, NID_authority_key_identifier, "keyid:always") ||
      !add_ext(cert.get(), &v3, NID_subject_alt_name, san)) {
    return "certificate extensions: " + drain_errors();
  }

  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) {
    return "certificate signature: " + drain_errors();
  }

  Ptr<BIO> key_bio(BIO_new(BIO_s_secmem()));  // cleared when freed
  Ptr<BIO> cert_bio(BIO_new(BIO_s_mem()));
  if (!key_bio || !cert_bio ||
      PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1 ||
      PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1) {
    return "PEM encoding: " + drain_errors();
  }
  std::string key_pem = bio_contents(key_bio.get());
  std::string cert_pem = bio_contents(cert_bio.get());

  if (std::string err = write_file(key_path, key_pem, 0600); !err.empty()) {
    OPENSSL_cleanse(key_pem.data(), key_pem.size());
    return err;
  }
  OPENSSL_cleanse(key_pem.data(), key_pem.size());
  return write_file(cert_path, cert_pem, 0644);
}

}  // namespace core::tls
