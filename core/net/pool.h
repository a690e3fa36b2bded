// A bounded pool of threads for blocking work (store I/O, password hashing).
// Separate pools keep a burst of slow argon2 checks from starving mailbox I/O,
// and a bounded queue turns overload into a "try again later" answer instead
// of unbounded memory.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace core::net {

class Pool {
 public:
  Pool(std::string name, size_t threads, size_t max_queue);
  ~Pool();  // finishes queued work, then joins
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Queues work; false when the queue is full (the caller answers "busy").
  bool submit(std::function<void()> work);
  size_t queued() const;

 private:
  void run();
  std::string name_;
  size_t max_queue_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
};

}  // namespace core::net
