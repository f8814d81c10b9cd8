"""Shared test images: a real face photo from scikit-image (public domain), composites and blanks."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

REPO = Path(__file__).resolve().parent.parent
SCUT = REPO.parent / "shared" / "data" / "scut-fbp5500-train"


@pytest.fixture(scope="session")
def astronaut_bgr() -> np.ndarray:
    """Eileen Collins' NASA portrait (public domain), shipped inside scikit-image."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[:, :, ::-1])


@pytest.fixture(scope="session")
def two_faces_bgr(astronaut_bgr) -> np.ndarray:
    """The portrait twice, the right copy smaller, so the largest face is the left one."""
    small = cv2.resize(astronaut_bgr, (384, 384))
    right = cv2.copyMakeBorder(small, 64, 64, 0, 128, cv2.BORDER_CONSTANT, value=(128, 128, 128))
    return np.hstack([astronaut_bgr, right])


@pytest.fixture(scope="session")
def photo_dir(tmp_path_factory, astronaut_bgr, two_faces_bgr) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    cv2.imwrite(str(folder / "astronaut.jpg"), astronaut_bgr)
    cv2.imwrite(str(folder / "two.png"), two_faces_bgr)
    cv2.imwrite(str(folder / "blank.png"), np.full((300, 400, 3), 200, np.uint8))
    return folder
