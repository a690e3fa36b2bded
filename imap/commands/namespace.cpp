// NAMESPACE (RFC 2342, RFC 9051 6.3.10): one personal namespace with the
// prefix "" and the separator "/"; no other users' or shared namespaces.
#include "imap/commands/commands.h"

namespace imap {

void cmd_namespace(Session& s, const proto::Command&) {
  s.write("* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
  s.ok("NAMESPACE completed");
}

}  // namespace imap
