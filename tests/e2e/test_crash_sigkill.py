"""Crash safety: SIGKILL imcastd at random moments of a storm of mutations, pushes and acks,
restart it on the same data folder, and prove nothing answered OK was lost.

Each of CYCLES rounds (at least 20 kills):
  1. (re)start imcastd and verify everything known so far (see below);
  2. storm: four mutators (imports, deletes, tags added/removed, attributes set/removed,
     each on accounts of its own), a pusher (MsgLifeTime 2..20 s to the tagged audience,
     and some MsgLifeTime 0), and two receivers that Ack every push they get;
  3. SIGKILL at a random point 0.05..0.8 s into the storm.
Verification after every restart:
  - every mutation answered OK is there; the one call each mutator had in flight at the
    kill may or may not have happened (both outcomes are accepted, then adopted);
  - every push answered with a TaskId and still alive (by a margin) is reported alive by
    im_get_push_report, and is received by a member of its audience that never acks
    (the checker) — as are the receivers' pushes they had not acked; pushes past their
    lifetime (by a margin) are reported gone or Expired;
  - no login gets a push whose lifetime (MsgTime + MsgLifeTime) had ended before the
    login began, a MsgLifeTime 0 push never comes back after a restart, and a push
    received is one that was attempted;
At the end: a clean stop and PRAGMA integrity_check on the database.
Python 3.11 standard library only; IMCAST_E2E_VERBOSE=1 prints a line per cycle.
"""
import json
import os
import random
import sqlite3
import threading
import time
import unittest

from imcast_harness import ADMIN, KEY, SDKAPPID, Server, short, usersig
from imcast_ws import LOGIN, PUSH, WSClient, WSError, msg_random, ws_target

CYCLES = 22
MUTATORS = 4
USERS_PER_MUTATOR = 4
TAGS = ["a", "b", "c", "d", "e"]
ATTRS = ["lvl", "zone"]
LIFETIMES = [2, 3, 5, 8, 20]
SLACK = 1.5         # seconds of margin around "surely alive" and "surely gone"
LATE_MARGIN = 0.25  # a push is over at MsgTime + MsgLifeTime (whole seconds, same clock)
VERBOSE = bool(os.environ.get("IMCAST_E2E_VERBOSE"))
SERVER_ENV = dict(os.environ)
SERVER_ENV.pop("IMCAST_KEY", None)


class Killed(Exception):
    pass


class UserModel:
    """What one account must look like: imported, its tags, its attributes."""

    def __init__(self):
        self.imported = False
        self.tags = set()
        self.attrs = {}

    def copy(self):
        m = UserModel()
        m.imported, m.tags, m.attrs = self.imported, set(self.tags), dict(self.attrs)
        return m

    def key(self):
        return (self.imported, frozenset(self.tags), tuple(sorted(self.attrs.items())))

    def __repr__(self):
        return "<%s tags=%s attrs=%s>" % ("imported" if self.imported else "absent",
                                         sorted(self.tags), self.attrs)


def apply_op(models, op):
    """The effect of a mutation (as the contract defines it) on a copy of the models."""
    kind, args = op
    out = {u: m.copy() for u, m in models.items()}
    if kind == "import":
        for u in args:
            out[u].imported = True
    elif kind == "delete":
        (u,) = args
        out[u] = UserModel()
    elif kind in ("add_tag", "remove_tag"):
        users, tags = args
        for u in users:
            if out[u].imported:
                out[u].tags = out[u].tags | set(tags) if kind == "add_tag" else out[u].tags - set(tags)
    elif kind == "remove_all_tags":
        (u,) = args
        out[u].tags = set()
    elif kind == "set_attr":
        u, attrs = args
        if out[u].imported:
            out[u].attrs.update(attrs)
    elif kind == "remove_attr":
        u, names = args
        if out[u].imported:
            for n in names:
                out[u].attrs.pop(n, None)
    return out


def op_call(op):
    kind, args = op
    if kind == "import":
        return LOGIN, "multiaccount_import", {"Accounts": list(args)}
    if kind == "delete":
        return LOGIN, "account_delete", {"DeleteItem": [{"UserID": args[0]}]}
    if kind in ("add_tag", "remove_tag"):
        users, tags = args
        return PUSH, "im_" + kind, {"UserTags": [{"To_Account": u, "Tags": list(tags)} for u in users]}
    if kind == "remove_all_tags":
        return PUSH, "im_remove_all_tags", {"To_Account": [args[0]]}
    if kind == "set_attr":
        u, attrs = args
        return PUSH, "im_set_attr", {"UserAttrs": [{"To_Account": u, "Attrs": attrs}]}
    if kind == "remove_attr":
        u, names = args
        return PUSH, "im_remove_attr", {"UserAttrs": [{"To_Account": u, "Attrs": list(names)}]}
    raise ValueError(kind)


def random_op(rng, users):
    r = rng.random()
    if r < 0.15:
        return ("import", tuple(rng.sample(users, rng.randint(1, 3))))
    if r < 0.22:
        return ("delete", (rng.choice(users),))
    if r < 0.45:
        return ("add_tag", (tuple(rng.sample(users, rng.randint(1, 2))), tuple(rng.sample(TAGS, rng.randint(1, 3)))))
    if r < 0.6:
        return ("remove_tag", (tuple(rng.sample(users, rng.randint(1, 2))), tuple(rng.sample(TAGS, rng.randint(1, 2)))))
    if r < 0.65:
        return ("remove_all_tags", (rng.choice(users),))
    if r < 0.88:
        return ("set_attr", (rng.choice(users), {n: "v%d" % rng.randint(0, 9) for n in rng.sample(ATTRS, rng.randint(1, 2))}))
    return ("remove_attr", (rng.choice(users), tuple(rng.sample(ATTRS, 1))))


class Push:
    def __init__(self, text, lifetime, t_sent):
        self.text = text
        self.lifetime = lifetime
        self.t_sent = t_sent        # created_at >= floor(t_sent)
        self.t_ok = None            # created_at <= t_ok; None: no answer came (in flight at the kill)
        self.task_id = None
        self.verified_gone = False

    def surely_alive(self, now):
        return now + SLACK < int(self.t_sent) + self.lifetime

    def surely_gone(self, now):
        return self.t_ok is not None and now > self.t_ok + self.lifetime + SLACK


class CrashStorm(unittest.TestCase):

    def setUp(self):
        self.rng = random.Random(int(os.environ.get("IMCAST_CRASH_SEED", "0")) or None)
        self.srv = Server(env=SERVER_ENV)
        self.addCleanup(self.srv.cleanup)
        self.srv.start()
        self.models = {}
        self.owned = []
        for k in range(MUTATORS):
            users = ["m%d_%d" % (k, j) for j in range(USERS_PER_MUTATOR)]
            self.owned.append(users)
            for u in users:
                self.models[u] = UserModel()
        self.receivers = ["rcv0", "rcv1"]
        self.checker = "checker"
        self.srv.ok(PUSH, "im_set_attr_name", {"AttrNames": {"0": "lvl", "1": "zone"}})
        self.srv.ok(LOGIN, "multiaccount_import", {"Accounts": self.receivers + [self.checker]})
        self.srv.ok(PUSH, "im_add_tag", {"UserTags": [{"To_Account": u, "Tags": ["storm"]}
                                                     for u in self.receivers + [self.checker]]})
        self.pushes = {}            # text -> Push (every stored push attempted)
        self.live_only = set()      # texts of MsgLifeTime 0 pushes
        self.acked = {u: set() for u in self.receivers}   # TaskIds each receiver sent an Ack for
        self.problems = []
        self.late = []              # deliveries after the lifetime
        self.stats = {"kills": 0, "ok_mutations": 0, "ambiguous": 0, "pushes_ok": 0,
                      "received_after_restart": 0}

    # ------------------------------------------------------------------ the storm
    def mutator(self, k, stop, client):
        users = self.owned[k]
        rng = random.Random(self.rng.random())
        while not stop.is_set():
            op = random_op(rng, users)
            service, command, body = op_call(op)
            self.pending[k] = op
            try:
                doc = client.call(service, command, body, allow_internal=True)
            except (AssertionError, OSError):
                return                                        # killed: op stays ambiguous
            if doc["ErrorCode"] != 0:
                self.problems.append("%s %s -> %s" % (command, short(body), short(doc)))
                self.pending[k] = None
                return
            self.pending[k] = None
            self.models.update(apply_op({u: self.models[u] for u in users}, op))
            self.stats["ok_mutations"] += 1

    def pusher(self, cycle, stop, client):
        rng = random.Random(self.rng.random())
        i = 0
        while not stop.is_set():
            i += 1
            text = "c%d-p%d" % (cycle, i)
            lifetime = 0 if rng.random() < 0.15 else rng.choice(LIFETIMES)
            body = {"MsgRandom": msg_random(), "MsgLifeTime": lifetime, "Condition": {"TagsAnd": ["storm"]},
                    "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": text}}]}
            p = Push(text, lifetime, time.time())
            if lifetime:
                self.pushes[text] = p
            else:
                self.live_only.add(text)
            try:
                doc = client.call(PUSH, "im_push", body, allow_internal=True)
            except (AssertionError, OSError):
                return
            if doc["ErrorCode"] != 0:
                self.problems.append("im_push -> %s" % short(doc))
                return
            p.t_ok, p.task_id = time.time(), doc["TaskId"]
            if lifetime:
                self.stats["pushes_ok"] += 1

    def on_msg(self, user, ev, acking, t_login=None):
        """Books a received Msg. t_login: the time the login began, for a catch-up: a push
        already past its lifetime then must not come."""
        text = ev["MsgBody"][0]["MsgContent"]["Text"]
        p = self.pushes.get(text)
        if p is None:
            if text not in self.live_only:
                self.problems.append("%s got a push never attempted: %s" % (user, short(ev)))
            return text
        if p.task_id is None:
            p.task_id = ev["TaskId"]                          # its answer was lost in the kill
        elif p.task_id != ev["TaskId"]:
            self.problems.append("%s: TaskId %s for %s, answered %s" % (user, ev["TaskId"], text, p.task_id))
        if t_login is not None and t_login > ev["MsgTime"] + p.lifetime + LATE_MARGIN:
            self.late.append("%s got %s (MsgTime %d, MsgLifeTime %d) at a login %.2fs after its end"
                             % (user, text, ev["MsgTime"], p.lifetime,
                                t_login - ev["MsgTime"] - p.lifetime))
        if acking:
            self.acked[user].add(ev["TaskId"])
        return text

    def receiver(self, user, ready, stop):
        try:
            c = WSClient(self.srv.port, user, server=self.srv).connect()
        except (WSError, OSError):
            ready.set()
            return
        ready.set()
        try:
            while not stop.is_set():
                try:
                    ev = c.recv_event(0.2)
                except WSError as e:
                    if c.closed:
                        return
                    continue
                if ev.get("Event") == "Msg":
                    self.on_msg(user, ev, acking=True)
                    c.ack(ev["Seq"])
        except (WSError, OSError):
            return
        finally:
            c.abort()

    def storm(self, cycle):
        stop = threading.Event()
        self.pending = [None] * MUTATORS
        clients = [self.srv.new_client() for _ in range(MUTATORS + 1)]
        ready = [threading.Event() for _ in self.receivers]
        threads = [threading.Thread(target=self.receiver, args=(u, ready[i], stop))
                   for i, u in enumerate(self.receivers)]
        for t in threads:
            t.start()
        for e in ready:
            e.wait(5)
        threads += [threading.Thread(target=self.mutator, args=(k, stop, clients[k])) for k in range(MUTATORS)]
        threads.append(threading.Thread(target=self.pusher, args=(cycle, stop, clients[-1])))
        for t in threads[len(self.receivers):]:
            t.start()
        time.sleep(self.rng.uniform(0.05, 0.8))
        self.srv.kill()
        self.stats["kills"] += 1
        stop.set()
        for t in threads:
            t.join(20)
            self.assertFalse(t.is_alive(), "a storm thread hangs after the kill")
        for c in clients:
            c.close()
        self.stats["ambiguous"] += sum(1 for p in self.pending if p is not None)

    # ------------------------------------------------------------------ verification
    def actual(self, users):
        st = self.srv.ok(LOGIN, "account_check", {"CheckItem": [{"UserID": u} for u in users]})
        tags = self.srv.ok(PUSH, "im_get_tag", {"To_Account": users}).get("UserTags", [])
        attrs = self.srv.ok(PUSH, "im_get_attr", {"To_Account": users}).get("UserAttrs", [])
        out = {u: UserModel() for u in users}
        for it in st["ResultItem"]:
            out[it["UserID"]].imported = it["AccountStatus"] == "Imported"
        for it in tags:
            out[it["To_Account"]].tags = set(it["Tags"])
        for it in attrs:
            out[it["To_Account"]].attrs = dict(it["Attrs"])
        return out

    def verify_mutations(self, cycle):
        for k, users in enumerate(self.owned):
            want = {u: self.models[u] for u in users}
            got = self.actual(users)
            op = self.pending[k] if cycle > 0 else None
            alternatives = [want] + ([apply_op(want, op)] if op else [])
            if not any(all(alt[u].key() == got[u].key() for u in users) for alt in alternatives):
                self.fail("cycle %d: mutator %d's accounts are not as acknowledged\n  want %s\n  %s\n  got  %s%s"
                          % (cycle, k, want, "or (in flight %s) %s" % (op, alternatives[-1]) if op else "",
                             got, self.srv.context()))
            self.models.update(got)                           # the in-flight call is now decided

    def login_and_drain(self, user, quiet=0.5, limit=20.0):
        self.t_login = time.time()
        c = WSClient(self.srv.port, user, server=self.srv).connect()
        events = []
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                ev = c.recv_event(quiet)
            except WSError:
                break
            events.append(ev)
        return c, events

    def verify_pushes(self, cycle):
        for p in list(self.pushes.values()):
            if p.task_id is None or p.verified_gone:
                continue
            t_before = time.time()
            doc = self.srv.call(PUSH, "im_get_push_report", {"TaskId": p.task_id}, allow_internal=True)
            t_after = time.time()
            if p.surely_alive(t_after) and p.t_ok is not None:
                self.assertEqual(doc["ErrorCode"], 0, "cycle %d: push %s (%s, MsgLifeTime %d, answered %.1fs "
                                 "ago) is lost: %s" % (cycle, p.text, p.task_id, p.lifetime, t_after - p.t_ok,
                                                       short(doc)))
                self.assertIn(doc["State"], ("Done", "FanningOut"), short(doc))
            elif p.surely_gone(t_before):
                self.assertTrue(doc["ErrorCode"] == 90049 or doc.get("State") == "Expired",
                                "cycle %d: %s should be gone: %s" % (cycle, p.text, short(doc)))
                p.verified_gone = doc["ErrorCode"] == 90049   # dropped: nothing more to check
        # the checker never acks: it must get every stored push still alive, and only those
        c, events = self.login_and_drain(self.checker)
        got = []
        seqs = []
        for ev in events:
            if ev.get("Event") != "Msg":
                continue
            seqs.append(ev["Seq"])
            text = self.on_msg(self.checker, ev, acking=False, t_login=self.t_login)
            got.append(text)
            if text in self.live_only:
                self.problems.append("cycle %d: the MsgLifeTime 0 push %s came back after a restart" % (cycle, text))
        c.abort()
        self.stats["received_after_restart"] += len(got)
        self.assertEqual(seqs, sorted(set(seqs)), "cycle %d: catch-up not in Seq order or repeated" % cycle)
        now = time.time()
        missing = [p.text for p in self.pushes.values()
                   if p.t_ok is not None and p.surely_alive(now) and p.text not in got]
        self.assertEqual(missing, [], "cycle %d: acknowledged pushes not delivered to the checker after "
                         "the restart: %s%s" % (cycle, missing, self.srv.context()))
        # the receivers get what they had not acknowledged
        for u in self.receivers:
            c, events = self.login_and_drain(u, quiet=0.35)
            texts = set()
            for ev in events:
                if ev.get("Event") == "Msg":
                    texts.add(self.on_msg(u, ev, acking=True, t_login=self.t_login))
                    c.ack(ev["Seq"])
            c.close()
            now = time.time()
            missing = [p.text for p in self.pushes.values()
                       if p.t_ok is not None and p.surely_alive(now) and p.task_id not in self.acked[u]
                       and p.text not in texts]
            self.assertEqual(missing, [], "cycle %d: %s did not get its unacknowledged pushes: %s"
                             % (cycle, u, missing))

    # ------------------------------------------------------------------ the test
    def test_sigkill_during_storms(self):
        t0 = time.monotonic()
        self.pending = [None] * MUTATORS
        for cycle in range(CYCLES):
            if cycle:
                self.srv.start()
            self.verify_mutations(cycle)
            self.verify_pushes(cycle)
            self.assertEqual(self.problems, [], "cycle %d" % cycle)
            self.assertEqual(self.late, [], "cycle %d: deliveries after the lifetime" % cycle)
            c0 = dict(self.stats)
            self.storm(cycle)
            if VERBOSE:
                print("  cycle %2d: +%d mutations, +%d pushes OK, %d in flight at the kill; %.1fs"
                      % (cycle, self.stats["ok_mutations"] - c0["ok_mutations"],
                         self.stats["pushes_ok"] - c0["pushes_ok"],
                         self.stats["ambiguous"] - c0["ambiguous"], time.monotonic() - t0))
        self.srv.start()
        self.verify_mutations(CYCLES)
        self.verify_pushes(CYCLES)
        self.assertEqual(self.problems, [])
        self.assertEqual(self.late, [])
        self.srv.stop()
        db = sqlite3.connect(os.path.join(self.srv.data, "imcast.db"))
        try:
            self.assertEqual(db.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
        finally:
            db.close()
        self.assertGreaterEqual(self.stats["kills"], 20)
        self.assertGreater(self.stats["ok_mutations"], 100, self.stats)
        self.assertGreater(self.stats["pushes_ok"], 20, self.stats)
        if VERBOSE:
            print("  %s in %.1fs" % (self.stats, time.monotonic() - t0))


if __name__ == "__main__":
    unittest.main()
