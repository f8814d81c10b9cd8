"""CameraFeed on its own: frames flow, a lost camera is reopened with growing waits, stop releases it."""

import time

import numpy as np

from kiosk.cameras import Camera, CameraUnavailable, make_frame
from kiosk.booth.feed import CameraFeed

IMAGE = np.zeros((48, 64, 3), np.uint8)


class Script(Camera):
    """Delivers `frames` frames, then fails as an unplugged camera does."""
    name = "script"

    def __init__(self, frames, log):
        self.left, self.log = frames, log

    def read(self):
        if self.left == 0:
            raise CameraUnavailable("unplugged")
        self.left -= 1
        time.sleep(0.005)  # the camera's frame rate
        return make_frame(IMAGE, 32, time.monotonic())

    def close(self):
        self.log.append("closed")


def test_frames_flow_a_lost_camera_is_reopened_and_stop_releases_it():
    log, opens = [], []

    def opener():
        opens.append(time.monotonic())
        if len(opens) in (2, 3):
            raise CameraUnavailable("no camera yet")
        return Script(5 if len(opens) == 1 else 10**6, log)

    feed = CameraFeed(opener, stall_s=0.2, retry_max_s=0.3).start()
    try:
        seq = 0
        for _ in range(3):  # frames arrive, each with a new sequence number
            assert feed.wait_frame(seq, timeout=10)
            seq, frame = feed.latest()
            assert frame is not None and frame.image.shape == IMAGE.shape
        deadline = time.monotonic() + 10
        while len(opens) < 4 and time.monotonic() < deadline:
            feed.wait_frame(feed.latest()[0], timeout=0.1)
        assert len(opens) == 4 and log == ["closed"]  # the failed camera was closed before reopening
        assert opens[2] - opens[1] >= 0.45  # a growing wait, not a spin
        assert feed.wait_frame(feed.latest()[0], timeout=10) and feed.ok and feed.problem == ""
    finally:
        feed.stop()
    assert log == ["closed", "closed"] and not feed.healthy


def test_status_reports_the_frame_rate_and_the_newest_frames_age():
    feed = CameraFeed(lambda: Script(10**6, []), stall_s=0.5, retry_max_s=0.3)
    before = feed.status()
    assert before.fps is None and before.frame_age_s is None and not before.ok
    feed.start()
    try:
        for _ in range(40):
            assert feed.wait_frame(feed.latest()[0], timeout=10)
        status = feed.status()
        assert status.ok and status.name == "script" and 20 < status.fps < 250  # a frame per ~5 ms read
        assert 0 <= status.frame_age_s < 0.5
    finally:
        feed.stop()
    time.sleep(0.6)
    stopped = feed.status()
    assert not stopped.ok and stopped.frame_age_s >= 0.6
