"""Acks in every JSON form count the same: the compact canonical form (read by a fast
path, as SDKs and browsers send it) and any other valid spelling (spaces, key order)."""
import unittest

from imcast_harness import ServerTestCase
from imcast_ws import PushMixin


class AckForms(PushMixin, ServerTestCase):
    def delivered_after(self, user, ack_text_of):
        self.ok("im_open_login_svc", "account_import", {"UserID": user})
        c = self.receiver(user)
        tid = self.push("ack me", lifetime=60, condition={"TagsOr": []})
        ev = c.expect_msg(tid)
        c.send_text(ack_text_of(ev["Seq"]))
        return self.wait_report(tid, lambda r: r["Delivered"] >= 1, what="Delivered 1")

    def test_compact(self):
        r = self.delivered_after("ack_c", lambda s: '{"Event":"Ack","Seq":%d}' % s)
        self.assertEqual(r["Delivered"], 1)

    def test_spaced_and_reordered(self):
        r = self.delivered_after("ack_s", lambda s: '{ "Seq" : %d , "Event" : "Ack" }' % s)
        self.assertEqual(r["Delivered"], 1)

    def test_compact_but_not_json_is_refused(self):
        self.ok("im_open_login_svc", "account_import", {"UserID": "ack_bad"})
        c = self.receiver("ack_bad")
        c.send_text('{"Event":"Ack","Seq":01}')            # a leading zero is not JSON
        code, _ = c.wait_closed()
        self.assertEqual(code, 1008)

    def test_ack_above_what_was_sent_covers_only_what_was_sent(self):
        self.ok("im_open_login_svc", "multiaccount_import", {"Accounts": ["ack_hi"]})
        c = self.receiver("ack_hi")
        tid = self.push("one", lifetime=60, condition={"TagsOr": []})
        ev = c.expect_msg(tid)
        c.send_text('{"Event":"Ack","Seq":%d}' % (ev["Seq"] + 1000))
        self.wait_report(tid, lambda r: r["Delivered"] == 1, what="Delivered 1")
        later = self.push("two", lifetime=60, condition={"TagsOr": []})
        c.expect_msg(later)
        self.assertEqual(self.report(later)["Delivered"], 0)


if __name__ == "__main__":
    unittest.main()
