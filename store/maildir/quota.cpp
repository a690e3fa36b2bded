#include "store/maildir/quota.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <vector>

#include "store/maildir/fsutil.h"
#include "store/maildir/names.h"
#include "store/maildir/state.h"

namespace store::maildir {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

// An unsigned decimal of at most 19 digits.
std::optional<uint64_t> parse_unsigned(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

std::optional<int64_t> parse_signed(std::string_view s) {
  bool neg = !s.empty() && s[0] == '-';
  if (neg) s.remove_prefix(1);
  auto u = parse_unsigned(s);
  if (!u) return std::nullopt;
  auto v = static_cast<int64_t>(*u);
  return neg ? -v : v;
}

// Splits on runs of blanks; leading and trailing blanks are ignored.
std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_space(line[i])) ++i;
    size_t start = i;
    while (i < line.size() && !is_space(line[i])) ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

// Adds one mailbox directory's messages (new/ first, then cur/: a file moved
// from new/ to cur/ meanwhile is seen at least once, and twice at most,
// which the base-name set removes).
bool walk_mailbox(const std::string& dir, QuotaUsage* usage) {
  FileLock lock;
  if (!lock.lock(dir + "/" + kLockFile)) return errno == ENOENT || errno == ENOTDIR;
  std::set<std::string> seen;
  for (const char* sub : {"/new", "/cur"}) {
    std::vector<std::string> names;
    if (!list_dir(dir + sub, &names)) {
      if (errno == ENOENT) return true;  // deleted meanwhile
      return false;
    }
    for (const auto& n : names) {
      MessageName m = parse_message_name(n);
      if (m.base.empty() || !seen.insert(m.base).second) continue;
      uint64_t size = 0;
      if (auto w = m.crlf_size()) {
        size = *w;
      } else {
        uint64_t raw = 0, crlf = 0;
        if (!count_file(dir + sub + "/" + n, &raw, &crlf)) continue;  // vanished
        size = crlf;
      }
      usage->bytes += size;
      usage->messages += 1;
    }
  }
  return true;
}

bool usable(const std::optional<std::string>& text, const std::optional<QuotaLimits>& limits,
            QuotaFileContent* out) {
  if (!text || text->size() > kQuotaFileMax) return false;
  auto parsed = parse_maildirsize(*text);
  if (!parsed) return false;
  if (limits && !(parsed->definition == *limits)) return false;
  *out = *parsed;
  return true;
}

}  // namespace

std::string format_quota_definition(const QuotaLimits& limits) {
  return std::to_string(limits.bytes) + "S," + std::to_string(limits.messages) + "C";
}

std::optional<QuotaLimits> parse_quota_definition(std::string_view line) {
  QuotaLimits out;
  bool have_s = false, have_c = false;
  while (!line.empty() && is_space(line.back())) line.remove_suffix(1);
  while (!line.empty() && is_space(line.front())) line.remove_prefix(1);
  if (line.empty()) return out;
  size_t start = 0;
  while (start <= line.size()) {
    size_t comma = line.find(',', start);
    if (comma == std::string_view::npos) comma = line.size();
    std::string_view part = line.substr(start, comma - start);
    if (part.size() < 2) return std::nullopt;
    auto n = parse_unsigned(part.substr(0, part.size() - 1));
    if (!n) return std::nullopt;
    if (part.back() == 'S' && !have_s) {
      out.bytes = *n;
      have_s = true;
    } else if (part.back() == 'C' && !have_c) {
      out.messages = *n;
      have_c = true;
    } else {
      return std::nullopt;
    }
    start = comma + 1;
  }
  return out;
}

std::optional<QuotaFileContent> parse_maildirsize(std::string_view text) {
  size_t nl = text.find('\n');
  if (nl == std::string_view::npos) return std::nullopt;
  std::string_view first = text.substr(0, nl);
  if (!first.empty() && first.back() == '\r') first.remove_suffix(1);
  auto def = parse_quota_definition(first);
  if (!def) return std::nullopt;
  text.remove_prefix(nl + 1);
  int64_t bytes = 0, count = 0;
  while (!text.empty()) {
    nl = text.find('\n');
    if (nl == std::string_view::npos) break;  // still being written
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto w = words(line);
    if (w.empty()) continue;
    if (w.size() != 2) return std::nullopt;
    auto b = parse_signed(w[0]);
    auto c = parse_signed(w[1]);
    if (!b || !c) return std::nullopt;
    bytes += *b;
    count += *c;
  }
  if (bytes < 0 || count < 0) return std::nullopt;
  QuotaFileContent out;
  out.definition = *def;
  out.usage.bytes = static_cast<uint64_t>(bytes);
  out.usage.messages = static_cast<uint64_t>(count);
  return out;
}

std::string format_quota_line(int64_t bytes, int64_t count) {
  return std::to_string(bytes) + " " + std::to_string(count) + "\n";
}

QuotaLock::~QuotaLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

bool QuotaLock::lock(const std::string& root, bool exclusive, bool wait) {
  if (fd_ >= 0) return true;
  std::string path = root + "/" + kQuotaLockFile;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  int op = (exclusive ? LOCK_EX : LOCK_SH) | (wait ? 0 : LOCK_NB);
  while (::flock(fd, op) != 0) {
    if (errno == EINTR) continue;
    int e = errno;
    ::close(fd);
    errno = e;
    return false;
  }
  fd_ = fd;
  return true;
}

void quota_record(const std::string& root, int64_t bytes, int64_t count) {
  if (bytes == 0 && count == 0) return;
  std::string path = root + "/" + kQuotaFile;
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return;  // missing: the next reader recalculates
  std::string line = format_quota_line(bytes, count);
  ssize_t n;
  do {
    n = ::write(fd, line.data(), line.size());
  } while (n < 0 && errno == EINTR);
  ::close(fd);
}

void quota_invalidate(const std::string& root) {
  std::string path = root + "/" + kQuotaFile;
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return;
  static constexpr char kMark[] = "recalculate\n";
  ssize_t n;
  do {
    n = ::write(fd, kMark, sizeof kMark - 1);
  } while (n < 0 && errno == EINTR);
  ::close(fd);
}

void quota_invalidate_nowait(const std::string& root) {
  QuotaLock lock;
  if (lock.lock(root, false, false)) quota_invalidate(root);
}

Result<QuotaUsage> quota_walk(const std::string& root) {
  QuotaUsage usage;
  if (!walk_mailbox(root, &usage)) return core::fail(io_error("walk", root, errno));
  std::vector<std::string> entries;
  if (!list_dir(root, &entries, true)) return core::fail(io_error("list", root, errno));
  for (const auto& e : entries) {
    if (e[0] != '.' || !mailbox_for_folder(e)) continue;
    std::string dir = root + "/" + e;
    DirStamp st;
    if (!stat_dir(dir + "/cur", &st)) continue;  // not a mailbox (or gone)
    if (!walk_mailbox(dir, &usage)) return core::fail(io_error("walk", dir, errno));
  }
  return usage;
}

Result<QuotaUsage> quota_read(const std::string& root, const std::optional<QuotaLimits>& limits,
                              bool fsync) {
  std::string path = root + "/" + kQuotaFile;
  QuotaFileContent content;
  if (usable(read_small_file(path, kQuotaFileMax + 1), limits, &content)) return content.usage;
  QuotaLock lock;
  if (!lock.lock(root, true))
    return core::fail(io_error("lock", root + "/" + kQuotaLockFile, errno));
  // Someone else may have recalculated while we waited.
  auto text = read_small_file(path, 1 << 20);
  if (usable(text, limits, &content)) return content.usage;
  QuotaLimits def;
  if (limits) {
    def = *limits;
  } else if (text) {
    size_t nl = text->find('\n');
    if (auto d = parse_quota_definition(std::string_view(*text).substr(0, nl))) def = *d;
  }
  auto usage = quota_walk(root);
  if (!usage) return usage;
  std::string body =
      format_quota_definition(def) + "\n" +
      format_quota_line(static_cast<int64_t>(usage->bytes), static_cast<int64_t>(usage->messages));
  auto w = write_file_atomic(path, body, fsync);
  if (!w) return core::fail(w.error());
  return *usage;
}

}  // namespace store::maildir
