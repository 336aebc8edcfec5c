"""Receiver sessions (client-protocol.md, rest-api.md §3 and §4.7).

Online status with details, kick and account_delete (Kicked, close 4001), revoke, the
push report's figures, refused upgrades (401/403 with the 70xxx envelope), hostile frames
(each closes only its own connection, with the documented code), the per-receiver output
cap, PingSec and the silence timeout, wss://, and SIGTERM (close 1001).
"""
import json
import os
import socket
import time
import unittest

from imcast_harness import KEY, SDKAPPID, FreshServerTestCase, ServerTestCase, short, \
    uid, usersig
from imcast_ws import (LOGIN, OP_BINARY, OP_CONT, OP_PING, OP_TEXT, PushMixin, WSClient,
                       WSError, WSRefused, connect, ws_target)


class SessionBase(PushMixin, ServerTestCase):

    def fresh(self, n=1, prefix="s", tags=None):
        users = [uid(prefix) for _ in range(n)]
        self.import_accounts(*users)
        if tags:
            self.add_tags({u: list(tags) for u in users})
        return users

    def quiet(self, *clients):
        """A MsgLifeTime-0 push to all; each client's next event must be it."""
        tid = self.push("sentinel")
        for c in clients:
            ev = c.expect_event("Msg")
            self.assertEqual(ev.get("TaskId"), tid, "%s: want nothing before the sentinel, got %s"
                             % (c.user, short(c.last_text)))
        return tid


class Sessions(SessionBase):

    # ---------------------------------------------------------------- online status
    def test_online_status_with_detail(self):
        on, off = self.fresh(2)
        ghost = uid("ghost")
        a = self.receiver(on)
        b = self.receiver(on)
        for command in ("query_online_status", "querystate"):
            with self.subTest(command=command):
                q, r = self.online_status(on, off, ghost, command=command)
                self.assertEqual(q[on]["Status"], "Online", short(r))
                self.assertEqual(q[off]["Status"], "Offline", short(r))
                self.assertNotIn(ghost, q, short(r))
                self.assertEqual([(e["To_Account"], e["ErrorCode"]) for e in r.get("ErrorList", [])],
                                 [(ghost, 70107)], short(r))
                q, r = self.online_status(on, off, detail=True, command=command)
                self.assertEqual(q[on].get("Detail"), [{"Platform": "Web", "Status": "Online"}] * 2,
                                 "one Detail per connection: %s" % short(r))
                self.assertIn(q[off].get("Detail", []), ([], None), short(r))
        a.close()
        deadline = time.monotonic() + 5
        while True:
            q, r = self.online_status(on, detail=True)
            if len(q[on].get("Detail") or []) == 1:
                break
            self.assertLess(time.monotonic(), deadline, "Detail never went to one connection: %s" % short(r))
            time.sleep(0.05)
        self.assertEqual(q[on]["Status"], "Online")
        b.abort()                       # vanished without a close handshake
        self.wait_status(on, "Offline")

    # ---------------------------------------------------------------- kick
    def test_kick(self):
        (u,) = self.fresh()
        other = self.fresh()[0]
        conns = [self.receiver(u), self.receiver(u)]
        bystander = self.receiver(other)
        self.ok(LOGIN, "kick", {"UserID": u})
        for c in conns:
            ev = c.expect_event("Kicked")
            self.assertIsInstance(ev.get("Reason"), str, short(ev))
            self.assertTrue(ev["Reason"], short(ev))
            c.expect_close(4001)
        self.wait_status(u, "Offline")
        self.quiet(bystander)
        # a kicked account may log in again
        again = self.receiver(u)
        self.quiet(bystander, again)

    def test_kick_not_imported(self):
        self.fail_call(LOGIN, "kick", {"UserID": uid("ghost")}, code=70107)

    def test_kick_keeps_unacked_pushes_pending(self):
        (u,) = self.fresh()
        c = self.receiver(u)
        tid = self.push("before the kick", lifetime=600)
        c.expect_msg(tid)
        self.ok(LOGIN, "kick", {"UserID": u})
        c.expect_event("Kicked")
        c.expect_close(4001)
        c2 = self.receiver(u)
        c2.expect_msg(tid)

    # ---------------------------------------------------------------- account_delete
    def test_account_delete_closes_connections_and_drops_pending(self):
        u, keep = self.fresh(2)
        conns = [self.receiver(u), self.receiver(u)]
        tid = self.push("stored for both", lifetime=600)
        for c in conns:
            c.expect_msg(tid)
        r = self.ok(LOGIN, "account_delete", {"DeleteItem": [{"UserID": u}]})
        self.assertEqual([(i["UserID"], i["ResultCode"]) for i in r["ResultItem"]], [(u, 0)], short(r))
        for c in conns:
            c.expect_event("Kicked")
            c.expect_close(4001)
        self.assertEqual(self.check_status(u), {u: "NotImported"})
        # deleted: removed from the pending audience; logging in again imports a new account
        again = self.receiver(u)
        self.quiet(again)
        k = self.receiver(keep)
        k.expect_msg(tid)

    def test_account_delete_shrinks_the_report(self):
        a, b, c_ = self.fresh(3)
        tag = "del_" + a
        self.add_tags({x: [tag] for x in (a, b, c_)})
        tid = self.push("three", {"TagsAnd": [tag]}, lifetime=600)
        ca = self.receiver(a)
        ca.ack(ca.expect_msg(tid)["Seq"])
        self.wait_report(tid, lambda r: r["Delivered"] == 1, what="Delivered 1")
        # deleting an account takes it out of the pending audience (and its ack with it)
        self.ok(LOGIN, "account_delete", {"DeleteItem": [{"UserID": b}]})
        rep = self.report(tid)
        self.assertEqual((rep["Audience"], rep["Delivered"], rep["Pending"]), (2, 1, 1), short(rep))
        self.ok(LOGIN, "account_delete", {"DeleteItem": [{"UserID": a}]})
        ca.expect_event("Kicked")
        rep = self.report(tid)
        self.assertEqual((rep["Audience"], rep["Delivered"], rep["Pending"]), (1, 0, 1), short(rep))

    # ---------------------------------------------------------------- revoke
    def test_revoke(self):
        a, b, outsider, off = self.fresh(4)
        tag = "rv_" + a
        self.add_tags({x: [tag] for x in (a, b, off)})
        ca, cb, co = self.receiver(a), self.receiver(b), self.receiver(outsider)
        tid = self.push("regret", {"TagsAnd": [tag]}, lifetime=600)
        seq = ca.expect_msg(tid)["Seq"]
        cb.expect_msg(tid)
        self.revoke(tid)
        for c in (ca, cb):
            ev = c.expect_event("Revoke")
            self.assertEqual((ev.get("Seq"), ev.get("TaskId")), (seq, tid), short(ev))
        self.quiet(ca, cb, co)              # the outsider got no Revoke
        rep = self.report(tid)
        self.assertEqual(rep["State"], "Revoked", short(rep))
        # never delivered again: not to the offline member, not to the unacknowledged ones
        for c in (ca, cb, co):
            c.close()
        for x in (off, a, b):
            c = self.receiver(x)
            self.quiet(c)
            c.close()

    def test_revoke_before_login(self):
        (u,) = self.fresh()
        tid = self.push("revoked before anyone saw it", lifetime=600)
        self.revoke(tid)
        c = self.receiver(u)
        self.quiet(c)

    # ---------------------------------------------------------------- report
    def test_report_figures(self):
        a, b, c_, d = self.fresh(4)
        tag = "rep_" + a
        self.add_tags({x: [tag] for x in (a, b, c_, d)})
        ca, cb = self.receiver(a), self.receiver(b)
        ca2 = self.receiver(a)                 # a second connection of a: still one account
        self.assertEqual(self.audience({"TagsAnd": [tag]}), (4, 2))
        t0 = int(time.time())
        tid = self.push("count me", {"TagsAnd": [tag]}, lifetime=600)
        ea = ca.expect_msg(tid)
        ca2.expect_msg(tid)
        eb = cb.expect_msg(tid)
        rep = self.wait_report(tid, lambda r: r.get("State") == "Done", what="State Done")
        for k in ("Audience", "OnlineAtPush", "Delivered", "Pending", "CreatedAt", "ExpiresAt",
                  "FanoutDoneAt"):
            self.assertIsInstance(rep.get(k), int, "%s: %s" % (k, short(rep)))
        self.assertEqual((rep["Audience"], rep["OnlineAtPush"], rep["Delivered"], rep["Pending"]),
                         (4, 2, 0, 4), short(rep))
        self.assertLessEqual(abs(rep["CreatedAt"] - t0), 2, short(rep))
        self.assertEqual(rep["ExpiresAt"], rep["CreatedAt"] + 600, short(rep))
        self.assertGreaterEqual(rep["FanoutDoneAt"], rep["CreatedAt"], short(rep))
        self.assertLessEqual(rep["FanoutDoneAt"], int(time.time()) + 1, short(rep))
        ca.ack(ea["Seq"])
        ca2.ack(ea["Seq"])                     # the same account twice: counted once
        self.wait_report(tid, lambda r: r["Delivered"] == 1 and r["Pending"] == 3, what="Delivered 1")
        cc = self.receiver(c_)                 # catch-up, then Ack
        cc.ack(cc.expect_msg(tid)["Seq"])
        rep = self.wait_report(tid, lambda r: r["Delivered"] == 2, what="Delivered 2")
        self.assertEqual((rep["Audience"], rep["Pending"], rep["OnlineAtPush"]), (4, 2, 2), short(rep))
        # b received it but did not acknowledge: not delivered
        self.assertEqual(eb["TaskId"], tid)
        time.sleep(0.3)
        rep = self.report(tid)
        self.assertEqual((rep["Delivered"], rep["Pending"], rep["State"]), (2, 2, "Done"), short(rep))

    def test_report_of_an_empty_audience(self):
        tid = self.push("nobody", {"TagsAnd": ["no-one-has-" + uid("t")]}, lifetime=60)
        rep = self.wait_report(tid, lambda r: r.get("State") == "Done", what="State Done")
        self.assertEqual((rep["Audience"], rep["OnlineAtPush"], rep["Delivered"], rep["Pending"]),
                         (0, 0, 0, 0), short(rep))

    # ---------------------------------------------------------------- refused upgrades
    def refused(self, identifier, sig, codes, sdkappid=SDKAPPID, extra=None):
        c = WSClient(self.srv.port, identifier, sig=sig, target=ws_target(sdkappid, identifier, sig, extra=extra),
                     server=self.srv)
        with self.assertRaises(WSRefused) as cm:
            c.connect()
        e = cm.exception
        self.assertIn(e.status, (401, 403), "upgrade refused with HTTP %d: %s" % (e.status, short(e.body)))
        self.assertIsInstance(e.json, dict, "refusal body is not a JSON envelope: %s" % short(e.body))
        self.assertEqual(e.json.get("ActionStatus"), "FAIL", short(e.body))
        codes = (codes,) if isinstance(codes, int) else codes
        self.assertIn(e.json.get("ErrorCode"), codes, short(e.body))
        self.assertTrue(e.json.get("ErrorInfo"), short(e.body))
        return e

    def test_bad_usersig_refused_before_upgrade(self):
        (u,) = self.fresh()
        other = self.fresh()[0]
        now = int(time.time())
        cases = [
            ("empty", "", 70002),
            ("garbage", "not*a*sig", 70003),
            ("other key", usersig("0" * 64, SDKAPPID, u), 70009),
            ("tampered", usersig(KEY, SDKAPPID, u, sig="A" * 44), 70009),
            ("expired", usersig(KEY, SDKAPPID, u, expire=10, now=now - 100), 70001),
            ("another user's sig", usersig(KEY, SDKAPPID, other), 70013),
            ("sig of another app", usersig(KEY, SDKAPPID + 1, u), 70014),
        ]
        for name, sig, code in cases:
            with self.subTest(case=name):
                self.refused(u, sig, code)
        with self.subTest(case="wrong sdkappid in the URL"):
            self.refused(u, usersig(KEY, SDKAPPID + 1, u), (70020, 70014), sdkappid=SDKAPPID + 1)
        # the refused ones left nothing behind; the right sig works
        c = self.receiver(u)
        self.assertEqual(c.hello["UserID"], u)
        q, r = self.online_status(u, detail=True)
        self.assertEqual(len(q[u]["Detail"]), 1, short(r))

    def test_refused_login_does_not_import(self):
        u = uid("noimport")
        self.refused(u, usersig("0" * 64, SDKAPPID, u), 70009)
        self.assertEqual(self.check_status(u), {u: "NotImported"})

    def test_get_without_upgrade_is_not_switched(self):
        (u,) = self.fresh()
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=5)
        self.addCleanup(s.close)
        target = ws_target(SDKAPPID, u, usersig(KEY, SDKAPPID, u))
        s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % target).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                break
            head += chunk
        status = int(head.split(b" ", 2)[1])
        self.assertTrue(400 <= status < 500, "plain GET of /v4/ws: HTTP %d (want 4xx): %r" % (status, head[:300]))
        self.assertNotEqual(status, 101)
        c = self.receiver(u)
        self.quiet(c)

    # ---------------------------------------------------------------- hostile frames
    def hostile(self, action, codes, need_reason=True):
        """Runs action(conn) on a fresh receiver; it must be closed with a code in codes,
        while a bystander keeps receiving."""
        (u,) = self.fresh(prefix="h")
        victim = self.receiver(u)
        try:
            action(victim)
        except WSError:
            pass        # the server may close before it has read all: the close must still come
        code, reason = victim.expect_close(codes)
        if need_reason:
            self.assertTrue(reason, "close %d should carry a reason" % code)
        self.wait_status(u, "Offline")
        return code

    def test_hostile_frames(self):
        (b,) = self.fresh(prefix="bystander")
        bystander = self.receiver(b)
        big = json.dumps({"Event": "Ack", "Seq": 1, "Pad": "x" * 65536})
        cases = [
            ("binary frame", lambda c: c.send_raw_frame(OP_BINARY, b'{"Event":"Ack","Seq":1}'), (1003,), True),
            ("text over 64 KiB", lambda c: c.send_raw_frame(OP_TEXT, big.encode()), (1009,), True),
            ("fragments over 64 KiB", lambda c: (c.send_raw_frame(OP_TEXT, b"x" * 40000, fin=False),
                                                 c.send_raw_frame(OP_CONT, b"x" * 40000)), (1009,), True),
            ("malformed JSON", lambda c: c.send_text('{"Event":"Ack",'), (1008,), True),
            ("JSON not an object", lambda c: c.send_text('[1,2,3]'), (1008,), True),
            ("unknown Event", lambda c: c.send_json({"Event": "Subscribe", "Seq": 1}), (1008,), True),
            ("no Event", lambda c: c.send_json({"Seq": 1}), (1008,), True),
            ("text not UTF-8", lambda c: c.send_raw_frame(OP_TEXT, b'{"Event":"\xff"}'), (1007, 1008), False),
            ("unmasked client frame", lambda c: c.send_raw_frame(OP_TEXT, b'{"Event":"Ack","Seq":1}', mask=False),
             (1002,), False),
            ("RSV bit", lambda c: c.send_raw_frame(OP_TEXT, b'{"Event":"Ack","Seq":1}', rsv=4), (1002,), False),
            ("unknown opcode", lambda c: c.send_raw_frame(0x3, b"x"), (1002,), False),
            ("continuation first", lambda c: c.send_raw_frame(OP_CONT, b"x"), (1002,), False),
            ("fragmented ping", lambda c: c.send_raw_frame(OP_PING, b"x", fin=False), (1002,), False),
            ("ping over 125 bytes", lambda c: c.send_raw_frame(OP_PING, b"x" * 126), (1002,), False),
        ]
        for name, action, codes, need_reason in cases:
            with self.subTest(case=name):
                self.hostile(action, codes, need_reason)
                bystander.ping(b"still")
                self.quiet(bystander)
                self.assertTrue(self.srv.alive(), self.srv.context(force=True))
        self.assertEqual(bystander.expect_pong(b"still"), b"still")

    def test_harmless_frames(self):
        (u,) = self.fresh()
        c = self.receiver(u)
        c.ack(123456789)                                   # an Ack for a Seq never sent
        c.ping(b"p1")
        self.assertEqual(c.expect_pong(b"p1"), b"p1")
        c.ping(b"")
        c.expect_pong(b"")
        ack = json.dumps({"Event": "Ack", "Seq": 1}).encode()
        c.send_raw_frame(OP_TEXT, ack[:5], fin=False)      # a fragmented Ack ...
        c.ping(b"between")                                  # ... with a ping in between
        c.send_raw_frame(OP_CONT, ack[5:9], fin=False)
        c.send_raw_frame(OP_CONT, ack[9:])
        c.expect_pong(b"between")
        c.send_raw_frame(0xA, b"unsolicited pong")          # allowed by RFC 6455 §5.5.3
        tid = self.push("after the harmless frames")
        c.expect_msg(tid)
        self.assertEqual(c.close(1000, "bye"), 1000, "the close handshake is answered")

    # ---------------------------------------------------------------- query
    def test_unknown_query_parameters_ignored(self):
        # values fully percent-encoded (our client always does), and unknown parameters
        (u,) = self.fresh()
        sig = usersig(KEY, SDKAPPID, u)
        c = WSClient(self.srv.port, u, sig=sig, server=self.srv,
                     target=ws_target(SDKAPPID, u, sig, extra=[("random", "123"), ("platform", "web")]))
        c.connect()
        self.addCleanup(c.abort)
        self.assertEqual(c.hello["UserID"], u)


class Tls(SessionBase):
    server_kwargs = {"tls": True}

    def test_wss(self):
        (u,) = self.fresh()
        c = self.receiver(u, tls=True)
        self.assertEqual(c.hello["UserID"], u)
        tid = self.push("over TLS", lifetime=60, body=[{"MsgType": "TIMTextElem",
                                                        "MsgContent": {"Text": "t" * 100000}}])
        ev = c.expect_msg(tid)
        self.assertEqual(len(ev["MsgBody"][0]["MsgContent"]["Text"]), 100000)
        c.ack(ev["Seq"])
        c.close()
        c2 = self.receiver(u, tls=True)
        self.quiet(c2)


class QueueCap(SessionBase):
    """--ws-queue-cap-bytes: a receiver that does not read is dropped; its pushes stay
    pending; the others are served. Pushes of 20 KB against a cap of 256 KB: a reading
    receiver never comes near the cap, one that never reads passes it once the kernel's
    socket buffers are full."""
    server_kwargs = {"extra": ["--ws-queue-cap-bytes", "262144"]}
    SIZE = 20000

    def test_slow_receiver_dropped_others_served_pushes_stay_pending(self):
        slow_u, good_u = self.fresh(2)
        cond = {"TagsAnd": ["cap_" + slow_u]}
        self.add_tags({slow_u: cond["TagsAnd"], good_u: cond["TagsAnd"]})
        slow = connect(self.srv, slow_u, rcvbuf=4096)      # reads its Hello, then nothing more
        self.addCleanup(slow.abort)
        good = self.receiver(good_u)
        tids = []
        dropped = False
        for i in range(600):
            tid = self.push("%05d" % i + "y" * self.SIZE, cond, lifetime=600)
            tids.append(tid)
            good.ack(good.expect_msg(tid)["Seq"])
            q, r = self.online_status(slow_u)
            if q[slow_u]["Status"] == "Offline":
                dropped = True
                break
        self.assertTrue(dropped, "a receiver that never reads was not disconnected after %d pushes "
                        "of %d bytes with --ws-queue-cap-bytes 262144" % (len(tids), self.SIZE))
        self.assertTrue(self.srv.alive())
        # others are still served
        t = self.push("after the drop", cond, lifetime=600)
        good.ack(good.expect_msg(t)["Seq"])
        tids.append(t)
        # the slow one gets a prefix of the pushes, in order, then the connection ends
        slow.wait_closed(15)
        got = [e["TaskId"] for e in slow.skipped if e.get("Event") == "Msg"]
        if os.environ.get("IMCAST_E2E_VERBOSE"):
            print("\n  dropped after %d pushes; it had received %d" % (len(tids) - 1, len(got)))
        self.assertEqual(got, tids[:len(got)])
        self.assertLess(len(got), len(tids))
        # unacknowledged: every push is still pending for the slow account only
        good.close()
        for tid in (tids[0], tids[len(tids) // 2], tids[-1]):
            rep = self.wait_report(tid, lambda r: r.get("Delivered") == 1, what="Delivered 1")
            self.assertEqual((rep["Audience"], rep["Pending"]), (2, 1), short(rep))

    def test_catch_up_larger_than_the_cap(self):
        # 20 pending pushes of 20 KB = 400 KB, more than the 256 KB cap: the login must
        # still get them all (a catch-up is paced, or the account could never catch up)
        (u,) = self.fresh()
        tids = [self.push("%05d" % i + "z" * self.SIZE, lifetime=600) for i in range(20)]
        t0 = time.monotonic()
        try:
            c = self.receiver(u)
            evs = [c.expect_msg(t, timeout=10) for t in tids]
        except AssertionError as e:
            self.fail("a login with 400 KB pending (cap 256 KB) did not get its catch-up: %s" % e)
        took = time.monotonic() - t0
        seqs = [e["Seq"] for e in evs]
        self.assertEqual(seqs, sorted(seqs))
        c.ack(seqs[-1])
        self.quiet(c)
        # paced as the connection drains, not once per housekeeping tick: 400 KB to a
        # reading client over loopback takes milliseconds
        self.assertLess(took, 1.5, "a catch-up of 400 KB took %.1fs: pacing waits for a timer "
                        "instead of the connection draining" % took)


    def test_live_pushes_during_a_paced_catch_up_keep_seq_order(self):
        # A login with 1.2 MB pending (cap 256 KB) is caught up over many loop turns; pushes
        # made meanwhile, stored or not (MsgLifeTime 0: the connection is open, so it gets
        # it), must come after the catch-up, in Seq order, and none of the catch-up may be
        # skipped (an Ack of the last Seq would otherwise acknowledge what never came).
        (u,) = self.fresh()
        cond = {"TagsAnd": ["pace_" + u]}
        self.add_tags({u: cond["TagsAnd"]})
        tids = [self.push("%05d" % i + "p" * 100000, cond, lifetime=600) for i in range(12)]
        c = connect(self.srv, u, rcvbuf=4096)               # Hello read, the rest waits
        self.addCleanup(c.abort)
        time.sleep(0.3)                                       # the catch-up stalls at the cap
        live0 = self.push("live, not stored", cond, lifetime=0)
        live1 = self.push("live, stored", cond, lifetime=600)
        want = tids + [live0, live1]
        got = []
        while len(got) < len(want):
            ev = c.expect_event("Msg", timeout=10)
            got.append((ev["TaskId"], ev["Seq"]))
            if ev["TaskId"] == live1:
                break
        names = {t: "catch-up %d" % i for i, t in enumerate(tids)}
        names.update({live0: "live0 (MsgLifeTime 0)", live1: "live1 (stored)"})
        received = {t for t, _ in got}
        missing = [names[t] for t in want if t not in received]
        self.assertEqual(missing, [], "never sent on this connection (an Ack of a later Seq "
                         "would mark them delivered: lost); received in this order: %s"
                         % short([names.get(t, t) for t, _ in got], 300))
        self.assertEqual([names.get(t, t) for t, _ in got], [names[t] for t in want])
        seqs = [sq for _, sq in got]
        self.assertEqual(seqs, sorted(set(seqs)), "not in Seq order")
        c.ack(seqs[-1])
        c.close()
        c2 = self.receiver(u)
        self.quiet(c2)


class PingSec(SessionBase):
    server_kwargs = {"extra": ["--ping-sec", "1"]}

    def test_hello_ping_sec_and_silence_timeout(self):
        quiet_u, chatty_u = self.fresh(2)
        silent = self.receiver(quiet_u, auto_pong=False)   # silent even if the server pings
        chatty = self.receiver(chatty_u)
        self.assertEqual(silent.hello["PingSec"], 1)
        t0 = time.monotonic()
        closed_at = None
        while time.monotonic() - t0 < 6:
            chatty.ping(b"hb")
            chatty.expect_pong(b"hb")
            if closed_at is None:
                try:
                    silent.no_event(0.5)
                except AssertionError:
                    self.assertTrue(silent.closed, "silent receiver got an event: %s" % short(silent.messages))
                    closed_at = time.monotonic() - t0
            else:
                time.sleep(0.5)
        self.assertIsNotNone(closed_at, "a receiver silent for 6 s was not closed (PingSec 1)")
        self.assertGreaterEqual(closed_at, 2.0, "closed after %.1fs, before 3 x PingSec" % closed_at)
        self.wait_status(quiet_u, "Offline")
        # the pinging one is still there
        tid = self.push("you are alive")
        chatty.expect_msg(tid)


class Shutdown(PushMixin, FreshServerTestCase):

    def test_sigterm_closes_receivers_with_1001(self):
        users = ["t1", "t2", "t3"]
        self.import_accounts(*users)
        g = self.receivers(users + ["t1"])
        tid = self.push("before shutdown", lifetime=600)
        for c in g:
            c.expect_msg(tid)
        t0 = time.monotonic()
        self.srv.stop()                     # asserts exit code 0 within 10 s
        self.assertLess(time.monotonic() - t0, 5, "SIGTERM took more than a few seconds")
        for c in g:
            c.expect_close(1001, timeout=2)
        # unacknowledged pushes come again after the restart
        self.srv.start()
        c = self.receiver("t2")
        c.expect_msg(tid)


if __name__ == "__main__":
    unittest.main()
