#include "imap/mailbox/status.h"

#include <algorithm>

namespace imap::mailbox {

std::string_view status_item_name(StatusItem item) {
  switch (item) {
    case StatusItem::kMessages:
      return "MESSAGES";
    case StatusItem::kRecent:
      return "RECENT";
    case StatusItem::kUidNext:
      return "UIDNEXT";
    case StatusItem::kUidValidity:
      return "UIDVALIDITY";
    case StatusItem::kUnseen:
      return "UNSEEN";
    case StatusItem::kDeleted:
      return "DELETED";
    case StatusItem::kSize:
      return "SIZE";
    case StatusItem::kHighestModSeq:
      return "HIGHESTMODSEQ";
    case StatusItem::kDeletedStorage:
      return "DELETED-STORAGE";
    case StatusItem::kAppendLimit:
      return "APPENDLIMIT";
    case StatusItem::kMailboxId:
      return "MAILBOXID";
  }
  return "MESSAGES";
}

std::optional<std::vector<StatusItem>> read_status_items(std::span<const std::string> names,
                                                         bool rev2, std::string* error,
                                                         bool deleted_storage) {
  static constexpr StatusItem kAll[] = {
      StatusItem::kMessages,    StatusItem::kRecent,        StatusItem::kUidNext,
      StatusItem::kUidValidity, StatusItem::kUnseen,        StatusItem::kDeleted,
      StatusItem::kSize,        StatusItem::kHighestModSeq, StatusItem::kDeletedStorage,
      StatusItem::kAppendLimit, StatusItem::kMailboxId};
  if (names.empty()) {
    *error = "STATUS needs at least one item";
    return std::nullopt;
  }
  std::vector<StatusItem> out;
  for (const std::string& n : names) {
    std::optional<StatusItem> found;
    for (StatusItem item : kAll) {
      if (n == status_item_name(item)) found = item;
    }
    if (!found || (rev2 && *found == StatusItem::kRecent) ||
        (!deleted_storage && *found == StatusItem::kDeletedStorage)) {
      std::string shown = n.size() > 40 ? n.substr(0, 40) : n;
      *error = "Unknown STATUS item " + shown;
      return std::nullopt;
    }
    if (std::find(out.begin(), out.end(), *found) == out.end()) out.push_back(*found);
  }
  return out;
}

bool wants_mailbox_id(std::span<const StatusItem> items) {
  return std::find(items.begin(), items.end(), StatusItem::kMailboxId) != items.end();
}

bool wants_deleted_storage(std::span<const StatusItem> items) {
  return std::find(items.begin(), items.end(), StatusItem::kDeletedStorage) != items.end();
}

uint64_t deleted_storage(std::span<const store::MessageMeta> messages) {
  uint64_t total = 0;
  for (const auto& m : messages) {
    if (m.flags & store::kDeleted) total += m.size;
  }
  return total;
}

void write_status(std::string& out, std::string_view name, const store::MailboxStatus& status,
                  std::span<const StatusItem> items, uint32_t recent, const NameWriter& write_name,
                  uint64_t deleted_storage, uint64_t append_limit,
                  std::string_view mailbox_id) {
  out += "* STATUS ";
  write_name(out, name);
  out += " (";
  bool first = true;
  for (StatusItem item : items) {
    if (!first) out += ' ';
    first = false;
    out += status_item_name(item);
    out += ' ';
    uint64_t value = 0;
    switch (item) {
      case StatusItem::kMessages:
        value = status.messages;
        break;
      case StatusItem::kRecent:
        value = recent;
        break;
      case StatusItem::kUidNext:
        value = status.uidnext;
        break;
      case StatusItem::kUidValidity:
        value = status.uidvalidity;
        break;
      case StatusItem::kUnseen:
        value = status.unseen;
        break;
      case StatusItem::kDeleted:
        value = status.deleted;
        break;
      case StatusItem::kSize:
        value = status.size;
        break;
      case StatusItem::kHighestModSeq:
        value = status.highest_modseq;
        break;
      case StatusItem::kDeletedStorage:
        value = deleted_storage;
        break;
      case StatusItem::kAppendLimit:
        if (append_limit == 0) {
          out += "NIL";
          continue;
        }
        value = append_limit;
        break;
      case StatusItem::kMailboxId:
        out += '(';
        out += mailbox_id;
        out += ')';
        continue;
    }
    out += std::to_string(value);
  }
  out += ")\r\n";
}

}  // namespace imap::mailbox
