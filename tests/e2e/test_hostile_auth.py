"""Hostile authentication: UserSigs an attacker (or a buggy backend) presents, on the REST
API and on the receiver endpoint, and the verified-sig cache that must never let a wrong
one through. test_auth.py covers each error code once; this file is about abuse and the
cache.

Decisions documented here:
  - Future-dated sigs: Tencent checks only the expiry (now > TLS.time + TLS.expire), so a
    sig whose TLS.time lies years ahead is ACCEPTED when its HMAC is right — only the
    key's holder can make one. Tested as accepted (REST and WS).
  - A sig that never expires in practice (TLS.expire = 2^63-1, so time + expire passes
    INT64_MAX) is accepted on every use, cached or not.
  - A negative TLS.time: refused once time + expire has passed (70001), or as malformed
    (70003); never accepted.
  - The cache is shared by REST and logins: a hit must match the sig, the URL's
    identifier and sdkappid, and still be unexpired; a user's sig cached by a login opens
    no REST call.
  - Non-admins: 90009 on all_member_push/*, 60010 elsewhere, for every route, and the call
    changes nothing.
"""
import json
import time
import unittest


from imcast_harness import (ADMIN, KEY, SDKAPPID, VECTORS, ServerTestCase, expect_fail,
                            short, uid, usersig)
from imcast_ws import LOGIN, PUSH, PushMixin, WSClient, WSRefused, ws_target

V = {v["name"]: v for v in VECTORS["vectors"]}
OPS = "ops_admin"
ALL_ROUTES = [(LOGIN, "account_import", {"UserID": "ha_made"}),
              (LOGIN, "multiaccount_import", {"Accounts": ["ha_made"]}),
              (LOGIN, "account_delete", {"DeleteItem": [{"UserID": "ha_keep"}]}),
              (LOGIN, "account_check", {"CheckItem": [{"UserID": "ha_keep"}]}),
              (LOGIN, "kick", {"UserID": "ha_keep"}),
              ("openim", "query_online_status", {"To_Account": ["ha_keep"]}),
              ("openim", "querystate", {"To_Account": ["ha_keep"]}),
              (PUSH, "im_set_attr_name", {"AttrNames": {"5": "ha_name"}}),
              (PUSH, "im_get_attr_name", {}),
              (PUSH, "im_get_attr", {"To_Account": ["ha_keep"]}),
              (PUSH, "im_set_attr", {"UserAttrs": [{"To_Account": "ha_keep", "Attrs": {"sex": "X"}}]}),
              (PUSH, "im_remove_attr", {"UserAttrs": [{"To_Account": "ha_keep", "Attrs": ["sex"]}]}),
              (PUSH, "im_get_tag", {"To_Account": ["ha_keep"]}),
              (PUSH, "im_add_tag", {"UserTags": [{"To_Account": "ha_keep", "Tags": ["evil"]}]}),
              (PUSH, "im_remove_tag", {"UserTags": [{"To_Account": "ha_keep", "Tags": ["t"]}]}),
              (PUSH, "im_remove_all_tags", {"To_Account": ["ha_keep"]}),
              (PUSH, "im_push", {"MsgRandom": 77, "MsgLifeTime": 60,
                                 "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "evil"}}]}),
              (PUSH, "im_get_push_report", {"TaskId": "x"}),
              (PUSH, "im_revoke", {"TaskId": "x"}),
              (PUSH, "im_get_audience", {})]


class HostileAuth(PushMixin, ServerTestCase):
    server_kwargs = {"admins": [ADMIN, OPS]}

    # ------------------------------------------------------------------ helpers
    def rest(self, sig, identifier=ADMIN, service=PUSH, command="im_get_attr_name", body=None,
             **kw):
        return self.srv.client.call(service, command, {} if body is None else body,
                                    identifier=identifier, sig=sig, allow_internal=True, **kw)

    def rest_ok(self, sig, identifier=ADMIN, what=""):
        doc = self.rest(sig, identifier)
        self.assertEqual(doc["ErrorCode"], 0, "%s: %s" % (what, short(doc)))

    def rest_fail(self, sig, codes, identifier=ADMIN, what=""):
        doc = self.rest(sig, identifier)
        expect_fail(doc, codes, (), what)

    def login(self, user, sig, target=None):
        c = WSClient(self.srv.port, user, sig=sig, server=self.srv,
                     target=target or ws_target(SDKAPPID, user, sig))
        c.connect()
        self.addCleanup(c.abort)
        return c

    def login_refused(self, user, sig, codes, target=None):
        c = WSClient(self.srv.port, user, sig=sig, server=self.srv,
                     target=target or ws_target(SDKAPPID, user, sig))
        with self.assertRaises(WSRefused, msg="login of %s was accepted" % user) as cm:
            c.connect()
        e = cm.exception
        self.assertIn(e.status, (400, 401, 403, 431), short(e.body))
        if e.status != 431:
            codes = (codes,) if isinstance(codes, int) else codes
            self.assertIn((e.json or {}).get("ErrorCode"), codes, short(e.body))
        return e

    # ------------------------------------------------------------------ time
    def test_future_dated_sig_is_accepted(self):
        future = int(time.time()) + 10 * 365 * 86400
        sig = usersig(KEY, SDKAPPID, ADMIN, expire=86400, now=future)
        for _ in range(3):                       # verified, then from the cache
            self.rest_ok(sig, what="a sig dated 10 years ahead")
        u = uid_for(self, "fut")
        c = self.login(u, usersig(KEY, SDKAPPID, u, expire=60, now=future))
        self.assertEqual(c.hello["UserID"], u)
        # ... but its HMAC still counts
        self.rest_fail(usersig("f" * 64, SDKAPPID, ADMIN, expire=86400, now=future), 70009)

    def test_never_expiring_sig_works_every_time(self):
        # time + expire passes INT64_MAX: it must not wrap into the past (regression: the
        # cache computed the sum with signed overflow — OK once, then 70001)
        for expire in (2 ** 63 - 1, 2 ** 63 - 1 - int(time.time()) + 5, 10 ** 18):
            with self.subTest(expire=expire):
                sig = usersig(KEY, SDKAPPID, ADMIN, expire=expire, now=int(time.time()))
                for i in range(3):
                    self.rest_ok(sig, what="expire %d, use %d" % (expire, i))
        u = uid_for(self, "never")
        sig = usersig(KEY, SDKAPPID, u, expire=2 ** 63 - 1, now=int(time.time()))
        for _ in range(2):
            self.login(u, sig).close()

    def test_negative_time_is_never_accepted(self):
        for t, expire in ((-1000, 10), (-(2 ** 62), 2 ** 62 - 5), (-(2 ** 63), 0)):
            with self.subTest(time=t):
                sig = usersig(KEY, SDKAPPID, ADMIN, expire=expire, now=t)
                self.rest_fail(sig, (70001, 70003))

    def test_expired_refused_everywhere(self):
        u = uid_for(self, "exp")
        past = int(time.time()) - 3600
        self.rest_fail(usersig(KEY, SDKAPPID, ADMIN, expire=60, now=past), 70001)
        self.login_refused(u, usersig(KEY, SDKAPPID, u, expire=60, now=past), 70001)
        self.rest_fail(usersig(KEY, SDKAPPID, ADMIN, expire=0, now=int(time.time()) - 2), 70001)

    # ------------------------------------------------------------------ the cache
    def test_cache_never_lends_a_sig_to_another_identifier(self):
        admin_sig = usersig(KEY, SDKAPPID, ADMIN)
        self.rest_ok(admin_sig)                              # cached for ADMIN
        self.rest_fail(admin_sig, 70013, identifier=OPS, what="ADMIN's sig for OPS (both admins)")
        self.rest_fail(admin_sig, 70013, identifier=ADMIN.upper(), what="case differs")
        self.rest_fail(admin_sig, 70013, identifier=ADMIN + " ", what="trailing space")
        doc = self.rest(admin_sig, sdkappid=SDKAPPID + 1)
        expect_fail(doc, (70014, 70020), (), "ADMIN's sig for another app")
        self.rest_ok(admin_sig)                              # and still fine for ADMIN
        # logins share the cache
        a, b = uid_for(self, "ca"), uid_for(self, "cb")
        asig = usersig(KEY, SDKAPPID, a)
        self.login(a, asig)                                  # cached for a
        self.login_refused(b, asig, 70013)
        self.login_refused(a, admin_sig, 70013)              # admin's cached sig for a user
        doc = self.rest(asig, identifier=a)                  # a user's cached sig on REST
        expect_fail(doc, 90009, (), "a receiver's sig on REST")
        self.login_refused(ADMIN, asig, 70013)

    def test_sig_that_expires_while_cached(self):
        t0 = int(time.time())
        sig = usersig(KEY, SDKAPPID, ADMIN, expire=2, now=t0)
        u = uid_for(self, "short")
        usig = usersig(KEY, SDKAPPID, u, expire=2, now=t0)
        self.rest_ok(sig)
        self.rest_ok(sig)
        self.login(u, usig).close()
        time.sleep(max(0.0, t0 + 3.2 - time.time()))         # now > t0 + 2
        self.rest_fail(sig, 70001, what="a cached sig after its expiry")
        self.login_refused(u, usig, 70001)

    def test_failed_verifications_are_not_cached(self):
        sig = usersig(KEY, SDKAPPID, ADMIN)
        self.rest_fail(sig, 70013, identifier="bob")         # first seen with the wrong id
        self.rest_ok(sig)                                    # the right one still works
        self.rest_fail(sig, 70013, identifier="bob")

    def test_cache_thrash_keeps_answers_right(self):
        # more distinct valid sigs than the cache has slots, interleaved with wrong uses
        base = int(time.time())
        sigs = [usersig(KEY, SDKAPPID, ADMIN if i % 2 else OPS, now=base - i) for i in range(5000)]
        cl = self.srv.new_client()
        self.addCleanup(cl.close)
        bad = []
        for i, s in enumerate(sigs):
            ident = ADMIN if i % 2 else OPS
            doc = cl.call(PUSH, "im_get_attr_name", {}, identifier=ident, sig=s, allow_internal=True)
            if doc["ErrorCode"] != 0:
                bad.append((i, doc["ErrorCode"]))
            if i % 50 == 0:
                other = OPS if ident == ADMIN else ADMIN
                doc = cl.call(PUSH, "im_get_attr_name", {}, identifier=other, sig=s, allow_internal=True)
                if doc["ErrorCode"] != 70013:
                    bad.append((i, "swapped", doc["ErrorCode"]))
        self.assertEqual(bad[:10], [], "%d wrong answers" % len(bad))

    # ------------------------------------------------------------------ forged and broken
    def test_forged_and_broken_sigs(self):
        good = usersig(KEY, SDKAPPID, ADMIN)
        cases = [
            ("another app's sig", usersig(KEY, SDKAPPID + 1, ADMIN), (70014,)),
            ("another identifier's sig", usersig(KEY, SDKAPPID, "someone"), (70013,)),
            ("a key one char shorter", usersig(KEY[:-1], SDKAPPID, ADMIN), (70009,)),
            ("a key with a char more", usersig(KEY + "0", SDKAPPID, ADMIN), (70009,)),
            ("identifier forged after signing", usersig(KEY, SDKAPPID, "bob", override={"TLS.identifier": ADMIN}), (70009,)),
            ("sdkappid forged", usersig(KEY, SDKAPPID + 1, ADMIN, override={"TLS.sdkappid": SDKAPPID}), (70009,)),
            ("time forged later", usersig(KEY, SDKAPPID, ADMIN, now=int(time.time()) - 100000,
                                          override={"TLS.time": int(time.time())}), (70009, 70001)),
            ("userbuf added after signing", usersig(KEY, SDKAPPID, ADMIN, override={"TLS.userbuf": "eA=="}), (70009,)),
            ("userbuf changed", usersig(KEY, SDKAPPID, ADMIN, userbuf="YQ==", override={"TLS.userbuf": "Yg=="}), (70009,)),
            ("TLS.sig empty", usersig(KEY, SDKAPPID, ADMIN, sig=""), (70009, 70003)),
            ("TLS.sig 10 KB", usersig(KEY, SDKAPPID, ADMIN, sig="A" * 10000), (70003, 70009)),
            ("TLS.ver 1.0", usersig(KEY, SDKAPPID, ADMIN, override={"TLS.ver": "1.0"}), (70003,)),
            ("identifier of 64 bytes", usersig(KEY, SDKAPPID, "a" * 64), (70003, 70013)),
            ("good sig with a byte cut", good[:-3], (70003,)),
            ("good sig twice", good + good, (70003,)),
            ("good sig with '%' in it", good[:10] + "%" + good[10:], (70003,)),
            ("the small inflate bomb", V["inflate-bomb-small"]["usersig"], (70003,)),
            ("8 KB of 'A'", "A" * 8190, (70003,)),
        ]
        for name, sig, codes in cases:
            with self.subTest(case=name):
                t0 = time.monotonic()
                self.rest_fail(sig, codes, what=name)
                self.assertLess(time.monotonic() - t0, 2.0, name)
        u = uid_for(self, "forged")
        for name, sig, codes in (("another key", usersig("0" * 64, SDKAPPID, u), (70009,)),
                                 ("forged identifier", usersig(KEY, SDKAPPID, "x", override={"TLS.identifier": u}), (70009,)),
                                 ("the small inflate bomb", V["inflate-bomb-small"]["usersig"], (70003,))):
            with self.subTest(login=name):
                self.login_refused(u, sig, codes)
        self.assertEqual(self.check_status(u), {u: "NotImported"})

    def test_inflate_bomb_in_the_url(self):
        bomb = V["inflate-bomb"]["usersig"]
        t0 = time.monotonic()
        st, hdrs, body = self.srv.new_client().request(
            "POST", "/v4/%s/im_get_attr_name?sdkappid=%d&identifier=%s&usersig=%s" % (PUSH, SDKAPPID, ADMIN, bomb),
            b"{}")
        self.assertIn(st, (200, 431), short(body))
        if st == 200:
            self.assertEqual(json.loads(body)["ErrorCode"], 70003, short(body))
        u = uid_for(self, "bomb")
        self.login_refused(u, bomb, (70003,))
        self.assertLess(time.monotonic() - t0, 3.0)
        self.ok(PUSH, "im_get_attr_name", {})

    def test_percent_00_in_the_identifier(self):
        # regression: "%00" decoded to a NUL cut the identifier and shifted the parameters
        admin_sig = usersig(KEY, SDKAPPID, ADMIN)
        for ident in (ADMIN + "%00", ADMIN + "%00x", "bob%00" + ADMIN):
            with self.subTest(identifier=ident):
                tgt = ("/v4/%s/im_get_attr_name?sdkappid=%d&identifier=%s&usersig=%s"
                       % (PUSH, SDKAPPID, ident, admin_sig))
                doc = self.srv.client.call(None, None, raw_body=b"{}", target=tgt, allow_internal=True)
                expect_fail(doc, 70013, (), ident)
        tgt = ("/v4/%s/im_get_attr_name?sdkappid=%d&identifier=%s%%00usersig%%00%s&usersig=garbage"
               % (PUSH, SDKAPPID, ADMIN, admin_sig))
        doc = self.srv.client.call(None, None, raw_body=b"{}", target=tgt, allow_internal=True)
        self.assertNotEqual(doc["ErrorCode"], 0, "a usersig smuggled inside the identifier was used: %s" % short(doc))

    # ------------------------------------------------------------------ non-admins
    def test_non_admin_on_every_route_changes_nothing(self):
        self.import_accounts("ha_keep")
        self.add_tags({"ha_keep": ["t"]})
        self.ok(PUSH, "im_set_attr_name", {"AttrNames": {"0": "sex"}})
        self.set_attrs({"ha_keep": {"sex": "F"}})
        c = self.receiver("ha_keep")

        def state():
            return (self.check_status("ha_keep", "ha_made"), self.get_tags("ha_keep"),
                    self.get_attrs("ha_keep"), self.get_attr_names(),
                    self.audience())
        before = state()
        for who in ("bob", "ha_keep"):                 # a stranger, and an account that exists
            sig = usersig(KEY, SDKAPPID, who)
            for service, command, body in ALL_ROUTES:
                with self.subTest(who=who, command=command):
                    doc = self.srv.client.call(service, command, body, identifier=who, sig=sig,
                                               allow_internal=True)
                    expect_fail(doc, 90009 if service == PUSH else 60010, (), "%s as %s" % (command, who))
        self.assertEqual(state(), before)
        c.no_event(0.3)                                 # no kick, no push


def uid_for(tc, prefix):
    return uid("ha" + prefix)


if __name__ == "__main__":
    unittest.main()
