"""Durability of pushes (rest-api.md §4.1 "The response is sent once the push is durably
stored", design.md "Acks are flushed in batches: a crash may redeliver, never lose").

Each test has its own imcastd and data folder, kills (SIGKILL) or stops (SIGTERM) it at the
worst moment, restarts it on the same folder and logs receivers in.
"""
import time
import unittest

from imcast_harness import FreshServerTestCase, short
from imcast_ws import PUSH, PushMixin, msg_random, push_body


class PushDurability(PushMixin, FreshServerTestCase):

    def login(self, user):
        return self.receiver(user)

    def quiet(self, *clients):
        tid = self.push("sentinel")
        for c in clients:
            ev = c.expect_event("Msg")
            self.assertEqual(ev.get("TaskId"), tid, "%s: want nothing before the sentinel, got %s"
                             % (c.user, short(c.last_text)))

    def test_sigkill_right_after_ok_loses_nothing(self):
        self.import_accounts("k1", "k2", "k3")
        self.add_tags({"k1": ["t"], "k2": ["t"]})
        r = msg_random()
        offline = {"Title": "stored", "Ext": "x"}
        tid = self.push("survive", {"TagsAnd": ["t"]}, lifetime=3600, random=r, offline=offline)
        self.srv.kill()
        self.srv.start()
        for u in ("k1", "k2"):
            c = self.login(u)
            ev = c.expect_msg(tid)
            self.assert_msg(ev, tid, text="survive", random=r)
            self.assertEqual(ev["OfflinePushInfo"], offline)
            self.quiet(c)
            c.close()
        c3 = self.login("k3")               # not in the audience
        self.quiet(c3)

    def test_several_pushes_then_sigkill_all_in_order(self):
        self.import_accounts("m1")
        tids = [self.push("n%d" % i, lifetime=3600) for i in range(10)]
        self.srv.kill()
        self.srv.start()
        c = self.login("m1")
        seqs = [c.expect_msg(t)["Seq"] for t in tids]
        self.assertEqual(seqs, sorted(seqs))

    def test_seq_and_task_ids_continue_after_restart(self):
        self.import_accounts("q1")
        c = self.login("q1")
        t1 = self.push("before", lifetime=3600)
        s1 = c.expect_msg(t1)["Seq"]
        c.ack(s1)
        c.close()
        self.srv.kill()
        self.srv.start()
        c = self.login("q1")
        t2 = self.push("after", lifetime=3600)
        ev = c.expect_event("Msg")
        if ev["TaskId"] == t1:              # the Ack may be lost by SIGKILL (at-least-once)
            self.assertEqual(ev["Seq"], s1)
            ev = c.expect_event("Msg")
        self.assertEqual(ev["TaskId"], t2, short(ev))
        self.assertGreater(ev["Seq"], s1, "Seq must keep increasing across restarts (clients "
                                          "drop duplicates by Seq)")
        self.assertNotEqual(t1, t2)

    def test_retry_after_restart_is_still_a_retry(self):
        self.import_accounts("r1")
        body = push_body("once", lifetime=3600)
        t1 = self.ok(PUSH, "im_push", body)["TaskId"]
        self.srv.kill()
        self.srv.start()
        t2 = self.ok(PUSH, "im_push", body)["TaskId"]
        self.assertEqual(t1, t2, "a retry of a stored push within 7 days, across a restart")
        c = self.login("r1")
        c.expect_msg(t1)
        self.quiet(c)

    def test_acked_survives_clean_restart(self):
        self.import_accounts("a1", "a2")
        tid = self.push("ack then stop", lifetime=3600)
        c = self.login("a1")
        c.ack(c.expect_msg(tid)["Seq"])
        c.close()                           # the close handshake: the Ack has been read
        self.srv.stop()
        self.srv.start()
        c = self.login("a1")
        self.quiet(c)                       # no redelivery after a clean restart
        c.close()
        c2 = self.login("a2")               # the other one still has it
        c2.expect_msg(tid)
        rep = self.report(tid)
        self.assertEqual((rep["Audience"], rep["Delivered"], rep["Pending"]), (2, 1, 1), short(rep))

    def test_ack_then_sigkill_at_least_once(self):
        self.import_accounts("b1")
        t1 = self.push("one", lifetime=3600)
        t2 = self.push("two", lifetime=3600)
        c = self.login("b1")
        e1 = c.expect_msg(t1)
        c.expect_msg(t2)
        c.ack(e1["Seq"])                    # only the first
        c.close()
        self.srv.kill()
        self.srv.start()
        c = self.login("b1")
        ev = c.expect_event("Msg")
        if ev["TaskId"] == t1:              # may come again (acks are flushed in batches) ...
            ev = c.expect_event("Msg")
        self.assertEqual(ev["TaskId"], t2, "the unacknowledged push is never lost: %s" % short(ev))
        self.quiet(c)

    def test_expiry_holds_across_restart(self):
        self.import_accounts("e1", "e2", "e3")
        t0 = time.monotonic()
        tid = self.push("five seconds", lifetime=5)
        keep = self.push("an hour", lifetime=3600)
        self.srv.kill()
        self.srv.start()
        if time.monotonic() - t0 < 3:
            c = self.login("e1")            # still alive after the restart
            c.expect_msg(tid)
            c.expect_msg(keep)
            c.close()
        time.sleep(max(0.0, 6.0 - (time.monotonic() - t0)))
        self.srv.stop()
        self.srv.start()
        c = self.login("e2")                # expired: only the other one
        c.expect_msg(keep)
        self.quiet(c)
        r = self.call(PUSH, "im_get_push_report", {"TaskId": tid})
        if r["ErrorCode"] == 0:
            self.assertEqual(r["State"], "Expired", short(r))
        else:
            self.assertEqual(r["ErrorCode"], 90049, short(r))

    def test_revoke_survives_sigkill(self):
        self.import_accounts("v1")
        tid = self.push("take it back", lifetime=3600)
        self.revoke(tid)
        self.srv.kill()
        self.srv.start()
        c = self.login("v1")
        self.quiet(c)
        rep = self.call(PUSH, "im_get_push_report", {"TaskId": tid})
        if rep["ErrorCode"] == 0:
            self.assertEqual(rep["State"], "Revoked", short(rep))
        else:
            self.assertEqual(rep["ErrorCode"], 90049, short(rep))

    def test_report_survives_restart(self):
        self.import_accounts("p1", "p2", "p3")
        tid = self.push("count", lifetime=3600)
        c = self.login("p1")
        c.ack(c.expect_msg(tid)["Seq"])
        c.close()
        self.wait_report(tid, lambda r: r.get("Delivered") == 1, what="Delivered 1")
        before = self.report(tid)
        self.srv.stop()
        self.srv.start()
        after = self.report(tid)
        for k in ("Audience", "Delivered", "Pending", "CreatedAt", "ExpiresAt"):
            self.assertEqual(after[k], before[k], "%s changed across a restart: %s -> %s"
                             % (k, short(before), short(after)))
        self.assertEqual((after["Audience"], after["Pending"]), (3, 2))

    def test_deleted_account_stays_out_after_restart(self):
        self.import_accounts("x1", "x2")
        tid = self.push("for x1 and x2", lifetime=3600)
        self.ok("im_open_login_svc", "account_delete", {"DeleteItem": [{"UserID": "x1"}]})
        self.srv.kill()
        self.srv.start()
        c = self.login("x1")                # imported anew at login: not the deleted account
        self.quiet(c)
        rep = self.report(tid)
        self.assertEqual((rep["Audience"], rep["Pending"]), (1, 1), short(rep))
        c2 = self.login("x2")
        c2.expect_msg(tid)

    def test_lifetime_zero_is_not_stored(self):
        self.import_accounts("z1")
        self.push("ephemeral", lifetime=0)
        self.srv.kill()
        self.srv.start()
        c = self.login("z1")
        self.quiet(c)


if __name__ == "__main__":
    unittest.main()
