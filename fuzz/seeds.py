#!/usr/bin/env python3
"""Writes the seed corpora fuzz/corpus/<target>/ from the contract's examples and
tests/testdata (usersig vectors, java-sdks.json bodies), plus hand-written HTTP requests and
WebSocket frames. Run from anywhere: python3 fuzz/seeds.py. Idempotent (files are named by
content)."""
import base64, hashlib, json, os, struct, zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TESTDATA = os.path.join(ROOT, "tests", "testdata")

def write(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)

vectors = json.load(open(os.path.join(TESTDATA, "usersig", "vectors.json")))
java = json.load(open(os.path.join(TESTDATA, "sdk-requests", "java-sdks.json")))
bodies = [r["body"] for r in java["requests"] if r.get("body")]

def inflate_sig(sig):
    s = sig.replace("*", "+").replace("-", "/").replace("_", "=")
    s += "=" * (-len(s) % 4)
    try:
        return zlib.decompress(base64.b64decode(s)).decode()
    except Exception:
        return None

# ---- usersig: mode byte '0' raw sig, '1' level+clock+JSON, '2' time/expire/identifier
for v in vectors["vectors"]:
    if len(v["usersig"]) < 9000:
        write("usersig", "0" + v["usersig"])
    js = inflate_sig(v["usersig"])
    if js and len(js) < 8192:  # not the zip bombs' inflated megabytes
        write("usersig", "1" + "\x06\x02" + js)
write("usersig", "2" + struct.pack(">qq", 1700000000, 86400).decode("latin1") + "administrator")
write("usersig", "2" + struct.pack(">qq", 1700000000, 2**63 - 1).decode("latin1") + "u1")
write("usersig", "1\x00\x01" + json.dumps({"TLS.ver": "2.0", "TLS.identifier": "administrator",
      "TLS.sdkappid": 1400000000, "TLS.time": 1700000000, "TLS.expire": 86400,
      "TLS.userbuf": "YWJj"}))

# ---- json_span: request bodies and a few shapes
for b in bodies:
    write("json_span", b)
for b in ['{"MsgBody":[{"MsgType":"TIMCustomElem","MsgContent":{"Data":1.10}}],"OfflinePushInfo":{"Ext":"x"}}',
          '{ "a" : "b\\"}" , "MsgBody" : [ 1 , {"x":[]} ] }',
          '{"Msg\\u0042ody":[],"MsgBody2":1}', '{"":0,"a":{"a":"a"},"b":"\\\\"}']:
    write("json_span", b)

# ---- api: calls "route byte + body" separated by "\n#\n" (route = byte % 20, see fuzz_api.c)
ROUTES = ["account_import", "multiaccount_import", "account_delete", "account_check", "kick",
          "query_online_status", "querystate", "im_set_attr_name", "im_get_attr_name",
          "im_get_attr", "im_set_attr", "im_remove_attr", "im_get_tag", "im_add_tag",
          "im_remove_tag", "im_remove_all_tags", "im_push", "im_get_push_report", "im_revoke",
          "im_get_audience"]
def call(route, body, who=0):
    return bytes([ROUTES.index(route) + 20 * who]) + body.encode()
def calls(*cs):
    return b"\n#\n".join(cs)

spec = {  # docs/rest-api.md examples
    "account_import": ['{"UserID":"u1","Nick":"n","FaceUrl":"http://x/y.png"}', '{"Identifier":"u9"}'],
    "multiaccount_import": ['{"Accounts":["u1","u2"]}', '{"AccountList":["new1","x"]}'],
    "account_delete": ['{"DeleteItem":[{"UserID":"u1"},{"UserID":"nope"}]}'],
    "account_check": ['{"CheckItem":[{"UserID":"u1"},{"UserID":"nope"}]}'],
    "kick": ['{"UserID":"u1"}', '{"UserID":"nobody"}'],
    "query_online_status": ['{"To_Account":["u1","fuzzuser","x"],"IsNeedDetail":1}'],
    "querystate": ['{"To_Account":["u1"]}'],
    "im_set_attr_name": ['{"AttrNames":{"0":"sex","1":"city"}}', '{"AttrNames":["sex","city","a3"]}',
                         '{"AttrNames":{"9":"nine","4":"sex"}}'],
    "im_get_attr_name": ['{}', '[]', ''],
    "im_get_attr": ['{"To_Account":["u1","u2","zz"]}'],
    "im_set_attr": ['{"UserAttrs":[{"To_Account":"u1","Attrs":{"sex":"F","city":"SZ"}}]}',
                    '{"Attrs":[{"To_Account":"u5","Attrs":{"level":3,"vip":true}}]}'],
    "im_remove_attr": ['{"UserAttrs":[{"To_Account":"u1","Attrs":["sex","city"]}]}',
                       '{"UserAttrs":[{"To_Account":"u1","Attrs":{"sex":"attr1"}}]}',
                       '{"To_Account":"u1","Attrs":["sex"]}'],
    "im_get_tag": ['{"To_Account":["u0","u3","fuzzuser"]}'],
    "im_add_tag": ['{"UserTags":[{"To_Account":"u1","Tags":["a","b"]}]}', '{"To_Account":"u1","Tags":["x"]}',
                   '{"Tags":[{"To_Account":"u2","Tags":["标签"]}]}'],
    "im_remove_tag": ['{"UserTags":[{"To_Account":"u0","Tags":["a","zz"]}]}'],
    "im_remove_all_tags": ['{"To_Account":["u0","u3"]}'],
    "im_push": ['{"MsgRandom":9312457,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi, beauty"}}]}',
                '{"MsgRandom":1,"MsgLifeTime":120,"From_Account":"u1","Condition":{"TagsAnd":["a"],"TagsOr":["b","c"]},'
                '"MsgBody":[{"MsgType":"TIMCustomElem","MsgContent":{"Data":"x","Ext":1.10}}],"OfflinePushInfo":{"PushFlag":0,"Title":"t"}}',
                '{"MsgRandom":2,"MsgLifeTime":604800,"Condition":[{"AttrsOr":{"sex":"F","level":3}},null,{"AttrsAnd":{"city":"SZ"}}],'
                '"MsgBody":[{"MsgType":"TIMFaceElem","MsgContent":{"Index":1}},{"MsgType":"TIMLocationElem","MsgContent":{}}]}'],
    "im_get_push_report": ['{"TaskId":"@TASK0@"}', '{"TaskId":"@TASK2@"}', '{"TaskId":"nope"}'],
    "im_revoke": ['{"TaskId":"@TASK1@"}', '{"TaskId":"@TASK2@"}'],
    "im_get_audience": ['{"Condition":{"TagsOr":["a","vip"]}}', '{"Condition":{"AttrsAnd":{"sex":"F","level":3}}}',
                        '{}', '{"Condition":[{"TagsAnd":["a"]},{"TagsAnd":["b"],"TagsOr":["c"]}]}'],
}
for route, bs in spec.items():
    for b in bs:
        write("api", call(route, b))
for r in java["requests"]:
    if r.get("body") is not None and r["command"] in ROUTES:
        write("api", call(r["command"], r["body"]))
write("api", calls(call("account_import", '{"UserID":"newbie"}'),
                   call("im_add_tag", '{"UserTags":[{"To_Account":"newbie","Tags":["a"]}]}'),
                   call("im_push", '{"MsgRandom":5,"MsgLifeTime":60,"Condition":{"TagsAnd":["a"]},"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"x"}}]}'),
                   call("im_push", '{"MsgRandom":5,"MsgLifeTime":60,"Condition":{"TagsAnd":["a"]},"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"x"}}]}'),
                   call("account_delete", '{"DeleteItem":[{"UserID":"newbie"}]}'),
                   call("im_get_audience", '{"Condition":{"TagsAnd":["a"]}}')))
write("api", calls(call("im_set_attr_name", '{"AttrNames":{"0":"city","1":"sex"}}'),
                   call("im_get_attr", '{"To_Account":["u0","u1"]}')))
write("api", call("im_push", '{"MsgRandom":1,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{}}]}', who=3))

# ---- http: two option bytes + raw bytes (write_http inserts the second one)
def req(method, target, body=None, headers=()):
    h = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1:8080"] + list(headers)
    if body is not None:
        h.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(h) + "\r\n\r\n" + (body or "")).encode()
Q = "?sdkappid=1400000000&identifier=administrator&usersig=@SIG@&random=99&contenttype=json"
def write_http(data, opt2=0):
    write("http", data[:1] + bytes([opt2]) + data[1:])
for r in java["requests"]:
    hs = [h for h in (r.get("headers") or []) if not h.lower().startswith(("content-length", "host"))]
    target = r["target"].split("?")[0] + Q
    write_http(b"\x00" + req("POST", target, r.get("body") or "", hs))
    write_http(b"\x07" + req("POST", r["target"], r.get("body") or "", hs))  # its own (aging) sig
write_http(b"\x00" + req("POST", "/v4/all_member_push/im_get_attr_name" + Q, "{}") * 3)
write_http(b"\x05" + req("POST", "/v4/all_member_push/im_get_attr_name" + Q, "{}", ["Connection: close"]))
write_http(b"\x00" + b"POST /v4/all_member_push/im_get_tag" + Q.encode() + b" HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      b"5\r\n{\"To_\r\n14\r\nAccount\":[\"u0\",\"u1\"]}\r\n0\r\n\r\n")
write_http(b"\x00" + req("POST", "/v4/openim/querystate?sdkappid=1400000000&identifier=administrator&usersig=%40SIG%40", "[]"))
write_http(b"\x00" + req("GET", "/v4/all_member_push/im_get_attr_name" + Q))
write_http(b"\x00" + req("POST", "/v4/nope/nope" + Q, "{}"))
write_http(b"\x00" + req("POST", "/v4/im_open_login_svc/account_check?identifier=administrator&usersig=@SIG@", "{}"))
write_http(b"\x00" + req("POST", "/v4/im_open_login_svc/account_check?sdkappid=1400000001&identifier=administrator&usersig=@SIG@", "{}"))
write_http(b"\x00" + req("POST", "/v4/all_member_push/im_push" + Q, '{"MsgRandom":1', ["Expect: 100-continue"]))
write_http(b"\x40" + b"POST /v4/all_member_push/im_push" + Q.encode() + b" HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
write_http(b"\x00" + b"POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n")
write_http(b"\x00" + b"GET /" + b"a" * 300 + b" HTTP/1.0\r\n\r\n")
write_http(b"\x00" + b"GARBAGE\r\n\r\n")
write_http(b"\x00" + req("GET", "/healthz") + req("GET", "/metrics") + req("GET", "/console/") + req("GET", "/console"))
write_http(b"\x00" + req("GET", "/console/") * 12, opt2=3)   # a slow reader of big answers
write_http(b"\x00" + req("GET", "/console/", None, ['If-None-Match: "0000000000000000"']))
write_http(b"\x00" + req("HEAD", "/healthz"))
write_http(b"\x01" + req("GET", "/v4/ws?sdkappid=1400000000&identifier=fuzzuser&usersig=@USIG@", None,
      ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
       "Sec-WebSocket-Version: 13"]) + b"\x81\x80\x00\x00\x00\x00")
write_http(b"\x00" + req("GET", "/v4/ws?sdkappid=1400000000&identifier=fuzzuser&usersig=@USIG@", None,
      ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
       "Sec-WebSocket-Version: 8"]))
write_http(b"\x00" + req("GET", "/v4/ws?sdkappid=1400000000&identifier=u1&usersig=@USIG@", None,
      ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
       "Sec-WebSocket-Version: 13"]))

# ---- ws: option byte, event byte, then client frames
def frame(payload, op=1, fin=True, mask=b"\0\0\0\0", ln=None):
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if ln is None else ln
    h = bytes([(0x80 if fin else 0) | op])
    if n < 126:
        h += bytes([0x80 | n])
    elif n <= 0xFFFF:
        h += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        h += bytes([0x80 | 127]) + struct.pack(">Q", n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return h + mask + masked
ws = [
    frame('{"Event":"Ack","Seq":1}'),
    frame('{"Event":"Ack","Seq":2}') + frame('{"Event":"Ack","Seq":99999}'),
    frame('{"Event":"Ack","Seq":-1}'), frame('{"Event":"Ack"}'), frame('{"Event":"Nope"}'),
    frame('not json'), frame('[]'), frame(b'\xff\xfe'),
    frame('{"Event":"Ack",', fin=False) + frame('"Seq":2}', op=0),
    frame('{"Ev', fin=False) + frame('ping', op=9) + frame('ent":"Ack","Seq":1}', op=0),
    frame('', op=9) + frame('', op=10) + frame(struct.pack(">H", 1000) + b"bye", op=8),
    frame(struct.pack(">H", 1005), op=8), frame(b"\x03", op=8), frame(struct.pack(">H", 4001) + b"\xff", op=8),
    frame('x' * 200), frame('{"Event":"Ack","Seq":1}', mask=b"\x12\x34\x56\x78"),
    frame('', op=2), frame('', op=3), frame('', op=0), frame('x', ln=70000)[:20],
    b"\x81\x00", b"\xc1\x80\0\0\0\0", frame('a' * 130, op=9),
]
for i, f in enumerate(ws):
    write("ws", bytes([0, 0, 0]) + f)
    write("ws", bytes([i % 3 + 1 | (0x80 if i % 2 else 0), (i * 7) % 32 | (0x40 if i % 4 == 0 else 0), i % 4]) + f)

# ---- audience: accounts (3 bytes each), then Condition ops (see fuzz_audience.c)
import random
rnd = random.Random(7)
for k in range(24):
    n = rnd.randrange(1, 40)
    accts = bytes(rnd.randrange(256) if j % 3 != 2 else rnd.choice([0, 0, 1, 2, 3, 4, 5, 6, 0x13, 0x21])
                  for j in range(3 * n))
    ops = bytes(rnd.choice([0x00, 0x10, 0x21, 0x31, 0x02, 0x03, 0x12, 0x04, 0x05, 0x46, 0x17, 0x08, 0x91, 0x40])
                for _ in range(rnd.randrange(0, 8)))
    write("audience", bytes([n]) + accts + ops)
write("audience", bytes([3, 3, 0x05, 0, 1, 0x0A, 0, 4, 0x0F, 0]) + b"\x00\x11")      # TagsAnd a, TagsOr b
write("audience", bytes([3, 3, 0x05, 0, 1, 0x0A, 0, 4, 0x0F, 0]) + b"\x02\x00\x12\x04")  # AttrsAnd sex=F, city=3
write("audience", bytes([2, 1, 0, 0, 2, 0, 0]) + b"\x00\x04\x10\x05")                   # [ {TagsAnd a}, {TagsAnd b}, null ]

# ---- store_blob: '\x00' + a portable roaring blob, or '\x01' + a pushes row (see the target)
def roaring(values, runs=False):
    """CRoaring's portable format (RoaringFormatSpec), written independently."""
    by_key = {}
    for v in sorted(set(values)):
        by_key.setdefault(v >> 16, []).append(v & 0xFFFF)
    keys = sorted(by_key)
    conts = []
    for k in keys:
        lows = by_key[k]
        rl = []
        for x in lows:
            if rl and rl[-1][0] + rl[-1][1] + 1 == x:
                rl[-1][1] += 1
            else:
                rl.append([x, 0])
        if runs and len(rl) * 4 + 2 < min(len(lows) * 2, 8192):
            conts.append(("run", lows, struct.pack("<H", len(rl)) + b"".join(struct.pack("<HH", a, b) for a, b in rl)))
        elif len(lows) > 4096:
            bits = bytearray(8192)
            for x in lows:
                bits[x >> 3] |= 1 << (x & 7)
            conts.append(("bits", lows, bytes(bits)))
        else:
            conts.append(("arr", lows, b"".join(struct.pack("<H", x) for x in lows)))
    n = len(conts)
    has_runs = any(c[0] == "run" for c in conts)
    out = bytearray()
    if has_runs:
        out += struct.pack("<I", 12347 | ((n - 1) << 16))
        flags = bytearray((n + 7) // 8)
        for i, c in enumerate(conts):
            if c[0] == "run":
                flags[i // 8] |= 1 << (i % 8)
        out += flags
    else:
        out += struct.pack("<II", 12346, n)
    for k, c in zip(keys, conts):
        out += struct.pack("<HH", k, len(c[1]) - 1)
    if not has_runs or n >= 4:
        pos = len(out) + 4 * n
        for c in conts:
            out += struct.pack("<I", pos)
            pos += len(c[2])
    for c in conts:
        out += c[2]
    return bytes(out)
samples = [[], [1], [1, 2, 3, 70000], list(range(0, 5000)), list(range(100, 200)) + [65536 * 3 + 7],
           [5, 9, 11, 40000, 65535, 65536, 131071], list(range(0, 65536, 2))[:4200], [0xFFFFFFFF],
           list(range(10)) + list(range(65536, 65546)) + list(range(131072, 131082)) + list(range(196608, 196700)) + [400000]]
for vals in samples:
    for runs in (False, True):
        if vals:
            write("store_blob", b"\x00" + roaring(vals, runs))
            a, d = roaring(vals, runs), roaring(vals[: len(vals) // 2 or 1], runs)
            hdr = struct.pack(">HIiHHBBH", 8, 4242, 100, 600, 0, 1, 0, len(a))
            write("store_blob", b"\x01" + hdr + a + d)
write("store_blob", b"\x01" + struct.pack(">HIiHHBBH", 2, 1, 0, 1, 0, 3, 0x10, 0))   # seq 0, NULL audience
write("store_blob", b"\x01" + struct.pack(">HIiHHBBH", 7, 1, 0, 1, 0, 3, 0x02, 0))   # a TaskId already held
# limits of the harness (3 KiB head, 32 KiB body, 4 pipelined): seeds that reach them
write_http(b"\x00" + req("POST", "/v4/openim/querystate" + Q, "{}", ["X-Big: " + "a" * 3100]))
write_http(b"\x00" + req("POST", "/v4/openim/querystate" + Q, "{}", [f"X-{i}: {i}" for i in range(400)]))
write_http(b"\x00" + b"POST /v4/openim/querystate" + Q.encode() + b" HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"8001\r\n" + b"x" * 64 + b"\r\n")
write_http(b"\x00" + req("POST", "/v4/all_member_push/im_get_attr_name" + Q, "{}" + " " * 33000))
write_http(b"\x00" + b"".join(req("POST", "/v4/im_open_login_svc/account_import" + Q, '{"UserID":"p%d"}' % i)
                              for i in range(10)))
