import asyncio
import logging
import os
import sys
import time
import types
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from standin import MemoryTransport, find  # noqa: E402

from edge_monitor import Client, metrics  # noqa: E402
from edge_monitor.asgi import EdgeMonitorASGIMiddleware  # noqa: E402
from edge_monitor.wsgi import DjangoMiddleware, EdgeMonitorMiddleware, instrument_flask  # noqa: E402

logging.getLogger("edge_monitor").setLevel(logging.CRITICAL)


def memory_client():
    mem = MemoryTransport()
    client = Client("http://edge.test", "k", transport=mem, flush_interval=30, flush_at_exit=False)
    return client, mem


def collect(client, mem):
    client.flush(2)
    return mem.samples()


def environ(path="/users/42", method="GET"):
    return {"PATH_INFO": path, "REQUEST_METHOD": method, "SCRIPT_NAME": "", "wsgi.url_scheme": "http"}


def call_wsgi(app, env):
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"] = status
        return lambda data: None

    result = app(env, start_response)
    try:
        body = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return seen.get("status"), body


def latest(samples, metric, **labels):
    found = find(samples, metric, **labels)
    return found[-1]["value"] if found else None


class MetricsTest(unittest.TestCase):
    def test_payment_sends_both_counters_every_time(self):
        client, mem = memory_client()
        metrics.payment(client, True)
        metrics.payment(client, False)
        metrics.payment(client, True)
        samples = collect(client, mem)
        self.assertTrue(all(s["service"] == "ecpay" for s in samples))
        self.assertEqual([s["value"] for s in find(samples, "payments_total", gateway="ecpay")], [0, 1, 2, 3])
        self.assertEqual([s["value"] for s in find(samples, "payments_failed_total", gateway="ecpay")], [0, 1, 1])

    def test_payment_without_client_is_a_no_op(self):
        metrics.payment(None, False)

    def test_status_class_and_paths(self):
        self.assertEqual(metrics.status_class("404 Not Found"), "4xx")
        self.assertEqual(metrics.status_class(503), "5xx")
        self.assertEqual(metrics.status_class("bogus"), "unknown")
        self.assertEqual(
            metrics.normalize_path("/users/42/orders/9b2e1f3c-5a1d-4a6e-9a31-0c1e2d3f4a5b/items/abc"),
            "/users/:id/orders/:id/items/abc",
        )
        self.assertEqual(metrics.normalize_path("/files/0123456789abcdef0123"), "/files/:id")
        self.assertEqual(metrics.normalize_path(""), "/")


class WsgiTest(unittest.TestCase):
    def setUp(self):
        self.client, self.mem = memory_client()

    def test_success_records_duration_counters_and_labels(self):
        def app(env, start_response):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"hello"]

        mw = EdgeMonitorMiddleware(app, self.client)
        status, body = call_wsgi(mw, environ("/users/42"))
        self.assertEqual((status, body), ("200 OK", b"hello"))
        samples = collect(self.client, self.mem)
        labels = {"route": "/users/:id", "method": "GET", "status_class": "2xx"}
        (duration,) = find(samples, "api_response_ms", **labels)
        self.assertEqual(duration["service"], "api")
        self.assertEqual(set(duration["labels"]), {"route", "method", "status_class", "instance"})
        self.assertGreaterEqual(duration["value"], 0)
        self.assertEqual(latest(samples, "http_requests_total", **labels), 1)
        errors = find(samples, "http_errors_total", route="/users/:id", method="GET")
        self.assertEqual([s["value"] for s in errors], [0])
        self.assertNotIn("status_class", errors[0]["labels"])

    def test_unmatched_paths_share_one_route(self):
        def app(env, start_response):
            found = env["PATH_INFO"] == "/users/42"
            start_response("200 OK" if found else "404 Not Found", [])
            return [b""]

        mw = EdgeMonitorMiddleware(app, self.client)
        for path in ("/wp-login.php", "/.env", "/admin/config.bak", "/users/42"):
            call_wsgi(mw, environ(path))
        samples = collect(self.client, self.mem)
        routes = {s["labels"]["route"] for s in find(samples, "http_requests_total")}
        self.assertEqual(routes, {metrics.UNMATCHED_ROUTE, "/users/:id"})
        self.assertEqual(latest(samples, "http_requests_total", route=metrics.UNMATCHED_ROUTE, status_class="4xx"), 3)

    def test_a_template_answering_404_keeps_its_route(self):
        def app(env, start_response):
            start_response("404 Not Found", [])
            return [b""]

        mw = EdgeMonitorMiddleware(app, self.client, route_for=lambda env: "/orders/<int:id>")
        call_wsgi(mw, environ("/orders/7"))
        samples = collect(self.client, self.mem)
        self.assertEqual(latest(samples, "http_requests_total", route="/orders/<int:id>", status_class="4xx"), 1)

    def test_5xx_counts_an_error(self):
        def app(env, start_response):
            start_response("503 Service Unavailable", [])
            return [b""]

        mw = EdgeMonitorMiddleware(app, self.client, service="shop-api")
        call_wsgi(mw, environ("/pay", "POST"))
        call_wsgi(mw, environ("/pay", "POST"))
        samples = collect(self.client, self.mem)
        self.assertEqual(latest(samples, "http_errors_total", route="/pay", method="POST"), 2)
        self.assertEqual(latest(samples, "http_requests_total", route="/pay", status_class="5xx"), 2)
        self.assertTrue(all(s["service"] == "shop-api" for s in samples))

    def test_exception_is_recorded_as_5xx_and_reraised(self):
        def app(env, start_response):
            raise ZeroDivisionError("boom")

        mw = EdgeMonitorMiddleware(app, self.client)
        with self.assertRaises(ZeroDivisionError):
            call_wsgi(mw, environ("/crash"))
        samples = collect(self.client, self.mem)
        self.assertEqual(latest(samples, "http_requests_total", route="/crash", status_class="5xx"), 1)
        self.assertEqual(latest(samples, "http_errors_total", route="/crash"), 1)

    def test_streaming_is_measured_to_the_end_and_closes_the_body(self):
        closed = []

        class Body:
            def __iter__(self):
                for chunk in (b"a", b"b"):
                    time.sleep(0.1)
                    yield chunk

            def close(self):
                closed.append(True)

        def app(env, start_response):
            start_response("200 OK", [])
            return Body()

        mw = EdgeMonitorMiddleware(app, self.client)
        result = mw(environ("/stream"), lambda status, headers, exc_info=None: None)
        chunks = iter(result)
        self.assertEqual(next(chunks), b"a")
        self.client.flush(1)
        self.assertEqual(find(self.mem.samples(), "api_response_ms"), [])  # not before the body is out
        self.assertEqual(list(chunks), [b"b"])
        result.close()
        self.assertEqual(closed, [True])
        samples = collect(self.client, self.mem)
        (duration,) = find(samples, "api_response_ms", route="/stream")
        self.assertGreaterEqual(duration["value"], 190)

    def test_error_while_streaming_counts_as_5xx(self):
        def app(env, start_response):
            start_response("200 OK", [])

            def body():
                yield b"a"
                raise RuntimeError("stream broke")

            return body()

        mw = EdgeMonitorMiddleware(app, self.client)
        with self.assertRaises(RuntimeError):
            call_wsgi(mw, environ("/s"))
        samples = collect(self.client, self.mem)
        self.assertEqual([s["labels"]["status_class"] for s in find(samples, "api_response_ms")], ["5xx"])

    def test_route_from_environ_key_and_route_for(self):
        def app(env, start_response):
            env["edge_monitor.route"] = "/users/<int:id>"
            start_response("201 Created", [])
            return [b""]

        mw = EdgeMonitorMiddleware(app, self.client)
        call_wsgi(mw, environ("/users/5"))
        mw2 = EdgeMonitorMiddleware(app, self.client, route_for=lambda env: "custom")
        call_wsgi(mw2, environ("/users/5"))
        samples = collect(self.client, self.mem)
        self.assertEqual(
            [s["labels"]["route"] for s in find(samples, "api_response_ms")], ["/users/<int:id>", "custom"]
        )

    def test_len_is_kept_for_lists_only(self):
        def list_app(env, start_response):
            start_response("200 OK", [])
            return [b"x"]

        def gen_app(env, start_response):
            start_response("200 OK", [])
            return (b for b in [b"x"])

        sr = lambda *a: None  # noqa: E731
        self.assertEqual(len(EdgeMonitorMiddleware(list_app, self.client)(environ(), sr)), 1)
        self.assertFalse(hasattr(EdgeMonitorMiddleware(gen_app, self.client)(environ(), sr), "__len__"))

    def test_without_configuration_requests_pass_through(self):
        def app(env, start_response):
            start_response("200 OK", [])
            return [b"x"]

        saved = {k: os.environ.pop(k, None) for k in ("EDGE_MONITOR_URL", "EDGE_MONITOR_KEY")}
        try:
            mw = EdgeMonitorMiddleware(app)
        finally:
            os.environ.update({k: v for k, v in saved.items() if v is not None})
        self.assertIsNone(mw.client)
        self.assertEqual(mw(environ(), lambda *a: None), [b"x"])


class FlaskTest(unittest.TestCase):
    def test_instrument_flask_uses_the_url_rule(self):
        client, mem = memory_client()
        fake_request = types.SimpleNamespace(url_rule=None, environ=None)
        fake_flask = types.ModuleType("flask")
        fake_flask.request = fake_request
        original = sys.modules.get("flask")
        sys.modules["flask"] = fake_flask
        try:

            class App:
                def __init__(self):
                    self.before_request_funcs = {None: [lambda: None]}
                    self.extensions = {}

                def wsgi_app(self, env, start_response):
                    fake_request.environ = env
                    fake_request.url_rule = types.SimpleNamespace(rule="/orders/<int:order_id>")
                    for fn in self.before_request_funcs[None]:
                        fn()
                    start_response("200 OK", [])
                    return [b"ok"]

            app = App()
            self.assertIs(instrument_flask(app, client), client)
            self.assertIs(instrument_flask(app, client), client)  # idempotent
            self.assertEqual(len(app.before_request_funcs[None]), 2)
            call_wsgi(app.wsgi_app, environ("/orders/17"))
        finally:
            if original is None:
                sys.modules.pop("flask", None)
            else:
                sys.modules["flask"] = original
        samples = collect(client, mem)
        self.assertEqual([s["labels"]["route"] for s in find(samples, "api_response_ms")], ["/orders/<int:order_id>"])


class DjangoTest(unittest.TestCase):
    def test_django_middleware_route_and_streaming(self):
        client, mem = memory_client()

        class Response:
            def __init__(self, status, streaming=False):
                self.status_code = status
                self.streaming = streaming
                self.closed = False

            def close(self):
                self.closed = True

        responses = [Response(200), Response(500, streaming=True)]
        mw = DjangoMiddleware(lambda request: responses.pop(0), client=client)
        match = types.SimpleNamespace(route="users/<int:pk>/")
        r1 = mw(types.SimpleNamespace(method="GET", resolver_match=match, path_info="/users/3/"))
        r2 = mw(types.SimpleNamespace(method="GET", resolver_match=None, path_info="/files/99/"))
        self.client_samples = collect(client, mem)
        self.assertEqual(
            [s["labels"]["route"] for s in find(self.client_samples, "api_response_ms")], ["/users/<int:pk>/"]
        )
        r2.close()
        self.assertTrue(r2.closed)
        r2.close()  # recorded once
        samples = collect(client, mem)
        self.assertEqual(
            [(s["labels"]["route"], s["labels"]["status_class"]) for s in find(samples, "api_response_ms")],
            [("/users/<int:pk>/", "2xx"), ("/files/:id/", "5xx")],
        )
        self.assertEqual(latest(samples, "http_errors_total", route="/files/:id/"), 1)
        self.assertEqual(r1.status_code, 200)


class AsgiTest(unittest.TestCase):
    def setUp(self):
        self.client, self.mem = memory_client()

    def run_app(self, app, scope):
        sent = []

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            sent.append(message)

        async def main():
            await EdgeMonitorASGIMiddleware(app, self.client)(scope, receive, send)

        asyncio.run(main())
        return sent

    def test_streaming_response_recorded_after_the_last_body(self):
        events = []

        async def app(scope, receive, send):
            await send({"type": "http.response.start", "status": 201, "headers": []})
            await send({"type": "http.response.body", "body": b"a", "more_body": True})
            await asyncio.sleep(0.1)
            events.append(len(find(self.mem.samples(), "api_response_ms")))
            await send({"type": "http.response.body", "body": b"b", "more_body": False})

        scope = {"type": "http", "method": "POST", "path": "/items/12", "route": types.SimpleNamespace(path="/items/{id}")}
        sent = self.run_app(app, scope)
        self.assertEqual(len(sent), 3)
        samples = collect(self.client, self.mem)
        (duration,) = find(samples, "api_response_ms", route="/items/{id}", method="POST", status_class="2xx")
        self.assertGreaterEqual(duration["value"], 90)
        self.assertEqual(latest(samples, "http_errors_total", route="/items/{id}"), 0)

    def test_exception_is_5xx_and_reraised(self):
        async def app(scope, receive, send):
            raise ValueError("bad")

        with self.assertRaises(ValueError):
            self.run_app(app, {"type": "http", "method": "GET", "path": "/x/5"})
        samples = collect(self.client, self.mem)
        self.assertEqual(latest(samples, "http_requests_total", route="/x/:id", status_class="5xx"), 1)
        self.assertEqual(latest(samples, "http_errors_total", route="/x/:id"), 1)

    def test_starlette_endpoint_route_lookup(self):
        async def endpoint(request):
            return None

        routes = [
            types.SimpleNamespace(path="/health", endpoint=object()),
            types.SimpleNamespace(path="/api", routes=[types.SimpleNamespace(path="/users/{uid}", endpoint=endpoint)]),
        ]

        async def app(scope, receive, send):
            scope["endpoint"] = endpoint
            await send({"type": "http.response.start", "status": 404})
            await send({"type": "http.response.body", "body": b""})

        scope = {"type": "http", "method": "GET", "path": "/api/users/u1", "app": types.SimpleNamespace(routes=routes)}
        self.run_app(app, scope)
        samples = collect(self.client, self.mem)
        self.assertEqual([s["labels"]["route"] for s in find(samples, "api_response_ms")], ["/api/users/{uid}"])
        self.assertEqual(find(samples, "api_response_ms")[0]["labels"]["status_class"], "4xx")

    def test_lifespan_and_websocket_pass_through(self):
        seen = []

        async def app(scope, receive, send):
            seen.append((scope["type"], send))

        async def send(message):
            pass

        async def receive():
            return {}

        async def main():
            mw = EdgeMonitorASGIMiddleware(app, self.client)
            await mw({"type": "lifespan"}, receive, send)
            await mw({"type": "websocket", "path": "/ws"}, receive, send)

        asyncio.run(main())
        self.assertEqual([t for t, _ in seen], ["lifespan", "websocket"])
        self.assertTrue(all(s is send for _, s in seen))
        self.assertEqual(collect(self.client, self.mem), [])


if __name__ == "__main__":
    unittest.main()
