"""Every im_push error of rest-api.md §4.1 / §5, the rate flags, unknown TaskIds, and the
two im_push bodies real Java SDKs send (tests/testdata/sdk-requests/java-sdks.json).

A connected receiver of every account watches the whole time: after each test a sentinel
push must be the next thing it sees, so no failed push was delivered. Failed pushes with a
MsgLifeTime are also checked not to be stored (an offline account logs in to nothing).
"""
import json
import time
import unittest

from imcast_harness import ADMIN, KEY, SDKAPPID, FreshServerTestCase, ServerTestCase, short, \
    sdk_requests, uid, usersig
from imcast_ws import LOGIN, PUSH, TASK_ID_RE, PushMixin, connect, push_body, text_body


def body_with(**fields):
    """A valid push body (MsgLifeTime 60) with fields replaced; a value of ... removes it."""
    b = push_body("bad", lifetime=60)
    for k, v in fields.items():
        if v is ...:
            b.pop(k, None)
        else:
            b[k] = v
    return b


class PushErrors(PushMixin, ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv.ok(LOGIN, "multiaccount_import", {"Accounts": ["watcher", "sleeper", "sender1"]})
        cls.srv.ok(PUSH, "im_set_attr_name", {"AttrNames": {"0": "sex"}})
        cls.srv.ok(PUSH, "im_add_tag", {"UserTags": [{"To_Account": "watcher", "Tags": ["a", "b"]}]})
        cls.watcher = connect(cls.srv, "watcher")

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "watcher", None):
            cls.watcher.abort()
        super().tearDownClass()

    def setUp(self):
        self.resync([self.watcher])     # an earlier failure leaves no stray event behind

    def tearDown(self):
        # nothing a failed push did reached the watcher: its next event is this sentinel
        if self.srv.alive() and not self.watcher.closed:
            self.watcher.ping(b"keep")           # not silent for 3 x PingSec
            tid = self.push("sentinel")
            ev = self.watcher.expect_event("Msg")
            self.assertEqual(ev.get("TaskId"), tid, "a failed push was delivered: %s"
                             % short(self.watcher.last_text))

    # ErrorInfo must say what was wrong and where (rest-api.md §1): the field at least
    FIELD = {90005: "MsgRandom", 90007: "MsgBody", 90002: "MsgBody", 90010: "MsgBody",
             90026: "MsgLifeTime"}

    def bad(self, code, names=(), **fields):
        names = tuple(names) + ((self.FIELD[code],) if code in self.FIELD else ())
        return self.push_fail(body_with(**fields), code, names)

    # ---------------------------------------------------------------- MsgRandom
    def test_90005_msgrandom(self):
        for v in (..., "123", -1, 4294967296, 1.5, True, None, [1], {"a": 1}):
            with self.subTest(MsgRandom=v):
                self.bad(90005, MsgRandom=v)

    def test_msgrandom_bounds_ok(self):
        for v in (0, 4294967295):
            with self.subTest(MsgRandom=v):
                self.push("bound", random=v, condition={"TagsAnd": ["nobody-has-this"]})

    # ---------------------------------------------------------------- MsgBody
    def test_90007_msgbody_missing_or_not_array(self):
        for v in (..., None, {"MsgType": "TIMTextElem", "MsgContent": {"Text": "x"}}, "text", 1):
            with self.subTest(MsgBody=v):
                self.bad(90007, MsgBody=v)

    def test_90002_msgbody_malformed(self):
        cases = {
            "empty": [],
            "element not an object": ["TIMTextElem"],
            "element a number": [1],
            "missing MsgContent": [{"MsgType": "TIMTextElem"}],
            "second element missing MsgContent": text_body("ok") + [{"MsgType": "TIMTextElem"}],
        }
        for name, v in cases.items():
            with self.subTest(case=name):
                self.bad(90002, MsgBody=v)

    def test_90010_bad_element(self):
        cases = {
            "unknown MsgType": [{"MsgType": "TIMNoSuchElem", "MsgContent": {"Text": "x"}}],
            "lower-case MsgType": [{"MsgType": "timtextelem", "MsgContent": {"Text": "x"}}],
            "two TIMCustomElem": [{"MsgType": "TIMCustomElem", "MsgContent": {"Data": "1"}},
                                  {"MsgType": "TIMCustomElem", "MsgContent": {"Data": "2"}}],
        }
        for name, v in cases.items():
            with self.subTest(case=name):
                self.bad(90010, MsgBody=v)

    def test_every_msg_type_accepted_and_one_custom_with_others(self):
        types = ["TIMTextElem", "TIMLocationElem", "TIMFaceElem", "TIMCustomElem", "TIMSoundElem",
                 "TIMImageElem", "TIMFileElem", "TIMVideoFileElem"]
        for t in types:
            with self.subTest(MsgType=t):
                self.push(body=[{"MsgType": t, "MsgContent": {"X": 1}}],
                          condition={"TagsAnd": ["nobody-has-this"]})
        self.push(body=text_body("a") + [{"MsgType": "TIMCustomElem", "MsgContent": {"Data": "1"}}]
                  + text_body("b"), condition={"TagsAnd": ["nobody-has-this"]})

    # ---------------------------------------------------------------- MsgLifeTime
    def test_90026_lifetime(self):
        for v in (-1, 604801, "60", 1.5, True, [60]):
            with self.subTest(MsgLifeTime=v):
                self.bad(90026, MsgLifeTime=v)

    def test_lifetime_bounds_and_default(self):
        for v in (0, 604800, ...):
            with self.subTest(MsgLifeTime=v):
                b = body_with(MsgLifeTime=v, Condition={"TagsAnd": ["nobody-has-this"]})
                tid = self.ok(PUSH, "im_push", b)["TaskId"]
                self.assertRegex(tid, TASK_ID_RE)

    # ---------------------------------------------------------------- Condition
    def test_90039_tags_and_attrs_together(self):
        for cond in ({"TagsAnd": ["a"], "AttrsAnd": {"sex": "F"}},
                     {"TagsOr": ["a"], "AttrsOr": {"sex": "F"}},
                     [{"TagsOr": ["a"]}, {"AttrsAnd": {"sex": "F"}}]):
            with self.subTest(cond=cond):
                self.bad(90039, Condition=cond)

    def test_90040_empty_tag(self):
        for cond in ({"TagsOr": [""]}, {"TagsAnd": ["a", ""]}):
            with self.subTest(cond=cond):
                self.bad(90040, Condition=cond)

    def test_90020_tag_too_long(self):
        self.bad(90020, Condition={"TagsAnd": ["x" * 51]}, names=("50",))
        self.bad(90020, Condition={"TagsOr": ["a", "标" * 17]})        # 51 bytes, 17 characters
        self.push("50 bytes is fine", {"TagsAnd": ["x" * 50]})
        self.push("48 bytes is fine", {"TagsAnd": ["标" * 16]})

    def test_90022_same_tag_in_both(self):
        self.bad(90022, Condition={"TagsAnd": ["a", "z"], "TagsOr": ["y", "a"]}, names=("a",))

    def test_90032_too_many_tags(self):
        self.bad(90032, Condition={"TagsAnd": ["t%d" % i for i in range(6)],
                                   "TagsOr": ["o%d" % i for i in range(5)]})
        self.bad(90032, Condition={"TagsOr": ["o%d" % i for i in range(11)]})
        self.push("ten is fine", {"TagsAnd": ["t%d" % i for i in range(5)],
                                  "TagsOr": ["o%d" % i for i in range(5)]})

    def test_90033_attr_name_not_set(self):
        self.bad(90033, Condition={"AttrsAnd": {"city": "SZ"}}, names=("city",))
        self.bad(90033, Condition={"AttrsOr": {"sex": "F", "nosuch": "x"}}, names=("nosuch",))

    # ---------------------------------------------------------------- sender, admin
    def test_70107_from_account_not_imported(self):
        ghost = uid("ghost")
        self.bad(70107, From_Account=ghost, names=(ghost,))

    def test_90009_not_admin(self):
        self.fail_call(PUSH, "im_push", body_with(), code=90009, identifier="sender1")
        self.fail_call(PUSH, "im_get_push_report", {"TaskId": "0"}, code=90009, identifier="sender1")
        self.fail_call(PUSH, "im_get_audience", {}, code=90009, identifier="sender1")

    def test_failed_stored_pushes_are_not_stored(self):
        # (every successful push of this class is MsgLifeTime 0 or to a tag "sleeper" lacks,
        # so sleeper has nothing to catch up on)
        for fields in ({"MsgLifeTime": 3600, "Condition": {"TagsOr": [""]}},
                       {"MsgLifeTime": 3600, "From_Account": uid("ghost")},
                       {"MsgLifeTime": 3600, "MsgBody": []}):
            self.push_fail(body_with(**fields), (90040, 70107, 90002))
        c = connect(self.srv, "sleeper")
        self.addCleanup(c.abort)
        tid = self.push("sentinel for sleeper")
        self.watcher.expect_msg(tid)
        c.expect_msg(tid)

    # ---------------------------------------------------------------- TaskIds
    def test_90049_unknown_task_id(self):
        for cmd in ("im_get_push_report", "im_revoke"):
            for tid in ("ffff_0_0_0", "0", "not-a-task"):
                with self.subTest(cmd=cmd, TaskId=tid):
                    self.fail_call(PUSH, cmd, {"TaskId": tid}, code=90049)

    # ---------------------------------------------------------------- Java SDK bodies
    def test_java_sdk_push_bodies(self):
        reqs = [r for r in sdk_requests()["requests"] if r["command"] == "im_push"]
        self.assertEqual(len(reqs), 2)
        self.import_accounts("admin")        # their From_Account
        tids = []
        for req in reqs:
            with self.subTest(sdk=req["sdk"]):
                path, _, query = req["target"].partition("?")
                parts = []
                for kv in query.split("&"):
                    k, _, _ = kv.partition("=")
                    if k == "usersig":
                        kv = "usersig=" + usersig(KEY, SDKAPPID, ADMIN)
                    parts.append(kv)
                target = path + "?" + "&".join(parts)
                headers = None
                if req["headers"]:
                    headers = {}
                    for h in req["headers"]:
                        k, _, v = h.partition(":")
                        if k.lower() not in ("host", "content-length", "connection"):
                            headers[k.strip()] = v.strip()
                    self.assertEqual(len(req["body"].encode()), 168)
                doc = self.ok(PUSH, "im_push", raw_body=req["body"], target=target, headers=headers)
                self.assertRegex(doc.get("TaskId", ""), TASK_ID_RE, short(doc))
                tids.append(doc["TaskId"])
        # same sender ("admin"), same MsgRandom 9312457: the second is a retry of the first
        self.assertEqual(tids[0], tids[1])
        # the watcher has tags a and b: it received exactly one copy
        ev = self.watcher.expect_msg(tids[0])
        self.assertEqual(ev["From_Account"], "admin")
        self.assertEqual(ev["MsgBody"], json.loads(reqs[0]["body"])["MsgBody"])
        rep = self.report(tids[0])
        self.assertEqual(rep["Audience"], 1, short(rep))


class RateLimits(PushMixin, FreshServerTestCase):
    """--push-min-interval-ms and --push-daily-quota (default off), --max-live-pushes."""

    def setUp(self):
        flags = {"test_min_interval": ["--push-min-interval-ms", "1000"],
                 "test_daily_quota": ["--push-daily-quota", "3"],
                 "test_max_live_pushes": ["--max-live-pushes", "2"],
                 "test_default_off": []}[self._testMethodName]
        self.server_kwargs = {"extra": flags}
        super().setUp()
        self.import_accounts("rl")
        self.c = connect(self.srv, "rl")
        self.addCleanup(self.c.abort)

    def test_default_off(self):
        tids = [self.push("quick %d" % i, lifetime=60) for i in range(20)]
        for t in tids:
            self.c.expect_msg(t)

    def test_min_interval(self):
        t1 = self.push("first")
        self.c.expect_msg(t1)
        self.push_fail(push_body("too soon"), 90024)
        self.push_fail(push_body("too soon, stored", lifetime=60), 90024)
        time.sleep(1.2)
        t2 = self.push("later")
        self.c.expect_msg(t2)        # nothing of the refused ones came before it
        self.c.no_event(0.2)
        # the refused stored push was not stored
        self.c.close()
        c2 = self.receiver("rl")
        c2.no_event(0.5)

    def test_daily_quota(self):
        tids = [self.push("q%d" % i, lifetime=60) for i in range(3)]
        self.push_fail(push_body("over"), 90047)
        self.push_fail(push_body("over, stored", lifetime=60), 90047)
        for t in tids:
            self.c.expect_msg(t)
        self.c.no_event(0.3)
        # other calls are not limited
        self.ok(PUSH, "im_get_audience", {})
        self.ok(PUSH, "im_get_push_report", {"TaskId": tids[0]})

    def test_max_live_pushes(self):
        t1 = self.push("live 1", lifetime=2)
        t2 = self.push("live 2", lifetime=600)
        self.push_fail(push_body("live 3", lifetime=600), 90024)
        for t in (t1, t2):
            self.c.expect_msg(t)
        time.sleep(2.5)
        # t1 has expired: room for one more (allow the expiry timer a few seconds)
        deadline = time.monotonic() + 5
        while True:
            doc = self.call(PUSH, "im_push", push_body("live 3 again", lifetime=600))
            if doc["ErrorCode"] == 0 or time.monotonic() > deadline:
                break
            self.assertEqual(doc["ErrorCode"], 90024, short(doc))
            time.sleep(0.25)
        self.assertEqual(doc["ErrorCode"], 0, "an expired push still counts as live: %s" % short(doc))
        self.c.expect_msg(doc["TaskId"])
        self.c.no_event(0.2)


if __name__ == "__main__":
    unittest.main()
