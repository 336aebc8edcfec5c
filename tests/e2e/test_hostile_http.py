"""Hostile HTTP: what an attacker on the REST side can send, and what imcastd must do.

Every case here ends with one of two outcomes for the hostile connection — a clear answer
(400/408/413/431 with the 60002 envelope and Connection: close, then the close) or a plain
close — while the server keeps answering everyone else promptly and its memory stays
bounded. test_http.py covers the well-formed limits (431/413 boundaries, keep-alive,
pipelining); this file is about abuse: random bytes, truncation, numeric overflow in
Content-Length and chunk sizes, garbage pipelined behind a valid request, slowloris,
thousands of idle sockets, a connect/close flood, and a client that pipelines without
ever reading its answers.

Readings and decisions tested (documented here because the contract is silent):
  - A Content-Length or chunk size that overflows 64 bits is malformed (400); one that
    fits but passes the 1 MiB body limit is 413. Both are answered before any body byte.
  - --request-timeout-ms 2000: a request must be complete 2 s after its first byte
    (slowloris gets 408 and the close, whether it dribbles the head or the body).
  - Memory is read from /proc/<pid>/status VmRSS; bounds are generous (ASan builds keep a
    quarantine of freed memory, so the server is started with a small one).
"""
import concurrent.futures
import json
import os
import random
import socket
import struct
import threading
import time
import unittest

from imcast_harness import (ADMIN, BOUNDED_MEMORY_ENV, KEY, RSS_SLACK_MB, SDKAPPID,
                            ServerTestCase, check_envelope, http_request_bytes, short, usersig,
                            vm_rss_mb)

REQUEST_TIMEOUT_MS = 2000
ERROR_STATUSES = (400, 408, 413, 431)


def api_target(service="all_member_push", command="im_get_attr_name"):
    return ("/v4/%s/%s?sdkappid=%d&identifier=%s&usersig=%s&random=1&contenttype=json"
            % (service, command, SDKAPPID, ADMIN, usersig(KEY, SDKAPPID, ADMIN)))


def parse_response(data):
    """(status, headers, body, rest) of the first response in data, or None if incomplete."""
    if b"\r\n\r\n" not in data:
        return None
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise AssertionError("bad status line %r" % lines[0])
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    n = int(hdrs.get("content-length", "0"))
    if len(rest) < n:
        return None
    return int(parts[1]), hdrs, rest[:n], rest[n:]


def read_until_close(sock, timeout):
    """Everything the server sends until it closes. Returns (data, closed); closed is False
    when the deadline passed first."""
    data = b""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return data, False
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, TimeoutError):
            return data, False
        except (ConnectionResetError, ConnectionAbortedError):
            return data, True
        if not chunk:
            return data, True
        data += chunk


def all_responses(data):
    out = []
    while True:
        r = parse_response(data)
        if r is None:
            return out, data
        status, hdrs, body, data = r
        out.append((status, hdrs, body))


def count_responses(sock, n, timeout):
    """Reads up to n responses (Content-Length framed) without keeping them; returns
    (count, statuses seen)."""
    buf = bytearray()
    pos = 0
    got = 0
    statuses = set()
    deadline = time.monotonic() + timeout
    need_body = None
    while got < n and time.monotonic() < deadline:
        if need_body is None:
            i = buf.find(b"\r\n\r\n", pos)
            if i >= 0:
                head = bytes(buf[pos:i]).decode("latin-1").split("\r\n")
                statuses.add(int(head[0].split(" ")[1]))
                length = 0
                for ln in head[1:]:
                    k, _, v = ln.partition(":")
                    if k.strip().lower() == "content-length":
                        length = int(v)
                need_body = (i + 4, length)
                continue
        else:
            start, length = need_body
            if len(buf) - start >= length:
                pos = start + length
                got += 1
                need_body = None
                if pos > (1 << 20):
                    del buf[:pos]
                    pos = 0
                continue
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(1 << 20)
        except (socket.timeout, TimeoutError):
            break
        if not chunk:
            break
        buf += chunk
    return got, statuses


class HostileHttp(ServerTestCase):
    server_kwargs = {"extra": ["--request-timeout-ms", str(REQUEST_TIMEOUT_MS)],
                     "env": BOUNDED_MEMORY_ENV}

    # ------------------------------------------------------------------ helpers
    def connect(self, timeout=10):
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=timeout)
        self.addCleanup(s.close)
        return s

    def rss(self):
        return vm_rss_mb(self.srv.proc.pid)

    def assert_alive_and_prompt(self, what, limit=2.0):
        self.assertTrue(self.srv.alive(), "imcastd died after %s%s" % (what, self.srv.context(force=True)))
        cl = self.srv.new_client()
        try:
            t0 = time.monotonic()
            cl.ok("all_member_push", "im_get_attr_name", {})
            took = time.monotonic() - t0
        finally:
            cl.close()
        self.assertLess(took, limit, "after %s a normal call took %.2fs" % (what, took))

    def assert_error_then_close(self, data, closed, want, what):
        """The connection got exactly the answers `want` (a list of statuses, the last one
        an error answer with the 60002 envelope and Connection: close) and then the close."""
        self.assertTrue(closed, "%s: the server did not close the connection; got %s%s"
                        % (what, short(data), self.srv.context()))
        answers, rest = all_responses(data)
        self.assertEqual([a[0] for a in answers], list(want),
                         "%s: answers %s (want %s)%s" % (what, short(data), want, self.srv.context()))
        self.assertEqual(rest, b"", "%s: trailing bytes after the answers: %s" % (what, short(rest)))
        if want and want[-1] != 200:
            status, hdrs, body = answers[-1]
            doc = json.loads(body.decode("utf-8"))
            check_envelope(doc, what)
            self.assertEqual((doc["ActionStatus"], doc["ErrorCode"]), ("FAIL", 60002), short(doc))
            self.assertTrue(doc["ErrorInfo"].strip(), short(doc))
            self.assertEqual(hdrs.get("connection", "").lower(), "close", "%s: %s" % (what, hdrs))
        return answers

    def exchange(self, payload, timeout=6.0, shut=False):
        s = self.connect()
        s.sendall(payload)
        if shut:
            s.shutdown(socket.SHUT_WR)
        return read_until_close(s, timeout)

    # ------------------------------------------------------------------ random bytes
    def test_random_bytes(self):
        rng = random.Random(20251126)
        prefix = b"POST /v4/all_member_push/im_get_attr_name HTTP/1.1\r\n"
        payloads = []
        for i in range(300):
            n = rng.choice((1, 7, 64, 500, 4096, 20000))
            junk = bytes(rng.getrandbits(8) for _ in range(n))
            if i % 3 == 1:
                junk = prefix + junk                  # garbage inside a header block
            elif i % 3 == 2:
                junk = junk.replace(b"\r", b"").replace(b"\n", b"") + b"\r\n\r\n"
            payloads.append(junk)

        def one(p):
            s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=10)
            try:
                try:
                    s.sendall(p)
                    s.shutdown(socket.SHUT_WR)
                except (BrokenPipeError, ConnectionResetError):
                    pass                               # refused before it had all of it
                return read_until_close(s, 8)
            finally:
                s.close()

        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            results = list(ex.map(one, payloads))
        seen = {}
        for p, (data, closed) in zip(payloads, results):
            self.assertTrue(closed, "no close after random bytes %s: got %s" % (short(p, 80), short(data)))
            answers, _ = all_responses(data)
            for status, hdrs, body in answers:
                self.assertIn(status, ERROR_STATUSES, "random bytes %s answered %d: %s"
                              % (short(p, 80), status, short(body)))
                doc = json.loads(body.decode("utf-8"))
                self.assertEqual(doc.get("ErrorCode"), 60002, short(doc))
                seen[status] = seen.get(status, 0) + 1
            if not answers:
                seen["close"] = seen.get("close", 0) + 1
        if os.environ.get("IMCAST_E2E_VERBOSE"):
            print("\n  random bytes: %s" % seen)
        self.assert_alive_and_prompt("300 connections of random bytes")

    # ------------------------------------------------------------------ truncation
    def test_truncated_head_and_body_then_vanish(self):
        full = http_request_bytes(api_target(), b'{"To_Account":["x"]}')
        for cut in (1, 5, 30, len(full) // 2, len(full) - 3):
            s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=5)
            s.sendall(full[:cut])
            if cut % 2:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()                                 # FIN, or RST for odd cuts
        self.assert_alive_and_prompt("truncated requests")

    def test_truncated_head_waits_then_408(self):
        full = http_request_bytes(api_target(), b"{}")
        t0 = time.monotonic()
        data, closed = self.exchange(full[:40], timeout=REQUEST_TIMEOUT_MS / 1000 + 5)
        took = time.monotonic() - t0
        self.assert_error_then_close(data, closed, [408], "a head that stops after 40 bytes")
        self.assertGreater(took, REQUEST_TIMEOUT_MS / 1000 - 0.5, "408 came too early")

    def test_truncated_body_waits_then_408(self):
        head = ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" % api_target()).encode()
        data, closed = self.exchange(head + b'{"To_Account":', timeout=REQUEST_TIMEOUT_MS / 1000 + 5)
        self.assert_error_then_close(data, closed, [408], "a body that stops at 14 of 1000 bytes")

    def test_truncated_body_then_eof(self):
        head = ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" % api_target()).encode()
        data, closed = self.exchange(head + b'{"x":1', shut=True)
        self.assertTrue(closed, "a half-closed truncated request must be closed: %s" % short(data))
        answers, _ = all_responses(data)
        self.assertTrue(all(a[0] in ERROR_STATUSES for a in answers), short(data))
        self.assert_alive_and_prompt("a truncated body and EOF")

    # ------------------------------------------------------------------ oversized
    def test_oversized_heads_and_bodies(self):
        t = api_target()
        cases = [
            ("one 20 KB header", http_request_bytes(t, b"{}", ["X-A: " + "a" * 20000]), 431),
            ("5000 tiny headers", http_request_bytes(t, b"{}", ["X%d: y" % i for i in range(5000)]), 431),
            ("1 MB request line", ("POST /%s HTTP/1.1\r\n\r\n" % ("u" * 1000000)).encode(), 431),
            ("a 64 KB header name", ("POST %s HTTP/1.1\r\n%s: v\r\n\r\n" % (t, "N" * 65536)).encode(), 431),
            ("16 KB of blank lines before the request", b"\r\n" * 9000 + http_request_bytes(t, b"{}"), 431),
            ("2 MB body", http_request_bytes(t, b"[" + b" " * (2 * 1024 * 1024) + b"]"), 413),
            ("2 MB chunked body",
             ("POST %s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" % t).encode()
             + b"".join(b"10000\r\n" + b" " * 0x10000 + b"\r\n" for _ in range(32)) + b"0\r\n\r\n", 413),
        ]
        for name, payload, want in cases:
            with self.subTest(case=name):
                s = self.connect()
                try:
                    s.sendall(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass            # answered and closed before the rest was read: fine
                data, closed = read_until_close(s, 6)
                self.assert_error_then_close(data, closed, [want], name)
        self.assert_alive_and_prompt("oversized requests")

    # ------------------------------------------------------------------ numbers that overflow
    def test_huge_content_length_and_chunk_sizes(self):
        t = api_target()

        def with_length(value):
            return ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %s\r\n\r\n{}" % (t, value)).encode()

        def chunked(size_line):
            return ("POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%s\r\n"
                    % (t, size_line)).encode()

        cases = [
            ("Content-Length 2^64-1", with_length("18446744073709551615"), (400, 413)),
            ("Content-Length 2^64 (overflows)", with_length("18446744073709551616"), (400, 413)),
            ("Content-Length of 23 digits", with_length("99999999999999999999999"), (400, 413)),
            ("Content-Length 1 GiB", with_length(str(1 << 30)), (413,)),
            ("Content-Length -1", with_length("-1"), (400,)),
            ("Content-Length 1e3", with_length("1e3"), (400,)),
            ("Content-Length 0x10", with_length("0x10"), (400,)),
            ("two different Content-Lengths",
             ("POST %s HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}" % t).encode(), (400,)),
            ("Content-Length with chunked",
             ("POST %s HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
              % t).encode(), (400,)),
            ("chunk size 2^64-1", chunked("ffffffffffffffff"), (400, 413)),
            ("chunk size of 17 hex digits (overflows)", chunked("1" + "0" * 16), (400, 413)),
            ("chunk size of 40 hex digits", chunked("f" * 40), (400, 413)),
            ("chunk size 2 MiB", chunked("200000"), (413,)),
            ("chunk size not hex", chunked("zz"), (400,)),
            ("chunk size negative", chunked("-1"), (400,)),
        ]
        for name, payload, want in cases:
            with self.subTest(case=name):
                t0 = time.monotonic()
                data, closed = self.exchange(payload)
                took = time.monotonic() - t0
                answers, _ = all_responses(data)
                self.assertEqual(len(answers), 1, "%s: want one answer, got %s%s"
                                 % (name, short(data), self.srv.context()))
                self.assertIn(answers[0][0], want, "%s: %s" % (name, short(data)))
                self.assert_error_then_close(data, closed, [answers[0][0]], name)
                self.assertLess(took, 2.0, "%s: answered only after %.1fs (it must not wait for "
                                "a body that is refused anyway)" % (name, took))
        self.assert_alive_and_prompt("overflowing lengths")

    # ------------------------------------------------------------------ pipelining
    def test_garbage_pipelined_after_valid_requests(self):
        good = http_request_bytes(api_target(), b"{}")
        cases = [
            ("valid + garbage", good + b"\x00\xffGARBAGE\r\n\r\n", [200, 400]),
            ("valid + valid + garbage + valid", good + good + b"NOT HTTP AT ALL\r\n\r\n" + good,
             [200, 200, 400]),
            ("valid + random bytes", good + bytes(random.Random(7).getrandbits(8) for _ in range(3000)),
             [200, 400]),
            ("valid + an oversized head", good + http_request_bytes(api_target(), b"{}", ["X: " + "z" * 20000]),
             [200, 431]),
            ("valid + an oversized body", good + http_request_bytes(api_target(), b"[" + b" " * 1100000 + b"]"),
             [200, 413]),
        ]
        for name, payload, want in cases:
            with self.subTest(case=name):
                s = self.connect()
                try:
                    s.sendall(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                data, closed = read_until_close(s, 6)
                answers = self.assert_error_then_close(data, closed, want, name)
                for status, _, body in answers[:-1]:
                    self.assertEqual(json.loads(body)["ErrorCode"], 0, short(body))
        self.assert_alive_and_prompt("garbage after valid requests")

    def test_pipelining_without_reading_is_bounded(self):
        """A client pipelines requests and never reads an answer. The server must stop
        reading from it once its unsent answers pile up (back-pressure), not buffer them
        all: a 30-byte GET of the console page answers tens of KB, so without a bound a
        few MB of requests cost the server GBs. Reading the answers afterwards must get
        every one of them."""
        rss0 = self.rss()
        for path, n in (("/console/", 20000), ("/healthz", 200000)):
            with self.subTest(path=path):
                s = self.connect()
                req = ("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode()
                batch = 500
                sent = [0]

                def sender():
                    try:
                        for _ in range(n // batch):
                            s.sendall(req * batch)
                            sent[0] += batch
                    except OSError:
                        pass

                th = threading.Thread(target=sender, daemon=True)
                th.start()
                th.join(4.0)          # the send blocks once the server stops reading
                grown = 0.0
                for _ in range(20):   # the server works through what it has read
                    grown = max(grown, self.rss() - rss0)
                    time.sleep(0.1)
                self.assertLess(grown, RSS_SLACK_MB,
                                "%s: after %d pipelined requests nobody read, imcastd grew by "
                                "%.0f MB (it buffers every answer)%s"
                                % (path, sent[0], grown, self.srv.context()))
                self.assert_alive_and_prompt("a client that pipelines %s and does not read" % path)
                # now read: every answer arrives, in order, and the sender finishes
                got, statuses = count_responses(s, n, 60)
                self.assertEqual(set(statuses), {200}, "%s: statuses %s" % (path, set(statuses)))
                th.join(5)
                self.assertEqual(got, n, "%s: %d of %d pipelined answers arrived" % (path, got, n))
                s.close()

    # ------------------------------------------------------------------ slowloris
    def _slow_on(self, s, payload, what, results, errors):
        """Sends payload one byte a second on s until the server closes; it must answer 408
        (the request timeout) and close."""
        try:
            t0 = time.monotonic()
            data = b""
            closed = False
            for byte in payload:
                try:
                    s.sendall(bytes([byte]))
                except (BrokenPipeError, ConnectionResetError):
                    more, closed = read_until_close(s, 1.0)
                    data += more
                    break
                more, closed = read_until_close(s, 1.0)
                data += more
                if closed or time.monotonic() - t0 > REQUEST_TIMEOUT_MS / 1000 + 5:
                    break
            took = time.monotonic() - t0
            self.assertTrue(closed, "%s: still open after %.1fs (request timeout %d ms): %s%s"
                            % (what, took, REQUEST_TIMEOUT_MS, short(data), self.srv.context()))
            self.assert_error_then_close(data, True, [408], what)
            self.assertGreater(took, REQUEST_TIMEOUT_MS / 1000 - 1.0, "%s: 408 too early" % what)
            results[what] = took
        except BaseException as e:   # noqa: BLE001 - re-raised by the test
            errors.append((what, e))

    def test_slowloris_head_and_body(self):
        full = http_request_bytes(api_target(), b'{"To_Account":["slow"]}')
        head_end = full.index(b"\r\n\r\n") + 4
        results, errors, threads = {}, [], []
        head = self.connect()
        body = self.connect()
        body.sendall(full[:head_end - 1])      # the head completes with the first slow byte
        for s, payload, name in ((head, full, "the head, a byte a second"),
                                 (body, full[head_end - 1:], "the body, a byte a second")):
            th = threading.Thread(target=self._slow_on, args=(s, payload, name, results, errors))
            th.start()
            threads.append(th)
        # meanwhile everybody else is served at once
        cl = self.srv.new_client()
        self.addCleanup(cl.close)
        worst = 0.0
        while any(t.is_alive() for t in threads):
            t0 = time.monotonic()
            cl.ok("all_member_push", "im_get_attr_name", {})
            worst = max(worst, time.monotonic() - t0)
            time.sleep(0.05)
        for t in threads:
            t.join()
        if errors:
            raise errors[0][1]
        if os.environ.get("IMCAST_E2E_VERBOSE"):
            print("\n  slowloris closed after %s" % {k: round(v, 2) for k, v in results.items()})
        self.assertLess(worst, 1.0, "a normal call took %.2fs during slowloris" % worst)

    # ------------------------------------------------------------------ many sockets
    def test_thousands_of_idle_connections(self):
        n = 2000
        rss0 = self.rss()
        socks = []
        try:
            for i in range(n):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.settimeout(10)
                s.connect(("127.0.0.1", self.srv.port))
                if i % 4 == 1:
                    s.sendall(b"POST /v4/all_member_push/im_get_attr_name HTTP/1.1\r\nHost")  # a started head
                socks.append(s)
            # a normal client still gets prompt answers
            cl = self.srv.new_client()
            self.addCleanup(cl.close)
            times = []
            for _ in range(20):
                t0 = time.monotonic()
                cl.ok("all_member_push", "im_get_attr_name", {})
                times.append(time.monotonic() - t0)
            self.assertLess(max(times), 1.0, "with %d idle sockets a call took %.2fs" % (n, max(times)))
            held = self.rss() - rss0
        finally:
            for s in socks:
                s.close()
        # the started heads time out (408) or see their close; the others are just closed
        deadline = time.monotonic() + 10
        while True:
            conns = self.metric_connections()
            if conns is not None and conns <= 3:
                break
            self.assertLess(time.monotonic(), deadline, "the server still counts %s connections" % conns)
            time.sleep(0.2)
        grown = self.rss() - rss0
        if os.environ.get("IMCAST_E2E_VERBOSE"):
            print("\n  %d idle sockets: +%.1f MB while held, +%.1f MB after" % (n, held, grown))
        self.assertLess(held, RSS_SLACK_MB, "%d idle sockets cost %.0f MB" % (n, held))
        self.assertLess(grown, RSS_SLACK_MB, "after %d idle sockets closed, +%.0f MB" % (n, grown))
        self.assert_alive_and_prompt("%d idle sockets" % n)

    def metric_connections(self):
        st, _, body = self.srv.client.request("GET", "/metrics", b"", headers={})
        for ln in body.decode().splitlines():
            if ln.startswith('imcast_connections{state="http"}'):
                return float(ln.split()[-1])
        return None

    def test_connection_flood(self):
        """5,000 connections opened and closed as fast as possible, in every manner, while a
        prober measures how long normal calls take."""
        n = 5000
        rss0 = self.rss()
        good = http_request_bytes(api_target(), b"{}")
        stop = threading.Event()
        lat = []

        def prober():
            cl = self.srv.new_client()
            try:
                while not stop.is_set():
                    t0 = time.monotonic()
                    cl.ok("all_member_push", "im_get_attr_name", {})
                    lat.append(time.monotonic() - t0)
                    time.sleep(0.02)
            finally:
                cl.close()

        outcomes = {}
        lock = threading.Lock()

        def flood(k):
            for i in range(k, n, 8):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.settimeout(10)
                try:
                    s.connect(("127.0.0.1", self.srv.port))
                    mode = i % 5
                    what = "closed"
                    if mode == 0:
                        pass                                            # connect, close
                    elif mode == 1:
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    elif mode == 2:
                        s.sendall(good[:50])                            # half a request
                    elif mode == 3:
                        s.sendall(good)                                 # a request, never read
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    else:
                        s.sendall(good + b"\x01garbage\r\n\r\n")         # answered, then 400
                        data, closed = read_until_close(s, 10)
                        answers, _ = all_responses(data)
                        what = "answered %s" % [a[0] for a in answers]
                        if [a[0] for a in answers] != [200, 400] or not closed:
                            what = "BAD %r closed=%s" % (short(data, 200), closed)
                except OSError as e:
                    what = "error %s" % type(e).__name__
                finally:
                    s.close()
                with lock:
                    outcomes[what] = outcomes.get(what, 0) + 1

        pt = threading.Thread(target=prober)
        pt.start()
        t0 = time.monotonic()
        try:
            with concurrent.futures.ThreadPoolExecutor(8) as ex:
                list(ex.map(flood, range(8)))
        finally:
            stop.set()
            pt.join()
        took = time.monotonic() - t0
        if os.environ.get("IMCAST_E2E_VERBOSE"):
            print("\n  flood of %d in %.1fs: %s; prober max %.3fs over %d calls"
                  % (n, took, outcomes, max(lat or [0]), len(lat)))
        bad = {k: v for k, v in outcomes.items() if not (k == "closed" or k == "answered [200, 400]")}
        self.assertEqual(bad, {}, "flood outcomes: %s" % outcomes)
        self.assertTrue(lat, "the prober got no call through")
        self.assertLess(max(lat), 2.0, "during the flood a normal call took %.2fs" % max(lat))
        deadline = time.monotonic() + 10
        while (self.metric_connections() or 0) > 3:
            self.assertLess(time.monotonic(), deadline, "connections are not released after the flood")
            time.sleep(0.2)
        grown = self.rss() - rss0
        self.assertLess(grown, RSS_SLACK_MB, "after a flood of %d connections, +%.0f MB" % (n, grown))
        self.assert_alive_and_prompt("a flood of %d connections" % n)


if __name__ == "__main__":
    unittest.main()
