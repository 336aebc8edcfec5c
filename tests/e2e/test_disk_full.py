"""A failing disk: the data folder on a full filesystem, then on a read-only one.

The data folder lives on its own small tmpfs (mount -t tmpfs -o size=4m), so the test
can fill it to the last byte with a filler file and remount it read-only without
touching anything else. Mounting needs root (CAP_SYS_ADMIN); where that is not allowed
the test is skipped with the reason — there is no honest way to make SQLite see ENOSPC
or EROFS on a filesystem we do not control.

What must hold:
  - while the disk is full, every call that changes state answers either OK (SQLite still
    had room in pages it owned, and then the change is durable) or 91000 with a clear
    ErrorInfo — never another code, never a crash — and at least some do fail; a failed
    call changes nothing, in memory or on disk;
  - reads keep serving (a read in the same loop turn as a failing write may answer 91000,
    never the change being undone): account_check, tags, attributes, names, the push report, online
    status, the audience, /metrics, /healthz, and a receiver login of an existing account
    with its catch-up; imcast_commit_failures_total counts the failures;
  - once space returns, writes work again at once (no restart);
  - a read-only data folder: Linux will not remount read-only under a process holding
    files open for writing, so that case is a start on a read-only folder: exit 2 with
    one clear line, nothing written; a normal start once it is writable again;
  - after a clean stop the database passes PRAGMA integrity_check, and after a restart
    every change answered OK is there and no failed one is.
"""
import errno
import json
import os
import socket
import sqlite3
import subprocess
import tempfile
import time
import unittest

from imcast_harness import Server, http_request_bytes, short
from imcast_ws import LOGIN, PUSH, PushMixin, WSClient, WSRefused, connect, msg_random

MOUNT_SIZE = "4m"
BIG = "n" * 200000                  # a Nick this size needs new pages in the WAL
FAIL_INFO = "could not be saved"


def try_mount(path):
    """Mounts a small tmpfs on path; returns None or why it cannot."""
    if os.geteuid() != 0:
        return "not root: mounting a tmpfs needs CAP_SYS_ADMIN"
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + MOUNT_SIZE, "tmpfs", path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        return "mount -t tmpfs failed: %s" % r.stdout.strip()
    return None


def remount(path, mode):
    r = subprocess.run(["mount", "-o", "remount," + mode, path], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise AssertionError("mount -o remount,%s %s: %s" % (mode, path, r.stdout))


def fill(path):
    """Writes a filler file until the filesystem is full; returns its size."""
    n = 0
    with open(path, "wb", buffering=0) as f:
        for size in (1 << 20, 65536, 4096, 512, 1):
            chunk = b"\0" * size
            while True:
                try:
                    f.write(chunk)
                    n += size
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break
    return n


class DiskFull(PushMixin, unittest.TestCase):

    def setUp(self):
        self.mnt = tempfile.mkdtemp(prefix="imcast-disk-")
        why = try_mount(self.mnt)
        if why:
            os.rmdir(self.mnt)
            self.skipTest(why)
        self.addCleanup(self._unmount)
        data = os.path.join(self.mnt, "data")
        os.mkdir(data)
        self.srv = Server(data=data)
        self.addCleanup(self.srv.cleanup)
        self.srv.start()
        self.filler = os.path.join(self.mnt, "filler")
        self.ok_writes = []         # (description, check) of every write answered OK
        self.failed_writes = []     # (description, check) of every write answered 91000
        self.last_city = None

    def _unmount(self):
        subprocess.run(["mount", "-o", "remount,rw", self.mnt], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        if self.srv.alive():
            self.srv.kill()
        r = subprocess.run(["umount", self.mnt], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            subprocess.run(["umount", "-l", self.mnt])
        try:
            os.rmdir(self.mnt)
        except OSError:
            pass

    # PushMixin and the harness helpers expect these
    def ok(self, *a, **kw):
        return self.srv.ok(*a, **kw)

    def fail_call(self, *a, **kw):
        return self.srv.fail(*a, **kw)

    def call(self, *a, **kw):
        kw.setdefault("allow_internal", True)
        return self.srv.call(*a, **kw)

    def metric(self, name):
        st, _, body = self.srv.client.request("GET", "/metrics", b"", headers={})
        for ln in body.decode().splitlines():
            if ln.startswith(name + " "):
                return float(ln.split()[-1])
        return None

    # ------------------------------------------------------------------ state checks
    def status(self, *users):
        r = self.ok(LOGIN, "account_check", {"CheckItem": [{"UserID": u} for u in users]})
        return {it["UserID"]: it["AccountStatus"] for it in r["ResultItem"]}

    def tags_of(self, u):
        r = self.ok(PUSH, "im_get_tag", {"To_Account": [u]})
        return r["UserTags"][0]["Tags"] if r.get("UserTags") else None

    def attrs_of(self, u):
        r = self.ok(PUSH, "im_get_attr", {"To_Account": [u]})
        return r["UserAttrs"][0]["Attrs"] if r.get("UserAttrs") else None

    # ------------------------------------------------------------------ the writes
    def writes(self, round_name, n):
        """n rounds of every kind of write; each answer must be OK or 91000."""
        answers = []
        for i in range(n):
            u = "%s_%d" % (round_name, i)
            tag = "t_%s_%d" % (round_name, i)
            text = "%s push %d" % (round_name, i)
            cases = [
                ("import %s with a 200 KB Nick" % u,
                 LOGIN, "account_import", {"UserID": u, "Nick": BIG},
                 lambda u=u: self.status(u)[u] == "Imported"),
                ("tag %s on base1" % tag,
                 PUSH, "im_add_tag", {"UserTags": [{"To_Account": "base1", "Tags": [tag]}]},
                 lambda tag=tag: tag in self.tags_of("base1")),
                ("city=%s on base2" % u,
                 PUSH, "im_set_attr", {"UserAttrs": [{"To_Account": "base2", "Attrs": {"city": u[:50]}}]},
                 lambda u=u: self.attrs_of("base2").get("city") == u[:50]),
                ("stored push '%s'" % text,
                 PUSH, "im_push", {"MsgRandom": msg_random(), "MsgLifeTime": 3600,
                                   "MsgBody": [{"MsgType": "TIMCustomElem",
                                                "MsgContent": {"Data": text + " " + "d" * 200000}}]},
                 None),
            ]
            for what, service, command, body, check in cases:
                doc = self.call(service, command, body)
                answers.append(doc["ErrorCode"])
                if doc["ErrorCode"] == 0:
                    if command == "im_set_attr":
                        self.last_city = u[:50]      # a later write replaces it
                        check = lambda: self.attrs_of("base2").get("city") == self.last_city
                    if command == "im_push":
                        tid = doc["TaskId"]
                        check = lambda tid=tid: self.call(PUSH, "im_get_push_report", {"TaskId": tid})["ErrorCode"] == 0
                    self.ok_writes.append((what, check))
                else:
                    self.assertEqual(doc["ErrorCode"], 91000, "%s with the disk %s: %s%s"
                                     % (what, round_name, short(doc), self.srv.context()))
                    self.assertIn(FAIL_INFO, doc["ErrorInfo"], short(doc))
                    if command == "im_push":
                        absent = lambda text=text: not self.stored_push_with(text)
                    else:
                        absent = lambda check=check: not check()
                    self.failed_writes.append((what, absent))
                self.assertTrue(self.srv.alive(), "imcastd died on %s%s" % (what, self.srv.context(force=True)))
        return answers

    def stored_push_with(self, text):
        c = WSClient(self.srv.port, "base3", server=self.srv).connect()
        try:
            found = False
            while True:
                try:
                    ev = c.recv_event(0.5)
                except AssertionError:
                    break
                if ev.get("Event") == "Msg" and text + " " in json.dumps(ev["MsgBody"]):
                    found = True
            return found
        finally:
            c.abort()

    def assert_reads_serve(self, what):
        t0 = time.monotonic()
        self.assertEqual(self.status("base1", "base2")["base1"], "Imported")
        self.assertIn("t0", self.tags_of("base1"))
        self.assertEqual(self.attrs_of("base2").get("sex"), "F")
        self.assertEqual(self.ok(PUSH, "im_get_attr_name", {})["AttrNames"].get("0"), "sex")
        rep = self.ok(PUSH, "im_get_push_report", {"TaskId": self.first_push})
        self.assertEqual(rep["State"], "Done", short(rep))
        self.ok("openim", "query_online_status", {"To_Account": ["base1"]})
        self.assertEqual(self.ok(PUSH, "im_get_audience", {"Condition": {"TagsAnd": ["t0"]}})["Audience"], 1)
        st, _, body = self.srv.client.request("GET", "/healthz", b"", headers={})
        self.assertEqual(st, 200, short(body))
        self.assertIsNotNone(self.metric("imcast_accounts"))
        # a receiver of an existing account logs in and gets its pending push
        c = connect(self.srv, "base1")
        self.addCleanup(c.abort)
        ev = c.expect_msg(self.first_push)
        c.ack(ev["Seq"])                   # its saving may fail: at-least-once
        c.close()
        self.assertLess(time.monotonic() - t0, 10, "reads took %.1fs with the disk %s" % (time.monotonic() - t0, what))

    def assert_no_read_sees_a_failed_write(self):
        """A read pipelined behind a write in the same loop turn is answered after the
        turn's commit. When that commit fails the read may have seen the change that is
        being undone, so it must answer 91000 — or the truth — never the undone change.
        (Reads in a turn without writes are answered at once: assert_reads_serve.)"""
        cl = self.srv.client
        write = http_request_bytes(cl.target(LOGIN, "account_import"), json.dumps({"UserID": "ghost", "Nick": BIG}))
        read = http_request_bytes(cl.target(LOGIN, "account_check"), json.dumps({"CheckItem": [{"UserID": "ghost"}]}))
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=10)
        self.addCleanup(s.close)
        s.sendall(write + read + read)
        docs = []
        buf = b""
        while len(docs) < 3:
            chunk = s.recv(65536)
            self.assertTrue(chunk, "connection closed after %d answers" % len(docs))
            buf += chunk
            while b"\r\n\r\n" in buf:
                head, rest = buf.split(b"\r\n\r\n", 1)
                n = int([ln.split(b":")[1] for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")][0])
                if len(rest) < n:
                    break
                docs.append(json.loads(rest[:n]))
                buf = rest[n:]
        self.assertEqual(docs[0]["ErrorCode"], 91000, short(docs[0]))
        for d in docs[1:]:
            if d["ErrorCode"] == 0:
                self.assertEqual(d["ResultItem"][0]["AccountStatus"], "NotImported",
                                 "a read answered with a change that was undone: %s" % short(d))
            else:
                self.assertEqual(d["ErrorCode"], 91000, short(d))
        self.assertEqual(self.status("ghost"), {"ghost": "NotImported"})

    # ------------------------------------------------------------------ the test
    def test_full_then_read_only_then_back(self):
        self.ok(PUSH, "im_set_attr_name", {"AttrNames": {"0": "sex", "1": "city"}})
        self.ok(LOGIN, "multiaccount_import", {"Accounts": ["base1", "base2", "base3"]})
        self.ok(PUSH, "im_add_tag", {"UserTags": [{"To_Account": "base1", "Tags": ["t0"]}]})
        self.ok(PUSH, "im_set_attr", {"UserAttrs": [{"To_Account": "base2", "Attrs": {"sex": "F"}}]})
        self.first_push = self.push("before the trouble", {"TagsAnd": ["t0"]}, lifetime=3600)

        # -- full
        filled = fill(self.filler)
        failures0 = self.metric("imcast_commit_failures_total")
        answers = self.writes("full", 6)
        self.assertIn(91000, answers, "no write failed on a full disk (%d bytes of filler): %s"
                      % (filled, answers))
        self.assertGreater(self.metric("imcast_commit_failures_total"), failures0)
        self.assert_reads_serve("full")
        # a login of a new account needs a write: refused with 91000, or served
        try:
            c = connect(self.srv, "newcomer_full")
            c.abort()
        except WSRefused as e:
            self.assertEqual((e.json or {}).get("ErrorCode"), 91000, short(e.body))
        for what, check in self.failed_writes:
            self.assertTrue(check(), "failed write left a trace: %s" % what)
        self.assert_no_read_sees_a_failed_write()

        # -- space returns: writes work again, without a restart
        os.unlink(self.filler)
        answers = self.writes("freed", 2)
        self.assertEqual(set(answers), {0}, "writes after space came back: %s" % answers)

        # -- read-only: Linux refuses to remount a filesystem read-only while a process
        # holds files on it open for writing ("mount point is busy"), so the running server
        # cannot be put under a read-only disk; what is tested is a start on one: a clear
        # one-line refusal (exit 2), nothing written, then a normal start once it is
        # writable again.
        self.srv.stop()
        remount(self.mnt, "ro")
        try:
            with self.assertRaises(AssertionError) as cm:
                self.srv.start()
            self.assertIn("exited with 2", str(cm.exception))
            err = self.srv.stderr_text().strip()
            self.assertIn("writable", err, err)
            self.assertLessEqual(len(err.splitlines()), 2, err)
        finally:
            remount(self.mnt, "rw")
        self.srv.start()
        self.assert_reads_serve("writable again")
        answers = self.writes("writable", 2)
        self.assertEqual(set(answers), {0}, "writes after the remount rw: %s" % answers)

        # -- every OK is there and no failure, now and after a restart
        for what, check in self.ok_writes:
            self.assertTrue(check(), "an acknowledged write is missing: %s" % what)
        self.srv.stop()
        db = sqlite3.connect(os.path.join(self.srv.data, "imcast.db"))
        try:
            self.assertEqual(db.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
        finally:
            db.close()
        self.srv.start()
        for what, check in self.ok_writes:
            self.assertTrue(check(), "after a restart an acknowledged write is missing: %s" % what)
        for what, check in self.failed_writes:
            self.assertTrue(check(), "after a restart a failed write is there: %s" % what)
        self.srv.stop()

    def test_start_on_a_full_disk(self):
        self.ok(LOGIN, "multiaccount_import", {"Accounts": ["kept1"]})
        self.srv.stop()
        fill(self.filler)
        # either it serves (reads work, writes answer 91000) or it refuses to start clearly
        try:
            self.srv.start()
        except AssertionError as e:
            self.assertIn("exited with 2", str(e), str(e))
            return
        self.assertEqual(self.status("kept1"), {"kept1": "Imported"})
        doc = self.call(LOGIN, "account_import", {"UserID": "late", "Nick": BIG})
        self.assertIn(doc["ErrorCode"], (0, 91000), short(doc))
        os.unlink(self.filler)
        self.ok(LOGIN, "account_import", {"UserID": "later", "Nick": BIG})
        self.srv.stop()


if __name__ == "__main__":
    unittest.main()
