// ENVELOPE: RFC 5322 address lists (lenient) and the IMAP envelope writer.
#include <cstring>

#include "imap/mime/internal.h"
#include "imap/mime/mime.h"

namespace imap::mime {

using detail::ascii_iequals;
using detail::is_space;

namespace {

enum class TokKind { kWord, kQuoted, kLiteral, kSpecial };

struct Token {
  TokKind kind;
  std::string text;     // unescaped content (quoted) or the atom / literal / special
  std::string raw;      // as written (quoted strings with their quotes)
  std::string comment;  // last comment seen just before this token
};

bool is_atom_char(char c) {
  return !is_space(c) && std::strchr("()<>[]:;@\\,\"", c) == nullptr;
}

std::vector<Token> tokenize(std::string_view s, std::string& trailing_comment) {
  std::vector<Token> out;
  size_t pos = 0;
  std::string comment;
  while (true) {
    comment.clear();
    detail::skip_cfws(s, pos, &comment);
    if (pos >= s.size()) break;
    char c = s[pos];
    Token t;
    t.comment = comment;
    if (c == '"') {
      size_t start = pos;
      t.kind = TokKind::kQuoted;
      t.text = detail::read_quoted(s, pos);
      t.raw = std::string(s.substr(start, pos - start));
      if (t.raw.size() < 2 || t.raw.back() != '"') t.raw += '"';
    } else if (c == '[') {
      size_t end = s.find(']', pos);
      end = end == std::string_view::npos ? s.size() : end + 1;
      t.kind = TokKind::kLiteral;
      t.text = std::string(s.substr(pos, end - pos));
      t.raw = t.text;
      pos = end;
    } else if (is_atom_char(c)) {
      size_t start = pos;
      while (pos < s.size() && is_atom_char(s[pos])) ++pos;
      t.kind = TokKind::kWord;
      t.text = std::string(s.substr(start, pos - start));
      t.raw = t.text;
    } else {
      t.kind = TokKind::kSpecial;
      t.text = std::string(1, c);
      t.raw = t.text;
      ++pos;
    }
    out.push_back(std::move(t));
  }
  trailing_comment = comment;
  return out;
}

bool is_special(const Token& t, char c) {
  return t.kind == TokKind::kSpecial && t.text[0] == c;
}

std::string join_phrase(const std::vector<const Token*>& words) {
  std::string r;
  for (const Token* w : words) {
    if (!r.empty()) r += ' ';
    r += w->text;
  }
  return r;
}

std::string join_raw(const std::vector<const Token*>& words) {
  std::string r;
  for (const Token* w : words) r += w->raw;
  return r;
}

Address make_address(std::optional<std::string> name, std::string mailbox, std::string host) {
  Address a;
  if (name && !name->empty()) a.name = std::move(name);
  a.mailbox = mailbox.empty() ? std::string(kMissingMailbox) : std::move(mailbox);
  a.host = host.empty() ? std::string(kMissingDomain) : std::move(host);
  return a;
}

}  // namespace

std::vector<Address> parse_address_list(std::string_view value) {
  std::string trailing_comment;
  std::vector<Token> toks = tokenize(value, trailing_comment);
  std::vector<Address> out;
  std::vector<const Token*> phrase;
  bool in_group = false;
  size_t i = 0;
  const size_t n = toks.size();

  auto flush_bare = [&] {
    // Words with no '@' or '<': a mailbox without a domain.
    if (phrase.empty()) return;
    out.push_back(make_address(std::nullopt, join_raw(phrase), ""));
    phrase.clear();
  };
  auto skip_to_separator = [&] {
    while (i < n && !is_special(toks[i], ',') && !is_special(toks[i], ';')) ++i;
  };
  // Domain: words, literals and dots up to a separator.
  auto read_domain = [&](std::string& comment) {
    std::vector<const Token*> d;
    while (i < n && (toks[i].kind == TokKind::kWord || toks[i].kind == TokKind::kLiteral ||
                     toks[i].kind == TokKind::kQuoted)) {
      d.push_back(&toks[i]);
      ++i;
      if (i < n && !toks[i].comment.empty()) comment = toks[i].comment;
    }
    if (i >= n && !trailing_comment.empty()) comment = trailing_comment;
    return join_raw(d);
  };

  while (i < n) {
    const Token& t = toks[i];
    if (t.kind != TokKind::kSpecial) {
      phrase.push_back(&t);
      ++i;
      continue;
    }
    char c = t.text[0];
    if (c == ':' && !in_group) {
      Address start;
      start.mailbox = join_phrase(phrase);
      out.push_back(std::move(start));
      in_group = true;
      phrase.clear();
      ++i;
    } else if (c == '<') {
      ++i;
      std::optional<std::string> adl;
      if (i < n && is_special(toks[i], '@')) {
        // Obsolete source route: "@a,@b:".
        std::string route;
        while (i < n && !is_special(toks[i], ':') && !is_special(toks[i], '>')) {
          route += toks[i].raw;
          ++i;
        }
        if (i < n && is_special(toks[i], ':')) {
          ++i;
          adl = std::move(route);
        }
      }
      std::vector<const Token*> local;
      while (i < n && toks[i].kind != TokKind::kSpecial) local.push_back(&toks[i++]);
      std::string host;
      if (i < n && is_special(toks[i], '@')) {
        ++i;
        std::string ignored;
        host = read_domain(ignored);
      }
      while (i < n && !is_special(toks[i], '>') && !is_special(toks[i], ',') &&
             !is_special(toks[i], ';')) {
        ++i;
      }
      if (i < n && is_special(toks[i], '>')) ++i;
      std::optional<std::string> name;
      if (!phrase.empty()) name = join_phrase(phrase);
      if (!local.empty() || !host.empty() || adl) {
        Address a = make_address(std::move(name), join_raw(local), std::move(host));
        a.adl = std::move(adl);
        out.push_back(std::move(a));
      }
      phrase.clear();
      skip_to_separator();
    } else if (c == '@') {
      ++i;
      std::string comment;
      std::string host = read_domain(comment);
      std::optional<std::string> name;
      if (!comment.empty()) name = comment;
      out.push_back(make_address(std::move(name), join_raw(phrase), std::move(host)));
      phrase.clear();
      skip_to_separator();
    } else if (c == ',') {
      flush_bare();
      ++i;
    } else if (c == ';') {
      flush_bare();
      if (in_group) {
        out.push_back(Address{});
        in_group = false;
      }
      ++i;
    } else {
      ++i;  // stray special
    }
  }
  flush_bare();
  if (in_group) out.push_back(Address{});
  return out;
}

Envelope parse_envelope(std::string_view header_block) {
  Envelope env;
  bool seen[10] = {};
  static const char* const kNames[10] = {"date", "subject", "from", "sender",      "reply-to",
                                         "to",   "cc",      "bcc",  "in-reply-to", "message-id"};
  for_each_header_field(header_block, [&](std::string_view name, std::string value) {
    for (int k = 0; k < 10; ++k) {
      if (seen[k] || !ascii_iequals(name, kNames[k])) continue;
      seen[k] = true;
      switch (k) {
        case 0:
          env.date = std::move(value);
          break;
        case 1:
          env.subject = std::move(value);
          break;
        case 2:
          env.from = parse_address_list(value);
          break;
        case 3:
          env.sender = parse_address_list(value);
          break;
        case 4:
          env.reply_to = parse_address_list(value);
          break;
        case 5:
          env.to = parse_address_list(value);
          break;
        case 6:
          env.cc = parse_address_list(value);
          break;
        case 7:
          env.bcc = parse_address_list(value);
          break;
        case 8:
          env.in_reply_to = std::move(value);
          break;
        case 9:
          env.message_id = std::move(value);
          break;
      }
      break;
    }
    return true;
  });
  if (env.sender.empty()) env.sender = env.from;
  if (env.reply_to.empty()) env.reply_to = env.from;
  return env;
}

namespace {
void write_addresses(std::string& out, const std::vector<Address>& list) {
  if (list.empty()) {
    out += "NIL";
    return;
  }
  out += '(';
  for (const Address& a : list) {
    out += '(';
    write_nstring(out, a.name);
    out += ' ';
    write_nstring(out, a.adl);
    out += ' ';
    write_nstring(out, a.mailbox);
    out += ' ';
    write_nstring(out, a.host);
    out += ')';
  }
  out += ')';
}
}  // namespace

void write_envelope(std::string& out, const Envelope& env) {
  out += '(';
  write_nstring(out, env.date);
  out += ' ';
  write_nstring(out, env.subject);
  for (const auto* list : {&env.from, &env.sender, &env.reply_to, &env.to, &env.cc, &env.bcc}) {
    out += ' ';
    write_addresses(out, *list);
  }
  out += ' ';
  write_nstring(out, env.in_reply_to);
  out += ' ';
  write_nstring(out, env.message_id);
  out += ')';
}

}  // namespace imap::mime
