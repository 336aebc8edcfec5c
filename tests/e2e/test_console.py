"""The web console (web/console, served by imcastd at /console/).

ConsoleFilesTests (no browser): every file under web/console is served at /console/<path>
with its Content-Type, the Content-Security-Policy and its exact bytes; /console/ is
index.html; and the files keep to what that CSP allows (no inline script, no inline style,
no eval) and never put data into innerHTML.

ConsoleBrowserTest: tests/e2e/console/console.test.mjs drives headless Debian Chromium
(/usr/bin/chromium) with playwright-core against a real imcastd: receiver login, admin
sign-in, account import, attribute names, tags and attributes, the audience dry run, a push
to a tag with its live report reaching Delivered 1 while the receiver shows the text in
[data-role=message], a custom element push revoked from the report, every element type,
no console errors, and a kick. It needs node, npm and chromium (scripts/install-deps);
playwright-core is installed from tests/e2e/console/package-lock.json with `npm ci` when
node_modules lacks it. IMCAST_SCREENSHOTS=1 makes it write docs/console-*.png.
"""
import fcntl
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from imcast_harness import ADMIN, KEY, REPO, SDKAPPID, Server, short, usersig

HERE = os.path.dirname(os.path.abspath(__file__))
CONSOLE_TEST_DIR = os.path.join(HERE, "console")
WEB_DIR = os.path.join(REPO, "web", "console")
CHROMIUM = os.environ.get("IMCAST_CHROMIUM", "/usr/bin/chromium")
USER = "viewer1"
PING_SEC = 1
NODE_TIMEOUT = 300
NPM_TIMEOUT = 300

TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css",
         ".svg": "image/svg+xml", ".png": "image/png", ".json": "application/json"}


def console_files():
    out = []
    for root, _dirs, files in os.walk(WEB_DIR):
        for f in files:
            full = os.path.join(root, f)
            out.append((os.path.relpath(full, WEB_DIR).replace(os.sep, "/"), full))
    return sorted(out)


class ConsoleFilesTests(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = Server()
        try:
            cls.srv.start()
        except Exception:
            cls.srv.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.srv.stop()
        finally:
            cls.srv.cleanup()

    def get(self, path):
        return self.srv.client.request("GET", path)

    def assert_console_headers(self, path, hdrs, want_type):
        self.assertTrue(hdrs.get("content-type", "").startswith(want_type),
                        "%s: Content-Type %r, want %s" % (path, hdrs.get("content-type"), want_type))
        csp = hdrs.get("content-security-policy", "")
        for directive in ("script-src 'self'", "style-src 'self'", "connect-src 'self' ws: wss:"):
            self.assertIn(directive, csp, "%s: Content-Security-Policy %r" % (path, csp))
        self.assertNotIn("unsafe-inline", csp)
        self.assertNotIn("unsafe-eval", csp)

    def test_index_is_served_at_console_slash(self):
        status, hdrs, body = self.get("/console/")
        self.assertEqual(status, 200, short(body))
        self.assert_console_headers("/console/", hdrs, "text/html")
        with open(os.path.join(WEB_DIR, "index.html"), "rb") as f:
            self.assertEqual(body, f.read())

    def test_every_file_is_served_with_its_type(self):
        files = console_files()
        self.assertTrue(any(rel == "receiver.html" for rel, _ in files), files)
        for rel, full in files:
            ext = os.path.splitext(rel)[1]
            status, hdrs, body = self.get("/console/" + rel)
            self.assertEqual(status, 200, "/console/%s: %s" % (rel, short(body)))
            if ext in TYPES:
                self.assert_console_headers("/console/" + rel, hdrs, TYPES[ext])
            with open(full, "rb") as f:
                self.assertEqual(body, f.read(), "/console/%s: served bytes differ" % rel)

    def test_files_keep_to_the_csp(self):
        for rel, full in console_files():
            with open(full, encoding="utf-8", errors="replace") as f:
                text = f.read()
            if rel.endswith(".js"):      # comments may name what the code must not do
                text = re.sub(r"/\*.*?\*/|^\s*//.*$", "", text, flags=re.S | re.M)
            if rel.endswith(".html"):
                for m in re.finditer(r"<script\b[^>]*>", text, re.I):
                    self.assertIn("src=", m.group(0), "%s: inline script %s" % (rel, m.group(0)))
                self.assertIsNone(re.search(r"<style\b", text, re.I), "%s: a <style> block" % rel)
                self.assertIsNone(re.search(r"\sstyle\s*=", text, re.I), "%s: a style attribute" % rel)
                self.assertIsNone(re.search(r"\son[a-z]+\s*=", text, re.I), "%s: an inline handler" % rel)
                self.assertIsNone(re.search(r"(href|src)\s*=\s*[\"']?(https?:)?//", text, re.I),
                                  "%s: loads something from another site" % rel)
            if rel.endswith(".js"):
                for bad in (r"\binnerHTML\b", r"\bouterHTML\b", r"insertAdjacentHTML", r"\beval\s*\(",
                            r"new\s+Function\b", r"document\.write", r"\.style\.", r"setAttribute\(\s*['\"]style"):
                    self.assertIsNone(re.search(bad, text), "%s: uses %s" % (rel, bad))


class ConsoleBrowserTest(unittest.TestCase):

    def setUp(self):
        self.node = shutil.which("node")
        self.npm = shutil.which("npm")
        missing = [what for what, ok in (("node", self.node), ("npm", self.npm),
                                         ("chromium (%s)" % CHROMIUM, os.access(CHROMIUM, os.X_OK)))
                   if not ok]
        if missing:
            self.fail("the console test needs %s: run scripts/install-deps (Debian packages "
                      "nodejs npm chromium)" % ", ".join(missing))
        self.ensure_playwright()
        # PingSec 1: the server closes a receiver silent for 3 s, which the page must avoid.
        self.srv = Server(extra=["--ping-sec", str(PING_SEC)])
        self.addCleanup(self.srv.cleanup)
        self.srv.start()

    def ensure_playwright(self):
        """npm ci from the lock file unless node_modules already has its playwright-core."""
        with open(os.path.join(CONSOLE_TEST_DIR, "package-lock.json"), encoding="utf-8") as f:
            want = json.load(f)["packages"]["node_modules/playwright-core"]["version"]
        installed = os.path.join(CONSOLE_TEST_DIR, "node_modules", "playwright-core", "package.json")
        lock_path = os.path.join(tempfile.gettempdir(), "imcast-console-npm.lock")
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)            # one npm ci at a time
            try:
                with open(installed, encoding="utf-8") as f:
                    if json.load(f).get("version") == want:
                        return
            except (OSError, ValueError):
                pass
            try:
                r = subprocess.run([self.npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                                   cwd=CONSOLE_TEST_DIR, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   timeout=NPM_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.fail("`npm ci` in %s did not finish within %ss (is the npm registry "
                          "reachable?)" % (CONSOLE_TEST_DIR, NPM_TIMEOUT))
            if r.returncode != 0:
                self.fail("`npm ci` in %s failed (exit %d), so playwright-core is missing; the "
                          "npm registry must be reachable once to install it:\n%s"
                          % (CONSOLE_TEST_DIR, r.returncode,
                             r.stdout.decode("utf-8", "replace")[-3000:]))

    def test_console_end_to_end(self):
        admin_sig = usersig(KEY, SDKAPPID, ADMIN)
        user_sig = usersig(KEY, SDKAPPID, USER)
        env = dict(os.environ, IMCAST_SDKAPPID=str(SDKAPPID), IMCAST_CHROMIUM=CHROMIUM,
                   IMCAST_PING_SEC=str(PING_SEC))
        argv = [self.node, os.path.join(CONSOLE_TEST_DIR, "console.test.mjs"),
                str(self.srv.port), admin_sig, user_sig, USER]
        try:
            r = subprocess.run(argv, cwd=CONSOLE_TEST_DIR, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=NODE_TIMEOUT)
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode("utf-8", "replace")
            self.fail("console.test.mjs did not finish within %ss:\n%s%s"
                      % (NODE_TIMEOUT, out[-6000:], self.srv.context(force=True)))
        out = r.stdout.decode("utf-8", "replace")
        print(out, end="")
        self.assertEqual(r.returncode, 0, "console.test.mjs failed (exit %d):\n%s%s"
                         % (r.returncode, out[-8000:], self.srv.context(force=True)))
        self.assertRegex(out, r"(?m)^\d+ passed, 0 failed$")


if __name__ == "__main__":
    unittest.main()
