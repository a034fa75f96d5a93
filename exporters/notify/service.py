"""The receiver: config (re)loading, the channels' state and workers, the metrics."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from ..config import ConfigError, load_config
from ..logsetup import redact
from ..metrics import LOG_NAME, safe_error
from ..server import config_secrets
from .delivery import Worker
from .model import Notify
from .spool import ChannelState

log = logging.getLogger(LOG_NAME)
UNKNOWN = "_unknown"  # the channel label of requests naming no configured channel


def load_notify(file: str) -> Notify:
    """The notify section of ``file``; ConfigError when it is missing or wrong."""
    config = load_config(file)
    if config.notify is None:
        err = ConfigError(("notify",), "aftercare-notify needs a notify section with channels")
        err.file = file
        raise err
    tokens = [part for c in config.notify.channels if c.url for part in url_tokens(c.url.reveal())]
    redact.set_secrets(config_secrets(config) + tokens)
    return config.notify


def url_tokens(url: str) -> list[str]:
    """The parts of a robot URL that may be its token: query values and long path segments."""
    parts = urlsplit(url)
    values = [v for _, v in parse_qsl(parts.query)] + parts.path.split("/")
    return [v for v in values if len(v) >= 8]


class Notifier:
    def __init__(self, config_file: str):
        self.config_file = config_file
        self.notify: Notify | None = None
        self.states: dict[str, ChannelState] = {}
        self.workers: dict[str, Worker] = {}
        self.reload_ok, self.reload_ok_time = True, 0.0
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], float] = {}
        self.registry = CollectorRegistry(auto_describe=False)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.registry.register(self)

    def count(self, channel: str, result: str, n: int = 1) -> None:
        with self._lock:
            self._counts[(channel, result)] = self._counts.get((channel, result), 0) + n

    def _install(self, notify: Notify) -> None:
        state_dir = notify.state_dir
        assert state_dir is not None, "the config loader puts the default state directory"
        workers = {}
        for channel in notify.channels:
            state = self.states.get(channel.name)
            if state is None or state.dir.parent.parent != Path(state_dir):
                state = ChannelState(state_dir, channel.name, channel.dedup_window)
            state.dedup_window = channel.dedup_window
            self.states[channel.name] = state
            old = self.workers.get(channel.name)
            if old:
                old.stop()
            workers[channel.name] = Worker(
                channel, state, notify.retry_initial, notify.retry_max, self.count
            ).start()
        for name, worker in self.workers.items():
            if name not in workers:
                worker.stop()
                self.states.pop(name, None)
        with self._lock:
            self.notify, self.workers = notify, workers
            self.reload_ok, self.reload_ok_time = True, time.time()
        log.info("config loaded", extra={"file": self.config_file, "channels": ",".join(workers)})

    def load(self) -> None:
        self._install(load_notify(self.config_file))

    def reload(self) -> tuple[bool, str]:
        try:
            self._install(load_notify(self.config_file))
        except Exception as err:
            message = str(err) if isinstance(err, ConfigError) else safe_error(err)
            with self._lock:
                self.reload_ok = False
            log.error("config reload failed; keeping the previous config", extra={"err": message})
            return False, message
        return True, "config reloaded"

    def reload_failed(self) -> None:
        """Another part of the reload (the web config) failed: the reload did not succeed."""
        with self._lock:
            self.reload_ok = False

    def accept(self, channel: str, payload: dict) -> bool:
        """Spool one notification for ``channel``; False when it is an HA duplicate."""
        state, worker = self.states[channel], self.workers[channel]
        if not state.accept(payload):
            self.count(channel, "duplicate")
            return False
        self.count(channel, "received")
        worker.notify()
        return True

    def close(self) -> None:
        for worker in self.workers.values():
            worker.stop()

    # -- metrics -----------------------------------------------------------------------------
    def collect(self):
        messages = CounterMetricFamily(
            "aftercare_notify_messages",
            "Notifications by channel and result: received, "
            "duplicate (an HA pair's second copy), delivered, merged, failed (one failed "
            "attempt), invalid (malformed body), unknown_channel.",
            labels=["channel", "result"],
        )
        with self._lock:
            counts = dict(self._counts)
            channels = list(self.states.items())
            reload_ok, reload_time = self.reload_ok, self.reload_ok_time
        for (channel, result), value in sorted(counts.items()):
            messages.add_metric([channel, result], value)
        length = GaugeMetricFamily(
            "aftercare_notify_queue_length",
            "Notifications spooled and not yet delivered.",
            labels=["channel"],
        )
        oldest = GaugeMetricFamily(
            "aftercare_notify_oldest_queued_seconds",
            "Age of the oldest undelivered notification (0 when none).",
            labels=["channel"],
        )
        now = time.time()
        for name, state in channels:
            queued = state.queued()
            length.add_metric([name], len(queued))
            oldest.add_metric([name], max(0.0, now - queued[0].received) if queued else 0.0)
        ok = GaugeMetricFamily(
            "aftercare_config_last_reload_successful",
            "1 if the last config (re)load succeeded, 0 if the last attempt "
            "failed and the previous config is still in use.",
        )
        ok.add_metric([], 1.0 if reload_ok else 0.0)
        when = GaugeMetricFamily(
            "aftercare_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful config load.",
        )
        when.add_metric([], reload_time)
        return [messages, length, oldest, ok, when]
