"""The imcast command line (sdk/cli) against a real imcastd: every command, the bulk
import of CSV and JSON lines, listen, --json and the exit codes
(0 OK, 1 Tencent error, 2 usage, 3 transport error).

The binary is $IMCAST_CLI, else `imcast` beside $IMCASTD, else <repo>/build/imcast. Every
change the CLI makes is checked through the REST API itself (imcast_harness.Client), not
through the CLI's own output.
"""
import json
import os
import re
import select
import signal
import subprocess
import tempfile
import time
import unittest

from imcast_harness import (ADMIN, IMCASTD, KEY, REPO, SDKAPPID, ServerTestCase, short, uid,
                            verify_usersig)


def cli_binary():
    env = os.environ.get("IMCAST_CLI")
    if env:
        return env
    if os.environ.get("IMCASTD"):
        return os.path.join(os.path.dirname(os.path.abspath(IMCASTD)), "imcast")
    return os.path.join(REPO, "build", "imcast")


IMCAST_CLI = cli_binary()
TASK_ID_RE = re.compile(r"^[0-9a-f_]+$")


class CliTestCase(ServerTestCase):
    """One imcastd for the class; self.imcast(...) runs the CLI against it."""

    def setUp(self):
        if not os.path.exists(IMCAST_CLI):
            self.fail("imcast binary not found at %s (build it, or set IMCAST_CLI)" % IMCAST_CLI)

    def cli_env(self, **extra):
        env = dict(os.environ)
        for k in ("IMCAST_URL", "IMCAST_KEY", "IMCAST_SDKAPPID", "IMCAST_ADMIN",
                  "IMCAST_CA_FILE"):
            env.pop(k, None)
        env.update(IMCAST_URL="http://127.0.0.1:%d" % self.srv.port, IMCAST_KEY=KEY,
                   IMCAST_SDKAPPID=str(SDKAPPID))
        env.update(extra)
        return env

    def imcast(self, *args, want=0, env=None, stdin=None, timeout=60):
        r = subprocess.run([IMCAST_CLI] + [str(a) for a in args], input=stdin,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env or self.cli_env(), timeout=timeout, text=True,
                           errors="replace")
        if want is not None:
            self.assertEqual(r.returncode, want,
                             "imcast %s: exit %d, want %d\nstdout: %s\nstderr: %s%s"
                             % (" ".join(map(str, args)), r.returncode, want, short(r.stdout),
                                short(r.stderr), self.srv.context()))
        return r

    def lines(self, text):
        return [ln for ln in text.splitlines() if ln.strip()]

    def read_line(self, proc, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.2)
            if ready:
                return proc.stdout.readline()
            if proc.poll() is not None:
                break
        self.fail("imcast listen printed nothing within %ss (exit %s)"
                  % (timeout, proc.poll()))

    def wait_for_login(self, user, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.ok("openim", "query_online_status", {"To_Account": [user]})
            if r["QueryResult"][0]["Status"] == "Online":
                return
            time.sleep(0.1)
        self.fail("%s never came online" % user)


class UsersigCommand(CliTestCase):
    def test_sig_verifies_with_the_key(self):
        r = self.imcast("usersig", "alice")
        sig = r.stdout.strip()
        self.assertEqual(verify_usersig(KEY, sig, SDKAPPID, "alice"), 0, sig)

    def test_expire_and_json(self):
        r = self.imcast("--json", "usersig", "bob", "--expire", "60")
        doc = json.loads(r.stdout)
        self.assertEqual(doc["UserID"], "bob")
        self.assertEqual(doc["Expire"], 60)
        self.assertEqual(verify_usersig(KEY, doc["UserSig"], SDKAPPID, "bob"), 0)

    def test_the_sig_logs_in_to_the_rest_api(self):
        sig = self.imcast("usersig", ADMIN).stdout.strip()
        self.srv.client.ok("all_member_push", "im_get_attr_name", {}, sig=sig)


class AccountCommands(CliTestCase):
    def test_import_one_and_many(self):
        a, b, c = uid("acc"), uid("acc"), uid("acc")
        r = self.imcast("account", "import", a)
        self.assertIn(a, r.stdout)
        r = self.imcast("account", "import", b, c)
        self.assertIn("2 account", r.stdout)
        self.assertEqual(self.check_status(a, b, c),
                         {a: "Imported", b: "Imported", c: "Imported"})

    def test_import_more_than_one_batch(self):
        users = [uid("many") for _ in range(230)]
        self.imcast("account", "import", *users)
        self.assertEqual(set(self.check_status(*users[:100]).values()), {"Imported"})
        self.assertEqual(set(self.check_status(*users[200:]).values()), {"Imported"})

    def test_check(self):
        a, ghost = uid("chk"), uid("ghost")
        self.import_accounts(a)
        r = self.imcast("account", "check", a, ghost)
        self.assertEqual(self.lines(r.stdout), ["%s Imported" % a, "%s NotImported" % ghost])

    def test_check_json_prints_the_raw_answer(self):
        a = uid("chk")
        self.import_accounts(a)
        r = self.imcast("--json", "account", "check", a)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["ErrorCode"], 0)
        self.assertEqual(doc["ResultItem"][0]["UserID"], a)
        self.assertEqual(doc["ResultItem"][0]["AccountStatus"], "Imported")

    def test_delete(self):
        a = uid("del")
        self.import_accounts(a)
        self.imcast("account", "delete", a)
        self.assertEqual(self.check_status(a), {a: "NotImported"})

    def test_kick(self):
        a = uid("kick")
        self.import_accounts(a)
        r = self.imcast("account", "kick", a)
        self.assertIn(a, r.stdout)

    def test_kick_unknown_is_a_tencent_error(self):
        r = self.imcast("account", "kick", uid("ghost"), want=1)
        self.assertRegex(r.stderr, r"ErrorCode 70107: \S")

    def test_state(self):
        a, ghost = uid("st"), uid("ghost")
        self.import_accounts(a)
        r = self.imcast("state", a)
        self.assertEqual(self.lines(r.stdout), ["%s Offline" % a])
        r = self.imcast("state", a, ghost, want=1)
        self.assertIn("%s Offline" % a, r.stdout)
        self.assertIn(ghost, r.stderr)
        self.assertIn("70107", r.stderr)

    def test_usage_errors(self):
        self.imcast("account", want=2)
        self.imcast("account", "import", want=2)
        self.imcast("account", "frobnicate", "x", want=2)
        self.imcast("account", "kick", "a", "b", want=2)
        self.imcast("state", want=2)


class AttrCommands(CliTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv.ok("all_member_push", "im_set_attr_name",
                   {"AttrNames": {"0": "sex", "1": "city"}})

    def test_names_set_and_get(self):
        r = self.imcast("attr", "names", "5=lang", "6=tier")
        self.assertIn("2 attribute name", r.stdout)
        names = self.get_attr_names()
        self.assertEqual((names["5"], names["6"]), ("lang", "tier"))
        r = self.imcast("attr", "names")
        self.assertIn("5 lang", self.lines(r.stdout))
        self.assertIn("0 sex", self.lines(r.stdout))

    def test_names_json(self):
        r = self.imcast("--json", "attr", "names")
        self.assertEqual(json.loads(r.stdout)["AttrNames"]["0"], "sex")

    def test_bad_slot_is_usage(self):
        self.imcast("attr", "names", "12=x", want=2)
        self.imcast("attr", "names", "sex", want=2)

    def test_set_get_remove(self):
        a = uid("attr")
        self.import_accounts(a)
        self.imcast("attr", "set", a, "sex=F", "city=SZ")
        self.assertEqual(self.get_attrs(a)[a], {"sex": "F", "city": "SZ"})
        r = self.imcast("attr", "get", a)
        self.assertEqual(self.lines(r.stdout), ["%s sex=F city=SZ" % a])
        self.imcast("attr", "remove", a, "city")
        self.assertEqual(self.get_attrs(a)[a], {"sex": "F"})

    def test_unknown_name_is_a_tencent_error(self):
        a = uid("attr")
        self.import_accounts(a)
        r = self.imcast("attr", "set", a, "nosuchname=1", want=1)
        self.assertIn("ErrorCode 90033", r.stderr)

    def test_unknown_account_is_reported(self):
        a, ghost = uid("attr"), uid("ghost")
        self.import_accounts(a)
        r = self.imcast("attr", "get", a, ghost, want=1)
        self.assertIn(a, r.stdout)
        self.assertIn(ghost, r.stderr)


class TagCommands(CliTestCase):
    def test_add_get_remove_clear(self):
        a = uid("tag")
        self.import_accounts(a)
        self.imcast("tag", "add", a, "x", "y", "z")
        self.assertEqual(sorted(self.get_tags(a)[a]), ["x", "y", "z"])
        r = self.imcast("tag", "get", a)
        self.assertEqual(sorted(self.lines(r.stdout)[0].split()[1:]), ["x", "y", "z"])
        self.imcast("tag", "remove", a, "y")
        self.assertEqual(sorted(self.get_tags(a)[a]), ["x", "z"])
        self.imcast("tag", "clear", a)
        self.assertEqual(self.get_tags(a)[a], [])

    def test_more_than_ten_tags_are_sent_in_rounds(self):
        a = uid("tag")
        self.import_accounts(a)
        tags = ["t%d" % i for i in range(25)]
        self.imcast("tag", "add", a, *tags)
        self.assertEqual(sorted(self.get_tags(a)[a]), sorted(tags))

    def test_too_long_tag_is_a_tencent_error(self):
        a = uid("tag")
        self.import_accounts(a)
        r = self.imcast("tag", "add", a, "x" * 51, want=1)
        self.assertIn("ErrorCode 90020", r.stderr)

    def test_json_get(self):
        a = uid("tag")
        self.import_accounts(a)
        self.imcast("tag", "add", a, "j")
        doc = json.loads(self.imcast("--json", "tag", "get", a).stdout)
        self.assertEqual(doc["UserTags"][0]["Tags"], ["j"])


class PushCommands(CliTestCase):
    def push_ok(self, *args):
        r = self.imcast("push", *args)
        task = r.stdout.strip().splitlines()[0]
        self.assertRegex(task, TASK_ID_RE)
        return task

    def test_push_to_all(self):
        self.push_ok("hello everyone")

    def test_push_json(self):
        r = self.imcast("--json", "push", "raw please", "--life", "30")
        doc = json.loads(r.stdout)
        self.assertEqual(doc["ErrorCode"], 0)
        self.assertRegex(doc["TaskId"], TASK_ID_RE)

    def test_push_with_every_option(self):
        sender = uid("from")
        self.import_accounts(sender)
        self.push_ok("tagged", "--tags-or", "a,b", "--tags-and", "c", "--from", sender,
                     "--life", "60", "--random", "12345", "--custom", '{"k":[1,2]}')
        self.ok("all_member_push", "im_set_attr_name", {"AttrNames": {"0": "sex"}})
        self.push_ok("attributed", "--attrs-and", "sex=F", "--attrs-or", "sex=M")

    def test_same_random_gives_the_same_task(self):
        first = self.push_ok("once", "--random", "777", "--life", "60")
        again = self.push_ok("once", "--random", "777", "--life", "60")
        self.assertEqual(first, again)

    def test_wait_prints_the_report(self):
        a = uid("w")
        self.import_accounts(a)
        r = self.imcast("push", "wait for me", "--life", "60", "--wait")
        out = self.lines(r.stdout)
        self.assertRegex(out[0], TASK_ID_RE)
        self.assertIn("State        Done", out)
        self.assertTrue(any(ln.startswith("Audience") for ln in out), out)

    def test_report_and_revoke(self):
        task = self.push_ok("to revoke", "--life", "600")
        r = self.imcast("report", task)
        self.assertIn("TaskId       %s" % task, r.stdout)
        doc = json.loads(self.imcast("--json", "report", task).stdout)
        self.assertEqual(doc["TaskId"], task)
        r = self.imcast("revoke", task)
        self.assertIn(task, r.stdout)
        doc = json.loads(self.imcast("--json", "report", task).stdout)
        self.assertEqual(doc["State"], "Revoked")

    def test_unknown_task(self):
        r = self.imcast("report", "nope", want=1)
        self.assertIn("ErrorCode 90049", r.stderr)
        r = self.imcast("--json", "revoke", "nope", want=1)
        self.assertEqual(json.loads(r.stdout)["ErrorCode"], 90049)

    def test_tags_and_attrs_together_is_a_tencent_error(self):
        r = self.imcast("push", "x", "--tags-or", "a", "--attrs-or", "sex=F", want=1)
        self.assertRegex(r.stderr, r"^ErrorCode 90039: \S")

    def test_usage_errors(self):
        self.imcast("push", want=2)
        self.imcast("push", "a", "b", want=2)
        self.imcast("push", "x", "--life", "-1", want=2)
        self.imcast("push", "x", "--life", "604801", want=2)
        self.imcast("push", "x", "--random", "abc", want=2)
        self.imcast("push", "x", "--custom", "{not json", want=2)
        self.imcast("push", "x", "--attrs-or", "noequals", want=2)
        self.imcast("push", "x", "--no-such-option", want=2)
        r = self.imcast("push", "x", "--wait", want=2)  # MsgLifeTime 0 keeps no report
        self.assertIn("--life", r.stderr)
        self.imcast("report", want=2)
        self.imcast("revoke", want=2)


class ListenCommand(CliTestCase):
    def test_prints_each_push_and_acks_it(self):
        user = uid("ear")
        self.import_accounts(user)
        proc = subprocess.Popen([IMCAST_CLI, "listen", user], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=self.cli_env(), text=True)
        try:
            self.wait_for_login(user)
            task = self.ok("all_member_push", "im_push",
                           {"MsgRandom": 4242, "MsgLifeTime": 300, "MsgBody": [
                               {"MsgType": "TIMTextElem",
                                "MsgContent": {"Text": "hello listener"}}]})["TaskId"]
            ev = json.loads(self.read_line(proc))
            self.assertEqual(ev["Event"], "Msg")
            self.assertEqual(ev["TaskId"], task)
            self.assertEqual(ev["MsgBody"][0]["MsgContent"]["Text"], "hello listener")
            deadline = time.monotonic() + 10
            while True:  # the Ack shows in the report
                rep = self.ok("all_member_push", "im_get_push_report", {"TaskId": task})
                if rep["Delivered"] >= 1 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            self.assertGreaterEqual(rep["Delivered"], 1, short(rep))
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                rc = proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
            err = proc.stderr.read()
            proc.stdout.close()
            proc.stderr.close()
        self.assertEqual(rc, 0, "imcast listen after SIGINT: exit %d, stderr %s" % (rc, err))

    def test_usage(self):
        self.imcast("listen", want=2)


class ImportCommand(CliTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv.ok("all_member_push", "im_set_attr_name",
                   {"AttrNames": {"0": "sex", "1": "city"}})

    def write(self, text):
        f = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8")
        f.write(text)
        f.close()
        self.addCleanup(os.unlink, f.name)
        return f.name

    def test_csv(self):
        a, b, c = uid("csv"), uid("csv"), uid("csv")
        path = self.write("account,tags,attrs\n"
                          "%s,vip;beta,sex=F;city=SZ\n"
                          "\"%s\",\"solo\",\n"
                          "# a comment\n\n"
                          "%s\n" % (a, b, c))
        r = self.imcast("import", path)
        self.assertIn("imported 3 account", r.stdout)
        self.assertEqual(self.check_status(a, b, c), {a: "Imported", b: "Imported", c: "Imported"})
        tags = self.get_tags(a, b, c)
        self.assertEqual((sorted(tags[a]), tags[b], tags[c]), (["beta", "vip"], ["solo"], []))
        self.assertEqual(self.get_attrs(a)[a], {"sex": "F", "city": "SZ"})

    def test_json_lines(self):
        a, b = uid("jl"), uid("jl")
        path = self.write(json.dumps({"account": a, "tags": ["t%d" % i for i in range(13)],
                                      "attrs": {"sex": "M"}}) + "\n"
                          + json.dumps({"UserID": b}) + "\n")
        self.imcast("import", path)
        self.assertEqual(self.check_status(a, b), {a: "Imported", b: "Imported"})
        self.assertEqual(len(self.get_tags(a)[a]), 13)
        self.assertEqual(self.get_attrs(a)[a], {"sex": "M"})

    def test_many_batches_from_stdin(self):
        users = [uid("bulk") for _ in range(250)]
        text = "".join("%s,grp%d,city=C%d\n" % (u, i % 3, i % 5) for i, u in enumerate(users))
        r = self.imcast("import", "-", stdin=text)
        self.assertIn("imported 250 account", r.stdout)
        self.assertEqual(set(self.check_status(*users[150:]).values()), {"Imported"})
        self.assertEqual(self.get_tags(users[249])[users[249]], ["grp0"])
        self.assertEqual(self.get_attrs(users[248])[users[248]], {"city": "C3"})

    def test_json_mode_prints_each_answer(self):
        a = uid("jm")
        path = self.write("%s,t\n" % a)
        r = self.imcast("--json", "import", path)
        docs = [json.loads(ln) for ln in self.lines(r.stdout)]
        self.assertEqual(len(docs), 2)  # multiaccount_import, im_add_tag
        self.assertTrue(all(d["ErrorCode"] == 0 for d in docs), docs)

    def test_a_bad_line_stops_before_anything_is_sent(self):
        a = uid("bad")
        path = self.write("%s,x\n\"unclosed,y\n" % a)
        r = self.imcast("import", path, want=2)
        self.assertIn(":2:", r.stderr)
        self.assertEqual(self.check_status(a), {a: "NotImported"})
        path = self.write("{\"tags\":[\"no account\"]}\n")
        self.imcast("import", path, want=2)

    def test_server_refusal_is_a_tencent_error(self):
        a = uid("refused")
        path = self.write("%s,%s\n" % (a, "x" * 51))
        r = self.imcast("import", path, want=1)
        self.assertIn("ErrorCode 90020", r.stderr)

    def test_missing_file_is_usage(self):
        self.imcast("import", "/nonexistent/accounts.csv", want=2)


class ExitCodes(CliTestCase):
    def test_no_command(self):
        self.imcast(want=2)

    def test_unknown_command_and_option(self):
        self.imcast("frobnicate", want=2)
        self.imcast("--frobnicate", "state", "x", want=2)
        self.imcast("--sdkappid", "abc", "state", "x", want=2)

    def test_help(self):
        r = self.imcast("--help")
        self.assertIn("usage: imcast", r.stdout)

    def test_no_key_is_usage(self):
        env = self.cli_env()
        del env["IMCAST_KEY"]
        self.imcast("state", "x", env=env, want=2)

    def test_wrong_key_is_a_tencent_error(self):
        r = self.imcast("--key", "not-the-key", "attr", "names", want=1)
        self.assertRegex(r.stderr, r"^ErrorCode 70009: \S")

    def test_wrong_sdkappid_is_a_tencent_error(self):
        r = self.imcast("--sdkappid", "1400000001", "attr", "names", want=1)
        self.assertRegex(r.stderr, r"ErrorCode 700(20|14)")

    def test_flags_win_over_environment(self):
        env = self.cli_env(IMCAST_URL="http://127.0.0.1:1")
        self.imcast("--url", "http://127.0.0.1:%d" % self.srv.port, "attr", "names", env=env)

    def test_unreachable_server_is_a_transport_error(self):
        env = self.cli_env(IMCAST_URL="http://127.0.0.1:1")
        r = self.imcast("attr", "names", env=env, want=3)
        self.assertTrue(r.stderr.strip())
        self.assertNotIn("ErrorCode", r.stderr)

    def test_json_failure_prints_the_raw_envelope(self):
        r = self.imcast("--json", "account", "kick", uid("ghost"), want=1)
        doc = json.loads(r.stdout)
        self.assertEqual((doc["ActionStatus"], doc["ErrorCode"]), ("FAIL", 70107))


class OverTls(CliTestCase):
    """https:// with --ca-file (the certificate is self-signed), and wss:// for listen."""
    server_kwargs = {"tls": True}

    def tls_env(self, **extra):
        return self.cli_env(IMCAST_URL="https://127.0.0.1:%d" % self.srv.tls_port, **extra)

    def test_ca_file_flag_and_environment(self):
        a = uid("tls")
        self.imcast("--ca-file", self.srv.cert, "account", "import", a, env=self.tls_env())
        self.assertEqual(self.check_status(a), {a: "Imported"})
        self.imcast("account", "check", a, env=self.tls_env(IMCAST_CA_FILE=self.srv.cert))

    def test_untrusted_certificate_is_a_transport_error(self):
        r = self.imcast("attr", "names", env=self.tls_env(), want=3)
        self.assertNotIn("ErrorCode", r.stderr)

    def test_listen_over_wss(self):
        user = uid("wss")
        self.import_accounts(user)
        proc = subprocess.Popen([IMCAST_CLI, "listen", user], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE,
                                env=self.tls_env(IMCAST_CA_FILE=self.srv.cert), text=True)
        try:
            self.wait_for_login(user)
            self.ok("all_member_push", "im_push",
                    {"MsgRandom": 99, "MsgLifeTime": 60, "MsgBody": [
                        {"MsgType": "TIMTextElem", "MsgContent": {"Text": "over tls"}}]})
            ev = json.loads(self.read_line(proc))
            self.assertEqual(ev["MsgBody"][0]["MsgContent"]["Text"], "over tls")
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                rc = proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
            proc.stdout.close()
            proc.stderr.close()
        self.assertEqual(rc, 0)


if __name__ == "__main__":
    unittest.main()
