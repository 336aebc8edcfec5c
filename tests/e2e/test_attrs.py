"""Attribute names and user attributes (rest-api.md §4.2, §4.3, §4.5, §4.6).

Readings tested:
  - Lengths are in bytes: a name or value of 50 bytes is fine, 51 bytes (also as 17
    three-byte characters) is 90033.
  - Numbers and booleans are stored as their JSON text and read back as strings
    ("18", "true", "false").
  - A bad item anywhere fails the whole call (90033 / 90018) and changes nothing.
  - Removing an attribute a user does not have is a no-op.
  - An unknown account in im_get_attr goes to ErrorList; known ones are in UserAttrs.
  - Setting the same name on the same slot again is allowed (no-op); giving a name that
    another slot holds is 90033, also within one request.
"""
import unittest

from imcast_harness import FreshServerTestCase, ServerTestCase, short, uid

PUSH = "all_member_push"


class AttrNameTests(FreshServerTestCase):
    """Attribute names are global: each test gets a fresh server."""

    def set_names(self, names):
        return self.ok(PUSH, "im_set_attr_name", {"AttrNames": names})

    def test_none_is_empty_object(self):
        r = self.ok(PUSH, "im_get_attr_name", {})
        self.assertEqual(r.get("AttrNames"), {}, short(r))

    def test_set_and_get(self):
        self.set_names({"0": "sex", "1": "city"})
        self.assertEqual(self.get_attr_names(), {"0": "sex", "1": "city"})

    def test_upsert_per_slot(self):
        self.set_names({"0": "sex", "1": "city"})
        self.set_names({"2": "country"})
        self.assertEqual(self.get_attr_names(), {"0": "sex", "1": "city", "2": "country"})
        self.set_names({"1": "town"})
        self.assertEqual(self.get_attr_names(), {"0": "sex", "1": "town", "2": "country"})
        self.set_names({"9": "last"})
        self.assertEqual(self.get_attr_names()["9"], "last")

    def test_same_name_same_slot_again_ok(self):
        self.set_names({"0": "sex"})
        self.set_names({"0": "sex"})
        self.assertEqual(self.get_attr_names(), {"0": "sex"})

    def test_php_array_form(self):
        self.set_names(["sex", "city"])
        self.assertEqual(self.get_attr_names(), {"0": "sex", "1": "city"})

    def test_php_array_form_with_eleven_names_90033(self):
        self.fail_call(PUSH, "im_set_attr_name", {"AttrNames": ["n%d" % i for i in range(11)]},
                       code=90033)
        self.assertEqual(self.get_attr_names(), {})

    def test_duplicate_name_across_slots_90033(self):
        self.set_names({"0": "sex"})
        self.fail_call(PUSH, "im_set_attr_name", {"AttrNames": {"1": "sex"}}, code=90033,
                       names=["sex"])
        self.fail_call(PUSH, "im_set_attr_name", {"AttrNames": {"3": "dup", "4": "dup"}},
                       code=90033, names=["dup"])
        self.assertEqual(self.get_attr_names(), {"0": "sex"})

    def test_bad_slots_90033(self):
        for slot in ("10", "-1", "a", "", "01x", "100"):
            with self.subTest(slot=slot):
                self.fail_call(PUSH, "im_set_attr_name", {"AttrNames": {slot: "name"}},
                               code=90033, names=[slot] if slot else [])
        self.assertEqual(self.get_attr_names(), {})

    def test_name_lengths(self):
        self.set_names({"0": "n" * 50})
        self.fail_call(PUSH, "im_set_attr_name", {"AttrNames": {"1": "n" * 51}}, code=90033)
        self.fail_call(PUSH, "im_set_attr_name", {"AttrNames": {"1": "\u540d" * 17}}, code=90033)
        self.set_names({"2": "\u540d" * 16})
        self.fail_call(PUSH, "im_set_attr_name", {"AttrNames": {"1": ""}}, code=90033)
        self.fail_call(PUSH, "im_set_attr_name", {"AttrNames": {"1": 5}}, code=90033)
        self.assertEqual(self.get_attr_names(), {"0": "n" * 50, "2": "\u540d" * 16})

    def test_bad_item_changes_nothing(self):
        self.set_names({"0": "sex"})
        self.fail_call(PUSH, "im_set_attr_name", {"AttrNames": {"1": "city", "10": "x"}},
                       code=90033)
        self.fail_call(PUSH, "im_set_attr_name", {"AttrNames": {"0": "gender", "2": "y" * 51}},
                       code=90033)
        self.assertEqual(self.get_attr_names(), {"0": "sex"})

    def test_attrnames_not_an_object(self):
        for bad in ("sex", 5, True):
            with self.subTest(bad=bad):
                r = self.call(PUSH, "im_set_attr_name", {"AttrNames": bad})
                self.assertNotEqual(r["ErrorCode"], 0, short(r))
                self.assertTrue(r["ErrorInfo"], short(r))

    def test_rename_keeps_values(self):
        self.set_names({"0": "sex", "1": "city"})
        u = uid("ren")
        self.import_accounts(u)
        self.ok(PUSH, "im_set_attr", {"UserAttrs": [{"To_Account": u, "Attrs": {"sex": "F", "city": "SZ"}}]})
        self.set_names({"0": "gender"})
        self.assertEqual(self.get_attrs(u), {u: {"gender": "F", "city": "SZ"}})
        self.fail_call(PUSH, "im_set_attr", {"UserAttrs": [{"To_Account": u, "Attrs": {"sex": "M"}}]},
                       code=90033, names=["sex"])


NAMES = {"0": "sex", "1": "city", "2": "country", "3": "age", "4": "vip"}


class UserAttrTests(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv.ok(PUSH, "im_set_attr_name", {"AttrNames": NAMES})

    def users(self, n=1, prefix="ua"):
        us = [uid(prefix) for _ in range(n)]
        self.import_accounts(*us)
        return us

    def set_attrs(self, user, attrs):
        return self.ok(PUSH, "im_set_attr", {"UserAttrs": [{"To_Account": user, "Attrs": attrs}]})

    def test_none_is_empty_object(self):
        u, = self.users()
        r = self.ok(PUSH, "im_get_attr", {"To_Account": [u]})
        self.assertEqual(r["UserAttrs"], [{"To_Account": u, "Attrs": {}}], short(r))

    def test_set_get_merge(self):
        a, b = self.users(2)
        r = self.ok(PUSH, "im_set_attr", {"UserAttrs": [
            {"To_Account": a, "Attrs": {"sex": "F", "city": "SZ"}},
            {"To_Account": b, "Attrs": {"country": "CN"}}]})
        self.assertEqual(r.get("ErrorList", []), [], short(r))
        self.set_attrs(a, {"country": "CN"})
        self.set_attrs(a, {"sex": "M"})
        self.assertEqual(self.get_attrs(a, b), {a: {"sex": "M", "city": "SZ", "country": "CN"},
                                                b: {"country": "CN"}})

    def test_get_keeps_request_order(self):
        us = self.users(3)
        r = self.ok(PUSH, "im_get_attr", {"To_Account": us[::-1]})
        self.assertEqual([x["To_Account"] for x in r["UserAttrs"]], us[::-1], short(r))

    def test_numbers_and_booleans_as_json_text(self):
        u, = self.users()
        self.set_attrs(u, {"age": 18, "vip": True})
        self.assertEqual(self.get_attrs(u), {u: {"age": "18", "vip": "true"}})
        self.set_attrs(u, {"vip": False, "age": -3})
        self.assertEqual(self.get_attrs(u), {u: {"age": "-3", "vip": "false"}})

    def test_value_lengths(self):
        u, = self.users()
        self.set_attrs(u, {"city": "c" * 50, "country": "\u56fd" * 16})
        self.assertEqual(self.get_attrs(u), {u: {"city": "c" * 50, "country": "\u56fd" * 16}})

    def test_bad_values_90033(self):
        u, = self.users()
        self.set_attrs(u, {"sex": "F"})
        for name, bad in (("empty", ""), ("51 bytes", "v" * 51), ("17 three-byte chars", "\u56fd" * 17),
                          ("object", {"a": "b"}), ("array", ["a"])):
            with self.subTest(name):
                self.fail_call(PUSH, "im_set_attr",
                               {"UserAttrs": [{"To_Account": u, "Attrs": {"sex": bad}}]}, code=90033)
        self.assertEqual(self.get_attrs(u), {u: {"sex": "F"}})

    def test_unknown_name_90033(self):
        u, = self.users()
        self.fail_call(PUSH, "im_set_attr",
                       {"UserAttrs": [{"To_Account": u, "Attrs": {"no_such_attr": "x"}}]},
                       code=90033, names=["no_such_attr"])
        self.assertEqual(self.get_attrs(u), {u: {}})

    def test_bad_item_fails_whole_call(self):
        a, b = self.users(2)
        self.set_attrs(a, {"sex": "F"})
        self.fail_call(PUSH, "im_set_attr", {"UserAttrs": [
            {"To_Account": a, "Attrs": {"sex": "M", "city": "BJ"}},
            {"To_Account": b, "Attrs": {"sex": ""}}]}, code=90033)
        self.fail_call(PUSH, "im_set_attr", {"UserAttrs": [
            {"To_Account": a, "Attrs": {"sex": "M", "nosuch": "x"}}]}, code=90033)
        self.assertEqual(self.get_attrs(a, b), {a: {"sex": "F"}, b: {}})

    def test_too_many_accounts_90018(self):
        us = ["many%d" % i for i in range(101)]
        self.fail_call(PUSH, "im_get_attr", {"To_Account": us}, code=90018, names=["100"])
        self.fail_call(PUSH, "im_set_attr",
                       {"UserAttrs": [{"To_Account": x, "Attrs": {"sex": "F"}} for x in us]},
                       code=90018, names=["100"])
        self.fail_call(PUSH, "im_remove_attr",
                       {"UserAttrs": [{"To_Account": x, "Attrs": ["sex"]} for x in us]},
                       code=90018, names=["100"])

    def test_exactly_100_accounts_ok(self):
        us = self.users(100, "hundred")
        self.ok(PUSH, "im_set_attr", {"UserAttrs": [{"To_Account": x, "Attrs": {"sex": "F"}} for x in us]})
        r = self.ok(PUSH, "im_get_attr", {"To_Account": us})
        self.assertEqual(len(r["UserAttrs"]), 100)
        self.assertTrue(all(x["Attrs"] == {"sex": "F"} for x in r["UserAttrs"]), short(r))

    def test_unknown_accounts_in_errorlist(self):
        a, = self.users()
        ghost = uid("ghost")
        r = self.ok(PUSH, "im_set_attr", {"UserAttrs": [
            {"To_Account": ghost, "Attrs": {"sex": "F"}}, {"To_Account": a, "Attrs": {"sex": "F"}}]})
        self.assert_errorlist(r, [ghost])
        r = self.ok(PUSH, "im_get_attr", {"To_Account": [a, ghost]})
        self.assert_errorlist(r, [ghost])
        self.assertIn({"To_Account": a, "Attrs": {"sex": "F"}}, r["UserAttrs"], short(r))
        r = self.ok(PUSH, "im_remove_attr", {"UserAttrs": [
            {"To_Account": a, "Attrs": ["sex"]}, {"To_Account": ghost, "Attrs": ["sex"]}]})
        self.assert_errorlist(r, [ghost])
        self.assertEqual(self.get_attrs(a), {a: {}})
        self.assertEqual(self.check_status(ghost), {ghost: "NotImported"})

    def assert_errorlist(self, r, ghosts):
        errs = r.get("ErrorList")
        self.assertIsInstance(errs, list, "want ErrorList: %s" % short(r))
        self.assertEqual([e.get("To_Account") for e in errs], ghosts, short(r))
        for e in errs:
            self.assertEqual(e.get("ErrorCode"), 70107, short(r))
            self.assertTrue(e.get("ErrorInfo"), short(r))

    # ---- remove, in every body shape ----
    def test_remove_official_array_form(self):
        u, = self.users()
        self.set_attrs(u, {"sex": "F", "city": "SZ", "country": "CN"})
        self.ok(PUSH, "im_remove_attr", {"UserAttrs": [{"To_Account": u, "Attrs": ["sex", "city"]}]})
        self.assertEqual(self.get_attrs(u), {u: {"country": "CN"}})

    def test_remove_doocs_object_form(self):
        u, = self.users()
        self.set_attrs(u, {"sex": "F", "city": "SZ", "country": "CN"})
        self.ok(PUSH, "im_remove_attr",
                {"UserAttrs": [{"To_Account": u, "Attrs": {"sex": "anything", "city": ""}}]})
        self.assertEqual(self.get_attrs(u), {u: {"country": "CN"}})

    def test_remove_official_flat_form(self):
        u, = self.users()
        self.set_attrs(u, {"sex": "F", "city": "SZ", "country": "CN"})
        self.ok(PUSH, "im_remove_attr", {"To_Account": u, "Attrs": ["sex", "country"]})
        self.assertEqual(self.get_attrs(u), {u: {"city": "SZ"}})

    def test_go_top_level_attrs_form(self):
        a, b = self.users(2)
        self.ok(PUSH, "im_set_attr", {"Attrs": [{"To_Account": a, "Attrs": {"sex": "F", "city": "SZ"}},
                                                {"To_Account": b, "Attrs": {"sex": "M"}}]})
        self.assertEqual(self.get_attrs(a, b), {a: {"sex": "F", "city": "SZ"}, b: {"sex": "M"}})
        self.ok(PUSH, "im_remove_attr", {"Attrs": [{"To_Account": a, "Attrs": ["sex"]}]})
        self.assertEqual(self.get_attrs(a, b), {a: {"city": "SZ"}, b: {"sex": "M"}})

    def test_remove_missing_is_noop(self):
        u, = self.users()
        self.set_attrs(u, {"city": "SZ"})
        self.ok(PUSH, "im_remove_attr", {"UserAttrs": [{"To_Account": u, "Attrs": ["sex"]}]})
        self.assertEqual(self.get_attrs(u), {u: {"city": "SZ"}})


if __name__ == "__main__":
    unittest.main()
