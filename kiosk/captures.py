"""Saving captured photos, only when the operator turns it on (`[booth] save_captures`), with a
cap on how many are kept. By default faces never touch the disk."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)


def save_capture(image: np.ndarray, folder: str, keep: int) -> Path | None:
    directory = Path(folder)
    now = time.time()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
        path = directory / f"capture-{stamp}-{int(now * 1000) % 1000:03d}.jpg"
        if not cv2.imwrite(str(path), image):
            raise OSError("encoder refused the image")
        old = sorted(directory.glob("capture-*.jpg"))
        for stale in old[:max(0, len(old) - keep)]:
            stale.unlink(missing_ok=True)
        return path
    except OSError as exc:  # a full or read-only disk must not stop the booth
        log.warning("could not save capture in %s: %s", directory, exc)
        return None
