// One handler per POP3 command; each lives in its own file of this folder.
#pragma once

#include "pop3/session.h"

namespace pop3 {

void cmd_capa(Session& s, const proto::Command& c);
void cmd_quit(Session& s, const proto::Command& c);
void cmd_noop(Session& s, const proto::Command& c);
void cmd_user(Session& s, const proto::Command& c);
void cmd_pass(Session& s, const proto::Command& c);
void cmd_auth(Session& s, const proto::Command& c);
void cmd_stls(Session& s, const proto::Command& c);
void cmd_apop(Session& s, const proto::Command& c);
void cmd_stat(Session& s, const proto::Command& c);
void cmd_list(Session& s, const proto::Command& c);
void cmd_uidl(Session& s, const proto::Command& c);
void cmd_retr(Session& s, const proto::Command& c);
void cmd_top(Session& s, const proto::Command& c);
void cmd_dele(Session& s, const proto::Command& c);
void cmd_rset(Session& s, const proto::Command& c);

}  // namespace pop3
