// TLS as a layer under the session, sans I/O: OpenSSL over two memory BIOs.
// The connection feeds it ciphertext from the socket and sends what it
// produces; the session reads and writes plaintext and cannot tell whether
// TLS is on. Implicit TLS and STARTTLS use exactly this path. OpenSSL headers
// stay inside tls.cpp.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/config/config.h"

namespace core::tls {

// An SSL_CTX with the default certificate and the SNI ones. Immutable after
// creation; a reload creates a new one (engines keep the one they started with).
class Context {
 public:
  // Loads every certificate and key. On failure returns nullptr and fills
  // *error with "FILE: reason".
  static std::shared_ptr<Context> create_server(const config::TlsSettings& settings,
                                                std::string* error);
  // A client context (for tests and tools). verify=false skips certificate checks.
  static std::shared_ptr<Context> create_client(bool verify, std::string* error);
  ~Context();

  void* native() const { return ctx_; }  // SSL_CTX*

 private:
  Context() = default;
  void* ctx_ = nullptr;
  struct Sni;
  std::unique_ptr<Sni> sni_;
};

class Engine {
 public:
  enum class Role { kServer, kClient };
  Engine(std::shared_ptr<Context> ctx, Role role, std::string_view server_name = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Ciphertext from the peer. Returns false when the TLS stream failed
  // (handshake or record error); error() says why.
  bool feed(std::string_view ciphertext);

  // Decrypted bytes available so far are appended to *out.
  void read_plain(std::string* out);

  // Plaintext to send; encrypted once the handshake allows. Returns false
  // when the stream has failed.
  bool write_plain(std::string_view plaintext);

  // Ciphertext to send to the peer, appended to *out (handshake records,
  // encrypted data, alerts).
  void take_ciphertext(std::string* out);

  // Gives back what the two memory BIOs grew to (the handshake's records, a
  // big FETCH or APPEND) once they are empty, so that an idle connection
  // holds no ciphertext buffer (with SSL_MODE_RELEASE_BUFFERS, OpenSSL's own
  // record buffers go too). Called whenever everything written was sent:
  // two small allocations against about 2.5 KiB kept per idle connection.
  void release_buffers();

  // Starts a client handshake (no-op for servers, which wait for ClientHello).
  void start();
  // Sends close_notify.
  void shutdown();

  bool handshake_done() const;
  bool failed() const { return failed_; }
  bool peer_closed() const { return peer_closed_; }
  const std::string& error() const { return error_; }
  std::string version() const;  // "TLSv1.3"
  std::string cipher() const;
  std::string sni() const;  // server name the client asked for

 private:
  void pump();
  std::shared_ptr<Context> ctx_;
  void* ssl_ = nullptr;        // SSL*
  void* in_bio_ = nullptr;     // BIO* ciphertext from the peer
  void* out_bio_ = nullptr;    // BIO* ciphertext to the peer
  std::string pending_plain_;  // written before the handshake finished
  std::string plain_in_;       // decrypted, not yet taken by read_plain()
  bool busy_ = false;          // inside pump(): re-entrant calls only queue
  bool failed_ = false;
  bool peer_closed_ = false;
  std::string error_;
};

// Writes a self-signed certificate (RSA 2048 or EC P-256, SAN DNS:localhost
// and DNS:hostname, IP 127.0.0.1, ::1) and key to the given paths, creating
// directories. Key file mode 0600. Returns "" or an error.
std::string make_self_signed(const std::string& cert_path, const std::string& key_path,
                             const std::string& hostname);

}  // namespace core::tls
