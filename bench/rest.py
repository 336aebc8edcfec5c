#!/usr/bin/env python3
"""Memory at scale: a bulk load of tagged accounts through the API, and imcastd's RSS.

  bench/rest.py [--imcastd build/imcastd] [--accounts 1000000]

Starts imcastd on a free port with a temporary data folder, then bulk-loads --accounts
accounts with 3 tags each through the API (multiaccount_import + im_add_tag, 100 accounts a
call, one call at a time from Python) -> load rate, RSS per account. Prints one table.
REST requests/s (wrk, with an nginx ceiling) is `imcast-bench rest` (bench/src/mode_rest.c).
"""
import argparse
import os
import re
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
from imcast_harness import Server  # noqa: E402


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


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
    ap.add_argument("--accounts", type=int, default=1000000)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        srv = Server(binary=os.path.abspath(args.imcastd), data=tmp)
        srv.start()
        try:
            c = srv.client
            rows = []
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
