import datetime
import logging
import os
import sys
import time
import types
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from standin import MemoryTransport, find  # noqa: E402

from edge_monitor import Client  # noqa: E402
from edge_monitor.celery import BeatIndex, CeleryInstrumentation, heartbeat_spec, instrument  # noqa: E402

logging.getLogger("edge_monitor").setLevel(logging.CRITICAL)

NAMES = (
    "task_prerun",
    "task_postrun",
    "task_success",
    "task_failure",
    "task_retry",
    "worker_ready",
    "worker_process_init",
    "worker_process_shutdown",
    "worker_shutdown",
    "beat_init",
)


class FakeSignal:
    """Celery's Signal as the integration uses it: connect(receiver, weak=..., dispatch_uid=...), send."""

    def __init__(self, name):
        self.name = name
        self.receivers = []
        self.options = []

    def connect(self, receiver, **options):
        self.receivers.append(receiver)
        self.options.append(options)

    def send(self, sender=None, **named):
        for receiver in self.receivers:
            receiver(signal=self, sender=sender, **named)


def fake_signals():
    return types.SimpleNamespace(**{name: FakeSignal(name) for name in NAMES})


class Crontab:
    """Stands in for celery.schedules.crontab (which keeps its arguments in _orig_*)."""

    def __init__(self, minute="*", hour="*", day_of_week="*", day_of_month="*", month_of_year="*"):
        self._orig_minute = minute
        self._orig_hour = hour
        self._orig_day_of_week = day_of_week
        self._orig_day_of_month = day_of_month
        self._orig_month_of_year = month_of_year


class Schedule:
    """Stands in for celery.schedules.schedule."""

    def __init__(self, run_every):
        self.run_every = run_every


class Solar:
    def __init__(self):
        self.event, self.lat, self.lon = "sunrise", 25.0, 121.5


def fake_task(name, **attrs):
    task = types.SimpleNamespace(name=name, request=types.SimpleNamespace(id=None, args=None, kwargs=None))
    for k, v in attrs.items():
        setattr(task, k, v)
    return task


def fake_app(beat_schedule=None, **conf):
    conf.setdefault("timezone", "Asia/Taipei")
    return types.SimpleNamespace(
        conf=types.SimpleNamespace(beat_schedule=beat_schedule or {}, **conf),
        tasks={},
        amqp=types.SimpleNamespace(queues={"celery": None, "emails": None}),
    )


class ScheduleTest(unittest.TestCase):
    def test_intervals(self):
        self.assertEqual(heartbeat_spec(30), {"period_seconds": 30, "grace_seconds": 10})
        self.assertEqual(heartbeat_spec(300.0), {"period_seconds": 300, "grace_seconds": 60})
        self.assertEqual(heartbeat_spec(5), {"period_seconds": 10, "grace_seconds": 10})
        self.assertEqual(
            heartbeat_spec(datetime.timedelta(hours=1)), {"period_seconds": 3600, "grace_seconds": 720}
        )
        self.assertEqual(
            heartbeat_spec(Schedule(datetime.timedelta(minutes=2))), {"period_seconds": 120, "grace_seconds": 24}
        )
        self.assertEqual(heartbeat_spec(Schedule(45.0)), {"period_seconds": 45, "grace_seconds": 10})
        self.assertEqual(heartbeat_spec(600, grace_seconds=5), {"period_seconds": 600, "grace_seconds": 5})

    def test_crontabs(self):
        self.assertEqual(
            heartbeat_spec(Crontab(minute="*/15", hour="9-17", day_of_week="mon-fri"), timezone="Asia/Taipei"),
            {"cron": "*/15 9-17 * * mon-fri", "timezone": "Asia/Taipei", "grace_seconds": 60},
        )
        self.assertEqual(
            heartbeat_spec(Crontab(minute={30, 0}, hour=3, day_of_week="0, 6"))["cron"], "0,30 3 * * 0,6"
        )
        self.assertEqual(heartbeat_spec(Crontab(minute=0, hour=0), timezone=None)["timezone"], "UTC")
        self.assertEqual(heartbeat_spec(Crontab(), grace_seconds=120)["grace_seconds"], 120)

    def test_inexpressible(self):
        self.assertIsNone(heartbeat_spec(Solar()))
        self.assertIsNone(heartbeat_spec(datetime.timedelta(days=8)))
        self.assertIsNone(heartbeat_spec(None))
        self.assertIsNone(heartbeat_spec("every day"))
        self.assertIsNone(heartbeat_spec(0))


class MatchTest(unittest.TestCase):
    def setUp(self):
        self.index = BeatIndex.from_schedule(
            {
                "report-a": {"task": "tasks.report", "schedule": 60.0, "args": (1,)},
                "report-b": {"task": "tasks.report", "schedule": 60.0, "args": (2,), "kwargs": {"x": (1, 2)}},
                "cleanup": {"task": "tasks.cleanup", "schedule": Crontab(minute=0), "args": ("ignored",)},
                "sunrise": {"task": "tasks.lights", "schedule": Solar()},
            }
        )

    def test_single_entry_matches_by_name(self):
        self.assertEqual(self.index.match("tasks.cleanup", [], {}).name, "beat: cleanup")
        self.assertEqual(self.index.match("tasks.cleanup", None, None).entry_name, "cleanup")

    def test_several_entries_match_on_arguments(self):
        self.assertEqual(self.index.match("tasks.report", [1], {}).entry_name, "report-a")
        self.assertEqual(self.index.match("tasks.report", (2,), {"x": [1, 2]}).entry_name, "report-b")
        self.assertIsNone(self.index.match("tasks.report", [2], {}))
        self.assertIsNone(self.index.match("tasks.report", [3], {}))

    def test_unknown_task_and_inexpressible_schedule(self):
        self.assertIsNone(self.index.match("tasks.other"))
        entry = self.index.match("tasks.lights")
        self.assertIsNone(entry.spec)


class Harness:
    def __init__(self, beat_schedule=None, **kw):
        self.mem = MemoryTransport()
        self.client = Client("http://edge.test", "k", transport=self.mem, flush_interval=30, flush_at_exit=False)
        self.app = fake_app(beat_schedule)
        self.signals = fake_signals()
        kw.setdefault("queue_length", False)
        self.returned = instrument(self.app, client=self.client, signals=self.signals, **kw)

    def send(self, name, **named):
        getattr(self.signals, name).send(**named)

    def run(self, task, task_id, args=(), kwargs=None, fail=None, retry=False):
        kwargs = kwargs or {}
        task.request = types.SimpleNamespace(id=task_id, args=list(args), kwargs=kwargs)
        self.send("task_prerun", sender=task, task_id=task_id, task=task, args=list(args), kwargs=kwargs)
        if retry:
            self.send("task_retry", sender=task, request=task.request, reason="later", einfo=None)
            state = "RETRY"
        elif fail is not None:
            self.send("task_failure", sender=task, task_id=task_id, exception=fail, args=list(args),
                      kwargs=kwargs, traceback=None, einfo=None)
            state = "FAILURE"
        else:
            self.send("task_success", sender=task, result=42)
            state = "SUCCESS"
        self.send("task_postrun", sender=task, task_id=task_id, task=task, args=list(args), kwargs=kwargs,
                  retval=None, state=state)

    def samples(self):
        self.client.flush(2)
        return self.mem.samples()

    def pings(self):
        self.client.flush(2)
        return [(url.rsplit("/api/heartbeat/", 1)[1], body) for m, url, body, _ in self.mem.of("POST", "/api/heartbeat/")]


class SignalTest(unittest.TestCase):
    def test_instrument_connects_strongly_once_and_returns_the_client(self):
        h = Harness()
        self.assertIs(h.returned, h.client)
        for name in NAMES:
            signal = getattr(h.signals, name)
            self.assertEqual(len(signal.receivers), 1, name)
            self.assertIs(signal.options[0]["weak"], False)
        self.assertIs(instrument(h.app, client=h.client, signals=h.signals), h.client)
        self.assertEqual(len(h.signals.task_prerun.receivers), 1)

    def test_task_metrics(self):
        h = Harness(service="jobs")
        add = fake_task("tasks.add")
        h.run(add, "t1")
        h.run(add, "t2", fail=ZeroDivisionError("division by zero"))
        h.run(add, "t3")
        h.run(add, "t4", retry=True)
        samples = h.samples()
        self.assertTrue(all(s["service"] == "jobs" for s in samples))
        durations = find(samples, "celery_task_duration_ms", task="tasks.add")
        self.assertEqual(len(durations), 4)
        self.assertTrue(all(s["value"] >= 0 for s in durations))
        self.assertEqual([s["value"] for s in find(samples, "celery_task_runs_total", state="SUCCESS")], [0, 1, 2])
        self.assertEqual([s["value"] for s in find(samples, "celery_task_runs_total", state="FAILURE")], [0, 1])
        self.assertEqual([s["value"] for s in find(samples, "celery_task_runs_total", state="RETRY")], [0, 1])
        # Sent before and after every run: a failure always has the total it is counted from
        # just before it (in any rule's window), and the failure ratio has data.
        self.assertEqual(
            [s["value"] for s in find(samples, "celery_task_failures_total", task="tasks.add")],
            [0, 0, 0, 1, 1, 1, 1, 1],
        )
        self.assertEqual([s["value"] for s in find(samples, "celery_task_retries_total", task="tasks.add")], [0, 1])
        self.assertEqual(
            set(find(samples, "celery_task_runs_total")[0]["labels"]), {"task", "state", "instance"}
        )

    def test_excluded_tasks_send_nothing(self):
        h = Harness(exclude=("tasks.secret",))
        h.run(fake_task("tasks.secret"), "a")
        h.run(fake_task("tasks.quiet", edge_monitor=False), "b", fail=ValueError("x"))
        h.run(fake_task("tasks.quiet", edge_monitor=False), "c", retry=True)
        self.assertEqual(h.samples(), [])

    def test_beat_runs_ping_start_success_and_fail(self):
        schedule = {
            "minutely-report": {"task": "tasks.report", "schedule": 60.0},
            "nightly": {"task": "tasks.nightly", "schedule": Crontab(minute=0, hour=3)},
        }
        h = Harness(schedule)
        h.client.flush(2)
        puts = {url.rsplit("/", 1)[1]: body for _, url, body, _ in h.mem.of("PUT")}
        self.assertEqual(
            puts,
            {
                "beat%3A%20minutely-report": b'{"grace_seconds": 12, "period_seconds": 60, "service": "celery"}',
                "beat%3A%20nightly": b'{"cron": "0 3 * * *", "grace_seconds": 60, "service": "celery", '
                b'"timezone": "Asia/Taipei"}',
            },
        )
        report = fake_task("tasks.report")
        h.run(report, "r1")
        h.run(report, "r2", fail=ZeroDivisionError("division by zero"))
        h.run(fake_task("tasks.unscheduled"), "u1")
        self.assertEqual(
            h.pings(),
            [
                ("beat-minutely-report/start", b""),
                ("beat-minutely-report", b""),
                ("beat-minutely-report/start", b""),
                ("beat-minutely-report/fail", b"ZeroDivisionError: division by zero"),
            ],
        )
        self.assertEqual(len(h.mem.of("PUT")), 2)  # the URLs were cached

    def test_registration_failure_is_retried_at_the_first_run(self):
        mem_status = [503]
        h = Harness.__new__(Harness)
        h.mem = MemoryTransport()
        h.mem.put_status.extend(mem_status)
        h.client = Client("http://edge.test", "k", transport=h.mem, flush_interval=30, flush_at_exit=False)
        h.app = fake_app({"hourly": {"task": "tasks.hourly", "schedule": datetime.timedelta(hours=1)}})
        h.signals = fake_signals()
        instrument(h.app, client=h.client, signals=h.signals, queue_length=False)
        h.client.flush(2)
        self.assertEqual(len(h.mem.of("PUT")), 1)
        h.run(fake_task("tasks.hourly"), "h1")
        self.assertEqual(h.pings(), [("beat-hourly/start", b""), ("beat-hourly", b"")])
        self.assertEqual(len(h.mem.of("PUT")), 2)

    def test_failure_outside_the_run_pings_by_arguments(self):
        h = Harness({"a": {"task": "tasks.x", "schedule": 30, "args": [1]},
                     "b": {"task": "tasks.x", "schedule": 30, "args": [2]}})
        task = fake_task("tasks.x")
        # A hard time limit: task_failure in the worker's main process, without prerun.
        h.send("task_failure", sender=task, task_id="lost", exception=TimeoutError("hard time limit (30s)"),
               args=[2], kwargs={})
        self.assertEqual(h.pings(), [("beat-b/fail", b"TimeoutError: hard time limit (30s)")])
        self.assertEqual([s["value"] for s in find(h.samples(), "celery_task_failures_total")], [0, 1])

    def test_beat_disabled(self):
        h = Harness({"a": {"task": "tasks.x", "schedule": 30}}, beat=False)
        h.run(fake_task("tasks.x"), "1")
        self.assertEqual(h.pings(), [])
        self.assertEqual(h.mem.of("PUT"), [])

    def test_worker_up_and_shutdown(self):
        h = Harness(worker_heartbeat_seconds=0.05)
        h.send("worker_process_init")
        h.send("worker_ready", sender=types.SimpleNamespace(hostname="celery@w1"))
        time.sleep(0.2)
        h.send("worker_shutdown", sender=None)
        values = [s["value"] for s in find(h.samples(), "celery_worker_up", worker="celery@w1")]
        self.assertGreaterEqual(len(values), 3)
        self.assertEqual(set(values[:-1]), {1})
        self.assertEqual(values[-1], 0)
        time.sleep(0.15)
        self.assertEqual(len(find(h.samples(), "celery_worker_up")), len(values))  # the loop stopped


class QueueLengthTest(unittest.TestCase):
    class Pipe:
        def __init__(self, data):
            self.data, self.keys = data, []

        def llen(self, key):
            self.keys.append(key)

        def execute(self):
            return [self.data.get(k, 0) for k in self.keys]

    class Redis:
        def __init__(self, data):
            self.data = data

        def pipeline(self):
            return QueueLengthTest.Pipe(self.data)

    def inst(self, **conf):
        client = Client("http://edge.test", "k", transport=MemoryTransport(), flush_at_exit=False)
        return CeleryInstrumentation(fake_app(**conf), client)

    def test_llen_with_priority_lists(self):
        inst = self.inst()
        data = {"celery": 3, "celery\x06\x163": 2, "celery\x06\x169": 1, "emails": 4}
        self.assertEqual(inst.queue_lengths(self.Redis(data)), {"celery": 6, "emails": 4})

    def test_key_prefix_and_default_queue(self):
        inst = self.inst(broker_transport_options={"global_keyprefix": "app:", "priority_steps": [0]},
                         task_default_queue="work")
        inst.app.amqp = None
        self.assertEqual(inst.queue_lengths(self.Redis({"app:work": 7})), {"work": 7})

    def test_broker_url(self):
        self.assertEqual(self.inst(broker_url="redis://r:6379/0;redis://s:6379/0").broker_url(), "redis://r:6379/0")
        self.assertIsNone(self.inst().broker_url())


if __name__ == "__main__":
    unittest.main()
