"""libimcast as its users get it: `cmake --install` into a fresh prefix, then every program
of examples/ compiled out of tree with
    cc prog.c $(pkg-config --cflags --libs imcast)
against that prefix only, and a few of them run against a real imcastd.

The build tree is the one holding the imcast CLI ($IMCAST_CLI, else the folder of
$IMCASTD, else <repo>/build). When that tree was configured with IMCAST_SANITIZE=ON the
examples are compiled with the same sanitizers, since the installed library needs them.
"""
import glob
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from imcast_harness import IMCASTD, KEY, REPO, SDKAPPID, ServerTestCase, short, uid

EXAMPLES = os.path.join(REPO, "examples")


def build_dir():
    cli = os.environ.get("IMCAST_CLI")
    if cli:
        return os.path.dirname(os.path.abspath(cli))
    if os.environ.get("IMCASTD"):
        return os.path.dirname(os.path.abspath(IMCASTD))
    return os.path.join(REPO, "build")


def sanitized(build):
    try:
        with open(os.path.join(build, "CMakeCache.txt"), encoding="utf-8") as f:
            return re.search(r"^IMCAST_SANITIZE:BOOL=(ON|1|TRUE)$", f.read(), re.M) is not None
    except OSError:
        return False


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          errors="replace", timeout=300, **kw)


class InstalledSdk(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.build = build_dir()
        cls.prefix = tempfile.mkdtemp(prefix="imcast-sdk-prefix-")
        cls.bin = tempfile.mkdtemp(prefix="imcast-sdk-examples-")
        r = run(["cmake", "--install", cls.build, "--prefix", cls.prefix])
        if r.returncode != 0:
            raise AssertionError("cmake --install %s failed:\n%s\n%s"
                                 % (cls.build, r.stdout, r.stderr))
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.prefix, ignore_errors=True)
        shutil.rmtree(cls.bin, ignore_errors=True)

    def pkg_config_flags(self):
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(self.prefix, "lib", "pkgconfig"))
        r = run(["pkg-config", "--cflags", "--libs", "imcast"], env=env)
        self.assertEqual(r.returncode, 0, "pkg-config imcast: %s" % r.stderr)
        return r.stdout.split()

    def compile(self, source):
        out = os.path.join(self.bin, os.path.basename(source)[:-2])
        cmd = ["cc", source] + self.pkg_config_flags() + ["-o", out]
        if sanitized(self.build):
            cmd += ["-fsanitize=address,undefined"]
        r = run(cmd)
        self.assertEqual(r.returncode, 0, "%s\n%s" % (" ".join(cmd), r.stderr))
        return out

    def run_example(self, name):
        exe = os.path.join(self.bin, name)
        if not os.path.exists(exe):
            exe = self.compile(os.path.join(EXAMPLES, name + ".c"))
        env = dict(os.environ, IMCAST_URL="http://127.0.0.1:%d" % self.srv.port,
                   IMCAST_KEY=KEY, IMCAST_SDKAPPID=str(SDKAPPID),
                   LD_LIBRARY_PATH=os.path.join(self.prefix, "lib"))
        env.pop("IMCAST_ADMIN", None)
        r = run([exe], env=env)
        self.assertEqual(r.returncode, 0, "%s: exit %d\nstdout: %s\nstderr: %s%s"
                         % (name, r.returncode, short(r.stdout), short(r.stderr),
                            self.srv.context()))
        return r.stdout

    def test_install_layout(self):
        for path in ("include/imcast/imcast.h", "lib/libimcast.so", "lib/libimcast.a",
                     "lib/pkgconfig/imcast.pc", "bin/imcast"):
            self.assertTrue(os.path.exists(os.path.join(self.prefix, path)), path)

    def test_every_example_compiles_out_of_tree(self):
        sources = sorted(glob.glob(os.path.join(EXAMPLES, "*.c")))
        self.assertGreaterEqual(len(sources), 13, sources)
        for src in sources:
            with self.subTest(example=os.path.basename(src)):
                self.compile(src)

    def test_push_to_all(self):
        out = self.run_example("push_all")
        self.assertRegex(out, r"^TaskId [0-9a-f_]+\n$")

    def test_attribute_names_round_trip(self):
        self.run_example("set_attr_names")
        out = self.run_example("get_attr_names")
        self.assertEqual(out.splitlines(), ["0 sex", "1 city", "2 country"])
        self.assertEqual(self.get_attr_names(), {"0": "sex", "1": "city", "2": "country"})

    def test_tags_and_attributes_of_test1(self):
        self.import_accounts("test1", "test2")
        self.run_example("set_attr_names")
        self.run_example("add_tags")
        self.assertEqual(sorted(self.get_tags("test1")["test1"]), ["a", "b"])
        self.assertIn("test1 a b", self.run_example("get_tags"))
        self.run_example("set_attrs")
        self.assertEqual(self.get_attrs("test1")["test1"], {"sex": "attr1", "city": "attr2"})
        self.run_example("remove_attrs")
        self.assertEqual(self.get_attrs("test1")["test1"], {})
        self.run_example("remove_all_tags")
        self.assertEqual(self.get_tags("test1")["test1"], [])

    def test_targeted_pushes(self):
        self.import_accounts(uid("someone"))
        self.run_example("set_attr_names")
        for name in ("push_from_account", "push_by_tags", "push_by_attrs"):
            with self.subTest(example=name):
                self.assertRegex(self.run_example(name), r"^TaskId [0-9a-f_]+\n$")


if __name__ == "__main__":
    unittest.main()
