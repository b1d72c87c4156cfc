"""Test helpers: a scripted local HTTP stand-in for the Edge Monitor server, and an
in-memory transport."""

import collections
import json
import os
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_ROOT = os.path.dirname(HERE)
if PACKAGE_ROOT not in sys.path:
    sys.path.insert(0, PACKAGE_ROOT)


class Recorded:
    def __init__(self, method, path, headers, body, at):
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.at = at

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    @property
    def samples(self):
        return self.json()["samples"]


class Reply:
    def __init__(self, status=202, headers=None, body=None, delay=0.0):
        self.status = status
        self.headers = headers or {}
        if body is None:
            body = {"accepted": 0, "duplicates": 0, "conflicts": 0} if status == 202 else {"error": "scripted"}
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.delay = delay


class StandIn:
    """Records every request; answers from ``script`` (a queue of Reply), then ``responder``
    (a callable taking the Recorded request), then 202."""

    def __init__(self):
        self.requests = []
        self.script = collections.deque()
        self.responder = None
        self._cond = threading.Condition()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                rec = Recorded(self.command, self.path, dict(self.headers.items()), body, time.monotonic())
                with standin._cond:
                    standin.requests.append(rec)
                    reply = standin.script.popleft() if standin.script else None
                    standin._cond.notify_all()
                if reply is None and standin.responder is not None:
                    reply = standin.responder(rec)
                if reply is None:
                    reply = Reply(202)
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:
                    pass

            do_POST = do_PUT = do_GET = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, predicate, timeout=5.0):
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.requests):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def ingest_requests(self):
        with self._cond:
            return [r for r in self.requests if r.path == "/api/ingest"]

    def samples(self):
        return [s for r in self.ingest_requests() for s in r.samples]


def closed_port_url():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


class MemoryTransport:
    """A transport for ``Client(transport=...)``: keeps requests, answers like the server."""

    def __init__(self, base="http://edge.test"):
        self.base = base
        self.requests = []
        self.put_status = collections.deque()
        self.lock = threading.Lock()

    def __call__(self, method, url, body, headers, timeout):
        with self.lock:
            self.requests.append((method, url, body, dict(headers)))
            put_status = self.put_status.popleft() if (method == "PUT" and self.put_status) else None
        path = urllib.parse.urlsplit(url).path
        if method == "POST" and path == "/api/ingest":
            return 202, {}, b'{"accepted": 1, "duplicates": 0, "conflicts": 0}'
        if method == "PUT" and path.startswith("/api/integration/heartbeats/"):
            if put_status is not None:
                return put_status, {}, b'{"error": "scripted"}'
            name = urllib.parse.unquote(path.rsplit("/", 1)[1])
            slug = urllib.parse.quote(name.replace(" ", "").replace(":", "-"), safe="")
            reply = {"id": 1, "name": name, "heartbeat_url": f"{self.base}/api/heartbeat/{slug}"}
            return 201, {}, json.dumps(reply).encode()
        return 200, {}, b'{"ok": true, "state": "up"}'

    def samples(self):
        with self.lock:
            return [
                s
                for method, url, body, _ in self.requests
                if url.endswith("/api/ingest")
                for s in json.loads(body)["samples"]
            ]

    def of(self, method, contains=""):
        with self.lock:
            return [r for r in self.requests if r[0] == method and contains in r[1]]


def find(samples, metric, **labels):
    """The samples of ``metric`` whose labels include ``labels``, in order."""
    return [
        s for s in samples if s["metric"] == metric and all(s["labels"].get(k) == v for k, v in labels.items())
    ]
