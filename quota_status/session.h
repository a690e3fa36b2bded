// The quota-status service (listener `protocol: quota_status`): Postfix's
// policy delegation protocol (check_policy_service), answering at RCPT time
// whether a recipient's mailbox can take the message, so that over-quota
// mail is refused during SMTP instead of bounced later. See docs/QUOTA.md.
//
// Per request (request=smtpd_access_policy): the recipient is resolved the
// way delivery resolves it (delivery::resolve: accounts, aliases, +detail,
// catch-all, alias domains) and every local target's usage is compared with
// its policy for a message of `size` octets (1 when Postfix does not know
// it), as delivery::check_quota does. Answers, each followed by an empty line:
//   action=DUNNO                       fits, or not a local address
//   action=552 5.2.2 Mailbox is full   over quota (quota_exceeded: reject)
//   action=452 4.2.2 Mailbox is full   over quota (quota_exceeded: defer)
//   action=DEFER_IF_PERMIT Service temporarily unavailable
//                                      malformed request, store error, broken domain
// The connection stays open for further requests; requests are answered in
// order, one at a time.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "core/config/directory.h"
#include "core/net/connection.h"
#include "core/server/services.h"
#include "quota_status/parser.h"
#include "store/store.h"

namespace quota_status {

inline constexpr char kDunno[] = "action=DUNNO\n\n";
inline constexpr char kTempFail[] = "action=DEFER_IF_PERMIT Service temporarily unavailable\n\n";
inline constexpr char kReject[] = "action=552 5.2.2 Mailbox is full\n\n";
inline constexpr char kDefer[] = "action=452 4.2.2 Mailbox is full\n\n";

// The answer to one well-formed request (blocking: store I/O). Public for tests.
std::string decide(store::Store& store, const core::config::Directory& dir, const Request& request);

class Session : public core::net::Session, public std::enable_shared_from_this<Session> {
 public:
  Session(core::server::Services& services, std::shared_ptr<const core::server::Runtime> rt);

  void on_start() override;
  void on_data(std::string_view bytes) override;
  void on_shutdown() override;
  void on_kick(std::string_view reason) override;

 private:
  void pump();
  void answer(std::string_view text);

  core::server::Services& services_;
  std::shared_ptr<const core::server::Runtime> rt_;
  Parser parser_;
  std::deque<Request> queue_;
  bool busy_ = false;
  bool ending_ = false;
  uint32_t bad_ = 0;
};

}  // namespace quota_status
