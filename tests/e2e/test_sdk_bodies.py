"""The exact requests two real Java SDKs send (../testdata/sdk-requests/java-sdks.json),
every one except im_push, replayed byte for byte (target, headers where given, body) with
only the usersig in the target replaced by a fresh one for 'administrator'.

Each must answer ErrorCode 0; each mutation is then checked for its effect with a get.
Before each request the state it needs is put in place (test1/test2 imported, attribute
names sex/city/country set, and e.g. attributes set before a remove).
"""
import json
import unittest

from imcast_harness import ADMIN, KEY, SDKAPPID, ServerTestCase, check_envelope, short, usersig, \
    sdk_requests

PUSH = "all_member_push"
REQUESTS = [r for r in sdk_requests()["requests"] if r["command"] != "im_push"]


def fresh_target(target):
    path, _, query = target.partition("?")
    parts = []
    for kv in query.split("&"):
        k, _, _ = kv.partition("=")
        if k == "usersig":
            kv = "usersig=" + usersig(KEY, SDKAPPID, ADMIN)
        parts.append(kv)
    return path + "?" + "&".join(parts)


class SdkBodies(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv.ok("im_open_login_svc", "multiaccount_import", {"Accounts": ["test1", "test2"]})
        cls.srv.ok(PUSH, "im_set_attr_name", {"AttrNames": {"0": "sex", "1": "city", "2": "country"}})

    def test_there_are_18(self):
        self.assertEqual(len(REQUESTS), 18, [r["command"] for r in REQUESTS])

    # state each command needs before, and the effect it must have after
    def before(self, cmd):
        if cmd in ("im_remove_attr",):
            self.ok(PUSH, "im_set_attr", {"UserAttrs": [
                {"To_Account": "test1", "Attrs": {"sex": "attr1", "city": "attr2", "country": "c"}}]})
        if cmd in ("im_remove_tag", "im_remove_all_tags"):
            self.ok(PUSH, "im_add_tag", {"UserTags": [{"To_Account": "test1", "Tags": ["a", "b", "z"]},
                                                      {"To_Account": "test2", "Tags": ["a"]}]})
        if cmd == "im_add_tag":
            self.ok(PUSH, "im_remove_all_tags", {"To_Account": ["test1"]})

    def after(self, cmd, req, resp):
        body = json.loads(req["body"])
        if cmd == "im_set_attr_name":
            names = self.get_attr_names()
            for slot, name in body["AttrNames"].items():
                self.assertEqual(names.get(slot), name, short(names))
        elif cmd == "im_get_attr_name":
            self.assertIsInstance(resp.get("AttrNames"), dict, short(resp))
            self.assertEqual(resp["AttrNames"].get("0"), "sex", short(resp))
        elif cmd == "im_get_attr":
            self.assertEqual(sorted(u["To_Account"] for u in resp["UserAttrs"]), ["test1", "test2"],
                             short(resp))
        elif cmd == "im_set_attr":
            got = self.get_attrs("test1")["test1"]
            self.assertEqual((got.get("sex"), got.get("city")), ("attr1", "attr2"), short(got))
        elif cmd == "im_remove_attr":
            got = self.get_attrs("test1")["test1"]
            self.assertEqual(got, {"country": "c"}, "sex and city should be gone: %s" % short(got))
        elif cmd == "im_get_tag":
            self.assertEqual(sorted(u["To_Account"] for u in resp["UserTags"]), ["test1", "test2"],
                             short(resp))
        elif cmd == "im_add_tag":
            self.assertEqual(self.get_tags("test1")["test1"], ["a", "b"])
        elif cmd == "im_remove_tag":
            self.assertEqual(self.get_tags("test1", "test2"), {"test1": ["z"], "test2": ["a"]})
        elif cmd == "im_remove_all_tags":
            self.assertEqual(self.get_tags("test1", "test2"), {"test1": [], "test2": []})

    def replay(self, req):
        cmd = req["command"]
        self.before(cmd)
        body = req["body"].encode("utf-8")
        if req["headers"]:
            headers = {}
            for h in req["headers"]:
                k, _, v = h.partition(":")
                headers[k.strip()] = v.strip()
            headers["Content-Length"] = str(len(body))
        else:
            headers = {}
        target = fresh_target(req["target"])
        status, _, data = self.srv.client.request(req["method"], target, body, headers)
        what = "%s %s (%s)" % (req["sdk"], cmd, req["body"])
        self.assertEqual(status, 200, "%s: HTTP %d %s%s" % (what, status, short(data),
                                                           self.srv.context()))
        resp = json.loads(data)
        check_envelope(resp, what)
        self.assertEqual(resp["ErrorCode"], 0, "%s: %s" % (what, short(resp)))
        self.assertEqual(resp["ActionStatus"], "OK", short(resp))
        self.after(cmd, req, resp)


def _make(req):
    def test(self):
        self.replay(req)
    test.__doc__ = "%s: %s %s" % (req["sdk"], req["command"], req["body"])
    return test


for _i, _req in enumerate(REQUESTS):
    _sdk = "doocs" if "doocs" in _req["sdk"] else "official"
    setattr(SdkBodies, "test_%02d_%s_%s" % (_i + 1, _sdk, _req["command"]), _make(_req))


if __name__ == "__main__":
    unittest.main()
