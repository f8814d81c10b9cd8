"""Keeps the latest camera frame available to the render loop, and heals a lost camera.

A thread reads the camera as fast as it delivers. When reads fail or stop for `stall_s`, the feed
reports itself down, closes the device and reopens it with growing waits (up to `retry_max_s`),
so the screen can say "camera unavailable" and the booth comes back by itself. That includes a
camera missing from the start: the feed keeps trying, forever. A read or open that hangs instead of
failing cannot be interrupted from here: after `hang_s` the feed reports itself unhealthy, the render
loop stops petting systemd's watchdog, and systemd restarts the booth.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

from ..cameras import Camera, CameraUnavailable, Frame

log = logging.getLogger(__name__)
HANG_S = 10.0  # far longer than any healthy open (a few seconds) or read (one frame)
FPS_FRAMES = 30  # the frame rate is measured over the last this many frames


@dataclass(frozen=True)
class CameraStatus:
    """What an operator's view shows of the camera."""
    name: str
    ok: bool
    fps: float | None  # frames per second over the last FPS_FRAMES frames; None before two frames
    frame_age_s: float | None  # seconds since the newest frame; None before the first
    problem: str
    reconnects: int


class CameraFeed:
    def __init__(self, opener: Callable[[], Camera], stall_s: float, retry_max_s: float,
                 hang_s: float | None = None):
        self._opener = opener
        self.hang_s = HANG_S if hang_s is None else hang_s
        self._in_call_since: float | None = None
        self._camera: Camera | None = None
        self.stall_s, self.retry_max_s = stall_s, retry_max_s
        self._lock = threading.Lock()
        self._new_frame = threading.Condition(self._lock)
        self._frame: Frame | None = None
        self._seq = 0
        self._last_frame_at = time.monotonic()
        self._arrivals: deque[float] = deque(maxlen=FPS_FRAMES)
        self._stop = threading.Event()
        self.problem = ""  # why the camera is down, for logs
        self._exposure_ev, self._exposure_due = 0.0, False  # the face-priority exposure asked for
        self.reconnects = 0
        self._thread = threading.Thread(target=self._run, name="camera", daemon=True)

    def start(self) -> "CameraFeed":
        self._thread.start()
        return self

    def latest(self) -> tuple[int, Frame | None]:
        """(sequence number, frame); the number grows by one per new frame."""
        with self._lock:
            return self._seq, self._frame

    def wait_frame(self, after_seq: int, timeout: float) -> bool:
        """Wait until a frame newer than `after_seq` arrives (True) or `timeout` passes (False)."""
        with self._new_frame:
            return self._new_frame.wait_for(lambda: self._seq != after_seq, timeout)

    def steer_exposure(self, ev: float) -> None:
        """Ask the camera to expose `ev` stops off its own metering; the camera thread applies it before
        its next read (device calls stay on that thread), and again after a reconnect."""
        with self._lock:
            self._exposure_ev, self._exposure_due = ev, True

    def next_picture(self) -> None:
        """Ask the camera for its next picture (a photo folder steps on; a live camera ignores it)."""
        camera = self._camera
        if camera is not None:
            camera.next()

    @property
    def camera_name(self) -> str:
        camera = self._camera
        return camera.name if camera is not None else "none"

    @property
    def steers_exposure(self) -> bool:
        """The camera now open takes the face-priority exposure (a Pi camera with ExposureValue)."""
        camera = self._camera
        return camera is not None and camera.steers_exposure

    @property
    def ok(self) -> bool:
        """Frames are arriving."""
        with self._lock:
            return self._frame is not None and time.monotonic() - self._last_frame_at < self.stall_s

    def status(self) -> CameraStatus:
        """A consistent snapshot, safe from any thread."""
        with self._lock:
            arrivals, frame, last = list(self._arrivals), self._frame, self._last_frame_at
            ok = frame is not None and time.monotonic() - last < self.stall_s
        span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else 0.0
        return CameraStatus(self.camera_name, ok, round((len(arrivals) - 1) / span, 1) if span > 0 else None,
                            round(time.monotonic() - last, 2) if frame is not None else None,
                            self.problem, self.reconnects)

    @property
    def healthy(self) -> bool:
        """The camera thread runs and no open or read has hung (only a restart would free it)."""
        with self._lock:
            since = self._in_call_since
        return self._thread.is_alive() and (since is None or time.monotonic() - since < self.hang_s)

    def _device(self, call: Callable):
        """A device call, timed so a hang shows in `healthy`. Any error counts as the camera being
        unavailable: an unexpected exception must not end the thread and leave the booth blind."""
        with self._lock:
            self._in_call_since = time.monotonic()
        try:
            return call()
        except CameraUnavailable:
            raise
        except Exception as exc:
            raise CameraUnavailable(f"{type(exc).__name__}: {exc}") from exc
        finally:
            with self._lock:
                self._in_call_since = None

    def _run(self) -> None:
        wait = 0.5
        while not self._stop.is_set():
            if self._camera is None:
                try:
                    self._camera = self._device(self._opener)
                    wait = 0.5
                    with self._lock:  # a reopened camera starts from its own metering again
                        self._exposure_due = self._exposure_ev != 0.0
                    if self.reconnects or self.problem:
                        log.info("camera back: %s", self._camera.name)
                except CameraUnavailable as exc:
                    self._down(str(exc))
                    self._stop.wait(wait)
                    wait = min(wait * 2, self.retry_max_s)
                    continue
            with self._lock:
                ev, due, self._exposure_due = self._exposure_ev, self._exposure_due, False
            try:
                if due:
                    self._device(lambda: self._camera.steer_exposure(ev))
                frame = self._device(self._camera.read)
            except CameraUnavailable as exc:
                self._down(str(exc))
                self._close_camera()
                self.reconnects += 1
                continue
            with self._lock:
                self._frame, self._seq, self._last_frame_at = frame, self._seq + 1, time.monotonic()
                self._arrivals.append(self._last_frame_at)
                self.problem = ""
                self._new_frame.notify_all()
        self._close_camera()

    def _down(self, problem: str) -> None:
        if problem != self.problem:
            log.warning("camera unavailable: %s", problem)
        self.problem = problem

    def _close_camera(self) -> None:
        camera, self._camera = self._camera, None
        if camera is not None:
            try:
                camera.close()
            except Exception as exc:  # a dying device may fail to close; it is dropped either way
                log.warning("camera close failed: %s", exc)

    def stop(self, timeout: float = 1.5) -> None:
        """Stop reading and release the camera (the thread is a daemon if a read hangs)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if not self._thread.is_alive():
            self._close_camera()
