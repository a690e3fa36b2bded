// Offline rebuild of an account's Maildir indexes (`roost mailbox reindex`).
// Each mailbox's index file is removed under the mailbox lock (roost-lock,
// the same flock every store operation takes), then the mailbox is opened
// through the ordinary store code, which finds no index, rebuilds it from
// cur/ and new/ (UIDs from the U= fields, so nothing a client sees changes)
// and writes it back. Safe while roostd runs: if roostd rewrites the index
// from its own in-memory view in between, that index is equally current.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace store::maildir {

struct ReindexProgress {
  std::string mailbox;        // the mailbox being (or just) rebuilt
  size_t mailbox_number = 0;  // 1-based
  size_t mailboxes = 0;
  uint64_t done_messages = 0;   // messages in the mailboxes finished so far
  uint64_t total_messages = 0;  // files counted in cur/ and new/ before starting
};

struct ReindexedMailbox {
  std::string name;
  uint32_t messages = 0;
  uint32_t uidvalidity = 0;
  uint32_t uidnext = 0;
  bool had_index = false;  // an index file existed before
};

struct ReindexReport {
  std::vector<ReindexedMailbox> mailboxes;
  uint64_t messages = 0;
};

// `progress` (may be empty) is called before the first mailbox and after
// each one.
Result<ReindexReport> reindex_account(const MaildirOptions& options, std::string_view domain,
                                      std::string_view user,
                                      const std::function<void(const ReindexProgress&)>& progress);

}  // namespace store::maildir
