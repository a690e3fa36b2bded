#include "quota_status/session.h"

#include <vector>

#include "core/log/log.h"
#include "delivery/delivery.h"

namespace quota_status {
namespace {

// Requests waiting behind the one being answered before reading pauses.
constexpr size_t kMaxQueued = 32;

ParserLimits parser_limits(const core::config::Config& c) {
  ParserLimits l;
  l.max_line = c.limits.quota_status_line;
  l.max_request = c.limits.quota_status_request;
  return l;
}

std::optional<uint64_t> parse_size(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

}  // namespace

std::string decide(store::Store& store, const core::config::Directory& dir,
                   const Request& request) {
  auto recipient = request.get("recipient");
  if (!recipient || recipient->empty()) return kDunno;  // not a RCPT-stage question
  uint64_t size = 1;
  if (auto s = request.get("size")) {
    if (auto n = parse_size(*s); n && *n > 0) size = *n;
  }
  auto res = delivery::resolve(dir, *recipient);
  switch (res.status) {
    case delivery::Lookup::kFound:
      break;
    case delivery::Lookup::kDomainBroken:
    case delivery::Lookup::kBadTarget:
      return kTempFail;
    default:
      return kDunno;  // unknown or remote only: Postfix decides those itself
  }
  bool over = false, defer = true;
  for (const auto& t : res.targets) {
    const auto& view = t.view;
    auto at = view.address.rfind('@');
    if (at == std::string::npos) return kTempFail;
    auto acc = store.open_account(view.address.substr(at + 1), view.address.substr(0, at));
    if (!acc) return kTempFail;
    store::QuotaLimits limits;
    if (view.policy.quota != core::config::kUnlimited) limits.bytes = view.policy.quota;
    if (view.policy.quota_messages != core::config::kUnlimited) {
      limits.messages = view.policy.quota_messages;
    }
    (*acc)->set_quota_limits(limits);
    if (limits.bytes == 0 && limits.messages == 0) continue;
    auto usage = (*acc)->quota_usage();
    if (!usage) return kTempFail;
    auto q = delivery::check_quota(view.policy, *usage, size);
    if (!q.over) continue;
    over = true;
    // Several targets over: a permanent refusal wins over a deferral.
    if (!q.defer) defer = false;
  }
  if (!over) return kDunno;
  return defer ? kDefer : kReject;
}

Session::Session(core::server::Services& services, std::shared_ptr<const core::server::Runtime> rt)
    : services_(services), rt_(std::move(rt)), parser_(parser_limits(rt_->config())) {}

void Session::on_start() {
  // The policy protocol has no greeting: the client speaks first.
  conn().set_idle_timeout(rt_->config().limits.idle_timeout.quota_status);
}

void Session::on_data(std::string_view bytes) {
  if (ending_) return;
  std::vector<Request> done;
  parser_.feed(bytes, &done);
  for (auto& r : done) queue_.push_back(std::move(r));
  if (queue_.size() > kMaxQueued) conn().pause_reading();
  pump();
}

void Session::answer(std::string_view text) {
  conn().write(text);
}

void Session::pump() {
  while (!busy_ && !queue_.empty() && !ending_ && !conn().closed()) {
    Request req = std::move(queue_.front());
    queue_.pop_front();
    auto type = req.get("request");
    if (!req.bad && (!type || *type != "smtpd_access_policy")) {
      req.bad = true;
      req.reason = type ? "unknown request type" : "no request attribute";
    }
    if (req.bad) {
      core::log::warn("quota_status", {{"session", conn().info().id},
                                       {"remote", conn().info().remote_ip},
                                       {"reason", req.reason}});
      answer(kTempFail);
      if (++bad_ >= rt_->config().limits.bad_commands) {
        ending_ = true;
        conn().close();
        return;
      }
      continue;
    }
    busy_ = true;
    auto self = shared_from_this();
    auto result = std::make_shared<std::string>();
    auto rt = services_.runtime();  // a reload applies to the next request
    auto* store = &services_.store();
    auto shared_req = std::make_shared<Request>(std::move(req));
    bool queued = conn().offload(
        services_.store_pool(), self,
        [store, rt, shared_req, result] { *result = decide(*store, *rt->directory, *shared_req); },
        [this, result, shared_req] {
          busy_ = false;
          answer(*result);
          auto rcpt = shared_req->get("recipient");
          core::log::info("quota_status", {{"session", conn().info().id},
                                           {"recipient", rcpt ? std::string(*rcpt) : std::string()},
                                           {"action", result->substr(7, result->size() - 9)}});
          if (queue_.size() <= kMaxQueued) conn().resume_reading();
          pump();
        });
    if (!queued) {
      busy_ = false;
      answer(kTempFail);
    }
  }
  if (ending_ && !busy_) conn().close();
}

void Session::on_shutdown() {
  ending_ = true;
  if (!busy_) conn().close();
}

void Session::on_kick(std::string_view) {}

}  // namespace quota_status
