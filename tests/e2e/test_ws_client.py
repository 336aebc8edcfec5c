"""Self-test of imcast_ws.WSClient against a tiny RFC 6455 server written here, so that the
push suite's failures can be trusted to be the server's. Needs no imcastd.

The in-test server (MiniServer) accepts connections on 127.0.0.1:0 and runs a scripted
handler per connection in its own thread; the handler checks what the client sends
(masking, opcodes, fragmentation) and records problems, which the test then asserts.
"""
import base64
import hashlib
import json
import os
import shutil
import socket
import ssl
import struct
import tempfile
import threading
import time
import unittest
import urllib.parse

from imcast_harness import KEY, SDKAPPID, make_cert, usersig
from imcast_ws import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, ReceiverGroup,
                       WSClient, WSClosed, WSError, WSProtocolError, WSRefused, WSTimeout,
                       accept_key, encode_frame, mask_bytes, open_receivers)

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Peer:
    """The server side of one connection, for handlers."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.path = None
        self.headers = {}

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("client closed")
        self.buf += chunk

    def read_request(self):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, self.path, version = lines[0].split(" ")
        assert method == "GET" and version == "HTTP/1.1", lines[0]
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        return self.path, self.headers

    def query(self):
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query,
                                           keep_blank_values=True))

    def accept(self, then=b"", accept=None, hello=True):
        key = self.headers["sec-websocket-key"]
        assert len(base64.b64decode(key)) == 16
        if accept is None:
            accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        resp = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Accept: %s\r\n\r\n" % accept).encode()
        if hello:
            then = frame(OP_TEXT, json.dumps({"Event": "Hello", "UserID": self.query().get("identifier"),
                                              "ServerTime": int(time.time()), "PingSec": 30})) + then
        self.sock.sendall(resp + then)

    def refuse(self, status, body, chunked=False):
        if chunked:
            data = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
            head = "HTTP/1.1 %d No\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" % status
        else:
            data = body
            head = "HTTP/1.1 %d No\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % (status, len(body))
        self.sock.sendall(head.encode() + data)

    def send(self, data):
        self.sock.sendall(data)

    def recv_frame(self):
        """(fin, opcode, masked, payload unmasked)."""
        while len(self.buf) < 2:
            self._fill()
        b0, b1 = self.buf[0], self.buf[1]
        n = b1 & 0x7F
        pos = 2
        if n == 126:
            while len(self.buf) < 4:
                self._fill()
            n = struct.unpack("!H", self.buf[2:4])[0]
            pos = 4
        elif n == 127:
            while len(self.buf) < 10:
                self._fill()
            n = struct.unpack("!Q", self.buf[2:10])[0]
            pos = 10
        masked = bool(b1 & 0x80)
        key = b""
        if masked:
            while len(self.buf) < pos + 4:
                self._fill()
            key = self.buf[pos:pos + 4]
            pos += 4
        while len(self.buf) < pos + n:
            self._fill()
        payload = self.buf[pos:pos + n]
        self.buf = self.buf[pos + n:]
        if masked:
            payload = mask_bytes(key, payload)
        return bool(b0 & 0x80), b0 & 0x0F, masked, payload, (b0 >> 4) & 7

    def recv_json(self):
        fin, op, masked, payload, rsv = self.recv_frame()
        assert fin and op == OP_TEXT and masked and rsv == 0, (fin, op, masked, rsv)
        return json.loads(payload.decode())


def frame(op, payload, fin=True, mask=False, rsv=0):
    return encode_frame(op, payload, mask=mask, fin=fin, rsv=rsv)


def close_payload(code, reason=""):
    return struct.pack("!H", code) + reason.encode()


class MiniServer:
    def __init__(self, handler, tls=None):
        self.handler = handler
        self.errors = []
        self.results = []
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(256)
        self.port = self.lsock.getsockname()[1]
        self.tls = tls
        self.threads = []
        self.done = 0
        self.cond = threading.Condition()
        self.stopping = False
        self.t = threading.Thread(target=self._accept_loop, daemon=True)
        self.t.start()

    def _accept_loop(self):
        while not self.stopping:
            try:
                s, _ = self.lsock.accept()
            except OSError:
                return
            th = threading.Thread(target=self._run, args=(s,), daemon=True)
            th.start()
            self.threads.append(th)

    def _run(self, s):
        try:
            s.settimeout(10)
            if self.tls is not None:
                s = self.tls.wrap_socket(s, server_side=True)
            p = Peer(s)
            p.read_request()
            r = self.handler(p)
            if r is not None:
                self.results.append(r)
        except EOFError:
            pass
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.errors.append(repr(e))
        finally:
            try:
                s.close()
            except OSError:
                pass
            with self.cond:
                self.done += 1
                self.cond.notify_all()

    def join(self, n=1, timeout=5):
        """Waits until n handlers have finished."""
        with self.cond:
            self.cond.wait_for(lambda: self.done >= n, timeout)

    def close(self):
        self.stopping = True
        self.lsock.close()


class WSClientSelfTest(unittest.TestCase):

    def serve(self, handler, tls=None):
        srv = MiniServer(handler, tls)
        self.addCleanup(srv.close)
        return srv

    def client(self, srv, user="u1", **kw):
        c = WSClient(srv.port, user, **kw)
        self.addCleanup(c.abort)
        return c

    def check(self, srv):
        srv.join()
        self.assertEqual(srv.errors, [])

    # ---------------------------------------------------------------- handshake
    def test_upgrade_request_and_hello(self):
        def h(p):
            q = p.query()
            assert p.headers["upgrade"].lower() == "websocket", p.headers
            assert "upgrade" in p.headers["connection"].lower()
            assert p.headers["sec-websocket-version"] == "13"
            assert p.headers["host"].startswith("127.0.0.1:")
            assert p.path.startswith("/v4/ws?"), p.path
            # every value percent-encoded: '*' of the UserSig alphabet travels as %2A
            assert "*" not in p.path.split("usersig=", 1)[1]
            p.accept()
            return q
        srv = self.serve(h)
        user = "用户 a&b=c"
        sig = usersig(KEY, SDKAPPID, user)
        while "*" not in sig:           # make sure the sig has a '*' to encode
            sig = usersig(KEY, SDKAPPID, user, now=int(time.time()) - int.from_bytes(os.urandom(2), "big"))
        c = self.client(srv, user, sig=sig).connect()
        self.assertEqual(c.hello["Event"], "Hello")
        self.assertEqual(c.hello["UserID"], user)
        self.check(srv)
        self.assertEqual(srv.results[0], {"sdkappid": str(SDKAPPID), "identifier": user, "usersig": sig})

    def test_accept_key_rfc_example(self):
        self.assertEqual(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")  # RFC 6455 §1.3

    def test_wrong_accept_is_an_error(self):
        srv = self.serve(lambda p: p.accept(accept="s3pPLMBiTxaQ9kYGJRzZRBfK4CQ="))
        with self.assertRaises(WSProtocolError):
            self.client(srv).connect()

    def test_refused_with_json_body(self):
        body = json.dumps({"ActionStatus": "FAIL", "ErrorInfo": "bad sig", "ErrorCode": 70009}).encode()
        srv = self.serve(lambda p: p.refuse(401, body))
        with self.assertRaises(WSRefused) as cm:
            self.client(srv).connect()
        self.assertEqual(cm.exception.status, 401)
        self.assertEqual(cm.exception.json["ErrorCode"], 70009)
        self.assertEqual(cm.exception.body, body)

    def test_refused_chunked_body(self):
        body = b'{"ActionStatus":"FAIL","ErrorInfo":"x","ErrorCode":70001}'
        srv = self.serve(lambda p: p.refuse(403, body, chunked=True))
        with self.assertRaises(WSRefused) as cm:
            self.client(srv).connect()
        self.assertEqual((cm.exception.status, cm.exception.json["ErrorCode"]), (403, 70001))

    def test_first_event_must_be_hello(self):
        def h(p):
            p.accept(hello=False, then=frame(OP_TEXT, '{"Event":"Msg","Seq":1}'))
            time.sleep(0.3)
        srv = self.serve(h)
        with self.assertRaises(WSError):
            self.client(srv).connect()
        c = self.client(srv).connect(expect_hello=False)
        self.assertEqual(c.recv_event()["Event"], "Msg")

    def test_frames_in_the_same_segment_as_the_101(self):
        # the Hello and a catch-up message come with the 101 in one send
        srv = self.serve(lambda p: (p.accept(then=frame(OP_TEXT, '{"Event":"Msg","Seq":7}')),
                                    time.sleep(0.3)))
        c = self.client(srv).connect()
        self.assertEqual(c.expect_event("Msg")["Seq"], 7)

    # ---------------------------------------------------------------- receiving
    def test_lengths_7_16_64_bit(self):
        sizes = [0, 1, 125, 126, 127, 65535, 65536, 300000]
        def h(p):
            p.accept()
            for n in sizes:
                p.send(frame(OP_TEXT, json.dumps({"Event": "Msg", "Pad": "x" * max(0, n)})))
            time.sleep(0.5)
        srv = self.serve(h)
        c = self.client(srv).connect()
        for n in sizes:
            self.assertEqual(len(c.expect_event("Msg")["Pad"]), n)
        self.check(srv)

    def test_byte_by_byte_delivery(self):
        def h(p):
            p.accept()
            data = frame(OP_TEXT, '{"Event":"Msg","Seq":1}') + frame(OP_TEXT, '{"Event":"Msg","Seq":2}')
            for i in range(len(data)):
                p.send(data[i:i + 1])
                time.sleep(0.002)
            time.sleep(0.3)
        srv = self.serve(h)
        c = self.client(srv).connect()
        self.assertEqual([c.expect_event("Msg")["Seq"] for _ in range(2)], [1, 2])

    def test_fragments_with_a_ping_between_and_pong_echo(self):
        def h(p):
            p.accept()
            text = json.dumps({"Event": "Msg", "Text": "分片 message"}).encode()
            a, b, cc = text[:5], text[5:9], text[9:]      # split inside a UTF-8 sequence too
            p.send(frame(OP_TEXT, a, fin=False))
            p.send(frame(OP_PING, b"ping-1"))
            p.send(frame(OP_CONT, b, fin=False))
            p.send(frame(OP_CONT, cc, fin=True))
            fin, op, masked, payload, rsv = p.recv_frame()
            assert (fin, op, masked, payload) == (True, OP_PONG, True, b"ping-1"), (fin, op, masked, payload)
            return "pong ok"
        srv = self.serve(h)
        c = self.client(srv).connect()
        self.assertEqual(c.expect_event("Msg")["Text"], "分片 message")
        self.check(srv)
        self.assertEqual(srv.results, ["pong ok"])
        self.assertEqual(c.pings, [b"ping-1"])

    def test_close_code_and_reason_and_echo(self):
        def h(p):
            p.accept()
            p.send(frame(OP_TEXT, '{"Event":"Kicked","Reason":"by admin"}'))
            p.send(frame(OP_CLOSE, close_payload(4001, "kicked")))
            fin, op, masked, payload, rsv = p.recv_frame()
            assert op == OP_CLOSE and masked and payload[:2] == struct.pack("!H", 4001), (op, payload)
            return "echoed"
        srv = self.serve(h)
        c = self.client(srv).connect()
        self.assertEqual(c.expect_event("Kicked")["Reason"], "by admin")
        self.assertEqual(c.expect_close(4001), (4001, "kicked"))
        self.check(srv)
        self.assertEqual(srv.results, ["echoed"])
        with self.assertRaises(WSClosed):
            c.recv_event(0.2)

    def test_close_without_code(self):
        srv = self.serve(lambda p: (p.accept(), p.send(frame(OP_CLOSE, b"")), time.sleep(0.2)))
        c = self.client(srv).connect()
        self.assertEqual(c.wait_closed(), (1005, ""))

    def test_eof_without_close_is_1006(self):
        srv = self.serve(lambda p: p.accept())
        c = self.client(srv).connect()
        self.assertEqual(c.wait_closed()[0], 1006)

    def test_messages_before_close_kept(self):
        srv = self.serve(lambda p: (p.accept(), p.send(frame(OP_TEXT, '{"Event":"Revoke","Seq":3}')
                                                       + frame(OP_CLOSE, close_payload(1001)))))
        c = self.client(srv).connect()
        self.assertEqual(c.expect_close([1000, 1001]), (1001, ""))
        self.assertEqual(c.skipped, [{"Event": "Revoke", "Seq": 3}])

    def test_protocol_violations_are_caught(self):
        cases = [frame(OP_TEXT, '{"a":1}', mask=True),              # masked server frame
                 frame(OP_TEXT, '{"a":1}', rsv=4),                   # RSV bit
                 frame(OP_CONT, '{"a":1}'),                          # nothing to continue
                 frame(OP_PING, b"x" * 126),                         # control frame too long
                 frame(OP_PING, b"x", fin=False),                    # fragmented control frame
                 frame(OP_TEXT, b"\xff\xfe"),                        # not UTF-8
                 frame(OP_BINARY, b"\x00\x01"),                      # binary: not the protocol
                 frame(OP_TEXT, b"{", fin=False) + frame(OP_TEXT, b"}"),  # text inside a text
                 frame(OP_CLOSE, close_payload(1006)),               # 1006 is never sent
                 frame(OP_CLOSE, b"\x03")]                           # 1-byte close payload
        for i, bad in enumerate(cases):
            with self.subTest(case=i):
                srv = self.serve(lambda p, bad=bad: (p.accept(), p.send(bad), time.sleep(0.3)))
                c = self.client(srv).connect()
                with self.assertRaises(WSProtocolError):
                    c.recv_event(2)

    # ---------------------------------------------------------------- timing helpers
    def test_no_event_and_timeouts(self):
        def h(p):
            p.accept()
            time.sleep(1.2)
            p.send(frame(OP_TEXT, '{"Event":"Msg","Seq":1}'))
            time.sleep(0.5)
        srv = self.serve(h)
        c = self.client(srv).connect()
        t0 = time.monotonic()
        c.no_event(0.3)
        self.assertGreaterEqual(time.monotonic() - t0, 0.29)
        with self.assertRaises(WSTimeout):
            c.recv_event(0.1)
        with self.assertRaises(WSError):
            c.no_event(3.0)          # the Msg comes at ~1.2 s
        self.assertEqual(c.recv_event()["Seq"], 1)   # and is still there to read

    def test_no_event_fails_on_close(self):
        srv = self.serve(lambda p: (p.accept(), time.sleep(0.1), p.send(frame(OP_CLOSE, close_payload(1000)))))
        c = self.client(srv).connect()
        with self.assertRaises(WSError):
            c.no_event(1.0)

    def test_expect_event_checks_name_and_fields(self):
        srv = self.serve(lambda p: (p.accept(), p.send(frame(OP_TEXT, '{"Event":"Msg","Seq":5}') * 3),
                                    time.sleep(0.3)))
        c = self.client(srv).connect()
        with self.assertRaises(WSError):
            c.expect_event("Revoke")
        with self.assertRaises(WSError):
            c.expect_event("Msg", Seq=6)
        self.assertEqual(c.expect_event("Msg", Seq=5)["Seq"], 5)

    # ---------------------------------------------------------------- sending
    def test_client_frames_are_masked_and_well_formed(self):
        def h(p):
            p.accept()
            got = [p.recv_json(), p.recv_json()]
            fin, op, masked, payload, rsv = p.recv_frame()          # ping
            assert (op, masked, payload) == (OP_PING, True, b"hb"), (op, masked, payload)
            p.send(frame(OP_PONG, b"hb"))
            big = p.recv_json()
            assert len(big["Pad"]) == 70000
            raws = [p.recv_frame() for _ in range(3)]
            fin, op, masked, payload, rsv = p.recv_frame()          # close
            assert op == OP_CLOSE and masked and payload == close_payload(1000, "bye"), payload
            p.send(frame(OP_CLOSE, payload[:2]))
            return got, raws
        srv = self.serve(h)
        c = self.client(srv).connect()
        c.ack(42)
        c.send_json({"Event": "X", "Text": "é"})
        c.ping(b"hb")
        self.assertEqual(c.expect_pong(b"hb"), b"hb")
        c.send_json({"Event": "Big", "Pad": "p" * 70000})
        c.send_raw_frame(OP_BINARY, b"\x01\x02")
        c.send_raw_frame(OP_TEXT, b"part", fin=False, mask=False)
        c.send_raw_frame(OP_CONT, b"", rsv=2)
        self.assertEqual(c.close(1000, "bye"), 1000)
        self.check(srv)
        got, raws = srv.results[0]
        self.assertEqual(got, [{"Event": "Ack", "Seq": 42}, {"Event": "X", "Text": "é"}])
        self.assertEqual([(r[1], r[2], r[3]) for r in raws],
                         [(OP_BINARY, True, b"\x01\x02"), (OP_TEXT, False, b"part"), (OP_CONT, True, b"")])
        self.assertEqual([r[0] for r in raws], [True, False, True])
        self.assertEqual(raws[2][4], 2)

    def test_masks_differ(self):
        a = encode_frame(OP_TEXT, b"same payload")
        b = encode_frame(OP_TEXT, b"same payload")
        self.assertNotEqual(a, b)
        self.assertEqual(encode_frame(OP_TEXT, b"abc", mask_key=b"\x00\x00\x00\x00"),
                         b"\x81\x83\x00\x00\x00\x00abc")

    # ---------------------------------------------------------------- many, TLS
    def test_open_receivers_at_once(self):
        def h(p):
            p.accept()
            ev = p.recv_json()
            p.send(frame(OP_TEXT, json.dumps({"Event": "Msg", "Seq": ev["Seq"],
                                              "To": p.query()["identifier"]})))
            time.sleep(4.0)

        srv = self.serve(h)

        class FakeServer:          # what imcast_ws.connect() needs of a harness Server
            port = srv.port
            tls_port = None
            key = KEY
            sdkappid = SDKAPPID
            cert = None

            def context(self):
                return ""

        users = ["m%03d" % i for i in range(120)]
        g = open_receivers(FakeServer(), users)
        self.addCleanup(g.abort)
        self.assertIsInstance(g, ReceiverGroup)
        self.assertEqual([c.user for c in g], users)
        for i, c in enumerate(g):
            c.ack(i)
        evs = g.expect_all("Msg")
        self.assertEqual([(e["Seq"], e["To"]) for e in evs], [(i, u) for i, u in enumerate(users)])
        g.no_event(0.2)

    def test_wss(self):
        if not shutil.which("openssl"):
            self.skipTest("no openssl command")
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp, True)
        cert, key = make_cert(tmp)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)

        def h(p):
            p.accept(then=frame(OP_TEXT, '{"Event":"Msg","Seq":9}'))
            return p.recv_json()
        srv = self.serve(h, tls=ctx)
        c = self.client(srv, tls_cafile=cert).connect()
        self.assertEqual(c.expect_event("Msg")["Seq"], 9)
        c.ack(9)
        self.check(srv)
        self.assertEqual(srv.results, [{"Event": "Ack", "Seq": 9}])


if __name__ == "__main__":
    unittest.main()
