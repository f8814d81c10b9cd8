"""Raspberry Pi camera through picamera2 (apt's python3-picamera2; the venv sees it through
--system-site-packages). A lores YUV420 stream's Y plane feeds face detection with no conversion."""

from __future__ import annotations

import time

from ..config import CameraConfig
from . import Camera, CameraUnavailable, Frame


class PiCamera(Camera):
    name = "picamera2"

    def __init__(self, settings: CameraConfig):
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            raise CameraUnavailable(f"picamera2 not importable ({exc}); on Pi OS: sudo apt install "
                                    "python3-picamera2 and a venv made with --system-site-packages") from None
        except Exception as exc:  # numpy ABI mismatch shows up here ("numpy.dtype size changed")
            raise CameraUnavailable(f"picamera2 failed to import ({exc}); see README, numpy 2 vs apt picamera2") from None
        try:
            self._cam = Picamera2()
        except (IndexError, RuntimeError) as exc:  # IndexError: no camera attached
            raise CameraUnavailable(f"no Pi camera detected ({exc or 'none listed'})") from None
        w, h = settings.width - settings.width % 2, settings.height - settings.height % 2
        lw = min(settings.detect_width, w) // 2 * 2
        lh = round(h * lw / w) // 2 * 2
        self._lores_h = lh
        # libcamera's "RGB888" is B,G,R in memory: exactly OpenCV's order.
        config = self._cam.create_video_configuration(
            main={"size": (w, h), "format": "RGB888"}, lores={"size": (lw, lh), "format": "YUV420"},
            controls={"FrameRate": settings.fps}, buffer_count=4)
        self._swap = settings.swap_rb
        try:
            self._cam.configure(config)
            if settings.autofocus and "AfMode" in self._cam.camera_controls:
                from libcamera import controls

                self._cam.set_controls({"AfMode": controls.AfModeEnum.Continuous})
            self._cam.start()
        except Exception as exc:  # libcamera raises a variety of errors for busy or missing devices
            self.close()
            raise CameraUnavailable(f"Pi camera would not start ({exc})") from None

    def read(self) -> Frame:
        try:
            request = self._cam.capture_request()
            try:
                image = request.make_array("main")
                grey = request.make_array("lores")[: self._lores_h]
            finally:
                request.release()
        except Exception as exc:
            raise CameraUnavailable(f"Pi camera stopped delivering frames ({exc})") from None
        if self._swap:
            image = image[:, :, ::-1]
        return Frame(image.copy() if self._swap else image, grey.copy(), time.monotonic())

    def close(self) -> None:
        cam, self._cam = getattr(self, "_cam", None), None
        if cam is not None:
            try:
                cam.stop()
            finally:
                cam.close()
