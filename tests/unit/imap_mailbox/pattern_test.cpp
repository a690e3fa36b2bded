#include <doctest/doctest.h>

#include "imap/mailbox/pattern.h"

using imap::mailbox::ancestors;
using imap::mailbox::decode_pattern;
using imap::mailbox::is_below;
using imap::mailbox::join_pattern;
using imap::mailbox::name_less;
using imap::mailbox::pattern_match;
using imap::proto::Utf8Mode;

TEST_CASE("star matches across the separator, percent does not") {
  CHECK(pattern_match("*", "a"));
  CHECK(pattern_match("*", "a/b/c"));
  CHECK(pattern_match("%", "a"));
  CHECK_FALSE(pattern_match("%", "a/b"));
  CHECK(pattern_match("a/%", "a/b"));
  CHECK_FALSE(pattern_match("a/%", "a/b/c"));
  CHECK_FALSE(pattern_match("a/%", "a"));
  CHECK(pattern_match("a/*", "a/b/c"));
  CHECK_FALSE(pattern_match("a/*", "a"));
  CHECK(pattern_match("a*", "a"));
  CHECK(pattern_match("a*", "ab/c"));
  CHECK(pattern_match("a%", "abc"));
  CHECK_FALSE(pattern_match("a%", "ab/c"));
  CHECK(pattern_match("%/%", "a/b"));
  CHECK_FALSE(pattern_match("%/%", "a/b/c"));
  CHECK(pattern_match("%/*", "a/b/c"));
  CHECK(pattern_match("*/c", "a/b/c"));
  CHECK(pattern_match("a%c", "abbc"));
  CHECK_FALSE(pattern_match("a%c", "ab/c"));
  CHECK(pattern_match("%%", "abc"));
  CHECK(pattern_match("", ""));
  CHECK_FALSE(pattern_match("", "a"));
  CHECK(pattern_match("%", ""));
}

TEST_CASE("plain characters match exactly and case-sensitively") {
  CHECK(pattern_match("Sent", "Sent"));
  CHECK_FALSE(pattern_match("sent", "Sent"));
  CHECK_FALSE(pattern_match("Sen", "Sent"));
  CHECK_FALSE(pattern_match("Sentx", "Sent"));
  CHECK(pattern_match("Fo*ar", "Foo/bar"));
  CHECK_FALSE(pattern_match("Fo%ar", "Foo/bar"));
}

TEST_CASE("INBOX matches without case, its children only in the first component") {
  CHECK(pattern_match("inbox", "INBOX"));
  CHECK(pattern_match("InBoX", "INBOX"));
  CHECK(pattern_match("inbox/%", "INBOX/Sub"));
  CHECK_FALSE(pattern_match("inbox/sub", "INBOX/Sub"));
  CHECK(pattern_match("in*", "INBOX"));
  CHECK(pattern_match("*x", "INBOX"));
  CHECK(pattern_match("i%", "INBOX"));
  // Not the inbox: no folding.
  CHECK_FALSE(pattern_match("inboxes", "INBOXES"));
  CHECK_FALSE(pattern_match("inbox2", "INBOX2"));
}

TEST_CASE("many wildcards stay fast") {
  std::string name(400, 'a');
  std::string pattern;
  for (int i = 0; i < 40; ++i) pattern += "*a";
  pattern += "b";
  CHECK_FALSE(pattern_match(pattern, name));
  CHECK(pattern_match(pattern.substr(0, pattern.size() - 1), name));
}

TEST_CASE("reference and pattern are joined") {
  CHECK(join_pattern("", "*") == "*");
  CHECK(join_pattern("foo/", "*") == "foo/*");
  CHECK(join_pattern("foo/", "/bar") == "foo/bar");
  CHECK(join_pattern("foo", "bar") == "foobar");
  CHECK(join_pattern("foo", "/bar") == "foo/bar");
  CHECK(join_pattern("foo/", "") == "foo/");
  CHECK(pattern_match(join_pattern("foo/", "%"), "foo/bar"));
  CHECK_FALSE(pattern_match(join_pattern("foo/", "%"), "foo"));
  CHECK_FALSE(pattern_match(join_pattern("foo/", "%"), "bar"));
}

TEST_CASE("patterns are decoded from modified UTF-7 or taken as UTF-8") {
  CHECK(decode_pattern("Entw&APw-rfe/*", Utf8Mode::kOff) == "Entw\xc3\xbcrfe/*");
  CHECK(decode_pattern("%", Utf8Mode::kOff) == "%");
  CHECK(decode_pattern("", Utf8Mode::kOff) == "");
  CHECK_FALSE(decode_pattern("&AOk", Utf8Mode::kOff).has_value());
  CHECK(decode_pattern("Entw\xc3\xbcrfe", Utf8Mode::kOn) == "Entw\xc3\xbcrfe");
  CHECK(decode_pattern("a&b", Utf8Mode::kOn) == "a&b");
  CHECK_FALSE(decode_pattern("\xff", Utf8Mode::kOn).has_value());
}

TEST_CASE("hierarchy helpers") {
  CHECK(is_below("a/b", "a"));
  CHECK(is_below("a/b/c", "a"));
  CHECK_FALSE(is_below("ab", "a"));
  CHECK_FALSE(is_below("a", "a"));
  CHECK_FALSE(is_below("a/", "a"));
  CHECK(ancestors("a/b/c") == std::vector<std::string>{"a", "a/b"});
  CHECK(ancestors("a").empty());
  CHECK(name_less("INBOX", "Archive"));
  CHECK_FALSE(name_less("Archive", "INBOX"));
  CHECK(name_less("Archive", "Drafts"));
  CHECK(name_less("INBOX", "INBOX/a"));
}
