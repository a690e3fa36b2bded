// Unit tests for imap/sort: base subjects, dates, sort keys, SORT order and
// the THREAD algorithms.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "imap/sort/sort.h"

using namespace imap::sort;

namespace {

BaseSubject bs(std::string_view s) {
  return base_subject(s);
}

store::MessageMeta meta(uint32_t uid, uint64_t size, int64_t internal) {
  store::MessageMeta m;
  m.uid = uid;
  m.size = size;
  m.internal_date = internal;
  return m;
}

std::string threads_of(Algorithm a, const std::vector<std::string>& headers) {
  std::vector<ThreadMessage> msgs;
  for (size_t i = 0; i < headers.size(); ++i) {
    uint32_t seq = static_cast<uint32_t>(i + 1);
    msgs.push_back(make_thread_message(meta(seq, 100, 1000 + seq), seq, seq, &headers[i]));
  }
  std::string out;
  write_threads(out, thread_messages(a, std::move(msgs)));
  return out;
}

std::string msg(int n, std::string subject, std::string time, std::string extra = "") {
  return "Message-ID: <" + std::to_string(n) + "@x>\r\nSubject: " + subject +
         "\r\nDate: Mon, 02 Jan 2023 " + time + " +0000\r\n" + extra + "\r\n";
}

// The thread set of the integration test as well.
std::vector<std::string> thread_set() {
  return {
      msg(1, "Alpha", "10:00:00"),
      msg(2, "Re: Alpha", "11:00:00", "References: <1@x>\r\n"),
      msg(3, "Beta", "10:30:00"),
      msg(4, "Re: Alpha", "12:00:00", "References: <1@x>\r\n <2@x>\r\n"),
      msg(5, "RE: alpha", "11:30:00", "In-Reply-To: <1@x> (Ann's message)\r\n"),
      msg(6, "Re: Beta", "13:00:00"),
      msg(7, "Gamma", "09:00:00", "References: <missing@x>\r\n"),
      msg(8, "Re: Gamma", "09:30:00", "References: <missing@x>\r\n"),
  };
}

}  // namespace

TEST_CASE("base subject (RFC 5256 2.1)") {
  CHECK(bs("hello").text == "hello");
  CHECK_FALSE(bs("hello").reply);
  CHECK(bs("Re: hello").text == "hello");
  CHECK(bs("Re: hello").reply);
  CHECK(bs("RE: [list] Re: hello (fwd)").text == "hello");
  CHECK(bs("hello (fwd) (FWD)  ").text == "hello");
  CHECK(bs("hello (fwd)").reply);
  CHECK(bs("Fwd: x").text == "x");
  CHECK(bs("fw: x").text == "x");
  CHECK(bs("FW : x").text == "x");
  CHECK(bs("Re[2]: x").text == "x");
  CHECK(bs("Re [2]: x").text == "x");
  CHECK(bs("[fwd: Re: test]").text == "test");
  CHECK(bs("[fwd: Re: test]").reply);
  CHECK(bs("[Fwd: [fwd: nested]]").text == "nested");
  CHECK(bs("[PATCH] fix").text == "fix");
  CHECK_FALSE(bs("[PATCH] fix").reply);
  CHECK(bs("[PATCH]").text == "[PATCH]");
  CHECK(bs("[a][b] Re: [c] x").text == "x");
  CHECK(bs("  Re:   spaced \t   out  ").text == "spaced out");
  CHECK(bs("Re: ").text == "");
  CHECK(bs("").text == "");
  CHECK(bs("Reply to this").text == "Reply to this");
  CHECK(bs("Re: Re: Re: deep").text == "deep");
  CHECK(bs("Subject\r\n continued").text == "Subject continued");
  CHECK(bs("=?UTF-8?B?w5xiZXJ3ZWlzdW5n?=").text ==
        "\xc3\x9c"
        "berweisung");
  CHECK(bs("Re: =?ISO-8859-1?Q?Pr=FCfung?=").text ==
        "Pr\xc3\xbc"
        "fung");
  CHECK(collation_key("\xc3\x9c"
                      "BER") == collation_key("\xc3\xbc"
                                              "ber"));
  // i;unicode-casemap (RFC 5051): titlecased canonicalized UTF-8.
  CHECK(collation_key("abc") == "ABC");
  CHECK(collation_key("\xc3\xbc") == "U\xcc\x88");
  CHECK(collation_key("\xef\xac\x81") == collation_key("fi"));
  CHECK(collation_key("\xc3\x85") == collation_key("A\xcc\x8a"));
  CHECK(collation_key("\xcf\x82") == collation_key("\xce\xa3"));
  CHECK(collation_key("stra\xc3\x9f"
                      "e") != collation_key("STRASSE"));
}

TEST_CASE("RFC 5322 dates") {
  const int64_t t = 1672653600;  // 2023-01-02 10:00:00 UTC
  CHECK(parse_rfc5322_date("Mon, 02 Jan 2023 10:00:00 +0000") == t);
  CHECK(parse_rfc5322_date("2 Jan 2023 12:00:00 +0200") == t);
  CHECK(parse_rfc5322_date("Mon, 2 Jan 23 05:00 EST") == t);
  CHECK(parse_rfc5322_date("Mon, 02 Jan 2023 10:00:00 GMT (Greenwich)") == t);
  CHECK(parse_rfc5322_date("Mon,02 Jan 2023 10:00:00 Z") == t);
  CHECK(parse_rfc5322_date("Mon, 02 jan 2023 09:30:00 -0030") == t);
  CHECK(parse_rfc5322_date("02 Jan 2023 10:00:00+0000") == t);
  CHECK(parse_rfc5322_date("Mon, 01 Jan 99 00:00:00 +0000") == 915148800);
  CHECK(parse_rfc5322_date("Mon, 02 Jan 2023") == 1672617600);
  CHECK_FALSE(parse_rfc5322_date("garbage"));
  CHECK_FALSE(parse_rfc5322_date(""));
  CHECK_FALSE(parse_rfc5322_date("32 Jan 2023 10:00 +0000"));
  CHECK_FALSE(parse_rfc5322_date("2 Foo 2023 10:00 +0000"));
  CHECK_FALSE(parse_rfc5322_date("2 Jan 2023 25:00 +0000"));
  CHECK_FALSE(parse_rfc5322_date("2 Jan 2023 ten +0000"));
}

TEST_CASE("header fields and message ids") {
  Fields f = read_fields(
      "From: Ann <ann@x.org>\r\nSubject: one\r\n two\r\nsubject: second\r\nCC: c@x\r\n"
      "Message-ID: <id@x>\r\nReferences: <a@x>\r\n\t<b@x>\r\n\r\nTo: body@x\r\n");
  CHECK(f.from == "Ann <ann@x.org>");
  CHECK(f.subject == "one two");
  CHECK(f.cc == "c@x");
  CHECK_FALSE(f.to);
  CHECK(message_ids(*f.references) == std::vector<std::string>{"a@x", "b@x"});
  CHECK(message_ids("foo <x@y> (comment) <z@w>") == std::vector<std::string>{"x@y", "z@w"});
  CHECK(message_ids("<a b@c>") == std::vector<std::string>{"ab@c"});
  CHECK(message_ids("<broken <ok@x>") == std::vector<std::string>{"ok@x"});
  CHECK(message_ids("none").empty());
  CHECK(message_ids("<>").empty());
}

TEST_CASE("string keys") {
  Fields f;
  f.from = "Ann Example <Ann@x.org>";
  f.to = "<bob@x.org>, carol@y";
  f.cc = "team: Dave <dave@z>, e@z;";
  f.subject = "Re: [list] Hello";
  CHECK(string_key(Key::kFrom, f) == "ANN");
  CHECK(string_key(Key::kDisplayFrom, f) == "ANN EXAMPLE");
  CHECK(string_key(Key::kTo, f) == "BOB");
  CHECK(string_key(Key::kDisplayTo, f) == "BOB@X.ORG");
  CHECK(string_key(Key::kCc, f) == "DAVE");
  CHECK(string_key(Key::kSubject, f) == "HELLO");
  f.from = "=?UTF-8?B?w5xsaQ==?= <uli@x>";
  CHECK(string_key(Key::kDisplayFrom, f) == "U\xcc\x88LI");
  f.from = "\"\" <quiet@x>";
  CHECK(string_key(Key::kDisplayFrom, f) == "QUIET@X");
  Fields none;
  CHECK(string_key(Key::kFrom, none) == "");
  CHECK(string_key(Key::kDisplayTo, none) == "");
  CHECK(string_key(Key::kSubject, none) == "");
  CHECK(key_from_name("DISPLAYFROM") == Key::kDisplayFrom);
  CHECK_FALSE(key_from_name("REVERSE"));
  CHECK_FALSE(key_from_name("subject"));
}

TEST_CASE("SORT SUBJECT under i;unicode-casemap") {
  // zebra, Äpfel (decomposed), äpfel (precomposed), apfel, Ápfel, ﬁnal, FINAL, σ, Σ.
  std::vector<std::string> subjects = {"zebra", "A\xcc\x88pfel", "\xc3\xa4pfel",
                                       "apfel", "\xc3\x81pfel",  "\xef\xac\x81nal",
                                       "FINAL", "\xcf\x83",      "\xce\xa3"};
  std::vector<SortRecord> recs;
  std::vector<Criterion> crit = {{Key::kSubject, false}};
  for (size_t i = 0; i < subjects.size(); ++i) {
    std::string header = "Subject: " + subjects[i] + "\r\n\r\n";
    recs.push_back(make_sort_record(crit, meta(static_cast<uint32_t>(i + 1), 10, 0),
                                    static_cast<uint32_t>(i + 1), static_cast<uint32_t>(i + 1),
                                    &header));
  }
  // "APFEL" < "A" U+0301 "PFEL" < "A" U+0308 "PFEL" (twice, by number) < "FINAL" (twice)
  // < "ZEBRA" < "Σ" (twice).
  CHECK(sort_records(crit, std::move(recs)) == std::vector<uint32_t>{4, 5, 2, 3, 6, 7, 1, 8, 9});
}

TEST_CASE("sort records") {
  std::vector<std::string> headers = {
      "From: zed@x\r\nSubject: Re: apple\r\nDate: Mon, 02 Jan 2023 10:00:00 +0000\r\n\r\n",
      "From: Ann <ann@x>\r\nSubject: banana\r\nDate: Sun, 01 Jan 2023 10:00:00 +0000\r\n\r\n",
      "From: Bob <ann@y>\r\nSubject: Apple\r\nDate: not a date\r\n\r\n",
      "Subject: [x] cherry\r\n\r\n",
  };
  std::vector<store::MessageMeta> metas = {meta(10, 300, 5000), meta(11, 100, 4000),
                                           meta(12, 200, 1700000000), meta(13, 200, 3000)};
  auto order = [&](std::vector<Criterion> crit) {
    std::vector<SortRecord> recs;
    for (size_t i = 0; i < headers.size(); ++i) {
      recs.push_back(make_sort_record(crit, metas[i], static_cast<uint32_t>(i + 1),
                                      static_cast<uint32_t>(i + 1), &headers[i]));
    }
    return sort_records(crit, std::move(recs));
  };
  using V = std::vector<uint32_t>;
  CHECK(order({{Key::kArrival, false}}) == V{4, 2, 1, 3});
  CHECK(order({{Key::kArrival, true}}) == V{3, 1, 2, 4});
  CHECK(order({{Key::kSize, false}}) == V{2, 3, 4, 1});     // 3 and 4 tie: by number
  CHECK(order({{Key::kSize, true}}) == V{1, 3, 4, 2});      // ties stay ascending
  CHECK(order({{Key::kSubject, false}}) == V{1, 3, 2, 4});  // apple apple banana cherry
  CHECK(order({{Key::kSubject, false}, {Key::kSize, true}}) == V{1, 3, 2, 4});
  CHECK(order({{Key::kSubject, false}, {Key::kSize, false}}) == V{3, 1, 2, 4});
  CHECK(order({{Key::kFrom, false}}) == V{4, 2, 3, 1});         // "" ann ann zed
  CHECK(order({{Key::kDisplayFrom, false}}) == V{4, 2, 3, 1});  // "" ann bob zed@x
  CHECK(order({{Key::kDisplayFrom, true}}) == V{1, 3, 2, 4});
  // Date: message 3 has none readable (internal date 2023-11), 4 none (internal 3000).
  CHECK(order({{Key::kDate, false}}) == V{4, 2, 1, 3});
  CHECK(order({{Key::kTo, false}, {Key::kArrival, false}}) == V{4, 2, 1, 3});

  // Unreadable header: string keys empty, DATE from the internal date.
  std::vector<Criterion> crit = {{Key::kFrom, false}, {Key::kDate, false}};
  SortRecord r = make_sort_record(crit, metas[0], 1, 10, nullptr);
  CHECK(r.strings[0] == "");
  CHECK(r.numbers[1] == 5000);

  std::string set;
  write_ordered_set(set, {5, 6, 7, 2, 1, 9, 10});
  CHECK(set == "5:7,2,1,9:10");
  set.clear();
  write_ordered_set(set, {});
  CHECK(set.empty());
}

TEST_CASE("THREAD ORDEREDSUBJECT") {
  CHECK(threads_of(Algorithm::kOrderedSubject, thread_set()) == "(7 8)(1 (2)(5)(4))(3 6)");
  CHECK(threads_of(Algorithm::kOrderedSubject, {}) == "");
  CHECK(threads_of(Algorithm::kOrderedSubject, {msg(1, "a", "10:00:00")}) == "(1)");
}

TEST_CASE("THREAD REFERENCES") {
  CHECK(threads_of(Algorithm::kReferences, thread_set()) == "((7)(8))(1 (2 4)(5))(3 6)");
  CHECK(threads_of(Algorithm::kReferences, {}) == "");

  // A missing parent with a single child: the child becomes the root.
  CHECK(threads_of(Algorithm::kReferences, {msg(1, "x", "10:00:00", "References: <gone@x>\r\n"),
                                            msg(2, "y", "09:00:00")}) == "(2)(1)");
  // A placeholder in the middle of a chain disappears.
  CHECK(threads_of(Algorithm::kReferences,
                   {msg(1, "a", "10:00:00"),
                    msg(2, "b", "11:00:00", "References: <1@x> <gone@x>\r\n")}) == "(1 2)");
  // Two non-replies with the same subject become siblings under a placeholder.
  CHECK(threads_of(Algorithm::kReferences,
                   {msg(1, "same", "10:00:00"), msg(2, "Same", "11:00:00")}) == "((1)(2))");
  // Both replies: siblings as well; an empty subject is never merged.
  CHECK(threads_of(Algorithm::kReferences,
                   {msg(1, "Re: s", "10:00:00"), msg(2, "Re: s", "11:00:00"),
                    msg(3, "", "12:00:00"), msg(4, "Re:", "13:00:00")}) == "((1)(2))(3)(4)");
  // Duplicate Message-IDs and messages without one.
  CHECK(
      threads_of(
          Algorithm::kReferences,
          {msg(1, "a", "10:00:00"), msg(1, "b", "11:00:00"),
           "Subject: c\r\nIn-Reply-To: <1@x>\r\nDate: Mon, 02 Jan 2023 12:00:00 +0000\r\n\r\n"}) ==
      "(1 3)(2)");
  // Reference loops are ignored.
  CHECK(threads_of(Algorithm::kReferences, {msg(1, "a", "10:00:00", "References: <2@x>\r\n"),
                                            msg(2, "b", "11:00:00", "References: <1@x>\r\n"),
                                            msg(3, "c", "12:00:00", "References: <3@x>\r\n")}) ==
        "(2 1)(3)");
  // Children are ordered by sent date, ties by message number.
  CHECK(threads_of(Algorithm::kReferences,
                   {msg(1, "p", "10:00:00"), msg(2, "q", "12:00:00", "In-Reply-To: <1@x>\r\n"),
                    msg(3, "r", "11:00:00", "In-Reply-To: <1@x>\r\n"),
                    msg(4, "s", "11:00:00", "In-Reply-To: <1@x>\r\n")}) == "(1 (3)(4)(2))");
}

TEST_CASE("THREAD REFS") {
  CHECK(threads_of(Algorithm::kRefs, thread_set()) == "((7)(8))(3)(1 (2 4)(5))(6)");
  // No subject merging.
  CHECK(threads_of(Algorithm::kRefs, {msg(1, "same", "10:00:00"), msg(2, "Same", "11:00:00")}) ==
        "(1)(2)");
  CHECK(algorithm_from_name("REFS") == Algorithm::kRefs);
  CHECK_FALSE(algorithm_from_name("JWZ"));
}

TEST_CASE("deep reply chains need no recursion") {
  std::vector<std::string> headers;
  const int n = 20000;
  for (int i = 1; i <= n; ++i) {
    std::string h = "Message-ID: <" + std::to_string(i) + "@x>\r\n";
    if (i > 1) h += "In-Reply-To: <" + std::to_string(i - 1) + "@x>\r\n";
    headers.push_back(h + "\r\n");
  }
  std::string out = threads_of(Algorithm::kReferences, headers);
  CHECK(out.substr(0, 6) == "(1 2 3");
  CHECK(out.size() > 5 * n);
  CHECK(out.back() == ')');
  // A wide thread as well.
  headers.clear();
  headers.push_back("Message-ID: <root@x>\r\n\r\n");
  for (int i = 0; i < 1000; ++i) headers.push_back("In-Reply-To: <root@x>\r\n\r\n");
  out = threads_of(Algorithm::kRefs, headers);
  CHECK(out.substr(0, 9) == "(1 (2)(3)");
}
