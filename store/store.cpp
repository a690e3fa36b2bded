// Helpers shared by every store backend: mailbox name rules, keyword
// normalisation, flag changes, CRLF sizes and view differences.
#include "store/store.h"

#include <algorithm>
#include <array>
#include <cstdio>

#include "core/util/ascii.h"
#include "core/util/header_fields.h"
#include "core/util/utf7.h"
#include "store/store_util.h"

namespace store {
namespace {

constexpr size_t kMaxNameBytes = 1024;
constexpr size_t kMaxComponentBytes = 255;

// Length of the UTF-8 sequence starting at s[i], or 0 when it is not a valid,
// shortest-form encoding of a scalar value (no surrogates, at most U+10FFFF).

}  // namespace

Result<void> validate_mailbox_name(std::string_view name) {
  auto bad = [](std::string what) { return core::fail(make_error(Errc::kInvalidName, what)); };
  if (name.empty()) return bad("empty mailbox name");
  if (name.size() > kMaxNameBytes) return bad("mailbox name too long");
  if (name.front() == '/') return bad("mailbox name starts with '/'");
  if (name.back() == '/') return bad("mailbox name ends with '/'");
  for (char ch : name) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7F) return bad("control character in mailbox name");
    if (c == '\\') return bad("backslash in mailbox name");
  }
  if (!core::valid_utf8(name)) return bad("mailbox name is not valid UTF-8");
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view component = name.substr(start, end - start);
    if (component.empty()) return bad("empty component in mailbox name");
    if (component == "." || component == "..") return bad("'.' or '..' in mailbox name");
    if (component.size() > kMaxComponentBytes) return bad("mailbox name component too long");
    start = end + 1;
  }
  return {};
}

bool is_inbox(std::string_view name) {
  return equals_ignore_case(name, "INBOX");
}

// --- Mailbox names ---------------------------------------------------------

std::string canonical_mailbox_name(std::string_view name) {
  size_t slash = name.find('/');
  std::string_view first = name.substr(0, slash);
  if (!is_inbox(first)) return std::string(name);
  std::string out = "INBOX";
  if (slash != std::string_view::npos) out.append(name.substr(slash));
  return out;
}

std::string_view parent_mailbox_name(std::string_view name) {
  size_t slash = name.rfind('/');
  if (slash == std::string_view::npos) return {};
  return name.substr(0, slash);
}

bool is_descendant_mailbox(std::string_view name, std::string_view ancestor) {
  return name.size() > ancestor.size() + 1 && name.substr(0, ancestor.size()) == ancestor &&
         name[ancestor.size()] == '/';
}

std::vector<std::string> mailbox_ancestors(std::string_view name) {
  std::vector<std::string> out;
  for (size_t pos = name.find('/'); pos != std::string_view::npos; pos = name.find('/', pos + 1)) {
    out.emplace_back(name.substr(0, pos));
  }
  return out;
}

// --- Keywords --------------------------------------------------------------

bool is_valid_keyword(std::string_view keyword) {
  if (keyword.empty() || keyword.size() > kMaxKeywordLength) return false;
  for (char ch : keyword) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7F) return false;
    switch (c) {
      case '(':
      case ')':
      case '{':
      case '%':
      case '*':
      case '"':
      case '\\':
      case ']':
        return false;
      default:
        break;
    }
  }
  return true;
}

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (core::ascii_lower(a[i]) != core::ascii_lower(b[i])) return false;
  }
  return true;
}

void normalize_keywords(std::vector<std::string>& keywords) {
  std::vector<std::string> out;
  out.reserve(keywords.size());
  for (auto& k : keywords) {
    if (!is_valid_keyword(k)) continue;
    bool dup = std::any_of(out.begin(), out.end(),
                           [&](const std::string& o) { return equals_ignore_case(o, k); });
    if (!dup) out.push_back(std::move(k));
  }
  std::sort(out.begin(), out.end());
  keywords = std::move(out);
}

// --- Flag changes ----------------------------------------------------------

bool apply_flag_change(MessageMeta& meta, const FlagChange& change) {
  std::vector<std::string> kws = change.keywords;
  normalize_keywords(kws);
  uint32_t flags = change.flags & kAllFlags;
  uint32_t new_flags = meta.flags;
  std::vector<std::string> new_keywords = meta.keywords;
  auto contains = [](const std::vector<std::string>& list, const std::string& k) {
    return std::any_of(list.begin(), list.end(),
                       [&](const std::string& o) { return equals_ignore_case(o, k); });
  };
  switch (change.op) {
    case FlagOp::kAdd:
      new_flags |= flags;
      for (auto& k : kws) {
        if (!contains(new_keywords, k)) new_keywords.push_back(k);
      }
      break;
    case FlagOp::kRemove:
      new_flags &= ~flags;
      new_keywords.erase(std::remove_if(new_keywords.begin(), new_keywords.end(),
                                        [&](const std::string& o) { return contains(kws, o); }),
                         new_keywords.end());
      break;
    case FlagOp::kReplace:
      new_flags = flags;
      // Keep the existing spelling of keywords the message already has.
      for (auto& k : kws) {
        auto it = std::find_if(meta.keywords.begin(), meta.keywords.end(),
                               [&](const std::string& o) { return equals_ignore_case(o, k); });
        if (it != meta.keywords.end()) k = *it;
      }
      new_keywords = std::move(kws);
      break;
  }
  std::sort(new_keywords.begin(), new_keywords.end());
  if (new_flags == meta.flags && new_keywords == meta.keywords) return false;
  meta.flags = new_flags;
  meta.keywords = std::move(new_keywords);
  return true;
}

// --- Sizes -----------------------------------------------------------------

void CrlfSizeCounter::feed(std::string_view bytes) {
  for (char c : bytes) {
    if (c == '\n') {
      size_ += last_cr_ ? 1 : 2;
    } else {
      size_ += 1;
    }
    last_cr_ = (c == '\r');
  }
}

uint64_t crlf_size(std::string_view bytes) {
  CrlfSizeCounter counter;
  counter.feed(bytes);
  return counter.size();
}

// --- Views -----------------------------------------------------------------

MailboxStatus compute_status(const std::vector<MessageMeta>& messages, uint32_t uidvalidity,
                             uint32_t uidnext, uint64_t highest_modseq) {
  MailboxStatus st;
  st.messages = static_cast<uint32_t>(messages.size());
  for (const auto& m : messages) {
    if (!(m.flags & kSeen)) ++st.unseen;
    if (m.flags & kDeleted) ++st.deleted;
    st.size += m.size;
  }
  st.uidvalidity = uidvalidity;
  st.uidnext = uidnext;
  st.highest_modseq = highest_modseq;
  return st;
}

SyncResult diff_views(const std::vector<MessageMeta>& old_view,
                      const std::vector<MessageMeta>& new_view) {
  SyncResult r;
  size_t i = 0, j = 0;
  while (i < old_view.size() || j < new_view.size()) {
    if (j == new_view.size() || (i < old_view.size() && old_view[i].uid < new_view[j].uid)) {
      r.expunged.push_back(old_view[i++].uid);
    } else if (i == old_view.size() || new_view[j].uid < old_view[i].uid) {
      r.added.push_back(new_view[j++].uid);
    } else {
      const MessageMeta& a = old_view[i++];
      const MessageMeta& b = new_view[j++];
      if (a.flags != b.flags || a.keywords != b.keywords || a.hidden != b.hidden ||
          a.modseq != b.modseq) {
        r.flags_changed.push_back(b.uid);
      }
    }
  }
  return r;
}

std::string make_uidl(uint32_t uidvalidity, uint32_t uid) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%x.%x", uidvalidity, uid);
  return buf;
}

// --- Header cache --------------------------------------------------------------------

bool is_cached_header_field(std::string_view name) {
  // Lower case. What IMAP clients fetch to list a mailbox (ENVELOPE, and the
  // HEADER.FIELDS lists of Thunderbird, mutt, Apple Mail and K-9), what
  // SORT and THREAD read, and the usual SEARCH header keys.
  static constexpr std::array<std::string_view, 23> kFields = {
      "bcc",          "cc",          "content-description",
      "content-type", "date",        "from",
      "importance",   "in-reply-to", "lines",
      "list-id",      "list-post",   "message-id",
      "newsgroups",   "priority",    "references",
      "reply-to",     "sender",      "subject",
      "to",           "x-label",     "x-original-to",
      "x-priority",   "x-spam-flag"};
  for (std::string_view f : kFields) {
    if (core::ascii_iequals(f, name)) return true;
  }
  return false;
}

std::string cached_header_fields(std::string_view header_block) {
  return core::filter_header_fields(header_block, is_cached_header_field);
}

std::optional<std::string> read_header_block(MessageStream& stream, size_t limit) {
  constexpr size_t kChunk = 16 * 1024;
  std::string buf;
  size_t scanned = 0;  // no blank line ends before here
  while (true) {
    if (buf.starts_with("\n") || buf.starts_with("\r\n")) return std::string();
    for (size_t pos = buf.find('\n', scanned > 2 ? scanned - 2 : 0); pos != std::string::npos;
         pos = buf.find('\n', pos + 1)) {
      if (pos + 1 < buf.size() && buf[pos + 1] == '\n') return buf.substr(0, pos + 2);
      if (pos + 2 < buf.size() && buf[pos + 1] == '\r' && buf[pos + 2] == '\n') {
        return buf.substr(0, pos + 3);
      }
    }
    scanned = buf.size();
    if (buf.size() >= limit) return std::nullopt;
    const size_t old = buf.size();
    buf.resize(old + std::min(kChunk, limit - old));
    auto r = stream.read(buf.data() + old, buf.size() - old);
    if (!r) return std::nullopt;
    buf.resize(old + *r);
    if (*r == 0) return buf;  // no blank line: the whole message is its header
  }
}

std::vector<std::optional<std::string>> Mailbox::cached_headers(std::span<const uint32_t> uids) {
  std::vector<std::optional<std::string>> out(uids.size());
  for (size_t i = 0; i < uids.size(); ++i) {
    auto s = open_message(uids[i]);
    if (!s) continue;
    auto h = read_header_block(**s, kMaxHeaderScan);
    if (h) out[i] = cached_header_fields(*h);
  }
  return out;
}

}  // namespace store
