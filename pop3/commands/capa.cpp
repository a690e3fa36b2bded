// CAPA (RFC 2449): what this session may use right now. USER and SASL are
// listed only where a plaintext login would be accepted; STLS only before TLS
// on a STARTTLS listener.
#include "pop3/commands/commands.h"

namespace pop3 {

void cmd_capa(Session& s, const proto::Command&) {
  std::vector<std::string> caps = {"TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"};
  if (s.state() == State::kAuthorization) {
    if (s.plaintext_ok("")) {
      caps.push_back("USER");
      caps.push_back("SASL PLAIN LOGIN");
    }
    if (s.stls_available()) caps.push_back("STLS");
  }
  caps.push_back("IMPLEMENTATION Roost");
  s.multiline("Capability list follows", caps);
}

}  // namespace pop3
