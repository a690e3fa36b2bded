// CONTEXT=SEARCH update contexts (RFC 5267 4.3); see search_context.h.
#include "imap/commands/search_context.h"

#include <algorithm>

#include "core/log/log.h"
#include "imap/proto/writer.h"
#include "imap/search/context.h"

namespace imap {

namespace {

using Kind = proto::SearchKey::Kind;

std::string unmaintainable_key(const proto::SearchKey& key) {
  switch (key.kind) {
    case Kind::kSequenceSet:
      // "$" becomes a fixed set of UIDs; other sets are message numbers.
      if (key.set.saved) break;
      return "message-number sets change with every expunge";
    case Kind::kOlder:
    case Kind::kYounger:
      return "OLDER and YOUNGER change with the clock";
    default:
      break;
  }
  for (const auto& child : key.children) {
    std::string why = unmaintainable_key(child);
    if (!why.empty()) return why;
  }
  return "";
}

// The contexts of the current selection; those of an earlier one are dropped.
SearchContexts* live(Session& s) {
  auto& c = s.search_contexts_;
  if (!c) return nullptr;
  if (!s.has_selected() || c->selected != &s.selected() || c->list.empty()) {
    c.reset();
    return nullptr;
  }
  return c.get();
}

void write_noupdate(std::string& out, const std::string& tag, std::string_view text) {
  std::string code = "NOUPDATE ";
  proto::write_string(code, tag);
  proto::untagged(out, proto::Status::kNo, code, text);
}

void write_update(std::string& out, const SearchContext& ctx, std::string_view what,
                  const std::vector<search::PositionedItems>& pairs, const Selected& sel) {
  if (pairs.empty()) return;
  out += "* ESEARCH (TAG ";
  proto::write_string(out, ctx.tag);
  out += ')';
  if (ctx.uid) out += " UID";
  out += ' ';
  out += what;
  if (ctx.uid) {
    search::write_positioned(out, pairs, [](uint32_t uid) { return uid; });
  } else {
    search::write_positioned(out, pairs, [&sel](uint32_t uid) { return sel.seq_of(uid); });
  }
  out += "\r\n";
}

// (UID, MODSEQ) of the messages the client knows, ascending.
std::vector<std::pair<uint32_t, uint64_t>> snapshot(const Selected& sel) {
  std::vector<std::pair<uint32_t, uint64_t>> out;
  out.reserve(sel.uids.size());
  for (uint32_t uid : sel.uids) {
    const store::MessageMeta* m = sel.meta(uid);
    if (m) out.emplace_back(uid, m->modseq);
  }
  return out;
}

// Before EXPUNGE: the messages about to be expunged leave every context.
void before_expunge(Session& s, SearchContexts& c, std::string& out) {
  Selected& sel = s.selected();
  if (sel.pending_expunge.empty()) return;
  std::vector<uint32_t> gone;
  for (uint32_t uid : sel.pending_expunge)
    if (sel.seq_of(uid)) gone.push_back(uid);
  std::sort(gone.begin(), gone.end());
  gone.erase(std::unique(gone.begin(), gone.end()), gone.end());
  for (SearchContext& ctx : c.list) {
    auto pairs = search::remove_from(ctx.result, gone);
    write_update(out, ctx, "REMOVEFROM", pairs, sel);
  }
  std::erase_if(c.seen, [&gone](const auto& p) {
    return std::binary_search(gone.begin(), gone.end(), p.first);
  });
}

// At the end: new messages and messages whose MODSEQ moved are evaluated
// again; the differences go out as REMOVEFROM, then ADDTO.
void after_changes(Session& s, SearchContexts& c, std::string& out) {
  Selected& sel = s.selected();
  std::vector<uint32_t> changed;
  for (uint32_t uid : sel.uids) {
    const store::MessageMeta* m = sel.meta(uid);
    if (!m) continue;  // expunged elsewhere, not announced yet
    auto it = std::lower_bound(c.seen.begin(), c.seen.end(), uid,
                               [](const auto& p, uint32_t u) { return p.first < u; });
    if (it == c.seen.end() || it->first != uid || it->second != m->modseq) changed.push_back(uid);
  }
  if (changed.empty()) return;

  // Headers are read on the event loop: bounded.
  size_t header_evals = 0;
  for (const SearchContext& ctx : c.list)
    if (ctx.program.cost() != search::Cost::kMeta) header_evals += changed.size();
  const bool too_many = header_evals > kMaxContextHeaderReads;

  store::Mailbox* mailbox = sel.mailbox.get();
  for (auto it = c.list.begin(); it != c.list.end();) {
    SearchContext& ctx = *it;
    const bool reads = ctx.program.cost() != search::Cost::kMeta;
    if (reads && too_many) {
      write_noupdate(out, ctx.tag, "Too many changes at once; the search is no longer updated");
      it = c.list.erase(it);
      continue;
    }
    std::vector<uint32_t> now_in, now_out;
    for (uint32_t uid : changed) {
      const store::MessageMeta* meta = sel.meta(uid);
      search::StreamAccess access([mailbox, uid] { return mailbox->open_message(uid); });
      search::MessageContext m;
      m.meta = meta;
      m.seq = sel.seq_of(uid);
      m.recent = sel.recent.count(uid) > 0;
      m.access = reads ? &access : nullptr;
      const bool hit = ctx.program.matches(m);
      if (access.failed()) {
        core::log::error("imap_search_context_read_failed",
                         {{"session", s.id()}, {"mailbox", sel.name}, {"uid", uid}});
      }
      const bool was = std::binary_search(ctx.result.begin(), ctx.result.end(), uid);
      if (hit && !was) now_in.push_back(uid);
      if (!hit && was) now_out.push_back(uid);
    }
    write_update(out, ctx, "REMOVEFROM", search::remove_from(ctx.result, now_out), sel);
    write_update(out, ctx, "ADDTO", search::add_to(ctx.result, now_in), sel);
    ++it;
  }
  c.seen = snapshot(sel);
}

}  // namespace

std::string search_context_refusal(const proto::SearchKey& program, search::Cost cost) {
  if (cost == search::Cost::kBody) {
    return "BODY and TEXT searches are not kept up to date";
  }
  std::string why = unmaintainable_key(program);
  if (!why.empty()) return "Not kept up to date: " + why;
  return "";
}

bool add_search_context(Session& s, SearchContext ctx, const std::string& refusal,
                        std::string& out) {
  SearchContexts* c = live(s);
  if (!refusal.empty()) {
    write_noupdate(out, ctx.tag, refusal);
    return false;
  }
  // limits.search_contexts: a further SEARCH RETURN (UPDATE) is answered
  // with its result and "* NO [NOUPDATE "tag"]".
  const size_t cap = s.config().limits.search_contexts;
  if ((c ? c->list.size() : 0) >= cap) {
    write_noupdate(out, ctx.tag,
                   "Too many searches are updated already (limit " + std::to_string(cap) +
                       "); use CANCELUPDATE");
    return false;
  }
  if (!c) {
    s.search_contexts_ = std::make_shared<SearchContexts>();
    c = s.search_contexts_.get();
    c->selected = &s.selected();
    c->seen = snapshot(s.selected());
  }
  // A context with the same tag replaces the older one.
  std::erase_if(c->list, [&ctx](const SearchContext& o) { return o.tag == ctx.tag; });
  std::sort(ctx.result.begin(), ctx.result.end());
  c->list.push_back(std::move(ctx));
  return true;
}

bool cancel_search_contexts(Session& s, const std::vector<std::string>& tags) {
  SearchContexts* c = live(s);
  if (!c) return false;
  for (const std::string& t : tags) {
    bool found = std::any_of(c->list.begin(), c->list.end(),
                             [&t](const SearchContext& ctx) { return ctx.tag == t; });
    if (!found) return false;
  }
  std::erase_if(c->list, [&tags](const SearchContext& ctx) {
    return std::find(tags.begin(), tags.end(), ctx.tag) != tags.end();
  });
  if (c->list.empty()) s.search_contexts_.reset();
  return true;
}

void announce_search_contexts(Session& s, std::string& out, bool expunge_allowed, bool at_end) {
  SearchContexts* c = live(s);
  if (!c) return;
  if (!at_end) {
    if (expunge_allowed) before_expunge(s, *c, out);
    return;
  }
  after_changes(s, *c, out);
  if (c->list.empty()) s.search_contexts_.reset();
}

}  // namespace imap
