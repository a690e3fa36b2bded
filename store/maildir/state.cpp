#include "store/maildir/state.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/metrics/metrics.h"
#include "store/maildir/debug.h"
#include "store/maildir/quota.h"
#include "store/store_util.h"

namespace store::maildir {

namespace {

std::atomic<uint64_t> g_base_counter{0};
std::atomic<uint64_t> g_message_reads{0};
std::atomic<uint64_t> g_cur_scans{0};
std::atomic<uint64_t> g_index_loads{0};
std::atomic<uint64_t> g_index_writes{0};

auto fail(Errc c, std::string m) {
  return core::fail(make_error(c, std::move(m)));
}

std::optional<uint64_t> parse_num(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

// Finds the current name of a message in `cur` whose name before ':' is
// `prefix` (an outside tool may have renamed it to change flags).
std::optional<std::string> find_by_prefix(const std::string& cur, std::string_view prefix) {
  std::vector<std::string> names;
  if (!list_dir(cur, &names)) return std::nullopt;
  for (auto& n : names) {
    if (n.size() > prefix.size() && n.compare(0, prefix.size(), prefix) == 0 &&
        n[prefix.size()] == ':') {
      return n;
    }
    if (n == prefix) return n;
  }
  return std::nullopt;
}

std::string_view name_prefix(std::string_view file) {
  return file.substr(0, file.find(':'));
}

// Copies a file into dir/tmp, syncs it and returns its temporary path.
Result<std::string> copy_to_tmp(const std::string& src, const std::string& tmp_dir,
                                const std::string& base, int64_t date, bool sync) {
  int in = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return core::fail(io_error("open", src, errno));
  std::string dst = tmp_dir + "/" + base;
  int out = ::open(dst.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (out < 0) {
    int e = errno;
    ::close(in);
    return core::fail(io_error("create", dst, e));
  }
  char buf[65536];
  bool ok = true;
  int e = 0;
  while (true) {
    ssize_t r = ::read(in, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      ok = false;
      e = errno;
      break;
    }
    if (r == 0) break;
    if (!write_all_fd(out, buf, static_cast<size_t>(r))) {
      ok = false;
      e = errno;
      break;
    }
  }
  if (ok && sync && ::fsync(out) != 0) {
    ok = false;
    e = errno;
  }
  if (ok) {
    struct timespec ts[2] = {{date, 0}, {date, 0}};
    ::futimens(out, ts);
  }
  ::close(in);
  if (::close(out) != 0 && ok) {
    ok = false;
    e = errno;
  }
  if (!ok) {
    ::unlink(dst.c_str());
    return core::fail(io_error("copy", dst, e));
  }
  return dst;
}

}  // namespace

Counters counters() {
  Counters c;
  c.message_reads = g_message_reads.load();
  c.cur_scans = g_cur_scans.load();
  c.index_loads = g_index_loads.load();
  c.index_writes = g_index_writes.load();
  return c;
}

std::string Shared::unique_base() const {
  struct timeval tv;
  ::gettimeofday(&tv, nullptr);
  return std::to_string(tv.tv_sec) + ".M" + std::to_string(tv.tv_usec) + "P" +
         std::to_string(::getpid()) + "Q" + std::to_string(g_base_counter.fetch_add(1) + 1) + "." +
         host;
}

Result<uint32_t> AccountShared::new_uidvalidity() {
  std::lock_guard<std::mutex> g(mu);
  return new_uidvalidity_locked();
}

Result<uint32_t> AccountShared::new_uidvalidity_locked() {
  FileLock lock;
  std::string lp = root + "/" + kAccountLockFile;
  if (!lock.lock(lp)) return core::fail(io_error("lock", lp, errno));
  std::string path = root + "/" + kUidValidityFile;
  uint64_t last = 0;
  if (auto s = read_small_file(path, 64)) {
    std::string_view v = *s;
    while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.remove_suffix(1);
    last = parse_num(v).value_or(0);
  }
  uint64_t next = std::max<uint64_t>(static_cast<uint64_t>(now_seconds()), last + 1);
  if (next > 0xFFFFFFFEull) next = 1;  // only after the year 2106
  auto w = write_file_atomic(path, std::to_string(next) + "\n", shared->opts.fsync);
  if (!w) return core::fail(w.error());
  return static_cast<uint32_t>(next);
}

MailboxState::MailboxState(std::shared_ptr<AccountShared> a, std::string n, std::string f)
    : acct(std::move(a)), name(std::move(n)), folder(std::move(f)) {
  dir = folder.empty() ? acct->root : acct->root + "/" + folder;
  index_path = acct->index_dir + "/" + (folder.empty() ? std::string("INBOX") : folder) + ".idx";
  hcache.set_path(index_path.substr(0, index_path.size() - 4) + ".hdr");
  expunged.configure(dir, opts().fsync, opts().expunge_memory_seconds);
}

MailboxState::~MailboxState() {
  if (!loaded || !dirty || gone) return;
  FileLock lock;
  if (!lock.lock(lock_path())) return;
  bool damaged = false;
  auto u = read_uids(&damaged);
  if (u && u->first == uidvalidity) write_index_locked();
}

void MailboxState::mark_gone() {
  gone = true;
  recs.clear();
  dirty = false;
  ++gen;
}

std::optional<std::pair<uint32_t, uint32_t>> MailboxState::read_uids(bool* damaged) const {
  *damaged = false;
  auto s = read_small_file(dir + "/" + kUidsFile, 4096);
  if (!s) {
    *damaged = errno != ENOENT;
    return std::nullopt;
  }
  // "roost-uids 1\n<uidvalidity> <next uid>\n"
  std::string_view v = *s;
  constexpr std::string_view kHead = "roost-uids 1\n";
  if (v.substr(0, kHead.size()) != kHead) {
    *damaged = true;
    return std::nullopt;
  }
  v.remove_prefix(kHead.size());
  size_t sp = v.find(' ');
  size_t nl = v.find('\n');
  if (sp == std::string_view::npos || nl == std::string_view::npos || sp > nl) {
    *damaged = true;
    return std::nullopt;
  }
  auto a = parse_num(v.substr(0, sp));
  auto b = parse_num(v.substr(sp + 1, nl - sp - 1));
  if (!a || !b || *a == 0 || *a > 0xFFFFFFFFull || *b == 0 || *b > 0xFFFFFFFFull) {
    *damaged = true;
    return std::nullopt;
  }
  return std::make_pair(static_cast<uint32_t>(*a), static_cast<uint32_t>(*b));
}

Result<void> MailboxState::write_uids(uint32_t validity, uint32_t next) {
  return write_file_atomic(
      dir + "/" + kUidsFile,
      "roost-uids 1\n" + std::to_string(validity) + " " + std::to_string(next) + "\n",
      opts().fsync);
}

void MailboxState::load_keywords() {
  auto s = read_small_file(dir + "/" + kKeywordsFile, 65536);
  if (!s) return;  // keep what we know; rewritten with the next new keyword
  std::array<std::string, kMaxKeywords> kw;
  std::string_view v = *s;
  while (!v.empty()) {
    size_t nl = v.find('\n');
    std::string_view line = v.substr(0, nl);
    v = nl == std::string_view::npos ? std::string_view() : v.substr(nl + 1);
    if (line.size() < 3 || line[0] < 'a' || line[0] > 'z' || line[1] != ' ') continue;
    std::string_view k = line.substr(2);
    if (!is_valid_keyword(k)) continue;
    kw[static_cast<size_t>(line[0] - 'a')] = std::string(k);
  }
  keywords = std::move(kw);
}

uint32_t MailboxState::known_keyword_mask() const {
  uint32_t m = 0;
  for (size_t i = 0; i < kMaxKeywords; ++i) {
    if (!keywords[i].empty()) m |= 1u << i;
  }
  return m;
}

std::vector<std::string> MailboxState::keyword_names(uint32_t bits) const {
  std::vector<std::string> out;
  for (size_t i = 0; i < kMaxKeywords; ++i) {
    if ((bits & (1u << i)) && !keywords[i].empty()) out.push_back(keywords[i]);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<uint32_t> MailboxState::keyword_bits(const std::vector<std::string>& names, bool create) {
  uint32_t bits = 0;
  bool reloaded = false;
  bool added = false;
  for (const auto& k : names) {
    if (!is_valid_keyword(k)) continue;  // not an atom: never stored
    auto find_kw = [&]() -> int {
      for (size_t i = 0; i < kMaxKeywords; ++i) {
        if (!keywords[i].empty() && equals_ignore_case(keywords[i], k)) return static_cast<int>(i);
      }
      return -1;
    };
    int i = find_kw();
    if (i < 0 && create && !reloaded) {
      load_keywords();  // another process may have added it
      reloaded = true;
      i = find_kw();
    }
    if (i < 0 && create) {
      for (size_t j = 0; j < kMaxKeywords; ++j) {
        if (keywords[j].empty()) {
          keywords[j] = k;
          i = static_cast<int>(j);
          added = true;
          break;
        }
      }
      if (i < 0) {
        return fail(Errc::kNoPermission, "too many keywords in mailbox " + name + " (at most 26)");
      }
    }
    if (i >= 0) bits |= 1u << i;
  }
  if (added) {
    std::string content;
    for (size_t i = 0; i < kMaxKeywords; ++i) {
      if (keywords[i].empty()) continue;
      content += static_cast<char>('a' + i);
      content += ' ';
      content += keywords[i];
      content += '\n';
    }
    auto w = write_file_atomic(dir + "/" + kKeywordsFile, content, opts().fsync);
    if (!w) {
      load_keywords();
      return core::fail(w.error());
    }
  }
  return bits;
}

ptrdiff_t MailboxState::find(uint32_t uid) const {
  auto it = std::lower_bound(recs.begin(), recs.end(), uid,
                             [](const Rec& r, uint32_t u) { return r.uid < u; });
  if (it == recs.end() || it->uid != uid) return -1;
  return it - recs.begin();
}

MessageMeta MailboxState::meta(const Rec& r) const {
  MessageMeta m;
  m.uid = r.uid;
  m.flags = r.flags;
  m.keywords = keyword_names(r.kw);
  m.size = r.size;
  m.internal_date = r.date;
  m.modseq = r.modseq;
  m.hidden = r.hidden;
  if (r.save_date < 0) {
    std::string_view f = r.file;
    std::string_view base = f.substr(0, f.find_first_of(",:"));
    r.uidl = uidl_for_base(base);
    // SAVEDATE and EMAILID come from the name, so they survive the index.
    r.save_date = save_date_from_base(base).value_or(r.date);
    r.email_id = email_id_for_file(f);
  }
  m.uidl = r.uidl;
  m.save_date = r.save_date;
  m.email_id = r.email_id;
  return m;
}

std::shared_ptr<std::vector<MessageMeta>> MailboxState::current_snapshot() {
  if (!snapshot || snapshot_gen != gen) {
    auto v = std::make_shared<std::vector<MessageMeta>>();
    v->reserve(recs.size());
    for (const auto& r : recs) v->push_back(meta(r));
    snapshot = std::move(v);
    snapshot_gen = gen;
  }
  return snapshot;
}

MailboxStatus MailboxState::status_of() const {
  MailboxStatus s;
  s.messages = static_cast<uint32_t>(recs.size());
  for (const auto& r : recs) {
    if (!(r.flags & kSeen)) ++s.unseen;
    if (r.flags & kDeleted) ++s.deleted;
    s.size += r.size;
  }
  s.uidvalidity = uidvalidity;
  s.uidnext = uidnext;
  s.highest_modseq = hms;
  return s;
}

Listeners MailboxState::callbacks_except(const HandleSlot* self) const {
  Listeners out;
  for (const auto& h : handles) {
    if (h.get() != self) out.push_back(h);
  }
  return out;
}

void notify(const Listeners& listeners) {
  for (const auto& l : listeners) {
    std::lock_guard<std::mutex> g(l->mu);
    if (l->cb) l->cb();
  }
}

Result<void> MailboxState::ensure_loaded() {
  if (gone) return fail(Errc::kNotFound, "mailbox " + name + " no longer exists");
  if (loaded) return {};
  FileLock lock;
  if (!lock.lock(lock_path())) {
    int e = errno;
    if (e == ENOENT) mark_gone();
    return core::fail(io_error("lock", lock_path(), e));
  }
  return load_locked(lock);
}

Result<void> MailboxState::load_locked(FileLock& lock) {
  DirStamp c;
  if (!stat_dir(cur_dir(), &c)) {
    int e = errno;
    if (e == ENOENT || e == ENOTDIR) mark_gone();
    return core::fail(io_error("stat", cur_dir(), e));
  }
  bool damaged = false;
  auto u = read_uids(&damaged);
  IndexHeader h;
  std::vector<IndexEntry> ents;
  bool have = read_index(index_path, &h, &ents);
  if (have) ++g_index_loads;
  if (u) {
    uidvalidity = u->first;
    floor = u->second;
  } else {
    // A new mailbox, or one whose roost-uids file was lost: keep the index's
    // UIDVALIDITY when there is one, else this is a new UID space.
    if (have) {
      uidvalidity = h.uidvalidity;
      floor = h.uidnext;
    } else {
      auto v = acct->new_uidvalidity();
      if (!v) return core::fail(v.error());
      uidvalidity = *v;
      floor = 1;
    }
    auto w = write_uids(uidvalidity, floor);
    if (!w) return w;
  }
  if (have && h.uidvalidity != uidvalidity) have = false;
  load_keywords();
  uint64_t time_floor = time_modseq();
  recs.clear();
  if (have) {
    recs.reserve(ents.size());
    for (auto& e : ents) {
      Rec r;
      r.uid = e.uid;
      r.flags = e.flags;
      r.kw = e.keyword_bits;
      r.hidden = e.hidden;
      r.size = e.size;
      r.date = e.internal_date;
      r.modseq = e.modseq;
      r.file = std::move(e.file_name);
      recs.push_back(std::move(r));
    }
    uidnext = std::max(h.uidnext, floor);
    hms = h.highest_modseq;
    cur_stamp = h.cur;
    seq_ = h.lock_seq;
    // A stale index may predate modseqs this mailbox already handed out.
    if (!(h.cur.settled && c.same_dir_state(h.cur) && h.lock_seq == lock.read_seq())) {
      hms = std::max(hms, time_floor);
    }
  } else {
    uidnext = floor;
    hms = time_floor;
    cur_stamp = DirStamp{};
  }
  // QRESYNC: the expunges remembered since the floor; modseqs on record are
  // never handed out again.
  expunged.load(uidvalidity, hms, now_seconds());
  hms = std::max(hms, expunged.max_modseq());
  new_known = false;
  loaded = true;
  last_index_write = now_seconds();
  auto r = refresh_locked(lock, false, !have);
  if (!r) {
    loaded = false;
    recs.clear();
    return core::fail(r.error());
  }
  if (!have) {
    core::metrics::index_rebuilds().inc();
    // Rebuilt without an index: what was expunged while nobody looked is
    // unknowable, so the memory starts at the new HIGHESTMODSEQ.
    expunged.reset(uidvalidity, hms);
    dirty = true;
  }
  return {};
}

Result<bool> MailboxState::refresh(bool force_cur_scan) {
  if (!loaded) {
    const int64_t started = steady_ms();
    auto l = ensure_loaded();
    if (!l) return core::fail(l.error());
    checked_ms = started;
    return true;
  }
  if (gone) return fail(Errc::kNotFound, "mailbox " + name + " no longer exists");
  // Taken before looking: whatever changes after this moment is for the
  // next check to find.
  const int64_t started = steady_ms();
  if (!force_cur_scan && cur_stamp.settled && new_known && new_stamp.settled) {
    DirStamp c, n;
    if (stat_dir(cur_dir(), &c) && stat_dir(new_dir(), &n) && c.same_dir_state(cur_stamp) &&
        n.same_dir_state(new_stamp)) {
      checked_ms = started;
      return false;
    }
  }
  FileLock lock;
  if (!lock.lock(lock_path())) {
    int e = errno;
    if (e == ENOENT) mark_gone();
    return core::fail(io_error("lock", lock_path(), e));
  }
  auto r = refresh_locked(lock, force_cur_scan, false);
  if (r) checked_ms = started;
  return r;
}

uint64_t MailboxState::scan_modseq() {
  if (scan_ms_ == 0) scan_ms_ = ++hms;
  return scan_ms_;
}

Result<uint32_t> MailboxState::alloc_uid() {
  uidnext = std::max(uidnext, floor);
  if (uidnext >= 0xFFFFFFFFu) return fail(Errc::kCorrupt, "UID space of " + name + " exhausted");
  return uidnext++;
}

Result<bool> MailboxState::refresh_locked(FileLock& lock, bool force_cur_scan, bool rebuild) {
  scan_ms_ = 0;
  // Another Roost process changed cur/ since we last looked: exact, whatever
  // the timestamp granularity.
  uint64_t seq = lock.read_seq();
  bool others = seq != seq_;
  seq_ = seq;
  DirStamp c, n;
  if (!stat_dir(cur_dir(), &c) || !stat_dir(new_dir(), &n)) {
    int e = errno;
    if (e == ENOENT || e == ENOTDIR) mark_gone();
    return core::fail(io_error("stat", dir, e));
  }
  bool changed = false;
  bool damaged = false;
  bool new_space = false;
  auto u = read_uids(&damaged);
  if (!u) {
    // Removed or damaged by an outside tool: put back what we know.
    floor = std::max(floor, uidnext);
    auto w = write_uids(uidvalidity, floor);
    if (!w) return core::fail(w.error());
  } else if (u->first != uidvalidity) {
    // Deleted and created again by another process: a new UID space.
    uidvalidity = u->first;
    floor = uidnext = u->second;
    recs.clear();
    keywords = {};
    hms = std::max(hms, time_modseq());
    rebuild = true;
    new_space = true;
    changed = true;
    ++gen;
    dirty = true;
  } else {
    floor = u->second;
    uidnext = std::max(uidnext, floor);
  }
  int64_t now = now_seconds();
  bool same_cur = c.same_dir_state(cur_stamp);
  bool do_cur = rebuild || force_cur_scan || others || !same_cur ||
                (!cur_stamp.settled && !cur_own_ && now - last_cur_scan_ >= kRescanSeconds);
  if (!do_cur && cur_own_ && c.settled) {
    // Only Roost changes this Maildir and nothing did since its own change:
    // the stamp is trusted as if cur/ had been listed.
    cur_own_ = false;
    cur_stamp = c;
    dirty = true;
  }
  bool do_new = !new_known || !new_stamp.settled || !n.same_dir_state(new_stamp);
  bool touched_cur = false;
  members_changed_ = false;
  if (do_cur) {
    load_keywords();
    last_cur_scan_ = now;
    cur_own_ = false;
    auto r = scan_cur(rebuild, &touched_cur);
    if (!r) return r;
    changed = changed || *r;
    // A listing that found cur/ settled lets the index say so: without
    // this, an index written while cur/ was still changing would make every
    // later load list cur/ again although nothing changed.
    if (c.settled && !cur_stamp.settled) dirty = true;
    cur_stamp = c;
  }
  if (do_new) {
    bool touched_new = false;
    auto r = scan_new(&touched_new);
    if (!r) return r;
    changed = changed || *r;
    new_stamp = n;
    new_known = true;
    if (touched_new) {
      touched_cur = true;
      if (stat_dir(new_dir(), &n)) {
        new_stamp = n;
        new_stamp.settled = false;
      }
    }
  }
  // Only scans set touched_cur so far: a file numbered from new/, or one
  // without a UID in cur/, came from an outside tool; files that came or
  // went while no other Roost process changed cur/ (the lock sequence) too.
  // Such changes are not in maildirsize: make the next reader recalculate.
  if (touched_cur || (members_changed_ && !others)) quota_invalidate_nowait(acct->root);
  if (touched_cur) after_own_change(lock, true);
  if (new_space) expunged.reset(uidvalidity, hms);
  if (changed) {
    ++gen;
    dirty = true;
  }
  return changed;
}

bool MailboxState::fill_from_file(const std::string& path, const MessageName& m, Rec* r,
                                  uint64_t* raw) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  r->date = st.st_mtim.tv_sec;
  *raw = static_cast<uint64_t>(st.st_size);
  if (auto w = m.crlf_size()) {
    r->size = *w;
  } else {
    uint64_t rs = 0, cs = 0;
    ++g_message_reads;
    if (!count_file(path, &rs, &cs)) return false;
    r->size = cs;
    *raw = rs;
  }
  r->flags = flags_from_info(m.info);
  r->kw = keyword_bits_from_info(m.info) & known_keyword_mask();
  r->hidden = m.hidden();
  return true;
}

Result<bool> MailboxState::scan_cur(bool rebuild, bool* touched_cur) {
  std::vector<std::string> names;
  if (!list_dir(cur_dir(), &names)) {
    int e = errno;
    if (e == ENOENT) mark_gone();
    return core::fail(io_error("list", cur_dir(), e));
  }
  ++g_cur_scans;
  std::vector<char> seen(recs.size(), 0);
  std::vector<std::string> unmatched;
  {
    std::unordered_map<std::string_view, size_t> by_file;
    by_file.reserve(recs.size() * 2);
    for (size_t i = 0; i < recs.size(); ++i) by_file.emplace(recs[i].file, i);
    for (auto& nm : names) {
      auto it = by_file.find(nm);
      if (it != by_file.end() && !seen[it->second]) {
        seen[it->second] = 1;
      } else {
        unmatched.push_back(std::move(nm));
      }
    }
  }
  bool all_seen = std::all_of(seen.begin(), seen.end(), [](char s) { return s != 0; });
  if (unmatched.empty() && all_seen) return false;
  std::sort(unmatched.begin(), unmatched.end());

  struct Pending {
    std::string file;
    MessageName m;
  };
  std::vector<std::pair<size_t, std::string>> renamed;
  std::vector<Pending> adopted, fresh;
  std::set<uint32_t> adopted_uids;
  for (auto& nm : unmatched) {
    MessageName m = parse_message_name(nm);
    if (m.base.empty()) continue;  // not a message file name
    if (auto u = m.uid()) {
      ptrdiff_t i = find(*u);
      if (i >= 0) {
        if (!seen[static_cast<size_t>(i)]) {
          seen[static_cast<size_t>(i)] = 1;
          renamed.emplace_back(static_cast<size_t>(i), nm);
          continue;
        }
      } else if ((rebuild || *u >= uidnext) && adopted_uids.insert(*u).second) {
        adopted.push_back({nm, std::move(m)});
        continue;
      }
    }
    fresh.push_back({nm, std::move(m)});
  }

  bool changed = false;
  uint32_t mask = known_keyword_mask();
  for (auto& [i, nm] : renamed) {
    Rec& r = recs[i];
    MessageName m = parse_message_name(nm);
    uint32_t nf = flags_from_info(m.info);
    uint32_t nk = keyword_bits_from_info(m.info) & mask;
    bool nh = m.hidden();
    if (nf != r.flags || nk != r.kw || nh != r.hidden) {
      r.flags = nf;
      r.kw = nk;
      r.hidden = nh;
      r.modseq = scan_modseq();
      changed = true;
    }
    if (auto w = m.crlf_size()) r.size = *w;
    r.file = nm;
    r.save_date = -1;  // the derived ids are worked out again
  }
  std::vector<Rec> kept;
  kept.reserve(recs.size() + adopted.size() + fresh.size());
  std::vector<uint32_t> removed;
  for (size_t i = 0; i < recs.size(); ++i) {
    if (seen[i]) {
      kept.push_back(std::move(recs[i]));
    } else {
      changed = true;  // removed by an outside tool (or another process)
      members_changed_ = true;
      removed.push_back(recs[i].uid);
    }
  }
  // An expunge like any other for QRESYNC: a new modseq, remembered.
  if (!removed.empty()) expunged.record(std::move(removed), scan_modseq(), now_seconds());
  for (auto& p : adopted) {
    Rec r;
    uint64_t raw = 0;
    if (!fill_from_file(cur_dir() + "/" + p.file, p.m, &r, &raw)) continue;
    r.uid = *p.m.uid();
    r.file = p.file;
    r.modseq = scan_modseq();
    uidnext = std::max(uidnext, r.uid + 1);
    kept.push_back(std::move(r));
    changed = true;
    members_changed_ = true;
  }
  uidnext = std::max(uidnext, floor);
  for (auto& p : fresh) {
    MessageName m = p.m;
    // A second file claiming a known UID is a copy: it gets its own base, so
    // its UIDL differs from the original's.
    if (p.m.uid()) {
      m.set_field('E', p.m.email_id());  // a copy keeps its EMAILID
      m.base = acct->shared->unique_base();
    }
    auto r = number_into_cur(cur_dir() + "/" + p.file, std::move(m));
    if (!r) return core::fail(r.error());
    if (!*r) continue;
    *touched_cur = true;
    kept.push_back(std::move(**r));
    changed = true;
  }
  std::sort(kept.begin(), kept.end(), [](const Rec& a, const Rec& b) { return a.uid < b.uid; });
  recs = std::move(kept);
  return changed;
}

// Gives a message file the next UID and renames it into cur/ with its UID
// and sizes in the name. nullopt when the file vanished or could not be
// renamed (an outside tool got there first; a later scan sees it again).
Result<std::optional<Rec>> MailboxState::number_into_cur(const std::string& path, MessageName m) {
  Rec r;
  uint64_t raw = 0;
  if (!fill_from_file(path, m, &r, &raw)) return std::optional<Rec>();
  auto uid = alloc_uid();
  if (!uid) return core::fail(uid.error());
  if (!m.raw_size()) m.set_field('S', std::to_string(raw));
  if (!m.crlf_size()) m.set_field('W', std::to_string(r.size));
  m.set_field('U', std::to_string(*uid));
  std::string nn = m.str();
  if (::rename(path.c_str(), (cur_dir() + "/" + nn).c_str()) != 0) return std::optional<Rec>();
  r.uid = *uid;
  r.file = std::move(nn);
  r.modseq = scan_modseq();
  return std::optional<Rec>(std::move(r));
}

Result<bool> MailboxState::scan_new(bool* touched_new) {
  std::vector<std::string> names;
  if (!list_dir(new_dir(), &names)) {
    int e = errno;
    if (e == ENOENT) mark_gone();
    return core::fail(io_error("list", new_dir(), e));
  }
  if (names.empty()) return false;
  std::sort(names.begin(), names.end());
  bool changed = false;
  for (const auto& nm : names) {
    MessageName m = parse_message_name(nm);
    if (m.base.empty()) continue;
    auto r = number_into_cur(new_dir() + "/" + nm, std::move(m));
    if (!r) return core::fail(r.error());
    if (!*r) continue;
    *touched_new = true;
    recs.push_back(std::move(**r));
    changed = true;
  }
  return changed;
}

void MailboxState::after_own_change(FileLock& lock, bool sync_dir) {
  if (sync_dir && opts().fsync) (void)fsync_dir(cur_dir());
  // Tell other processes; if one changed cur/ since we last listed it, keep
  // our old number so that our next refresh lists cur/ again.
  uint64_t seq = lock.read_seq();
  lock.write_seq(seq + 1);
  seq_ = seq == seq_ ? seq + 1 : seq;
  DirStamp c;
  if (stat_dir(cur_dir(), &c)) {
    cur_stamp = c;
  }
  // Changes by others in the same tick as ours would not show in the mtime:
  // the next refresh lists cur/ again. Other Roost processes show in the
  // lock's sequence; with store.exclusive nobody else changes cur/, so a
  // refresh that finds this same stamp once it settled need not list it.
  cur_stamp.settled = false;
  cur_own_ = opts().exclusive && seq_ == seq + 1;
}

bool MailboxState::write_index_locked() {
  IndexHeader h;
  h.uidvalidity = uidvalidity;
  h.uidnext = uidnext;
  h.highest_modseq = hms;
  h.cur = cur_stamp;
  h.lock_seq = seq_;
  std::vector<IndexEntry> ents;
  ents.reserve(recs.size());
  for (const auto& r : recs) {
    IndexEntry e;
    e.uid = r.uid;
    e.flags = r.flags;
    e.hidden = r.hidden;
    e.keyword_bits = r.kw;
    e.size = r.size;
    e.internal_date = r.date;
    e.modseq = std::min(r.modseq, hms);
    if (e.modseq == 0) e.modseq = 1;
    e.file_name = r.file;
    ents.push_back(std::move(e));
  }
  if (h.highest_modseq == 0) h.highest_modseq = 1;
  bool ok = write_index(index_path, h, ents, false);
  if (ok) {
    ++g_index_writes;
    dirty = false;
    last_index_write = now_seconds();
  }
  return ok;
}

void MailboxState::maybe_write_index(bool force) {
  if (!loaded || gone || !dirty) return;
  if (!force && now_seconds() - last_index_write < kIndexWriteInterval) return;
  FileLock lock;
  if (!lock.lock(lock_path())) return;
  write_index_locked();
}

Result<std::vector<uint32_t>> MailboxState::expunge_uids(const std::vector<uint32_t>& uids) {
  std::vector<uint32_t> done;
  if (gone) return fail(Errc::kNotFound, "mailbox " + name + " no longer exists");
  std::vector<uint32_t> targets;
  for (uint32_t u : uids) {
    if (find(u) >= 0) targets.push_back(u);
  }
  if (targets.empty()) return done;
  std::sort(targets.begin(), targets.end());
  targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
  QuotaLock quota;  // before the mailbox lock (store/maildir/quota.h)
  quota.lock(acct->root, false);
  FileLock lock;
  if (!lock.lock(lock_path())) return core::fail(io_error("lock", lock_path(), errno));
  // The UID floor must exceed every expunged UID before its file goes, or a
  // rebuild after losing the index could hand the UID out again.
  bool damaged = false;
  auto u = read_uids(&damaged);
  if (u && u->first == uidvalidity) floor = std::max(floor, u->second);
  if (targets.back() >= floor || !u) {
    uint32_t nf = std::max(floor, uidnext);
    auto w = write_uids(uidvalidity, nf);
    if (!w) return core::fail(w.error());
    floor = nf;
  }
  std::vector<uint32_t> missing;
  int64_t freed_bytes = 0, freed = 0;
  bool quota_unsure = false;  // a file we did not remove ourselves
  for (uint32_t uid : targets) {
    ptrdiff_t i = find(uid);
    if (i < 0) continue;
    std::string p = cur_dir() + "/" + recs[static_cast<size_t>(i)].file;
    if (::unlink(p.c_str()) == 0) {
      freed_bytes += static_cast<int64_t>(recs[static_cast<size_t>(i)].size);
      ++freed;
      done.push_back(uid);
    } else if (errno != ENOENT) {
      quota_unsure = true;
      done.push_back(uid);
    } else {
      missing.push_back(uid);
    }
  }
  if (!missing.empty()) {
    // Renamed by an outside tool since we looked: find the new names.
    for (uint32_t uid : missing) {
      ptrdiff_t i = find(uid);
      auto cur = find_by_prefix(cur_dir(), name_prefix(recs[static_cast<size_t>(i)].file));
      if (cur && ::unlink((cur_dir() + "/" + *cur).c_str()) == 0) {
        freed_bytes += static_cast<int64_t>(recs[static_cast<size_t>(i)].size);
        ++freed;
      } else {
        quota_unsure = true;
      }
      done.push_back(uid);
    }
    std::sort(done.begin(), done.end());
  }
  std::vector<Rec> kept;
  kept.reserve(recs.size());
  size_t k = 0;
  for (auto& r : recs) {
    while (k < done.size() && done[k] < r.uid) ++k;
    if (k < done.size() && done[k] == r.uid) continue;
    kept.push_back(std::move(r));
  }
  recs = std::move(kept);
  if (!done.empty()) {
    ++hms;
    ++gen;
    dirty = true;
    after_own_change(lock, true);
    // After the unlinks and the fsync of cur/, still under the lock.
    expunged.record(done, hms, now_seconds());
  }
  if (quota.held()) {
    quota_record(acct->root, -freed_bytes, -freed);
    if (quota_unsure) quota_invalidate(acct->root);
  }
  return done;
}

Result<std::vector<uint32_t>> MailboxState::copy_in(const std::vector<CopyItem>& items,
                                                    const std::string& src_cur,
                                                    const HandleSlot* self, uint32_t* validity_out,
                                                    Listeners* cbs) {
  std::lock_guard<std::mutex> g(mu);
  auto l = ensure_loaded();
  if (!l) return core::fail(l.error());
  QuotaLock quota;  // before the mailbox lock (store/maildir/quota.h)
  quota.lock(acct->root, false);
  FileLock lock;
  if (!lock.lock(lock_path())) return core::fail(io_error("lock", lock_path(), errno));
  auto r = refresh_locked(lock, false, false);
  if (!r) return core::fail(r.error());
  if (*r) *cbs = callbacks_except(nullptr);
  if (validity_out) *validity_out = uidvalidity;
  std::vector<uint32_t> out;
  if (items.empty()) return out;
  std::vector<std::string> all_kw;
  for (const auto& it : items) all_kw.insert(all_kw.end(), it.keywords.begin(), it.keywords.end());
  auto kwb = keyword_bits(all_kw, true);
  if (!kwb) return core::fail(kwb.error());
  uint32_t mask = known_keyword_mask();
  std::vector<std::string> created;
  std::vector<Rec> added;
  auto rollback = [&](Error e) -> Result<std::vector<uint32_t>> {
    for (const auto& p : created) ::unlink(p.c_str());
    return core::fail(std::move(e));
  };
  for (const auto& it : items) {
    auto bits = keyword_bits(it.keywords, false);
    if (!bits) return rollback(bits.error());
    auto uid = alloc_uid();
    if (!uid) return rollback(uid.error());
    std::string src = src_cur + "/" + it.src_file;
    struct stat st;
    if (::stat(src.c_str(), &st) != 0) {
      auto now_name = find_by_prefix(src_cur, name_prefix(it.src_file));
      if (!now_name) return rollback(make_error(Errc::kNotFound, "message vanished during copy"));
      src = src_cur + "/" + *now_name;
      if (::stat(src.c_str(), &st) != 0) return rollback(io_error("stat", src, errno));
    }
    MessageName m;
    m.base = acct->shared->unique_base();
    m.set_field('S', std::to_string(st.st_size));
    m.set_field('W', std::to_string(it.size));
    m.set_field('U', std::to_string(*uid));
    m.set_field('E', email_id_for_file(it.src_file));  // copies keep the EMAILID
    m.info = merge_info("", it.flags, *bits, mask);
    std::string nn = m.str();
    std::string dst = cur_dir() + "/" + nn;
    if (::link(src.c_str(), dst.c_str()) != 0) {
      int e = errno;
      if (e != EXDEV && e != EPERM && e != EMLINK && e != ENOTSUP) {
        return rollback(io_error("link", dst, e));
      }
      auto tmp = copy_to_tmp(src, tmp_dir(), m.base, it.date, opts().fsync);
      if (!tmp) return rollback(tmp.error());
      if (::rename(tmp->c_str(), dst.c_str()) != 0) {
        int e2 = errno;
        ::unlink(tmp->c_str());
        return rollback(io_error("rename", dst, e2));
      }
    }
    created.push_back(dst);
    Rec rec;
    rec.uid = *uid;
    rec.flags = it.flags & kAllFlags;
    rec.kw = *bits;
    rec.size = it.size;
    rec.date = it.date;
    rec.file = std::move(nn);
    added.push_back(std::move(rec));
    out.push_back(*uid);
  }
  uint64_t ms = ++hms;
  int64_t added_bytes = 0;
  for (auto& rec : added) {
    added_bytes += static_cast<int64_t>(rec.size);
    rec.modseq = ms;
    recs.push_back(std::move(rec));
  }
  if (quota.held()) quota_record(acct->root, added_bytes, static_cast<int64_t>(out.size()));
  ++gen;
  dirty = true;
  after_own_change(lock, true);
  auto more = callbacks_except(self);
  cbs->insert(cbs->end(), more.begin(), more.end());
  return out;
}

Result<uint32_t> MailboxState::commit_append(const std::string& tmp_path, const std::string& base,
                                             uint64_t raw, uint64_t crlf, uint32_t flags,
                                             const std::vector<std::string>& kws, Listeners* cbs) {
  std::lock_guard<std::mutex> g(mu);
  auto l = ensure_loaded();
  if (!l) return core::fail(l.error());
  QuotaLock quota;  // before the mailbox lock (store/maildir/quota.h)
  quota.lock(acct->root, false);
  FileLock lock;
  if (!lock.lock(lock_path())) return core::fail(io_error("lock", lock_path(), errno));
  auto r = refresh_locked(lock, false, false);
  if (!r) return core::fail(r.error());
  auto bits = keyword_bits(kws, true);
  if (!bits) return core::fail(bits.error());
  auto uid = alloc_uid();
  if (!uid) return core::fail(uid.error());
  MessageName m;
  m.base = base;
  m.set_field('S', std::to_string(raw));
  m.set_field('W', std::to_string(crlf));
  m.set_field('U', std::to_string(*uid));
  m.info = merge_info("", flags, *bits, known_keyword_mask());
  std::string nn = m.str();
  std::string dst = cur_dir() + "/" + nn;
  if (::rename(tmp_path.c_str(), dst.c_str()) != 0)
    return core::fail(io_error("rename", dst, errno));
  if (quota.held()) quota_record(acct->root, static_cast<int64_t>(crlf), 1);
  struct stat st;
  Rec rec;
  rec.uid = *uid;
  rec.flags = flags & kAllFlags;
  rec.kw = *bits;
  rec.size = crlf;
  rec.date = ::stat(dst.c_str(), &st) == 0 ? st.st_mtim.tv_sec : now_seconds();
  rec.modseq = ++hms;
  rec.file = std::move(nn);
  recs.push_back(std::move(rec));
  ++gen;
  dirty = true;
  after_own_change(lock, true);
  *cbs = callbacks_except(nullptr);
  return *uid;
}

}  // namespace store::maildir
