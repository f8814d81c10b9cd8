"""What keeps a web client from starving the booth: a per-client rate limit and one bounded queue.

Scoring runs in worker threads, at most `concurrency` at once; at most `queue` more may wait. A
request beyond that, or from a client over its rate, is turned away with 429 at once, so a crowd of
phones can slow the upload page but never the booth's frame loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque

from .. import priority


class RateLimit:
    """At most `per_minute` uploads from one client address in any 60 seconds."""

    def __init__(self, per_minute: int, clock=time.monotonic):
        self.per_minute, self.clock = per_minute, clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, client: str) -> bool:
        now = self.clock()
        with self._lock:
            times = self._seen.setdefault(client, deque())
            while times and now - times[0] >= 60.0:
                times.popleft()
            if len(times) >= self.per_minute:
                return False
            times.append(now)
            if len(self._seen) > 10_000:  # forget idle clients, so memory stays bounded
                self._seen = {k: v for k, v in self._seen.items() if v and now - v[-1] < 60.0}
            return True


class Busy(Exception):
    """The queue is full: the client should try again in a moment."""


class Queue:
    """At most `concurrency` jobs running and `waiting` more queued; `Busy` beyond that."""

    def __init__(self, concurrency: int, waiting: int):
        self._running = asyncio.Semaphore(concurrency)
        self._capacity = concurrency + waiting
        self._inside = 0

    async def run(self, job):
        if self._inside >= self._capacity:
            raise Busy
        self._inside += 1
        try:
            async with self._running:
                return await asyncio.to_thread(_behind_the_booth, job)
        finally:
            self._inside -= 1


def _behind_the_booth(job):
    """Run `job` in this worker thread behind the booth's render loop (kiosk/priority.py)."""
    priority.step_back(priority.WEB)
    return job()
