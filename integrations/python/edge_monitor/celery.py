"""Celery: task metrics, worker liveness, queue lengths and beat heartbeats in one call.

    from edge_monitor.celery import instrument
    instrument(app)          # url/key from EDGE_MONITOR_URL / EDGE_MONITOR_KEY

Samples (service ``celery`` unless ``service`` says otherwise; every one also carries
``instance``):

- ``celery_task_duration_ms{task}``: each run's duration
- ``celery_task_runs_total{task, state}``: runs by final state (SUCCESS, FAILURE, RETRY, ...)
- ``celery_task_failures_total{task}``: failures; its unchanged total goes with every run
- ``celery_task_retries_total{task}``: retries
- ``celery_worker_up{worker}``: 1 every ``worker_heartbeat_seconds`` while the worker runs, 0 at shutdown
- ``celery_queue_length{queue}``: every 15 s, with a Redis broker and the ``redis`` package

Every entry of ``app.conf.beat_schedule`` becomes a heartbeat monitor named
``beat: {entry}``; the runs beat triggers ping it (start, success, fail). A task that
runs outside beat with the same name and arguments pings too.
"""

from __future__ import annotations

import datetime
import json
import logging
import numbers
import os
import socket
import threading
import time
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from .client import Client, get_client

__all__ = ["instrument", "heartbeat_spec", "cron_expression", "BeatEntry", "BeatIndex", "CeleryInstrumentation"]

logger = logging.getLogger("edge_monitor")

MIN_PERIOD_SECONDS = 10
MAX_PERIOD_SECONDS = 604_800
MAX_GRACE_SECONDS = 86_400
CRON_GRACE_SECONDS = 60
QUEUE_LENGTH_SECONDS = 15.0
#: Task start times kept at most (runs whose end was never signalled are forgotten).
MAX_TRACKED_RUNS = 10_000

_SIGNALS = (
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


# ---------------------------------------------------------------- schedules


def _cron_field(value: Any) -> Optional[str]:
    if value is None:
        return "*"
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, str):
        text = "".join(value.split())
        return text or None
    try:
        items = sorted(int(v) for v in value)
    except (TypeError, ValueError):
        return None
    return ",".join(str(v) for v in items) or None


def cron_expression(schedule: Any) -> Optional[str]:
    """``"m h dom mon dow"`` from a ``celery.schedules.crontab`` (its ``_orig_*`` fields), or None."""
    fields = []
    for attr in (
        "_orig_minute",
        "_orig_hour",
        "_orig_day_of_month",
        "_orig_month_of_year",
        "_orig_day_of_week",
    ):
        if not hasattr(schedule, attr):
            return None
        field = _cron_field(getattr(schedule, attr))
        if field is None:
            return None
        fields.append(field)
    return " ".join(fields)


def _interval_seconds(schedule: Any) -> Optional[float]:
    if isinstance(schedule, bool):
        return None
    if isinstance(schedule, numbers.Real):
        return float(schedule)
    if isinstance(schedule, datetime.timedelta):
        return schedule.total_seconds()
    run_every = getattr(schedule, "run_every", None)
    if run_every is not None and not hasattr(schedule, "_orig_minute"):
        return _interval_seconds(run_every)
    return None


def heartbeat_spec(
    schedule: Any,
    *,
    timezone: Optional[str] = "UTC",
    grace_seconds: Optional[int] = None,
) -> Optional[Dict[str, Any]]:
    """The heartbeat schedule for a beat entry's ``schedule``, or None when it cannot be expressed.

    Intervals (a number of seconds, a ``timedelta``, ``celery.schedules.schedule``) give
    ``period_seconds`` (at least 10) and a grace of 20 % (at least 10 s); a ``crontab``
    gives ``cron`` and ``timezone`` with a grace of 60 s. ``grace_seconds`` overrides both.
    """
    cron = cron_expression(schedule)
    if cron is not None:
        grace = CRON_GRACE_SECONDS if grace_seconds is None else grace_seconds
        return {
            "cron": cron,
            "timezone": timezone or "UTC",
            "grace_seconds": max(0, min(int(grace), MAX_GRACE_SECONDS)),
        }
    seconds = _interval_seconds(schedule)
    if seconds is None or seconds != seconds or seconds <= 0:
        return None
    period = max(MIN_PERIOD_SECONDS, int(round(seconds)))
    if period > MAX_PERIOD_SECONDS:
        return None
    grace = max(10, int(period * 0.2)) if grace_seconds is None else grace_seconds
    return {"period_seconds": period, "grace_seconds": max(0, min(int(grace), MAX_GRACE_SECONDS))}


def _normalized(value: Any) -> Any:
    """Arguments as they look after a round trip through a message (tuples become lists)."""
    try:
        return json.loads(json.dumps(value, default=repr, sort_keys=True))
    except Exception:
        return repr(value)


class BeatEntry:
    """One ``beat_schedule`` entry: its heartbeat name, task, arguments and schedule."""

    def __init__(self, entry_name: str, task: str, args: Any, kwargs: Any, spec: Optional[Dict[str, Any]]):
        self.entry_name = entry_name
        self.name = f"beat: {entry_name}".strip()
        self.task = task
        self.args = _normalized(list(args or ()))
        self.kwargs = _normalized(dict(kwargs or {}))
        self.spec = spec

    def __repr__(self) -> str:
        return f"BeatEntry({self.name!r}, task={self.task!r}, spec={self.spec!r})"


class BeatIndex:
    """Which beat entry a task run belongs to: by task name, then by arguments."""

    def __init__(self, entries: Iterable[BeatEntry]):
        self.entries: List[BeatEntry] = list(entries)
        self._by_task: Dict[str, List[BeatEntry]] = {}
        for entry in self.entries:
            self._by_task.setdefault(entry.task, []).append(entry)

    @classmethod
    def from_schedule(
        cls,
        beat_schedule: Optional[Mapping[str, Any]],
        *,
        timezone: Optional[str] = "UTC",
        grace_seconds: Optional[int] = None,
    ) -> "BeatIndex":
        entries = []
        for entry_name, entry in dict(beat_schedule or {}).items():
            try:
                task = entry.get("task")
                if not task:
                    continue
                spec = heartbeat_spec(entry.get("schedule"), timezone=timezone, grace_seconds=grace_seconds)
                if spec is None:
                    logger.debug(
                        "Edge Monitor: beat entry %r: schedule %r cannot be a heartbeat",
                        entry_name,
                        entry.get("schedule"),
                    )
                entries.append(BeatEntry(str(entry_name), str(task), entry.get("args"), entry.get("kwargs"), spec))
            except Exception:
                logger.debug("Edge Monitor: beat entry %r skipped", entry_name, exc_info=True)
        return cls(entries)

    def match(self, task_name: str, args: Any = None, kwargs: Any = None) -> Optional[BeatEntry]:
        """The entry for a run of ``task_name`` with these arguments, or None."""
        candidates = self._by_task.get(task_name)
        if not candidates:
            return None
        if len(candidates) == 1:
            return candidates[0]
        wanted_args = _normalized(list(args or ()))
        wanted_kwargs = _normalized(dict(kwargs or {}))
        found = [e for e in candidates if e.args == wanted_args and e.kwargs == wanted_kwargs]
        if len(found) == 1:
            return found[0]
        logger.debug("Edge Monitor: %d beat entries fit a run of %r; no ping", len(found), task_name)
        return None


class _HeartbeatURL:
    """Resolves a beat entry's ping URL in the background thread (registering it if needed)."""

    def __init__(self, client: Client, entry: BeatEntry, service: str):
        self.client = client
        self.entry = entry
        self.service = service

    def __call__(self) -> Optional[str]:
        return self.client.ensure_heartbeat(self.entry.name, service=self.service, **(self.entry.spec or {}))

    def invalidate(self) -> None:
        self.client.forget_heartbeat(self.entry.name)


# ---------------------------------------------------------------- signals


def _task_name(task: Any) -> str:
    return str(getattr(task, "name", None) or "unknown")


def _reason(exception: Any) -> str:
    if exception is None:
        return "failed"
    text = str(exception)
    name = type(exception).__name__
    return f"{name}: {text}" if text else name


class CeleryInstrumentation:
    """The signal handlers and worker threads ``instrument`` connects; usable with fakes."""

    def __init__(
        self,
        app: Any,
        client: Client,
        *,
        service: str = "celery",
        exclude: Sequence[str] = (),
        beat: bool = True,
        queue_length: bool = True,
        worker_heartbeat_seconds: float = 15,
        beat_grace_seconds: Optional[int] = None,
    ):
        self.app = app
        self.client = client
        self.service = service
        self.exclude = frozenset(exclude or ())
        self.beat = beat
        self.queue_length = queue_length
        self.worker_heartbeat_seconds = worker_heartbeat_seconds
        self.beat_grace_seconds = beat_grace_seconds
        self._starts: Dict[Any, float] = {}
        self._beat_runs: Dict[Any, BeatEntry] = {}
        self._index: Optional[BeatIndex] = None
        self._index_source: Any = None
        self._stop = threading.Event()
        self._threads_pid: Optional[int] = None

    # Beat.

    def _conf(self, name: str, default: Any = None) -> Any:
        try:
            value = getattr(self.app.conf, name, None)
        except Exception:
            value = None
        if value is None:
            try:
                value = self.app.conf.get(name)
            except Exception:
                value = None
        return default if value is None else value

    def timezone(self) -> str:
        tz = self._conf("timezone")
        if not tz:
            return "UTC"
        return str(getattr(tz, "key", None) or getattr(tz, "zone", None) or tz)

    def beat_index(self, refresh: bool = False) -> BeatIndex:
        """The beat entries, read from ``app.conf.beat_schedule`` (again when it changed)."""
        schedule = self._conf("beat_schedule", {}) or {}
        source = (id(schedule), len(schedule))
        if refresh or self._index is None or self._index_source != source:
            self._index = BeatIndex.from_schedule(
                schedule, timezone=self.timezone(), grace_seconds=self.beat_grace_seconds
            )
            self._index_source = source
        return self._index

    def register_beat(self) -> None:
        """Creates or updates every beat entry's heartbeat monitor (synchronous; use ``schedule_registration``)."""
        if not self.beat:
            return
        for entry in self.beat_index(refresh=True).entries:
            if entry.spec is not None:
                self.client.ensure_heartbeat(entry.name, service=self.service, **entry.spec)

    def schedule_registration(self) -> None:
        """Registers the beat heartbeats in the client's background thread."""
        if self.beat:
            self.client.submit(self.register_beat)

    def _beat_entry(self, task: Any, args: Any, kwargs: Any) -> Optional[BeatEntry]:
        if not self.beat:
            return None
        entry = self.beat_index().match(_task_name(task), args, kwargs)
        if entry is None or entry.spec is None:
            return None
        return entry

    def _ping(self, entry: BeatEntry, kind: str, reason: Optional[str] = None) -> None:
        self.client.ping(_HeartbeatURL(self.client, entry, self.service), kind, reason)

    # Tasks.

    def wanted(self, task: Any) -> bool:
        if task is None:
            return False
        if _task_name(task) in self.exclude:
            return False
        return getattr(task, "edge_monitor", True) is not False

    def _labels(self, task: Any, **extra: str) -> Dict[str, str]:
        labels = {"task": _task_name(task)}
        labels.update(extra)
        return labels

    def on_task_prerun(self, sender: Any = None, task_id: Any = None, task: Any = None, args: Any = None,
                       kwargs: Any = None, **_: Any) -> None:
        try:
            task = task if task is not None else sender
            if not self.wanted(task):
                return
            if len(self._starts) >= MAX_TRACKED_RUNS:
                self._starts.pop(next(iter(self._starts)), None)
            self._starts[task_id] = time.perf_counter()
            # The failures total just before the run: a failure then always has the sample it
            # is counted from in a rule's window, however long ago the task last ran.
            self.client.increment("celery_task_failures_total", 0, service=self.service, labels=self._labels(task))
            entry = self._beat_entry(task, args, kwargs)
            if entry is not None:
                if len(self._beat_runs) >= MAX_TRACKED_RUNS:
                    self._beat_runs.pop(next(iter(self._beat_runs)), None)
                self._beat_runs[task_id] = entry
                self._ping(entry, "start")
        except Exception:
            logger.exception("Edge Monitor: task_prerun handler failed")

    def on_task_postrun(self, sender: Any = None, task_id: Any = None, task: Any = None, args: Any = None,
                        kwargs: Any = None, retval: Any = None, state: Any = None, **_: Any) -> None:
        try:
            task = task if task is not None else sender
            self._beat_runs.pop(task_id, None)
            started = self._starts.pop(task_id, None)
            if not self.wanted(task):
                return
            if started is not None:
                self.client.observe(
                    "celery_task_duration_ms",
                    (time.perf_counter() - started) * 1000.0,
                    service=self.service,
                    labels=self._labels(task),
                )
            state = str(state or "UNKNOWN")
            self.client.increment(
                "celery_task_runs_total", 1, service=self.service, labels=self._labels(task, state=state)
            )
            if state != "FAILURE":
                # The failure handler counted a failed run; any other sends the unchanged total.
                self.client.increment("celery_task_failures_total", 0, service=self.service, labels=self._labels(task))
        except Exception:
            logger.exception("Edge Monitor: task_postrun handler failed")

    def on_task_success(self, sender: Any = None, result: Any = None, **_: Any) -> None:
        try:
            if not self.wanted(sender):
                return
            request = getattr(sender, "request", None)
            task_id = getattr(request, "id", None)
            entry = self._beat_runs.get(task_id)
            if entry is None and task_id is None:
                entry = self._beat_entry(sender, getattr(request, "args", None), getattr(request, "kwargs", None))
            if entry is not None:
                self._ping(entry, "success")
        except Exception:
            logger.exception("Edge Monitor: task_success handler failed")

    def on_task_failure(self, sender: Any = None, task_id: Any = None, exception: Any = None, args: Any = None,
                        kwargs: Any = None, **_: Any) -> None:
        try:
            if not self.wanted(sender):
                return
            self.client.increment("celery_task_failures_total", 1, service=self.service, labels=self._labels(sender))
            entry = self._beat_runs.get(task_id)
            if entry is None and task_id not in self._starts:
                # Failed outside the run (a hard time limit, a lost worker process).
                entry = self._beat_entry(sender, args, kwargs)
            if entry is not None:
                self._ping(entry, "fail", _reason(exception))
        except Exception:
            logger.exception("Edge Monitor: task_failure handler failed")

    def on_task_retry(self, sender: Any = None, request: Any = None, reason: Any = None, **_: Any) -> None:
        try:
            task = sender
            if task is None or isinstance(task, str):
                task = getattr(request, "task", None) or task
            if isinstance(task, str):
                name = task
                if name in self.exclude:
                    return
                labels = {"task": name}
            else:
                if not self.wanted(task):
                    return
                labels = self._labels(task)
            self.client.increment("celery_task_retries_total", 1, service=self.service, labels=labels)
        except Exception:
            logger.exception("Edge Monitor: task_retry handler failed")

    # Worker.

    def on_worker_process_init(self, **_: Any) -> None:
        # A new pool process: its own client thread (the parent's did not survive the fork).
        self.client.start()

    def on_worker_process_shutdown(self, **_: Any) -> None:
        self.client.flush(2.0)

    def on_worker_ready(self, sender: Any = None, **_: Any) -> None:
        try:
            if self._threads_pid == os.getpid():
                return
            self._threads_pid = os.getpid()
            self._stop.clear()
            hostname = str(getattr(sender, "hostname", None) or socket.gethostname())
            self.schedule_registration()
            if self.worker_heartbeat_seconds and self.worker_heartbeat_seconds > 0:
                threading.Thread(
                    target=self._worker_up_loop, args=(hostname,), name="edge-monitor-worker-up", daemon=True
                ).start()
            if self.queue_length:
                self._start_queue_length()
        except Exception:
            logger.exception("Edge Monitor: worker_ready handler failed")

    def on_worker_shutdown(self, sender: Any = None, **_: Any) -> None:
        try:
            self._stop.set()
            if self._threads_pid == os.getpid() and self._worker_hostname is not None:
                self.client.gauge(
                    "celery_worker_up", 0, service=self.service, labels={"worker": self._worker_hostname}
                )
            self.client.flush(5.0)
        except Exception:
            logger.exception("Edge Monitor: worker_shutdown handler failed")

    def on_beat_init(self, sender: Any = None, **_: Any) -> None:
        self.schedule_registration()

    _worker_hostname: Optional[str] = None

    def _worker_up_loop(self, hostname: str) -> None:
        self._worker_hostname = hostname
        while not self._stop.is_set():
            self.client.gauge("celery_worker_up", 1, service=self.service, labels={"worker": hostname})
            if self._stop.wait(self.worker_heartbeat_seconds):
                return

    # Queue lengths.

    def queue_names(self) -> List[str]:
        names: List[str] = []
        try:
            queues = self.app.amqp.queues
            names = [str(name) for name in queues.keys()]
        except Exception:
            logger.debug("Edge Monitor: no queue list", exc_info=True)
        if not names:
            names = [str(self._conf("task_default_queue", "celery") or "celery")]
        return names

    def broker_url(self) -> Optional[str]:
        url = self._conf("broker_url") or self._conf("broker_read_url")
        if isinstance(url, (list, tuple)):
            url = url[0] if url else None
        if not url:
            return None
        return str(url).split(";")[0].strip()

    def _start_queue_length(self) -> None:
        url = self.broker_url()
        if not url or not url.startswith(("redis://", "rediss://")):
            logger.debug("Edge Monitor: broker %r is not Redis; no queue lengths", url and url.split(":")[0])
            return
        try:
            import redis  # noqa: F401
        except ImportError:
            logger.debug("Edge Monitor: the redis package is missing; no queue lengths")
            return
        threading.Thread(
            target=self._queue_length_loop, args=(url,), name="edge-monitor-queue-length", daemon=True
        ).start()

    def queue_lengths(self, connection: Any) -> Dict[str, int]:
        """LLEN of every queue (with kombu's priority lists) through a redis ``connection``."""
        options = self._conf("broker_transport_options", {}) or {}
        prefix = str(options.get("global_keyprefix", "") or "")
        sep = str(options.get("sep", "\x06\x16"))
        steps = [int(p) for p in (options.get("priority_steps") or (0, 3, 6, 9))]
        names = self.queue_names()
        keys_per_queue = []
        pipe = connection.pipeline()
        for name in names:
            keys = [f"{prefix}{name}" if p == 0 else f"{prefix}{name}{sep}{p}" for p in steps]
            if not any(p == 0 for p in steps):
                keys.insert(0, f"{prefix}{name}")
            keys_per_queue.append((name, len(keys)))
            for key in keys:
                pipe.llen(key)
        values = pipe.execute()
        out: Dict[str, int] = {}
        i = 0
        for name, n in keys_per_queue:
            out[name] = int(sum(int(v or 0) for v in values[i:i + n]))
            i += n
        return out

    def _queue_length_loop(self, url: str) -> None:
        import redis

        connection = None
        while not self._stop.is_set():
            try:
                if connection is None:
                    connection = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
                for name, length in self.queue_lengths(connection).items():
                    self.client.gauge("celery_queue_length", length, service=self.service, labels={"queue": name})
            except Exception as err:
                connection = None
                logger.debug("Edge Monitor: queue length failed: %s", err)
            if self._stop.wait(QUEUE_LENGTH_SECONDS):
                return

    # Wiring.

    def connect(self, signals: Any) -> None:
        for name in _SIGNALS:
            signal = getattr(signals, name, None)
            handler = getattr(self, "on_" + name)
            if signal is None:
                continue
            try:
                signal.connect(handler, weak=False, dispatch_uid=f"edge_monitor.{name}.{id(self)}")
            except TypeError:
                signal.connect(handler, weak=False)


def instrument(
    app: Any,
    url: Optional[str] = None,
    key: Optional[str] = None,
    *,
    client: Optional[Client] = None,
    service: str = "celery",
    exclude: Sequence[str] = (),
    beat: bool = True,
    queue_length: bool = True,
    worker_heartbeat_seconds: float = 15,
    beat_grace_seconds: Optional[int] = None,
    signals: Any = None,
) -> Optional[Client]:
    """Reports a Celery application's tasks, workers and beat schedule; returns the client.

    Call it in the module that creates the app (it is cheap: no network at import; the
    heartbeat monitors are registered from the client's background thread). Safe in
    prefork workers: each pool process reports with its own thread. Calling it again
    for the same app returns the same client. Without url/key (arguments or
    ``EDGE_MONITOR_URL``/``EDGE_MONITOR_KEY``) reporting is off and None is returned.

    A task is left out when its name is in ``exclude`` or it was declared with
    ``@app.task(edge_monitor=False)``. ``signals`` replaces ``celery.signals`` (tests).
    """
    existing = getattr(app, "_edge_monitor_instrumentation", None)
    if existing is not None:
        return existing.client
    if client is None:
        client = get_client(url, key)
    if client is None:
        return None
    inst = CeleryInstrumentation(
        app,
        client,
        service=service,
        exclude=exclude,
        beat=beat,
        queue_length=queue_length,
        worker_heartbeat_seconds=worker_heartbeat_seconds,
        beat_grace_seconds=beat_grace_seconds,
    )
    if signals is None:
        from celery import signals as celery_signals

        signals = celery_signals
    inst.connect(signals)
    try:
        app._edge_monitor_instrumentation = inst
    except Exception:
        pass
    # Registered now (from the background thread) when the configuration is loaded already,
    # and again when beat or the worker starts (unchanged monitors cost one cached lookup).
    if beat and getattr(app, "configured", True):
        inst.schedule_registration()
    return client
