"""Caps: --max-connections and --max-connections-per-ip close the connection at accept,
--max-requests-per-ip refuses requests over an address's rate (60006 for a REST call, 429
for an upgrade or a page) and keeps the connection; the others keep being served, and
/metrics counts each refusal."""
import json
import socket
import time
import unittest
import urllib.request

from imcast_harness import Server, RawHTTP, http_request_bytes, usersig, KEY, SDKAPPID
from imcast_ws import ws_target


def connect_from(port, source):
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    return s



def served(s):
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    return s.recv(100).startswith(b"HTTP/1.1 200")


class Caps(unittest.TestCase):
    def metric(self, srv, sample):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % srv.port, timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(sample + " "):
                    return float(line.split()[-1])
        self.fail("no sample %s" % sample)

    def test_per_ip_cap(self):
        srv = Server(extra=["--max-connections-per-ip", "3"])
        srv.start()
        self.addCleanup(srv.cleanup)
        self.addCleanup(srv.stop)
        held = [connect_from(srv.port, "127.0.0.2") for _ in range(3)]
        for s in held:
            self.assertTrue(served(s))
        extra = connect_from(srv.port, "127.0.0.2")
        self.assertEqual(extra.recv(1), b"", "a 4th connection from one address was kept")
        other = connect_from(srv.port, "127.0.0.3")          # another address is served
        self.assertTrue(served(other))
        self.assertEqual(self.metric(srv, 'imcast_connections_refused_total{cap="max_connections_per_ip"}'), 1)
        held[0].close()                                       # room again once one closes
        deadline = time.monotonic() + 5
        while True:
            again = connect_from(srv.port, "127.0.0.2")
            try:
                if served(again):
                    break
            except OSError:
                pass
            self.assertLess(time.monotonic(), deadline, "the closed connection was never uncounted")
            time.sleep(0.1)
        for s in held[1:] + [extra, other, again]:
            s.close()

    def test_total_cap(self):
        srv = Server(extra=["--max-connections", "4"])
        srv.start()
        self.addCleanup(srv.cleanup)
        self.addCleanup(srv.stop)
        held = [connect_from(srv.port, "127.0.0.4") for _ in range(3)]   # + the harness's own
        for s in held:
            self.assertTrue(served(s))
        srv.client.close()
        extra = [connect_from(srv.port, "127.0.0.5") for _ in range(3)]
        kept = 0
        for s in extra:
            try:
                kept += served(s)
            except OSError:
                pass
        self.assertEqual(kept, 1, "exactly one more connection fits under the cap of 4")
        for s in held + extra:
            s.close()
        time.sleep(0.2)
        self.assertGreaterEqual(self.metric(srv, 'imcast_connections_refused_total{cap="max_connections"}'), 2)


RATE = 5
PUSH = "all_member_push"


def get_bytes(path, extra_headers=()):
    lines = ["GET %s HTTP/1.1" % path, "Host: x"] + list(extra_headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class RequestRate(unittest.TestCase):
    """--max-requests-per-ip 5: a burst of 5 a second per address, then refusals."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(extra=["--max-requests-per-ip", str(RATE)])
        cls.srv.start()
        cls.next_scraper = 0

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.srv.cleanup()

    def metric(self, sample):
        # Each scrape comes from an address of its own, so scraping uses no test's burst.
        type(self).next_scraper += 1
        r = RawHTTP(self.srv.port, source="127.0.1.%d" % self.next_scraper)
        try:
            r.send(get_bytes("/metrics"))
            status, _, body = r.read_response()
        finally:
            r.close()
        self.assertEqual(status, 200)
        for line in body.decode().splitlines():
            if line.startswith(sample + " "):
                return float(line.split()[-1])
        return 0.0

    def call_bytes(self, command, body, service=PUSH):
        return http_request_bytes(self.srv.client.target(service, command), json.dumps(body))

    def read_doc(self, raw):
        status, headers, body = raw.read_response()
        self.assertEqual(status, 200, body)
        self.assertEqual(headers.get("connection"), "keep-alive")
        return json.loads(body)

    def tags_of(self, user):
        r = RawHTTP(self.srv.port, source="127.0.2.%d" % (self.next_scraper + 1))
        type(self).next_scraper += 1
        try:
            r.send(self.call_bytes("im_get_tag", {"To_Account": [user]}))
            doc = self.read_doc(r)
        finally:
            r.close()
        self.assertEqual(doc["ErrorCode"], 0, doc)
        return doc["UserTags"][0].get("Tags", [])

    def test_rest_calls_over_the_rate(self):
        self.srv.ok("im_open_login_svc", "account_import", {"UserID": "rate_u"})
        refused = 'imcast_requests_refused_total{cap="max_requests_per_ip"}'
        add_tag_60006 = 'imcast_rest_requests_total{command="all_member_push/im_add_tag",code="60006"}'
        before = self.metric(refused), self.metric(add_tag_60006)
        raw = RawHTTP(self.srv.port, source="127.0.0.2")
        self.addCleanup(raw.close)
        # One pipelined burst: RATE checks of distinct users, then an im_add_tag and one more
        # check over the rate. Answers come back in request order on the same connection.
        burst = [self.call_bytes("account_check", {"CheckItem": [{"UserID": "c%d" % i}]},
                                 service="im_open_login_svc") for i in range(RATE)]
        burst.append(self.call_bytes("im_add_tag", {"UserTags": [{"To_Account": "rate_u",
                                                                  "Tags": ["flooded"]}]}))
        burst.append(self.call_bytes("account_check", {"CheckItem": [{"UserID": "late"}]},
                                     service="im_open_login_svc"))
        raw.send(b"".join(burst))
        for i in range(RATE):
            doc = self.read_doc(raw)
            self.assertEqual(doc["ErrorCode"], 0, doc)
            self.assertEqual(doc["ResultItem"][0]["UserID"], "c%d" % i)
        want = "too many requests from 127.0.0.2: over %d per second (max-requests-per-ip)" % RATE
        for _ in range(2):
            doc = self.read_doc(raw)
            self.assertEqual((doc["ActionStatus"], doc["ErrorCode"], doc["ErrorInfo"]),
                             ("FAIL", 60006, want))
        self.assertEqual(self.tags_of("rate_u"), [], "a refused im_add_tag changed something")
        self.assertEqual(self.metric(refused) - before[0], 2)
        self.assertEqual(self.metric(add_tag_60006) - before[1], 1)
        # Another address was never limited by this one's burst (tags_of and the scrapes
        # above); after a second this one is served again, on the same connection.
        time.sleep(1.1)
        raw.send(self.call_bytes("im_add_tag", {"UserTags": [{"To_Account": "rate_u",
                                                              "Tags": ["later"]}]}))
        doc = self.read_doc(raw)
        self.assertEqual(doc["ErrorCode"], 0, doc)
        self.assertEqual(self.tags_of("rate_u"), ["later"])

    def test_upgrade_and_pages_over_the_rate(self):
        raw = RawHTTP(self.srv.port, source="127.0.0.3")
        self.addCleanup(raw.close)
        logins_refused = self.metric("imcast_logins_refused_total")
        raw.send(get_bytes("/healthz") * (RATE + 1))
        for _ in range(RATE):
            self.assertEqual(raw.read_response()[0], 200)
        status, headers, body = raw.read_response()
        self.assertEqual(status, 429)
        self.assertEqual(headers.get("retry-after"), "1")
        self.assertEqual(json.loads(body)["ErrorCode"], 60006)
        # The connection is still usable; a WebSocket upgrade over the rate is refused.
        target = ws_target(SDKAPPID, "rate_ws", usersig(KEY, SDKAPPID, "rate_ws"))
        raw.send(get_bytes(target, ["Upgrade: websocket", "Connection: Upgrade",
                                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                                    "Sec-WebSocket-Version: 13"]))
        status, headers, body = raw.read_response()
        self.assertEqual(status, 429, body)
        self.assertEqual(headers.get("retry-after"), "1")
        self.assertNotIn("upgrade", headers)
        doc = json.loads(body)
        self.assertEqual(doc["ErrorCode"], 60006)
        self.assertIn("127.0.0.3", doc["ErrorInfo"])
        self.assertTrue(raw.at_eof(), "an upgrade request's connection is closed after its answer")
        self.assertEqual(self.metric("imcast_logins_refused_total") - logins_refused, 1)


    def test_ini_key_and_default_off(self):
        """The INI key sets the cap; without it nothing is refused."""
        path = self.srv.tmp + "/rate.ini"
        with open(path, "w") as f:
            f.write("[imcastd]\nmax_requests_per_ip = 1\n")
        for extra, want in ((["--config", path], [200, 429]), ([], [200] * 30)):
            srv = Server(extra=extra)
            srv.start()
            self.addCleanup(srv.cleanup)
            self.addCleanup(srv.stop)
            raw = RawHTTP(srv.port, source="127.0.0.4")
            self.addCleanup(raw.close)
            raw.send(get_bytes("/healthz") * len(want))
            self.assertEqual([raw.read_response()[0] for _ in want], want)


class Rejections(unittest.TestCase):
    """The HTTP server's own refusals are counted: 408 here; 400/413/431 in test_metrics."""

    def test_408_counted(self):
        srv = Server(extra=["--request-timeout-ms", "300"])
        srv.start()
        self.addCleanup(srv.cleanup)
        self.addCleanup(srv.stop)
        sample = 'imcast_http_rejected_total{status="408"}'
        self.assertEqual(Caps.metric(self, srv, sample), 0)
        raw = RawHTTP(srv.port)
        self.addCleanup(raw.close)
        raw.send(b"POST /v4/x HTTP/1.1\r\nHost: x\r\n")     # never finished
        self.assertEqual(raw.read_response()[0], 408)
        self.assertEqual(Caps.metric(self, srv, sample), 1)


if __name__ == "__main__":
    unittest.main()
