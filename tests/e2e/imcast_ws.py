"""imcast_ws — a small WebSocket (RFC 6455) client for the receiver protocol, and the
helpers the push tests share.

Written on plain sockets (and ssl for wss://) so that the tests see exactly what goes over
the wire and can also send what a well-behaved library never would. Python 3.11 standard
library only. docs/client-protocol.md is the contract it speaks.

WSClient(port, user, sig, ...)            one receiver connection
  connect()                 HTTP/1.1 Upgrade to /v4/ws?sdkappid=&identifier=&usersig=
                            (values percent-encoded); checks 101, Upgrade/Connection and
                            Sec-WebSocket-Accept. A refused upgrade raises WSRefused with
                            .status, .headers, .body and .json (the 70xxx envelope).
                            By default reads the first event and requires it to be Hello
                            (kept in .hello).
  recv_event(timeout)       the next text message, parsed (dict); .last_text is its text
  recv_text(timeout)        the next text message, as text
  expect_event(name, timeout, **fields)   next event must be Event == name (and fields)
  no_event(within)          asserts no message (and no close) arrives within `within` s
  send_json(obj) / send_text(s) / ack(seq) / ping(payload) / expect_pong(timeout)
  send_raw_frame(opcode, payload, mask=True, fin=True, rsv=0)   for hostile cases
  send_raw(bytes)           anything at all
  wait_closed(timeout)      reads until the server closes; returns (code, reason);
                            messages that arrive meanwhile are kept in .skipped
  close(code=1000)          the closing handshake (waits for the server's close frame)
  closed / close_code / close_reason   1006 when the TCP connection ended without a
                            close frame; 1005 when the close frame had no code
  Pings from the server are answered with a pong carrying the same payload (unless
  auto_pong=False: then they are only recorded in .pings). Text
  messages split in fragments are reassembled; control frames may come in between.
  Protocol violations by the server (a masked server frame, RSV bits, a fragmented or
  oversized control frame, a continuation with nothing to continue, text that is not
  UTF-8) raise WSProtocolError.

open_receivers(srv, users, ...)           opens many receivers at once (a thread pool)
ReceiverGroup                             expect/no_event over many receivers at once

Push helpers (PushMixin, for ServerTestCase subclasses): push(), push_fail(), report(),
revoke(), audience(), receiver(), text_body(), ...
"""

import base64
import concurrent.futures
import hashlib
import json
import os
import socket
import ssl
import struct
import time
import urllib.parse

from imcast_harness import ADMIN, KEY, SDKAPPID, short, usersig

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

WS_TIMEOUT = 5.0          # default wait for an expected event
CONNECT_TIMEOUT = 10.0


class WSError(AssertionError):
    pass


class WSRefused(WSError):
    """The server answered the upgrade with something other than 101."""

    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        try:
            self.json = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            self.json = None
        super().__init__("WebSocket upgrade refused: HTTP %d %s, body %s"
                         % (status, reason, short(body)))


class WSProtocolError(WSError):
    pass


class WSClosed(WSError):
    """The connection is closed (raised when a message was wanted)."""

    def __init__(self, code, reason, what=""):
        self.code = code
        self.reason = reason
        super().__init__("%sconnection closed (code %s, reason %r)" % (what, code, reason))


class WSTimeout(WSError):
    pass


def accept_key(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode("ascii")).digest()).decode("ascii")


def mask_bytes(mask, data):
    """XOR data with the 4-byte mask, repeated (RFC 6455 §5.3)."""
    n = len(data)
    if n == 0:
        return b""
    m = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(m, "big")).to_bytes(n, "big")


def encode_frame(opcode, payload, mask=True, fin=True, rsv=0, mask_key=None):
    """One frame as bytes. mask=True uses mask_key or 4 random bytes."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0x0F)
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if mask:
        key = mask_key if mask_key is not None else os.urandom(4)
        return head + key + mask_bytes(key, payload)
    return head + payload


def ws_target(sdkappid, identifier, sig, path="/v4/ws", extra=None):
    q = [("sdkappid", str(sdkappid)), ("identifier", identifier), ("usersig", sig)]
    if extra:
        q += list(extra)
    return path + "?" + "&".join("%s=%s" % (k, urllib.parse.quote(str(v), safe=""))
                                 for k, v in q)


class WSClient:
    """One WebSocket connection to imcastd's receiver endpoint (or any RFC 6455 server)."""

    def __init__(self, port, user, sig=None, *, host="127.0.0.1", key=KEY, sdkappid=SDKAPPID,
                 tls_cafile=None, target=None, timeout=CONNECT_TIMEOUT, rcvbuf=None,
                 extra_headers=(), server=None, auto_pong=True):
        self.port = port
        self.host = host
        self.user = user
        self.sig = sig if sig is not None else usersig(key, sdkappid, user)
        self.sdkappid = sdkappid
        self.tls_cafile = tls_cafile
        self.target = target or ws_target(sdkappid, user, self.sig)
        self.timeout = timeout
        self.rcvbuf = rcvbuf
        self.extra_headers = list(extra_headers)
        self.server = server               # imcast_harness.Server, for failure context
        self.auto_pong = auto_pong         # False: server pings are recorded, not answered
        self.sock = None
        self.buf = bytearray()
        self.messages = []                 # complete text messages not yet consumed
        self.skipped = []                  # messages seen by wait_closed()
        self.pongs = []                    # payloads of pongs received
        self.pings = []                    # payloads of pings received (and answered)
        self.frag_op = None                # opcode of the message being reassembled
        self.frag = bytearray()
        self.closed = False
        self.close_code = None
        self.close_reason = None
        self.close_sent = False
        self.eof = False
        self.hello = None
        self.last_text = None
        self.response_headers = None

    # ---------------------------------------------------------------- connecting
    def connect(self, expect_hello=True, hello_timeout=WS_TIMEOUT):
        """Opens the connection (see the module's comment); on any failure the socket is
        closed and the error raised."""
        try:
            return self._connect(expect_hello, hello_timeout)
        except BaseException:
            self.closed = True
            self._close_socket()
            raise

    def _connect(self, expect_hello, hello_timeout):
        raw = self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if self.rcvbuf:
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        raw.settimeout(self.timeout)
        try:
            raw.connect((self.host, self.port))
        except OSError as e:
            raise WSError("cannot connect to %s:%s: %r%s" % (self.host, self.port, e, self._ctx()))
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls_cafile:
            ctx = ssl.create_default_context(cafile=self.tls_cafile)
            raw = ctx.wrap_socket(raw, server_hostname=self.host)
        self.sock = raw
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        lines = ["GET %s HTTP/1.1" % self.target,
                 "Host: %s:%d" % (self.host, self.port),
                 "Upgrade: websocket",
                 "Connection: Upgrade",
                 "Sec-WebSocket-Key: %s" % key,
                 "Sec-WebSocket-Version: 13"] + self.extra_headers
        self._sendall(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
        status, reason, headers, body = self._read_http_response()
        self.response_headers = headers
        if status != 101:
            raise WSRefused(status, reason, headers, body)
        if headers.get("upgrade", "").lower() != "websocket":
            raise WSProtocolError("101 without 'Upgrade: websocket': %r" % headers)
        if "upgrade" not in [t.strip().lower() for t in headers.get("connection", "").split(",")]:
            raise WSProtocolError("101 without 'Connection: Upgrade': %r" % headers)
        if headers.get("sec-websocket-accept") != accept_key(key):
            raise WSProtocolError("Sec-WebSocket-Accept %r, want %r"
                                  % (headers.get("sec-websocket-accept"), accept_key(key)))
        if expect_hello:
            ev = self.recv_event(hello_timeout)
            if ev.get("Event") != "Hello":
                raise WSError("first event of %s is not Hello: %s" % (self.user, short(self.last_text)))
            self.hello = ev
        return self

    def _read_http_response(self):
        while b"\r\n\r\n" not in self.buf:
            if not self._recv_into_buf(self.timeout, "the upgrade response"):
                raise WSError("connection closed before an upgrade response (have %r)%s"
                              % (bytes(self.buf[:300]), self._ctx()))
            if len(self.buf) > 65536 and b"\r\n\r\n" not in self.buf:
                raise WSError("upgrade response head over 64 KiB")
        i = self.buf.index(b"\r\n\r\n")
        head = bytes(self.buf[:i]).decode("latin-1")
        del self.buf[:i + 4]
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise WSError("bad status line %r" % lines[0])
        status = int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        headers = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            headers[k.strip().lower()] = v.strip()
        body = b""
        if status != 101:
            if "content-length" in headers:
                n = int(headers["content-length"])
                while len(self.buf) < n:
                    if not self._recv_into_buf(self.timeout, "the refusal body"):
                        break
                body = bytes(self.buf[:n])
                del self.buf[:n]
            elif headers.get("transfer-encoding", "").lower() == "chunked":
                body = self._read_chunked()
            else:
                while self._recv_into_buf(self.timeout, "the refusal body"):
                    pass
                body = bytes(self.buf)
                self.buf.clear()
        return status, reason, headers, body

    def _read_chunked(self):
        body = b""
        while True:
            while b"\r\n" not in self.buf:
                if not self._recv_into_buf(self.timeout, "a chunk"):
                    return body
            i = self.buf.index(b"\r\n")
            size = int(bytes(self.buf[:i]).split(b";")[0], 16)
            del self.buf[:i + 2]
            while len(self.buf) < size + 2:
                if not self._recv_into_buf(self.timeout, "a chunk"):
                    return body + bytes(self.buf)
            body += bytes(self.buf[:size])
            del self.buf[:size + 2]
            if size == 0:
                return body

    # ---------------------------------------------------------------- low level I/O
    def _ctx(self):
        return self.server.context() if self.server is not None else ""

    def _sendall(self, data):
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise WSError("%s: send failed: %r%s" % (self.user, e, self._ctx()))

    def _recv_into_buf(self, timeout, what="data"):
        """One recv. True when bytes came; False at EOF; raises WSTimeout on timeout."""
        if self.eof:
            return False
        self.sock.settimeout(max(timeout, 0.0001) if timeout is not None else None)
        try:
            chunk = self.sock.recv(262144)
        except (socket.timeout, TimeoutError):
            raise WSTimeout("%s: nothing within %.2fs while waiting for %s" % (self.user, timeout, what))
        except ssl.SSLWantReadError:
            raise WSTimeout("%s: nothing within %.2fs while waiting for %s" % (self.user, timeout, what))
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError, ssl.SSLError, OSError):
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _close_socket(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass

    def _parse_frames(self, greedy=False):
        """Takes complete frames out of self.buf: all of them when greedy, else up to and
        including the first one that completes a message (so that an error or a close is
        seen when the reader reaches it). True when at least one frame was consumed."""
        progress = False
        while not self.closed:
            if len(self.buf) < 2:
                return progress
            b0, b1 = self.buf[0], self.buf[1]
            fin = bool(b0 & 0x80)
            rsv = (b0 >> 4) & 7
            op = b0 & 0x0F
            masked = bool(b1 & 0x80)
            n = b1 & 0x7F
            pos = 2
            if n == 126:
                if len(self.buf) < 4:
                    return progress
                n = struct.unpack("!H", self.buf[2:4])[0]
                pos = 4
            elif n == 127:
                if len(self.buf) < 10:
                    return progress
                n = struct.unpack("!Q", self.buf[2:10])[0]
                pos = 10
            mkey = None
            if masked:
                if len(self.buf) < pos + 4:
                    return progress
                mkey = bytes(self.buf[pos:pos + 4])
                pos += 4
            if len(self.buf) < pos + n:
                return progress
            payload = bytes(self.buf[pos:pos + n])
            del self.buf[:pos + n]
            progress = True
            if masked:
                raise WSProtocolError("%s: the server sent a masked frame (opcode %d)" % (self.user, op))
            if rsv:
                raise WSProtocolError("%s: the server set RSV bits %d (no extension agreed)"
                                      % (self.user, rsv))
            before = len(self.messages)
            self._on_frame(fin, op, payload)
            if not greedy and len(self.messages) > before:
                return progress
        return progress

    def _on_frame(self, fin, op, payload):
        if op >= 0x8:
            if not fin:
                raise WSProtocolError("%s: fragmented control frame (opcode %d)" % (self.user, op))
            if len(payload) > 125:
                raise WSProtocolError("%s: control frame of %d bytes (> 125)" % (self.user, len(payload)))
            if op == OP_CLOSE:
                if len(payload) >= 2:
                    self.close_code = struct.unpack("!H", payload[:2])[0]
                    c = self.close_code
                    if c < 1000 or c in (1004, 1005, 1006, 1015) or 1016 <= c < 3000:
                        raise WSProtocolError("%s: the server sent close code %d, which RFC 6455 "
                                              "§7.4 does not allow on the wire" % (self.user, c))
                    try:
                        self.close_reason = payload[2:].decode("utf-8")
                    except UnicodeDecodeError:
                        raise WSProtocolError("%s: close reason is not UTF-8: %r" % (self.user, payload))
                elif len(payload) == 1:
                    raise WSProtocolError("%s: close frame with a 1-byte payload" % self.user)
                else:
                    self.close_code, self.close_reason = 1005, ""
                if not self.close_sent:
                    try:
                        echo = payload[:2] if len(payload) >= 2 else b""
                        self.sock.sendall(encode_frame(OP_CLOSE, echo))
                    except OSError:
                        pass
                    self.close_sent = True
                self.closed = True
                self._close_socket()
            elif op == OP_PING:
                self.pings.append(payload)
                if self.auto_pong and not self.close_sent:
                    try:
                        self.sock.sendall(encode_frame(OP_PONG, payload))
                    except OSError:
                        pass
            elif op == OP_PONG:
                self.pongs.append(payload)
            else:
                raise WSProtocolError("%s: unknown control opcode %d" % (self.user, op))
            return
        if op == OP_CONT:
            if self.frag_op is None:
                raise WSProtocolError("%s: continuation frame with no message to continue" % self.user)
            self.frag += payload
        elif op in (OP_TEXT, OP_BINARY):
            if self.frag_op is not None:
                raise WSProtocolError("%s: new data frame (opcode %d) inside a fragmented message"
                                      % (self.user, op))
            self.frag_op = op
            self.frag = bytearray(payload)
        else:
            raise WSProtocolError("%s: unknown data opcode %d" % (self.user, op))
        if fin:
            data, kind = bytes(self.frag), self.frag_op
            self.frag_op, self.frag = None, bytearray()
            if kind == OP_BINARY:
                raise WSProtocolError("%s: the server sent a binary message (%d bytes); the "
                                      "protocol is JSON text" % (self.user, len(data)))
            try:
                self.messages.append(data.decode("utf-8"))
            except UnicodeDecodeError:
                raise WSProtocolError("%s: text message is not UTF-8: %s" % (self.user, short(data)))

    def _step(self, deadline, what, greedy=False):
        """Makes progress: parses a buffered frame, else notes EOF (close code 1006 unless a
        close frame came), else reads once (WSTimeout once the deadline has passed)."""
        if self.closed:
            return
        if self._parse_frames(greedy):
            return
        if self.eof:
            self.closed = True
            if self.close_code is None:
                self.close_code, self.close_reason = 1006, ""
            self._close_socket()
            return
        left = deadline - time.monotonic()
        if left <= 0:
            raise WSTimeout("%s: nothing within the time while waiting for %s" % (self.user, what))
        self._recv_into_buf(left, what)

    # ---------------------------------------------------------------- receiving
    def recv_text(self, timeout=WS_TIMEOUT):
        deadline = time.monotonic() + timeout
        while not self.messages:
            if self.closed:
                raise WSClosed(self.close_code, self.close_reason, "%s: " % self.user)
            try:
                self._step(deadline, "a message")
            except WSTimeout:
                raise WSTimeout("%s: no message within %.2fs%s" % (self.user, timeout, self._ctx()))
        self.last_text = self.messages.pop(0)
        return self.last_text

    def recv_event(self, timeout=WS_TIMEOUT):
        text = self.recv_text(timeout)
        try:
            ev = json.loads(text)
        except ValueError:
            raise WSError("%s: message is not JSON: %s" % (self.user, short(text)))
        if not isinstance(ev, dict):
            raise WSError("%s: message is not a JSON object: %s" % (self.user, short(text)))
        return ev

    def expect_event(self, name, timeout=WS_TIMEOUT, **fields):
        """The next event must be Event == name and have the given field values."""
        try:
            ev = self.recv_event(timeout)
        except WSTimeout:
            raise WSTimeout("%s: want a %s event, got nothing within %.2fs%s"
                            % (self.user, name, timeout, self._ctx()))
        except WSClosed as e:
            raise WSClosed(e.code, e.reason, "%s: want a %s event: " % (self.user, name))
        if ev.get("Event") != name:
            raise WSError("%s: want a %s event, got %s" % (self.user, name, short(self.last_text)))
        for k, v in fields.items():
            if ev.get(k) != v:
                raise WSError("%s: %s event should have %s=%r: %s"
                              % (self.user, name, k, v, short(self.last_text)))
        return ev

    def expect_msg(self, task_id=None, timeout=WS_TIMEOUT):
        """The next event must be a Msg (of push task_id when given)."""
        ev = self.expect_event("Msg", timeout)
        if task_id is not None and ev.get("TaskId") != task_id:
            raise WSError("%s: want the Msg of TaskId %s, got %s" % (self.user, task_id, short(self.last_text)))
        return ev

    def no_event(self, within=0.5):
        """Asserts that no message and no close arrives within `within` seconds."""
        deadline = time.monotonic() + within
        while not self.messages and not self.closed:
            try:
                self._step(deadline, "silence")
            except WSTimeout:
                return
        if self.messages:
            raise WSError("%s: want no event within %.2fs, got %s"
                          % (self.user, within, short(self.messages[0])))
        raise WSError("%s: want no event within %.2fs, but the connection closed (code %s, %r)%s"
                      % (self.user, within, self.close_code, self.close_reason, self._ctx()))

    def drain(self, within=0.2):
        """Returns the parsed events that arrive within `within` seconds (stops at close)."""
        out = []
        deadline = time.monotonic() + within
        while True:
            if not self.messages:
                if self.closed:
                    break
                try:
                    self._step(deadline, "more")
                except WSTimeout:
                    break
                continue
            self.last_text = self.messages.pop(0)
            out.append(json.loads(self.last_text))
        return out

    def wait_closed(self, timeout=WS_TIMEOUT):
        """Reads until the server closes (close frame, or EOF = 1006); returns (code, reason).
        Messages that arrive first are parsed into .skipped."""
        deadline = time.monotonic() + timeout
        while True:
            while self.messages:
                self.skipped.append(json.loads(self.messages.pop(0)))
            if self.closed:
                return self.close_code, self.close_reason
            try:
                self._step(deadline, "the close", greedy=True)
            except WSTimeout:
                raise WSTimeout("%s: the server did not close within %.2fs%s"
                                % (self.user, timeout, self._ctx()))

    def expect_close(self, codes, timeout=WS_TIMEOUT):
        """Waits for the close; asserts its code is in codes (an int or a collection)."""
        codes = (codes,) if isinstance(codes, int) else tuple(codes)
        code, reason = self.wait_closed(timeout)
        if code not in codes:
            raise WSError("%s: close code %s (reason %r), want %s; messages before it: %s"
                          % (self.user, code, reason, "|".join(map(str, codes)), short(self.skipped)))
        return code, reason

    def expect_pong(self, payload=None, timeout=WS_TIMEOUT):
        deadline = time.monotonic() + timeout
        while not self.pongs:
            if self.closed:
                raise WSClosed(self.close_code, self.close_reason, "%s: want a pong: " % self.user)
            self._step(deadline, "a pong", greedy=True)
        got = self.pongs.pop(0)
        if payload is not None and got != payload:
            raise WSError("%s: pong payload %r, want %r" % (self.user, got, payload))
        return got

    # ---------------------------------------------------------------- sending
    def send_raw(self, data):
        self._sendall(data)

    def send_raw_frame(self, opcode, payload=b"", mask=True, fin=True, rsv=0, mask_key=None):
        self._sendall(encode_frame(opcode, payload, mask=mask, fin=fin, rsv=rsv, mask_key=mask_key))

    def send_text(self, text):
        self.send_raw_frame(OP_TEXT, text.encode("utf-8"))

    def send_json(self, obj):
        self.send_text(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))

    def ack(self, seq):
        self.send_json({"Event": "Ack", "Seq": seq})

    def ping(self, payload=b""):
        self.send_raw_frame(OP_PING, payload)

    def close(self, code=1000, reason="", timeout=2.0):
        """Closing handshake: sends a close frame and waits (up to timeout) for the server's.
        Returns the server's close code (or None when it did not answer)."""
        if self.sock is None or self.closed:
            self._close_socket()
            self.closed = True
            return self.close_code
        try:
            payload = struct.pack("!H", code) + reason.encode("utf-8") if code is not None else b""
            self.sock.sendall(encode_frame(OP_CLOSE, payload))
            self.close_sent = True
        except OSError:
            self.closed = True
            self._close_socket()
            return None
        try:
            self.wait_closed(timeout)
        except (WSTimeout, WSProtocolError, ValueError):
            pass
        self.closed = True
        self._close_socket()
        return self.close_code

    def abort(self):
        """Drops the TCP connection without a closing handshake."""
        self.closed = True
        if self.sock is not None:
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        self._close_socket()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close(timeout=0.5)

    def __repr__(self):
        return "<WSClient %s%s>" % (self.user, " closed %s" % self.close_code if self.closed else "")


# ------------------------------------------------------------------------------------
# Many receivers
# ------------------------------------------------------------------------------------

def connect(srv, user, sig=None, tls=False, **kw):
    """A connected receiver for `user` on the running harness Server srv (Hello read)."""
    expect_hello = kw.pop("expect_hello", True)
    port = srv.tls_port if tls else srv.port
    c = WSClient(port, user, sig, key=srv.key or KEY, sdkappid=srv.sdkappid or SDKAPPID,
                 tls_cafile=srv.cert if tls else None, server=srv, **kw)
    return c.connect(expect_hello=expect_hello)


def open_receivers(srv, users, workers=32, **kw):
    """Connects one receiver per user (in this order) at once with a thread pool; every
    one has read its Hello. On any failure closes the others and raises."""
    users = list(users)
    out = [None] * len(users)
    errors = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(workers, len(users)))) as ex:
        futs = {ex.submit(connect, srv, u, **kw): i for i, u in enumerate(users)}
        for f in concurrent.futures.as_completed(futs):
            i = futs[f]
            try:
                out[i] = f.result()
            except BaseException as e:   # noqa: BLE001 - reported below
                errors.append((users[i], e))
    if errors:
        for c in out:
            if c is not None:
                c.abort()
        u, e = errors[0]
        raise WSError("%d of %d receivers failed to connect; first: %s: %s"
                      % (len(errors), len(users), u, e))
    return ReceiverGroup(out)


class ReceiverGroup(list):
    """A list of WSClient with group-wide expectations sharing one deadline."""

    def by_user(self):
        return {c.user: c for c in self}

    def expect_all(self, name, timeout=WS_TIMEOUT, **fields):
        """Every receiver's next event is `name` (with fields). Returns the events in order."""
        deadline = time.monotonic() + timeout
        return [c.expect_event(name, max(0.05, deadline - time.monotonic()), **fields) for c in self]

    def expect_msgs(self, task_id=None, timeout=WS_TIMEOUT):
        deadline = time.monotonic() + timeout
        return [c.expect_msg(task_id, max(0.05, deadline - time.monotonic())) for c in self]

    def no_event(self, within=0.5):
        """No receiver gets anything within `within` seconds (waited once for all)."""
        time.sleep(within)
        for c in self:
            c.no_event(0.01)

    def close(self):
        for c in self:
            c.close(timeout=0.5)

    def abort(self):
        for c in self:
            c.abort()


# ------------------------------------------------------------------------------------
# Push-test helpers
# ------------------------------------------------------------------------------------

PUSH = "all_member_push"
LOGIN = "im_open_login_svc"
TASK_ID_RE = r"^[0-9a-f_]+$"

_random_counter = [int.from_bytes(os.urandom(3), "big")]


def msg_random():
    """A MsgRandom unique within this process run (so pushes are never taken as retries)."""
    _random_counter[0] = (_random_counter[0] + 7919) % 4294967296
    return _random_counter[0]


def text_body(text="hi"):
    return [{"MsgType": "TIMTextElem", "MsgContent": {"Text": text}}]


def push_body(text="hi", condition=None, lifetime=0, sender=None, random=None, offline=None,
              body=None):
    b = {"MsgRandom": msg_random() if random is None else random,
         "MsgBody": text_body(text) if body is None else body,
         "MsgLifeTime": lifetime}
    if condition is not None:
        b["Condition"] = condition
    if sender is not None:
        b["From_Account"] = sender
    if offline is not None:
        b["OfflinePushInfo"] = offline
    return b


class PushMixin:
    """Helpers for a ServerTestCase (self.srv, self.ok, self.fail_call)."""

    def push(self, text="hi", condition=None, lifetime=0, sender=None, random=None, offline=None,
             body=None, **kw):
        """im_push; returns the TaskId (checked against TASK_ID_RE)."""
        r = self.ok(PUSH, "im_push", push_body(text, condition, lifetime, sender, random, offline,
                                               body), **kw)
        tid = r.get("TaskId")
        self.assertIsInstance(tid, str, "im_push answer without a TaskId string: %s" % short(r))
        self.assertRegex(tid, TASK_ID_RE, short(r))
        return tid

    def push_fail(self, body, code, names=(), **kw):
        return self.fail_call(PUSH, "im_push", body, code=code, names=names, **kw)

    def report(self, task_id):
        r = self.ok(PUSH, "im_get_push_report", {"TaskId": task_id})
        self.assertEqual(r.get("TaskId"), task_id, short(r))
        return r

    def wait_report(self, task_id, pred, timeout=5.0, what="the wanted report"):
        """Polls im_get_push_report until pred(report) holds; returns the report."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.report(task_id)
            if pred(r):
                return r
            if time.monotonic() > deadline:
                self.fail("report of %s never showed %s within %ss; last: %s"
                          % (task_id, what, timeout, short(r)))
            time.sleep(0.05)

    def resync(self, clients, timeout=WS_TIMEOUT):
        """Brings long-lived receivers back in step after an earlier test failed: pushes a
        MsgLifeTime-0 sentinel to all and reads each client up to it, dropping the rest."""
        tid = self.push("resync")
        deadline = time.monotonic() + timeout
        for c in clients:
            while c.recv_event(max(0.05, deadline - time.monotonic())).get("TaskId") != tid:
                pass

    def revoke(self, task_id):
        return self.ok(PUSH, "im_revoke", {"TaskId": task_id})

    def audience(self, condition=None, **kw):
        body = {} if condition is None else {"Condition": condition}
        r = self.ok(PUSH, "im_get_audience", body, **kw)
        return r.get("Audience"), r.get("Online")

    def receiver(self, user, **kw):
        """A connected receiver that is closed (quickly) when the test ends."""
        c = connect(self.srv, user, **kw)
        self.addCleanup(c.abort)
        return c

    def receivers(self, users, **kw):
        g = open_receivers(self.srv, users, **kw)
        self.addCleanup(g.abort)
        return g

    def online_status(self, *users, detail=False, command="query_online_status"):
        r = self.ok("openim", command, {"To_Account": list(users), "IsNeedDetail": 1 if detail else 0})
        return {q["To_Account"]: q for q in r.get("QueryResult", [])}, r

    def wait_status(self, user, status, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            q, r = self.online_status(user)
            if q.get(user, {}).get("Status") == status:
                return
            if time.monotonic() > deadline:
                self.fail("%s never became %s within %ss: %s" % (user, status, timeout, short(r)))
            time.sleep(0.05)

    def add_tags(self, mapping):
        """mapping user -> [tags] (≤100 users per call)."""
        items = [{"To_Account": u, "Tags": t} for u, t in mapping.items()]
        for i in range(0, len(items), 100):
            self.ok(PUSH, "im_add_tag", {"UserTags": items[i:i + 100]})

    def set_attrs(self, mapping):
        items = [{"To_Account": u, "Attrs": a} for u, a in mapping.items()]
        for i in range(0, len(items), 100):
            self.ok(PUSH, "im_set_attr", {"UserAttrs": items[i:i + 100]})

    def assert_msg(self, ev, task_id, text=None, sender=ADMIN, random=None):
        """A Msg event as client-protocol.md and the lead's decisions describe it."""
        for k in ("Event", "Seq", "TaskId", "From_Account", "MsgRandom", "MsgTime", "MsgBody"):
            self.assertIn(k, ev, "Msg event lacks %s: %s" % (k, short(ev)))
        self.assertEqual(ev["Event"], "Msg")
        self.assertEqual(ev["TaskId"], task_id, short(ev))
        self.assertEqual(ev["From_Account"], sender, short(ev))
        self.assertNotIn("To_Account", ev, "push frames are shared by all receivers: no To_Account")
        self.assertIsInstance(ev["Seq"], int)
        self.assertIsInstance(ev["MsgTime"], int)
        self.assertLess(abs(ev["MsgTime"] - time.time()), 3600 * 24 * 8, short(ev))
        if text is not None:
            self.assertEqual(ev["MsgBody"], text_body(text), short(ev))
        if random is not None:
            self.assertEqual(ev["MsgRandom"], random, short(ev))
