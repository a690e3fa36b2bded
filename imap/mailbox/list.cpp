#include "imap/mailbox/list.h"

#include <algorithm>
#include <map>
#include <set>

#include "core/util/ascii.h"
#include "imap/mailbox/pattern.h"

namespace imap::mailbox {
namespace {

struct NameLess {
  bool operator()(const std::string& a, const std::string& b) const { return name_less(a, b); }
};

// What is known about one name.
struct Node {
  bool exists = false;    // in the store's list (a real mailbox or a placeholder)
  bool noselect = false;  // a placeholder
  bool subscribed = false;
  store::SpecialUse use = store::SpecialUse::kNone;
};

using Nodes = std::map<std::string, Node, NameLess>;

Nodes collect(std::span<const store::MailboxInfo> mailboxes,
              std::span<const std::string> subscriptions) {
  Nodes nodes;
  for (const auto& m : mailboxes) {
    Node& n = nodes[m.name];
    n.exists = true;
    n.noselect = m.noselect;
    n.use = m.noselect ? store::SpecialUse::kNone : m.special_use;
  }
  for (const auto& m : mailboxes) {
    for (auto& a : ancestors(m.name)) {
      Node& n = nodes[a];
      if (!n.exists) {
        n.exists = true;
        n.noselect = true;
      }
    }
  }
  for (const auto& s : subscriptions) nodes[s].subscribed = true;
  return nodes;
}

bool matches_any(std::span<const std::string> patterns, std::string_view name) {
  for (const auto& p : patterns) {
    if (pattern_match(p, name)) return true;
  }
  return false;
}

}  // namespace

std::string_view special_use_attribute(store::SpecialUse use) {
  switch (use) {
    case store::SpecialUse::kNone:
      return {};
    case store::SpecialUse::kDrafts:
      return "\\Drafts";
    case store::SpecialUse::kSent:
      return "\\Sent";
    case store::SpecialUse::kTrash:
      return "\\Trash";
    case store::SpecialUse::kJunk:
      return "\\Junk";
    case store::SpecialUse::kArchive:
      return "\\Archive";
  }
  return {};
}

store::SpecialUse special_use_from_attribute(std::string_view attribute) {
  static constexpr store::SpecialUse kUses[] = {
      store::SpecialUse::kDrafts, store::SpecialUse::kSent, store::SpecialUse::kTrash,
      store::SpecialUse::kJunk, store::SpecialUse::kArchive};
  for (auto use : kUses) {
    if (core::ascii_iequals(attribute, special_use_attribute(use))) return use;
  }
  return store::SpecialUse::kNone;
}

bool read_list_options(const proto::ListArgs& args, bool rev2, ListOptions* o, std::string* error) {
  *o = ListOptions{};
  bool base = false;
  for (const auto& opt : args.selection) {
    if (opt == "SUBSCRIBED") {
      o->select_subscribed = o->return_subscribed = base = true;
    } else if (opt == "SPECIAL-USE") {
      o->select_special_use = o->return_special_use = base = true;
    } else if (opt == "RECURSIVEMATCH") {
      o->recursive_match = true;
    } else if (opt == "REMOTE") {
      // No remote mailboxes here: nothing to add.
    } else {
      *error = "Unknown LIST selection option";
      return false;
    }
  }
  if (o->recursive_match && !base) {
    *error = "RECURSIVEMATCH needs another selection option";
    return false;
  }
  for (const auto& opt : args.return_opts) {
    if (opt == "SUBSCRIBED") {
      o->return_subscribed = true;
    } else if (opt == "CHILDREN") {
      o->return_children = true;
    } else if (opt == "SPECIAL-USE") {
      o->return_special_use = true;
    } else if (opt == "STATUS") {
      if (o->return_status) {
        *error = "STATUS given twice";
        return false;
      }
      o->return_status = true;
      auto items = read_status_items(args.status_items, rev2, error);
      if (!items) return false;
      o->status_items = std::move(*items);
    } else {
      *error = "Unknown LIST return option";
      return false;
    }
  }
  return true;
}

std::vector<ListEntry> list_entries(std::span<const store::MailboxInfo> mailboxes,
                                    std::span<const std::string> subscriptions,
                                    std::span<const std::string> patterns, const ListOptions& o) {
  const Nodes nodes = collect(mailboxes, subscriptions);
  // Names that exist, in byte order, for descendant look-ups.
  std::set<std::string> existing;
  for (const auto& [name, n] : nodes) {
    if (n.exists) existing.insert(name);
  }
  auto has_children = [&](const std::string& name) {
    auto it = existing.lower_bound(name + kSeparator);
    return it != existing.end() && is_below(*it, name);
  };
  auto meets = [&](const Node& n) {
    if (o.select_subscribed ? !n.subscribed : !n.exists) return false;
    if (o.select_special_use && n.use == store::SpecialUse::kNone) return false;
    return true;
  };
  // Names with a descendant meeting the selection criteria (RECURSIVEMATCH).
  std::set<std::string> with_match_below;
  if (o.recursive_match) {
    for (const auto& [name, n] : nodes) {
      if (!meets(n)) continue;
      for (auto& a : ancestors(name)) with_match_below.insert(std::move(a));
    }
  }
  // Ancestors of a matching descendant may be missing from `nodes` (e.g. a
  // subscribed "a/b" whose "a" does not exist): RECURSIVEMATCH lists them.
  Nodes all = nodes;
  for (const auto& a : with_match_below) all.try_emplace(a);

  std::vector<ListEntry> out;
  for (const auto& [name, n] : all) {
    if (!matches_any(patterns, name)) continue;
    const bool childinfo = with_match_below.count(name) != 0;
    if (!meets(n) && !childinfo) continue;
    ListEntry e;
    e.name = name;
    if (!n.exists) {
      e.attributes.emplace_back("\\NonExistent");
    } else if (n.noselect) {
      e.attributes.emplace_back("\\Noselect");
    }
    // Children information is about existing mailboxes (RFC 5258 4).
    if (n.exists) {
      e.attributes.emplace_back(has_children(name) ? "\\HasChildren" : "\\HasNoChildren");
    }
    if (o.return_subscribed && n.subscribed) e.attributes.emplace_back("\\Subscribed");
    if (auto use = special_use_attribute(n.use); !use.empty()) e.attributes.emplace_back(use);
    if (childinfo) {
      if (o.select_subscribed) e.childinfo.emplace_back("SUBSCRIBED");
      if (o.select_special_use) e.childinfo.emplace_back("SPECIAL-USE");
    }
    e.selectable = n.exists && !n.noselect;
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<ListEntry> lsub_entries(std::span<const store::MailboxInfo> mailboxes,
                                    std::span<const std::string> subscriptions,
                                    std::string_view pattern) {
  const Nodes nodes = collect(mailboxes, subscriptions);
  std::map<std::string, bool, NameLess> found;  // name -> \Noselect
  for (const auto& [name, n] : nodes) {
    if (!n.subscribed) continue;
    if (pattern_match(pattern, name)) {
      // A subscribed name that does not exist is listed without attributes,
      // as RFC 3501 6.3.9 lists subscriptions; \Noselect is kept for the
      // unsubscribed parents below and for real \Noselect mailboxes.
      found[name] = found[name] || (n.exists && n.noselect);
      continue;
    }
    for (const auto& a : ancestors(name)) {
      auto it = nodes.find(a);
      if (it != nodes.end() && it->second.subscribed) continue;
      if (pattern_match(pattern, a)) found[a] = true;
    }
  }
  std::vector<ListEntry> out;
  for (const auto& [name, noselect] : found) {
    ListEntry e;
    e.name = name;
    if (noselect) e.attributes.emplace_back("\\Noselect");
    auto it = nodes.find(name);
    e.selectable = !noselect && it != nodes.end() && it->second.exists;
    out.push_back(std::move(e));
  }
  return out;
}

bool is_delimiter_request(const proto::ListArgs& args) {
  return args.selection.empty() && args.patterns.size() == 1 && args.patterns[0].name.empty();
}

void write_delimiter_entry(std::string& out, std::string_view verb) {
  out += "* ";
  out += verb;
  out += " (\\Noselect) \"/\" \"\"\r\n";
}

void write_list_entry(std::string& out, std::string_view verb, const ListEntry& entry,
                      const NameWriter& write_name) {
  out += "* ";
  out += verb;
  out += " (";
  for (size_t i = 0; i < entry.attributes.size(); ++i) {
    if (i) out += ' ';
    out += entry.attributes[i];
  }
  out += ") \"/\" ";
  write_name(out, entry.name);
  if (!entry.childinfo.empty()) {
    out += " (\"CHILDINFO\" (";
    for (size_t i = 0; i < entry.childinfo.size(); ++i) {
      if (i) out += ' ';
      out += '"';
      out += entry.childinfo[i];
      out += '"';
    }
    out += "))";
  }
  out += "\r\n";
}

}  // namespace imap::mailbox
