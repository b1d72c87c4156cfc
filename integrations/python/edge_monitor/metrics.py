"""Business and HTTP helpers: one call records the samples Edge Monitor's rules read.

``payment`` feeds ``payment_failure_rate`` (service ``ecpay``), ``http_request`` feeds
``error_rate`` and ``api_response_p95_ms`` (service ``api``). Every helper accepts
``client=None`` and then does nothing, so reporting can be switched off by configuration.
"""

from __future__ import annotations

import contextlib
import re
import time
from typing import Any, Iterator, Mapping, Optional

from .client import Client, clean_label_value, get_client

__all__ = [
    "payment",
    "http_request",
    "status_class",
    "normalize_path",
    "path_route",
    "PathRoute",
    "UNMATCHED_ROUTE",
    "timed",
    "HTTP_METHODS",
]

#: Methods kept as they are in the ``method`` label; any other becomes ``OTHER``.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})

_ID_SEGMENT = re.compile(
    r"^(?:\d+"
    r"|[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
    r"|(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{16,})$"
)


def payment(
    client: Optional[Client],
    ok: bool,
    *,
    gateway: str = "ecpay",
    service: str = "ecpay",
    labels: Optional[Mapping[str, Any]] = None,
) -> None:
    """Counts one payment: ``payments_total`` +1 and ``payments_failed_total`` +1 when not ok.

    Both counters get a sample on every payment (the failed one its unchanged total when
    the payment succeeded), so ``payment_failure_rate`` has data in every window.
    """
    if client is None:
        return
    tags = {"gateway": gateway}
    if labels:
        tags.update(labels)
    client.increment("payments_total", 1, service=service, labels=tags)
    client.increment("payments_failed_total", 0 if ok else 1, service=service, labels=tags)


def status_class(status: Any) -> str:
    """``"2xx"`` for 200 (or ``"200 OK"``), ``"5xx"`` for 503; ``"unknown"`` when unreadable."""
    try:
        code = int(str(status).split(None, 1)[0])
    except (ValueError, IndexError):
        return "unknown"
    if not 100 <= code <= 599:
        return "unknown"
    return f"{code // 100}xx"


def normalize_path(path: str) -> str:
    """A request path as a route label: numeric, UUID and long hexadecimal segments become ``:id``.

    >>> normalize_path("/users/42/orders/9b2e1f3c-5a1d-4a6e-9a31-0c1e2d3f4a5b")
    '/users/:id/orders/:id'
    """
    if not path:
        return "/"
    parts = path.split("/")
    out = [":id" if part and _ID_SEGMENT.match(part) else part for part in parts]
    text = "/".join(out)
    if not text.startswith("/"):
        text = "/" + text
    return clean_label_value(text)


#: The route label of a request no route matched (a 404 or 405 without a template), so that
#: scanners probing random paths add one series, not one per path.
UNMATCHED_ROUTE = "(unmatched)"


class PathRoute(str):
    """A route label made from the request's path because no route template matched."""


def path_route(path: str) -> PathRoute:
    """The fallback route label of a path (see ``normalize_path``), marked as such."""
    return PathRoute(normalize_path(path))


def http_request(
    client: Optional[Client],
    *,
    route: str,
    method: str,
    status: Any,
    duration_ms: float,
    service: str = "api",
    labels: Optional[Mapping[str, Any]] = None,
) -> None:
    """Records one served request.

    - ``api_response_ms`` (the duration; labels ``route``, ``method``, ``status_class``)
    - ``http_requests_total`` +1 (same labels)
    - ``http_errors_total`` +1 for a 5xx, else its unchanged total (labels ``route``, ``method``)

    A ``PathRoute`` answered 404 or 405 is labelled ``UNMATCHED_ROUTE``.
    """
    if client is None:
        return
    method = str(method or "").upper()
    if method not in HTTP_METHODS:
        method = "OTHER"
    klass = status_class(status)
    if isinstance(route, PathRoute) and str(status).split(None, 1)[:1] in (["404"], ["405"]):
        route = UNMATCHED_ROUTE
    route_label = clean_label_value(route or "unknown")
    base = {"route": route_label, "method": method}
    if labels:
        base.update(labels)
    full = dict(base, status_class=klass)
    client.observe("api_response_ms", float(duration_ms), service=service, labels=full)
    client.increment("http_requests_total", 1, service=service, labels=full)
    client.increment("http_errors_total", 1 if klass == "5xx" else 0, service=service, labels=base)


class RequestRecorder:
    """What the WSGI and ASGI middlewares share: the wrapped app, where to report, the route hook.

    ``client`` (or ``url`` and ``key``, or the ``EDGE_MONITOR_URL``/``EDGE_MONITOR_KEY``
    environment variables) says where to report; without any, requests pass through
    untouched. ``route_for`` (given the WSGI environ or the ASGI scope) may return the route label.
    """

    def __init__(
        self,
        app: Any,
        client: Optional[Client] = None,
        *,
        url: Optional[str] = None,
        key: Optional[str] = None,
        service: str = "api",
        route_for: Optional[Any] = None,
    ):
        self.app = app
        self.client = client if client is not None else get_client(url, key)
        self.service = service
        self.route_for = route_for


@contextlib.contextmanager
def timed(
    client: Optional[Client],
    metric: str,
    *,
    service: str,
    labels: Optional[Mapping[str, Any]] = None,
) -> Iterator[None]:
    """Observes the duration of the ``with`` block in milliseconds (also when it raises)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        if client is not None:
            client.observe(metric, (time.perf_counter() - started) * 1000.0, service=service, labels=labels)
