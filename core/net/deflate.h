// Raw DEFLATE (RFC 1951) as a connection layer, sans I/O: the COMPRESS=DEFLATE
// extension of IMAP (RFC 4978). Like the TLS engine, these objects only turn
// bytes into bytes; the connection moves them to and from the socket. Errors
// are values: a corrupt stream from a client never throws.
//
// Memory (zlib 1.2, measured by the unit tests through memory()):
// - Deflater: windowBits 12 (a 4 KiB window) and memLevel 5 make about 38 KiB
//   per connection instead of the ~268 KiB of zlib's defaults. The stream
//   stays valid for any inflater (a smaller window is always accepted).
// - Inflater: the client may use the full 32 KiB window, so it needs about
//   39 KiB (window plus zlib state).
// zlib headers stay inside deflate.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace core::net {

// Compresses what the server writes.
class Deflater {
 public:
  // level 0-9 (6: zlib's default trade-off); window_bits 9-15; mem_level 1-9.
  explicit Deflater(int level = 6, int window_bits = 12, int mem_level = 5);
  ~Deflater();
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;

  // False when zlib could not set up the stream (out of memory); error() says why.
  bool ok() const { return ok_; }

  // Compresses `in` and appends the output to *out. With `flush`, ends with a
  // sync flush so the peer can decode everything written so far. Returns
  // false on failure (the stream is unusable afterwards).
  bool compress(std::string_view in, std::string* out, bool flush = true);

  const std::string& error() const { return error_; }
  // Bytes zlib currently holds for this stream.
  size_t memory() const { return memory_; }
  uint64_t total_in() const { return total_in_; }
  uint64_t total_out() const { return total_out_; }

 private:
  struct Z;
  std::unique_ptr<Z> z_;
  bool ok_ = false;
  std::string error_;
  size_t memory_ = 0;
  uint64_t total_in_ = 0, total_out_ = 0;
};

// Decompresses what the client sends. Input is queued with feed(); output is
// taken in bounded pieces with read(), so a small, highly compressed input
// cannot make one huge buffer: the caller stops reading while its consumer is
// busy and goes on later.
class Inflater {
 public:
  Inflater();
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  bool ok() const { return ok_ && !failed_; }

  // Queues compressed bytes. Returns false once the stream has failed.
  bool feed(std::string_view compressed);

  // Appends at most `max` decompressed bytes to *out. Returns false when the
  // stream is corrupt (error() says why); appending nothing is not an error.
  bool read(std::string* out, size_t max = 64 * 1024);

  // True while queued input or decoded output is left for read().
  bool pending() const;
  // The peer ended the DEFLATE stream (a final block). Later input is an error.
  bool finished() const { return finished_; }

  const std::string& error() const { return error_; }
  size_t memory() const { return memory_; }
  uint64_t total_in() const { return total_in_; }
  uint64_t total_out() const { return total_out_; }

 private:
  struct Z;
  std::unique_ptr<Z> z_;
  std::string in_;  // compressed input not yet consumed, from in_pos_
  size_t in_pos_ = 0;
  bool ok_ = false;
  bool failed_ = false;
  bool finished_ = false;
  bool out_full_ = false;  // the last read() stopped at `max`: zlib may hold more
  std::string error_;
  size_t memory_ = 0;
  uint64_t total_in_ = 0, total_out_ = 0;
};

}  // namespace core::net
