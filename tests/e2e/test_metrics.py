"""GET /metrics (Prometheus text) and /healthz: every counter moves as the server works.

Scrapes before and after each kind of event and checks the difference, so the tests do
not depend on what other tests of the class did first.
"""
import re
import time
import unittest
import urllib.request

from imcast_harness import RawHTTP, ServerTestCase, http_request_bytes
from imcast_ws import PushMixin

PUSH = "all_member_push"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


class Metrics(PushMixin, ServerTestCase):
    server_kwargs = {"extra": ["--ws-queue-cap-bytes", "65536"]}

    def scrape(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.srv.port, timeout=5) as r:
            self.assertEqual(r.status, 200)
            self.assertTrue(r.headers["Content-Type"].startswith("text/plain"))
            text = r.read().decode()
        samples, types = {}, {}
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ", 3)
                types[name] = kind
                continue
            if not line or line.startswith("#"):
                continue
            m = SAMPLE.match(line)
            self.assertIsNotNone(m, "not a Prometheus sample line: %r" % line)
            samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
        return samples, types

    def value(self, name):
        return self.scrape()[0].get(name, 0.0)

    def moved(self, names, action, settle=0.0):
        before = self.scrape()[0]
        action()
        if settle:
            time.sleep(settle)
        after = self.scrape()[0]
        return {n: after.get(n, 0.0) - before.get(n, 0.0) for n in names}

    def test_names_and_types(self):
        samples, types = self.scrape()
        for name in samples:
            self.assertTrue(name.startswith("imcast_"), name)
        for family, kind in (("imcast_pushes_total", "counter"), ("imcast_connections", "gauge"),
                             ("imcast_request_duration_seconds", "histogram"),
                             ("imcast_push_delivery_seconds", "histogram"),
                             ("imcast_sqlite_commit_seconds", "histogram"),
                             ("imcast_resident_memory_bytes", "gauge")):
            self.assertEqual(types.get(family), kind, family)
        self.assertGreater(samples["imcast_resident_memory_bytes"], 1e6)

    def test_rest_requests_by_command_and_code(self):
        key_ok = 'imcast_rest_requests_total{command="im_open_login_svc/account_check",code="0"}'
        key_bad = 'imcast_rest_requests_total{command="all_member_push/im_get_tag",code="90018"}'
        d = self.moved([key_ok, key_bad, "imcast_request_duration_seconds_count"], lambda: (
            self.ok("im_open_login_svc", "account_check", {"CheckItem": [{"UserID": "m1"}]}),
            self.fail_call(PUSH, "im_get_tag", {"To_Account": ["x%d" % i for i in range(101)]},
                           code=90018)))
        self.assertEqual(d[key_ok], 1)
        self.assertEqual(d[key_bad], 1)
        self.assertEqual(d["imcast_request_duration_seconds_count"], 2)

    def test_commit_histogram_moves_on_writes(self):
        d = self.moved(["imcast_sqlite_commit_seconds_count", "imcast_accounts"], lambda: self.ok(
            "im_open_login_svc", "account_import", {"UserID": "m_commit"}))
        self.assertGreaterEqual(d["imcast_sqlite_commit_seconds_count"], 1)
        self.assertEqual(d["imcast_accounts"], 1)

    def test_login_push_delivery_ack(self):
        self.ok("im_open_login_svc", "multiaccount_import", {"Accounts": ["m_a", "m_b"]})
        names = ["imcast_logins_total", 'imcast_connections{state="receiver"}',
                 "imcast_pushes_total", "imcast_deliveries_total", "imcast_acks_total",
                 "imcast_push_delivery_seconds_count", "imcast_live_pushes"]
        state = {}

        def work():
            a, b = self.receiver("m_a"), self.receiver("m_b")
            tid = self.push("metrics", condition={"TagsOr": []}, lifetime=60)
            for c in (a, b):
                ev = c.expect_msg(tid)
                c.ack(ev["Seq"])
            state["clients"] = (a, b)
            state["tid"] = tid
            self.wait_report(tid, lambda r: r["Delivered"] == 2, what="Delivered 2")

        d = self.moved(names, work)
        self.assertEqual(d["imcast_logins_total"], 2)
        self.assertEqual(d['imcast_connections{state="receiver"}'], 2)
        self.assertEqual(d["imcast_pushes_total"], 1)
        self.assertGreaterEqual(d["imcast_deliveries_total"], 2)
        self.assertEqual(d["imcast_acks_total"], 2)
        self.assertEqual(d["imcast_push_delivery_seconds_count"], 1)
        self.assertEqual(d["imcast_live_pushes"], 1)

    def test_refused_login_kick_and_revoke(self):
        from imcast_ws import WSClient, WSRefused
        self.ok("im_open_login_svc", "account_import", {"UserID": "m_k"})
        c = self.receiver("m_k")

        def work():
            with self.assertRaises(WSRefused):
                WSClient(self.srv.port, "m_k", sig="garbage").connect()
            tid = self.push("to revoke", lifetime=60)
            c.expect_msg(tid)
            self.revoke(tid)
            c.expect_event("Revoke")
            self.ok("im_open_login_svc", "kick", {"UserID": "m_k"})
            c.expect_event("Kicked")
            c.wait_closed()

        d = self.moved(["imcast_logins_refused_total", "imcast_kicks_total", "imcast_revoked_total"],
                       work)
        self.assertEqual(d["imcast_logins_refused_total"], 1)
        self.assertEqual(d["imcast_kicks_total"], 1)
        self.assertEqual(d["imcast_revoked_total"], 1)

    def test_queue_drop_counted(self):
        self.ok("im_open_login_svc", "account_import", {"UserID": "m_slow"})
        slow = self.receiver("m_slow")          # never reads from here on
        big = "x" * 30000

        def work():
            # Loopback socket buffers take a few MB before the server has to queue.
            for i in range(400):
                self.push(big + str(i), condition={"TagsOr": []})
                if i % 50 == 49 and self.value("imcast_queue_drops_total") > before:
                    break

        before = self.value("imcast_queue_drops_total")
        d = self.moved(["imcast_queue_drops_total"], work)
        self.assertGreaterEqual(d["imcast_queue_drops_total"], 1)
        slow.abort()

    def test_http_rejections_by_status(self):
        """400, 413 and 431 answered by the HTTP server itself each move their own sample
        (408 is in test_caps.py, with a short request timeout)."""
        names = ['imcast_http_rejected_total{status="%d"}' % s for s in (400, 408, 413, 431)]
        cases = ((b"NOT HTTP AT ALL\r\n\r\n", 400),
                 (b"POST /v4/x HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n", 413),
                 (http_request_bytes("/v4/x", b"{}", ["X-Big: " + "a" * 20000]), 431))

        def work():
            for data, status in cases:
                raw = RawHTTP(self.srv.port)
                try:
                    raw.send(data)
                    self.assertEqual(raw.read_response()[0], status)
                finally:
                    raw.close()

        d = self.moved(names, work)
        self.assertEqual([d[n] for n in names], [1, 0, 1, 1])
        _, types = self.scrape()
        self.assertEqual(types.get("imcast_http_rejected_total"), "counter")

    def test_healthz(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % self.srv.port, timeout=5) as r:
            self.assertEqual(r.status, 200)
            self.assertIn(b'"status":"ok"', r.read())


class Expiry(PushMixin, ServerTestCase):
    def test_expired_counted(self):
        before = Metrics.value(self, "imcast_expired_total")
        self.push("short", lifetime=1)
        deadline = time.monotonic() + 6
        while Metrics.value(self, "imcast_expired_total") == before:
            self.assertLess(time.monotonic(), deadline, "expiry never counted")
            time.sleep(0.2)

    scrape = Metrics.scrape


if __name__ == "__main__":
    unittest.main()
