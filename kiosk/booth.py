"""The booth's flow as a small state machine: plain Python, driven by time, face state and presses.

    IDLE -> LIVE -> COUNTDOWN -> SCORING -> RESULT -> LIVE
                          \\-> MESSAGE (no steady single face at capture) -> LIVE
    any (but SCORING/RESULT) -> NO_CAMERA while frames stop -> LIVE when they return
"""

from __future__ import annotations

import enum
import math

from . import texts
from .chain import Verdict
from .config import BoothConfig
from .stability import FaceState


class Phase(enum.Enum):
    IDLE = "idle"
    LIVE = "live"
    COUNTDOWN = "countdown"
    SCORING = "scoring"
    RESULT = "result"
    MESSAGE = "message"
    NO_CAMERA = "no camera"


class Booth:
    def __init__(self, settings: BoothConfig, now: float):
        self.settings = settings
        self.phase = Phase.LIVE
        self.since = now
        self.last_face = now
        self.message = ""
        self.verdict: Verdict | None = None
        self.armed = True  # auto trigger fires once per steady face, then waits for it to move or leave

    @property
    def button_starts(self) -> bool:
        return self.settings.trigger in ("button", "both")

    @property
    def auto_starts(self) -> bool:
        return self.settings.trigger in ("auto", "both")

    def _go(self, phase: Phase, now: float, message: str = "") -> None:
        self.phase, self.since, self.message = phase, now, message

    def countdown_left(self, now: float) -> int:
        return max(1, math.ceil(self.settings.countdown_s - (now - self.since)))

    def update(self, now: float, face: FaceState, pressed: bool, camera_ok: bool) -> bool:
        """Advance the flow; True means: capture the current frames and score them now."""
        if not camera_ok:
            if self.phase not in (Phase.NO_CAMERA, Phase.SCORING, Phase.RESULT):
                self._go(Phase.NO_CAMERA, now, texts.CAMERA_LOST)
            return False
        if self.phase is Phase.NO_CAMERA:
            self._go(Phase.LIVE, now)
            self.last_face = now
        if face is not FaceState.NONE:
            self.last_face = now
        if face is not FaceState.STEADY:
            self.armed = True

        s, phase = self.settings, self.phase
        if phase is Phase.IDLE:
            if pressed and self.button_starts:
                self._go(Phase.COUNTDOWN, now)
            elif face is not FaceState.NONE:
                self._go(Phase.LIVE, now)
        elif phase is Phase.LIVE:
            auto = self.auto_starts and face is FaceState.STEADY and self.armed
            if (pressed and self.button_starts) or auto:
                self.armed = False
                self._go(Phase.COUNTDOWN, now)
            elif now - self.last_face >= s.idle_after_s:
                self._go(Phase.IDLE, now)
        elif phase is Phase.RESULT:
            if pressed or now - self.since >= s.result_s:
                self._go(Phase.LIVE, now)
        elif phase is Phase.MESSAGE:
            if now - self.since >= s.message_s:
                self._go(Phase.LIVE, now)

        if self.phase is Phase.COUNTDOWN and now - self.since >= s.countdown_s:
            if face is FaceState.STEADY:
                self._go(Phase.SCORING, now, texts.SCORING)
                return True
            self._go(Phase.MESSAGE, now, texts.CAPTURE_FAILED[face])
        return False

    def scored(self, verdict: Verdict | None, now: float) -> None:
        """The scoring worker's answer: a verdict, or None when scoring failed."""
        if self.phase is not Phase.SCORING:
            return
        self.verdict = verdict
        if verdict is None:
            self._go(Phase.MESSAGE, now, texts.SCORING_FAILED)
        else:
            self._go(Phase.RESULT, now)
