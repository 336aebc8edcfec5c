#!/usr/bin/env python3
"""REST throughput of imcastd measured with wrk, and memory at scale.

  bench/rest.py [--imcastd build/imcastd] [--seconds 10] [--accounts 1000000]

Starts imcastd on a free port with a temporary data folder, then:
  1. im_get_tag naming 10 accounts (each with 3 tags)        -> requests/s (wrk)
  2. im_add_tag for 100 accounts x 1 tag, alternating with im_remove_tag so that
     every request really writes 100 rows                    -> requests/s (wrk)
  3. bulk-loads --accounts accounts with 3 tags each through the API
     (multiaccount_import + im_add_tag, 100 accounts a call) -> load rate, RSS per account
Prints one table. Needs wrk (scripts/install-deps installs it).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
from imcast_harness import Server, usersig  # noqa: E402


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def call_path(srv, command_path):
    sig = usersig(srv.key, srv.sdkappid, "administrator")
    return "/v4/%s?sdkappid=%d&identifier=administrator&usersig=%s&random=1&contenttype=json" % (
        command_path, srv.sdkappid, sig)


def wrk(srv, command_path, body, seconds, script="call.lua", connections=32, threads=2):
    env = dict(os.environ, IMCAST_PATH=call_path(srv, command_path), IMCAST_BODY=json.dumps(body))
    out = subprocess.run(["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % seconds,
                          "--latency", "-s", os.path.join(HERE, "wrk", script),
                          "http://127.0.0.1:%d" % srv.port], env=env, check=True,
                         capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+\w+)", out).group(1)
    return rps, p99


def bulk_load(srv, client, n, batch=100):
    t0 = time.time()
    for start in range(0, n, batch):
        ids = ["u%08d" % i for i in range(start, min(start + batch, n))]
        client.ok("im_open_login_svc", "multiaccount_import", {"Accounts": ids})
        items = [{"To_Account": u, "Tags": ["city_%d" % (hash(u) % 300), "age_%d" % (hash(u) % 7),
                                            "vip" if i % 10 == 0 else "plain"]}
                 for i, u in enumerate(ids)]
        client.ok("all_member_push", "im_add_tag", {"UserTags": items})
    return time.time() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--imcastd", default=os.path.join(HERE, "..", "build", "imcastd"))
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--accounts", type=int, default=1000000)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        srv = Server(binary=os.path.abspath(args.imcastd), data=tmp)
        srv.start()
        try:
            c = srv.client
            users = ["bench%03d" % i for i in range(100)]
            c.ok("im_open_login_svc", "multiaccount_import", {"Accounts": users})
            c.ok("all_member_push", "im_add_tag",
                 {"UserTags": [{"To_Account": u, "Tags": ["a", "b", "c"]} for u in users]})
            rows = []
            rps, p99 = wrk(srv, "all_member_push/im_get_tag", {"To_Account": users[:10]}, args.seconds)
            rows.append(("im_get_tag, 10 accounts", "%.0f req/s" % rps, "p99 " + p99))
            add = {"UserTags": [{"To_Account": u, "Tags": ["t"]} for u in users]}
            rps, p99 = wrk(srv, "all_member_push/im_add_tag", add, args.seconds, "tag_write.lua")
            rows.append(("im_add_tag/im_remove_tag, 100 accounts x 1 tag", "%.0f req/s" % rps,
                         "p99 " + p99))

            base = rss_kib(srv.proc.pid)
            secs = bulk_load(srv, c, args.accounts)
            rss = rss_kib(srv.proc.pid)
            rows.append(("bulk load %d accounts x 3 tags" % args.accounts,
                         "%.0f accounts/s" % (args.accounts / secs), "%.1f s" % secs))
            rows.append(("RSS after load", "%.0f MiB" % (rss / 1024),
                         "%.0f bytes/account" % ((rss - base) * 1024 / args.accounts)))
        finally:
            srv.stop()
    w = max(len(r[0]) for r in rows)
    for r in rows:
        print("%-*s  %-20s %s" % (w, r[0], r[1], r[2]))


if __name__ == "__main__":
    main()
