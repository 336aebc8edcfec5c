"""Who receives a push (rest-api.md §4.1 Condition, §4.5 SDK variants, §4.7 im_get_audience).

One imcastd for the class holds a population of 12 accounts with chosen tags and attributes;
10 of them are connected receivers for the whole class, 2 stay offline. Each test pushes
with a Condition (MsgLifeTime 0, so nothing is stored) and then a sentinel push to every
account: every connected receiver's next events must be exactly [the push's Msg if it is in
the audience] then the sentinel's Msg. As events on one connection come in Seq order, this
proves "the others got nothing" without waiting for silence. The expected audience is
computed from the population table by a small model of the documented semantics
(TagsAnd: all of; TagsOr: at least one of; both: all of TagsAnd and one of TagsOr; likewise
for attributes). im_get_audience must give the same Audience, and Online = the connected
members of it.
"""
import unittest

from imcast_harness import ServerTestCase, short
from imcast_ws import PUSH, LOGIN, PushMixin, open_receivers, push_body

# user -> (tags, attrs)
POP = {
    "p01": (["vip", "cn"], {"sex": "F", "city": "SZ"}),
    "p02": (["vip", "us"], {"sex": "M", "city": "SZ"}),
    "p03": (["beta", "cn"], {"sex": "F", "city": "BJ"}),
    "p04": (["beta", "us"], {"sex": "M", "city": "BJ"}),
    "p05": (["vip", "beta", "cn"], {"sex": "F", "city": "SH", "tier": "gold"}),
    "p06": (["vip", "beta", "us"], {"sex": "M", "city": "SH"}),
    "p07": (["cn", "标签"], {"sex": "F"}),
    "p08": (["us"], {"city": "SZ"}),
    "p09": ([], {}),
    "p10": (["vip"], {"tier": "gold"}),
    "p11": (["beta", "标签"], {"sex": "F", "city": "SZ", "tier": "silver"}),   # offline
    "p12": (["vip", "beta", "cn", "us"], {"sex": "M", "city": "SZ", "tier": "gold"}),  # offline
}
OFFLINE = {"p11", "p12"}
ONLINE = sorted(set(POP) - OFFLINE)


def model(cond):
    """The expected audience (a set of users) of a Condition in object form."""
    if not cond:
        return set(POP)
    out = set()
    for u, (tags, attrs) in POP.items():
        ok = True
        if cond.get("TagsAnd"):
            ok &= all(t in tags for t in cond["TagsAnd"])
        if cond.get("TagsOr"):
            ok &= any(t in tags for t in cond["TagsOr"])
        if cond.get("AttrsAnd"):
            ok &= all(attrs.get(k) == v for k, v in cond["AttrsAnd"].items())
        if cond.get("AttrsOr"):
            ok &= any(attrs.get(k) == v for k, v in cond["AttrsOr"].items())
        if ok:
            out.add(u)
    return out


class Audience(PushMixin, ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        srv = cls.srv
        srv.ok(LOGIN, "multiaccount_import", {"Accounts": sorted(POP)})
        srv.ok(PUSH, "im_set_attr_name", {"AttrNames": {"0": "sex", "1": "city", "2": "tier"}})
        srv.ok(PUSH, "im_add_tag", {"UserTags": [{"To_Account": u, "Tags": t}
                                                 for u, (t, a) in POP.items() if t]})
        srv.ok(PUSH, "im_set_attr", {"UserAttrs": [{"To_Account": u, "Attrs": a}
                                                   for u, (t, a) in POP.items() if a]})
        cls.rx = open_receivers(srv, ONLINE)
        cls.by_user = cls.rx.by_user()

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "rx", None):
            cls.rx.abort()
        super().tearDownClass()

    def setUp(self):
        self.resync(self.rx)        # an earlier failure leaves no stray event behind

    # ------------------------------------------------------------------ the check
    def check_push(self, condition, want, text=None, **extra):
        """Pushes with condition (as sent), then a sentinel to all; checks exactly `want`
        (of the connected ones) got the push. Returns the TaskId."""
        text = text or "to %s" % short(condition, 80)
        body = push_body(text, condition)
        body.update(extra)
        r = self.ok(PUSH, "im_push", body)
        tid = r["TaskId"]
        sentinel = self.push("sentinel")
        for u in ONLINE:
            c = self.by_user[u]
            if u in want:
                ev = c.expect_msg(tid)
                self.assert_msg(ev, tid, text=text)
            c.expect_msg(sentinel)
        return tid

    def check_audience(self, condition, want):
        aud, online = self.audience(condition)
        self.assertEqual(aud, len(want), "Audience of %s: want %s" % (short(condition), sorted(want)))
        self.assertEqual(online, len(set(want) - OFFLINE),
                         "Online of %s: want %s" % (short(condition), sorted(set(want) - OFFLINE)))

    def case(self, condition, expected=None):
        want = model(condition) if expected is None else set(expected)
        if expected is not None:
            self.assertEqual(model(condition), want, "the test's model disagrees with its table")
        self.check_audience(condition, want)
        self.check_push(condition, want)

    # ------------------------------------------------------------------ conditions
    def test_no_condition_is_everyone(self):
        self.check_audience(None, set(POP))
        self.check_push(None, set(POP))

    def test_empty_and_null_condition_are_everyone(self):
        for cond in ({}, None):
            with self.subTest(cond=cond):
                body = push_body("null cond")
                body["Condition"] = cond
                tid = self.ok(PUSH, "im_push", body)["TaskId"]
                for c in self.rx:
                    c.expect_msg(tid)
        self.assertEqual(self.audience({}), (12, 10))

    def test_tags_and(self):
        self.case({"TagsAnd": ["vip", "beta"]}, {"p05", "p06", "p12"})
        self.case({"TagsAnd": ["vip"]})
        self.case({"TagsAnd": ["vip", "beta", "cn", "us"]}, {"p12"})

    def test_tags_or(self):
        self.case({"TagsOr": ["cn", "us"]})
        self.case({"TagsOr": ["beta"]}, {"p03", "p04", "p05", "p06", "p11", "p12"})

    def test_unicode_tag(self):
        self.case({"TagsOr": ["标签"]}, {"p07", "p11"})

    def test_attrs_and(self):
        self.case({"AttrsAnd": {"sex": "F", "city": "SZ"}}, {"p01", "p11"})
        self.case({"AttrsAnd": {"tier": "gold"}}, {"p05", "p10", "p12"})

    def test_attrs_or(self):
        self.case({"AttrsOr": {"sex": "M", "city": "BJ"}}, {"p02", "p03", "p04", "p06", "p12"})
        self.case({"AttrsOr": {"tier": "silver"}})

    def test_tags_and_plus_tags_or(self):
        # all of TagsAnd AND at least one of TagsOr
        self.case({"TagsAnd": ["vip"], "TagsOr": ["cn", "beta"]}, {"p01", "p05", "p06", "p12"})

    def test_attrs_and_plus_attrs_or(self):
        self.case({"AttrsAnd": {"sex": "F"}, "AttrsOr": {"city": "SZ", "tier": "gold"}},
                  {"p01", "p05", "p11"})

    def test_nobody_matches(self):
        self.case({"TagsAnd": ["no-such-tag"]}, set())
        self.case({"AttrsAnd": {"sex": "F", "city": "nowhere"}}, set())

    def test_untagged_and_attrless_account_only_gets_all(self):
        want = model({"TagsOr": ["vip", "beta", "cn", "us", "标签"]})
        self.assertNotIn("p09", want)
        self.case({"TagsOr": ["vip", "beta", "cn", "us", "标签"]})

    # ------------------------------------------------------------------ SDK variants
    def test_official_sdk_array_condition(self):
        # the official 2022 Java SDK: Condition as an array of condition objects, merged
        self.check_push([{"TagsOr": ["cn", "us"]}], model({"TagsOr": ["cn", "us"]}))
        merged = {"TagsAnd": ["vip"], "TagsOr": ["cn", "beta"]}
        self.check_push([{"TagsAnd": ["vip"]}, {"TagsOr": ["cn", "beta"]}], model(merged))
        self.check_push([{"AttrsAnd": {"sex": "F"}}, {"AttrsOr": {"city": "SZ", "tier": "gold"}}],
                        model({"AttrsAnd": {"sex": "F"}, "AttrsOr": {"city": "SZ", "tier": "gold"}}))
        self.check_audience([{"TagsAnd": ["vip"]}, {"TagsOr": ["cn", "beta"]}], model(merged))

    def test_go_style_null_members(self):
        cond = {"TagsAnd": None, "TagsOr": ["beta"], "AttrsAnd": None, "AttrsOr": None}
        self.check_audience(cond, model({"TagsOr": ["beta"]}))
        self.check_push(cond, model({"TagsOr": ["beta"]}))
        cond = {"TagsAnd": None, "TagsOr": None, "AttrsAnd": {"sex": "M"}, "AttrsOr": None}
        self.check_push(cond, model({"AttrsAnd": {"sex": "M"}}))
        all_null = {"TagsAnd": None, "TagsOr": None, "AttrsAnd": None, "AttrsOr": None}
        self.check_push(all_null, set(POP))

    def test_empty_lists_are_absent(self):
        # empty arrays/objects are absent: tags [] with attrs is not "tags and attrs together"
        cond = {"TagsAnd": [], "TagsOr": [], "AttrsOr": {"city": "BJ"}, "AttrsAnd": {}}
        self.check_audience(cond, model({"AttrsOr": {"city": "BJ"}}))
        self.check_push(cond, model({"AttrsOr": {"city": "BJ"}}))

    # ------------------------------------------------------------------ im_get_audience
    def test_get_audience_sends_nothing(self):
        self.audience({"TagsOr": ["vip"]})
        self.audience(None)
        sentinel = self.push("sentinel")
        for c in self.rx:
            c.expect_msg(sentinel)

    def test_get_audience_validates_like_im_push(self):
        bad = [({"TagsAnd": ["vip"], "AttrsAnd": {"sex": "F"}}, 90039),
               ({"TagsOr": [""]}, 90040),
               ({"TagsOr": ["x" * 51]}, 90020),
               ({"TagsAnd": ["vip"], "TagsOr": ["vip"]}, 90022),
               ({"TagsAnd": ["t%d" % i for i in range(6)], "TagsOr": ["o%d" % i for i in range(5)]}, 90032),
               ({"AttrsAnd": {"nosuchattr": "x"}}, 90033)]
        for cond, code in bad:
            with self.subTest(code=code):
                self.fail_call(PUSH, "im_get_audience", {"Condition": cond}, code=code)

    def test_offline_members_get_it_at_login_when_stored(self):
        # p11/p12 are offline: a stored push with a condition reaches them at login only
        # when they are in its audience
        cond = {"TagsOr": ["标签"]}
        body = push_body("stored", cond, lifetime=60)
        tid = self.ok(PUSH, "im_push", body)["TaskId"]
        for u in ONLINE:
            if u in model(cond):
                self.by_user[u].expect_msg(tid)
        r11 = self.receiver("p11")
        ev = r11.expect_msg(tid)
        self.assert_msg(ev, tid, text="stored")
        r11.ack(ev["Seq"])
        r12 = self.receiver("p12")
        r12.no_event(0.5)
        r11.close()
        r12.close()
        sentinel = self.push("sentinel")
        for c in self.rx:
            c.expect_msg(sentinel)


class AudienceScale(PushMixin, ServerTestCase):
    """200 connected receivers, half tagged: a tagged push reaches exactly the tagged half,
    with the same frame bytes for every one of them."""

    N = 200

    def test_two_hundred_receivers(self):
        users = ["s%03d" % i for i in range(self.N)]
        self.import_accounts(*users)
        self.add_tags({u: ["even"] for u in users[::2]})
        g = self.receivers(users)
        self.assertEqual(self.audience({"TagsAnd": ["even"]}), (self.N // 2, self.N // 2))
        self.assertEqual(self.audience(None), (self.N, self.N))
        tid = self.push("half", {"TagsAnd": ["even"]})
        sentinel = self.push("all")
        texts = set()
        for i, c in enumerate(g):
            if i % 2 == 0:
                c.expect_msg(tid, timeout=10)
                texts.add(c.last_text)
            c.expect_msg(sentinel, timeout=10)
        self.assertEqual(len(texts), 1, "every receiver of a push gets the same bytes: %s"
                         % short(sorted(texts)[:3]))


if __name__ == "__main__":
    unittest.main()
