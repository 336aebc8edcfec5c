"""Durability: a mutation answered OK survives SIGKILL right after the answer, and a clean
SIGTERM restart (rest-api.md; design.md "A mutation is committed before its reply").

Each test makes a set of mutations, kills (or stops) the server the moment the last OK
arrives, restarts it on the same data folder and checks every effect, including the
order of tags and the effects of deletes/removes.
"""
import unittest

from imcast_harness import FreshServerTestCase

PUSH = "all_member_push"
SVC = "im_open_login_svc"


class Durability(FreshServerTestCase):

    def mutate(self):
        self.ok(SVC, "account_import", {"UserID": "d_u1"})
        self.ok(SVC, "account_import", {"Identifier": "d_u2"})
        self.ok(SVC, "multiaccount_import", {"Accounts": ["d_u3", "d_u4", "d_gone", "\u7528\u6237"]})
        self.ok(PUSH, "im_set_attr_name", {"AttrNames": {"0": "sex", "1": "city", "5": "tier"}})
        self.ok(PUSH, "im_set_attr_name", {"AttrNames": {"1": "town"}})        # rename
        self.ok(PUSH, "im_set_attr", {"UserAttrs": [
            {"To_Account": "d_u1", "Attrs": {"sex": "F", "town": "SZ", "tier": 3}},
            {"To_Account": "d_u2", "Attrs": {"sex": "M"}},
            {"To_Account": "d_gone", "Attrs": {"sex": "M"}}]})
        self.ok(PUSH, "im_remove_attr", {"UserAttrs": [{"To_Account": "d_u2", "Attrs": ["sex"]}]})
        self.ok(PUSH, "im_add_tag", {"UserTags": [
            {"To_Account": "d_u1", "Tags": ["zeta", "alpha", "mid"]},
            {"To_Account": "d_u3", "Tags": ["t3"]},
            {"To_Account": "\u7528\u6237", "Tags": ["\u6807\u7b7e"]},
            {"To_Account": "d_gone", "Tags": ["gone_tag"]}]})
        self.ok(PUSH, "im_remove_tag", {"UserTags": [{"To_Account": "d_u1", "Tags": ["alpha"]}]})
        self.ok(PUSH, "im_add_tag", {"UserTags": [{"To_Account": "d_u1", "Tags": ["alpha"]}]})
        self.ok(PUSH, "im_add_tag", {"UserTags": [{"To_Account": "d_u4", "Tags": ["x", "y"]}]})
        self.ok(PUSH, "im_remove_all_tags", {"To_Account": ["d_u4"]})
        self.ok(SVC, "account_delete", {"DeleteItem": [{"UserID": "d_gone"}]})

    def verify(self):
        users = ["d_u1", "d_u2", "d_u3", "d_u4", "\u7528\u6237"]
        self.assertEqual(self.check_status(*users, "d_gone"),
                         dict({u: "Imported" for u in users}, d_gone="NotImported"))
        self.assertEqual(self.get_attr_names(), {"0": "sex", "1": "town", "5": "tier"})
        self.assertEqual(self.get_attrs("d_u1", "d_u2", "d_u3"),
                         {"d_u1": {"sex": "F", "town": "SZ", "tier": "3"}, "d_u2": {}, "d_u3": {}})
        self.assertEqual(self.get_tags(*users), {
            "d_u1": ["zeta", "mid", "alpha"], "d_u2": [], "d_u3": ["t3"], "d_u4": [],
            "\u7528\u6237": ["\u6807\u7b7e"]})
        # the deleted account comes back clean when imported again
        self.ok(SVC, "account_import", {"UserID": "d_gone"})
        self.assertEqual(self.get_tags("d_gone"), {"d_gone": []})
        self.assertEqual(self.get_attrs("d_gone"), {"d_gone": {}})

    def test_sigkill_right_after_ok(self):
        self.mutate()
        self.srv.kill()
        self.srv.start()
        self.verify()

    def test_sigterm_restart(self):
        self.mutate()
        self.srv.stop()
        self.srv.start()
        self.verify()

    def test_twice(self):
        self.mutate()
        self.srv.kill()
        self.srv.start()
        self.ok(SVC, "account_import", {"UserID": "d_after"})
        self.ok(PUSH, "im_add_tag", {"UserTags": [{"To_Account": "d_after", "Tags": ["late"]}]})
        self.srv.kill()
        self.srv.start()
        self.verify()
        self.assertEqual(self.get_tags("d_after"), {"d_after": ["late"]})

    def test_each_single_mutation_then_sigkill(self):
        # One mutation, kill at once: the very last write before the kill is there.
        steps = [
            (lambda: self.ok(SVC, "account_import", {"UserID": "s_u1"}),
             lambda: self.assertEqual(self.check_status("s_u1"), {"s_u1": "Imported"})),
            (lambda: self.ok(PUSH, "im_set_attr_name", {"AttrNames": {"3": "lvl"}}),
             lambda: self.assertEqual(self.get_attr_names().get("3"), "lvl")),
            (lambda: self.ok(PUSH, "im_set_attr", {"UserAttrs": [{"To_Account": "s_u1", "Attrs": {"lvl": "9"}}]}),
             lambda: self.assertEqual(self.get_attrs("s_u1"), {"s_u1": {"lvl": "9"}})),
            (lambda: self.ok(PUSH, "im_add_tag", {"UserTags": [{"To_Account": "s_u1", "Tags": ["k"]}]}),
             lambda: self.assertEqual(self.get_tags("s_u1"), {"s_u1": ["k"]})),
            (lambda: self.ok(SVC, "account_delete", {"DeleteItem": [{"UserID": "s_u1"}]}),
             lambda: self.assertEqual(self.check_status("s_u1"), {"s_u1": "NotImported"})),
        ]
        for i, (do, check) in enumerate(steps):
            with self.subTest(step=i):
                do()
                self.srv.kill()
                self.srv.start()
                check()

    def test_failed_calls_leave_no_trace_after_restart(self):
        self.ok(SVC, "account_import", {"UserID": "f_u1"})
        self.ok(PUSH, "im_set_attr_name", {"AttrNames": {"0": "sex"}})
        self.fail_call(PUSH, "im_add_tag", {"UserTags": [{"To_Account": "f_u1", "Tags": ["ok"]},
                                                         {"To_Account": "f_u1", "Tags": [""]}]},
                       code=90020)
        self.fail_call(PUSH, "im_set_attr", {"UserAttrs": [{"To_Account": "f_u1",
                                                            "Attrs": {"sex": "F", "bad": "x"}}]},
                       code=90033)
        self.srv.kill()
        self.srv.start()
        self.assertEqual(self.get_tags("f_u1"), {"f_u1": []})
        self.assertEqual(self.get_attrs("f_u1"), {"f_u1": {}})


if __name__ == "__main__":
    unittest.main()
