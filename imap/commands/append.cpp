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
#include "imap/commands/commands.h"

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

}  // namespace

void append_begin(Session& s, const proto::AppendBegin& b) {
  if (b.index == 0) {
    std::string why;
    auto name = s.mailbox_name(b.mailbox, &why);
    if (!name) return refuse(s, proto::Status::kNo, proto::code_name(Code::kCannot), why);
    s.append_ = std::make_shared<Session::AppendState>();
    s.append_->mailbox = *name;
  }
  if (!s.append_) return refuse(s, proto::Status::kBad, "", "APPEND out of sequence");
  if (s.append_->error) {
    auto e = *s.append_->error;
    s.parser().reject_literal();
    s.append_.reset();
    return s.fail(e, "APPEND");
  }
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
  if (b.size == 0) {
    return refuse(s, proto::Status::kNo, proto::code_name(Code::kCannot),
                  "An empty message cannot be saved");
  }
  int64_t date = b.date ? to_unix(*b.date) : 0;
  auto st = s.append_;
  auto account = s.account_ptr();
  bool sync_literal = b.synchronising;
  s.run_store(
      [st, account, flags, keywords, date]() {
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
          return s.fail(e, "APPEND");
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

void append_end(Session& s, bool last) {
  auto st = s.append_;
  auto account = s.account_ptr();
  s.run_store(
      [st, account, last]() {
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
        if (auto status = account->mailbox_status(st->mailbox)) {
          st->uidvalidity = status->uidvalidity;
        }
      },
      [&s, st, last]() {
        if (!last) return s.resume();  // an error is answered at the next message
        s.append_.reset();
        if (st->error) return s.fail(*st->error, "APPEND");
        if (st->uidvalidity == 0) return s.ok("APPEND completed");
        std::string code = "APPENDUID " + std::to_string(st->uidvalidity) + " ";
        proto::write_sequence_set(code, st->uids);
        s.ok("APPEND completed", code);
      },
      /*sync=*/false);
}

void append_abort(Session& s) {
  s.append_.reset();
}

}  // namespace imap
