// CONTEXT=SEARCH (RFC 5267 4): SEARCH / UID SEARCH RETURN (UPDATE) keeps the
// result up to date. The session's announce path calls
// announce_search_contexts() twice: before its EXPUNGE responses (REMOVEFROM
// for the messages about to go, while their numbers are still valid) and at
// its end, after EXISTS and FETCH FLAGS (REMOVEFROM and ADDTO for changed
// and new messages). Contexts end with CANCELUPDATE, SELECT, EXAMINE, CLOSE
// and UNSELECT (Session::select / unselect drop them).
//
// Membership is re-evaluated only for messages that are new or whose MODSEQ
// moved (flags, keywords): what else a program tests never changes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "imap/search/search.h"
#include "imap/session.h"

namespace imap {

// Most message headers one announce may read (on the event loop) for
// contexts whose program tests header fields; past it those contexts end
// with "* NO [NOUPDATE "tag"]".
inline constexpr size_t kMaxContextHeaderReads = 200;

struct SearchContext {
  explicit SearchContext(search::Program p) : program(std::move(p)) {}
  std::string tag;
  bool uid = false;  // UID SEARCH: updates name UIDs, else message numbers
  search::Program program;
  std::vector<uint32_t> result;  // matching UIDs, ascending
};

struct SearchContexts {
  const Selected* selected = nullptr;  // the selection they belong to
  std::vector<SearchContext> list;
  // (UID, MODSEQ) of every message as last evaluated, ascending by UID.
  std::vector<std::pair<uint32_t, uint64_t>> seen;
};

// Why the program cannot be kept up to date, or "" when it can: BODY / TEXT
// (the whole message would be read on the event loop), message-number sets
// (they shift with every expunge) and OLDER / YOUNGER (they change with the
// clock alone).
std::string search_context_refusal(const proto::SearchKey& program, search::Cost cost);

// Registers a context (after the SEARCH answer, before its tagged OK). When
// the session already has kMaxSearchContexts, or `refusal` is not empty,
// appends "* NO [NOUPDATE "tag"] ..." to `out` instead and returns false.
bool add_search_context(Session& s, SearchContext ctx, const std::string& refusal,
                        std::string& out);

// Whether every tag names a context; only then are they all ended.
bool cancel_search_contexts(Session& s, const std::vector<std::string>& tags);

// The announce call-out (see above): `at_end` false before the EXPUNGE
// responses, true at the end.
void announce_search_contexts(Session& s, std::string& out, bool expunge_allowed, bool at_end);

}  // namespace imap
