// The IMAP command table: each verb, its handler (one file each in this
// folder) and the states it is valid in. APPEND is not here: the parser
// streams it (append.cpp); it is valid when authenticated or selected.
// REPLACE / UID REPLACE (RFC 8508) are streamed the same way (replace.cpp
// checks the selected state itself, answering BAD outside it).
#include "imap/commands/commands.h"

namespace imap {

using proto::Verb;

namespace {
// clang-format off
constexpr CommandSpec kCommands[] = {
    // verb                handler            not-auth  auth   selected
    {Verb::kCapability,   &cmd_capability,   true,     true,  true},
    {Verb::kNoop,         &cmd_noop,         true,     true,  true},
    {Verb::kLogout,       &cmd_logout,       true,     true,  true},
    {Verb::kId,           &cmd_id,           true,     true,  true},
    {Verb::kStartTls,     &cmd_starttls,     true,     false, false},
    {Verb::kLogin,        &cmd_login,        true,     false, false},
    {Verb::kAuthenticate, &cmd_authenticate, true,     false, false},
    {Verb::kEnable,       &cmd_enable,       false,    true,  true},
    {Verb::kSelect,       &cmd_select,       false,    true,  true},
    {Verb::kExamine,      &cmd_examine,      false,    true,  true},
    {Verb::kCreate,       &cmd_create,       false,    true,  true},
    {Verb::kDelete,       &cmd_delete,       false,    true,  true},
    {Verb::kRename,       &cmd_rename,       false,    true,  true},
    {Verb::kSubscribe,    &cmd_subscribe,    false,    true,  true},
    {Verb::kUnsubscribe,  &cmd_unsubscribe,  false,    true,  true},
    {Verb::kList,         &cmd_list,         false,    true,  true},
    {Verb::kLsub,         &cmd_lsub,         false,    true,  true},
    {Verb::kNamespace,    &cmd_namespace,    false,    true,  true},
    {Verb::kStatus,       &cmd_status,       false,    true,  true},
    {Verb::kCheck,        &cmd_check,        false,    false, true},
    {Verb::kClose,        &cmd_close,        false,    false, true},
    {Verb::kUnselect,     &cmd_unselect,     false,    false, true},
    {Verb::kExpunge,      &cmd_expunge,      false,    false, true},
    {Verb::kSearch,       &cmd_search,       false,    false, true},
    {Verb::kFetch,        &cmd_fetch,        false,    false, true},
    {Verb::kStore,        &cmd_store,        false,    false, true},
    {Verb::kCopy,         &cmd_copy,         false,    false, true},
    {Verb::kMove,         &cmd_move,         false,    false, true},
    {Verb::kSort,         &cmd_sort,         false,    false, true},
    {Verb::kThread,       &cmd_thread,       false,    false, true},
    {Verb::kCompress,     &cmd_compress,     false,    true,  true},
    {Verb::kIdle,         &cmd_idle,         false,    true,  true},
    {Verb::kUnauthenticate, &cmd_unauthenticate, false, true, true},
    {Verb::kGetQuota,     &cmd_getquota,     false,    true,  true},
    {Verb::kGetQuotaRoot, &cmd_getquotaroot, false,    true,  true},
    {Verb::kNotify,       &cmd_notify,       false,    true,  true},
    {Verb::kSetQuota,     &cmd_setquota,     false,    true,  true},
    {Verb::kCancelUpdate, &cmd_cancelupdate, false,    false, true},
};
// clang-format on
}  // namespace

const CommandSpec* find_command(Verb verb) {
  for (const auto& c : kCommands)
    if (c.verb == verb) return &c;
  return nullptr;
}

}  // namespace imap
