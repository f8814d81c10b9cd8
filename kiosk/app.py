"""`kiosk run`: the render loop. It owns pygame and the screen; the camera, face detection and
scoring run in their own threads and hand back their latest results, so the picture never waits.

Data flows one way: camera feed -> detection -> steadiness -> booth state -> scoring -> screen.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import time
from collections import deque
from dataclasses import dataclass

import pygame

from . import texts
from .booth import Booth, Phase
from .button import PRESS, GpioButton
from .cameras import Frame, open_camera
from .captures import save_capture
from .chain import Chain
from .config import Config
from .faces import Detection, FaceDetector, FaceStatus, crop_face
from .feed import CameraFeed
from .live import LiveDetector
from .fonts import checked_font
from .notify import Notifier
from .screen import Renderer, Scene
from .stability import FaceState, SteadyTracker
from .view import View
from .worker import LatestWorker

log = logging.getLogger("kiosk")
# SDL falls back to these when it finds no screen: the booth would run where nobody sees it.
HEADLESS_DRIVERS = ("offscreen", "dummy")


def no_screen_problem(driver: str) -> str:
    """Why SDL's `driver` cannot show the booth to anyone ("" when it can)."""
    if driver not in HEADLESS_DRIVERS:
        return ""
    return (f"no screen: SDL picked its '{driver}' video driver, which shows nothing; on Pi OS Lite start the "
            "booth with its systemd unit (kmsdrm on tty1), on a desktop from the desktop session; "
            "for tests and screenshots say so with --headless")


@dataclass(frozen=True)
class Seen:
    """A frame and the faces found in it (boxes in the frame's own pixels)."""
    frame: Frame
    detection: Detection


class App:
    def __init__(self, config: Config, source: str, windowed: bool = False, realtime: bool = True,
                 headless: bool = False):
        self.config = config
        # Start-up checks first, cheapest and most likely to fail first; each raises one clear line.
        self.font = checked_font(config.screen.font, texts.all_texts(config.verdict.rank_texts))
        self.chain = Chain(config.models_dir, config.verdict.rank_texts, config.models.threads)
        self.detector = LiveDetector(FaceDetector(config.detection), config.live)
        c = config.camera
        try:
            os.environ.setdefault("SDL_AUDIODRIVER", "dummy")  # a booth has no sound card to complain about
            pygame.display.init()
            problem = "" if headless else no_screen_problem(pygame.display.get_driver())
            if problem:
                raise pygame.error(problem)
            self.display = self._open_display(windowed or not config.screen.fullscreen)
        except pygame.error:
            pygame.display.quit()
            raise
        self._hide_cursor()
        self.button = GpioButton(config.button)
        self.view: View | None = None
        self.renderer = None
        self._ensure_renderer(c.width, c.height)
        # The camera opens in the feed's thread: one missing (or hanging) at boot never stops the booth
        # from coming up; the screen says so while the feed keeps trying.
        self.feed = CameraFeed(lambda: open_camera(source, c, realtime), c.stall_s, c.retry_max_s).start()
        self.detect_worker = LatestWorker("detect", self._detect)
        self.score_worker = LatestWorker("score", self._score)
        b = config.booth
        self.tracker = SteadyTracker(b.steady_s, b.steady_min_overlap, b.steady_max_size_change)
        self.booth = Booth(b, time.monotonic())
        self.recent: deque[Seen] = deque(maxlen=b.capture_frames)
        self.seen: Seen | None = None
        self.frame_seq = 0
        self.captured: Seen | None = None
        self.pressed_at = 0.0
        self.stopping = False
        self.last_press_to_result_ms = 0.0
        self.notifier = Notifier()

    def _open_display(self, windowed: bool):
        s = self.config.screen
        if windowed:
            return pygame.display.set_mode((s.width, s.height))
        return pygame.display.set_mode((0, 0), pygame.FULLSCREEN)

    def _hide_cursor(self) -> None:
        # A transparent cursor rather than set_visible(False), which breaks touch positions on some builds.
        try:
            pygame.mouse.set_cursor(pygame.cursors.Cursor((0, 0), pygame.Surface((8, 8), pygame.SRCALPHA)))
        except pygame.error:
            pass

    # Workers ------------------------------------------------------------------------------------
    def _detect(self, frame: Frame) -> Seen:
        found = self.detector.detect(frame.grey)
        return Seen(frame, Detection(tuple(b.scaled(frame.detect_scale) for b in found.faces)))

    def _score(self, seen: list[Seen]):
        b = self.config.booth
        if b.save_captures:  # here, off the render thread: JPEG encoding takes a while on a Pi
            save_capture(seen[-1].frame.image, b.captures_dir, b.max_captures)
        started = time.perf_counter()
        m = self.chain.manifest
        crops = [crop_face(s.frame.image, s.detection.chosen, m.crop_margin, m.input_size) for s in seen]
        verdict = self.chain.score(*crops)
        return verdict, (time.perf_counter() - started) * 1000

    # The loop ---------------------------------------------------------------------------------------
    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop())
        clock = pygame.time.Clock()
        try:
            while not self.stopping:
                self.step()
                clock.tick(self.config.camera.fps)
        finally:
            self.close()
        return 0

    def stop(self) -> None:
        self.stopping = True

    def step(self, now: float | None = None) -> None:
        """One frame: input, newest camera frame and detection, booth flow, drawing."""
        now = time.monotonic() if now is None else now
        pressed = self._events()
        seq, frame = self.feed.latest()
        if frame is not None and seq != self.frame_seq:
            self.frame_seq = seq
            self.detect_worker.submit(frame)
        self._take_detection()
        face = self.tracker.state
        before = self.booth.phase
        waiting = before in (Phase.COUNTDOWN, Phase.SCORING)
        if self.booth.update(now, face, pressed, self.feed.ok):
            self._capture()
        elif before is Phase.COUNTDOWN and self.booth.phase is Phase.MESSAGE:
            log.info("visit: no capture, face state at capture: %s", face.value)
        if not waiting and self.booth.phase in (Phase.COUNTDOWN, Phase.SCORING):
            self.pressed_at = now  # the press (or auto trigger) that starts this visit
        self._take_verdict(now)
        self.button.ready_light(self.booth.phase is Phase.LIVE and face is FaceState.STEADY)
        self.render(now)
        # Something is on screen now, camera or not: systemd may count the booth as started.
        status = (f"booth running, camera {self.feed.camera_name}" if self.feed.ok
                  else f"camera unavailable, retrying: {self.feed.problem or 'waiting for the first frame'}")
        self.notifier.ready(status)
        self.notifier.update_status(status)
        if self.feed.healthy:  # a hung camera call stops the petting, and systemd restarts the booth
            self.notifier.pet(now)

    def _events(self) -> bool:
        pg, pressed = pygame, False
        for event in pg.event.get():
            if event.type == pg.QUIT:  # the window closed, or SDL turned a signal into QUIT
                self.stop()
            elif event.type == pg.KEYDOWN and event.key in (pg.K_ESCAPE, pg.K_q):
                if self.config.screen.allow_quit:
                    self.stop()
            elif event.type == pg.KEYDOWN and event.key in (pg.K_SPACE, pg.K_RETURN, pg.K_KP_ENTER):
                pressed = True
            elif event.type in (pg.MOUSEBUTTONDOWN, pg.FINGERDOWN, PRESS):
                pressed = True
        return pressed

    def _take_detection(self) -> None:
        done = self.detect_worker.take()
        if done is None:
            return
        seen, error = done
        if error is not None:
            log.warning("face detection failed: %s", error)
            return
        self.seen = seen
        self.tracker.update(seen.detection, seen.frame.t)
        if seen.detection.status is FaceStatus.ONE:
            self.recent.append(seen)
        else:
            self.recent.clear()

    def _capture(self) -> None:
        self.captured = self.recent[-1]
        self.score_worker.submit(list(self.recent))

    def _take_verdict(self, now: float) -> None:
        done = self.score_worker.take()
        if done is None:
            return
        result, error = done
        if error is not None:
            log.error("visit: scoring failed: %s", error)
            self.booth.scored(None, now)
            return
        verdict, chain_ms = result
        self.booth.scored(verdict, now)
        self.last_press_to_result_ms = (now - self.pressed_at) * 1000
        log.info("visit: result rank=%d gender=%s score=%.2f chain_ms=%.0f press_to_result_ms=%.0f",
                 verdict.rank, verdict.gender, verdict.score, chain_ms, self.last_press_to_result_ms)

    def render(self, now: float) -> None:
        """Draw the current state (the newest frame, or the captured one on the result screen)."""
        frame = self.feed.latest()[1]
        phase = self.booth.phase
        showing = self.captured.frame if phase in (Phase.SCORING, Phase.RESULT) and self.captured else frame
        if showing is not None:
            self._ensure_renderer(showing.image.shape[1], showing.image.shape[0])
        result_box = self.captured.detection.chosen if self.captured else None
        scene = Scene(phase, None if showing is None else showing.image,
                      self.seen.detection if self.seen else None, self.tracker.state,
                      self.booth.countdown_left(now) if phase is Phase.COUNTDOWN else 0,
                      self.booth.message, self.booth.verdict, result_box, self.booth.auto_starts)
        self.renderer.draw(scene)
        pygame.display.flip()

    def _ensure_renderer(self, w: int, h: int) -> None:
        """A view and renderer for frames of this size (made again if the camera's size changes)."""
        if self.view is None or (self.view.frame_w, self.view.frame_h) != (w, h):
            s = self.config.screen
            dw, dh = self.display.get_size()
            self.view = View(w, h, dw, dh, s.rotation, s.mirror)
            self.renderer = Renderer(self.display, self.view, self.font)

    def close(self) -> None:
        """Release the camera first (the next booth process needs it), then the rest."""
        self.notifier.stopping()
        self.feed.stop()
        self.detect_worker.close()
        self.score_worker.close()
        self.button.close()
        pygame.display.quit()


def headless_app(config: Config, source: str = "demo", realtime: bool = True, **booth) -> App:
    """The booth on SDL's dummy display with the GPIO button off and `booth` settings changed:
    for screenshots, benchmarks and soak runs."""
    os.environ["SDL_VIDEODRIVER"] = "dummy"  # read when the display starts, not at import
    config = dataclasses.replace(config, booth=dataclasses.replace(config.booth, **booth),
                                 button=dataclasses.replace(config.button, gpio=False))
    return App(config, source, windowed=True, realtime=realtime, headless=True)


def press() -> None:
    """A visitor pressing the button (as the Space key)."""
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_SPACE))
