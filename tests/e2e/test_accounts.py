"""Accounts (rest-api.md §3): im_open_login_svc/* and openim/query_online_status|querystate.

Readings tested:
  - A UserID is 1..32 *bytes* of UTF-8 without control characters; anything else is
    70402 with an ErrorInfo that names it (for the empty id: any non-empty ErrorInfo). A
    missing or non-string UserID is also 70402.
  - multiaccount_import does not fail the call for invalid ids: it imports the valid ones
    and lists the invalid ones in FailAccounts. More than 100 ids fail the call (70402).
  - query_online_status: with no receiver connected everyone imported is Offline; with
    IsNeedDetail the Detail list is empty or absent (no connections); unknown accounts go
    to ErrorList (70107), not QueryResult.
"""
import unittest

from imcast_harness import ServerTestCase, short, uid

SVC = "im_open_login_svc"
BAD_IDS = {
    "33 bytes": "x" * 33,
    "11 three-byte chars (33 bytes)": "\u7528" * 11,
    "control character": "ctl\u0007user",
    "newline": "nl\nuser",
    "DEL": "del\u007fuser",
}


class AccountTests(ServerTestCase):

    # ---- account_import ----
    def test_import_userid(self):
        u = uid("imp")
        self.ok(SVC, "account_import", {"UserID": u, "Nick": "N", "FaceUrl": "http://x/y.png"})
        self.assertEqual(self.check_status(u), {u: "Imported"})

    def test_import_older_identifier_field(self):
        u = uid("ident")
        self.ok(SVC, "account_import", {"Identifier": u, "Nick": "old sdk"})
        self.assertEqual(self.check_status(u), {u: "Imported"})

    def test_import_is_idempotent(self):
        u = uid("idem")
        for _ in range(3):
            self.ok(SVC, "account_import", {"UserID": u})
        self.ok(SVC, "account_import", {"Identifier": u})
        self.assertEqual(self.check_status(u), {u: "Imported"})

    def test_import_keeps_tags_when_repeated(self):
        u = uid("idem_tags")
        self.ok(SVC, "account_import", {"UserID": u})
        self.ok("all_member_push", "im_add_tag", {"UserTags": [{"To_Account": u, "Tags": ["t1"]}]})
        self.ok(SVC, "account_import", {"UserID": u})
        self.assertEqual(self.get_tags(u), {u: ["t1"]})

    def test_import_boundaries_ok(self):
        for u in ("a", "y" * 32, "\u7528" * 10 + "ab", "user@example.com", "with space",
                  "emoji\U0001F600"):
            with self.subTest(u=u):
                self.ok(SVC, "account_import", {"UserID": u})
                self.assertEqual(self.check_status(u), {u: "Imported"})

    def test_import_invalid_userid_70402(self):
        for name, bad in BAD_IDS.items():
            with self.subTest(name):
                names = [bad] if bad.isprintable() else [bad.split("\u0007")[0].split("\n")[0]
                                                         .split("\u007f")[0]]
                self.fail_call(SVC, "account_import", {"UserID": bad}, code=70402, names=names)
        self.fail_call(SVC, "account_import", {"UserID": ""}, code=70402)
        self.fail_call(SVC, "account_import", {}, code=70402)
        self.fail_call(SVC, "account_import", {"UserID": 12345}, code=70402)
        self.fail_call(SVC, "account_import", {"UserID": None}, code=70402)

    # ---- multiaccount_import ----
    def test_multiaccount_import_accounts(self):
        us = [uid("multi") for _ in range(5)]
        r = self.ok(SVC, "multiaccount_import", {"Accounts": us})
        self.assertEqual(r.get("FailAccounts", []), [], short(r))
        self.assertEqual(self.check_status(*us), {u: "Imported" for u in us})

    def test_multiaccount_import_accountlist(self):
        us = [uid("alist") for _ in range(3)]
        r = self.ok(SVC, "multiaccount_import", {"AccountList": us})
        self.assertEqual(r.get("FailAccounts", []), [], short(r))
        self.assertEqual(self.check_status(*us), {u: "Imported" for u in us})

    def test_multiaccount_import_invalid_in_failaccounts(self):
        good = [uid("mgood") for _ in range(2)]
        bad = ["x" * 33, "bad\u0001id", ""]
        r = self.ok(SVC, "multiaccount_import", {"Accounts": [good[0]] + bad + [good[1]]})
        fails = r.get("FailAccounts")
        self.assertIsInstance(fails, list, short(r))
        self.assertEqual(sorted(fails), sorted(bad), short(r))
        self.assertEqual(self.check_status(*good), {u: "Imported" for u in good})

    def test_multiaccount_import_exactly_100_ok(self):
        us = [uid("m100_") for _ in range(100)]
        r = self.ok(SVC, "multiaccount_import", {"Accounts": us})
        self.assertEqual(r.get("FailAccounts", []), [], short(r))
        st = self.check_status(*us)
        self.assertTrue(all(v == "Imported" for v in st.values()) and len(st) == 100)

    def test_multiaccount_import_over_100_70402(self):
        us = [uid("m101_") for _ in range(101)]
        self.fail_call(SVC, "multiaccount_import", {"Accounts": us}, code=70402, names=["100"])
        self.assertEqual(self.check_status(us[0]), {us[0]: "NotImported"}, "nothing imported")

    def test_multiaccount_import_idempotent(self):
        us = [uid("mid") for _ in range(3)]
        self.ok(SVC, "multiaccount_import", {"Accounts": us})
        r = self.ok(SVC, "multiaccount_import", {"Accounts": us})
        self.assertEqual(r.get("FailAccounts", []), [], short(r))

    def test_multiaccount_import_not_a_list(self):
        self.fail_call(SVC, "multiaccount_import", {"Accounts": "u1"}, code=70402)
        self.fail_call(SVC, "multiaccount_import", {}, code=70402)

    # ---- account_check ----
    def test_account_check(self):
        a, b = uid("chk"), uid("chk_never")
        self.ok(SVC, "account_import", {"UserID": a})
        r = self.ok(SVC, "account_check", {"CheckItem": [{"UserID": a}, {"UserID": b}]})
        items = r["ResultItem"]
        self.assertEqual(len(items), 2, short(r))
        by = {it["UserID"]: it for it in items}
        self.assertEqual(by[a]["AccountStatus"], "Imported", short(r))
        self.assertEqual(by[b]["AccountStatus"], "NotImported", short(r))
        for it in items:
            self.assertEqual(it["ResultCode"], 0, short(r))
            self.assertEqual(it["ResultInfo"], "", short(r))
        self.assertEqual([it["UserID"] for it in items], [a, b], "order of the request kept")

    def test_account_check_over_100_70402(self):
        self.fail_call(SVC, "account_check",
                       {"CheckItem": [{"UserID": "c%d" % i} for i in range(101)]},
                       code=70402, names=["100"])
        r = self.ok(SVC, "account_check", {"CheckItem": [{"UserID": "c%d" % i} for i in range(100)]})
        self.assertEqual(len(r["ResultItem"]), 100)

    def test_account_check_invalid_id_70402(self):
        self.fail_call(SVC, "account_check", {"CheckItem": [{"UserID": "x" * 33}]},
                       code=70402, names=["x" * 33])

    # ---- account_delete ----
    def test_account_delete(self):
        a, b = uid("del"), uid("del")
        self.import_accounts(a, b)
        r = self.ok(SVC, "account_delete", {"DeleteItem": [{"UserID": a}]})
        items = r.get("ResultItem")
        self.assertIsInstance(items, list, short(r))
        self.assertEqual(len(items), 1, short(r))
        self.assertEqual(items[0]["UserID"], a, short(r))
        self.assertEqual(items[0]["ResultCode"], 0, short(r))
        self.assertIn("ResultInfo", items[0], short(r))
        self.assertEqual(self.check_status(a, b), {a: "NotImported", b: "Imported"})

    def test_account_delete_removes_tags_and_attrs(self):
        u = uid("deltags")
        self.import_accounts(u)
        names = self.get_attr_names()
        slot = next((s for s in map(str, range(10)) if s not in names), None)
        self.assertIsNotNone(slot, "no free attr slot")
        attr = "delattr%s" % slot
        self.ok("all_member_push", "im_set_attr_name", {"AttrNames": {slot: attr}})
        self.ok("all_member_push", "im_add_tag", {"UserTags": [{"To_Account": u, "Tags": ["dt1", "dt2"]}]})
        self.ok("all_member_push", "im_set_attr", {"UserAttrs": [{"To_Account": u, "Attrs": {attr: "v"}}]})
        self.assertEqual(self.get_tags(u), {u: ["dt1", "dt2"]})
        self.ok(SVC, "account_delete", {"DeleteItem": [{"UserID": u}]})
        self.import_accounts(u)
        self.assertEqual(self.get_tags(u), {u: []}, "tags survived the delete")
        self.assertEqual(self.get_attrs(u), {u: {}}, "attributes survived the delete")

    def test_account_delete_over_100_70402(self):
        self.fail_call(SVC, "account_delete",
                       {"DeleteItem": [{"UserID": "d%d" % i} for i in range(101)]},
                       code=70402, names=["100"])

    def test_account_delete_not_imported_is_not_an_error_of_the_call(self):
        u = uid("del_never")
        r = self.ok(SVC, "account_delete", {"DeleteItem": [{"UserID": u}]})
        self.assertEqual([it["UserID"] for it in r["ResultItem"]], [u], short(r))

    # ---- kick ----
    def test_kick_not_imported_70107(self):
        u = uid("kick_never")
        self.fail_call(SVC, "kick", {"UserID": u}, code=70107, names=[u])

    def test_kick_imported_ok(self):
        u = uid("kick")
        self.import_accounts(u)
        self.ok(SVC, "kick", {"UserID": u})
        self.assertEqual(self.check_status(u), {u: "Imported"}, "kick must not delete the account")

    def test_kick_invalid_70402(self):
        self.fail_call(SVC, "kick", {"UserID": "x" * 33}, code=70402, names=["x" * 33])
        self.fail_call(SVC, "kick", {}, code=70402)

    # ---- online status ----
    def check_query(self, command):
        a, b, never = uid("st"), uid("st"), uid("st_never")
        self.import_accounts(a, b)
        r = self.ok("openim", command, {"To_Account": [a, never, b]})
        res = r.get("QueryResult")
        self.assertIsInstance(res, list, short(r))
        self.assertEqual({x["To_Account"]: x["Status"] for x in res}, {a: "Offline", b: "Offline"},
                         short(r))
        errs = r.get("ErrorList")
        self.assertIsInstance(errs, list, short(r))
        self.assertEqual([(e["To_Account"], e["ErrorCode"]) for e in errs], [(never, 70107)],
                         short(r))
        r = self.ok("openim", command, {"To_Account": [a], "IsNeedDetail": 1})
        self.assertEqual(r["QueryResult"][0]["Status"], "Offline", short(r))
        self.assertIn(r["QueryResult"][0].get("Detail", []), ([],), short(r))
        r = self.ok("openim", command, {"To_Account": [a], "IsNeedDetail": 0})
        self.assertEqual(r["QueryResult"][0]["Status"], "Offline", short(r))

    def test_query_online_status(self):
        self.check_query("query_online_status")

    def test_querystate_older_name(self):
        self.check_query("querystate")

    def test_query_online_status_limits(self):
        us = ["q%d" % i for i in range(501)]
        for cmd in ("query_online_status", "querystate"):
            with self.subTest(cmd):
                self.fail_call("openim", cmd, {"To_Account": us}, code=70402, names=["500"])
                r = self.ok("openim", cmd, {"To_Account": us[:500]})
                self.assertEqual(len(r.get("QueryResult", [])) + len(r.get("ErrorList", [])), 500,
                                 "every one of 500 accounts is answered")

    def test_query_online_status_invalid_id(self):
        self.fail_call("openim", "query_online_status", {"To_Account": ["x" * 33]},
                       code=70402, names=["x" * 33])


if __name__ == "__main__":
    unittest.main()
