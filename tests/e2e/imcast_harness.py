"""imcast_harness — shared helpers for the black-box end-to-end tests of imcastd.

Everything here treats imcastd as a black box: it starts the real binary ($IMCASTD,
default <repo>/build/imcastd), talks to it
over real sockets, and checks the answers against docs/rest-api.md.

Contents
  usersig() / decode_usersig() / verify_usersig()
      An independent Python implementation of Tencent UserSig v2 (TLSSigAPIv2), with
      knobs to build the variants real generators produce (zlib level, key order, JSON
      spacing, PHP's escaped slashes, userbuf) and broken ones (bad HMAC, forged fields).
  Client
      One keep-alive HTTP(S) connection speaking the REST call format:
      call() / ok() / fail() / request().
  Server
      Starts imcastd on 127.0.0.1:0 (a free port) with a temporary data folder, waits for
      its "imcastd listening on ..." line(s), stop() (SIGTERM, exit 0 expected), kill()
      (SIGKILL), restart() (same data folder). Its stderr is kept in a file and shown in
      failure messages.
  RawHTTP
      A tiny raw-socket HTTP/1.1 client for keep-alive, pipelining and malformed input.
  make_cert()
      A self-signed certificate for 127.0.0.1 made with the openssl command.

Python 3.11 standard library only.
"""

import base64
import collections
import hashlib
import hmac
import http.client
import json
import os
import random as _random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def _default_binary():
    env = os.environ.get("IMCASTD")
    if env:
        return env
    return os.path.join(REPO, "build", "imcastd")


IMCASTD = _default_binary()
TESTDATA = os.environ.get("IMCAST_TESTDATA") or os.path.join(REPO, "tests", "testdata")

with open(os.path.join(TESTDATA, "usersig", "vectors.json"), encoding="utf-8") as _f:
    VECTORS = json.load(_f)
KEY = VECTORS["key"]
SDKAPPID = VECTORS["sdkappid"]
ADMIN = "administrator"

START_TIMEOUT = 10.0   # seconds to wait for the "listening on" line(s)
STOP_TIMEOUT = 10.0    # seconds SIGTERM may take
IO_TIMEOUT = 15.0      # socket timeout for one request

LISTEN_RE = re.compile(r"^imcastd listening on (https?)://127\.0\.0\.1:(\d+)\s*$")


def is_asan_binary(path=IMCASTD):
    """True when the imcastd under test is an ASan build (slower, and with more memory)."""
    try:
        with open(path, "rb") as f:
            return b"AddressSanitizer" in f.read()
    except OSError:
        return False


ASAN = is_asan_binary()

# For tests that bound the server's memory: ASan keeps freed memory in quarantine (256 MB
# by default), so the server runs with a small one and VmRSS measures what it holds; the
# bounds allow for ASan's own overhead. IMCAST_KEY is dropped so the test's key is used.
BOUNDED_MEMORY_ENV = dict(os.environ, ASAN_OPTIONS=(os.environ.get("ASAN_OPTIONS", "") +
                                                    ":quarantine_size_mb=16").lstrip(":"))
BOUNDED_MEMORY_ENV.pop("IMCAST_KEY", None)
RSS_SLACK_MB = 120 if ASAN else 50


def vm_rss_mb(pid):
    """The resident memory of process pid, in MB (from /proc/<pid>/status)."""
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1]) / 1024.0
    raise AssertionError("no VmRSS for pid %d" % pid)


def sdk_requests():
    with open(os.path.join(TESTDATA, "sdk-requests", "java-sdks.json"), encoding="utf-8") as f:
        return json.load(f)


def short(x, limit=600):
    """A printable, bounded rendering of a body or response for assertion messages."""
    if isinstance(x, (bytes, bytearray)):
        s = repr(bytes(x[:limit]))
        return s + ("...(%d bytes)" % len(x) if len(x) > limit else "")
    if not isinstance(x, str):
        try:
            x = json.dumps(x, ensure_ascii=False)
        except (TypeError, ValueError):
            x = repr(x)
    return x if len(x) <= limit else x[:limit] + "...(%d chars)" % len(x)


# --------------------------------------------------------------------------------------
# UserSig v2
# --------------------------------------------------------------------------------------

_B64_TO_SIG = str.maketrans({"+": "*", "/": "-", "=": "_"})
_SIG_TO_B64 = str.maketrans({"*": "+", "-": "/", "_": "="})


def sig_content(identifier, sdkappid, t, expire, userbuf=None):
    """The exact bytes that TLS.sig signs (rest-api.md §2)."""
    s = "TLS.identifier:%s\nTLS.sdkappid:%s\nTLS.time:%s\nTLS.expire:%s\n" % (
        identifier, sdkappid, t, expire)
    if userbuf is not None:
        s += "TLS.userbuf:%s\n" % userbuf
    return s.encode("utf-8")


def hmac_b64(key, content):
    if isinstance(key, str):
        key = key.encode("utf-8")
    return base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode("ascii")


def encode_sig_bytes(raw):
    """zlib-compressed bytes -> the URL-safe UserSig alphabet."""
    return base64.b64encode(raw).decode("ascii").translate(_B64_TO_SIG)


def usersig_json(key, sdkappid, identifier, expire=86400, now=None, *, order=None,
                 separators=(",", ":"), escape_slash=False, userbuf=None, sig=None,
                 override=None, drop=()):
    """The JSON text (bytes) inside a UserSig, before zlib. See usersig() for the knobs."""
    t = int(time.time()) if now is None else int(now)
    doc = collections.OrderedDict()
    doc["TLS.ver"] = "2.0"
    doc["TLS.identifier"] = identifier
    doc["TLS.sdkappid"] = int(sdkappid)
    doc["TLS.time"] = t
    doc["TLS.expire"] = int(expire)
    if userbuf is not None:
        doc["TLS.userbuf"] = userbuf
    doc["TLS.sig"] = hmac_b64(key, sig_content(identifier, sdkappid, t, expire, userbuf))
    if sig is not None:
        doc["TLS.sig"] = sig
    if override:
        doc.update(override)
    for k in drop:
        doc.pop(k, None)
    if order is not None:
        doc = collections.OrderedDict((k, doc[k]) for k in order if k in doc)
    text = json.dumps(doc, separators=separators, ensure_ascii=False)
    if escape_slash:
        text = text.replace("/", "\\/")
    return text.encode("utf-8")


def usersig(key, sdkappid, identifier, expire=86400, now=None, *, level=-1, **variant):
    """Makes a Tencent UserSig v2 for identifier, valid from now (default: the current
    time) for expire seconds. The defaults give what Tencent's own generator gives (key
    order ver, identifier, sdkappid, time, expire, sig; compact JSON; zlib default level).
    Variants:
      level        zlib level (0 = stored blocks, as the official Go generator)
      order        list of JSON keys in the order to emit
      separators   json.dumps separators; (", ", ": ") is what Python's default emits
      escape_slash write "/" as "\\/" (PHP json_encode)
      userbuf      base64 text for TLS.userbuf (signed as well)
      sig          replace TLS.sig by this string (e.g. a tampered one)
      override     dict of JSON fields to change after signing (forged fields)
      drop         JSON fields to leave out
    """
    text = usersig_json(key, sdkappid, identifier, expire, now, **variant)
    return encode_sig_bytes(zlib.compress(text, level))


def decode_usersig(s, max_json=4096):
    """UserSig string -> dict (raises ValueError when it cannot be decoded)."""
    if not s:
        raise ValueError("empty")
    if not re.fullmatch(r"[A-Za-z0-9*\-_]+", s):
        raise ValueError("characters outside the UserSig alphabet")
    raw = base64.b64decode(s.translate(_SIG_TO_B64), validate=True)
    d = zlib.decompressobj()
    out = d.decompress(raw, max_json + 1)
    if len(out) > max_json:
        raise ValueError("inflates to more than %d bytes" % max_json)
    if not d.eof:
        raise ValueError("truncated zlib stream")
    doc = json.loads(out.decode("utf-8"))
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    return doc


def verify_usersig(key, s, sdkappid=None, identifier=None, now=None):
    """An independent verifier. Returns 0 or Tencent's code (70001/2/3/9/13/14).

    sdkappid / identifier None means "don't check". now None means the current time.
    """
    if not s:
        return 70002
    try:
        doc = decode_usersig(s)
        ident = doc["TLS.identifier"]
        appid = doc["TLS.sdkappid"]
        t = doc["TLS.time"]
        expire = doc["TLS.expire"]
        mac = doc["TLS.sig"]
        ub = doc.get("TLS.userbuf")
        if not isinstance(ident, str) or not isinstance(mac, str):
            raise ValueError("bad field types")
        for v in (appid, t, expire):
            if isinstance(v, bool) or not isinstance(v, int):
                raise ValueError("bad field types")
        if expire < 0 or t < 0:
            raise ValueError("negative time or expire")
        if ub is not None and not isinstance(ub, str):
            raise ValueError("bad userbuf")
    except (ValueError, KeyError, zlib.error, UnicodeDecodeError, base64.binascii.Error):
        return 70003
    if sdkappid is not None and appid != int(sdkappid):
        return 70014
    if identifier is not None and ident != identifier:
        return 70013
    want = hmac_b64(key, sig_content(ident, appid, t, expire, ub))
    if not hmac.compare_digest(want.encode(), mac.encode("utf-8", "surrogatepass")):
        return 70009
    if now is None:
        now = time.time()
    if now > t + expire:
        return 70001
    return 0


def sig_with(predicate, key=KEY, sdkappid=SDKAPPID, identifier=ADMIN, **kw):
    """A fresh valid sig (times slightly in the past) whose text satisfies predicate(sig, doc_json)."""
    base = int(time.time())
    for back in range(0, 5000):
        s = usersig(key, sdkappid, identifier, now=base - back, **kw)
        if predicate(s):
            return s
    raise AssertionError("could not build a sig with the wanted property")


# --------------------------------------------------------------------------------------
# Certificates
# --------------------------------------------------------------------------------------

def make_cert(directory):
    """A self-signed certificate for 127.0.0.1 (SAN IP and DNS localhost). Returns (cert, key)."""
    cert = os.path.join(directory, "cert.pem")
    keyf = os.path.join(directory, "key.pem")
    cmd = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
           "-keyout", keyf, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
           "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("openssl failed: %s" % r.stderr.decode(errors="replace"))
    return cert, keyf


# --------------------------------------------------------------------------------------
# REST client
# --------------------------------------------------------------------------------------

class ApiError(AssertionError):
    pass


class Client:
    """One keep-alive connection to imcastd speaking the REST call format.

    call() returns the parsed JSON answer after checking HTTP 200 and the envelope.
    ok() additionally checks ErrorCode 0 / ActionStatus OK; fail() checks a given code,
    ActionStatus FAIL and a non-empty ErrorInfo (and, with names=[...], that each name
    appears in ErrorInfo).
    """

    def __init__(self, port, host="127.0.0.1", tls_cafile=None, key=KEY, sdkappid=SDKAPPID,
                 server=None):
        self.host = host
        self.port = port
        self.tls_cafile = tls_cafile
        self.key = key
        self.sdkappid = sdkappid
        self.server = server          # for stderr in failure messages
        self.conn = None
        self.connects = 0             # how many TCP connections were opened
        self._sigs = {}
        self.last_headers = None
        self.last_status = None

    # -- plumbing --
    def _connect(self):
        if self.tls_cafile:
            ctx = ssl.create_default_context(cafile=self.tls_cafile)
            self.conn = http.client.HTTPSConnection(self.host, self.port, timeout=IO_TIMEOUT,
                                                    context=ctx)
        else:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=IO_TIMEOUT)
        self.conn.connect()
        self.connects += 1

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def sig_for(self, identifier):
        s = self._sigs.get(identifier)
        if s is None:
            s = usersig(self.key, self.sdkappid, identifier)
            self._sigs[identifier] = s
        return s

    def _context(self):
        if self.server is not None:
            return self.server.context()
        return ""

    def target(self, service, command, identifier=ADMIN, sig=None, query_extra=None,
               sdkappid=None):
        if sig is None:
            sig = self.sig_for(identifier)
        q = [("sdkappid", str(self.sdkappid if sdkappid is None else sdkappid)),
             ("identifier", identifier), ("usersig", sig),
             ("random", str(_random.randint(0, 4294967295))), ("contenttype", "json")]
        qs = "&".join("%s=%s" % (k, urllib.parse.quote(v, safe="*-_.~")) for k, v in q)
        if query_extra:
            qs += "&" + query_extra
        return "/v4/%s/%s?%s" % (service, command, qs)

    def request(self, method, target, body=b"", headers=None):
        """Sends one request on the keep-alive connection (reconnecting once if the
        server had closed it). Returns (status, headers dict lower-cased, body bytes)."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        hdrs = {"Content-Type": "application/json"}
        if headers is not None:
            hdrs = dict(headers)
        for attempt in (0, 1):
            try:
                if self.conn is None:
                    self._connect()
                self.conn.request(method, target, body=body, headers=hdrs)
                resp = self.conn.getresponse()
                data = resp.read()
                status = resp.status
                rh = {k.lower(): v for k, v in resp.getheaders()}
                if resp.will_close:
                    self.close()
                break
            except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected,
                    http.client.CannotSendRequest, http.client.ResponseNotReady,
                    ConnectionAbortedError) as e:
                self.close()
                if attempt == 1:
                    raise ApiError("%s %s: connection failed: %r%s"
                                   % (method, target[:120], e, self._context()))
            except ConnectionRefusedError as e:
                self.close()
                raise ApiError("%s %s: connection refused: %r%s"
                               % (method, target[:120], e, self._context()))
            except (socket.timeout, TimeoutError) as e:
                self.close()
                raise ApiError("%s %s: no answer within %ss: %r%s"
                               % (method, target[:120], IO_TIMEOUT, e, self._context()))
        if rh.get("content-encoding", "").lower() == "gzip":
            import gzip
            data = gzip.decompress(data)
        self.last_status, self.last_headers = status, rh
        return status, rh, data

    # -- the REST call --
    def call(self, service, command, body=None, identifier=ADMIN, sig=None, raw_body=None,
             query_extra=None, sdkappid=None, target=None, headers=None, allow_internal=False):
        if raw_body is None:
            raw_body = json.dumps({} if body is None else body, ensure_ascii=False).encode("utf-8")
        elif isinstance(raw_body, str):
            raw_body = raw_body.encode("utf-8")
        if target is None:
            target = self.target(service, command, identifier, sig, query_extra, sdkappid)
        what = "POST %s %s" % (target.split("?")[0], short(raw_body, 300))
        status, rh, data = self.request("POST", target, raw_body, headers)
        if status != 200:
            raise ApiError("%s: HTTP %d (want 200): %s%s" % (what, status, short(data),
                                                              self._context()))
        try:
            doc = json.loads(data.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise ApiError("%s: answer is not JSON: %s%s" % (what, short(data), self._context()))
        check_envelope(doc, what)
        if not allow_internal and doc["ErrorCode"] == 91000:
            raise ApiError("%s: internal error 91000 (never the answer to bad input): %s%s"
                           % (what, short(doc), self._context()))
        return doc

    def ok(self, service, command, body=None, **kw):
        doc = self.call(service, command, body, **kw)
        if doc["ErrorCode"] != 0 or doc["ActionStatus"] != "OK":
            raise ApiError("%s/%s %s: want ErrorCode 0 / OK, got %s%s"
                           % (service, command, short(body if kw.get("raw_body") is None
                                                      else kw["raw_body"], 400),
                              short(doc), self._context()))
        return doc

    def fail(self, service, command, body=None, code=None, names=(), **kw):
        doc = self.call(service, command, body, **kw)
        what = "%s/%s %s" % (service, command,
                             short(body if kw.get("raw_body") is None else kw["raw_body"], 400))
        expect_fail(doc, code, names, what)
        return doc


def check_envelope(doc, what=""):
    if not isinstance(doc, dict):
        raise ApiError("%s: answer is not a JSON object: %s" % (what, short(doc)))
    for k, typ in (("ActionStatus", str), ("ErrorInfo", str), ("ErrorCode", int)):
        if k not in doc:
            raise ApiError("%s: envelope lacks %s: %s" % (what, k, short(doc)))
        if not isinstance(doc[k], typ) or isinstance(doc[k], bool):
            raise ApiError("%s: envelope %s has the wrong type: %s" % (what, k, short(doc)))
    if (doc["ErrorCode"] == 0) != (doc["ActionStatus"] == "OK"):
        raise ApiError("%s: ErrorCode and ActionStatus disagree: %s" % (what, short(doc)))
    if doc["ActionStatus"] not in ("OK", "FAIL"):
        raise ApiError("%s: ActionStatus is neither OK nor FAIL: %s" % (what, short(doc)))


def expect_fail(doc, code, names=(), what=""):
    codes = code if isinstance(code, (tuple, list, set, frozenset)) else (code,)
    if doc.get("ErrorCode") not in codes or doc.get("ActionStatus") != "FAIL":
        raise ApiError("%s: want ErrorCode %s / FAIL, got %s"
                       % (what, "|".join(map(str, codes)), short(doc)))
    if not doc.get("ErrorInfo", "").strip():
        raise ApiError("%s: ErrorInfo is empty on a failure: %s" % (what, short(doc)))
    for n in names:
        if str(n) not in doc["ErrorInfo"]:
            raise ApiError("%s: ErrorInfo should name %r: %s" % (what, n, short(doc)))


# --------------------------------------------------------------------------------------
# Raw HTTP over a socket
# --------------------------------------------------------------------------------------

class RawHTTP:
    """A raw HTTP/1.1 connection: send bytes, read responses one by one from a shared buffer."""

    def __init__(self, port, host="127.0.0.1", timeout=IO_TIMEOUT, source=None):
        # source: the local address to connect from (e.g. "127.0.0.2"), for per-address caps
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _fill(self):
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return False
        self.buf += chunk
        return True

    def read_response(self):
        """Returns (status, headers dict lower-cased, body bytes); raises EOFError if the
        connection closes before a full response."""
        while b"\r\n\r\n" not in self.buf:
            if not self._fill():
                raise EOFError("connection closed before a response head (have %r)" % self.buf[:200])
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise AssertionError("bad status line %r" % lines[0])
        status = int(parts[1])
        hdrs = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        if "content-length" in hdrs:
            n = int(hdrs["content-length"])
            while len(self.buf) < n:
                if not self._fill():
                    raise EOFError("connection closed inside a body")
            body, self.buf = self.buf[:n], self.buf[n:]
        elif hdrs.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                while b"\r\n" not in self.buf:
                    if not self._fill():
                        raise EOFError("connection closed inside a chunk")
                size_line, self.buf = self.buf.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0], 16)
                while len(self.buf) < size + 2:
                    if not self._fill():
                        raise EOFError("connection closed inside a chunk")
                body += self.buf[:size]
                self.buf = self.buf[size + 2:]
                if size == 0:
                    break
        else:
            while self._fill():
                pass
            body, self.buf = self.buf, b""
        return status, hdrs, body

    def at_eof(self, timeout=5.0):
        """True when the peer has closed the connection (within timeout) with nothing more to read."""
        if self.buf:
            return False
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(1)
        except ConnectionResetError:
            return True
        except (socket.timeout, TimeoutError):
            return False
        if chunk:
            self.buf += chunk
            return False
        return True


def http_request_bytes(target, body=b"", extra_headers=(), host="127.0.0.1"):
    if isinstance(body, str):
        body = body.encode("utf-8")
    lines = ["POST %s HTTP/1.1" % target, "Host: %s" % host,
             "Content-Length: %d" % len(body)]
    lines += list(extra_headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# --------------------------------------------------------------------------------------
# The server process
# --------------------------------------------------------------------------------------

class ServerError(AssertionError):
    pass


class Server:
    """A running imcastd on 127.0.0.1 with a temporary data folder.

    Server(key=KEY, sdkappid=SDKAPPID, admins=None, extra=(), tls=False, data=None, env=None)
      key/sdkappid None: leave the flag out. tls=True makes a self-signed certificate and
      adds --tls-listen 127.0.0.1:0 --tls-cert C --tls-key K.
    """

    def __init__(self, key=KEY, sdkappid=SDKAPPID, admins=None, extra=(), tls=False,
                 data=None, env=None, binary=None):
        self.binary = binary or IMCASTD
        self.key = key
        self.sdkappid = sdkappid
        self.admins = list(admins or [])
        self.extra = list(extra)
        self.tmp = tempfile.mkdtemp(prefix="imcast-e2e-")
        self.data = data or os.path.join(self.tmp, "data")
        os.makedirs(self.data, exist_ok=True)
        self.tls = tls
        self.cert = self.certkey = None
        if tls:
            self.cert, self.certkey = make_cert(self.tmp)
        self.env = env
        self.proc = None
        self.port = None
        self.tls_port = None
        self.stdout_lines = []
        self.runs = 0
        self.stderr_path = None
        self._client = None
        self._cond = threading.Condition()
        self._reader = None

    # -- lifecycle --
    def argv(self):
        a = [self.binary, "--listen", "127.0.0.1:0", "--data", self.data]
        if self.key is not None:
            a += ["--key", self.key]
        if self.sdkappid is not None:
            a += ["--sdkappid", str(self.sdkappid)]
        for adm in self.admins:
            a += ["--admin", adm]
        if self.tls:
            a += ["--tls-listen", "127.0.0.1:0", "--tls-cert", self.cert, "--tls-key", self.certkey]
        return a + self.extra

    def expected_listeners(self):
        return 2 if self.tls else 1

    def start(self):
        if not os.path.exists(self.binary):
            raise RuntimeError("imcastd binary not found at %s (build it, or set IMCASTD)" % self.binary)
        self.runs += 1
        self.stderr_path = os.path.join(self.tmp, "stderr.%d.log" % self.runs)
        # The key comes from --key (or, with key=None, from the data folder's key file):
        # never from a stray IMCAST_KEY in the caller's environment, unless env is given.
        env = dict(os.environ if self.env is None else self.env)
        if self.env is None:
            env.pop("IMCAST_KEY", None)
        self.stdout_lines = []
        self.port = self.tls_port = None
        with open(self.stderr_path, "wb") as errf:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=errf, env=env)
        self._reader = threading.Thread(target=self._read_stdout, args=(self.proc,), daemon=True)
        self._reader.start()
        deadline = time.monotonic() + START_TIMEOUT
        with self._cond:
            while True:
                found = self._listeners()
                if len(found) >= self.expected_listeners():
                    break
                if self.proc.poll() is not None and not self._reader.is_alive():
                    raise ServerError("imcastd exited with %s before listening\n  argv: %s%s"
                                      % (self.proc.returncode, " ".join(self.argv()),
                                         self.context(force=True)))
                left = deadline - time.monotonic()
                if left <= 0:
                    self.kill()
                    raise ServerError("imcastd did not print 'imcastd listening on ...' within "
                                      "%ss\n  argv: %s%s" % (START_TIMEOUT, " ".join(self.argv()),
                                                             self.context(force=True)))
                self._cond.wait(min(left, 0.2))
        for scheme, port in self._listeners():
            if scheme == "http":
                self.port = port
            else:
                self.tls_port = port
        if self.port is None:
            raise ServerError("no plain http listener line%s" % self.context(force=True))
        if self._client is not None:
            self._client.close()
        self._client = Client(self.port, key=self.key or KEY,
                              sdkappid=self.sdkappid or SDKAPPID, server=self)
        return self

    def _read_stdout(self, proc):
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            with self._cond:
                self.stdout_lines.append(line)
                self._cond.notify_all()
        proc.stdout.close()
        with self._cond:
            self._cond.notify_all()

    def _listeners(self):
        out = []
        for ln in self.stdout_lines:
            m = LISTEN_RE.match(ln)
            if m:
                out.append((m.group(1), int(m.group(2))))
        return out

    def listening_lines(self):
        with self._cond:
            return [ln for ln in self.stdout_lines if "listening on" in ln]

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM; asserts exit code 0 within timeout. Returns the exit code."""
        if self._client is not None:
            self._client.close()
        if self.proc is None:
            return 0
        proc = self.proc
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            self.proc = None
            raise ServerError("imcastd did not exit within %ss of SIGTERM%s"
                              % (timeout, self.context(force=True)))
        self._join_reader()
        self.proc = None
        if rc != 0:
            raise ServerError("imcastd exited with %d after SIGTERM (want 0)%s"
                              % (rc, self.context(force=True)))
        return rc

    def kill(self):
        """SIGKILL, at once."""
        if self._client is not None:
            self._client.close()
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._join_reader()
        self.proc = None

    def _join_reader(self):
        if self._reader is not None:
            self._reader.join(5)

    def restart(self):
        """Starts again on the same data folder (after stop() or kill())."""
        if self.alive():
            self.stop()
        return self.start()

    def cleanup(self):
        """Stops (SIGTERM, not asserting) if still running and removes the temp folder."""
        if self.proc is not None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(STOP_TIMEOUT)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                self.proc.kill()
                self.proc.wait()
            self._join_reader()
            self.proc = None
        if self._client is not None:
            self._client.close()
        if not os.environ.get("IMCAST_E2E_KEEP"):
            shutil.rmtree(self.tmp, ignore_errors=True)

    def stderr_text(self, limit=4000):
        try:
            with open(self.stderr_path, "rb") as f:
                data = f.read()
        except (OSError, TypeError):
            return ""
        text = data.decode("utf-8", "replace")
        return text[-limit:]

    def context(self, force=False):
        """Text for failure messages: whether the server is alive, and its stderr tail."""
        parts = []
        if self.proc is not None and self.proc.poll() is not None:
            parts.append("imcastd has exited with code %s" % self.proc.returncode)
            force = True
        if force:
            err = self.stderr_text()
            parts.append("imcastd stderr (tail):\n" + (err if err.strip() else "   (empty)"))
            if self.stdout_lines:
                parts.append("imcastd stdout: %s" % short("\n".join(self.stdout_lines[-20:])))
        return ("\n  " + "\n  ".join(parts)) if parts else ""

    # -- clients --
    @property
    def client(self):
        if self._client is None:
            raise ServerError("server not started")
        return self._client

    def new_client(self, **kw):
        kw.setdefault("key", self.key or KEY)
        kw.setdefault("sdkappid", self.sdkappid or SDKAPPID)
        return Client(self.port, server=self, **kw)

    def https_client(self, **kw):
        kw.setdefault("key", self.key or KEY)
        kw.setdefault("sdkappid", self.sdkappid or SDKAPPID)
        return Client(self.tls_port, host="127.0.0.1", tls_cafile=self.cert, server=self, **kw)

    def raw(self):
        return RawHTTP(self.port)

    def call(self, *a, **kw):
        return self.client.call(*a, **kw)

    def ok(self, *a, **kw):
        return self.client.ok(*a, **kw)

    def fail(self, *a, **kw):
        return self.client.fail(*a, **kw)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


def run_cli(args, env=None, timeout=10, binary=None):
    """Runs imcastd with args to completion; returns CompletedProcess (text)."""
    binary = binary or IMCASTD
    if not os.path.exists(binary):
        raise RuntimeError("imcastd binary not found at %s (build it, or set IMCASTD)" % binary)
    e = dict(os.environ if env is None else env)
    if env is None:
        e.pop("IMCAST_KEY", None)
    try:
        return subprocess.run([binary] + list(args), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e,
                              timeout=timeout, text=True, errors="replace")
    except subprocess.TimeoutExpired as ex:
        raise AssertionError("imcastd %s did not finish within %ss (stdout %r, stderr %r)"
                             % (" ".join(args), timeout, ex.stdout, ex.stderr))


# --------------------------------------------------------------------------------------
# Test-case bases
# --------------------------------------------------------------------------------------

class ServerTestCase(unittest.TestCase):
    """One imcastd shared by every test of the class (setUpClass). Set server_kwargs to
    change its flags. self.srv is the Server; self.ok/self.fail_call/self.call talk to it."""

    server_kwargs = {}
    srv = None

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(**cls.server_kwargs)
        try:
            cls.srv.start()
        except BaseException:
            cls.srv.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        srv = cls.srv
        if srv is None:
            return
        try:
            if srv.alive():
                srv.stop()
        finally:
            srv.cleanup()

    # helpers named so as not to shadow unittest.TestCase.fail
    def call(self, *a, **kw):
        return self.srv.call(*a, **kw)

    def ok(self, *a, **kw):
        return self.srv.ok(*a, **kw)

    def fail_call(self, *a, **kw):
        return self.srv.fail(*a, **kw)

    # --- frequently used calls ---
    def import_accounts(self, *ids):
        ids = list(ids)
        for i in range(0, len(ids), 100):
            r = self.ok("im_open_login_svc", "multiaccount_import", {"Accounts": ids[i:i + 100]})
            self.assertEqual(r.get("FailAccounts", []), [], "import failed for some: %s" % short(r))

    def get_tags(self, *ids):
        r = self.ok("all_member_push", "im_get_tag", {"To_Account": list(ids)})
        return {u["To_Account"]: u["Tags"] for u in r.get("UserTags", [])}

    def get_attrs(self, *ids):
        r = self.ok("all_member_push", "im_get_attr", {"To_Account": list(ids)})
        return {u["To_Account"]: u["Attrs"] for u in r.get("UserAttrs", [])}

    def get_attr_names(self):
        return self.ok("all_member_push", "im_get_attr_name", {})["AttrNames"]

    def check_status(self, *ids):
        r = self.ok("im_open_login_svc", "account_check",
                    {"CheckItem": [{"UserID": u} for u in ids]})
        return {it["UserID"]: it["AccountStatus"] for it in r["ResultItem"]}


class FreshServerTestCase(ServerTestCase):
    """A new imcastd for every test (setUp) — for tests that depend on global state."""

    @classmethod
    def setUpClass(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        pass

    def setUp(self):
        self.srv = Server(**self.server_kwargs)
        self.addCleanup(self.srv.cleanup)
        self.srv.start()
        self.addCleanup(self._stop_checked)

    def _stop_checked(self):
        if self.srv.alive():
            self.srv.stop()


_uid_counter = [0]


def uid(prefix="u"):
    """A fresh UserID unique within this process run."""
    _uid_counter[0] += 1
    return "%s%d_%d" % (prefix, os.getpid() % 10000, _uid_counter[0])


def main():
    unittest.main()
