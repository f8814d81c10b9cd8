"""The face light: a ring light or LED strip on a GPIO output (through a relay or MOSFET), switched
on for the countdown and capture so the face is lit evenly when it is scored; a dark venue or a
bright window behind the visitor otherwise moves the verdict."""

from __future__ import annotations

from ..config import LightConfig
from .button import claim
from .flow import Phase
from .stability import FaceState

LIT_PHASES = (Phase.WAITING, Phase.COUNTDOWN, Phase.SCORING)  # a press waits, counts down, captures


def wanted(phase: Phase, face: FaceState, when_steady: bool) -> bool:
    """Whether the light should be on now."""
    return phase in LIT_PHASES or (when_steady and phase is Phase.LIVE and face is FaceState.STEADY)


class FaceLight:
    def __init__(self, settings: LightConfig):
        self.settings, self.device, self.problem = settings, None, ""
        if settings.pin < 0:
            return
        self.problem = claim(self._claim, f"GPIO{settings.pin}", "face light unavailable (%s); the booth goes on")
        if self.problem:
            self.close()

    def _claim(self) -> None:
        from gpiozero import DigitalOutputDevice

        self.device = DigitalOutputDevice(self.settings.pin, active_high=self.settings.active_high,
                                          initial_value=False)

    @property
    def on(self) -> bool:
        return bool(self.device is not None and self.device.value)

    def follow(self, phase: Phase, face: FaceState) -> None:
        """Switch for the booth's state (only on a change: a pin write per frame is wasted work)."""
        want = wanted(phase, face, self.settings.when_steady)
        if self.device is not None and bool(self.device.value) != want:
            self.device.value = want

    def close(self) -> None:
        if self.device is not None:
            self.device.off()  # a light left burning after the booth stops would puzzle the operator
            self.device.close()
        self.device = None
