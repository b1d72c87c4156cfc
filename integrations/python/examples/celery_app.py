"""Celery with Edge Monitor: task metrics, worker liveness, queue lengths, beat heartbeats.

    export EDGE_MONITOR_URL=http://127.0.0.1:8787 EDGE_MONITOR_KEY=...
    celery -A celery_app worker -B -l info
"""

from celery import Celery
from celery.schedules import crontab

from edge_monitor import metrics
from edge_monitor.celery import instrument

app = Celery("shop", broker="redis://127.0.0.1:6379/0")
app.conf.timezone = "Asia/Taipei"
app.conf.beat_schedule = {
    # Heartbeat monitor "beat: settle-payments", expected every 60 s.
    "settle-payments": {"task": "celery_app.settle_payments", "schedule": 60.0},
    # Heartbeat monitor "beat: nightly-report", cron "0 3 * * *" in Asia/Taipei.
    "nightly-report": {"task": "celery_app.nightly_report", "schedule": crontab(minute=0, hour=3)},
}

client = instrument(app)  # after the configuration; cheap, no network at import


@app.task
def settle_payments():
    for ok in (True, True, False):
        metrics.payment(client, ok, gateway="ecpay")


@app.task
def nightly_report():
    return "done"


@app.task(edge_monitor=False)  # not reported
def internal_cleanup():
    pass
