// CREATE (RFC 9051 6.3.4) with CREATE-SPECIAL-USE (RFC 6154 3); the tagged
// OK carries the new mailbox's MAILBOXID (RFC 8474 4.1).
//
// A trailing separator is dropped ("foo/" creates "foo"); missing parents
// are created by the store. INBOX always exists; names with the LIST
// wildcards '*' and '%' are refused. "USE (\Drafts)" creates the
// mailbox with that special use: one of the uses Roost knows, at most one.
#include "imap/commands/commands.h"

#include <memory>

#include "imap/mailbox/list.h"
#include "imap/mailbox/pattern.h"

namespace imap {
namespace {

constexpr std::string_view kUseAttr = "USEATTR";  // RFC 6154 response code

}  // namespace

void cmd_create(Session& s, const proto::Command& c) {
  const auto& a = std::get<proto::CreateArgs>(c.args);

  // Parameters (RFC 4466): only USE (...) is known.
  for (size_t i = 0; i < a.params.size(); ++i) {
    const proto::Value& v = a.params[i];
    const bool is_use = v.kind == proto::Value::Kind::kAtom && proto::to_upper(v.text) == "USE" &&
                        i + 1 < a.params.size() &&
                        a.params[i + 1].kind == proto::Value::Kind::kList;
    if (!is_use) return s.bad("Unknown CREATE parameter");
    ++i;
  }
  store::SpecialUse use = store::SpecialUse::kNone;
  if (!a.use.empty()) {
    if (a.use.size() > 1) {
      return s.no("Only one special use per mailbox is supported", kUseAttr);
    }
    use = mailbox::special_use_from_attribute(a.use.front());
    if (use == store::SpecialUse::kNone) return s.no("Unsupported special use", kUseAttr);
  }

  proto::Mailbox wanted = a.mailbox;
  if (wanted.name.size() > 1 && wanted.name.back() == mailbox::kSeparator) wanted.name.pop_back();
  std::string why;
  auto name = s.mailbox_name(wanted, &why);
  if (!name) return s.no(why, proto::code_name(proto::Code::kCannot));
  if (store::is_inbox(*name)) {
    return s.no("INBOX always exists", proto::code_name(proto::Code::kAlreadyExists));
  }
  // A name with LIST wildcards could not be listed on its own.
  if (name->find_first_of("*%") != std::string::npos) {
    return s.no("Mailbox names may not contain * or %", proto::code_name(proto::Code::kCannot));
  }

  auto account = s.account_ptr();
  struct Created {
    store::Result<void> result;
    std::string mailbox_id;  // OBJECTID (RFC 8474); empty when unavailable
  };
  auto created = std::make_shared<Created>();
  s.run_store(
      [account, created, n = *name, use] {
        created->result = account->create_mailbox(n, use);
        if (!created->result) return;
        auto id = account->mailbox_id(n);
        if (id) created->mailbox_id = std::move(*id);
      },
      [&s, created] {
        const auto* result = &created->result;
        if (*result) {
          if (created->mailbox_id.empty()) return s.ok("CREATE completed");
          return s.ok("CREATE completed", "MAILBOXID (" + created->mailbox_id + ")");
        }
        const store::Error& e = result->error();
        switch (e.code) {
          case store::Errc::kAlreadyExists:
            return s.no("Mailbox already exists", proto::code_name(proto::Code::kAlreadyExists));
          case store::Errc::kInvalidName:
          case store::Errc::kNoPermission:
            return s.no("Cannot create a mailbox of that name",
                        proto::code_name(proto::Code::kCannot));
          default:
            return s.fail(e, "CREATE");
        }
      });
}

}  // namespace imap
