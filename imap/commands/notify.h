// NOTIFY (RFC 5465), the session side: the NOTIFY command, the watchers of
// the selected mailbox, of other mailboxes and of the account, and the
// pushes made whenever the session waits for a command. The pure parts
// (argument syntax, filter matching) are in imap/notify/.
//
// Session calls the hooks below; Notifier is a friend of Session.
#pragma once

#include <string_view>

namespace imap {

class Session;

class Notifier {
 public:
  // The NOTIFY command (`args`: the text after the command name).
  static void command(Session& s, std::string_view args);
  // A command (or IDLE) ended: the tagged answer is out, the next command
  // has not been read yet.
  static void command_done(Session& s);
  // Queued output fell below the low-water mark.
  static void drained(Session& s);

 private:
  struct Ops;  // the machinery (notify.cpp)
};

}  // namespace imap
