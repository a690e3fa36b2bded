// The Maildir backend's header cache (header_cache.h, docs/STORE.md).
#include "store/maildir/header_cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace store::maildir {

namespace {

constexpr size_t kReadPiece = 1024 * 1024;  // file reads while scanning or compacting
constexpr uint64_t kGap = 4096;             // lookups read neighbours in one pread when closer

void put32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

uint32_t get32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

uint32_t record_crc(uint32_t uid, std::string_view block) {
  char head[8];
  put32(head, uid);
  put32(head + 4, static_cast<uint32_t>(block.size()));
  uLong c = crc32(0L, Z_NULL, 0);
  c = crc32(c, reinterpret_cast<const Bytef*>(head), 8);
  c = crc32(c, reinterpret_cast<const Bytef*>(block.data()), static_cast<uInt>(block.size()));
  return static_cast<uint32_t>(c);
}

void append_record(std::string& out, uint32_t uid, std::string_view block) {
  char head[kHeaderCacheRecordHeader];
  put32(head, uid);
  put32(head + 4, static_cast<uint32_t>(block.size()));
  put32(head + 8, record_crc(uid, block));
  out.append(head, sizeof head);
  out.append(block);
}

std::string file_header(uint32_t uidvalidity) {
  char h[kHeaderCacheFileHeader];
  std::memcpy(h, kHeaderCacheMagic, 8);
  put32(h + 8, kHeaderCacheVersion);
  put32(h + 12, uidvalidity);
  return std::string(h, sizeof h);
}

// The uidvalidity of a file header; nullopt if it is not one.
std::optional<uint32_t> read_file_header(int fd) {
  char h[kHeaderCacheFileHeader];
  if (::pread(fd, h, sizeof h, 0) != static_cast<ssize_t>(sizeof h)) return std::nullopt;
  if (std::memcmp(h, kHeaderCacheMagic, 8) != 0) return std::nullopt;
  if (get32(h + 8) != kHeaderCacheVersion) return std::nullopt;
  return get32(h + 12);
}

bool pread_all(int fd, char* p, size_t n, uint64_t off) {
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
    off += static_cast<uint64_t>(r);
  }
  return true;
}

bool pwrite_all(int fd, const char* p, size_t n, uint64_t off) {
  while (n > 0) {
    ssize_t r = ::pwrite(fd, p, n, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
    off += static_cast<uint64_t>(r);
  }
  return true;
}

bool is_live(const std::vector<MessageMeta>& live, uint32_t uid) {
  auto it = std::lower_bound(live.begin(), live.end(), uid,
                             [](const MessageMeta& m, uint32_t u) { return m.uid < u; });
  return it != live.end() && it->uid == uid;
}

}  // namespace

void HeaderCache::put_slot_locked(const Slot& s) {
  if (slots_.empty() || slots_.back().uid < s.uid) {
    slots_.push_back(s);
    return;
  }
  auto it = std::lower_bound(slots_.begin(), slots_.end(), s.uid,
                             [](const Slot& a, uint32_t u) { return a.uid < u; });
  if (it != slots_.end() && it->uid == s.uid) {
    *it = s;  // a later record of the same message wins
  } else {
    slots_.insert(it, s);
  }
}

void HeaderCache::scan_locked(int fd, uint64_t from) {
  std::string buf;
  uint64_t buf_off = from;  // file offset of buf[0]
  uint64_t pos = from;      // next record
  bool eof = false;
  auto have = [&](size_t n) {  // n bytes from pos in buf, reading as needed
    while (buf_off + buf.size() < pos + n && !eof) {
      if (pos > buf_off) {
        buf.erase(0, static_cast<size_t>(pos - buf_off));
        buf_off = pos;
      }
      size_t old = buf.size();
      buf.resize(old + std::max(kReadPiece, n));
      ssize_t r;
      do {
        r = ::pread(fd, buf.data() + old, buf.size() - old, static_cast<off_t>(buf_off + old));
      } while (r < 0 && errno == EINTR);
      buf.resize(old + static_cast<size_t>(std::max<ssize_t>(r, 0)));
      if (r <= 0) eof = true;
    }
    return buf_off + buf.size() >= pos + n;
  };
  while (have(kHeaderCacheRecordHeader)) {
    const char* h = buf.data() + (pos - buf_off);
    uint32_t uid = get32(h), len = get32(h + 4), crc = get32(h + 8);
    if (uid == 0 || len > kMaxCachedBlock) break;
    if (!have(kHeaderCacheRecordHeader + len)) break;
    std::string_view block(buf.data() + (pos - buf_off) + kHeaderCacheRecordHeader, len);
    if (record_crc(uid, block) != crc) break;
    put_slot_locked(Slot{uid, len, pos});
    pos += kHeaderCacheRecordHeader + len;
  }
  end_ = pos;
}

void HeaderCache::load_locked(const std::vector<MessageMeta>* live) {
  loaded_ = true;
  slots_.clear();
  uidvalidity_ = 0;
  end_ = 0;
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  if (auto v = read_file_header(fd)) {
    uidvalidity_ = *v;
    scan_locked(fd, kHeaderCacheFileHeader);
    if (live != nullptr) {
      size_t dead = 0;
      for (const Slot& s : slots_) dead += is_live(*live, s.uid) ? 0 : 1;
      if (dead > kHeaderCacheSlack && dead > slots_.size() - dead) compact_locked(fd, *live);
    }
  }
  ::close(fd);
}

void HeaderCache::compact_locked(int fd, const std::vector<MessageMeta>& live) {
  const std::string tmp = path_ + ".compact";
  int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0) return;
  std::vector<Slot> kept;
  std::string buf = file_header(uidvalidity_);
  uint64_t written = 0;
  bool ok = true;
  std::string rec;
  for (const Slot& s : slots_) {
    if (!is_live(live, s.uid)) continue;
    rec.resize(kHeaderCacheRecordHeader + s.len);
    if (!pread_all(fd, rec.data(), rec.size(), s.off)) {
      ok = false;
      break;
    }
    kept.push_back(Slot{s.uid, s.len, written + buf.size()});
    buf += rec;
    if (buf.size() >= kReadPiece) {
      if (!pwrite_all(out, buf.data(), buf.size(), written)) {
        ok = false;
        break;
      }
      written += buf.size();
      buf.clear();
    }
  }
  if (ok && !buf.empty()) ok = pwrite_all(out, buf.data(), buf.size(), written);
  written += buf.size();
  ::close(out);
  if (!ok || ::rename(tmp.c_str(), path_.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return;
  }
  slots_ = std::move(kept);
  end_ = written;
}

void HeaderCache::lookup(uint32_t uidvalidity, std::span<const uint32_t> uids,
                         std::vector<std::optional<std::string>>& out,
                         const std::vector<MessageMeta>& live) {
  std::vector<std::pair<size_t, Slot>> want;  // (index into uids, slot)
  {
    std::lock_guard<std::mutex> g(mu_);
    if (!loaded_) load_locked(&live);
    if (uidvalidity_ != uidvalidity || slots_.empty()) return;
    for (size_t i = 0; i < uids.size(); ++i) {
      auto it = std::lower_bound(slots_.begin(), slots_.end(), uids[i],
                                 [](const Slot& a, uint32_t u) { return a.uid < u; });
      if (it != slots_.end() && it->uid == uids[i]) want.emplace_back(i, *it);
    }
  }
  if (want.empty()) return;
  std::sort(want.begin(), want.end(),
            [](const auto& a, const auto& b) { return a.second.off < b.second.off; });
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  if (read_file_header(fd) != uidvalidity) {
    // Started afresh by another process since this one read it.
    ::close(fd);
    std::lock_guard<std::mutex> g(mu_);
    loaded_ = false;
    return;
  }
  std::string buf;
  for (size_t k = 0; k < want.size();) {
    // One read for this record and the ones close after it.
    const uint64_t start = want[k].second.off;
    uint64_t end = start + kHeaderCacheRecordHeader + want[k].second.len;
    size_t last = k + 1;
    while (last < want.size()) {
      const Slot& n = want[last].second;
      const uint64_t n_end = n.off + kHeaderCacheRecordHeader + n.len;
      if (n.off > end + kGap || n_end - start > kReadPiece) break;
      end = std::max(end, n_end);
      ++last;
    }
    buf.resize(static_cast<size_t>(end - start));
    if (pread_all(fd, buf.data(), buf.size(), start)) {
      for (size_t j = k; j < last; ++j) {
        const Slot& s = want[j].second;
        const char* h = buf.data() + (s.off - start);
        // Records are checked in full (CRC) when the file is read in or
        // written, and the file only grows while its header stays: the UID
        // and length catch a record that is not the one expected.
        if (get32(h) != s.uid || get32(h + 4) != s.len) continue;
        out[want[j].first] = std::string(h + kHeaderCacheRecordHeader, s.len);
      }
    }
    k = last;
  }
  ::close(fd);
}

void HeaderCache::append(uint32_t uidvalidity,
                         const std::vector<std::pair<uint32_t, std::string>>& blocks) {
  std::string buf;
  for (const auto& [uid, block] : blocks) {
    if (uid != 0 && block.size() <= kMaxCachedBlock) append_record(buf, uid, block);
  }
  if (buf.empty() || uidvalidity == 0) return;
  std::lock_guard<std::mutex> g(mu_);
  if (!loaded_) load_locked(nullptr);
  int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 && errno == ENOENT) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
    fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  }
  if (fd < 0) return;
  // Other processes (roost tools) may write the same file.
  while (::flock(fd, LOCK_EX) != 0 && errno == EINTR) {
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return;
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  std::optional<uint32_t> on_disk = read_file_header(fd);
  if (on_disk && *on_disk == uidvalidity && uidvalidity_ == uidvalidity) {
    if (size < end_) {
      slots_.clear();  // replaced under us: what we knew is gone
      end_ = kHeaderCacheFileHeader;
      scan_locked(fd, kHeaderCacheFileHeader);
    } else if (size > end_) {
      scan_locked(fd, end_);  // records of another writer, or a torn tail
    }
  } else if (on_disk && *on_disk == uidvalidity) {
    uidvalidity_ = uidvalidity;
    slots_.clear();
    scan_locked(fd, kHeaderCacheFileHeader);
  } else {
    // Nothing there yet, damage or another UIDVALIDITY: start afresh.
    std::string h = file_header(uidvalidity);
    if (::ftruncate(fd, 0) != 0 || !pwrite_all(fd, h.data(), h.size(), 0)) {
      ::close(fd);
      return;
    }
    uidvalidity_ = uidvalidity;
    slots_.clear();
    end_ = kHeaderCacheFileHeader;
  }
  // A torn tail is cut off before the new records go after the good ones.
  if (size > end_ && ::ftruncate(fd, static_cast<off_t>(end_)) != 0) {
    ::close(fd);
    return;
  }
  if (pwrite_all(fd, buf.data(), buf.size(), end_)) {
    uint64_t off = end_;
    while (off < end_ + buf.size()) {
      const char* h = buf.data() + (off - end_);
      uint32_t len = get32(h + 4);
      put_slot_locked(Slot{get32(h), len, off});
      off += kHeaderCacheRecordHeader + len;
    }
    end_ += buf.size();
  } else {
    (void)::ftruncate(fd, static_cast<off_t>(end_));
  }
  ::close(fd);
}

void HeaderCache::reset() {
  std::lock_guard<std::mutex> g(mu_);
  loaded_ = false;
  slots_.clear();
  slots_.shrink_to_fit();
  uidvalidity_ = 0;
  end_ = 0;
}

size_t HeaderCache::size() {
  std::lock_guard<std::mutex> g(mu_);
  return slots_.size();
}

}  // namespace store::maildir
