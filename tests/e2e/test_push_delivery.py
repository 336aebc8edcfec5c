"""Delivery of pushes to receivers (rest-api.md §4.1, client-protocol.md).

Sender, verbatim bodies, MsgLifeTime 0, offline catch-up in Seq order, redelivery of what
was not acknowledged, Ack semantics, several connections of one account, expiry, safe
retries by MsgRandom, the audience fixed at push time, import at first login.

The tests of a class share one imcastd; every test uses fresh accounts (and fresh tags),
so a push stored by one test never reaches another test's accounts (their audiences are
fixed at push time). "Nothing more arrives" is proven with a sentinel: a MsgLifeTime-0
push to every account; a receiver's next event must be that sentinel (events on one
connection come in Seq order, catch-up first). Every receiver connected at that moment
gets the sentinel, so quiet() is given all of them.
"""
import json
import time
import unittest

from imcast_harness import ADMIN, ServerTestCase, short, uid
from imcast_ws import PUSH, PushMixin, msg_random, push_body

ALL_TYPES = [
    {"MsgType": "TIMTextElem", "MsgContent": {"Text": "héllo \"quoted\" \\ back\nslash 😀 中文"}},
    {"MsgType": "TIMLocationElem", "MsgContent": {"Desc": "someplace", "Latitude": 22.5,
                                                  "Longitude": 113.25}},
    {"MsgType": "TIMFaceElem", "MsgContent": {"Index": 1, "Data": "content"}},
    {"MsgType": "TIMCustomElem", "MsgContent": {"Data": "{\"k\":[1,2,{\"x\":null}]}", "Desc": "d",
                                                "Ext": "e", "Sound": "dingdong.aiff"}},
    {"MsgType": "TIMSoundElem", "MsgContent": {"Url": "https://example.com/a.mp3", "UUID": "u-1",
                                               "Size": 10, "Second": 2, "Download_Flag": 2}},
    {"MsgType": "TIMImageElem", "MsgContent": {"UUID": "img", "ImageFormat": 1, "ImageInfoArray": [
        {"Type": 1, "Size": 1, "Width": 2, "Height": 3, "URL": "https://example.com/1.jpg"},
        {"Type": 2, "Size": 4, "Width": 5, "Height": 6, "URL": "https://example.com/2.jpg"}]}},
    {"MsgType": "TIMFileElem", "MsgContent": {"Url": "https://example.com/f", "UUID": "f",
                                              "FileSize": 9007199254740991, "FileName": "f.txt",
                                              "Download_Flag": 2}},
    {"MsgType": "TIMVideoFileElem", "MsgContent": {"VideoUrl": "https://example.com/v", "VideoUUID": "v",
                                                   "VideoSize": 1, "VideoSecond": 2, "VideoFormat": "mp4",
                                                   "VideoDownloadFlag": 2, "ThumbUrl": "https://example.com/t",
                                                   "ThumbUUID": "t", "ThumbSize": 3, "ThumbWidth": 4,
                                                   "ThumbHeight": 5, "ThumbFormat": "JPG",
                                                   "ThumbDownloadFlag": 2, "Empty": {}, "List": [],
                                                   "Flag": True, "Nothing": None, "Neg": -7}},
]

OFFLINE_PUSH_INFO = {"PushFlag": 0, "Title": "标题", "Desc": "离线推送内容", "Ext": "{\"a\":1}",
                     "AndroidInfo": {"Sound": "android.mp3", "OPPOChannelID": "ch"},
                     "ApnsInfo": {"Sound": "apns.mp3", "BadgeMode": 1, "Title": "t",
                                  "SubTitle": "s", "Image": "https://example.com/i.png"}}


def ordered(text):
    """A JSON text parsed with objects as lists of (key, value) pairs: equal only when
    the key order is the same too."""
    return json.loads(text, object_pairs_hook=list)


class DeliveryBase(PushMixin, ServerTestCase):

    def fresh(self, n=1, prefix="d", imported=True, tags=None):
        users = [uid(prefix) for _ in range(n)]
        if imported:
            self.import_accounts(*users)
        if tags:
            self.add_tags({u: list(tags) for u in users})
        return users

    def quiet(self, *clients):
        """Pushes a MsgLifeTime-0 sentinel to every account; each client's next event must
        be the sentinel (so nothing else was queued before it)."""
        tid = self.push("sentinel")
        for c in clients:
            ev = c.expect_event("Msg")
            if ev.get("TaskId") != tid:
                self.fail("%s: want nothing before the sentinel %s, got %s"
                          % (c.user, tid, short(c.last_text)))
        return tid

    def login_gets(self, user, task_ids, then_quiet=True):
        """Logs user in; the catch-up must be exactly task_ids in this order (then nothing).
        Returns (client, events)."""
        c = self.receiver(user)
        evs = [c.expect_msg(t) for t in task_ids]
        seqs = [e["Seq"] for e in evs]
        self.assertEqual(seqs, sorted(seqs), "catch-up not in Seq order")
        self.assertEqual(len(set(seqs)), len(seqs))
        if then_quiet:
            self.quiet(c)
        return c, evs


class Delivery(DeliveryBase):
    server_kwargs = {"admins": [ADMIN, "ops"]}

    # ---------------------------------------------------------------- hello / login
    def test_hello(self):
        (u,) = self.fresh()
        c = self.receiver(u)
        h = c.hello
        self.assertEqual(h["Event"], "Hello")
        self.assertEqual(h["UserID"], u)
        self.assertIsInstance(h["ServerTime"], int)
        self.assertLess(abs(h["ServerTime"] - time.time()), 5, short(h))
        self.assertEqual(h["PingSec"], 30, "default --ping-sec is 30")

    def test_login_imports_the_account(self):
        (u,) = self.fresh(imported=False)
        self.assertEqual(self.check_status(u), {u: "NotImported"})
        c = self.receiver(u)
        self.assertEqual(c.hello["UserID"], u)
        self.assertEqual(self.check_status(u), {u: "Imported"})
        # and it is an account like any other: it can be tagged and pushed to
        self.add_tags({u: ["auto_" + u]})
        tid = self.push("to the auto-imported", {"TagsAnd": ["auto_" + u]})
        self.assert_msg(c.expect_msg(tid), tid, text="to the auto-imported")

    def test_unicode_user_id(self):
        u = "用户_" + uid("x")
        self.import_accounts(u)
        c = self.receiver(u)
        self.assertEqual(c.hello["UserID"], u)
        tid = self.push("unicode", lifetime=0)
        c.expect_msg(tid)

    # ---------------------------------------------------------------- sender
    def test_sender_designated(self):
        sender, rcv = self.fresh(2, tags=None)
        tag = "t_" + rcv
        self.add_tags({rcv: [tag]})
        c = self.receiver(rcv)
        tid = self.push("from a user", {"TagsAnd": [tag]}, sender=sender)
        self.assert_msg(c.expect_msg(tid), tid, text="from a user", sender=sender)

    def test_sender_absent_is_the_calling_admin(self):
        (rcv,) = self.fresh()
        tag = "t_" + rcv
        self.add_tags({rcv: [tag]})
        c = self.receiver(rcv)
        tid = self.push("from the admin", {"TagsAnd": [tag]})
        self.assert_msg(c.expect_msg(tid), tid, sender=ADMIN)
        # another admin calling, without From_Account: that admin is the sender
        tid = self.push("from ops", {"TagsAnd": [tag]}, identifier="ops")
        self.assert_msg(c.expect_msg(tid), tid, sender="ops")
        # an admin as From_Account needs no import
        tid = self.push("as ops", {"TagsAnd": [tag]}, sender="ops")
        self.assert_msg(c.expect_msg(tid), tid, sender="ops")

    def test_unknown_sender_70107_delivers_nothing(self):
        (rcv,) = self.fresh()
        c = self.receiver(rcv)
        ghost = uid("ghost")
        self.push_fail(push_body("never", sender=ghost, lifetime=60), 70107)
        self.quiet(c)
        # and it was not stored either
        c.close()
        self.login_gets(rcv, [])

    # ---------------------------------------------------------------- bodies
    def test_body_and_offline_push_info_verbatim(self):
        (rcv,) = self.fresh()
        tag = "t_" + rcv
        self.add_tags({rcv: [tag]})
        c = self.receiver(rcv)
        r = msg_random()
        body = push_body(condition={"TagsAnd": [tag]}, random=r, offline=OFFLINE_PUSH_INFO, body=ALL_TYPES)
        raw = json.dumps(body, ensure_ascii=False)
        t0 = time.time()
        tid = self.ok(PUSH, "im_push", raw_body=raw)["TaskId"]
        ev = c.expect_msg(tid)
        self.assert_msg(ev, tid, random=r)
        self.assertEqual(ev["MsgBody"], ALL_TYPES)
        self.assertEqual(ev["OfflinePushInfo"], OFFLINE_PUSH_INFO)
        self.assertLessEqual(abs(ev["MsgTime"] - t0), 3, short(ev))
        # verbatim: key order kept too
        got = dict(ordered(c.last_text))
        self.assertEqual(got["MsgBody"], ordered(json.dumps(ALL_TYPES)))
        self.assertEqual(got["OfflinePushInfo"], ordered(json.dumps(OFFLINE_PUSH_INFO)))

    def test_no_offline_push_info_when_not_given(self):
        (rcv,) = self.fresh()
        c = self.receiver(rcv)
        tid = self.push("plain")
        ev = c.expect_msg(tid)
        self.assertNotIn("OfflinePushInfo", ev, short(ev))

    def test_msg_fields_and_increasing_seq(self):
        (rcv,) = self.fresh()
        c = self.receiver(rcv)
        seqs = []
        for i in range(5):
            r = msg_random()
            tid = self.push("n%d" % i, random=r)
            ev = c.expect_msg(tid)
            self.assert_msg(ev, tid, text="n%d" % i, random=r)
            seqs.append(ev["Seq"])
        self.assertEqual(seqs, sorted(seqs))
        self.assertEqual(len(set(seqs)), 5, seqs)

    def test_same_bytes_live_and_catch_up(self):
        live, late = self.fresh(2)
        tag = "t_" + live
        self.add_tags({live: [tag], late: [tag]})
        a = self.receiver(live)
        tid = self.push("shared frame", {"TagsAnd": [tag]}, lifetime=60, offline={"Title": "x"})
        a.expect_msg(tid)
        b = self.receiver(late)
        b.expect_msg(tid)
        self.assertEqual(a.last_text, b.last_text, "a push's frame is the same bytes for every receiver")

    # ---------------------------------------------------------------- lifetime 0
    def test_lifetime_zero_reaches_only_connected(self):
        on, off = self.fresh(2)
        c = self.receiver(on)
        tid = self.push("now or never", lifetime=0)
        c.expect_msg(tid)
        self.login_gets(off, [])
        # nor the connected one at its next login, acknowledged or not
        c.close()
        self.login_gets(on, [])

    # ---------------------------------------------------------------- offline catch-up
    def test_catch_up_in_seq_order_then_live(self):
        (u,) = self.fresh()
        tag = "t_" + u
        self.add_tags({u: [tag]})
        tids = [self.push("offline %d" % i, {"TagsAnd": [tag]}, lifetime=600) for i in range(4)]
        c = self.receiver(u)
        evs = [c.expect_msg(t) for t in tids]
        for i, (t, e) in enumerate(zip(tids, evs)):
            self.assert_msg(e, t, text="offline %d" % i)
        seqs = [e["Seq"] for e in evs]
        self.assertEqual(seqs, sorted(set(seqs)))
        live = self.push("live", {"TagsAnd": [tag]}, lifetime=600)
        ev = c.expect_msg(live)
        self.assertGreater(ev["Seq"], seqs[-1])

    def test_unacked_live_push_redelivered_at_next_login(self):
        (u,) = self.fresh()
        c = self.receiver(u)
        tid = self.push("please ack", lifetime=600)
        first = c.expect_msg(tid)
        c.close()                                   # no Ack
        c2, evs = self.login_gets(u, [tid], then_quiet=False)
        self.assertEqual((evs[0]["Seq"], evs[0]["TaskId"]), (first["Seq"], first["TaskId"]))
        self.assertEqual(evs[0]["MsgBody"], first["MsgBody"])
        c2.ack(evs[0]["Seq"])
        c2.close()
        self.login_gets(u, [])

    def test_unacked_redelivered_in_seq_order_then_live(self):
        (u,) = self.fresh()
        c = self.receiver(u)
        tids = [self.push("p%d" % i, lifetime=600) for i in range(3)]
        for t in tids:
            c.expect_msg(t)
        c.abort()                                  # vanished, no close handshake
        c2 = self.receiver(u)
        for t in tids:
            c2.expect_msg(t)
        live = self.push("after", lifetime=600)
        c2.expect_msg(live)

    def test_no_redelivery_after_ack(self):
        (u,) = self.fresh()
        c = self.receiver(u)
        tid = self.push("ack me", lifetime=600)
        c.ack(c.expect_msg(tid)["Seq"])
        c.close()          # the close handshake: the Ack before it has been read
        self.login_gets(u, [])

    def test_ack_covers_every_lower_seq(self):
        (u,) = self.fresh()
        tag = "t_" + u
        self.add_tags({u: [tag]})
        tids = [self.push("a%d" % i, {"TagsAnd": [tag]}, lifetime=600) for i in range(3)]
        c = self.receiver(u)
        evs = [c.expect_msg(t) for t in tids]
        c.ack(evs[1]["Seq"])                        # covers the first two
        c.close()
        self.login_gets(u, [tids[2]])

    def test_ack_counts_only_what_was_delivered_on_the_connection(self):
        (u,) = self.fresh()
        c = self.receiver(u)
        p1 = self.push("one", lifetime=600)
        s1 = c.expect_msg(p1)["Seq"]
        c.ack(s1 + 1000)           # a Seq never sent: acknowledges what was delivered, i.e. p1
        p2 = self.push("two", lifetime=600)
        c.expect_msg(p2)
        c.close()                  # p2 came after the Ack: not acknowledged
        self.login_gets(u, [p2])

    def test_ack_of_a_seq_never_sent_is_harmless(self):
        (u,) = self.fresh()
        c = self.receiver(u)
        c.ack(0)
        c.ack(2 ** 53)
        tid = self.push("still here", lifetime=600)
        c.expect_msg(tid)
        c.close()
        self.login_gets(u, [tid])

    # ---------------------------------------------------------------- several connections
    def test_several_connections_all_receive_one_ack_suffices(self):
        (u,) = self.fresh()
        conns = [self.receiver(u) for _ in range(3)]
        tid = self.push("to every tab", lifetime=600)
        evs = [c.expect_msg(tid) for c in conns]
        self.assertEqual(len({c.last_text for c in conns}), 1)
        conns[1].ack(evs[1]["Seq"])
        conns[1].close()
        conns[0].close()
        conns[2].close()
        self.login_gets(u, [])

    def test_several_logins_each_get_the_catch_up(self):
        (u,) = self.fresh()
        tid = self.push("pending", lifetime=600)
        a = self.receiver(u)
        a.expect_msg(tid)
        b = self.receiver(u)            # not acknowledged yet: b gets it at its login too
        b.expect_msg(tid)
        live = self.push("live to both", lifetime=600)
        a.expect_msg(live)
        b.expect_msg(live)
        self.quiet(a, b)

    # ---------------------------------------------------------------- expiry
    def test_expiry(self):
        on, off = self.fresh(2)
        c = self.receiver(on)
        rnd = msg_random()
        tid = self.push("short-lived", lifetime=2, random=rnd)
        t0 = time.monotonic()
        c.expect_msg(tid)
        c.close()                                   # no Ack
        rep = self.report(tid)
        self.assertEqual(rep["ExpiresAt"] - rep["CreatedAt"], 2, short(rep))
        time.sleep(max(0.0, 3.2 - (time.monotonic() - t0)))
        self.login_gets(off, [])
        self.login_gets(on, [])
        r = self.call(PUSH, "im_get_push_report", {"TaskId": tid})
        if r["ErrorCode"] == 0:
            self.assertEqual(r["State"], "Expired", short(r))
            self.assertEqual(r["Pending"], 0, short(r))
        else:
            self.assertEqual(r["ErrorCode"], 90049, short(r))
        # an expired TaskId cannot be revoked (rest-api.md §4.7: unknown or expired → 90049)
        self.fail_call(PUSH, "im_revoke", {"TaskId": tid}, code=90049)
        # a retry within 7 days is still a retry, even after the push expired: nothing again
        c = self.receiver(on)
        self.assertEqual(self.push("short-lived", lifetime=2, random=rnd), tid)
        self.quiet(c)

    # ---------------------------------------------------------------- safe retry
    def test_msgrandom_retry_same_task_nothing_new(self):
        on, off = self.fresh(2)
        c = self.receiver(on)
        r = msg_random()
        body = push_body("once", lifetime=600, random=r)
        t1 = self.ok(PUSH, "im_push", body)["TaskId"]
        c.expect_msg(t1)
        t2 = self.ok(PUSH, "im_push", body)["TaskId"]
        self.assertEqual(t1, t2, "a repeated MsgRandom from the same sender is a safe retry")
        self.quiet(c)
        self.login_gets(off, [t1])

    def test_msgrandom_retry_of_a_lifetime_zero_push(self):
        (on,) = self.fresh()
        c = self.receiver(on)
        body = push_body("ephemeral once", lifetime=0)
        t1 = self.ok(PUSH, "im_push", body)["TaskId"]
        c.expect_msg(t1)
        self.assertEqual(self.ok(PUSH, "im_push", body)["TaskId"], t1)
        self.quiet(c)

    def test_same_msgrandom_other_sender_is_a_new_push(self):
        sender, rcv = self.fresh(2)
        c = self.receiver(rcv)
        r = msg_random()
        t1 = self.ok(PUSH, "im_push", push_body("a", random=r))["TaskId"]
        c.expect_msg(t1)
        t2 = self.ok(PUSH, "im_push", push_body("b", random=r, sender=sender))["TaskId"]
        self.assertNotEqual(t1, t2)
        c.expect_msg(t2)

    def test_task_ids_unique(self):
        ids = {self.push("u%d" % i) for i in range(20)}
        self.assertEqual(len(ids), 20)

    # ---------------------------------------------------------------- audience fixed
    def test_audience_fixed_at_push_time(self):
        had, late_tag, late_import = self.fresh(2) + [uid("late")]
        tag = "fix_" + had
        self.add_tags({had: [tag]})
        tid = self.push("fixed", {"TagsAnd": [tag]}, lifetime=600)
        all_tid = self.push("fixed all", lifetime=600)
        # after the push: late_tag gets the tag, late_import is imported and tagged, `had`
        # loses the tag
        self.import_accounts(late_import)
        self.add_tags({late_tag: [tag], late_import: [tag]})
        self.ok(PUSH, "im_remove_tag", {"UserTags": [{"To_Account": had, "Tags": [tag]}]})
        self.login_gets(had, [tid, all_tid])
        self.login_gets(late_tag, [all_tid])
        self.login_gets(late_import, [])
        self.login_gets(uid("never_imported"), [])


if __name__ == "__main__":
    unittest.main()
