"""A stand-in for picamera2 (no Pi camera here): the contract the booth meets, for tests/test_cameras.py
and tests/test_exposure.py; `conftest.fake_picamera2` installs it as the picamera2 module."""

import numpy as np


class FakeRequest:
    def __init__(self, main, lores):
        self.arrays, self.released = {"main": main, "lores": lores}, False

    def make_array(self, name):
        return self.arrays[name]

    def release(self):
        self.released = True


PAD = 255  # what the padding columns of a YUV420 row hold in the fake: bright, so a leak shows


class FakePicamera2:
    """picamera2's contract as the booth meets it (0.3.38): configure() may replace sizes and formats
    it cannot give, and camera_config then holds what was applied, with each stream's stride; a
    YUV420 array is (h * 3/2, stride), stride rounded up to 64 bytes, the padding kept."""
    last = None
    replace: dict = {}  # stream -> {"size": ..., "format": ...} the "camera" gives instead of the request
    has_exposure_value = True  # every Pi camera module's does; (min, max, default) as picamera2 lists it

    def __init__(self):
        FakePicamera2.last = self
        self.camera_controls = {"AfMode": (0, 2, 0)}
        if self.has_exposure_value:
            self.camera_controls["ExposureValue"] = (-8.0, 8.0, 0.0)
        self.controls, self.started, self.closed = {}, False, False
        self.camera_config = {}

    def create_video_configuration(self, main, lores, controls, buffer_count):
        self.config = {"main": main, "lores": lores, "controls": controls}
        return self.config

    def configure(self, config):
        self.camera_config = {}
        for stream in ("main", "lores"):
            applied = {**config[stream], **self.replace.get(stream, {})}
            w = applied["size"][0]
            bytes_per_pixel = {"YUV420": 1, "RGB888": 3, "BGR888": 3}.get(applied["format"], 4)
            applied["stride"] = -(-w * bytes_per_pixel // 64) * 64
            self.camera_config[stream] = applied

    def set_controls(self, controls):
        self.controls.update(controls)

    def start(self):
        self.started = True

    def capture_request(self):
        main_cfg, lores_cfg = self.camera_config["main"], self.camera_config["lores"]
        w, h = main_cfg["size"]
        channels = 3 if main_cfg["format"] in ("RGB888", "BGR888") else 4
        main = np.zeros((h, w, channels), np.uint8)  # make_array crops RGB rows to the width
        blue_at = 0 if main_cfg["format"] in ("RGB888", "XRGB8888") else 2
        main[..., blue_at] = 200  # a blue picture, in the byte order of the applied format
        lw, lh = lores_cfg["size"]
        yuv = np.full((lh * 3 // 2, lores_cfg["stride"]), 50, np.uint8)
        yuv[:lh, lw:] = PAD
        yuv[:lh, :lw] = 120  # the Y plane
        self.request = FakeRequest(main, yuv)
        return self.request

    def stop(self):
        self.started = False

    def close(self):
        self.closed = True
