"""The booth's flow as a small state machine: plain Python, driven by time, face state and presses.

    IDLE -> LIVE -> COUNTDOWN -> SCORING -> RESULT -> LIVE
                          \\-> MESSAGE (no steady single face at capture) -> LIVE (or COUNTDOWN on a press)
    a press without a steady single face -> WAITING (the hint says what to do) -> COUNTDOWN once the
    face is steady, or LIVE when `press_wait_s` passes first
    any but SCORING/RESULT -> NO_CAMERA while frames stop -> LIVE when they return
    RESULT -> NO_CAMERA when its time is up and frames have stopped
    any -> PAUSED when the operator pauses (the app waits for a SCORING visit's verdict first) -> LIVE on resume;
    while PAUSED presses, faces and the camera change nothing

Every transition is declared once, in `_go`, with the `Event` it reports: callers react to the
events `update` and `scored` return instead of comparing phases before and after.
"""

from __future__ import annotations

import enum
import math

from ..chain import Verdict
from ..config import BoothConfig
from .stability import FaceState
from ..texts import Texts


class Phase(enum.Enum):
    IDLE = "idle"
    LIVE = "live"
    COUNTDOWN = "countdown"
    SCORING = "scoring"
    RESULT = "result"
    MESSAGE = "message"
    WAITING = "waiting"  # a press waits for a steady single face
    NO_CAMERA = "no camera"
    PAUSED = "paused"  # the operator paused the booth ("잠시 쉬는 중")


class Event(enum.Enum):
    """What just happened, in the order it happened."""
    WAITING = "waiting"  # a press came without a steady single face: the hint says what to do
    COUNTDOWN = "countdown"  # a press (or the auto trigger) started a visit
    CAPTURE = "capture"  # capture the recent frames and score them now
    CAPTURE_FAILED = "capture failed"  # no steady single face when the countdown ended
    RESULT = "result"
    SCORING_FAILED = "scoring failed"
    LIVE = "live"
    IDLE = "idle"
    CAMERA_LOST = "camera lost"
    CAMERA_BACK = "camera back"
    PAUSED = "paused"
    RESUMED = "resumed"


class Booth:
    def __init__(self, settings: BoothConfig, now: float, words: Texts | None = None):
        self.settings = settings
        self.words = words or Texts.of()
        self.phase = Phase.LIVE
        self.since = now
        self.last_face = now
        self.message = ""
        self.verdict: Verdict | None = None
        self.armed = True  # auto trigger fires once per steady face, then waits for it to move or leave
        self._events: list[Event] = []

    @property
    def button_starts(self) -> bool:
        return self.settings.trigger in ("button", "both")

    @property
    def auto_starts(self) -> bool:
        return self.settings.trigger in ("auto", "both")

    def hint(self, face: FaceState) -> str:
        """What the live screen tells the visitor, true to the trigger: after an automatic capture a
        still face starts nothing until it moves or leaves."""
        w = self.words
        if self.phase is Phase.COUNTDOWN:
            return w["auto_ready"] if face is FaceState.STEADY else w.hint(face)
        if face is FaceState.STEADY and self.auto_starts:
            if self.armed:
                return w["auto_ready"]
            return w.hint(face) if self.button_starts else w["auto_again"]
        return w.hint(face)

    def _go(self, phase: Phase, now: float, event: Event, message: str = "") -> None:
        self.phase, self.since, self.message = phase, now, message
        self._events.append(event)

    def _happened(self) -> list[Event]:
        events, self._events = self._events, []
        return events

    def countdown_left(self, now: float) -> int:
        return max(1, math.ceil(self.settings.countdown_s - (now - self.since)))

    def pause(self, now: float) -> list[Event]:
        """The operator pauses the booth: a countdown or message is dropped (a verdict that still
        comes is ignored by `scored`)."""
        if self.phase is not Phase.PAUSED:
            self._go(Phase.PAUSED, now, Event.PAUSED, self.words["paused"])
        return self._happened()

    def resume(self, now: float) -> list[Event]:
        """Back to the live picture; the next update finds out whether the camera is there."""
        if self.phase is Phase.PAUSED:
            self.verdict = None
            self.last_face = now  # the time paused is not time without a visitor
            self._go(Phase.LIVE, now, Event.RESUMED)
        return self._happened()

    def update(self, now: float, face: FaceState, pressed: bool, camera_ok: bool) -> list[Event]:
        """Advance the flow; the events say what changed (`Event.CAPTURE`: score the frames now)."""
        s, phase = self.settings, self.phase
        if phase is Phase.PAUSED:  # only the operator's resume ends it
            return self._happened()
        result_over = phase is Phase.RESULT and (pressed or now - self.since >= s.result_s)
        if not camera_ok:
            # A result being looked at stays until its time is up; nothing else waits for frames.
            if result_over or phase not in (Phase.NO_CAMERA, Phase.SCORING, Phase.RESULT):
                self._go(Phase.NO_CAMERA, now, Event.CAMERA_LOST, self.words["camera_lost"])
            return self._happened()
        if phase is Phase.NO_CAMERA:
            self._go(Phase.LIVE, now, Event.CAMERA_BACK)
            self.last_face = now
        if face is not FaceState.NONE:
            self.last_face = now
        if face is not FaceState.STEADY:
            self.armed = True

        phase = self.phase
        button = pressed and self.button_starts
        if phase is Phase.IDLE:
            if button:
                self._press(now, face)
            elif face is not FaceState.NONE:
                self._go(Phase.LIVE, now, Event.LIVE)
        elif phase is Phase.LIVE:
            if self.auto_starts and face is FaceState.STEADY and self.armed:
                self._countdown(now)
            elif button:
                self._press(now, face)
            elif now - self.last_face >= s.idle_after_s:
                self._go(Phase.IDLE, now, Event.IDLE)
        elif phase is Phase.WAITING:
            if face is FaceState.STEADY:
                self._countdown(now)
            elif now - self.since >= s.press_wait_s:
                self._go(Phase.LIVE, now, Event.LIVE)
        elif phase is Phase.RESULT:
            if result_over:
                self._go(Phase.LIVE, now, Event.LIVE)
        elif phase is Phase.MESSAGE:
            if button:  # "try again?" was the question: a press answers it
                self._press(now, face)
            elif now - self.since >= s.message_s:
                self._go(Phase.LIVE, now, Event.LIVE)

        if self.phase is Phase.COUNTDOWN and now - self.since >= s.countdown_s:
            if face is FaceState.STEADY:
                self._go(Phase.SCORING, now, Event.CAPTURE, self.words["scoring"])
            else:
                self._go(Phase.MESSAGE, now, Event.CAPTURE_FAILED, self.words.capture_failed(face))
        return self._happened()

    def _press(self, now: float, face: FaceState) -> None:
        """A countdown only for a steady single face: someone just stepping in is shown what to do
        rather than told off three seconds later."""
        if face is FaceState.STEADY:
            self._countdown(now)
        else:
            self._go(Phase.WAITING, now, Event.WAITING)

    def _countdown(self, now: float) -> None:
        self.armed = False  # this steady face has had its capture: the auto trigger waits for the next
        self._go(Phase.COUNTDOWN, now, Event.COUNTDOWN)

    def scored(self, verdict: Verdict | None, now: float) -> list[Event]:
        """The scoring worker's answer: a verdict, or None when scoring failed."""
        if self.phase is Phase.SCORING:
            self.verdict = verdict
            if verdict is None:
                self._go(Phase.MESSAGE, now, Event.SCORING_FAILED, self.words["scoring_failed"])
            else:
                self._go(Phase.RESULT, now, Event.RESULT)
        return self._happened()
