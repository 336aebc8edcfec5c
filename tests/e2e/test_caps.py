"""Connection caps: --max-connections and --max-connections-per-ip close the connection
at accept, the others keep being served, and /metrics counts each refusal."""
import socket
import time
import unittest
import urllib.request

from imcast_harness import Server


def connect_from(port, source):
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    return s



def served(s):
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    return s.recv(100).startswith(b"HTTP/1.1 200")


class Caps(unittest.TestCase):
    def metric(self, srv, sample):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % srv.port, timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(sample + " "):
                    return float(line.split()[-1])
        self.fail("no sample %s" % sample)

    def test_per_ip_cap(self):
        srv = Server(extra=["--max-connections-per-ip", "3"])
        srv.start()
        self.addCleanup(srv.cleanup)
        self.addCleanup(srv.stop)
        held = [connect_from(srv.port, "127.0.0.2") for _ in range(3)]
        for s in held:
            self.assertTrue(served(s))
        extra = connect_from(srv.port, "127.0.0.2")
        self.assertEqual(extra.recv(1), b"", "a 4th connection from one address was kept")
        other = connect_from(srv.port, "127.0.0.3")          # another address is served
        self.assertTrue(served(other))
        self.assertEqual(self.metric(srv, 'imcast_connections_refused_total{cap="max_connections_per_ip"}'), 1)
        held[0].close()                                       # room again once one closes
        deadline = time.monotonic() + 5
        while True:
            again = connect_from(srv.port, "127.0.0.2")
            try:
                if served(again):
                    break
            except OSError:
                pass
            self.assertLess(time.monotonic(), deadline, "the closed connection was never uncounted")
            time.sleep(0.1)
        for s in held[1:] + [extra, other, again]:
            s.close()

    def test_total_cap(self):
        srv = Server(extra=["--max-connections", "4"])
        srv.start()
        self.addCleanup(srv.cleanup)
        self.addCleanup(srv.stop)
        held = [connect_from(srv.port, "127.0.0.4") for _ in range(3)]   # + the harness's own
        for s in held:
            self.assertTrue(served(s))
        srv.client.close()
        extra = [connect_from(srv.port, "127.0.0.5") for _ in range(3)]
        kept = 0
        for s in extra:
            try:
                kept += served(s)
            except OSError:
                pass
        self.assertEqual(kept, 1, "exactly one more connection fits under the cap of 4")
        for s in held + extra:
            s.close()
        time.sleep(0.2)
        self.assertGreaterEqual(self.metric(srv, 'imcast_connections_refused_total{cap="max_connections"}'), 2)


if __name__ == "__main__":
    unittest.main()
