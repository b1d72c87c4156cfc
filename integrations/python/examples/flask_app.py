"""Flask with Edge Monitor: every request is measured (route templates as labels).

    EDGE_MONITOR_URL=http://127.0.0.1:8787 EDGE_MONITOR_KEY=... flask --app flask_app run
"""

from flask import Flask, abort

from edge_monitor import metrics
from edge_monitor.wsgi import instrument_flask

app = Flask(__name__)
client = instrument_flask(app)  # url/key from EDGE_MONITOR_URL / EDGE_MONITOR_KEY


@app.route("/orders/<int:order_id>")
def order(order_id):
    return {"id": order_id}


@app.route("/pay/<int:order_id>", methods=["POST"])
def pay(order_id):
    ok = order_id % 10 != 0  # stand-in for the gateway's answer
    metrics.payment(client, ok, gateway="ecpay")
    if not ok:
        abort(502)
    return {"paid": order_id}
