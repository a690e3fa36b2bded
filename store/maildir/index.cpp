#include "store/maildir/index.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "store/store.h"

namespace store::maildir {

namespace {

void put32(std::string& s, size_t off, uint32_t v) {
  for (int i = 0; i < 4; ++i) s[off + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}
void put64(std::string& s, size_t off, uint64_t v) {
  for (int i = 0; i < 8; ++i) s[off + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}
uint32_t get32(const std::string& s, size_t off) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[off + i]);
  return v;
}
uint64_t get64(const std::string& s, size_t off) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[off + i]);
  return v;
}

// Word-at-a-time checksum (little-endian words, zero padded tail).
uint64_t checksum(const char* p, size_t n) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w = 0;
    for (int k = 7; k >= 0; --k) w = (w << 8) | static_cast<unsigned char>(p[i + k]);
    h = (h ^ w) * 0xff51afd7ed558ccdull;
    h ^= h >> 29;
  }
  uint64_t w = 0;
  for (size_t k = n; k > i; --k) w = (w << 8) | static_cast<unsigned char>(p[k - 1]);
  h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 32;
  return h;
}

// Header offsets.
constexpr size_t kOffVersion = 8, kOffHeaderSize = 12, kOffRecordSize = 16, kOffCount = 20,
                 kOffUidvalidity = 24, kOffUidnext = 28, kOffModseq = 32, kOffMtimeSec = 40,
                 kOffMtimeNsec = 48, kOffIno = 56, kOffDev = 64, kOffStampFlags = 72,
                 kOffNamesSize = 76, kOffTotalSize = 80, kOffUnseen = 88, kOffDeleted = 92,
                 kOffBodySum = 96, kOffLockSeq = 104, kOffHeaderSum = 120;

std::optional<IndexHeader> parse_header(const std::string& b, uint64_t file_size) {
  if (b.size() < kIndexHeaderSize) return std::nullopt;
  if (std::memcmp(b.data(), kIndexMagic, 8) != 0) return std::nullopt;
  if (get32(b, kOffVersion) != kIndexVersion || get32(b, kOffHeaderSize) != kIndexHeaderSize ||
      get32(b, kOffRecordSize) != kIndexRecordSize) {
    return std::nullopt;
  }
  if (get64(b, kOffHeaderSum) != checksum(b.data(), kOffHeaderSum)) return std::nullopt;
  IndexHeader h;
  h.count = get32(b, kOffCount);
  h.uidvalidity = get32(b, kOffUidvalidity);
  h.uidnext = get32(b, kOffUidnext);
  h.highest_modseq = get64(b, kOffModseq);
  h.cur.mtime_sec = static_cast<int64_t>(get64(b, kOffMtimeSec));
  h.cur.mtime_nsec = static_cast<int64_t>(get64(b, kOffMtimeNsec));
  h.cur.ino = get64(b, kOffIno);
  h.cur.dev = get64(b, kOffDev);
  h.cur.settled = (get32(b, kOffStampFlags) & 1u) != 0;
  h.total_size = get64(b, kOffTotalSize);
  h.unseen = get32(b, kOffUnseen);
  h.deleted = get32(b, kOffDeleted);
  h.lock_seq = get64(b, kOffLockSeq);
  uint64_t names = get32(b, kOffNamesSize);
  uint64_t expect = kIndexHeaderSize + uint64_t{h.count} * kIndexRecordSize + names;
  if (expect != file_size || h.uidvalidity == 0 || h.uidnext == 0) return std::nullopt;
  return h;
}

bool read_all(int fd, std::string* out, size_t n) {
  out->resize(n);
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, out->data() + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    got += static_cast<size_t>(r);
  }
  return true;
}

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

std::atomic<uint64_t> g_tmp_counter{0};

}  // namespace

std::string encode_index(const IndexHeader& header_in, const std::vector<IndexEntry>& entries) {
  size_t names_size = 0;
  for (const auto& e : entries) names_size += e.file_name.size();
  std::string b(kIndexHeaderSize + entries.size() * kIndexRecordSize + names_size, '\0');
  uint64_t total = 0;
  uint32_t unseen = 0, deleted = 0;
  size_t rec = kIndexHeaderSize;
  size_t name_off = 0;
  size_t names_base = kIndexHeaderSize + entries.size() * kIndexRecordSize;
  for (const auto& e : entries) {
    put32(b, rec + 0, e.uid);
    put32(b, rec + 4, (e.flags & kAllFlags) | (e.hidden ? kRecordHidden : 0));
    put32(b, rec + 8, e.keyword_bits);
    put32(b, rec + 12, static_cast<uint32_t>(name_off));
    put64(b, rec + 16, e.size);
    put64(b, rec + 24, static_cast<uint64_t>(e.internal_date));
    put64(b, rec + 32, e.modseq);
    put32(b, rec + 40, static_cast<uint32_t>(e.file_name.size()));
    std::memcpy(b.data() + names_base + name_off, e.file_name.data(), e.file_name.size());
    name_off += e.file_name.size();
    rec += kIndexRecordSize;
    total += e.size;
    if (!(e.flags & kSeen)) ++unseen;
    if (e.flags & kDeleted) ++deleted;
  }
  std::memcpy(b.data(), kIndexMagic, 8);
  put32(b, kOffVersion, kIndexVersion);
  put32(b, kOffHeaderSize, kIndexHeaderSize);
  put32(b, kOffRecordSize, kIndexRecordSize);
  put32(b, kOffCount, static_cast<uint32_t>(entries.size()));
  put32(b, kOffUidvalidity, header_in.uidvalidity);
  put32(b, kOffUidnext, header_in.uidnext);
  put64(b, kOffModseq, header_in.highest_modseq);
  put64(b, kOffMtimeSec, static_cast<uint64_t>(header_in.cur.mtime_sec));
  put64(b, kOffMtimeNsec, static_cast<uint64_t>(header_in.cur.mtime_nsec));
  put64(b, kOffIno, header_in.cur.ino);
  put64(b, kOffDev, header_in.cur.dev);
  put32(b, kOffStampFlags, header_in.cur.settled ? 1u : 0u);
  put32(b, kOffNamesSize, static_cast<uint32_t>(names_size));
  put64(b, kOffTotalSize, total);
  put32(b, kOffUnseen, unseen);
  put32(b, kOffDeleted, deleted);
  put64(b, kOffLockSeq, header_in.lock_seq);
  put64(b, kOffBodySum, checksum(b.data() + kIndexHeaderSize, b.size() - kIndexHeaderSize));
  put64(b, kOffHeaderSum, checksum(b.data(), kOffHeaderSum));
  return b;
}

std::optional<IndexHeader> decode_index_header(const std::string& bytes) {
  return parse_header(bytes, bytes.size());
}

bool decode_index(const std::string& b, IndexHeader* header, std::vector<IndexEntry>* entries) {
  auto h = parse_header(b, b.size());
  if (!h) return false;
  if (get64(b, kOffBodySum) != checksum(b.data() + kIndexHeaderSize, b.size() - kIndexHeaderSize)) {
    return false;
  }
  size_t names_base = kIndexHeaderSize + size_t{h->count} * kIndexRecordSize;
  size_t names_size = b.size() - names_base;
  entries->clear();
  entries->reserve(h->count);
  uint32_t prev_uid = 0;
  for (uint32_t i = 0; i < h->count; ++i) {
    size_t rec = kIndexHeaderSize + size_t{i} * kIndexRecordSize;
    IndexEntry e;
    e.uid = get32(b, rec);
    uint32_t flags = get32(b, rec + 4);
    e.flags = flags & kAllFlags;
    e.hidden = (flags & kRecordHidden) != 0;
    e.keyword_bits = get32(b, rec + 8) & ((1u << 26) - 1);
    uint64_t off = get32(b, rec + 12);
    e.size = get64(b, rec + 16);
    e.internal_date = static_cast<int64_t>(get64(b, rec + 24));
    e.modseq = get64(b, rec + 32);
    uint64_t len = get32(b, rec + 40);
    if (e.uid <= prev_uid || e.uid >= h->uidnext || len == 0 || off + len > names_size ||
        e.modseq == 0 || e.modseq > h->highest_modseq) {
      return false;
    }
    prev_uid = e.uid;
    e.file_name.assign(b.data() + names_base + off, len);
    if (e.file_name.find('/') != std::string::npos || e.file_name.find('\0') != std::string::npos ||
        e.file_name[0] == '.') {
      return false;
    }
    entries->push_back(std::move(e));
  }
  *header = *h;
  return true;
}

std::optional<IndexHeader> read_index_header(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat st;
  std::string b;
  bool ok = ::fstat(fd, &st) == 0 && read_all(fd, &b, kIndexHeaderSize);
  ::close(fd);
  if (!ok) return std::nullopt;
  return parse_header(b, static_cast<uint64_t>(st.st_size));
}

bool read_index(const std::string& path, IndexHeader* header, std::vector<IndexEntry>* entries) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st;
  std::string b;
  bool ok = ::fstat(fd, &st) == 0 && st.st_size >= kIndexHeaderSize &&
            st.st_size < (int64_t{1} << 32) && read_all(fd, &b, static_cast<size_t>(st.st_size));
  ::close(fd);
  return ok && decode_index(b, header, entries);
}

bool write_index(const std::string& path, const IndexHeader& header,
                 const std::vector<IndexEntry>& entries, bool fsync_file) {
  std::filesystem::path p(path);
  std::error_code ec;
  std::filesystem::create_directories(p.parent_path(), ec);
  std::string tmp = (p.parent_path() / ("roost-tmp." + std::to_string(::getpid()) + "." +
                                        std::to_string(g_tmp_counter.fetch_add(1)) + ".idx"))
                        .string();
  std::string bytes = encode_index(header, entries);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  bool ok = write_all(fd, bytes.data(), bytes.size());
  if (ok && fsync_file) ok = ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (ok) ok = ::rename(tmp.c_str(), path.c_str()) == 0;
  if (!ok) ::unlink(tmp.c_str());
  return ok;
}

}  // namespace store::maildir
