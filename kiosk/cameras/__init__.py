"""Camera sources behind one small interface, chosen by config or flag.

Each backend lives in its own module and is imported only when chosen, so a machine without
picamera2 (or a camera at all) still runs the demo, the tests and `kiosk score`.
"""

from __future__ import annotations

import abc
import os
import time
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from ..config import CameraConfig


class CameraUnavailable(RuntimeError):
    """No frames from this source; the message says what was tried and what to do."""


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # BGR, shown on screen and cropped for scoring
    grey: np.ndarray  # small greyscale copy the live face detection runs on
    t: float  # when it was read (time.monotonic)

    @property
    def detect_scale(self) -> float:
        """Image pixels per detection-frame pixel."""
        return self.image.shape[1] / self.grey.shape[1]


def make_frame(image: np.ndarray, detect_width: int, t: float) -> Frame:
    h, w = image.shape[:2]
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if w > detect_width:
        grey = cv2.resize(grey, (detect_width, round(h * detect_width / w)), interpolation=cv2.INTER_AREA)
    return Frame(image, grey, t)


class Camera(abc.ABC):
    name = "camera"
    steers_exposure = False  # whether steer_exposure() reaches the device

    @abc.abstractmethod
    def read(self) -> Frame:
        """The next frame; raises CameraUnavailable when the source fails."""

    def close(self) -> None:
        """Release the device; safe to call twice."""

    def steer_exposure(self, ev: float) -> None:
        """Expose for `ev` stops more (or less) than the camera's own metering would, where the
        source can (the face-priority exposure); called from the camera's own thread. Others ignore it."""

    def next(self) -> None:
        """Move on to the next picture, where the source has several (a photo folder); safe from any
        thread; a live camera has nothing to step to."""


def open_camera(source: str, settings: CameraConfig, realtime: bool = True,
                clock: Callable[[], float] = time.monotonic) -> Camera:
    """Open `source` ("auto", "picamera2", "opencv", "demo" or a path); raise CameraUnavailable.
    `clock` times a photo folder's photos (a test's clock)."""
    if source == "demo":
        from .demo import DemoCamera

        return DemoCamera(settings, realtime=realtime)
    if source == "picamera2":
        from .picam import PiCamera

        return PiCamera(settings)
    if source == "opencv":
        from .webcam import WebCamera

        return WebCamera(settings)
    if source == "auto":
        reasons = []
        for name in ("picamera2", "opencv"):
            try:
                return open_camera(name, settings)
            except CameraUnavailable as exc:
                reasons.append(f"{name}: {exc}")
        raise CameraUnavailable("no camera found (" + "; ".join(reasons) + "); check the cable and "
                                "`rpicam-hello`, or try the booth without one: kiosk run --demo")
    if os.path.exists(source):
        from .replay import ReplayCamera

        return ReplayCamera(source, settings, realtime=realtime, clock=clock)
    raise CameraUnavailable(f"camera source {source!r} is neither auto, picamera2, opencv, demo nor an "
                            "existing photo, folder or video")
