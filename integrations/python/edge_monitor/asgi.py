"""ASGI 3: a middleware for Starlette, FastAPI or any ASGI application.

Records the same samples as the WSGI middleware for each ``http`` request; lifespan and
websocket connections pass through untouched. The duration runs until the last body
message (``more_body`` false) has been sent, or until the application raises.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Awaitable, Callable, MutableMapping, Optional

from .metrics import RequestRecorder, http_request, path_route

__all__ = ["EdgeMonitorASGIMiddleware", "asgi_route"]

logger = logging.getLogger("edge_monitor")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def asgi_route(scope: Scope) -> str:
    """The matched route template, else the normalized path.

    FastAPI leaves the matched route in ``scope["route"]``; Starlette leaves the
    ``endpoint``, whose route is then looked up in the application's routes.
    """
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str) and path:
        return path
    endpoint = scope.get("endpoint")
    if endpoint is not None:
        found = _find_endpoint(getattr(scope.get("app"), "routes", None), endpoint, "", 0, [0])
        if found:
            return found
    return path_route(scope.get("path") or "/")


def _find_endpoint(routes: Any, endpoint: Any, prefix: str, depth: int, seen: list) -> Optional[str]:
    if not routes or depth > 4:
        return None
    try:
        for route in routes:
            seen[0] += 1
            if seen[0] > 2000:
                return None
            path = getattr(route, "path", "") or ""
            if getattr(route, "endpoint", None) is endpoint and isinstance(path, str) and path:
                return prefix + path
            children = getattr(route, "routes", None)
            if children:
                found = _find_endpoint(children, endpoint, prefix + (path if isinstance(path, str) else ""), depth + 1, seen)
                if found:
                    return found
    except Exception:
        return None
    return None


class EdgeMonitorASGIMiddleware(RequestRecorder):
    """Wraps an ASGI 3 application and records every HTTP request it serves.

    Takes ``(app, client=None, *, url=None, key=None, service="api", route_for=None)``:
    see ``RequestRecorder``.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http" or self.client is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state: dict = {"status": None, "done": False}

        async def measured_send(message: Message) -> None:
            kind = message.get("type")
            if kind == "http.response.start":
                state["status"] = message.get("status")
            await send(message)
            if kind == "http.response.body" and not message.get("more_body", False) and not state["done"]:
                state["done"] = True
                self._record(scope, state["status"], started)

        try:
            await self.app(scope, receive, measured_send)
        except BaseException:
            if not state["done"]:
                state["done"] = True
                self._record(scope, 500, started)
            raise
        if not state["done"] and state["status"] is not None:
            # The application returned without finishing its body (the client went away).
            state["done"] = True
            self._record(scope, state["status"], started)

    def _record(self, scope: Scope, status: Any, started: float) -> None:
        try:
            route = None
            if self.route_for is not None:
                try:
                    route = self.route_for(scope)
                except Exception:
                    logger.debug("Edge Monitor: route_for failed", exc_info=True)
            http_request(
                self.client,
                route=route or asgi_route(scope),
                method=scope.get("method", ""),
                status=status if status is not None else 500,
                duration_ms=(time.perf_counter() - started) * 1000.0,
                service=self.service,
            )
        except Exception:
            logger.exception("Edge Monitor: could not record a request")
