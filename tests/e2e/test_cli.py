"""imcastd's command line: flags, the data folder, the key file, the usersig subcommand,
signals and the "listening on" lines.

Readings of the brief tested here:
  - a bad flag or an unusable data folder exits with code 2 (a usage/config error);
  - `imcastd usersig USER --key K` prints the sig alone on stdout and exits 0;
  - with neither --key nor IMCAST_KEY the server makes DIR/secret.key (mode 0600) holding
    the key string (surrounding whitespace/newline ignored), and reuses it on restart;
    `imcastd --data DIR usersig administrator` signs with that key;
  - SIGTERM exits 0, also with an idle keep-alive client connected.
"""
import os
import stat
import tempfile
import shutil
import unittest

from imcast_harness import (ADMIN, KEY, SDKAPPID, Client, Server, decode_usersig, run_cli,
                            short, usersig, verify_usersig)


def one_line(text):
    return [ln for ln in text.splitlines() if ln.strip()]


class BadInvocations(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="imcast-cli-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def assert_exit2_one_line(self, args):
        r = run_cli(args)
        self.assertEqual(r.returncode, 2, "imcastd %s: want exit 2, got %d\nstdout: %s\nstderr: %s"
                         % (" ".join(args), r.returncode, short(r.stdout), short(r.stderr)))
        lines = one_line(r.stderr)
        self.assertEqual(len(lines), 1, "imcastd %s: want exactly one line on stderr, got %r"
                         % (" ".join(args), r.stderr))
        self.assertNotIn("listening on", r.stdout)
        return r

    def test_unknown_flag(self):
        self.assert_exit2_one_line(["--no-such-flag"])

    def test_unknown_flag_among_good_ones(self):
        data = os.path.join(self.tmp, "d")
        os.mkdir(data)
        r = self.assert_exit2_one_line(["--listen", "127.0.0.1:0", "--data", data, "--key", KEY,
                                        "--bogus-option", "x"])
        self.assertIn("bogus", r.stderr, "the message should name the bad flag")

    def test_request_rate_out_of_range(self):
        r = self.assert_exit2_one_line(["--max-requests-per-ip", "1000001"])
        self.assertIn("max-requests-per-ip", r.stderr)

    def test_flag_without_its_value(self):
        self.assert_exit2_one_line(["--data"])

    def test_data_folder_is_a_file(self):
        f = os.path.join(self.tmp, "a-file")
        with open(f, "w") as fh:
            fh.write("not a folder\n")
        r = run_cli(["--listen", "127.0.0.1:0", "--data", f, "--key", KEY,
                     "--sdkappid", str(SDKAPPID)])
        self.assertEqual(r.returncode, 2, "data folder is a file: want exit 2, got %d\nstderr: %s"
                         % (r.returncode, short(r.stderr)))
        self.assertTrue(r.stderr.strip(), "an unusable data folder must be explained on stderr")
        self.assertNotIn("listening on", r.stdout)

    def test_data_folder_under_proc(self):
        r = run_cli(["--listen", "127.0.0.1:0", "--data", "/proc/imcast-e2e-nope/data",
                     "--key", KEY, "--sdkappid", str(SDKAPPID)])
        self.assertEqual(r.returncode, 2, "data folder under /proc: want exit 2, got %d\nstderr: %s"
                         % (r.returncode, short(r.stderr)))
        self.assertTrue(r.stderr.strip())
        self.assertNotIn("listening on", r.stdout)


class UsersigSubcommand(unittest.TestCase):
    def run_usersig(self, args):
        r = run_cli(args)
        self.assertEqual(r.returncode, 0, "imcastd %s: exit %d, stderr %s"
                         % (" ".join(args), r.returncode, short(r.stderr)))
        lines = one_line(r.stdout)
        self.assertEqual(len(lines), 1, "usersig should print one line, got %r" % r.stdout)
        return lines[0].strip()

    def test_usersig_with_key(self):
        sig = self.run_usersig(["usersig", "alice", "--key", KEY])
        doc = decode_usersig(sig)
        self.assertEqual(doc["TLS.identifier"], "alice", doc)
        self.assertEqual(verify_usersig(KEY, sig, identifier="alice"), 0,
                         "the Python verifier rejects %s (%s)" % (sig, doc))
        self.assertEqual(verify_usersig("another-key", sig, identifier="alice"), 70009)

    def test_usersig_with_key_and_sdkappid(self):
        sig = self.run_usersig(["usersig", ADMIN, "--key", KEY, "--sdkappid", str(SDKAPPID)])
        self.assertEqual(verify_usersig(KEY, sig, SDKAPPID, ADMIN), 0, decode_usersig(sig))
        doc = decode_usersig(sig)
        self.assertGreater(doc["TLS.expire"], 0)

    def test_usersig_is_accepted_by_the_server(self):
        sig = self.run_usersig(["usersig", ADMIN, "--key", KEY, "--sdkappid", str(SDKAPPID)])
        with Server() as srv:
            srv.ok("all_member_push", "im_get_attr_name", {}, sig=sig)


class KeyFile(unittest.TestCase):
    """No --key and no IMCAST_KEY: DIR/secret.key is made (0600) and reused."""

    def test_key_file_made_and_reused(self):
        srv = Server(key=None, sdkappid=None)
        self.addCleanup(srv.cleanup)
        srv.start()
        keyfile = os.path.join(srv.data, "secret.key")
        self.assertTrue(os.path.isfile(keyfile), "no %s after a start without --key; data folder "
                        "holds %s%s" % (keyfile, os.listdir(srv.data), srv.context(True)))
        mode = stat.S_IMODE(os.stat(keyfile).st_mode)
        self.assertEqual(mode, 0o600, "secret.key mode is %o, want 600" % mode)
        with open(keyfile) as f:
            key = f.read().strip()
        self.assertTrue(key, "secret.key is empty")

        r = run_cli(["--data", srv.data, "usersig", ADMIN])
        self.assertEqual(r.returncode, 0, "imcastd --data DIR usersig: exit %d, stderr %s"
                         % (r.returncode, short(r.stderr)))
        sig1 = r.stdout.strip()
        self.assertEqual(verify_usersig(key, sig1, identifier=ADMIN), 0,
                         "sig from `imcastd --data DIR usersig` is not signed with secret.key's "
                         "key: %s" % decode_usersig(sig1))
        appid = decode_usersig(sig1)["TLS.sdkappid"]   # the server's default sdkappid
        cl = Client(srv.port, key=key, sdkappid=appid, server=srv)
        cl.ok("all_member_push", "im_get_attr_name", {}, sig=sig1)
        cl.ok("im_open_login_svc", "account_import", {"UserID": "keyfile_user"}, sig=sig1)
        cl.close()

        srv.stop()
        srv.start()
        with open(keyfile) as f:
            self.assertEqual(f.read().strip(), key, "secret.key changed across a restart")
        self.assertEqual(stat.S_IMODE(os.stat(keyfile).st_mode), 0o600)
        cl = Client(srv.port, key=key, sdkappid=appid, server=srv)
        # the sig made before the restart still works, and so does a new one
        r = cl.ok("im_open_login_svc", "account_check",
                  {"CheckItem": [{"UserID": "keyfile_user"}]}, sig=sig1)
        self.assertEqual(r["ResultItem"][0]["AccountStatus"], "Imported", short(r))
        r2 = run_cli(["--data", srv.data, "usersig", ADMIN])
        self.assertEqual(r2.returncode, 0, r2.stderr)
        cl.ok("all_member_push", "im_get_attr_name", {}, sig=r2.stdout.strip())
        # a sig made with another key is refused
        cl.fail("all_member_push", "im_get_attr_name", {}, code=70009,
                sig=usersig(KEY, appid, ADMIN))
        cl.close()
        srv.stop()


class Signals(unittest.TestCase):
    def test_sigterm_exits_zero(self):
        srv = Server()
        self.addCleanup(srv.cleanup)
        srv.start()
        srv.ok("im_open_login_svc", "account_import", {"UserID": "sig_u1"})
        self.assertEqual(srv.stop(), 0)

    def test_sigterm_with_idle_keepalive_connection(self):
        srv = Server()
        self.addCleanup(srv.cleanup)
        srv.start()
        other = srv.new_client()
        other.ok("all_member_push", "im_get_attr_name", {})
        raw = srv.raw()     # connected, sent nothing
        self.addCleanup(raw.close)
        self.addCleanup(other.close)
        self.assertEqual(srv.stop(), 0)

    def test_sigterm_right_after_start(self):
        srv = Server()
        self.addCleanup(srv.cleanup)
        srv.start()
        self.assertEqual(srv.stop(), 0)


class ListeningLines(unittest.TestCase):
    def test_one_line_per_listener_plain(self):
        srv = Server()
        self.addCleanup(srv.cleanup)
        srv.start()
        srv.ok("all_member_push", "im_get_attr_name", {})
        srv.stop()
        lines = srv.listening_lines()
        self.assertEqual(len(lines), 1, "want exactly one 'listening on' line: %r" % srv.stdout_lines)
        self.assertRegex(lines[0], r"^imcastd listening on http://127\.0\.0\.1:\d+$")
        self.assertNotEqual(srv.port, 0, "the line must show the real port, not 0")

    def test_one_line_per_listener_tls(self):
        srv = Server(tls=True)
        self.addCleanup(srv.cleanup)
        srv.start()
        srv.ok("all_member_push", "im_get_attr_name", {})
        srv.stop()
        lines = srv.listening_lines()
        http_lines = [ln for ln in lines if "http://" in ln]
        https_lines = [ln for ln in lines if "https://" in ln]
        self.assertEqual((len(http_lines), len(https_lines)), (1, 1),
                         "want one http:// and one https:// line: %r" % srv.stdout_lines)
        self.assertEqual(len(lines), 2, srv.stdout_lines)
        self.assertNotEqual(srv.port, srv.tls_port)


if __name__ == "__main__":
    unittest.main()
