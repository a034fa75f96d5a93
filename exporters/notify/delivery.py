"""One delivery worker per channel: sends the spool in order, within the rate limit.

A failed send (robot down, a 5xx, an HTML page, a non-zero vendor code) is
retried with exponential backoff; the notification stays in the spool until
the vendor confirms it.  When the queue holds more notifications than the
robot may still take this minute, or half of the minute's allowance is
used, the oldest are merged into one message (as many as fit in the
vendor's size limit) instead of waiting or dropping; in the second half a
burst is given a moment to gather first.
"""

from __future__ import annotations

import logging
import sys
import threading
import time

import requests

from ..metrics import LOG_NAME
from .model import Channel
from .render import Message, render
from .spool import ChannelState, Queued
from .vendors import TEXT_LIMITS, Answer, build_request, read_answer

log = logging.getLogger(LOG_NAME)
WINDOW = 60.0  # the vendors' rate limits are per minute
MARGIN = 1.0  # counted into the window: the time a message takes on the wire
MIN_GAP = {"feishu": 0.2}  # Feishu also documents 5 a second
IDLE = 5.0  # seconds between looks at an empty spool (a new notification wakes it)
GATHER = 2.0  # with half the minute's allowance used, let a burst gather this long


def send(channel: Channel, message: Message, payloads: list[dict]) -> Answer:
    """One attempt to deliver ``message``; never raises for a network failure."""
    if channel.type == "console":
        print(
            f"NOTIFY {channel.name} {message.title}\n{message.text}\n", flush=True, file=sys.stdout
        )
        return Answer(True, False, "printed")
    try:
        if channel.type == "webhook":
            assert channel.url is not None, "only a console channel has no URL (_read_channel)"
            url, body = channel.url.reveal(), payloads[0]
        else:
            url, body = build_request(channel, message)
        response = requests.post(
            url, json=body, timeout=channel.timeout, headers={"User-Agent": "aftercare-notify"}
        )
    except requests.RequestException as err:
        # the exception's text names the URL, which carries the robot's token: never shown
        return Answer(False, False, f"cannot reach the robot ({type(err).__name__})")
    return read_answer(
        channel.type,
        response.status_code,
        response.headers.get("Content-Type", ""),
        response.content,
    )


class Worker:
    def __init__(
        self, channel: Channel, state: ChannelState, retry_initial: float, retry_max: float, count
    ):
        self.channel, self.state = channel, state
        self.retry_initial, self.retry_max = retry_initial, retry_max
        self.count = count  # count(channel, result, n=1)
        self.wake = threading.Condition()
        self.stopping = False
        self.pending = False  # a notification arrived since the last step began
        self.failures = 0
        self.next_attempt = 0.0
        self.thread = threading.Thread(
            target=self._run, name=f"deliver-{channel.name}", daemon=True
        )

    def start(self) -> Worker:
        self.thread.start()
        return self

    def notify(self) -> None:
        with self.wake:
            self.pending = True
            self.wake.notify()

    def stop(self) -> None:
        with self.wake:
            self.stopping = True
            self.wake.notify()

    def _sleep(self, seconds: float, idle: bool) -> None:
        with self.wake:
            if not self.stopping and not (idle and self.pending):
                self.wake.wait(max(0.01, seconds))

    def _run(self) -> None:
        while not self.stopping:
            with self.wake:
                self.pending = False
            try:
                delay = self.step()
            except Exception as err:  # a bug or a full disk: log it, keep the spool, go on
                log.error(
                    "delivery step failed",
                    extra={"channel": self.channel.name, "err": type(err).__name__},
                )
                delay = 1.0
            if delay:
                self._sleep(delay, idle=delay == IDLE)

    def _batch(self, queued: list[Queued], allowance: int) -> tuple[list[Queued], Message]:
        channel, limit = self.channel, TEXT_LIMITS[self.channel.type]
        one = [queued[0]]
        message = render([q.payload for q in one], channel.language, channel.grafana_url, limit)
        if (
            len(queued) <= allowance and allowance > channel.rate_limit // 2
        ) or channel.type == "webhook":
            return one, message
        batch = one
        for item in queued[1:]:
            trial = batch + [item]
            merged = render(
                [q.payload for q in trial], channel.language, channel.grafana_url, limit
            )
            if merged.omitted:
                break
            batch, message = trial, merged
        return batch, message

    def step(self) -> float:
        """Try one send; the seconds to wait before the next step (0: go on at once)."""
        with self.state.send_lock:
            return self._step() if not self.stopping else 0.0

    def _step(self) -> float:
        queued = self.state.queued()
        if not queued:
            return IDLE
        now = time.time()
        if now < self.next_attempt:
            return self.next_attempt - now
        sends = self.state.recent_sends(WINDOW + MARGIN)
        allowance = self.channel.rate_limit - len(sends)
        if allowance <= 0:
            return min(sends) + WINDOW + MARGIN - now + 0.05
        age = now - queued[0].received
        if allowance <= self.channel.rate_limit // 2 and age < GATHER:
            return GATHER - age  # then merge what came meanwhile into one message
        gap = MIN_GAP.get(self.channel.type, 0.0)
        if sends and now - max(sends) < gap:
            return max(sends) + gap - now
        batch, message = self._batch(queued, allowance)
        self.state.record_send(now, WINDOW + MARGIN)  # before sending: a crash still counts it
        answer = send(self.channel, message, [q.payload for q in batch])
        if answer.ok:
            self.state.remove(batch)
            self.failures, self.next_attempt = 0, 0.0
            self.count(self.channel.name, "delivered", len(batch))
            if len(batch) > 1:
                self.count(self.channel.name, "merged", len(batch))
            log.info(
                "delivered",
                extra={
                    "channel": self.channel.name,
                    "notifications": len(batch),
                    "alerts": message.shown,
                    "omitted": message.omitted,
                    "answer": answer.detail,
                },
            )
            return 0.0
        self.failures += 1
        backoff = min(self.retry_max, self.retry_initial * 2 ** (self.failures - 1))
        if answer.rate_limited:
            backoff = max(backoff, min(WINDOW, self.retry_max))
        self.next_attempt = now + backoff
        self.count(self.channel.name, "failed", 1)
        log.warning(
            "delivery failed; will retry",
            extra={
                "channel": self.channel.name,
                "answer": answer.detail,
                "attempt": self.failures,
                "retry_in": f"{backoff:.1f}s",
                "queued": len(queued),
            },
        )
        return backoff
