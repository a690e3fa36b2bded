// Lazy message readers for the SEARCH engine.
#include <algorithm>

#include "imap/search/search.h"

namespace imap::search {

namespace {
// A header larger than this is searched only as far as this.
constexpr size_t kMaxHeader = 1024 * 1024;
constexpr size_t kChunk = 16 * 1024;
}  // namespace

namespace {
// The end of the header at or after `from` (a blank line whose first line
// end starts at or after from - 2), searching the whole of `bytes`.
std::optional<size_t> find_header_end(std::string_view bytes, size_t from) {
  if (from == 0) {
    // A message starting with an empty line has an empty header.
    if (bytes.starts_with("\n")) return 1;
    if (bytes.starts_with("\r\n")) return 2;
  }
  size_t start = from > 2 ? from - 2 : 0;
  for (size_t pos = bytes.find('\n', start); pos != std::string_view::npos;
       pos = bytes.find('\n', pos + 1)) {
    if (pos + 1 < bytes.size() && bytes[pos + 1] == '\n') return pos + 2;
    if (pos + 2 < bytes.size() && bytes[pos + 1] == '\r' && bytes[pos + 2] == '\n') {
      return pos + 3;
    }
  }
  return std::nullopt;
}
}  // namespace

std::optional<size_t> header_end(std::string_view bytes) {
  return find_header_end(bytes, 0);
}

// ---------------------------------------------------------------- StringAccess

StringAccess::StringAccess(std::string message) : message_(std::move(message)) {}

const std::string* StringAccess::header() {
  if (!header_) {
    std::optional<size_t> end = header_end(message_);
    header_ = message_.substr(0, end.value_or(message_.size()));
  }
  return &*header_;
}

// ---------------------------------------------------------------- StreamAccess

StreamAccess::StreamAccess(Opener open, std::optional<std::string> header)
    : open_(std::move(open)), header_(std::move(header)) {}

bool StreamAccess::open() {
  if (opened_) return !failed_;
  opened_ = true;
  if (!open_) {
    failed_ = true;
    return false;
  }
  auto r = open_();
  if (!r || !*r) {
    failed_ = true;
    return false;
  }
  stream_ = std::move(*r);
  return true;
}

bool StreamAccess::read_more(size_t n) {
  if (eof_ || failed_) return false;
  size_t old = buf_.size();
  buf_.resize(old + n);
  auto r = stream_->read(buf_.data() + old, n);
  if (!r) {
    buf_.resize(old);
    failed_ = true;
    return false;
  }
  buf_.resize(old + *r);
  if (*r == 0) eof_ = true;
  return *r > 0;
}

const std::string* StreamAccess::header() {
  if (header_) return &*header_;
  if (!open()) return nullptr;
  std::optional<size_t> end = header_end(buf_);
  while (!end && buf_.size() < kMaxHeader) {
    size_t scanned = buf_.size();
    if (!read_more(kChunk)) break;
    end = find_header_end(buf_, scanned);
  }
  if (failed_) return nullptr;
  header_ = buf_.substr(0, std::min(end.value_or(buf_.size()), buf_.size()));
  return &*header_;
}

const std::string* StreamAccess::message() {
  if (!open()) return nullptr;
  if (stream_) {
    uint64_t size = stream_->raw_size();
    if (size > buf_.size() && size < (uint64_t{1} << 34)) buf_.reserve(size);
  }
  while (read_more(std::max<size_t>(kChunk, buf_.capacity() - buf_.size()))) {
  }
  if (failed_) return nullptr;
  return &buf_;
}

// ---------------------------------------------------------------- StepHeaders

StepHeaders::StepHeaders(const Program& program, bool header_wanted, store::Mailbox& mailbox,
                         std::span<const uint32_t> uids) {
  const bool reads_header = header_wanted || program.cost() == Cost::kHeader;
  if (reads_header && program.cost() != Cost::kBody && program.reads_only_cached_fields()) {
    blocks_ = mailbox.cached_headers(uids);
  }
}

std::optional<std::string> StepHeaders::take(size_t i) {
  if (i >= blocks_.size()) return std::nullopt;
  return std::move(blocks_[i]);
}

}  // namespace imap::search
