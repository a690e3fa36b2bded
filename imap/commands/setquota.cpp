// SETQUOTA (RFC 9208 4.1.3): quotas are set by the hosting panel's domain
// files (the per-domain policy), never by the mail client, so every
// well-formed SETQUOTA is refused with NO [NOPERM]. RFC 9208 5 lets a
// server refuse it this way; Roost does not offer the QUOTASET capability.
#include "imap/commands/commands.h"

namespace imap {

void cmd_setquota(Session& s, const proto::Command& c) {
  (void)c;
  s.no("Quotas are set by your provider, not by the mail client",
       proto::code_name(proto::Code::kNoPerm));
}

}  // namespace imap
