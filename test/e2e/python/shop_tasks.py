"""A shop's Celery tasks, instrumented with one call, for the end-to-end test.

One task succeeds, one fails, one is slow, one opts out; two beat entries run every 10 s,
one succeeding and one failing. Broker and result backend: the Redis in REDIS_URL.
"""
import os
import time
from datetime import timedelta

from celery import Celery

from edge_monitor.celery import instrument

app = Celery("shop_tasks", broker=os.environ["REDIS_URL"], backend=os.environ["REDIS_URL"])
app.conf.update(
    timezone="Asia/Taipei",
    beat_schedule={
        "settle-payments": {"task": "shop_tasks.settle_payments", "schedule": timedelta(seconds=10)},
        "charge-subscriptions": {"task": "shop_tasks.charge_subscriptions", "schedule": 10.0},
    },
    broker_connection_retry_on_startup=True,
)


@app.task
def send_receipt(order_id):
    return order_id


@app.task
def refund(order_id):
    raise ValueError(f"refund of order {order_id} refused by the gateway")


@app.task
def rebuild_report():
    time.sleep(1.5)
    return "done"


@app.task(edge_monitor=False)
def private_chore():
    return "not reported"


@app.task
def settle_payments():
    return "settled"


@app.task
def charge_subscriptions():
    raise RuntimeError("card declined")


instrument(app, url=os.environ["EDGE_MONITOR_URL"], key=os.environ["EDGE_MONITOR_KEY"], service=os.environ["SERVICE"])
