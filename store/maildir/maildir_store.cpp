// The Maildir++ backend: accounts, mailbox handles, appends. The on-disk format
// and the crash story are in docs/STORE.md; the per-mailbox shared state is in
// state.{h,cpp}, names in names.{h,cpp}, the index file in index.{h,cpp}.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>

#include "store/maildir/cache.h"
#include "store/maildir/fsutil.h"
#include "store/maildir/index.h"
#include "store/maildir/names.h"
#include "store/maildir/quota.h"
#include "store/maildir/state.h"
#include "store/store.h"
#include "store/store_util.h"

namespace store {
namespace maildir {
namespace {

void keep_warm(const std::shared_ptr<MailboxState>& st, size_t messages);

auto fail(Errc c, std::string m) {
  return core::fail(make_error(c, std::move(m)));
}

// Validates an API name and finds its folder ("" for INBOX).
Result<std::pair<std::string, std::string>> resolve_name(std::string_view name) {
  auto v = validate_mailbox_name(name);
  if (!v) return core::fail(v.error());
  std::string canon = canonical_mailbox_name(name);
  auto folder = folder_for_mailbox(canon);
  if (!folder) return fail(Errc::kInvalidName, "mailbox name too long or not encodable");
  return std::make_pair(std::move(canon), std::move(*folder));
}

bool is_dir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool path_exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

Result<void> make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return core::fail(io_error("mkdir", path, errno));
  }
  return {};
}

const char* use_word(SpecialUse u) {
  switch (u) {
    case SpecialUse::kDrafts:
      return "drafts";
    case SpecialUse::kSent:
      return "sent";
    case SpecialUse::kTrash:
      return "trash";
    case SpecialUse::kJunk:
      return "junk";
    case SpecialUse::kArchive:
      return "archive";
    case SpecialUse::kNone:
      break;
  }
  return "";
}

SpecialUse use_of_word(std::string_view w) {
  for (SpecialUse u : {SpecialUse::kDrafts, SpecialUse::kSent, SpecialUse::kTrash,
                       SpecialUse::kJunk, SpecialUse::kArchive}) {
    if (w == use_word(u)) return u;
  }
  return SpecialUse::kNone;
}

std::vector<std::string> split_lines(std::string_view v) {
  std::vector<std::string> out;
  while (!v.empty()) {
    size_t nl = v.find('\n');
    std::string_view line = v.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) out.emplace_back(line);
    if (nl == std::string_view::npos) break;
    v.remove_prefix(nl + 1);
  }
  return out;
}

// --- MAILBOXID -------------------------------------------------------------------------

// One line, the mailbox's IMAP MAILBOXID (RFC 8474), in the mailbox directory:
// it moves with RENAME, goes with DELETE and is no cache.
constexpr char kMailboxIdFile[] = "roost-mailboxid";

// "F" + 24 random hex digits.
std::string new_mailbox_id() {
  static std::mutex mu;
  static std::random_device rd;
  std::lock_guard<std::mutex> g(mu);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "F";
  for (int i = 0; i < 3; ++i) {
    uint32_t v = rd();
    for (int s = 28; s >= 0; s -= 4) out += kHex[(v >> s) & 0xF];
  }
  return out;
}

std::optional<std::string> read_mailbox_id(const std::string& dir) {
  auto s = read_small_file(dir + "/" + kMailboxIdFile, 1024);
  if (!s) return std::nullopt;
  std::string_view v = *s;
  while (!v.empty() && (v.back() == '\n' || v.back() == '\r' || v.back() == ' ')) {
    v.remove_suffix(1);
  }
  if (!is_valid_object_id(v)) return std::nullopt;
  return std::string(v);
}

// The id of a mailbox directory, given one on first use (INBOX, folders made
// by other tools or by older Roost versions). Two processes doing that at
// once agree: the file is linked into place, never renamed over another.
Result<std::string> mailbox_id_of_dir(const std::string& dir, const std::string& unique,
                                      bool sync) {
  if (auto id = read_mailbox_id(dir)) return *id;
  std::string id = new_mailbox_id();
  std::string path = dir + "/" + kMailboxIdFile;
  std::string tmp = path + ".new." + unique;
  auto w = write_file_atomic(tmp, id + "\n", sync);
  if (!w) return core::fail(w.error());
  int r = ::link(tmp.c_str(), path.c_str());
  int e = errno;
  ::unlink(tmp.c_str());
  if (r == 0) {
    if (sync) (void)fsync_dir(dir);
    return id;
  }
  if (e != EEXIST) return core::fail(io_error("link", path, e));
  if (auto other = read_mailbox_id(dir)) return *other;
  // There, but damaged: replaced by a new id.
  w = write_file_atomic(path, id + "\n", sync);
  if (!w) return core::fail(w.error());
  return id;
}

// --- Message stream ------------------------------------------------------------------

class FileStream final : public MessageStream {
 public:
  FileStream(int fd, uint64_t size) : fd_(fd), size_(size) {}
  ~FileStream() override { ::close(fd_); }
  Result<size_t> read(char* buf, size_t n) override {
    while (true) {
      ssize_t r = ::read(fd_, buf, n);
      if (r >= 0) return static_cast<size_t>(r);
      if (errno != EINTR) return core::fail(io_error("read", "message", errno));
    }
  }
  Result<void> seek(uint64_t offset) override {
    if (::lseek(fd_, static_cast<off_t>(offset), SEEK_SET) < 0) {
      return core::fail(io_error("seek", "message", errno));
    }
    return {};
  }
  uint64_t raw_size() const override { return size_; }

 private:
  int fd_;
  uint64_t size_;
};

// --- Mailbox handle ---------------------------------------------------------------------

class MailboxImpl final : public Mailbox {
 public:
  MailboxImpl(std::shared_ptr<MailboxState> st, bool ro)
      : st_(std::move(st)), ro_(ro), slot_(std::make_shared<HandleSlot>()) {}
  ~MailboxImpl() override {
    bool last = false;
    size_t messages = 0;
    {
      std::lock_guard<std::mutex> g(st_->mu);
      auto& h = st_->handles;
      h.erase(std::remove(h.begin(), h.end(), slot_), h.end());
      last = h.empty() && st_->loaded && !st_->gone;
      messages = st_->recs.size();
      // The index is brought up to date when the last handle goes, as
      // before the state was kept warm: a crash then costs no rebuild.
      if (last) st_->maybe_write_index(true);
    }
    {
      // Waits for a callback running now; none starts afterwards.
      std::lock_guard<std::mutex> g(slot_->mu);
      slot_->cb = nullptr;
    }
    if (last) keep_warm(st_, messages);
  }

  // With st_->mu held: registers the handle and fills its view.
  void attach() {
    st_->handles.push_back(slot_);
    view_ = st_->current_snapshot();
    uidvalidity_ = st_->uidvalidity;
    uidnext_ = st_->uidnext;
    hms_ = st_->hms;
    gen_ = st_->gen;
  }

  const std::string& name() const override { return st_->name; }
  bool read_only() const override { return ro_; }

  Result<SyncResult> sync() override {
    SyncResult res;
    Listeners cbs;
    {
      std::lock_guard<std::mutex> g(st_->mu);
      if (!st_->gone) {
        auto r = st_->refresh(false);
        if (!r && !st_->gone) return core::fail(r.error());
        if (r && *r) cbs = st_->callbacks_except(slot_.get());
        st_->maybe_write_index(false);
      }
      if (st_->gone) {
        for (const auto& m : *view_) res.expunged.push_back(m.uid);
        view_ = std::make_shared<std::vector<MessageMeta>>();
        gen_ = st_->gen;
      } else if (st_->uidvalidity != uidvalidity_) {
        view_ = st_->current_snapshot();
        uidvalidity_ = st_->uidvalidity;
        uidnext_ = st_->uidnext;
        hms_ = st_->hms;
        gen_ = st_->gen;
        res.uidvalidity_changed = true;
      } else if (gen_ != st_->gen) {
        diff(&res);
      }
    }
    notify(cbs);
    return res;
  }

  const std::vector<MessageMeta>& messages() const override { return *view_; }

  bool poll_due(int64_t fresh_ms) override {
    std::unique_lock<std::mutex> g(st_->mu, std::try_to_lock);
    if (!g.owns_lock()) return true;  // busy: the caller's own check decides
    if (st_->gone || !st_->loaded || st_->uidvalidity != uidvalidity_ || st_->gen != gen_) {
      return true;
    }
    return st_->checked_ms == 0 || steady_ms() - st_->checked_ms >= fresh_ms;
  }

  MailboxStatus status() const override {
    MailboxStatus s = compute_status(*view_, uidvalidity_, uidnext_, hms_);
    return s;
  }

  Result<std::unique_ptr<MessageStream>> open_message(uint32_t uid) override {
    std::lock_guard<std::mutex> g(st_->mu);
    if (st_->gone) return fail(Errc::kNotFound, "mailbox no longer exists");
    for (int attempt = 0; attempt < 2; ++attempt) {
      ptrdiff_t i = st_->find(uid);
      if (i < 0) break;
      std::string path = st_->cur_dir() + "/" + st_->recs[static_cast<size_t>(i)].file;
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd >= 0) {
        struct stat s;
        if (::fstat(fd, &s) != 0) {
          int e = errno;
          ::close(fd);
          return core::fail(io_error("stat", path, e));
        }
        return std::unique_ptr<MessageStream>(
            std::make_unique<FileStream>(fd, static_cast<uint64_t>(s.st_size)));
      }
      if (errno != ENOENT) return core::fail(io_error("open", path, errno));
      // Renamed or removed by someone else: look at the directory again.
      auto r = st_->refresh(true);
      if (!r) return core::fail(r.error());
    }
    return fail(Errc::kNotFound, "no message with UID " + std::to_string(uid));
  }

  std::vector<std::optional<std::string>> cached_headers(std::span<const uint32_t> uids) override {
    std::vector<std::optional<std::string>> out(uids.size());
    st_->hcache.lookup(uidvalidity_, uids, out, *view_);
    std::vector<std::pair<uint32_t, std::string>> read;
    for (size_t i = 0; i < uids.size(); ++i) {
      if (out[i]) continue;
      auto s = open_message(uids[i]);
      if (!s) continue;
      auto h = read_header_block(**s, kMaxHeaderScan);
      if (!h) continue;
      out[i] = cached_header_fields(*h);
      read.emplace_back(uids[i], *out[i]);
    }
    if (read.empty()) return out;
    {
      // Only for the mailbox this handle's UIDs belong to.
      std::lock_guard<std::mutex> g(st_->mu);
      if (st_->gone || st_->uidvalidity != uidvalidity_) return out;
    }
    st_->hcache.append(uidvalidity_, read);
    return out;
  }

  Result<std::vector<uint32_t>> store_flags(std::span<const uint32_t> uids,
                                            const FlagChange& change_in,
                                            std::vector<uint32_t>* failed) override {
    if (ro_) return fail(Errc::kNoPermission, "mailbox is read-only");
    FlagChange change = change_in;
    change.flags &= kAllFlags;
    normalize_keywords(change.keywords);
    std::vector<uint32_t> modified;
    Listeners cbs;
    {
      std::lock_guard<std::mutex> g(st_->mu);
      if (st_->gone) return fail(Errc::kNotFound, "mailbox no longer exists");
      FileLock lock;
      if (!lock.lock(st_->lock_path()))
        return core::fail(io_error("lock", st_->lock_path(), errno));
      if (change.op != FlagOp::kRemove && !change.keywords.empty()) {
        auto b = st_->keyword_bits(change.keywords, true);
        if (!b) return core::fail(b.error());
      }
      std::vector<uint32_t> sorted(uids.begin(), uids.end());
      std::sort(sorted.begin(), sorted.end());
      sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
      uint64_t ms = st_->hms + 1;
      uint32_t mask = st_->known_keyword_mask();
      for (uint32_t uid : sorted) {
        ptrdiff_t i = st_->find(uid);
        if (i < 0) continue;
        Rec* r = &st_->recs[static_cast<size_t>(i)];
        MessageMeta m = st_->meta(*r);
        if (fails_unchanged_since(m, change)) {
          if (failed) failed->push_back(uid);
          continue;
        }
        if (!apply_flag_change(m, change)) continue;
        auto bits = st_->keyword_bits(m.keywords, false);
        if (!bits) return core::fail(bits.error());
        auto rn = rename_rec(
            lock, r, [&](MessageName& n) { n.info = merge_info(n.info, m.flags, *bits, mask); });
        if (!rn) return core::fail(rn.error());
        i = st_->find(uid);  // a rescan may have moved it
        if (i < 0 || !*rn) continue;
        r = &st_->recs[static_cast<size_t>(i)];
        r->flags = m.flags;
        r->kw = *bits;
        r->modseq = ms;
        if (MessageMeta* vm = find_view(uid)) *vm = st_->meta(*r);
        modified.push_back(uid);
      }
      if (!modified.empty()) {
        st_->hms = std::max(st_->hms, ms);
        hms_ = std::max(hms_, ms);
        ++st_->gen;
        st_->dirty = true;
        st_->after_own_change(lock, false);
        cbs = st_->callbacks_except(slot_.get());
      }
    }
    notify(cbs);
    return modified;
  }

  Result<void> set_hidden(std::span<const uint32_t> uids, bool hidden) override {
    if (ro_) return fail(Errc::kNoPermission, "mailbox is read-only");
    Listeners cbs;
    {
      std::lock_guard<std::mutex> g(st_->mu);
      if (st_->gone) return fail(Errc::kNotFound, "mailbox no longer exists");
      FileLock lock;
      if (!lock.lock(st_->lock_path()))
        return core::fail(io_error("lock", st_->lock_path(), errno));
      uint64_t ms = st_->hms + 1;
      bool any = false;
      for (uint32_t uid : uids) {
        ptrdiff_t i = st_->find(uid);
        if (i < 0 || st_->recs[static_cast<size_t>(i)].hidden == hidden) continue;
        auto rn = rename_rec(lock, &st_->recs[static_cast<size_t>(i)],
                             [&](MessageName& n) { n.set_hidden(hidden); });
        if (!rn) return core::fail(rn.error());
        i = st_->find(uid);
        if (i < 0 || !*rn) continue;
        Rec& r = st_->recs[static_cast<size_t>(i)];
        r.hidden = hidden;
        r.modseq = ms;
        if (MessageMeta* vm = find_view(uid)) *vm = st_->meta(r);
        any = true;
      }
      if (any) {
        st_->hms = std::max(st_->hms, ms);
        hms_ = std::max(hms_, ms);
        ++st_->gen;
        st_->dirty = true;
        st_->after_own_change(lock, false);
        cbs = st_->callbacks_except(slot_.get());
      }
    }
    notify(cbs);
    return {};
  }

  Result<void> expunge(std::span<const uint32_t> uids) override {
    if (ro_) return fail(Errc::kNoPermission, "mailbox is read-only");
    return expunge_internal(std::vector<uint32_t>(uids.begin(), uids.end()));
  }

  Result<std::vector<std::pair<uint32_t, uint32_t>>> copy_to(std::span<const uint32_t> uids,
                                                             const std::string& dest, bool move,
                                                             uint32_t* dest_uidvalidity) override;

  void on_change(ChangeCallback cb) override {
    std::lock_guard<std::mutex> g(slot_->mu);
    slot_->cb = std::move(cb);
  }

  std::vector<std::string> watch_paths() const override {
    return {st_->dir + "/cur", st_->dir + "/new"};
  }

  Result<std::optional<std::vector<uint32_t>>> expunged_since(uint64_t modseq) override {
    std::lock_guard<std::mutex> g(st_->mu);
    if (st_->gone) return fail(Errc::kNotFound, "mailbox no longer exists");
    // A view of an earlier UID space knows nothing the memory could tell.
    if (st_->uidvalidity != uidvalidity_) return std::optional<std::vector<uint32_t>>();
    auto r = st_->expunged.since(modseq);
    if (r) {
      std::erase_if(*r, [this](uint32_t uid) { return view_pos(uid).has_value(); });
    }
    return r;
  }

 private:
  // With st_->mu held: this handle's view, copied first if it is still
  // shared with the state's snapshot or other handles.
  std::vector<MessageMeta>& own_view() {
    if (view_.use_count() > 1) view_ = std::make_shared<std::vector<MessageMeta>>(*view_);
    return *view_;
  }

  // Position of `uid` in this handle's view, if it is there.
  std::optional<size_t> view_pos(uint32_t uid) const {
    const auto& v = *view_;
    auto it = std::lower_bound(v.begin(), v.end(), uid,
                               [](const MessageMeta& m, uint32_t u) { return m.uid < u; });
    if (it == v.end() || it->uid != uid) return std::nullopt;
    return static_cast<size_t>(it - v.begin());
  }

  // For a change: the entry in this handle's own (unshared) view.
  MessageMeta* find_view(uint32_t uid) {
    auto pos = view_pos(uid);
    return pos ? &own_view()[*pos] : nullptr;
  }

  // Appends an entry kept from the old view: copied while that view is
  // shared, moved once it is this handle's own.
  static void carry(std::vector<MessageMeta>& out, MessageMeta& m, bool shared) {
    if (shared) {
      out.push_back(m);
    } else {
      out.push_back(std::move(m));
    }
  }

  // Renames a message file (mu and flock held). false when the message is gone.
  template <class Edit>
  Result<bool> rename_rec(FileLock& lock, Rec* r, Edit edit) {
    uint32_t uid = r->uid;
    for (int attempt = 0; attempt < 2; ++attempt) {
      MessageName n = parse_message_name(r->file);
      edit(n);
      std::string nn = n.str();
      if (nn == r->file) return true;
      std::string from = st_->cur_dir() + "/" + r->file;
      if (::rename(from.c_str(), (st_->cur_dir() + "/" + nn).c_str()) == 0) {
        r->file = std::move(nn);
        r->save_date = -1;  // the derived ids are worked out again
        return true;
      }
      if (errno != ENOENT) return core::fail(io_error("rename", from, errno));
      // Renamed by an outside tool since we looked: list cur/ again.
      auto rf = st_->refresh_locked(lock, true, false);
      if (!rf) return core::fail(rf.error());
      ptrdiff_t i = st_->find(uid);
      if (i < 0) return false;
      r = &st_->recs[static_cast<size_t>(i)];
    }
    return false;
  }

  void diff(SyncResult* res) {
    const auto& recs = st_->recs;
    // Entries of a shared view are copied, of this handle's own moved.
    bool shared = view_.use_count() > 1;
    auto& view = *view_;
    auto nv = std::make_shared<std::vector<MessageMeta>>();
    nv->reserve(recs.size());
    uint32_t view_max = view.empty() ? 0 : view.back().uid;
    size_t i = 0, j = 0;
    while (i < view.size() || j < recs.size()) {
      if (j == recs.size() || (i < view.size() && view[i].uid < recs[j].uid)) {
        res->expunged.push_back(view[i].uid);
        ++i;
      } else if (i == view.size() || recs[j].uid < view[i].uid) {
        if (recs[j].uid > view_max) {
          res->added.push_back(recs[j].uid);
          nv->push_back(st_->meta(recs[j]));
        }
        ++j;
      } else {
        if (view[i].modseq != recs[j].modseq) {
          res->flags_changed.push_back(recs[j].uid);
          nv->push_back(st_->meta(recs[j]));
        } else {
          carry(*nv, view[i], shared);
        }
        ++i;
        ++j;
      }
    }
    view_ = std::move(nv);
    gen_ = st_->gen;
    uidnext_ = std::max(uidnext_, st_->uidnext);
    hms_ = std::max(hms_, st_->hms);
  }

 public:
  Result<void> expunge_internal(const std::vector<uint32_t>& want) {
    Listeners cbs;
    {
      std::lock_guard<std::mutex> g(st_->mu);
      if (st_->gone) return fail(Errc::kNotFound, "mailbox no longer exists");
      if (want.empty()) return {};
      auto done = st_->expunge_uids(want);
      if (!done) return core::fail(done.error());
      if (!done->empty()) {
        bool shared = view_.use_count() > 1;
        auto nv = std::make_shared<std::vector<MessageMeta>>();
        nv->reserve(view_->size());
        for (auto& m : *view_) {
          if (!std::binary_search(done->begin(), done->end(), m.uid)) carry(*nv, m, shared);
        }
        view_ = std::move(nv);
        hms_ = std::max(hms_, st_->hms);
        cbs = st_->callbacks_except(slot_.get());
      }
    }
    notify(cbs);
    return {};
  }

  std::shared_ptr<MailboxState> st_;
  bool ro_;
  std::shared_ptr<HandleSlot> slot_;
  // This handle's messages: the state's snapshot until this handle changes
  // something, then its own copy (own_view).
  std::shared_ptr<std::vector<MessageMeta>> view_ = std::make_shared<std::vector<MessageMeta>>();
  uint32_t uidvalidity_ = 0;
  uint32_t uidnext_ = 1;
  uint64_t hms_ = 0;
  uint64_t gen_ = 0;
};

// --- Append -------------------------------------------------------------------------------

class AppendTxImpl final : public AppendTx {
 public:
  AppendTxImpl(std::shared_ptr<MailboxState> st, std::string tmp_path, std::string base, int fd,
               uint32_t flags, std::vector<std::string> keywords, int64_t date)
      : st_(std::move(st)),
        tmp_path_(std::move(tmp_path)),
        base_(std::move(base)),
        fd_(fd),
        flags_(flags),
        keywords_(std::move(keywords)),
        date_(date) {}
  ~AppendTxImpl() override {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_path_.c_str());
  }

  Result<void> write(std::string_view bytes) override {
    if (fd_ < 0 || failed_) return fail(Errc::kIo, "append already finished or failed");
    if (!write_all_fd(fd_, bytes.data(), bytes.size())) {
      failed_ = true;
      return core::fail(io_error("write", tmp_path_, errno));
    }
    counter_.feed(bytes.data(), bytes.size());
    return {};
  }

  Result<uint32_t> commit() override {
    if (fd_ < 0 || failed_) return fail(Errc::kIo, "append already finished or failed");
    int64_t date = date_ > 0 ? date_ : now_seconds();
    struct timespec ts[2] = {{date, 0}, {date, 0}};
    bool ok = true;
    int e = 0;
    if (st_->opts().fsync && ::fsync(fd_) != 0) {
      ok = false;
      e = errno;
    }
    if (ok && ::futimens(fd_, ts) != 0) {
      ok = false;
      e = errno;
    }
    if (::close(fd_) != 0 && ok) {
      ok = false;
      e = errno;
    }
    fd_ = -1;
    if (!ok) {
      failed_ = true;
      return core::fail(io_error("write", tmp_path_, e));
    }
    Listeners cbs;
    auto uid = st_->commit_append(tmp_path_, base_, counter_.raw(), counter_.crlf(), flags_,
                                  keywords_, &cbs);
    if (!uid) {
      failed_ = true;
      return uid;
    }
    committed_ = true;
    notify(cbs);
    // A mailbox no session has open stays loaded after a delivery, as after
    // its last session closed it (keep_warm): the next delivery to it then
    // reads no index and lists no directory. Its index is written at most
    // every kIndexWriteInterval, and when the state is dropped.
    bool idle = false;
    size_t messages = 0;
    {
      std::lock_guard<std::mutex> g(st_->mu);
      idle = st_->handles.empty() && st_->loaded && !st_->gone;
      messages = st_->recs.size();
      if (idle) st_->maybe_write_index(false);
    }
    if (idle) keep_warm(st_, messages);
    return uid;
  }

 private:
  std::shared_ptr<MailboxState> st_;
  std::string tmp_path_;
  std::string base_;
  int fd_;
  uint32_t flags_;
  std::vector<std::string> keywords_;
  int64_t date_;
  CrlfCounter counter_;
  bool committed_ = false;
  bool failed_ = false;
};

// --- Lease --------------------------------------------------------------------------------

class LeaseImpl final : public Lease {
 public:
  LeaseImpl(std::shared_ptr<Shared> s, std::string key) : s_(std::move(s)), key_(std::move(key)) {}
  ~LeaseImpl() override {
    std::lock_guard<std::mutex> g(s_->mu);
    s_->leases.erase(key_);
  }

 private:
  std::shared_ptr<Shared> s_;
  std::string key_;
};

// --- Mailbox cache (store/maildir/cache.h) ----------------------------------------------

std::atomic<size_t> g_mailbox_cache_limit{500000};

// Keeps `st` loaded after its last handle closed, evicting the least recently
// closed mailboxes beyond the budget. Evicted states are released outside the
// registry lock: their destructors may write an index file.
void keep_warm(const std::shared_ptr<MailboxState>& st, size_t messages) {
  Shared& s = *st->acct->shared;
  const size_t limit = g_mailbox_cache_limit.load(std::memory_order_relaxed);
  std::vector<std::shared_ptr<MailboxState>> evicted;
  {
    std::lock_guard<std::mutex> g(s.mu);
    if (auto it = s.warm_pos.find(st.get()); it != s.warm_pos.end()) {
      s.warm_cost -= it->second->second;
      evicted.push_back(std::move(it->second->first));
      s.warm.erase(it->second);
      s.warm_pos.erase(it);
    }
    const size_t cost = messages + kMailboxCacheEntryCost;
    if (cost <= limit) {
      s.warm.emplace_front(st, cost);
      s.warm_pos[st.get()] = s.warm.begin();
      s.warm_cost += cost;
    }
    while (s.warm_cost > limit && !s.warm.empty()) {
      auto& [victim, c] = s.warm.back();
      s.warm_cost -= c;
      s.warm_pos.erase(victim.get());
      evicted.push_back(std::move(victim));
      s.warm.pop_back();
    }
  }
}

// --- Account ------------------------------------------------------------------------------

// The live state of a mailbox directory if one exists in this process.
std::shared_ptr<MailboxState> live_state(Shared& s, const std::string& dir) {
  std::lock_guard<std::mutex> g(s.mu);
  auto it = s.states.find(dir);
  if (it == s.states.end()) return nullptr;
  auto st = it->second.lock();
  if (!st || st->gone) return nullptr;
  return st;
}

Result<std::shared_ptr<MailboxState>> get_state(const std::shared_ptr<AccountShared>& a,
                                                std::string_view name) {
  auto rn = resolve_name(name);
  if (!rn) return core::fail(rn.error());
  auto& [canon, folder] = *rn;
  std::string dir = folder.empty() ? a->root : a->root + "/" + folder;
  if (!is_dir(dir + "/cur")) return fail(Errc::kNotFound, "no mailbox " + canon);
  Shared& s = *a->shared;
  std::lock_guard<std::mutex> g(s.mu);
  auto& slot = s.states[dir];
  auto st = slot.lock();
  if (!st || st->gone) {
    st = std::make_shared<MailboxState>(a, canon, folder);
    slot = st;
    if (++s.inserts % 256 == 0) {
      for (auto it = s.states.begin(); it != s.states.end();) {
        it = it->second.expired() ? s.states.erase(it) : std::next(it);
      }
    }
  }
  return st;
}

class AccountImpl final : public Account {
 public:
  explicit AccountImpl(std::shared_ptr<AccountShared> a) : a_(std::move(a)) {}

  // Folders are directories of the root, and the subscriptions and
  // special-use files are replaced there by rename.
  std::vector<std::string> watch_paths() const override { return {a_->root}; }

  Result<void> ensure_defaults(const SpecialUseNames& names) override {
    const std::pair<SpecialUse, const std::string*> want[] = {
        {SpecialUse::kDrafts, &names.drafts},
        {SpecialUse::kSent, &names.sent},
        {SpecialUse::kTrash, &names.trash},
        {SpecialUse::kJunk, &names.junk},
        {SpecialUse::kArchive, &names.archive}};
    // Mailboxes that exist: their marks are checked with one read of the
    // special-use file (this runs at every login).
    std::vector<std::pair<std::string, SpecialUse>> existing;
    for (const auto& [use, nm] : want) {
      if (nm->empty()) continue;
      auto rn = resolve_name(*nm);
      if (!rn) return core::fail(rn.error());
      if (rn->second.empty()) continue;  // INBOX
      if (!is_dir(a_->root + "/" + rn->second + "/cur")) {
        auto c = create_mailbox(rn->first, use);
        if (!c && c.error().code != Errc::kAlreadyExists) return c;
        if (c) {
          auto s = set_subscribed(rn->first, true);
          if (!s) return s;
        }
        continue;
      }
      existing.emplace_back(rn->first, use);
    }
    if (existing.empty()) return {};
    std::lock_guard<std::mutex> g(a_->mu);
    auto marks = read_special_use();
    bool changed = false;
    for (const auto& [name, use] : existing) {
      bool taken = false;
      for (const auto& [n, u] : marks) taken = taken || u == use;
      auto it = marks.find(name);
      if (!taken && (it == marks.end() || it->second == SpecialUse::kNone)) {
        marks[name] = use;
        changed = true;
      }
    }
    if (changed) return write_special_use(marks);
    return {};
  }

  Result<std::vector<MailboxInfo>> list_mailboxes() override {
    std::vector<std::string> entries;
    if (!list_dir(a_->root, &entries, true)) return core::fail(io_error("list", a_->root, errno));
    std::set<std::string> real{"INBOX"};
    for (const auto& e : entries) {
      if (e[0] != '.') continue;
      auto n = mailbox_for_folder(e);
      if (!n || !is_dir(a_->root + "/" + e + "/cur")) continue;
      real.insert(*n);
    }
    std::set<std::string> all = real;
    for (const auto& n : real) {
      for (auto& anc : mailbox_ancestors(n)) all.insert(std::move(anc));
    }
    std::map<std::string, SpecialUse> marks;
    std::set<std::string> subs;
    {
      std::lock_guard<std::mutex> g(a_->mu);
      marks = read_special_use();
      auto s = read_subscriptions();
      subs.insert(s.begin(), s.end());
    }
    std::vector<MailboxInfo> out;
    for (const auto& n : all) {
      MailboxInfo i;
      i.name = n;
      i.noselect = real.count(n) == 0;
      auto it = marks.find(n);
      if (it != marks.end() && !i.noselect) i.special_use = it->second;
      i.subscribed = subs.count(n) != 0;
      auto next = all.upper_bound(n);
      i.has_children = next != all.end() && is_descendant_mailbox(*next, n);
      out.push_back(std::move(i));
    }
    // INBOX first, the rest in byte order.
    std::stable_partition(out.begin(), out.end(),
                          [](const MailboxInfo& i) { return i.name == "INBOX"; });
    return out;
  }

  Result<std::unique_ptr<Mailbox>> open_mailbox(const std::string& name, bool ro) override {
    auto st = get_state(a_, name);
    if (!st) return core::fail(st.error());
    auto h = std::make_unique<MailboxImpl>(*st, ro);
    Listeners cbs;
    {
      std::lock_guard<std::mutex> g((*st)->mu);
      auto r = (*st)->refresh(false);
      if (!r) return core::fail(r.error());
      if (*r) cbs = (*st)->callbacks_except(nullptr);
      h->attach();
    }
    notify(cbs);
    return std::unique_ptr<Mailbox>(std::move(h));
  }

  Result<MailboxStatus> mailbox_status(const std::string& name) override {
    auto rn = resolve_name(name);
    if (!rn) return core::fail(rn.error());
    const std::string& folder = rn->second;
    std::string dir = folder.empty() ? a_->root : a_->root + "/" + folder;
    if (auto st = live_state(*a_->shared, dir)) return status_from_state(st);
    if (auto fast = status_from_index(dir, folder)) return *fast;
    auto st = get_state(a_, name);
    if (!st) return core::fail(st.error());
    return status_from_state(*st);
  }

  Result<void> create_mailbox(const std::string& name, SpecialUse use) override {
    auto rn = resolve_name(name);
    if (!rn) return core::fail(rn.error());
    auto& [canon, folder] = *rn;
    if (folder.empty()) return fail(Errc::kAlreadyExists, "INBOX always exists");
    auto d = ensure_dirs();
    if (!d) return d;
    std::lock_guard<std::mutex> g(a_->mu);
    if (path_exists(a_->root + "/" + folder)) {
      return fail(Errc::kAlreadyExists, "mailbox " + canon + " exists");
    }
    auto p = create_ancestors_locked(canon);
    if (!p) return p;
    return create_locked(canon, folder, use);
  }

  Result<void> delete_mailbox(const std::string& name) override {
    auto rn = resolve_name(name);
    if (!rn) return core::fail(rn.error());
    auto& [canon, folder] = *rn;
    if (folder.empty()) return fail(Errc::kNoPermission, "INBOX cannot be deleted");
    std::string target = a_->root + "/" + folder;
    {
      std::lock_guard<std::mutex> g(a_->mu);
      if (!is_dir(target + "/cur")) return fail(Errc::kNotFound, "no mailbox " + canon);
      // Its messages leave the quota: maildirsize is recalculated (rare).
      QuotaLock quota;
      quota.lock(a_->root, false);
      // Moved out of sight first (atomic), then removed.
      std::string trash = a_->root + "/tmp/roost-rmdir." + a_->shared->unique_base();
      if (::rename(target.c_str(), trash.c_str()) != 0) {
        return core::fail(io_error("rename", target, errno));
      }
      quota_invalidate(a_->root);
      if (a_->shared->opts.fsync) (void)fsync_dir(a_->root);
      remove_tree(trash);
      ::unlink((a_->index_dir + "/" + folder + ".idx").c_str());
      ::unlink((a_->index_dir + "/" + folder + ".hdr").c_str());
      auto marks = read_special_use();
      if (marks.erase(canon) > 0) (void)write_special_use(marks);
    }
    forget_states({target});
    return {};
  }

  Result<void> rename_mailbox(const std::string& from, const std::string& to) override {
    auto rf = resolve_name(from);
    if (!rf) return core::fail(rf.error());
    auto rt = resolve_name(to);
    if (!rt) return core::fail(rt.error());
    auto& [from_name, from_folder] = *rf;
    auto& [to_name, to_folder] = *rt;
    if (to_folder.empty()) return fail(Errc::kAlreadyExists, "INBOX always exists");
    if (to_name == from_name) return fail(Errc::kAlreadyExists, "same name");
    if (is_descendant_mailbox(to_name, from_name)) {
      return fail(Errc::kNoPermission, "cannot rename a mailbox into itself");
    }
    if (from_folder.empty()) return rename_inbox(to_name);
    std::vector<std::string> entries;
    if (!list_dir(a_->root, &entries, true)) return core::fail(io_error("list", a_->root, errno));
    std::vector<std::pair<std::string, std::string>> moves;  // folder -> folder
    {
      std::lock_guard<std::mutex> g(a_->mu);
      // A quota walk must not miss folders being renamed (quota.h).
      QuotaLock quota;
      quota.lock(a_->root, false);
      for (const auto& e : entries) {
        if (e == from_folder ||
            (e.size() > from_folder.size() + 1 &&
             e.compare(0, from_folder.size(), from_folder) == 0 && e[from_folder.size()] == '.')) {
          if (!mailbox_for_folder(e)) continue;
          std::string t = to_folder + e.substr(from_folder.size());
          if (t.size() > kMaxFolderName) return fail(Errc::kInvalidName, "new name too long");
          moves.emplace_back(e, t);
        }
      }
      if (moves.empty()) return fail(Errc::kNotFound, "no mailbox " + from_name);
      for (const auto& [f, t] : moves) {
        if (path_exists(a_->root + "/" + t)) {
          return fail(Errc::kAlreadyExists, "mailbox " + to_name + " exists");
        }
      }
      auto p = create_ancestors_locked(to_name);
      if (!p) return p;
      for (const auto& [f, t] : moves) {
        std::string src = a_->root + "/" + f;
        if (::rename(src.c_str(), (a_->root + "/" + t).c_str()) != 0) {
          return core::fail(io_error("rename", src, errno));
        }
        ::rename((a_->index_dir + "/" + f + ".idx").c_str(),
                 (a_->index_dir + "/" + t + ".idx").c_str());
        ::rename((a_->index_dir + "/" + f + ".hdr").c_str(),
                 (a_->index_dir + "/" + t + ".hdr").c_str());
      }
      if (a_->shared->opts.fsync) (void)fsync_dir(a_->root);
      auto marks = read_special_use();
      std::map<std::string, SpecialUse> out;
      for (const auto& [n, u] : marks) {
        if (n == from_name) {
          out[to_name] = u;
        } else if (is_descendant_mailbox(n, from_name)) {
          out[to_name + n.substr(from_name.size())] = u;
        } else {
          out[n] = u;
        }
      }
      if (out != marks) (void)write_special_use(out);
    }
    std::vector<std::string> dirs;
    for (const auto& [f, t] : moves) dirs.push_back(a_->root + "/" + f);
    forget_states(dirs);
    return {};
  }

  Result<void> set_subscribed(const std::string& name, bool subscribed) override {
    auto v = validate_mailbox_name(name);
    if (!v) return v;
    std::string canon = canonical_mailbox_name(name);
    std::lock_guard<std::mutex> g(a_->mu);
    FileLock lock;
    std::string lp = a_->root + "/" + kAccountLockFile;
    if (!lock.lock(lp)) return core::fail(io_error("lock", lp, errno));
    auto subs = read_subscriptions();
    auto it = std::find(subs.begin(), subs.end(), canon);
    if ((it != subs.end()) == subscribed) return {};
    if (subscribed) {
      subs.push_back(canon);
    } else {
      subs.erase(it);
    }
    std::string content;
    for (const auto& s : subs) content += s + "\n";
    return write_file_atomic(a_->root + "/" + kSubscriptionsFile, content, a_->shared->opts.fsync);
  }

  Result<std::vector<std::string>> subscriptions() override {
    std::lock_guard<std::mutex> g(a_->mu);
    return read_subscriptions();
  }

  Result<std::string> mailbox_id(const std::string& name) override {
    auto rn = resolve_name(name);
    if (!rn) return core::fail(rn.error());
    const std::string& folder = rn->second;
    if (folder.empty()) {
      auto d = ensure_dirs();
      if (!d) return core::fail(d.error());
    }
    std::string dir = folder.empty() ? a_->root : a_->root + "/" + folder;
    if (!is_dir(dir + "/cur")) return fail(Errc::kNotFound, "no mailbox " + rn->first);
    return mailbox_id_of_dir(dir, a_->shared->unique_base(), a_->shared->opts.fsync);
  }

  Result<std::unique_ptr<AppendTx>> begin_append(const std::string& mailbox, uint32_t flags,
                                                 std::vector<std::string> keywords,
                                                 int64_t internal_date) override {
    auto st = get_state(a_, mailbox);
    if (!st) return core::fail(st.error());
    normalize_keywords(keywords);
    std::string base = a_->shared->unique_base();
    std::string path = (*st)->tmp_dir() + "/" + base;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return core::fail(io_error("create", path, errno));
    return std::unique_ptr<AppendTx>(
        std::make_unique<AppendTxImpl>(*st, std::move(path), std::move(base), fd, flags & kAllFlags,
                                       std::move(keywords), internal_date));
  }

  // From maildirsize (store/maildir/quota.h, docs/QUOTA.md).
  Result<QuotaUsage> quota_usage() override {
    std::optional<QuotaLimits> limits;
    {
      std::lock_guard<std::mutex> g(a_->quota_mu);
      limits = a_->quota_limits;
    }
    return quota_read(a_->root, limits, a_->shared->opts.fsync);
  }

  void set_quota_limits(const QuotaLimits& limits) override {
    std::lock_guard<std::mutex> g(a_->quota_mu);
    a_->quota_limits = limits;
  }

  Result<std::unique_ptr<Lease>> try_lease(std::string_view name) override {
    Shared& s = *a_->shared;
    std::string key = a_->root + '\0' + std::string(name);
    std::lock_guard<std::mutex> g(s.mu);
    if (!s.leases.insert(key).second) return fail(Errc::kLocked, "lease held by another session");
    return std::unique_ptr<Lease>(std::make_unique<LeaseImpl>(a_->shared, std::move(key)));
  }

  Result<void> ensure_dirs() {
    std::lock_guard<std::mutex> g(a_->mu);
    if (a_->dirs_ok) return {};
    std::error_code ec;
    std::filesystem::create_directories(a_->root, ec);
    if (ec) return fail(Errc::kIo, "mkdir " + a_->root + ": " + ec.message());
    for (const char* sub : {"/cur", "/new", "/tmp"}) {
      auto m = make_dir(a_->root + sub);
      if (!m) return m;
    }
    a_->dirs_ok = true;
    return {};
  }

 private:
  // a_->mu held. Parents are real mailboxes, so every name in the hierarchy
  // can hold messages.
  Result<void> create_ancestors_locked(const std::string& canon) {
    for (const auto& anc : mailbox_ancestors(canon)) {
      if (anc == "INBOX") continue;
      auto f = folder_for_mailbox(anc);
      if (!f) return fail(Errc::kInvalidName, "mailbox name too long or not encodable");
      if (path_exists(a_->root + "/" + *f)) continue;
      auto c = create_locked(anc, *f, SpecialUse::kNone);
      if (!c) return c;
    }
    return {};
  }

  // a_->mu held; the folder does not exist.
  Result<void> create_locked(const std::string& canon, const std::string& folder, SpecialUse use) {
    std::string target = a_->root + "/" + folder;
    auto v = a_->new_uidvalidity_locked();
    if (!v) return core::fail(v.error());
    // Built in tmp/ and renamed into place: it appears whole or not at all.
    std::string staging = a_->root + "/tmp/roost-mkdir." + a_->shared->unique_base();
    bool sync = a_->shared->opts.fsync;
    auto cleanup = [&](Error e) -> Result<void> {
      remove_tree(staging);
      return core::fail(std::move(e));
    };
    for (const char* sub : {"", "/cur", "/new", "/tmp"}) {
      auto m = make_dir(staging + sub);
      if (!m) return cleanup(m.error());
    }
    auto w = write_file_atomic(staging + "/" + kFolderMarker, "", false);
    if (!w) return cleanup(w.error());
    w = write_file_atomic(staging + "/" + kUidsFile, "roost-uids 1\n" + std::to_string(*v) + " 1\n",
                          sync);
    if (!w) return cleanup(w.error());
    w = write_file_atomic(staging + "/" + kMailboxIdFile, new_mailbox_id() + "\n", sync);
    if (!w) return cleanup(w.error());
    if (::rename(staging.c_str(), target.c_str()) != 0) {
      int e = errno;
      if (e == EEXIST || e == ENOTEMPTY) {
        return cleanup(make_error(Errc::kAlreadyExists, "mailbox " + canon + " exists"));
      }
      return cleanup(io_error("rename", target, e));
    }
    if (sync) (void)fsync_dir(a_->root);
    ::unlink((a_->index_dir + "/" + folder + ".idx").c_str());
    ::unlink((a_->index_dir + "/" + folder + ".hdr").c_str());
    auto marks = read_special_use();
    bool changed = marks.erase(canon) > 0;
    if (use != SpecialUse::kNone) {
      marks[canon] = use;
      changed = true;
    }
    if (changed) return write_special_use(marks);
    return {};
  }

  Result<MailboxStatus> status_from_state(const std::shared_ptr<MailboxState>& st) {
    Listeners cbs;
    MailboxStatus s;
    {
      std::lock_guard<std::mutex> g(st->mu);
      auto r = st->refresh(false);
      if (!r) return core::fail(r.error());
      if (*r) cbs = st->callbacks_except(nullptr);
      s = st->status_of();
    }
    notify(cbs);
    return s;
  }

  // Status from the index header alone, when it is provably current.
  std::optional<MailboxStatus> status_from_index(const std::string& dir,
                                                 const std::string& folder) {
    DirStamp c;
    if (!stat_dir(dir + "/cur", &c) || !c.settled) return std::nullopt;
    auto h = read_index_header(a_->index_dir + "/" + (folder.empty() ? "INBOX" : folder) + ".idx");
    if (!h || !h->cur.settled || !h->cur.same_dir_state(c)) return std::nullopt;
    // Same change sequence in the lock file (no other process wrote since).
    uint64_t seq = 0;
    if (auto l = read_small_file(dir + "/" + kLockFile, 64); l && l->size() >= 8) {
      for (int i = 7; i >= 0; --i) seq = (seq << 8) | static_cast<unsigned char>((*l)[i]);
    }
    if (seq != h->lock_seq) return std::nullopt;
    auto u = read_small_file(dir + "/" + kUidsFile, 4096);
    if (!u) return std::nullopt;
    std::string expect_prefix = "roost-uids 1\n" + std::to_string(h->uidvalidity) + " ";
    if (u->compare(0, expect_prefix.size(), expect_prefix) != 0) return std::nullopt;
    std::vector<std::string> fresh;
    if (!list_dir(dir + "/new", &fresh) || !fresh.empty()) return std::nullopt;
    MailboxStatus s;
    s.messages = h->count;
    s.unseen = h->unseen;
    s.deleted = h->deleted;
    s.uidvalidity = h->uidvalidity;
    uint64_t floor = 0;
    for (size_t i = expect_prefix.size(); i < u->size() && (*u)[i] >= '0' && (*u)[i] <= '9'; ++i) {
      floor = floor * 10 + static_cast<uint64_t>((*u)[i] - '0');
    }
    s.uidnext = static_cast<uint32_t>(std::max<uint64_t>(h->uidnext, floor));
    s.highest_modseq = h->highest_modseq;
    s.size = h->total_size;
    return s;
  }

  Result<void> rename_inbox(const std::string& to_name) {
    auto c = create_mailbox(to_name, SpecialUse::kNone);
    if (!c) return c;
    auto inbox = get_state(a_, "INBOX");
    if (!inbox) return core::fail(inbox.error());
    auto dest = get_state(a_, to_name);
    if (!dest) return core::fail(dest.error());
    std::vector<CopyItem> items;
    {
      std::lock_guard<std::mutex> g((*inbox)->mu);
      auto r = (*inbox)->refresh(false);
      if (!r) return core::fail(r.error());
      for (const auto& rec : (*inbox)->recs) {
        CopyItem it;
        it.src_uid = rec.uid;
        it.src_file = rec.file;
        it.flags = rec.flags;
        it.keywords = (*inbox)->keyword_names(rec.kw);
        it.size = rec.size;
        it.date = rec.date;
        items.push_back(std::move(it));
      }
    }
    Listeners cbs;
    auto copied = (*dest)->copy_in(items, (*inbox)->cur_dir(), nullptr, nullptr, &cbs);
    notify(cbs);
    if (!copied) return core::fail(copied.error());
    std::vector<uint32_t> uids;
    for (const auto& it : items) uids.push_back(it.src_uid);
    {
      std::lock_guard<std::mutex> g((*inbox)->mu);
      auto e = (*inbox)->expunge_uids(uids);
      if (!e) return core::fail(e.error());
      cbs = (*inbox)->callbacks_except(nullptr);
    }
    notify(cbs);
    return {};
  }

  // After a delete or rename: live states of these directories are gone.
  void forget_states(const std::vector<std::string>& dirs) {
    for (const auto& d : dirs) {
      std::shared_ptr<MailboxState> st;
      {
        std::lock_guard<std::mutex> g(a_->shared->mu);
        auto it = a_->shared->states.find(d);
        if (it == a_->shared->states.end()) continue;
        st = it->second.lock();
        a_->shared->states.erase(it);
      }
      if (!st) continue;
      Listeners cbs;
      {
        std::lock_guard<std::mutex> g(st->mu);
        st->mark_gone();
        cbs = st->callbacks_except(nullptr);
      }
      notify(cbs);
    }
  }

  // a_->mu held for these.
  std::map<std::string, SpecialUse> read_special_use() {
    std::map<std::string, SpecialUse> out;
    auto s = read_small_file(a_->root + "/" + kSpecialUseFile, 1 << 20);
    if (!s) return out;
    for (const auto& line : split_lines(*s)) {
      size_t sp = line.find(' ');
      if (sp == std::string::npos) continue;
      SpecialUse u = use_of_word(std::string_view(line).substr(0, sp));
      std::string n = line.substr(sp + 1);
      if (u == SpecialUse::kNone || !validate_mailbox_name(n)) continue;
      out[canonical_mailbox_name(n)] = u;
    }
    return out;
  }

  Result<void> write_special_use(const std::map<std::string, SpecialUse>& marks) {
    std::string content;
    for (const auto& [n, u] : marks) {
      if (u == SpecialUse::kNone) continue;
      content += std::string(use_word(u)) + " " + n + "\n";
    }
    return write_file_atomic(a_->root + "/" + kSpecialUseFile, content, a_->shared->opts.fsync);
  }

  std::vector<std::string> read_subscriptions() {
    std::vector<std::string> out;
    auto s = read_small_file(a_->root + "/" + kSubscriptionsFile, 1 << 22);
    if (!s) return out;
    std::set<std::string> seen;
    for (auto& line : split_lines(*s)) {
      if (!validate_mailbox_name(line)) continue;
      std::string c = canonical_mailbox_name(line);
      if (seen.insert(c).second) out.push_back(std::move(c));
    }
    return out;
  }

  std::shared_ptr<AccountShared> a_;
};

Result<std::vector<std::pair<uint32_t, uint32_t>>> MailboxImpl::copy_to(
    std::span<const uint32_t> uids, const std::string& dest, bool move,
    uint32_t* dest_uidvalidity) {
  if (move && ro_) return fail(Errc::kNoPermission, "mailbox is read-only");
  auto dst = get_state(st_->acct, dest);
  if (!dst) return core::fail(dst.error());
  std::vector<CopyItem> items;
  {
    std::lock_guard<std::mutex> g(st_->mu);
    if (st_->gone) return fail(Errc::kNotFound, "mailbox no longer exists");
    std::vector<uint32_t> sorted(uids.begin(), uids.end());
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    for (uint32_t uid : sorted) {
      ptrdiff_t i = st_->find(uid);
      if (i < 0) continue;
      const Rec& r = st_->recs[static_cast<size_t>(i)];
      CopyItem it;
      it.src_uid = uid;
      it.src_file = r.file;
      it.flags = r.flags;
      it.keywords = st_->keyword_names(r.kw);
      it.size = r.size;
      it.date = r.date;
      items.push_back(std::move(it));
    }
  }
  Listeners cbs;
  uint32_t validity = 0;
  auto copied = (*dst)->copy_in(items, st_->cur_dir(), slot_.get(), &validity, &cbs);
  notify(cbs);
  if (!copied) return core::fail(copied.error());
  if (dest_uidvalidity) *dest_uidvalidity = validity;
  std::vector<std::pair<uint32_t, uint32_t>> out;
  for (size_t k = 0; k < items.size(); ++k) out.emplace_back(items[k].src_uid, (*copied)[k]);
  if (move && !items.empty()) {
    std::vector<uint32_t> src;
    for (const auto& it : items) src.push_back(it.src_uid);
    auto e = expunge_internal(src);
    if (!e) return core::fail(e.error());
  }
  return out;
}

// --- Store ---------------------------------------------------------------------------------

bool valid_path_part(std::string_view s) {
  if (s.empty() || s.size() > 255 || s[0] == '.') return false;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F || c == '/' || c == '\\') return false;
  }
  return true;
}

class MaildirStore final : public Store {
 public:
  explicit MaildirStore(const MaildirOptions& opts) : s_(std::make_shared<Shared>()) {
    s_->opts = opts;
    char host[256] = {0};
    ::gethostname(host, sizeof host - 1);
    s_->host = sanitize_host(host);
  }
  // Warm mailboxes refer back to the registry through their account: let
  // them go (writing what is dirty) so nothing outlives the store.
  ~MaildirStore() override {
    decltype(s_->warm) warm;
    {
      std::lock_guard<std::mutex> g(s_->mu);
      warm.swap(s_->warm);
      s_->warm_pos.clear();
      s_->warm_cost = 0;
    }
  }

  Result<std::shared_ptr<Account>> open_account(std::string_view domain,
                                                std::string_view user) override {
    if (!valid_path_part(domain) || !valid_path_part(user)) {
      return fail(Errc::kInvalidName, "invalid domain or user for a mail path");
    }
    if (s_->opts.path_template.empty() || s_->opts.path_template[0] != '/' ||
        s_->opts.index_dir.empty() || s_->opts.index_dir[0] != '/') {
      return fail(Errc::kIo, "maildir store paths must be absolute");
    }
    std::string root = account_root(s_->opts.path_template, domain, user);
    std::shared_ptr<AccountShared> a;
    {
      std::lock_guard<std::mutex> g(s_->mu);
      auto& slot = s_->accounts[root];
      a = slot.lock();
      if (!a) {
        a = std::make_shared<AccountShared>();
        a->shared = s_;
        a->root = root;
        a->index_dir = s_->opts.index_dir + "/" + std::string(domain) + "/" + std::string(user);
        slot = a;
      }
    }
    auto acct = std::make_shared<AccountImpl>(a);
    auto d = acct->ensure_dirs();
    if (!d) return core::fail(d.error());
    return std::shared_ptr<Account>(std::move(acct));
  }

 private:
  std::shared_ptr<Shared> s_;
};

}  // namespace
}  // namespace maildir

void maildir::set_mailbox_cache_limit(size_t messages) {
  maildir::g_mailbox_cache_limit.store(messages, std::memory_order_relaxed);
}

size_t maildir::mailbox_cache_limit() {
  return maildir::g_mailbox_cache_limit.load(std::memory_order_relaxed);
}

std::unique_ptr<Store> make_maildir_store(const MaildirOptions& options) {
  return std::make_unique<maildir::MaildirStore>(options);
}

}  // namespace store
