// The POP3 command table: each verb, its handler (one file each in this
// folder) and the states it is valid in. UPDATE accepts nothing.
#include "pop3/commands/commands.h"

namespace pop3 {

using proto::Verb;

namespace {
// clang-format off
constexpr CommandSpec kCommands[] = {
    // verb          handler         AUTHORIZATION  TRANSACTION
    {Verb::kCapa, &cmd_capa, true, true},
    {Verb::kQuit, &cmd_quit, true, true},
    {Verb::kNoop, &cmd_noop, false, true},
    {Verb::kUser, &cmd_user, true, false},
    {Verb::kPass, &cmd_pass, true, false},
    {Verb::kAuth, &cmd_auth, true, false},
    {Verb::kStls, &cmd_stls, true, false},
    {Verb::kApop, &cmd_apop, true, false},
    {Verb::kStat, &cmd_stat, false, true},
    {Verb::kList, &cmd_list, false, true},
    {Verb::kUidl, &cmd_uidl, false, true},
    {Verb::kRetr, &cmd_retr, false, true},
    {Verb::kTop, &cmd_top, false, true},
    {Verb::kDele, &cmd_dele, false, true},
    {Verb::kRset, &cmd_rset, false, true},
};
// clang-format on
}  // namespace

const CommandSpec* find_command(Verb verb) {
  for (const auto& c : kCommands)
    if (c.verb == verb) return &c;
  return nullptr;
}

}  // namespace pop3
