"""Signing against the Go side's published vectors (common/sign/sign_test.go),
so a request this client signs verifies on the manager."""

import os
import sys
import unittest
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bai_client import Client, Config, ConfigError  # noqa: E402
from bai_client.signing import (  # noqa: E402
    EMPTY_BODY_HASH,
    SignedRequest,
    authorization,
    body_hash,
    format_date,
    hashes_body,
    parse_version,
    sign_headers,
    signature,
)

# The vectors of common/sign/sign_test.go (TestSignatureVectors).
SECRET = "abcdefghijklmnopqrstuvwxyz0123456789ABCD"
DATE = "2026-11-27T06:48:23.126693+00:00"
VECTORS = [
    ("v6 empty body hash",
     SignedRequest("POST", "/session/abc?x=1", DATE, "127.0.0.1:8081", "application/json", "v6.20220315"),
     DATE, "3988c475c3d676cb6e10a1601498f1d430db00b90a0e09cba870eff10c4678b9"),
    ("v3 real body hash",
     SignedRequest("POST", "/kernel/create", DATE, "127.0.0.1:8081", "application/json", "v3.20170615",
                   body_hash(b'{"lang":"python"}')),
     DATE, "63134a03d6eec7ec7a31b01f0c49758f923212c0c627343eff972a961dda3635"),
    # The key uses the calendar day the client wrote (2026-11-28 in
    # +09:00), not the UTC day (2026-11-27 20:00 UTC).
    ("offset date",
     SignedRequest("GET", "/session", "2026-11-28T05:00:00+09:00", "127.0.0.1:8081", "text/plain", "v6.20220315"),
     "2026-11-28T05:00:00+09:00", "ef9b11dc91f392799b74c53a8250080f018e347f0c8c4d2453075de4e8da025d"),
]


class SignatureVectors(unittest.TestCase):
    def test_go_vectors(self):
        for name, req, date, want in VECTORS:
            with self.subTest(name):
                self.assertEqual(signature(SECRET, req, datetime.fromisoformat(date)), want)

    def test_a_changed_part_changes_the_signature(self):
        base = VECTORS[0][1]
        when = datetime.fromisoformat(DATE)
        want = VECTORS[0][3]
        for field, value in [("method", "GET"), ("path_query", "/session/abc?x=2"), ("host", "127.0.0.1:8082"),
                             ("content_type", "text/plain"), ("version", "v5.20191215")]:
            with self.subTest(field):
                changed = SignedRequest(**{**base.__dict__, field: value})
                self.assertNotEqual(signature(SECRET, changed, when), want)
        self.assertNotEqual(signature(SECRET + "x", base, when), want)

    def test_content_type_is_signed_lowercase(self):
        req = VECTORS[0][1]
        upper = SignedRequest(**{**req.__dict__, "content_type": "Application/JSON"})
        self.assertEqual(signature(SECRET, upper, datetime.fromisoformat(DATE)), VECTORS[0][3])

    def test_string_to_sign(self):
        req = VECTORS[0][1]
        self.assertEqual(
            req.string_to_sign(),
            "POST\n/session/abc?x=1\n" + DATE + "\nhost:127.0.0.1:8081\ncontent-type:application/json\n"
            "x-backendai-version:v6.20220315\n" + EMPTY_BODY_HASH,
        )

    def test_sign_headers_match_the_vector(self):
        when = datetime(2026, 11, 27, 6, 48, 23, 126693, tzinfo=timezone.utc)
        h = sign_headers("AKIATEST", SECRET, method="POST", path_query="/session/abc?x=1", host="127.0.0.1:8081",
                         content_type="application/json", version="v6.20220315", body=b'{"ignored": true}', when=when)
        self.assertEqual(h["X-BackendAI-Date"], DATE)
        self.assertEqual(h["X-BackendAI-Version"], "v6.20220315")
        self.assertEqual(h["Authorization"], "BackendAI signMethod=HMAC-SHA256, credential=AKIATEST:" + VECTORS[0][3])

    def test_sign_headers_hash_the_body_for_old_versions(self):
        when = datetime.fromisoformat(DATE)
        h = sign_headers("AK", SECRET, method="POST", path_query="/kernel/create", host="127.0.0.1:8081",
                         content_type="application/json", version="v3.20170615", body=b'{"lang":"python"}', when=when)
        self.assertTrue(h["Authorization"].endswith(":" + VECTORS[1][3]))
        with self.assertRaises(ValueError):
            sign_headers("AK", SECRET, method="POST", path_query="/kernel/create", host="h",
                         content_type="application/json", version="v3.20170615", body=None, when=when)

    def test_date_is_rendered_in_utc(self):
        tokyo = datetime(2026, 11, 28, 5, 0, 0, tzinfo=timezone(timedelta(hours=9)))
        self.assertEqual(format_date(tokyo), "2026-11-27T20:00:00.000000+00:00")

    def test_authorization(self):
        self.assertEqual(authorization("AK", "sig"), "BackendAI signMethod=HMAC-SHA256, credential=AK:sig")


class Versions(unittest.TestCase):
    def test_hashes_body(self):
        # The table of common/sign/sign_test.go (TestHashesBody).
        for v, want in {"v3.20170615": True, "v4.20181126": True, "v4.20181215": False, "v4.20190615": False,
                        "v5.20191215": False, "v6.20220315": False}.items():
            with self.subTest(v):
                self.assertEqual(hashes_body(v), want)

    def test_bad_versions(self):
        for bad in ["", "6", "v", "vx.1", "v6.2022"]:
            with self.subTest(bad), self.assertRaises(ValueError):
                parse_version(bad)


class Configuration(unittest.TestCase):
    def test_from_env(self):
        cfg = Config.from_env({"BACKEND_ACCESS_KEY": " AK ", "BACKEND_SECRET_KEY": "SK"})
        self.assertEqual((cfg.endpoint, cfg.access_key, cfg.secret_key), ("http://127.0.0.1:8081", "AK", "SK"))
        cfg = Config.from_env({"BACKEND_ENDPOINT": "https://bai.example:9000/api", "BACKEND_ACCESS_KEY": "AK",
                               "BACKEND_SECRET_KEY": "SK"}, access_key="OTHER")
        self.assertEqual((cfg.endpoint, cfg.access_key), ("https://bai.example:9000/api", "OTHER"))

    def test_unknown_setting(self):
        with self.assertRaises(ConfigError):
            Config.from_env({"BACKEND_ACCESS_KEY": "AK", "BACKEND_SECRET_KEY": "SK"}, acess_key="typo")

    def test_missing_keys_say_what_to_set(self):
        with self.assertRaises(ConfigError) as cm:
            Config.from_env({})
        self.assertIn("BACKEND_ACCESS_KEY", str(cm.exception))

    def test_explicit_arguments_win(self):
        c = Client(Config(access_key="A", secret_key="S"), endpoint="http://10.0.0.1:1234/")
        self.assertEqual(c.endpoint, "http://10.0.0.1:1234")
        self.assertEqual(c.config.access_key, "A")

    def test_bad_config(self):
        for kwargs in [dict(endpoint="ftp://x"), dict(endpoint="localhost:8081"), dict(api_version="v4.20190615"),
                       dict(api_version="six")]:
            with self.subTest(kwargs), self.assertRaises(ConfigError):
                Client(Config(access_key="A", secret_key="S"), **kwargs)

    def test_secret_never_in_repr(self):
        cfg = Config(access_key="AKIAVISIBLE", secret_key="very-secret-value")
        c = Client(cfg)
        for text in (repr(cfg), repr(c), str(c)):
            self.assertNotIn("very-secret-value", text)
        self.assertIn("AKIAVISIBLE", repr(c))


if __name__ == "__main__":
    unittest.main()
