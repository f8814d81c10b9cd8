"""Camera sources: picamera2 (through a stand-in module, as no Pi camera is here), OpenCV webcams that
open but never deliver, file/folder/video replay, the demo scene, and "auto"."""

import sys
import types

import cv2
import numpy as np
import pytest

from kiosk.cameras import CameraUnavailable, open_camera
from kiosk.config import CameraConfig


class FakeRequest:
    def __init__(self, main, lores):
        self.arrays, self.released = {"main": main, "lores": lores}, False

    def make_array(self, name):
        return self.arrays[name]

    def release(self):
        self.released = True


class FakePicamera2:
    """The parts of picamera2's API the booth uses, recording how it was driven."""
    last = None

    def __init__(self):
        FakePicamera2.last = self
        self.camera_controls = {"AfMode": (0, 2, 0)}
        self.controls, self.started, self.closed = {}, False, False

    def create_video_configuration(self, main, lores, controls, buffer_count):
        self.config = {"main": main, "lores": lores, "controls": controls}
        return self.config

    def configure(self, config):
        self.configured = config

    def set_controls(self, controls):
        self.controls.update(controls)

    def start(self):
        self.started = True

    def capture_request(self):
        w, h = self.config["main"]["size"]
        lw, lh = self.config["lores"]["size"]
        main = np.zeros((h, w, 3), np.uint8)
        main[..., 0] = 200  # blue in B,G,R order ("RGB888" in libcamera's words)
        yuv = np.full((lh * 3 // 2, lw), 50, np.uint8)
        yuv[:lh] = 120  # the Y plane
        self.request = FakeRequest(main, yuv)
        return self.request

    def stop(self):
        self.started = False

    def close(self):
        self.closed = True


@pytest.fixture
def fake_picamera2(monkeypatch):
    module = types.ModuleType("picamera2")
    module.Picamera2 = FakePicamera2
    libcamera = types.ModuleType("libcamera")
    libcamera.controls = types.SimpleNamespace(AfModeEnum=types.SimpleNamespace(Continuous=2))
    monkeypatch.setitem(sys.modules, "picamera2", module)
    monkeypatch.setitem(sys.modules, "libcamera", libcamera)
    return FakePicamera2


def test_picamera2_main_and_lores_streams(fake_picamera2):
    camera = open_camera("picamera2", CameraConfig(width=1280, height=720, detect_width=320))
    cam = fake_picamera2.last
    assert cam.config["main"] == {"size": (1280, 720), "format": "RGB888"}
    assert cam.config["lores"] == {"size": (320, 180), "format": "YUV420"}
    assert cam.controls == {"AfMode": 2} and cam.started
    frame = camera.read()
    assert frame.image.shape == (720, 1280, 3) and frame.image[0, 0, 0] == 200  # B,G,R as OpenCV wants
    assert frame.grey.shape == (180, 320) and (frame.grey == 120).all()  # just the Y plane
    assert cam.request.released and frame.detect_scale == 4.0
    camera.close()
    assert cam.closed


def test_picamera2_swap_and_no_autofocus(fake_picamera2, monkeypatch):
    monkeypatch.setattr(FakePicamera2, "__init__", lambda self: (setattr(FakePicamera2, "last", self),
                                                                setattr(self, "camera_controls", {}),
                                                                setattr(self, "controls", {}))[-1])
    camera = open_camera("picamera2", CameraConfig(swap_rb=True, autofocus=True))
    assert fake_picamera2.last.controls == {}  # Camera Module 2 has no autofocus: not asked for
    frame = camera.read()
    assert frame.image[0, 0, 2] == 200 and frame.image[0, 0, 0] == 0


def test_picamera2_missing_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)
    with pytest.raises(CameraUnavailable, match="apt install python3-picamera2"):
        open_camera("picamera2", CameraConfig())


class SilentCapture:
    """A /dev/video0 that opens but never delivers (a Pi with a CSI camera)."""
    released = False

    def __init__(self, *args):
        pass

    def isOpened(self):
        return True

    def set(self, *args):
        return True

    def read(self):
        return False, None

    def release(self):
        SilentCapture.released = True


def test_webcam_that_never_delivers_counts_as_no_camera(monkeypatch):
    monkeypatch.setattr(cv2, "VideoCapture", SilentCapture)
    with pytest.raises(CameraUnavailable, match="opened but delivered no frame"):
        open_camera("opencv", CameraConfig())
    assert SilentCapture.released


def test_auto_says_what_was_tried_and_how_to_run_the_demo(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)
    monkeypatch.setattr(cv2, "VideoCapture", SilentCapture)
    with pytest.raises(CameraUnavailable) as err:
        open_camera("auto", CameraConfig())
    message = str(err.value)
    assert "picamera2:" in message and "opencv:" in message and "kiosk run --demo" in message


def test_video_replay_loops(tmp_path):
    path = str(tmp_path / "clip.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    for i in range(3):
        writer.write(np.full((120, 160, 3), 60 * (i + 1), np.uint8))
    writer.release()
    camera = open_camera(path, CameraConfig(width=160, height=120), realtime=False)
    levels = [round(float(camera.read().image.mean()) / 60) for _ in range(7)]
    assert levels == [1, 2, 3, 1, 2, 3, 1]
    camera.close()


def test_folder_replay_skips_broken_files_and_fits_the_stream(tmp_path, astronaut_bgr):
    cv2.imwrite(str(tmp_path / "a.jpg"), astronaut_bgr)
    (tmp_path / "b.jpg").write_bytes(b"broken")
    camera = open_camera(str(tmp_path), CameraConfig(width=256, height=256), realtime=False)
    frames = [camera.read() for _ in range(3)]
    assert all(f.image.shape == (256, 256, 3) for f in frames)
    (tmp_path / "a.jpg").unlink()
    with pytest.raises(CameraUnavailable, match="no readable photos"):
        open_camera(str(tmp_path), CameraConfig())


def test_demo_scene_has_one_person_then_two_then_nobody():
    from kiosk.cameras.demo import DemoCamera
    from kiosk.config import DetectionConfig, LiveConfig
    from kiosk.faces import FaceDetector, FaceStatus
    from kiosk.live import LiveDetector

    camera = DemoCamera(CameraConfig(width=640, height=480), realtime=False)
    statuses = []
    for t in (2.0, 18.0, 22.0):
        live = LiveDetector(FaceDetector(DetectionConfig()), LiveConfig())
        image = camera.render(t)
        statuses.append(live.detect(cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), (320, 240))).status)
    assert statuses == [FaceStatus.ONE, FaceStatus.SEVERAL, FaceStatus.NONE]
