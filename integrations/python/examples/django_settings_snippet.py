"""Django with Edge Monitor: add these to settings.py."""

import os

MIDDLEWARE = [
    "edge_monitor.wsgi.DjangoMiddleware",  # first, so it measures the whole request
    # ... the project's other middleware ...
]

# Or leave this out and set EDGE_MONITOR_URL / EDGE_MONITOR_KEY in the environment.
EDGE_MONITOR = {
    "url": os.environ.get("EDGE_MONITOR_URL", "http://127.0.0.1:8787"),
    "key": os.environ.get("EDGE_MONITOR_KEY", ""),
    "service": "api",
}
