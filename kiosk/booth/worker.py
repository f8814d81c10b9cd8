"""A background worker that takes the newest job and hands back its newest result.

The render loop never waits on detection or scoring: it submits work and picks up whatever result
is ready. Jobs that pile up while the worker is busy are replaced, not queued, so results stay fresh.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from .. import priority


class LatestWorker:
    def __init__(self, name: str, work: Callable[[Any], Any], niceness: int = 0):
        self._work, self._niceness = work, niceness
        self._cond = threading.Condition()
        self._job: Any = None  # the newest job not yet started (jobs are never None)
        self._result: tuple[Any, BaseException | None] | None = None
        self._closed = False
        self._running = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, job: Any) -> None:
        with self._cond:
            self._job = job
            self._cond.notify()

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._job is not None or self._running

    def take(self) -> tuple[Any, BaseException | None] | None:
        """The newest finished (result, error), once; None if nothing new."""
        with self._cond:
            result, self._result = self._result, None
            return result

    def wait_result(self, timeout: float) -> bool:
        """Wait until a result is ready to take (True) or `timeout` passes (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._result is not None, timeout)

    def _run(self) -> None:
        priority.step_back(self._niceness)
        while True:
            with self._cond:
                while self._job is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                job, self._job = self._job, None
                self._running = True
            try:
                result, error = self._work(job), None
            except Exception as exc:  # handed to the render loop, which shows a message and logs it
                result, error = None, exc
            with self._cond:
                self._result = (result, error)
                self._running = False
                self._cond.notify_all()

    def close(self, timeout: float = 1.0) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)
