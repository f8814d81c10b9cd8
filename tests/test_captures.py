"""Saved captures (opt-in): the newest always survives pruning, whatever the clock did; files private."""

import os
import stat
import time

import numpy as np

from kiosk.booth.captures import save_capture

IMAGE = np.full((48, 64, 3), 128, np.uint8)


def test_a_capture_after_the_clock_went_back_is_kept_and_the_oldest_go(tmp_path, monkeypatch):
    folder = tmp_path / "captures"
    saved = [save_capture(IMAGE, str(folder), keep=3) for _ in range(3)]
    for age, path in enumerate(saved):  # made in order, oldest first
        os.utime(path, (time.time() - 100 + age, time.time() - 100 + age))
    monkeypatch.setattr(time, "time", lambda: 0.0)  # 1970: a Pi booted without network or RTC
    newest = save_capture(IMAGE, str(folder), keep=3)
    assert newest is not None and newest.exists()  # the path returned is a file that is there
    left = sorted(folder.glob("capture-*.jpg"))
    assert len(left) == 3 and newest in left and saved[0] not in left


def test_the_same_instant_twice_never_overwrites(tmp_path, monkeypatch):
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.0)
    a = save_capture(IMAGE, str(tmp_path), keep=10)
    b = save_capture(IMAGE, str(tmp_path), keep=10)
    assert a != b and a.exists() and b.exists()


def test_captures_are_private_whatever_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = save_capture(IMAGE, str(tmp_path / "new"), keep=5)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_an_unwritable_folder_loses_the_capture_not_the_booth(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert save_capture(IMAGE, str(blocker / "captures"), keep=5) is None
