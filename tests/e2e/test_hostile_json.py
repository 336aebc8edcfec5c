"""Hostile JSON bodies on the REST API.

An admin's backend is trusted with the key, not with its bugs: whatever JSON it sends,
imcastd answers with the envelope and a Tencent code, never 91000, never a crash, and a
failed call changes nothing.

  - Wrong types in every documented field of every call, generated: each field (and the
    items of its lists) is replaced by null, true, 1, 1.5, "s", [] and {} in turn, a value
    of the field's own type being skipped. The answer must be a FAIL with a code other
    than 0 and 91000 and a non-empty ErrorInfo — and then the state (accounts, tags,
    attributes, attribute names, pushes, kicks) must be exactly as before — or an OK where
    the contract tolerates the value:
      * null in an optional member is absent (rest-api.md §1), so it must be OK;
      * [] and {} where an empty list or object means "absent" or "nothing" (Condition
        and its members, AttrNames, the names to remove) may be OK;
      * numbers and booleans as attribute values are stored as their JSON text (§4.3);
      * IsNeedDetail other than 1 just means no detail.
    The whole body replaced by each type is tried too ([] and null are {}).
  - Deep nesting (100,000 '[' and '{'), invalid UTF-8, lone surrogates and \\u0000 in
    strings, duplicate keys at every level, numbers that overflow (1e400,
    99999999999999999999999), trailing garbage, NaN, a BOM: 90001 (or the field's code).
  - MsgBody and OfflinePushInfo are forwarded byte for byte: a decoy "MsgBody" nested in
    another member, or inside a string, must not be what receivers get.
"""
import copy
import json
import os
import time
import unittest

from imcast_harness import ASAN, ServerTestCase, short
from imcast_ws import PushMixin, msg_random

T_NULL, T_TRUE, T_INT, T_REAL, T_STR, T_ARR, T_OBJ = "null", "true", "1", "1.5", '"s"', "[]", "{}"
SUBSTITUTES = [(T_NULL, None), (T_TRUE, True), (T_INT, 1), (T_REAL, 1.5), (T_STR, "s"),
               (T_ARR, []), (T_OBJ, {})]
SAME_TYPE = {"str": {T_STR}, "int": {T_INT}, "arr": {T_ARR}, "obj": {T_OBJ},
             "arr|obj": {T_ARR, T_OBJ}, "val": {T_STR}, "any": set()}

LOGIN, OPENIM, PUSH = "im_open_login_svc", "openim", "all_member_push"


# a hostile body is refused in well under a second; ASan under a parallel ctest is slower
MAX_SECONDS = 6.0 if ASAN else 2.0
TEXT = [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hostile json"}}]


def F(path, kind, opt=False, empty_ok=False):
    """A field: its path in the body (keys and list indexes), its type, whether it is an
    optional member (null = absent: must be OK), whether [] / {} may mean 'nothing'."""
    return (tuple(path.split(".")) if isinstance(path, str) else tuple(path), kind, opt, empty_ok)


# (service, command, base body, fields). The bases name accounts ju1/ju2 (imported, with
# tags and attributes), ju3/ju4 (not imported) and the attribute names sex and city.
CALLS = [
    (LOGIN, "account_import", {"UserID": "ju3", "Nick": "n", "FaceUrl": "http://f/a.png"},
     [F("UserID", "str"), F("Nick", "str", opt=True), F("FaceUrl", "str", opt=True)]),
    (LOGIN, "account_import", {"Identifier": "ju3"}, [F("Identifier", "str")]),
    (LOGIN, "multiaccount_import", {"Accounts": ["ju3", "ju4"]},
     [F("Accounts", "arr"), F("Accounts.0", "str")]),
    (LOGIN, "multiaccount_import", {"AccountList": ["ju3"]},
     [F("AccountList", "arr"), F("AccountList.0", "str")]),
    (LOGIN, "account_delete", {"DeleteItem": [{"UserID": "ju3"}]},
     [F("DeleteItem", "arr"), F("DeleteItem.0", "obj"), F("DeleteItem.0.UserID", "str")]),
    (LOGIN, "account_check", {"CheckItem": [{"UserID": "ju1"}]},
     [F("CheckItem", "arr"), F("CheckItem.0", "obj"), F("CheckItem.0.UserID", "str")]),
    (LOGIN, "kick", {"UserID": "ju2"}, [F("UserID", "str")]),
    (OPENIM, "query_online_status", {"To_Account": ["ju1"], "IsNeedDetail": 1},
     [F("To_Account", "arr"), F("To_Account.0", "str"), F("IsNeedDetail", "any", opt=True)]),
    (OPENIM, "querystate", {"To_Account": ["ju1"], "IsNeedDetail": 1},
     [F("To_Account", "arr"), F("To_Account.0", "str"), F("IsNeedDetail", "any", opt=True)]),
    (PUSH, "im_set_attr_name", {"AttrNames": {"2": "jname"}},
     [F("AttrNames", "arr|obj", empty_ok=True), F("AttrNames.2", "str", opt=True)]),
    (PUSH, "im_get_attr", {"To_Account": ["ju1"]}, [F("To_Account", "arr"), F("To_Account.0", "str")]),
    (PUSH, "im_set_attr", {"UserAttrs": [{"To_Account": "ju2", "Attrs": {"sex": "M"}}]},
     [F("UserAttrs", "arr"), F("UserAttrs.0", "obj"), F("UserAttrs.0.To_Account", "str"),
      F("UserAttrs.0.Attrs", "obj"), F("UserAttrs.0.Attrs.sex", "val", opt=True)]),
    (PUSH, "im_set_attr", {"To_Account": "ju2", "Attrs": {"city": "GZ"}},
     [F("To_Account", "str"), F("Attrs", "obj"), F("Attrs.city", "val", opt=True)]),
    (PUSH, "im_set_attr", {"Attrs": [{"To_Account": "ju2", "Attrs": {"city": "GZ"}}]},
     [F("Attrs.0", "obj"), F("Attrs.0.To_Account", "str"), F("Attrs.0.Attrs", "obj")]),
    (PUSH, "im_remove_attr", {"UserAttrs": [{"To_Account": "ju1", "Attrs": ["sex"]}]},
     [F("UserAttrs", "arr"), F("UserAttrs.0", "obj"), F("UserAttrs.0.To_Account", "str"),
      F("UserAttrs.0.Attrs", "arr|obj", empty_ok=True), F("UserAttrs.0.Attrs.0", "str")]),
    (PUSH, "im_get_tag", {"To_Account": ["ju1"]}, [F("To_Account", "arr"), F("To_Account.0", "str")]),
    (PUSH, "im_add_tag", {"UserTags": [{"To_Account": "ju2", "Tags": ["jt2"]}]},
     [F("UserTags", "arr"), F("UserTags.0", "obj"), F("UserTags.0.To_Account", "str"),
      F("UserTags.0.Tags", "arr"), F("UserTags.0.Tags.0", "str")]),
    (PUSH, "im_add_tag", {"To_Account": "ju2", "Tags": ["jt2"]},
     [F("To_Account", "str"), F("Tags", "arr"), F("Tags.0", "str")]),
    (PUSH, "im_remove_tag", {"UserTags": [{"To_Account": "ju1", "Tags": ["jt1"]}]},
     [F("UserTags", "arr"), F("UserTags.0", "obj"), F("UserTags.0.To_Account", "str"),
      F("UserTags.0.Tags", "arr"), F("UserTags.0.Tags.0", "str")]),
    (PUSH, "im_remove_all_tags", {"To_Account": ["ju1"]}, [F("To_Account", "arr"), F("To_Account.0", "str")]),
    (PUSH, "im_push", {"MsgRandom": 1, "MsgBody": TEXT, "MsgLifeTime": 60, "From_Account": "ju1",
                       "Condition": {"TagsAnd": ["jt1"], "TagsOr": ["jt0", "jt1b"]},
                       "OfflinePushInfo": {"PushFlag": 0, "Title": "t"}},
     [F("MsgRandom", "int"), F("MsgBody", "arr"), F("MsgBody.0", "obj"), F("MsgBody.0.MsgType", "str"),
      F("MsgBody.0.MsgContent", "obj"), F("MsgLifeTime", "int", opt=True), F("From_Account", "str", opt=True),
      F("Condition", "arr|obj", opt=True, empty_ok=True),
      F("Condition.TagsAnd", "arr", opt=True, empty_ok=True), F("Condition.TagsAnd.0", "str"),
      F("Condition.TagsOr", "arr", opt=True, empty_ok=True), F("Condition.TagsOr.0", "str"),
      F("OfflinePushInfo", "obj", opt=True)]),
    (PUSH, "im_push", {"MsgRandom": 1, "MsgBody": TEXT,
                       "Condition": {"AttrsAnd": {"sex": "F"}, "AttrsOr": {"city": "SZ", "sex": "F"}}},
     [F("Condition.AttrsAnd", "obj", opt=True, empty_ok=True), F("Condition.AttrsAnd.sex", "val"),
      F("Condition.AttrsOr", "obj", opt=True, empty_ok=True), F("Condition.AttrsOr.city", "val")]),
    (PUSH, "im_push", {"MsgRandom": 1, "MsgBody": TEXT, "Condition": [{"TagsAnd": ["jt1"]}, {"TagsOr": ["jt1b"]}]},
     [F("Condition.0", "obj", opt=True, empty_ok=True), F("Condition.1.TagsOr", "arr", opt=True, empty_ok=True)]),
    (PUSH, "im_get_audience", {"Condition": {"TagsAnd": ["jt1"], "TagsOr": ["jt0"]}},
     [F("Condition", "arr|obj", opt=True, empty_ok=True), F("Condition.TagsAnd", "arr", opt=True, empty_ok=True),
      F("Condition.TagsAnd.0", "str"), F("Condition.TagsOr", "arr", opt=True, empty_ok=True)]),
    (PUSH, "im_get_audience", {"Condition": {"AttrsOr": {"sex": "F"}}},
     [F("Condition.AttrsOr", "obj", opt=True, empty_ok=True), F("Condition.AttrsOr.sex", "val")]),
    (PUSH, "im_get_push_report", {"TaskId": "TASK"}, [F("TaskId", "str")]),
    (PUSH, "im_revoke", {"TaskId": "TASK"}, [F("TaskId", "str")]),
]
ALL_COMMANDS = [(LOGIN, c) for c in ("account_import", "multiaccount_import", "account_delete",
                                     "account_check", "kick")] + \
               [(OPENIM, "query_online_status"), (OPENIM, "querystate")] + \
               [(PUSH, c) for c in ("im_set_attr_name", "im_get_attr_name", "im_get_attr", "im_set_attr",
                                    "im_remove_attr", "im_get_tag", "im_add_tag", "im_remove_tag",
                                    "im_remove_all_tags", "im_push", "im_get_push_report", "im_revoke",
                                    "im_get_audience")]


def set_path(body, path, value):
    node = body
    for key in path[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    last = path[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


class HostileJson(PushMixin, ServerTestCase):
    USERS = ["ju1", "ju2", "ju3", "ju4", "s", "jdel"]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        srv = cls.srv
        srv.ok(PUSH, "im_set_attr_name", {"AttrNames": {"0": "sex", "1": "city"}})
        srv.ok(LOGIN, "multiaccount_import", {"Accounts": ["ju1", "ju2"]})
        srv.ok(PUSH, "im_add_tag", {"UserTags": [{"To_Account": "ju1", "Tags": ["jt1", "jt1b"]}]})
        srv.ok(PUSH, "im_set_attr", {"UserAttrs": [{"To_Account": "ju1", "Attrs": {"sex": "F", "city": "SZ"}}]})
        r = srv.ok(PUSH, "im_push", {"MsgRandom": msg_random(), "MsgBody": TEXT, "MsgLifeTime": 3600})
        cls.task_id = r["TaskId"]

    # ------------------------------------------------------------------ state
    def metrics(self):
        st, _, body = self.srv.client.request("GET", "/metrics", b"", headers={})
        out = {}
        for ln in body.decode().splitlines():
            for name in ("imcast_pushes_total", "imcast_live_pushes", "imcast_accounts",
                         "imcast_revoked_total", "imcast_kicks_total"):
                if ln.startswith(name + " "):
                    out[name] = ln.split()[-1]
        return out

    def snapshot(self):
        u = self.USERS
        return {
            "accounts": self.ok(LOGIN, "account_check", {"CheckItem": [{"UserID": x} for x in u]})["ResultItem"],
            "tags": self.ok(PUSH, "im_get_tag", {"To_Account": u}).get("UserTags"),
            "attrs": self.ok(PUSH, "im_get_attr", {"To_Account": u}).get("UserAttrs"),
            "names": self.ok(PUSH, "im_get_attr_name", {})["AttrNames"],
            "report": self.ok(PUSH, "im_get_push_report", {"TaskId": self.task_id})["State"],
            "metrics": self.metrics(),
        }

    def send(self, service, command, body):
        """One call; returns the parsed envelope (any code, 91000 included)."""
        return self.srv.client.call(service, command, body, allow_internal=True)

    # ------------------------------------------------------------------ the generator
    def test_wrong_types_in_every_field_of_every_call(self):
        problems = []
        table = []
        before = self.snapshot()
        calls = 0
        for service, command, base, fields in CALLS:
            base = json.loads(json.dumps(base).replace('"TASK"', json.dumps(self.task_id)))
            for path, kind, opt, empty_ok in fields:
                for label, value in SUBSTITUTES:
                    if label in SAME_TYPE[kind]:
                        continue
                    body = copy.deepcopy(base)
                    if "MsgRandom" in body and path != ("MsgRandom",):
                        body["MsgRandom"] = msg_random()
                    set_path(body, path, value)
                    what = "%s/%s %s=%s" % (service, command, ".".join(path), label)
                    try:
                        doc = self.send(service, command, body)
                    except AssertionError as e:
                        problems.append("%s: %s" % (what, e))
                        if not self.srv.alive():
                            self.fail("imcastd died: %s%s" % (what, self.srv.context(force=True)))
                        continue
                    calls += 1
                    code = doc["ErrorCode"]
                    table.append("%-60s -> %s" % (what, code))
                    if code == 91000:
                        problems.append("%s: 91000 %s" % (what, short(doc)))
                        continue
                    if code == 0:
                        tolerated = (kind == "any" or (label == T_NULL and opt) or
                                     (empty_ok and label in (T_ARR, T_OBJ)) or
                                     (kind == "val" and label in (T_TRUE, T_INT, T_REAL)))
                        if not tolerated:
                            problems.append("%s: OK for a wrong type: %s" % (what, short(doc)))
                        before = self.snapshot()        # a tolerated OK may change things
                        continue
                    if label == T_NULL and opt:
                        problems.append("%s: null is absent, but the call failed: %s" % (what, short(doc)))
                    if not doc["ErrorInfo"].strip():
                        problems.append("%s: empty ErrorInfo: %s" % (what, short(doc)))
                    after = self.snapshot()
                    if after != before:
                        problems.append("%s: failed with %d but changed the state:\n   before %s\n   after  %s"
                                        % (what, code, short(before, 800), short(after, 800)))
                        before = after
        if os.environ.get("IMCAST_E2E_VERBOSE"):
            print("\n  " + "\n  ".join(table))
        self.assertEqual(problems, [], "%d of %d calls answered wrongly:\n  %s"
                         % (len(problems), calls, "\n  ".join(problems)))
        self.assertGreater(calls, 300)

    def test_the_whole_body_of_every_call_of_each_type(self):
        problems = []
        for service, command in ALL_COMMANDS:
            for label, raw in ((T_NULL, "null"), (T_TRUE, "true"), (T_INT, "1"), (T_REAL, "1.5"),
                               (T_STR, '"s"'), (T_ARR, "[]"), ("[1]", "[1]"), (T_OBJ, "{}"),
                               ("junk keys", '{"x":[{"y":null}],"":1,"To_Account":{"a":1}}')):
                before = self.snapshot()
                doc = self.srv.client.call(service, command, raw_body=raw, allow_internal=True)
                what = "%s/%s body %s" % (service, command, label)
                if doc["ErrorCode"] == 91000:
                    problems.append("%s: 91000" % what)
                if label in (T_TRUE, T_INT, T_REAL, T_STR, "[1]") and doc["ErrorCode"] != 90001:
                    problems.append("%s: want 90001, got %s" % (what, short(doc)))
                if doc["ErrorCode"] != 0:
                    if not doc["ErrorInfo"].strip():
                        problems.append("%s: empty ErrorInfo" % what)
                    if self.snapshot() != before:
                        problems.append("%s: failed but changed the state" % what)
        self.assertEqual(problems, [], "\n  ".join(problems))

    # ------------------------------------------------------------------ malformed JSON
    def assert_90001(self, raw, what, service=PUSH, command="im_get_tag", codes=(90001,)):
        t0 = time.monotonic()
        doc = self.srv.client.call(service, command, raw_body=raw, allow_internal=True)
        took = time.monotonic() - t0
        self.assertIn(doc["ErrorCode"], codes, "%s: %s" % (what, short(doc)))
        self.assertEqual(doc["ActionStatus"], "FAIL")
        self.assertTrue(doc["ErrorInfo"].strip(), short(doc))
        self.assertLess(took, MAX_SECONDS, "%s took %.1fs" % (what, took))
        return doc

    def test_deep_nesting(self):
        n = 100000
        cases = [
            ("100,000 '['", b"[" * n),
            ("100,000 '[' closed", b"[" * n + b"]" * n),
            ("100,000 nested objects", b'{"a":' * n + b"1" + b"}" * n),
            ("nested in a field", b'{"To_Account":' + b"[" * n + b"]" * n + b"}"),
            ("nested in MsgContent", b'{"MsgRandom":1,"MsgBody":[{"MsgType":"TIMCustomElem","MsgContent":{"Data":'
             + b"[" * n + b"]" * n + b"}}]}"),
        ]
        for name, raw in cases:
            for service, command in ((PUSH, "im_get_tag"), (PUSH, "im_push"), (LOGIN, "account_import")):
                with self.subTest(case=name, command=command):
                    self.assert_90001(raw, name, service, command)
        self.assertTrue(self.srv.alive(), self.srv.context(force=True))

    def test_strings_that_are_not_utf8(self):
        cases = [
            ("\\xff in a UserID", b'{"UserID":"ab\xffcd"}', LOGIN, "account_import"),
            ("\\xc0\\xaf (overlong) in a tag", b'{"UserTags":[{"To_Account":"ju1","Tags":["\xc0\xaf"]}]}', PUSH, "im_add_tag"),
            ("a cut sequence in a key", b'{"To_Account\xe2\x82":["ju1"]}', PUSH, "im_get_tag"),
            ("UTF-16 surrogate bytes", b'{"UserID":"\xed\xa0\x80"}', LOGIN, "account_import"),
            ("lone surrogate escape", b'{"UserID":"\\ud800"}', LOGIN, "account_import"),
            ("reversed surrogate pair", b'{"UserID":"\\udc00\\ud800"}', LOGIN, "account_import"),
            ("\\u0000 in a UserID", b'{"UserID":"ad\\u0000min"}', LOGIN, "account_import"),
            ("\\u0000 in a tag", b'{"UserTags":[{"To_Account":"ju1","Tags":["a\\u0000b"]}]}', PUSH, "im_add_tag"),
            ("\\u0000 in MsgContent", b'{"MsgRandom":1,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"\\u0000"}}]}',
             PUSH, "im_push"),
            ("a raw control character in a string", b'{"UserID":"a\x01b"}', LOGIN, "account_import"),
            ("latin-1 MsgContent", b'{"MsgRandom":1,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"caf\xe9"}}]}',
             PUSH, "im_push"),
        ]
        before = self.snapshot()
        for name, raw, service, command in cases:
            with self.subTest(case=name):
                self.assert_90001(raw, name, service, command)
        self.assertEqual(self.snapshot(), before)

    def test_duplicate_keys(self):
        cases = [
            ("top level", b'{"UserID":"ju3","UserID":"ju4"}', LOGIN, "account_import"),
            ("in an item", b'{"UserTags":[{"To_Account":"ju1","To_Account":"ju2","Tags":["x"]}]}', PUSH, "im_add_tag"),
            ("in Attrs", b'{"UserAttrs":[{"To_Account":"ju1","Attrs":{"sex":"M","sex":"F"}}]}', PUSH, "im_set_attr"),
            ("MsgBody twice", b'{"MsgRandom":1,"MsgBody":[],"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{}}]}',
             PUSH, "im_push"),
            ("deep inside MsgContent", b'{"MsgRandom":1,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"a":{"b":1,"b":2}}}]}',
             PUSH, "im_push"),
            ("escaped spelling of the same key", b'{"UserID":"ju3","User\\u0049D":"ju4"}', LOGIN, "account_import"),
        ]
        before = self.snapshot()
        for name, raw, service, command in cases:
            with self.subTest(case=name):
                self.assert_90001(raw, name, service, command)
        self.assertEqual(self.snapshot(), before)

    def test_numbers_that_overflow(self):
        push = '{"MsgRandom":%s,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"n"}}]%s}'
        cases = [
            ("MsgRandom 1e400", push % ("1e400", ""), (90001, 90005)),
            ("MsgRandom 99999999999999999999999", push % ("99999999999999999999999", ""), (90001, 90005)),
            ("MsgRandom -99999999999999999999999", push % ("-99999999999999999999999", ""), (90001, 90005)),
            ("MsgRandom 2^32", push % ("4294967296", ""), (90005,)),
            ("MsgRandom -1", push % ("-1", ""), (90005,)),
            ("MsgRandom 2^63", push % ("9223372036854775808", ""), (90001, 90005)),
            ("MsgRandom -2^63", push % ("-9223372036854775808", ""), (90005,)),
            ("MsgRandom 1e2", push % ("1e2", ""), (90005,)),
            ("MsgRandom 1.0", push % ("1.0", ""), (90005,)),
            ("MsgLifeTime 1e400", push % ("1", ',"MsgLifeTime":1e400'), (90001, 90026)),
            ("MsgLifeTime 2^63-1", push % ("1", ',"MsgLifeTime":9223372036854775807'), (90026,)),
            ("MsgLifeTime -2^63", push % ("1", ',"MsgLifeTime":-9223372036854775808'), (90026,)),
            ("MsgLifeTime 2^64", push % ("1", ',"MsgLifeTime":18446744073709551616'), (90001, 90026)),
            ("MsgLifeTime -0.0", push % ("1", ',"MsgLifeTime":-0.0'), (90026,)),
            ("NaN", push % ("NaN", ""), (90001,)),
            ("Infinity", push % ("Infinity", ""), (90001,)),
            ("hex", push % ("0x10", ""), (90001,)),
            ("leading zeros", push % ("007", ""), (90001,)),
        ]
        before = self.snapshot()
        for name, raw, codes in cases:
            with self.subTest(case=name):
                self.assert_90001(raw, name, PUSH, "im_push", codes)
        self.assertEqual(self.snapshot(), before)
        # attribute values: a huge number is too long a text (90033), never an internal error
        for raw_value, codes in (("1e308", (0, 90033)), ("1e400", (90001,)),
                                 ("123456789012345678901234567890123456789012345678901", (90001, 90033)),
                                 ("-0", (0, 90033))):
            with self.subTest(value=raw_value):
                raw = '{"UserAttrs":[{"To_Account":"ju2","Attrs":{"city":%s}}]}' % raw_value
                doc = self.srv.client.call(PUSH, "im_set_attr", raw_body=raw, allow_internal=True)
                self.assertIn(doc["ErrorCode"], codes, "%s: %s" % (raw_value, short(doc)))

    def test_not_json_at_all(self):
        cases = [
            ("trailing garbage", b'{"To_Account":["ju1"]} xx'),
            ("two objects", b'{"To_Account":["ju1"]}{"To_Account":["ju2"]}'),
            ("a BOM", b'\xef\xbb\xbf{"To_Account":["ju1"]}'),
            ("single quotes", b"{'To_Account':['ju1']}"),
            ("a comment", b'{"To_Account":["ju1"] /* x */}'),
            ("a trailing comma", b'{"To_Account":["ju1"],}'),
            ("cut in a string", b'{"To_Account":["ju'),
            ("a NUL byte", b'{"To_Account":["ju1"]}\x00'),
            ("binary", bytes(range(256))),
        ]
        for name, raw in cases:
            with self.subTest(case=name):
                self.assert_90001(raw, name)

    def test_large_but_legal_bodies(self):
        # 100,000 accounts in a list of at most 100: refused by count, quickly
        many = json.dumps({"To_Account": ["u%d" % i for i in range(100000)]})
        self.assert_90001(many, "100,000 To_Account", PUSH, "im_get_tag", (90018,))
        self.assert_90001(json.dumps({"Accounts": ["u%d" % i for i in range(100000)]}),
                          "100,000 Accounts", LOGIN, "multiaccount_import", (70402,))
        self.assert_90001(json.dumps({"To_Account": ["x"] * 100000}), "100,000 To_Account",
                          OPENIM, "query_online_status", (70402,))
        # 50,000 members in one object, and 1 MB strings
        obj = {"k%d" % i: i for i in range(50000)}
        obj["To_Account"] = ["ju1"]
        doc = self.call(PUSH, "im_get_tag", raw_body=json.dumps(obj))
        self.assertEqual(doc["ErrorCode"], 0, short(doc))
        big = "x" * (1000 * 1000)
        self.assert_90001(json.dumps({"UserID": big}), "a 1 MB UserID", LOGIN, "account_import", (70402,))
        self.assert_90001(json.dumps({"UserTags": [{"To_Account": "ju1", "Tags": [big]}]}),
                          "a 1 MB tag", PUSH, "im_add_tag", (90020,))
        # a Condition array of 20,000 parts, each legal alone: refused as too many tags
        cond = [{"TagsOr": ["t%d" % i]} for i in range(20000)]
        self.assert_90001(json.dumps({"Condition": cond}), "20,000 Condition parts", PUSH,
                          "im_get_audience", (90032,))

    # ------------------------------------------------------------------ forwarding
    def test_decoy_members_are_not_forwarded(self):
        (u,) = ["jdecoy"]
        self.import_accounts(u)
        c = self.receiver(u)
        real_body = [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "the real one"}}]
        real_info = {"Title": "real"}
        raw = ('{"Decoy":{"MsgBody":"EVIL","OfflinePushInfo":"EVIL"},'
               '"Str":"\\"MsgBody\\":[1],\\"OfflinePushInfo\\":2",'
               '"Arr":[{"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"EVIL"}}]}],'
               '"MsgRandom":%d,"OfflinePushInfo":%s,"MsgBody":%s}'
               % (msg_random(), json.dumps(real_info), json.dumps(real_body)))
        doc = self.call(PUSH, "im_push", raw_body=raw)
        self.assertEqual(doc["ErrorCode"], 0, short(doc))
        ev = c.expect_msg(doc["TaskId"])
        self.assertEqual(ev["MsgBody"], real_body, short(ev))
        self.assertEqual(ev["OfflinePushInfo"], real_info, short(ev))
        # an escaped spelling of the key: the parsed value is what goes out
        raw = ('{"MsgRandom":%d,"Msg\\u0042ody":%s,"MsgBody_":"EVIL"}' % (msg_random(), json.dumps(real_body)))
        doc = self.call(PUSH, "im_push", raw_body=raw)
        self.assertEqual(doc["ErrorCode"], 0, short(doc))
        ev = c.expect_msg(doc["TaskId"])
        self.assertEqual(ev["MsgBody"], real_body, short(ev))
        self.assertNotIn("EVIL", c.last_text)


if __name__ == "__main__":
    unittest.main()
