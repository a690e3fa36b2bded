// NOTIFY (RFC 5465): the command, and the pushes between commands.
//
// A session with NOTIFY SET holds a NotifyState:
//  - the selected mailbox (selected / selected-delayed group): its
//    directories are watched with inotify (Mailbox::watch_paths) and its
//    handle's on_change callback wakes the session; while the session waits
//    for a command it syncs the mailbox (holding input like a command) and
//    announces EXISTS / EXPUNGE / FETCH as Session::announce does, then the
//    FETCH of MessageNew's attributes;
//  - other mailboxes (the other filters): a Model, touched only by the
//    running job on the store pool, keeps their last reported status, the
//    account's mailbox list and subscriptions. Up to
//    limits.notify_watch_mailboxes of them are watched with inotify; the
//    rest (and all of them where inotify fails) are polled every
//    limits.idle_poll. The account's directory (Account::watch_paths) tells
//    of created, deleted and renamed mailboxes and subscription changes.
//    Jobs use a private store::Account handle, so they never share a store
//    object with a running command.
// Output made while a command runs waits until that command has answered.
#include "imap/commands/notify.h"

#include <uv.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/log/log.h"
#include "core/net/worker.h"
#include "imap/commands/commands.h"
#include "imap/fetch/fetch_writer.h"
#include "imap/mailbox/list.h"
#include "imap/mailbox/pattern.h"
#include "imap/mailbox/status.h"
#include "imap/notify/notify.h"
#include "imap/session.h"

namespace imap {

namespace {

using Clock = std::chrono::steady_clock;

// One mailbox of the account snapshot.
struct NameInfo {
  store::SpecialUse use = store::SpecialUse::kNone;
  bool noselect = false;
  bool has_children = false;
  uint32_t uidvalidity = 0;  // 0: not known
};

// What the jobs work on; only the running job touches it.
struct Model {
  std::vector<notify::Resolved> groups;
  bool inboxes_all = false;
  bool subs_needed = false;  // "subscribed" filter or SubscriptionChange
  size_t cap = 100;          // mailboxes watched with inotify
  std::shared_ptr<store::Account> account;
  std::map<std::string, store::MailboxStatus> status;  // last known, mailboxes with message events
  std::map<std::string, NameInfo> names;               // the account's mailboxes
  std::set<std::string> subscribed;
  std::set<std::string> watched;  // names given inotify paths
  bool listed = false;

  uint32_t events(std::string_view name, const std::set<std::string>& subs) const {
    notify::MatchContext ctx{inboxes_all, &subs};
    return notify::events_for(groups, name, ctx);
  }
  uint32_t events(std::string_view name) const { return events(name, subscribed); }
};

// One job: what to look at, and what came out.
struct Job {
  bool list = false;        // read the account's mailbox list and subscriptions
  bool quiet_list = false;  // ... without reporting (this session changed it)
  bool poll = false;        // check the mailboxes without a live watch
  bool initial_status = false;
  std::set<std::string> dirty;  // check and report
  std::set<std::string> quiet;  // check, do not report (this session changed them)
  std::set<std::string> live;   // mailboxes with working inotify watches
  std::string selected;         // never reported with STATUS
  bool condstore = false;
  proto::Utf8Mode utf8 = proto::Utf8Mode::kOff;
  store::Mailbox* sel_mb = nullptr;  // sync the selected mailbox too
  std::optional<store::Result<store::SyncResult>> sync;
  std::string error;  // initial job: why the account could not be read

  std::string out;
  std::vector<std::pair<std::string, std::vector<std::string>>> watch_add;
  std::vector<std::string> watch_remove;
};

void write_name(const Job& j, std::string& out, std::string_view name) {
  proto::write_mailbox(out, name, j.utf8);
}

void status_line(Job& j, const std::string& name, const store::MailboxStatus& st) {
  using I = mailbox::StatusItem;
  std::vector<I> items = {I::kMessages, I::kUidNext, I::kUidValidity, I::kUnseen};
  if (j.condstore) items.push_back(I::kHighestModSeq);
  mailbox::write_status(j.out, name, st, items, 0,
                        [&j](std::string& o, std::string_view n) { write_name(j, o, n); });
}

void list_line(Job& j, const Model& m, const std::string& name, const std::string* old_name) {
  std::vector<std::string> attrs;
  auto it = m.names.find(name);
  if (it == m.names.end()) {
    attrs.emplace_back("\\NonExistent");
  } else {
    if (it->second.noselect) attrs.emplace_back("\\Noselect");
    attrs.emplace_back(it->second.has_children ? "\\HasChildren" : "\\HasNoChildren");
    auto use = mailbox::special_use_attribute(it->second.use);
    if (!use.empty()) attrs.emplace_back(use);
  }
  if (m.subscribed.count(name)) attrs.emplace_back("\\Subscribed");
  j.out += "* LIST (";
  for (size_t i = 0; i < attrs.size(); ++i) {
    if (i) j.out += ' ';
    j.out += attrs[i];
  }
  j.out += ") \"/\" ";
  write_name(j, j.out, name);
  if (old_name) {
    j.out += " (\"OLDNAME\" (";
    write_name(j, j.out, *old_name);
    j.out += "))";
  }
  j.out += "\r\n";
}

// Compares a mailbox's status with the last one known and reports it.
void check_mailbox(Model& m, Job& j, const std::string& name, bool quiet) {
  auto known = m.status.find(name);
  if (known == m.status.end()) return;
  auto st = m.account->mailbox_status(name);
  if (!st) {
    if (st.error().code == store::Errc::kNotFound) m.status.erase(known);
    return;
  }
  const store::MailboxStatus& o = known->second;
  const store::MailboxStatus& n = *st;
  bool reset = n.uidvalidity != o.uidvalidity;
  bool added = reset || n.uidnext > o.uidnext;
  uint64_t arrived = n.uidnext > o.uidnext ? n.uidnext - o.uidnext : 0;
  bool expunged = reset || static_cast<uint64_t>(n.messages) < o.messages + arrived;
  bool flags =
      !added && !expunged &&
      (n.unseen != o.unseen || n.highest_modseq != o.highest_modseq || n.deleted != o.deleted);
  uint32_t ev = m.events(name);
  bool report = (added && (ev & notify::kMessageNew)) ||
                (expunged && (ev & notify::kMessageExpunge)) ||
                (flags && (ev & notify::kFlagChange));
  if (report && !quiet && name != j.selected) status_line(j, name, n);
  known->second = n;
}

// The mailboxes with message events: baselines for new ones, watches up to
// the cap, old ones dropped.
void resync_matched(Model& m, Job& j, const std::map<std::string, store::MailboxStatus>& fresh) {
  std::vector<std::string> want;
  for (const auto& [n, info] : m.names) {
    if (!info.noselect && (m.events(n) & notify::kMessageEvents)) want.push_back(n);
  }
  std::sort(want.begin(), want.end(), mailbox::name_less);  // INBOX first
  std::set<std::string> wanted(want.begin(), want.end());
  for (auto it = m.status.begin(); it != m.status.end();) {
    it = wanted.count(it->first) ? std::next(it) : m.status.erase(it);
  }
  for (auto it = m.watched.begin(); it != m.watched.end();) {
    if (wanted.count(*it)) {
      ++it;
      continue;
    }
    j.watch_remove.push_back(*it);
    it = m.watched.erase(it);
  }
  for (const auto& n : want) {
    if (!m.status.count(n)) {
      auto f = fresh.find(n);
      if (f != fresh.end()) {
        m.status[n] = f->second;
      } else if (auto st = m.account->mailbox_status(n)) {
        m.status[n] = *st;
      }
    }
    if (m.watched.size() < m.cap && !m.watched.count(n)) {
      auto mb = m.account->open_mailbox(n, true);
      if (!mb) continue;
      j.watch_add.emplace_back(n, (*mb)->watch_paths());
      m.watched.insert(n);
    }
  }
}

// Reads the account's mailbox list and subscriptions and reports what
// changed: LIST for MailboxName (OLDNAME on a rename, \NonExistent on a
// delete) and SubscriptionChange.
void account_pass(Model& m, Job& j) {
  auto infos = m.account->list_mailboxes();
  if (!infos) {
    j.error = infos.error().message;
    return;
  }
  std::set<std::string> subs = m.subscribed;
  if (m.subs_needed) {
    auto s = m.account->subscriptions();
    if (s) subs = std::set<std::string>(s->begin(), s->end());
  }
  std::map<std::string, NameInfo> names;
  std::vector<std::string> created, deleted;
  for (const auto& i : *infos) {
    NameInfo info;
    info.use = i.special_use;
    info.noselect = i.noselect;
    info.has_children = i.has_children;
    auto old = m.names.find(i.name);
    if (old != m.names.end()) {
      info.uidvalidity = old->second.uidvalidity;
    } else {
      created.push_back(i.name);
    }
    names.emplace(i.name, info);
  }
  for (const auto& [n, info] : m.names) {
    if (!names.count(n)) deleted.push_back(n);
  }
  // UIDVALIDITY identifies a renamed mailbox (it keeps its own).
  std::map<std::string, store::MailboxStatus> fresh;
  for (const auto& c : created) {
    auto& info = names[c];
    if (info.noselect) continue;
    if (auto st = m.account->mailbox_status(c)) {
      info.uidvalidity = st->uidvalidity;
      fresh.emplace(c, *st);
    }
  }
  std::map<std::string, std::string> renamed;  // new name -> old name
  std::set<std::string> renamed_old;
  for (const auto& d : deleted) {
    uint32_t v = m.names[d].uidvalidity;
    if (v == 0) continue;
    for (const auto& c : created) {
      if (names[c].uidvalidity == v && !renamed.count(c)) {
        renamed[c] = d;
        renamed_old.insert(d);
        break;
      }
    }
  }
  bool report = m.listed && !j.quiet_list;
  std::set<std::string> old_subs = std::move(m.subscribed);
  // Events as they applied before the change and after it.
  auto old_events = [&](const std::string& n) { return m.events(n, old_subs); };
  m.names = std::move(names);
  m.subscribed = std::move(subs);
  if (report) {
    for (const auto& d : deleted) {
      if (!renamed_old.count(d) && (old_events(d) & notify::kMailboxName)) {
        list_line(j, m, d, nullptr);
      }
    }
    for (const auto& c : created) {
      uint32_t ev = m.events(c);
      auto r = renamed.find(c);
      if (r != renamed.end()) ev |= old_events(r->second);
      if (ev & notify::kMailboxName) list_line(j, m, c, r != renamed.end() ? &r->second : nullptr);
    }
    std::vector<std::string> changed;
    std::set_symmetric_difference(old_subs.begin(), old_subs.end(), m.subscribed.begin(),
                                  m.subscribed.end(), std::back_inserter(changed));
    for (const auto& n : changed) {
      if ((m.events(n) | old_events(n)) & notify::kSubscriptionChange) list_line(j, m, n, nullptr);
    }
  }
  // A renamed mailbox keeps its last known status under the new name.
  for (const auto& [c, d] : renamed) {
    auto node = m.status.extract(d);
    if (!node.empty()) {
      node.key() = c;
      m.status.insert(std::move(node));
    }
    if (m.watched.erase(d)) j.watch_remove.push_back(d);
  }
  for (const auto& d : deleted) {
    if (m.watched.erase(d)) j.watch_remove.push_back(d);
  }
  m.listed = true;
  resync_matched(m, j, fresh);
}

void run_job(Model& m, Job& j) {
  if (j.sel_mb) j.sync = j.sel_mb->sync();
  if (j.list || !m.listed) account_pass(m, j);
  std::set<std::string> check = j.dirty;
  if (j.poll) {
    for (const auto& [n, st] : m.status) {
      if (!j.live.count(n)) check.insert(n);
    }
  }
  for (const auto& n : j.quiet) check_mailbox(m, j, n, true);
  for (const auto& n : check) {
    if (!j.quiet.count(n)) check_mailbox(m, j, n, false);
  }
  if (j.initial_status) {
    for (const auto& [n, st] : m.status) {
      if (n != j.selected) status_line(j, n, st);
    }
  }
}

// A file watcher or the timer of a NotifyState; the context holds only a
// weak reference to the session and the state's generation.
enum class WatchKind { kMailbox, kAccount, kSelected };
struct Watch {
  uv_fs_event_t handle{};
  std::weak_ptr<Session> session;
  uint64_t gen = 0;
  WatchKind kind = WatchKind::kMailbox;
  std::string name;
};
struct Tick {
  uv_timer_t handle{};
  std::weak_ptr<Session> session;
  uint64_t gen = 0;
};

void close_watch(Watch* w) {
  uv_fs_event_stop(&w->handle);
  uv_close(reinterpret_cast<uv_handle_t*>(&w->handle),
           [](uv_handle_t* h) { delete static_cast<Watch*>(h->data); });
}

std::atomic<uint64_t> next_gen{1};

// MessageNew's FETCH of new messages in the selected mailbox, in store-pool
// steps of about fetch::kStepBytes.
struct FetchJob {
  std::vector<proto::FetchAtt> atts;
  std::vector<uint32_t> uids;
  size_t next = 0;
  bool needs_message = false;
  bool rev2 = false;
  proto::Utf8Mode utf8 = proto::Utf8Mode::kOff;
  std::unique_ptr<store::MessageStream> stream;
  std::unique_ptr<fetch::StreamReader> reader;
  std::unique_ptr<fetch::FetchWriter> writer;
  std::string out;
  bool more = true;
};

}  // namespace

// The NOTIFY state of a session (Session::notify_).
struct NotifyState {
  uint64_t gen = next_gen++;
  notify::SelectedPart sel;
  std::shared_ptr<Model> model;
  bool others = false;  // some group for other mailboxes has events

  // Loop side.
  std::set<std::string> dirty, quiet, live;
  bool account_dirty = false, quiet_account = false, selected_dirty = false, poll = false;
  bool account_live = false, selected_live = false;
  bool running = false, again = false, holds_busy = false;
  std::string queued;  // made while a command ran
  bool blocked = false;
  Clock::time_point blocked_since, last_poll = Clock::now();

  std::map<std::string, std::vector<Watch*>> watches;
  std::vector<Watch*> account_watches, selected_watches;
  store::Mailbox* watched_selected = nullptr;
  Tick* tick = nullptr;

  store::Mailbox* known_mb = nullptr;  // new messages above known_max get MessageNew's FETCH
  uint32_t known_max = 0;
  std::vector<uint32_t> fetch_pending;
  std::shared_ptr<FetchJob> fetching;
  bool fetch_wait = false;  // a fetch step waits for the output to drain

  ~NotifyState() {
    for (auto& [n, ws] : watches)
      for (auto* w : ws) close_watch(w);
    for (auto* w : account_watches) close_watch(w);
    for (auto* w : selected_watches) close_watch(w);
    if (tick) {
      uv_timer_stop(&tick->handle);
      uv_close(reinterpret_cast<uv_handle_t*>(&tick->handle),
               [](uv_handle_t* h) { delete static_cast<Tick*>(h->data); });
    }
  }
};

struct Notifier::Ops {
  static Watch* add_watch(Session& s, NotifyState& n, WatchKind kind, const std::string& name,
                          const std::string& path) {
    auto* w = new Watch;
    w->session = s.weak_from_this();
    w->gen = n.gen;
    w->kind = kind;
    w->name = name;
    w->handle.data = w;
    if (uv_fs_event_init(s.conn().worker().loop(), &w->handle) != 0) {
      delete w;
      return nullptr;
    }
    int rc = uv_fs_event_start(
        &w->handle,
        [](uv_fs_event_t* h, const char*, int, int) {
          auto* ctx = static_cast<Watch*>(h->data);
          if (auto p = ctx->session.lock()) on_watch(*p, *ctx);
        },
        path.c_str(), 0);
    if (rc != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(&w->handle),
               [](uv_handle_t* h) { delete static_cast<Watch*>(h->data); });
      return nullptr;
    }
    return w;
  }

  static void on_watch(Session& s, const Watch& w) {
    NotifyState* n = s.notify_.get();
    if (!n || n->gen != w.gen) return;
    switch (w.kind) {
      case WatchKind::kMailbox:
        n->dirty.insert(w.name);
        break;
      case WatchKind::kAccount:
        n->account_dirty = true;
        break;
      case WatchKind::kSelected:
        n->selected_dirty = true;
        break;
    }
    schedule(s);
  }

  static void apply_watches(Session& s, NotifyState& n, Job& j) {
    for (const auto& name : j.watch_remove) {
      auto it = n.watches.find(name);
      if (it == n.watches.end()) continue;
      for (auto* w : it->second) close_watch(w);
      n.watches.erase(it);
      n.live.erase(name);
    }
    for (auto& [name, paths] : j.watch_add) {
      std::vector<Watch*> ws;
      bool all = !paths.empty();
      for (const auto& p : paths) {
        if (auto* w = add_watch(s, n, WatchKind::kMailbox, name, p)) {
          ws.push_back(w);
        } else {
          all = false;
        }
      }
      auto& slot = n.watches[name];
      for (auto* w : slot) close_watch(w);
      slot = std::move(ws);
      if (all) {
        n.live.insert(name);
      } else {
        n.live.erase(name);
      }
    }
  }

  static void watch_selected(Session& s, NotifyState& n) {
    store::Mailbox* mb = s.selected_ ? s.selected_->mailbox.get() : nullptr;
    if (mb != n.watched_selected) {
      for (auto* w : n.selected_watches) close_watch(w);
      n.selected_watches.clear();
      n.selected_live = false;
      n.watched_selected = mb;
      if (mb && n.sel.events != 0) {
        auto paths = mb->watch_paths();
        n.selected_live = !paths.empty();
        for (const auto& p : paths) {
          if (auto* w = add_watch(s, n, WatchKind::kSelected, "", p)) {
            n.selected_watches.push_back(w);
          } else {
            n.selected_live = false;
          }
        }
      }
    }
    // IDLE replaces the handle's callback and clears it when it ends.
    if (mb && n.sel.events != 0 && !s.idle_) {
      std::weak_ptr<Session> weak = s.weak_from_this();
      auto* worker = &s.conn().worker();
      uint64_t gen = n.gen;
      mb->on_change([weak, worker, gen]() {
        worker->post([weak, gen]() {
          auto p = weak.lock();
          if (!p || !p->notify_ || p->notify_->gen != gen) return;
          p->notify_->selected_dirty = true;
          schedule(*p);
        });
      });
    }
  }

  // New messages of the selected mailbox the client has been told about:
  // the ones MessageNew's FETCH is owed for.
  static void note_new_messages(Session& s, NotifyState& n) {
    if (!s.selected_) {
      n.known_mb = nullptr;
      n.fetch_pending.clear();
      return;
    }
    store::Mailbox* mb = s.selected_->mailbox.get();
    const auto& uids = s.selected_->uids;
    uint32_t max = uids.empty() ? 0 : uids.back();
    if (mb != n.known_mb) {
      n.known_mb = mb;
      n.known_max = max;
      n.fetch_pending.clear();
      return;
    }
    if ((n.sel.events & notify::kMessageNew) && !n.sel.fetch_atts.empty()) {
      for (auto it = std::upper_bound(uids.begin(), uids.end(), n.known_max); it != uids.end();
           ++it)
        n.fetch_pending.push_back(*it);
    }
    n.known_max = std::max(n.known_max, max);
  }

  // Announces the selected mailbox's changes as the NOTIFY settings say.
  static void push_selected(Session& s, NotifyState& n) {
    auto& sel = *s.selected_;
    std::set<uint32_t> held;
    if (!(n.sel.events & notify::kFlagChange)) std::swap(held, sel.pending_flags);
    s.announce(/*expunge_allowed=*/!n.sel.delayed);
    for (uint32_t u : held) {
      if (sel.seq_of(u)) sel.pending_flags.insert(u);
    }
  }

  static void take_busy(Session& s, NotifyState& n) {
    s.busy_ = true;
    s.conn().pause_reading();
    n.holds_busy = true;
  }

  static void release_busy(Session& s) {
    if (s.notify_) s.notify_->holds_busy = false;
    s.busy_ = false;
    if (s.ended_ || s.conn().closed()) return;
    if (s.shutting_down_) {
      s.end("Server shutting down");
      return;
    }
    s.conn().resume_reading();
    s.pump();
  }

  static void schedule(Session& s) {
    NotifyState* n = s.notify_.get();
    if (!n || s.ended_ || s.conn().closed()) return;
    if (n->running || n->fetching) {
      n->again = true;
      return;
    }
    bool waiting = !s.busy_;
    bool idling = s.idle_ != nullptr;
    if (!waiting && !idling) return;  // command_done() comes back
    bool have_sel = s.selected_ != nullptr;
    bool do_sel = waiting && have_sel && n->sel.events != 0 && n->selected_dirty;
    bool do_fetch = waiting && have_sel && !n->fetch_pending.empty();
    bool others =
        !n->dirty.empty() || !n->quiet.empty() || n->account_dirty || n->quiet_account || n->poll;
    if (!do_sel && !do_fetch && !others && n->queued.empty()) return;
    if (s.conn().write_blocked()) {
      if (!n->blocked) {
        n->blocked = true;
        n->blocked_since = Clock::now();
      }
      return;  // drained() or the timer comes back
    }
    n->blocked = false;
    if (!n->queued.empty()) {
      s.write(n->queued);
      n->queued.clear();
    }
    if (!do_sel && !others) {
      if (do_fetch) {
        take_busy(s, *n);
        start_fetch(s, *n);
      }
      return;
    }
    auto job = std::make_shared<Job>();
    job->list = n->account_dirty || n->quiet_account || (n->poll && !n->account_live);
    job->quiet_list = n->quiet_account;
    job->poll = n->poll;
    job->dirty = std::move(n->dirty);
    job->quiet = std::move(n->quiet);
    job->live = n->live;
    job->selected = have_sel ? s.selected_->name : std::string();
    job->condstore = s.condstore_;
    job->utf8 = s.utf8();
    n->dirty.clear();
    n->quiet.clear();
    n->account_dirty = n->quiet_account = n->poll = false;
    if (do_sel) {
      job->sel_mb = s.selected_->mailbox.get();
      n->selected_dirty = false;
      take_busy(s, *n);
    }
    n->running = true;
    auto self = s.shared_from_this();
    auto model = n->model;
    uint64_t gen = n->gen;
    bool queued = s.conn().offload(
        s.services_.store_pool(), self, [model, job]() { run_job(*model, *job); },
        [self, job, gen]() { job_done(*self, *job, gen); });
    if (!queued) {
      // The pool is saturated: look again at the next tick.
      n->running = false;
      n->dirty.insert(job->dirty.begin(), job->dirty.end());
      n->quiet.insert(job->quiet.begin(), job->quiet.end());
      n->account_dirty = job->list && !job->quiet_list;
      n->quiet_account = job->quiet_list;
      n->poll = job->poll;
      if (job->sel_mb) {
        n->selected_dirty = true;
        release_busy(s);
      }
    }
  }

  static void job_done(Session& s, Job& j, uint64_t gen) {
    NotifyState* n = s.notify_.get();
    bool mine = n && n->gen == gen;
    if (mine) n->running = false;
    if (j.sel_mb && !s.ended_ && s.selected_ && s.selected_->mailbox.get() == j.sel_mb) {
      if (j.sync && *j.sync) s.merge_sync(**j.sync);
      if (!s.ended_ && mine) push_selected(s, *n);
    }
    if (s.ended_ || s.conn().closed()) return;
    if (mine) {
      apply_watches(s, *n, j);
      if (!j.out.empty()) {
        if (!s.busy_ || j.sel_mb || s.idle_) {
          s.write(j.out);
        } else {
          n->queued += j.out;
        }
      }
      note_new_messages(s, *n);
    }
    if (j.sel_mb) {
      if (mine && !n->fetch_pending.empty()) return start_fetch(s, *n);
      release_busy(s);
    }
    n = s.notify_.get();
    if (n && n->gen == gen && n->again) {
      n->again = false;
      schedule(s);
    }
  }

  // Input is held (holds_busy): the FETCH of MessageNew's attributes.
  static void start_fetch(Session& s, NotifyState& n) {
    auto fj = std::make_shared<FetchJob>();
    fj->atts = n.sel.fetch_atts;
    fj->uids = std::move(n.fetch_pending);
    n.fetch_pending.clear();
    for (const auto& a : fj->atts) fj->needs_message = fj->needs_message || fetch::needs_message(a);
    fj->rev2 = s.rev2_;
    fj->utf8 = s.utf8();
    n.fetching = fj;
    fetch_step(s, fj);
  }

  static bool render(Session& s, FetchJob& fj) {
    const size_t start = fj.out.size();
    Selected& sel = *s.selected_;
    while (fj.out.size() - start < fetch::kStepBytes) {
      if (!fj.writer) {
        if (fj.next >= fj.uids.size()) return false;
        uint32_t uid = fj.uids[fj.next++];
        const store::MessageMeta* m = sel.meta(uid);
        uint32_t seq = sel.seq_of(uid);
        if (!m || !seq) continue;
        fetch::Options o;
        o.seq = seq;
        o.uid = true;
        o.recent = !fj.rev2 && sel.recent.count(uid) > 0;
        o.utf8 = fj.utf8;
        fj.reader.reset();
        fj.stream.reset();
        if (fj.needs_message) {
          if (auto opened = sel.mailbox->open_message(uid)) {
            fj.stream = std::move(*opened);
            fj.reader = std::make_unique<fetch::StreamReader>(*fj.stream);
          }
        }
        fj.writer = std::make_unique<fetch::FetchWriter>(*m, fj.atts, o, fj.reader.get());
      }
      bool more = fj.writer->write(fj.out, fetch::kStepBytes - (fj.out.size() - start));
      if (fj.writer->problem() != fetch::Problem::kNone || !more) {
        // A BINARY problem: that message's FETCH is left out.
        fj.writer.reset();
        fj.reader.reset();
        fj.stream.reset();
        // Steps end between responses where they can: only there may the
        // overflow notice go out.
        if (fj.out.size() > start) return fj.next < fj.uids.size();
      }
    }
    return true;
  }

  static void fetch_step(Session& s, std::shared_ptr<FetchJob> fj) {
    auto self = s.shared_from_this();
    bool queued = s.conn().offload(
        s.services_.store_pool(), self,
        [self, fj]() {
          if (self->selected_) {
            fj->more = render(*self, *fj);
          } else {
            fj->more = false;
          }
        },
        [self, fj]() {
          Session& s = *self;
          if (s.ended_ || s.conn().closed()) return;
          NotifyState* n = s.notify_.get();
          if (!fj->out.empty()) {
            s.write(fj->out);
            fj->out.clear();
          }
          if (!n || n->fetching != fj) return release_busy(s);
          if (fj->more) {
            if (s.conn().write_blocked()) {
              n->fetch_wait = true;
              if (!fj->writer && !n->blocked) {  // between two responses
                n->blocked = true;
                n->blocked_since = Clock::now();
              }
              return;
            }
            return fetch_step(s, fj);
          }
          n->fetching.reset();
          release_busy(s);
          if (s.notify_ && s.notify_->again) {
            s.notify_->again = false;
            schedule(s);
          }
        });
    if (!queued) {
      if (s.notify_) s.notify_->fetching.reset();
      release_busy(s);
    }
  }

  static void on_tick(Session& s, uint64_t gen) {
    NotifyState* n = s.notify_.get();
    if (!n || n->gen != gen || s.ended_ || s.conn().closed()) return;
    const auto& limits = s.config().limits;
    auto now = Clock::now();
    if (n->blocked && limits.notify_backlog.count() > 0 &&
        now - n->blocked_since >= limits.notify_backlog && s.conn().write_blocked()) {
      return overflow(s);
    }
    if (limits.idle_poll.count() > 0 && now - n->last_poll >= limits.idle_poll) {
      n->last_poll = now;
      n->poll = n->others;
      if (n->watched_selected && !n->selected_live) n->selected_dirty = true;
    }
    schedule(s);
  }

  // RFC 5465 5.8: the client fell too far behind.
  static void overflow(Session& s) {
    core::log::info("notify_overflow", {{"proto", "imap"}, {"session", s.id()}});
    bool held = s.notify_ && s.notify_->holds_busy;
    turn_off(s);
    s.write("* OK [NOTIFICATIONOVERFLOW] Notifications are off: they were not read in time\r\n");
    if (held) release_busy(s);
  }

  static void turn_off(Session& s) {
    if (!s.notify_) return;
    if (s.selected_ && !s.idle_ && s.notify_->watched_selected == s.selected_->mailbox.get() &&
        s.notify_->sel.events != 0) {
      s.selected_->mailbox->on_change(nullptr);
    }
    s.notify_.reset();
  }

  static void start_tick(Session& s, NotifyState& n) {
    const auto& limits = s.config().limits;
    auto period = limits.idle_poll;
    if (limits.notify_backlog.count() > 0 &&
        (period.count() == 0 || limits.notify_backlog < period)) {
      period = limits.notify_backlog;
    }
    if (period.count() <= 0) return;
    auto* t = new Tick;
    t->session = s.weak_from_this();
    t->gen = n.gen;
    t->handle.data = t;
    uv_timer_init(s.conn().worker().loop(), &t->handle);
    uv_timer_start(
        &t->handle,
        [](uv_timer_t* h) {
          auto* ctx = static_cast<Tick*>(h->data);
          if (auto p = ctx->session.lock()) on_tick(*p, ctx->gen);
        },
        static_cast<uint64_t>(period.count()), static_cast<uint64_t>(period.count()));
    n.tick = t;
  }

  static void set(Session& s, notify::Spec spec) {
    auto model = std::make_shared<Model>();
    const auto& limits = s.config().limits;
    model->cap = limits.notify_watch_mailboxes;
    model->inboxes_all = s.policy().detail == core::config::DetailDelivery::kFolder;
    bool others = false;
    for (const auto& g : spec.groups) {
      if (g.filter == notify::FilterKind::kSelected ||
          g.filter == notify::FilterKind::kSelectedDelayed) {
        continue;
      }
      notify::Resolved r;
      r.filter = g.filter;
      r.events = g.events;
      for (const auto& m : g.names) {
        if (auto name = s.mailbox_name(m, nullptr)) r.names.push_back(std::move(*name));
      }
      others = others || g.events != 0;
      model->groups.push_back(std::move(r));
    }
    model->subs_needed = notify::needs_subscriptions(model->groups);
    auto job = std::make_shared<Job>();
    job->initial_status = spec.status;
    job->selected = s.selected_ ? s.selected_->name : std::string();
    job->condstore = s.condstore_;
    job->utf8 = s.utf8();
    std::string address = s.address();
    auto& store = s.services_.store();
    s.run_store(
        [model, job, address, &store, others]() {
          auto at = address.rfind('@');
          auto acct = store.open_account(address.substr(at + 1), address.substr(0, at));
          if (!acct) {
            job->error = acct.error().message;
            return;
          }
          model->account = std::move(*acct);
          if (others) run_job(*model, *job);
        },
        [&s, model, job, spec = std::move(spec), others]() {
          if (!job->error.empty()) {
            core::log::error("error", {{"proto", "imap"},
                                       {"session", s.id()},
                                       {"what", "NOTIFY"},
                                       {"reason", job->error}});
            return s.no("NOTIFY failed; try again later",
                        proto::code_name(proto::Code::kUnavailable));
          }
          turn_off(s);
          auto n = std::make_shared<NotifyState>();
          n->sel = notify::selected_part(spec);
          n->model = model;
          n->others = others;
          s.notify_ = n;
          apply_watches(s, *n, *job);
          if (others) {
            auto paths = model->account->watch_paths();
            n->account_live = !paths.empty();
            for (const auto& p : paths) {
              if (auto* w = add_watch(s, *n, WatchKind::kAccount, "", p)) {
                n->account_watches.push_back(w);
              } else {
                n->account_live = false;
              }
            }
          }
          start_tick(s, *n);
          note_new_messages(s, *n);
          watch_selected(s, *n);
          if (!job->out.empty()) s.write(job->out);
          s.ok("NOTIFY completed");
        });
  }
};

void Notifier::command(Session& s, std::string_view args) {
  auto r = notify::parse(args);
  switch (r.kind) {
    case notify::ParseResult::Kind::kBad:
      return s.bad("NOTIFY: " + r.error);
    case notify::ParseResult::Kind::kBadEvent:
      // RFC 5465 3.1: NO, with the events Roost supports.
      return s.no(r.error, "BADEVENT " + notify::supported_events_list());
    case notify::ParseResult::Kind::kOk:
      break;
  }
  if (r.spec.none) {
    Ops::turn_off(s);
    return s.ok("NOTIFY completed; notifications are off");
  }
  Ops::set(s, std::move(r.spec));
}

void Notifier::command_done(Session& s) {
  NotifyState* n = s.notify_.get();
  if (!n) return;
  // Changes this session made itself are not reported (RFC 5465 5).
  if (s.current_) {
    using proto::Verb;
    switch (s.current_->verb) {
      case Verb::kCreate:
      case Verb::kDelete:
      case Verb::kRename:
      case Verb::kSubscribe:
      case Verb::kUnsubscribe:
        n->quiet_account = true;
        break;
      case Verb::kCopy:
      case Verb::kMove: {
        const auto& a = std::get<proto::CopyArgs>(s.current_->args);
        if (auto dest = s.mailbox_name(a.mailbox, nullptr)) n->quiet.insert(*dest);
        break;
      }
      default:
        break;
    }
  }
  if (!n->queued.empty() && !s.conn().closed()) {
    s.write(n->queued);
    n->queued.clear();
  }
  Ops::watch_selected(s, *n);
  Ops::note_new_messages(s, *n);
  std::weak_ptr<Session> weak = s.weak_from_this();
  s.conn().worker().post([weak]() {
    if (auto p = weak.lock()) Ops::schedule(*p);
  });
}

void Notifier::drained(Session& s) {
  NotifyState* n = s.notify_.get();
  if (!n) return;
  n->blocked = false;
  if (n->fetching && n->fetch_wait) {
    n->fetch_wait = false;
    return Ops::fetch_step(s, n->fetching);
  }
  Ops::schedule(s);
}

void cmd_notify(Session& s, const proto::Command& c) {
  Notifier::command(s, std::get<proto::NotifyArgs>(c.args).text);
}

}  // namespace imap
