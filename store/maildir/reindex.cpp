#include "store/maildir/reindex.h"

#include <dirent.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "store/maildir/fsutil.h"
#include "store/maildir/names.h"
#include "store/maildir/state.h"

namespace store::maildir {

namespace {

// Message files (not dot files) in one directory; 0 when it cannot be read.
uint64_t count_files(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  uint64_t n = 0;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return n;
}

}  // namespace

Result<ReindexReport> reindex_account(const MaildirOptions& options, std::string_view domain,
                                      std::string_view user,
                                      const std::function<void(const ReindexProgress&)>& progress) {
  auto store = make_maildir_store(options);
  auto acct = store->open_account(domain, user);
  if (!acct) return core::fail(acct.error());
  auto list = (*acct)->list_mailboxes();
  if (!list) return core::fail(list.error());

  struct Item {
    std::string name, dir, index_path;
  };
  const std::string root = account_root(options.path_template, domain, user);
  const std::string index_dir =
      options.index_dir + "/" + std::string(domain) + "/" + std::string(user);
  std::vector<Item> items;
  ReindexProgress p;
  for (const auto& info : *list) {
    if (info.noselect) continue;
    auto folder =
        is_inbox(info.name) ? std::optional<std::string>("") : folder_for_mailbox(info.name);
    if (!folder) continue;
    Item it;
    it.name = info.name;
    it.dir = folder->empty() ? root : root + "/" + *folder;
    it.index_path = index_dir + "/" + (folder->empty() ? std::string("INBOX") : *folder) + ".idx";
    p.total_messages += count_files(it.dir + "/cur") + count_files(it.dir + "/new");
    items.push_back(std::move(it));
  }
  p.mailboxes = items.size();
  if (progress) progress(p);

  ReindexReport report;
  for (size_t i = 0; i < items.size(); ++i) {
    const Item& it = items[i];
    ReindexedMailbox out;
    out.name = it.name;
    {
      // The store reads and writes the index only under this lock.
      FileLock lock;
      if (!lock.lock(it.dir + "/" + kLockFile)) {
        return core::fail(make_error(
            Errc::kIo, "lock " + it.dir + "/" + kLockFile + ": " + std::strerror(errno)));
      }
      out.had_index = ::access(it.index_path.c_str(), F_OK) == 0;
      if (::unlink(it.index_path.c_str()) != 0 && errno != ENOENT) {
        return core::fail(
            make_error(Errc::kIo, "unlink " + it.index_path + ": " + std::strerror(errno)));
      }
    }
    {
      // Opening finds no index and rebuilds; closing the last handle writes
      // the new index.
      auto mb = (*acct)->open_mailbox(it.name, true);
      if (!mb) return core::fail(mb.error());
      auto st = (*mb)->status();
      out.messages = st.messages;
      out.uidvalidity = st.uidvalidity;
      out.uidnext = st.uidnext;
    }
    report.messages += out.messages;
    report.mailboxes.push_back(out);
    p.mailbox = it.name;
    p.mailbox_number = i + 1;
    p.done_messages = report.messages;
    if (p.done_messages > p.total_messages) p.total_messages = p.done_messages;
    if (progress) progress(p);
  }
  return report;
}

}  // namespace store::maildir
