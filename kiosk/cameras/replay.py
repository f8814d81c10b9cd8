"""A photo, a folder of photos or a video file, replayed in a loop as if it were a camera.
Used by tests, soak runs, and operators trying the booth with their own pictures.

A folder's photos each stay for `[camera] photo_s` seconds (or until `next()`), as a visitor would
stand still in front of the booth: one photo per frame would strobe, and no face would ever be steady."""

from __future__ import annotations

import os
import threading
import time
from typing import Callable

import cv2
import numpy as np

from ..config import CameraConfig, PhotosConfig
from ..photo import PhotoError, photos_in, read_photo
from . import Camera, CameraUnavailable, Frame, make_frame

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".mjpeg", ".webm")


class Pacer:
    """Sleeps so frames come at the configured rate (off for soak and benchmarks: as fast as it goes)."""

    def __init__(self, fps: int, realtime: bool):
        self.period = 1.0 / fps if realtime else 0.0
        self.next = time.monotonic()

    def wait(self) -> float:
        now = time.monotonic()
        if self.period:
            if self.next > now:
                time.sleep(self.next - now)
                now = self.next
            self.next = max(self.next + self.period, now)
        return now


class ReplayCamera(Camera):
    name = "replay"

    def __init__(self, source: str, settings: CameraConfig, realtime: bool = True,
                 clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self._pacer = Pacer(settings.fps, realtime)
        self._clock = clock
        self._video = None
        self._images: list[np.ndarray] = []
        self._index = 0
        self._shown_since = clock()
        self._step = threading.Event()  # set by next() from the render thread, taken by read()
        if os.path.isfile(source) and source.lower().endswith(VIDEO_SUFFIXES):
            self._video = cv2.VideoCapture(source)
            if not self._video.isOpened() or not self._video.read()[0]:
                raise CameraUnavailable(f"{source}: video could not be read")
            self._video.set(cv2.CAP_PROP_POS_FRAMES, 0)
        else:
            for path in photos_in(source) if os.path.isdir(source) else [source]:
                try:
                    self._images.append(self._fit(read_photo(path, PhotosConfig()).image))
                except PhotoError:
                    continue  # a broken file among the replay photos is skipped, not fatal
            if not self._images:
                raise CameraUnavailable(f"{source}: no readable photos to replay")

    def _fit(self, image: np.ndarray) -> np.ndarray:
        """Photos larger than the configured stream are shrunk to it, as a camera would deliver."""
        h, w = image.shape[:2]
        scale = min(1.0, self.settings.width / w, self.settings.height / h)
        if scale < 1.0:
            image = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        return image

    def read(self) -> Frame:
        now = self._pacer.wait()
        if self._video is not None:
            ok, image = self._video.read()
            if not ok:  # end of file: loop
                self._video.set(cv2.CAP_PROP_POS_FRAMES, 0)
                ok, image = self._video.read()
            if not ok:
                raise CameraUnavailable("video stopped delivering frames")
            image = self._fit(image)
        else:
            image = self._photo()
        return make_frame(image, self.settings.detect_width, now)

    def _photo(self) -> np.ndarray:
        now = self._clock()
        if self._step.is_set() or now - self._shown_since >= self.settings.photo_s:
            self._step.clear()
            self._index = (self._index + 1) % len(self._images)
            self._shown_since = now
        return self._images[self._index]

    def next(self) -> None:
        self._step.set()

    def close(self) -> None:
        if self._video is not None:
            self._video.release()
            self._video = None
