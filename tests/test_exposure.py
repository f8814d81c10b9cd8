"""Face-priority exposure: the controller on its own, the feed applying it on the camera's thread, and
the booth steering a picamera2 stand-in whose picture of a backlit visitor follows ExposureValue."""

import dataclasses
import logging
import math
import sys
import time

import numpy as np
import pytest

from kiosk.booth.app import headless_app
from kiosk.booth.exposure import FACE_TARGET, GAIN, RELEASE_S, SETTLE_S, TOLERANCE_STOPS, FaceExposure, face_brightness
from kiosk.booth.feed import CameraFeed
from kiosk.cameras import Camera, CameraUnavailable, make_frame, open_camera
from kiosk.config import CameraConfig, Config
from kiosk.evaluation import WINDOW, backlit, booth_frame
from kiosk.faces import FaceBox
from tests.fake_picamera2 import FakePicamera2

BOX = FaceBox(100, 40, 80, 80)


def face(brightness: float) -> np.ndarray:
    """A grey frame whose face box holds `brightness`."""
    grey = np.full((180, 320), 240, np.uint8)  # a bright room around it
    grey[BOX.y:BOX.y + BOX.h, BOX.x:BOX.x + BOX.w] = brightness
    return grey


def test_a_dark_face_opens_the_exposure_in_settled_steps_up_to_the_limit():
    exposure = FaceExposure(max_ev=2.0)
    first = exposure.update(face(40), BOX, now=0.0)
    assert first == pytest.approx(GAIN * math.log2(FACE_TARGET / 40), abs=0.01)
    assert exposure.update(face(40), BOX, now=SETTLE_S / 2) is None  # the camera is still following
    assert exposure.update(face(40), BOX, now=SETTLE_S) == 2.0  # the limit, not 2 x first
    assert exposure.update(face(40), BOX, now=2 * SETTLE_S) is None  # at the limit already
    assert exposure.ev == 2.0


def test_a_face_near_the_target_is_left_alone_and_a_bright_one_is_darkened():
    exposure = FaceExposure(max_ev=2.0)
    near = FACE_TARGET * 2 ** (TOLERANCE_STOPS * 0.9)
    assert exposure.update(face(near), BOX, now=0.0) is None
    assert exposure.update(face(250), BOX, now=1.0) < 0


def test_without_a_single_face_the_camera_meters_by_itself_again_after_a_while():
    exposure = FaceExposure(max_ev=2.0)
    assert exposure.update(face(40), BOX, now=0.0) > 0
    assert exposure.update(face(40), None, now=RELEASE_S - 0.1) is None  # a blink, a turned head
    assert exposure.update(face(40), None, now=RELEASE_S) == 0.0
    assert exposure.update(face(40), None, now=RELEASE_S + 1) is None  # said once


def test_off_never_steers():
    assert FaceExposure(max_ev=0.0).update(face(10), BOX, now=0.0) is None


def test_the_face_brightness_is_its_middle_not_its_hair_or_the_window():
    grey = face(90)
    grey[BOX.y:BOX.y + 10, BOX.x:BOX.x + BOX.w] = 255  # a bright rim across the box's top
    assert face_brightness(grey, BOX) == 90


class Steerable(Camera):
    """Records, in order, the reads and the exposure asked of it; unplugs after `frames` reads."""
    name = "steerable"

    def __init__(self, log: list, frames: int):
        self.log, self.left = log, frames

    def steer_exposure(self, ev):
        self.log.append(ev)

    def read(self):
        if self.left == 0:
            raise CameraUnavailable("unplugged")
        self.left -= 1
        self.log.append("read")
        time.sleep(0.005)
        return make_frame(np.zeros((48, 64, 3), np.uint8), 32, time.monotonic())


def test_the_feed_applies_the_exposure_before_a_read_and_again_after_a_reconnect():
    log, opened = [], []

    def opener():
        opened.append(1)
        return Steerable(log, 40 if len(opened) == 1 else 10**6)

    feed = CameraFeed(opener, stall_s=0.2, retry_max_s=0.3).start()
    try:
        assert feed.wait_frame(0, timeout=10)
        feed.steer_exposure(1.5)
        deadline = time.monotonic() + 10
        while (len(opened) < 2 or log.count(1.5) < 2) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        feed.stop()
    assert log.count(1.5) == 2 and len(opened) == 2  # once asked, once after the camera came back
    first = log.index(1.5)
    assert "read" in log[first:] and log[:first].count(1.5) == 0


def test_picamera2_exposure_value_is_set_within_the_cameras_range(fake_picamera2):
    camera = open_camera("picamera2", CameraConfig())
    fake = fake_picamera2.last
    camera.steer_exposure(1.25)
    assert fake.controls["ExposureValue"] == 1.25
    camera.steer_exposure(12.0)
    assert fake.controls["ExposureValue"] == 8.0  # the range the camera reports


def test_picamera2_without_exposure_value_or_refusing_it_meters_by_itself(fake_picamera2, monkeypatch, caplog):
    monkeypatch.setattr(FakePicamera2, "has_exposure_value", False)
    camera = open_camera("picamera2", CameraConfig())
    camera.steer_exposure(1.0)
    assert "ExposureValue" not in fake_picamera2.last.controls
    monkeypatch.setattr(FakePicamera2, "has_exposure_value", True)
    camera = open_camera("picamera2", CameraConfig())
    calls = []

    def refuse(controls):
        calls.append(controls)
        raise RuntimeError("control out of range")

    monkeypatch.setattr(fake_picamera2.last, "set_controls", refuse)
    with caplog.at_level(logging.WARNING):
        camera.steer_exposure(1.0)
        camera.steer_exposure(1.5)
    assert len(calls) == 1 and "meters by itself" in caplog.text  # logged once; the booth goes on
    assert not camera.steers_exposure


@pytest.mark.parametrize("has_it", [True, False])
def test_kiosk_check_says_whether_the_camera_can_be_steered(fake_picamera2, monkeypatch, has_it):
    from kiosk.tools.check import check_camera

    monkeypatch.setattr(FakePicamera2, "has_exposure_value", has_it)
    ok, detail = check_camera(Config(), "picamera2")
    assert ok and ("face-priority exposure on" in detail) == has_it and ("meters by itself" in detail) != has_it


class BacklitPicamera2(FakePicamera2):
    """The astronaut in front of a bright window, as a camera metering for the window shows her: her
    face dark until ExposureValue opens the exposure (taken as reached at once, as in `kiosk eval`)."""

    def capture_request(self):
        request = super().capture_request()
        main, lores = self.camera_config["main"], self.camera_config["lores"]
        picture = backlit(self.scene(*main["size"]), self.controls.get("ExposureValue", 0.0)).astype(np.uint8)
        lw, lh = lores["size"]
        request.arrays["main"] = picture  # RGB888: B, G, R in memory
        request.arrays["lores"][:lh, :lw] = make_frame(picture, lw, 0.0).grey
        return request

    def scene(self, w, h):
        from skimage import data

        if getattr(self, "_scene", None) is None:
            self._scene = booth_frame(np.ascontiguousarray(data.astronaut()[:, :, ::-1]), w, h, WINDOW)
        return self._scene


def test_the_booth_steers_a_backlit_visitors_face_toward_the_target(fake_picamera2, monkeypatch):
    monkeypatch.setattr(sys.modules["picamera2"], "Picamera2", BacklitPicamera2)
    config = Config()
    config = dataclasses.replace(config, camera=dataclasses.replace(config.camera, width=640, height=360))
    app = headless_app(config, source="picamera2")
    try:
        def brightness():
            seen = app.seen
            if seen is None or seen.detection.chosen is None:
                return 0.0
            return face_brightness(seen.frame.grey, seen.detection.chosen.scaled(1 / seen.frame.detect_scale))

        assert app.run_until(lambda: brightness() > 0, timeout_s=30)
        dark = brightness()  # the first face seen, before any steering
        assert dark < FACE_TARGET / 2
        assert app.run_until(lambda: abs(math.log2(FACE_TARGET / max(brightness(), 1))) <= TOLERANCE_STOPS + 0.1,
                             timeout_s=30)
        assert 0 < app.exposure.ev <= config.camera.face_exposure_ev
        assert BacklitPicamera2.last.controls["ExposureValue"] == app.exposure.ev  # applied on the camera
    finally:
        app.close()


def test_a_camera_that_cannot_be_steered_is_not_asked(monkeypatch):
    """The demo scene's face is far under the target, yet nothing piles up toward the limit."""
    monkeypatch.setattr("kiosk.booth.exposure.FACE_TARGET", 250.0)
    app = headless_app(Config(), source="demo")
    try:
        assert app.run_until(lambda: app.seen is not None and app.seen.detection.chosen is not None, timeout_s=30)
        app.run_until(lambda: False, timeout_s=1.5)
        assert not app.feed.steers_exposure and app.exposure.ev == 0.0
    finally:
        app.close()
