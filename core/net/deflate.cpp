#include "core/net/deflate.h"

#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace core::net {

namespace {

// zlib allocations go through these so memory() can report what a stream
// holds. Each block carries its size in a header before the returned pointer.
constexpr size_t kHeader = alignof(std::max_align_t) > sizeof(size_t) ? alignof(std::max_align_t)
                                                                      : sizeof(size_t);

voidpf counted_alloc(voidpf opaque, uInt items, uInt size) {
  size_t n = static_cast<size_t>(items) * size;
  auto* p = static_cast<char*>(std::malloc(n + kHeader));
  if (!p) return Z_NULL;
  std::memcpy(p, &n, sizeof n);
  *static_cast<size_t*>(opaque) += n;
  return p + kHeader;
}

void counted_free(voidpf opaque, voidpf address) {
  if (!address) return;
  char* p = static_cast<char*>(address) - kHeader;
  size_t n = 0;
  std::memcpy(&n, p, sizeof n);
  *static_cast<size_t*>(opaque) -= n;
  std::free(p);
}

std::string zlib_error(const z_stream& s, int rc, const char* what) {
  std::string e = what;
  e += ": ";
  if (s.msg) {
    e += s.msg;
  } else {
    switch (rc) {
      case Z_MEM_ERROR:
        e += "out of memory";
        break;
      case Z_DATA_ERROR:
        e += "invalid data";
        break;
      case Z_NEED_DICT:
        e += "preset dictionary required";
        break;
      case Z_STREAM_ERROR:
        e += "stream error";
        break;
      default:
        e += "error " + std::to_string(rc);
        break;
    }
  }
  return e;
}

constexpr size_t kOutChunk = 64 * 1024;

}  // namespace

struct Deflater::Z {
  z_stream s{};
};

struct Inflater::Z {
  z_stream s{};
};

// ---- Deflater ---------------------------------------------------------------

Deflater::Deflater(int level, int window_bits, int mem_level) : z_(std::make_unique<Z>()) {
  z_stream& s = z_->s;
  s.zalloc = counted_alloc;
  s.zfree = counted_free;
  s.opaque = &memory_;
  window_bits = std::clamp(window_bits, 9, 15);
  mem_level = std::clamp(mem_level, 1, 9);
  level = std::clamp(level, 0, 9);
  // Negative window bits: raw DEFLATE, no zlib header or checksum.
  int rc = deflateInit2(&s, level, Z_DEFLATED, -window_bits, mem_level, Z_DEFAULT_STRATEGY);
  if (rc != Z_OK) {
    error_ = zlib_error(s, rc, "deflate init");
    return;
  }
  ok_ = true;
}

Deflater::~Deflater() {
  if (ok_ || z_->s.state) deflateEnd(&z_->s);
}

bool Deflater::compress(std::string_view in, std::string* out, bool flush) {
  if (!ok_) return false;
  if (in.empty() && !flush) return true;
  z_stream& s = z_->s;
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  s.avail_in = static_cast<uInt>(in.size());
  total_in_ += in.size();
  // First guess: the bound for this input plus room for the flush marker, so
  // one pass usually does it; larger outputs go on in fixed chunks.
  size_t chunk = std::min<size_t>(deflateBound(&s, static_cast<uLong>(in.size())) + 16, 1 << 20);
  int mode = flush ? Z_SYNC_FLUSH : Z_NO_FLUSH;
  do {
    size_t old = out->size();
    out->resize(old + chunk);
    s.next_out = reinterpret_cast<Bytef*>(out->data() + old);
    s.avail_out = static_cast<uInt>(chunk);
    int rc = deflate(&s, mode);
    size_t produced = chunk - s.avail_out;
    out->resize(old + produced);
    total_out_ += produced;
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      error_ = zlib_error(s, rc, "deflate");
      ok_ = false;
      deflateEnd(&s);
      return false;
    }
    chunk = kOutChunk;
  } while (s.avail_out == 0);
  s.next_in = nullptr;
  s.avail_in = 0;
  return true;
}

// ---- Inflater ---------------------------------------------------------------

Inflater::Inflater() : z_(std::make_unique<Z>()) {
  z_stream& s = z_->s;
  s.zalloc = counted_alloc;
  s.zfree = counted_free;
  s.opaque = &memory_;
  // Raw DEFLATE with the largest window, whatever the peer chose.
  int rc = inflateInit2(&s, -15);
  if (rc != Z_OK) {
    error_ = zlib_error(s, rc, "inflate init");
    return;
  }
  ok_ = true;
}

Inflater::~Inflater() {
  if (ok_) inflateEnd(&z_->s);
}

bool Inflater::feed(std::string_view compressed) {
  if (!ok()) return false;
  if (compressed.empty()) return true;
  if (finished_) {
    failed_ = true;
    error_ = "inflate: data after the end of the compressed stream";
    return false;
  }
  if (in_pos_ == in_.size()) {
    in_.clear();
    in_pos_ = 0;
  } else if (in_pos_ > 0 && in_pos_ >= in_.size() / 2) {
    in_.erase(0, in_pos_);
    in_pos_ = 0;
  }
  in_.append(compressed);
  total_in_ += compressed.size();
  return true;
}

bool Inflater::read(std::string* out, size_t max) {
  if (!ok()) return false;
  if (max == 0 || (finished_ && in_pos_ == in_.size())) return true;
  z_stream& s = z_->s;
  size_t avail = in_.size() - in_pos_;
  if (avail == 0 && !out_full_) return true;
  s.next_in = reinterpret_cast<Bytef*>(in_.data() + in_pos_);
  s.avail_in = static_cast<uInt>(std::min<size_t>(avail, 1u << 30));
  uInt given = s.avail_in;
  size_t old = out->size();
  out->resize(old + max);
  s.next_out = reinterpret_cast<Bytef*>(out->data() + old);
  s.avail_out = static_cast<uInt>(max);
  // inflate() goes on until the input is used up or the output is full.
  int rc = inflate(&s, Z_SYNC_FLUSH);
  size_t produced = max - s.avail_out;
  out->resize(old + produced);
  total_out_ += produced;
  in_pos_ += given - s.avail_in;
  out_full_ = s.avail_out == 0;
  s.next_in = nullptr;
  s.avail_in = 0;
  if (in_pos_ == in_.size()) {
    in_.clear();
    in_pos_ = 0;
  }
  switch (rc) {
    case Z_OK:
    case Z_BUF_ERROR:  // no progress possible: needs more input
      return true;
    case Z_STREAM_END:
      finished_ = true;
      out_full_ = false;
      if (in_pos_ != in_.size()) {
        failed_ = true;
        error_ = "inflate: data after the end of the compressed stream";
        return false;
      }
      return true;
    default:
      failed_ = true;
      error_ = zlib_error(s, rc, "inflate");
      return false;
  }
}

bool Inflater::pending() const {
  return ok() && (in_pos_ < in_.size() || out_full_);
}

}  // namespace core::net
