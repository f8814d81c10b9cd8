"""USB webcams through OpenCV. On a Pi with a CSI camera, /dev/video0 opens but never delivers a
frame, so "no frame after a few tries" counts as no camera."""

from __future__ import annotations

import contextlib
import importlib
import time

import cv2

from ..config import CameraConfig
from . import Camera, CameraUnavailable, Frame, make_frame

FIRST_FRAME_TRIES = 10


class WebCamera(Camera):
    name = "opencv"

    def __init__(self, settings: CameraConfig):
        self.settings = settings
        # OpenCV logs its own errors while probing a missing device; our exception says it better.
        with _opencv_silent():
            self._cap = cv2.VideoCapture(settings.opencv_index, cv2.CAP_V4L2)
        if not self._cap.isOpened():
            raise CameraUnavailable(f"/dev/video{settings.opencv_index} did not open")
        self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, settings.width)
        self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, settings.height)
        self._cap.set(cv2.CAP_PROP_FPS, settings.fps)
        for _ in range(FIRST_FRAME_TRIES):
            ok, _ = self._cap.read()
            if ok:
                return
            time.sleep(0.05)
        self.close()
        raise CameraUnavailable(f"/dev/video{settings.opencv_index} opened but delivered no frame")

    def read(self) -> Frame:
        ok, image = self._cap.read() if self._cap is not None else (False, None)
        if not ok or image is None:
            raise CameraUnavailable("webcam stopped delivering frames")
        if self.settings.swap_rb:
            image = image[:, :, ::-1].copy()
        return make_frame(image, self.settings.detect_width, time.monotonic())

    def close(self) -> None:
        cap, self._cap = getattr(self, "_cap", None), None
        if cap is not None:
            cap.release()


@contextlib.contextmanager
def _opencv_silent():
    """OpenCV's own log level set to silent (the API moved between 4.11 and 4.12+)."""
    try:
        api = importlib.import_module("cv2.utils.logging")  # OpenCV >= 4.12
    except ImportError:
        api = cv2  # OpenCV 4.11 has the functions at the top level
    get, set_ = getattr(api, "getLogLevel", None), getattr(api, "setLogLevel", None)
    if get is None or set_ is None:
        yield
        return
    level = get()
    set_(0)
    try:
        yield
    finally:
        set_(level)
