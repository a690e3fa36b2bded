// APPEND (RFC 9051 6.3.12), streamed: the parser hands the message literal
// over in chunks, which go to the store's AppendTx as they arrive (in
// batches of up to kFlushAt bytes), so a large message is never held whole.
// The answer carries APPENDUID (RFC 4315).
//
// MULTIAPPEND (RFC 3502): one command may carry several messages, and they
// are saved all or none. Each message is written to its own AppendTx as it
// streams in; the transactions stay open, uncommitted (so invisible), until
// the last literal has arrived, and are then committed in order. Anything
// that fails before (a bad flag, a store error, a too large or aborted
// literal) destroys the open transactions, which discards them. Should a
// commit itself fail after earlier ones of the same command succeeded, the
// committed messages are expunged again before the NO.
//
// CATENATE (RFC 4469, with RFC 5550 URL-PARTIAL): a message may be built from
// TEXT literals and URLs of messages (or parts, or ranges of parts) this user
// can read. The parts go into the message's AppendTx in order as they arrive:
// TEXT data streams like a message literal, a URL's data is read from the
// store on the pool and written straight through (never held whole). A URL
// that cannot be resolved ends the command with NO [BADURL url] and nothing
// is saved; a message growing past the APPEND literal cap ends it with
// [TOOBIG]. A referenced part is inserted as FETCH BODY[section]<partial>
// would give it (line ends CRLF), except that NUL octets stay NUL.
//
// UTF8 (~{n}) (RFC 6855 4) is accepted once UTF8=ACCEPT is enabled and stored
// as given. REPLACE / UID REPLACE (RFC 8508) share all of this; replace.cpp
// checks the message to replace and expunges it once the new one is saved.
#include <algorithm>
#include <cctype>

#include "imap/commands/commands.h"
#include "imap/mime/mime.h"
#include "imap/url/url.h"

namespace imap {

using proto::Code;

struct Session::AppendState {
  std::string mailbox;
  std::unique_ptr<store::AppendTx> tx;                  // the message streaming in
  std::vector<std::unique_ptr<store::AppendTx>> ready;  // written, not committed
  std::string buffer;
  std::vector<uint32_t> uids;
  uint32_t uidvalidity = 0;
  std::optional<store::Error> error;
  // The message streaming in: its form and the octets it has so far
  // (CATENATE counts its parts against the literal cap).
  proto::AppendForm form = proto::AppendForm::kLiteral;
  uint64_t total = 0;
  // CATENATE URL failures, set on the pool: why the URL was refused
  // (BADURL), or that the message grew too big (TOOBIG).
  std::string url_problem;
  bool too_big = false;
  // REPLACE (RFC 8508): the UID of the selected mailbox's message to replace.
  bool replace = false;
  uint32_t replace_uid = 0;
  uint64_t quota_bytes = 0;  // announced sizes of this command's messages so far
};

namespace {

constexpr size_t kFlushAt = 1 << 20;
// Messages of one command held open (one temporary file each) at most.
constexpr size_t kMaxMessages = 1000;

int64_t to_unix(const proto::DateTime& dt) {
  proto::CalendarDay day{dt.date.year, dt.date.month, dt.date.day};
  return day.epoch_day() * 86400 + dt.hour * 3600 + dt.minute * 60 + dt.second -
         static_cast<int64_t>(dt.zone_minutes) * 60;
}

void refuse(Session& s, proto::Status status, std::string_view code, std::string text) {
  s.parser().reject_literal();
  s.append_.reset();
  s.complete(status, code.empty() ? std::nullopt : std::optional<std::string_view>(code), text);
}

const char* verb(const Session::AppendState& st) {
  return st.replace ? "REPLACE" : "APPEND";
}

// A store error recorded earlier in the command ends it.
bool failed_earlier(Session& s) {
  auto st = s.append_;
  if (!st || !st->error) return false;
  auto e = *st->error;
  s.parser().reject_literal();
  s.append_.reset();
  s.fail(e, verb(*st));
  return true;
}

std::string too_big_text(uint64_t max) {
  return "The message would be larger than " + std::to_string(max) + " octets; nothing was saved";
}

// Writes the window of `data` (which sits at `pos` of the section data) that
// the partial range selects. Returns false when the message grew too big or
// the store failed (recorded in st).
class UrlSink {
 public:
  UrlSink(Session::AppendState& st, std::optional<url::Partial> partial, uint64_t max)
      : st_(st), max_(max) {
    if (partial) {
      begin_ = partial->offset;
      if (partial->length) end_ = begin_ + *partial->length;
    }
  }
  bool put(std::string_view data) {
    uint64_t pos = pos_;
    pos_ += data.size();
    if (pos_ <= begin_ || pos >= end_) return true;
    uint64_t from = begin_ > pos ? begin_ - pos : 0;
    uint64_t to = std::min<uint64_t>(data.size(), end_ - pos);
    std::string_view piece = data.substr(from, to - from);
    if (st_.total + piece.size() > max_) {
      st_.too_big = true;
      return false;
    }
    st_.total += piece.size();
    if (auto r = st_.tx->write(piece); !r) {
      st_.error = r.error();
      return false;
    }
    return true;
  }
  bool done() const { return pos_ >= end_; }

 private:
  Session::AppendState& st_;
  uint64_t max_;
  uint64_t begin_ = 0;
  uint64_t end_ = UINT64_MAX;
  uint64_t pos_ = 0;  // octets of section data seen so far
};

// Bare LF line ends become CRLF, as FETCH BODY[] serves them.
void to_crlf(std::string_view in, bool& last_cr, std::string& out) {
  out.clear();
  for (char c : in) {
    if (c == '\n' && !last_cr) out.push_back('\r');
    out.push_back(c);
    last_cr = c == '\r';
  }
}

// On the pool: appends what `u` names in `mailbox` to the message being
// written. Returns "" when done (or when st.too_big / st.error is set),
// otherwise why the URL does not resolve.
std::string copy_url(Session::AppendState& st, store::Account& account, const std::string& mailbox,
                     const url::MessageUrl& u, uint64_t max) {
  constexpr size_t kChunk = 64 * 1024;
  auto mb = account.open_mailbox(mailbox, /*read_only=*/true);
  if (!mb) {
    if (mb.error().code == store::Errc::kIo) {
      st.error = mb.error();
      return "";
    }
    return "No such mailbox";
  }
  if (u.uidvalidity && *u.uidvalidity != (*mb)->status().uidvalidity) {
    return "UIDVALIDITY does not match";
  }
  const auto& msgs = (*mb)->messages();
  auto it = std::lower_bound(msgs.begin(), msgs.end(), u.uid,
                             [](const store::MessageMeta& m, uint32_t uid) { return m.uid < uid; });
  if (it == msgs.end() || it->uid != u.uid) return "No such message";
  auto stream = (*mb)->open_message(u.uid);
  if (!stream) return "The message cannot be read";
  auto& in = **stream;
  std::string buf(kChunk, '\0');
  auto read_range = [&](uint64_t offset, uint64_t length, auto&& fn) {
    if (!in.seek(offset)) return false;
    while (length > 0) {
      auto n = in.read(buf.data(), static_cast<size_t>(std::min<uint64_t>(kChunk, length)));
      if (!n) return false;
      if (*n == 0) break;
      length -= *n;
      if (!fn(std::string_view(buf.data(), *n))) return true;
    }
    return true;
  };
  uint64_t offset = 0;
  uint64_t length = in.raw_size();
  bool filter = false, negate = false;
  if (u.section) {
    mime::StructureParser parser;
    if (!read_range(0, in.raw_size(), [&](std::string_view d) {
          parser.feed(d);
          return true;
        }))
      return "The message cannot be read";
    mime::Part root = parser.finish();
    auto r = mime::resolve_section(root, u.spec);
    if (!r) return "No such section in the message";
    offset = r->raw_offset;
    length = r->raw_length;
    filter = r->filter;
    negate = r->filter_not;
  }
  UrlSink sink(st, u.partial, max);
  if (filter) {
    std::string header;
    if (!read_range(offset, length, [&](std::string_view d) {
          header.append(d);
          return true;
        }))
      return "The message cannot be read";
    sink.put(mime::filter_header_fields(header, u.spec.fields, negate));
    return "";
  }
  bool last_cr = false;
  std::string out;
  bool ok = read_range(offset, length, [&](std::string_view d) {
    to_crlf(d, last_cr, out);
    return sink.put(out) && !sink.done();
  });
  if (!ok && !st.error && !st.too_big) return "The message cannot be read";
  return "";
}

}  // namespace

void append_begin(Session& s, const proto::AppendBegin& b) {
  if (b.index == 0) {
    std::string why;
    auto name = s.mailbox_name(b.mailbox, &why);
    if (!name) return refuse(s, proto::Status::kNo, proto::code_name(Code::kCannot), why);
    uint32_t replace_uid = 0;
    if (b.replace) {
      auto check = replace_check(s, b);
      if (!check.uid) return refuse(s, check.status, check.code, check.text);
      replace_uid = check.uid;
    }
    s.append_ = std::make_shared<Session::AppendState>();
    s.append_->mailbox = *name;
    s.append_->replace = b.replace;
    s.append_->replace_uid = replace_uid;
  }
  if (!s.append_) return refuse(s, proto::Status::kBad, "", "APPEND out of sequence");
  if (failed_earlier(s)) return;
  if (b.form == proto::AppendForm::kUtf8 && s.utf8() == proto::Utf8Mode::kOff) {
    return refuse(s, proto::Status::kBad, "",
                  "UTF8 (~{n}) message data needs ENABLE UTF8=ACCEPT first");
  }
  s.append_->form = b.form;
  s.append_->total = b.size;
  uint32_t flags = 0;
  std::vector<std::string> keywords;
  std::string why;
  if (!parse_flags(b.flags, &flags, &keywords, &why)) {
    return refuse(s, proto::Status::kBad, "", why);
  }
  if (b.index >= kMaxMessages) {
    return refuse(s, proto::Status::kNo, proto::code_name(Code::kLimit),
                  "Too many messages in one APPEND; at most " + std::to_string(kMaxMessages) +
                      ", nothing was saved");
  }
  if (b.size == 0 && b.form != proto::AppendForm::kCatenate) {
    return refuse(s, proto::Status::kNo, proto::code_name(Code::kCannot),
                  "An empty message cannot be saved");
  }
  int64_t date = b.date ? to_unix(*b.date) : 0;
  auto st = s.append_;
  auto account = s.account_ptr();
  // CATENATE: no literal to ask for here (its TEXT parts ask for their own).
  bool sync_literal = b.synchronising && b.form != proto::AppendForm::kCatenate;
  s.run_store(
      [st, account, flags, keywords, date, limits = quota_limits(s.policy()), size = b.size,
       count = b.index + 1]() {
        // RFC 9208: refused before the literal is read, nothing saved; every
        // message of a MULTIAPPEND counts.
        st->quota_bytes += size;
        if (auto q = check_quota(*account, limits, st->quota_bytes, count); !q) {
          st->error = q.error();
          return;
        }
        auto tx = account->begin_append(st->mailbox, flags, keywords, date);
        if (!tx) {
          st->error = tx.error();
          return;
        }
        st->tx = std::move(*tx);
      },
      [&s, st, sync_literal]() {
        if (st->error) {
          auto e = *st->error;
          if (e.code == store::Errc::kNotFound) {
            return refuse(s, proto::Status::kNo, proto::code_name(Code::kTryCreate),
                          "Mailbox does not exist: " + st->mailbox);
          }
          s.parser().reject_literal();
          s.append_.reset();
          return s.fail(e, verb(*st));
        }
        if (sync_literal) s.write("+ Ready for literal data\r\n");
        s.parser().accept_literal();
        s.resume();
      },
      /*sync=*/false);
}

void append_chunk(Session& s, std::string bytes) {
  auto st = s.append_;
  if (!st->error) st->buffer += bytes;
  if (st->buffer.size() < kFlushAt || st->error) return s.resume();
  s.run_store(
      [st]() {
        if (auto r = st->tx->write(st->buffer); !r) st->error = r.error();
        st->buffer.clear();
        st->buffer.shrink_to_fit();
      },
      [&s]() { s.resume(); }, /*sync=*/false);
}

void append_text(Session& s, const proto::CatenateText& t) {
  auto st = s.append_;
  if (failed_earlier(s)) return;
  if (t.utf8 && s.utf8() == proto::Utf8Mode::kOff) {
    return refuse(s, proto::Status::kBad, "",
                  "UTF8 (~{n}) message data needs ENABLE UTF8=ACCEPT first");
  }
  uint64_t max = s.parser().limits().literal_max;
  if (t.size > max || st->total + t.size > max) {
    // As for a too big message literal: NO for {n}, BAD for {n+} (its bytes
    // are skipped).
    return refuse(s, t.synchronising ? proto::Status::kNo : proto::Status::kBad, "TOOBIG",
                  too_big_text(max));
  }
  st->total += t.size;
  if (t.synchronising) s.write("+ Ready for literal data\r\n");
  s.parser().accept_literal();
  s.resume();
}

void append_url(Session& s, const proto::CatenateUrl& u) {
  auto st = s.append_;
  if (failed_earlier(s)) return;
  std::string code = "BADURL " + url::for_response_code(u.url);
  std::string why;
  auto parsed = url::parse_message_url(u.url, &why);
  if (!parsed) return refuse(s, proto::Status::kNo, code, "Bad URL: " + why);
  if (parsed->absolute) {
    const std::string& address = s.address();
    std::string local = address.substr(0, address.find('@'));
    auto same = [](std::string_view a, std::string_view b) {
      return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
             });
    };
    if (!same(parsed->host, s.config().server.hostname)) {
      return refuse(s, proto::Status::kNo, code, "The URL names another server");
    }
    if (parsed->user.empty() || (!same(parsed->user, address) && !same(parsed->user, local))) {
      return refuse(s, proto::Status::kNo, code, "The URL names another user");
    }
  }
  std::string mailbox;
  if (parsed->mailbox) {
    mailbox = store::is_inbox(*parsed->mailbox) ? "INBOX" : *parsed->mailbox;
    if (auto v = store::validate_mailbox_name(mailbox); !v) {
      return refuse(s, proto::Status::kNo, code, "Bad mailbox name in the URL");
    }
  } else {
    if (!s.has_selected()) {
      return refuse(s, proto::Status::kNo, code, "A relative URL needs a selected mailbox");
    }
    mailbox = s.selected().name;
  }
  uint64_t max = s.parser().limits().literal_max;
  auto account = s.account_ptr();
  s.run_store(
      [st, account, mailbox, url = std::move(*parsed), max]() {
        if (st->error) return;
        // TEXT data still buffered goes first.
        if (!st->buffer.empty()) {
          if (auto r = st->tx->write(st->buffer); !r) {
            st->error = r.error();
            return;
          }
          st->buffer.clear();
        }
        st->url_problem = copy_url(*st, *account, mailbox, url, max);
      },
      [&s, st, code, max]() {
        if (failed_earlier(s)) return;
        if (st->too_big) {
          return refuse(s, proto::Status::kNo, "TOOBIG", too_big_text(max));
        }
        if (!st->url_problem.empty()) {
          return refuse(s, proto::Status::kNo, code, st->url_problem + "; nothing was saved");
        }
        s.resume();
      },
      /*sync=*/false);
}

void append_end(Session& s, bool last) {
  auto st = s.append_;
  auto account = s.account_ptr();
  if (st->form == proto::AppendForm::kCatenate && st->total == 0 && !st->error) {
    return refuse(s, proto::Status::kNo, proto::code_name(Code::kCannot),
                  "An empty message cannot be saved");
  }
  // REPLACE: the selected mailbox's handle, to expunge the old message.
  store::Mailbox* replaced_in = st->replace ? s.selected().mailbox.get() : nullptr;
  s.run_store(
      [st, account, last, replaced_in]() {
        if (st->error) return;
        if (!st->buffer.empty()) {
          if (auto r = st->tx->write(st->buffer); !r) {
            st->error = r.error();
            return;
          }
          st->buffer.clear();
          st->buffer.shrink_to_fit();
        }
        st->ready.push_back(std::move(st->tx));
        if (!last) return;
        // The last literal is in: commit them all, in order.
        for (auto& tx : st->ready) {
          auto uid = tx->commit();
          if (!uid) {
            st->error = uid.error();
            break;
          }
          st->uids.push_back(*uid);
        }
        st->ready.clear();  // uncommitted ones are discarded
        if (st->error) {
          if (!st->uids.empty()) {
            // All or nothing: take back the ones already committed.
            if (auto mb = account->open_mailbox(st->mailbox)) {
              (void)(*mb)->expunge(st->uids);
            }
          }
          st->uids.clear();
          return;
        }
        if (replaced_in) {
          // RFC 8508: the new message is saved; now the old one goes. Should
          // that fail, the new one is taken back and the old one stays.
          if (auto r = replace_expunge(*replaced_in, st->replace_uid); !r) {
            st->error = r.error();
            if (auto mb = account->open_mailbox(st->mailbox)) (void)(*mb)->expunge(st->uids);
            st->uids.clear();
            return;
          }
        }
        if (auto status = account->mailbox_status(st->mailbox)) {
          st->uidvalidity = status->uidvalidity;
        }
      },
      [&s, st, last]() {
        if (!last) return s.resume();  // an error is answered at the next message
        s.append_.reset();
        if (st->error) return s.fail(*st->error, verb(*st));
        std::string code;
        if (st->uidvalidity != 0) {
          code = "APPENDUID " + std::to_string(st->uidvalidity) + " ";
          proto::write_sequence_set(code, st->uids);
        }
        if (st->replace) return replace_done(s, st->replace_uid, code);
        if (code.empty()) return s.ok("APPEND completed");
        s.ok("APPEND completed", code);
      },
      /*sync=*/false);
}

void append_abort(Session& s) {
  s.append_.reset();
}

}  // namespace imap
