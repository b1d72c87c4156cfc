"""WSGI: a middleware for any WSGI application, plus Flask and Django helpers.

Per request it records ``api_response_ms``, ``http_requests_total`` and
``http_errors_total`` (see ``edge_monitor.metrics.http_request``). The route label is
the framework's route template when known, otherwise the path with numeric and UUID
segments replaced by ``:id``.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Iterable, Optional

from .client import Client, get_client
from .metrics import RequestRecorder, http_request, path_route

__all__ = [
    "EdgeMonitorMiddleware",
    "instrument_flask",
    "flask_route",
    "DjangoMiddleware",
    "ROUTE_ENVIRON_KEY",
]

logger = logging.getLogger("edge_monitor")

#: The environ key where framework helpers leave the matched route template.
ROUTE_ENVIRON_KEY = "edge_monitor.route"


def _route_from_environ(environ: dict, route_for: Optional[Callable[[dict], Optional[str]]]) -> str:
    route = None
    if route_for is not None:
        try:
            route = route_for(environ)
        except Exception:
            logger.debug("Edge Monitor: route_for failed", exc_info=True)
    if not route:
        route = environ.get(ROUTE_ENVIRON_KEY)
    if not route:
        route = path_route(environ.get("PATH_INFO") or "/")
    return route


class EdgeMonitorMiddleware(RequestRecorder):
    """Wraps a WSGI application and records every request it serves.

    Takes ``(app, client=None, *, url=None, key=None, service="api", route_for=None)``:
    see ``RequestRecorder``.
    """

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if self.client is None:
            return self.app(environ, start_response)
        started = time.perf_counter()
        state: dict = {"status": None}

        def _start_response(status: str, headers: list, exc_info: Any = None) -> Callable:
            state["status"] = status
            if exc_info is None:
                return start_response(status, headers)
            return start_response(status, headers, exc_info)

        try:
            result = self.app(environ, _start_response)
        except BaseException:
            self._record(environ, 500, started)
            raise
        body_class = _SizedMeasuredBody if hasattr(result, "__len__") else _MeasuredBody
        return body_class(result, lambda failed: self._finish(environ, state, started, failed))

    def _finish(self, environ: dict, state: dict, started: float, failed: bool) -> None:
        status = 500 if failed else state["status"]
        if status is None:
            return
        self._record(environ, status, started)

    def _record(self, environ: dict, status: Any, started: float) -> None:
        try:
            http_request(
                self.client,
                route=_route_from_environ(environ, self.route_for),
                method=environ.get("REQUEST_METHOD", ""),
                status=status,
                duration_ms=(time.perf_counter() - started) * 1000.0,
                service=self.service,
            )
        except Exception:
            logger.exception("Edge Monitor: could not record a request")


class _MeasuredBody:
    """The application's response iterable; reports once: when it is exhausted or closed,
    or when it fails."""

    def __init__(self, iterable: Iterable[bytes], finish: Callable[[bool], None]):
        self._iterable = iterable
        self._iterator: Any = None
        self._finish = finish
        self._done = False

    def __iter__(self) -> "_MeasuredBody":
        if self._iterator is None:
            self._iterator = iter(self._iterable)
        return self

    def __next__(self) -> bytes:
        if self._iterator is None:
            self._iterator = iter(self._iterable)
        try:
            return next(self._iterator)
        except StopIteration:
            # The whole body is out: recorded now, even if a server (or a test client)
            # is slow to call close().
            self._report(False)
            raise
        except BaseException:
            self._report(True)
            raise

    def close(self) -> None:
        try:
            close = getattr(self._iterable, "close", None)
            if close is not None:
                close()
        except BaseException:
            self._report(True)
            raise
        self._report(False)

    def _report(self, failed: bool) -> None:
        if self._done:
            return
        self._done = True
        self._finish(failed)


class _SizedMeasuredBody(_MeasuredBody):
    def __len__(self) -> int:
        # Lets a server set Content-Length for a one-item list, as without the middleware.
        return len(self._iterable)  # type: ignore[arg-type]


# ----------------------------------------------------------------- Flask


def flask_route() -> Optional[str]:
    """In a Flask request: the matched rule (``/users/<int:id>``), also left in the WSGI
    environ for ``EdgeMonitorMiddleware``. ``instrument_flask`` calls it before each request."""
    from flask import request

    rule = getattr(request, "url_rule", None)
    route = getattr(rule, "rule", None)
    if route:
        request.environ[ROUTE_ENVIRON_KEY] = route
    return route


def _remember_flask_route() -> None:
    try:
        flask_route()
    except Exception:
        logger.debug("Edge Monitor: no Flask route", exc_info=True)


def instrument_flask(
    app: Any,
    client: Optional[Client] = None,
    url: Optional[str] = None,
    key: Optional[str] = None,
    service: str = "api",
) -> Optional[Client]:
    """Records every request of a Flask application; returns the client (None when off).

    Wraps ``app.wsgi_app`` in ``EdgeMonitorMiddleware`` and labels requests with Flask's
    route templates. Calling it again for the same application changes nothing.
    """
    existing = getattr(app, "extensions", {}).get("edge_monitor")
    if existing is not None:
        return existing
    client = client if client is not None else get_client(url, key)
    if client is None:
        return None
    # First among the application's before-request functions, so that one answering
    # early (a login check) does not hide the route.
    app.before_request_funcs.setdefault(None, []).insert(0, _remember_flask_route)
    app.wsgi_app = EdgeMonitorMiddleware(app.wsgi_app, client, service=service)
    if hasattr(app, "extensions"):
        app.extensions["edge_monitor"] = client
    return client


# ---------------------------------------------------------------- Django


def _django_client() -> tuple:
    config: dict = {}
    try:
        from django.conf import settings

        config = dict(getattr(settings, "EDGE_MONITOR", None) or {})
    except Exception:
        logger.debug("Edge Monitor: no Django settings", exc_info=True)
    service = config.pop("service", "api")
    client = config.pop("client", None)
    if client is None:
        client = get_client(config.pop("url", None), config.pop("key", None), **config)
    return client, service


class DjangoMiddleware:
    """Django middleware: add ``"edge_monitor.wsgi.DjangoMiddleware"`` first in ``MIDDLEWARE``.

    Configured by ``settings.EDGE_MONITOR = {"url": ..., "key": ..., "service": "api"}``
    or the ``EDGE_MONITOR_URL``/``EDGE_MONITOR_KEY`` environment variables; without
    either, Django leaves it out (``MiddlewareNotUsed``). Routes are the URL patterns
    (``/users/<int:pk>/``).
    """

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable, client: Optional[Client] = None, service: Optional[str] = None):
        self.get_response = get_response
        if client is None:
            client, configured_service = _django_client()
            service = service or configured_service
        self.client = client
        self.service = service or "api"
        if self.client is None:
            from django.core.exceptions import MiddlewareNotUsed

            raise MiddlewareNotUsed("Edge Monitor is not configured")

    def __call__(self, request: Any) -> Any:
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        except BaseException:
            self._record(request, 500, started)
            raise
        status = getattr(response, "status_code", 500)
        if getattr(response, "streaming", False):
            # Measured until the server has sent the whole body and closes the response.
            original_close = response.close
            done = []

            def close() -> None:
                try:
                    original_close()
                finally:
                    if not done:
                        done.append(True)
                        self._record(request, status, started)

            response.close = close
        else:
            self._record(request, status, started)
        return response

    def _record(self, request: Any, status: Any, started: float) -> None:
        try:
            http_request(
                self.client,
                route=django_route(request),
                method=getattr(request, "method", ""),
                status=status,
                duration_ms=(time.perf_counter() - started) * 1000.0,
                service=self.service,
            )
        except Exception:
            logger.exception("Edge Monitor: could not record a request")


def django_route(request: Any) -> str:
    """The URL pattern that matched a Django request (``/users/<int:pk>/``), or the normalized path."""
    match = getattr(request, "resolver_match", None)
    route = getattr(match, "route", None)
    if route:
        route = str(route)
        return route if route.startswith("/") else "/" + route
    return path_route(getattr(request, "path_info", None) or getattr(request, "path", "/") or "/")
