// THREAD algorithms: ORDEREDSUBJECT and REFERENCES (RFC 5256 3), and REFS
// (draft-ietf-morg-inthread: REFERENCES without the subject merging, threads
// ordered by their most recent message).
//
// Everything works on an arena of containers with explicit stacks instead
// of recursion: a mailbox may hold reply chains thousands of messages deep.
#include <algorithm>
#include <unordered_map>

#include "imap/mime/mime.h"
#include "imap/sort/sort.h"

namespace imap::sort {

namespace {

constexpr int kNone = -1;

struct Container {
  int msg = kNone;  // index into the messages; kNone: placeholder (dummy)
  int parent = kNone;
  std::vector<int> children;
};

// Date and message number: the order of siblings and threads.
struct Stamp {
  int64_t date = 0;
  uint32_t seq = 0;
  bool operator<(const Stamp& o) const { return date != o.date ? date < o.date : seq < o.seq; }
};

class Threader {
 public:
  explicit Threader(std::vector<ThreadMessage> messages) : msgs_(std::move(messages)) {}

  Threads run(Algorithm algorithm) {
    link();
    std::vector<int> roots;
    for (int i = 0; i < static_cast<int>(arena_.size()); ++i) {
      if (arena_[i].parent == kNone) roots.push_back(i);
    }
    roots = prune(roots);
    sort_siblings(roots);
    std::sort(roots.begin(), roots.end(), [this](int a, int b) { return stamp(a) < stamp(b); });
    if (algorithm == Algorithm::kReferences) {
      roots = merge_subjects(roots);
      sort_siblings(roots);
    } else {
      // REFS: threads by their most recent message.
      std::vector<std::pair<Stamp, int>> keyed;
      for (int r : roots) keyed.emplace_back(latest(r), r);
      std::stable_sort(keyed.begin(), keyed.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      roots.clear();
      for (const auto& k : keyed) roots.push_back(k.second);
    }
    return output(roots);
  }

 private:
  int make_container() {
    arena_.emplace_back();
    return static_cast<int>(arena_.size()) - 1;
  }

  int container_for(const std::string& id) {
    auto it = by_id_.find(id);
    if (it != by_id_.end()) return it->second;
    int c = make_container();
    by_id_.emplace(id, c);
    return c;
  }

  // Whether `a` is `x` or one of its ancestors.
  bool is_ancestor(int a, int x) const {
    size_t guard = arena_.size() + 1;
    while (x != kNone && guard-- > 0) {
      if (x == a) return true;
      x = arena_[x].parent;
    }
    return false;
  }

  void detach(int c) {
    int p = arena_[c].parent;
    if (p == kNone) return;
    auto& kids = arena_[p].children;
    kids.erase(std::remove(kids.begin(), kids.end(), c), kids.end());
    arena_[c].parent = kNone;
  }

  void attach(int parent, int child) {
    arena_[child].parent = parent;
    arena_[parent].children.push_back(child);
  }

  // Step 1: containers per Message-ID, linked by References / In-Reply-To.
  void link() {
    for (int m = 0; m < static_cast<int>(msgs_.size()); ++m) {
      const ThreadMessage& msg = msgs_[m];
      int c;
      if (msg.message_id.empty()) {
        c = make_container();
      } else {
        c = container_for(msg.message_id);
        // A duplicate Message-ID: this message gets a container of its own.
        if (arena_[c].msg != kNone) c = make_container();
      }
      arena_[c].msg = m;
      int prev = kNone;
      for (const std::string& ref : msg.references) {
        int r = container_for(ref);
        if (prev != kNone && r != prev && arena_[r].parent == kNone && !is_ancestor(r, prev)) {
          attach(prev, r);
        }
        prev = r;
      }
      // The message itself knows its parent best: the last reference.
      if (prev != kNone && prev != c && !is_ancestor(c, prev)) {
        detach(c);
        attach(prev, c);
      }
    }
  }

  // Containers under `roots`, each before its descendants.
  std::vector<int> preorder(const std::vector<int>& roots) const {
    std::vector<int> order;
    std::vector<int> stack(roots.rbegin(), roots.rend());
    while (!stack.empty()) {
      int c = stack.back();
      stack.pop_back();
      order.push_back(c);
      const auto& kids = arena_[c].children;
      for (auto it = kids.rbegin(); it != kids.rend(); ++it) stack.push_back(*it);
    }
    return order;
  }

  bool dummy(int c) const { return arena_[c].msg == kNone; }

  // Step 3: placeholders without children go; below the top level their
  // children move up; at the top level only a single child does.
  std::vector<int> prune(const std::vector<int>& roots) {
    std::vector<int> order = preorder(roots);
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      Container& x = arena_[*it];
      std::vector<int> kept;
      for (int c : x.children) {
        if (!dummy(c)) {
          kept.push_back(c);
          continue;
        }
        for (int g : arena_[c].children) {
          arena_[g].parent = *it;
          kept.push_back(g);
        }
        arena_[c].children.clear();
        arena_[c].parent = kNone;
      }
      x.children = std::move(kept);
    }
    std::vector<int> out;
    for (int r : roots) {
      if (!dummy(r)) {
        out.push_back(r);
      } else if (arena_[r].children.size() == 1) {
        int only = arena_[r].children[0];
        arena_[only].parent = kNone;
        arena_[r].children.clear();
        out.push_back(only);
      } else if (!arena_[r].children.empty()) {
        out.push_back(r);
      }
    }
    return out;
  }

  // A container's place among its siblings: its message's sent date, or for
  // a placeholder that of its first child.
  Stamp stamp(int c) const {
    while (dummy(c) && !arena_[c].children.empty()) c = arena_[c].children[0];
    if (dummy(c)) return Stamp{};
    const ThreadMessage& m = msgs_[arena_[c].msg];
    return Stamp{m.date, m.seq};
  }

  // Steps 4 and 6: every set of siblings by sent date, deepest first.
  void sort_siblings(const std::vector<int>& roots) {
    std::vector<int> order = preorder(roots);
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      auto& kids = arena_[*it].children;
      std::vector<std::pair<Stamp, int>> keyed;
      keyed.reserve(kids.size());
      for (int k : kids) keyed.emplace_back(stamp(k), k);
      std::stable_sort(keyed.begin(), keyed.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      for (size_t i = 0; i < kids.size(); ++i) kids[i] = keyed[i].second;
    }
  }

  // The most recent message of a thread.
  Stamp latest(int root) const {
    Stamp best;
    bool any = false;
    for (int c : preorder({root})) {
      if (dummy(c)) continue;
      const ThreadMessage& m = msgs_[arena_[c].msg];
      Stamp s{m.date, m.seq};
      if (!any || best < s) best = s;
      any = true;
    }
    return best;
  }

  // The message that speaks for a container's subject.
  const ThreadMessage* representative(int c) const {
    if (dummy(c)) {
      if (arena_[c].children.empty()) return nullptr;
      c = arena_[c].children[0];
      if (dummy(c)) return nullptr;
    }
    return &msgs_[arena_[c].msg];
  }

  // Step 5: threads whose roots share a base subject are gathered.
  std::vector<int> merge_subjects(std::vector<int> roots) {
    std::unordered_map<std::string, int> table;
    for (int r : roots) {
      const ThreadMessage* m = representative(r);
      if (m == nullptr || m->subject.empty()) continue;
      auto [it, fresh] = table.emplace(m->subject, r);
      if (fresh) continue;
      int old = it->second;
      const ThreadMessage* om = representative(old);
      if ((dummy(r) && !dummy(old)) || (!dummy(old) && om->reply && !m->reply)) it->second = r;
    }
    std::vector<bool> removed(arena_.size(), false);
    // Where each root sits in `roots`, so a new placeholder can take a place.
    std::unordered_map<int, size_t> slot;
    for (size_t i = 0; i < roots.size(); ++i) slot[roots[i]] = i;
    for (size_t i = 0; i < roots.size(); ++i) {
      int r = roots[i];
      if (removed[r]) continue;
      const ThreadMessage* m = representative(r);
      if (m == nullptr || m->subject.empty()) continue;
      auto it = table.find(m->subject);
      if (it == table.end() || it->second == r) continue;
      int t = it->second;
      if (dummy(t) && dummy(r)) {
        for (int k : arena_[r].children) {
          arena_[k].parent = t;
          arena_[t].children.push_back(k);
        }
        arena_[r].children.clear();
        removed[r] = true;
      } else if (dummy(t)) {
        attach(t, r);
        removed[r] = true;
      } else if (dummy(r)) {
        attach(r, t);
        removed[t] = true;
        it->second = r;
      } else {
        const bool t_reply = msgs_[arena_[t].msg].reply;
        const bool r_reply = msgs_[arena_[r].msg].reply;
        if (!t_reply && r_reply) {
          attach(t, r);
          removed[r] = true;
        } else if (t_reply && !r_reply) {
          attach(r, t);
          removed[t] = true;
          it->second = r;
        } else {
          int d = make_container();
          removed.push_back(false);
          size_t at = slot[t];
          attach(d, t);
          attach(d, r);
          roots[at] = d;
          slot[d] = at;
          removed[r] = true;
          it->second = d;
        }
      }
    }
    std::vector<int> out;
    for (int r : roots) {
      if (!removed[r]) out.push_back(r);
    }
    return out;
  }

  Threads output(const std::vector<int>& roots) const {
    Threads t;
    std::vector<int> order = preorder(roots);
    std::unordered_map<int, uint32_t> index;
    index.reserve(order.size());
    for (int c : order) {
      index[c] = static_cast<uint32_t>(t.nodes.size());
      Threads::Node n;
      n.number = dummy(c) ? 0 : msgs_[arena_[c].msg].number;
      t.nodes.push_back(std::move(n));
    }
    for (int c : order) {
      auto& kids = t.nodes[index[c]].children;
      for (int k : arena_[c].children) kids.push_back(index[k]);
    }
    for (int r : roots) t.roots.push_back(index[r]);
    return t;
  }

  std::vector<ThreadMessage> msgs_;
  std::vector<Container> arena_;
  std::unordered_map<std::string, int> by_id_;
};

Threads ordered_subject(std::vector<ThreadMessage> msgs) {
  std::vector<size_t> idx(msgs.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::sort(idx.begin(), idx.end(), [&msgs](size_t a, size_t b) {
    const ThreadMessage& x = msgs[a];
    const ThreadMessage& y = msgs[b];
    if (x.subject != y.subject) return x.subject < y.subject;
    if (x.date != y.date) return x.date < y.date;
    return x.seq < y.seq;
  });
  Threads t;
  std::vector<std::pair<Stamp, uint32_t>> firsts;
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    uint32_t root = static_cast<uint32_t>(t.nodes.size());
    t.nodes.push_back(Threads::Node{msgs[idx[i]].number, {}});
    firsts.emplace_back(Stamp{msgs[idx[i]].date, msgs[idx[i]].seq}, root);
    while (++j < idx.size() && msgs[idx[j]].subject == msgs[idx[i]].subject) {
      t.nodes[root].children.push_back(static_cast<uint32_t>(t.nodes.size()));
      t.nodes.push_back(Threads::Node{msgs[idx[j]].number, {}});
    }
    i = j;
  }
  std::sort(firsts.begin(), firsts.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& f : firsts) t.roots.push_back(f.second);
  return t;
}

}  // namespace

std::optional<Algorithm> algorithm_from_name(std::string_view upper) {
  if (upper == "ORDEREDSUBJECT") return Algorithm::kOrderedSubject;
  if (upper == "REFERENCES") return Algorithm::kReferences;
  if (upper == "REFS") return Algorithm::kRefs;
  return std::nullopt;
}

ThreadMessage make_thread_message(const store::MessageMeta& meta, uint32_t seq, uint32_t number,
                                  const std::string* header) {
  ThreadMessage m;
  m.seq = seq;
  m.number = number;
  m.date = meta.internal_date;
  if (header == nullptr) return m;
  Fields f = read_fields(*header);
  if (f.date) {
    if (auto d = parse_rfc5322_date(*f.date)) m.date = *d;
  }
  if (f.subject) {
    BaseSubject b = base_subject(*f.subject);
    m.subject = collation_key(b.text);
    m.reply = b.reply;
  }
  if (f.message_id) {
    std::vector<std::string> ids = message_ids(*f.message_id);
    if (!ids.empty()) m.message_id = std::move(ids[0]);
  }
  if (f.references) m.references = message_ids(*f.references);
  if (m.references.empty() && f.in_reply_to) {
    std::vector<std::string> ids = message_ids(*f.in_reply_to);
    if (!ids.empty()) m.references.push_back(std::move(ids[0]));
  }
  return m;
}

Threads thread_messages(Algorithm algorithm, std::vector<ThreadMessage> messages) {
  if (algorithm == Algorithm::kOrderedSubject) return ordered_subject(std::move(messages));
  Threader t(std::move(messages));
  return t.run(algorithm);
}

void write_threads(std::string& out, const Threads& threads) {
  // Stack items: a node to write, or one of the characters '(' ')' ' '.
  struct Item {
    uint32_t node;
    char text;  // '\0': write `node`
  };
  std::vector<Item> stack;
  for (uint32_t root : threads.roots) {
    out += '(';
    stack.push_back(Item{root, '\0'});
    while (!stack.empty()) {
      Item it = stack.back();
      stack.pop_back();
      if (it.text != '\0') {
        out += it.text;
        continue;
      }
      const Threads::Node& n = threads.nodes[it.node];
      const bool has = n.number != 0;
      if (has) out += std::to_string(n.number);
      if (n.children.empty()) continue;
      if (has) out += ' ';
      if (n.children.size() == 1) {
        stack.push_back(Item{n.children[0], '\0'});
        continue;
      }
      for (auto k = n.children.rbegin(); k != n.children.rend(); ++k) {
        stack.push_back(Item{0, ')'});
        stack.push_back(Item{*k, '\0'});
        stack.push_back(Item{0, '('});
      }
    }
    out += ')';
  }
}

}  // namespace imap::sort
