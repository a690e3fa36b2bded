// REPLACE and UID REPLACE (RFC 8508): APPEND a new message (to any mailbox),
// then expunge an old one from the selected mailbox, as one command. The
// command is streamed by the parser like APPEND (append.cpp does the
// appending, CATENATE and UTF8 included); this file holds what is REPLACE's
// own: which message is replaced, its removal and the answer.
//
// Failures: outside the selected state BAD; a message number out of range
// BAD (as for any message set); a UID the client does not know NO; a message
// expunged meanwhile NO [EXPUNGEISSUED]; a read-only mailbox NO [READ-ONLY].
// All are answered before any literal is read. When the append fails the old
// message is untouched; when the expunge fails the new message is taken back.
#include "imap/commands/commands.h"

namespace imap {

using proto::Code;

ReplaceCheck replace_check(Session& s, const proto::AppendBegin& b) {
  ReplaceCheck r;
  if (!s.has_selected()) {
    r.text = "REPLACE needs a selected mailbox";
    return r;
  }
  auto& sel = s.selected();
  if (sel.read_only) {
    r.status = proto::Status::kNo;
    r.code = std::string(proto::code_name(Code::kReadOnly));
    r.text = "Mailbox is read-only (EXAMINE); nothing was saved";
    return r;
  }
  uint32_t uid = 0;
  if (b.uid) {
    if (b.replace_number == proto::kStar) {
      if (!sel.uids.empty()) uid = sel.uids.back();
    } else if (sel.seq_of(b.replace_number)) {
      uid = b.replace_number;
    }
    if (!uid) {
      r.status = proto::Status::kNo;
      r.text = "No message with that UID; nothing was saved";
      return r;
    }
  } else {
    uint32_t n = b.replace_number == proto::kStar ? static_cast<uint32_t>(sel.uids.size())
                                                  : b.replace_number;
    if (n == 0 || n > sel.uids.size()) {
      r.text = "Invalid message number";
      return r;
    }
    uid = sel.uids[n - 1];
  }
  if (!sel.meta(uid)) {
    r.status = proto::Status::kNo;
    r.code = std::string(proto::code_name(Code::kExpungeIssued));
    r.text = "The message to replace was expunged meanwhile; nothing was saved";
    return r;
  }
  r.uid = uid;
  return r;
}

store::Result<void> replace_expunge(store::Mailbox& mailbox, uint32_t uid) {
  const uint32_t uids[] = {uid};
  return mailbox.expunge(uids);
}

void replace_done(Session& s, uint32_t old_uid, const std::string& appenduid) {
  // RFC 8508: APPENDUID goes in an untagged OK before the old message's
  // EXPUNGE (or VANISHED), which the session announces with the answer.
  if (!appenduid.empty()) {
    std::string out;
    proto::untagged(out, proto::Status::kOk, appenduid, "Replacement message saved");
    s.write(out);
  }
  if (s.has_selected()) s.selected().pending_expunge.push_back(old_uid);
  if (appenduid.empty()) return s.ok("REPLACE completed");
  s.ok("REPLACE completed", appenduid);
}

}  // namespace imap
