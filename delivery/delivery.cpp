#include "delivery/delivery.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/metrics/metrics.h"
#include "core/util/ascii.h"

namespace delivery {

namespace fs = std::filesystem;
namespace config = core::config;

namespace {

constexpr size_t kChunk = 64 * 1024;

// Printable text for a header: control characters become '?', at most `max` octets.
std::string header_safe(std::string_view s, size_t max = 255) {
  std::string out;
  for (char ch : s) {
    if (out.size() >= max) break;
    unsigned char c = static_cast<unsigned char>(ch);
    out.push_back(c < 0x20 || c == 0x7f ? '?' : ch);
  }
  return out;
}

// RFC 5322 date in UTC, independent of the locale.
std::string rfc5322_date(std::chrono::system_clock::time_point when) {
  static const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday % 7],
                tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

store::Result<std::optional<std::string>> find_mailbox(store::Account& account,
                                                       const std::string& name, bool any_case) {
  auto status = account.mailbox_status(name);
  if (status) return std::optional<std::string>(name);
  if (status.error().code != store::Errc::kNotFound &&
      status.error().code != store::Errc::kInvalidName) {
    return core::fail(status.error());
  }
  if (!any_case) return std::optional<std::string>();
  auto list = account.list_mailboxes();
  if (!list) return core::fail(list.error());
  std::optional<std::string> match;
  for (const auto& info : *list) {
    if (info.noselect || core::ascii_lower(info.name) != core::ascii_lower(name)) continue;
    if (match) return std::optional<std::string>();  // ambiguous: INBOX
    match = info.name;
  }
  return match;
}

Outcome fail_from(const store::Error& e, const config::Policy& policy, std::string what) {
  Outcome o;
  o.reason = what + ": " + e.message;
  if (e.code == store::Errc::kOverQuota) {
    o.status = Status::kOverQuota;
    o.defer = policy.quota_exceeded == config::QuotaExceeded::kDefer;
  } else if (e.code == store::Errc::kTooBig) {
    o.status = Status::kTooBig;
  } else {
    o.status = Status::kTempFail;
  }
  return o;
}

// a >= pct% of limit, without overflow.
bool at_least_percent(uint64_t used, uint64_t limit, uint32_t pct) {
  if (limit == config::kUnlimited || limit == 0) return false;
  return static_cast<unsigned __int128>(used) * 100 >= static_cast<unsigned __int128>(limit) * pct;
}

std::string mark_path(const Options& o, const std::string& address) {
  std::string name;
  for (char ch : address) {
    unsigned char c = static_cast<unsigned char>(ch);
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' ||
        c == '@' || c == '+') {
      name.push_back(ch);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      name += hex;
    }
  }
  return (fs::path(o.state_dir) / "quota-warned" / name).string();
}

void replace_all(std::string& s, std::string_view from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
    s.replace(pos, from.size(), to);
}

std::string to_crlf(std::string_view in) {
  std::string out;
  out.reserve(in.size() + in.size() / 32);
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) out.push_back('\r');
    out.push_back(in[i]);
  }
  return out;
}

std::string human_size(uint64_t n) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[48];
  if (u == 0) {
    std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(n));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  }
  return buf;
}

constexpr const char* kBuiltinWarning =
    "From: Mail System <postmaster@{domain}>\n"
    "To: <{address}>\n"
    "Subject: Your mailbox is {percent}% full\n"
    "Date: {date}\n"
    "Message-ID: <{message_id}>\n"
    "Auto-Submitted: auto-generated\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n"
    "Your mailbox {address} uses {used} of {limit} ({percent}%).\n"
    "\n"
    "When it is full, new messages to you will be refused and their senders\n"
    "told so. Please delete messages you no longer need, and empty the Trash\n"
    "and Junk folders.\n"
    "\n"
    "This message is sent once; you will be warned again if your mailbox\n"
    "fills up again after you have made room.\n";

}  // namespace

// ---------------------------------------------------------------------------
// Resolution

Resolution resolve(const config::Directory& dir, std::string_view address) {
  Resolution r;
  auto at = address.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == address.size()) {
    r.status = Lookup::kUnknownUser;
    r.reason = "not an address";
    return r;
  }
  auto domain = config::normalize_domain(std::string(address.substr(at + 1)));
  if (!domain || !dir.find_domain(*domain)) {
    if (domain) {
      for (const auto& f : dir.files()) {
        if (f.domain) continue;
        auto stem = config::normalize_domain(fs::path(f.file).stem().string());
        if (stem && *stem == *domain) {
          r.status = Lookup::kDomainBroken;
          r.reason = "the domain file " + f.file + " is broken";
          if (!f.errors.empty()) {
            const auto& e = f.errors.front();
            r.reason +=
                ": " + e.file + (e.line > 0 ? ":" + std::to_string(e.line) : "") + ": " + e.message;
          }
          return r;
        }
      }
    }
    r.status = Lookup::kUnknownDomain;
    r.reason = "the domain is not served here";
    return r;
  }
  auto recipients = dir.resolve_recipient(address);
  if (recipients.empty()) {
    r.status = Lookup::kUnknownUser;
    r.reason = "no such account or alias";
    return r;
  }
  std::set<std::string> seen;
  for (const auto& rc : recipients) {
    if (!rc.local) {
      r.remote.push_back(rc.address);
      continue;
    }
    auto view = dir.find_account(rc.address);
    if (!view || !view->domain || !view->account) {
      r.status = Lookup::kBadTarget;
      r.reason = "alias target " + rc.address + " is not an account";
      r.targets.clear();
      return r;
    }
    if (!seen.insert(view->address).second) continue;
    Target t;
    t.view = std::move(*view);
    t.folder = rc.folder;
    r.targets.push_back(std::move(t));
  }
  if (r.targets.empty()) {
    r.status = Lookup::kNoLocal;
    r.reason = "no local recipient (outside alias targets are not relayed)";
    return r;
  }
  r.status = Lookup::kFound;
  return r;
}

// ---------------------------------------------------------------------------
// Quota

QuotaCheck check_quota(const config::Policy& pol, const store::QuotaUsage& usage, uint64_t size) {
  QuotaCheck q;
  bool over_bytes = pol.quota != config::kUnlimited &&
                    (usage.bytes > pol.quota || size > pol.quota - usage.bytes);
  bool over_count =
      pol.quota_messages != config::kUnlimited && usage.messages >= pol.quota_messages;
  if (!over_bytes && !over_count) return q;
  q.over = true;
  q.defer = pol.quota_exceeded == config::QuotaExceeded::kDefer;
  if (over_bytes) {
    q.reason = std::to_string(usage.bytes) + " of " + std::to_string(pol.quota) +
               " bytes used, the message has " + std::to_string(size);
  } else {
    q.reason =
        std::to_string(usage.messages) + " of " + std::to_string(pol.quota_messages) + " messages";
  }
  return q;
}

// ---------------------------------------------------------------------------
// Spool

Spool::~Spool() {
  if (fd_ >= 0) close(fd_);
}

std::string Spool::open(const std::string& dir) {
  if (fd_ >= 0) return "";
  std::vector<std::string> dirs;
  if (!dir.empty()) dirs.push_back(dir);
  const char* tmp = std::getenv("TMPDIR");
  if (tmp && *tmp) dirs.emplace_back(tmp);
  dirs.emplace_back("/tmp");
  std::string last;
  for (const auto& d : dirs) {
    std::error_code ec;
    fs::create_directories(d, ec);
#ifdef O_TMPFILE
    fd_ = ::open(d.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd_ >= 0) return "";
#endif
    std::string pattern = d + "/roost-spool-XXXXXX";
    fd_ = mkostemp(pattern.data(), O_CLOEXEC);
    if (fd_ >= 0) {
      unlink(pattern.c_str());
      return "";
    }
    last = "cannot create a temporary file in " + d + ": " + std::strerror(errno);
  }
  return last;
}

std::string Spool::append(std::string_view bytes) {
  if (fd_ < 0) return "the spool is not open";
  while (!bytes.empty()) {
    ssize_t w = write(fd_, bytes.data(), bytes.size());
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return std::string("writing the spool: ") + std::strerror(errno);
    bytes.remove_prefix(static_cast<size_t>(w));
    size_ += static_cast<uint64_t>(w);
  }
  return "";
}

store::Result<size_t> Spool::read_at(uint64_t offset, char* buf, size_t n) const {
  for (;;) {
    ssize_t r = pread(fd_, buf, n, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      return core::fail(store::make_error(
          store::Errc::kIo, std::string("reading the spool: ") + std::strerror(errno)));
    }
    return static_cast<size_t>(r);
  }
}

// ---------------------------------------------------------------------------
// Headers

std::string received_header(std::string_view helo, std::string_view remote,
                            std::string_view hostname, std::string_view protocol,
                            std::string_view id, std::chrono::system_clock::time_point when) {
  std::string h = "Received: from ";
  h += helo.empty() ? std::string("unknown") : header_safe(helo);
  h += " (";
  h += header_safe(remote, 64);
  h += ")\r\n\tby ";
  h += header_safe(hostname);
  h += " (Roost) with ";
  h += header_safe(protocol, 16);
  h += " id ";
  h += header_safe(id, 64);
  h += ";\r\n\t";
  h += rfc5322_date(when);
  return h;
}

std::string trace_headers(const Envelope& env) {
  if (!env.add_headers) return "";
  std::string h = "Return-Path: <" + header_safe(env.sender, 1000) + ">\r\n";
  h += "Delivered-To: " + header_safe(env.recipient, 1000) + "\r\n";
  if (!env.received.empty()) h += env.received + "\r\n";
  return h;
}

// ---------------------------------------------------------------------------
// Store

Outcome prepare(store::Store& st, const Target& target, uint64_t size,
                const std::string& explicit_mailbox, Prepared* out) {
  const config::Policy& pol = target.view.policy;
  out->target = target;
  const std::string& domain = target.view.domain->name;
  const std::string& user = target.view.account->name;
  auto acc = st.open_account(domain, user);
  if (!acc) return fail_from(acc.error(), pol, "opening the account");
  out->account = std::move(acc.value());
  (void)out->account->ensure_defaults(pol.special_use);

  // The maildirsize definition line follows the account's policy.
  store::QuotaLimits limits;
  limits.bytes = pol.quota == config::kUnlimited ? 0 : pol.quota;
  limits.messages = pol.quota_messages == config::kUnlimited ? 0 : pol.quota_messages;
  out->account->set_quota_limits(limits);

  auto usage = out->account->quota_usage();
  if (!usage) return fail_from(usage.error(), pol, "quota");
  out->usage = *usage;
  auto q = check_quota(pol, *usage, size);
  if (q.over) {
    core::metrics::quota_refusals().inc();
    Outcome o;
    o.status = Status::kOverQuota;
    o.defer = q.defer;
    o.reason = "over quota (" + q.reason + ")";
    return o;
  }

  // The mailbox: the explicit one if it exists, else the +detail folder if it
  // exists (the directory leaves `folder` empty when the policy delivers
  // details into INBOX), else INBOX.
  out->mailbox = "INBOX";
  const bool detail = explicit_mailbox.empty();
  const std::string& candidate = detail ? target.folder : explicit_mailbox;
  if (!candidate.empty() && !store::is_inbox(candidate)) {
    auto found = find_mailbox(*out->account, candidate, /*any_case=*/detail);
    if (!found) return fail_from(found.error(), pol, candidate);
    if (*found) out->mailbox = **found;
  }
  Outcome o;
  o.status = Status::kStored;
  o.mailbox = out->mailbox;
  return o;
}

namespace {

// roost_deliveries_total{result}: one per store_message() call.
Outcome counted(Outcome o) {
  const char* result = "failed";
  switch (o.status) {
    case Status::kStored:
      result = "stored";
      break;
    case Status::kOverQuota:
      result = "over_quota";
      core::metrics::quota_refusals().inc();
      break;
    case Status::kTooBig:
      result = "too_big";
      break;
    case Status::kTempFail:
      break;
  }
  core::metrics::deliveries().with({result}).inc();
  return o;
}

Outcome store_message_uncounted(Prepared& p, std::string_view headers, const Source& source,
                                const Options& options);

}  // namespace

Outcome store_message(Prepared& p, std::string_view headers, const Source& source,
                      const Options& options) {
  return counted(store_message_uncounted(p, headers, source, options));
}

namespace {

Outcome store_message_uncounted(Prepared& p, std::string_view headers, const Source& source,
                                const Options& options) {
  const config::Policy& pol = p.target.view.policy;
  auto tx = p.account->begin_append(p.mailbox, 0, {}, 0);
  if (!tx) return fail_from(tx.error(), pol, p.mailbox);
  if (!headers.empty()) {
    if (auto w = (*tx)->write(headers); !w) return fail_from(w.error(), pol, "writing");
  }
  std::vector<char> buf(kChunk);
  uint64_t off = 0;
  for (;;) {
    auto n = source.read_at(off, buf.data(), buf.size());
    if (!n) return fail_from(n.error(), pol, "reading");
    if (*n == 0) break;
    if (auto w = (*tx)->write(std::string_view(buf.data(), *n)); !w) {
      return fail_from(w.error(), pol, "writing");
    }
    off += *n;
  }
  auto uid = (*tx)->commit();
  if (!uid) return fail_from(uid.error(), pol, "storing the message");
  Outcome o;
  o.status = Status::kStored;
  o.mailbox = p.mailbox;
  o.uid = *uid;
  // The warning is best effort: the message is stored whatever happens here.
  if (pol.quota != config::kUnlimited || pol.quota_messages != config::kUnlimited) {
    auto now = p.account->quota_usage();
    store::QuotaUsage u = now ? *now
                              : store::QuotaUsage{p.usage.bytes + headers.size() + source.size(),
                                                  p.usage.messages + 1};
    o.warned = maybe_warn(p, u, options);
  }
  return o;
}

}  // namespace

bool maybe_warn(Prepared& p, const store::QuotaUsage& usage, const Options& options) {
  const config::Policy& pol = p.target.view.policy;
  uint32_t at = pol.quota_warning.at_percent;
  if (at == 0 || options.state_dir.empty()) return false;
  bool bytes_hit = at_least_percent(usage.bytes, pol.quota, at);
  bool count_hit = at_least_percent(usage.messages, pol.quota_messages, at);
  std::string mark = mark_path(options, p.target.view.address);
  std::error_code ec;
  if (!bytes_hit && !count_hit) {
    fs::remove(mark, ec);  // back below: warn again next time
    return false;
  }
  if (fs::exists(mark, ec)) return false;

  std::string text;
  if (pol.quota_warning.message_file) {
    std::ifstream in(*pol.quota_warning.message_file, std::ios::binary);
    std::stringstream ss;
    if (in) {
      ss << in.rdbuf();
      text = ss.str();
    }
  }
  if (text.empty()) text = kBuiltinWarning;
  // Placeholders: the account, the usage and the limit of the resource that
  // passed the threshold (storage first).
  uint64_t used = bytes_hit ? usage.bytes : usage.messages;
  uint64_t limit = bytes_hit ? pol.quota : pol.quota_messages;
  uint64_t percent =
      limit ? static_cast<uint64_t>(static_cast<unsigned __int128>(used) * 100 / limit) : 100;
  auto now = std::chrono::system_clock::now();
  std::string id =
      std::to_string(
          std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count()) +
      ".quota-warning@" + header_safe(options.hostname);
  replace_all(text, "{address}", p.target.view.address);
  replace_all(text, "{domain}", p.target.view.domain->name);
  replace_all(text, "{percent}", std::to_string(percent));
  replace_all(text, "{used}", bytes_hit ? human_size(used) : std::to_string(used) + " messages");
  replace_all(text, "{limit}", bytes_hit ? human_size(limit) : std::to_string(limit) + " messages");
  replace_all(text, "{date}", rfc5322_date(now));
  replace_all(text, "{message_id}", id);
  text = to_crlf(text);

  // The warning never takes the account over its own quota.
  store::QuotaUsage after{usage.bytes, usage.messages};
  if (check_quota(pol, after, text.size()).over) return false;
  if (pol.quota_messages != config::kUnlimited && usage.messages + 1 > pol.quota_messages) {
    return false;
  }
  // The mark first: a writer that cannot record the warning (e.g. `roost
  // deliver` run by a user without access to state_dir) sends none, rather
  // than one per message.
  fs::create_directories(fs::path(mark).parent_path(), ec);
  {
    std::ofstream out(mark, std::ios::trunc);
    out << rfc5322_date(now) << "\n";
    if (!out.flush()) return false;
  }
  auto tx = p.account->begin_append("INBOX", 0, {}, 0);
  bool ok = tx && (*tx)->write(text) && (*tx)->commit();
  if (!ok) fs::remove(mark, ec);
  return ok;
}

}  // namespace delivery
