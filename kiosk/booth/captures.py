"""Saving captured photos, only when the operator turns it on (`[booth] save_captures`), with a
cap on how many are kept. By default faces never touch the disk.

A Pi has no real-time clock: its time can jump (fake-hwclock at boot, then NTP), so neither file
names nor modification times are trusted to say which capture is new. The one just saved is never
pruned; among the others the oldest by modification time go first. Files are private to the booth's
user (0600 in a 0700 folder), whatever the umask of whoever started it.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)


def save_capture(image: np.ndarray, folder: str, keep: int) -> Path | None:
    directory = Path(folder)
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        ok, jpeg = cv2.imencode(".jpg", image)
        if not ok:
            raise OSError("encoder refused the image")
        path = _write_new(directory, jpeg.tobytes())
        _prune(directory, keep, path)
        return path
    except (OSError, ValueError) as exc:  # a full or read-only disk must not stop the booth
        log.warning("could not save capture in %s: %s", directory, exc)
        return None


def _write_new(directory: Path, data: bytes) -> Path:
    """A new file (never overwriting one, even if the clock went back), readable by its owner only."""
    now = time.time()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now)) + f"-{int(now * 1000) % 1000:03d}"
    for n in range(1000):
        path = directory / (f"capture-{stamp}.jpg" if n == 0 else f"capture-{stamp}-{n}.jpg")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        return path
    raise OSError(f"no free file name for {stamp}")


def _prune(directory: Path, keep: int, saved: Path) -> None:
    others = []
    for path in directory.glob("capture-*.jpg"):
        if path != saved:
            try:
                others.append((path.stat().st_mtime, path.name, path))
            except FileNotFoundError:
                continue
    others.sort()
    for _, _, stale in others[:max(0, len(others) - (keep - 1))]:
        stale.unlink(missing_ok=True)
