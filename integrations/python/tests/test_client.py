import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from standin import PACKAGE_ROOT, MemoryTransport, Reply, StandIn, closed_port_url, find  # noqa: E402

from edge_monitor import Client  # noqa: E402

logging.getLogger("edge_monitor").setLevel(logging.CRITICAL)


def make_client(url, **kw):
    kw.setdefault("flush_interval", 30.0)
    kw.setdefault("backoff_base", 0.02)
    kw.setdefault("timeout", 2.0)
    kw.setdefault("flush_at_exit", False)
    return Client(url, "secret-key", **kw)


class ServerTest(unittest.TestCase):
    def setUp(self):
        self.server = StandIn()
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close(timeout=0.2)
        self.server.close()

    def client(self, **kw):
        c = make_client(self.server.url, **kw)
        self.clients.append(c)
        return c


class WireFormatTest(ServerTest):
    def test_request_shape(self):
        c = self.client()
        before = int(time.time() * 1000)
        c.gauge("queue_depth", 3.5, service="shop", labels={"queue": "emails"})
        self.assertTrue(c.flush(5))
        reqs = self.server.ingest_requests()
        self.assertEqual(len(reqs), 1)
        r = reqs[0]
        self.assertEqual(r.method, "POST")
        self.assertEqual(r.headers["Authorization"], "Bearer secret-key")
        self.assertEqual(r.headers["Content-Type"], "application/json")
        body = r.json()
        self.assertEqual(list(body), ["samples"])
        (s,) = body["samples"]
        self.assertEqual(set(s), {"metric", "service", "value", "ts", "labels"})
        self.assertEqual(s["metric"], "queue_depth")
        self.assertEqual(s["service"], "shop")
        self.assertEqual(s["value"], 3.5)
        self.assertIsInstance(s["ts"], int)
        self.assertTrue(before <= s["ts"] <= int(time.time() * 1000))
        self.assertEqual(s["labels"], {"queue": "emails", "instance": f"{socket.gethostname()}:{os.getpid()}"})
        self.assertEqual(c.sent, 1)

    def test_instance_overridable_and_service_default(self):
        c = self.client(instance="web-1", service_default="api")
        c.gauge("m", 1)
        d = self.client(instance=False)
        d.gauge("m", 1, service="api")
        c.flush(5)
        d.flush(5)
        labels = sorted(json.dumps(s["labels"]) for s in self.server.samples())
        self.assertEqual(labels, ['{"instance": "web-1"}', "{}"])
        self.assertTrue(all(s["service"] == "api" for s in self.server.samples()))


class BatchingTest(ServerTest):
    def test_full_batches_go_at_once_and_the_rest_on_flush(self):
        c = self.client(flush_interval=30.0)
        for i in range(2500):
            c.gauge("g", i, service="svc", labels={"n": str(i % 7)})
        self.assertTrue(self.server.wait_for(lambda rs: len(rs) >= 2, 5))
        time.sleep(0.2)
        self.assertEqual(len(self.server.ingest_requests()), 2)
        self.assertTrue(c.flush(5))
        sizes = [len(r.samples) for r in self.server.ingest_requests()]
        self.assertEqual(sizes, [1000, 1000, 500])
        self.assertEqual([s["value"] for s in self.server.samples()], list(range(2500)))

    def test_a_single_sample_goes_within_flush_interval(self):
        c = self.client(flush_interval=0.3)
        t0 = time.monotonic()
        c.gauge("g", 1, service="svc")
        self.assertTrue(self.server.wait_for(lambda rs: len(rs) == 1, 2))
        self.assertLess(self.server.requests[0].at - t0, 1.0)

    def test_samples_close_together_share_a_request(self):
        c = self.client(flush_interval=0.3)
        for i in range(5):
            c.gauge("g", i, service="svc")
        self.assertTrue(self.server.wait_for(lambda rs: len(rs) >= 1, 2))
        time.sleep(0.1)
        self.assertEqual(len(self.server.requests), 1)
        self.assertEqual(len(self.server.requests[0].samples), 5)


class TimestampTest(unittest.TestCase):
    def test_each_series_gets_strictly_increasing_ts(self):
        mem = MemoryTransport()
        c = Client("http://x", "k", transport=mem, flush_at_exit=False, flush_interval=30)
        for i in range(5):
            c.gauge("g", i, service="svc", labels={"a": "1"}, ts=1_700_000_000_000)
        c.gauge("g", 9, service="svc", labels={"a": "2"}, ts=1_700_000_000_000)
        for i in range(50):
            c.gauge("fast", i, service="svc")
        c.flush(2)
        samples = mem.samples()
        self.assertEqual([s["ts"] for s in find(samples, "g", a="1")], [1_700_000_000_000 + i for i in range(5)])
        self.assertEqual([s["ts"] for s in find(samples, "g", a="2")], [1_700_000_000_000])
        fast = [s["ts"] for s in find(samples, "fast")]
        self.assertEqual(len(fast), 50)
        self.assertTrue(all(b > a for a, b in zip(fast, fast[1:])))

    def test_bumped_stamps_never_run_a_minute_ahead(self):
        mem = MemoryTransport()
        c = Client("http://x", "k", transport=mem, flush_at_exit=False, flush_interval=30)
        ahead = int(time.time() * 1000) + 70_000
        c.gauge("g", 1, service="svc", ts=ahead)
        c.gauge("g", 2, service="svc", ts=ahead)
        c.flush(2)
        self.assertEqual([s["value"] for s in mem.samples()], [1])
        self.assertEqual(c.dropped_by_reason["too_fast"], 1)

    def test_counters_are_cumulative_with_a_zero_baseline(self):
        mem = MemoryTransport()
        c = Client("http://x", "k", transport=mem, flush_at_exit=False, flush_interval=30)
        for _ in range(3):
            c.increment("jobs_total", service="svc", labels={"kind": "a"})
        c.increment("jobs_total", 5, service="svc", labels={"kind": "b"})
        c.increment("errors_total", 0, service="svc")
        c.increment("errors_total", 0, service="svc")
        c.flush(2)
        samples = mem.samples()
        self.assertEqual([s["value"] for s in find(samples, "jobs_total", kind="a")], [0, 1, 2, 3])
        self.assertEqual([s["value"] for s in find(samples, "jobs_total", kind="b")], [0, 5])
        self.assertEqual([s["value"] for s in find(samples, "errors_total")], [0, 0])
        ts = [s["ts"] for s in find(samples, "jobs_total", kind="a")]
        self.assertTrue(all(b > a for a, b in zip(ts, ts[1:])))


class RetryTest(ServerTest):
    def test_5xx_is_retried_with_backoff(self):
        self.server.script.extend([Reply(500), Reply(502)])
        c = self.client()
        for i in range(3):
            c.gauge("g", i, service="svc")
        self.assertTrue(c.flush(5))
        reqs = self.server.ingest_requests()
        self.assertEqual(len(reqs), 3)
        self.assertEqual(reqs[0].body, reqs[2].body)
        self.assertEqual(c.retries, 2)
        self.assertEqual(c.sent, 3)
        self.assertEqual(c.dropped, 0)

    def test_429_waits_for_retry_after(self):
        self.server.script.append(Reply(429, {"Retry-After": "1"}))
        c = self.client(backoff_base=0.01)
        c.gauge("g", 1, service="svc")
        self.assertTrue(c.flush(5))
        reqs = self.server.ingest_requests()
        self.assertEqual(len(reqs), 2)
        self.assertGreaterEqual(reqs[1].at - reqs[0].at, 0.95)
        self.assertEqual(reqs[0].body, reqs[1].body)
        self.assertEqual(c.retries, 1)
        self.assertEqual(c.sent, 1)

    def test_503_waits_for_retry_after(self):
        self.server.script.append(Reply(503, {"Retry-After": "1"}))
        c = self.client(backoff_base=0.01)
        c.gauge("g", 1, service="svc")
        self.assertTrue(c.flush(5))
        reqs = self.server.ingest_requests()
        self.assertEqual(len(reqs), 2)
        self.assertGreaterEqual(reqs[1].at - reqs[0].at, 0.95)

    def test_samples_keep_buffering_while_backing_off(self):
        self.server.script.append(Reply(429, {"Retry-After": "1"}))
        c = self.client(flush_interval=0.05)
        c.gauge("g", 1, service="svc")
        self.assertTrue(self.server.wait_for(lambda rs: len(rs) == 1, 2))
        c.gauge("g", 2, service="svc")
        self.assertTrue(c.flush(5))
        self.assertEqual(sorted(s["value"] for s in self.server.samples()[1:]), [1, 2])

    def test_timeout_is_retried(self):
        self.server.script.append(Reply(202, delay=1.0))
        c = self.client(timeout=0.3)
        c.gauge("g", 1, service="svc")
        self.assertTrue(c.flush(5))
        reqs = self.server.ingest_requests()
        self.assertEqual(len(reqs), 2)
        self.assertEqual(reqs[0].body, reqs[1].body)
        self.assertGreaterEqual(c.retries, 1)
        self.assertEqual(c.sent, 1)

    def test_400_is_dropped_not_retried(self):
        details = {"error": "invalid", "details": [{"index": 0, "field": "ts", "reason": "too old"}]}
        self.server.script.append(Reply(400, body=details))
        c = self.client()
        for i in range(4):
            c.gauge("g", i, service="svc")
        with self.assertLogs("edge_monitor", level="WARNING") as logs:
            self.assertTrue(c.flush(5))
        self.assertIn("invalid", "\n".join(logs.output))
        time.sleep(0.2)
        self.assertEqual(len(self.server.ingest_requests()), 1)
        self.assertEqual(c.dropped, 4)
        self.assertEqual(c.dropped_by_reason["invalid"], 4)
        self.assertEqual(c.retries, 0)
        c.gauge("g", 10, service="svc")
        self.assertTrue(c.flush(5))
        self.assertEqual(len(self.server.ingest_requests()), 2)
        self.assertEqual(c.sent, 1)

    def test_401_and_403_are_dropped_not_retried(self):
        for status in (401, 403):
            self.server.script.append(Reply(status))
            c = self.client()
            c.gauge("g", 1, service="svc")
            self.assertTrue(c.flush(5))
            self.assertEqual(c.dropped_by_reason["unauthorized"], 1)
            self.assertEqual(c.retries, 0)
        time.sleep(0.1)
        self.assertEqual(len(self.server.ingest_requests()), 2)

    def test_413_splits_in_halves(self):
        def responder(rec):
            return Reply(413) if len(rec.samples) > 300 else Reply(202)

        self.server.responder = responder
        c = self.client()
        for i in range(1000):
            c.gauge("g", i, service="svc", labels={"s": str(i)})
        self.assertTrue(c.flush(5))
        sizes = [len(r.samples) for r in self.server.ingest_requests()]
        self.assertEqual(sizes, [1000, 500, 250, 250, 500, 250, 250])
        accepted = [s["value"] for r in self.server.ingest_requests() if len(r.samples) <= 300 for s in r.samples]
        self.assertEqual(accepted, list(range(1000)))
        self.assertEqual(c.sent, 1000)
        self.assertEqual(c.dropped, 0)


class BufferTest(ServerTest):
    def test_full_buffer_drops_the_oldest(self):
        c = self.client(max_buffer=10, flush_interval=30)
        for i in range(25):
            c.gauge("g", i, service="svc")
        self.assertEqual(c.dropped, 15)
        self.assertEqual(c.dropped_by_reason["buffer_full"], 15)
        self.assertTrue(c.flush(5))
        self.assertEqual([s["value"] for s in self.server.samples()], list(range(15, 25)))


class InvalidInputTest(unittest.TestCase):
    def test_invalid_samples_are_dropped_and_the_rest_sent(self):
        mem = MemoryTransport()
        c = Client("http://x", "k", transport=mem, flush_at_exit=False)
        c.gauge("bad metric", 1, service="svc")
        c.gauge("ok", float("nan"), service="svc")
        c.gauge("ok", 1, service="Bad Service")
        c.gauge("ok", 1, service="svc", labels={"__reserved": "x"})
        c.gauge("ok", 1, service="svc", labels={f"l{i}": "v" for i in range(20)})
        c.gauge("ok", "1", service="svc")
        c.gauge("ok", 1)  # no service and no default
        c.gauge("ok", 2, service="svc", labels={"note": "line\nbreak\x00" + "x" * 600})
        c.flush(2)
        samples = mem.samples()
        self.assertEqual(c.dropped_by_reason["invalid"], 7)
        self.assertEqual(len(samples), 1)
        note = samples[0]["labels"]["note"]
        self.assertEqual(len(note), 500)
        self.assertTrue(note.startswith("line break "))

    def test_long_non_bmp_values_fit_the_servers_count(self):
        mem = MemoryTransport()
        c = Client("http://x", "k", transport=mem, flush_at_exit=False)
        c.gauge("ok", 1, service="svc", labels={"v": "\U0001F600" * 400})
        c.flush(2)
        value = mem.samples()[0]["labels"]["v"]
        self.assertEqual(len(value.encode("utf-16-le")) // 2, 500)


class UnreachableTest(unittest.TestCase):
    def test_connection_refused_never_raises(self):
        c = make_client(closed_port_url(), flush_interval=0.01, backoff_base=0.01, timeout=0.5)
        try:
            for i in range(5):
                c.gauge("g", i, service="svc")
                c.increment("c_total", service="svc")
            self.assertFalse(c.flush(0.5))
            self.assertGreaterEqual(c.retries, 1)
            self.assertEqual(c.sent, 0)
            self.assertIsNone(c.ensure_heartbeat("beat: x", service="celery", period_seconds=60))
            c.ping("http://127.0.0.1:1/api/heartbeat/x", "start")
            c.gauge("g", 1, service="svc")
        finally:
            c.close(timeout=0.1)


class HeartbeatTest(ServerTest):
    def setUp(self):
        super().setUp()

        def responder(rec):
            if rec.method == "PUT":
                name = rec.path.rsplit("/", 1)[1]
                return Reply(201, body={"id": 7, "name": name, "heartbeat_url": f"{self.server.url}/api/heartbeat/abc"})
            if rec.path.startswith("/api/heartbeat/"):
                return Reply(200, body={"ok": True, "state": "up"})
            return None

        self.server.responder = responder

    def test_ensure_heartbeat_puts_once_and_caches(self):
        c = self.client()
        url = c.ensure_heartbeat("beat: nightly", service="celery", period_seconds=60, grace_seconds=12)
        self.assertEqual(url, f"{self.server.url}/api/heartbeat/abc")
        (put,) = self.server.requests
        self.assertEqual(put.method, "PUT")
        self.assertEqual(put.path, "/api/integration/heartbeats/beat%3A%20nightly")
        self.assertEqual(put.headers["Authorization"], "Bearer secret-key")
        self.assertEqual(put.headers["Content-Type"], "application/json")
        self.assertEqual(put.json(), {"service": "celery", "period_seconds": 60, "grace_seconds": 12})
        self.assertEqual(c.ensure_heartbeat("beat: nightly", service="celery", period_seconds=60, grace_seconds=12), url)
        self.assertEqual(len(self.server.requests), 1)
        c.ensure_heartbeat("beat: nightly", service="celery", cron="0 3 * * *", timezone="Asia/Taipei")
        self.assertEqual(
            self.server.requests[-1].json(), {"service": "celery", "cron": "0 3 * * *", "timezone": "Asia/Taipei"}
        )

    def test_conflict_returns_none_and_is_tried_again(self):
        self.server.script.append(Reply(409, body={"error": "taken"}))
        c = self.client()
        self.assertIsNone(c.ensure_heartbeat("beat: x", service="celery", period_seconds=60))
        self.assertIsNotNone(c.ensure_heartbeat("beat: x", service="celery", period_seconds=60))
        self.assertEqual(len(self.server.requests), 2)

    def test_pings_in_order_without_authorization(self):
        self.server.script.append(Reply(500))  # the first ping fails once and is retried first
        c = self.client()
        hb = f"{self.server.url}/api/heartbeat/abc"
        c.ping(hb, "start")
        c.ping(hb, "success")
        c.ping(hb, "start")
        c.ping(hb, "fail", "ZeroDivisionError: division by zero\nTraceback ...")
        self.assertTrue(c.flush(5))
        reqs = self.server.requests
        self.assertEqual(
            [r.path for r in reqs],
            [
                "/api/heartbeat/abc/start",
                "/api/heartbeat/abc/start",
                "/api/heartbeat/abc",
                "/api/heartbeat/abc/start",
                "/api/heartbeat/abc/fail",
            ],
        )
        self.assertTrue(all(r.method == "POST" and "Authorization" not in r.headers for r in reqs))
        self.assertEqual(reqs[2].body, b"")
        self.assertTrue(reqs[4].headers["Content-Type"].startswith("text/plain"))
        first_line = reqs[4].body.decode().split("\n")[0]
        self.assertTrue(first_line.startswith("ZeroDivisionError: division by zero"))
        self.assertEqual(c.pings_sent, 4)


class ProcessTest(ServerTest):
    def test_buffered_samples_are_flushed_at_exit(self):
        script = textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {PACKAGE_ROOT!r})
            from edge_monitor import Client
            c = Client({self.server.url!r}, "k", flush_interval=60)
            for i in range(3):
                c.increment("exits_total", service="svc")
            """
        )
        subprocess.run([sys.executable, "-c", script], check=True, timeout=20)
        self.assertEqual([s["value"] for s in self.server.samples()], [0, 1, 2, 3])

    @unittest.skipUnless(hasattr(os, "fork"), "needs os.fork")
    def test_a_forked_child_sends_its_own_samples(self):
        c = self.client(flush_interval=0.05)
        c.increment("forks_total", service="svc")
        self.assertTrue(c.flush(5))
        c.increment("forks_total", service="svc")  # buffered in the parent at fork time
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            code = 1
            try:
                c.increment("forks_total", service="svc")
                code = 0 if c.flush(5) else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)
        self.assertTrue(c.flush(5))
        samples = self.server.samples()
        child = find(samples, "forks_total", instance=f"{socket.gethostname()}:{pid}")
        parent = find(samples, "forks_total", instance=f"{socket.gethostname()}:{os.getpid()}")
        # The child's counter starts at 0 in its own series; the parent's is not sent twice.
        self.assertEqual([s["value"] for s in child], [0, 1])
        self.assertEqual([s["value"] for s in parent], [0, 1, 2])


if __name__ == "__main__":
    unittest.main()
