"""Face detection with OpenCV's Haar cascade, and the one face crop used everywhere.

Training, `kiosk score` and the live booth all call `FaceDetector.detect` and `crop_face`, so the
models see the same framing in training and in service (a skew there silently costs accuracy).
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .config import DetectionConfig
from .errors import KioskError


class FaceStatus(enum.Enum):
    NONE = "no face"
    ONE = "one face"
    SEVERAL = "several faces"


@dataclass(frozen=True)
class FaceBox:
    x: int
    y: int
    w: int
    h: int

    @property
    def area(self) -> int:
        return self.w * self.h

    def as_list(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]

    def scaled(self, k: float) -> "FaceBox":
        """The same box in an image `k` times larger."""
        return FaceBox(round(self.x * k), round(self.y * k), round(self.w * k), round(self.h * k))


@dataclass(frozen=True)
class Detection:
    faces: tuple[FaceBox, ...]

    @property
    def status(self) -> FaceStatus:
        if not self.faces:
            return FaceStatus.NONE
        return FaceStatus.ONE if len(self.faces) == 1 else FaceStatus.SEVERAL

    @property
    def chosen(self) -> FaceBox | None:
        """The largest face, as the seed chose it."""
        return max(self.faces, key=lambda b: b.area) if self.faces else None


def cascade_path() -> Path:
    if not hasattr(cv2, "CascadeClassifier"):  # OpenCV 5 dropped the Haar cascades (platform notes)
        raise KioskError(f"OpenCV {cv2.__version__} has no Haar cascades (OpenCV 5 removed them); "
                         "install opencv-python-headless<5")
    return Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"


class FaceDetector:
    """Haar frontal-face detection with the configured bounds; the cascade is loaded once."""

    def __init__(self, settings: DetectionConfig):
        self.settings = settings
        path = cascade_path()
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise KioskError(f"cannot load the Haar cascade {path}; reinstall opencv-python-headless<5")
        # CascadeClassifier is not documented as thread-safe, and training's cropping pool calls one
        # detector from several threads: the lock serialises those calls.
        self._lock = threading.Lock()

    def detect(self, grey: np.ndarray, fallback: bool = False) -> Detection:
        """Find faces in an 8-bit greyscale image; boxes are in that image's pixels.

        With `fallback`, a photo where nothing was found gets a second, more permissive look: it
        finds most of the faces the first pass misses (measured on SCUT: 12 of 3,300 missed -> 2).
        The live booth skips it, since most of its frames rightly show nobody.
        """
        s = self.settings
        found = self._detect(grey, s.scale_factor, s.min_neighbors)
        if not found.faces and fallback and s.fallback_min_neighbors:
            found = self._detect(grey, s.fallback_scale_factor, s.fallback_min_neighbors)
        return found

    def _detect(self, grey: np.ndarray, scale_factor: float, min_neighbors: int) -> Detection:
        s = self.settings
        h, w = grey.shape[:2]
        scale = min(1.0, s.max_side / max(h, w))
        small = grey if scale == 1.0 else cv2.resize(grey, (round(w * scale), round(h * scale)),
                                                      interpolation=cv2.INTER_AREA)
        low, high = size_bounds(min(small.shape[:2]), s.min_face, s.max_face)
        boxes = self.search(small, scale_factor, min_neighbors, low, high)
        return Detection(tuple(b.scaled(1 / scale) for b in boxes))

    def search(self, grey: np.ndarray, scale_factor: float, min_neighbors: int, min_px: int,
               max_px: int) -> tuple[FaceBox, ...]:
        """The raw cascade search on an image as given, largest face first."""
        with self._lock:
            found = self._cascade.detectMultiScale(grey, scaleFactor=scale_factor, minNeighbors=min_neighbors,
                                                   minSize=(min_px, min_px), maxSize=(max_px, max_px))
        return tuple(sorted((FaceBox(*map(int, b)) for b in found), key=lambda b: -b.area))


def size_bounds(short_side: int, min_face: float, max_face: float) -> tuple[int, int]:
    """Smallest and largest face to look for, in pixels, from fractions of the image's shorter side
    (never under 20 pixels: the cascade's own window is 24)."""
    low = max(20, round(short_side * min_face))
    return low, max(low, round(short_side * max_face))


def crop_box(box: FaceBox, margin: float) -> FaceBox:
    """The square crop around a face: the box's larger side plus `margin` of it on every side."""
    side = round(max(box.w, box.h) * (1 + 2 * margin))
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    return FaceBox(round(cx - side / 2), round(cy - side / 2), side, side)


def crop_face(image_bgr: np.ndarray, box: FaceBox, margin: float, size: int) -> np.ndarray:
    """Cut the square face crop, resized to size x size, as RGB uint8 (the models' colour order).

    Parts of the crop outside the photo are filled by replicating the border, the same in training
    and in service.
    """
    c = crop_box(box, margin)
    h, w = image_bgr.shape[:2]
    x0, y0, x1, y1 = max(c.x, 0), max(c.y, 0), min(c.x + c.w, w), min(c.y + c.h, h)
    patch = image_bgr[y0:y1, x0:x1]
    if (x0, y0, x1, y1) != (c.x, c.y, c.x + c.w, c.y + c.h):
        patch = cv2.copyMakeBorder(patch, y0 - c.y, c.y + c.h - y1, x0 - c.x, c.x + c.w - x1,
                                   cv2.BORDER_REPLICATE)
    interpolation = cv2.INTER_AREA if c.w > size else cv2.INTER_LINEAR
    patch = cv2.resize(patch, (size, size), interpolation=interpolation)
    return cv2.cvtColor(patch, cv2.COLOR_BGR2RGB)


def largest_face_crop(image_bgr: np.ndarray, detector: FaceDetector, margin: float,
                      size: int) -> tuple[Detection, np.ndarray | None]:
    """Detect faces in a BGR photo and crop the largest: the step shared by training and service."""
    grey = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
    detection = detector.detect(grey, fallback=True)
    if detection.chosen is None:
        return detection, None
    return detection, crop_face(image_bgr, detection.chosen, margin, size)
