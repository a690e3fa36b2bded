// Small POSIX file helpers for the Maildir backend. Errors come back as
// store::Error values (never exceptions).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/maildir/index.h"
#include "store/store.h"

namespace store::maildir {

// A directory's mtime is trusted only this long after it last changed: file
// systems with coarse timestamps can change a directory twice within one tick.
inline constexpr int64_t kSettleSeconds = 2;
// While a directory's mtime is not settled, it is listed again at most this often.
inline constexpr int64_t kRescanSeconds = 1;

Error io_error(std::string_view what, const std::string& path, int err);

int64_t now_seconds();
// Milliseconds of the monotonic clock (for "how long ago", never a date).
int64_t steady_ms();
// A modseq floor after the index was lost: microseconds since the epoch.
uint64_t time_modseq();

// stat() of a directory; `settled` tells whether the mtime is old enough to be
// trusted. errno is kept on failure.
bool stat_dir(const std::string& path, DirStamp* out);

// Names in a directory, without "." and ".." and without names starting with
// '.'. false (errno kept) if the directory cannot be read.
bool list_dir(const std::string& path, std::vector<std::string>* names, bool include_dot = false);

Result<void> fsync_dir(const std::string& path);

// Writes `content` to a temporary file next to `path`, optionally fsyncs it,
// renames it over `path` and fsyncs the directory.
Result<void> write_file_atomic(const std::string& path, std::string_view content, bool sync);

// Whole small file; nullopt with errno set on failure (ENOENT when missing).
std::optional<std::string> read_small_file(const std::string& path, size_t limit = 1 << 20);

bool write_all_fd(int fd, const char* p, size_t n);

// Counts a message's size with every bare LF counted as CRLF.
class CrlfCounter {
 public:
  void feed(const char* p, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      char c = p[i];
      raw_ += 1;
      crlf_ += (c == '\n' && last_ != '\r') ? 2 : 1;
      last_ = c;
    }
  }
  uint64_t raw() const { return raw_; }
  uint64_t crlf() const { return crlf_; }

 private:
  uint64_t raw_ = 0;
  uint64_t crlf_ = 0;
  char last_ = 0;
};

// Reads a file through a CrlfCounter. false (errno kept) on failure.
bool count_file(const std::string& path, uint64_t* raw, uint64_t* crlf);

// Recursively removes a directory tree (no symlink following). Best effort.
void remove_tree(const std::string& path);

// flock(LOCK_EX) on a lock file, held for the guard's lifetime.
class FileLock {
 public:
  FileLock() = default;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();
  // Creates the lock file if needed. false (errno kept) on failure.
  bool lock(const std::string& path);
  void unlock();
  bool held() const { return fd_ >= 0; }
  // The change sequence number kept in the lock file's first 8 bytes
  // (little-endian; 0 when the file is new). Lock held.
  uint64_t read_seq() const;
  void write_seq(uint64_t seq) const;

 private:
  int fd_ = -1;
};

}  // namespace store::maildir
