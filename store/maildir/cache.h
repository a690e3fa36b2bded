// The Maildir store's mailbox cache: how much mailbox metadata stays loaded
// after the last session on a mailbox closes it, so that the next SELECT,
// STATUS or POP3 login on it reads no index file and lists no directory
// when nothing changed. Set from `limits.mailbox_cache` at start and on
// reload. Documented in docs/STORE.md ("Mailbox cache").
#pragma once

#include <cstddef>

namespace store::maildir {

// The budget in messages (each kept mailbox also counts kMailboxCacheEntryCost);
// 0 keeps nothing once the last handle is gone.
void set_mailbox_cache_limit(size_t messages);
size_t mailbox_cache_limit();

inline constexpr size_t kMailboxCacheEntryCost = 64;

}  // namespace store::maildir
