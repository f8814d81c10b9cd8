"""Raspberry Pi camera through picamera2 (apt's python3-picamera2; the venv sees it through
--system-site-packages). A lores YUV420 stream's Y plane feeds face detection with no conversion.

picamera2 silently replaces stream sizes and formats the camera cannot give (a log line only), so
everything below works from the configuration it applied, read back after `configure()`, never from
the request. Its YUV420 arrays are (h * 3/2, stride) with stride >= width: the Y plane is [:h, :w].
"""

from __future__ import annotations

import logging
import time

import numpy as np

from ..config import CameraConfig
from . import Camera, CameraUnavailable, Frame, make_frame

log = logging.getLogger(__name__)
# libcamera names formats by their little-endian words: "RGB888" is B,G,R in memory (OpenCV's order).
# Each entry picks B,G,R out of the array make_array gives for that format.
TO_BGR = {"RGB888": np.s_[..., :3], "XRGB8888": np.s_[..., :3],
          "BGR888": np.s_[..., 2::-1], "XBGR8888": np.s_[..., 2::-1]}


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
        self.settings = settings
        self._steer_failed = False
        try:
            # No camera: RuntimeError "No camera number 0 found" (IndexError before 0.3.18); busy or out of
            # buffers: RuntimeError "Camera __init__ sequence did not complete." The half-made object
            # releases the camera itself when it is collected.
            self._cam = Picamera2()
        except Exception as exc:
            raise CameraUnavailable(f"no Pi camera detected ({exc or type(exc).__name__})") from None
        try:
            self._start(settings)
        except Exception as exc:  # libcamera raises a variety of errors for busy or missing devices
            self.close()
            if isinstance(exc, CameraUnavailable):
                raise
            raise CameraUnavailable(f"Pi camera would not start ({exc})") from None

    def _start(self, settings: CameraConfig) -> None:
        w, h = settings.width - settings.width % 2, settings.height - settings.height % 2
        lw = min(settings.detect_width, w) // 2 * 2
        lh = round(h * lw / w) // 2 * 2
        wanted = {"main": {"size": (w, h), "format": "RGB888"}, "lores": {"size": (lw, lh), "format": "YUV420"}}
        self._cam.configure(self._cam.create_video_configuration(
            main=dict(wanted["main"]), lores=dict(wanted["lores"]), controls={"FrameRate": settings.fps},
            buffer_count=4))
        applied = self._cam.camera_config
        main, lores = applied["main"], applied.get("lores")
        for stream, asked in wanted.items():
            got = applied.get(stream)
            if got is None or tuple(got["size"]) != asked["size"] or got["format"] != asked["format"]:
                log.warning("picamera2 gave %s stream %s instead of %s", stream,
                            got and f"{tuple(got['size'])} {got['format']}", f"{asked['size']} {asked['format']}")
        if main["format"] not in TO_BGR:
            raise CameraUnavailable(f"Pi camera gave main format {main['format']}, which the booth cannot show")
        self._to_bgr = TO_BGR[main["format"]]
        # Without a usable lores stream, the grey frame is made from the main picture instead.
        self._lores_size = tuple(lores["size"]) if lores is not None and lores["format"] == "YUV420" else None
        if settings.autofocus and "AfMode" in self._cam.camera_controls:
            from libcamera import controls

            self._cam.set_controls({"AfMode": controls.AfModeEnum.Continuous})
        self._cam.start()

    @property
    def steers_exposure(self) -> bool:
        return self._cam is not None and "ExposureValue" in self._cam.camera_controls and not self._steer_failed

    def steer_exposure(self, ev: float) -> None:
        """picamera2's ExposureValue moves the automatic exposure's target by `ev` stops, within the
        range the camera reports. A camera without it, or one that refuses, is left to its own metering:
        the booth works without steering, so a failure is logged once and steering stops."""
        if not self.steers_exposure:
            return
        low, high = self._cam.camera_controls["ExposureValue"][:2]
        try:
            self._cam.set_controls({"ExposureValue": float(min(max(ev, low), high))})
        except Exception as exc:
            self._steer_failed = True
            log.warning("picamera2 refused ExposureValue %.2f (%s: %s); the camera meters by itself", ev,
                        type(exc).__name__, exc)

    def read(self) -> Frame:
        try:
            request = self._cam.capture_request()
            try:
                image = request.make_array("main")
                if self._lores_size is not None:
                    lw, lh = self._lores_size
                    grey = request.make_array("lores")[:lh, :lw]  # the Y plane, without the stride's padding
            finally:
                request.release()
        except Exception as exc:
            raise CameraUnavailable(f"Pi camera stopped delivering frames ({exc})") from None
        image = image[self._to_bgr]
        if self.settings.swap_rb:
            image = image[..., ::-1]
        image = np.ascontiguousarray(image)
        if self._lores_size is None:
            return make_frame(image, self.settings.detect_width, time.monotonic())
        return Frame(image, np.ascontiguousarray(grey), time.monotonic())

    def close(self) -> None:
        """Stop and close, whatever state the camera is in: a failed start leaves picamera2 half set up,
        and its close() can then raise (0.3.38: AttributeError); the device is dropped either way."""
        cam, self._cam = getattr(self, "_cam", None), None
        if cam is None:
            return
        for step in (cam.stop, cam.close):
            try:
                step()
            except Exception as exc:
                log.warning("picamera2 %s failed: %s: %s", step.__name__, type(exc).__name__, exc)
