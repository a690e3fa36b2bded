#include "store/maildir/fsutil.h"

#include <chrono>

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace store::maildir {

namespace {
std::atomic<uint64_t> g_tmp_counter{0};
}

Error io_error(std::string_view what, const std::string& path, int err) {
  Errc code = Errc::kIo;
  if (err == ENOENT || err == ENOTDIR) code = Errc::kNotFound;
  if (err == EDQUOT) code = Errc::kOverQuota;
  if (err == ENAMETOOLONG) code = Errc::kInvalidName;
  return make_error(code, std::string(what) + " " + path + ": " + std::strerror(err));
}

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t now_seconds() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec;
}

uint64_t time_modseq() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(std::max<int64_t>(ts.tv_sec, 1)) * 1000000u +
         static_cast<uint64_t>(ts.tv_nsec / 1000);
}

bool stat_dir(const std::string& path, DirStamp* out) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return false;
  if (!S_ISDIR(st.st_mode)) {
    errno = ENOTDIR;
    return false;
  }
  out->mtime_sec = st.st_mtim.tv_sec;
  out->mtime_nsec = st.st_mtim.tv_nsec;
  out->ino = st.st_ino;
  out->dev = st.st_dev;
  out->settled = now_seconds() - st.st_mtim.tv_sec >= kSettleSeconds;
  return true;
}

bool list_dir(const std::string& path, std::vector<std::string>* names, bool include_dot) {
  names->clear();
  DIR* d = ::opendir(path.c_str());
  if (!d) return false;
  while (true) {
    errno = 0;
    struct dirent* e = ::readdir(d);
    if (!e) break;
    const char* n = e->d_name;
    if (n[0] == '.') {
      if (!include_dot || n[1] == '\0' || (n[1] == '.' && n[2] == '\0')) continue;
    }
    names->emplace_back(n);
  }
  int err = errno;
  ::closedir(d);
  errno = err;
  return err == 0;
}

Result<void> fsync_dir(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return core::fail(io_error("open", path, errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return core::fail(io_error("fsync", path, err));
  return {};
}

bool write_all_fd(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

Result<void> write_file_atomic(const std::string& path, std::string_view content, bool sync) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  std::string tmp = dir + "/roost-tmp." + std::to_string(::getpid()) + "." +
                    std::to_string(g_tmp_counter.fetch_add(1));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return core::fail(io_error("create", tmp, errno));
  bool ok = write_all_fd(fd, content.data(), content.size());
  if (ok && sync) ok = ::fsync(fd) == 0;
  int err = errno;
  if (::close(fd) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (ok && ::rename(tmp.c_str(), path.c_str()) != 0) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    return core::fail(io_error("write", path, err));
  }
  if (sync) return fsync_dir(dir);
  return {};
}

std::optional<std::string> read_small_file(const std::string& path, size_t limit) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int err = errno;
      ::close(fd);
      errno = err;
      return std::nullopt;
    }
    if (r == 0) break;
    out.append(buf, static_cast<size_t>(r));
    if (out.size() > limit) {
      ::close(fd);
      errno = EFBIG;
      return std::nullopt;
    }
  }
  ::close(fd);
  return out;
}

bool count_file(const std::string& path, uint64_t* raw, uint64_t* crlf) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  CrlfCounter c;
  char buf[65536];
  while (true) {
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int err = errno;
      ::close(fd);
      errno = err;
      return false;
    }
    if (r == 0) break;
    c.feed(buf, static_cast<size_t>(r));
  }
  ::close(fd);
  *raw = c.raw();
  *crlf = c.crlf();
  return true;
}

void remove_tree(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    std::vector<std::string> names;
    if (list_dir(path, &names, true)) {
      for (const auto& n : names) remove_tree(path + "/" + n);
    }
    ::rmdir(path.c_str());
  } else {
    ::unlink(path.c_str());
  }
}

FileLock::~FileLock() {
  unlock();
}

bool FileLock::lock(const std::string& path) {
  unlock();
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) {
      int err = errno;
      ::close(fd);
      errno = err;
      return false;
    }
  }
  fd_ = fd;
  return true;
}

uint64_t FileLock::read_seq() const {
  unsigned char b[8] = {0};
  if (fd_ < 0 || ::pread(fd_, b, sizeof b, 0) != static_cast<ssize_t>(sizeof b)) return 0;
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b[i];
  return v;
}

void FileLock::write_seq(uint64_t seq) const {
  unsigned char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>((seq >> (8 * i)) & 0xFF);
  if (fd_ >= 0) (void)!::pwrite(fd_, b, sizeof b, 0);
}

void FileLock::unlock() {
  if (fd_ >= 0) {
    ::close(fd_);  // releases the flock
    fd_ = -1;
  }
}

}  // namespace store::maildir
