"""The HTTP layer seen from outside: keep-alive, pipelining, the size limits (431, 413),
malformed requests (400), Connection: close, and HTTPS next to plain HTTP.

Readings tested:
  - The limits are "over 16 KiB" of request line + headers and "over 1 MiB" of body: a
    body of exactly 1 MiB is served; a header block of ~17 KB is refused, one of ~12 KB is
    served (the exact header boundary depends on how CRLFs are counted, so it is not probed).
  - Every non-200 answer carries the envelope with ErrorCode 60002 and Connection: close,
    and the server then closes the connection.
"""
import json
import select
import socket
import ssl
import time
import unittest

from imcast_harness import (ADMIN, IO_TIMEOUT, KEY, SDKAPPID, VECTORS, RawHTTP,
                            ServerTestCase, check_envelope, http_request_bytes, short, usersig)


def api_target(service="all_member_push", command="im_get_attr_name", sig=None):
    sig = sig or usersig(KEY, SDKAPPID, ADMIN)
    return ("/v4/%s/%s?sdkappid=%d&identifier=%s&usersig=%s&random=1&contenttype=json"
            % (service, command, SDKAPPID, ADMIN, sig))


class HttpTests(ServerTestCase):

    def raw(self):
        r = self.srv.raw()
        self.addCleanup(r.close)
        return r

    def envelope(self, body, what):
        try:
            doc = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            self.fail("%s: body is not JSON: %s%s" % (what, short(body), self.srv.context()))
        check_envelope(doc, what)
        return doc

    def assert_error_answer(self, status, hdrs, body, want_status, what):
        self.assertEqual(status, want_status, "%s: HTTP %d, want %d: %s%s"
                         % (what, status, want_status, short(body), self.srv.context()))
        doc = self.envelope(body, what)
        self.assertEqual(doc["ErrorCode"], 60002, "%s: %s" % (what, short(doc)))
        self.assertEqual(doc["ActionStatus"], "FAIL", short(doc))
        self.assertTrue(doc["ErrorInfo"].strip(), short(doc))
        self.assertEqual(hdrs.get("connection", "").lower(), "close",
                         "%s: want Connection: close, headers %s" % (what, hdrs))

    def assert_server_still_fine(self):
        self.ok("all_member_push", "im_get_attr_name", {})

    # ---- keep-alive & pipelining ----
    def test_keepalive_two_calls_one_connection(self):
        r = self.raw()
        for i in range(3):
            r.send(http_request_bytes(api_target(), b"{}"))
            status, hdrs, body = r.read_response()
            self.assertEqual(status, 200, short(body))
            self.assertEqual(self.envelope(body, "call %d" % i)["ErrorCode"], 0, short(body))
            self.assertNotEqual(hdrs.get("connection", "").lower(), "close", hdrs)

    def test_keepalive_with_http_client(self):
        cl = self.srv.new_client()
        self.addCleanup(cl.close)
        cl.ok("all_member_push", "im_get_attr_name", {})
        cl.ok("im_open_login_svc", "account_check", {"CheckItem": [{"UserID": "ka"}]})
        cl.ok("all_member_push", "im_get_tag", {"To_Account": ["ka"]})
        self.assertEqual(cl.connects, 1, "the three calls should share one connection")

    def test_pipelining_answered_in_order(self):
        r = self.raw()
        reqs = [
            http_request_bytes(api_target("im_open_login_svc", "account_import"),
                               json.dumps({"UserID": "pipe_u1"})),
            http_request_bytes(api_target("im_open_login_svc", "account_check"),
                               json.dumps({"CheckItem": [{"UserID": "pipe_u1"}]})),
            http_request_bytes(api_target("all_member_push", "im_get_attr_name"), b"{}"),
        ]
        r.send(b"".join(reqs))
        answers = [r.read_response() for _ in reqs]
        docs = [self.envelope(b, "pipelined %d" % i) for i, (_, _, b) in enumerate(answers)]
        for (status, _, body) in answers:
            self.assertEqual(status, 200, short(body))
        self.assertEqual(docs[0]["ErrorCode"], 0, short(docs[0]))
        self.assertNotIn("ResultItem", docs[0], "answer 1 should be account_import's")
        self.assertIn("ResultItem", docs[1], "answer 2 should be account_check's: %s" % short(docs[1]))
        self.assertEqual(docs[1]["ResultItem"][0]["AccountStatus"], "Imported",
                         "the check ran before the import: %s" % short(docs[1]))
        self.assertIn("AttrNames", docs[2], "answer 3 should be im_get_attr_name's: %s"
                      % short(docs[2]))

    def test_pipelining_many(self):
        r = self.raw()
        n = 20
        r.send(b"".join(http_request_bytes(api_target("all_member_push", "im_get_tag"),
                                           json.dumps({"To_Account": ["pipe_many_%d" % i]}))
                        for i in range(n)))
        for i in range(n):
            status, _, body = r.read_response()
            doc = self.envelope(body, "pipelined %d" % i)
            self.assertEqual(status, 200)
            # unknown accounts come back in ErrorList; the i-th answer names the i-th account
            self.assertIn("pipe_many_%d\"" % i, body.decode(), "answer %d out of order: %s"
                          % (i, short(doc)))

    def test_request_split_into_pieces(self):
        r = self.raw()
        data = http_request_bytes(api_target(), b"{}")
        for i in range(0, len(data), 7):
            r.send(data[i:i + 7])
            time.sleep(0.001)
        status, _, body = r.read_response()
        self.assertEqual(status, 200, short(body))
        self.assertEqual(self.envelope(body, "split")["ErrorCode"], 0)

    def test_connection_close_request(self):
        r = self.raw()
        r.send(http_request_bytes(api_target(), b"{}", ["Connection: close"]))
        status, hdrs, body = r.read_response()
        self.assertEqual(status, 200, short(body))
        self.assertEqual(hdrs.get("connection", "").lower(), "close", hdrs)
        self.assertTrue(r.at_eof(), "server should close after answering Connection: close")

    def test_http10_closes(self):
        r = self.raw()
        body = b"{}"
        r.send(("POST %s HTTP/1.0\r\nContent-Length: %d\r\n\r\n" % (api_target(), len(body)))
               .encode() + body)
        status, _, resp = r.read_response()
        self.assertEqual(status, 200, short(resp))
        self.assertEqual(self.envelope(resp, "http/1.0")["ErrorCode"], 0)
        self.assertTrue(r.at_eof(), "HTTP/1.0 without keep-alive: server should close")

    # ---- limits ----
    def test_headers_over_16k_431(self):
        r = self.raw()
        r.send(http_request_bytes(api_target(), b"{}", ["X-Big: " + "a" * 17000]))
        status, hdrs, body = r.read_response()
        self.assert_error_answer(status, hdrs, body, 431, "17 KB header")
        self.assertTrue(r.at_eof(), "connection should be closed after 431")
        self.assert_server_still_fine()

    def test_many_headers_over_16k_431(self):
        r = self.raw()
        r.send(http_request_bytes(api_target(), b"{}",
                                  ["X-H%d: %s" % (i, "b" * 100) for i in range(200)]))
        status, hdrs, body = r.read_response()
        self.assert_error_answer(status, hdrs, body, 431, "200 headers of 100 bytes")

    def test_long_url_431(self):
        r = self.raw()
        r.send(http_request_bytes(api_target() + "&pad=" + "p" * 20000, b"{}"))
        status, hdrs, body = r.read_response()
        self.assert_error_answer(status, hdrs, body, 431, "20 KB URL")

    def test_inflate_bomb_sig_too_long_for_a_url(self):
        sig = next(v for v in VECTORS["vectors"] if v["name"] == "inflate-bomb")["usersig"]
        r = self.raw()
        r.send(http_request_bytes(api_target(sig=sig), b"{}"))
        status, hdrs, body = r.read_response()
        self.assert_error_answer(status, hdrs, body, 431, "64 KiB usersig in the URL")
        self.assert_server_still_fine()

    def test_headers_under_limit_ok(self):
        r = self.raw()
        r.send(http_request_bytes(api_target(), b"{}", ["X-Big: " + "a" * 12000]))
        status, _, body = r.read_response()
        self.assertEqual(status, 200, short(body))

    def send_big_body(self, declared, actual_total):
        """Sends headers declaring `declared` bytes and then up to actual_total bytes of body
        while watching for an early answer. Returns the RawHTTP with the answer pending."""
        r = self.raw()
        head = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n"
                % (api_target(), declared)).encode()
        r.sock.sendall(head)
        chunk = b"[" + b" " * 65535
        sent = 0
        r.sock.setblocking(False)
        deadline = time.monotonic() + IO_TIMEOUT
        try:
            while sent < actual_total and time.monotonic() < deadline:
                rd, wr, _ = select.select([r.sock], [r.sock], [], 1.0)
                if rd:
                    break           # the server answered early
                if wr:
                    try:
                        sent += r.sock.send(chunk[:min(len(chunk), actual_total - sent)])
                    except (BlockingIOError, InterruptedError):
                        pass
                    except (BrokenPipeError, ConnectionResetError):
                        break
        finally:
            r.sock.setblocking(True)
            r.sock.settimeout(IO_TIMEOUT)
        return r

    def test_body_over_1mib_413(self):
        n = 1024 * 1024 + 1
        r = self.send_big_body(n, n)
        try:
            status, hdrs, body = r.read_response()
        except (EOFError, ConnectionResetError) as e:
            self.fail("no 413 answer for a %d-byte body (%r)%s" % (n, e, self.srv.context()))
        self.assert_error_answer(status, hdrs, body, 413, "body of 1 MiB + 1")
        self.assertTrue(r.at_eof(), "connection should be closed after 413")
        self.assert_server_still_fine()

    def test_huge_declared_body_413(self):
        # the answer may come as soon as the headers are read, or once 1 MiB has arrived
        r = self.send_big_body(50 * 1024 * 1024, 3 * 1024 * 1024)
        status, hdrs, body = r.read_response()
        self.assert_error_answer(status, hdrs, body, 413, "Content-Length 50 MiB")

    def test_body_of_exactly_1mib_ok(self):
        n = 1024 * 1024
        prefix = b'{"To_Account":[],"pad":"'
        suffix = b'"}'
        body = prefix + b"x" * (n - len(prefix) - len(suffix)) + suffix
        self.assertEqual(len(body), n)
        doc = self.call("all_member_push", "im_get_attr_name", raw_body=body)
        self.assertEqual(doc["ErrorCode"], 0, short(doc))

    # ---- malformed ----
    def test_garbage_bytes_400(self):
        for garbage in (b"\x00\x01\x02garbage\r\n\r\n", b"HELLO WORLD\r\n\r\n",
                        b"POST /v4/x HTTP/9.9.9\r\n\r\n",
                        b"POST /v4/all_member_push/im_get_attr_name HTTP/1.1\r\n"
                        b"Content-Length: abc\r\n\r\n"):
            with self.subTest(garbage=garbage):
                r = self.raw()
                r.send(garbage)
                try:
                    status, hdrs, body = r.read_response()
                except EOFError as e:
                    self.fail("no 400 answer to %r (%s)%s" % (garbage, e, self.srv.context()))
                self.assert_error_answer(status, hdrs, body, 400, "garbage %r" % garbage)
                self.assertTrue(r.at_eof())
        self.assert_server_still_fine()

    def test_answer_after_garbage_then_server_fine(self):
        r = self.raw()
        r.send(b"\xff" * 5000 + b"\r\n\r\n")
        try:
            status, hdrs, body = r.read_response()
            self.assertIn(status, (400, 431), short(body))
        except EOFError:
            self.fail("no answer to binary garbage" + self.srv.context())
        self.assert_server_still_fine()

    def test_client_vanishing_midrequest_is_harmless(self):
        for cut in (10, 60, 200):
            s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=5)
            data = http_request_bytes(api_target(), b'{"To_Account":["x"]}')
            s.sendall(data[:cut])
            s.close()
        self.assert_server_still_fine()


class HttpsTests(ServerTestCase):
    server_kwargs = {"tls": True}

    def test_https_call_verified(self):
        cl = self.srv.https_client()
        self.addCleanup(cl.close)
        r = cl.ok("all_member_push", "im_get_attr_name", {})
        self.assertIsInstance(r["AttrNames"], dict)
        cl.ok("im_open_login_svc", "account_import", {"UserID": "tls_u1"})
        r = cl.ok("im_open_login_svc", "account_check", {"CheckItem": [{"UserID": "tls_u1"}]})
        self.assertEqual(r["ResultItem"][0]["AccountStatus"], "Imported", short(r))
        self.assertEqual(cl.connects, 1, "HTTPS keep-alive: three calls, one connection")

    def test_plain_http_still_works(self):
        cl = self.srv.https_client()
        self.addCleanup(cl.close)
        cl.ok("im_open_login_svc", "account_import", {"UserID": "tls_u2"})
        r = self.ok("im_open_login_svc", "account_check", {"CheckItem": [{"UserID": "tls_u2"}]})
        self.assertEqual(r["ResultItem"][0]["AccountStatus"], "Imported", short(r))

    def test_plain_http_on_tls_port_does_not_crash(self):
        s = socket.create_connection(("127.0.0.1", self.srv.tls_port), timeout=5)
        s.sendall(http_request_bytes(api_target(), b"{}"))
        try:
            s.recv(4096)
        except OSError:
            pass
        s.close()
        cl = self.srv.https_client()
        self.addCleanup(cl.close)
        cl.ok("all_member_push", "im_get_attr_name", {})

    def test_tls_handshake_abandoned_is_harmless(self):
        s = socket.create_connection(("127.0.0.1", self.srv.tls_port), timeout=5)
        s.sendall(b"\x16\x03\x01\x00\x05hello")
        s.close()
        cl = self.srv.https_client()
        self.addCleanup(cl.close)
        cl.ok("all_member_push", "im_get_attr_name", {})

    def test_https_pipelining(self):
        ctx = ssl.create_default_context(cafile=self.srv.cert)
        raw = socket.create_connection(("127.0.0.1", self.srv.tls_port), timeout=IO_TIMEOUT)
        s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        self.addCleanup(s.close)
        r = RawHTTP.__new__(RawHTTP)
        r.sock, r.buf = s, b""
        r.send(b"".join(http_request_bytes(api_target(), b"{}") for _ in range(3)))
        for i in range(3):
            status, _, body = r.read_response()
            self.assertEqual(status, 200, short(body))


if __name__ == "__main__":
    unittest.main()
