"""Is there exactly one face, and has it held still long enough to be scored?"""

from __future__ import annotations

import enum

from ..faces import Detection, FaceBox, FaceStatus


class FaceState(enum.Enum):
    NONE = "none"
    SEVERAL = "several"
    MOVING = "moving"  # one face, not yet steady
    STEADY = "steady"


def overlap(a: FaceBox, b: FaceBox) -> float:
    """Intersection over union of two boxes."""
    w = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    h = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    inter = max(w, 0) * max(h, 0)
    return inter / (a.area + b.area - inter) if inter else 0.0


class SteadyTracker:
    """Steady = the same single face (boxes overlap enough, size nearly unchanged) for `steady_s`."""

    def __init__(self, steady_s: float, min_overlap: float, max_size_change: float):
        self.steady_s, self.min_overlap, self.max_size_change = steady_s, min_overlap, max_size_change
        self.box: FaceBox | None = None
        self.since = 0.0
        self.state = FaceState.NONE

    def reset(self) -> None:
        """Forget the face (after a camera outage: whoever stood there may have left)."""
        self.box, self.state = None, FaceState.NONE

    def update(self, detection: Detection, now: float) -> FaceState:
        if detection.status is not FaceStatus.ONE:
            self.box = None
            self.state = FaceState.NONE if detection.status is FaceStatus.NONE else FaceState.SEVERAL
            return self.state
        box = detection.chosen
        if self.box is None or not self._same(self.box, box):
            self.since = now
        self.box = box
        self.state = FaceState.STEADY if now - self.since >= self.steady_s else FaceState.MOVING
        return self.state

    def _same(self, old: FaceBox, new: FaceBox) -> bool:
        size_change = abs(new.w - old.w) / max(old.w, 1)
        return overlap(old, new) >= self.min_overlap and size_change <= self.max_size_change
