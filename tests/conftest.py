"""Shared test images: a real face photo from scikit-image (public domain), composites and blanks."""

from __future__ import annotations

import dataclasses
import os
import socket
import sys
import types
from pathlib import Path

import cv2
import numpy as np
import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("GPIOZERO_PIN_FACTORY", "mock")
os.environ.pop("NOTIFY_SOCKET", None)  # tests that want systemd's socket make their own

from kiosk.config import Config
from tests.fake_picamera2 import FakePicamera2

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


def booth_config(**booth):
    """A small, quick booth: 640x480 camera, steady after 0.2 s, no countdown."""
    c = Config()
    b = dataclasses.replace(c.booth, **{"steady_s": 0.2, "countdown_s": 0, **booth})
    return dataclasses.replace(c, booth=b, camera=dataclasses.replace(c.camera, width=640, height=480, detect_width=640),
                               screen=dataclasses.replace(c.screen, width=480, height=320))


def step_until(app, condition, timeout=120.0):
    """Step the booth until `condition` holds. The timeout only catches a booth that is stuck: under
    emulated arm64 a first inference alone can take 15 s, so it is no measure of speed."""
    assert app.run_until(condition, timeout), f"timed out in phase {app.phase}, face {app.face}"


@pytest.fixture
def notify_socket(tmp_path):
    """(path, socket) standing in for systemd's notify socket."""
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.05)
    yield path, sock
    sock.close()


def received(sock) -> list[str]:
    """Every message waiting on the notify socket."""
    messages = []
    while True:
        try:
            messages.append(sock.recv(4096).decode())
        except (socket.timeout, BlockingIOError):
            return messages


@pytest.fixture
def booth_app():
    """App(config, source) for the test, always closed afterwards (camera and GPIO pins released)."""
    made = []

    def make(source, cfg=None):
        from kiosk.booth.app import App

        app = App(cfg or booth_config(), str(source), windowed=True, headless=True)
        made.append(app)
        return app

    yield make
    for app in made:
        app.close()
    from gpiozero import Device

    if Device.pin_factory is not None:
        Device.pin_factory.reset()


def phone_browser(profile, height: int = 844, downloads=None):
    """Debian's headless Chromium in a phone-sized window, driven by Selenium (no driver download:
    the caller sets SE_OFFLINE); page loads may take up to 120 s (emulated arm64); downloads go to
    `downloads`."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size=390,{height}",
                f"--user-data-dir={profile}"):
        options.add_argument(arg)
    if downloads is not None:
        options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                                  "download.prompt_for_download": False})
    browser = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    browser.set_page_load_timeout(120)
    return browser


@pytest.fixture
def fake_picamera2(monkeypatch):
    """picamera2 and libcamera replaced by the stand-in (tests/fake_picamera2.py)."""
    module = types.ModuleType("picamera2")
    module.Picamera2 = FakePicamera2
    libcamera = types.ModuleType("libcamera")
    libcamera.controls = types.SimpleNamespace(AfModeEnum=types.SimpleNamespace(Continuous=2))
    monkeypatch.setitem(sys.modules, "picamera2", module)
    monkeypatch.setitem(sys.modules, "libcamera", libcamera)
    monkeypatch.setattr(FakePicamera2, "replace", {})
    return FakePicamera2
