"""`kiosk run --demo`: a scene made from the shipped public-domain portrait, so every screen and the
whole flow can be seen with no camera. The visitor drifts a little, then a second person joins,
then nobody is there, on a 24-second loop."""

from __future__ import annotations

import math
import time
from pathlib import Path

import cv2
import numpy as np

from ..config import CameraConfig
from . import Camera, Frame, make_frame
from .replay import Pacer

PORTRAIT = Path(__file__).resolve().parent.parent / "assets" / "demo_face.jpg"
LOOP_S = 24.0
ALONE_UNTIL, PAIR_UNTIL = 16.0, 20.0  # then empty until the loop restarts


class DemoCamera(Camera):
    name = "demo"

    def __init__(self, settings: CameraConfig, realtime: bool = True):
        self.settings = settings
        self._start = time.monotonic()
        self._pacer = Pacer(settings.fps, realtime)
        w, h = settings.width, settings.height
        # Head and shoulders: a visitor stands close to a booth's camera.
        portrait = cv2.imread(str(PORTRAIT))[10:330, 60:380]
        side = round(h * 0.9)
        self._person = cv2.resize(portrait, (side, side), interpolation=cv2.INTER_AREA)
        self._friend = cv2.resize(portrait[:, ::-1], (side * 2 // 3, side * 2 // 3), interpolation=cv2.INTER_AREA)
        # A soft two-tone backdrop, like a booth's wall.
        ramp = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
        self._backdrop = ((1 - ramp) * np.array([120, 90, 70]) + ramp * np.array([60, 50, 40])).astype(np.uint8)
        self._backdrop = np.ascontiguousarray(np.broadcast_to(self._backdrop, (h, w, 3)))

    def scene_time(self) -> float:
        return (time.monotonic() - self._start) % LOOP_S

    def render(self, t: float) -> np.ndarray:
        """The scene at `t` seconds into the loop."""
        w, h = self.settings.width, self.settings.height
        frame = self._backdrop.copy()
        side = self._person.shape[0]
        if t < PAIR_UNTIL:
            dx = round(6 * math.sin(t * 0.8))  # a gentle sway: still counts as a steady face
            dy = round(3 * math.sin(t * 1.1))
            x = (w - side) // 2 + dx - (w // 6 if t >= ALONE_UNTIL else 0)
            _paste(frame, self._person, x, h - side + dy)
        if ALONE_UNTIL <= t < PAIR_UNTIL:
            small = self._friend.shape[0]
            _paste(frame, self._friend, w - small - w // 20, h - small)
        return frame

    def read(self) -> Frame:
        now = self._pacer.wait()
        return make_frame(self.render(self.scene_time()), self.settings.detect_width, now)


def _paste(frame: np.ndarray, picture: np.ndarray, x: int, y: int) -> None:
    h, w = frame.shape[:2]
    ph, pw = picture.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + pw, w), min(y + ph, h)
    if x1 > x0 and y1 > y0:
        frame[y0:y1, x0:x1] = picture[y0 - y:y1 - y, x0 - x:x1 - x]
