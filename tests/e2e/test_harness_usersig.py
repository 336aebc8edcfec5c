"""The harness's own UserSig generator and verifier against ../testdata/usersig/vectors.json.

No server needed: this checks that the Python implementation the other e2e tests rely on
computes Tencent's UserSig v2 exactly (same signed content, same HMAC, same JSON text as
Tencent's generator) and that its verifier gives every vector's expected code at the
vector's fixed time. If this fails, every other e2e result is suspect.
"""
import unittest
import urllib.parse
import zlib
import base64

from imcast_harness import (KEY, SDKAPPID, VECTORS, decode_usersig, usersig, usersig_json,
                            verify_usersig, _SIG_TO_B64)

V = {v["name"]: v for v in VECTORS["vectors"]}
DOCS_ORDER = ["TLS.ver", "TLS.identifier", "TLS.sdkappid", "TLS.expire", "TLS.time", "TLS.sig"]


def inflate(sig):
    return zlib.decompress(base64.b64decode(sig.translate(_SIG_TO_B64)))


class VerifierAgainstVectors(unittest.TestCase):
    def test_every_vector_gets_its_expected_code(self):
        for v in VECTORS["vectors"]:
            with self.subTest(v["name"]):
                ver = v["verify"]
                s = v["usersig"]
                if ver.get("percent_encoded"):
                    s = urllib.parse.unquote(s)
                got = verify_usersig(KEY, s, ver["sdkappid"], ver["identifier"], ver["now"])
                self.assertEqual(got, v["expect"], "%s: %s" % (v["name"], v["note"]))

    def test_expiry_is_inclusive(self):
        s = usersig(KEY, SDKAPPID, "administrator", expire=100, now=1700000000)
        self.assertEqual(verify_usersig(KEY, s, SDKAPPID, "administrator", 1700000100), 0)
        self.assertEqual(verify_usersig(KEY, s, SDKAPPID, "administrator", 1700000101), 70001)


class GeneratorReproducesVectors(unittest.TestCase):
    """Recompute TLS.sig from each valid vector's fields and compare the whole JSON text."""

    def check(self, name, **variant):
        v = V[name]
        doc = decode_usersig(urllib.parse.unquote(v["usersig"]))
        mine = usersig_json(KEY, doc["TLS.sdkappid"], doc["TLS.identifier"], doc["TLS.expire"],
                            doc["TLS.time"], **variant)
        self.assertEqual(mine, inflate(urllib.parse.unquote(v["usersig"])), name)
        return doc

    def test_official_admin(self):
        doc = self.check("official-admin")
        self.assertEqual(doc["TLS.sig"], "yLAe+w7WUeUuqbV9h/TX78u21oTGi+i9Zp1u3PpnY60=")

    def test_official_user(self):
        self.check("official-user")

    def test_percent_encoded(self):
        self.check("percent-encoded")

    def test_java_hashmap_order(self):
        order = list(decode_usersig(V["java-hashmap-order"]["usersig"]).keys())
        self.check("java-hashmap-order", order=order)

    def test_php_escaped_slash(self):
        self.check("php-escaped-slash", order=DOCS_ORDER, escape_slash=True)

    def test_python_spaces(self):
        self.check("python-spaces", order=DOCS_ORDER, separators=(", ", ": "))

    def test_stored_blocks_byte_exact(self):
        s = usersig(KEY, SDKAPPID, "administrator", 86400, 1700000000, level=0, order=DOCS_ORDER)
        self.assertEqual(s, V["stored-blocks"]["usersig"])

    def test_fresh_sigs_verify(self):
        for variant in ({}, {"level": 0}, {"level": 9}, {"escape_slash": True},
                        {"separators": (", ", ": ")}, {"order": DOCS_ORDER[::-1]},
                        {"userbuf": "dXNlcmJ1Zg=="}):
            with self.subTest(variant=variant):
                s = usersig(KEY, SDKAPPID, "administrator", **variant)
                self.assertEqual(verify_usersig(KEY, s, SDKAPPID, "administrator"), 0)
                self.assertEqual(verify_usersig("other", s, SDKAPPID, "administrator"), 70009)


if __name__ == "__main__":
    unittest.main()
