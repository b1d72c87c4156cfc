"""Edge Monitor for Python: report metrics, Celery tasks and web requests to Edge Monitor.

    import edge_monitor
    client = edge_monitor.Client("https://monitor.example.com", "em_...")
    client.increment("orders_total", service="shop")

Integrations: ``edge_monitor.celery.instrument``, ``edge_monitor.wsgi`` (any WSGI app,
Flask, Django), ``edge_monitor.asgi`` (Starlette, FastAPI) and business helpers in
``edge_monitor.metrics``. Only the standard library is required.
"""

from .client import Client, get_client

__all__ = ["Client", "get_client", "__version__"]

__version__ = "0.1.0"
