"""Camera sources: picamera2 (through a stand-in module, as no Pi camera is here), OpenCV webcams that
open but never deliver, file/folder/video replay, the demo scene, and "auto"."""

import sys

import cv2
import numpy as np
import pytest

from kiosk.cameras import CameraUnavailable, open_camera
from kiosk.config import CameraConfig
from tests.fake_picamera2 import PAD, FakePicamera2


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


@pytest.mark.parametrize("detect_width", [200, 300, 330])
def test_picamera2_lores_padding_never_reaches_detection(fake_picamera2, detect_width):
    """detect_width not a multiple of 64: the lores rows carry padding that must be cut off."""
    camera = open_camera("picamera2", CameraConfig(width=1280, height=720, detect_width=detect_width))
    lw, lh = fake_picamera2.last.camera_config["lores"]["size"]
    assert fake_picamera2.last.camera_config["lores"]["stride"] > lw
    frame = camera.read()
    assert frame.grey.shape == (lh, lw) and (frame.grey == 120).all()
    assert frame.detect_scale == pytest.approx(1280 / lw)


def test_picamera2_works_from_the_configuration_it_applied(fake_picamera2):
    """Sizes and formats the camera cannot give are replaced silently; the booth follows what it got."""
    fake_picamera2.replace = {"main": {"size": (1296, 972), "format": "XBGR8888"},
                              "lores": {"size": (324, 242)}}
    camera = open_camera("picamera2", CameraConfig(width=1280, height=720, detect_width=320))
    frame = camera.read()
    assert frame.image.shape == (972, 1296, 3) and frame.image.flags.c_contiguous
    assert frame.image[0, 0, 0] == 200 and frame.image[0, 0, 2] == 0  # R,G,B,X turned into B,G,R
    assert frame.grey.shape == (242, 324) and (frame.grey == 120).all()
    assert frame.detect_scale == 4.0


def test_picamera2_without_a_yuv_lores_stream_detects_on_the_main_picture(fake_picamera2):
    fake_picamera2.replace = {"lores": {"format": "XRGB8888"}}
    frame = open_camera("picamera2", CameraConfig(width=1280, height=720, detect_width=320)).read()
    assert frame.grey.shape == (180, 320) and frame.image.shape == (720, 1280, 3)


def test_picamera2_unusable_main_format_is_unavailable_and_released(fake_picamera2):
    fake_picamera2.replace = {"main": {"format": "YUYV"}}
    with pytest.raises(CameraUnavailable, match="main format YUYV"):
        open_camera("picamera2", CameraConfig())
    assert fake_picamera2.last.closed


def test_picamera2_swap_and_no_autofocus(fake_picamera2, monkeypatch):
    original = FakePicamera2.__init__

    def no_af(self):
        original(self)
        self.camera_controls = {}

    monkeypatch.setattr(FakePicamera2, "__init__", no_af)
    camera = open_camera("picamera2", CameraConfig(swap_rb=True, autofocus=True))
    assert fake_picamera2.last.controls == {}  # Camera Module 2 has no autofocus: not asked for
    frame = camera.read()
    assert frame.image[0, 0, 2] == 200 and frame.image[0, 0, 0] == 0


class HalfOpenPicamera2(FakePicamera2):
    """picamera2 0.3.38 when __init__ fails after acquiring the camera (e.g. no buffers): the
    exception is a RuntimeError, and close() on such an object raises AttributeError."""

    def __init__(self):
        super().__init__()
        raise RuntimeError("Camera __init__ sequence did not complete.")

    def close(self):
        raise AttributeError("'Picamera2' object has no attribute 'allocator'")


def test_picamera2_failing_init_is_just_no_camera_and_auto_goes_on(fake_picamera2, monkeypatch):
    monkeypatch.setattr(sys.modules["picamera2"], "Picamera2", HalfOpenPicamera2)
    with pytest.raises(CameraUnavailable, match="did not complete"):
        open_camera("picamera2", CameraConfig())
    monkeypatch.setattr(cv2, "VideoCapture", SilentCapture)
    with pytest.raises(CameraUnavailable, match="picamera2: .*did not complete.*opencv:"):
        open_camera("auto", CameraConfig())


def test_picamera2_failing_start_then_failing_close_is_still_no_camera(fake_picamera2, monkeypatch):
    def busy(self):
        raise RuntimeError("Failed to start camera: Device or resource busy")

    def broken_close(self):
        raise AttributeError("'Picamera2' object has no attribute 'allocator'")

    monkeypatch.setattr(FakePicamera2, "start", busy)
    monkeypatch.setattr(FakePicamera2, "close", broken_close)
    with pytest.raises(CameraUnavailable, match="would not start.*busy"):
        open_camera("picamera2", CameraConfig())


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
    from kiosk.booth.live import LiveDetector

    camera = DemoCamera(CameraConfig(width=640, height=480), realtime=False)
    statuses = []
    for t in (2.0, 18.0, 22.0):
        live = LiveDetector(FaceDetector(DetectionConfig()), LiveConfig())
        image = camera.render(t)
        statuses.append(live.detect(cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), (320, 240))).status)
    assert statuses == [FaceStatus.ONE, FaceStatus.SEVERAL, FaceStatus.NONE]


def test_folder_replay_holds_each_photo_for_photo_s_and_steps_on_request(tmp_path):
    """An operator rehearsing with a folder of photos sees each one long enough for a visit."""
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((120, 160, 3), 60 * (i + 1), np.uint8))
    clock = [100.0]
    camera = open_camera(str(tmp_path), CameraConfig(width=160, height=120, photo_s=5.0), realtime=False,
                         clock=lambda: clock[0])

    def level():
        return round(float(camera.read().image.mean()) / 60)

    assert [level() for _ in range(10)] == [1] * 10  # one photo, however many frames
    clock[0] += 4.9
    assert level() == 1
    clock[0] += 0.2
    assert level() == 2  # its time is up
    camera.next()
    assert level() == 3  # the operator's key steps at once
    clock[0] += 1.0
    camera.next()
    assert [level() for _ in range(3)] == [1, 1, 1]  # round again, and the new photo gets its full time
