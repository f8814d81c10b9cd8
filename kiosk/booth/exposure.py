"""Face-priority exposure: the camera is steered so the visitor's face, not the room, is exposed like
the photos the models learnt from. A bright window or a lit wall behind a visitor makes the camera's
own metering darken the face; Haar then finds it less often and the verdict is taken from a murky crop.

This module only decides an exposure value (EV, in stops, 0 = the camera's own metering); the camera
feed applies it (picamera2's ExposureValue, which moves the automatic exposure's target, so the
camera still follows the light). Sources that cannot steer (a webcam, a replayed photo) ignore it.
"""

from __future__ import annotations

import math

import numpy as np

from ..faces import FaceBox

# The inner face's mean brightness aimed at (0-255). The validation photos framed as the booth sees
# them read quartiles 146, 163, 180 (`kiosk eval`, "good light" of its bright-window rows); a little
# under their median, so a bright face keeps its highlights.
FACE_TARGET = 150.0
TOLERANCE_STOPS = 0.3  # inside this of the target nothing changes (about the training quartiles): no hunting
GAIN = 0.7  # part of the error corrected per change: the camera's metering moves too, so less than all
SETTLE_S = 0.5  # the camera's automatic exposure takes several frames to follow a new target
RELEASE_S = 3.0  # no single face this long: back to the camera's own metering for whoever comes next
INNER = 0.2  # a fifth of the box off each side: hair, ears and background are not the face


def face_brightness(grey: np.ndarray, box: FaceBox) -> float:
    """Mean brightness of the middle of `box` (in `grey`'s pixels)."""
    dx, dy = round(box.w * INNER), round(box.h * INNER)
    inner = grey[max(box.y + dy, 0):box.y + box.h - dy, max(box.x + dx, 0):box.x + box.w - dx]
    return float(inner.mean()) if inner.size else FACE_TARGET


class FaceExposure:
    """Decides, frame by frame, the exposure value the camera should use."""

    def __init__(self, max_ev: float):
        self.max_ev = max_ev
        self.ev = 0.0
        self._changed_at = -math.inf
        self._face_at = -math.inf

    def update(self, grey: np.ndarray, face: FaceBox | None, now: float) -> float | None:
        """The new exposure value for a frame and its single face (None: no face, or several), in
        `grey`'s pixels; None when the camera should keep the one it has."""
        if self.max_ev <= 0:
            return None
        if face is None:
            return self._set(0.0, now) if self.ev and now - self._face_at >= RELEASE_S else None
        self._face_at = now
        if now - self._changed_at < SETTLE_S:
            return None
        error = math.log2(FACE_TARGET / max(face_brightness(grey, face), 1.0))
        if abs(error) <= TOLERANCE_STOPS:
            return None
        ev = round(min(max(self.ev + GAIN * error, -self.max_ev), self.max_ev), 2)
        return None if ev == self.ev else self._set(ev, now)

    def _set(self, ev: float, now: float) -> float:
        self.ev, self._changed_at = ev, now
        return ev
