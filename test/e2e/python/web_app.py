"""A Flask shop instrumented with one call, driven by Flask's test client; prints the client's counters."""
import json
import os
import time

from flask import Flask

from edge_monitor.metrics import payment
from edge_monitor.wsgi import instrument_flask

app = Flask(__name__)


@app.get("/items/<int:item_id>")
def item(item_id):
    return {"id": item_id}


@app.get("/checkout")
def checkout():
    time.sleep(0.05)
    return "ok"


@app.get("/boom")
def boom():
    raise RuntimeError("database is gone")


client = instrument_flask(app, url=os.environ["EDGE_MONITOR_URL"], key=os.environ["EDGE_MONITOR_KEY"], service=os.environ["SERVICE"])

web = app.test_client()


def get(path):
    # As a WSGI server does, the response is closed once sent (PEP 3333).
    with web.get(path) as response:
        return response.status_code


statuses = [get(f"/items/{i}") for i in range(6)]
statuses += [get("/checkout"), get("/boom"), get("/boom"), get("/no/such/page")]
for ok in (True, True, True, False):
    payment(client, ok, service=os.environ["PAYMENT_SERVICE"])
flushed = client.flush(timeout=15)
print(json.dumps({"statuses": statuses, "flushed": flushed, "sent": client.sent, "dropped": client.dropped}))
