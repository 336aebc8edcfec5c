"""User tags (rest-api.md §4.4, §4.5, §4.6).

Readings tested:
  - Tags keep the order they were added in; adding an existing tag (also twice in one
    request) is a no-op and does not move it.
  - The 100-tag total counts distinct tags: with 100 tags, adding one of them again is
    fine, adding a new one is 90032.
  - Invalid UTF-8 bytes anywhere in a body make it invalid JSON (RFC 8259 §8.1): 90001,
    with the position in ErrorInfo, and nothing changes.
  - im_remove_tag accepts the same body shapes as im_add_tag (UserTags, top-level Tags,
    flat To_Account+Tags).
  - A bad item anywhere fails the whole call and changes nothing.
"""
import unittest

from imcast_harness import ServerTestCase, short, uid

PUSH = "all_member_push"


class TagTests(ServerTestCase):

    def users(self, n=1, prefix="tg"):
        us = [uid(prefix) for _ in range(n)]
        self.import_accounts(*us)
        return us

    def add(self, user, tags):
        return self.ok(PUSH, "im_add_tag", {"UserTags": [{"To_Account": user, "Tags": tags}]})

    def remove(self, user, tags):
        return self.ok(PUSH, "im_remove_tag", {"UserTags": [{"To_Account": user, "Tags": tags}]})

    def test_none_is_empty_list(self):
        u, = self.users()
        r = self.ok(PUSH, "im_get_tag", {"To_Account": [u]})
        self.assertEqual(r["UserTags"], [{"To_Account": u, "Tags": []}], short(r))

    def test_order_kept(self):
        u, = self.users()
        self.add(u, ["b", "a", "c"])
        self.assertEqual(self.get_tags(u), {u: ["b", "a", "c"]})
        self.add(u, ["d", "a"])
        self.assertEqual(self.get_tags(u), {u: ["b", "a", "c", "d"]})
        self.remove(u, ["a"])
        self.add(u, ["a"])
        self.assertEqual(self.get_tags(u), {u: ["b", "c", "d", "a"]})

    def test_get_keeps_request_order(self):
        us = self.users(3)
        r = self.ok(PUSH, "im_get_tag", {"To_Account": us[::-1]})
        self.assertEqual([x["To_Account"] for x in r["UserTags"]], us[::-1], short(r))

    def test_add_existing_is_noop(self):
        u, = self.users()
        self.add(u, ["x", "y"])
        self.add(u, ["x"])
        self.add(u, ["y", "y"])
        self.assertEqual(self.get_tags(u), {u: ["x", "y"]})

    def test_remove_missing_is_noop(self):
        u, = self.users()
        self.add(u, ["x", "y"])
        self.remove(u, ["nope", "x"])
        self.assertEqual(self.get_tags(u), {u: ["y"]})
        self.remove(u, ["nope"])
        self.assertEqual(self.get_tags(u), {u: ["y"]})

    def test_several_users_in_one_call(self):
        a, b = self.users(2)
        self.ok(PUSH, "im_add_tag", {"UserTags": [{"To_Account": a, "Tags": ["p", "q"]},
                                                  {"To_Account": b, "Tags": ["q"]}]})
        self.assertEqual(self.get_tags(a, b), {a: ["p", "q"], b: ["q"]})
        self.ok(PUSH, "im_remove_tag", {"UserTags": [{"To_Account": a, "Tags": ["q"]},
                                                     {"To_Account": b, "Tags": ["q"]}]})
        self.assertEqual(self.get_tags(a, b), {a: ["p"], b: []})

    def test_remove_all_tags(self):
        a, b, c = self.users(3)
        for u in (a, b, c):
            self.add(u, ["t1", "t2"])
        self.ok(PUSH, "im_remove_all_tags", {"To_Account": [a, b]})
        self.assertEqual(self.get_tags(a, b, c), {a: [], b: [], c: ["t1", "t2"]})
        self.ok(PUSH, "im_remove_all_tags", {"To_Account": [a]})   # none left: fine

    def test_tag_lengths_and_utf8(self):
        u, = self.users()
        self.add(u, ["t" * 50, "\u6807" * 16, "emoji\U0001F600", "with space"])
        self.assertEqual(self.get_tags(u), {u: ["t" * 50, "\u6807" * 16, "emoji\U0001F600",
                                                "with space"]})

    def test_ten_per_request_ok_eleven_90032(self):
        u, = self.users()
        self.add(u, ["ten%d" % i for i in range(10)])
        self.fail_call(PUSH, "im_add_tag",
                       {"UserTags": [{"To_Account": u, "Tags": ["el%d" % i for i in range(11)]}]},
                       code=90032)
        self.assertEqual(len(self.get_tags(u)[u]), 10)

    def test_hundred_total_90032(self):
        u, = self.users()
        for k in range(10):
            self.add(u, ["h%d_%d" % (k, i) for i in range(10)])
        tags = self.get_tags(u)[u]
        self.assertEqual(len(tags), 100)
        self.fail_call(PUSH, "im_add_tag",
                       {"UserTags": [{"To_Account": u, "Tags": ["one_more"]}]}, code=90032,
                       names=["100"])
        self.add(u, ["h0_0", "h9_9"])          # already there: no-op, not over the limit
        self.assertEqual(self.get_tags(u)[u], tags)
        self.remove(u, ["h5_5"])
        self.add(u, ["one_more"])
        self.assertEqual(len(self.get_tags(u)[u]), 100)

    def test_bad_tags_90020(self):
        u, = self.users()
        self.add(u, ["keep"])
        for name, bad in (("empty", ""), ("51 bytes", "t" * 51), ("17 three-byte chars", "\u6807" * 17)):
            with self.subTest(name):
                self.fail_call(PUSH, "im_add_tag",
                               {"UserTags": [{"To_Account": u, "Tags": ["ok_tag", bad]}]},
                               code=90020)
        self.assertEqual(self.get_tags(u), {u: ["keep"]})

    def test_invalid_utf8_is_invalid_json_90001(self):
        u, = self.users()
        body = ('{"UserTags":[{"To_Account":"%s","Tags":["ok_tag","bad' % u).encode() + \
            b"\xff\xfe" + b'"]}]}'
        self.fail_call(PUSH, "im_add_tag", code=90001, raw_body=body)
        body2 = ('{"UserTags":[{"To_Account":"%s","Tags":["bad' % u).encode() + \
            b"\xc3\x28" + b'"]}]}'
        self.fail_call(PUSH, "im_add_tag", code=90001, raw_body=body2)
        self.assertEqual(self.get_tags(u), {u: []})

    def test_tag_not_a_string(self):
        u, = self.users()
        for bad in (5, ["x"], {"a": 1}):
            with self.subTest(bad=bad):
                r = self.call(PUSH, "im_add_tag", {"UserTags": [{"To_Account": u, "Tags": ["a", bad]}]})
                self.assertNotEqual(r["ErrorCode"], 0, short(r))
                self.assertTrue(r["ErrorInfo"].strip(), short(r))
        self.assertEqual(self.get_tags(u), {u: []})

    def test_too_many_accounts_90018(self):
        us = ["tm%d" % i for i in range(101)]
        self.fail_call(PUSH, "im_get_tag", {"To_Account": us}, code=90018, names=["100"])
        self.fail_call(PUSH, "im_remove_all_tags", {"To_Account": us}, code=90018, names=["100"])
        items = [{"To_Account": x, "Tags": ["a"]} for x in us]
        self.fail_call(PUSH, "im_add_tag", {"UserTags": items}, code=90018, names=["100"])
        self.fail_call(PUSH, "im_remove_tag", {"UserTags": items}, code=90018, names=["100"])

    def test_exactly_100_accounts_ok(self):
        us = self.users(100, "tg100_")
        self.ok(PUSH, "im_add_tag", {"UserTags": [{"To_Account": x, "Tags": ["all"]} for x in us]})
        r = self.ok(PUSH, "im_get_tag", {"To_Account": us})
        self.assertEqual(len(r["UserTags"]), 100)
        self.assertTrue(all(x["Tags"] == ["all"] for x in r["UserTags"]), short(r))
        self.ok(PUSH, "im_remove_all_tags", {"To_Account": us})

    def test_unknown_accounts_in_errorlist(self):
        a, = self.users()
        ghost = uid("tghost")
        for cmd, body in (
                ("im_add_tag", {"UserTags": [{"To_Account": ghost, "Tags": ["g"]},
                                             {"To_Account": a, "Tags": ["g"]}]}),
                ("im_get_tag", {"To_Account": [a, ghost]}),
                ("im_remove_tag", {"UserTags": [{"To_Account": ghost, "Tags": ["g"]}]}),
                ("im_remove_all_tags", {"To_Account": [ghost]})):
            with self.subTest(cmd):
                r = self.ok(PUSH, cmd, body)
                errs = r.get("ErrorList")
                self.assertIsInstance(errs, list, "want ErrorList: %s" % short(r))
                self.assertEqual([e.get("To_Account") for e in errs], [ghost], short(r))
                self.assertEqual(errs[0].get("ErrorCode"), 70107, short(r))
                self.assertTrue(errs[0].get("ErrorInfo"), short(r))
        self.assertEqual(self.get_tags(a), {a: ["g"]})
        self.assertEqual(self.check_status(ghost), {ghost: "NotImported"})

    def test_go_top_level_tags_form(self):
        a, b = self.users(2)
        self.ok(PUSH, "im_add_tag", {"Tags": [{"To_Account": a, "Tags": ["go1", "go2"]},
                                              {"To_Account": b, "Tags": ["go1"]}]})
        self.assertEqual(self.get_tags(a, b), {a: ["go1", "go2"], b: ["go1"]})
        self.ok(PUSH, "im_remove_tag", {"Tags": [{"To_Account": a, "Tags": ["go1"]}]})
        self.assertEqual(self.get_tags(a, b), {a: ["go2"], b: ["go1"]})

    def test_official_flat_form(self):
        u, = self.users()
        self.ok(PUSH, "im_add_tag", {"To_Account": u, "Tags": ["f1", "f2"]})
        self.assertEqual(self.get_tags(u), {u: ["f1", "f2"]})
        self.ok(PUSH, "im_remove_tag", {"To_Account": u, "Tags": ["f1"]})
        self.assertEqual(self.get_tags(u), {u: ["f2"]})

    def test_bad_item_changes_nothing(self):
        a, b = self.users(2)
        self.add(a, ["orig"])
        cases = {
            "empty tag in 2nd item": [{"To_Account": a, "Tags": ["new1"]}, {"To_Account": b, "Tags": [""]}],
            "long tag in 2nd item": [{"To_Account": a, "Tags": ["new1"]}, {"To_Account": b, "Tags": ["l" * 51]}],
            "11 tags in 2nd item": [{"To_Account": a, "Tags": ["new1"]},
                                    {"To_Account": b, "Tags": ["e%d" % i for i in range(11)]}],
        }
        codes = {"empty tag in 2nd item": 90020, "long tag in 2nd item": 90020,
                 "11 tags in 2nd item": 90032}
        for name, items in cases.items():
            with self.subTest(name):
                self.fail_call(PUSH, "im_add_tag", {"UserTags": items}, code=codes[name])
        self.assertEqual(self.get_tags(a, b), {a: ["orig"], b: []})


if __name__ == "__main__":
    unittest.main()
