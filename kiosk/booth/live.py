"""Face detection for the live camera: look near the last face first.

Booth faces are large and move little between frames, so most frames are searched only in a window
around the previous face, at sizes close to it; every `full_every` frames (and whenever the face is
lost) the whole frame is searched, so a second person or a newcomer is noticed within a few frames.
"""

from __future__ import annotations

import numpy as np

from ..config import LiveConfig
from ..faces import Detection, FaceBox, FaceDetector, FaceStatus, size_bounds


class LiveDetector:
    def __init__(self, detector: FaceDetector, settings: LiveConfig):
        self.detector, self.settings = detector, settings
        self.last: FaceBox | None = None
        self.frames = 0

    def detect(self, grey: np.ndarray) -> Detection:
        self.frames += 1
        if self.last is not None and self.frames % self.settings.full_every:
            near = self._near(grey, self.last)
            if near.status is FaceStatus.ONE:
                self.last = near.chosen
                return near
        found = self._full(grey)
        self.last = found.chosen if found.status is FaceStatus.ONE else None
        return found

    def _full(self, grey: np.ndarray) -> Detection:
        s = self.settings
        low, high = size_bounds(min(grey.shape[:2]), s.min_face, s.max_face)
        return Detection(self.detector.search(grey, s.scale_factor, s.min_neighbors, low, high))

    def _near(self, grey: np.ndarray, box: FaceBox) -> Detection:
        h, w = grey.shape[:2]
        pad = round(max(box.w, box.h) * self.settings.track_margin)
        x0, y0 = max(box.x - pad, 0), max(box.y - pad, 0)
        x1, y1 = min(box.x + box.w + pad, w), min(box.y + box.h + pad, h)
        # Sizes near the last face only: a few pyramid scales in a small window.
        low, high = max(20, round(box.w * 0.75)), round(box.w * 1.35)
        found = self.detector.search(grey[y0:y1, x0:x1], self.settings.scale_factor, self.settings.min_neighbors,
                                     low, high)
        return Detection(tuple(FaceBox(b.x + x0, b.y + y0, b.w, b.h) for b in found))
