"""Operations: the INI config file, --check-config, SIGHUP (log reopen, TLS certificate
reload) and graceful shutdown of receivers (1001)."""
import os
import shutil
import signal
import socket
import ssl
import tempfile
import time
import unittest

from imcast_harness import KEY, SDKAPPID, Server, make_cert, run_cli
from imcast_ws import WSClient


class ConfigFile(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="imcast-ops-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_check_config_ok_and_writes_nothing(self):
        data = os.path.join(self.tmp, "data")
        cfg = self.write("imcast.ini", "[imcastd]\nlisten = 127.0.0.1:0\ndata = %s\nsdkappid = 1400000001\n"
                         "admin = ops1, ops2\nping_sec = 10\n" % data)
        r = run_cli(["--config", cfg, "--check-config"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration OK", r.stdout)
        self.assertFalse(os.path.exists(data), "--check-config must not create the data folder")

    def test_check_config_reports_problems(self):
        cases = {
            "unknown key": "[imcastd]\nlisen = 127.0.0.1:1\n",
            "bad value": "[imcastd]\nlisten = nowhere\n",
            "bad ping": "ping-sec = 0\n",
            "not ini": "this is [ not ini\n",
        }
        for what, text in cases.items():
            with self.subTest(what):
                r = run_cli(["--config", self.write("bad.ini", text), "--check-config"])
                self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        data_file = self.write("not-a-dir", "x")
        r = run_cli(["--data", data_file, "--check-config"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("not a folder", r.stderr)
        cert = self.write("cert.pem", "garbage")
        r = run_cli(["--tls-listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", cert,
                     "--check-config"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("TLS", r.stderr)

    def test_flags_win_over_the_file(self):
        cfg = self.write("imcast.ini", "sdkappid = 1400000009\n")
        srv = Server(extra=["--config", cfg], sdkappid=SDKAPPID)   # the flag says 1400000000
        srv.start()
        try:
            srv.client.ok("im_open_login_svc", "account_check", {"CheckItem": [{"UserID": "a"}]})
        finally:
            srv.stop()
            srv.cleanup()

    def test_admins_from_the_file(self):
        cfg = self.write("imcast.ini", "[imcastd]\nadmin = ops1, ops2\n")
        srv = Server(extra=["--config", cfg])
        srv.start()
        try:
            c = srv.new_client()
            c.ok("im_open_login_svc", "account_check", {"CheckItem": [{"UserID": "a"}]},
                 identifier="ops2")
            c.fail("im_open_login_svc", "account_check", {"CheckItem": [{"UserID": "a"}]},
                   code=60010, identifier="administrator")
        finally:
            srv.stop()
            srv.cleanup()


class Sighup(unittest.TestCase):
    def test_log_reopen_and_certificate_reload(self):
        tmp = tempfile.mkdtemp(prefix="imcast-hup-")
        self.addCleanup(shutil.rmtree, tmp, True)
        log = os.path.join(tmp, "imcastd.log")
        srv = Server(tls=True, extra=["--log-file", log])
        srv.start()
        self.addCleanup(srv.cleanup)
        try:
            first = self.peer_cert(srv.tls_port)
            # rotate the log, make a new certificate in place, then SIGHUP
            os.rename(log, log + ".1")
            new_dir = os.path.join(tmp, "new")
            os.makedirs(new_dir)
            cert, key = make_cert(new_dir)
            shutil.copy(cert, srv.cert)
            shutil.copy(key, srv.certkey)
            srv.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 5
            while not (os.path.exists(log) and "TLS certificate reloaded" in open(log).read()):
                self.assertLess(time.monotonic(), deadline, "no reload logged in the new log file")
                time.sleep(0.05)
            second = self.peer_cert(srv.tls_port)
            self.assertNotEqual(first, second, "the listener still serves the old certificate")
            with open(log + ".1") as f:
                self.assertIn("serving sdkappid", f.read())
        finally:
            srv.stop()

    @staticmethod
    def peer_cert(port):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            with ctx.wrap_socket(s) as t:
                return t.getpeercert(binary_form=True)


class Shutdown(unittest.TestCase):
    def test_sigterm_closes_receivers_with_1001(self):
        srv = Server()
        srv.start()
        self.addCleanup(srv.cleanup)
        c = WSClient(srv.port, "shut_u")
        c.connect()
        t0 = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        code, _ = c.wait_closed(timeout=5)
        self.assertEqual(code, 1001)
        self.assertEqual(srv.proc.wait(timeout=10), 0)
        self.assertLess(time.monotonic() - t0, 8)


if __name__ == "__main__":
    unittest.main()
