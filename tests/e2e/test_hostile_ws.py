"""Hostile receivers: what an end-user device can send on /v4/ws, and what imcastd must do.

test_push_sessions.py already covers the basic refusals (empty, garbage, other key,
tampered, expired, another user's sig, another app) and one of each hostile frame
(binary, over 64 KiB, malformed JSON, unknown Event, unmasked, RSV, unknown opcode, ...).
This file extends them:
  - identity: an admin's UserSig presented for a user, duplicated identifier/usersig
    parameters, a NUL smuggled into the identifier, identifiers that are not UserIDs —
    nobody ever logs in as someone whose UserSig they did not present;
  - frames the parser must survive: lengths with the top bit set or of 2^62 bytes,
    100,000 empty continuation frames, close frames with forbidden codes, Acks with
    negative / string / real / huge / overflowing Seqs, JSON nested 30,000 deep;
  - an Ack for Seqs never sent must not acknowledge pushes that come later;
  - a receiver that pings without ever reading must not make the server buffer pongs
    without bound; receivers that never read are cut at the queue cap while the others
    are served;
  - 1,000 receivers connecting and disconnecting in every manner; the server stays up,
    the steady receiver gets every push, memory stays bounded.

Readings (the contract is silent, these are ours):
  - Refused upgrades are 400 (identifier not a UserID, 70402), 401 or 403 (the 70xxx
    code), always with the JSON envelope; nothing is imported.
  - "u1%00x" is percent-decoded to a C string that ends at the NUL, i.e. "u1": accepted
    only with u1's own UserSig, and Hello says u1. Duplicated parameters: the first wins.
"""
import json
import os
import socket
import struct
import threading
import time
import unittest

from imcast_harness import (ADMIN, BOUNDED_MEMORY_ENV, KEY, RSS_SLACK_MB, SDKAPPID,
                            ServerTestCase, short, uid, usersig, vm_rss_mb)
from imcast_ws import (LOGIN, OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_TEXT, PushMixin,
                       WSClient, WSError, WSRefused, connect, encode_frame, ws_target)


class HostileBase(PushMixin, ServerTestCase):
    server_kwargs = {"env": BOUNDED_MEMORY_ENV}

    def fresh(self, n=1, prefix="hw"):
        users = [uid(prefix) for _ in range(n)]
        self.import_accounts(*users)
        return users

    def rss(self):
        return vm_rss_mb(self.srv.proc.pid)

    def quiet(self, *clients):
        """A MsgLifeTime-0 push to all; each client's next event must be it."""
        tid = self.push("sentinel")
        for c in clients:
            ev = c.expect_event("Msg")
            self.assertEqual(ev.get("TaskId"), tid, "%s: want nothing before the sentinel, got %s"
                             % (c.user, short(c.last_text)))
        return tid

    def metric(self, name, labels=""):
        st, _, body = self.srv.client.request("GET", "/metrics", b"", headers={})
        for ln in body.decode().splitlines():
            if ln.startswith(name + labels + " "):
                return float(ln.split()[-1])
        return None


class Identity(HostileBase):

    def refused(self, target, statuses=(401, 403), codes=None, user="x"):
        c = WSClient(self.srv.port, user, sig="unused", target=target, server=self.srv)
        with self.assertRaises(WSRefused, msg="upgrade %s was accepted" % short(target, 200)) as cm:
            c.connect()
        e = cm.exception
        self.assertIn(e.status, statuses, "%s: HTTP %d %s" % (short(target, 200), e.status, short(e.body)))
        self.assertIsInstance(e.json, dict, "refusal without the envelope: %s" % short(e.body))
        self.assertEqual(e.json.get("ActionStatus"), "FAIL", short(e.body))
        self.assertTrue(e.json.get("ErrorInfo"), short(e.body))
        self.assertNotEqual(e.json.get("ErrorCode"), 91000, short(e.body))
        if codes is not None:
            self.assertIn(e.json.get("ErrorCode"), codes, short(e.body))
        return e

    def test_admin_sig_cannot_log_in_as_a_user(self):
        (u,) = self.fresh()
        admin_sig = usersig(KEY, SDKAPPID, ADMIN)
        self.refused(ws_target(SDKAPPID, u, admin_sig), (403,), (70013,))
        # nor the other way round: a user's sig is not an admin's
        self.refused(ws_target(SDKAPPID, ADMIN, usersig(KEY, SDKAPPID, u)), (403,), (70013,))

    def test_duplicated_parameters_never_switch_identity(self):
        victim, attacker = self.fresh(2)
        asig, vsig = usersig(KEY, SDKAPPID, attacker), usersig(KEY, SDKAPPID, victim)
        for name, q in [
            ("identifier twice, victim first", [("identifier", victim), ("identifier", attacker), ("usersig", asig)]),
            ("identifier twice, attacker first", [("identifier", attacker), ("identifier", victim), ("usersig", asig)]),
            ("usersig twice", [("identifier", victim), ("usersig", asig), ("usersig", vsig)]),
        ]:
            with self.subTest(case=name):
                target = "/v4/ws?sdkappid=%d&" % SDKAPPID + "&".join("%s=%s" % kv for kv in q)
                c = WSClient(self.srv.port, attacker, sig=asig, target=target, server=self.srv)
                try:
                    c.connect()
                except WSRefused as e:
                    self.assertIn(e.status, (400, 401, 403), short(e.body))
                    continue
                self.addCleanup(c.abort)
                self.assertEqual(c.hello["UserID"], attacker,
                                 "%s: logged in as %s with %s's UserSig" % (name, c.hello["UserID"], attacker))

    def test_percent_00_is_not_a_nul(self):
        # "%00" stays those three characters: decoded, the NUL would cut the identifier
        # and shift every later parameter (regression: usersig was then "missing", and a
        # value could smuggle in a parameter of its own).
        (u,) = self.fresh()
        sig = usersig(KEY, SDKAPPID, u)
        admin_sig = usersig(KEY, SDKAPPID, ADMIN)
        self.refused("/v4/ws?sdkappid=%d&identifier=%s%%00%s&usersig=%s" % (SDKAPPID, u, ADMIN, sig),
                     (403,), (70013,))
        self.refused("/v4/ws?sdkappid=%d&identifier=%s%%00x&usersig=%s" % (SDKAPPID, u, admin_sig),
                     (403,), (70013,))
        smuggled = usersig(KEY, SDKAPPID, u)
        self.refused("/v4/ws?sdkappid=%d&identifier=%s%%00usersig%%00%s&usersig=%s"
                     % (SDKAPPID, u, smuggled, "garbage"), (400, 401, 403))
        self.assertEqual(self.receiver(u).hello["UserID"], u)

    def test_bad_identifiers(self):
        (u,) = self.fresh()
        sig = usersig(KEY, SDKAPPID, u)
        bad = [("missing", "/v4/ws?sdkappid=%d&usersig=%s" % (SDKAPPID, sig)),
               ("empty", ws_target(SDKAPPID, "", sig)),
               ("33 bytes", ws_target(SDKAPPID, "x" * 33, sig)),
               ("a control character", ws_target(SDKAPPID, "a\x01b", sig)),
               ("not UTF-8", "/v4/ws?sdkappid=%d&identifier=%%ff%%fe&usersig=%s" % (SDKAPPID, sig)),
               ("no sdkappid", "/v4/ws?identifier=%s&usersig=%s" % (u, sig)),
               ("sdkappid not a number", ws_target("14e8", u, sig)),
               ("no usersig", "/v4/ws?sdkappid=%d&identifier=%s" % (SDKAPPID, u)),
               ("a 7 KB usersig", ws_target(SDKAPPID, u, "A" * 7000))]
        for name, target in bad:
            with self.subTest(case=name):
                self.refused(target, (400, 401, 403))
        self.assertEqual(self.check_status("x" * 32), {"x" * 32: "NotImported"})

    def test_user_sig_is_not_an_admin_on_rest(self):
        # a receiver's sig, verified (and cached) by a login, does not open the REST API
        (u,) = self.fresh()
        c = self.receiver(u)
        self.assertEqual(c.hello["UserID"], u)
        sig = usersig(KEY, SDKAPPID, u)
        self.fail_call("all_member_push", "im_push",
                       {"MsgRandom": 1, "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "x"}}]},
                       identifier=u, sig=sig, code=90009)
        self.fail_call(LOGIN, "account_import", {"UserID": "made_by_" + u}, identifier=u, sig=sig, code=60010)
        self.assertEqual(self.check_status("made_by_" + u), {"made_by_" + u: "NotImported"})


class Frames(HostileBase):

    def victim(self):
        (u,) = self.fresh(prefix="fv")
        c = self.receiver(u)
        return u, c

    def closes_with(self, send, codes, what):
        u, c = self.victim()
        try:
            send(c)
        except WSError:
            pass
        code, reason = c.expect_close(codes)
        self.wait_status(u, "Offline")
        return code

    def test_frames_the_parser_must_survive(self):
        (b,) = self.fresh(prefix="fb")
        bystander = self.receiver(b)

        def head(b0, b1, ext=b"", mask=b"\x00\x00\x00\x00"):
            return bytes([b0, b1]) + ext + mask

        cases = [
            ("64-bit length with the top bit set", lambda c: c.send_raw(head(0x81, 0xFF, struct.pack("!Q", 1 << 63))), (1002,)),
            ("a 2^62-byte text frame, no payload", lambda c: c.send_raw(head(0x81, 0xFF, struct.pack("!Q", 1 << 62))), (1009,)),
            ("a 2^62-byte continuation", lambda c: (c.send_raw_frame(OP_TEXT, b"{", fin=False),
                                                    c.send_raw(head(0x80, 0xFF, struct.pack("!Q", 1 << 62)))), (1009,)),
            ("65535 bytes, then 2 more in a fragment", lambda c: (c.send_raw_frame(OP_TEXT, b" " * 65535, fin=False),
                                                                   c.send_raw_frame(OP_CONT, b"  ")), (1009,)),
            ("close with code 999", lambda c: c.send_raw_frame(OP_CLOSE, struct.pack("!H", 999)), (1002,)),
            ("close with code 1005", lambda c: c.send_raw_frame(OP_CLOSE, struct.pack("!H", 1005)), (1002,)),
            ("close with code 5000", lambda c: c.send_raw_frame(OP_CLOSE, struct.pack("!H", 5000)), (1002,)),
            ("close with 1 byte", lambda c: c.send_raw_frame(OP_CLOSE, b"\x03"), (1002,)),
            ("close reason not UTF-8", lambda c: c.send_raw_frame(OP_CLOSE, struct.pack("!H", 1000) + b"\xc3\x28"), (1007,)),
            ("text frame inside a fragmented message", lambda c: (c.send_raw_frame(OP_TEXT, b"{", fin=False),
                                                                  c.send_raw_frame(OP_TEXT, b"{}")), (1002,)),
            ("binary continuation of nothing", lambda c: c.send_raw_frame(OP_CONT, b"", fin=True), (1002,)),
            ("bad UTF-8 split across fragments", lambda c: (c.send_raw_frame(OP_TEXT, b'{"Event":"\xe2\x82', fin=False),
                                                            c.send_raw_frame(OP_CONT, b'"}')), (1007,)),
            ("overlong UTF-8", lambda c: c.send_raw_frame(OP_TEXT, b'{"Event":"\xc0\xaf"}'), (1007,)),
            ("UTF-16 surrogate in UTF-8", lambda c: c.send_raw_frame(OP_TEXT, b'{"Event":"\xed\xa0\x80"}'), (1007,)),
            ("JSON nested 30,000 deep", lambda c: c.send_text("[" * 30000 + "]" * 30000), (1008,)),
            ("JSON null", lambda c: c.send_text("null"), (1008,)),
            ("Event not a string", lambda c: c.send_json({"Event": 123, "Seq": 1}), (1008,)),
            ("duplicate Event keys", lambda c: c.send_text('{"Event":"Ack","Event":"Ack","Seq":1}'), (1008,)),
            ("Ack without Seq", lambda c: c.send_json({"Event": "Ack"}), (1008,)),
            ("Ack Seq -1", lambda c: c.send_json({"Event": "Ack", "Seq": -1}), (1008,)),
            ("Ack Seq as a string", lambda c: c.send_json({"Event": "Ack", "Seq": "5"}), (1008,)),
            ("Ack Seq 1.5", lambda c: c.send_text('{"Event":"Ack","Seq":1.5}'), (1008,)),
            ("Ack Seq 1e400", lambda c: c.send_text('{"Event":"Ack","Seq":1e400}'), (1008,)),
            ("Ack Seq 2^64", lambda c: c.send_text('{"Event":"Ack","Seq":18446744073709551616}'), (1008,)),
            ("Ack Seq null", lambda c: c.send_text('{"Event":"Ack","Seq":null}'), (1008,)),
            ("Ack Seq true", lambda c: c.send_text('{"Event":"Ack","Seq":true}'), (1008,)),
            ("Ack Seq []", lambda c: c.send_text('{"Event":"Ack","Seq":[1]}'), (1008,)),
            ("event name with a NUL", lambda c: c.send_text('{"Event":"Ack\\u0000","Seq":1}'), (1008,)),
            ("a Hello from the client", lambda c: c.send_json({"Event": "Hello", "UserID": ADMIN}), (1008,)),
        ]
        for name, send, codes in cases:
            with self.subTest(case=name):
                self.closes_with(send, codes, name)
                self.assertTrue(self.srv.alive(), self.srv.context(force=True))
        self.quiet(bystander)

    def test_harmless_oddities(self):
        u, c = self.victim()
        # 100,000 empty continuation frames of one message, then its end: just an Ack
        c.send_raw_frame(OP_TEXT, b'{"Event":"Ack",', fin=False)
        empty = encode_frame(OP_CONT, b"", fin=False)
        c.send_raw(empty * 100000)
        c.send_raw_frame(OP_CONT, b'"Seq":1}')
        # Seqs far past anything sent: ignored
        c.ack(2 ** 63 - 1)
        c.send_text('{"Event":"Ack","Seq":9223372036854775807,"Extra":{"nested":[1,2,3]}}')
        c.ping(b"still here")
        self.assertEqual(c.expect_pong(b"still here"), b"still here")
        self.quiet(c)

    def test_early_ack_does_not_cover_later_pushes(self):
        (u,) = self.fresh()
        c = self.receiver(u)
        c.ack(2 ** 62)                        # before anything was sent
        c.ack(123456789)
        c.ping(b"sync")
        c.expect_pong(b"sync")                # the acks were read before the push
        tid = self.push("after the early acks", lifetime=600)
        ev = c.expect_msg(tid)
        time.sleep(1.3)                        # the acks are saved once a second
        rep = self.report(tid)
        self.assertEqual(rep["Delivered"], 0, "an Ack sent before the push acknowledged it: %s" % short(rep))
        c.close()
        again = self.receiver(u)
        again.expect_msg(tid)                  # still pending
        again.ack(ev["Seq"])
        self.wait_report(tid, lambda r: r["Delivered"] == 1, what="Delivered 1")


class Floods(HostileBase):
    server_kwargs = {"env": BOUNDED_MEMORY_ENV, "extra": ["--ws-queue-cap-bytes", "262144"]}

    def test_ping_flood_without_reading_is_bounded(self):
        """Pings must be answered, but a peer that sends pings and never reads the pongs
        must not make the server buffer pongs without bound."""
        (u, other) = self.fresh(2, prefix="pf")
        watcher = self.receiver(other)
        c = self.receiver(u)
        rss0 = self.rss()
        frame = encode_frame(OP_PING, b"p" * 125) * 2000
        c.sock.settimeout(0.2)
        sent = 0
        t0 = time.monotonic()
        while time.monotonic() - t0 < 4 and sent < 400e6:
            try:
                sent += c.sock.send(frame)
            except (socket.timeout, TimeoutError):
                pass
            except OSError:
                break                         # closed on us: allowed
        grown = max(self.rss() - rss0, 0)
        for _ in range(10):
            time.sleep(0.1)
            grown = max(grown, self.rss() - rss0)
        if os.environ.get("IMCAST_E2E_VERBOSE"):
            print("\n  sent %.0f MB of pings in %.1fs, imcastd grew %.1f MB"
                  % (sent / 1e6, time.monotonic() - t0, grown))
        self.assertLess(grown, RSS_SLACK_MB, "after %.0f MB of pings that nobody read the pongs of, "
                        "imcastd grew by %.0f MB" % (sent / 1e6, grown))
        self.assertTrue(self.srv.alive(), self.srv.context(force=True))
        self.quiet(watcher)                    # the others are served
        c.abort()

    def test_receivers_that_never_read(self):
        users = self.fresh(21, prefix="nr")
        readers_u, stuck_u = users[:1], users[1:]
        tag = "nr_" + users[0]
        self.add_tags({x: [tag] for x in users})
        stuck = [connect(self.srv, x, rcvbuf=4096) for x in stuck_u]   # Hello read, then nothing
        for s in stuck:
            self.addCleanup(s.abort)
        reader = self.receiver(readers_u[0])
        rss0 = self.rss()
        worst = 0.0
        tids = []
        still = stuck_u
        # 20 KB pushes: the cap (256 KiB) is passed once the kernel's socket buffers are full
        for i in range(600):
            t0 = time.monotonic()
            tid = self.push("%04d" % i + "z" * 20000, {"TagsAnd": [tag]}, lifetime=600)
            reader.ack(reader.expect_msg(tid)["Seq"])
            worst = max(worst, time.monotonic() - t0)
            tids.append(tid)
            if i % 20 == 19:
                q, r = self.online_status(*stuck_u)
                still = [x for x in stuck_u if q[x]["Status"] != "Offline"]
                if not still:
                    break
        self.assertEqual(still, [], "receivers that never read were not cut at the cap after %d "
                         "pushes of 20 KB: %s" % (len(tids), still))
        grown = self.rss() - rss0
        self.assertLess(grown, RSS_SLACK_MB, "20 stuck receivers cost %.0f MB" % grown)
        self.assertLess(worst, 2.0, "a push to the reading receiver took %.2fs" % worst)
        rep = self.wait_report(tids[-1], lambda r: r["Delivered"] == 1, what="Delivered 1")
        self.assertEqual(rep["Pending"], 20, short(rep))
        # a stuck one that comes back gets everything, in order (a paced catch-up)
        for s in stuck:
            s.abort()
        back = self.receiver(stuck_u[0])
        got = [back.expect_msg(timeout=10)["TaskId"] for _ in tids]
        self.assertEqual(got, tids)

    def test_a_thousand_receivers_come_and_go(self):
        users = self.fresh(50, prefix="churn")
        (steady_u,) = self.fresh(prefix="steady")
        steady = self.receiver(steady_u)
        rss0 = self.rss()
        logins0 = self.metric("imcast_logins_total")
        sig = {x: usersig(KEY, SDKAPPID, x) for x in users}
        key_hdr = "dGhlIHNhbXBsZSBub25jZQ=="
        errors = []

        def one(i):
            x = users[i % len(users)]
            mode = i % 6
            try:
                if mode == 5:             # drop in the middle of the upgrade request
                    s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=5)
                    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                               % ws_target(SDKAPPID, x, sig[x])).encode())
                    s.close()
                    return
                c = WSClient(self.srv.port, x, sig=sig[x], server=self.srv)
                c.connect(expect_hello=(mode != 4))
                if mode == 0:
                    c.close()
                elif mode == 1:
                    c.abort()                             # RST
                elif mode == 2:
                    c.ack(10 ** 12)
                    c.sock.close()                        # FIN without a close frame
                elif mode == 3:
                    c.send_raw_frame(OP_BINARY, b"x")     # closed by the server (1003)
                    c.wait_closed(5)
                    c.abort()
                else:
                    c.sock.close()                        # before reading the Hello
            except Exception as e:   # noqa: BLE001 - collected
                errors.append((i, repr(e)))

        t0 = time.monotonic()
        for rnd in range(10):
            threads = [threading.Thread(target=lambda k=k: [one(rnd * 100 + k * 25 + j) for j in range(25)])
                       for k in range(4)]
            for t in threads:
                t.start()
            tid = self.push("round %d" % rnd)
            steady.expect_msg(tid)
            for t in threads:
                t.join()
        took = time.monotonic() - t0
        self.assertEqual(errors[:5], [], "%d of 1000 receivers failed" % len(errors))
        logins = self.metric("imcast_logins_total") - logins0
        self.assertGreaterEqual(logins, 833, "only %d of the 833 upgrades were logins" % logins)
        tid = self.push("after the churn", lifetime=60)
        steady.expect_msg(tid)
        deadline = time.monotonic() + 10
        while self.metric("imcast_connections", '{state="receiver"}') != 1:
            self.assertLess(time.monotonic(), deadline, "receivers are not released: %s"
                            % self.metric("imcast_connections", '{state="receiver"}'))
            time.sleep(0.2)
        q, r = self.online_status(*users)
        self.assertEqual([x for x in users if q[x]["Status"] != "Offline"], [], short(r))
        grown = self.rss() - rss0
        if os.environ.get("IMCAST_E2E_VERBOSE"):
            print("\n  1000 receivers came and went in %.1fs; imcastd +%.1f MB" % (took, grown))
        self.assertLess(grown, RSS_SLACK_MB, "1000 logins and logouts left %.0f MB" % grown)
        # every one of them can still log in and gets the stored push
        c = self.receiver(users[0])
        c.expect_msg(tid)


if __name__ == "__main__":
    unittest.main()
