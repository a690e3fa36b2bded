// One handler per IMAP command; each lives in its own file of this folder,
// named after the command. UID forms share the handler (Command::uid).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "imap/search/search.h"
#include "imap/session.h"

namespace imap {

// Any state
void cmd_capability(Session& s, const proto::Command& c);
void cmd_noop(Session& s, const proto::Command& c);
void cmd_logout(Session& s, const proto::Command& c);
void cmd_id(Session& s, const proto::Command& c);
// Not authenticated
void cmd_starttls(Session& s, const proto::Command& c);
void cmd_login(Session& s, const proto::Command& c);
void cmd_authenticate(Session& s, const proto::Command& c);
// Authenticated
void cmd_enable(Session& s, const proto::Command& c);
void cmd_select(Session& s, const proto::Command& c);
void cmd_examine(Session& s, const proto::Command& c);
void cmd_create(Session& s, const proto::Command& c);
void cmd_delete(Session& s, const proto::Command& c);
void cmd_rename(Session& s, const proto::Command& c);
void cmd_subscribe(Session& s, const proto::Command& c);
void cmd_unsubscribe(Session& s, const proto::Command& c);
void cmd_list(Session& s, const proto::Command& c);
void cmd_lsub(Session& s, const proto::Command& c);
void cmd_namespace(Session& s, const proto::Command& c);
void cmd_status(Session& s, const proto::Command& c);
// Selected
void cmd_check(Session& s, const proto::Command& c);
void cmd_close(Session& s, const proto::Command& c);
void cmd_unselect(Session& s, const proto::Command& c);
void cmd_expunge(Session& s, const proto::Command& c);
void cmd_search(Session& s, const proto::Command& c);
void cmd_fetch(Session& s, const proto::Command& c);
void cmd_store(Session& s, const proto::Command& c);
void cmd_copy(Session& s, const proto::Command& c);
void cmd_move(Session& s, const proto::Command& c);
void cmd_sort(Session& s, const proto::Command& c);
void cmd_thread(Session& s, const proto::Command& c);
void cmd_compress(Session& s, const proto::Command& c);
void cmd_idle(Session& s, const proto::Command& c);
void cmd_unauthenticate(Session& s, const proto::Command& c);
void cmd_getquota(Session& s, const proto::Command& c);
void cmd_getquotaroot(Session& s, const proto::Command& c);
void cmd_notify(Session& s, const proto::Command& c);  // notify.cpp (RFC 5465)
void cmd_setquota(Session& s, const proto::Command& c);
void cmd_cancelupdate(Session& s, const proto::Command& c);

// Shared by SELECT and EXAMINE (select.cpp).
void open_selected(Session& s, const proto::SelectArgs& args, bool read_only);
// QUOTA (RFC 9208), getquota.cpp: whether the policy has a quota root, its QUOTA line.
bool has_quota_root(const core::config::Policy& p);
std::string quota_line(const core::config::Policy& p, const store::QuotaUsage& used);
// Quota enforcement (getquota.cpp): the policy's limits in store terms (0 = none).
store::QuotaLimits quota_limits(const core::config::Policy& p);
// Blocking (store pool): tells the store the limits, then fails with
// Errc::kOverQuota when adding add_bytes in add_messages messages would take
// the account over a limit; with nothing to add, when it is over already.
store::Result<void> check_quota(store::Account& account, const store::QuotaLimits& limits,
                                uint64_t add_bytes, uint64_t add_messages);
// Shared by SEARCH, SORT and THREAD (search.cpp): compiles a search program
// for the selected mailbox. On failure it answers itself (NO [BADCHARSET]
// after calling `on_bad_charset`, or BAD) and returns nullopt.
std::optional<search::Program> compile_search(Session& s, const proto::SearchKey& program,
                                              const std::optional<std::string>& charset,
                                              const std::function<void()>& on_bad_charset = {});
// Shared by SUBSCRIBE and UNSUBSCRIBE (subscribe.cpp).
void set_subscription(Session& s, const proto::Command& c, bool subscribed);
// Shared by COPY and MOVE (copy.cpp).
void copy_messages(Session& s, const proto::Command& c, bool move);
// REPLACE / UID REPLACE (RFC 8508), replace.cpp; streamed like APPEND
// (append.cpp calls these). replace_check: the message to replace, checked as
// the command starts (uid 0: refused with status / code / text).
// replace_expunge (store pool): removes it once the new message is saved.
// replace_done (loop): the untagged APPENDUID, the EXPUNGE, the answer.
struct ReplaceCheck {
  uint32_t uid = 0;
  proto::Status status = proto::Status::kBad;
  std::string code;
  std::string text;
};
ReplaceCheck replace_check(Session& s, const proto::AppendBegin& b);
store::Result<void> replace_expunge(store::Mailbox& mailbox, uint32_t uid);
void replace_done(Session& s, uint32_t old_uid, const std::string& appenduid);
// Parses a STORE / APPEND flag list into system flag bits and keywords;
// false (with *why) for \Recent or an unknown system flag (store.cpp).
bool parse_flags(const std::vector<std::string>& flags, uint32_t* bits,
                 std::vector<std::string>* keywords, std::string* why);

}  // namespace imap
