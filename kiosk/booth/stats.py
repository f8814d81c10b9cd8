"""The operator's numbers, counted from the booth's visit events as they happen: how many visits,
how they ended, the ranks and genders shown, and how long they took. No log parsing, and nothing
about a person beyond what the screen showed (no image, no score history tied to a time).

`record` is an `App.on_visit` listener (the render thread); `snapshot` may be called from any
thread (the web server's).
"""

from __future__ import annotations

import statistics
import threading
from collections import Counter, deque

from .app import Visit

KEEP_TIMINGS = 1000  # medians over the latest visits: memory stays bounded however long the booth runs
RANKS = (1, 2, 3, 4, 5)
GENDERS = ("man", "woman", "unsure")


class VisitStats:
    def __init__(self, keep: int = KEEP_TIMINGS):
        self._lock = threading.Lock()
        self._outcomes: Counter[str] = Counter()
        self._ranks: Counter[int] = Counter()
        self._genders: Counter[str] = Counter()
        self._press_to_result_ms: deque[float] = deque(maxlen=keep)
        self._chain_ms: deque[float] = deque(maxlen=keep)

    def record(self, visit: Visit) -> None:
        with self._lock:
            self._outcomes[visit.outcome] += 1
            if visit.outcome == "result":
                self._ranks[visit.rank] += 1
                self._genders[visit.gender] += 1
                self._press_to_result_ms.append(visit.press_to_end_ms)
                self._chain_ms.append(visit.chain_ms)

    def snapshot(self) -> dict:
        """The counts since start and the median timings (None before the first result)."""
        with self._lock:
            return {"visits": sum(self._outcomes.values()), "results": self._outcomes["result"],
                    "no_capture": self._outcomes["no capture"], "scoring_failed": self._outcomes["scoring failed"],
                    "ranks": {rank: self._ranks[rank] for rank in RANKS},
                    "genders": {gender: self._genders[gender] for gender in GENDERS},
                    "median_press_to_result_ms": _median(self._press_to_result_ms),
                    "median_chain_ms": _median(self._chain_ms)}


def _median(values) -> float | None:
    return round(statistics.median(values), 1) if values else None
