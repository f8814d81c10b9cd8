"""`kiosk run`: the render loop. It owns pygame and the screen; the camera, face detection and
scoring run in their own threads and hand back their latest results, so the picture never waits.

Data flows one way: camera feed -> detection -> steadiness -> booth state -> scoring -> screen.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pygame

from .. import priority
from .flow import Booth, Event, Phase
from .button import PRESS, GpioButton
from ..cameras import Frame, open_camera
from .captures import save_capture
from ..chain import Chain, Verdict
from ..config import Config
from ..errors import KioskError, one_line
from ..faces import Detection, FaceBox, FaceDetector, FaceStatus
from .feed import CameraFeed, CameraStatus
from .exposure import FaceExposure
from .light import FaceLight
from .live import LiveDetector
from .fonts import checked_font
from .notify import Notifier
from .qr import QrCode
from .screen import Look, Renderer, Scene
from .stability import FaceState, SteadyTracker
from .view import Framing, View
from .worker import LatestWorker

log = logging.getLogger("kiosk")
# SDL falls back to these when it finds no screen: the booth would run where nobody sees it.
HEADLESS_DRIVERS = ("offscreen", "dummy")
WINDOW_TITLE = "faceeva kiosk"
CLICK_BUTTONS = (1, 2, 3)  # SDL reports a mouse wheel as buttons 4 and up: a scroll is no press
# Phases in which the camera's exposure follows the face: from capture to the verdict's end it holds.
STEERED_PHASES = (Phase.IDLE, Phase.LIVE, Phase.WAITING, Phase.COUNTDOWN)


def no_screen_problem(driver: str) -> str:
    """Why SDL's `driver` cannot show the booth to anyone ("" when it can)."""
    if driver not in HEADLESS_DRIVERS:
        return ""
    return (f"no screen: SDL picked its '{driver}' video driver, which shows nothing; on Pi OS Lite start the "
            "booth with its systemd unit (kmsdrm on tty1), on a desktop from the desktop session; "
            "for tests and screenshots say so with --headless")


@dataclass(frozen=True)
class Visit:
    """How one visit ended, for the log, the bench and an operator's view: outcomes and timings only,
    never an image."""
    outcome: str  # "result" | "no capture" (no steady single face at capture) | "scoring failed"
    press_to_end_ms: float  # from the press (or auto trigger) to the result or message on screen
    rank: int | None = None
    gender: str | None = None
    score: float | None = None
    chain_ms: float | None = None
    face_at_capture: str | None = None
    error: str | None = None


def log_visit(visit: Visit) -> None:
    if visit.outcome == "result":
        log.info("visit: result rank=%d gender=%s score=%.2f chain_ms=%.0f press_to_result_ms=%.0f",
                 visit.rank, visit.gender, visit.score, visit.chain_ms, visit.press_to_end_ms)
    elif visit.outcome == "no capture":
        log.info("visit: no capture, face state at capture: %s", visit.face_at_capture)
    else:
        log.error("visit: scoring failed: %s", visit.error)


@dataclass(frozen=True)
class Shot:
    """A visitor's result as the take-home card shows it: the captured frame (never copied, never
    written anywhere), the scored face's box in its pixels, the verdict."""
    image: np.ndarray
    box: FaceBox
    verdict: Verdict


@dataclass(frozen=True)
class Seen:
    """A frame and the faces found in it (boxes in the frame's own pixels)."""
    frame: Frame
    detection: Detection


class App:
    def __init__(self, config: Config, source: str, windowed: bool = False, realtime: bool = True,
                 headless: bool = False):
        self.config = config
        self.started = time.monotonic()
        # Start-up checks first, cheapest and most likely to fail first; each raises one clear line.
        self.words = config.wording
        self.font = checked_font(config.screen.font, self.words.all() + [config.brand.title])
        self.chain = Chain(config.models_dir, self.words.rank_texts, config.models.threads)
        self.detector = LiveDetector(FaceDetector(config.detection), config.live)
        c = config.camera
        try:
            with _sdl_environment("dummy" if headless else None):
                pygame.display.init()  # display only: no audio device is opened
            problem = "" if headless else no_screen_problem(pygame.display.get_driver())
            if not problem:
                self.display = self._open_display(windowed or not config.screen.fullscreen)
        except pygame.error as exc:
            problem = f"cannot open the screen: {one_line(exc)}"
        if problem:
            pygame.display.quit()
            raise KioskError(problem)
        self._hide_cursor()
        self.look = Look(self.words, self.words.notice(config.booth.trigger != "button", config.booth.save_captures),
                         config.brand.title, load_logo(config.brand.logo))
        self.button = GpioButton(config.button)
        self.light = FaceLight(config.light)
        self.exposure = FaceExposure(config.camera.face_exposure_ev)
        self.framing = Framing()
        self.view: View | None = None
        self.renderer = None
        self._ensure_renderer(c.width, c.height)
        # The camera opens in the feed's thread: one missing (or hanging) at boot never stops the booth
        # from coming up; the screen says so while the feed keeps trying.
        self.feed = CameraFeed(lambda: open_camera(source, c, realtime), c.stall_s, c.retry_max_s).start()
        cv2.setNumThreads(opencv_threads())
        self.detect_worker = LatestWorker("detect", self._detect)
        self.score_worker = LatestWorker("score", self._score, priority.SCORING)
        b = config.booth
        self.tracker = SteadyTracker(b.steady_s, b.steady_min_overlap, b.steady_max_size_change)
        self.booth = Booth(b, time.monotonic(), self.words)
        self.recent: deque[Seen] = deque(maxlen=b.capture_frames)
        self.seen: Seen | None = None
        self.frame_seq = 0
        self.captured: Seen | None = None
        self.pressed_at = 0.0
        self.stopping = False
        self.notifier = Notifier()
        self._press = threading.Event()  # set from any thread by press(), taken by the next step
        self._pause_lock = threading.Lock()
        self._pause_wanted: bool | None = None  # the operator's latest pause (True) or resume (False)
        self._listeners: list[Callable[[Visit], None]] = [log_visit]
        self._chain_ms = 0.0
        self._scoring_error = ""
        self._offer: Callable[[Shot], str] | None = None  # the web's take-home cards, when served
        self._takeaway: QrCode | None = None  # for the result on screen
        self._takeaway_note = self.words["takeaway_note"].format(minutes=config.web.takeaway_minutes)

    def _open_display(self, windowed: bool):
        s = self.config.screen
        pygame.display.set_caption(WINDOW_TITLE)  # a desktop's task bar, the window list
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
        crops = [c for s in seen for c in self.chain.crops(s.frame.image, s.detection.chosen)]
        verdict = self.chain.score(*crops)
        chain_ms = (time.perf_counter() - started) * 1000
        return verdict, chain_ms, self._take_home(Shot(seen[-1].frame.image, seen[-1].detection.chosen, verdict))

    def _take_home(self, shot: Shot) -> QrCode | None:
        """The take-home card's address as a QR code, made here in the score worker: the render
        loop only draws it."""
        if self._offer is None:
            return None
        try:
            return QrCode.of(self._offer(shot))
        except Exception:  # the result still shows, without its QR code
            log.exception("take-home card failed")
            return None

    # The driving API: `kiosk run`, bench, soak, screenshots and tests use only this ----------------
    @property
    def phase(self) -> Phase:
        return self.booth.phase

    @property
    def face(self) -> FaceState:
        return self.tracker.state

    @property
    def verdict(self):
        """The verdict on screen (or last shown)."""
        return self.booth.verdict

    @property
    def message(self) -> str:
        return self.booth.message

    @property
    def camera_ok(self) -> bool:
        return self.feed.ok

    @property
    def uptime_s(self) -> float:
        return time.monotonic() - self.started

    def camera_status(self) -> CameraStatus:
        """The camera's name, frame rate and newest frame's age; safe from any thread."""
        return self.feed.status()

    @property
    def runtime(self) -> str:
        """The TFLite runtime scoring runs on, for the start-up log line."""
        return str(self.chain.runtime)

    def save_screen(self, out: Path) -> Path:
        """Draw the current screen and save it as a PNG, as the display gets it (turned for a portrait
        mounting)."""
        self.render_now()
        out.parent.mkdir(parents=True, exist_ok=True)
        pygame.image.save(self.display, str(out))
        return out

    def render_now(self) -> None:
        """Draw the current state now (between steps)."""
        self.render(time.monotonic())

    def press(self) -> None:
        """The visitor presses the button; safe from any thread, taken by the next step."""
        self._press.set()

    def pause(self) -> None:
        """The operator pauses the booth ("잠시 쉬는 중"); safe from any thread, taken by the next step."""
        with self._pause_lock:
            self._pause_wanted = True

    def resume(self) -> None:
        """The operator ends a pause; safe from any thread, taken by the next step."""
        with self._pause_lock:
            self._pause_wanted = False

    @property
    def paused(self) -> bool:
        """The operator's latest word: paused, or asked to pause (the screen shows it from the next
        step; after a visit being scored)."""
        with self._pause_lock:
            wanted = self._pause_wanted
        return self.booth.phase is Phase.PAUSED if wanted is None else wanted

    def next_picture(self) -> None:
        """The operator steps a replayed photo folder to its next photo (N or the right arrow key)."""
        self.feed.next_picture()

    def offer_takeaway(self, offer: Callable[[Shot], str]) -> None:
        """After each result, `offer(shot)` (on the score worker's thread) keeps a take-home card and
        returns its address, which the result screen shows as a QR code."""
        self._offer = offer

    @property
    def takeaway_url(self) -> str | None:
        """The address of the take-home card on screen, while its result is shown."""
        return self._takeaway.url if self._takeaway and self.booth.phase is Phase.RESULT else None

    def on_visit(self, listener: Callable[[Visit], None]) -> None:
        """Call `listener` (on the render thread) with every visit's outcome."""
        self._listeners.append(listener)

    def run(self) -> int:
        """The booth until SIGTERM, SIGINT or a quit key; signal handlers restored afterwards."""
        previous = {sig: signal.signal(sig, lambda *_: self.stop()) for sig in (signal.SIGTERM, signal.SIGINT)}
        clock = pygame.time.Clock()
        try:
            while not self.stopping:
                self.step()
                clock.tick(self.config.camera.fps)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.close()
        return 0

    def run_until(self, condition: Callable[[], bool], timeout_s: float) -> bool:
        """Step until `condition()` holds (False if `timeout_s` passes first). Between steps it waits
        for the camera's next frame, as the real loop waits for the display's next tick."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                return False
            seq = self.feed.latest()[0]
            self.step()
            self.feed.wait_frame(seq, timeout=0.05)
        return True

    def stop(self) -> None:
        self.stopping = True

    def step(self, now: float | None = None) -> list[Event]:
        """One frame: input, newest camera frame and detection, booth flow, drawing. Returns what
        happened in the flow; `now` may be a test's clock."""
        now = time.monotonic() if now is None else now
        pressed = self._events()
        seq, frame = self.feed.latest()
        if frame is not None and seq != self.frame_seq:
            self.frame_seq = seq
            self.detect_worker.submit(frame)
        self._take_detection()
        face = self.tracker.state
        camera_ok = self.feed.ok  # once a frame: it takes the feed's lock
        events = self._take_pause(now)
        events += self.booth.update(now, face, pressed, camera_ok)
        events += self._take_verdict(now)
        for event in events:
            self._react(event, now, face)
        self.button.ready_light(self.booth.phase is Phase.LIVE and face is FaceState.STEADY)
        self.light.follow(self.booth.phase, face)
        self.render(now)
        # Something is on screen now, camera or not: systemd may count the booth as started.
        status = (f"booth running, camera {self.feed.camera_name}" if camera_ok
                  else f"camera unavailable, retrying: {self.feed.problem or 'waiting for the first frame'}")
        if self.paused:
            status = "paused by the operator; " + status
        self.notifier.ready(status)
        self.notifier.update_status(status)
        if self.feed.healthy:  # a hung camera call stops the petting, and systemd restarts the booth
            self.notifier.pet(now)
        return events

    def _react(self, event: Event, now: float, face: FaceState) -> None:
        if event is Event.COUNTDOWN:
            self.pressed_at = now  # the press (or auto trigger) that starts this visit
        elif event is Event.CAPTURE:
            self.captured = self.recent[-1]
            self.score_worker.submit(list(self.recent))
        elif event is Event.CAPTURE_FAILED:
            self._visit(Visit("no capture", (now - self.pressed_at) * 1000, face_at_capture=face.value))
        elif event is Event.RESULT:
            v = self.booth.verdict
            self._visit(Visit("result", (now - self.pressed_at) * 1000, v.rank, v.gender, v.score, self._chain_ms))
        elif event is Event.SCORING_FAILED:
            self._visit(Visit("scoring failed", (now - self.pressed_at) * 1000, error=self._scoring_error))
        elif event is Event.PAUSED:
            log.info("booth paused by the operator")
        elif event is Event.RESUMED:
            log.info("booth resumed by the operator")
            self.tracker.reset()  # who stood there before the pause says nothing about now
            self.recent.clear()
            self.captured = None
        elif event in (Event.CAMERA_LOST, Event.CAMERA_BACK):
            # Faces and frames from before an outage say nothing about who stands there now.
            self.tracker.reset()
            self.recent.clear()
            self.seen = None

    def _visit(self, visit: Visit) -> None:
        for listener in self._listeners:
            listener(visit)

    def _events(self) -> bool:
        pg, pressed = pygame, False
        for event in pg.event.get():
            quit_asked = event.type == pg.QUIT or (event.type == pg.KEYDOWN and event.key in (pg.K_ESCAPE, pg.K_q))
            if quit_asked:  # a closed window too: on a desktop a visitor can reach its close button
                if self.config.screen.allow_quit:
                    self.stop()
            elif event.type == pg.KEYDOWN and event.key in (pg.K_n, pg.K_RIGHT):
                self.next_picture()
            elif event.type == pg.KEYDOWN and event.key in (pg.K_SPACE, pg.K_RETURN, pg.K_KP_ENTER):
                pressed = True
            elif event.type == pg.MOUSEBUTTONDOWN and event.button in CLICK_BUTTONS:
                pressed = True
            elif event.type in (pg.FINGERDOWN, PRESS):
                pressed = True
        if self._press.is_set():
            self._press.clear()
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
        self._steer_exposure(seen)

    def _steer_exposure(self, seen: Seen) -> None:
        # A camera that cannot be steered is not asked: the error would only pile up to the limit.
        if self.booth.phase not in STEERED_PHASES or not self.feed.steers_exposure:
            return
        face = seen.detection.chosen if seen.detection.status is FaceStatus.ONE else None
        ev = self.exposure.update(seen.frame.grey, face and face.scaled(1 / seen.frame.detect_scale), seen.frame.t)
        if ev is not None:
            log.debug("face exposure %+.2f EV", ev)
            self.feed.steer_exposure(ev)

    def _take_pause(self, now: float) -> list[Event]:
        """The operator's latest wish. A pause waits while a visit is being scored (well under a
        second): the visitor sees the verdict's screen start and is counted, and no late verdict is
        left over to land in the next visit."""
        with self._pause_lock:
            wanted = self._pause_wanted
            if wanted is None or (wanted and self.booth.phase is Phase.SCORING):
                return []
            self._pause_wanted = None
        return self.booth.pause(now) if wanted else self.booth.resume(now)

    def _take_verdict(self, now: float) -> list[Event]:
        done = self.score_worker.take()
        if done is None:
            return []
        result, error = done
        if error is not None:
            self._scoring_error = str(error)
            return self.booth.scored(None, now)
        verdict, self._chain_ms, self._takeaway = result
        return self.booth.scored(verdict, now)

    def render(self, now: float) -> None:
        """Draw the current state (the newest frame, or the captured one on the result screen)."""
        frame = self.feed.latest()[1]
        phase = self.booth.phase
        showing = self.captured.frame if phase in (Phase.SCORING, Phase.RESULT) and self.captured else frame
        if showing is not None:
            self._ensure_renderer(showing.image.shape[1], showing.image.shape[0])
        result_box = self.captured.detection.chosen if self.captured else None
        live_face = self.seen.detection.chosen if self.seen else None
        focus = result_box if phase in (Phase.SCORING, Phase.RESULT) else live_face
        self.renderer.base = self.framing.follow(self.view, focus)
        scene = Scene(phase, None if showing is None else showing.image,
                      self.seen.detection if self.seen else None, self.tracker.state,
                      self.booth.countdown_left(now) if phase is Phase.COUNTDOWN else 0,
                      self.booth.message, self.booth.verdict, result_box, self.booth.auto_starts,
                      self.booth.hint(self.tracker.state), now - self.booth.since,
                      self._takeaway if phase is Phase.RESULT else None,
                      self._takeaway_note)
        self.renderer.draw(scene)
        pygame.display.flip()

    def _ensure_renderer(self, w: int, h: int) -> None:
        """A view and renderer for frames of this size (made again if the camera's size changes)."""
        if self.view is None or (self.view.frame_w, self.view.frame_h) != (w, h):
            s = self.config.screen
            dw, dh = self.display.get_size()
            fill = s.fill == "on" or (s.fill == "auto" and s.rotation in (90, 270))
            self.view = View(w, h, dw, dh, s.rotation, s.mirror, fill)
            self.framing = Framing()
            self.renderer = Renderer(self.display, self.view, self.font, self.look)

    def close(self) -> None:
        """Release the camera first (the next booth process needs it), then the rest."""
        self.notifier.stopping()
        self.feed.stop()
        self.detect_worker.close()
        self.score_worker.close()
        self.button.close()
        self.light.close()
        pygame.display.quit()


def load_logo(path: str) -> pygame.Surface | None:
    """The event's logo ([brand] logo), or None; a file pygame cannot read is one clear line."""
    if not path:
        return None
    try:
        return pygame.image.load(path).convert_alpha()  # any PNG depth; smoothscale needs 32-bit
    except (pygame.error, OSError, ValueError) as exc:
        raise KioskError(f"[brand] logo = {path!r}: cannot read the image ({one_line(exc)}); give a PNG or JPEG")


@contextlib.contextmanager
def _sdl_environment(driver: str | None):
    """SDL reads its video driver and hints from the environment when the display starts: set them for
    that moment only, leaving the process's environment as it was. SIGTERM and Ctrl-C stay the
    booth's own (`App.run`): SDL would turn them into a window close, which `allow_quit` may ignore."""
    wanted = {"SDL_NO_SIGNAL_HANDLERS": "1"}
    before = {name: os.environ.get(name) for name in ("SDL_VIDEODRIVER", "SDL_NO_SIGNAL_HANDLERS")}
    if driver is not None and before["SDL_VIDEODRIVER"] not in HEADLESS_DRIVERS:
        wanted["SDL_VIDEODRIVER"] = driver
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def opencv_threads() -> int:
    """How many threads one OpenCV call may use in the booth: half the cores. The booth already
    works in threads of its own (render, detect, score); a frame's resize split over every core
    waits for the share queued behind the scorer (kiosk load, 2 cores, 20 phones: max frame while
    scoring 65 ms with both cores, 26-30 ms with one; docs/architecture.md)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, cores // 2)


def headless_app(config: Config, source: str = "demo", realtime: bool = True, **booth) -> App:
    """The booth on SDL's dummy display with the GPIO button off and `booth` settings changed:
    for screenshots, benchmarks and soak runs."""
    config = dataclasses.replace(config, booth=dataclasses.replace(config.booth, **booth),
                                 button=dataclasses.replace(config.button, gpio=False))
    return App(config, source, windowed=True, realtime=realtime, headless=True)
