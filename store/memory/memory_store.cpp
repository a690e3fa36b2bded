// The in-memory store backend: nothing survives the process. Used by tests and
// as the reference for the store contract (store/store.h).
//
// Locking: each account has one mutex (mailbox map, names, special-use marks,
// subscriptions, leases); each mailbox has one mutex (its messages, UID and
// modseq counters, listener list). The account mutex is always taken before a
// mailbox mutex; two mailbox mutexes are taken together with std::scoped_lock.
// Change callbacks run with no account or mailbox mutex held, under the
// listener's own mutex only, so that destroying a handle or replacing its
// callback waits for a callback that is running.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <utility>

#include "store/store.h"
#include "store/store_util.h"

namespace store {
namespace {

uint32_t new_uidvalidity() {
  static std::atomic<uint32_t> next{static_cast<uint32_t>(std::time(nullptr))};
  for (;;) {
    uint32_t v = next.fetch_add(1);
    if (v != 0) return v;
  }
}

// Object ids (RFC 8474) unique in this process: a per-process random start
// and a counter, so that a mailbox deleted and created again, or a new
// message, never gets an id used before.
std::string next_object_id(char prefix) {
  static std::atomic<uint64_t> next{(static_cast<uint64_t>(std::random_device{}()) << 24) ^
                                    static_cast<uint64_t>(std::time(nullptr))};
  uint64_t v = next.fetch_add(1);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(1, prefix);
  for (int s = 60; s >= 0; s -= 4) out += kHex[(v >> s) & 0xF];
  return out;
}

int64_t now_seconds() {
  return static_cast<int64_t>(std::time(nullptr));
}

template <class T>
Result<T> fail(Errc code, std::string message) {
  return core::fail(make_error(code, std::move(message)));
}

Result<void> fail_void(Errc code, std::string message) {
  return core::fail(make_error(code, std::move(message)));
}

// One per handle. The callback runs under `mu` so that a handle being
// destroyed (or clearing its callback) waits for a call in progress. The mutex
// is recursive and the callback is copied before the call, so a callback may
// replace or clear its own handle's callback.
struct Listener {
  std::recursive_mutex mu;
  ChangeCallback cb;

  void fire() {
    std::lock_guard<std::recursive_mutex> lock(mu);
    ChangeCallback copy = cb;
    if (copy) copy();
  }
};

using Listeners = std::vector<std::shared_ptr<Listener>>;

void fire_all(const Listeners& listeners) {
  for (const auto& l : listeners) l->fire();
}

struct Record {
  MessageMeta meta;
  std::shared_ptr<const std::string> data;
};

// The account's usage (Account::quota_usage), kept exact by every change:
// one per account, shared by its mailboxes.
struct UsageCounter {
  std::atomic<int64_t> bytes{0};
  std::atomic<int64_t> messages{0};
};

struct MailboxState {
  // Guarded by the account mutex.
  std::string name;
  SpecialUse special_use = SpecialUse::kNone;
  const std::string mailbox_id = next_object_id('F');  // MAILBOXID; kept by renames

  // Guarded by mu.
  std::mutex mu;
  uint32_t uidvalidity = new_uidvalidity();
  uint32_t uidnext = 1;
  uint64_t highest_modseq = 1;
  std::vector<Record> msgs;  // ascending UID
  bool deleted = false;
  std::vector<std::weak_ptr<Listener>> listeners;
  std::shared_ptr<UsageCounter> usage;  // the account's; set at creation

  void count_usage(int64_t bytes, int64_t messages) {
    if (!usage) return;
    usage->bytes += bytes;
    usage->messages += messages;
  }
  // QRESYNC: expunges (modseq, time, UIDs), oldest first, for this long;
  // asking for a modseq below the floor gets "unknown".
  struct Expunge {
    uint64_t modseq = 0;
    int64_t time = 0;
    std::vector<uint32_t> uids;
  };
  std::vector<Expunge> expunges;
  uint64_t expunge_floor = 0;
  int64_t expunge_memory = 30 * 86400;

  // With mu held: remembers an expunge and forgets the expired ones.
  void remember_expunge(std::vector<uint32_t> uids, uint64_t modseq) {
    if (uids.empty()) return;
    int64_t now = now_seconds();
    expunges.push_back(Expunge{modseq, now, std::move(uids)});
    size_t drop = 0;
    while (drop < expunges.size() &&
           (expunge_memory <= 0 || expunges[drop].time < now - expunge_memory)) {
      expunge_floor = std::max(expunge_floor, expunges[drop].modseq);
      ++drop;
    }
    expunges.erase(expunges.begin(), expunges.begin() + static_cast<ptrdiff_t>(drop));
  }

  // With mu held: every live listener but `except`; prunes dead ones.
  Listeners others(const Listener* except) {
    Listeners out;
    std::vector<std::weak_ptr<Listener>> live;
    for (auto& w : listeners) {
      if (auto l = w.lock()) {
        if (l.get() != except) out.push_back(l);
        live.push_back(std::move(w));
      }
    }
    listeners = std::move(live);
    return out;
  }

  // With mu held.
  Record* find(uint32_t uid) {
    auto it = std::lower_bound(msgs.begin(), msgs.end(), uid,
                               [](const Record& r, uint32_t u) { return r.meta.uid < u; });
    if (it == msgs.end() || it->meta.uid != uid) return nullptr;
    return &*it;
  }

  MailboxStatus status_locked() const {
    std::vector<MessageMeta> metas;
    metas.reserve(msgs.size());
    for (const auto& r : msgs) metas.push_back(r.meta);
    return compute_status(metas, uidvalidity, uidnext, highest_modseq);
  }
};

struct AccountState {
  std::mutex mu;
  std::map<std::string, std::shared_ptr<MailboxState>> boxes;  // canonical name -> state
  std::set<std::string> subscriptions;
  std::set<std::string> leases;
  std::shared_ptr<UsageCounter> usage = std::make_shared<UsageCounter>();

  int64_t expunge_memory = 30 * 86400;  // seconds; for every mailbox

  explicit AccountState(int64_t memory = 30 * 86400) : expunge_memory(memory) {
    add_locked("INBOX", SpecialUse::kNone);
  }

  std::shared_ptr<MailboxState> find_locked(const std::string& canonical) {
    auto it = boxes.find(canonical);
    return it == boxes.end() ? nullptr : it->second;
  }

  bool has_children_locked(const std::string& canonical) {
    auto it = boxes.lower_bound(canonical + "/");
    return it != boxes.end() && is_descendant_mailbox(it->first, canonical);
  }

  std::shared_ptr<MailboxState> add_locked(const std::string& canonical, SpecialUse use) {
    auto box = std::make_shared<MailboxState>();
    box->name = canonical;
    box->special_use = use;
    box->expunge_memory = expunge_memory;
    box->usage = usage;
    boxes[canonical] = box;
    return box;
  }

  // Creates the missing ancestors of a name as ordinary mailboxes.
  void add_ancestors_locked(const std::string& canonical) {
    for (const auto& parent : mailbox_ancestors(canonical)) {
      if (!boxes.count(parent)) add_locked(parent, SpecialUse::kNone);
    }
  }
};

Result<std::string> checked_name(std::string_view name) {
  auto v = validate_mailbox_name(name);
  if (!v) return core::fail(v.error());
  return canonical_mailbox_name(name);
}

std::vector<uint32_t> sorted_unique(std::span<const uint32_t> uids) {
  std::vector<uint32_t> out(uids.begin(), uids.end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// --- MessageStream ---------------------------------------------------------

class MemoryMessageStream final : public MessageStream {
 public:
  explicit MemoryMessageStream(std::shared_ptr<const std::string> data) : data_(std::move(data)) {}

  Result<size_t> read(char* buf, size_t n) override {
    size_t left = data_->size() - pos_;
    size_t k = std::min(n, left);
    if (k) std::memcpy(buf, data_->data() + pos_, k);
    pos_ += k;
    return k;
  }

  Result<void> seek(uint64_t offset) override {
    if (offset > data_->size()) return fail_void(Errc::kIo, "seek past the end of a message");
    pos_ = static_cast<size_t>(offset);
    return {};
  }

  uint64_t raw_size() const override { return data_->size(); }

 private:
  std::shared_ptr<const std::string> data_;
  size_t pos_ = 0;
};

// --- AppendTx --------------------------------------------------------------

class MemoryAppendTx final : public AppendTx {
 public:
  MemoryAppendTx(std::shared_ptr<MailboxState> box, uint32_t flags,
                 std::vector<std::string> keywords, int64_t internal_date)
      : box_(std::move(box)),
        flags_(flags & kAllFlags),
        keywords_(std::move(keywords)),
        internal_date_(internal_date) {
    normalize_keywords(keywords_);
  }

  Result<void> write(std::string_view bytes) override {
    if (done_) return fail_void(Errc::kIo, "append already committed");
    data_.append(bytes);
    size_.feed(bytes);
    return {};
  }

  Result<uint32_t> commit() override {
    if (done_) return fail<uint32_t>(Errc::kIo, "append already committed");
    Listeners to_wake;
    uint32_t uid;
    {
      std::lock_guard<std::mutex> lock(box_->mu);
      if (box_->deleted) return fail<uint32_t>(Errc::kNotFound, "mailbox was deleted");
      Record rec;
      uid = box_->uidnext++;
      rec.meta.uid = uid;
      rec.meta.flags = flags_;
      rec.meta.keywords = std::move(keywords_);
      rec.meta.size = size_.size();
      rec.meta.internal_date = internal_date_ != 0 ? internal_date_ : now_seconds();
      rec.meta.modseq = ++box_->highest_modseq;
      rec.meta.uidl = make_uidl(box_->uidvalidity, uid);
      rec.meta.save_date = now_seconds();
      rec.meta.email_id = next_object_id('M');
      rec.data = std::make_shared<const std::string>(std::move(data_));
      box_->count_usage(static_cast<int64_t>(rec.meta.size), 1);
      box_->msgs.push_back(std::move(rec));
      to_wake = box_->others(nullptr);
    }
    done_ = true;
    fire_all(to_wake);
    return uid;
  }

 private:
  std::shared_ptr<MailboxState> box_;
  uint32_t flags_;
  std::vector<std::string> keywords_;
  int64_t internal_date_;
  std::string data_;
  CrlfSizeCounter size_;
  bool done_ = false;
};

// --- Lease -----------------------------------------------------------------

class MemoryLease final : public Lease {
 public:
  MemoryLease(std::shared_ptr<AccountState> acct, std::string name)
      : acct_(std::move(acct)), name_(std::move(name)) {}
  ~MemoryLease() override {
    std::lock_guard<std::mutex> lock(acct_->mu);
    acct_->leases.erase(name_);
  }

 private:
  std::shared_ptr<AccountState> acct_;
  std::string name_;
};

// --- Mailbox ---------------------------------------------------------------

class MemoryMailbox final : public Mailbox {
 public:
  // Called with the account mutex held (box stays in place meanwhile).
  MemoryMailbox(std::shared_ptr<AccountState> acct, std::shared_ptr<MailboxState> box,
                std::string name, bool read_only)
      : acct_(std::move(acct)),
        box_(std::move(box)),
        name_(std::move(name)),
        read_only_(read_only),
        listener_(std::make_shared<Listener>()) {
    std::lock_guard<std::mutex> lock(box_->mu);
    box_->listeners.push_back(listener_);
    load_view_locked();
  }

  ~MemoryMailbox() override {
    {
      std::lock_guard<std::mutex> lock(box_->mu);
      auto& ls = box_->listeners;
      ls.erase(std::remove_if(ls.begin(), ls.end(),
                              [&](const std::weak_ptr<Listener>& w) {
                                auto l = w.lock();
                                return !l || l == listener_;
                              }),
               ls.end());
    }
    // Waits for a callback that is running now; none runs afterwards.
    std::lock_guard<std::recursive_mutex> lock(listener_->mu);
    listener_->cb = nullptr;
  }

  const std::string& name() const override { return name_; }
  bool read_only() const override { return read_only_; }

  Result<SyncResult> sync() override {
    std::lock_guard<std::mutex> lock(box_->mu);
    if (box_->deleted) {
      SyncResult r;
      for (const auto& m : view_) r.expunged.push_back(m.uid);
      view_.clear();
      data_.clear();
      return r;
    }
    std::vector<MessageMeta> old = std::move(view_);
    load_view_locked();
    return diff_views(old, view_);
  }

  const std::vector<MessageMeta>& messages() const override { return view_; }

  MailboxStatus status() const override {
    return compute_status(view_, uidvalidity_, uidnext_, highest_modseq_);
  }

  Result<std::unique_ptr<MessageStream>> open_message(uint32_t uid) override {
    size_t i = view_index(uid);
    if (i == kNone) return fail<std::unique_ptr<MessageStream>>(Errc::kNotFound, "no such message");
    return std::unique_ptr<MessageStream>(new MemoryMessageStream(data_[i]));
  }

  Result<std::vector<uint32_t>> store_flags(std::span<const uint32_t> uids,
                                            const FlagChange& change,
                                            std::vector<uint32_t>* failed) override {
    using R = std::vector<uint32_t>;
    if (read_only_) return fail<R>(Errc::kNoPermission, "mailbox is read-only");
    R modified;
    Listeners to_wake;
    {
      std::lock_guard<std::mutex> lock(box_->mu);
      if (box_->deleted) return fail<R>(Errc::kNotFound, "mailbox was deleted");
      uint64_t modseq = 0;
      for (uint32_t uid : sorted_unique(uids)) {
        Record* rec = box_->find(uid);
        if (!rec) continue;
        if (fails_unchanged_since(rec->meta, change)) {
          if (failed) failed->push_back(uid);
          continue;
        }
        MessageMeta meta = rec->meta;
        if (!apply_flag_change(meta, change)) continue;
        if (modseq == 0) modseq = ++box_->highest_modseq;
        meta.modseq = modseq;
        rec->meta = meta;
        update_view(meta);
        modified.push_back(uid);
      }
      if (modseq != 0) {
        highest_modseq_ = std::max(highest_modseq_, modseq);
        to_wake = box_->others(listener_.get());
      }
    }
    fire_all(to_wake);
    return modified;
  }

  Result<void> set_hidden(std::span<const uint32_t> uids, bool hidden) override {
    if (read_only_) return fail_void(Errc::kNoPermission, "mailbox is read-only");
    Listeners to_wake;
    {
      std::lock_guard<std::mutex> lock(box_->mu);
      if (box_->deleted) return fail_void(Errc::kNotFound, "mailbox was deleted");
      uint64_t modseq = 0;
      for (uint32_t uid : sorted_unique(uids)) {
        Record* rec = box_->find(uid);
        if (!rec || rec->meta.hidden == hidden) continue;
        if (modseq == 0) modseq = ++box_->highest_modseq;
        rec->meta.hidden = hidden;
        rec->meta.modseq = modseq;
        update_view(rec->meta);
      }
      if (modseq != 0) {
        highest_modseq_ = std::max(highest_modseq_, modseq);
        to_wake = box_->others(listener_.get());
      }
    }
    fire_all(to_wake);
    return {};
  }

  Result<void> expunge(std::span<const uint32_t> uids) override {
    if (read_only_) return fail_void(Errc::kNoPermission, "mailbox is read-only");
    Listeners to_wake;
    {
      std::lock_guard<std::mutex> lock(box_->mu);
      if (box_->deleted) return fail_void(Errc::kNotFound, "mailbox was deleted");
      if (remove_locked(*box_, sorted_unique(uids))) to_wake = box_->others(listener_.get());
    }
    fire_all(to_wake);
    return {};
  }

  Result<std::vector<std::pair<uint32_t, uint32_t>>> copy_to(std::span<const uint32_t> uids,
                                                             const std::string& dest, bool move,
                                                             uint32_t* dest_uidvalidity) override {
    using R = std::vector<std::pair<uint32_t, uint32_t>>;
    if (move && read_only_) return fail<R>(Errc::kNoPermission, "mailbox is read-only");
    auto dest_name = checked_name(dest);
    if (!dest_name) return core::fail(dest_name.error());
    std::shared_ptr<MailboxState> target;
    {
      std::lock_guard<std::mutex> lock(acct_->mu);
      target = acct_->find_locked(*dest_name);
    }
    if (!target) return fail<R>(Errc::kNotFound, "no such mailbox: " + *dest_name);
    bool same = target == box_;
    R pairs;
    Listeners to_wake;
    {
      std::unique_lock<std::mutex> l1(box_->mu, std::defer_lock);
      std::unique_lock<std::mutex> l2(target->mu, std::defer_lock);
      if (same) {
        l1.lock();
      } else {
        std::lock(l1, l2);
      }
      if (box_->deleted) return fail<R>(Errc::kNotFound, "mailbox was deleted");
      if (target->deleted) return fail<R>(Errc::kNotFound, "no such mailbox: " + *dest_name);
      if (dest_uidvalidity) *dest_uidvalidity = target->uidvalidity;
      std::vector<Record> added;
      std::vector<uint32_t> sources;
      uint64_t modseq = 0;
      for (uint32_t uid : sorted_unique(uids)) {
        Record* rec = box_->find(uid);
        if (!rec) continue;
        if (modseq == 0) modseq = ++target->highest_modseq;
        Record copy = *rec;
        copy.meta.uid = target->uidnext++;
        copy.meta.modseq = modseq;
        copy.meta.hidden = false;
        copy.meta.uidl = make_uidl(target->uidvalidity, copy.meta.uid);
        copy.meta.save_date = now_seconds();  // email_id stays the source's
        pairs.emplace_back(uid, copy.meta.uid);
        sources.push_back(uid);
        added.push_back(std::move(copy));
      }
      for (auto& rec : added) {
        target->count_usage(static_cast<int64_t>(rec.meta.size), 1);
        target->msgs.push_back(std::move(rec));
      }
      bool source_changed = false;
      if (move) source_changed = remove_locked(*box_, sources);
      if (!added.empty()) {
        to_wake = target->others(same ? listener_.get() : nullptr);
      }
      if (source_changed && !same) {
        Listeners more = box_->others(listener_.get());
        to_wake.insert(to_wake.end(), more.begin(), more.end());
      }
    }
    fire_all(to_wake);
    return pairs;
  }

  void on_change(ChangeCallback cb) override {
    std::lock_guard<std::recursive_mutex> lock(listener_->mu);
    listener_->cb = std::move(cb);
  }

  Result<std::optional<std::vector<uint32_t>>> expunged_since(uint64_t modseq) override {
    using R = std::optional<std::vector<uint32_t>>;
    std::lock_guard<std::mutex> lock(box_->mu);
    if (box_->deleted) return fail<R>(Errc::kNotFound, "mailbox was deleted");
    if (modseq < box_->expunge_floor) return R();
    std::vector<uint32_t> out;
    for (const auto& e : box_->expunges) {
      if (e.modseq <= modseq) continue;
      for (uint32_t uid : e.uids) {
        if (view_index(uid) == kNone) out.push_back(uid);  // still in the view: not yet synced
      }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return R(std::move(out));
  }

 private:
  static constexpr size_t kNone = static_cast<size_t>(-1);

  // With box mu held.
  void load_view_locked() {
    view_.clear();
    data_.clear();
    view_.reserve(box_->msgs.size());
    data_.reserve(box_->msgs.size());
    for (const auto& r : box_->msgs) {
      view_.push_back(r.meta);
      data_.push_back(r.data);
    }
    uidvalidity_ = box_->uidvalidity;
    uidnext_ = box_->uidnext;
    highest_modseq_ = box_->highest_modseq;
  }

  size_t view_index(uint32_t uid) const {
    auto it = std::lower_bound(view_.begin(), view_.end(), uid,
                               [](const MessageMeta& m, uint32_t u) { return m.uid < u; });
    if (it == view_.end() || it->uid != uid) return kNone;
    return static_cast<size_t>(it - view_.begin());
  }

  void update_view(const MessageMeta& meta) {
    size_t i = view_index(meta.uid);
    if (i != kNone) view_[i] = meta;
  }

  // With box mu held: removes the given UIDs (sorted) from the mailbox and
  // from this view; bumps the modseq when something went. True if it did.
  bool remove_locked(MailboxState& box, const std::vector<uint32_t>& uids) {
    auto gone = [&](uint32_t uid) { return std::binary_search(uids.begin(), uids.end(), uid); };
    std::vector<uint32_t> removed;
    box.msgs.erase(std::remove_if(box.msgs.begin(), box.msgs.end(),
                                  [&](const Record& r) {
                                    if (!gone(r.meta.uid)) return false;
                                    removed.push_back(r.meta.uid);
                                    box.count_usage(-static_cast<int64_t>(r.meta.size), -1);
                                    return true;
                                  }),
                   box.msgs.end());
    if (removed.empty()) return false;
    uint64_t modseq = ++box.highest_modseq;
    box.remember_expunge(std::move(removed), modseq);
    highest_modseq_ = std::max(highest_modseq_, modseq);
    size_t out = 0;
    for (size_t i = 0; i < view_.size(); ++i) {
      if (gone(view_[i].uid)) continue;
      if (out != i) {
        view_[out] = std::move(view_[i]);
        data_[out] = std::move(data_[i]);
      }
      ++out;
    }
    view_.resize(out);
    data_.resize(out);
    return true;
  }

  std::shared_ptr<AccountState> acct_;
  std::shared_ptr<MailboxState> box_;
  std::string name_;
  bool read_only_;
  std::shared_ptr<Listener> listener_;

  std::vector<MessageMeta> view_;
  std::vector<std::shared_ptr<const std::string>> data_;  // parallel to view_
  uint32_t uidvalidity_ = 0;
  uint32_t uidnext_ = 1;
  uint64_t highest_modseq_ = 0;
};

// --- Account ---------------------------------------------------------------

class MemoryAccount final : public Account {
 public:
  explicit MemoryAccount(std::shared_ptr<AccountState> st) : st_(std::move(st)) {}

  Result<void> ensure_defaults(const SpecialUseNames& names) override {
    const std::pair<const std::string*, SpecialUse> wanted[] = {
        {&names.drafts, SpecialUse::kDrafts},   {&names.sent, SpecialUse::kSent},
        {&names.trash, SpecialUse::kTrash},     {&names.junk, SpecialUse::kJunk},
        {&names.archive, SpecialUse::kArchive},
    };
    std::vector<std::pair<std::string, SpecialUse>> todo;
    for (const auto& [name, use] : wanted) {
      if (name->empty()) continue;
      auto canonical = checked_name(*name);
      if (!canonical) return core::fail(canonical.error());
      todo.emplace_back(std::move(*canonical), use);
    }
    std::lock_guard<std::mutex> lock(st_->mu);
    if (!st_->boxes.count("INBOX")) st_->add_locked("INBOX", SpecialUse::kNone);
    for (const auto& [name, use] : todo) {
      if (auto box = st_->find_locked(name)) {
        box->special_use = use;
      } else {
        st_->add_ancestors_locked(name);
        st_->add_locked(name, use);
      }
    }
    return {};
  }

  Result<std::vector<MailboxInfo>> list_mailboxes() override {
    std::vector<MailboxInfo> out;
    std::lock_guard<std::mutex> lock(st_->mu);
    for (const auto& [name, box] : st_->boxes) {
      MailboxInfo info;
      info.name = name;
      info.special_use = box->special_use;
      info.subscribed = st_->subscriptions.count(name) != 0;
      info.has_children = st_->has_children_locked(name);
      out.push_back(std::move(info));
    }
    return out;
  }

  Result<std::unique_ptr<Mailbox>> open_mailbox(const std::string& name, bool read_only) override {
    using R = std::unique_ptr<Mailbox>;
    auto canonical = checked_name(name);
    if (!canonical) return core::fail(canonical.error());
    std::lock_guard<std::mutex> lock(st_->mu);
    auto box = st_->find_locked(*canonical);
    if (!box) return fail<R>(Errc::kNotFound, "no such mailbox: " + *canonical);
    return R(new MemoryMailbox(st_, std::move(box), *canonical, read_only));
  }

  Result<MailboxStatus> mailbox_status(const std::string& name) override {
    auto canonical = checked_name(name);
    if (!canonical) return core::fail(canonical.error());
    std::lock_guard<std::mutex> lock(st_->mu);
    auto box = st_->find_locked(*canonical);
    if (!box) return fail<MailboxStatus>(Errc::kNotFound, "no such mailbox: " + *canonical);
    std::lock_guard<std::mutex> box_lock(box->mu);
    return box->status_locked();
  }

  Result<void> create_mailbox(const std::string& name, SpecialUse use) override {
    auto canonical = checked_name(name);
    if (!canonical) return core::fail(canonical.error());
    std::lock_guard<std::mutex> lock(st_->mu);
    if (st_->boxes.count(*canonical)) {
      return fail_void(Errc::kAlreadyExists, "mailbox exists: " + *canonical);
    }
    st_->add_ancestors_locked(*canonical);
    st_->add_locked(*canonical, use);
    return {};
  }

  Result<void> delete_mailbox(const std::string& name) override {
    auto canonical = checked_name(name);
    if (!canonical) return core::fail(canonical.error());
    Listeners to_wake;
    {
      std::lock_guard<std::mutex> lock(st_->mu);
      if (*canonical == "INBOX") return fail_void(Errc::kNoPermission, "INBOX cannot be deleted");
      auto box = st_->find_locked(*canonical);
      if (!box) return fail_void(Errc::kNotFound, "no such mailbox: " + *canonical);
      if (st_->has_children_locked(*canonical)) {
        return fail_void(Errc::kHasChildren, "mailbox has children: " + *canonical);
      }
      st_->boxes.erase(*canonical);
      std::lock_guard<std::mutex> box_lock(box->mu);
      box->deleted = true;
      for (const auto& r : box->msgs) box->count_usage(-static_cast<int64_t>(r.meta.size), -1);
      box->msgs.clear();
      ++box->highest_modseq;
      to_wake = box->others(nullptr);
    }
    fire_all(to_wake);
    return {};
  }

  Result<void> rename_mailbox(const std::string& from, const std::string& to) override {
    auto src = checked_name(from);
    if (!src) return core::fail(src.error());
    auto dst = checked_name(to);
    if (!dst) return core::fail(dst.error());
    Listeners to_wake;
    {
      std::lock_guard<std::mutex> lock(st_->mu);
      auto box = st_->find_locked(*src);
      if (!box) return fail_void(Errc::kNotFound, "no such mailbox: " + *src);
      if (is_descendant_mailbox(*dst, *src)) {
        return fail_void(Errc::kNoPermission, "cannot move a mailbox into itself");
      }
      if (st_->boxes.count(*dst)) return fail_void(Errc::kAlreadyExists, "mailbox exists: " + *dst);

      if (*src == "INBOX") {
        // The messages move to a new mailbox; INBOX stays, empty; its
        // children stay where they are.
        st_->add_ancestors_locked(*dst);
        auto target = st_->add_locked(*dst, SpecialUse::kNone);
        std::lock_guard<std::mutex> box_lock(box->mu);
        std::vector<uint32_t> moved;
        for (const auto& r : box->msgs) moved.push_back(r.meta.uid);
        target->msgs = std::move(box->msgs);
        box->msgs.clear();
        target->uidnext = box->uidnext;
        target->highest_modseq = box->highest_modseq;
        ++box->highest_modseq;
        box->remember_expunge(std::move(moved), box->highest_modseq);
        to_wake = box->others(nullptr);
      } else {
        std::vector<std::string> moving;
        for (const auto& entry : st_->boxes) {
          if (entry.first == *src || is_descendant_mailbox(entry.first, *src)) {
            moving.push_back(entry.first);
          }
        }
        auto renamed = [&](const std::string& old) { return *dst + old.substr(src->size()); };
        for (const auto& old : moving) {
          if (st_->boxes.count(renamed(old))) {
            return fail_void(Errc::kAlreadyExists, "mailbox exists: " + renamed(old));
          }
        }
        std::vector<std::pair<std::string, std::shared_ptr<MailboxState>>> moved;
        for (const auto& old : moving) {
          auto node = st_->boxes.extract(old);
          moved.emplace_back(renamed(old), std::move(node.mapped()));
        }
        for (auto& [name, state] : moved) {
          state->name = name;
          st_->boxes[name] = std::move(state);
        }
        st_->add_ancestors_locked(*dst);
      }
    }
    fire_all(to_wake);
    return {};
  }

  Result<void> set_subscribed(const std::string& name, bool subscribed) override {
    auto canonical = checked_name(name);
    if (!canonical) return core::fail(canonical.error());
    std::lock_guard<std::mutex> lock(st_->mu);
    if (subscribed) {
      st_->subscriptions.insert(*canonical);
    } else {
      st_->subscriptions.erase(*canonical);
    }
    return {};
  }

  Result<std::vector<std::string>> subscriptions() override {
    std::lock_guard<std::mutex> lock(st_->mu);
    return std::vector<std::string>(st_->subscriptions.begin(), st_->subscriptions.end());
  }

  Result<std::string> mailbox_id(const std::string& name) override {
    auto canonical = checked_name(name);
    if (!canonical) return core::fail(canonical.error());
    std::lock_guard<std::mutex> lock(st_->mu);
    auto box = st_->find_locked(*canonical);
    if (!box) return fail<std::string>(Errc::kNotFound, "no such mailbox: " + *canonical);
    return box->mailbox_id;
  }

  Result<std::unique_ptr<AppendTx>> begin_append(const std::string& mailbox, uint32_t flags,
                                                 std::vector<std::string> keywords,
                                                 int64_t internal_date) override {
    using R = std::unique_ptr<AppendTx>;
    auto canonical = checked_name(mailbox);
    if (!canonical) return core::fail(canonical.error());
    std::shared_ptr<MailboxState> box;
    {
      std::lock_guard<std::mutex> lock(st_->mu);
      box = st_->find_locked(*canonical);
    }
    if (!box) return fail<R>(Errc::kNotFound, "no such mailbox: " + *canonical);
    return R(new MemoryAppendTx(std::move(box), flags, std::move(keywords), internal_date));
  }

  // Exact counters kept by every change (UsageCounter).
  Result<QuotaUsage> quota_usage() override {
    QuotaUsage usage;
    usage.bytes = static_cast<uint64_t>(std::max<int64_t>(0, st_->usage->bytes.load()));
    usage.messages = static_cast<uint64_t>(std::max<int64_t>(0, st_->usage->messages.load()));
    return usage;
  }

  Result<std::unique_ptr<Lease>> try_lease(std::string_view name) override {
    using R = std::unique_ptr<Lease>;
    std::lock_guard<std::mutex> lock(st_->mu);
    std::string key(name);
    if (!st_->leases.insert(key).second) return fail<R>(Errc::kLocked, "lease held: " + key);
    return R(new MemoryLease(st_, std::move(key)));
  }

 private:
  std::shared_ptr<AccountState> st_;
};

// --- Store -----------------------------------------------------------------

class MemoryStore final : public Store {
 public:
  explicit MemoryStore(int64_t expunge_memory = 30 * 86400) : expunge_memory_(expunge_memory) {}

  Result<std::shared_ptr<Account>> open_account(std::string_view domain,
                                                std::string_view user) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto& st = accounts_[{std::string(domain), std::string(user)}];
    if (!st) st = std::make_shared<AccountState>(expunge_memory_);
    return std::shared_ptr<Account>(std::make_shared<MemoryAccount>(st));
  }

 private:
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<AccountState>> accounts_;
  int64_t expunge_memory_;
};

}  // namespace

std::unique_ptr<Store> make_memory_store() {
  return std::make_unique<MemoryStore>();
}

std::unique_ptr<Store> make_memory_store(int64_t expunge_memory_seconds) {
  return std::make_unique<MemoryStore>(expunge_memory_seconds);
}

}  // namespace store
